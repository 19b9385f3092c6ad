//! One function per prepared form: what an [`Op`] of each kind does, with its operand size,
//! its ALU or shift operation, its condition and whether its flags are computed fixed as
//! constants, so that the function compiled for each combination has no decision left but
//! the operands'. [`handler`] picks the function when the instruction is prepared, and the
//! fast path calls it through [`Op::run`]: one indirect call per instruction instead of a
//! dispatch on the kind, then on the size, then on the operation.
//!
//! String instructions are not here: they run many iterations under a budget
//! (`Cpu::fast_string`).

use super::super::arith::{alu_calc, AluOp};
use super::super::flags;
use super::super::mmu::canonical;
use super::super::muldiv::imul_calc;
use super::super::operand::{mask, sext};
use super::super::shift::{count_mask, shift_calc, ShiftOp};
use super::super::Cpu;
use super::{load, Kind, Need, Op, Stop};
use crate::state::flags::{CF, STATUS, ZF};
use crate::state::reg::{RCX, RSP};

/// What runs a prepared instruction: retires it and moves RIP on, or changes nothing and
/// says why ([`Stop`]).
pub(super) type Handler = fn(&mut Cpu, &Op, Need) -> Result<(), Stop>;

// The operand forms, as constant parameters: register and register, immediate or memory;
// memory and register or immediate; register, register or memory, and immediate (IMUL).
const RR: u8 = 0;
const RI: u8 = 1;
const RM: u8 = 2;
const MR: u8 = 3;
const MI: u8 = 4;
const RRI: u8 = 5;
const RMI: u8 = 6;

/// `$f::<SZ, $c…>` for the operand size of `$op`, as a [`Handler`].
macro_rules! sized {
    ($op:expr, $f:ident $(, $c:tt)*) => {
        match $op.size {
            1 => $f::<1 $(, $c)*> as Handler,
            2 => $f::<2 $(, $c)*> as Handler,
            4 => $f::<4 $(, $c)*> as Handler,
            _ => $f::<8 $(, $c)*> as Handler,
        }
    };
}

/// [`sized!`] with the flags computed (`true`) unless they are dead, as the next parameter.
macro_rules! flagged {
    ($op:expr, $f:ident $(, $c:tt)*) => {
        if $op.dead_flags {
            sized!($op, $f $(, $c)*, false)
        } else {
            sized!($op, $f $(, $c)*, true)
        }
    };
}

/// [`sized!`] with the ALU operation's number as the last parameter.
macro_rules! each_alu {
    ($mac:ident, $op:expr, $f:ident $(, $c:tt)*) => {
        match $op.alu {
            AluOp::Add => $mac!($op, $f $(, $c)*, 0),
            AluOp::Adc => $mac!($op, $f $(, $c)*, 1),
            AluOp::Sub => $mac!($op, $f $(, $c)*, 2),
            AluOp::Sbb => $mac!($op, $f $(, $c)*, 3),
            AluOp::Cmp => $mac!($op, $f $(, $c)*, 4),
            AluOp::And => $mac!($op, $f $(, $c)*, 5),
            AluOp::Or => $mac!($op, $f $(, $c)*, 6),
            AluOp::Xor => $mac!($op, $f $(, $c)*, 7),
            AluOp::Test => $mac!($op, $f $(, $c)*, 8),
        }
    };
}

/// `$f::<CC, $c…>` for the condition code of `$op`, as a [`Handler`].
macro_rules! each_cc {
    ($op:expr, $f:ident $(, $c:tt)*) => {
        match $op.x {
            0 => $f::<0 $(, $c)*> as Handler,
            1 => $f::<1 $(, $c)*>,
            2 => $f::<2 $(, $c)*>,
            3 => $f::<3 $(, $c)*>,
            4 => $f::<4 $(, $c)*>,
            5 => $f::<5 $(, $c)*>,
            6 => $f::<6 $(, $c)*>,
            7 => $f::<7 $(, $c)*>,
            8 => $f::<8 $(, $c)*>,
            9 => $f::<9 $(, $c)*>,
            10 => $f::<10 $(, $c)*>,
            11 => $f::<11 $(, $c)*>,
            12 => $f::<12 $(, $c)*>,
            13 => $f::<13 $(, $c)*>,
            14 => $f::<14 $(, $c)*>,
            _ => $f::<15 $(, $c)*>,
        }
    };
}

