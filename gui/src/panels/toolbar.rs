//! The menu bar (lessons, open, sessions) and the toolbar (step, step over, step out, back,
//! run, pause, reset, speed) with the machine's status in words.

use eframe::egui::{self, RichText};
use x86lab_emulator::CpuMode;

use crate::session::Command;
use crate::App;

pub fn menu(app: &mut App, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.menu_button("Lessons", |ui| {
            for (k, (name, _)) in x86lab_firmware::LESSONS.iter().enumerate() {
                if ui.button(*name).clicked() {
                    app.load_lesson(k);
                    ui.close();
                }
            }
        });
        ui.separator();
        ui.label("File:");
        ui.add(
            egui::TextEdit::singleline(&mut app.open_path)
                .desired_width(260.0)
                .hint_text(".asm, flat binary or ELF"),
        );
        if ui.button("Open").clicked() && !app.open_path.is_empty() {
            let p = std::path::PathBuf::from(app.open_path.trim());
            app.open(&p);
        }
        if ui.button("Save session").clicked() && !app.open_path.is_empty() {
            let p = std::path::PathBuf::from(app.open_path.trim());
            app.save_session(&p);
        }
        if ui.button("Load session").clicked() && !app.open_path.is_empty() {
            let p = std::path::PathBuf::from(app.open_path.trim());
            app.load_session(&p);
        }
        if !app.notice.is_empty() {
            ui.label(app.notice.clone());
        }
    });
}

/// The mode and privilege in words.
pub fn mode_words(s: &x86lab_emulator::CpuState) -> String {
    let mode = match s.mode() {
        CpuMode::Real => "real mode (16-bit)".to_string(),
        CpuMode::Virtual8086 => "virtual-8086 mode".to_string(),
        CpuMode::Protected => format!(
            "protected mode ({}-bit code{})",
            if s.cs.db() { 32 } else { 16 },
            if s.cr0 & x86lab_emulator::state::ctl::CR0_PG != 0 {
                ", paging on"
            } else {
                ", paging off"
            }
        ),
        CpuMode::Compatibility => "long mode, compatibility (32-bit code)".to_string(),
        CpuMode::Long64 => "long mode (64-bit code)".to_string(),
    };
    format!("{mode}, CPL {}", s.cpl())
}

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    let running = app.view.running;
    ui.horizontal(|ui| {
        let loaded = app.view.state.is_some();
        ui.add_enabled_ui(loaded && !running, |ui| {
            if ui
                .button("Step")
                .on_hover_text("one instruction (F7)")
                .clicked()
            {
                app.command(Command::Step);
            }
            if ui
                .button("Step over")
                .on_hover_text("over CALL, LOOP, INT and REP (F8)")
                .clicked()
            {
                app.command(Command::StepOver);
            }
            if ui
                .button("Step out")
                .on_hover_text("until this routine returns (Shift+F8)")
                .clicked()
            {
                app.command(Command::StepOut);
            }
            if ui
                .add_enabled(app.view.history > 0, egui::Button::new("Back"))
                .on_hover_text("undo the last step exactly: registers, memory, devices (F6)")
                .clicked()
            {
                app.command(Command::Back);
            }
        });
        if running {
            if ui.button("Pause").on_hover_text("F5").clicked() {
                app.command(Command::Pause);
            }
        } else if ui
            .add_enabled(loaded, egui::Button::new("Run"))
            .on_hover_text("F5")
            .clicked()
        {
            app.command(Command::Run);
        }
        if ui.add_enabled(loaded, egui::Button::new("Reset")).clicked() {
            app.command(Command::Reset);
        }
        ui.separator();
        ui.label("Run on:");
        let mut on = app.view.on_processor;
        ui.radio_value(&mut on, false, "software CPU");
        ui.radio_value(&mut on, true, "processor (KVM)")
            .on_hover_text("the program runs on the real processor through KVM; stepping back replays the steps from the start");
        if on != app.view.on_processor {
            app.command(Command::OnProcessor(on));
        }
        ui.separator();
        let speed = ui.label("Speed:");
        let mut full = app.state.speed.is_none();
        let mut ips = app.state.speed.unwrap_or(10);
        let before = (full, ips);
        ui.checkbox(&mut full, "full");
        ui.add_enabled(
            !full,
            egui::Slider::new(&mut ips, 1..=1_000_000)
                .logarithmic(true)
                .show_value(false),
        )
        .labelled_by(speed.id);
        if !full {
            ui.label(format!("{ips} instr/s"));
        }
        if (full, ips) != before {
            app.state.speed = if full { None } else { Some(ips) };
            app.command(Command::Speed(app.state.speed));
        }
        if running {
            ui.label(format!("{:.0} instr/s", app.view.ips));
        }
    });
    ui.horizontal(|ui| {
        if let Some(s) = &app.view.state {
            ui.label(RichText::new(mode_words(s)).strong());
            ui.separator();
        }
        ui.label(format!(
            "{}: {} instructions, {} can be undone",
            app.view.program, app.view.retired, app.view.history
        ));
        ui.separator();
        ui.label(app.view.status.clone());
        if let Some(e) = &app.view.error {
            ui.label(RichText::new(e).color(super::ALERT));
        }
    });
}
