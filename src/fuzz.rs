//! The differential engine: random instructions from random states, run on the software
//! CPU and on KVM from the identical state, compared.
//!
//! A case is one instruction followed by `out 0xf4, al` (the exit port), in 64-bit user mode
//! (CPL 3) in the environment of [`crate::case_file`], where KVM runs the guest on the
//! processor even without VT-x/AMD-V: "matches hardware" is true there. The instruction is
//! drawn as random bytes (legacy and REX prefixes, one-, two- and three-byte opcodes, ModRM,
//! SIB, displacement, immediate), decoded by iced-x86, and kept when it is an instruction
//! whose next address is the following one. Registers are random, biased to edge values
//! (0, 1, -1, the sign boundaries, small counts); then the registers that form its memory
//! operands (explicit, or the implicit RSI/RDI/RSP/RBX of strings, the stack and XLAT) are
//! set so that every access falls in a 4 KiB sandbox of random bytes, and REP counts are
//! kept small.
//!
//! The comparison ([`crate::case_file::compare`]) covers every GPR, RIP, RFLAGS, the
//! segment selectors, the control registers, the fault (vector, error code, saved RIP and
//! RFLAGS) and the sandbox, with the flags the instruction leaves undefined masked by
//! iced-x86's own per-instruction flag information. [`DIVERGENCES`] lists what is excluded
//! on purpose, and why; nothing else is.

use std::collections::BTreeMap;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};
use serde_json::Value;
use x86lab_emulator::state::flags as fl;

use crate::case_file::{Case, CaseMode, Chunk, Expect, Initial};

/// Where the instruction is placed.
pub const CODE: u64 = 0x10_0000;
/// The sandbox every memory access of a case falls in.
pub const SANDBOX: u64 = 0x20_0000;
pub const SANDBOX_LEN: u64 = 0x1000;

/// Divergences excluded on purpose: (what, why). Nothing else is excluded.
pub const DIVERGENCES: &[(&str, &str)] = &[
    (
        "CPUID",
        "each backend reports its own processor: the software CPU describes what it implements, KVM passes the host's model through",
    ),
    (
        "RDTSC, RDTSCP",
        "the software CPU's time-stamp counter counts instructions, so that runs repeat; the processor's counts time",
    ),
    (
        "RDRAND, RDSEED, RDPID",
        "the software CPU does not have them (CPUID says so); the processor returns random numbers or its own processor ID",
    ),
    (
        "SHLD and SHRD of 16-bit operands by more than 16",
        "the SDM leaves the result and the flags undefined; Intel and AMD processors differ",
    ),
    (
        "instructions that read the machine's own tables and selectors: MOV from a segment register, PUSH of a segment register, SGDT, SIDT, SLDT, STR, SMSW, LAR, LSL, VERR, VERW (on KVM without VT-x/AMD-V only)",
        "PVM runs user-mode code on the host's GDT, TR and CR0 with the host's user selectors (CS 33h, SS 2Bh), so these show the host's values, not the guest's",
    ),
    (
        "loads of segment registers (MOV to a segment register, POP of one, LSS, LFS, LGS), and RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (on KVM without VT-x/AMD-V only)",
        "PVM raises #UD for segment-register loads in user mode, or ignores them, and runs user code with the host's CR4.FSGSBASE = 1 although the guest's CR4 has it clear",
    ),
    (
        "INS and OUTS (on KVM without VT-x/AMD-V only)",
        "PVM faults string I/O at CPL 3 with #GP although the I/O bitmap allows the port (IN and OUT are compared)",
    ),
    (
        "CLI, STI, PUSHF, POPF, RFLAGS.IOPL and RFLAGS.AC (on KVM without VT-x/AMD-V only)",
        "PVM runs user-mode code with the host's RFLAGS: IOPL 0 (so CLI/STI fault and RFLAGS reads IOPL = 0 although the case set 3), IF = 1 (which PUSHF stores), and the host's CR0.AM (so AC = 1 raises #AC the guest did not enable, and AC does not survive); cases there start with AC = 0 and leave these instructions out; with VT-x/AMD-V there is no such difference",
    ),
];

