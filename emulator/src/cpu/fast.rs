//! The fast path: the instructions programs spend their time in, executed from a form
//! prepared once, when the instruction was decoded, with memory reached through the host
//! addresses the TLB keeps.
//!
//! [`compile`] turns a decoded 64-bit-mode instruction into an [`Op`] when it is one of the
//! common forms — the two-operand ALU instructions, MOV, MOVZX/MOVSX, LEA, INC/DEC, shifts
//! and rotates of a register, IMUL, CMOVcc, SETcc, near JMP/Jcc/CALL/RET, PUSH/POP of a
//! register, LOOP, the string instructions with or without REP — and into
//! [`Kind::Generic`] otherwise.
//!
//! The fast path executes an `Op` only in the common case, through the function prepared
//! for its exact form ([`ops`]). Whenever the instruction needs more — an access the page
//! walk refuses, one that crosses a page or leaves RAM, a branch to a non-canonical address
//! — it gives the instruction back *before changing anything*, and the general path
//! (`Cpu::step_one`) executes it with every check, walk and fault. A TLB miss is walked
//! first, as the general path's access would walk it. Results and flags come from the
//! functions the general path uses (`alu_calc`, `shift_calc`, `imul_calc`, `flags::*`), so
//! both paths compute the same bits.
//!
//! Runs of such instructions in one page, following the branches that stay in the page, are
//! prepared together into a [`Block`] and run one after another without looking each up; a
//! block is left early when a branch goes the other way than the block, when a store wrote
//! the block's page (the rest may be stale) or after a TLB walk (the general path would look
//! the next instruction's page up again), and is not used where a breakpoint or the
//! instruction budget falls inside it.
//!
//! It runs only while an instruction can do nothing besides itself ([`Cpu::fast_ready`]):
//! 64-bit mode, no single-step trap, no debug breakpoint armed, no MOV SS shadow,
//! no write journal (stepping back), no alignment checking.

use iced_x86::{Code, Instruction, Mnemonic as M, OpKind, Register};

mod ops;

use super::arith::AluOp;
use super::flags;
use super::mmu::{canonical, Access, P_DIRTY, P_EXEC, P_RAM, P_USER, P_WRITE};
use super::operand::{gpr, is_immediate, mask};
use super::shift::{count_mask, ShiftOp};
use super::Cpu;
use super::{decoded_slot, Decoded};
use crate::state::flags::{AC, CF, DF, OF, RF, STATUS, TF, ZF};
use crate::state::reg::{RAX, RCX, RDI, RSI};
use crate::state::{ctl, CpuMode};

/// What an [`Op`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not a fast form: the general path executes it.
    Generic,
    AluRR,
    AluRI,
    AluRM,
    AluMR,
    AluMI,
    IncDecR,
    IncDecM,
    MovRR,
    MovRI,
    MovRM,
    MovMR,
    MovMI,
    MovxRR,
    MovxRM,
    Lea,
    ShiftRI,
    ShiftRCl,
    ImulRR,
    ImulRM,
    ImulRRI,
    ImulRMI,
    CmovRR,
    CmovRM,
    SetccR,
    Jcc,
    Jmp,
    Call,
    Ret,
    PushR,
    PopR,
    Loop,
    Nop,
    Stos,
    Lods,
    Movs,
    Cmps,
    Scas,
}

/// [`Cpu::code_page`] when it holds nothing (no page starts at an odd address).
pub(crate) const NO_CODE_PAGE: (u64, u64) = (1, 0);

/// No register (for a memory operand's base or index).
const NO_REG: u8 = 0xff;

/// A memory operand: `disp + base + (index << scale)`, truncated to 32 bits with a 67h
/// prefix, plus the FS or GS base (the other segments have base 0 in 64-bit mode).
#[derive(Clone, Copy, Debug)]
struct Mem {
    disp: u64,
    /// `0xffff_ffff` with a 67h prefix, else all ones.
    addr_mask: u64,
    /// Register numbers, or [`NO_REG`].
    base: u8,
    index: u8,
    scale: u8,
    /// 4 (FS) or 5 (GS), else 0.
    seg: u8,
}

/// An instruction prepared for the fast path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub(crate) kind: Kind,
    /// Operand size in bytes (the element size of a string instruction).
    size: u8,
    /// The address of the next instruction (decoded instructions are kept per address).
    next: u64,
    /// Register operands, by GPR number: the destination (or only) one, and the source.
    r0: u8,
    r1: u8,
    /// The condition code (Jcc, CMOVcc, SETcc); 1 for INC and 0 for DEC; the source size
    /// of MOVZX/MOVSX, with 0x80 when it sign-extends; for LOOP 0 (LOOP), 1 (LOOPE), 2
    /// (LOOPNE); for strings 0 (no prefix), 1 (REP/REPE), 2 (REPNE).
    x: u8,
    alu: AluOp,
    shift: ShiftOp,
    mem: Mem,
    /// The immediate (truncated to the operand size), or the branch target.
    imm: u64,
    /// In a block only: the status flags this instruction writes are written again by a
    /// later instruction of the block before anything reads them, with only register
    /// instructions (which cannot give up or leave the block) in between, so they are not
    /// computed ([`Block::mark_dead_flags`]).
    dead_flags: bool,
    /// [`Op::touches_registers_only`], worked out once.
    registers_only: bool,
    /// What runs it ([`ops::handler`]).
    run: ops::Handler,
    /// In a block only: the address of the block's next instruction (after a branch, the
    /// way the block follows it).
    follow: u64,
}

impl Op {
    pub(crate) const GENERIC: Op = Op {
        kind: Kind::Generic,
        size: 0,
        next: 0,
        r0: 0,
        r1: 0,
        x: 0,
        alu: AluOp::Add,
        shift: ShiftOp::Shl,
        mem: Mem {
            disp: 0,
            addr_mask: u64::MAX,
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            seg: 0,
        },
        imm: 0,
        dead_flags: false,
        registers_only: false,
        run: ops::bail,
        follow: 0,
    };
}

