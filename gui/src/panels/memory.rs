//! Memory: 256 bytes in hex and ASCII from an address (linear, through the page tables);
//! the bytes the last step wrote are coloured. Bytes can be edited by typing hex at an
//! address.

use eframe::egui::{self, RichText};

use super::CHANGED;
use crate::session::Command;
use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Memory");
    ui.horizontal(|ui| {
        ui.label("Go to:");
        ui.add(
            egui::TextEdit::singleline(&mut app.memory_text)
                .desired_width(110.0)
                .hint_text(format!("{:x}", app.view.memory_at)),
        );
        let text = app.memory_text.clone();
        if ui
            .button("Watch 16")
            .on_hover_text("a run stops after a write into these 16 bytes (physical)")
            .clicked()
        {
            let start = app
                .view
                .walk
                .as_ref()
                .and_then(|w| w.physical)
                .unwrap_or(app.view.memory_at);
            app.command(Command::ToggleWatch(start, 16));
        }
        if ui.button("Go").clicked() {
            match u64::from_str_radix(text.trim().trim_start_matches("0x"), 16) {
                Ok(a) => {
                    app.state.memory_at = a;
                    app.command(Command::MemoryAt(a));
                }
                Err(_) => app.notice = format!("`{}` is not a hex address", text.trim()),
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("Write:");
        ui.add(
            egui::TextEdit::singleline(&mut app.poke_text)
                .desired_width(170.0)
                .hint_text("addr: 90 90 cc"),
        );
        let poke = app.poke_text.clone();
        if ui.button("Write").clicked() {
            match parse_poke(&poke) {
                Some((a, bytes)) => app.command(Command::Poke(a, bytes)),
                None => app.notice = "write as `address: byte byte ...` in hex".into(),
            }
        }
    });
    for (a, n) in app.view.watches.clone() {
        ui.label(
            RichText::new(format!("watching {n} bytes at {a:x} (physical)")).color(super::ALERT),
        );
    }
    let base = app.view.memory_at;
    let written = |a: u64| {
        app.view
            .written
            .iter()
            .any(|&(w, n)| a >= w && a < w + n as u64)
    };
    egui::ScrollArea::vertical()
        .id_salt("memory")
        .show(ui, |ui| {
            for (row, chunk) in app.view.memory.chunks(16).enumerate() {
                let at = base + row as u64 * 16;
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    ui.label(RichText::new(format!("{at:08x}")).monospace().weak());
                    for (k, b) in chunk.iter().enumerate() {
                        let t = RichText::new(format!("{b:02x}")).monospace();
                        ui.label(if written(at + k as u64) {
                            t.color(CHANGED).strong()
                        } else {
                            t
                        });
                    }
                    let ascii: String = chunk
                        .iter()
                        .map(|&b| {
                            if (0x20..0x7f).contains(&b) {
                                b as char
                            } else {
                                '.'
                            }
                        })
                        .collect();
                    ui.label(RichText::new(ascii).monospace());
                });
            }
        });
}

/// `addr: b b b` in hex.
fn parse_poke(text: &str) -> Option<(u64, Vec<u8>)> {
    let (a, rest) = text.split_once(':')?;
    let addr = u64::from_str_radix(a.trim().trim_start_matches("0x"), 16).ok()?;
    let bytes: Option<Vec<u8>> = rest
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    bytes.filter(|b| !b.is_empty()).map(|b| (addr, b))
}
