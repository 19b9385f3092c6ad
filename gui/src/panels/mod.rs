//! The panels, one per file.

pub mod compare;
pub mod console;
pub mod disasm;
pub mod editor;
pub mod explain;
pub mod memory;
pub mod registers;
pub mod stack;
pub mod system;
pub mod toolbar;

use eframe::egui::Color32;

/// The colour of what the last step changed.
pub const CHANGED: Color32 = Color32::from_rgb(0xff, 0xb0, 0x40);
/// The colour of the current instruction.
pub const CURRENT: Color32 = Color32::from_rgb(0x50, 0xa0, 0xff);
/// The colour of breakpoints and errors.
pub const ALERT: Color32 = Color32::from_rgb(0xe0, 0x50, 0x50);
