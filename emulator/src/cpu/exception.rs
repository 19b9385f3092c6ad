//! Exception and interrupt delivery.
//!
//! In real mode, vectors go through the interrupt vector table at IDTR.base: FLAGS, CS and
//! IP are pushed, IF, TF and AC are cleared, and CS:IP is loaded from the 4-byte entry. An
//! exception raised while delivering another is combined by the rules of the SDM's table
//! "Conditions for Generating a Double Fault"; a fault while delivering #DF shuts the
//! processor down (triple fault).
//!
//! Delivery through a protected-mode or long-mode IDT comes with the system-architecture
//! issue; until then such an exception ends the run as `Event::Undeliverable`, which says so.

use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags as fl;
use crate::state::CpuMode;

/// The outcome of delivering an exception.
pub(crate) enum Delivery {
    Delivered,
    Undeliverable(String),
    TripleFault(String),
}

/// The classes of the double-fault table.
#[derive(PartialEq, Eq)]
enum Class {
    Benign,
    Contributory,
    PageFault,
}

fn class(v: Vector) -> Class {
    match v {
        Vector::DE | Vector::TS | Vector::NP | Vector::SS | Vector::GP => Class::Contributory,
        Vector::PF => Class::PageFault,
        _ => Class::Benign,
    }
}

impl Cpu {
    /// Vectors through the real-mode IVT. `ret_ip` is the IP pushed for the return.
    fn deliver_real(&mut self, vector: u8, ret_ip: u64) -> X {
        let entry = u64::from(vector) * 4;
        if entry + 3 > u64::from(self.s.idtr.limit) {
            return Err(Exc::gp0());
        }
        let lin = self.s.idtr.base.wrapping_add(entry);
        let target = self.read_lin(lin, 4, super::mmu::Access::Read)?;
        let flags = self.s.rflags & 0xffff;
        let cs = u64::from(self.s.cs.selector);
        self.push(flags, 2)?;
        self.push(cs, 2)?;
        self.push(ret_ip & 0xffff, 2)?;
        self.s.rflags &= !(fl::IF | fl::TF | fl::AC);
        self.s.cs.selector = (target >> 16) as u16;
        self.s.cs.base = (target >> 16) << 4;
        self.s.rip = target & 0xffff;
        Ok(())
    }

    /// Delivers one vector in the current mode; `Ok(false)` when this build cannot.
    fn deliver_vector(&mut self, vector: u8, ret_ip: u64) -> X<bool> {
        match self.s.mode() {
            CpuMode::Real => {
                // Delivery pushes with a 16-bit stack pointer whatever the code size.
                self.bits = 16;
                self.deliver_real(vector, ret_ip)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// INT n, INT3, INTO, INT1: the return address is the next instruction.
    pub(crate) fn software_interrupt(&mut self, vector: u8) -> X {
        let next = self.s.rip;
        let bits = self.bits;
        let r = self.deliver_vector(vector, next);
        self.bits = bits;
        match r {
            Ok(true) => {
                self.mark_software_interrupt();
                Ok(())
            }
            Ok(false) => Err(self.unimplemented(
                "interrupts through a protected-mode IDT come with the system issue",
            )),
            Err(e) => Err(e),
        }
    }

    /// Delivers an exception raised by the instruction at RIP (state already restored).
    pub(crate) fn deliver_exception(&mut self, first: Exc) -> Delivery {
        let mut current = first;
        let mut previous: Option<Vector> = None;
        loop {
            let rip = self.s.rip;
            let saved = (self.s.gpr, self.s.rflags, self.s.cs, self.bits);
            match self.deliver_vector(current.vector as u8, rip) {
                Ok(true) => return Delivery::Delivered,
                Ok(false) => {
                    return Delivery::Undeliverable(format!(
                        "{} in {:?} mode: protected-mode exception delivery comes with the system issue",
                        current.vector,
                        self.s.mode()
                    ))
                }
                Err(next) => {
                    (self.s.gpr, self.s.rflags, self.s.cs, self.bits) = saved;
                    self.s.rip = rip;
                    let prev = current.vector;
                    if prev == Vector::DF || previous == Some(Vector::DF) {
                        return Delivery::TripleFault(format!(
                            "{} while delivering #DF",
                            next.vector
                        ));
                    }
                    let double = matches!(
                        (class(prev), class(next.vector)),
                        (Class::Contributory, Class::Contributory)
                            | (Class::PageFault, Class::Contributory | Class::PageFault)
                    );
                    previous = Some(prev);
                    current = if double {
                        Exc::with_code(Vector::DF, 0)
                    } else {
                        next
                    };
                }
            }
        }
    }
}
