//! # x86lab
//!
//! The command-line program's library: loading programs into a machine, shared by the
//! `x86lab` binary and the integration tests.

pub mod bench;
pub mod case_file;
pub mod cases;
pub mod fuzz;
/// Loading programs: flat binaries, ELF files, or through the firmware (the firmware crate).
pub use x86lab_firmware::load;
