//! NASM-syntax text for decoded instructions, as `x86lab disasm` prints it: iced-x86's NASM
//! formatter, with what it leaves out that NASM needs to give the same bytes back — `near`
//! on branches with a 16/32-bit displacement, the size of a PUSH immediate that is not the
//! mode's, `hint_nopN` for the reserved NOPs 0F 18..1F, no `mem384` size.

use iced_x86::{Formatter, Instruction, MemorySizeOptions, Mnemonic, NasmFormatter, OpKind};

/// A formatter set up the way [`text`] uses it.
pub fn formatter() -> NasmFormatter {
    let mut f = NasmFormatter::new();
    let o = f.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_show_branch_size(true);
    o.set_memory_size_options(MemorySizeOptions::Always);
    f
}

/// The instruction as NASM source that assembles back to it.
pub fn text(f: &mut NasmFormatter, i: &Instruction) -> String {
    let mut t = String::new();
    f.format(i, &mut t);
    // iced-x86 names 48-byte memory `mem384`; NASM writes no size there.
    t = t.replace("mem384 ", "");
    // `short` is written, `near` is not: without it a near branch to a close target would
    // come back short.
    let code = format!("{:?}", i.code());
    if (code.contains("rel16") || code.contains("rel32")) && !t.contains("near") {
        t = t.replacen(' ', " near ", 1);
    }
    // The size of a PUSH immediate when it is not the mode's (`push dword 5` in 16-bit code).
    if i.mnemonic() == Mnemonic::Push && i.op0_kind() != OpKind::Register && !t.contains('[') {
        let size = match i.stack_pointer_increment() {
            -2 => "word",
            -4 => "dword",
            _ => "qword",
        };
        t = t.replacen("push ", &format!("push {size} "), 1);
    }
    // `nop r/m, reg` of 0F 18..1F is NASM's `hint_nopN r/m`, N = (opcode - 18h) * 8 + reg.
    if i.mnemonic() == Mnemonic::Reservednop {
        let opcode = i.code().op_code().op_code();
        if (0x18..=0x1f).contains(&opcode) {
            let n = (opcode - 0x18) * 8 + i.op1_register().number() as u32;
            if let Some((rm, _)) = t.strip_prefix("nop ").and_then(|r| r.rsplit_once(',')) {
                t = format!("hint_nop{n} {rm}");
            }
        }
    }
    t
}