/// A general-purpose register operand other than AH, CH, DH, BH: (number, size).
fn reg_operand(i: &Instruction, n: u32) -> Option<(u8, u8)> {
    if i.op_kind(n) != OpKind::Register {
        return None;
    }
    let g = gpr(i.op_register(n))?;
    (!g.high).then_some((g.index as u8, g.size as u8))
}

/// The memory operand, if operand `n` is one this path can address.
fn mem_operand(i: &Instruction, n: u32, asz: u32) -> Option<Mem> {
    if i.op_kind(n) != OpKind::Memory {
        return None;
    }
    let seg = match i.memory_segment() {
        Register::FS => 4,
        Register::GS => 5,
        _ => 0,
    };
    let reg_index = |r: Register| -> Option<u8> {
        if r == Register::None {
            return Some(NO_REG);
        }
        let g = gpr(r)?;
        (!g.high && g.size >= 4).then_some(g.index as u8)
    };
    let base = match i.memory_base() {
        // iced has added the next instruction's address to the displacement already.
        Register::RIP | Register::EIP => NO_REG,
        b => reg_index(b)?,
    };
    Some(Mem {
        disp: i.memory_displacement64(),
        addr_mask: mask(asz),
        base,
        index: reg_index(i.memory_index())?,
        scale: i.memory_index_scale().trailing_zeros() as u8,
        seg,
    })
}

/// The five two-operand forms of the ALU instructions and MOV — register and register,
/// immediate or memory; memory and register or immediate — as `kinds` in that order, with
/// their operands. `op.size` is set already.
fn two_operands(i: &Instruction, asz: u32, op: &mut Op, kinds: [Kind; 5]) -> Option<()> {
    let imm = || i.immediate(1) & mask(u32::from(op.size));
    let (kind, first, second) = match (i.op0_kind(), i.op1_kind()) {
        (OpKind::Register, OpKind::Register) => (kinds[0], true, true),
        (OpKind::Register, k) if is_immediate(k) => (kinds[1], true, false),
        (OpKind::Register, OpKind::Memory) => (kinds[2], true, false),
        (OpKind::Memory, OpKind::Register) => (kinds[3], false, true),
        (OpKind::Memory, k) if is_immediate(k) => (kinds[4], false, false),
        _ => return None,
    };
    if first {
        op.r0 = reg_operand(i, 0)?.0;
    } else {
        op.mem = mem_operand(i, 0, asz)?;
    }
    if second {
        op.r1 = reg_operand(i, 1)?.0;
    } else if i.op1_kind() == OpKind::Memory {
        op.mem = mem_operand(i, 1, asz)?;
    } else {
        op.imm = imm();
    }
    op.kind = kind;
    Some(())
}

/// Prepares a decoded instruction for the fast path ([`Op::GENERIC`] when it is not a fast
/// form). `bits` is the code size, `asz` the address size in bytes.
pub(crate) fn compile(i: &Instruction, bits: u32, asz: u32) -> Op {
    if bits != 64 || i.has_lock_prefix() {
        return Op::GENERIC;
    }
    let mut op = compile64(i, asz).unwrap_or(Op::GENERIC);
    op.registers_only = op.touches_registers_only();
    op.run = ops::handler(&op);
    op
}

