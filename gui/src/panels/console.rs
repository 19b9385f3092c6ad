//! The console: what the guest wrote to the debug port (E9h) and the serial port.

use eframe::egui;

use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Console");
    // Lines as the guest wrote them: not wrapped, the panel scrolls sideways.
    egui::ScrollArea::both()
        .id_salt("console")
        .stick_to_bottom(true)
        .show(ui, |ui| {
            ui.add(egui::Label::new(egui::RichText::new(&app.view.console).monospace()).extend());
        });
}
