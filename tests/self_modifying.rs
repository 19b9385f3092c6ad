//! Self-modifying code: an instruction rewritten in memory runs as rewritten the next time
//! it is fetched (SDM Vol. 3A, 11.6 "Self-Modifying Code"), whatever the software CPU
//! remembers of its earlier decoding. The processor is the other side: the same programs
//! run on KVM (64-bit user mode runs on the processor even without VT-x/AMD-V).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn run(source: &str, name: &str, backend: &str, extra: &[&str]) -> String {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, source).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["run", "--backend", backend])
        .args(extra)
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{name} on {backend}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A loop that rewrites the immediate of its own `mov al, imm8` (A, then B, then C) and,
/// once, the opcode of the instruction after the output, from a 3-byte NOP... to an INC.
const LOOP64: &str = "
        bits 64
        org 0x100000
        mov ecx, 3
again:
patch:  mov al, 'A'                 ; B0 41: the immediate is rewritten each time
        out 0xe9, al
        inc byte [rel patch + 1]
        dec ecx
        jnz again
        mov byte [rel two], 0xff    ; 90 90 -> FF C3 = inc ebx
        mov byte [rel two + 1], 0xc3
        xor ebx, ebx
two:    nop
        nop
        lea eax, [rbx + '0']        ; '1' once the NOPs became INC EBX
        out 0xe9, al
        xor eax, eax
        out 0xf4, al
";

#[test]
fn rewritten_instructions_run_as_rewritten_in_64_bit_user_mode() {
    let emulator = run(LOOP64, "smc64.asm", "emulator", &["--cpl", "3"]);
    assert_eq!(emulator, "ABC1");
    if common::kvm_usable("self-modifying code on KVM") {
        assert_eq!(run(LOOP64, "smc64.asm", "kvm", &["--cpl", "3"]), emulator);
    }
}

#[test]
fn rewritten_instructions_run_as_rewritten_in_real_mode() {
    // The same in a boot sector: the cache of decoded instructions works in every mode.
    let source = "
        bits 16
        org 0x7c00
        mov cx, 3
again:
patch:  mov al, 'A'
        out 0xe9, al
        inc byte [patch + 1]
        loop again
        cli
        hlt
";
    assert_eq!(run(source, "smc16.asm", "emulator", &[]), "ABC");
}

/// REP MOVSB and REP STOSW rewrite the instructions right after themselves, on their own
/// page: the rewritten instructions run (the fast path leaves such iterations to the general
/// path, which fetches the instruction again for each one).
const REP_OVER_CODE: &str = "
        bits 64
        org 0x100000
        cld
        lea rsi, [rel new]
        lea rdi, [rel first]
        mov ecx, 2
        rep movsb
first:  mov al, 'A'                 ; becomes mov al, 'B'
        out 0xe9, al
        lea rdi, [rel second]
        mov ax, 0x43b0              ; B0 43 = mov al, 'C'
        mov ecx, 1
        rep stosw
second: mov al, 'X'                 ; becomes mov al, 'C'
        out 0xe9, al
        xor eax, eax
        out 0xf4, al
new:    mov al, 'B'
";

/// Runs a 64-bit user-mode program on the fast path, the general path and the processor:
/// all three must print `expected`.
fn prints_everywhere(source: &str, name: &str, expected: &str, what: &str) {
    let emulator = run(source, name, "emulator", &["--cpl", "3"]);
    assert_eq!(emulator, expected);
    let general = run(source, name, "emulator", &["--cpl", "3", "--general-path"]);
    assert_eq!(general, expected, "the general path");
    if common::kvm_usable(what) {
        assert_eq!(run(source, name, "kvm", &["--cpl", "3"]), expected, "KVM");
    }
}

#[test]
fn rep_strings_rewriting_the_code_after_them_run_the_new_code() {
    prints_everywhere(
        REP_OVER_CODE,
        "smcrep.asm",
        "BC",
        "self-modifying REP strings on KVM",
    );
}

/// A loop run a thousand times, prepared by the fast path into a block that follows its
/// forward branch past a store: on the last pass the store rewrites the immediate of the
/// ADD right after it, in the same block, through a TLB entry that already allows the write
/// (an earlier store to the page set its dirty bit). The rewritten ADD must run: 999 passes
/// add 1 and the last adds 5, 1004 in all, printed as 'Y' (1004 - 1004 + 'Y').
const STORE_IN_BLOCK: &str = "
        bits 64
        org 0x100000
        mov byte [rel scratch], 0   ; the code page is written once: dirty from here on
        mov ecx, 1000
        xor ebx, ebx
again:  cmp ecx, 1
        jne add                     ; taken but on the last pass
        mov byte [rel patch + 2], 5 ; 83 C3 01 -> 83 C3 05
add:
patch:  add ebx, byte 1
        dec ecx
        jnz again
        lea eax, [rbx - 1004 + 'Y']
        out 0xe9, al
        xor eax, eax
        out 0xf4, al
scratch: db 0
";

#[test]
fn a_store_into_its_own_block_runs_the_rewritten_instruction_after_it() {
    prints_everywhere(
        STORE_IN_BLOCK,
        "smcblock.asm",
        "Y",
        "a store into its own block on KVM",
    );
}
