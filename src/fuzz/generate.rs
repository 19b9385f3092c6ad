//! The generators (proptest strategies) of cases: an instruction, registers biased to edge
//! values, flags and a sandbox of memory, turned into a case file by [`realize`].
//!
//! A drawn value ([`Draw`]) is raw material: an instruction form (random bytes, or a
//! random instance of one `Code` of an implemented mnemonic, each mnemonic equally often),
//! sixteen register values, flags, the sandbox's contents and a seed for the remaining
//! choices. [`realize`] decodes the instruction and makes the case meaningful: the registers
//! that form memory operands are set so that every access falls in the sandbox, branch
//! targets are rewritten to land on a sentinel inside the code page, the stack holds return
//! addresses and IRET frames, and LAR, LSL, VERR and VERW get an LDT of random descriptors
//! and a selector, mostly of it. Because [`realize`] is a pure function of the draw, proptest
//! can shrink a draw (register values towards 0, immediates and displacements towards 0,
//! the sandbox towards zeros) and every shrunk draw is again a valid case.

use std::collections::BTreeMap;
use std::sync::Arc;

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, MemorySize, Mnemonic, OpKind, Register,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use x86lab_emulator::state::flags as fl;

use super::forms::{encode, Forms};
use crate::case_file::{
    Case, CaseMode, Chunk, Expect, Initial, USER_CODE32, USER_CODE64, USER_DATA,
};

/// Where the instruction is placed (a 4 KiB code page).
pub const CODE: u64 = 0x10_0000;
pub const CODE_LEN: u64 = 0x1000;
/// The sandbox every memory access of a case falls in.
pub const SANDBOX: u64 = 0x20_0000;
pub const SANDBOX_LEN: u64 = 0x1000;
/// The stack pointer every case starts with (the middle of the sandbox).
pub const STACK: u64 = SANDBOX + SANDBOX_LEN / 2;
/// `out 0xf4, al`: the exit port, which ends a case without touching the state.
const SENTINEL: [u8; 2] = [0xe6, 0xf4];
/// Where transfers with a 16-bit instruction pointer land outside 16-bit code (a 16-bit
/// IP addresses the first 64 KiB): a second code page, at 0.
pub const LOW: u64 = 0;
/// What fills the rest of the code page: INT3, so a wrong jump ends in a reported #BP.
const FILL: u8 = 0xcc;
/// The local descriptor table of the cases of LAR, LSL, VERR and VERW: [`LDT_ENTRIES`]
/// descriptors, the kind Linux's modify_ldt() installs (so that a native process can hold
/// the same table).
pub const LDT_AT: u64 = 0x30_0000;
pub const LDT_ENTRIES: usize = 8;

/// Where cases run: a mode and a privilege level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    pub mode: CaseMode,
    pub cpl: u8,
}

impl Env {
    pub fn bits(self) -> u32 {
        match self.mode {
            CaseMode::Long => 64,
            CaseMode::Compat | CaseMode::Protected => 32,
            CaseMode::Real => 16,
        }
    }

    /// Whether KVM runs this environment's code on the processor: always with
    /// VT-x/AMD-V; without them (PVM) only 64-bit user code, the rest being emulated by the
    /// host kernel.
    pub fn native(self, hardware_assisted: bool) -> bool {
        hardware_assisted || (self.cpl == 3 && self.mode == CaseMode::Long)
    }

    /// Whether this is 64-bit user code run by PVM on the processor, with its differences
    /// (DIVERGENCES).
    pub fn pvm_native_user(self, hardware_assisted: bool) -> bool {
        !hardware_assisted && self.cpl == 3 && self.mode == CaseMode::Long
    }

    /// Whether this is user code under PVM, natively or by the host's emulator: both run
    /// it with the host's RFLAGS.IOPL and AC handling (DIVERGENCES).
    pub fn pvm_user(self, hardware_assisted: bool) -> bool {
        !hardware_assisted && self.cpl == 3
    }
}

impl std::fmt::Display for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            CaseMode::Long => "64-bit mode",
            CaseMode::Compat => "compatibility mode",
            CaseMode::Protected => "protected mode",
            CaseMode::Real => "real mode",
        };
        write!(f, "{mode}, CPL {}", self.cpl)
    }
}

/// What the generator knows about the campaign and the host.
pub struct Ctx {
    pub env: Env,
    /// KVM runs every mode on the processor (VT-x/AMD-V); else it is PVM-like.
    pub hardware_assisted: bool,
    /// The host processor is AMD's (decides the vendor divergences).
    pub amd_host: bool,
    pub only: Vec<Mnemonic>,
    pub forms: Forms,
}

