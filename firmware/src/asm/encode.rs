//! Instruction selection: the operands as written are matched against every form
//! (`Code`) of the mnemonic, using iced-x86's op-code information; each form that fits is
//! encoded by iced's encoder, and the shortest wins, ties going the way NASM goes
//! (sign-extended 8-bit immediates, then the lowest `Code`, which puts `r/m, reg` before
//! `reg, r/m` as NASM's instruction table does).

use std::collections::HashMap;
use std::sync::OnceLock;

use iced_x86::{
    Code, CodeSize, Encoder, EncodingKind, Instruction, MemorySize, Mnemonic,
    OpCodeOperandKind as K, OpKind, Register,
};

use super::expr::{eval, Scope, Value};
use super::mnemonic;
use super::parse::{Evex, Imm, Instr, Mem, Operand, Reach, Size};
use super::Problem;

/// Where an instruction is assembled.
pub struct Ctx {
    pub bits: u32,
    /// Its address.
    pub ip: u64,
    pub default_rel: bool,
}

/// An instruction's bytes, and the warnings it deserves (values truncated to their field).
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub warnings: Vec<Problem>,
    /// An operand used a symbol not defined yet (only the last pass reports it).
    pub unknown: Option<(String, u32)>,
}

/// The forms of every mnemonic the encoder supports: legacy, VEX, EVEX and 3DNow!
/// encodings.
fn forms(m: Mnemonic) -> &'static [Code] {
    static MAP: OnceLock<HashMap<Mnemonic, Vec<Code>>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut map: HashMap<Mnemonic, Vec<Code>> = HashMap::new();
        for code in Code::values() {
            let op = code.op_code();
            // Forms that only exist under a decoder option (the 486 A-step CMPXCHG, ...)
            // are not what anyone means.
            if op.is_instruction()
                && op.decoder_option() == 0
                && matches!(
                    op.encoding(),
                    EncodingKind::Legacy
                        | EncodingKind::VEX
                        | EncodingKind::EVEX
                        | EncodingKind::XOP
                        | EncodingKind::D3NOW
                )
            {
                map.entry(code.mnemonic()).or_default().push(code);
            }
        }
        map
    });
    map.get(&m).map_or(&[], Vec::as_slice)
}

/// A memory operand with its address worked out.
#[derive(Clone, Debug)]
struct Address {
    size: Option<Size>,
    /// The displacement's size the source asked for (`[dword x]`).
    disp_size: Option<u32>,
    far: bool,
    seg: Register,
    base: Register,
    index: Register,
    scale: u32,
    disp: i64,
    /// 2, 4 or 8 (the address size), for a displacement-only operand.
    abs_size: u32,
    /// The displacement is an address (a label): NASM gives it its full size.
    symbolic: bool,
    col: u32,
}

#[derive(Clone, Debug)]
struct Value2 {
    v: i64,
    known: bool,
    symbolic: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Reg(Register),
    Mem(Address),
    Imm(Value2, Option<Size>, bool, Option<Reach>, u32),
    Far(u16, Value2, Option<Size>, u32),
}

impl Op {
    fn col(&self) -> u32 {
        match self {
            Op::Reg(..) => 0,
            Op::Mem(a) => a.col,
            Op::Imm(.., c) | Op::Far(.., c) => *c,
        }
    }
}

/// Settings that come from the prefixes.
#[derive(Default)]
struct Prefixes {
    rep: bool,
    repne: bool,
    lock: bool,
    xacquire: bool,
    operand_size: Option<u32>,
    address_size: Option<u32>,
    seg: Option<Register>,
    /// `fadd to st1`: the `sti, st0` form.
    to: bool,
}

struct Resolver<'a> {
    scope: &'a dyn Scope,
    unknown: Option<(String, u32)>,
}

impl Resolver<'_> {
    fn value(&mut self, e: &super::expr::Expr, col: u32) -> Result<Value, Problem> {
        let v = eval(e, self.scope, col)?;
        if let (Some(name), None) = (&v.unknown, &self.unknown) {
            self.unknown = Some((name.clone(), col));
        }
        Ok(v)
    }

    fn plain(&mut self, e: &super::expr::Expr, col: u32) -> Result<Value2, Problem> {
        let v = self.value(e, col)?;
        if !v.regs.is_empty() {
            return Err(Problem::at(
                col,
                "a register cannot be part of an immediate value",
            ));
        }
        Ok(Value2 {
            v: v.n,
            known: v.unknown.is_none(),
            symbolic: v.symbolic,
        })
    }
}