fn compile64(i: &Instruction, asz: u32) -> Option<Op> {
    let mut op = Op {
        next: i.next_ip(),
        ..Op::GENERIC
    };
    let m = i.mnemonic();
    let k0 = i.op0_kind();
    let k1 = if i.op_count() > 1 {
        i.op1_kind()
    } else {
        OpKind::Register
    };
    // The destination: a register or memory.
    let dst_reg = reg_operand(i, 0);
    let dst_mem = || mem_operand(i, 0, asz);
    let size0 = || -> Option<u8> {
        match k0 {
            OpKind::Register => dst_reg.map(|r| r.1),
            OpKind::Memory => Some(i.memory_size().size() as u8),
            _ => None,
        }
    };
    let alu = match m {
        M::Add => Some(AluOp::Add),
        M::Adc => Some(AluOp::Adc),
        M::Sub => Some(AluOp::Sub),
        M::Sbb => Some(AluOp::Sbb),
        M::Cmp => Some(AluOp::Cmp),
        M::And => Some(AluOp::And),
        M::Or => Some(AluOp::Or),
        M::Xor => Some(AluOp::Xor),
        M::Test => Some(AluOp::Test),
        _ => None,
    };
    if let Some(a) = alu {
        op.alu = a;
        op.size = size0()?;
        two_operands(
            i,
            asz,
            &mut op,
            [
                Kind::AluRR,
                Kind::AluRI,
                Kind::AluRM,
                Kind::AluMR,
                Kind::AluMI,
            ],
        )?;
        return Some(op);
    }
    let shift = match m {
        M::Shl | M::Sal => Some(ShiftOp::Shl),
        M::Shr => Some(ShiftOp::Shr),
        M::Sar => Some(ShiftOp::Sar),
        M::Rol => Some(ShiftOp::Rol),
        M::Ror => Some(ShiftOp::Ror),
        M::Rcl => Some(ShiftOp::Rcl),
        M::Rcr => Some(ShiftOp::Rcr),
        _ => None,
    };
    if let Some(s) = shift {
        let (r, size) = dst_reg?;
        op.shift = s;
        op.r0 = r;
        op.size = size;
        if is_immediate(k1) {
            op.kind = Kind::ShiftRI;
            op.imm = i.immediate(1) & 0xff;
        } else if i.op_register(1) == Register::CL {
            op.kind = Kind::ShiftRCl;
        } else {
            return None;
        }
        return Some(op);
    }
    let cc = || i.condition_code() as u8 - 1;
    match m {
        M::Inc | M::Dec => {
            op.x = u8::from(m == M::Inc);
            op.size = size0()?;
            if let Some((r, _)) = dst_reg {
                op.kind = Kind::IncDecR;
                op.r0 = r;
            } else {
                op.kind = Kind::IncDecM;
                op.mem = dst_mem()?;
            }
        }
        M::Mov => {
            op.size = size0()?;
            two_operands(
                i,
                asz,
                &mut op,
                [
                    Kind::MovRR,
                    Kind::MovRI,
                    Kind::MovRM,
                    Kind::MovMR,
                    Kind::MovMI,
                ],
            )?;
        }
        M::Movzx | M::Movsx | M::Movsxd => {
            let (r, size) = dst_reg?;
            op.r0 = r;
            op.size = size;
            let signed = if m == M::Movzx { 0 } else { 0x80 };
            if let Some((src, src_size)) = reg_operand(i, 1) {
                op.kind = Kind::MovxRR;
                op.r1 = src;
                op.x = src_size | signed;
            } else {
                op.kind = Kind::MovxRM;
                op.mem = mem_operand(i, 1, asz)?;
                op.x = i.memory_size().size() as u8 | signed;
            }
        }
        M::Lea => {
            let (r, size) = dst_reg?;
            op.kind = Kind::Lea;
            op.r0 = r;
            op.size = size;
            op.mem = mem_operand(i, 1, asz)?;
        }
        M::Imul if i.op_count() >= 2 => {
            let (r, size) = dst_reg?;
            op.r0 = r;
            op.size = size;
            let src = reg_operand(i, 1);
            if let Some((s, _)) = src {
                op.r1 = s;
            } else {
                op.mem = mem_operand(i, 1, asz)?;
            }
            op.kind = match (i.op_count(), src.is_some()) {
                (2, true) => Kind::ImulRR,
                (2, false) => Kind::ImulRM,
                (_, true) => Kind::ImulRRI,
                (_, false) => Kind::ImulRMI,
            };
            if i.op_count() == 3 {
                op.imm = i.immediate(2) & mask(u32::from(size));
            }
        }
        _ if flags::is_cmovcc(m) => {
            let (r, size) = dst_reg?;
            op.r0 = r;
            op.size = size;
            op.x = cc();
            if let Some((s, _)) = reg_operand(i, 1) {
                op.kind = Kind::CmovRR;
                op.r1 = s;
            } else {
                op.kind = Kind::CmovRM;
                op.mem = mem_operand(i, 1, asz)?;
            }
        }
        _ if flags::is_setcc(m) => {
            op.kind = Kind::SetccR;
            op.r0 = dst_reg?.0;
            op.size = 1;
            op.x = cc();
        }
        _ if i.is_jcc_short_or_near() && k0 == OpKind::NearBranch64 => {
            op.kind = Kind::Jcc;
            op.x = cc();
            op.imm = i.near_branch_target();
        }
        M::Jmp if k0 == OpKind::NearBranch64 => {
            op.kind = Kind::Jmp;
            op.imm = i.near_branch_target();
        }
        M::Call if i.code() == Code::Call_rel32_64 => {
            op.kind = Kind::Call;
            op.imm = i.near_branch_target();
        }
        M::Ret if i.code() == Code::Retnq => op.kind = Kind::Ret,
        M::Push if i.code() == Code::Push_r64 => {
            op.kind = Kind::PushR;
            op.r0 = dst_reg?.0;
        }
        M::Pop if i.code() == Code::Pop_r64 => {
            op.kind = Kind::PopR;
            op.r0 = dst_reg?.0;
        }
        M::Loop | M::Loope | M::Loopne if k0 == OpKind::NearBranch64 => {
            op.kind = Kind::Loop;
            op.x = match m {
                M::Loop => 0,
                M::Loope => 1,
                _ => 2,
            };
            op.imm = i.near_branch_target();
            op.mem.addr_mask = mask(asz);
        }
        M::Nop | M::Endbr64 => op.kind = Kind::Nop,
        M::Stosb | M::Stosw | M::Stosd | M::Stosq if k0 == OpKind::MemoryESRDI => {
            op.kind = Kind::Stos;
        }
        M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq if k1 == OpKind::MemorySegRSI => {
            op.kind = Kind::Lods;
        }
        M::Movsb | M::Movsw | M::Movsd | M::Movsq if k0 == OpKind::MemoryESRDI => {
            op.kind = Kind::Movs;
        }
        M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq if k0 == OpKind::MemorySegRSI => {
            op.kind = Kind::Cmps;
        }
        M::Scasb | M::Scasw | M::Scasd | M::Scasq if k1 == OpKind::MemoryESRDI => {
            op.kind = Kind::Scas;
        }
        _ => return None,
    }
    if matches!(
        op.kind,
        Kind::Stos | Kind::Lods | Kind::Movs | Kind::Cmps | Kind::Scas
    ) {
        // rSI's segment is DS unless overridden: other than by FS or GS, an override
        // changes no base in 64-bit mode.
        if asz != 8 || matches!(i.memory_segment(), Register::FS | Register::GS) {
            return None;
        }
        op.size = i.memory_size().size() as u8;
        op.x = if i.has_repne_prefix() {
            2
        } else if i.has_rep_prefix() || i.has_repe_prefix() {
            1
        } else {
            0
        };
    }
    Some(op)
}

/// Instructions in a block, at most.
const BLOCK_OPS: usize = 24;
/// Blocks the CPU keeps (a power of two).
const BLOCKS: usize = 512;