impl Ctx {
    pub fn new(env: Env, hardware_assisted: bool, amd_host: bool, only: &[Mnemonic]) -> Ctx {
        Ctx::with_mnemonics(env, hardware_assisted, amd_host, only, |m| {
            x86lab_emulator::cpu::IMPLEMENTED.contains(&m)
        })
    }

    /// A context whose forms are those of the mnemonics `keep` accepts (tests use it to
    /// draw the mnemonics the software CPU does not implement).
    pub fn with_mnemonics(
        env: Env,
        hardware_assisted: bool,
        amd_host: bool,
        only: &[Mnemonic],
        keep: impl Fn(Mnemonic) -> bool,
    ) -> Ctx {
        let mut ctx = Ctx {
            env,
            hardware_assisted,
            amd_host,
            only: only.to_vec(),
            forms: Forms {
                by_mnemonic: Vec::new(),
            },
        };
        let forms = Forms::new(env.bits(), |m| {
            keep(m) && (only.is_empty() || only.contains(&m)) && !ctx.excluded_mnemonic(m)
        });
        ctx.forms = forms;
        ctx
    }

    /// Why a mnemonic is never generated here: the entry of [`super::DIVERGENCES`].
    pub fn exclusion(&self, m: Mnemonic) -> Option<&'static str> {
        use Mnemonic::*;
        let pvm_user = self.env.pvm_native_user(self.hardware_assisted);
        let entry = |prefix: &str| {
            super::DIVERGENCES
                .iter()
                .find(|(what, _)| what.starts_with(prefix))
                .map(|(what, _)| *what)
        };
        match m {
            Cpuid => entry("CPUID"),
            Rdtsc | Rdtscp => entry("RDTSC"),
            Rdrand | Rdseed | Rdpid => entry("RDRAND"),
            Sysenter | Sysexit | Sysexitq if self.amd_host => entry("SYSENTER"),
            Sgdt | Sidt | Sldt | Str | Smsw | Lar | Lsl | Verr | Verw if pvm_user => {
                entry("instructions that read")
            }
            Lss | Lfs | Lgs | Lds | Les | Rdfsbase | Rdgsbase | Wrfsbase | Wrgsbase if pvm_user => {
                entry("loads of segment")
            }
            Insb | Insw | Insd | Outsb | Outsw | Outsd if pvm_user => entry("INS and OUTS"),
            Cli | Sti | Pushf | Pushfd | Pushfq | Popf | Popfd | Popfq if pvm_user => {
                entry("CLI, STI")
            }
            Int | Syscall | Sysret | Sysretq if pvm_user => entry("INT1"),
            Int1 if self.env.pvm_user(self.hardware_assisted) => entry("INT1"),
            Iret | Iretd | Iretq | Retf if pvm_user => entry("loads of segment"),
            _ => None,
        }
    }

    fn excluded_mnemonic(&self, m: Mnemonic) -> bool {
        self.exclusion(m).is_some()
    }

    /// Whether the instruction is excluded (see [`super::DIVERGENCES`]).
    fn excluded(&self, i: &Instruction, bytes: &[u8]) -> bool {
        if self.excluded_mnemonic(i.mnemonic())
            || (self.env.pvm_native_user(self.hardware_assisted) && reads_segment_register(i))
        {
            return true;
        }
        // Far JMP and CALL load CS (see DIVERGENCES: loads of segment registers).
        let far = far_pointer(i) && matches!(i.mnemonic(), Mnemonic::Jmp | Mnemonic::Call);
        if far && self.env.pvm_native_user(self.hardware_assisted) {
            return true;
        }
        // LOOP, LOOPE and LOOPNE with F2h or F3h: reserved by the SDM (see DIVERGENCES).
        if matches!(
            i.mnemonic(),
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
        ) && bytes
            .iter()
            .take_while(|&&b| is_legacy_prefix(b))
            .any(|&b| b == 0xf2 || b == 0xf3)
        {
            return true;
        }
        // PUSH of a segment register wider than 16 bits: the SDM allows either write.
        if i.mnemonic() == Mnemonic::Push
            && i.op0_kind() == OpKind::Register
            && i.op0_register().is_segment_register()
            && i.stack_pointer_increment() != -2
        {
            return true;
        }
        // Encodings whose meaning depends on the vendor (the operand-size prefix on near
        // branches in 64-bit mode, ...): the software CPU decodes as Intel documents.
        // UD0 raises #UD before its length matters (AMD reads no ModRM byte, Intel does).
        if self.amd_host {
            let amd = Decoder::with_ip(self.env.bits(), bytes, CODE, DecoderOptions::AMD).decode();
            let ud0 = amd.mnemonic() == Mnemonic::Ud0 && i.mnemonic() == Mnemonic::Ud0;
            if !ud0 && (amd.code() != i.code() || amd.len() != i.len()) {
                return true;
            }
        }
        false
    }
}