/// The ALU operation numbered as in [`each_alu!`].
const fn alu_op(a: u8) -> AluOp {
    [
        AluOp::Add,
        AluOp::Adc,
        AluOp::Sub,
        AluOp::Sbb,
        AluOp::Cmp,
        AluOp::And,
        AluOp::Or,
        AluOp::Xor,
        AluOp::Test,
    ][a as usize]
}

/// The shift operation by number, in [`ShiftOp`]'s order.
const fn shift_op(s: u8) -> ShiftOp {
    [
        ShiftOp::Shl,
        ShiftOp::Shr,
        ShiftOp::Sar,
        ShiftOp::Rol,
        ShiftOp::Ror,
        ShiftOp::Rcl,
        ShiftOp::Rcr,
    ][s as usize]
}

/// The function that runs `op` (see the module's documentation).
pub(super) fn handler(op: &Op) -> Handler {
    macro_rules! shifts {
        ($cl:tt) => {
            match op.shift {
                ShiftOp::Shl => flagged!(op, shift, $cl, 0),
                ShiftOp::Shr => flagged!(op, shift, $cl, 1),
                ShiftOp::Sar => flagged!(op, shift, $cl, 2),
                ShiftOp::Rol => flagged!(op, shift, $cl, 3),
                ShiftOp::Ror => flagged!(op, shift, $cl, 4),
                ShiftOp::Rcl => flagged!(op, shift, $cl, 5),
                ShiftOp::Rcr => flagged!(op, shift, $cl, 6),
            }
        };
    }
    macro_rules! alu_r {
        ($form:tt) => {
            if op.dead_flags {
                each_alu!(sized, op, alu_r, $form, false)
            } else {
                each_alu!(sized, op, alu_r, $form, true)
            }
        };
    }
    match op.kind {
        Kind::Generic | Kind::Stos | Kind::Lods | Kind::Movs | Kind::Cmps | Kind::Scas => bail,
        Kind::AluRR => alu_r!(RR),
        Kind::AluRI => alu_r!(RI),
        Kind::AluRM => alu_r!(RM),
        Kind::AluMR => each_alu!(sized, op, alu_m, MR),
        Kind::AluMI => each_alu!(sized, op, alu_m, MI),
        Kind::IncDecR if op.x != 0 => flagged!(op, inc_dec_r, true),
        Kind::IncDecR => flagged!(op, inc_dec_r, false),
        Kind::IncDecM if op.x != 0 => sized!(op, inc_dec_m, true),
        Kind::IncDecM => sized!(op, inc_dec_m, false),
        Kind::MovRR => sized!(op, mov_r, RR),
        Kind::MovRI => sized!(op, mov_r, RI),
        Kind::MovRM => sized!(op, mov_r, RM),
        Kind::MovMR => sized!(op, mov_m, MR),
        Kind::MovMI => sized!(op, mov_m, MI),
        Kind::MovxRR => sized!(op, movx, RR),
        Kind::MovxRM => sized!(op, movx, RM),
        Kind::Lea => sized!(op, lea),
        Kind::ShiftRI => shifts!(false),
        Kind::ShiftRCl => shifts!(true),
        Kind::ImulRR => flagged!(op, imul, RR),
        Kind::ImulRM => flagged!(op, imul, RM),
        Kind::ImulRRI => flagged!(op, imul, RRI),
        Kind::ImulRMI => flagged!(op, imul, RMI),
        Kind::CmovRR => sized!(op, cmov, RR),
        Kind::CmovRM => sized!(op, cmov, RM),
        Kind::SetccR => setcc,
        Kind::Jcc => {
            // The way the block follows, if any (see `jcc`).
            let way = if op.follow == op.imm {
                1
            } else if op.follow == op.next {
                2
            } else {
                0
            };
            match way {
                1 => each_cc!(op, jcc, 1),
                2 => each_cc!(op, jcc, 2),
                _ => each_cc!(op, jcc, 0),
            }
        }
        Kind::Jmp => jmp,
        Kind::Call => call,
        Kind::Ret => ret,
        Kind::PushR => push,
        Kind::PopR => pop,
        Kind::Loop => loop_,
        Kind::Nop => nop,
    }
}