/// Encodes one instruction at `ctx.ip`.
pub fn encode(ins: &Instr, ctx: &Ctx, scope: &dyn Scope) -> Result<Encoded, Problem> {
    let bits = ctx.bits;
    // A real instruction's name first (`vpcmpeqb` is VPCMPEQB, not VPCMPB with 0).
    let sized = mnemonic::sized(&ins.mnemonic);
    let named = sized
        .map(|(m, _)| m)
        .or_else(|| mnemonic::resolve(&ins.mnemonic, bits));
    let pseudo = match named {
        Some(_) => None,
        None => mnemonic::pseudo(&ins.mnemonic),
    };
    if let Some(n) = mnemonic::hint_nop(&ins.mnemonic) {
        return hint_nop(n, ins, ctx, scope);
    }
    let Some(m) = named.or(pseudo.map(|(m, _)| m)) else {
        return Err(Problem::at(
            ins.col,
            format!("unknown mnemonic '{}'", ins.mnemonic),
        ));
    };
    let mut p = Prefixes::default();
    for w in &ins.prefixes {
        match w.as_str() {
            "rep" | "repe" | "repz" => p.rep = true,
            "repne" | "repnz" => p.repne = true,
            "lock" => p.lock = true,
            "xacquire" => p.xacquire = true,
            "o16" => p.operand_size = Some(16),
            "o32" => p.operand_size = Some(32),
            "o64" => p.operand_size = Some(64),
            "a16" => p.address_size = Some(16),
            "a32" => p.address_size = Some(32),
            "a64" => p.address_size = Some(64),
            "to" => p.to = true,
            seg => p.seg = super::expr::register(seg),
        }
    }
    if let (Some((_, size)), None) = (sized, p.operand_size) {
        p.operand_size = Some(size);
    }
    let mut r = Resolver {
        scope,
        unknown: None,
    };
    let mut ops = Vec::new();
    for o in &ins.operands {
        ops.push(match o {
            Operand::Reg(reg, _) => Op::Reg(*reg),
            Operand::Mem(mem) => Op::Mem(address(mem, ctx, &p, &mut r)?),
            Operand::Imm(Imm {
                expr,
                size,
                strict,
                reach,
                col,
            }) => Op::Imm(r.plain(expr, *col)?, *size, *strict, *reach, *col),
            Operand::Far(seg, off, size, col) => {
                let s = r.plain(seg, *col)?;
                Op::Far(s.v as u16, r.plain(off, *col)?, *size, *col)
            }
        });
    }
    // `cmpltps x, y` is `cmpps x, y, 1`.
    if let Some((_, imm)) = pseudo {
        ops.push(Op::Imm(
            Value2 {
                v: i64::from(imm),
                known: true,
                symbolic: false,
            },
            None,
            false,
            None,
            ins.col,
        ));
    }
    // `invlpga eax, ecx`, `monitor rax, ecx, edx`: operands that are implicit in the
    // encoding, written out; the first names the address size.
    if matches!(
        m,
        Mnemonic::Invlpga
            | Mnemonic::Monitor
            | Mnemonic::Monitorx
            | Mnemonic::Mwait
            | Mnemonic::Mwaitx
            | Mnemonic::Clzero
            | Mnemonic::Vmrun
            | Mnemonic::Vmload
            | Mnemonic::Vmsave
    ) && !ops.is_empty()
        && ops.iter().all(|o| matches!(o, Op::Reg(r) if r.is_gpr()))
    {
        if let Op::Reg(first) = ops[0] {
            if !matches!(m, Mnemonic::Mwait | Mnemonic::Mwaitx) {
                p.address_size = Some(first.size() as u32 * 8);
            }
        }
        ops.clear();
    }
    // `loop target, ecx`: the counter register names the address size.
    if matches!(m, Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne) && ops.len() == 2 {
        if let Op::Reg(reg @ (Register::CX | Register::ECX | Register::RCX)) = ops[1] {
            p.address_size = Some(reg.size() as u32 * 8);
            ops.pop();
        }
    }
    // NASM's shorthands: `imul reg, imm` is `imul reg, reg, imm`; `mov r64, imm` with an
    // unsigned 32-bit value is `mov r32, imm` (the upper half is zeroed all the same).
    if m == Mnemonic::Imul && ops.len() == 2 {
        if let (Op::Reg(reg), Op::Imm(..)) = (&ops[0], &ops[1]) {
            ops.insert(1, Op::Reg(*reg));
        }
    }
    if m == Mnemonic::Mov && ops.len() == 2 {
        if let (Op::Reg(reg), Op::Imm(v, None, false, None, _)) = (&ops[0], &ops[1]) {
            if reg.is_gpr64() && v.known && !v.symbolic && (0..=i64::from(u32::MAX)).contains(&v.v)
            {
                ops[0] = Op::Reg(reg.full_register32());
            }
        }
    }
    let mut why = None;
    let mut picked = select(m, &ops, ctx, &p, &ins.evex, &mut why, ins.col)?;
    // `o32 lodsw`, `o64 sysret`: NASM writes the operand-size prefix (66h, REX.W) even
    // where the instruction's own size does not call for it.
    let want = p.operand_size;
    if picked.is_none() && want.is_some() {
        p.operand_size = None;
        picked = select(m, &ops, ctx, &p, &ins.evex, &mut why, ins.col)?;
    }
    let default = if bits == 16 { 16 } else { 32 };
    let forced =
        want.filter(|&w| w != default && picked.as_ref().is_some_and(|(c, _)| c.operand_size != w));
    let Some((best, loose)) = picked else {
        // The commonest mistake: registers of different sizes (`mov ax, bl`).
        let gprs: Vec<Register> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Reg(r) if r.is_gpr() => Some(*r),
                _ => None,
            })
            .collect();
        if let [a, b] = gprs[..] {
            if a.size() != b.size()
                && !matches!(m, Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd)
            {
                return Err(Problem::at(
                    ins.col,
                    format!(
                        "operand sizes do not match: {} is {} bits, {} is {} bits",
                        format!("{a:?}").to_lowercase(),
                        a.size() * 8,
                        format!("{b:?}").to_lowercase(),
                        b.size() * 8
                    ),
                ));
            }
        }
        let shapes: Vec<&str> = ops.iter().map(shape).collect();
        let detail = why.map(|w| format!(": {w}")).unwrap_or_default();
        return Err(Problem::at(
            ins.col,
            format!(
                "no form of `{}` takes ({}) in {bits}-bit code{detail}",
                ins.mnemonic,
                shapes.join(", ")
            ),
        ));
    };
    let mut warnings = Vec::new();
    if loose {
        warnings.push(Problem::at(
            ops.iter()
                .find(|o| matches!(o, Op::Imm(..)))
                .map_or(ins.col, Op::col),
            "value exceeds the bounds of its field (truncated)",
        ));
    }
    let mut bytes = best.bytes;
    match forced {
        Some(64) if bits == 64 => {
            // REX.W goes after the legacy prefixes (merged into a REX already there).
            let at = bytes
                .iter()
                .position(|b| {
                    !matches!(
                        b,
                        0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x66 | 0x67
                    )
                })
                .unwrap_or(0);
            if (0x40..0x50).contains(&bytes[at]) {
                bytes[at] |= 8;
            } else {
                bytes.insert(at, 0x48);
            }
        }
        Some(16 | 32) => bytes.insert(0, 0x66),
        Some(_) => {
            return Err(Problem::at(ins.col, "`o64` exists only in 64-bit code"));
        }
        None => {}
    }
    nasm_prefix_order(&mut bytes, best.code);
    Ok(Encoded {
        bytes,
        warnings,
        unknown: r.unknown,
    })
}

