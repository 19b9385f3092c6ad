//! The registers: general-purpose registers (hex, or signed decimal), RIP and RFLAGS with
//! each flag named and explained on hover, the segment registers with their descriptor
//! caches, and CR0, CR3, CR4 and EFER decoded. What the last step changed is coloured, with
//! its old value on hover.

use eframe::egui::{self, Color32, RichText};
use x86lab_emulator::state::CpuState;
use x86lab_emulator::CpuMode;

use super::CHANGED;
use crate::state::Radix;
use crate::App;

const NAMES64: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// RFLAGS: bit, name, what it means.
pub const FLAGS: [(u32, &str, &str); 13] = [
    (
        0,
        "CF",
        "carry: an unsigned result did not fit (a carry out of, or a borrow into, the top bit)",
    ),
    (
        2,
        "PF",
        "parity: the low byte of the result has an even number of 1 bits",
    ),
    (
        4,
        "AF",
        "auxiliary carry: a carry or borrow between bits 3 and 4 (for BCD arithmetic)",
    ),
    (6, "ZF", "zero: the result is 0"),
    (
        7,
        "SF",
        "sign: the top bit of the result (negative as a signed number)",
    ),
    (
        8,
        "TF",
        "trap: a debug exception after every instruction (single-stepping)",
    ),
    (
        9,
        "IF",
        "interrupt enable: maskable interrupts are delivered",
    ),
    (10, "DF", "direction: string instructions go down in memory"),
    (11, "OF", "overflow: a signed result did not fit"),
    (14, "NT", "nested task: IRET returns to the previous task"),
    (
        16,
        "RF",
        "resume: instruction breakpoints are ignored once (set in a fault's saved RFLAGS)",
    ),
    (17, "VM", "virtual-8086 mode"),
    (
        18,
        "AC",
        "alignment check: unaligned accesses at CPL 3 fault (with CR0.AM)",
    ),
];

fn value(ui: &mut egui::Ui, text: String, changed: Option<String>) {
    let mut t = RichText::new(text).monospace();
    if changed.is_some() {
        t = t.color(CHANGED).strong();
    }
    let r = ui.label(t);
    if let Some(old) = changed {
        r.on_hover_text(format!("was {old}"));
    }
}

fn bits_line(ui: &mut egui::Ui, v: u64, bits: &[(u32, &str, &str)]) {
    ui.horizontal_wrapped(|ui| {
        for (b, name, what) in bits {
            let on = v >> b & 1 != 0;
            let t = RichText::new(*name).monospace();
            ui.label(if on {
                t.strong()
            } else {
                t.color(Color32::GRAY)
            })
            .on_hover_text(format!("bit {b}: {what} ({})", if on { "1" } else { "0" }));
        }
    });
}

pub fn show(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Registers");
    let Some(s) = app.view.state.clone() else {
        ui.label("no machine");
        return;
    };
    let prev = app.view.previous.clone();
    let mode = s.mode();
    let width = match mode {
        CpuMode::Long64 => 64,
        CpuMode::Real | CpuMode::Virtual8086 => 16,
        _ => 32,
    };
    ui.horizontal(|ui| {
        ui.radio_value(&mut app.state.radix, Radix::Hex, "hex");
        ui.radio_value(&mut app.state.radix, Radix::Unsigned, "decimal");
        ui.radio_value(&mut app.state.radix, Radix::Signed, "signed");
    });
    let count = if width == 64 { 16 } else { 8 };
    egui::Grid::new("gprs").striped(true).show(ui, |ui| {
        for (k, full) in NAMES64.iter().enumerate().take(count) {
            let name = match width {
                64 => full.to_string(),
                32 => format!("e{}", &full[1..]),
                _ => full[1..].to_string(),
            };
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let fmt = |v: u64| -> String {
                let v = v & mask;
                match app.state.radix {
                    Radix::Signed => {
                        let shift = 64 - width;
                        format!("{}", ((v << shift) as i64) >> shift)
                    }
                    Radix::Unsigned => format!("{v}"),
                    Radix::Hex => format!("{v:0w$x}", w = (width / 4) as usize),
                }
            };
            ui.label(RichText::new(name.to_uppercase()).monospace());
            let changed = prev
                .as_ref()
                .filter(|p| p.gpr[k] != s.gpr[k])
                .map(|p| fmt(p.gpr[k]));
            value(ui, fmt(s.gpr[k]), changed);
            ui.end_row();
        }
        let ip = match width {
            64 => "RIP",
            32 => "EIP",
            _ => "IP",
        };
        ui.label(RichText::new(ip).monospace());
        let changed = prev
            .as_ref()
            .filter(|p| p.rip != s.rip)
            .map(|p| format!("{:x}", p.rip));
        value(ui, format!("{:x}", s.rip), changed);
        ui.end_row();
        ui.label(RichText::new("RFLAGS").monospace());
        let changed = prev
            .as_ref()
            .filter(|p| p.rflags != s.rflags)
            .map(|p| format!("{:08x}", p.rflags));
        value(
            ui,
            format!("{:08x}  IOPL {}", s.rflags, s.rflags >> 12 & 3),
            changed,
        );
        ui.end_row();
    });
    bits_line(ui, s.rflags, &FLAGS);
    if let Some(p) = &prev {
        let flipped: Vec<&str> = FLAGS
            .iter()
            .filter(|(b, ..)| (p.rflags ^ s.rflags) >> b & 1 != 0)
            .map(|(_, n, _)| *n)
            .collect();
        if !flipped.is_empty() {
            ui.label(RichText::new(format!("changed: {}", flipped.join(" "))).color(CHANGED));
        }
    }
    ui.separator();
    segments(ui, &s, prev.as_ref());
    ui.separator();
    control(ui, &s);
}

