//! # x86lab-kvm
//!
//! The x86lab [`Machine`](x86lab_emulator::Machine) on Linux KVM. This crate is empty until
//! the KVM backend is built (issue 4); nothing here pretends to run guest code.
