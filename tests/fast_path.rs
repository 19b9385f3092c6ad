//! The software CPU's fast path (emulator/src/cpu/fast.rs) against the processor.
//!
//! Random programs made of the instructions the fast path prepares — the ALU instructions
//! in every size and operand form, MOV, MOVZX/MOVSX, LEA, INC/DEC, shifts and rotates,
//! IMUL, CMOVcc/SETcc/Jcc, PUSH/POP, CALL/RET, LOOP, the string instructions with REP in
//! both directions and overlapping — plus a few it leaves to the general path, with memory
//! operands that sometimes cross a page, run three times over in 64-bit user mode. Each
//! program prints its registers, the flags it can read (only ones the manuals define) and
//! a checksum of the memory it wrote. The processor (KVM: user-mode code runs on it even
//! without VT-x/AMD-V) prints the truth; the software CPU must print the same on its fast
//! path and on its general path (`x86lab run --general-path`).

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use x86lab::fuzz::generate::Rng;

/// The registers the programs compute with. RBP is the data area's base, R14 a small
/// index, R15 the outer loop's counter, RSI/RDI/RCX the string registers (and values).
const R64: [&str; 10] = [
    "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13",
];
const R32: [&str; 10] = [
    "eax", "ebx", "ecx", "edx", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d",
];
const R16: [&str; 10] = [
    "ax", "bx", "cx", "dx", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w",
];
const R8: [&str; 10] = [
    "al", "bl", "cl", "dl", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b",
];
const ALU: [&str; 9] = [
    "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test",
];
const SHIFTS: [&str; 7] = ["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"];
const CC: [&str; 16] = [
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
];
/// The data area (two pages) and where the results go.
const DATA: u64 = 0x20_0000;
const DATA_LEN: u64 = 0x2000;
const RESULTS: u64 = 0x20_3000;

struct Gen {
    rng: Rng,
    out: String,
    label: usize,
    subs: String,
}

