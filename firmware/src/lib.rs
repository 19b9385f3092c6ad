//! # x86lab-firmware
//!
//! The x86lab text assembler, the boot firmware and the guest programs. This crate is empty
//! until the assembler and firmware are built (issue 6).
