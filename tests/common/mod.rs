//! Helpers shared by the integration tests of the `x86lab` package.
//!
//! Each test file that needs them says `mod common;`; not every file uses
//! every helper, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

/// Whether `program` runs and exits successfully with `arg` (e.g. `-v`).
pub fn tool_available(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Tells the person running the tests that something was not checked, and
/// why. Written to the stderr handle rather than with `eprintln!`, which the
/// test harness captures and hides for passing tests.
pub fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// Tells the person running the tests something worth knowing that is not a failure (a
/// known limitation of this host that the test checked), on the unhidden stderr handle.
pub fn note(what: &str) {
    let _ = writeln!(std::io::stderr(), "NOTE: {what}");
}

/// Describes where `actual` first differs from `expected`, line by line.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let mut exp_lines = expected.split(|&b| b == b'\n');
    let mut act_lines = actual.split(|&b| b == b'\n');
    let mut line = 1;
    loop {
        match (exp_lines.next(), act_lines.next()) {
            (Some(e), Some(a)) if e == a => line += 1,
            (Some(e), Some(a)) => {
                return format!(
                    "first difference on line {line}:\n  expected: {:?}\n  actual:   {:?}",
                    String::from_utf8_lossy(e),
                    String::from_utf8_lossy(a)
                )
            }
            (Some(e), None) => {
                return format!(
                    "actual output ends before line {line}, expected: {:?}",
                    String::from_utf8_lossy(e)
                )
            }
            (None, Some(a)) => {
                return format!(
                    "actual output has an extra line {line}: {:?}",
                    String::from_utf8_lossy(a)
                )
            }
            (None, None) => return "stdout matches".to_string(),
        }
    }
}

/// An exit status of `x86lab run`, with the meaning of the reserved ones.
pub fn describe_status(code: Option<i32>) -> String {
    match code {
        Some(124) => "124 (instruction or time limit reached)".to_string(),
        Some(125) => "125 (triple fault)".to_string(),
        Some(126) => "126 (unimplemented instruction or exception)".to_string(),
        Some(c) => c.to_string(),
        None => "none (killed by a signal)".to_string(),
    }
}

/// Whether /dev/kvm can run guests. Where it cannot, says why (`what` names the test) and
/// returns false, or fails under `X86LAB_REQUIRE_KVM=1` (set by `.ci/run`, whose machines
/// have KVM).
pub fn kvm_usable(what: &str) -> bool {
    match x86lab_kvm::KvmMachine::new(x86lab_emulator::MemoryLayout::default()) {
        Ok(_) => true,
        Err(e) if std::env::var("X86LAB_REQUIRE_KVM").as_deref() == Ok("1") => {
            panic!("{what}: X86LAB_REQUIRE_KVM=1, but KVM is not usable: {e}")
        }
        Err(e) => {
            skip(&format!("{what}: KVM is not usable here: {e}"));
            false
        }
    }
}

/// gcc's flags for a guest C program (tests/programs/c), besides -m32/-m64 and the
/// optimisation level: freestanding, general-purpose registers only.
pub const GUEST_FLAGS: &[&str] = &[
    "-ffreestanding",
    "-nostdlib",
    "-static",
    "-no-pie",
    "-fno-pic",
    "-fno-stack-protector",
    "-fcf-protection=none",
    "-mgeneral-regs-only",
    "-mno-red-zone",
    "-fno-asynchronous-unwind-tables",
    "-DX86LAB_GUEST",
];
