//! Compare with the processor: in lockstep every step also runs on KVM; the two register
//! sets side by side, differences marked, and the ones that are not divergences explained.
//! The first divergence stops a run.

use eframe::egui::{self, RichText};

use super::{ALERT, CHANGED};
use crate::session::Command;
use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Compare with the processor");
    let c = app.view.compare.clone();
    if app.view.on_processor {
        ui.label("The program runs on the processor itself (KVM): there is nothing to compare.");
        if let Some(why) = &c.unavailable {
            ui.label(RichText::new(why).color(ALERT));
        }
        hypervisor(ui, &c);
        return;
    }
    let mut on = c.on;
    if ui.checkbox(&mut on, "lockstep with KVM").changed() {
        app.command(Command::Compare(on));
    }
    if let Some(why) = &c.unavailable {
        ui.label(RichText::new(why).color(ALERT));
    }
    if !c.on {
        ui.label(
            "Each step then also runs on the real processor through KVM, from the same state.",
        );
        return;
    }
    ui.label(RichText::new(&c.regime).weak());
    ui.label(format!("{} steps compared", c.steps));
    let real: Vec<_> = c.diffs.iter().filter(|d| d.expected.is_none()).collect();
    if c.diffs.is_empty() {
        ui.label("the last step: the same on both");
    } else if real.is_empty() {
        ui.label("the last step: differences the manual allows (below); the processor goes on from the software CPU's registers");
    } else {
        ui.label(
            RichText::new("the last step: the processor did something else")
                .color(ALERT)
                .strong(),
        );
    }
    egui::Grid::new("diffs").striped(true).show(ui, |ui| {
        ui.label(RichText::new("").strong());
        ui.label(RichText::new("software CPU").strong());
        ui.label(RichText::new("processor").strong());
        ui.end_row();
        for d in &c.diffs {
            let colour = if d.expected.is_none() { ALERT } else { CHANGED };
            ui.label(RichText::new(&d.what).color(colour));
            ui.label(RichText::new(&d.emulator).monospace());
            let r = ui.label(RichText::new(&d.processor).monospace());
            if let Some(why) = &d.expected {
                r.on_hover_text(why);
            }
            ui.end_row();
        }
    });
    for d in c.diffs.iter().filter_map(|d| d.expected.as_ref()) {
        ui.label(RichText::new(format!("not a divergence: {d}")).weak());
    }
    if let Some(hw) = &c.processor {
        ui.label(
            RichText::new(format!(
                "processor: RIP {:x}, RFLAGS {:x}",
                hw.rip, hw.rflags
            ))
            .monospace(),
        );
    }
    hypervisor(ui, &c);
}

/// What the hypervisor did: KVM's counters, and what each recent step added to them.
fn hypervisor(ui: &mut egui::Ui, c: &crate::session::CompareView) {
    egui::CollapsingHeader::new("What the hypervisor did")
        .default_open(false)
        .show(ui, |ui| {
            ui.label(
                "KVM's statistics for this vCPU: VM exits by kind, instructions the host kernel \
                 emulated, halts. Each step below lists what it added.",
            );
            for (step, text, added) in c.timeline.iter().rev().take(16) {
                let what: Vec<String> = added.iter().map(|(n, v)| format!("{n} +{v}")).collect();
                ui.label(
                    RichText::new(format!("step {step}: {text} | {}", what.join(", "))).monospace(),
                );
            }
            ui.separator();
            egui::Grid::new("kvm-counters")
                .striped(true)
                .show(ui, |ui| {
                    for (n, v) in &c.counters {
                        ui.label(RichText::new(n).monospace());
                        ui.label(RichText::new(v.to_string()).monospace());
                        ui.end_row();
                    }
                });
        });
}
