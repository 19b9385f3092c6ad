//! Every instruction form is reachable from source text: for each iced-x86 `Code` of the
//! legacy, VEX, EVEX (AVX-512), XOP and 3DNow! encodings, in each mode that has it, an
//! instance is built from
//! iced's opcode tables (`x86lab::fuzz::forms::encode`, random operand bytes until the
//! decoder gives that form), formatted as `x86lab disasm` does (iced's NASM formatter,
//! `x86lab_firmware::asm::disasm`), assembled by x86lab and decoded again: the text must
//! come back.

use iced_x86::{Code, Decoder, DecoderOptions, EncodingKind};
use x86lab::fuzz::forms;
use x86lab_firmware::asm::disasm;

/// The names of the 32- and 64-bit general-purpose registers.
fn x86lab_firmware_regs() -> Vec<String> {
    iced_x86::Register::values()
        .filter(|r| r.is_gpr32() || r.is_gpr64())
        .map(|r| format!("{r:?}").to_lowercase())
        .collect()
}

#[test]
fn every_legacy_vex_evex_xop_and_3dnow_form_is_reachable_from_text() {
    let mut f = disasm::formatter();
    let mut checked = 0;
    let mut evex = 0;
    let mut unbuilt = Vec::new();
    let mut bad = Vec::new();
    for code in Code::values() {
        let op = code.op_code();
        // Not reachable from NASM's syntax, by design: SAL's /6 encoding (NASM's `sal` is
        // SHL's /4, as in the SDM), and the reserved NOPs of 0F 0D (NASM has no name for
        // them; those of 0F 18..1F are its hint_nop0..63).
        let name = format!("{code:?}");
        if name.starts_with("Sal_") || name.contains("0F0D") {
            continue;
        }
        if !op.is_instruction()
            || op.decoder_option() != 0
            || !matches!(
                op.encoding(),
                EncodingKind::Legacy
                    | EncodingKind::VEX
                    | EncodingKind::EVEX
                    | EncodingKind::XOP
                    | EncodingKind::D3NOW
            )
        {
            continue;
        }
        for bits in [16u32, 32, 64] {
            let supported = match bits {
                16 => op.mode16(),
                32 => op.mode32(),
                _ => op.mode64(),
            };
            if !supported {
                continue;
            }
            let mut instance = None;
            let mut x = u64::from(code as u32) * 0x9e37_79b9 + u64::from(bits);
            for _ in 0..256 {
                let mut tail = [0u8; 15];
                let mut knobs = [0u8; 8];
                for b in tail.iter_mut().chain(knobs.iter_mut()) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                let bytes = forms::encode(code, bits, &knobs, &tail);
                let i = Decoder::with_ip(bits, &bytes, 0, DecoderOptions::NONE).decode();
                if i.code() == code && !i.is_ip_rel_memory_operand() {
                    instance = Some(i);
                    break;
                }
            }
            let Some(i) = instance else {
                unbuilt.push(format!("{bits} {code:?}"));
                continue;
            };
            checked += 1;
            if op.encoding() == EncodingKind::EVEX {
                evex += 1;
            }
            let t = disasm::text(&mut f, &i);
            match x86lab_firmware::asm::assemble_str(
                &format!("bits {bits}\n{t}\n"),
                "form.asm".as_ref(),
            ) {
                Ok(a) => {
                    let j = Decoder::with_ip(bits, &a.bytes, 0, DecoderOptions::NONE).decode();
                    let back = disasm::text(&mut f, &j);
                    // XCHG's operands commute.
                    let swapped = |s: &str| -> String {
                        match s.strip_prefix("xchg ").and_then(|r| r.split_once(',')) {
                            Some((a, b)) => format!("xchg {b},{a}"),
                            None => s.to_string(),
                        }
                    };
                    // NASM (and so x86lab) writes [r*2] as [r+r], the same address.
                    let split = |s: &str| -> String {
                        // ... and [r*1+d] as [r+d].
                        let mut out = s
                            .replace("*1+", "+")
                            .replace("*1-", "-")
                            .replace("*1]", "]");
                        for r in x86lab_firmware_regs() {
                            out = out.replace(&format!("[{r}*2"), &format!("[{r}+{r}"));
                        }
                        out
                    };
                    if (back != t && swapped(&back) != t && back != split(&t))
                        || j.len() != a.bytes.len()
                    {
                        bad.push(format!("{bits} {code:?}: `{t}` came back as `{back}`"));
                    }
                }
                Err(e) => bad.push(format!("{bits} {code:?}: `{t}`: {e}")),
            }
        }
    }
    // Forms the random instances did not reach are counted, and must stay few.
    eprintln!(
        "{checked} forms checked ({evex} EVEX); no instance built for {}: {:?}",
        unbuilt.len(),
        unbuilt
    );
    assert!(
        checked > 10000 && evex > 3000,
        "only {checked} forms ({evex} EVEX) checked"
    );
    assert!(
        unbuilt.len() < checked / 50,
        "{} forms without an instance",
        unbuilt.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {checked} forms:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
