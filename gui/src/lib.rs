//! # x86lab-gui
//!
//! The x86lab desktop application. This crate is empty until the GUI is built (issue 7).