/// Mnemonics never generated, per [`DIVERGENCES`].
fn excluded(m: Mnemonic, hardware_assisted: bool) -> bool {
    use Mnemonic::*;
    matches!(m, Cpuid | Rdtsc | Rdtscp | Rdrand | Rdseed | Rdpid)
        || (!hardware_assisted
            && matches!(
                m,
                Cli | Sti
                    | Pushf
                    | Pushfd
                    | Pushfq
                    | Popf
                    | Popfd
                    | Popfq
                    | Sgdt
                    | Sidt
                    | Sldt
                    | Str
                    | Smsw
                    | Lar
                    | Lsl
                    | Verr
                    | Verw
                    | Insb
                    | Insw
                    | Insd
                    | Outsb
                    | Outsw
                    | Outsd
                    | Lss
                    | Lfs
                    | Lgs
                    | Rdfsbase
                    | Rdgsbase
                    | Wrfsbase
                    | Wrgsbase
            ))
}

/// A small deterministic generator (xorshift64*): the same seed gives the same cases.
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

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A register value biased to edge values.
    fn value(&mut self) -> u64 {
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
        match self.below(8) {
            0..=2 => EDGES[self.below(EDGES.len() as u64) as usize],
            3 => self.below(64),
            4 => EDGES[self.below(EDGES.len() as u64) as usize]
                .wrapping_add(self.below(3))
                .wrapping_sub(1),
            _ => self.next_u64(),
        }
    }
}

