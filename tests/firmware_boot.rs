//! Booting through the firmware (firmware/boot/firmware.asm): from the reset vector to a
//! payload in real, protected and long mode, on the software CPU and on KVM, which must
//! print the same. The payloads check what the firmware promises (the mode, flat segments,
//! the stack) and end with an exception the firmware reports: its vector is the SDM's
//! (#DE = 0, #PF = 14 with error code 2 for a write to a not-present page, #UD = 6) and the
//! reported instruction pointer is the faulting instruction's.

use std::path::PathBuf;
use std::process::Command;

mod common;

fn payload(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("firmware_boot");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join(format!("{name}.asm"));
    std::fs::write(&f, source).unwrap();
    f
}

fn boot(file: &PathBuf, backend: &str) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args([
            "run",
            "--boot",
            "firmware",
            "--timeout",
            "60",
            "--backend",
            backend,
        ])
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Boots `source` on the software CPU (and on KVM where usable); both must print `want`,
/// in which `{fault4}`, `{fault8}` and `{fault16}` stand for the address of the source's
/// label `fault` in 4, 8 or 16 hex digits.
fn check(name: &str, source: &str, want: &str) {
    let f = payload(name, source);
    let a = x86lab_firmware::asm::assemble_str(source, "payload.asm".as_ref()).unwrap();
    let fault = a.labels["fault"];
    let want = want
        .replace("{fault4}", &format!("{fault:04x}"))
        .replace("{fault8}", &format!("{fault:08x}"))
        .replace("{fault16}", &format!("{fault:016x}"));
    let want = want.as_str();
    let (code, out, err) = boot(&f, "emulator");
    assert_eq!(code, Some(0), "{name} on the emulator: {out}{err}");
    assert_eq!(out, want, "{name} on the emulator");
    if common::kvm_usable("booting through the firmware on KVM") {
        let (code, out, err) = boot(&f, "kvm");
        assert_eq!(code, Some(0), "{name} on KVM: {out}{err}");
        assert_eq!(out, want, "{name} on KVM");
    }
}

#[test]
fn real_mode_payload_gets_the_boot_sector_state_and_exception_vectors() {
    // DL = 80h, CS:IP = 0:7C00h; INT 6 vector set: UD2 reports #UD at 0000:7C0E.
    check(
        "real",
        "bits 16\norg 0x7c00\n\
         mov al, dl\n add al, 0x80 - 0x80 + 'A' - 0x80\n out 0xe9, al\n\
         mov ax, cs\n add al, 'a'\n out 0xe9, al\n mov al, 10\n out 0xe9, al\n\
         fault: ud2\n",
        "Aa\nfirmware: real-mode exception 06 at 0000:{fault4}\n",
    );
}

#[test]
fn protected_mode_payload_runs_flat_and_divide_errors_are_reported() {
    // CR0.PE = 1, PG = 0; CS = 08h; ESP = 90000h; DIV by zero is #DE at the DIV.
    check(
        "protected",
        "bits 32\norg 0x100000\n\
         mov eax, cr0\n and eax, 0x80000001\n add al, '0'\n out 0xe9, al\n\
         mov ax, cs\n add al, '0' - 8\n out 0xe9, al\n\
         cmp esp, 0x90000\n sete al\n add al, '0'\n out 0xe9, al\n mov al, 10\n out 0xe9, al\n\
         xor ecx, ecx\n fault: div ecx\n",
        "101\nfirmware: exception 00 error 00000000 at {fault8} cr2 00000000\n",
    );
}

#[test]
fn long_mode_payload_has_4_gib_identity_mapped_and_page_faults_are_reported() {
    // EFER.LMA = 1; the last byte below 4 GiB is mapped; above it a write is #PF with
    // error code 2 (not present, write) and CR2 the address.
    check(
        "long",
        "bits 64\norg 0x100000\n\
         mov ecx, 0xC0000080\n rdmsr\n shr eax, 10\n and al, 1\n add al, '0'\n out 0xe9, al\n\
         mov rax, 0xFFFFFFFF\n mov bl, [rax]\n mov al, '!'\n out 0xe9, al\n mov al, 10\n out 0xe9, al\n\
         mov rax, 0x100000000\n fault: mov byte [rax], 1\n",
        "1!\nfirmware: exception 0e error 0000000000000002 at {fault16} cr2 0000000100000000\n",
    );
}