impl Cpu {
    /// Writes the low `SZ` bytes of GPR `n` as an instruction does: a 32-bit write clears
    /// the upper half, narrower writes keep the rest.
    #[inline(always)]
    fn put<const SZ: u32>(&mut self, n: u8, v: u64) {
        let r = &mut self.s.gpr[usize::from(n & 15)];
        *r = match SZ {
            1 => (*r & !0xff) | (v & 0xff),
            2 => (*r & !0xffff) | (v & 0xffff),
            4 => v & 0xffff_ffff,
            _ => v,
        };
    }

    /// Retires the instruction: RIP moves past it.
    #[inline(always)]
    fn fast_next(&mut self, op: &Op) -> Result<(), Stop> {
        self.s.rip = op.next;
        Ok(())
    }

    /// Retires an instruction that stored at `phys`: [`Stop::LEAVE`] when that is the code
    /// page (the rest of a block there may be stale).
    #[inline(always)]
    fn stored_next(&mut self, op: &Op, phys: u64) -> Result<(), Stop> {
        self.s.rip = op.next;
        if phys & !0xfff == self.code_page.1 {
            Err(Stop::LEAVE)
        } else {
            Ok(())
        }
    }

    /// Moves RIP to `target`, where a branch went, answering [`Stop::LEAVE`] when that is
    /// not where its block goes on (`op.follow`: in the block's page, or 0 outside blocks,
    /// so canonical); changes nothing and answers [`Stop::BAIL`] when `target` is not
    /// canonical (#GP: the general path raises it).
    #[inline(always)]
    fn went(&mut self, op: &Op, target: u64) -> Result<(), Stop> {
        if target == op.follow {
            self.s.rip = target;
            Ok(())
        } else if canonical(target) {
            self.s.rip = target;
            Err(Stop::LEAVE)
        } else {
            Err(Stop::BAIL)
        }
    }

    /// The second operand of a register-destination form (register, immediate or memory).
    #[inline(always)]
    fn source<const SZ: u32, const FORM: u8>(&self, op: &Op, need: Need) -> Result<u64, Stop> {
        match FORM {
            RR | RRI => Ok(self.r(op.r1) & mask(SZ)),
            RI => Ok(op.imm),
            _ => self.tlb_read(self.fast_linear(&op.mem), SZ as u8, need.read),
        }
    }
}

pub(super) fn bail(_: &mut Cpu, _: &Op, _: Need) -> Result<(), Stop> {
    Err(Stop::BAIL)
}

fn alu_r<const SZ: u32, const FORM: u8, const FLAGS: bool, const A: u8>(
    cpu: &mut Cpu,
    op: &Op,
    need: Need,
) -> Result<(), Stop> {
    let b = cpu.source::<SZ, FORM>(op, need)?;
    let alu = alu_op(A);
    let a = cpu.r(op.r0) & mask(SZ);
    let (r, f) = alu_calc(alu, a, b, cpu.s.rflags & CF != 0, SZ);
    if alu.writes() {
        cpu.put::<SZ>(op.r0, r);
    }
    if FLAGS {
        cpu.set_status(f);
    }
    cpu.fast_next(op)
}

fn alu_m<const SZ: u32, const FORM: u8, const A: u8>(
    cpu: &mut Cpu,
    op: &Op,
    need: Need,
) -> Result<(), Stop> {
    let alu = alu_op(A);
    let size = SZ as u8;
    let access = if alu.writes() { need.write } else { need.read };
    let (p, phys) = cpu.tlb_ptr(cpu.fast_linear(&op.mem), size, access)?;
    // SAFETY: `fast_ptr` checked that `size` bytes at `p` are inside RAM.
    let a = unsafe { load(p, size) };
    let b = if FORM == MR {
        cpu.r(op.r1) & mask(SZ)
    } else {
        op.imm
    };
    let (r, f) = alu_calc(alu, a, b, cpu.s.rflags & CF != 0, SZ);
    cpu.set_status(f);
    if alu.writes() {
        cpu.fast_store(p, phys, size, r);
        cpu.stored_next(op, phys)
    } else {
        cpu.fast_next(op)
    }
}