/// A run of prepared instructions in one page, from an address to the first string or
/// general-path instruction, return, or branch out of the page: the fast path runs it
/// without looking each instruction up. A branch within the page is followed the way it
/// most likely goes (a jump or call to its target, a backward conditional branch or LOOP —
/// a loop — to its target, a forward one past it), and the block is left there when it goes
/// the other way. Valid while its page's version is the one it was prepared at.
#[derive(Clone, Copy)]
pub(crate) struct Block {
    /// Physical address of the first instruction; `u64::MAX` when the slot is empty.
    phys: u64,
    ip: u64,
    version: u64,
    /// The address after the last instruction.
    end: u64,
    /// Whether the instructions follow each other in memory, from `ip` to `end` (no branch
    /// inside was followed to somewhere else).
    straight: bool,
    count: u8,
    ops: [Op; BLOCK_OPS],
}

impl Block {
    const EMPTY: Block = Block {
        phys: u64::MAX,
        ip: 0,
        version: 0,
        end: 0,
        straight: true,
        count: 0,
        ops: [Op::GENERIC; BLOCK_OPS],
    };
}

impl Op {
    /// Whether the instruction touches nothing but registers and RIP, so it cannot give the
    /// instruction back to the general path nor leave a block early.
    fn touches_registers_only(&self) -> bool {
        matches!(
            self.kind,
            Kind::AluRR
                | Kind::AluRI
                | Kind::IncDecR
                | Kind::MovRR
                | Kind::MovRI
                | Kind::MovxRR
                | Kind::Lea
                | Kind::ShiftRI
                | Kind::ShiftRCl
                | Kind::ImulRR
                | Kind::ImulRRI
                | Kind::CmovRR
                | Kind::SetccR
                | Kind::Nop
        )
    }

    /// The status flags the instruction certainly writes.
    fn flags_written(&self) -> u64 {
        let count = (self.imm as u32) & count_mask(u32::from(self.size));
        match self.kind {
            Kind::AluRR | Kind::AluRI | Kind::AluRM | Kind::AluMR | Kind::AluMI => STATUS,
            Kind::ImulRR | Kind::ImulRM | Kind::ImulRRI | Kind::ImulRMI => STATUS,
            Kind::IncDecR | Kind::IncDecM => STATUS & !CF,
            Kind::ShiftRI if count != 0 => match self.shift {
                ShiftOp::Shl | ShiftOp::Shr | ShiftOp::Sar => STATUS,
                _ => CF | OF,
            },
            _ => 0,
        }
    }

    /// The status flags the instruction may read, or keep (a partial write keeps the
    /// others, which counts as reading them here).
    fn flags_read(&self) -> u64 {
        match self.kind {
            Kind::AluRR | Kind::AluRI | Kind::AluRM | Kind::AluMR | Kind::AluMI => {
                if matches!(self.alu, AluOp::Adc | AluOp::Sbb) {
                    CF
                } else {
                    0
                }
            }
            Kind::IncDecR | Kind::IncDecM => CF,
            Kind::ShiftRI | Kind::ShiftRCl => {
                STATUS & !self.flags_written()
                    | if matches!(self.shift, ShiftOp::Rcl | ShiftOp::Rcr) {
                        CF
                    } else {
                        0
                    }
            }
            Kind::Jcc | Kind::CmovRR | Kind::CmovRM | Kind::SetccR => STATUS,
            Kind::Loop if self.x != 0 => STATUS,
            Kind::Cmps | Kind::Scas => STATUS,
            _ => 0,
        }
    }
}

impl Block {
    /// Marks the instructions whose flags nothing can see (see [`Op::dead_flags`]).
    fn mark_dead_flags(&mut self) {
        let n = usize::from(self.count);
        for i in 0..n {
            let op = self.ops[i];
            let mut pending = op.flags_written();
            if !op.registers_only || pending == 0 {
                continue;
            }
            for later in &self.ops[i + 1..n] {
                if later.flags_read() & pending != 0 || !later.registers_only {
                    break;
                }
                pending &= !later.flags_written();
                if pending == 0 {
                    self.ops[i].dead_flags = true;
                    self.ops[i].run = ops::handler(&self.ops[i]);
                    break;
                }
            }
        }
    }
}

fn block_slot(phys: u64) -> usize {
    (phys ^ (phys >> 10)) as usize & (BLOCKS - 1)
}

impl Kind {
    /// Whether the instruction can be part of a block (strings run many iterations and
    /// may stop half-way, so they run alone).
    fn in_blocks(self) -> bool {
        self != Kind::Generic && !self.is_string()
    }

    /// Whether it is one of the string instructions.
    fn is_string(self) -> bool {
        matches!(
            self,
            Kind::Stos | Kind::Lods | Kind::Movs | Kind::Cmps | Kind::Scas
        )
    }
}

/// Reads `size` bytes at a host address.
///
/// # Safety
/// `p` must point to `size` readable bytes.
#[inline(always)]
unsafe fn load(p: *const u8, size: u8) -> u64 {
    // SAFETY: the caller guarantees `size` readable bytes at `p`.
    unsafe {
        match size {
            1 => u64::from(*p),
            2 => u64::from(p.cast::<u16>().read_unaligned()),
            4 => u64::from(p.cast::<u32>().read_unaligned()),
            _ => p.cast::<u64>().read_unaligned(),
        }
    }
}

/// Writes the low `size` bytes of `v` at a host address.
///
/// # Safety
/// `p` must point to `size` writable bytes.
#[inline(always)]
unsafe fn store(p: *mut u8, size: u8, v: u64) {
    // SAFETY: the caller guarantees `size` writable bytes at `p`.
    unsafe {
        match size {
            1 => *p = v as u8,
            2 => p.cast::<u16>().write_unaligned(v as u16),
            4 => p.cast::<u32>().write_unaligned(v as u32),
            _ => p.cast::<u64>().write_unaligned(v),
        }
    }
}

