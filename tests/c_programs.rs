//! C programs compiled by the system's gcc run under `x86lab run` and print
//! exactly what the same source prints as a normal Linux program.
//!
//! For every program in `tests/programs/c` and every optimisation level
//! (-O0, -O2, -Os) this test builds two executables from the same source:
//!
//! - the guest: freestanding, general-purpose registers only, linked with
//!   `crt0.S`, `runtime.c` and `guest.ld` into a static ELF that x86lab
//!   starts in long mode (`-m64`) or 32-bit protected mode (`-m32`);
//! - the native program: an ordinary hosted build of the same file, run
//!   directly on this machine's CPU.
//!
//! The native run's stdout and exit status are the expected result; nothing
//! is stored by hand.
//!
//! Every build also runs on KVM (`--backend kvm`) where /dev/kvm is usable:
//! same output, same exit status, and the same final state as the software CPU
//! (all of `--state-out` but the TSC). Without KVM that part is skipped with a
//! note, or fails under `X86LAB_REQUIRE_KVM=1` (set by `.ci/run`). The 32-bit builds need gcc's multilib support
//! (gcc-multilib on Debian, installed by scripts/setup.sh); without it they
//! are skipped with a note on stderr, as is everything when gcc is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{describe_status, first_difference, kvm_usable, skip, tool_available, GUEST_FLAGS};

/// Every program in tests/programs/c; each has its own #[test] below.
const PROGRAMS: &[&str] = &["bittricks", "formatting", "hashing", "interp", "sorting"];

const OPT_LEVELS: &[&str] = &["-O0", "-O2", "-Os"];

