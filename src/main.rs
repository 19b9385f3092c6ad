//! `x86lab`: run x86 programs on a software CPU or on KVM and watch what they do.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use x86lab::load::{self, LoadOptions, Mode};
use x86lab_emulator::{Cause, Cpu, Event, Limit, Machine, MemoryLayout, RunLimits};

/// Exit status when the instruction or time limit ends a run.
const EXIT_LIMIT: u8 = 124;
/// Exit status for a triple fault (shutdown).
const EXIT_TRIPLE_FAULT: u8 = 125;
/// Exit status when the guest reaches an instruction the software CPU does not implement,
/// or raises an exception this build cannot deliver.
const EXIT_UNSUPPORTED: u8 = 126;

#[derive(Parser)]
#[command(
    name = "x86lab",
    version,
    about = "A teaching laboratory for x86 and virtualization"
)]
struct Cli {
    /// Without a command: the desktop app (needs a display).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The desktop app: step through a program (an .asm source, a flat binary or an ELF
    /// file; the first lesson without one), see every register and byte change, step back.
    Gui { file: Option<PathBuf> },
    /// Run a program (flat binary or static ELF) until it halts or exits.
    ///
    /// Console output (port 0xE9 and the serial port 0x3F8) goes to stdout. Exit status:
    /// 0 when the guest halts, the low 8 bits of the value the guest writes to port 0xF4,
    /// 124 when --max-instructions or --timeout ends the run, 125 on a triple fault, 126 at
    /// an instruction or exception this CPU does not support (or, on KVM, when the host
    /// cannot go on), 1 for bad input.
    Run(RunArgs),
    /// Say what KVM is on this host: hardware-assisted or not, what runs natively, the API
    /// version and the capabilities x86lab uses.
    KvmInfo,
    /// Run case files (a state, memory, how far to run, optionally the expected result).
    ///
    /// A case is JSON:
    ///   { "name": "...", "mode": "real|protected|compat|long", "cpl": 0|3 (optional),
    ///     "initial": { "regs": { "rax": "0x...", "rip": "0x...", "cs": "0x..." },
    ///                  "memory": [ { "addr": "0x7c00", "bytes": "11d8f4" } ] },
    ///     "max_instructions": N (optional; else until HLT, `out 0xf4, al` or a fault),
    ///     "expect": { "regs": {...}, "memory": [...], "flags_mask": "0x8d5",
    ///                 "fault": VECTOR } (optional) }
    /// Registers use the names of the state format; in real mode a segment given as a
    /// number is a selector with base = selector * 16. Long and compat mode provide a
    /// small kernel that reports exceptions (vector, error code, RIP); CPL 3 cases start
    /// with IOPL = 3 so that `out 0xf4, al` can end them.
    ///
    /// Without `expect` the final state is printed as JSON; with it, PASS or FAIL per case.
    /// `--backend both` runs each case on the emulator and on KVM and compares them; on
    /// hosts without VT-x/AMD-V, where KVM emulates compat and CPL 0 code in the host kernel,
    /// a case that emulator refuses is said to be skipped on KVM (SKIP KVM ...).
    /// The exit status is 1 if any case fails or the backends differ.
    Case(CaseArgs),
    /// Assemble a NASM-syntax source file into a flat binary.
    ///
    /// The assembler takes NASM's Intel syntax and its preprocessor (%include, %define,
    /// %macro, %rep, %if...), and chooses the encodings NASM chooses. Errors name the file,
    /// line and column.
    Asm(AsmArgs),
    /// Disassemble a flat binary in NASM syntax (address, bytes, instruction); the text
    /// assembles back to the same bytes.
    Disasm(DisasmArgs),
    /// Differential fuzzing: random instructions from random states on the software CPU
    /// and on KVM, compared (see `x86lab::fuzz`). Each mismatch is written as a case file
    /// that `x86lab case --backend both` replays. The same seed gives the same cases, in
    /// any number of jobs or shards.
    Fuzz(FuzzArgs),
    /// Measure how fast each backend runs the workloads of firmware/workloads/ (alu: integer
    /// loop; mem: copies and checksums over 1 MiB; call: recursive Fibonacci; string: REP
    /// MOVSB/STOSQ), in millions of guest instructions per second, each REP iteration
    /// counted as one.
    ///
    /// Both backends run the same program in 64-bit user mode (CPL 3), where KVM runs guest
    /// code on the processor on every host. Only the run is timed; each figure is the best
    /// of several runs. The software CPU counts the instructions; for KVM, which does not,
    /// the count follows from the workload's instructions per iteration.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long, value_enum, default_value = "both")]
    backend: CaseBackend,
    /// Only these workloads (alu, mem, call, string); all by default.
    #[arg(long, num_args = 1..)]
    workload: Vec<String>,
    /// Roughly how long one timed run takes, in seconds.
    #[arg(long, default_value = "1.5")]
    seconds: f64,
    /// Timed runs per figure; the fastest counts.
    #[arg(long, default_value = "3")]
    repeats: u32,
    /// Also run each workload's machine code as a Linux process on this CPU (each OUT to
    /// the console or exit port handled by a signal handler), the figure KVM is judged by.
    #[arg(long)]
    native: bool,
}

