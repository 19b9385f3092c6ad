//! The stack: slots from SS:SP upwards, in the mode's width.

use eframe::egui::{self, RichText};

use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Stack");
    let digits = match app.view.state.as_ref().map(|s| s.mode()) {
        Some(x86lab_emulator::CpuMode::Long64) => 16,
        Some(x86lab_emulator::CpuMode::Real) => 4,
        _ => 8,
    };
    egui::Grid::new("stack").striped(true).show(ui, |ui| {
        for (k, (sp, v)) in app.view.stack.iter().enumerate() {
            let addr = format!("{sp:0digits$x}");
            ui.label(
                RichText::new(if k == 0 {
                    format!("{addr} <- SP")
                } else {
                    addr
                })
                .monospace(),
            );
            ui.label(RichText::new(format!("{v:0digits$x}")).monospace());
            ui.end_row();
        }
    });
}
