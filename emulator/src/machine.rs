//! The `Machine` trait every backend implements, and the events a run ends with.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::devices::Devices;
use crate::memory::GuestMemory;
use crate::state::CpuState;

/// An x86 exception vector, with the mnemonics of the manuals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Vector {
    /// Divide error.
    DE = 0,
    /// Debug.
    DB = 1,
    /// Non-maskable interrupt.
    NMI = 2,
    /// Breakpoint (INT3).
    BP = 3,
    /// Overflow (INTO).
    OF = 4,
    /// BOUND range exceeded.
    BR = 5,
    /// Invalid opcode.
    UD = 6,
    /// Device not available.
    NM = 7,
    /// Double fault.
    DF = 8,
    /// Invalid TSS.
    TS = 10,
    /// Segment not present.
    NP = 11,
    /// Stack-segment fault.
    SS = 12,
    /// General protection.
    GP = 13,
    /// Page fault.
    PF = 14,
    /// x87 floating-point error.
    MF = 16,
    /// Alignment check.
    AC = 17,
    /// Machine check.
    MC = 18,
    /// SIMD floating-point.
    XM = 19,
}

impl Vector {
    /// Whether the exception pushes an error code in protected mode.
    pub fn has_error_code(self) -> bool {
        matches!(
            self,
            Vector::DF
                | Vector::TS
                | Vector::NP
                | Vector::SS
                | Vector::GP
                | Vector::PF
                | Vector::AC
        )
    }

    /// The vector for a number, if it is an architectural exception.
    pub fn from_number(n: u8) -> Option<Vector> {
        use Vector::*;
        Some(match n {
            0 => DE,
            1 => DB,
            2 => NMI,
            3 => BP,
            4 => OF,
            5 => BR,
            6 => UD,
            7 => NM,
            8 => DF,
            10 => TS,
            11 => NP,
            12 => SS,
            13 => GP,
            14 => PF,
            16 => MF,
            17 => AC,
            18 => MC,
            19 => XM,
            _ => return None,
        })
    }
}

impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{self:?}")
    }
}

/// Why the CPU raised an exception, when there is more to say than the vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The architecture says so (a divide by zero, a failed limit check, ...).
    Architectural,
    /// The instruction is valid on real processors but this CPU does not implement it.
    Unimplemented { instruction: String },
    /// The instruction does not exist in this mode (or at all).
    Invalid { instruction: String },
}

/// An exception the CPU raised while executing an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    pub vector: Vector,
    pub error_code: Option<u32>,
    /// The address of the instruction that raised it (for a trap such as the single-step
    /// #DB, the instruction that completed just before).
    pub rip: u64,
    pub cause: Cause,
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.vector)?;
        if let Some(code) = self.error_code {
            write!(f, "({code:#x})")?;
        }
        write!(f, " at rip {:#x}", self.rip)?;
        match &self.cause {
            Cause::Architectural => Ok(()),
            Cause::Unimplemented { instruction } => {
                write!(f, ": `{instruction}` is not implemented by this CPU")
            }
            Cause::Invalid { instruction } => write!(f, ": `{instruction}` is invalid here"),
        }
    }
}

/// Which limit ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Instructions,
    WallTime,
}

