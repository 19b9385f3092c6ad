//! The system views: how the memory panel's address is translated (segmentation, then each
//! paging level with its flags, down to the physical address), the GDT and IDT decoded, and
//! the exceptions seen.

use eframe::egui::{self, RichText};

use crate::App;

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("System");
    egui::ScrollArea::vertical()
        .id_salt("system")
        .show(ui, |ui| {
            page_walk(app, ui);
            ui.separator();
            gdt(app, ui);
            ui.separator();
            idt(app, ui);
            ui.separator();
            ui.label(RichText::new("Exceptions and interrupts").strong());
            if app.view.events.is_empty() {
                ui.label("none yet");
            }
            for e in app.view.events.iter().rev() {
                ui.label(RichText::new(e).monospace());
            }
        });
}

fn page_walk(app: &mut App, ui: &mut egui::Ui) {
    let at = app.view.memory_at;
    ui.label(
        RichText::new(format!(
            "Page walk of linear {at:x} (the memory panel's address)"
        ))
        .strong(),
    );
    if let Some(s) = &app.view.state {
        if s.mode() != x86lab_emulator::CpuMode::Long64 {
            ui.label(format!(
                "segmentation: DS base {:x} + offset = linear (code uses CS base {:x})",
                s.ds.base, s.cs.base
            ));
        } else {
            ui.label("segmentation: 64-bit mode uses base 0 (except FS and GS)");
        }
    }
    let Some(w) = &app.view.walk else { return };
    ui.label(w.kind);
    let nx = app
        .view
        .state
        .as_ref()
        .is_some_and(|s| s.efer & x86lab_emulator::state::ctl::EFER_NXE != 0);
    for l in &w.levels {
        ui.label(
            RichText::new(format!(
                "{:<5} table {:x} [{}] @ {:x} = {:016x}",
                l.name, l.table, l.index, l.entry_addr, l.entry
            ))
            .monospace(),
        );
        let flags: Vec<String> = l
            .flags(nx)
            .iter()
            .map(|(n, on)| if *on { n.to_string() } else { format!("-{n}") })
            .collect();
        ui.label(
            RichText::new(format!("      {}", flags.join(" ")))
                .monospace()
                .weak(),
        );
    }
    match w.physical {
        Some(p) if w.page_size > 0 => {
            ui.label(format!("physical {p:x} ({} KiB page)", w.page_size / 1024))
        }
        Some(p) => ui.label(format!("physical {p:x}")),
        None => ui.label(
            RichText::new("not present: an access here is a page fault").color(super::ALERT),
        ),
    };
}

/// A code or data descriptor in words.
pub fn describe_descriptor(d: u64) -> String {
    if d == 0 {
        return "null".into();
    }
    let base = ((d >> 16) & 0xff_ffff) | ((d >> 56) << 24);
    let mut limit = (d & 0xffff) | ((d >> 32) & 0xf_0000);
    let access = (d >> 40) & 0xff;
    let flags = (d >> 52) & 0xf;
    if flags & 8 != 0 {
        limit = (limit << 12) | 0xfff;
    }
    let present = if access & 0x80 != 0 {
        ""
    } else {
        ", not present"
    };
    let dpl = (access >> 5) & 3;
    if access & 0x10 == 0 {
        let kind = match access & 0xf {
            2 => "LDT",
            9 => "TSS (available)",
            0xb => "TSS (busy)",
            0xc => "call gate",
            0xe => "interrupt gate",
            0xf => "trap gate",
            _ => "system",
        };
        return format!("{kind}, base {base:x}, limit {limit:x}, DPL {dpl}{present}");
    }
    let kind = if access & 8 != 0 {
        if flags & 2 != 0 {
            "code 64-bit"
        } else if flags & 4 != 0 {
            "code 32-bit"
        } else {
            "code 16-bit"
        }
    } else {
        "data"
    };
    format!("{kind}, base {base:x}, limit {limit:x}, DPL {dpl}{present}")
}

fn gdt(app: &mut App, ui: &mut egui::Ui) {
    ui.label(RichText::new("GDT").strong());
    if app.view.gdt.is_empty() {
        ui.label("(real mode: no descriptors in use)");
    }
    for (k, d) in app.view.gdt.iter().enumerate() {
        ui.label(
            RichText::new(format!(
                "{:02x}: {d:016x}  {}",
                k * 8,
                describe_descriptor(*d)
            ))
            .monospace(),
        );
    }
}

fn idt(app: &mut App, ui: &mut egui::Ui) {
    ui.label(RichText::new("IDT").strong());
    if app.view.idt.is_empty() {
        ui.label("(real mode: the interrupt vector table at 0)");
    }
    for (v, (lo, hi)) in app.view.idt.iter().enumerate() {
        if *lo == 0 && *hi == 0 {
            continue;
        }
        let offset = (lo & 0xffff) | ((lo >> 32) & 0xffff_0000) | (hi & 0xffff_ffff) << 32;
        let selector = (lo >> 16) & 0xffff;
        let kind = match (lo >> 40) & 0xf {
            0xe => "interrupt gate",
            0xf => "trap gate",
            5 => "task gate",
            _ => "gate",
        };
        let dpl = (lo >> 45) & 3;
        ui.label(
            RichText::new(format!(
                "{v:>3}: {kind} {selector:04x}:{offset:x} DPL {dpl}"
            ))
            .monospace(),
        );
    }
}