/// A far pointer operand: `ptr16:16/32`, or memory holding an offset and a selector (far
/// JMP, CALL, and LDS, LES, LSS, LFS, LGS).
pub fn far_pointer(i: &Instruction) -> bool {
    matches!(i.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32)
        || matches!(
            i.memory_size(),
            MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64
        )
}

fn is_legacy_prefix(b: u8) -> bool {
    matches!(
        b,
        0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3
    ) || (0x40..0x50).contains(&b)
}

/// MOV from or to a segment register, PUSH or POP of one (see DIVERGENCES).
fn reads_segment_register(i: &Instruction) -> bool {
    let sreg =
        |op: u32| i.op_kind(op) == OpKind::Register && i.op_register(op).is_segment_register();
    match i.mnemonic() {
        Mnemonic::Mov => i.op_count() == 2 && (sreg(0) || sreg(1)),
        Mnemonic::Push | Mnemonic::Pop => sreg(0),
        _ => false,
    }
}

/// A small deterministic generator (xorshift64*) for the choices [`realize`] makes, and for
/// the tests' random programs: what is drawn depends only on the seed, so a failure replays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `v`, which must not be empty.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// How the instruction is drawn.
#[derive(Clone, Debug)]
pub enum Form {
    /// An instance of one form: the form, the optional-prefix knobs, and the bytes after
    /// the opcode.
    Code {
        code: Code,
        knobs: [u8; 8],
        tail: Vec<u8>,
    },
    /// Random bytes: prefixes, REX, an opcode from one of the maps, then random bytes.
    Bytes(Vec<u8>),
}

/// The raw material of a case (see the module documentation).
#[derive(Clone, Debug)]
pub struct Draw {
    pub form: Form,
    pub gpr: [u64; 16],
    pub rflags: u64,
    pub ac: bool,
    /// `None`: a sandbox of zeros; else the seed of its random bytes.
    pub sandbox: Option<u64>,
    /// The seed of the remaining choices (memory addresses, branch targets, selectors).
    pub choices: u64,
}

const EDGES: [u64; 12] = [
    0,
    1,
    u64::MAX,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0x7fff_ffff,
    0x8000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
];

/// A register value biased to edge values: 0, ±1, the sign boundaries, small counts.
/// Shrinks towards 0.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => 0u64..64,
        3 => prop::sample::select(&EDGES[..]),
        1 => (prop::sample::select(&EDGES[..]), 0u64..3)
            .prop_map(|(e, d)| e.wrapping_add(d).wrapping_sub(1)),
        3 => any::<u64>(),
    ]
}

/// Random instruction bytes: up to two legacy prefixes, maybe REX, an opcode of the
/// one-, two- or three-byte maps, and fifteen bytes for the decoder to take what it needs.
fn random_bytes() -> impl Strategy<Value = Form> {
    const PREFIXES: [u8; 7] = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64];
    (
        prop::collection::vec(prop::sample::select(&PREFIXES[..]), 0..3),
        prop::option::of(0x40u8..0x50),
        0u8..8,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 15),
    )
        .prop_map(|(prefixes, rex, map, op, tail)| {
            let mut b = prefixes;
            b.extend(rex);
            match map {
                0..=4 => b.push(op),
                5 | 6 => b.extend_from_slice(&[0x0f, op]),
                _ => b.extend_from_slice(&[0x0f, if op & 1 == 0 { 0x38 } else { 0x3a }, op]),
            }
            b.extend(tail);
            Form::Bytes(b)
        })
}

/// A form of an implemented mnemonic: a mnemonic, then one of its forms, equally likely.
fn code_form(ctx: &Arc<Ctx>) -> impl Strategy<Value = Form> {
    let ctx = ctx.clone();
    (
        any::<Index>().no_shrink(),
        any::<Index>().no_shrink(),
        any::<[u8; 8]>(),
        prop::collection::vec(any::<u8>(), 15),
    )
        .prop_map(move |(m, c, knobs, tail)| {
            let (_, codes) = &ctx.forms.by_mnemonic[m.index(ctx.forms.by_mnemonic.len())];
            Form::Code {
                code: codes[c.index(codes.len())],
                knobs,
                tail,
            }
        })
}

