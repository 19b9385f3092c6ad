//! The lesson and workload programs of firmware/: each assembles (with x86lab's assembler,
//! and with NASM to the same bytes where NASM is installed), boots through the firmware on
//! the software CPU and on KVM, and prints the same thing on both. Lesson 12 is about the
//! flags the SDM leaves undefined: only its lines that start with `undefined:` may differ.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn sources(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("firmware")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "asm"))
        .collect();
    v.sort();
    v
}

fn run(file: &Path, backend: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["run", "--timeout", "120", "--backend", backend])
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// NASM gives the same bytes (where it is installed).
fn same_as_nasm(file: &Path, defines: &[&str]) {
    let Ok(v) = Command::new("nasm").arg("-v").output() else {
        eprintln!("not compared with NASM: nasm is not installed (scripts/setup.sh installs it)");
        return;
    };
    assert!(v.status.success());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lessons");
    std::fs::create_dir_all(&out).unwrap();
    let bin = out
        .join(file.file_stem().unwrap())
        .with_extension("nasm.bin");
    let o = Command::new("nasm")
        .args(["-f", "bin", "-o"])
        .arg(&bin)
        .arg(format!("-i{}/", file.parent().unwrap().display()))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "nasm: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let opts = x86lab_firmware::asm::Options {
        include: Vec::new(),
        defines: defines
            .iter()
            .map(|d| {
                let (n, v) = d.split_once('=').unwrap();
                (n.to_string(), v.to_string())
            })
            .collect(),
    };
    let a = x86lab_firmware::asm::assemble_file(file, &opts).unwrap();
    assert!(
        a.bytes == std::fs::read(&bin).unwrap(),
        "{}: x86lab's bytes differ from NASM's",
        file.display()
    );
}

#[test]
fn lessons_print_the_same_on_both_backends() {
    let lessons = sources("lessons");
    assert!(lessons.len() >= 12, "only {} lessons", lessons.len());
    let kvm = common::kvm_usable("lessons on KVM");
    let hardware_assisted = kvm && x86lab_kvm::Regime::detect().is_hardware_assisted();
    for f in &lessons {
        same_as_nasm(f, &[]);
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.contains("What to watch"),
            "{}: a lesson starts by saying what to watch",
            f.display()
        );
        let (code, emu, err) = run(f, "emulator", &["--boot", "firmware"]);
        assert_eq!(code, Some(0), "{} on the emulator: {emu}{err}", f.display());
        assert!(!emu.is_empty(), "{} prints nothing", f.display());
        if !kvm {
            continue;
        }
        // A lesson says (`; kvm-without-vtx: why`) when KVM without VT-x/AMD-V cannot run
        // it: the host kernel's emulator runs its kernel-mode code there.
        let pvm_limit = text
            .lines()
            .find_map(|l| l.strip_prefix("; kvm-without-vtx:"))
            .map(str::trim);
        if let (Some(why), false) = (pvm_limit, hardware_assisted) {
            eprintln!(
                "{}: not compared with KVM on this host (no VT-x/AMD-V): {why}",
                f.display()
            );
            continue;
        }
        let (code, hw, err) = run(f, "kvm", &["--boot", "firmware"]);
        assert_eq!(code, Some(0), "{} on KVM: {hw}{err}", f.display());
        let undefined_only = f.file_name().unwrap().to_string_lossy().starts_with("12-");
        let keep = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !(undefined_only && l.starts_with("undefined:")))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            keep(&emu),
            keep(&hw),
            "{}: emulator and KVM differ",
            f.display()
        );
        if undefined_only {
            let differing = emu.lines().zip(hw.lines()).filter(|(a, b)| a != b).count();
            eprintln!(
                "{}: {differing} `undefined:` lines differ between the emulator and KVM",
                f.display()
            );
        }
    }
}

#[test]
fn workloads_print_the_same_on_both_backends_and_boots() {
    let workloads = sources("workloads");
    assert_eq!(workloads.len(), 4, "{workloads:?}");
    let kvm = common::kvm_usable("workloads on KVM");
    for f in &workloads {
        // Small counts: without VT-x/AMD-V, KVM emulates this kernel-mode code in the host
        // kernel at about a million instructions per second.
        let defines: &[&str] = match f.file_stem().unwrap().to_str().unwrap() {
            "alu" => &["ITERATIONS=1000"],
            "call" => &["ITERATIONS=3", "N=12"],
            _ => &["ITERATIONS=2", "SIZE=0x2000"],
        };
        same_as_nasm(f, defines);
        let mut args: Vec<&str> = Vec::new();
        for d in defines {
            args.extend(["-D", d]);
        }
        let mut outs = Vec::new();
        // Booted directly, through the firmware, and directly in user mode (CPL 3, as
        // `x86lab bench` runs them).
        for boot in ["direct", "firmware", "user"] {
            let mut a = match boot {
                "user" => vec!["--cpl", "3"],
                _ => vec!["--boot", boot],
            };
            a.extend(&args);
            let (code, out, err) = run(f, "emulator", &a);
            assert_eq!(
                code,
                Some(0),
                "{} ({boot}) on the emulator: {out}{err}",
                f.display()
            );
            outs.push(out);
            if kvm {
                let (code, out, err) = run(f, "kvm", &a);
                assert_eq!(code, Some(0), "{} ({boot}) on KVM: {out}{err}", f.display());
                outs.push(out);
            }
        }
        assert!(
            outs.windows(2).all(|w| w[0] == w[1]),
            "{}: {outs:?}",
            f.display()
        );
        // fib(12) = 144, three times.
        if f.file_stem().unwrap() == "call" {
            assert_eq!(outs[0].trim(), format!("{:016x}", 3 * 144));
        }
        // The copy built into x86lab (for `x86lab bench`) is this file.
        let name = f.file_stem().unwrap().to_str().unwrap();
        let defines: Vec<(String, String)> = defines
            .iter()
            .map(|d| {
                let (n, v) = d.split_once('=').unwrap();
                (n.to_string(), v.to_string())
            })
            .collect();
        let built_in = x86lab_firmware::assemble_workload(name, &defines).unwrap();
        let opts = x86lab_firmware::asm::Options {
            include: Vec::new(),
            defines,
        };
        let file = x86lab_firmware::asm::assemble_file(f, &opts).unwrap();
        assert_eq!(built_in.bytes, file.bytes, "{name}");
    }
}
