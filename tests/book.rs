//! The book (book/, mdBook): every chapter in the summary exists; every `{{#include}}`
//! names a file (and anchor) that exists; every relative link and image resolves; every
//! program output the book shows (a ```text block after `<!-- saída: PATH -->`) is what
//! the software CPU prints for that program, booted through the firmware.

use std::path::{Path, PathBuf};

use x86lab_emulator::{Cpu, Event, Machine, MemoryLayout, RunLimits};

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src")
}

fn chapters() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(book())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    v.sort();
    v
}

/// What a program prints on the software CPU, booted through the firmware.
fn output_of(program: &Path) -> String {
    let a = x86lab_firmware::asm::assemble_file(program, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mode = match a.bits {
        16 => x86lab::load::Mode::Real,
        32 => x86lab::load::Mode::Protected,
        _ => x86lab::load::Mode::Long,
    };
    let mut cpu = Cpu::new(MemoryLayout::default()).unwrap();
    x86lab::load::boot_firmware(&mut cpu, &a.bytes, mode).unwrap();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let e = cpu
            .run(&RunLimits {
                max_instructions: Some(1 << 20),
                ..RunLimits::default()
            })
            .unwrap();
        out.extend(cpu.devices().output().take());
        if !matches!(e, Event::LimitReached(_)) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ids mdBook gives a file's headings: the text lower-cased (ASCII letters only),
/// spaces as `-`, punctuation dropped, a repeated id numbered `-1`, `-2`, ...
fn heading_ids(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        // Link texts stay, link targets go: [text](target) -> text.
        let mut plain = String::new();
        let mut rest = title.trim_start_matches('#').trim();
        while let Some((before, after)) = rest.split_once("](") {
            plain.push_str(before);
            rest = after.split_once(')').map_or("", |(_, r)| r);
        }
        plain.push_str(rest);
        let id: String = plain
            .trim()
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_ascii_lowercase())
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let n = seen.entry(id.clone()).or_insert(0);
        ids.push(if *n == 0 { id } else { format!("{id}-{n}") });
        *n += 1;
    }
    ids
}

/// The http(s) addresses in a text, as written (a trailing `)`, `>` or `.` is not part of one).
fn web_addresses(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for scheme in ["https://", "http://"] {
        for piece in text.split(scheme).skip(1) {
            let end = piece
                .find(|c: char| c.is_whitespace() || matches!(c, ')' | '>' | '"' | '`' | ']'))
                .unwrap_or(piece.len());
            let url = piece[..end].trim_end_matches(['.', ',', ';']);
            v.push(format!("{scheme}{url}"));
        }
    }
    v
}

#[test]
fn summary_includes_links_and_outputs_are_right() {
    let summary = std::fs::read_to_string(book().join("SUMMARY.md")).unwrap();
    let mut bad = Vec::new();
    for cap in summary.split("](").skip(1) {
        let target = cap.split(')').next().unwrap();
        if !book().join(target).is_file() {
            bad.push(format!("SUMMARY.md: `{target}` does not exist"));
        }
    }
    let references =
        web_addresses(&std::fs::read_to_string(book().join("referencias.md")).unwrap());
    let mut outputs = 0;
    for ch in chapters() {
        let name = ch.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&ch).unwrap();
        // {{#include path[:anchor]}}
        for inc in text.split("{{#include ").skip(1) {
            let spec = inc.split("}}").next().unwrap().trim();
            let (path, anchor) = match spec.split_once(':') {
                Some((p, a)) => (p, Some(a)),
                None => (spec, None),
            };
            if anchor.is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit())) {
                bad.push(format!(
                    "{name}: `{spec}` includes by line numbers; mark the lines with an anchor"
                ));
                continue;
            }
            let file = book().join(path);
            match std::fs::read_to_string(&file) {
                Err(_) => bad.push(format!("{name}: include `{path}` does not exist")),
                Ok(body) => {
                    if let Some(a) = anchor {
                        if !body.contains(&format!("ANCHOR: {a}"))
                            || !body.contains(&format!("ANCHOR_END: {a}"))
                        {
                            bad.push(format!("{name}: `{path}` has no anchor `{a}`"));
                        }
                    }
                    if file.extension().is_some_and(|x| x == "asm") {
                        if let Err(e) =
                            x86lab_firmware::asm::assemble_file(&file, &Default::default())
                        {
                            bad.push(format!("{name}: `{path}` does not assemble: {e}"));
                        }
                    }
                }
            }
        }
        // Relative links and images, ](target#fragment): the file exists, and the fragment
        // is one of its headings.
        for link in text.split("](").skip(1) {
            let link = link.split(')').next().unwrap().trim();
            let link = link.split_whitespace().next().unwrap_or(link);
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (target, fragment) = link.split_once('#').unwrap_or((link, ""));
            let file = if target.is_empty() {
                ch.clone()
            } else {
                ch.parent().unwrap().join(target)
            };
            if !file.exists() {
                bad.push(format!("{name}: link `{target}` does not resolve"));
            } else if !fragment.is_empty() && !heading_ids(&file).iter().any(|id| id == fragment) {
                bad.push(format!("{name}: `{target}` has no heading `#{fragment}`"));
            }
        }
        // Claims about products and history carry a reference: every web address a chapter
        // cites is in the references chapter.
        if name != "referencias.md" {
            for url in web_addresses(&text) {
                if !references.contains(&url) {
                    bad.push(format!("{name}: {url} is not in referencias.md"));
                }
            }
        }
        // <!-- saída: PATH --> then a ```text block.
        for block in text.split("<!-- saída: ").skip(1) {
            let path = block.split("-->").next().unwrap().trim();
            let rest = block.split_once("-->").unwrap().1;
            let Some(body) = rest.trim_start().strip_prefix("```text\n") else {
                bad.push(format!(
                    "{name}: the output of `{path}` is not followed by a ```text block"
                ));
                continue;
            };
            let shown = body.split("\n```").next().unwrap();
            let program = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            let real = output_of(&program);
            outputs += 1;
            if shown.trim_end() != real.trim_end() {
                bad.push(format!(
                    "{name}: the book shows for `{path}`:\n{shown}\n--- but it prints:\n{real}"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    eprintln!("{outputs} program outputs in the book checked against the software CPU");
}