/// INC (`INC` true) or DEC of `a`: result and flags (CF is not theirs).
#[inline(always)]
fn inc_dec<const SZ: u32, const INC: bool>(a: u64) -> (u64, u64) {
    if INC {
        flags::add(a, 1, false, SZ)
    } else {
        flags::sub(a, 1, false, SZ)
    }
}

fn inc_dec_r<const SZ: u32, const INC: bool, const FLAGS: bool>(
    cpu: &mut Cpu,
    op: &Op,
    _: Need,
) -> Result<(), Stop> {
    let (r, f) = inc_dec::<SZ, INC>(cpu.r(op.r0) & mask(SZ));
    cpu.put::<SZ>(op.r0, r);
    if FLAGS {
        cpu.set_status_masked(f, STATUS & !CF);
    }
    cpu.fast_next(op)
}

fn inc_dec_m<const SZ: u32, const INC: bool>(
    cpu: &mut Cpu,
    op: &Op,
    need: Need,
) -> Result<(), Stop> {
    let size = SZ as u8;
    let (p, phys) = cpu.tlb_ptr(cpu.fast_linear(&op.mem), size, need.write)?;
    // SAFETY: `fast_ptr` checked that `size` bytes at `p` are inside RAM.
    let (r, f) = inc_dec::<SZ, INC>(unsafe { load(p, size) });
    cpu.fast_store(p, phys, size, r);
    cpu.set_status_masked(f, STATUS & !CF);
    cpu.stored_next(op, phys)
}

fn mov_r<const SZ: u32, const FORM: u8>(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let v = cpu.source::<SZ, FORM>(op, need)?;
    cpu.put::<SZ>(op.r0, v);
    cpu.fast_next(op)
}

fn mov_m<const SZ: u32, const FORM: u8>(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let size = SZ as u8;
    let (p, phys) = cpu.tlb_ptr(cpu.fast_linear(&op.mem), size, need.write)?;
    let v = if FORM == MR { cpu.r(op.r1) } else { op.imm };
    cpu.fast_store(p, phys, size, v);
    cpu.stored_next(op, phys)
}

/// MOVZX, MOVSX, MOVSXD: the source size is in `op.x`, with 0x80 when it sign-extends.
fn movx<const SZ: u32, const FORM: u8>(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let src_size = op.x & 0x7f;
    let v = if FORM == RR {
        cpu.r(op.r1) & mask(u32::from(src_size))
    } else {
        cpu.tlb_read(cpu.fast_linear(&op.mem), src_size, need.read)?
    };
    let v = if op.x & 0x80 != 0 {
        sext(v, u32::from(src_size))
    } else {
        v
    };
    cpu.put::<SZ>(op.r0, v);
    cpu.fast_next(op)
}

fn lea<const SZ: u32>(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    let ea = cpu.fast_ea(&op.mem);
    cpu.put::<SZ>(op.r0, ea);
    cpu.fast_next(op)
}

/// A shift or rotate of a register by an immediate count, or by CL (`CL`).
fn shift<const SZ: u32, const CL: bool, const S: u8, const FLAGS: bool>(
    cpu: &mut Cpu,
    op: &Op,
    _: Need,
) -> Result<(), Stop> {
    let count = if CL {
        cpu.r(RCX as u8) as u32
    } else {
        op.imm as u32
    } & count_mask(SZ);
    let a = cpu.r(op.r0) & mask(SZ);
    if count == 0 {
        // No flags change; a 32-bit register is still zero-extended.
        cpu.put::<SZ>(op.r0, a);
    } else {
        let old = cpu.s.rflags;
        let (r, f, which) = shift_calc(shift_op(S), a, count, SZ, old & CF != 0);
        cpu.put::<SZ>(op.r0, r);
        if FLAGS {
            cpu.s.rflags = (old & !which) | (f & which);
        }
    }
    cpu.fast_next(op)
}

