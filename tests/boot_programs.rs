//! Boot programs run under `x86lab run`.
//!
//! Two suites, both booted like a PC boots a floppy (see tests/programs/boot/README.md):
//! - `tests/programs/boot`: real-mode boot-sector programs (arithmetic, strings, BCD,
//!   interrupts through the IVT);
//! - `tests/programs/system`: programs that go from real mode through protected mode into
//!   long mode and exercise the IDT, paging, privilege levels, system calls and the debug
//!   registers (see the comments at the top of each source for what they must print, and
//!   why, from the Intel SDM).
//!
//! Each `NAME.asm` is assembled with nasm into a flat binary, run with
//! `x86lab run --max-instructions 50000000 NAME.bin`, and its stdout is compared byte for
//! byte with `NAME.expected`. The expected files were produced by running the same
//! binaries under QEMU (`regen.sh` in each directory), not by x86lab. For the system
//! programs, the final state x86lab writes with `--state-out` is also compared with QEMU's
//! `info registers` at the same point (`NAME.state`).
//!
//! A program exits with status 0 (`cli; hlt`) unless its source has a line
//! `; x86lab-exit: N`. If nasm is not installed the tests print a note on stderr and pass
//! without running anything.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use x86lab_emulator::{CpuState, Segment};

mod common;

use common::{describe_status, first_difference, skip, tool_available};

const MAX_INSTRUCTIONS: &str = "50000000";

/// The programs of tests/programs/boot; each has its own #[test] below.
const BOOT: &[&str] = &[
    "arith_addsub",
    "bcd",
    "calls",
    "crc_fmt",
    "int_except",
    "int_soft",
    "loops_stack",
    "muldiv",
    "sieve",
    "strings",
    "uart_exit",
];

/// The programs of tests/programs/system.
const SYSTEM: &[&str] = &[
    "debug",
    "descriptors",
    "gates64",
    "modes",
    "paging",
    "protected",
    "return",
    "user",
];

fn suite_dir(suite: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(suite)
}

/// The exit status a program is designed to end with: the number on a line
/// `; x86lab-exit: N` of its source, or 0.
fn expected_exit_status(source: &str) -> i32 {
    source
        .lines()
        .find_map(|line| line.trim().strip_prefix("; x86lab-exit:"))
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad `; x86lab-exit:` line: {n:?}"))
        })
        .unwrap_or(0)
}

/// nasm's -i wants a trailing separator.
fn include_arg(dir: &Path) -> OsString {
    let mut include = OsString::from(dir.as_os_str());
    include.push("/");
    include
}

fn assemble(suite: &str, name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot_programs");
    fs::create_dir_all(&out_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_dir.display()));
    let bin = out_dir.join(format!("{suite}-{name}.bin"));
    // nasm looks for %include files relative to the current directory and the -i paths,
    // not the source's own; every suite uses lib.inc of tests/programs/boot.
    let out = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg("-i")
        .arg(include_arg(&suite_dir(suite)))
        .arg("-i")
        .arg(include_arg(&suite_dir("boot")))
        .arg("-o")
        .arg(&bin)
        .arg(suite_dir(suite).join(format!("{name}.asm")))
        .output()
        .expect("cannot run nasm");
    assert!(
        out.status.success(),
        "nasm failed on {name}.asm:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn report(name: &str, want_status: i32, expected: &[u8], run: &Output) -> String {
    format!(
        "boot program {name}: exit status {} (expected {want_status})\n{}\n\
         --- full stdout ---\n{}\n--- stderr ---\n{}",
        describe_status(run.status.code()),
        first_difference(expected, &run.stdout),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    )
}

/// Runs one program and checks its output and exit status; returns the final state.
fn run_program(suite: &str, name: &str) -> Option<CpuState> {
    if !tool_available("nasm", "-v") {
        skip(&format!(
            "boot program {suite}/{name}: nasm is not on PATH (scripts/setup.sh installs it)"
        ));
        return None;
    }
    let dir = suite_dir(suite);
    let source = fs::read_to_string(dir.join(format!("{name}.asm")))
        .unwrap_or_else(|e| panic!("cannot read {name}.asm: {e}"));
    let want_status = expected_exit_status(&source);
    let expected = fs::read(dir.join(format!("{name}.expected")))
        .unwrap_or_else(|e| panic!("cannot read {name}.expected: {e}"));
    let bin = assemble(suite, name);
    let state_path = bin.with_extension("json");
    let run = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .arg("run")
        .arg("--max-instructions")
        .arg(MAX_INSTRUCTIONS)
        .arg("--state-out")
        .arg(&state_path)
        .arg(&bin)
        .output()
        .expect("cannot run x86lab");
    if run.status.code() != Some(want_status) || run.stdout != expected {
        panic!("{}", report(name, want_status, &expected, &run));
    }
    let json = fs::read_to_string(&state_path)
        .unwrap_or_else(|e| panic!("--state-out wrote no {}: {e}", state_path.display()));
    Some(CpuState::from_json(&json).unwrap_or_else(|e| panic!("bad state JSON: {e}")))
}

