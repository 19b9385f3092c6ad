//! The assembler against NASM: every line of the corpus (tests/corpus/bits{16,32,64}.asm)
//! must give the bytes NASM 2.16 gave for it (tests/corpus/expected.txt, written by
//! tests/corpus/regen.py), and the lines NASM refuses must be refused.

use std::path::Path;

use x86lab_firmware::asm::assemble_str;

#[test]
fn every_corpus_line_gives_nasms_bytes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut bad = Vec::new();
    let mut lines = 0;
    for row in expected.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = row.splitn(3, " | ").collect();
        let [bits, line, want] = f[..] else {
            panic!("bad row `{row}`")
        };
        lines += 1;
        let got = match assemble_str(&format!("bits {bits}\n{line}\n"), "corpus.asm".as_ref()) {
            Ok(a) => a
                .bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            Err(e) => format!("error ({e})"),
        };
        let same = if want == "error" {
            got.starts_with("error")
        } else {
            got == want
        };
        if !same {
            bad.push(format!("{bits} | {line} | NASM {want}, x86lab {got}"));
        }
    }
    assert!(lines >= 300, "only {lines} lines");
    assert!(
        bad.is_empty(),
        "{} of {lines} lines differ from NASM:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn corpus_round_trips_through_the_disassembler() {
    use iced_x86::{Decoder, DecoderOptions};
    use x86lab_firmware::asm::disasm;
    // Assemble, decode with iced-x86, format as `x86lab disasm` does, assemble again: the
    // same bytes.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut f = disasm::formatter();
    let mut bad = Vec::new();
    let mut checked = 0;
    for row in expected.lines().filter(|l| !l.starts_with('#')) {
        let f3: Vec<&str> = row.splitn(3, " | ").collect();
        let [bits, line, want] = f3[..] else {
            panic!("bad row `{row}`")
        };
        if want == "error" {
            continue;
        }
        let bits: u32 = bits.parse().unwrap();
        let bytes = assemble_str(&format!("bits {bits}\n{line}\n"), "corpus.asm".as_ref())
            .unwrap()
            .bytes;
        let mut text = String::new();
        for i in Decoder::with_ip(bits, &bytes, 0, DecoderOptions::NONE) {
            text += &disasm::text(&mut f, &i);
            text.push('\n');
        }
        checked += 1;
        match assemble_str(&format!("bits {bits}\n{text}"), "roundtrip.asm".as_ref()) {
            Ok(a) if a.bytes == bytes => {}
            Ok(a) => bad.push(format!(
                "{bits} | {line} -> `{}` -> {:02x?} (was {:02x?})",
                text.trim(),
                a.bytes,
                bytes
            )),
            Err(e) => bad.push(format!("{bits} | {line} -> `{}`: {e}", text.trim())),
        }
    }
    assert!(checked >= 300);
    assert!(
        bad.is_empty(),
        "{} of {checked} lines do not round-trip:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
