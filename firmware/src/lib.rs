//! # x86lab-firmware
//!
//! The x86lab text assembler (NASM-style Intel syntax, encoded with iced-x86), and, in
//! coming work, the boot firmware and the guest programs.
//!
//! ```
//! let a = x86lab_firmware::asm::assemble_str("bits 16\nmov ax, 0x1234\nhlt\n", "demo.asm".as_ref())
//!     .expect("assembles");
//! assert_eq!(a.bytes, [0xb8, 0x34, 0x12, 0xf4]);
//! ```

pub mod asm;