/// `hint_nopN r/m`: opcode 0F 18h + N/8 with reg field N%8. iced-x86 names those bytes
/// by what they are (a reserved NOP with a register operand, PREFETCHh, NOP r/m...): every
/// form of that opcode and reg field is tried.
fn hint_nop(n: u32, ins: &Instr, ctx: &Ctx, scope: &dyn Scope) -> Result<Encoded, Problem> {
    let [operand] = ins.operands.as_slice() else {
        return Err(Problem::at(
            ins.col,
            "`hint_nopN` takes one register or memory operand",
        ));
    };
    let mut r = Resolver {
        scope,
        unknown: None,
    };
    let p = Prefixes::default();
    let (rm, size) = match operand {
        Operand::Reg(reg, _) if reg.is_gpr() && reg.size() > 1 => (Op::Reg(*reg), reg.size()),
        Operand::Mem(mem) => {
            let a = address(mem, ctx, &p, &mut r)?;
            let Some(Size::Bytes(b @ (2 | 4 | 8))) = a.size else {
                return Err(Problem::at(
                    mem.col,
                    "operation size not specified (write word, dword or qword before the memory operand)",
                ));
            };
            (Op::Mem(a), b as usize)
        }
        _ => {
            return Err(Problem::at(
                ins.col,
                "`hint_nopN` takes a 16-, 32- or 64-bit register or memory operand",
            ))
        }
    };
    let reg = Register::values()
        .find(|g| g.is_gpr() && g.size() == size && g.number() == (n % 8) as usize)
        .expect("eight registers of each size");
    let opcode = 0x18 + n / 8;
    let mut best: Option<Candidate> = None;
    for code in Code::values() {
        let op = code.op_code();
        if op.table() != iced_x86::OpCodeTableKind::T0F
            || op.op_code() != opcode
            || op.encoding() != EncodingKind::Legacy
            || op.decoder_option() != 0
            || !op.is_instruction()
        {
            continue;
        }
        let ops = if code.mnemonic() == Mnemonic::Reservednop {
            vec![rm.clone(), Op::Reg(reg)]
        } else if op.is_group() && op.group_index() == (n % 8) as i32 && op.op_count() == 1 {
            vec![rm.clone()]
        } else {
            continue;
        };
        if let Ok(c) = candidate(code, &ops, ctx, &p, &Evex::default(), false) {
            if best.as_ref().is_none_or(|b| c.bytes.len() < b.bytes.len()) {
                best = Some(c);
            }
        }
    }
    let Some(best) = best else {
        return Err(Problem::at(
            ins.col,
            format!(
                "no form of `{}` takes that operand in {}-bit code",
                ins.mnemonic, ctx.bits
            ),
        ));
    };
    Ok(Encoded {
        bytes: best.bytes,
        warnings: Vec::new(),
        unknown: r.unknown,
    })
}

/// The best form for the operands (and whether an immediate had to be truncated), or
/// `None` when no form takes them (`why` gets the first reason worth telling).
fn select(
    m: Mnemonic,
    ops: &[Op],
    ctx: &Ctx,
    p: &Prefixes,
    evex: &Evex,
    why: &mut Option<String>,
    col: u32,
) -> Result<Option<(Candidate, bool)>, Problem> {
    for (m, orders) in variants(m, ops, ctx.bits) {
        for loose in [false, true] {
            let mut found = Vec::new();
            for (ops, swapped) in &orders {
                for &code in forms(m) {
                    match candidate(code, ops, ctx, p, evex, loose) {
                        Ok(mut c) => {
                            c.swapped = *swapped;
                            found.push(c);
                        }
                        Err(e) => {
                            if why.is_none() {
                                *why = e;
                            }
                        }
                    }
                }
            }
            if found.is_empty() {
                continue;
            }
            let found = disambiguate(found, &orders[0].0, m, ctx.bits, col)?;
            let best = found.into_iter().min_by_key(|c| {
                (
                    c.bytes.len(),
                    !c.sign_extended,
                    // NASM puts the register operand of XCHG r, r/m first (`87 /r`, reg = op 1).
                    !(c.swapped && m == Mnemonic::Xchg),
                    c.code as u32,
                )
            });
            return Ok(best.map(|b| (b, loose)));
        }
    }
    Ok(None)
}

/// The operand lists to try, in order, each with its orderings (`true`: swapped): the
/// operands as written, then NASM's shorthands for them.
#[allow(clippy::type_complexity)]
fn variants(m: Mnemonic, ops: &[Op], bits: u32) -> Vec<(Mnemonic, Vec<(Vec<Op>, bool)>)> {
    use Mnemonic as M;
    let mut ops = ops.to_vec();
    // Instructions that only read a 16-bit selector or word: NASM writes no operand-size
    // prefix for a 16-bit register outside 16-bit code (the 32-bit form reads the same).
    let selector_only = matches!(m, M::Ltr | M::Lldt | M::Verr | M::Verw | M::Lmsw | M::Arpl)
        || (m == M::Mov && matches!(ops.first(), Some(Op::Reg(r)) if r.is_segment_register()));
    if selector_only && bits != 16 && ops.iter().any(|o| matches!(o, Op::Reg(r) if r.is_gpr16())) {
        for o in &mut ops {
            if let Op::Reg(r) = o {
                if r.is_gpr16() {
                    *r = r.full_register32();
                }
            }
        }
    }
    // LAR and LSL read a selector: NASM takes a 16-bit source register with a wider
    // destination, encoded as the register of the destination's size.
    if matches!(m, M::Lar | M::Lsl) {
        if let [Op::Reg(d), Op::Reg(src)] = ops.as_mut_slice() {
            if src.is_gpr16() && (d.is_gpr32() || d.is_gpr64()) {
                *src = if d.is_gpr64() {
                    src.full_register()
                } else {
                    src.full_register32()
                };
            }
        }
    }
    let mut out = vec![(m, vec![(ops.clone(), false)])];
    if matches!(m, M::Xchg | M::Test) && ops.len() == 2 {
        let mut swapped = ops.clone();
        swapped.swap(0, 1);
        out[0].1.push((swapped, true));
    }
    // BLENDVPS, PBLENDVB, SHA256RNDS2...: XMM0 is implicit; NASM accepts it written out.
    if ops.len() == 3 && matches!(ops[2], Op::Reg(Register::XMM0)) {
        out.push((m, vec![(ops[..2].to_vec(), false)]));
    }
    // AAM and AAD without an operand divide and multiply by 10.
    if matches!(m, M::Aam | M::Aad) && ops.is_empty() {
        let ten = Op::Imm(
            Value2 {
                v: 10,
                known: true,
                symbolic: false,
            },
            None,
            false,
            None,
            0,
        );
        out.push((m, vec![(vec![ten], false)]));
    }
    // x87 without operands works on ST1 (and `fadd` alone is `faddp st1, st0`); with one
    // stack register it works on ST0 and that register.
    let st = |r: Register| Op::Reg(r);
    let x87_alone = ops.iter().all(|o| matches!(o, Op::Reg(r) if r.is_st())) && ops.len() <= 1;
    if x87_alone && format!("{m:?}").starts_with('F') {
        let popping = match m {
            M::Fadd => M::Faddp,
            M::Fmul => M::Fmulp,
            M::Fsub => M::Fsubp,
            M::Fsubr => M::Fsubrp,
            M::Fdiv => M::Fdivp,
            M::Fdivr => M::Fdivrp,
            other => other,
        };
        let (m, other) = match ops.first() {
            None => (popping, st(Register::ST1)),
            Some(o) => (m, o.clone()),
        };
        out.push((
            m,
            vec![
                (vec![other.clone()], false),
                (vec![st(Register::ST0), other.clone()], false),
            ],
        ));
        out.push((m, vec![(vec![other, st(Register::ST0)], false)]));
    }
    out
}