/// How a `step` or a `run` ended. Guest misbehaviour is an event, never a host error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One instruction (or one iteration of a REP string instruction) retired.
    Stepped,
    /// An exception was raised and delivered to the guest's handler (`step` reports it; `run`
    /// goes on unless [`RunLimits::stop_on_exception`]).
    Exception(Exception),
    /// The CPU raised an exception whose delivery needs something this CPU does not
    /// implement (a task gate, virtual-8086 mode); `reason` names it. State is left at the
    /// faulting instruction.
    Undeliverable {
        exception: Exception,
        reason: String,
    },
    /// Exception intercepts are on (the software CPU's analogue of a hypervisor's exception
    /// bitmap, `Cpu::set_exception_intercept`): the exception was raised and not delivered.
    /// For a fault the state is the one before the faulting instruction; for a trap, after
    /// the instruction that raised it.
    Intercepted(Exception),
    /// HLT executed. With IF=0 and no interrupt source this machine stays halted for ever.
    Halted { interrupts_enabled: bool },
    /// Execution reached a breakpoint address (before executing it).
    Breakpoint { address: u64 },
    /// The guest wrote to the exit port.
    ExitRequested { status: u32 },
    /// Triple fault: the processor shut down.
    Shutdown { reason: String },
    /// A limit of the run was reached.
    LimitReached(Limit),
    /// The host could not run the guest any further: on KVM an internal error (for example
    /// an instruction the host kernel's emulator cannot emulate) or a refused VM entry.
    /// `reason` names it. Not a guest exception: the guest state is where the host stopped.
    HostFailure { reason: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Stepped => write!(f, "stepped"),
            Event::Exception(e) => write!(f, "exception {e}"),
            Event::Undeliverable { exception, reason } => {
                write!(f, "exception {exception} could not be delivered: {reason}")
            }
            Event::Intercepted(e) => write!(f, "exception {e} intercepted before delivery"),
            Event::Halted {
                interrupts_enabled: false,
            } => write!(f, "halted with interrupts disabled"),
            Event::Halted {
                interrupts_enabled: true,
            } => write!(f, "halted waiting for an interrupt"),
            Event::Breakpoint { address } => write!(f, "breakpoint at {address:#x}"),
            Event::ExitRequested { status } => write!(f, "exit requested with status {status}"),
            Event::Shutdown { reason } => write!(f, "triple fault: {reason}"),
            Event::LimitReached(Limit::Instructions) => write!(f, "instruction limit reached"),
            Event::LimitReached(Limit::WallTime) => write!(f, "time limit reached"),
            Event::HostFailure { reason } => write!(f, "the host could not go on: {reason}"),
        }
    }
}

/// Limits of one `run`.
#[derive(Clone, Debug, Default)]
pub struct RunLimits {
    /// Stop after this many instructions (REP iterations count one each). Only backends
    /// that count instructions accept it; KVM refuses a run with it
    /// ([`MachineError::Unsupported`]).
    pub max_instructions: Option<u64>,
    /// Stop after this much wall time (checked every few thousand instructions).
    pub max_time: Option<Duration>,
    /// Stop before executing an instruction at any of these linear addresses (the instruction
    /// the run starts at never triggers one, so a run can resume from a breakpoint). As with
    /// the processor's instruction breakpoints, RF suppresses them: a REP instruction stops
    /// once, before its first iteration, and the instruction an IRET with RF set returns to
    /// does not stop.
    pub breakpoints: Vec<u64>,
    /// Stop after delivering any exception, returning [`Event::Exception`].
    pub stop_on_exception: bool,
}

/// A host-side failure of a backend (never caused by guest code).
#[derive(Debug, Error)]
pub enum MachineError {
    #[error("invalid CPU state: {0}")]
    InvalidState(String),
    #[error("{0}")]
    Backend(String),
    /// The backend cannot do what was asked (for example count instructions on KVM).
    #[error("{0}")]
    Unsupported(String),
}

/// An x86 machine: CPU state, guest memory and port devices.
pub trait Machine {
    /// A short name of the backend ("emulator", "kvm").
    fn backend(&self) -> &'static str;
    /// The architectural state.
    fn state(&self) -> Result<CpuState, MachineError>;
    /// Replaces the architectural state.
    fn set_state(&mut self, state: &CpuState) -> Result<(), MachineError>;
    /// Guest physical memory.
    fn memory(&self) -> &GuestMemory;
    /// Guest physical memory, mutably (loading programs, poking bytes).
    fn memory_mut(&mut self) -> &mut GuestMemory;
    /// The port-I/O bus and the console output its devices produced.
    fn devices(&mut self) -> &mut Devices;
    /// Executes exactly one instruction, as hardware single-stepping (RFLAGS.TF) does: a REP
    /// string instruction executes one iteration per step.
    fn step(&mut self) -> Result<Event, MachineError>;
    /// Runs until something other than [`Event::Stepped`] happens or a limit is reached.
    fn run(&mut self, limits: &RunLimits) -> Result<Event, MachineError>;
    /// Instructions retired since the machine was created, where the backend can count
    /// them (the software CPU); `None` where it cannot (KVM: the processor runs the guest
    /// without counting for the host).
    fn instructions_retired(&self) -> Option<u64>;
    /// The backend's own counters, by name (on KVM: VM exits by kind, instructions the
    /// host emulated, halts; on the software CPU: instructions retired).
    fn statistics(&mut self) -> Result<Vec<(String, u64)>, MachineError>;
}