impl Gen {
    fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str("        ");
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    /// A register of `size` bytes, and its name list.
    fn reg(&mut self, size: u32) -> &'static str {
        let list: &[&'static str; 10] = match size {
            1 => &R8,
            2 => &R16,
            4 => &R32,
            _ => &R64,
        };
        list[self.rng.below(10) as usize]
    }

    fn size(&mut self) -> (u32, &'static str) {
        *self
            .rng
            .pick(&[(1, "byte"), (2, "word"), (4, "dword"), (8, "qword")])
    }

    /// A memory operand of `size` bytes in the data area; now and then across its middle
    /// page boundary, or through an index, or RIP-relative into the program (`read_only`).
    fn mem(&mut self, size: u32, read_only: bool) -> String {
        match self.rng.below(8) {
            0 => format!(
                "[rbp + {:#x}]",
                0x1000 - self.rng.below(u64::from(size)) - 1
            ),
            1 => format!(
                "[rbp + r14*{} + {:#x}]",
                self.rng.pick(&[1, 2, 4, 8]),
                self.rng.below(0x1e00)
            ),
            2 if read_only => format!("[rel table + {:#x}]", self.rng.below(0x100)),
            _ => format!(
                "[rbp + {:#x}]",
                self.rng.below(DATA_LEN - u64::from(size) + 1)
            ),
        }
    }

    /// An immediate for an operand of `size` bytes, in decimal: 64-bit operations take a
    /// sign-extended 32-bit one.
    fn imm(&mut self, size: u32) -> i64 {
        let v = self.rng.next_u64();
        match (size, self.rng.below(3)) {
            (_, 0) => (v % 256) as i64 - 128,
            (1, _) => (v as i8).into(),
            (2, _) => (v as i16).into(),
            _ => (v as i32).into(),
        }
    }

    /// A register other than the RCX family (which a loop or a shift by CL holds).
    fn reg_not_c(&mut self, size: u32) -> &'static str {
        let list: &[&'static str; 10] = match size {
            1 => &R8,
            2 => &R16,
            4 => &R32,
            _ => &R64,
        };
        list[*self.rng.pick(&[0usize, 1, 3, 4, 5, 6, 7, 8, 9])]
    }

    /// A flag producer whose flags the manuals define entirely (for a consumer after it).
    fn defined_producer(&mut self) {
        let (size, _) = self.size();
        let a = self.reg(size);
        let b = self.reg(size);
        let op = self
            .rng
            .pick(&["add", "sub", "cmp", "and", "or", "xor", "test", "neg"]);
        if *op == "neg" {
            self.line(format!("neg {a}"));
        } else {
            self.line(format!("{op} {a}, {b}"));
        }
    }

    fn string_op(&mut self) {
        let (size, name) = *self.rng.pick(&[(1, "b"), (2, "w"), (4, "d"), (8, "q")]);
        let n = self.rng.below(0x300 / size) + u64::from(self.rng.below(4) == 0);
        let span = n * size;
        let down = self.rng.below(4) == 0;
        let place = |rng: &mut Rng| {
            if down {
                DATA + span + rng.below(DATA_LEN - span - size)
            } else {
                DATA + rng.below(DATA_LEN - span - size)
            }
        };
        let si = place(&mut self.rng);
        let di = place(&mut self.rng);
        if down {
            self.line("std");
        }
        self.line(format!("mov rsi, {si:#x}"));
        self.line(format!("mov rdi, {di:#x}"));
        self.line(format!("mov ecx, {n}"));
        let op = match self.rng.below(8) {
            7 => format!("rep lods{name}"),
            0 => format!("rep movs{name}"),
            1 => format!("rep stos{name}"),
            2 => format!("repe cmps{name}"),
            3 => format!("repne scas{name}"),
            4 => format!("lods{name}"),
            5 => format!("stos{name}"),
            _ => format!("movs{name}"),
        };
        self.line(op);
        if down {
            self.line("cld");
        }
    }

    fn instruction(&mut self) {
        let (size, word) = self.size();
        let a = self.reg(size);
        let b = self.reg(size);
        match self.rng.below(24) {
            0..=2 => {
                let op = self.rng.pick(&ALU);
                self.line(format!("{op} {a}, {b}"));
            }
            3 => {
                let op = self.rng.pick(&ALU);
                let i = self.imm(size);
                self.line(format!("{op} {a}, {i}"));
            }
            4 => {
                let op = self.rng.pick(&ALU[..8]);
                let m = self.mem(size, true);
                self.line(format!("{op} {a}, {m}"));
            }
            5 => {
                let op = self.rng.pick(&ALU);
                let m = self.mem(size, false);
                if self.rng.below(2) == 0 {
                    self.line(format!("{op} {m}, {a}"));
                } else {
                    let i = self.imm(size);
                    self.line(format!("{op} {word} {m}, {i}"));
                }
            }
            6 => {
                let op = self.rng.pick(&["inc", "dec"]);
                if self.rng.below(2) == 0 {
                    self.line(format!("{op} {a}"));
                } else {
                    let m = self.mem(size, false);
                    self.line(format!("{op} {word} {m}"));
                }
            }
            7 => self.line(format!("mov {a}, {b}")),
            8 => {
                if size == 8 {
                    let i = self.rng.next_u64();
                    self.line(format!("mov {a}, {i:#x}"));
                } else {
                    let i = self.imm(size);
                    self.line(format!("mov {a}, {i}"));
                }
            }
            9 => {
                let m = self.mem(size, true);
                self.line(format!("mov {a}, {m}"));
            }
            10 => {
                let m = self.mem(size, false);
                if self.rng.below(2) == 0 {
                    self.line(format!("mov {m}, {a}"));
                } else {
                    let i = self.imm(size);
                    self.line(format!("mov {word} {m}, {i}"));
                }
            }
            11 => {
                let (op, src) = *self.rng.pick(&[
                    ("movzx", 1u32),
                    ("movzx", 2),
                    ("movsx", 1),
                    ("movsx", 2),
                    ("movsxd", 4),
                ]);
                let dst_size = if src == 4 {
                    8
                } else {
                    *self.rng.pick(&[4u32, 8]).max(&(src * 2))
                };
                let d = self.reg(dst_size);
                if self.rng.below(2) == 0 {
                    let s = self.reg(src);
                    self.line(format!("{op} {d}, {s}"));
                } else {
                    let w = ["", "byte", "word", "", "dword"][src as usize];
                    let m = self.mem(src, true);
                    self.line(format!("{op} {d}, {w} {m}"));
                }
            }
            12 => {
                let size = *self.rng.pick(&[2u32, 4, 8]);
                let d = self.reg(size);
                let x = self.reg(8);
                let y = self.reg(8);
                let s = self.rng.pick(&[1, 2, 4, 8]);
                let disp = self.rng.next_u64() as i32;
                self.line(format!("lea {d}, [{x} + {y}*{s} + {disp}]"));
            }
            13 => {
                let op = self.rng.pick(&SHIFTS);
                // Counts below the operand size: CF is then defined for every shift.
                let count = 1 + self.rng.below(u64::from(size * 8 - 1));
                if self.rng.below(2) == 0 {
                    self.line(format!("{op} {a}, {count}"));
                } else {
                    let a = self.reg_not_c(size);
                    self.line(format!("mov ecx, {count}"));
                    self.line(format!("{op} {a}, cl"));
                }
            }
            14 => {
                let size = *self.rng.pick(&[2u32, 4, 8]);
                let d = self.reg(size);
                let s = self.reg(size);
                match self.rng.below(3) {
                    0 => self.line(format!("imul {d}, {s}")),
                    1 => {
                        let i = self.rng.below(0x10000) as i16;
                        self.line(format!("imul {d}, {s}, {i}"));
                    }
                    _ => {
                        let m = self.mem(size, true);
                        self.line(format!("imul {d}, {m}"));
                    }
                }
            }
            15 => {
                self.defined_producer();
                let cc = self.rng.pick(&CC);
                match self.rng.below(3) {
                    0 => {
                        let r = self.reg(1);
                        self.line(format!("set{cc} {r}"));
                    }
                    1 => {
                        let size = *self.rng.pick(&[2u32, 4, 8]);
                        let d = self.reg(size);
                        if self.rng.below(2) == 0 {
                            let s = self.reg(size);
                            self.line(format!("cmov{cc} {d}, {s}"));
                        } else {
                            let m = self.mem(size, true);
                            self.line(format!("cmov{cc} {d}, {m}"));
                        }
                    }
                    _ => {
                        self.label += 1;
                        let l = self.label;
                        self.line(format!("j{cc} .skip{l}"));
                        self.line(format!("add {a}, {b}"));
                        self.out.push_str(&format!(".skip{l}:\n"));
                    }
                }
            }
            16 => {
                let x = self.reg(8);
                let y = self.reg(8);
                let z = self.reg(8);
                self.line(format!("push {x}"));
                self.line(format!("push {y}"));
                self.line(format!("pop {z}"));
                self.line(format!("pop {x}"));
            }
            17 => {
                self.label += 1;
                let l = self.label;
                self.line(format!("call fn{l}"));
                let x = self.reg(8);
                let y = self.reg(8);
                writeln!(self.subs, "fn{l}:   xor {x}, {y}\n        ret").unwrap();
            }
            18 | 19 => self.string_op(),
            20 => {
                self.label += 1;
                let l = self.label;
                let n = 1 + self.rng.below(20);
                let a = self.reg_not_c(size);
                let b = self.reg_not_c(size);
                self.line(format!("mov ecx, {n}"));
                self.out.push_str(&format!(".loop{l}:\n"));
                self.line(format!("add {a}, {b}"));
                self.line(format!("loop .loop{l}"));
            }
            21 => {
                // Instructions the general path executes, between fast ones.
                let op = self.rng.pick(&["neg", "not", "bswap", "xchg", "bt"]);
                let size = if *op == "bswap" { 8 } else { size };
                let a = self.reg(size);
                let b = self.reg(size);
                match *op {
                    "xchg" => self.line(format!("xchg {a}, {b}")),
                    "bt" if size > 1 => self.line(format!("bt {a}, {b}")),
                    "bt" => self.line(format!("neg {a}")),
                    _ => self.line(format!("{op} {a}")),
                }
            }
            22 => {
                let i = self.rng.below(16);
                self.line(format!("mov r14d, {i}"));
            }
            _ => {
                self.label += 1;
                let l = self.label;
                self.line(format!("jmp .over{l}"));
                self.line(format!("add {a}, {b}"));
                self.out.push_str(&format!(".over{l}:\n"));
            }
        }
    }
}

