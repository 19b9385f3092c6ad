//! The case files of tests/case_files run under `x86lab case`: each must give the result
//! its `expect` holds (worked out from the Intel SDM, see the directory's README) on the
//! software CPU, and, where /dev/kvm is usable, the emulator and KVM must agree on it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::kvm_usable;

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/case_files");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

fn x86lab_case(backend: &str, files: &[PathBuf]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["case", "--backend", backend])
        .args(files)
        .output()
        .expect("cannot run x86lab");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_case_passes_on_the_software_cpu() {
    let files = case_files();
    assert!(files.len() >= 7);
    let (code, out, err) = x86lab_case("emulator", &files);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS ")).count(),
        files.len(),
        "{out}"
    );
}

#[test]
fn every_case_agrees_on_both_backends() {
    if !kvm_usable("case files on both backends") {
        return;
    }
    let files = case_files();
    let (code, out, err) = x86lab_case("both", &files);
    assert_eq!(code, Some(0), "{out}{err}");
    // Without VT-x/AMD-V the host kernel's emulator runs compatibility-mode code and does
    // not implement every instruction: such cases are said to be skipped on KVM.
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIP KVM")).collect();
    for l in &skipped {
        println!("{l}");
    }
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("the emulator and KVM agree"))
            .count()
            + skipped.len(),
        files.len(),
        "{out}"
    );
}

#[test]
fn a_case_without_expect_prints_the_final_state() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("case_files");
    fs::create_dir_all(&dir).unwrap();
    let f = dir.join("inc.json");
    fs::write(
        &f,
        r#"{ "name": "inc", "mode": "real",
             "initial": { "regs": { "rip": "0x7c00" },
                          "memory": [ { "addr": "0x7c00", "bytes": "40 f4" } ] } }"#,
    )
    .unwrap();
    let (code, out, err) = x86lab_case("emulator", &[f]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"]["rax"], "0x1");
    assert_eq!(v["state"]["rip"], "0x7c02");
}

#[test]
fn a_wrong_register_name_is_one_clear_error() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("case_files");
    fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.json");
    fs::write(
        &f,
        r#"{ "name": "bad", "mode": "long", "initial": { "regs": { "rxx": "0x1" } } }"#,
    )
    .unwrap();
    let (code, out, err) = x86lab_case("emulator", &[f]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("`rxx` is not a register"), "{err}");
}