/// What executing an [`Op`] did.
enum Done {
    /// Retired this many instructions (REP iterations count one each); the fast path may
    /// go on.
    Go(u64),
    /// Retired this many, and the fast path must stop (a REP instruction left mid-way).
    Stop(u64),
    /// Changed nothing: the general path must execute the instruction.
    Bail,
}

/// Why a prepared instruction did not simply run: it changed nothing and needs the general
/// path ([`Stop::BAIL`]); it changed nothing and its memory access missed the TLB
/// ([`Stop::miss`]), so the page is to be walked before it runs again; or it ran, and a
/// block must not go on after it ([`Stop::LEAVE`]: a branch went the other way than the
/// block, or a store wrote the code page). One word, so that it comes back in a register.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop(u64);

impl Stop {
    pub(crate) const BAIL: Stop = Stop(0);
    pub(crate) const LEAVE: Stop = Stop(1);
    /// Marks a miss (the page number's low 12 bits are free for it and the permissions).
    const MISS: u64 = 0x800;

    /// A TLB miss at linear address `lin` for an access that needs `need` (`P_*`).
    #[inline(always)]
    fn miss(lin: u64, need: u8) -> Stop {
        Stop(lin & !0xfff | Stop::MISS | u64::from(need))
    }

    /// The page and permissions of a miss.
    fn missed(self) -> Option<(u64, u8)> {
        (self.0 & Stop::MISS != 0).then_some((self.0 & !0xfff, self.0 as u8))
    }
}

/// The permission bits an access needs in a TLB entry.
#[derive(Clone, Copy)]
struct Need {
    read: u8,
    write: u8,
    exec: u8,
}

impl Cpu {
    /// Whether the fast path may run now (see the module's documentation).
    pub(crate) fn fast_ready(&self) -> bool {
        !self.halted
            && !self.ss_shadow
            && self.deferred_db == 0
            && self.s.rflags & TF == 0
            && (self.s.rflags & AC == 0 || self.s.cr0 & ctl::CR0_AM == 0)
            && !self.exec_bp_armed
            && !self.data_bp_armed
            && !self.io_bp_armed
            && !self.mem.journaling()
            && self.s.mode() == CpuMode::Long64
    }

    /// Runs instructions on the fast path, at most `budget` (REP iterations count one
    /// each), stopping before an instruction at one of `breakpoints` (not the first one
    /// unless `check_first`). Returns how many it retired and whether it stopped at an
    /// instruction that needs the general path.
    pub(crate) fn fast_run(
        &mut self,
        budget: u64,
        breakpoints: &[u64],
        check_first: bool,
    ) -> (u64, bool) {
        let user = self.s.cpl() == 3;
        let u = if user { P_USER } else { 0 } | P_RAM;
        let need = Need {
            read: u,
            write: u | P_WRITE | P_DIRTY,
            exec: u | P_EXEC,
        };
        self.code_page = NO_CODE_PAGE;
        let mut rf = self.s.rflags & RF != 0;
        // The decoded instructions are taken out of the CPU while it runs, so that an
        // instruction's prepared form is read in place, not copied (it goes back before
        // anything else can decode).
        let mut decoded = std::mem::take(&mut self.decoded);
        let mut blocks = std::mem::take(&mut self.blocks);
        if blocks.is_empty() {
            blocks = vec![Block::EMPTY; BLOCKS].into_boxed_slice();
        }
        let mut n = 0u64;
        let bail = loop {
            if n >= budget {
                break false;
            }
            let rip = self.s.rip;
            if !breakpoints.is_empty()
                && (n != 0 || check_first)
                && !rf
                && breakpoints.contains(&rip)
            {
                break false;
            }
            // The page of the last fetch is reused while no walk can have refilled its
            // TLB entry (the general path would find the same entry there).
            let phys = if rip & !0xfff == self.code_page.0 {
                self.code_page.1 | (rip & 0xfff)
            } else {
                let Some((_, phys)) = self.fast_ptr(rip, 1, need.exec) else {
                    break true;
                };
                self.code_page = (rip & !0xfff, phys & !0xfff);
                phys
            };
            let version = self.mem.version(phys);
            // A block of instructions prepared together runs without looking each one up.
            let bslot = block_slot(phys);
            let b = &blocks[bslot];
            let block_here = b.phys == phys && b.ip == rip && b.version == version;
            if block_here
                && u64::from(b.count) <= budget - n
                && (breakpoints.is_empty()
                    || b.straight && !breakpoints.iter().any(|&a| a > rip && a < b.end))
            {
                let mut retired = 0;
                let mut end = None;
                for op in &b.ops[..usize::from(b.count)] {
                    // (Blocks hold no string instruction.)
                    if let Err(stop) = (op.run)(self, op, need) {
                        // The instruction ran and the block is left, or it did not: after
                        // a TLB miss's walk the block's own TLB entry may be gone, so the
                        // next instruction is looked up as the general path would.
                        if stop == Stop::LEAVE || self.run_op_after(op, need, stop) {
                            retired += 1;
                        } else {
                            end = Some(true);
                        }
                        break;
                    }
                    retired += 1;
                }
                n += retired;
                if retired != 0 && rf {
                    self.s.rflags &= !RF;
                    rf = false;
                }
                if let Some(bail) = end {
                    break bail;
                }
                continue;
            }
            let slot = decoded_slot(phys);
            let d = &decoded[slot];
            // (An instruction decoded in another code size has a `Kind::Generic` form.)
            if !d.holds(phys, rip, version) {
                // Decode it now (fetching has no effect the general path would not have
                // when it executes the instruction); instructions that cross a page are
                // not kept, and go to the general path.
                self.code_page = NO_CODE_PAGE;
                self.decoded = decoded;
                let fetched = self.fetch_decode();
                decoded = std::mem::take(&mut self.decoded);
                let d = &decoded[slot];
                if fetched.is_err() || !d.holds(phys, rip, version) {
                    break true;
                }
            }
            if !block_here
                && decoded[slot].fast.kind.in_blocks()
                && self.code_page.0 == rip & !0xfff
            {
                // Prepare the block that starts here; it runs next time round (unless the
                // budget or a breakpoint inside it says to go one instruction at a time).
                let b = self.build_block(&mut decoded, rip, phys, version, need);
                if b.count != 0 {
                    blocks[bslot] = b;
                    continue;
                }
            }
            let done = self.exec_fast(&decoded[slot].fast, need, budget - n, phys & !0xfff);
            if let Some(bail) = self.account(done, &mut n, &mut rf) {
                break bail;
            }
        };
        self.blocks = blocks;
        self.decoded = decoded;
        self.retired += n;
        self.fast_retired += n;
        self.s.tsc = self.s.tsc.wrapping_add(n);
        (n, bail)
    }

