//! The editor: the program's assembly source with syntax colouring; Ctrl+Enter (or the
//! button) assembles it and loads it; errors appear on their lines.

use std::sync::Arc;

use eframe::egui::{self, text::LayoutJob, Color32, FontId, TextFormat};

use super::{ALERT, CURRENT};
use crate::App;

const COMMENT: Color32 = Color32::from_rgb(0x6a, 0x99, 0x55);
const KEYWORD: Color32 = Color32::from_rgb(0x56, 0x9c, 0xd6);
const REGISTER: Color32 = Color32::from_rgb(0x9c, 0xdc, 0xfe);
const NUMBER: Color32 = Color32::from_rgb(0xb5, 0xce, 0xa8);
const STRING: Color32 = Color32::from_rgb(0xce, 0x91, 0x78);
const DIRECTIVE: Color32 = Color32::from_rgb(0xc5, 0x86, 0xc0);

/// Colours a source: comments, strings, numbers, registers, mnemonics and directives; the
/// lines with errors, and the line of the next instruction, get a background.
pub fn highlight(text: &str, error_lines: &[u32], current: Option<u32>) -> LayoutJob {
    let mut job = LayoutJob::default();
    let font = FontId::monospace(13.0);
    let plain = |c: Color32| TextFormat::simple(font.clone(), c);
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bad = error_lines.contains(&(n as u32 + 1));
        let here = current == Some(n as u32 + 1);
        let mut rest = line;
        let code_end = comment_start(line).unwrap_or(line.len());
        let (code, comment) = rest.split_at(code_end);
        rest = code;
        while !rest.is_empty() {
            let c = rest.chars().next().expect("not empty");
            let len = if c == '"' || c == '\'' || c == '`' {
                rest[1..].find(c).map_or(rest.len(), |e| e + 2)
            } else if c.is_alphanumeric() || "_.%$@?".contains(c) {
                rest.find(|x: char| !(x.is_alphanumeric() || "_.%$@?#~".contains(x)))
                    .unwrap_or(rest.len())
            } else {
                c.len_utf8()
            };
            let word = &rest[..len];
            let colour = if c == '"' || c == '\'' || c == '`' {
                STRING
            } else if c.is_ascii_digit() {
                NUMBER
            } else if word.starts_with('%') {
                DIRECTIVE
            } else if x86lab_firmware::asm::expr::register(word).is_some() {
                REGISTER
            } else if x86lab_firmware::asm::mnemonic::known(&word.to_ascii_lowercase()) {
                KEYWORD
            } else if matches!(
                word.to_ascii_lowercase().as_str(),
                "bits"
                    | "org"
                    | "db"
                    | "dw"
                    | "dd"
                    | "dq"
                    | "times"
                    | "equ"
                    | "resb"
                    | "resw"
                    | "resd"
                    | "resq"
                    | "align"
            ) {
                DIRECTIVE
            } else {
                Color32::LIGHT_GRAY
            };
            let mut f = plain(colour);
            if bad {
                f.background = ALERT.gamma_multiply(0.35);
            } else if here {
                f.background = CURRENT.gamma_multiply(0.35);
            }
            job.append(word, 0.0, f);
            rest = &rest[len..];
        }
        if !comment.is_empty() {
            let mut f = plain(COMMENT);
            if bad {
                f.background = ALERT.gamma_multiply(0.35);
            } else if here {
                f.background = CURRENT.gamma_multiply(0.35);
            }
            job.append(comment, 0.0, f);
        }
    }
    job
}

fn comment_start(line: &str) -> Option<usize> {
    let mut quote = None;
    for (k, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None if c == ';' => return Some(k),
            None => {}
        }
    }
    None
}

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    let heading = ui.horizontal(|ui| {
        let h = ui.heading("Source");
        if ui
            .button("Assemble and load")
            .on_hover_text("Ctrl+Enter")
            .clicked()
        {
            let name = app.view.program.clone();
            app.assemble_and_load(if name.is_empty() {
                "program.asm"
            } else {
                &name
            });
        }
        h.id
    });
    let heading = heading.inner;
    let lines: Vec<u32> = app.errors.iter().map(|e| e.line).collect();
    // The source line of the next instruction (when the editor shows the loaded program).
    let current = app.view.source_line.filter(|_| app.errors.is_empty());
    for e in &app.errors {
        ui.label(egui::RichText::new(format!("line {}: {}", e.line, e.message)).color(ALERT));
    }
    // Source lines are not wrapped: the editor scrolls sideways.
    let mut layouter =
        |ui: &egui::Ui, text: &dyn egui::TextBuffer, _wrap: f32| -> Arc<egui::Galley> {
            let mut job = highlight(text.as_str(), &lines, current);
            job.wrap.max_width = f32::INFINITY;
            ui.ctx().fonts_mut(|f| f.layout_job(job))
        };
    egui::ScrollArea::both().id_salt("editor").show(ui, |ui| {
        ui.add(
            egui::TextEdit::multiline(&mut app.state.source)
                .code_editor()
                .desired_width(f32::INFINITY)
                .desired_rows(40)
                .layouter(&mut layouter),
        )
        .labelled_by(heading);
    });
}
