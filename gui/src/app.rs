//! The application: a menu bar and toolbar, the editor and disassembly on the left, the
//! registers and stack on the right, memory, console and system views below. UI actions
//! become [`Command`]s collected during layout and sent after it.

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui::{self, Key, Modifiers};
use x86lab_firmware::asm::Diagnostic;

use crate::panels;
use crate::program::Program;
use crate::session::{Command, Handle, View};
use crate::state::State;

pub struct App {
    pub state: State,
    handle: Handle,
    /// The latest view of the machine.
    pub view: View,
    /// The editor's last assembly errors.
    pub errors: Vec<Diagnostic>,
    /// The path typed in the Open box.
    pub open_path: String,
    /// The breakpoint box, the memory panel's address and write boxes.
    pub breakpoint_text: String,
    pub memory_text: String,
    pub poke_text: String,
    /// A message about the last file action (open, save).
    pub notice: String,
    commands: Vec<Command>,
}

impl App {
    /// A new app with `file` loaded, or the first lesson; `repaint` wakes the UI.
    pub fn new(repaint: Box<dyn Fn() + Send>, file: Option<PathBuf>) -> App {
        let mut app = App {
            state: State::default(),
            handle: Handle::spawn(repaint),
            view: View::default(),
            errors: Vec::new(),
            open_path: String::new(),
            breakpoint_text: String::new(),
            memory_text: String::new(),
            poke_text: String::new(),
            notice: String::new(),
            commands: Vec::new(),
        };
        app.commands.push(Command::Speed(app.state.speed));
        match file {
            Some(path) => app.open(&path),
            None => app.load_lesson(0),
        }
        app.flush();
        app
    }

    /// Sends the commands collected so far.
    pub fn flush(&mut self) {
        for c in self.commands.drain(..) {
            self.handle.send(c);
        }
    }

    /// Waits until the machine has handled every command and is not running (tests).
    pub fn settle(&mut self) {
        self.flush();
        self.view = self.handle.settle(Duration::from_secs(20));
    }

    pub fn command(&mut self, c: Command) {
        self.commands.push(c);
    }

    pub fn load_lesson(&mut self, index: usize) {
        let Some((name, source)) = x86lab_firmware::LESSONS.get(index) else {
            return;
        };
        self.state.lesson = Some(index);
        self.state.path = None;
        self.state.source = source.to_string();
        self.assemble_and_load(name);
    }

    /// Opens a file: a source goes to the editor, a binary runs as it is.
    pub fn open(&mut self, path: &std::path::Path) {
        match Program::open(path) {
            Ok(p) => {
                self.state.lesson = None;
                self.state.path = Some(path.to_path_buf());
                self.state.source = p.source.clone().unwrap_or_default();
                self.errors.clear();
                self.notice = format!("opened {}", path.display());
                self.commands.push(Command::Load(Box::new(p)));
            }
            Err(e) => self.notice = e,
        }
    }

    /// Assembles the editor's text and loads it (errors stay on their lines).
    pub fn assemble_and_load(&mut self, name: &str) {
        match Program::assemble(&self.state.source, name, self.state.path.as_deref()) {
            Ok(p) => {
                self.errors.clear();
                self.commands.push(Command::Load(Box::new(p)));
                for &b in &self.state.breakpoints {
                    self.commands.push(Command::ToggleBreakpoint(b));
                }
            }
            Err(e) => self.errors = e.0,
        }
    }

    fn program_name(&self) -> String {
        match (self.state.lesson, &self.state.path) {
            (Some(i), _) => x86lab_firmware::LESSONS
                .get(i)
                .map_or("lesson", |(n, _)| n)
                .to_string(),
            (None, Some(p)) => p
                .file_name()
                .map_or("program".into(), |n| n.to_string_lossy().into_owned()),
            _ => "program.asm".into(),
        }
    }