/// Random instruction bytes: prefixes, an opcode, and fifteen more random bytes for
/// ModRM, SIB, displacement and immediate (the decoder takes what it needs).
fn instruction_bytes(rng: &mut Rng) -> Vec<u8> {
    const PREFIXES: [u8; 7] = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64];
    let mut b = Vec::with_capacity(20);
    for _ in 0..rng.below(3) {
        b.push(PREFIXES[rng.below(PREFIXES.len() as u64) as usize]);
    }
    if rng.below(2) == 0 {
        b.push(0x40 | rng.below(16) as u8); // REX
    }
    match rng.below(8) {
        0..=4 => b.push(rng.next_u64() as u8),
        5 | 6 => b.extend_from_slice(&[0x0f, rng.next_u64() as u8]),
        _ => b.extend_from_slice(&[
            0x0f,
            if rng.below(2) == 0 { 0x38 } else { 0x3a },
            rng.next_u64() as u8,
        ]),
    }
    for _ in 0..15 {
        b.push(rng.next_u64() as u8);
    }
    b
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
pub struct Generated {
    pub instruction: Instruction,
    pub case: Case,
    /// RFLAGS bits compared (the instruction's undefined flags masked).
    pub flags_mask: u64,
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

/// Draws one case (retrying until an instruction qualifies). `only` restricts the
/// mnemonics.
pub fn generate(rng: &mut Rng, only: &[Mnemonic], hardware_assisted: bool, n: u64) -> Generated {
    loop {
        let bytes = instruction_bytes(rng);
        let mut d = Decoder::with_ip(64, &bytes, CODE, DecoderOptions::NONE);
        let i = d.decode();
        if i.is_invalid()
            || i.flow_control() != FlowControl::Next
            || excluded(i.mnemonic(), hardware_assisted)
            || (!hardware_assisted && reads_segment_register(&i))
            || (!only.is_empty() && !only.contains(&i.mnemonic()))
        {
            continue;
        }
        let mut gpr = [0u64; 16];
        for g in &mut gpr {
            *g = rng.value();
        }
        gpr[4] = SANDBOX + SANDBOX_LEN / 2; // RSP
        if !place_memory(&i, &mut gpr, rng) {
            continue;
        }
        // SHLD/SHRD of 16-bit operands by more than 16: undefined (see DIVERGENCES).
        if matches!(i.mnemonic(), Mnemonic::Shld | Mnemonic::Shrd) && i.op_register(1).size() == 2 {
            let count = if i.op_count() > 2 && i.op_kind(2) == OpKind::Register {
                gpr[1]
            } else {
                u64::from(i.immediate8())
            };
            if count & 0x1f > 16 {
                continue;
            }
        }
        let mut rflags = 0x2 | (rng.next_u64() & (fl::STATUS | fl::DF));
        if hardware_assisted && rng.below(4) == 0 {
            rflags |= fl::AC;
        }
        let code: Vec<u8> = bytes[..i.len()]
            .iter()
            .copied()
            .chain([0xe6, 0xf4])
            .collect();
        let sandbox: Vec<u8> = (0..SANDBOX_LEN).map(|_| rng.next_u64() as u8).collect();
        let mut regs = BTreeMap::new();
        for (k, name) in x86lab_emulator::state::GPR_NAMES.iter().enumerate() {
            regs.insert(name.to_string(), Value::String(format!("{:#x}", gpr[k])));
        }
        regs.insert("rip".into(), Value::String(format!("{CODE:#x}")));
        regs.insert("rflags".into(), Value::String(format!("{rflags:#x}")));
        let flags_mask = !rflags_of(i.rflags_undefined())
            & !if hardware_assisted {
                0
            } else {
                fl::IOPL | fl::AC
            };
        let case = Case {
            name: format!("{:?} #{n}: {i}", i.mnemonic()),
            mode: CaseMode::Long,
            cpl: 3,
            initial: Initial {
                regs,
                memory: vec![Chunk::new(CODE, &code), Chunk::new(SANDBOX, &sandbox)],
            },
            max_instructions: None,
            expect: Some(Expect {
                flags_mask: Some(flags_mask),
                ..Expect::default()
            }),
        };
        return Generated {
            instruction: i,
            case,
            flags_mask,
        };
    }
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

/// Sets the registers of `i`'s memory operands so that each access lies in the sandbox.
/// Returns false when that cannot be arranged (RIP-relative, or base = index with an
/// unreachable address).
fn place_memory(i: &Instruction, gpr: &mut [u64; 16], rng: &mut Rng) -> bool {
    let target = SANDBOX + 0x100 + rng.below(SANDBOX_LEN - 0x200);
    for op in 0..i.op_count() {
        match i.op_kind(op) {
            OpKind::Memory => {
                if i.is_ip_rel_memory_operand() {
                    return false;
                }
                let disp = i.memory_displacement64();
                let scale = u64::from(i.memory_index_scale());
                let (b, x) = (gpr_index(i.memory_base()), gpr_index(i.memory_index()));
                let addr32 = i.memory_base().size() == 4 || i.memory_index().size() == 4;
                match (b, x) {
                    (Some(b), Some(x)) if b == x => {
                        let v = target.wrapping_sub(disp) / (scale + 1);
                        gpr[b] = v;
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
                            None if x.is_none() => return false, // an absolute address
                            None => {}
                        }
                    }
                }
                if addr32 {
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
    if matches!(i.mnemonic(), Mnemonic::Enter | Mnemonic::Leave) {
        gpr[5] = SANDBOX + SANDBOX_LEN / 2 + 0x100;
    }
    if i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix() {
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
    for op in 0..i.op_count() {
        if matches!(
            i.op_kind(op),
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
            let Some(ea) = i.virtual_address(op, 0, value) else {
                return false;
            };
            let size = (i.memory_size().size() as u64).max(1);
            let reach = if i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix() {
                16 * size
            } else {
                size
            };
            if ea < SANDBOX + reach || ea > SANDBOX + SANDBOX_LEN - size - reach {
                return false;
            }
        }
    }
    true
}

/// Per-mnemonic results of a campaign.
#[derive(Default, Clone)]
pub struct Tally {
    pub cases: u64,
    pub agree: u64,
    pub mismatches: u64,
    pub first_reproducer: Option<String>,
}

/// What a campaign is asked to do.
pub struct Campaign {
    pub cases: u64,
    pub seed: u64,
    pub jobs: usize,
    pub only: Vec<Mnemonic>,
    pub out: std::path::PathBuf,
    pub shard: (u64, u64),
}

/// What a campaign found.
pub struct Summary {
    pub tally: BTreeMap<String, Tally>,
    pub run: u64,
    pub skipped_unimplemented: u64,
    pub mismatches: u64,
    pub seconds: f64,
}

/// The generator seed of case `k` of a campaign: the same for any jobs and shards.
pub fn case_seed(seed: u64, k: u64) -> u64 {
    seed ^ k.wrapping_mul(0xd1b5_4a32_d192_ed03)
}

/// Runs one case on both machines; `Some(differences)` when they disagree, `None` when
/// the software CPU does not implement the instruction.
pub fn differ(
    g: &Generated,
    emu: &mut dyn x86lab_emulator::Machine,
    kvm: &mut dyn x86lab_emulator::Machine,
) -> anyhow::Result<Option<Vec<String>>> {
    let a = crate::case_file::run(emu, &g.case)?;
    if a.unimplemented {
        return Ok(None);
    }
    let b = crate::case_file::run(kvm, &g.case)?;
    Ok(Some(crate::case_file::compare(&a, &b, g.flags_mask)))
}

/// Runs a campaign on `jobs` threads, each with its own software CPU and VM.
pub fn campaign(c: &Campaign, progress: &indicatif::ProgressBar) -> anyhow::Result<Summary> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    let hardware_assisted = x86lab_kvm::Regime::detect().is_hardware_assisted();
    std::fs::create_dir_all(&c.out)?;
    let (shard, shards) = c.shard;
    let mine: Vec<u64> = (0..c.cases).filter(|k| k % shards == shard).collect();
    let next = AtomicU64::new(0);
    let tally = Mutex::new(BTreeMap::<String, Tally>::new());
    let skipped = AtomicU64::new(0);
    let mismatches = AtomicU64::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..c.jobs.max(1) {
            workers.push(scope.spawn(|| -> anyhow::Result<()> {
                let layout = x86lab_emulator::MemoryLayout::default();
                let mut emu = x86lab_emulator::Cpu::new(layout)?;
                let mut kvm = x86lab_kvm::KvmMachine::new(layout)?;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&k) = mine.get(n) else {
                        return Ok(());
                    };
                    let mut rng = Rng::new(case_seed(c.seed, k));
                    let g = generate(&mut rng, &c.only, hardware_assisted, k);
                    let mnemonic = format!("{:?}", g.instruction.mnemonic()).to_lowercase();
                    match differ(&g, &mut emu, &mut kvm)? {
                        None => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(diffs) => {
                            let mut t = tally.lock().expect("no worker panics holding it");
                            let e = t.entry(mnemonic.clone()).or_default();
                            e.cases += 1;
                            if diffs.is_empty() {
                                e.agree += 1;
                            } else {
                                e.mismatches += 1;
                                mismatches.fetch_add(1, Ordering::Relaxed);
                                let path = c.out.join(format!("{mnemonic}-{k}.json"));
                                let mut case = g.case.clone();
                                case.name =
                                    format!("{} (differences: {})", case.name, diffs.join("; "));
                                std::fs::write(&path, serde_json::to_string_pretty(&case)? + "\n")?;
                                e.first_reproducer.get_or_insert(path.display().to_string());
                                progress.println(format!(
                                    "mismatch: {} -> {}",
                                    g.case.name,
                                    path.display()
                                ));
                            }
                        }
                    }
                    progress.inc(1);
                    progress
                        .set_message(format!("{} mismatches", mismatches.load(Ordering::Relaxed)));
                }
            }));
        }
        for w in workers {
            w.join().expect("a fuzz worker panicked")?;
        }
        Ok(())
    })?;
    let tally = tally.into_inner().expect("workers are done");
    Ok(Summary {
        run: tally.values().map(|t| t.cases).sum(),
        tally,
        skipped_unimplemented: skipped.into_inner(),
        mismatches: mismatches.into_inner(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The campaign report in markdown.
pub fn report(c: &Campaign, s: &Summary, date: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let regime = x86lab_kvm::KvmInfo::probe()
        .map(|i| i.to_string().lines().nth(1).unwrap_or("").to_string())
        .unwrap_or_else(|e| e.to_string());
    let mut r = String::new();
    r += "# Differential campaign: the software CPU against the processor (KVM)\n\n";
    r += &format!("- date: {date}\n- host CPU: {cpu}\n- KVM {regime}\n");
    r += &format!(
        "- seed {:#x}, {} cases asked (shard {}/{}), {} compared, {} skipped because the software CPU does not implement the instruction (x87, SSE, AVX...)\n",
        c.seed, c.cases, c.shard.0, c.shard.1, s.run, s.skipped_unimplemented
    );
    r += &format!(
        "- **{} mismatches**, {:.0} s ({:.0} cases/s)\n\n",
        s.mismatches,
        s.seconds,
        (s.run + s.skipped_unimplemented) as f64 / s.seconds.max(1e-9)
    );
    r += "Each case: one instruction in 64-bit user mode (CPL 3), then `out 0xf4, al`; \
          compared: every GPR, RIP, RFLAGS (flags the instruction leaves undefined masked, \
          per iced-x86), segment selectors, CR0/CR2/CR3/CR4, EFER, FS.base, the fault \
          (vector, error code, saved RIP and RFLAGS) and the 4 KiB sandbox.\n\n";
    r += "| mnemonic | cases | agree | mismatches | first reproducer |\n| --- | ---: | ---: | ---: | --- |\n";
    for (m, t) in &s.tally {
        r += &format!(
            "| {m} | {} | {} | {} | {} |\n",
            t.cases,
            t.agree,
            t.mismatches,
            t.first_reproducer.as_deref().unwrap_or("")
        );
    }
    r += &format!(
        "| **total** | {} | {} | {} | |\n\n",
        s.run,
        s.run - s.mismatches,
        s.mismatches
    );
    r += "## Deliberate divergences (excluded, and nothing else)\n\n";
    for (what, why) in DIVERGENCES {
        r += &format!("- **{what}**: {why}\n");
    }
    r
}
