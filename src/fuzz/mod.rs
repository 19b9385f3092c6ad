//! The differential engine: random instructions from random states, run on the software
//! CPU and on KVM from the identical state, compared.
//!
//! A case is one instruction followed by `out 0xf4, al` (the exit port), in the
//! environment of [`crate::case_file`]: by default at CPL 3 in 64-bit and in compatibility
//! mode, where KVM runs the guest on the processor even without VT-x/AMD-V ("matches
//! hardware" is true there); on request at CPL 0, compared with whatever the host's KVM is.
//! [`generate`] draws the cases (proptest strategies: the instruction, registers biased to
//! edge values, flags, the sandbox) and makes each meaningful (memory operands in the
//! sandbox, branch targets on a sentinel in the code page); [`forms`] encodes every form of
//! every implemented mnemonic from iced-x86's opcode tables.
//!
//! The comparison ([`crate::case_file::compare`]) covers every GPR, RIP, RFLAGS, the
//! segment selectors, the control registers, the fault (vector, error code, saved RIP and
//! RFLAGS), the code page and the sandbox, with the flags the instruction leaves undefined
//! masked by iced-x86's own per-instruction flag information. A mismatch is shrunk by
//! proptest (register values, immediates and displacements towards 0, the sandbox towards
//! zeros) while it still mismatches on the same mnemonic, and written as a case file.
//! [`DIVERGENCES`] lists what is excluded on purpose, and why; nothing else is.

pub mod forms;
pub mod generate;
pub mod native;

use std::collections::BTreeMap;
use std::sync::Arc;

use iced_x86::Mnemonic;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::case_file::CaseMode;
pub use generate::{Ctx, Env, Generated, CODE, SANDBOX, SANDBOX_LEN};

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
        "LOOP, LOOPE and LOOPNE with an F2h or F3h prefix",
        "the SDM reserves REP prefixes on instructions other than strings (\"may cause unpredictable behavior\"); AMD's processors make LOOPE with F2h behave as LOOPNE and LOOPNE with F3h as LOOPE (measured natively on this project's AMD EPYC, outside KVM), the software CPU ignores the prefix",
    ),
    (
        "PUSH of a segment register with a 32- or 64-bit operand size",
        "the SDM allows either a zero-extended write of the whole slot or a 16-bit write that leaves the rest of it unchanged (which recent Intel processors do, and the software CPU does)",
    ),
    (
        "instructions that read the machine's own tables and selectors: MOV from a segment register, PUSH of a segment register, SGDT, SIDT, SLDT, STR, SMSW, LAR, LSL, VERR, VERW (on KVM without VT-x/AMD-V only)",
        "PVM runs user-mode code on the host's GDT, TR and CR0 with the host's user selectors (CS 33h, SS 2Bh), so these show the host's values, not the guest's",
    ),
    (
        "loads of segment registers (MOV to a segment register, POP of one, LSS, LFS, LGS, LDS, LES, and far JMP, far CALL, far RET and IRET, which load CS and SS), and RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (on KVM without VT-x/AMD-V only)",
        "PVM raises #UD for segment-register loads in user mode, or ignores them (a far RET to a 32-bit code segment stays in 64-bit mode), faults IRET with #GP(0) whatever the selector, and runs user code with the host's CR4.FSGSBASE = 1 although the guest's CR4 has it clear",
    ),
    (
        "INS and OUTS (on KVM without VT-x/AMD-V only)",
        "PVM faults string I/O at CPL 3 with #GP although the I/O bitmap allows the port (IN and OUT are compared)",
    ),
    (
        "CLI, STI, PUSHF, POPF, RFLAGS.IOPL and RFLAGS.AC (on KVM without VT-x/AMD-V only)",
        "PVM runs user-mode code with the host's RFLAGS: IOPL 0 (so CLI/STI fault and RFLAGS reads IOPL = 0 although the case set 3), IF = 1 (which PUSHF stores), and the host's CR0.AM (so AC = 1 raises #AC the guest did not enable, and AC does not survive); cases there start with AC = 0, IRET frames there hold IF = 1, and these instructions are left out; with VT-x/AMD-V there is no such difference",
    ),
    (
        "INT1 (ICEBP), INT n, SYSCALL and SYSRET (on KVM without VT-x/AMD-V only)",
        "PVM reports INT1 in user mode as a fault (the saved RIP is the instruction's, not the next one's, where the SDM makes its #DB trap-like; a native process on this project's host, itself a virtual machine, sees the same, so INT1 is not compared in compatibility mode either), raises #UD for INT n whatever the gate, takes SYSCALL for the host's own system call path instead of the guest's, and runs user code with the host's EFER.SCE = 1 (so SYSRET raises #GP, not #UD); INT3 and INTO are compared",
    ),
    (
        "SYSENTER and SYSEXIT in IA-32e mode, and the encodings AMD and Intel decode differently (the operand-size prefix on near branches and returns in 64-bit mode) (on AMD processors only)",
        "vendor differences: the software CPU follows Intel's manual (SYSENTER defined in 64-bit mode, 66h ignored by near branches there), AMD's processors raise #UD and honour 66h; iced-x86 decodes each encoding both ways, and the generator leaves out exactly those whose two decodings differ",
    ),
    (
        "cases KVM does not run on the processor (without VT-x/AMD-V: compatibility mode, and CPL 0) where the host kernel's instruction emulator raises #UD and the software CPU does not, or fails",
        "there the comparison is with the host's emulator, not with hardware, and that emulator does not implement every instruction (AAA, DAA, ENTER, POPCNT, the BMI instructions...); such cases are counted per mnemonic as not comparable, never as agreements",
    ),
];