fn run_boot_program(name: &str) {
    run_program("boot", name);
}

/// QEMU's `info registers`: for each name (RAX, CS, GDT, CR0, ...) its fields.
fn parse_qemu_registers(text: &str) -> HashMap<String, Vec<u64>> {
    let mut map = HashMap::new();
    for line in text.lines() {
        // "R8 =..." and "ES =0010 ..." have a space before '='.
        let line = line.replace(" =", "=");
        let mut tokens = line.split_whitespace().peekable();
        while let Some(tok) = tokens.next() {
            let Some((key, first)) = tok.split_once('=') else {
                continue;
            };
            let mut fields = Vec::new();
            if !first.is_empty() {
                fields.extend(u64::from_str_radix(first, 16).ok());
            }
            // Segments and descriptor tables continue with more hex fields.
            if matches!(
                key,
                "ES" | "CS" | "SS" | "DS" | "FS" | "GS" | "LDT" | "TR" | "GDT" | "IDT"
            ) {
                while let Some(v) = tokens.peek().and_then(|t| u64::from_str_radix(t, 16).ok()) {
                    fields.push(v);
                    tokens.next();
                }
            }
            if !fields.is_empty() {
                map.insert(key.to_string(), fields);
            }
        }
    }
    map
}

/// Compares x86lab's final state with QEMU's register dump; returns the differences.
fn compare_with_qemu(ours: &CpuState, qemu: &HashMap<String, Vec<u64>>) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |what: &str, got: u64, want: u64| {
        if got != want {
            diffs.push(format!("{what}: x86lab {got:#x}, QEMU {want:#x}"));
        }
    };
    let q = |k: &str| -> &Vec<u64> {
        qemu.get(k)
            .unwrap_or_else(|| panic!("QEMU's dump has no {k}"))
    };
    // QEMU prints the 64-bit registers in long mode, the 32-bit ones (EAX.., EIP, EFL)
    // otherwise.
    if qemu.contains_key("RAX") {
        for (i, name) in x86lab_emulator::state::GPR_NAMES.iter().enumerate() {
            check(name, ours.gpr[i], q(&name.to_uppercase())[0]);
        }
        check("rip", ours.rip, q("RIP")[0]);
        check("rflags", ours.rflags, q("RFL")[0]);
    } else {
        for (i, name) in x86lab_emulator::state::GPR_NAMES[..8].iter().enumerate() {
            let e = format!("E{}", name[1..].to_uppercase());
            check(&e, ours.gpr[i] & 0xffff_ffff, q(&e)[0]);
        }
        check("eip", ours.rip, q("EIP")[0]);
        check("eflags", ours.rflags, q("EFL")[0]);
    }
    check("cr0", ours.cr0, q("CR0")[0]);
    check("cr2", ours.cr2, q("CR2")[0]);
    check("cr3", ours.cr3, q("CR3")[0]);
    check("cr4", ours.cr4, q("CR4")[0]);
    check("efer", ours.efer, q("EFER")[0]);
    check("dr6", ours.debug.dr6, q("DR6")[0]);
    check("dr7", ours.debug.dr7, q("DR7")[0]);
    for (name, t) in [("GDT", ours.gdtr), ("IDT", ours.idtr)] {
        check(&format!("{name} base"), t.base, q(name)[0]);
        check(&format!("{name} limit"), u64::from(t.limit), q(name)[1]);
    }
    let segs: [(&str, Segment); 8] = [
        ("ES", ours.es),
        ("CS", ours.cs),
        ("SS", ours.ss),
        ("DS", ours.ds),
        ("FS", ours.fs),
        ("GS", ours.gs),
        ("LDT", ours.ldtr),
        ("TR", ours.tr),
    ];
    for (name, s) in segs {
        let f = q(name);
        // QEMU prints the descriptor's second dword with the base bits cleared:
        // access byte in bits 15:8, flags nibble in 23:20.
        let flags = f[3];
        let mut attributes = ((flags >> 8) & 0xff) | ((flags >> 20) & 0xf) << 8;
        let mut ours_attr = u64::from(s.attributes);
        if name == "TR" {
            // QEMU leaves the TR cache's type "available" after LTR; the SDM (and VT-x's
            // guest-state checks) have it busy. Compare all but the busy bit.
            attributes &= !2;
            ours_attr &= !2;
        }
        if name == "CS" {
            // QEMU does not set the accessed bit when a far JMP loads CS; the SDM says
            // loading any segment register sets it (3.4.5.1). Compare all but that bit.
            attributes &= !1;
            ours_attr &= !1;
        }
        check(&format!("{name} selector"), u64::from(s.selector), f[0]);
        let present = attributes & 0x80 != 0;
        check(
            &format!("{name} present"),
            u64::from(s.present()),
            u64::from(present),
        );
        // A segment made unusable (a null selector, or nulled on a return to an outer
        // level) has no defined base, limit or type, except the FS and GS bases in
        // 64-bit mode.
        let long = ours.efer & x86lab_emulator::state::ctl::EFER_LMA != 0;
        if present {
            check(&format!("{name} base"), s.base, f[1]);
            check(&format!("{name} limit"), u64::from(s.limit), f[2]);
            check(&format!("{name} attributes"), ours_attr, attributes);
        } else if long && (name == "FS" || name == "GS") {
            check(&format!("{name} base"), s.base, f[1]);
        }
    }
    diffs
}