    /// Saves the session (program, breakpoints, machine state) as JSON.
    pub fn save_session(&mut self, path: &std::path::Path) {
        let mut s = self.state.clone();
        s.breakpoints = self.view.breakpoints.iter().copied().collect();
        s.machine = self.view.state.as_ref().map(|m| m.to_json());
        s.steps = Some(self.view.history as u64);
        self.notice = match serde_json::to_string_pretty(&s)
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()))
        {
            Ok(()) => format!("session saved to {}", path.display()),
            Err(e) => format!("cannot save the session to {}: {e}", path.display()),
        };
    }

    /// Loads a saved session: its program and breakpoints.
    pub fn load_session(&mut self, path: &std::path::Path) {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<State>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(s) => {
                let steps = s.steps;
                self.state = s;
                let name = self.program_name();
                self.assemble_and_load(&name);
                // The machine state comes back by running the program again as far: the
                // same steps give the same registers and memory.
                if let Some(n) = steps.filter(|&n| n > 0) {
                    self.commands.push(Command::Replay(n));
                }
                self.notice = format!("session loaded from {}", path.display());
            }
            Err(e) => self.notice = format!("cannot load the session {}: {e}", path.display()),
        }
    }

    fn keys(&mut self, ui: &egui::Ui) {
        let (f5, f6, f7, f8, shift_f8, assemble) = ui.input(|i| {
            (
                i.key_pressed(Key::F5),
                i.key_pressed(Key::F6),
                i.key_pressed(Key::F7),
                i.key_pressed(Key::F8) && !i.modifiers.shift,
                i.key_pressed(Key::F8) && i.modifiers.shift,
                i.modifiers.matches_logically(Modifiers::COMMAND) && i.key_pressed(Key::Enter),
            )
        });
        if f5 {
            self.commands.push(if self.view.running {
                Command::Pause
            } else {
                Command::Run
            });
        }
        if f6 {
            self.commands.push(Command::Back);
        }
        if f7 {
            self.commands.push(Command::Step);
        }
        if f8 {
            self.commands.push(Command::StepOver);
        }
        if shift_f8 {
            self.commands.push(Command::StepOut);
        }
        if assemble {
            let name = self.program_name();
            self.assemble_and_load(&name);
        }
    }

    /// Draws the whole app into `ui` (the eframe window, or a test harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.view = self.handle.view();
        self.keys(ui);
        egui::Panel::top("menu").show(ui, |ui| panels::toolbar::menu(self, ui));
        egui::Panel::top("toolbar").show(ui, |ui| panels::toolbar::show(self, ui));
        egui::Panel::right("registers")
            .resizable(true)
            .default_size(420.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    panels::compare::show(self, ui);
                    ui.separator();
                    panels::registers::show(self, ui);
                    ui.separator();
                    panels::stack::show(self, ui);
                });
            });
        egui::Panel::bottom("lower")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| {
                egui::Panel::left("memory-column")
                    .resizable(true)
                    .default_size(560.0)
                    .show(ui, |ui| panels::memory::show(self, ui));
                egui::Panel::left("console-column")
                    .resizable(true)
                    .default_size(260.0)
                    .show(ui, |ui| panels::console::show(self, ui));
                egui::Panel::left("why-column")
                    .resizable(true)
                    .default_size(300.0)
                    .show(ui, |ui| {
                        egui::ScrollArea::vertical()
                            .id_salt("why")
                            .show(ui, |ui| panels::explain::show(self, ui));
                    });
                egui::CentralPanel::default().show(ui, |ui| panels::system::show(self, ui));
            });
        egui::Panel::left("editor")
            .resizable(true)
            .default_size(520.0)
            .show(ui, |ui| panels::editor::show(self, ui));
        egui::CentralPanel::default().show(ui, |ui| panels::disasm::show(self, ui));
        self.flush();
        if self.view.running {
            ui.ctx().request_repaint_after(Duration::from_millis(16));
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