/// Per-mnemonic results of a campaign.
#[derive(Default, Clone)]
pub struct Tally {
    pub cases: u64,
    pub agree: u64,
    /// Of `cases`, those whose other side was the processor (KVM on the CPU, or the native
    /// process).
    pub on_cpu: u64,
    /// Disagreements with the processor.
    pub mismatches: u64,
    /// Disagreements with the host's emulator (KVM without VT-x/AMD-V, where the native
    /// process cannot run the instruction): not evidence about the processor.
    pub host_disagreements: u64,
    /// Cases the host's KVM could not run (not compared; see [`Verdict::HostRefused`]).
    pub host_refused: u64,
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
    /// The environments cases are drawn from, equally often.
    pub envs: Vec<Env>,
}

impl Campaign {
    /// The default environments: user mode (CPL 3) in 64-bit and compatibility mode.
    pub fn user_envs() -> Vec<Env> {
        vec![
            Env {
                mode: CaseMode::Long,
                cpl: 3,
            },
            Env {
                mode: CaseMode::Compat,
                cpl: 3,
            },
        ]
    }
}

/// What a campaign found.
pub struct Summary {
    /// Per environment, per mnemonic.
    pub tally: BTreeMap<(String, String), Tally>,
    pub run: u64,
    pub skipped_unimplemented: u64,
    pub mismatches: u64,
    /// Disagreements with the host's emulator (not the processor).
    pub host_disagreements: u64,
    pub seconds: f64,
    /// Shrinking steps run (each a case on both machines).
    pub shrink_steps: u64,
}

/// The generator seed of case `k` of a campaign: the same for any jobs and shards.
pub fn case_seed(seed: u64, k: u64) -> u64 {
    seed ^ k.wrapping_mul(0xd1b5_4a32_d192_ed03)
}

