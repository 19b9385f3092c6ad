//! What the GUI runs: an assembled source (a lesson, the editor's text, an .asm file), a
//! flat binary or an ELF file, and how it starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use x86lab_firmware::asm::{self, ListingLine};
use x86lab_firmware::load::Mode;

/// How a program gets into the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Boot {
    /// Through the firmware, from the reset vector (lessons and sources).
    Firmware,
    /// Set up directly in its mode, as `x86lab run` does (flat binaries and ELF files).
    Direct,
}

#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    /// Where it came from, when a file.
    pub path: Option<PathBuf>,
    /// Its source, when it was assembled (the editor shows it).
    pub source: Option<String>,
    pub image: Vec<u8>,
    pub mode: Mode,
    pub boot: Boot,
    /// Where the firmware (or the loader) puts it.
    pub entry: u64,
    pub listing: Vec<ListingLine>,
    /// The file name the listing gives the source's own lines (not its includes').
    pub main_file: PathBuf,
    /// Address → label, from the assembler's symbol table.
    pub labels: BTreeMap<u64, String>,
}

impl Program {
    /// Assembles a source; a source with `org` 0 is placed where its mode's programs go.
    pub fn assemble(source: &str, name: &str, path: Option<&Path>) -> Result<Program, asm::Errors> {
        let opts = asm::Options {
            include: path
                .and_then(|p| p.parent())
                .map(|d| vec![d.to_path_buf()])
                .unwrap_or_default(),
            defines: Vec::new(),
        };
        let a = asm::assemble_source(source, path.unwrap_or(Path::new(name)), &opts)?;
        let mode = match a.bits {
            16 => Mode::Real,
            32 => Mode::Protected,
            _ => Mode::Long,
        };
        let entry = if mode == Mode::Real {
            0x7c00
        } else {
            0x10_0000
        };
        let mut labels = BTreeMap::new();
        for (name, &addr) in &a.labels {
            // Local labels read better without their global prefix.
            labels.entry(addr).or_insert_with(|| name.clone());
        }
        Ok(Program {
            name: name.to_string(),
            path: path.map(Path::to_path_buf),
            source: Some(source.to_string()),
            image: a.bytes,
            mode,
            boot: Boot::Firmware,
            entry,
            listing: a.listing,
            main_file: path.unwrap_or(Path::new(name)).to_path_buf(),
            labels,
        })
    }

    /// A lesson of firmware/lessons by index.
    pub fn lesson(index: usize) -> Option<Program> {
        let (name, source) = x86lab_firmware::LESSONS.get(index)?;
        Program::assemble(source, name, None).ok()
    }

    /// A file: an assembly source (.asm), an ELF file, or a flat binary (a boot sector).
    pub fn open(path: &Path) -> Result<Program, String> {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if path.extension().is_some_and(|e| e == "asm") {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            return Program::assemble(&text, &name, Some(path)).map_err(|e| e.to_string());
        }
        let image =
            std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if image.is_empty() {
            return Err(format!("`{}` is empty", path.display()));
        }
        Ok(Program {
            name,
            path: Some(path.to_path_buf()),
            source: None,
            image,
            mode: Mode::Real,
            boot: Boot::Direct,
            entry: 0x7c00,
            listing: Vec::new(),
            main_file: path.to_path_buf(),
            labels: BTreeMap::new(),
        })
    }
}