    /// Prepares the block of instructions starting at `rip` (physical `phys`, in a page of
    /// `version`): decodes ahead while the instructions are fast, following branches the
    /// way [`Block`] says, and stops at a return, a branch out of the page or an
    /// instruction that might cross the page's end. Decoding ahead reads the page the TLB
    /// already maps, nothing else.
    #[inline(never)]
    fn build_block(
        &mut self,
        decoded: &mut Box<[Decoded]>,
        rip: u64,
        phys: u64,
        version: u64,
        need: Need,
    ) -> Block {
        let mut b = Block {
            phys,
            ip: rip,
            version,
            ..Block::EMPTY
        };
        let page = phys & !0xfff;
        let saved_rip = self.s.rip;
        let mut ip = rip;
        while usize::from(b.count) < BLOCK_OPS {
            if ip & !0xfff != rip & !0xfff || ip & 0xfff > 0x1000 - 15 {
                break;
            }
            if self.tlb.hit(ip, need.exec).map(|(p, _)| p & !0xfff) != Some(page) {
                break;
            }
            let p = page | (ip & 0xfff);
            let slot = decoded_slot(p);
            let d = &decoded[slot];
            if !d.holds(p, ip, version) {
                self.s.rip = ip;
                std::mem::swap(&mut self.decoded, decoded);
                let fetched = self.fetch_decode();
                std::mem::swap(&mut self.decoded, decoded);
                let d = &decoded[slot];
                if fetched.is_err() || !d.holds(p, ip, version) {
                    break;
                }
            }
            let op = decoded[slot].fast;
            if !op.kind.in_blocks() {
                break;
            }
            let next = op.next;
            // Where the block goes on (see [`Block`]): only within the page.
            let follow = match op.kind {
                Kind::Jmp | Kind::Call => Some(op.imm),
                Kind::Jcc | Kind::Loop if op.imm <= ip => Some(op.imm),
                Kind::Ret => None,
                _ => Some(next),
            }
            .filter(|&t| t & !0xfff == rip & !0xfff);
            let mut op = Op {
                follow: follow.unwrap_or(next),
                ..op
            };
            // (A conditional branch's handler depends on the way the block follows it.)
            op.run = ops::handler(&op);
            b.ops[usize::from(b.count)] = op;
            b.count += 1;
            let Some(follow) = follow else {
                ip = next;
                break;
            };
            b.straight &= follow == next;
            ip = follow;
        }
        self.s.rip = saved_rip;
        b.end = ip;
        b.mark_dead_flags();
        b
    }

    /// Counts what an instruction retired into `n`; `Some(bail)` when the fast path must
    /// stop (`bail`: the instruction needs the general path).
    #[inline(always)]
    fn account(&mut self, done: Done, n: &mut u64, rf: &mut bool) -> Option<bool> {
        match done {
            Done::Go(k) => {
                *n += k;
                // RF (set by IRET, or between REP iterations) only suppresses instruction
                // breakpoints, which are not armed here; it is cleared when an instruction
                // completes. (Only then: a byte-wide write to RFLAGS before every
                // instruction would stall the next full-width read.)
                if *rf {
                    self.s.rflags &= !RF;
                    *rf = false;
                }
                None
            }
            Done::Stop(k) => {
                *n += k;
                Some(false)
            }
            Done::Bail => Some(true),
        }
    }

    /// The linear address of a memory operand. (Absent registers are skipped by a branch:
    /// reading a register and masking it out would make the access wait for whatever
    /// instruction last wrote that register.)
    #[inline(always)]
    fn fast_ea(&self, m: &Mem) -> u64 {
        let mut ea = m.disp;
        if m.base != NO_REG {
            ea = ea.wrapping_add(self.r(m.base));
        }
        if m.index != NO_REG {
            ea = ea.wrapping_add(self.r(m.index) << m.scale);
        }
        ea & m.addr_mask
    }

    #[inline(always)]
    fn fast_linear(&self, m: &Mem) -> u64 {
        let ea = self.fast_ea(m);
        match m.seg {
            0 => ea,
            4 => ea.wrapping_add(self.s.fs.base),
            _ => ea.wrapping_add(self.s.gs.base),
        }
    }

    /// The host address of `size` bytes at linear address `lin` and their physical
    /// address, if the access needs nothing but the page translation and the TLB holds it:
    /// canonical (as everything the TLB holds), within one page of RAM, with the
    /// permissions `need`. A TLB miss is [`Stop::miss`]: the caller walks the page
    /// ([`Self::fast_fill`]) and runs the instruction again, which is as if the walk had
    /// happened at this access, since an instruction changes nothing before its one memory
    /// access.
    #[inline(always)]
    fn tlb_ptr(&self, lin: u64, size: u8, need: u8) -> Result<(*mut u8, u64), Stop> {
        let off = lin & 0xfff;
        if off + u64::from(size) > 0x1000 {
            return Err(Stop::BAIL);
        }
        let Some((page, host)) = self.tlb.hit(lin, need) else {
            return Err(Stop::miss(lin, need));
        };
        // SAFETY: `host` is the start of a 4 KiB RAM page and `off + size <= 4096`.
        Ok((unsafe { host.add(off as usize) }, page | off))
    }