/// The strategy of a campaign's cases in `ctx`'s environment: drawn values that
/// [`realize`] accepts, with the case they make.
pub fn cases(ctx: Arc<Ctx>) -> BoxedStrategy<(Draw, Generated)> {
    let form = if ctx.forms.is_empty() {
        random_bytes().boxed()
    } else if ctx.only.is_empty() {
        prop_oneof![2 => code_form(&ctx), 1 => random_bytes()].boxed()
    } else {
        code_form(&ctx).boxed()
    };
    (
        form,
        prop::array::uniform16(value()),
        any::<u64>(),
        prop::bool::weighted(0.25),
        prop_oneof![1 => Just(None), 15 => any::<u64>().prop_map(Some)],
        any::<u64>(),
    )
        .prop_filter_map("an instruction the environment can run", move |t| {
            let (form, gpr, rflags, ac, sandbox, choices) = t;
            let d = Draw {
                form,
                gpr,
                rflags,
                ac,
                sandbox,
                choices,
            };
            realize(&ctx, &d).map(|g| (d, g))
        })
        .boxed()
}

const GPRS: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

fn gpr_index(r: Register) -> Option<usize> {
    let full = r.full_register();
    GPRS.iter().position(|&g| g == full)
}

/// A generated case: the instruction and the case file that runs it.
#[derive(Clone, Debug)]
pub struct Generated {
    pub instruction: Instruction,
    pub env: Env,
    pub case: Case,
    /// RFLAGS bits compared (the instruction's undefined flags masked).
    pub flags_mask: u64,
    /// The initial general-purpose registers and RFLAGS (also in `case`, as text).
    pub gpr: [u64; 16],
    pub rflags: u64,
    /// LAR, LSL, VERR, VERW: the selector operand (the case has an LDT at [`LDT_AT`]).
    pub selector: Option<u16>,
}

/// The RFLAGS bits of iced-x86's flag set.
fn rflags_of(b: u32) -> u64 {
    use iced_x86::RflagsBits as R;
    [
        (R::OF, fl::OF),
        (R::SF, fl::SF),
        (R::ZF, fl::ZF),
        (R::AF, fl::AF),
        (R::CF, fl::CF),
        (R::PF, fl::PF),
        (R::DF, fl::DF),
        (R::IF, fl::IF),
        (R::AC, fl::AC),
    ]
    .iter()
    .filter(|(i, _)| b & i != 0)
    .fold(0, |m, (_, f)| m | f)
}

fn decode(bits: u32, bytes: &[u8]) -> (Instruction, iced_x86::ConstantOffsets) {
    let mut d = Decoder::with_ip(bits, bytes, CODE, DecoderOptions::NONE);
    let i = d.decode();
    let offsets = d.get_constant_offsets(&i);
    (i, offsets)
}