fn segments(ui: &mut egui::Ui, s: &CpuState, prev: Option<&CpuState>) {
    ui.label(RichText::new("Segments (selector: cached base, limit, attributes)").strong());
    egui::Grid::new("segments").striped(true).show(ui, |ui| {
        for (k, name) in ["ES", "CS", "SS", "DS", "FS", "GS"].iter().enumerate() {
            let seg = s.seg(k);
            ui.label(RichText::new(*name).monospace());
            let changed = prev
                .filter(|p| p.seg(k) != seg)
                .map(|p| format!("{:04x} base {:x}", p.seg(k).selector, p.seg(k).base));
            value(ui, format!("{:04x}", seg.selector), changed);
            let kind = if seg.attributes & x86lab_emulator::state::attr::S == 0 {
                "system"
            } else if seg.is_code() {
                if seg.long() {
                    "code, 64-bit"
                } else if seg.db() {
                    "code, 32-bit"
                } else {
                    "code, 16-bit"
                }
            } else {
                "data"
            };
            ui.label(
                RichText::new(format!("base {:x} limit {:x}", seg.base, seg.limit)).monospace(),
            )
            .on_hover_text(format!(
                "{kind}, DPL {}, {}present; attributes {:03x}",
                seg.dpl(),
                if seg.present() { "" } else { "not " },
                seg.attributes
            ));
            ui.end_row();
        }
        for (name, t) in [("GDTR", &s.gdtr), ("IDTR", &s.idtr)] {
            ui.label(RichText::new(name).monospace());
            ui.label(RichText::new(format!("{:x}", t.base)).monospace());
            ui.label(RichText::new(format!("limit {:x}", t.limit)).monospace());
            ui.end_row();
        }
        for (name, seg) in [("LDTR", &s.ldtr), ("TR", &s.tr)] {
            ui.label(RichText::new(name).monospace());
            ui.label(RichText::new(format!("{:04x}", seg.selector)).monospace());
            ui.label(
                RichText::new(format!("base {:x} limit {:x}", seg.base, seg.limit)).monospace(),
            );
            ui.end_row();
        }
    });
}

fn control(ui: &mut egui::Ui, s: &CpuState) {
    ui.label(RichText::new("Control registers").strong());
    ui.label(RichText::new(format!("CR0 {:08x}", s.cr0)).monospace());
    bits_line(
        ui,
        s.cr0,
        &[
            (0, "PE", "protection enable: protected mode"),
            (1, "MP", "monitor coprocessor"),
            (2, "EM", "x87 emulation: x87 instructions raise #NM"),
            (
                3,
                "TS",
                "task switched: the next x87/SSE instruction raises #NM",
            ),
            (4, "ET", "extension type (always 1)"),
            (5, "NE", "numeric error: x87 errors as #MF"),
            (
                16,
                "WP",
                "write protect: supervisor writes respect read-only pages",
            ),
            (18, "AM", "alignment mask: enables RFLAGS.AC checks"),
            (29, "NW", "not write-through"),
            (30, "CD", "cache disable"),
            (31, "PG", "paging"),
        ],
    );
    ui.label(RichText::new(format!("CR2 {:x}   CR3 {:x}", s.cr2, s.cr3)).monospace())
        .on_hover_text("CR2: the address of the last page fault; CR3: the physical address of the top page table");
    ui.label(RichText::new(format!("CR4 {:08x}", s.cr4)).monospace());
    bits_line(
        ui,
        s.cr4,
        &[
            (0, "VME", "virtual-8086 mode extensions"),
            (1, "PVI", "protected-mode virtual interrupts"),
            (2, "TSD", "RDTSC only at CPL 0"),
            (3, "DE", "debugging extensions"),
            (4, "PSE", "4 MiB pages in 32-bit paging"),
            (5, "PAE", "physical address extension (64-bit page entries)"),
            (7, "PGE", "global pages"),
            (9, "OSFXSR", "the OS uses FXSAVE/FXRSTOR (SSE enabled)"),
            (16, "FSGSBASE", "RDFSBASE and friends allowed"),
        ],
    );
    ui.label(RichText::new(format!("EFER {:x}", s.efer)).monospace());
    bits_line(
        ui,
        s.efer,
        &[
            (0, "SCE", "SYSCALL/SYSRET enabled"),
            (8, "LME", "long mode enable"),
            (
                10,
                "LMA",
                "long mode active (set by the CPU when paging starts with LME)",
            ),
            (11, "NXE", "no-execute bit in page entries"),
        ],
    );
}
