//! "Why did this happen": the next instruction's bytes in parts and its operands' values;
//! the last step's instruction with each status flag it wrote, before and after, and the
//! rule that set it.

use eframe::egui::{self, RichText};

use super::CHANGED;
use crate::App;

fn instruction(ui: &mut egui::Ui, e: &crate::explain::Explained) {
    ui.label(
        RichText::new(format!("{:08x}  {}", e.addr, e.text))
            .monospace()
            .strong(),
    );
    egui::Grid::new(("parts", e.addr))
        .striped(true)
        .show(ui, |ui| {
            for (what, bytes) in &e.parts {
                ui.label(RichText::new(bytes).monospace());
                ui.label(what);
                ui.end_row();
            }
        });
    for (k, o) in e.operands.iter().enumerate() {
        ui.label(RichText::new(format!("operand {}: {o}", k + 1)).monospace());
    }
}

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Why");
    if let Some(e) = app.view.next.clone() {
        ui.label(RichText::new("Next instruction").strong());
        instruction(ui, &e);
    }
    if let Some(e) = app.view.last.clone() {
        ui.separator();
        ui.label(RichText::new("Last step").strong());
        instruction(ui, &e);
        for (flag, before, after, rule) in &e.flags {
            let t = RichText::new(format!("{flag} {before} -> {after}: {rule}"));
            ui.label(if before != after { t.color(CHANGED) } else { t });
        }
        if e.flags.is_empty() {
            ui.label("it writes no status flag");
        }
    }
}