/// Turns a draw into a case, or `None` when the draw cannot make one in this environment
/// (an invalid or excluded instruction, an address outside the sandbox, ...).
pub fn realize(ctx: &Ctx, d: &Draw) -> Option<Generated> {
    let bits = ctx.env.bits();
    let mut bytes = match &d.form {
        Form::Code { code, knobs, tail } => encode(*code, bits, knobs, tail),
        Form::Bytes(b) => b.clone(),
    };
    let (mut i, offsets) = decode(bits, &bytes);
    if i.is_invalid() || matches!(&d.form, Form::Code { code, .. } if i.code() != *code) {
        return None;
    }
    if !ctx.only.is_empty() && !ctx.only.contains(&i.mnemonic()) {
        return None;
    }
    bytes.truncate(i.len());
    if ctx.excluded(&i, &bytes) {
        return None;
    }
    let mut rng = Rng::new(d.choices);
    let mut gpr = d.gpr;
    if bits < 64 {
        // Outside 64-bit mode the upper halves are not reachable (and undefined after a
        // mode switch): start them at zero.
        for g in &mut gpr {
            *g &= 0xffff_ffff;
        }
    }
    gpr[4] = STACK;
    let accesses = place_memory(&i, &mut gpr, &mut rng, bits)?;
    // A memory operand based on RSP moves it; the stack must stay in the sandbox all the
    // same (elsewhere the environments differ: open bus in the case's machine, unmapped in
    // the native process).
    let stack = i.stack_pointer_increment() != 0
        || matches!(
            i.mnemonic(),
            Mnemonic::Ret | Mnemonic::Retf | Mnemonic::Iret | Mnemonic::Iretd | Mnemonic::Iretq
        );
    if stack && !(SANDBOX + 0x100..SANDBOX + SANDBOX_LEN - 0x100).contains(&gpr[4]) {
        return None;
    }
    // ENTER allocates its frame below RSP: keep it in the sandbox.
    if i.mnemonic() == Mnemonic::Enter && i.immediate16() > 0x600 {
        return None;
    }
    // SHLD/SHRD of 16-bit operands by more than 16: undefined (see DIVERGENCES).
    if matches!(i.mnemonic(), Mnemonic::Shld | Mnemonic::Shrd) && i.op_register(1).size() == 2 {
        let count = if i.op_count() > 2 && i.op_kind(2) == OpKind::Register {
            gpr[1]
        } else {
            u64::from(i.immediate8())
        };
        if count & 0x1f > 16 {
            return None;
        }
    }
    let mut sandbox: Vec<u8> = match d.sandbox {
        None => vec![0; SANDBOX_LEN as usize],
        Some(seed) => {
            let mut r = Rng::new(seed);
            (0..SANDBOX_LEN).map(|_| r.next_u64() as u8).collect()
        }
    };
    // LAR, LSL, VERR, VERW: a selector, mostly of the case's LDT (sometimes beyond its
    // limit), else null, of the GDT or anything.
    let (mut selector, mut ldt) = (None, None);
    if matches!(
        i.mnemonic(),
        Mnemonic::Lar | Mnemonic::Lsl | Mnemonic::Verr | Mnemonic::Verw
    ) {
        let rpl = rng.below(4) as u16;
        let index = rng.below(LDT_ENTRIES as u64 + 2) as u16;
        let sel = match rng.below(8) {
            0..=4 => index << 3 | 4 | rpl,
            5 => rpl,
            6 => index << 3 | rpl,
            _ => rng.next_u64() as u16,
        };
        let op = u32::from(matches!(i.mnemonic(), Mnemonic::Lar | Mnemonic::Lsl));
        if i.op_kind(op) == OpKind::Register {
            let k = gpr_index(i.op_register(op))?;
            gpr[k] = (gpr[k] & !0xffff) | u64::from(sel);
        } else {
            let o = (accesses.first()?.addr - SANDBOX) as usize;
            sandbox[o..o + 2].copy_from_slice(&sel.to_le_bytes());
        }
        selector = Some(sel);
        ldt = Some(
            (0..LDT_ENTRIES)
                .map(|_| ldt_descriptor(&mut rng))
                .collect::<Vec<u64>>(),
        );
    }
    let mut code = vec![FILL; CODE_LEN as usize];
    let landing = transfer(
        ctx,
        &mut i,
        &mut bytes,
        &offsets,
        &accesses,
        &mut gpr,
        &mut sandbox,
        &mut rng,
    )?;
    code[..bytes.len()].copy_from_slice(&bytes);
    code[bytes.len()..bytes.len() + 2].copy_from_slice(&SENTINEL);
    let mut low = None;
    match landing {
        Some(l) if l >= CODE => {
            let at = (l - CODE) as usize;
            code[at..at + 2].copy_from_slice(&SENTINEL);
        }
        Some(l) => {
            let mut page = vec![FILL; 0x1000];
            let at = (l - LOW) as usize;
            page[at..at + 2].copy_from_slice(&SENTINEL);
            low = Some(page);
        }
        None => {}
    }
    let pvm_user = ctx.env.pvm_user(ctx.hardware_assisted);
    let mut rflags = 0x2 | (d.rflags & (fl::STATUS | fl::DF));
    if !pvm_user && d.ac {
        rflags |= fl::AC;
    }
    let mut regs = BTreeMap::new();
    for (k, name) in x86lab_emulator::state::GPR_NAMES.iter().enumerate() {
        regs.insert(name.to_string(), Value::String(format!("{:#x}", gpr[k])));
    }
    regs.insert("rip".into(), Value::String(format!("{CODE:#x}")));
    regs.insert("rflags".into(), Value::String(format!("{rflags:#x}")));
    if ldt.is_some() {
        let ldtr = x86lab_emulator::Segment {
            selector: 0,
            base: LDT_AT,
            limit: LDT_ENTRIES as u32 * 8 - 1,
            attributes: x86lab_emulator::state::attr::LDT,
        };
        regs.insert("ldtr".into(), serde_json::to_value(ldtr).ok()?);
    }
    let flags_mask =
        !rflags_of(i.rflags_undefined()) & !if pvm_user { fl::IOPL | fl::AC } else { 0 };
    let case = Case {
        name: format!(
            "{} ({}): {i}",
            format!("{:?}", i.mnemonic()).to_lowercase(),
            ctx.env
        ),
        mode: ctx.env.mode,
        cpl: ctx.env.cpl,
        initial: Initial {
            regs,
            memory: [Chunk::new(CODE, &code), Chunk::new(SANDBOX, &sandbox)]
                .into_iter()
                .chain(low.map(|p| Chunk::new(LOW, &p)))
                .chain(ldt.map(|t| {
                    let bytes: Vec<u8> = t.iter().flat_map(|d| d.to_le_bytes()).collect();
                    Chunk::new(LDT_AT, &bytes)
                }))
                .collect(),
        },
        max_instructions: None,
        expect: Some(Expect {
            flags_mask: Some(flags_mask),
            ..Expect::default()
        }),
    };
    Some(Generated {
        instruction: i,
        env: ctx.env,
        case,
        flags_mask,
        gpr,
        rflags,
        selector,
    })
}