/// Puts the legacy prefixes iced-x86 wrote in NASM's order: LOCK/REP, segment, 66h, 67h
/// (not for instructions whose 66h, F2h or F3h is part of the opcode).
fn nasm_prefix_order(bytes: &mut [u8], code: Code) {
    use iced_x86::MandatoryPrefix;
    if !matches!(
        code.op_code().mandatory_prefix(),
        MandatoryPrefix::None | MandatoryPrefix::PNP
    ) {
        return;
    }
    let rank = |b: u8| match b {
        0xf0 | 0xf2 | 0xf3 => Some(0),
        0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => Some(1),
        0x66 => Some(2),
        0x67 => Some(3),
        _ => None,
    };
    let n = bytes.iter().take_while(|&&b| rank(b).is_some()).count();
    bytes[..n].sort_by_key(|&b| rank(b));
}

fn shape(o: &Op) -> &'static str {
    match o {
        Op::Reg(..) => "register",
        Op::Mem(..) => "memory",
        Op::Imm(..) => "immediate",
        Op::Far(..) => "segment:offset",
    }
}

struct Candidate {
    code: Code,
    bytes: Vec<u8>,
    sign_extended: bool,
    swapped: bool,
    mem_size: MemorySize,
    operand_size: u32,
}

/// Among forms that differ only in the size of an unsized memory operand, NASM wants the
/// size said (`operation size not specified`), except for near JMP and CALL, which take
/// the mode's size.
fn disambiguate(
    found: Vec<Candidate>,
    ops: &[Op],
    m: Mnemonic,
    bits: u32,
    col: u32,
) -> Result<Vec<Candidate>, Problem> {
    let unsized_mem = ops
        .iter()
        .any(|o| matches!(o, Op::Mem(a) if a.size.is_none()))
        && !ops.iter().any(|o| matches!(o, Op::Imm(_, Some(_), ..)));
    if !unsized_mem {
        return Ok(found);
    }
    let data_size = |c: &Candidate| {
        let s = c.mem_size.size();
        let special = matches!(
            c.mem_size,
            MemorySize::Unknown
                | MemorySize::FpuEnv14
                | MemorySize::FpuEnv28
                | MemorySize::FpuState94
                | MemorySize::FpuState108
                | MemorySize::Fword6
                | MemorySize::Fword10
                | MemorySize::SegPtr16
                | MemorySize::SegPtr32
                | MemorySize::SegPtr64
        );
        (!special && s > 0).then_some(s)
    };
    // MOVZX and MOVSX: NASM's forms extend a byte or a word into a wider register, so
    // `movzx ax, [bx]` takes a byte.
    let found: Vec<Candidate> = if matches!(m, Mnemonic::Movzx | Mnemonic::Movsx) {
        found
            .into_iter()
            .filter(|c| c.mem_size.size() * 8 < c.operand_size as usize)
            .collect()
    } else {
        found
    };
    let mut sizes: Vec<usize> = found.iter().filter_map(data_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() <= 1 {
        return Ok(found);
    }
    if matches!(m, Mnemonic::Jmp | Mnemonic::Call) {
        let want = if bits == 64 { 64 } else { bits };
        return Ok(found
            .into_iter()
            .filter(|c| c.operand_size == want)
            .collect());
    }
    Err(Problem::at(
        ops.iter()
            .find(|o| matches!(o, Op::Mem(..)))
            .map_or(col, Op::col),
        "operation size not specified (write byte, word, dword or qword before the memory operand)",
    ))
}

/// Works out a memory operand: base, index, scale and displacement from the sum of
/// registers the expression gave.
fn address(mem: &Mem, ctx: &Ctx, p: &Prefixes, r: &mut Resolver) -> Result<Address, Problem> {
    let col = mem.col;
    let v = r.value(&mem.expr, col)?;
    // `es:[di]`, `[es:di]`, or a segment prefix before the instruction.
    let seg = mem.seg.or(p.seg).unwrap_or(Register::None);
    let known = v.unknown.is_none();
    let regs: Vec<(Register, i64)> = v.regs.clone();
    let bad = |m: &str| Problem::at(col, m.to_string());
    let mut a = Address {
        size: mem.size,
        disp_size: mem.disp_size,
        far: mem.far,
        seg,
        base: Register::None,
        index: Register::None,
        scale: 1,
        disp: v.n,
        abs_size: 0,
        symbolic: v.symbolic || v.unknown.is_some(),
        col,
    };
    // Not yet known: assume a displacement that needs the full size.
    if !known {
        a.disp = 0x1000_0000;
    }
    let rel = mem.rel.unwrap_or(ctx.default_rel) && !matches!(seg, Register::FS | Register::GS);
    if regs.is_empty() {
        if rel {
            if ctx.bits != 64 {
                return Err(bad(
                    "RIP-relative addressing (`rel`) exists only in 64-bit code",
                ));
            }
            a.base = Register::RIP;
            if !known {
                a.disp = ctx.ip as i64;
            }
            return Ok(a);
        }
        a.abs_size = p.address_size.unwrap_or(ctx.bits) / 8;
        // In 16-bit code an address beyond 64 KiB needs 32-bit addressing (67h).
        if a.abs_size == 2 && known && !(-0x8000..=0xffff).contains(&a.disp) {
            a.abs_size = 4;
        }
        // `[word x]`, `[dword x]` outside 64-bit code choose the address size; in 64-bit
        // code `[qword x]` is the 64-bit absolute address of MOV's moffs forms.
        match (mem.disp_size, ctx.bits) {
            (Some(d @ (2 | 4)), 16 | 32) => a.abs_size = d,
            (Some(1), _) => return Err(bad("an address without registers has no 8-bit form")),
            _ => {}
        }
        return Ok(a);
    }
    if mem.rel == Some(true) {
        return Err(bad("`rel` applies to addresses without registers"));
    }
    let size16 = regs.iter().all(|(r, _)| r.is_gpr16());
    if size16 {
        if ctx.bits == 64 {
            return Err(bad("16-bit addressing does not exist in 64-bit code"));
        }
        for &(reg, k) in &regs {
            if k != 1 {
                return Err(bad("16-bit addresses cannot scale a register"));
            }
            match reg {
                Register::BX | Register::BP if a.base == Register::None => a.base = reg,
                Register::SI | Register::DI if a.index == Register::None => a.index = reg,
                _ => {
                    return Err(bad(
                        "a 16-bit address is [bx or bp] + [si or di] + displacement",
                    ))
                }
            }
        }
        if a.base == Register::None {
            // [si], [di]: iced-x86 takes them as the base.
            (a.base, a.index) = (a.index, Register::None);
        }
        a.disp = wrap_disp(a.disp, 16);
        return Ok(a);
    }
    let vector = |r: Register| r.is_xmm() || r.is_ymm() || r.is_zmm();
    let width = |r: Register| {
        if r.is_gpr32() {
            32
        } else if r.is_gpr64() {
            64
        } else {
            0
        }
    };
    let mut size = 0;
    for &(reg, _) in &regs {
        let w = width(reg);
        if w == 0 && !vector(reg) {
            return Err(bad(
                &format!("`{reg:?}` cannot address memory").to_lowercase()
            ));
        }
        if w != 0 {
            if size != 0 && size != w {
                return Err(bad("an address mixes 32- and 64-bit registers"));
            }
            size = w;
        }
    }
    let mut ones: Vec<Register> = Vec::new();
    let mut scaled: Vec<(Register, i64)> = Vec::new();
    for &(reg, k) in &regs {
        if k == 1 && !vector(reg) {
            ones.push(reg);
        } else {
            scaled.push((reg, k));
        }
    }
    match (ones.as_slice(), scaled.as_slice()) {
        ([b], []) => a.base = *b,
        ([b, i], []) => {
            let (b, i) = if matches!(i, Register::ESP | Register::RSP) {
                (*i, *b)
            } else {
                (*b, *i)
            };
            (a.base, a.index) = (b, i);
        }
        (base, [(i, k)]) if base.len() <= 1 => {
            let b = base.first().copied();
            match (b, k) {
                (None, 2 | 3 | 5 | 9) if !vector(*i) => {
                    (a.base, a.index, a.scale) = (*i, *i, (*k - 1) as u32);
                }
                (_, 1 | 2 | 4 | 8) => {
                    a.base = b.unwrap_or(Register::None);
                    a.index = *i;
                    a.scale = *k as u32;
                }
                _ => return Err(bad("a register can be scaled by 1, 2, 4 or 8 only")),
            }
            if matches!(a.index, Register::ESP | Register::RSP) {
                return Err(bad("esp/rsp cannot be an index register"));
            }
        }
        _ => {
            return Err(bad(
                "an address has at most a base and a scaled index register",
            ))
        }
    }
    if size == 32 {
        a.disp = wrap_disp(a.disp, 32);
    }
    Ok(a)
}

/// A displacement of a 16- or 32-bit address as a signed value of that width.
fn wrap_disp(d: i64, bits: u32) -> i64 {
    match bits {
        16 => i64::from(d as i16),
        _ => i64::from(d as i32),
    }
}

/// Whether a value fits a field of `bits` bits, as a signed or an unsigned number.
fn fits(v: i64, bits: u32) -> bool {
    bits >= 64 || (-(1i64 << (bits - 1))..(1i64 << bits)).contains(&v)
}

/// Whether `v`, as an operand of `bits` bits, is the sign extension of its low byte.
fn sign_extends(v: i64, bits: u32) -> bool {
    if !fits(v, bits) {
        return false;
    }
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let t = (v as u64) & mask;
    (i64::from(t as u8 as i8) as u64) & mask == t
}

fn is_implicit(k: K) -> bool {
    matches!(k, K::seg_rSI | K::es_rDI | K::seg_rDI | K::seg_rBX_al)
}

/// The register of a fixed-register operand kind.
fn fixed_register(k: K) -> Option<Register> {
    Some(match k {
        K::al => Register::AL,
        K::ax => Register::AX,
        K::eax => Register::EAX,
        K::rax => Register::RAX,
        K::dx => Register::DX,
        _ => return None,
    })
}

fn reg_fits(k: K, r: Register) -> bool {
    match k {
        K::r8_reg | K::r8_opcode | K::r8_or_mem => r.is_gpr8(),
        K::r16_reg | K::r16_rm | K::r16_opcode | K::r16_or_mem | K::r16_reg_mem => r.is_gpr16(),
        K::r32_reg
        | K::r32_rm
        | K::r32_opcode
        | K::r32_vvvv
        | K::r32_or_mem
        | K::r32_or_mem_mpx
        | K::r32_reg_mem => r.is_gpr32(),
        K::r64_reg
        | K::r64_rm
        | K::r64_opcode
        | K::r64_vvvv
        | K::r64_or_mem
        | K::r64_or_mem_mpx
        | K::r64_reg_mem => r.is_gpr64(),
        K::seg_reg => r.is_segment_register(),
        K::cr_reg => r.is_cr(),
        K::dr_reg => r.is_dr(),
        K::tr_reg => r.is_tr(),
        K::bnd_reg | K::bnd_or_mem_mpx => r.is_bnd(),
        K::mm_reg | K::mm_rm | K::mm_or_mem => r.is_mm(),
        K::xmm_reg | K::xmm_rm | K::xmm_vvvv | K::xmm_or_mem | K::xmm_is4 | K::xmm_is5 => {
            r.is_xmm()
        }
        K::ymm_reg | K::ymm_rm | K::ymm_vvvv | K::ymm_or_mem | K::ymm_is4 | K::ymm_is5 => {
            r.is_ymm()
        }
        K::zmm_reg | K::zmm_rm | K::zmm_vvvv | K::zmmp3_vvvv | K::zmm_or_mem => r.is_zmm(),
        K::xmmp3_vvvv => r.is_xmm(),
        K::k_reg | K::k_rm | K::k_vvvv | K::k_or_mem | K::kp1_reg => r.is_k(),
        K::tmm_reg | K::tmm_rm | K::tmm_vvvv => r.is_tmm(),
        K::al => r == Register::AL,
        K::cl => r == Register::CL,
        K::ax => r == Register::AX,
        K::dx => r == Register::DX,
        K::eax => r == Register::EAX,
        K::rax => r == Register::RAX,
        K::st0 => r == Register::ST0,
        K::sti_opcode => r.is_st(),
        K::es => r == Register::ES,
        K::cs => r == Register::CS,
        K::ss => r == Register::SS,
        K::ds => r == Register::DS,
        K::fs => r == Register::FS,
        K::gs => r == Register::GS,
        _ => false,
    }
}

fn mem_fits(k: K) -> bool {
    matches!(
        k,
        K::mem
            | K::mem_offs
            | K::mem_mpx
            | K::mem_mib
            | K::sibmem
            | K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r32_or_mem_mpx
            | K::r64_or_mem
            | K::r64_or_mem_mpx
            | K::mm_or_mem
            | K::xmm_or_mem
            | K::ymm_or_mem
            | K::k_or_mem
            | K::bnd_or_mem_mpx
            | K::mem_vsib32x
            | K::mem_vsib64x
            | K::mem_vsib32y
            | K::mem_vsib64y
            | K::mem_vsib32z
            | K::mem_vsib64z
            | K::zmm_or_mem
    )
}

/// Bytes of an immediate field, for `strict`.
fn imm_bytes(k: K) -> u32 {
    match k {
        K::imm8 | K::imm8_const_1 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => 1,
        K::imm16 => 2,
        K::imm32 | K::imm32sex64 => 4,
        K::imm64 => 8,
        _ => 0,
    }
}

/// Builds and encodes `code` with the operands, or says why it does not fit (`None`: the
/// shapes do not match, nothing worth telling).
#[allow(clippy::too_many_arguments)]
fn candidate(
    code: Code,
    ops: &[Op],
    ctx: &Ctx,
    p: &Prefixes,
    evex: &Evex,
    loose: bool,
) -> Result<Candidate, Option<String>> {
    let op = code.op_code();
    if evex.any() && op.encoding() != EncodingKind::EVEX {
        return Err(None);
    }
    let bits = ctx.bits;
    let supported = match bits {
        16 => op.mode16(),
        32 => op.mode32(),
        _ => op.mode64(),
    };
    if !supported {
        return Err(None);
    }
    let kinds: Vec<K> = (0..op.op_count()).map(|k| op.op_kind(k)).collect();
    // String instructions name no operands in NASM: their memory operands, and the
    // accumulator or DX beside them, are implied.
    let string = kinds.iter().any(|k| is_implicit(*k));
    let implied = |k: K| is_implicit(k) || (string && fixed_register(k).is_some());
    if kinds.iter().filter(|k| !implied(**k)).count() != ops.len() {
        return Err(None);
    }
    if p.to && kinds != [K::sti_opcode, K::st0] {
        return Err(None);
    }
    let operand_size = op.operand_size();
    let branch = kinds.iter().any(|k| {
        matches!(
            k,
            K::br16_1 | K::br32_1 | K::br64_1 | K::br16_2 | K::br32_4 | K::br64_4
        )
    });
    // Branches (near or far, direct or not) and PUSH of an immediate take the mode's
    // operand size unless a prefix or a size keyword says otherwise.
    let mode_sized = branch
        || matches!(code.mnemonic(), Mnemonic::Jmp | Mnemonic::Call)
        || (code.mnemonic() == Mnemonic::Push && ops.iter().any(|o| matches!(o, Op::Imm(..))));
    let sized = ops.iter().any(|o| match o {
        Op::Mem(a) => matches!(a.size, Some(Size::Bytes(_))),
        Op::Imm(_, s, ..) | Op::Far(_, _, s, _) => s.is_some(),
        // `jmp si` in 32-bit code: the register says the size.
        Op::Reg(r) => r.is_gpr(),
    });
    if let Some(a) = p.address_size {
        if op.address_size() != 0 && op.address_size() != a {
            return Err(None);
        }
    }
    match p.operand_size {
        Some(s) if operand_size != 0 && operand_size != s => return Err(None),
        None if mode_sized && !sized && operand_size != 0 && operand_size != bits => {
            return Err(None)
        }
        _ => {}
    }
    // In 64-bit code 90h is NOP, not XCHG EAX, EAX (which zero-extends RAX).
    if code == Code::Xchg_r32_EAX
        && bits == 64
        && matches!(ops, [Op::Reg(Register::EAX), Op::Reg(Register::EAX)])
    {
        return Err(None);
    }
    let mut i = Instruction::default();
    i.set_code(code);
    i.set_code_size(match bits {
        16 => CodeSize::Code16,
        32 => CodeSize::Code32,
        _ => CodeSize::Code64,
    });
    let address_size = p.address_size.unwrap_or(bits);
    let mem_size = i.memory_size();
    let mut sign_extended = false;
    let mut explicit = ops.iter();
    let mut had_imm = false;
    for (n, &k) in kinds.iter().enumerate() {
        let n = n as u32;
        if let (true, Some(r)) = (string, fixed_register(k)) {
            i.set_op_kind(n, OpKind::Register);
            i.set_op_register(n, r);
            continue;
        }
        if is_implicit(k) {
            let (si, di, sdi) = match address_size {
                16 => (OpKind::MemorySegSI, OpKind::MemoryESDI, OpKind::MemorySegDI),
                32 => (
                    OpKind::MemorySegESI,
                    OpKind::MemoryESEDI,
                    OpKind::MemorySegEDI,
                ),
                _ => (
                    OpKind::MemorySegRSI,
                    OpKind::MemoryESRDI,
                    OpKind::MemorySegRDI,
                ),
            };
            match k {
                K::seg_rSI => i.set_op_kind(n, si),
                K::es_rDI => i.set_op_kind(n, di),
                K::seg_rDI => i.set_op_kind(n, sdi),
                _ => {
                    i.set_op_kind(n, OpKind::Memory);
                    i.set_memory_base(match address_size {
                        16 => Register::BX,
                        32 => Register::EBX,
                        _ => Register::RBX,
                    });
                    i.set_memory_index(Register::AL);
                }
            }
            if let Some(s) = p.seg {
                i.set_segment_prefix(s);
            }
            continue;
        }
        let o = explicit.next().expect("counted");
        match o {
            Op::Reg(r) => {
                if !reg_fits(k, *r) {
                    return Err(None);
                }
                i.set_op_kind(n, OpKind::Register);
                i.set_op_register(n, *r);
            }
            Op::Mem(a) => {
                if !mem_fits(k) {
                    return Err(None);
                }
                let vsib = matches!(
                    k,
                    K::mem_vsib32x
                        | K::mem_vsib64x
                        | K::mem_vsib32y
                        | K::mem_vsib64y
                        | K::mem_vsib32z
                        | K::mem_vsib64z
                );
                let vector_index = a.index.is_xmm() || a.index.is_ymm() || a.index.is_zmm();
                if vsib != vector_index {
                    return Err(None);
                }
                let far = matches!(
                    mem_size,
                    MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64
                );
                // `far [x]` is a far pointer, whose offset `far dword [x]` sizes; JMP and
                // CALL take far pointers only when told.
                if a.far != far
                    && (a.far || matches!(code.mnemonic(), Mnemonic::Jmp | Mnemonic::Call))
                {
                    return Err(None);
                }
                match a.size {
                    Some(Size::Bytes(b)) if far && mem_size.size() != b as usize + 2 => {
                        return Err(None)
                    }
                    // With `{1toN}` the size is the broadcast element's (checked below).
                    Some(Size::Bytes(b))
                        if !far
                            && evex.broadcast.is_none()
                            && mem_size != MemorySize::Unknown
                            && mem_size.size() != b as usize =>
                    {
                        return Err(None)
                    }
                    _ => {}
                }
                if k == K::mem_offs && (a.base != Register::None || a.index != Register::None) {
                    return Err(None);
                }
                // In 64-bit code `[qword x]` asks for the moffs form, anything else not.
                if bits == 64
                    && a.base == Register::None
                    && a.index == Register::None
                    && (k == K::mem_offs) != (a.disp_size == Some(8))
                {
                    return Err(None);
                }
                i.set_op_kind(n, OpKind::Memory);
                i.set_memory_base(a.base);
                i.set_memory_index(a.index);
                i.set_memory_index_scale(a.scale);
                i.set_memory_displacement64(a.disp as u64);
                let full = if a.base.is_gpr16() || a.index.is_gpr16() {
                    2
                } else if a.base.is_gpr64() || a.index.is_gpr64() {
                    8
                } else {
                    4
                };
                let displ_size = if a.base == Register::RIP {
                    8
                } else if a.base == Register::None && a.index == Register::None {
                    a.abs_size
                } else if let Some(d) = a.disp_size {
                    if d == 1 {
                        1
                    } else {
                        full
                    }
                } else if a.disp == 0 && !a.symbolic {
                    0
                } else if !a.symbolic
                    && ((-128..=127).contains(&a.disp) || op.encoding() == EncodingKind::EVEX)
                {
                    // iced-x86's encoder compresses EVEX displacements (disp8 * N) where it
                    // can, and falls back to the full size where not.
                    1
                } else if a.base.is_gpr16() || a.index.is_gpr16() {
                    2
                } else if a.base.is_gpr64() || a.index.is_gpr64() {
                    8
                } else {
                    4
                };
                i.set_memory_displ_size(displ_size);
                i.set_segment_prefix(a.seg);
            }
            Op::Imm(v, size, strict, reach, _) => {
                if !set_imm(&mut i, n, k, v, &mut had_imm, loose, ctx)? {
                    return Err(None);
                }
                let short = matches!(k, K::br16_1 | K::br32_1 | K::br64_1);
                let is_branch = matches!(
                    k,
                    K::br16_1 | K::br32_1 | K::br64_1 | K::br16_2 | K::br32_4 | K::br64_4
                );
                match reach {
                    Some(Reach::Short) if !short => return Err(None),
                    Some(Reach::Near) if short => return Err(None),
                    Some(Reach::Far) => {
                        return Err(Some(
                            "a far jump or call needs `selector:offset` or `far [memory]`".into(),
                        ))
                    }
                    _ => {}
                }
                if is_branch && !v.known && reach.is_none() && short {
                    return Err(None);
                }
                if matches!(k, K::imm8sex16 | K::imm8sex32 | K::imm8sex64) {
                    sign_extended = true;
                }
                match (size, strict) {
                    (Some(Size::Bytes(1)), _) if imm_bytes(k) != 1 => return Err(None),
                    (Some(Size::Bytes(b)), true) if imm_bytes(k) != *b => return Err(None),
                    (Some(Size::Bytes(b)), false) if *b > 1 => {
                        let op_bits = if operand_size != 0 {
                            operand_size
                        } else if mem_size != MemorySize::Unknown {
                            mem_size.size() as u32 * 8
                        } else {
                            b * 8
                        };
                        if op_bits != b * 8 {
                            return Err(None);
                        }
                    }
                    _ => {}
                }
            }
            Op::Far(sel, off, size, _) => {
                match (k, size) {
                    (K::farbr2_2, Some(Size::Bytes(4))) | (K::farbr4_2, Some(Size::Bytes(2))) => {
                        return Err(None)
                    }
                    _ => {}
                }
                match k {
                    K::farbr2_2 => {
                        if off.known && !fits(off.v, 16) {
                            return Err(None);
                        }
                        i.set_op_kind(n, OpKind::FarBranch16);
                        i.set_far_branch16(off.v as u16);
                    }
                    K::farbr4_2 => {
                        i.set_op_kind(n, OpKind::FarBranch32);
                        i.set_far_branch32(off.v as u32);
                    }
                    _ => return Err(None),
                }
                i.set_far_branch_selector(*sel);
            }
        }
    }
    if evex.any() {
        if let Some(k) = evex.mask {
            i.set_op_mask(k);
        }
        i.set_zeroing_masking(evex.zeroing);
        i.set_suppress_all_exceptions(evex.sae);
        if let Some(rc) = evex.rounding {
            i.set_rounding_control(match rc {
                1 => iced_x86::RoundingControl::RoundToNearest,
                2 => iced_x86::RoundingControl::RoundDown,
                3 => iced_x86::RoundingControl::RoundUp,
                _ => iced_x86::RoundingControl::RoundTowardZero,
            });
        }
        if let Some(n) = evex.broadcast {
            if !op.can_broadcast() {
                return Err(None);
            }
            // {1toN}: N elements make the memory operand's vector.
            let vector = i.memory_size().size();
            i.set_is_broadcast(true);
            let element = i.memory_size().size();
            let said = ops.iter().find_map(|o| match o {
                Op::Mem(Address {
                    size: Some(Size::Bytes(b)),
                    ..
                }) => Some(*b as usize),
                _ => None,
            });
            if said.is_some_and(|b| b != element) {
                return Err(None);
            }
            if element == 0 || vector / element != n as usize {
                return Err(Some(format!(
                    "this form broadcasts {{1to{}}}",
                    vector / element.max(1)
                )));
            }
        }
    }
    if p.rep {
        i.set_has_rep_prefix(true);
    }
    if p.repne {
        i.set_has_repne_prefix(true);
    }
    if p.lock {
        i.set_has_lock_prefix(true);
    }
    if p.xacquire {
        i.set_has_xacquire_prefix(true);
    }
    let mut enc = Encoder::new(bits);
    // NASM picks the short form of a branch that has a near one only when the target is
    // in reach without wrapping around the segment (from FFF0h, 0 is not short, although
    // IP would wrap there); `short`, LOOP and JCXZ wrap.
    let auto_short = kinds
        .iter()
        .any(|k| matches!(k, K::br16_1 | K::br32_1 | K::br64_1))
        && !ops
            .iter()
            .any(|o| matches!(o, Op::Imm(_, _, _, Some(Reach::Short), _)))
        && forms(code.mnemonic()).iter().any(|c| {
            let o = c.op_code();
            (0..o.op_count()).any(|n| matches!(o.op_kind(n), K::br16_2 | K::br32_4 | K::br64_4))
        });
    match enc.encode(&i, ctx.ip) {
        Ok(len)
            if auto_short
                && ops.iter().any(|o| {
                    matches!(o, Op::Imm(v, ..) if v.known
                    && !(-128..=127).contains(&v.v.wrapping_sub((ctx.ip + len as u64) as i64)))
                }) =>
        {
            Err(None)
        }
        Ok(_) => Ok(Candidate {
            code,
            bytes: enc.take_buffer(),
            sign_extended,
            swapped: false,
            mem_size,
            operand_size,
        }),
        Err(e) => Err(Some(e.to_string())),
    }
}

/// Sets an immediate or branch-target operand of kind `k`; `false` when the value does not
/// fit the field.
#[allow(clippy::too_many_arguments)]
fn set_imm(
    i: &mut Instruction,
    n: u32,
    k: K,
    v: &Value2,
    had_imm: &mut bool,
    loose: bool,
    ctx: &Ctx,
) -> Result<bool, Option<String>> {
    let x = v.v;
    // Not known yet: only the widest fields, so that the final value surely fits.
    let ok = |bits: u32| loose || !v.known || fits(x, bits);
    let second = *had_imm;
    *had_imm = true;
    match k {
        K::imm8 => {
            if !ok(8) {
                return Ok(false);
            }
            if second {
                i.set_op_kind(n, OpKind::Immediate8_2nd);
                i.set_immediate8_2nd(x as u8);
            } else {
                i.set_op_kind(n, OpKind::Immediate8);
                i.set_immediate8(x as u8);
            }
        }
        K::imm8_const_1 => {
            if !v.known || x != 1 {
                return Ok(false);
            }
            i.set_op_kind(n, OpKind::Immediate8);
            i.set_immediate8(1);
        }
        // NASM never shortens an address (a label) to a sign-extended byte.
        K::imm8sex16 | K::imm8sex32 | K::imm8sex64 if v.symbolic => return Ok(false),
        K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => {
            let b = match k {
                K::imm8sex16 => 16,
                K::imm8sex32 => 32,
                _ => 64,
            };
            if !v.known || !sign_extends(x, b) {
                return Ok(false);
            }
            let byte = x as u8 as i8;
            match b {
                16 => {
                    i.set_op_kind(n, OpKind::Immediate8to16);
                    i.set_immediate8to16(i16::from(byte));
                }
                32 => {
                    i.set_op_kind(n, OpKind::Immediate8to32);
                    i.set_immediate8to32(i32::from(byte));
                }
                _ => {
                    i.set_op_kind(n, OpKind::Immediate8to64);
                    i.set_immediate8to64(i64::from(byte));
                }
            }
        }
        K::imm16 => {
            if !ok(16) {
                return Ok(false);
            }
            i.set_op_kind(n, OpKind::Immediate16);
            i.set_immediate16(x as u16);
        }
        K::imm32 => {
            if !ok(32) {
                return Ok(false);
            }
            i.set_op_kind(n, OpKind::Immediate32);
            i.set_immediate32(x as u32);
        }
        // `mov r64, label` keeps the 64-bit immediate.
        K::imm32sex64
            if v.symbolic
                && i.code() == Code::Mov_rm64_imm32
                && i.op0_kind() == OpKind::Register =>
        {
            return Ok(false)
        }
        K::imm32sex64 => {
            if v.known && !loose && !(i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&x) {
                return Ok(false);
            }
            i.set_op_kind(n, OpKind::Immediate32to64);
            i.set_immediate32to64(i64::from(x as i32));
        }
        K::imm64 => {
            i.set_op_kind(n, OpKind::Immediate64);
            i.set_immediate64(x as u64);
        }
        K::br16_1 | K::br16_2 => {
            i.set_op_kind(n, OpKind::NearBranch16);
            i.set_near_branch16(if v.known { x as u16 } else { ctx.ip as u16 });
        }
        K::br32_1 | K::br32_4 => {
            i.set_op_kind(n, OpKind::NearBranch32);
            i.set_near_branch32(if v.known { x as u32 } else { ctx.ip as u32 });
        }
        K::br64_1 | K::br64_4 => {
            i.set_op_kind(n, OpKind::NearBranch64);
            i.set_near_branch64(if v.known { x as u64 } else { ctx.ip });
        }
        // XBEGIN's target: 32-bit outside 64-bit code, whatever its offset's size.
        K::xbegin_2 | K::xbegin_4 => {
            let target = if v.known { x as u64 } else { ctx.ip };
            if ctx.bits == 64 {
                i.set_op_kind(n, OpKind::NearBranch64);
                i.set_near_branch64(target);
            } else {
                i.set_op_kind(n, OpKind::NearBranch32);
                i.set_near_branch32(target as u32);
            }
        }
        // VPERMIL2PS/PD: the low 4 bits of the immediate whose high 4 bits name a register.
        K::imm4_m2z => {
            if v.known && !(0..16).contains(&x) {
                return Ok(false);
            }
            i.set_op_kind(n, OpKind::Immediate8);
            i.set_immediate8(x as u8);
        }
        _ => return Ok(false),
    }
    Ok(true)
}