fn run_system_program(name: &str) {
    let Some(state) = run_program("system", name) else {
        return;
    };
    let path = suite_dir("system").join(format!("{name}.state"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (tests/programs/system/regen.sh writes it)",
            path.display()
        )
    });
    let diffs = compare_with_qemu(&state, &parse_qemu_registers(&text));
    assert!(
        diffs.is_empty(),
        "system program {name}: the final state differs from QEMU's:\n  {}\nx86lab's state:\n{}",
        diffs.join("\n  "),
        state.to_json()
    );
}

#[test]
fn every_program_has_a_test() {
    for (suite, programs) in [("boot", BOOT), ("system", SYSTEM)] {
        let mut found: Vec<String> = fs::read_dir(suite_dir(suite))
            .unwrap_or_else(|e| panic!("cannot list tests/programs/{suite}: {e}"))
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".asm").map(str::to_string)
            })
            .collect();
        found.sort();
        assert_eq!(
            found, programs,
            "tests/programs/{suite}/*.asm and the list in tests/boot_programs.rs differ"
        );
        for name in programs {
            assert!(
                suite_dir(suite).join(format!("{name}.expected")).is_file(),
                "{suite}/{name}.expected is missing: run tests/programs/{suite}/regen.sh"
            );
        }
    }
}

#[test]
fn qemu_register_dumps_parse() {
    let q = parse_qemu_registers(
        "R8 =0000000000000001 RIP=000000000000821f RFL=00000046 [---Z-P-] CPL=0\n\
         CS =0008 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]\n\
         GDT=     0000000000007f2f 00000047\n",
    );
    assert_eq!(q["R8"], vec![1]);
    assert_eq!(q["RFL"], vec![0x46]);
    assert_eq!(q["CS"], vec![8, 0, 0xffff_ffff, 0x00a0_9b00]);
    assert_eq!(q["GDT"], vec![0x7f2f, 0x47]);
}

#[test]
fn system_debug() {
    run_system_program("debug");
}

#[test]
fn system_descriptors() {
    run_system_program("descriptors");
}

#[test]
fn system_gates64() {
    run_system_program("gates64");
}

#[test]
fn system_modes() {
    run_system_program("modes");
}

#[test]
fn system_paging() {
    run_system_program("paging");
}

#[test]
fn system_protected() {
    run_system_program("protected");
}

#[test]
fn system_return() {
    run_system_program("return");
}

#[test]
fn system_user() {
    run_system_program("user");
}

#[test]
fn exit_status_line_is_parsed() {
    assert_eq!(expected_exit_status("; x86lab-exit: 42\nmain:\n"), 42);
    assert_eq!(expected_exit_status("main:\n  cli\n  hlt\n"), 0);
}

#[test]
fn arith_addsub() {
    run_boot_program("arith_addsub");
}

#[test]
fn bcd() {
    run_boot_program("bcd");
}

#[test]
fn calls() {
    run_boot_program("calls");
}

#[test]
fn crc_fmt() {
    run_boot_program("crc_fmt");
}

#[test]
fn int_except() {
    run_boot_program("int_except");
}

#[test]
fn int_soft() {
    run_boot_program("int_soft");
}

#[test]
fn loops_stack() {
    run_boot_program("loops_stack");
}

#[test]
fn muldiv() {
    run_boot_program("muldiv");
}

#[test]
fn sieve() {
    run_boot_program("sieve");
}

#[test]
fn strings() {
    run_boot_program("strings");
}

#[test]
fn uart_exit() {
    run_boot_program("uart_exit");
}
