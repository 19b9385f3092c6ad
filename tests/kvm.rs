//! The KVM backend against the software CPU.
//!
//! - Every boot and system program of tests/programs runs under `x86lab run --backend kvm`
//!   and must print exactly what it prints under the emulator (which its `.expected` file
//!   holds, from QEMU) and end with the same exit status and the same final state (all of
//!   `--state-out` but the TSC, which counts time on KVM and instructions in the emulator).
//! - A sequence is single-stepped on both backends: the same RIP and RCX after every step.
//!
//! These tests need /dev/kvm. Where it is not usable they print why and pass, unless
//! `X86LAB_REQUIRE_KVM=1` (set by `.ci/run`), which makes that a failure.
//!
//! On hosts whose KVM runs without VT-x/AMD-V (PVM, as on this project's build machines),
//! real-mode, 32-bit and CPL 0 code is run by the host kernel's instruction emulator, which
//! does not emulate every instruction, and paravirtual details change what SYSCALL and
//! compatibility mode do. [`pvm_limitation`] lists, per program, what such a host does
//! instead; the test checks that exactly that happens (so a change of the host is noticed)
//! and prints the limitation. On a hardware-assisted host every program must match.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use x86lab_emulator::{Cpu, CpuState, Event, Machine, MemoryLayout};
use x86lab_kvm::{KvmMachine, Regime};

mod common;

use common::{first_difference, note, skip, tool_available};

/// The regime of this host's KVM, if KVM can be used (see `common::kvm_usable`).
fn kvm_usable(what: &str) -> Option<Regime> {
    common::kvm_usable(what).then(Regime::detect)
}

/// What a host without hardware virtualization (PVM) does with a program, if not what
/// the emulator does: (how the run ends, the limitation in words).
fn pvm_limitation(suite: &str, name: &str) -> Option<(Ending, &'static str)> {
    use Ending::*;
    Some(match (suite, name) {
        ("boot", "bcd") => (
            HostFailure("instruction bytes 27"),
            "the host kernel's emulator cannot emulate DAA",
        ),
        ("boot", "loops_stack") => (
            HostFailure("instruction bytes c8"),
            "the host kernel's emulator cannot emulate ENTER",
        ),
        ("boot", "int_soft") => (
            TimesOut,
            "INT 80h in real mode never completes (PVM keeps re-entering it)",
        ),
        ("system", "debug") => (
            HostFailure("instruction bytes cc"),
            "the host's emulator ignores the MOV SS shadow for TF and reports no data \
             breakpoint, and INT3 at 64-bit CPL 0 is an emulation failure",
        ),
        ("system", "descriptors") => (
            HostFailure("instruction bytes 63"),
            "the host kernel's emulator cannot emulate ARPL",
        ),
        ("system", "modes") => (
            HostFailure("instruction bytes cf"),
            "the host kernel's emulator cannot emulate IRETD in protected mode",
        ),
        ("system", "paging") => (
            HostFailure("instruction bytes cf"),
            "with 32-bit paging (CR4.PSE) nothing runs as on hardware after CR0.PG is set \
             (an exception follows at once), and IRETD in protected mode cannot be emulated",
        ),
        ("system", "protected") => (
            HostFailure("instruction bytes 0f 02"),
            "the host kernel's emulator cannot emulate LAR",
        ),
        ("system", "gates64") => (
            TripleFault,
            "compatibility mode at CPL 3 (IRETQ to a 32-bit code segment) ends in a triple fault",
        ),
        ("system", "user") => (
            TripleFault,
            "SYSCALL does not enter the guest kernel at CPL 0 (PVM reserves it for its \
             paravirtual guests), so the kernel's OUT faults at CPL 3 and the program \
             triple-faults",
        ),
        _ => return None,
    })
}