#[derive(clap::Args)]
struct FuzzArgs {
    /// How many cases (in all shards).
    #[arg(long, default_value = "10000", value_parser = parse_number)]
    cases: u64,
    #[arg(long, default_value = "0x5eed", value_parser = parse_number)]
    seed: u64,
    /// Worker threads, each with its own software CPU and VM.
    #[arg(long, default_value = "2")]
    jobs: usize,
    /// Only these mnemonics (iced-x86 names, any case: add, shld, cmpxchg16b, ...).
    #[arg(long, num_args = 1..)]
    only: Vec<String>,
    /// Where mismatches are written as case files.
    #[arg(long, default_value = "fuzz-out")]
    out: PathBuf,
    /// Write the markdown report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run shard I of N (cases k with k mod N = I).
    #[arg(long, default_value = "0/1", value_parser = parse_shard)]
    shard: (u64, u64),
    /// The modes cases run in, drawn equally often: 64-bit (long) and compatibility mode
    /// (32-bit code under a 64-bit kernel).
    #[arg(long, value_delimiter = ',', default_value = "long,compat")]
    modes: Vec<FuzzMode>,
    /// The privilege level of the cases. 3 (user mode): KVM runs the code on the processor
    /// even without VT-x/AMD-V, so the comparison is with hardware. 0 (kernel mode): the
    /// comparison is with the host's KVM, which without VT-x/AMD-V is the host kernel's
    /// instruction emulator; the report says which.
    #[arg(long, default_value = "3", value_parser = ["0", "3"])]
    cpl: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FuzzMode {
    Long,
    Compat,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{s}` is not a shard: write I/N with I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

#[derive(clap::Args)]
struct AsmArgs {
    /// The source file.
    file: PathBuf,
    /// The output file (default: the source's name with .bin).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also write a listing: address, bytes and source line.
    #[arg(long)]
    listing: Option<PathBuf>,
    /// A directory %include also searches (after the including file's own).
    #[arg(short = 'I', long = "include")]
    include: Vec<PathBuf>,
    /// Define a single-line macro before the source: NAME or NAME=VALUE.
    #[arg(short = 'D', long = "define")]
    define: Vec<String>,
}

#[derive(clap::Args)]
struct DisasmArgs {
    /// A flat binary.
    file: PathBuf,
    #[arg(long, default_value = "16", value_parser = ["16", "32", "64"])]
    bits: String,
    /// The address of the file's first byte.
    #[arg(long, default_value = "0", value_parser = parse_number)]
    org: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CaseBackend {
    Emulator,
    Kvm,
    Both,
}

#[derive(clap::Args)]
struct CaseArgs {
    /// Case files (JSON).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "emulator")]
    backend: CaseBackend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The software CPU.
    Emulator,
    /// The processor, through Linux KVM (/dev/kvm).
    Kvm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Boot {
    Direct,
    Firmware,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    Real,
    Protected,
    Long,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The program: a flat binary (a boot sector by default), a static ELF32/ELF64 file, or
    /// an assembly source (.asm), assembled first and run in the mode its `bits` says at
    /// the address its `org` says.
    file: PathBuf,
    #[arg(long, value_enum, default_value = "emulator")]
    backend: Backend,
    /// The mode a flat binary starts in (ELF files carry their own).
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Load address of a flat binary (default 0x7c00 in real mode, 0x100000 otherwise).
    #[arg(long, value_parser = parse_number)]
    load: Option<u64>,
    /// Stop after this many instructions (emulator only: KVM does not count the
    /// instructions a guest runs; use --timeout there).
    #[arg(long, value_parser = parse_number)]
    max_instructions: Option<u64>,
    /// Stop after this many seconds of wall time.
    #[arg(long)]
    timeout: Option<f64>,
    /// RAM size, e.g. 64M or 1G (at most 3G).
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    ram: u64,
    /// Write the final CPU state as JSON to this file ("-" for stdout, after the output).
    #[arg(long)]
    state_out: Option<PathBuf>,
    /// How the program starts: `direct` sets up the mode and jumps to it (as a boot loader
    /// would have); `firmware` starts the CPU at its reset vector in x86lab's firmware
    /// (firmware/boot/firmware.asm), which takes the machine to the program's mode (--mode,
    /// the source's `bits`, else real mode) and jumps to it. Without VT-x/AMD-V, KVM runs
    /// the firmware's real-mode and kernel code in the host's instruction emulator: slower.
    #[arg(long, value_enum, default_value = "direct")]
    boot: Boot,
    /// For an assembly source: a directory %include also searches.
    #[arg(short = 'I', long = "include")]
    include: Vec<PathBuf>,
    /// For an assembly source: define a single-line macro, NAME or NAME=VALUE (the
    /// workloads take ITERATIONS this way).
    #[arg(short = 'D', long = "define")]
    define: Vec<String>,
    /// Print the backend's counters to stderr after the run: on KVM, the vCPU's VM exits
    /// by kind, instructions the host emulated and halts (KVM's binary statistics).
    #[arg(long)]
    stats: bool,
    /// The privilege level a 64-bit program starts at: 0 (kernel mode) or 3 (user mode,
    /// with IOPL 3 so that IN and OUT work, every page user-accessible). On KVM without
    /// VT-x/AMD-V, user-mode code runs on the processor instead of the host's emulator.
    #[arg(long, default_value_t = 0, value_parser = parse_cpl)]
    cpl: u8,
    /// Run every instruction on the software CPU's general path, the one single-stepping
    /// takes, instead of its fast path for common instructions: the same results, slower
    /// (for comparing the two; `--stats` counts the fast path's instructions).
    #[arg(long)]
    general_path: bool,
}

fn parse_cpl(s: &str) -> Result<u8, String> {
    match s {
        "0" => Ok(0),
        "3" => Ok(3),
        _ => Err(format!(
            "`{s}` is not a privilege level x86lab starts programs at: use 0 or 3"
        )),
    }
}

fn parse_number(s: &str) -> Result<u64, String> {
    x86lab_emulator::state::hex::parse(s)
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n = parse_number(num)
        .map_err(|_| format!("`{s}` is not a size (write 64M, 1G or a byte count)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, None | Some(Command::Gui { .. })) {
        // Like other Unix tools, end quietly when the reader of our output goes away
        // (`x86lab case ... | head`) instead of panicking on the failed write: Rust
        // starts programs with SIGPIPE ignored. (The GUI keeps it ignored: its display
        // connection is a socket.)
        // SAFETY: setting a signal's disposition to its default, before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match cli.command.unwrap_or(Command::Gui { file: None }) {
        Command::Gui { file } => x86lab_gui::run(file)
            .map(|()| 0)
            .map_err(|e| anyhow::anyhow!(e)),
        Command::Run(args) => run(&args),
        Command::KvmInfo => kvm_info(),
        Command::Case(args) => cases(&args),
        Command::Fuzz(args) => fuzz(&args),
        Command::Asm(args) => asm(&args),
        Command::Disasm(args) => disasm(&args),
        Command::Bench(args) => bench(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("x86lab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Assembles a source file, printing its warnings; its errors, one per line, make the
/// error.
fn assemble(
    file: &std::path::Path,
    include: &[PathBuf],
    define: &[String],
) -> Result<x86lab_firmware::asm::Assembly> {
    use x86lab_firmware::asm;
    let opts = asm::Options {
        include: include.to_vec(),
        defines: define
            .iter()
            .map(|d| match d.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (d.clone(), String::new()),
            })
            .collect(),
    };
    match asm::assemble_file(file, &opts) {
        Ok(a) => {
            for w in &a.warnings {
                eprintln!(
                    "{}:{}:{}: warning: {}",
                    w.file.display(),
                    w.line,
                    w.col,
                    w.message
                );
            }
            Ok(a)
        }
        Err(errors) => {
            let n = errors.0.len();
            let (last, first) = errors.0.split_last().expect("at least one error");
            for e in first {
                eprintln!("{e}");
            }
            bail!(
                "{last}{}",
                if n > 1 {
                    format!(" ({n} errors)")
                } else {
                    String::new()
                }
            )
        }
    }
}

fn asm(args: &AsmArgs) -> Result<u8> {
    let a = assemble(&args.file, &args.include, &args.define)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.file.with_extension("bin"));
    std::fs::write(&out, &a.bytes).with_context(|| format!("cannot write `{}`", out.display()))?;
    if let Some(l) = &args.listing {
        std::fs::write(l, a.listing_text())
            .with_context(|| format!("cannot write `{}`", l.display()))?;
    }
    Ok(0)
}

fn disasm(args: &DisasmArgs) -> Result<u8> {
    use iced_x86::{Decoder, DecoderOptions};
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let bits: u32 = args.bits.parse().expect("clap checked");
    let mut d = Decoder::with_ip(bits, &bytes, args.org, DecoderOptions::NONE);
    let mut f = x86lab_firmware::asm::disasm::formatter();
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    for i in &mut d {
        let o = (i.ip() - args.org) as usize;
        let raw = &bytes[o..(o + i.len().max(1)).min(bytes.len())];
        text.clear();
        if i.is_invalid() {
            // Bytes that are no instruction in this mode: shown as data.
            let list: Vec<String> = raw.iter().map(|b| format!("0x{b:02x}")).collect();
            text = format!("db {}", list.join(", "));
        } else {
            text = x86lab_firmware::asm::disasm::text(&mut f, &i);
        }
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        match writeln!(out, "{:08x}  {hex:<20} {text}", i.ip()) {
            // `x86lab disasm f.bin | head` is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
            r => r?,
        }
    }
    Ok(0)
}

fn new_machine(kvm: bool) -> Result<Box<dyn Machine>> {
    Ok(if kvm {
        Box::new(x86lab_kvm::KvmMachine::new(MemoryLayout::default())?)
    } else {
        Box::new(Cpu::new(MemoryLayout::default())?)
    })
}

fn cases(args: &CaseArgs) -> Result<u8> {
    use x86lab::case_file;
    // KVM without VT-x/AMD-V (PVM) does not keep RFLAGS.IOPL for user-mode code: a known
    // divergence of the host, not of the CPUs, left out of CPL 3 comparisons.
    let hardware_assisted = x86lab_kvm::Regime::detect().is_hardware_assisted();
    let pvm_iopl = !hardware_assisted;
    let mut failed = 0;
    for path in &args.files {
        let case = case_file::read(path)?;
        let backends: &[bool] = match args.backend {
            CaseBackend::Emulator => &[false],
            CaseBackend::Kvm => &[true],
            CaseBackend::Both => &[false, true],
        };
        let mut outcomes = Vec::new();
        for &kvm in backends {
            let mut m = new_machine(kvm)?;
            outcomes.push(case_file::run(m.as_mut(), &case)?);
        }
        // Without VT-x/AMD-V, KVM runs only 64-bit user code on the processor; the rest goes
        // through the host kernel's emulator, which does not implement every instruction.
        let env = x86lab::fuzz::Env {
            mode: case.mode,
            cpl: case.cpl,
        };
        let refused = match outcomes.as_slice() {
            [a, b] if !env.native(hardware_assisted) && x86lab::fuzz::host_refused(a, b) => {
                Some(b.ended.clone())
            }
            _ => None,
        };
        if let Some(why) = &refused {
            outcomes.pop();
            println!(
                "SKIP KVM for {}: without VT-x/AMD-V this host's KVM runs {} code in the host kernel's emulator, which refused it ({why}); checked on the software CPU only",
                case.name, env
            );
        }
        let mut problems = Vec::new();
        if let [a, b] = outcomes.as_slice() {
            let mut mask = case
                .expect
                .as_ref()
                .and_then(|e| e.flags_mask)
                .unwrap_or(u64::MAX);
            if case.cpl == 3 && pvm_iopl {
                mask &= !x86lab_emulator::state::flags::IOPL;
            }
            problems.extend(case_file::compare(a, b, mask));
        }
        for o in &outcomes {
            for d in case_file::check(&case, o)? {
                problems.push(format!("{}: {d}", o.backend));
            }
        }
        if case.expect.is_none() && outcomes.len() == 1 {
            println!("{}", serde_json::to_string_pretty(&outcomes[0])?);
        } else if problems.is_empty() {
            let how = if outcomes.len() == 2 {
                "the emulator and KVM agree"
            } else {
                "as expected"
            };
            println!("PASS {}: {how} ({})", case.name, outcomes[0].ended);
        } else {
            failed += 1;
            println!("FAIL {} ({}):", case.name, path.display());
            for p in &problems {
                println!("  {p}");
            }
        }
    }
    Ok(u8::from(failed > 0))
}

fn fuzz(args: &FuzzArgs) -> Result<u8> {
    use x86lab::fuzz;
    let mut only = Vec::new();
    for name in &args.only {
        let m = iced_x86::Mnemonic::values()
            .find(|m| format!("{m:?}").eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`{name}` is not a mnemonic iced-x86 knows (write add, shld, cmpxchg16b, ...)"
                )
            })?;
        only.push(m);
    }
    // Fail early, with KVM's own sentence, if there is no KVM.
    drop(x86lab_kvm::KvmMachine::new(MemoryLayout::default())?);
    let c = fuzz::Campaign {
        cases: args.cases,
        seed: args.seed,
        jobs: args.jobs,
        only,
        out: args.out.clone(),
        shard: args.shard,
        envs: args
            .modes
            .iter()
            .map(|m| fuzz::Env {
                mode: match m {
                    FuzzMode::Long => x86lab::case_file::CaseMode::Long,
                    FuzzMode::Compat => x86lab::case_file::CaseMode::Compat,
                },
                cpl: if args.cpl == "0" { 0 } else { 3 },
            })
            .collect(),
    };
    let mine = (0..args.cases)
        .filter(|k| k % args.shard.1 == args.shard.0)
        .count() as u64;
    let bar = indicatif::ProgressBar::new(mine);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} cases, {per_sec}, {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let summary = fuzz::campaign(&c, &bar)?;
    bar.finish();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let report = fuzz::report(&c, &summary, &date);
    match &args.report {
        Some(path) => std::fs::write(path, &report)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => print!("{report}"),
    }
    eprintln!(
        "{} cases compared, {} mismatches with the processor, {} disagreements with the host's emulator ({} skipped: not implemented by the software CPU)",
        summary.run, summary.mismatches, summary.host_disagreements, summary.skipped_unimplemented
    );
    Ok(u8::from(summary.mismatches > 0))
}

fn bench(args: &BenchArgs) -> Result<u8> {
    use x86lab::bench::{self, Backend as B};
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    let known: Vec<&str> = x86lab_firmware::WORKLOADS.iter().map(|(n, _)| *n).collect();
    if let Some(w) = args.workload.iter().find(|w| !known.contains(&w.as_str())) {
        bail!(
            "there is no workload `{w}`; the workloads are {}",
            known.join(", ")
        );
    }
    let mut backends = match args.backend {
        CaseBackend::Emulator => vec![B::Emulator],
        CaseBackend::Kvm => vec![B::Kvm],
        CaseBackend::Both => vec![B::Emulator, B::Kvm],
    };
    if args.native {
        backends.push(B::Native);
    }
    if backends.contains(&B::Kvm) {
        x86lab_kvm::KvmMachine::new(MemoryLayout::default()).context(
            "KVM is not available here; measure the software CPU alone with --backend emulator",
        )?;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "x86lab bench: millions of guest instructions per second (MIPS), best of {} runs of about {} s",
        args.repeats.max(1),
        args.seconds
    );
    println!("host: {cpu}, {threads} CPUs");
    if backends.contains(&B::Kvm) {
        let regime = match x86lab_kvm::Regime::detect() {
            x86lab_kvm::Regime::HardwareAssisted { technology } => {
                format!("hardware-assisted ({technology})")
            }
            x86lab_kvm::Regime::SoftwareOnly { module } => format!(
                "no VT-x/AMD-V (module {}); user-mode code still runs on the processor",
                module.as_deref().unwrap_or("unknown")
            ),
        };
        println!("KVM: {regime}");
    }
    println!("both backends run each workload in 64-bit user mode (CPL 3); REP iterations count one each");
    if args.native {
        println!("native: the same machine code in a Linux process (its OUTs handled by a signal handler)");
    }
    println!();
    let mut header = format!("{:<8}", "workload");
    for b in &backends {
        header += &format!(" {:>13}", format!("{} MIPS", b.name()));
    }
    let has = |b: B| backends.contains(&b);
    if has(B::Emulator) && has(B::Kvm) {
        header += &format!(" {:>16}", "emulator vs kvm");
    }
    if has(B::Kvm) && has(B::Native) {
        header += &format!(" {:>14}", "kvm vs native");
    }
    println!("{header}");
    let names: Vec<String> = if args.workload.is_empty() {
        known.iter().map(|n| n.to_string()).collect()
    } else {
        args.workload.clone()
    };
    for name in names {
        let opts = bench::Options {
            backends: backends.clone(),
            workloads: vec![name.clone()],
            target: Duration::from_secs_f64(args.seconds),
            repeats: args.repeats,
        };
        let ms = bench::measure(&opts, |_| {})?;
        let mut row = format!("{name:<8}");
        for m in &ms {
            row += &format!(" {:>13.1}", m.mips());
        }
        let mips = |b: B| ms.iter().find(|m| m.backend == b).map(|m| m.mips());
        if let (Some(e), Some(k)) = (mips(B::Emulator), mips(B::Kvm)) {
            let ratio = e / k;
            let shown = if ratio >= 1.0 {
                format!("{ratio:.2}x")
            } else {
                format!("1/{:.0}", 1.0 / ratio)
            };
            row += &format!(" {shown:>16}");
        }
        if let (Some(k), Some(n)) = (mips(B::Kvm), mips(B::Native)) {
            row += &format!(" {:>13.1}%", 100.0 * k / n);
        }
        println!("{row}");
    }
    Ok(0)
}

fn kvm_info() -> Result<u8> {
    let info = x86lab_kvm::KvmInfo::probe()?;
    print!("{info}");
    Ok(0)
}

fn run(args: &RunArgs) -> Result<u8> {
    // An assembly source is assembled first; its `bits` and `org` say where and in which
    // mode it runs (--mode and --load override them).
    let source = args.file.extension().is_some_and(|e| e == "asm");
    if !source && (!args.include.is_empty() || !args.define.is_empty()) {
        bail!(
            "-I and -D apply to assembly sources (.asm), not to `{}`",
            args.file.display()
        );
    }
    let (image, asm_mode, asm_load) = if source {
        let a = assemble(&args.file, &args.include, &args.define)?;
        if a.bytes.is_empty() {
            bail!("`{}` assembles to nothing", args.file.display());
        }
        let mode = match a.bits {
            16 => Mode::Real,
            32 => Mode::Protected,
            _ => Mode::Long,
        };
        if let (Some(l), true) = (args.load, a.origin != 0) {
            if l != a.origin {
                bail!(
                    "`{}` is assembled for address {:#x} (org); --load {l:#x} would break its addresses",
                    args.file.display(),
                    a.origin
                );
            }
        }
        (a.bytes, Some(mode), (a.origin != 0).then_some(a.origin))
    } else {
        let image = std::fs::read(&args.file)
            .with_context(|| format!("cannot read `{}`", args.file.display()))?;
        (image, None, None)
    };
    let layout = MemoryLayout {
        ram_size: args.ram,
        ..MemoryLayout::default()
    };
    if args.backend == Backend::Kvm && args.max_instructions.is_some() {
        bail!("--max-instructions works only with --backend emulator: KVM does not count the instructions a guest runs (use --timeout)");
    }
    if args.backend == Backend::Kvm && args.general_path {
        bail!("--general-path chooses how the software CPU executes; it means nothing with --backend kvm");
    }
    let mut machine: Box<dyn Machine> = match args.backend {
        Backend::Emulator => {
            let mut cpu = Cpu::new(layout)?;
            cpu.set_fast_path(!args.general_path);
            Box::new(cpu)
        }
        Backend::Kvm => Box::new(x86lab_kvm::KvmMachine::new(layout)?),
    };
    let opts = LoadOptions {
        mode: args
            .mode
            .map(|m| match m {
                ModeArg::Real => Mode::Real,
                ModeArg::Protected => Mode::Protected,
                ModeArg::Long => Mode::Long,
            })
            .or(asm_mode),
        load: args.load.or(asm_load),
        user: args.cpl == 3,
    };
    match args.boot {
        Boot::Direct => load::load(machine.as_mut(), &image, &opts),
        Boot::Firmware => {
            if image.starts_with(b"\x7fELF") {
                bail!("--boot firmware takes a flat binary or an assembly source, not an ELF file");
            }
            if args.cpl == 3 {
                bail!("--boot firmware starts programs at CPL 0; use --boot direct for --cpl 3");
            }
            if args.load.is_some() {
                bail!("--boot firmware places the program itself (7C00h in real mode, 100000h otherwise); drop --load");
            }
            let mode = opts.mode.unwrap_or(Mode::Real);
            let at = if mode == Mode::Real { 0x7c00 } else { 0x10_0000 };
            if let Some(org) = asm_load.filter(|&o| o != at) {
                bail!(
                    "`{}` is assembled for address {org:#x} (org), but the firmware runs a {} program at {at:#x}",
                    args.file.display(),
                    match mode {
                        Mode::Real => "real-mode",
                        Mode::Protected => "protected-mode",
                        Mode::Long => "long-mode",
                    }
                );
            }
            if args.backend == Backend::Kvm
                && !x86lab_kvm::Regime::detect().is_hardware_assisted()
            {
                eprintln!("x86lab: note: this host's KVM has no VT-x/AMD-V: the firmware's real-mode and kernel-mode code runs in the host kernel's instruction emulator (about a million instructions per second)");
            }
            load::boot_firmware(machine.as_mut(), &image, mode)
        }
    }
    .with_context(|| format!("cannot load `{}`", args.file.display()))?;
    let timeout = match args.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => {
            bail!("--timeout must be a positive number of seconds")
        }
        Some(t) => Some(Duration::from_secs_f64(t)),
        None => None,
    };
    let started = std::time::Instant::now();
    let mut stdout = std::io::stdout().lock();
    // Run in slices so console output streams and the limits are enforced: slices of
    // instructions on the software CPU, of time on KVM (which cannot count instructions).
    const SLICE: u64 = 1 << 20;
    const TIME_SLICE: Duration = Duration::from_millis(100);
    let counts = machine.instructions_retired().is_some();
    let event = loop {
        let done = machine.instructions_retired().unwrap_or(0);
        let slice = match args.max_instructions {
            Some(max) if done >= max => break Event::LimitReached(Limit::Instructions),
            Some(max) => SLICE.min(max - done),
            None => SLICE,
        };
        let time_left = match timeout {
            Some(t) if started.elapsed() >= t => break Event::LimitReached(Limit::WallTime),
            Some(t) => Some(t - started.elapsed()),
            None => None,
        };
        let limits = if counts {
            RunLimits {
                max_instructions: Some(slice),
                max_time: time_left,
                ..RunLimits::default()
            }
        } else {
            RunLimits {
                max_time: Some(time_left.map_or(TIME_SLICE, |t| t.min(TIME_SLICE))),
                ..RunLimits::default()
            }
        };
        let event = machine.run(&limits)?;
        stdout.write_all(&machine.devices().output().take())?;
        match event {
            Event::LimitReached(Limit::Instructions) => continue,
            // A time slice on KVM, not the user's timeout.
            Event::LimitReached(Limit::WallTime)
                if !counts && timeout.is_none_or(|t| started.elapsed() < t) =>
            {
                continue
            }
            other => break other,
        }
    };
    stdout.write_all(&machine.devices().output().take())?;
    stdout.flush()?;
    let state = machine.state()?;
    let retired = match machine.instructions_retired() {
        Some(n) => format!("after {n} instructions"),
        None => format!("after {:.3} s", started.elapsed().as_secs_f64()),
    };
    let code = match &event {
        Event::Halted {
            interrupts_enabled: false,
        } => 0,
        Event::Halted {
            interrupts_enabled: true,
        } => {
            eprintln!(
                "x86lab: halted with interrupts enabled at rip {:#x}; no device raises interrupts yet, so the run ends here",
                state.rip
            );
            0
        }
        Event::ExitRequested { status } => (*status & 0xff) as u8,
        Event::LimitReached(limit) => {
            let what = match limit {
                Limit::Instructions => "instruction limit",
                Limit::WallTime => "time limit",
            };
            eprintln!("x86lab: {what} reached {retired}, at rip {:#x}", state.rip);
            EXIT_LIMIT
        }
        Event::Shutdown { reason } => {
            eprintln!("x86lab: triple fault ({reason}) {retired}; the processor shut down");
            EXIT_TRIPLE_FAULT
        }
        Event::Exception(e) if matches!(e.cause, Cause::Unimplemented { .. }) => {
            eprintln!("x86lab: {e}");
            EXIT_UNSUPPORTED
        }
        Event::Undeliverable { .. } | Event::HostFailure { .. } => {
            eprintln!("x86lab: {event}; the run stops here");
            EXIT_UNSUPPORTED
        }
        other => {
            eprintln!("x86lab: run ended: {other}");
            EXIT_UNSUPPORTED
        }
    };
    if args.stats {
        let stats = machine.statistics()?;
        let width = stats.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        eprintln!("{} statistics:", machine.backend());
        for (name, value) in stats {
            eprintln!("  {name:<width$} {value:>12}");
        }
    }
    if let Some(path) = &args.state_out {
        let json = state.to_json();
        if path.as_os_str() == "-" {
            writeln!(stdout, "{json}")?;
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    Ok(code)
}
