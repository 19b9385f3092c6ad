//! Whole programs against NASM: the boot firmware and the boot-sector and system test
//! programs of tests/programs (16-, 32- and 64-bit code, `%include`, `%macro`, `%define`, `%ifndef`,
//! `times`, `equ`, local labels) assembled by NASM and by x86lab give the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use x86lab_firmware::asm::{assemble_file, Options};

fn programs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs");
    let mut v = Vec::new();
    for suite in ["boot", "system"] {
        for e in std::fs::read_dir(root.join(suite)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "asm") {
                v.push(p);
            }
        }
    }
    v.sort();
    v.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("boot/firmware.asm"));
    v
}

#[test]
fn test_programs_assemble_to_nasms_bytes() {
    if Command::new("nasm").arg("-v").output().is_err() {
        eprintln!("skipped: nasm is not installed (scripts/setup.sh installs it)");
        return;
    }
    let boot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs/boot");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nasm_programs");
    std::fs::create_dir_all(&out).unwrap();
    let files = programs();
    assert!(files.len() >= 10, "only {} programs", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let dir = f.parent().unwrap();
        let bin = out.join(f.file_stem().unwrap()).with_extension("bin");
        let o = Command::new("nasm")
            .args(["-f", "bin", "-o"])
            .arg(&bin)
            .arg(format!("-i{}/", dir.display()))
            .arg(format!("-i{}/", boot.display()))
            .arg(f)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "nasm: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let want = std::fs::read(&bin).unwrap();
        let opts = Options {
            include: vec![dir.to_path_buf(), boot.clone()],
            defines: Vec::new(),
        };
        match assemble_file(f, &opts) {
            Ok(a) if a.bytes == want => {}
            Ok(a) => {
                let at = a
                    .bytes
                    .iter()
                    .zip(&want)
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.bytes.len().min(want.len()));
                let line = a
                    .listing
                    .iter()
                    .rev()
                    .find(|l| {
                        l.address
                            .checked_sub(a.origin)
                            .is_some_and(|o| o <= at as u64)
                            && !l.bytes.is_empty()
                    })
                    .map(|l| format!("{}:{}: {}", l.file.display(), l.line, l.text.trim()))
                    .unwrap_or_default();
                bad.push(format!(
                    "{}: {} bytes (NASM {}), first difference at offset {at:#x}: {line}",
                    f.display(),
                    a.bytes.len(),
                    want.len()
                ));
            }
            Err(e) => bad.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} programs differ from NASM:\n{}",
        bad.len(),
        files.len(),
        bad.join("\n")
    );
}