/// A descriptor of the kind Linux's modify_ldt() writes (see its `fill_ldt`): a code or data
/// segment of DPL 3, accessed, L = 0 and AVL = 0, any base, limit, D/B and G, not conforming
/// code (Linux 6.18 refuses it, present or not); or an empty (zero) one.
fn ldt_descriptor(rng: &mut Rng) -> u64 {
    if rng.below(8) == 0 {
        return 0;
    }
    let contents = rng.below(3); // data, expand-down data, code (not conforming code)
    let present = rng.below(8) != 0;
    let ty = 1 | rng.below(2) << 1 | contents << 2;
    let access = ty | 0x70 | if present { 0x80 } else { 0 };
    let base = rng.next_u64() & 0xffff_ffff;
    let limit = match rng.below(4) {
        0 => 0,
        1 => 0xf_ffff,
        _ => rng.below(0x10_0000),
    };
    let flags = rng.below(4) << 2; // D/B and G; L = 0, AVL = 0 (Linux 6.18 leaves it clear)
    let d = (limit & 0xffff)
        | (base & 0xff_ffff) << 16
        | access << 40
        | (limit >> 16) << 48
        | flags << 52
        | (base >> 24) << 56;
    // These fields are what modify_ldt() takes for "clear the entry".
    if d == 0x71 << 40 {
        0
    } else {
        d
    }
}

/// A memory access of an explicit operand: its address and size.
struct Access {
    addr: u64,
    size: u64,
}

