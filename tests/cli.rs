//! `x86lab run` as a user meets it: exit statuses, messages on bad input, the state file.

use std::path::PathBuf;
use std::process::{Command, Output};

fn write_program(name: &str, bytes: &[u8]) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn x86lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Bad input: exit status 1 and exactly one line on stderr, no panic, no backtrace.
fn assert_one_line_error(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert_eq!(e.lines().count(), 1, "expected one line, got: {e}");
    assert!(e.starts_with("x86lab: error: "), "{e}");
    assert!(e.contains(needle), "`{needle}` not in: {e}");
}

#[test]
fn a_missing_file_is_one_clear_line() {
    let o = x86lab(&["run", "/nonexistent/boot.bin"]);
    assert_one_line_error(&o, "cannot read `/nonexistent/boot.bin`");
}

#[test]
fn a_truncated_elf_is_refused() {
    // The first 64 bytes of an ELF64 header that promises program headers past the end.
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // little-endian
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    h[18] = 62; // EM_X86_64
    h[20] = 1;
    h[32] = 64; // e_phoff
    h[52] = 64; // e_ehsize
    h[54] = 56; // e_phentsize
    h[56] = 3; // e_phnum
    let p = write_program("truncated.elf", &h);
    let o = x86lab(&["run", p.to_str().unwrap()]);
    assert_one_line_error(&o, "cannot load");
}

#[test]
fn an_elf_for_another_machine_is_refused() {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16] = 2;
    h[18] = 183; // EM_AARCH64
    h[20] = 1;
    h[52] = 64;
    h[54] = 56;
    let p = write_program("arm.elf", &h);
    let o = x86lab(&["run", p.to_str().unwrap()]);
    assert_one_line_error(&o, "not x86");
}

