//! Real-mode boot-sector programs run under `x86lab run`.
//!
//! Each `tests/programs/boot/NAME.asm` is assembled with nasm into a flat
//! binary, run with `x86lab run --max-instructions 50000000 NAME.bin`, and
//! its stdout is compared byte for byte with `NAME.expected`.  The expected
//! files were produced by running the same binaries under QEMU (see
//! `tests/programs/boot/regen.sh` and its README), not by x86lab.
//!
//! A program exits with status 0 (`cli; hlt`) unless its source has a line
//! `; x86lab-exit: N`.  If nasm is not installed the tests print a note on
//! stderr and pass without running anything.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{describe_status, first_difference, skip, tool_available};

const MAX_INSTRUCTIONS: &str = "50000000";

/// Every program in tests/programs/boot; each has its own #[test] below.
const PROGRAMS: &[&str] = &[
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

fn boot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/boot")
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

fn assemble(name: &str, dir: &Path) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot_sectors");
    fs::create_dir_all(&out_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_dir.display()));
    let bin = out_dir.join(format!("{name}.bin"));
    // nasm looks for %include files relative to the current directory and
    // the -i paths (which need a trailing separator), not the source's own.
    let mut include = OsString::from(dir.as_os_str());
    include.push("/");
    let out = Command::new("nasm")
        .arg("-f")
        .arg("bin")
        .arg("-i")
        .arg(&include)
        .arg("-o")
        .arg(&bin)
        .arg(dir.join(format!("{name}.asm")))
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

fn run_boot_program(name: &str) {
    if !tool_available("nasm", "-v") {
        skip(&format!(
            "boot-sector test {name}: nasm is not on PATH (scripts/setup.sh installs it)"
        ));
        return;
    }
    let dir = boot_dir();
    let source = fs::read_to_string(dir.join(format!("{name}.asm")))
        .unwrap_or_else(|e| panic!("cannot read {name}.asm: {e}"));
    let want_status = expected_exit_status(&source);
    let expected = fs::read(dir.join(format!("{name}.expected")))
        .unwrap_or_else(|e| panic!("cannot read {name}.expected: {e}"));
    let bin = assemble(name, &dir);
    let run = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .arg("run")
        .arg("--max-instructions")
        .arg(MAX_INSTRUCTIONS)
        .arg(&bin)
        .output()
        .expect("cannot run x86lab");
    if run.status.code() != Some(want_status) || run.stdout != expected {
        panic!("{}", report(name, want_status, &expected, &run));
    }
}

#[test]
fn every_program_has_a_test() {
    let mut found: Vec<String> = fs::read_dir(boot_dir())
        .expect("cannot list tests/programs/boot")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".asm").map(str::to_string)
        })
        .collect();
    found.sort();
    assert_eq!(
        found, PROGRAMS,
        "tests/programs/boot/*.asm and PROGRAMS in tests/boot_sectors.rs differ"
    );
    for name in PROGRAMS {
        assert!(
            boot_dir().join(format!("{name}.expected")).is_file(),
            "{name}.expected is missing: run tests/programs/boot/regen.sh"
        );
    }
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