/// Sets the registers of `i`'s memory operands so that each access lies in the sandbox,
/// and returns the explicit accesses. `None` when that cannot be arranged (RIP-relative or
/// absolute addresses, base = index with an unreachable address).
fn place_memory(
    i: &Instruction,
    gpr: &mut [u64; 16],
    rng: &mut Rng,
    bits: u32,
) -> Option<Vec<Access>> {
    let target = SANDBOX + 0x100 + rng.below(SANDBOX_LEN - 0x200);
    for op in 0..i.op_count() {
        match i.op_kind(op) {
            OpKind::Memory => {
                if i.is_ip_rel_memory_operand() {
                    return None;
                }
                let disp = i.memory_displacement64();
                let scale = u64::from(i.memory_index_scale());
                let (b, x) = (gpr_index(i.memory_base()), gpr_index(i.memory_index()));
                let addr32 = i.memory_base().size() == 4 || i.memory_index().size() == 4;
                match (b, x) {
                    (Some(b), Some(x)) if b == x => {
                        gpr[b] = target.wrapping_sub(disp) / (scale + 1);
                    }
                    (b, x) => {
                        let mut rest = target.wrapping_sub(disp);
                        if let Some(x) = x {
                            let v = rng.below(32);
                            gpr[x] = v;
                            rest = rest.wrapping_sub(v.wrapping_mul(scale));
                        }
                        match b {
                            Some(b) => gpr[b] = rest,
                            None if x.is_none() => return None, // an absolute address
                            None => {}
                        }
                    }
                }
                if addr32 || bits < 64 {
                    for r in [i.memory_base(), i.memory_index()] {
                        if let Some(k) = gpr_index(r) {
                            gpr[k] &= 0xffff_ffff;
                        }
                    }
                }
            }
            OpKind::MemorySegRSI | OpKind::MemorySegESI | OpKind::MemorySegSI => gpr[6] = target,
            OpKind::MemoryESRDI | OpKind::MemoryESEDI | OpKind::MemoryESDI => gpr[7] = target,
            OpKind::MemorySegRDI | OpKind::MemorySegEDI | OpKind::MemorySegDI => gpr[7] = target,
            _ => {}
        }
    }
    if i.mnemonic() == Mnemonic::Xlatb {
        gpr[3] = target;
    }
    // BT, BTS, BTR, BTC with a register bit offset address memory beyond their operand
    // (offset / 8 bytes, signed): keep it within 127 bytes either way.
    if matches!(
        i.mnemonic(),
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
    ) && i.op0_kind() == OpKind::Memory
        && i.op1_kind() == OpKind::Register
    {
        let k = gpr_index(i.op1_register())?;
        gpr[k] = (rng.below(2048) as i64 - 1024) as u64;
    }
    if matches!(i.mnemonic(), Mnemonic::Enter | Mnemonic::Leave) {
        gpr[5] = STACK + 0x100;
    }
    let rep = i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix();
    if rep {
        gpr[1] = rng.below(16);
    }
    // Every access must lie in the sandbox (iced computes the addresses).
    let value = |r: Register, _: usize, _: usize| -> Option<u64> {
        match r {
            Register::ES
            | Register::CS
            | Register::SS
            | Register::DS
            | Register::FS
            | Register::GS => Some(0),
            _ => gpr_index(r).map(|k| gpr[k] & (u64::MAX >> (64 - 8 * r.size().min(8) as u32))),
        }
    };
    let mut accesses = Vec::new();
    for op in 0..i.op_count() {
        let kind = i.op_kind(op);
        if matches!(
            kind,
            OpKind::Memory
                | OpKind::MemorySegRSI
                | OpKind::MemorySegESI
                | OpKind::MemorySegSI
                | OpKind::MemoryESRDI
                | OpKind::MemoryESEDI
                | OpKind::MemoryESDI
                | OpKind::MemorySegRDI
                | OpKind::MemorySegEDI
                | OpKind::MemorySegDI
        ) {
            let ea = i.virtual_address(op, 0, value)?;
            let size = (i.memory_size().size() as u64).max(1);
            let reach = if rep { 16 * size } else { size };
            if ea < SANDBOX + reach || ea > SANDBOX + SANDBOX_LEN - size - reach {
                return None;
            }
            if kind == OpKind::Memory {
                accesses.push(Access { addr: ea, size });
            }
        }
    }
    Some(accesses)
}

