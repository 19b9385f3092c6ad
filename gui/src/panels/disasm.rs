//! The disassembly around the current instruction: the last instructions executed, then the
//! next ones, with the assembler's labels; the current line highlighted. Clicking an address
//! sets or clears a breakpoint; an address or label can be typed too.

use eframe::egui::{self, RichText};

use super::{ALERT, CURRENT};
use crate::session::Command;
use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Disassembly");
    ui.horizontal(|ui| {
        ui.label("Breakpoint at:");
        ui.add(
            egui::TextEdit::singleline(&mut app.breakpoint_text)
                .desired_width(160.0)
                .hint_text("address or label"),
        );
        let text = app.breakpoint_text.clone();
        if ui.button("Toggle").clicked() {
            match resolve(app, text.trim()) {
                Some(a) => app.command(Command::ToggleBreakpoint(a)),
                None => app.notice = format!("`{}` is neither an address nor a label", text.trim()),
            }
        }
    });
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("disasm")
        .show(ui, |ui| {
            egui::Grid::new("disasm-grid").striped(true).show(ui, |ui| {
                for line in app.view.disasm.clone() {
                    let mark = if line.breakpoint { "●" } else { " " };
                    let addr = RichText::new(format!("{mark} {:08x}", line.addr)).monospace();
                    let addr = if line.breakpoint {
                        addr.color(ALERT)
                    } else {
                        addr
                    };
                    if ui
                        .add(egui::Label::new(addr).sense(egui::Sense::click()))
                        .on_hover_text("click: breakpoint here")
                        .clicked()
                    {
                        app.command(Command::ToggleBreakpoint(line.addr));
                    }
                    ui.label(
                        RichText::new(
                            line.label
                                .clone()
                                .map(|l| format!("{l}:"))
                                .unwrap_or_default(),
                        )
                        .monospace(),
                    );
                    ui.label(RichText::new(&line.bytes).monospace().weak());
                    let text = RichText::new(if line.current {
                        format!("▶ {}", line.text)
                    } else {
                        line.text.clone()
                    })
                    .monospace();
                    ui.label(if line.current {
                        text.color(CURRENT).strong()
                    } else {
                        text
                    });
                    ui.end_row();
                }
            });
        });
}

/// An address (hex, with or without 0x) or a label of the program.
fn resolve(app: &App, text: &str) -> Option<u64> {
    // A label first: `add`, `bad` or `cafe` are labels as well as hex numbers.
    let source = &app.state.source;
    let label = crate::program::Program::assemble(source, "breakpoint", app.state.path.as_deref())
        .ok()
        .and_then(|p| {
            p.labels
                .iter()
                .find(|(_, n)| n.as_str() == text)
                .map(|(a, _)| *a)
        });
    let hex = text.trim_start_matches("0x").trim_end_matches('h');
    label.or_else(|| u64::from_str_radix(hex, 16).ok())
}