/// Generous bounds; the longest build (interp -m32 -O0) runs about 80 million
/// instructions.
const MAX_INSTRUCTIONS: &str = "2000000000";
const TIMEOUT_SECONDS: &str = "600";

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/c")
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_programs");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn gcc(args: &[&str], what: &str) {
    let out = Command::new("gcc")
        .args(args)
        .current_dir(source_dir())
        .output()
        .expect("cannot run gcc");
    assert!(
        out.status.success(),
        "gcc failed to build {what}:\ngcc {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether gcc can build and link an ordinary -m32 program here (it needs
/// the 32-bit libc and libgcc that gcc-multilib brings).
fn m32_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let dir = out_dir();
        let src = dir.join("probe32.c");
        fs::write(
            &src,
            "#include <stdio.h>\nint main(void) { puts(\"ok\"); return 0; }\n",
        )
        .expect("cannot write the -m32 probe");
        Command::new("gcc")
            .arg("-m32")
            .arg("-o")
            .arg(dir.join("probe32"))
            .arg(&src)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

/// Builds `name` at `opt` for `bits` both ways, runs both and compares.
/// Returns a description of the mismatch, if any.
fn check(name: &str, bits: u32, opt: &str) -> Option<String> {
    let dir = out_dir();
    let tag = format!("{name}-m{bits}{opt}");
    let arch = format!("-m{bits}");
    let source = format!("{name}.c");

    let native = dir.join(format!("{tag}.native"));
    let native_path = native.to_str().expect("non-UTF-8 target directory");
    gcc(
        &[&arch, opt, "-o", native_path, &source],
        &format!("native {tag}"),
    );

    let guest = dir.join(format!("{tag}.elf"));
    let guest_path = guest.to_str().expect("non-UTF-8 target directory");
    let mut args = vec![arch.as_str(), opt];
    args.extend_from_slice(GUEST_FLAGS);
    args.extend_from_slice(&["-T", "guest.ld", "-o", guest_path, "crt0.S", "runtime.c"]);
    // libgcc last: it provides the helpers gcc calls for what the ISA lacks
    // (64-bit division on i386, 128-bit division, popcount without POPCNT).
    args.extend_from_slice(&[&source, "-lgcc"]);
    gcc(&args, &format!("guest {tag}"));

    let want = run(&mut Command::new(&native), &format!("native {tag}"));
    let emu_state = dir.join(format!("{tag}.emu.json"));
    let got = run(
        Command::new(env!("CARGO_BIN_EXE_x86lab"))
            .arg("run")
            .arg("--max-instructions")
            .arg(MAX_INSTRUCTIONS)
            .arg("--timeout")
            .arg(TIMEOUT_SECONDS)
            .arg("--state-out")
            .arg(&emu_state)
            .arg(&guest),
        &format!("x86lab run {tag}"),
    );
    // The programs check themselves and return 0 only when every check
    // passed, so a native failure means the program (or the host
    // compiler) is wrong, not x86lab.
    assert_eq!(
        want.status.code(),
        Some(0),
        "the native build of {tag} failed its own checks:\n{}",
        String::from_utf8_lossy(&want.stdout)
    );
    if got.status.code() != want.status.code() || got.stdout != want.stdout {
        return Some(format!(
            "{tag}: x86lab exit status {} (native 0)\n{}\n--- x86lab stderr ---\n{}",
            describe_status(got.status.code()),
            first_difference(&want.stdout, &got.stdout),
            String::from_utf8_lossy(&got.stderr)
        ));
    }
    if kvm_usable(&format!("C program {tag} on KVM")) {
        return check_on_kvm(&tag, &guest, &want, &emu_state);
    }
    None
}

/// Runs the guest on KVM: the native output and exit status, and the emulator's final
/// state but for the TSC.
fn check_on_kvm(tag: &str, guest: &Path, want: &Output, emu_state: &Path) -> Option<String> {
    let kvm_state = emu_state.with_extension("kvm.json");
    let got = run(
        Command::new(env!("CARGO_BIN_EXE_x86lab"))
            .args([
                "run",
                "--backend",
                "kvm",
                "--timeout",
                TIMEOUT_SECONDS,
                "--state-out",
            ])
            .arg(&kvm_state)
            .arg(guest),
        &format!("x86lab run --backend kvm {tag}"),
    );
    if got.status.code() != want.status.code() || got.stdout != want.stdout {
        return Some(format!(
            "{tag} on KVM: exit status {} (native 0)\n{}\n--- stderr ---\n{}",
            describe_status(got.status.code()),
            first_difference(&want.stdout, &got.stdout),
            String::from_utf8_lossy(&got.stderr)
        ));
    }
    let load = |p: &Path| {
        let mut s = x86lab_emulator::CpuState::from_json(&fs::read_to_string(p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        s.tsc = 0;
        s
    };
    let (e, k) = (load(emu_state), load(&kvm_state));
    (e != k).then(|| {
        format!(
            "{tag}: the final state on KVM differs from the emulator's\n--- emulator\n{}\n--- kvm\n{}",
            e.to_json(),
            k.to_json()
        )
    })
}

fn run_program(name: &str) {
    if !tool_available("gcc", "--version") {
        skip(&format!(
            "C program {name}: gcc is not on PATH (install gcc, then scripts/setup.sh)"
        ));
        return;
    }
    let mut widths = vec![64];
    if m32_available() {
        widths.push(32);
    } else {
        skip(&format!(
            "C program {name}, 32-bit builds: gcc -m32 cannot link here \
             (scripts/setup.sh installs gcc-multilib)"
        ));
    }
    let mut failures = Vec::new();
    for &bits in &widths {
        for opt in OPT_LEVELS {
            failures.extend(check(name, bits, opt));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} builds of {name}.c differ from the native program:\n\n{}",
        failures.len(),
        widths.len() * OPT_LEVELS.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_program_has_a_test() {
    let mut found: Vec<String> = fs::read_dir(source_dir())
        .expect("cannot list tests/programs/c")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".c")?;
            (stem != "runtime").then(|| stem.to_string())
        })
        .collect();
    found.sort();
    assert_eq!(
        found, PROGRAMS,
        "tests/programs/c/*.c and PROGRAMS in tests/c_programs.rs differ"
    );
}

macro_rules! program_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_program(stringify!($name));
            }
        )*
    };
}

program_tests!(bittricks, formatting, hashing, interp, sorting);
