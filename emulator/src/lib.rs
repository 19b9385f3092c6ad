//! # x86lab-emulator
//!
//! The machine model every x86lab backend shares — [`CpuState`], [`GuestMemory`],
//! [`Devices`], the [`Machine`] trait and its [`Event`]s — and the software x86 CPU, [`Cpu`],
//! which decodes with iced-x86 and executes in Rust.
//!
//! A walkthrough, which runs as a doc test:
//!
//! ```
//! use x86lab_emulator::{Cpu, CpuState, Event, Machine, MemoryLayout, RunLimits};
//!
//! // 1. A machine with 1 MiB of RAM, in real mode.
//! let mut cpu = Cpu::new(MemoryLayout { ram_size: 1 << 20, ..MemoryLayout::default() })?;
//!
//! // 2. A boot sector: print "hi" on the debug console (port 0xE9), then halt.
//! let code = [
//!     0xb0, b'h', 0xe6, 0xe9, // mov al, 'h' ; out 0xe9, al
//!     0xb0, b'i', 0xe6, 0xe9, // mov al, 'i' ; out 0xe9, al
//!     0xfa, 0xf4,             // cli ; hlt
//! ];
//! cpu.memory_mut().load(0x7c00, &code)?;
//!
//! // 3. Enter it at 0000:7C00, as a BIOS would.
//! cpu.set_state(&CpuState::real_mode(0, 0x7c00))?;
//!
//! // 4. Run until something happens.
//! let event = cpu.run(&RunLimits { max_instructions: Some(1000), ..RunLimits::default() })?;
//! assert_eq!(event, Event::Halted { interrupts_enabled: false });
//! assert_eq!(cpu.devices().output().take(), b"hi");
//! assert_eq!(cpu.instructions_retired(), Some(6));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cpu;
pub mod devices;
pub mod history;
pub mod machine;
pub mod memory;
pub mod state;
pub mod walk;

pub use cpu::Cpu;
pub use devices::{DeviceAction, Devices, PortDevice};
pub use history::History;
pub use machine::{Cause, Event, Exception, Limit, Machine, MachineError, RunLimits, Vector};
pub use memory::{GuestMemory, MemoryError, MemoryLayout};
pub use state::{CpuMode, CpuState, DebugRegs, DescriptorTable, Segment};