/// The two- and three-operand IMUL.
fn imul<const SZ: u32, const FORM: u8, const FLAGS: bool>(
    cpu: &mut Cpu,
    op: &Op,
    need: Need,
) -> Result<(), Stop> {
    let src = cpu.source::<SZ, FORM>(op, need)?;
    let (a, b) = match FORM {
        RR | RM => (cpu.r(op.r0) & mask(SZ), src),
        _ => (src, op.imm),
    };
    if FLAGS {
        let (lo, f) = imul_calc(a, b, SZ);
        cpu.put::<SZ>(op.r0, lo);
        cpu.set_status(f);
    } else {
        cpu.put::<SZ>(op.r0, a.wrapping_mul(b));
    }
    cpu.fast_next(op)
}

fn cmov<const SZ: u32, const FORM: u8>(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    // The source is read whatever the condition (a memory source can fault).
    let src = cpu.source::<SZ, FORM>(op, need)?;
    let v = if cpu.cond_now(op.x) {
        src
    } else {
        cpu.r(op.r0)
    };
    cpu.put::<SZ>(op.r0, v);
    cpu.fast_next(op)
}

fn setcc(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    let v = u64::from(cpu.cond_now(op.x));
    cpu.put::<1>(op.r0, v);
    cpu.fast_next(op)
}

/// Jcc. `WAY` is the way its block goes on: 1 the taken branch, 2 the fall-through, 0 not
/// in a block (either way is fine). Going the other way retires it with [`Stop::LEAVE`];
/// the condition decides with a branch of the host's, not a data dependency.
fn jcc<const CC: u8, const WAY: u8>(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    if flags::condition(CC, cpu.s.rflags) {
        if !canonical(op.imm) {
            return Err(Stop::BAIL);
        }
        cpu.s.rip = op.imm;
        if WAY == 2 {
            return Err(Stop::LEAVE);
        }
    } else {
        cpu.s.rip = op.next;
        if WAY == 1 {
            return Err(Stop::LEAVE);
        }
    }
    Ok(())
}

fn jmp(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    cpu.went(op, op.imm)
}

fn call(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let sp = cpu.r(RSP as u8).wrapping_sub(8);
    if !canonical(op.imm) {
        return Err(Stop::BAIL);
    }
    let (p, phys) = cpu.tlb_ptr(sp, 8, need.write)?;
    cpu.fast_store(p, phys, 8, op.next);
    cpu.s.gpr[RSP] = sp;
    if phys & !0xfff == cpu.code_page.1 {
        cpu.s.rip = op.imm;
        return Err(Stop::LEAVE);
    }
    // (Canonical: checked above.)
    cpu.went(op, op.imm)
}

fn ret(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let sp = cpu.r(RSP as u8);
    let t = cpu.tlb_read(sp, 8, need.read)?;
    if !canonical(t) {
        return Err(Stop::BAIL);
    }
    cpu.s.gpr[RSP] = sp.wrapping_add(8);
    cpu.went(op, t)
}

fn push(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let v = cpu.r(op.r0);
    let sp = cpu.r(RSP as u8).wrapping_sub(8);
    let (p, phys) = cpu.tlb_ptr(sp, 8, need.write)?;
    cpu.fast_store(p, phys, 8, v);
    cpu.s.gpr[RSP] = sp;
    cpu.stored_next(op, phys)
}

fn pop(cpu: &mut Cpu, op: &Op, need: Need) -> Result<(), Stop> {
    let sp = cpu.r(RSP as u8);
    let v = cpu.tlb_read(sp, 8, need.read)?;
    cpu.s.gpr[RSP] = sp.wrapping_add(8);
    cpu.put::<8>(op.r0, v);
    cpu.fast_next(op)
}

/// LOOP (`op.x` 0), LOOPE (1), LOOPNE (2); `op.mem.addr_mask` says whether the counter is
/// ECX or RCX.
fn loop_(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    let asz = if op.mem.addr_mask == u64::MAX { 8 } else { 4 };
    let c = cpu.r(RCX as u8).wrapping_sub(1) & mask(asz);
    let zf = cpu.s.rflags & ZF != 0;
    let take = c != 0
        && match op.x {
            0 => true,
            1 => zf,
            _ => !zf,
        };
    if take && !canonical(op.imm) {
        return Err(Stop::BAIL);
    }
    cpu.set_reg(RCX, asz, c);
    let target = if take { op.imm } else { op.next };
    cpu.went(op, target)
}

fn nop(cpu: &mut Cpu, op: &Op, _: Need) -> Result<(), Stop> {
    cpu.fast_next(op)
}
