//! # x86lab-kvm
//!
//! The x86lab [`Machine`](x86lab_emulator::Machine) on Linux KVM: the same guest memory,
//! port devices and state format as the software CPU, run by the processor (or, on hosts
//! without VT-x/AMD-V, partly by the host kernel's instruction emulator: see [`Regime`]).
//!
//! - [`KvmMachine`]: one VM with one vCPU.
//! - [`KvmInfo`]: what KVM is on this host, for `x86lab kvm-info` and the GUI.
//! - [`exit`]: what each KVM exit means, testable without a guest.
//! - [`stats`]: KVM's own counters of the vCPU (exits by kind, emulated instructions).

mod convert;
pub mod exit;
mod info;
mod machine;
pub mod stats;

pub use info::{KvmError, KvmInfo, Regime};
pub use machine::KvmMachine;
pub use stats::Stat;
