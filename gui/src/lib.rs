//! # x86lab-gui
//!
//! The desktop application: step through x86 code on the software CPU, see every register
//! and byte change, step back. The machine runs on its own thread ([`session`]); the UI
//! ([`App`]) draws the latest [`session::View`] and sends [`session::Command`]s, applied
//! after layout. One file per panel in [`panels`].

pub mod app;
pub mod compare;
pub mod explain;
pub mod panels;
pub mod program;
pub mod session;
pub mod state;

pub use app::App;

/// Opens the window (a display is needed) with `file`, or the first lesson.
pub fn run(file: Option<std::path::PathBuf>) -> Result<(), String> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(
            "no display: set DISPLAY or WAYLAND_DISPLAY (on a server, run it under Xvfb)".into(),
        );
    }
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([1400.0, 900.0])
            .with_title("x86lab"),
        ..Default::default()
    };
    eframe::run_native(
        "x86lab",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            Ok(Box::new(App::new(
                Box::new(move || ctx.request_repaint()),
                file,
            )))
        }),
    )
    .map_err(|e| e.to_string())
}
