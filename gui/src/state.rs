//! What the app remembers between sessions (a serde `State`, kept apart from the runtime
//! handles in [`crate::App`]): the program, the editor's text, breakpoints and views.

use std::path::PathBuf;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct State {
    /// The lesson loaded (index into `x86lab_firmware::LESSONS`), when a lesson.
    pub lesson: Option<usize>,
    /// The file loaded, when a file.
    pub path: Option<PathBuf>,
    /// The editor's text.
    pub source: String,
    pub breakpoints: Vec<u64>,
    pub memory_at: u64,
    /// Instructions per second while running; `None`: full speed.
    pub speed: Option<u32>,
    /// How the registers panel writes the general-purpose registers.
    pub radix: Radix,
    /// The machine state when saved (the state format's JSON), for reading.
    pub machine: Option<String>,
    /// Steps taken since the program was loaded when saved: loading replays them.
    pub steps: Option<u64>,
}

impl Default for State {
    fn default() -> Self {
        State {
            lesson: Some(0),
            path: None,
            source: String::new(),
            breakpoints: Vec::new(),
            memory_at: 0x7c00,
            speed: Some(10),
            radix: Radix::Hex,
            machine: None,
            steps: None,
        }
    }
}

/// How numbers are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Radix {
    #[default]
    Hex,
    Unsigned,
    Signed,
}