    #[inline(always)]
    fn tlb_read(&self, lin: u64, size: u8, need: u8) -> Result<u64, Stop> {
        let (p, _) = self.tlb_ptr(lin, size, need)?;
        // SAFETY: `tlb_ptr` checked that `size` bytes at `p` are inside RAM.
        Ok(unsafe { load(p, size) })
    }

    /// [`Self::tlb_ptr`], walking the page on a TLB miss as the general path's first access
    /// to it would walk it (setting the same accessed and dirty bits, or failing the same
    /// way when the general path then runs the instruction); callers make their accesses
    /// in the general path's order.
    #[inline(always)]
    fn fast_ptr(&mut self, lin: u64, size: u8, need: u8) -> Option<(*mut u8, u64)> {
        match self.tlb_ptr(lin, size, need) {
            Ok(p) => Some(p),
            Err(stop) => {
                stop.missed()?;
                self.fast_fill(lin, need)?;
                self.tlb_ptr(lin, size, need).ok()
            }
        }
    }

    /// Walks the page tables for a TLB miss, and looks again.
    #[inline(never)]
    fn fast_fill(&mut self, lin: u64, need: u8) -> Option<(u64, *mut u8)> {
        // A non-canonical address faults before any walk (#GP or #SS, from the general path).
        if !canonical(lin) {
            return None;
        }
        let access = if need & P_EXEC != 0 {
            Access::Execute
        } else if need & P_WRITE != 0 {
            Access::Write
        } else {
            Access::Read
        };
        self.code_page = NO_CODE_PAGE;
        self.translate(lin, access).ok()?;
        self.tlb.hit(lin, need)
    }

    #[inline(always)]
    fn fast_read(&mut self, lin: u64, size: u8, need: Need) -> Option<u64> {
        let (p, _) = self.fast_ptr(lin, size, need.read)?;
        // SAFETY: `fast_ptr` checked that `size` bytes at `p` are inside RAM.
        Some(unsafe { load(p, size) })
    }

    /// Writes through a pointer [`Self::tlb_ptr`] gave for writing.
    #[inline(always)]
    fn fast_store(&mut self, p: *mut u8, phys: u64, size: u8, v: u64) {
        // SAFETY: `tlb_ptr` checked that `size` bytes at `p` are inside RAM, which the CPU
        // owns mutably here.
        unsafe { store(p, size, v) };
        self.mem.note_write(phys);
    }

    #[inline(always)]
    fn r(&self, n: u8) -> u64 {
        self.s.gpr[usize::from(n & 15)]
    }

    #[inline(always)]
    fn cond_now(&self, cc: u8) -> bool {
        flags::condition(cc, self.s.rflags)
    }

    /// Executes one prepared instruction at RIP (`page` is its physical page), retiring at
    /// most `budget` instructions.
    #[inline(always)]
    fn exec_fast(&mut self, op: &Op, need: Need, budget: u64, page: u64) -> Done {
        if op.kind.is_string() {
            return self.fast_string(op, need, budget, page);
        }
        if self.run_op(op, need) {
            Done::Go(1)
        } else {
            Done::Bail
        }
    }

    /// Runs a prepared instruction other than a string one; `false` when it needs the
    /// general path (and changed nothing).
    #[inline(always)]
    fn run_op(&mut self, op: &Op, need: Need) -> bool {
        match (op.run)(self, op, need) {
            Ok(()) => true,
            Err(stop) => stop == Stop::LEAVE || self.run_op_after(op, need, stop),
        }
    }

    /// After an instruction stopped: on a TLB miss, walks the page and runs it again.
    #[inline(never)]
    fn run_op_after(&mut self, op: &Op, need: Need, mut stop: Stop) -> bool {
        // Each instruction here makes one memory access, so one walk is all it can need;
        // a second miss (none is known) goes to the general path.
        for _ in 0..2 {
            let Some((page, access)) = stop.missed() else {
                return false;
            };
            if self.fast_fill(page, access).is_none() {
                return false;
            }
            match (op.run)(self, op, need) {
                Ok(()) => return true,
                Err(s) if s == Stop::LEAVE => return true,
                Err(s) => stop = s,
            }
        }
        false
    }