/// How a run on a limited host ends.
#[derive(Debug)]
enum Ending {
    /// `Event::HostFailure` naming these instruction bytes (exit status 126).
    HostFailure(&'static str),
    /// Still running at the timeout (exit status 124).
    TimesOut,
    /// KVM_EXIT_SHUTDOWN (exit status 125).
    TripleFault,
}

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

fn assemble(suite: &str, name: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kvm");
    fs::create_dir_all(&out).unwrap();
    let bin = out.join(format!("{suite}-{name}.bin"));
    let o = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg("-i")
        .arg(format!("{}/", programs_dir().join(suite).display()))
        .arg("-i")
        .arg(format!("{}/", programs_dir().join("boot").display()))
        .arg("-o")
        .arg(&bin)
        .arg(programs_dir().join(suite).join(format!("{name}.asm")))
        .output()
        .expect("cannot run nasm");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    bin
}

fn x86lab_run(backend: &str, bin: &Path, state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args([
            "run",
            "--backend",
            backend,
            "--timeout",
            "20",
            "--state-out",
        ])
        .arg(state)
        .arg(bin)
        .output()
        .expect("cannot run x86lab")
}

/// The state without the TSC (time on KVM, instructions in the emulator) and without the
/// six status flags, which the program's last arithmetic instruction may leave undefined
/// (they are compared, and a difference reported, separately).
fn comparable(path: &Path) -> CpuState {
    let mut s = CpuState::from_json(&fs::read_to_string(path).unwrap()).unwrap();
    s.tsc = 0;
    s.rflags &= !x86lab_emulator::state::flags::STATUS;
    s
}

fn status_flags(path: &Path) -> u64 {
    let s = CpuState::from_json(&fs::read_to_string(path).unwrap()).unwrap();
    s.rflags & x86lab_emulator::state::flags::STATUS
}

fn programs(suite: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(programs_dir().join(suite))
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".asm").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

fn compare_suite(suite: &str) {
    let Some(regime) = kvm_usable(&format!("KVM {suite} programs")) else {
        return;
    };
    if !tool_available("nasm", "-v") {
        skip(&format!(
            "KVM {suite} programs: nasm is not on PATH (scripts/setup.sh installs it)"
        ));
        return;
    }
    let pvm = matches!(&regime, Regime::SoftwareOnly { module: Some(m) } if m == "kvm_pvm");
    let mut failures = Vec::new();
    for name in programs(suite) {
        let bin = assemble(suite, &name);
        let dir = bin.parent().unwrap().to_path_buf();
        let (es, ks) = (
            dir.join(format!("{name}.emu.json")),
            dir.join(format!("{name}.kvm.json")),
        );
        let emu = x86lab_run("emulator", &bin, &es);
        let kvm = x86lab_run("kvm", &bin, &ks);
        let stderr = String::from_utf8_lossy(&kvm.stderr);
        if let (true, Some((ending, why))) = (pvm, pvm_limitation(suite, &name)) {
            let ok = match ending {
                Ending::HostFailure(bytes) => {
                    kvm.status.code() == Some(126) && stderr.contains(bytes)
                }
                Ending::TimesOut => kvm.status.code() == Some(124),
                Ending::TripleFault => kvm.status.code() == Some(125),
            };
            if ok {
                let agree = if emu.stdout.starts_with(&kvm.stdout) {
                    "the output up to there matches the emulator's".to_string()
                } else {
                    first_difference(&emu.stdout, &kvm.stdout)
                };
                note(&format!(
                    "KVM {suite}/{name}: host limitation (kvm_pvm, no VT-x/AMD-V), checked: \
                     {why}; {agree}"
                ));
            } else {
                failures.push(format!(
                    "{suite}/{name}: expected the known kvm_pvm limitation ({ending:?}: {why}), \
                     got exit status {:?}, stderr: {stderr}\n{}",
                    kvm.status.code(),
                    first_difference(&emu.stdout, &kvm.stdout)
                ));
            }
            continue;
        }
        if kvm.stdout != emu.stdout || kvm.status.code() != emu.status.code() {
            failures.push(format!(
                "{suite}/{name}: exit status kvm {:?}, emulator {:?}; {}\nkvm stderr: {stderr}",
                kvm.status.code(),
                emu.status.code(),
                first_difference(&emu.stdout, &kvm.stdout)
            ));
            continue;
        }
        let (e, k) = (comparable(&es), comparable(&ks));
        let (ef, kf) = (status_flags(&es), status_flags(&ks));
        if ef != kf {
            note(&format!(
                "KVM {suite}/{name}: the final status flags differ (emulator {ef:#x}, KVM \
                 {kf:#x}); the program's last arithmetic instruction leaves some undefined"
            ));
        }
        if e != k {
            failures.push(format!(
                "{suite}/{name}: the final states differ\n--- emulator\n{}\n--- kvm\n{}",
                e.to_json(),
                k.to_json()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn boot_programs_match_the_emulator() {
    compare_suite("boot");
}

#[test]
fn system_programs_match_the_emulator() {
    compare_suite("system");
}

/// Real-mode code at 7C00h: arithmetic, a REP MOVSB of 3 bytes, an OUT, a jump, HLT.
const STEP_CODE: &[u8] = &[
    0xb8, 0x05, 0x00, // mov ax, 5
    0x83, 0xc0, 0x03, // add ax, 3
    0xbe, 0x00, 0x80, // mov si, 0x8000
    0xbf, 0x00, 0x81, // mov di, 0x8100
    0xb9, 0x03, 0x00, // mov cx, 3
    0xfc, // cld
    0xf3, 0xa4, // rep movsb
    0xb0, 0x78, // mov al, 'x'
    0xe6, 0xe9, // out 0xe9, al
    0xeb, 0x00, // jmp short $+2
    0xf4, // hlt
];

/// (RIP, RCX, event) after each step until the machine halts.
fn step_trace(m: &mut dyn Machine) -> Vec<(u64, u64, Event)> {
    m.set_state(&CpuState::real_mode(0, 0x7c00)).unwrap();
    m.memory_mut().load(0x7c00, STEP_CODE).unwrap();
    m.memory_mut().load(0x8000, b"abc").unwrap();
    let mut trace = Vec::new();
    for _ in 0..40 {
        let e = m.step().unwrap();
        let s = m.state().unwrap();
        let halted = matches!(e, Event::Halted { .. });
        trace.push((s.rip, s.gpr[1] & 0xffff, e));
        if halted {
            break;
        }
    }
    trace
}

#[test]
fn single_steps_match_the_emulator() {
    if kvm_usable("KVM single-step").is_none() {
        return;
    }
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    let k = step_trace(&mut kvm);
    let e = step_trace(&mut cpu);
    // The emulator: one instruction per step, one iteration per step of REP MOVSB (RIP
    // stays on it, CX counts down), HLT as the last step.
    assert_eq!(e.len(), 13, "{e:?}");
    assert_eq!(
        &e[6..9].iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
        &[(0x7c10, 2), (0x7c10, 1), (0x7c12, 0)]
    );
    assert_eq!(
        k, e,
        "KVM (left) and the emulator (right) stepped differently"
    );
    assert_eq!(kvm.devices().output().take(), b"x");
    let mut copied = [0u8; 3];
    kvm.memory().read(0x8100, &mut copied);
    assert_eq!(&copied, b"abc");
}

/// Runs STEP_CODE with a breakpoint on the OUT (7C14h): the run stops before it, then a
/// second run goes on to the HLT.
fn breakpoint_trace(m: &mut dyn Machine) -> (Event, u64, Event) {
    m.set_state(&CpuState::real_mode(0, 0x7c00)).unwrap();
    m.memory_mut().load(0x7c00, STEP_CODE).unwrap();
    let limits = x86lab_emulator::RunLimits {
        breakpoints: vec![0x7c14],
        max_time: Some(std::time::Duration::from_secs(10)),
        ..x86lab_emulator::RunLimits::default()
    };
    let first = m.run(&limits).unwrap();
    let rip = m.state().unwrap().rip;
    let second = m.run(&limits).unwrap();
    (first, rip, second)
}

#[test]
fn breakpoints_stop_before_the_instruction_on_both_backends() {
    if kvm_usable("KVM breakpoints").is_none() {
        return;
    }
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    let e = breakpoint_trace(&mut cpu);
    assert_eq!(e.0, Event::Breakpoint { address: 0x7c14 });
    assert_eq!(e.1, 0x7c14, "stopped before the OUT");
    assert!(matches!(e.2, Event::Halted { .. }), "then ran on: {}", e.2);
    assert_eq!(breakpoint_trace(&mut kvm), e);
    assert_eq!(kvm.devices().output().take(), b"x", "the OUT ran once");
}

#[test]
fn kvm_statistics_count_the_exits_of_a_run() {
    if kvm_usable("KVM statistics").is_none() {
        return;
    }
    // mov cx, 10 ; l: out 0xe9, al ; loop l ; hlt: ten I/O exits and one HLT exit, each
    // a VM exit to this process.
    let code = [0xb9, 0x0a, 0x00, 0xe6, 0xe9, 0xe2, 0xfc, 0xf4];
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    kvm.set_state(&CpuState::real_mode(0, 0x7c00)).unwrap();
    kvm.memory_mut().load(0x7c00, &code).unwrap();
    let before: std::collections::HashMap<String, u64> =
        kvm.statistics().unwrap().into_iter().collect();
    let e = kvm.run(&x86lab_emulator::RunLimits::default()).unwrap();
    assert!(matches!(e, Event::Halted { .. }), "{e}");
    let after: std::collections::HashMap<String, u64> =
        kvm.statistics().unwrap().into_iter().collect();
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!(delta("halt_exits"), 1, "{after:?}");
    assert!(delta("exits") >= 11, "{after:?}");
    assert_eq!(kvm.devices().output().take().len(), 10);
}

/// Loads an ELF the way `x86lab run` does.
fn load_elf(m: &mut dyn Machine, path: &Path) {
    let image = fs::read(path).unwrap();
    x86lab::load::load(m, &image, &x86lab::load::LoadOptions::default()).unwrap();
}

#[test]
fn a_compiled_program_steps_identically_for_thousands_of_instructions() {
    // The first 20000 instructions of a gcc-built program in 64-bit mode at CPL 0 (its
    // start-up code, calls, loops, string formatting), one step at a time on both
    // backends: after every step the general registers, RIP and every flag the executed
    // instruction defines must agree (iced-x86 says which flags it leaves undefined).
    if kvm_usable("KVM stepping a C program").is_none() {
        return;
    }
    let elf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kvm/step-program.elf");
    if !tool_available("gcc", "--version") {
        skip("KVM stepping a C program: gcc is not on PATH");
        return;
    }
    let c = programs_dir().join("c");
    let o = Command::new("gcc")
        .current_dir(&c)
        .args(["-m64", "-O2"])
        .args(common::GUEST_FLAGS)
        .args(["-T", "guest.ld", "-o"])
        .arg(&elf)
        .args(["crt0.S", "runtime.c", "formatting.c", "-lgcc"])
        .output()
        .expect("cannot run gcc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    load_elf(&mut kvm, &elf);
    load_elf(&mut cpu, &elf);
    for n in 0..20_000 {
        let before = cpu.state().unwrap();
        let mut bytes = [0u8; 15];
        cpu.memory().read(before.rip, &mut bytes);
        let insn = iced_x86::Decoder::with_ip(64, &bytes, before.rip, 0).decode();
        let undefined = u64::from(insn.rflags_undefined() & 0x3f);
        // iced's RflagsBits: OF=1 SF=2 ZF=4 AF=8 CF=0x10 PF=0x20.
        let undefined_mask = [
            (1, 1 << 11),
            (2, 1 << 7),
            (4, 1 << 6),
            (8, 1 << 4),
            (0x10, 1),
            (0x20, 1 << 2),
        ]
        .iter()
        .filter(|(b, _)| undefined & b != 0)
        .fold(0u64, |m, (_, f)| m | f);
        let (ek, ee) = (kvm.step().unwrap(), cpu.step().unwrap());
        let (k, e) = (kvm.state().unwrap(), cpu.state().unwrap());
        assert_eq!(
            (ek.clone(), k.rip, k.gpr, k.rflags & !undefined_mask),
            (ee.clone(), e.rip, e.gpr, e.rflags & !undefined_mask),
            "step {n} at {:#x} ({insn}): KVM (left) and the emulator (right) differ",
            before.rip
        );
        if ee != Event::Stepped {
            break;
        }
    }
    assert_eq!(kvm.devices().output().take(), cpu.devices().output().take());
}

/// 64-bit user-mode (CPL 3) code in the `x86lab run` long-mode environment, with the U/S
/// bit set on the boot area's identity map, and a TSS at 50000h whose I/O permission
/// bitmap allows every port (the patch-based step on PVM needs port E7h).
fn user_mode(m: &mut dyn Machine, code: &[u8]) {
    let mut s = x86lab::load::boot_state(m, x86lab::load::Mode::Long, 0x10_0000).unwrap();
    let (area, _) = x86lab::load::boot_area(MemoryLayout::default().ram_size);
    let mut set_user = |a: u64| {
        let v = m.memory().read_uint(a, 8);
        m.memory_mut().write_uint(a, 8, v | 4);
    };
    set_user(area);
    for g in 0..4 {
        set_user(area + 0x1000 + g * 8);
    }
    for e in 0..512 {
        set_user(area + 0x2000 + e * 8);
    }
    for seg in [&mut s.cs, &mut s.ss, &mut s.ds, &mut s.es] {
        seg.attributes |= 3 << 5;
        seg.selector |= 3;
    }
    s.gpr[4] = 0x20_0000;
    let mut tss = vec![0u8; 0x68 + 0x2001];
    tss[0x66..0x68].copy_from_slice(&0x68u16.to_le_bytes());
    *tss.last_mut().unwrap() = 0xff;
    m.memory_mut().load(0x5_0000, &tss).unwrap();
    s.tr = x86lab_emulator::Segment {
        selector: 0x38,
        base: 0x5_0000,
        limit: tss.len() as u32 - 1,
        attributes: x86lab_emulator::state::attr::TSS_BUSY,
    };
    m.memory_mut().load(0x10_0000, code).unwrap();
    m.memory_mut().load(0x10_1000, b"xyz").unwrap();
    m.set_state(&s).unwrap();
}

#[test]
fn user_mode_steps_match_the_emulator() {
    // On hosts without VT-x/AMD-V this is the patch-based step (machine.rs); elsewhere,
    // KVM's single-step. Branches taken and not taken, a loop, an indirect call and its
    // return, the stack, a REP MOVSB, PUSHF (whose image must show the real IOPL).
    let Some(regime) = kvm_usable("KVM user-mode stepping") else {
        return;
    };
    if !tool_available("nasm", "-v") {
        skip("KVM user-mode stepping: nasm is not on PATH");
        return;
    }
    // PVM runs user-mode code with the host's interrupts enabled, and a PUSHF executed
    // natively at CPL 3 stores IF = 1 whatever the guest's IF is.
    let pushf_shows_host_if = !regime.is_hardware_assisted();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kvm");
    fs::create_dir_all(&dir).unwrap();
    let src = dir.join("user-step.asm");
    fs::write(
        &src,
        "bits 64
        org 0x100000
        mov eax, 5
        add eax, 7
        cmp eax, 12
        je .t
        inc eax
.t:     mov ecx, 3
.l:     dec ecx
        jnz .l
        lea rbx, [rel f]
        call rbx
        push rax
        pop rdx
        mov rsi, 0x101000
        mov rdi, 0x101100
        mov ecx, 3
        rep movsb
        pushfq
        pop r8
        cmp eax, 99
        jne .u
        nop
.u:     mov r9, [rsp-8]
end:    jmp end
f:      inc eax
        ret
",
    )
    .unwrap();
    let bin = dir.join("user-step.bin");
    let o = Command::new("nasm")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let code = fs::read(&bin).unwrap();
    let end = 0x10_0000 + code.len() as u64 - 5; // jmp end (2), inc eax (2), ret (1)
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    user_mode(&mut kvm, &code);
    user_mode(&mut cpu, &code);
    let mut steps = 0;
    let mut noted = false;
    while cpu.state().unwrap().rip != end {
        let (ek, ee) = (kvm.step().unwrap(), cpu.step().unwrap());
        let (mut k, e) = (kvm.state().unwrap(), cpu.state().unwrap());
        // R8 and R9 receive the PUSHF image (by POP and by a load).
        for r in [8, 9] {
            if pushf_shows_host_if && k.gpr[r] != e.gpr[r] && k.gpr[r] == e.gpr[r] | 0x200 {
                if !noted {
                    note(
                        "KVM user-mode stepping: PUSHF at CPL 3 stored IF = 1 (kvm_pvm runs \
                         user code with interrupts on); the other bits are checked",
                    );
                    noted = true;
                }
                k.gpr[r] = e.gpr[r];
            }
        }
        assert_eq!(
            (ek, k.rip, k.gpr, k.rflags),
            (ee, e.rip, e.gpr, e.rflags),
            "step {steps}: KVM (left) and the emulator (right) differ"
        );
        steps += 1;
        assert!(steps < 100, "the program did not reach its end");
    }
    // 11 up to the loop's end, 4 for the call, 2 + 3 + 3 (REP MOVSB one iteration per
    // step) + 2 + 2 + 1.
    assert_eq!(steps, 28);
    // The stepped code never saw the patches: its code bytes are what nasm wrote.
    let mut now = vec![0u8; code.len()];
    kvm.memory().read(0x10_0000, &mut now);
    assert_eq!(now, code);
}

#[test]
fn both_backends_start_from_the_same_reset_state() {
    if kvm_usable("KVM reset state").is_none() {
        return;
    }
    let kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let cpu = Cpu::new(MemoryLayout::default()).unwrap();
    let (mut k, mut e) = (kvm.state().unwrap(), cpu.state().unwrap());
    (k.tsc, e.tsc) = (0, 0);
    assert_eq!(k, e, "KVM (left) and the emulator (right) at reset");
    assert_eq!(
        (k.cs.selector, k.cs.base, k.rip),
        (0xf000, 0xffff_0000, 0xfff0)
    );
}

#[test]
fn memory_outside_ram_is_an_open_bus_on_both_backends() {
    // In the long-mode environment (the low 4 GiB identity-mapped), a dword is written to
    // and read back from E0000000h, which is neither RAM (64 MiB) nor ROM (the top 256
    // KiB): the write is dropped and the read returns all-ones. A write into the ROM window
    // is dropped too.
    if kvm_usable("KVM open bus").is_none() {
        return;
    }
    #[rustfmt::skip]
    let code = [
        0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
        0xbe, 0x00, 0x00, 0x00, 0xe0, // mov esi, 0xe0000000
        0x89, 0x06,                   // mov [rsi], eax
        0x8b, 0x1e,                   // mov ebx, [rsi]
        0xbf, 0xf0, 0xff, 0xff, 0xff, // mov edi, 0xfffffff0
        0x89, 0x07,                   // mov [rdi], eax
        0x8b, 0x0f,                   // mov ecx, [rdi]
        0xf4,                         // hlt
    ];
    let run = |m: &mut dyn Machine| {
        let s = x86lab::load::boot_state(m, x86lab::load::Mode::Long, 0x10_0000).unwrap();
        m.memory_mut().load(0x10_0000, &code).unwrap();
        m.memory_mut().load(0xffff_fff0, &[0xaa; 4]).unwrap();
        m.set_state(&s).unwrap();
        let e = m
            .run(&x86lab_emulator::RunLimits {
                max_time: Some(std::time::Duration::from_secs(10)),
                ..Default::default()
            })
            .unwrap();
        assert!(matches!(e, Event::Halted { .. }), "{e}");
        let s = m.state().unwrap();
        (s.gpr[3], s.gpr[1])
    };
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    assert_eq!(run(&mut cpu), (0xffff_ffff, 0xaaaa_aaaa));
    assert_eq!(run(&mut kvm), (0xffff_ffff, 0xaaaa_aaaa));
}

#[test]
fn a_run_longer_than_its_time_limit_ends_with_the_wall_time_event() {
    // `jmp $` for ever: the watchdog thread must interrupt KVM_RUN once the deadline has
    // passed (it waits parked, and is unparked when a run ends early).
    if kvm_usable("the KVM time limit").is_none() {
        return;
    }
    let mut kvm = KvmMachine::new(MemoryLayout::default()).unwrap();
    kvm.set_state(&CpuState::real_mode(0, 0x7c00)).unwrap();
    kvm.memory_mut().load(0x7c00, &[0xeb, 0xfe]).unwrap();
    let limits = x86lab_emulator::RunLimits {
        max_time: Some(std::time::Duration::from_millis(100)),
        ..x86lab_emulator::RunLimits::default()
    };
    let event = kvm.run(&limits).unwrap();
    assert!(
        matches!(event, Event::LimitReached(x86lab_emulator::Limit::WallTime)),
        "{event:?}"
    );
}