/// The proptest runner that draws case `k`.
fn runner(seed: u64, k: u64) -> TestRunner {
    let s = case_seed(seed, k);
    let mut bytes = [0u8; 32];
    for (n, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(s ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    }
    TestRunner::new_with_rng(
        Config {
            max_local_rejects: 1 << 20,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// What one case showed.
#[derive(Debug)]
pub enum Verdict {
    /// The software CPU does not implement the instruction: nothing compared.
    Unimplemented,
    /// KVM's side was not the processor and could not run the instruction: without
    /// VT-x/AMD-V the host kernel's instruction emulator raised #UD where the software CPU
    /// did not, or failed (see DIVERGENCES).
    HostRefused,
    /// The differences (none: the two agree), and whether the other side was the processor.
    Compared { diffs: Vec<String>, on_cpu: bool },
}

/// The machines a worker compares the software CPU with.
pub struct Sides {
    pub emu: x86lab_emulator::Cpu,
    pub kvm: x86lab_kvm::KvmMachine,
    /// The native runner, for compatibility mode without VT-x/AMD-V.
    pub native: Option<native::Native>,
    pub hardware_assisted: bool,
}

impl Sides {
    /// The machines for a campaign in `envs`.
    pub fn new(envs: &[Env]) -> anyhow::Result<Sides> {
        let layout = x86lab_emulator::MemoryLayout::default();
        let hardware_assisted = x86lab_kvm::Regime::detect().is_hardware_assisted();
        let native = if !hardware_assisted
            && envs
                .iter()
                .any(|e| e.mode == CaseMode::Compat && e.cpl == 3)
        {
            Some(native::Native::start()?)
        } else {
            None
        };
        Ok(Sides {
            emu: x86lab_emulator::Cpu::new(layout)?,
            kvm: x86lab_kvm::KvmMachine::new(layout)?,
            native,
            hardware_assisted,
        })
    }
}

/// Runs one case on the software CPU and on the other side, and compares them. The other
/// side is KVM; for compatibility-mode cases on a host whose KVM would emulate them, it is
/// the native process where the instruction means the same there ([`native::arbitrable`]).
pub fn differ(g: &Generated, sides: &mut Sides) -> anyhow::Result<Verdict> {
    let a = crate::case_file::run(&mut sides.emu, &g.case)?;
    if a.unimplemented {
        return Ok(Verdict::Unimplemented);
    }
    let on_kvm_cpu = g.env.native(sides.hardware_assisted);
    if let (false, Some(n)) = (on_kvm_cpu, sides.native.as_mut()) {
        if native::arbitrable(g) {
            if let Some(r) = n.run(g)? {
                return Ok(Verdict::Compared {
                    diffs: native::compare(&a, &r, g),
                    on_cpu: true,
                });
            }
        }
    }
    let b = crate::case_file::run(&mut sides.kvm, &g.case)?;
    if !on_kvm_cpu && host_refused(&a, &b) {
        return Ok(Verdict::HostRefused);
    }
    Ok(Verdict::Compared {
        diffs: crate::case_file::compare(&a, &b, g.flags_mask),
        on_cpu: on_kvm_cpu,
    })
}

/// Whether KVM's outcome of a case it did not run on the processor is the host emulator's
/// refusal: an emulation failure, or #UD where the software CPU raised none (the host
/// kernel's emulator does not implement every instruction).
pub fn host_refused(emu: &crate::case_file::Outcome, kvm: &crate::case_file::Outcome) -> bool {
    let ud = |o: &crate::case_file::Outcome| o.fault.as_ref().is_some_and(|f| f.vector == 6);
    kvm.host_failure || (ud(kvm) && !ud(emu))
}

/// The most shrinking steps spent on one mismatch.
const MAX_SHRINK_STEPS: u32 = 2000;

/// Shrinks a mismatching case with proptest's value tree: keeps each simpler draw that
/// still mismatches on the same mnemonic. Returns the simplest case, its differences and
/// the steps run.
fn shrink(
    tree: &mut dyn ValueTree<Value = (generate::Draw, Generated)>,
    first: (Generated, Vec<String>, bool),
    sides: &mut Sides,
) -> anyhow::Result<(Generated, Vec<String>, u32)> {
    let mnemonic = first.0.instruction.mnemonic();
    let on_cpu = first.2;
    let first = (first.0, first.1);
    let mut best = first;
    let mut steps = 0;
    // Disagreements with the host's emulator are not shrunk: they say nothing about the
    // processor, and each step would run the slow emulator again.
    let max = if on_cpu { MAX_SHRINK_STEPS } else { 0 };
    if max == 0 || !tree.simplify() {
        return Ok((best.0, best.1, steps));
    }
    while steps < max {
        steps += 1;
        let (_, g) = tree.current();
        let still = if g.instruction.mnemonic() == mnemonic {
            match differ(&g, sides)? {
                Verdict::Compared { diffs, on_cpu: o } if !diffs.is_empty() && o == on_cpu => {
                    Some(diffs)
                }
                _ => None,
            }
        } else {
            None
        };
        match still {
            Some(d) => {
                best = (g, d);
                if !tree.simplify() {
                    break;
                }
            }
            None => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    Ok((best.0, best.1, steps))
}

/// The host processor's vendor is AMD (from /proc/cpuinfo).
pub fn amd_host() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| {
            t.lines()
                .any(|l| l.starts_with("vendor_id") && l.contains("AuthenticAMD"))
        })
        .unwrap_or(false)
}

/// Runs a campaign on `jobs` threads, each with its own software CPU and VM.
pub fn campaign(c: &Campaign, progress: &indicatif::ProgressBar) -> anyhow::Result<Summary> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    let hardware_assisted = x86lab_kvm::Regime::detect().is_hardware_assisted();
    let amd = amd_host();
    let ctxs: Vec<Arc<Ctx>> = c
        .envs
        .iter()
        .map(|&e| Arc::new(Ctx::new(e, hardware_assisted, amd, &c.only)))
        .collect();
    if ctxs.iter().all(|x| x.forms.is_empty()) {
        let why: Vec<String> = c
            .only
            .iter()
            .map(|&m| {
                let name = format!("{m:?}").to_lowercase();
                match ctxs.iter().find_map(|x| x.exclusion(m)) {
                    _ if !x86lab_emulator::cpu::IMPLEMENTED.contains(&m) => {
                        format!("{name}: the software CPU does not implement it")
                    }
                    Some(e) => format!("{name}: excluded here ({e})"),
                    None => format!("{name}: no form in these modes"),
                }
            })
            .collect();
        anyhow::bail!("no instruction form to draw: {}", why.join("; "));
    }
    std::fs::create_dir_all(&c.out)?;
    let (shard, shards) = c.shard;
    let mine: Vec<u64> = (0..c.cases).filter(|k| k % shards == shard).collect();
    let next = AtomicU64::new(0);
    let tally = Mutex::new(BTreeMap::<(String, String), Tally>::new());
    let skipped = AtomicU64::new(0);
    let mismatches = AtomicU64::new(0);
    let shrink_steps = AtomicU64::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..c.jobs.max(1) {
            workers.push(scope.spawn(|| -> anyhow::Result<()> {
                let mut sides = Sides::new(&c.envs)?;
                // Environments with no form (an --only list of compat-only mnemonics in
                // 64-bit mode, say) are not drawn from.
                let strategies: Vec<_> = ctxs
                    .iter()
                    .filter(|x| !x.forms.is_empty())
                    .map(|x| generate::cases(x.clone()))
                    .collect();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&k) = mine.get(n) else {
                        return Ok(());
                    };
                    let mut runner = runner(c.seed, k);
                    let pick = (case_seed(c.seed, k) >> 17) as usize % strategies.len();
                    let mut tree = strategies[pick]
                        .new_tree(&mut runner)
                        .map_err(|e| anyhow::anyhow!("case {k}: the generator gave up: {e}"))?;
                    let (_, g) = tree.current();
                    let mnemonic = format!("{:?}", g.instruction.mnemonic()).to_lowercase();
                    let key = (g.env.to_string(), mnemonic.clone());
                    match differ(&g, &mut sides)? {
                        Verdict::Unimplemented => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                        }
                        Verdict::HostRefused => {
                            let mut t = tally.lock().expect("no worker panics holding it");
                            t.entry(key).or_default().host_refused += 1;
                        }
                        Verdict::Compared { diffs, on_cpu } if diffs.is_empty() => {
                            let mut t = tally.lock().expect("no worker panics holding it");
                            let e = t.entry(key).or_default();
                            e.cases += 1;
                            e.on_cpu += u64::from(on_cpu);
                            e.agree += 1;
                        }
                        Verdict::Compared { diffs, on_cpu } => {
                            if on_cpu {
                                mismatches.fetch_add(1, Ordering::Relaxed);
                            }
                            let kind = if on_cpu { "" } else { "host-" };
                            let original =
                                c.out.join(format!("{kind}{mnemonic}-{k}-original.json"));
                            write_case(&original, &g, &diffs)?;
                            let (small, d, steps) =
                                shrink(&mut *tree, (g, diffs, on_cpu), &mut sides)?;
                            shrink_steps.fetch_add(u64::from(steps), Ordering::Relaxed);
                            let path = c.out.join(format!("{kind}{mnemonic}-{k}.json"));
                            write_case(&path, &small, &d)?;
                            let what = if on_cpu {
                                "mismatch"
                            } else {
                                "disagreement with the host's emulator"
                            };
                            progress.println(format!(
                                "{what}: {} -> {} (shrunk in {steps} steps)",
                                small.case.name,
                                path.display()
                            ));
                            let mut t = tally.lock().expect("no worker panics holding it");
                            let e = t.entry(key).or_default();
                            e.cases += 1;
                            if on_cpu {
                                e.on_cpu += 1;
                                e.mismatches += 1;
                            } else {
                                e.host_disagreements += 1;
                            }
                            e.first_reproducer.get_or_insert(path.display().to_string());
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
        host_disagreements: tally.values().map(|t| t.host_disagreements).sum(),
        tally,
        skipped_unimplemented: skipped.into_inner(),
        mismatches: mismatches.into_inner(),
        seconds: started.elapsed().as_secs_f64(),
        shrink_steps: shrink_steps.into_inner(),
    })
}

/// Writes a case file for a mismatch, its differences in the name.
fn write_case(path: &std::path::Path, g: &Generated, diffs: &[String]) -> anyhow::Result<()> {
    let mut case = g.case.clone();
    case.name = format!("{} (differences: {})", case.name, diffs.join("; "));
    std::fs::write(path, serde_json::to_string_pretty(&case)? + "\n")?;
    Ok(())
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
    let hardware_assisted = x86lab_kvm::Regime::detect().is_hardware_assisted();
    // The generator's view of each environment, built once (each walks iced's code list).
    let amd = amd_host();
    let ctxs: Vec<Ctx> = c
        .envs
        .iter()
        .map(|&e| Ctx::new(e, hardware_assisted, amd, &c.only))
        .collect();
    let mut r = String::new();
    r += "# Differential campaign: the software CPU against the processor (KVM)\n\n";
    r += &format!("- date: {date}\n- host CPU: {cpu}\n- KVM {regime}\n");
    r += &format!(
        "- seed {:#x}, {} cases asked (shard {}/{}), {} compared, {} skipped because the software CPU does not implement the instruction (x87, SSE, AVX...)\n",
        c.seed, c.cases, c.shard.0, c.shard.1, s.run, s.skipped_unimplemented
    );
    r += &format!(
        "- **{} mismatches with the processor**, {} disagreements with the host's emulator (not the processor), {:.0} s ({:.0} cases/s), {} shrinking steps\n",
        s.mismatches,
        s.host_disagreements,
        s.seconds,
        (s.run + s.skipped_unimplemented) as f64 / s.seconds.max(1e-9),
        s.shrink_steps
    );
    r += "- environments, each compared with:\n";
    for e in &c.envs {
        let with = if e.native(hardware_assisted) {
            "the processor (KVM runs this code on the CPU)"
        } else if e.mode == CaseMode::Compat && e.cpl == 3 {
            "the processor, in a 32-bit code segment of a native Linux process (KVM without VT-x/AMD-V would emulate this code), for every instruction that means the same there; the rest with the host's KVM, i.e. the host kernel's instruction emulator, not the processor (counted apart)"
        } else {
            "the host's KVM: on this host without VT-x/AMD-V, the host kernel's instruction emulator, not the processor (counted apart)"
        };
        r += &format!("  - {e}: {with}\n");
    }
    r += "\nEach case: one instruction, then `out 0xf4, al`; branches land on a second `out 0xf4, al` \
          in the code page. Compared: every GPR, RIP, RFLAGS (flags the instruction leaves undefined \
          masked, per iced-x86), segment selectors, CR0/CR2/CR3/CR4, EFER, FS.base, the fault \
          (vector, error code, saved RIP and RFLAGS), the code page and the 4 KiB sandbox.\n\n";
    for ctx in &ctxs {
        let env = ctx.env.to_string();
        r += &format!("## {env}\n\n");
        r += "| mnemonic | cases | on the processor | agree | mismatches (with the processor) | disagreements with the host's emulator | not comparable: the host's emulator refused | first reproducer |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
        let mut listed: BTreeMap<String, Tally> = s
            .tally
            .iter()
            .filter(|((en, _), _)| *en == env)
            .map(|((_, m), t)| (m.clone(), t.clone()))
            .collect();
        // Every mnemonic the generator draws in this environment, even with no case.
        for (m, _) in &ctx.forms.by_mnemonic {
            listed.entry(format!("{m:?}").to_lowercase()).or_default();
        }
        let mut total = Tally::default();
        for (m, t) in &listed {
            r += &format!(
                "| {m} | {} | {} | {} | {} | {} | {} | {} |\n",
                t.cases,
                t.on_cpu,
                t.agree,
                t.mismatches,
                t.host_disagreements,
                t.host_refused,
                t.first_reproducer.as_deref().unwrap_or("")
            );
            total.cases += t.cases;
            total.on_cpu += t.on_cpu;
            total.agree += t.agree;
            total.mismatches += t.mismatches;
            total.host_disagreements += t.host_disagreements;
            total.host_refused += t.host_refused;
        }
        r += &format!(
            "| **total** | {} | {} | {} | {} | {} | {} | |\n\n",
            total.cases,
            total.on_cpu,
            total.agree,
            total.mismatches,
            total.host_disagreements,
            total.host_refused
        );
    }
    r += "## Implemented mnemonics not drawn, and why\n\n";
    let drawn: std::collections::BTreeSet<Mnemonic> = ctxs
        .iter()
        .flat_map(|x| x.forms.by_mnemonic.iter().map(|(m, _)| *m))
        .collect();
    let mut none = true;
    for m in x86lab_emulator::cpu::IMPLEMENTED {
        if !drawn.contains(m) && (c.only.is_empty() || c.only.contains(m)) {
            none = false;
            let why = ctxs
                .iter()
                .find_map(|x| x.exclusion(*m))
                .map(|what| format!("excluded: {what}"))
                .unwrap_or_else(|| "no encoding of it exists in these environments".into());
            r += &format!("- {}: {why}\n", format!("{m:?}").to_lowercase());
        }
    }
    if none {
        r += "None.\n";
    }
    r += "\n## Deliberate divergences (excluded, and nothing else)\n\n";
    for (what, why) in DIVERGENCES {
        r += &format!("- **{what}**: {why}\n");
    }
    r
}