    /// Up to `limit` iterations of a forward REP string instruction whose elements stay
    /// within the current pages of rSI and rDI, done on host memory in the architecture's
    /// order (so an overlapping MOVS repeats its pattern as the processor's does). Returns
    /// how many ran and whether a REPE/REPNE condition ended the instruction; `None` when
    /// the first element needs more than the TLB (the caller then goes element by element,
    /// and gives the instruction to the general path if that needs more too).
    fn string_chunk(&mut self, op: &Op, need: Need, limit: u64, page: u64) -> Option<(u64, bool)> {
        let size = op.size;
        let sz = u32::from(size);
        let step = usize::from(size);
        let si = self.r(RSI as u8);
        let di = self.r(RDI as u8);
        let room = |a: u64| (0x1000 - (a & 0xfff)) / u64::from(size);
        // The accesses of the first iteration, in the general path's order.
        let src = match op.kind {
            Kind::Movs | Kind::Cmps | Kind::Lods => Some(self.fast_ptr(si, size, need.read)?.0),
            _ => None,
        };
        let dst = match op.kind {
            Kind::Stos | Kind::Movs => {
                let (p, phys) = self.fast_ptr(di, size, need.write)?;
                if phys & !0xfff == page {
                    // Writing the instruction's own page: the general path fetches the
                    // instruction again for each iteration.
                    return None;
                }
                Some((p, phys))
            }
            Kind::Cmps | Kind::Scas => Some(self.fast_ptr(di, size, need.read)?),
            _ => None,
        };
        let mut k = limit;
        if src.is_some() {
            k = k.min(room(si));
        }
        if dst.is_some() {
            k = k.min(room(di));
        }
        let n = k as usize;
        let mut stop = false;
        // Every access below stays inside the page `fast_ptr` checked for the first element
        // of its pointer: `k` is at most the elements left in that page.
        match op.kind {
            Kind::Stos => {
                let (d, phys) = dst?;
                let v = self.r(RAX as u8);
                for j in 0..n {
                    // SAFETY: j < k elements fit in the page (above).
                    unsafe { store(d.add(j * step), size, v) };
                }
                self.mem.note_write(phys);
            }
            Kind::Movs => {
                let (s, (d, phys)) = (src?, dst?);
                for j in 0..n {
                    // SAFETY: j < k elements fit in both pages (above).
                    unsafe { store(d.add(j * step), size, load(s.add(j * step), size)) };
                }
                self.mem.note_write(phys);
            }
            Kind::Lods => {
                // SAFETY: the last of k elements fits in the page (above).
                let v = unsafe { load(src?.add((n - 1) * step), size) };
                self.set_reg(RAX, sz, v);
            }
            _ => {
                // CMPS and SCAS: compare until the condition fails; the flags are those of
                // the last comparison.
                let (d, _) = dst?;
                let repne = op.x == 2;
                let acc = self.r(RAX as u8) & mask(sz);
                let (mut a, mut b) = (0, 0);
                let mut j = 0;
                while j < n {
                    a = match src {
                        // SAFETY: j < k elements fit in the page (above).
                        Some(s) => unsafe { load(s.add(j * step), size) },
                        None => acc,
                    };
                    // SAFETY: as above.
                    b = unsafe { load(d.add(j * step), size) };
                    j += 1;
                    if (a == b) == repne {
                        stop = true;
                        break;
                    }
                }
                k = j as u64;
                let (_, f) = flags::sub(a, b, false, sz);
                self.set_status(f);
            }
        }
        let bytes = k * u64::from(size);
        if src.is_some() {
            self.s.gpr[RSI] = si.wrapping_add(bytes);
        }
        if dst.is_some() {
            self.s.gpr[RDI] = di.wrapping_add(bytes);
        }
        Some((k, stop))
    }

    /// A string instruction, with or without REP: as many iterations as the budget allows
    /// and the TLB can serve. An iteration that would write the instruction's own page
    /// goes to the general path (which fetches the instruction again for the next one).
    fn fast_string(&mut self, op: &Op, need: Need, budget: u64, page: u64) -> Done {
        let size = op.size;
        let sz = u32::from(size);
        let step = if self.s.rflags & DF != 0 {
            (u64::from(size)).wrapping_neg()
        } else {
            u64::from(size)
        };
        let rep = op.x != 0;
        let mut count = self.r(RCX as u8);
        if rep && count == 0 {
            self.s.rip = op.next;
            return Done::Go(1);
        }
        let mut done = 0u64;
        let mut finished = false;
        while done < budget {
            if rep && step == u64::from(size) {
                // Forwards: the rest of the page(s) in one go.
                if let Some((k, stop)) = self.string_chunk(op, need, count.min(budget - done), page)
                {
                    done += k;
                    count -= k;
                    self.s.gpr[RCX] = count;
                    if count == 0 || stop {
                        finished = true;
                        break;
                    }
                    continue;
                }
            }
            let si = self.r(RSI as u8);
            let di = self.r(RDI as u8);
            let mut go_on = true;
            match op.kind {
                Kind::Stos | Kind::Movs => {
                    // MOVS reads before it writes (a fault on the source comes first).
                    let v = if op.kind == Kind::Stos {
                        self.r(RAX as u8)
                    } else {
                        match self.fast_read(si, size, need) {
                            Some(v) => v,
                            None => break,
                        }
                    };
                    let Some((p, phys)) = self.fast_ptr(di, size, need.write) else {
                        break;
                    };
                    if rep && phys & !0xfff == page {
                        break;
                    }
                    self.fast_store(p, phys, size, v);
                    self.s.gpr[RDI] = di.wrapping_add(step);
                    if op.kind == Kind::Movs {
                        self.s.gpr[RSI] = si.wrapping_add(step);
                    }
                }
                Kind::Lods => {
                    let Some(v) = self.fast_read(si, size, need) else {
                        break;
                    };
                    self.set_reg(RAX, sz, v);
                    self.s.gpr[RSI] = si.wrapping_add(step);
                }
                _ => {
                    // CMPS compares [rSI] with [rDI], SCAS rAX with [rDI].
                    let a = if op.kind == Kind::Cmps {
                        match self.fast_read(si, size, need) {
                            Some(v) => v,
                            None => break,
                        }
                    } else {
                        self.r(RAX as u8) & mask(sz)
                    };
                    let Some(b) = self.fast_read(di, size, need) else {
                        break;
                    };
                    let (_, f) = flags::sub(a, b, false, sz);
                    self.set_status(f);
                    if op.kind == Kind::Cmps {
                        self.s.gpr[RSI] = si.wrapping_add(step);
                    }
                    self.s.gpr[RDI] = di.wrapping_add(step);
                    let zf = f & ZF != 0;
                    go_on = if op.x == 2 { !zf } else { zf };
                }
            }
            done += 1;
            if !rep {
                finished = true;
                break;
            }
            count -= 1;
            self.s.gpr[RCX] = count;
            if count == 0 || !go_on {
                finished = true;
                break;
            }
        }
        if finished {
            self.s.rip = op.next;
            Done::Go(done)
        } else if done == 0 {
            Done::Bail
        } else {
            // Left between two iterations, as the general path leaves a REP instruction
            // after each one: RIP on it, RF set.
            self.s.rflags |= RF;
            Done::Stop(done)
        }
    }
}