#[test]
fn a_load_address_outside_ram_is_refused() {
    let p = write_program("tiny.bin", &[0xf4]);
    let o = x86lab(&["run", "--load", "0x7fffff0", p.to_str().unwrap()]);
    assert_one_line_error(&o, "does not fit in RAM");
    let o = x86lab(&["run", "--ram", "12Q", p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "clap rejects a bad size: {}",
        stderr(&o)
    );
}

#[test]
fn the_exit_port_sets_the_exit_status() {
    // mov al, 42 ; out 0xf4, al
    let p = write_program("exit42.bin", &[0xb0, 42, 0xe6, 0xf4]);
    let o = x86lab(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(42), "{}", stderr(&o));
}

#[test]
fn the_instruction_limit_ends_a_run_with_124() {
    // jmp $
    let p = write_program("spin.bin", &[0xeb, 0xfe]);
    let o = x86lab(&["run", "--max-instructions", "1000", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(124));
    assert!(
        stderr(&o).contains("instruction limit reached after 1000 instructions"),
        "{}",
        stderr(&o)
    );
    let o = x86lab(&["run", "--timeout", "0.2", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(124));
    assert!(stderr(&o).contains("time limit reached"), "{}", stderr(&o));
}

#[test]
fn pushing_with_sp_1_in_real_mode_shuts_the_processor_down() {
    // The SDM (PUSH, IA-32 compatibility): "If the stack pointer is 1 (SP = 1), the
    // processor shuts down." The push faults with #SS; delivering it faults again (#DF);
    // delivering #DF faults: a triple fault.
    // mov sp, 1 ; push ax
    let p = write_program("sp1.bin", &[0xbc, 0x01, 0x00, 0x50]);
    let o = x86lab(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("triple fault"), "{}", stderr(&o));
}

#[test]
fn an_unimplemented_instruction_is_named() {
    // movaps xmm0, xmm1: SSE, which this integer CPU does not implement.
    let p = write_program("sse.bin", &[0x0f, 0x28, 0xc1]);
    let o = x86lab(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(126));
    let e = stderr(&o);
    assert!(
        e.contains("#UD") && e.contains("movaps xmm0,xmm1") && e.contains("not implemented"),
        "{e}"
    );
}

#[test]
fn state_out_writes_the_final_state_as_json() {
    // mov ax, 0x1234 ; cli ; hlt
    let p = write_program("state.bin", &[0xb8, 0x34, 0x12, 0xfa, 0xf4]);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("state.json");
    let o = x86lab(&[
        "run",
        "--state-out",
        out.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = x86lab_emulator::CpuState::from_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(s.gpr[0], 0x1234);
    // HLT completes: RIP is past it (boot sector at 0x7c00, five bytes).
    assert_eq!(s.rip, 0x7c05);
    assert_eq!(s.gpr[2], 0x80, "DL holds the boot drive");
    let o = x86lab(&["run", "--state-out", "-", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"rax\": \"0x1234\""), "{text}");
}

#[test]
fn an_exception_without_an_idt_shuts_the_processor_down() {
    // ud2 in 64-bit mode, which `x86lab run` enters with IDTR.limit = 0. Delivering #UD
    // (vector 6) reads the 16-byte gate at IDT offset 6*16, beyond the limit: #GP with
    // error code 6*8 + 2 (IDT) + 1 (EXT) = 0x33. #UD is benign, so the #GP is delivered
    // next: offset 13*16 is beyond the limit too, #GP(13*8+3 = 0x6b). Two contributory
    // exceptions make a #DF, whose delivery (offset 8*16) fails with #GP(0x43): a triple
    // fault (SDM Vol. 3, "Interrupt 8—Double Fault Exception").
    let p = write_program("ud2.bin", &[0x0f, 0x0b]);
    let o = x86lab(&["run", "--mode", "long", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("#UD, #GP(0x33) while delivering it, #GP(0x6b) while delivering it: #DF, #GP(0x43) while delivering it; the first raised at rip 0x100000"),
        "{e}"
    );
}

#[test]
fn state_out_shows_the_system_state_of_the_documented_environments() {
    // README "x86lab run": long mode has the low 4 GiB identity-mapped, the page tables
    // and the GDT (08h 64-bit code, 10h data, 18h 32-bit code) in the top 1 MiB of RAM
    // (64 MiB by default: the area starts at 3F00000h, the GDT at +6000h), no IDT.
    // CR0 = PG WP NE ET PE, CR4 = PAE, EFER = LMA LME. The program: hlt.
    let p = write_program("hlt.bin", &[0xf4]);
    let o = x86lab(&[
        "run",
        "--mode",
        "long",
        "--state-out",
        "-",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = x86lab_emulator::CpuState::from_json(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(s.cr0, 0x8001_0031);
    assert_eq!(s.cr3, 0x3f0_0000);
    assert_eq!(s.cr4, 0x20);
    assert_eq!(s.efer, 0x500);
    assert_eq!((s.gdtr.base, s.gdtr.limit), (0x3f0_6000, 0x1f));
    assert_eq!(s.idtr.limit, 0);
    assert_eq!(s.cs.selector, 0x08);
    assert!(s.cs.is_64bit_code() && s.cs.dpl() == 0);
    assert_eq!((s.ss.selector, s.ds.selector), (0x10, 0x10));
    assert_eq!(s.rip, 0x10_0001, "HLT completed");
    // Protected mode: CS = 18h (32-bit code), paging off, EFER 0.
    let o = x86lab(&[
        "run",
        "--mode",
        "protected",
        "--state-out",
        "-",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = x86lab_emulator::CpuState::from_json(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!((s.cr0, s.cr4, s.efer), (0x31, 0, 0));
    assert_eq!(s.cs.selector, 0x18);
    assert!(s.cs.db() && !s.cs.long());
    assert_eq!(s.cs.limit, 0xffff_ffff);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `x86lab disasm big.bin | head`: once the reader has closed the pipe, the next write
    // fails. Like other Unix tools, x86lab is then ended by SIGPIPE, without a panic.
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let p = write_program("zeros.bin", &vec![0u8; 1 << 20]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["disasm", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(
        o.status.signal(),
        Some(libc_sigpipe()),
        "status {:?}, stderr: {e}",
        o.status
    );
}

/// SIGPIPE's number on Linux (x86 and most architectures), from signal(7).
fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn hlt_in_user_mode_faults() {
    // `--cpl 3` really starts at CPL 3: HLT is privileged (SDM Vol. 2, HLT: #GP(0) if the
    // CPL is not 0), and with no IDT the #GP ends in a triple fault (exit status 125).
    let p = write_program("hlt64.bin", &[0xf4]);
    let user = x86lab(&["run", "--mode", "long", "--cpl", "3", p.to_str().unwrap()]);
    assert_eq!(user.status.code(), Some(125), "stderr: {}", stderr(&user));
    let kernel = x86lab(&["run", "--mode", "long", p.to_str().unwrap()]);
    assert_eq!(kernel.status.code(), Some(0), "stderr: {}", stderr(&kernel));
    let real = x86lab(&["run", "--cpl", "3", p.to_str().unwrap()]);
    assert_one_line_error(&real, "64-bit programs only");
}

#[test]
fn bench_measures_the_workloads() {
    // A short run on the software CPU: a header, then one row per workload asked for, each
    // a positive number of MIPS.
    let o = x86lab(&[
        "bench",
        "--backend",
        "emulator",
        "--workload",
        "alu",
        "call",
        "--seconds",
        "0.05",
        "--repeats",
        "1",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    for w in ["alu", "call"] {
        let row = out
            .lines()
            .find(|l| l.starts_with(w))
            .unwrap_or_else(|| panic!("no row for {w}: {out}"));
        let mips: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(mips > 0.0, "{row}");
    }
    let bad = x86lab(&["bench", "--workload", "fib"]);
    assert_one_line_error(&bad, "there is no workload `fib`");
}