/// A random program: registers and the data area from the seed, a body run three times,
/// then registers, five flags and a checksum of the data area printed in hex.
fn program(seed: u64, body_len: usize) -> String {
    let mut g = Gen {
        rng: Rng::new(seed),
        out: String::new(),
        label: 0,
        subs: String::new(),
    };
    g.out.push_str("        bits 64\n        org 0x100000\n");
    g.line("mov rsp, 0x90000");
    g.line("mov rsi, table");
    g.line(format!("mov rdi, {DATA:#x}"));
    g.line(format!("mov ecx, {DATA_LEN:#x}"));
    g.line("rep movsb");
    for r in [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    ] {
        let v = g.rng.next_u64();
        g.line(format!("mov {r}, {v:#x}"));
    }
    g.line(format!("mov rbp, {DATA:#x}"));
    g.line("xor r14d, r14d");
    g.line("mov r15d, 3");
    g.out.push_str("top:\n");
    for _ in 0..body_len {
        g.instruction();
    }
    g.line("dec r15d");
    g.line("jnz top");
    // The results: registers, then flags of a last (defined) ADD, then the checksum.
    g.line("add rax, rbx");
    g.line(format!("mov r15, {RESULTS:#x}"));
    for (n, r) in [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14",
    ]
    .iter()
    .enumerate()
    {
        g.line(format!("mov [r15 + {}], {r}", n * 8));
    }
    for (n, cc) in ["o", "c", "z", "s", "p"].iter().enumerate() {
        g.line(format!("set{cc} byte [r15 + {}]", 14 * 8 + n));
    }
    g.out.push_str(&format!(
        "        mov rsi, {DATA:#x}
        mov ecx, {:#x}
        xor eax, eax
sum:    add rax, [rsi]
        rol rax, 5
        add rsi, 8
        loop sum
        mov [r15 + 15 * 8], rax
        mov rsi, r15
        mov r12d, 16
each:   mov rdx, [rsi]
        mov ecx, 16
nibble: rol rdx, 4
        mov eax, edx
        and eax, 15
        mov al, [hex + rax]
        out 0xe9, al
        loop nibble
        mov al, 10
        out 0xe9, al
        add rsi, 8
        dec r12d
        jnz each
        xor eax, eax
        out 0xf4, al
{}hex:    db \"0123456789abcdef\"
table:
",
        DATA_LEN / 8,
        g.subs
    ));
    for _ in 0..DATA_LEN / 16 {
        let bytes: Vec<String> = (0..16)
            .map(|_| format!("{:#04x}", g.rng.below(256)))
            .collect();
        g.line(format!("db {}", bytes.join(", ")));
    }
    g.out
}

struct Run {
    stdout: String,
    stats: String,
}

fn run(path: &PathBuf, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["run", "--cpl", "3", "--stats", "--timeout", "20"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{} {args:?}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    Run {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stats: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn counter(stats: &str, name: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {stats}"))
}

#[test]
fn random_programs_print_what_the_processor_prints_on_both_paths() {
    let kvm = common::kvm_usable("the fast path against the processor");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fast_path");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut retired, mut fast) = (0, 0);
    for seed in 1..=24u64 {
        let source = program(seed, 120);
        let path = dir.join(format!("random{seed}.asm"));
        std::fs::write(&path, &source).unwrap();
        let quick = run(&path, &[]);
        let general = run(&path, &["--general-path"]);
        assert_eq!(
            quick.stdout.lines().count(),
            16,
            "{}: {}",
            path.display(),
            quick.stdout
        );
        assert_eq!(
            quick.stdout,
            general.stdout,
            "{}: the fast path and the general path differ",
            path.display()
        );
        assert_eq!(
            counter(&quick.stats, "instructions_retired"),
            counter(&general.stats, "instructions_retired"),
            "{}",
            path.display()
        );
        assert_eq!(counter(&general.stats, "fast_path_instructions"), 0);
        retired += counter(&quick.stats, "instructions_retired");
        fast += counter(&quick.stats, "fast_path_instructions");
        if kvm {
            let truth = run(&path, &["--backend", "kvm"]);
            assert_eq!(
                quick.stdout,
                truth.stdout,
                "{}: the software CPU (left) and the processor (right) differ",
                path.display()
            );
        }
    }
    // The programs exercise the fast path, not only the general one.
    assert!(
        fast * 10 > retired * 9,
        "only {fast} of {retired} instructions ran on the fast path"
    );
    common::note(&format!(
        "24 random programs: {retired} instructions, {fast} of them on the fast path"
    ));
}

/// Two software CPUs, one with the fast path and one without, loaded with the same program.
fn pair(source: &str) -> (x86lab_emulator::Cpu, x86lab_emulator::Cpu, Vec<u64>) {
    use x86lab::load::{load, LoadOptions, Mode};
    use x86lab_emulator::{Cpu, MemoryLayout};
    let a = x86lab_firmware::asm::assemble_str(source, std::path::Path::new("random.asm"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let opts = LoadOptions {
        mode: Some(Mode::Long),
        load: Some(a.origin),
        user: true,
    };
    let mut fast = Cpu::new(MemoryLayout::default()).unwrap();
    let mut general = Cpu::new(MemoryLayout::default()).unwrap();
    general.set_fast_path(false);
    load(&mut fast, &a.bytes, &opts).unwrap();
    load(&mut general, &a.bytes, &opts).unwrap();
    let addresses = a
        .listing
        .iter()
        .filter(|l| !l.bytes.is_empty())
        .map(|l| l.address)
        .collect();
    (fast, general, addresses)
}

fn same_machine(a: &mut x86lab_emulator::Cpu, b: &mut x86lab_emulator::Cpu, what: &str) {
    use x86lab_emulator::Machine;
    assert_eq!(a.state().unwrap(), b.state().unwrap(), "{what}: state");
    assert_eq!(a.instructions_retired(), b.instructions_retired(), "{what}");
    let mut x = vec![0u8; DATA_LEN as usize];
    let mut y = vec![0u8; DATA_LEN as usize];
    a.memory().read(DATA, &mut x);
    b.memory().read(DATA, &mut y);
    assert!(x == y, "{what}: the data area differs");
}

#[test]
fn runs_cut_short_by_a_count_or_a_breakpoint_stop_where_the_general_path_stops() {
    use x86lab_emulator::{Event, Machine, RunLimits};
    for seed in 100..106u64 {
        let source = program(seed, 80);
        // An instruction budget that ends anywhere: inside blocks, inside REP strings.
        let (mut fast, mut general, _) = pair(&source);
        let mut k = 1u64;
        loop {
            let limits = RunLimits {
                max_instructions: Some(k),
                ..RunLimits::default()
            };
            let a = fast.run(&limits).unwrap();
            let b = general.run(&limits).unwrap();
            assert_eq!(a, b, "seed {seed}, budget {k}");
            same_machine(&mut fast, &mut general, &format!("seed {seed}, budget {k}"));
            if a != Event::LimitReached(x86lab_emulator::Limit::Instructions) {
                break;
            }
            k = k * 7 % 1013 + 1;
        }
        // Breakpoints on every ninth instruction of the program.
        let (mut fast, mut general, addresses) = pair(&source);
        let limits = RunLimits {
            breakpoints: addresses.iter().copied().step_by(9).collect(),
            ..RunLimits::default()
        };
        let mut stops = 0;
        loop {
            let a = fast.run(&limits).unwrap();
            let b = general.run(&limits).unwrap();
            assert_eq!(a, b, "seed {seed}, stop {stops}");
            same_machine(
                &mut fast,
                &mut general,
                &format!("seed {seed}, stop {stops}"),
            );
            if !matches!(a, Event::Breakpoint { .. }) {
                break;
            }
            stops += 1;
        }
        assert!(stops > 20, "seed {seed}: only {stops} breakpoints were met");
    }
}

#[test]
fn a_breakpoint_on_a_rep_instruction_stops_once_before_its_first_iteration() {
    // SDM Vol. 3, 17.3.1.1: between the iterations of a REP string instruction the
    // processor keeps RF set, which suppresses instruction breakpoints; the instruction
    // stops once, before it begins. Both paths of the software CPU behave so.
    use x86lab_emulator::{Event, Machine, RunLimits};
    let source = "
        bits 64
        org 0x100000
        mov rdi, 0x200000
        mov ecx, 5
        mov al, 0x55
        rep stosb
        mov ecx, 3
        rep stosb
        xor eax, eax
        out 0xf4, al
";
    let (mut fast, mut general, addresses) = pair(source);
    let reps = vec![addresses[3], addresses[5]];
    for cpu in [&mut fast, &mut general] {
        let limits = RunLimits {
            breakpoints: reps.clone(),
            ..RunLimits::default()
        };
        let mut events = Vec::new();
        loop {
            let e = cpu.run(&limits).unwrap();
            events.push(e.clone());
            if !matches!(e, Event::Breakpoint { .. }) {
                break;
            }
        }
        assert_eq!(
            events,
            vec![
                Event::Breakpoint { address: reps[0] },
                Event::Breakpoint { address: reps[1] },
                Event::ExitRequested { status: 0 }
            ]
        );
        assert_eq!(cpu.instructions_retired(), Some(3 + 5 + 1 + 3 + 2));
    }
}

#[test]
fn flags_a_later_instruction_overwrites_are_still_there_when_a_fault_comes_between() {
    // A loop: ADD's flags are written again by the SUB two instructions on, so inside a
    // block the fast path may skip computing them — but only because nothing between can
    // fault. Here the MOV between faults on the second time round (#PF above the 4 GiB
    // identity map), when the loop runs as a block, and the handler must see that ADD's
    // flags in the pushed RFLAGS: OF SF AF PF for 7FFF...F + 1 (SDM, ADD), the value
    // tests/case_files/long_user_add_overflow.json checks on the processor.
    //   again: add rax, rbx / mov rcx, [rdx] / sub r8, rsi / add rdx, r9 / jmp again
    let case: x86lab::case_file::Case = serde_json::from_str(
        r#"{ "name": "add, a mov that faults the second time, sub", "mode": "long", "cpl": 3,
             "initial": { "regs": { "rax": "0x7ffffffffffffffe", "rbx": "0x1",
                                    "rdx": "0x200000", "r9": "0xffe00000",
                                    "rip": "0x100000", "rsp": "0x200000" },
                          "memory": [ { "addr": "0x100000",
                                        "bytes": "4801d8 488b0a 4929f0 4c01ca ebf2" } ] } }"#,
    )
    .unwrap();
    let mut outcomes = Vec::new();
    for fast in [true, false] {
        let mut cpu = x86lab_emulator::Cpu::new(x86lab_emulator::MemoryLayout::default()).unwrap();
        cpu.set_fast_path(fast);
        outcomes.push(x86lab::case_file::run(&mut cpu, &case).unwrap());
    }
    for o in &outcomes {
        let f = o.fault.as_ref().expect("the MOV faults");
        assert_eq!((f.vector, f.rip), (14, 0x100003));
        assert_eq!(f.rflags & 0x8d5, 0x894, "{:#x}", f.rflags);
    }
    assert_eq!(outcomes[0].state, outcomes[1].state);
    if common::kvm_usable("the faulting loop on the processor") {
        let mut kvm =
            x86lab_kvm::KvmMachine::new(x86lab_emulator::MemoryLayout::default()).unwrap();
        let o = x86lab::case_file::run(&mut kvm, &case).unwrap();
        // The status flags, vector, error code and RIP (IOPL is the environment's: this
        // host's KVM keeps user mode at IOPL 0).
        let key = |f: &x86lab::case_file::Fault| (f.vector, f.error_code, f.rip, f.rflags & 0x8d5);
        assert_eq!(
            o.fault.as_ref().map(key),
            outcomes[0].fault.as_ref().map(key),
            "the processor (left) and the software CPU"
        );
    }
}

#[test]
fn non_canonical_addresses_fault_in_blocks_as_on_the_processor() {
    // Loops whose memory operand leaves the canonical range on the second time round,
    // inside a block: a MOV through RDX raises #GP(0), a PUSH with RSP there #SS(0)
    // (SDM Vol. 1, 3.3.7.1), at the instruction, with nothing done before (the TLB holds
    // only canonical pages, and the fast path walks none for such an address).
    //   again: mov rcx, [rdx] / add rdx, r9 / jmp again
    //   again: push rax / add rsp, r9 / jmp again
    let cases = [
        (
            "mov through a non-canonical address",
            r#""rdx": "0x200000", "r9": "0x7fffffe00000", "rsp": "0x200000""#,
            "488b0a 4c01ca ebf8",
            (13, 0x100000),
        ),
        (
            "push with a non-canonical stack pointer",
            r#""r9": "0x7fffffe00010", "rsp": "0x200000""#,
            "50 4c01cc ebfa",
            (12, 0x100000),
        ),
    ];
    for (name, regs, bytes, (vector, rip)) in cases {
        let case: x86lab::case_file::Case = serde_json::from_str(&format!(
            r#"{{ "name": "{name}", "mode": "long", "cpl": 3,
                 "initial": {{ "regs": {{ {regs}, "rip": "0x100000" }},
                              "memory": [ {{ "addr": "0x100000", "bytes": "{bytes}" }} ] }} }}"#
        ))
        .unwrap();
        let mut outcomes = Vec::new();
        for fast in [true, false] {
            let mut cpu =
                x86lab_emulator::Cpu::new(x86lab_emulator::MemoryLayout::default()).unwrap();
            cpu.set_fast_path(fast);
            outcomes.push(x86lab::case_file::run(&mut cpu, &case).unwrap());
        }
        let key = |f: &x86lab::case_file::Fault| (f.vector, f.error_code, f.rip);
        let f = outcomes[0].fault.as_ref().expect(name);
        assert_eq!(key(f), (vector, 0, rip), "{name}");
        assert_eq!(
            outcomes[0].state, outcomes[1].state,
            "{name}: the two paths"
        );
        assert_eq!(
            outcomes[0].fault.as_ref().map(key),
            outcomes[1].fault.as_ref().map(key)
        );
        if common::kvm_usable("non-canonical faults on the processor") {
            let mut kvm =
                x86lab_kvm::KvmMachine::new(x86lab_emulator::MemoryLayout::default()).unwrap();
            let o = x86lab::case_file::run(&mut kvm, &case).unwrap();
            assert_eq!(
                o.fault.as_ref().map(key),
                Some(key(f)),
                "{name}: the processor (left) and the software CPU"
            );
        }
    }
}