/// Makes a control transfer land inside the code page, where [`realize`] puts a sentinel:
/// rewrites a relative target, or sets the register, the memory operand or the stack that
/// holds the target. Returns the landing address (`None` for instructions that do not
/// transfer control), or `Err`-like `None` in the outer option when the transfer cannot
/// land in the code page (a 16-bit IP outside the first 64 KiB).
#[allow(clippy::too_many_arguments)]
fn transfer(
    ctx: &Ctx,
    i: &mut Instruction,
    bytes: &mut [u8],
    offsets: &iced_x86::ConstantOffsets,
    accesses: &[Access],
    gpr: &mut [u64; 16],
    sandbox: &mut [u8],
    rng: &mut Rng,
) -> Option<Option<u64>> {
    let bits = ctx.env.bits();
    let next = CODE + i.len() as u64;
    let far_landing = |rng: &mut Rng| CODE + 0x200 + rng.below(CODE_LEN - 0x400);
    let low_landing = |rng: &mut Rng| LOW + 0x100 + rng.below(0xe00);
    // The selector of a far transfer: mostly the user code segments, sometimes a data or
    // null selector or anything (each must end the same way on both sides).
    let selector = |rng: &mut Rng| -> u16 {
        match rng.below(8) {
            0..=2 => USER_CODE64,
            3..=5 => USER_CODE32,
            6 => [0, USER_DATA, 0x08][rng.below(3) as usize],
            _ => rng.next_u64() as u16,
        }
    };
    let put = |sandbox: &mut [u8], at: u64, v: u64, size: u64| -> Option<()> {
        let o = at.checked_sub(SANDBOX)? as usize;
        let s = size as usize;
        sandbox
            .get_mut(o..o + s)?
            .copy_from_slice(&v.to_le_bytes()[..s]);
        Some(())
    };
    let op_size = |i: &Instruction| -> u64 {
        match i.code().op_code().operand_size() {
            16 => 2,
            32 => 4,
            64 => 8,
            _ => u64::from(bits / 8),
        }
    };
    match i.flow_control() {
        FlowControl::Next | FlowControl::Exception | FlowControl::Interrupt => Some(None),
        FlowControl::XbeginXabortXend => None,
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch | FlowControl::Call => {
            match i.op0_kind() {
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                    let size = offsets.immediate_size();
                    let at = offsets.immediate_offset();
                    let ip16 = i.op0_kind() == OpKind::NearBranch16 && bits != 16;
                    let l = match (size, ip16) {
                        // IP = (next + rel8) mod 64 KiB: rel8 reaches 10h..70h of the low page.
                        (1, true) => LOW + 0x10 + rng.below(0x60),
                        (_, true) => low_landing(rng),
                        (1, false) => next + 2 + rng.below(126),
                        _ => far_landing(rng),
                    };
                    let rel = l.wrapping_sub(next);
                    bytes[at..at + size].copy_from_slice(&rel.to_le_bytes()[..size]);
                    *i = decode(bits, bytes).0;
                    Some(Some(l))
                }
                OpKind::FarBranch16 | OpKind::FarBranch32 => {
                    let size = if i.op0_kind() == OpKind::FarBranch16 {
                        2
                    } else {
                        4
                    };
                    let l = if size == 2 {
                        low_landing(rng)
                    } else {
                        far_landing(rng)
                    };
                    // ptr16:16/32: the offset, then the selector, at the end.
                    let at = bytes.len() - size - 2;
                    bytes[at..at + size].copy_from_slice(&l.to_le_bytes()[..size]);
                    bytes[at + size..at + size + 2].copy_from_slice(&selector(rng).to_le_bytes());
                    *i = decode(bits, bytes).0;
                    Some(Some(l))
                }
                // SYSCALL, SYSENTER, SYSRET, SYSEXIT: their targets come from MSRs (the
                // cases leave them clear, so each faults or goes where both sides go).
                _ if i.op_count() == 0 => Some(None),
                _ => None,
            }
        }
        FlowControl::IndirectBranch | FlowControl::IndirectCall => {
            let l = if op_size(i) < 4 && bits != 16 {
                low_landing(rng)
            } else {
                far_landing(rng)
            };
            if i.op0_kind() == OpKind::Register {
                let r = i.op0_register();
                gpr[gpr_index(r)?] = l;
                return Some(Some(l));
            }
            let a = accesses.first()?;
            match i.memory_size() {
                MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64 => {
                    let size = a.size - 2;
                    put(sandbox, a.addr, l, size)?;
                    put(sandbox, a.addr + size, u64::from(selector(rng)), 2)?;
                }
                _ => put(sandbox, a.addr, l, a.size)?,
            }
            Some(Some(l))
        }
        FlowControl::Return => {
            let size = op_size(i);
            let l = if size < 4 && bits != 16 {
                low_landing(rng)
            } else {
                far_landing(rng)
            };
            let sp = gpr[4];
            put(sandbox, sp, l, size)?;
            match i.mnemonic() {
                Mnemonic::Ret => {}
                Mnemonic::Retf => put(sandbox, sp + size, u64::from(selector(rng)), 2)?,
                _ => {
                    // IRET: RIP, CS, RFLAGS, RSP, SS. On KVM without VT-x/AMD-V user code
                    // runs with the host's IF = 1 and AC = 0 (see DIVERGENCES).
                    let pvm_user = ctx.env.pvm_user(ctx.hardware_assisted);
                    let mut flags = 0x2 | (rng.next_u64() & (fl::STATUS | fl::DF | fl::IF));
                    if pvm_user {
                        flags |= fl::IF;
                    }
                    put(sandbox, sp + size, u64::from(selector(rng)), 2)?;
                    put(sandbox, sp + 2 * size, flags, size)?;
                    put(sandbox, sp + 3 * size, STACK + 0x200, size)?;
                    let ss = if rng.below(8) == 0 {
                        rng.next_u64() as u16
                    } else {
                        USER_DATA
                    };
                    put(sandbox, sp + 4 * size, u64::from(ss), 2)?;
                }
            }
            Some(Some(l))
        }
    }
}
