//! Exception and interrupt delivery.
//!
//! In real mode, vectors go through the interrupt vector table at IDTR.base: FLAGS, CS and
//! IP are pushed, IF, TF and AC are cleared, and CS:IP is loaded from the 4-byte entry.
//!
//! In protected mode they go through the IDT's 8-byte interrupt and trap gates (16- or
//! 32-bit); in IA-32e mode (64-bit and compatibility) through 16-byte 64-bit gates. The
//! checks are those of the SDM's INT n pseudocode: the IDT limit, the gate type, the gate
//! DPL for software interrupts (INT n, INT3, INTO), present bits, and the target code
//! segment. A handler more privileged than the interrupted code gets the stack the TSS
//! holds for its level (in IA-32e mode, or an IST stack whenever the gate names one,
//! aligned down to 16 bytes); the old SS:ESP is pushed first, then (E)FLAGS, CS, (E)IP and
//! the error code. Interrupt gates clear IF, both kinds clear TF, NT, RF and VM.
//!
//! Errors while delivering carry EXT = 1 in their error codes for events external to the
//! program (exceptions, INT1), 0 for INT n. An exception raised while delivering another
//! is combined by the SDM's table "Conditions for Generating a Double Fault"; a fault while
//! delivering #DF shuts the processor down (triple fault). Task gates are not implemented
//! (the delivery ends the run as `Event::Undeliverable`, saying so); neither is
//! virtual-8086 mode.
//!
//! The RF value pushed follows the SDM ("Resume Flag"): 1 for faults other than
//! instruction-breakpoint #DB, 1 for traps after a REP iteration that is not the last, 0
//! for software interrupts, and the current RF otherwise.

use super::segment::{sel_code, sys};
use super::transfer::Frame;
use super::{Cpu, Exc, X};
use crate::machine::{Cause, Vector};
use crate::state::flags as fl;
use crate::state::reg::RSP;
use crate::state::{attr, ctl, CpuMode, CpuState};

/// The outcome of delivering an exception.
pub(crate) enum Delivery {
    Delivered,
    Undeliverable(String),
    TripleFault(String),
}

/// What kind of event is being delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A fault: the saved RIP is the faulting instruction; RF is pushed as 1.
    Fault,
    /// An instruction-breakpoint #DB: a fault whose pushed RF is the current one.
    InstructionBreakpoint,
    /// A trap after an instruction (or after a REP iteration that will run again).
    Trap { rep_continues: bool },
    /// INT n, INT3, INTO: gate DPL checked against CPL, EXT = 0, RF pushed as 0.
    Software,
    /// INT1 (ICEBP): like a hardware #DB, no DPL check.
    Icebp,
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

/// "#GP(0x42)" or "#UD".
fn describe(e: &Exc) -> String {
    match e.code {
        Some(c) => format!("{}({c:#x})", e.vector),
        None => format!("{}", e.vector),
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
        // Delivery pushes with a 16-bit stack pointer whatever the code size.
        let mut f = Frame {
            width: 2,
            ..self.current_frame()
        };
        self.frame_push(&mut f, flags, 2)?;
        self.frame_push(&mut f, cs, 2)?;
        self.frame_push(&mut f, ret_ip & 0xffff, 2)?;
        self.commit_frame(&f);
        self.s.rflags &= !(fl::IF | fl::TF | fl::AC | fl::RF);
        self.s.cs.selector = (target >> 16) as u16;
        self.s.cs.base = (target >> 16) << 4;
        self.s.rip = target & 0xffff;
        Ok(())
    }

    /// Delivers one vector through the IDT (protected or IA-32e mode).
    fn deliver_idt(&mut self, vector: u8, code: Option<u32>, kind: Kind, ret_ip: u64) -> X {
        let long = self.s.efer & ctl::EFER_LMA != 0;
        let ext = u32::from(kind != Kind::Software);
        let idt_err = u32::from(vector) << 3 | 2 | ext;
        let gp = |c: u32| Exc::with_code(Vector::GP, c);
        let gate_size: u64 = if long { 16 } else { 8 };
        let off = u64::from(vector) * gate_size;
        if off + gate_size - 1 > u64::from(self.s.idtr.limit) {
            return Err(gp(idt_err));
        }
        let at = self.s.idtr.base.wrapping_add(off);
        let lo = self.sys_read(at, 8)?;
        let hi = if long { self.sys_read(at + 8, 8)? } else { 0 };
        let ty = ((lo >> 40) & 0xf) as u16;
        let gate_dpl = ((lo >> 45) & 3) as u8;
        let valid = match ty {
            sys::INT_GATE | sys::TRAP_GATE => true,
            sys::INT_GATE16 | sys::TRAP_GATE16 | sys::TASK_GATE => !long,
            _ => false,
        };
        if !valid || lo & (1 << 44) != 0 {
            return Err(gp(idt_err));
        }
        let cpl = self.s.cpl();
        if kind == Kind::Software && gate_dpl < cpl {
            return Err(gp(idt_err));
        }
        if lo & (1 << 47) == 0 {
            return Err(Exc::with_code(Vector::NP, idt_err));
        }
        if ty == sys::TASK_GATE {
            return Err(self.unimplemented("a task gate in the IDT (task switches)"));
        }
        let sel = (lo >> 16) as u16;
        let mut target = (lo & 0xffff) | ((lo >> 48) << 16);
        if long {
            target |= (hi & 0xffff_ffff) << 32;
        }
        let gate16 = ty == sys::INT_GATE16 || ty == sys::TRAP_GATE16;
        if gate16 {
            target &= 0xffff;
        }
        let (c, d) = self.target_descriptor(sel, ext)?;
        let sel_err = sel_code(sel, ext);
        if c.attributes & attr::S == 0 || !c.is_code() || c.dpl() > cpl {
            return Err(gp(sel_err));
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::NP, sel_err));
        }
        if long && !c.is_64bit_code() {
            return Err(gp(sel_err));
        }
        let conforming = c.attributes & attr::DC != 0;
        let new_cpl = if conforming { cpl } else { c.dpl() };
        if !long {
            self.check_target(&c, target).map_err(|_| gp(ext))?;
        } else if !super::transfer::canonical(target) {
            return Err(gp(ext));
        }
        // The RFLAGS image pushed.
        let rf = match kind {
            Kind::Fault => fl::RF,
            Kind::Trap {
                rep_continues: true,
            } => fl::RF,
            Kind::Software => 0,
            Kind::InstructionBreakpoint | Kind::Trap { .. } | Kind::Icebp => self.s.rflags & fl::RF,
        };
        let flags = (self.s.rflags & !fl::RF) | rf;
        let old_ss = self.s.ss;
        let old_sp = self.s.gpr[RSP];
        let old_cs = self.s.cs.selector;
        let inward = new_cpl < cpl;
        let mut f;
        if long {
            let ist = (lo >> 32) & 7;
            let sp = if ist != 0 {
                self.tss_rsp64(0x24 + 8 * (ist - 1), ext)?
            } else if inward {
                self.tss_rsp64(4 + 8 * u64::from(new_cpl), ext)?
            } else {
                old_sp
            };
            f = Frame {
                ss: old_ss,
                sp: sp & !0xf,
                width: 8,
                long: true,
                user: new_cpl == 3,
                err: ext,
            };
            self.frame_push(&mut f, u64::from(old_ss.selector), 8)?;
            self.frame_push(&mut f, old_sp, 8)?;
            self.frame_push(&mut f, flags, 8)?;
            self.frame_push(&mut f, u64::from(old_cs), 8)?;
            self.frame_push(&mut f, ret_ip, 8)?;
            if let Some(code) = code {
                self.frame_push(&mut f, u64::from(code), 8)?;
            }
            if inward {
                self.s.ss = super::segment::null_segment(u16::from(new_cpl));
            }
            self.s.gpr[RSP] = f.sp;
        } else {
            let size = if gate16 { 2 } else { 4 };
            if inward {
                f = self.inner_frame_legacy(new_cpl, ext)?;
                self.frame_push(&mut f, u64::from(old_ss.selector), size)?;
                self.frame_push(&mut f, old_sp, size)?;
            } else {
                f = self.current_frame();
                f.err = ext;
            }
            self.frame_push(&mut f, flags, size)?;
            self.frame_push(&mut f, u64::from(old_cs), size)?;
            self.frame_push(&mut f, ret_ip, size)?;
            if let Some(code) = code {
                self.frame_push(&mut f, u64::from(code), size)?;
            }
            if inward {
                self.s.ss = f.ss;
                self.s.gpr[RSP] = f.sp;
            } else {
                self.commit_frame(&f);
            }
        }
        self.load_cs(c, d, new_cpl)?;
        self.s.rip = target;
        let mut clear = fl::TF | fl::NT | fl::RF | fl::VM;
        if ty == sys::INT_GATE || ty == sys::INT_GATE16 {
            clear |= fl::IF;
        }
        self.s.rflags &= !clear;
        Ok(())
    }

    /// Delivers one vector in the current mode.
    fn deliver_vector(&mut self, vector: u8, code: Option<u32>, kind: Kind) -> X {
        let ret_ip = self.s.rip;
        match self.s.mode() {
            CpuMode::Real => self.deliver_real(vector, ret_ip),
            CpuMode::Virtual8086 => Err(self.unimplemented("virtual-8086 mode")),
            _ => self.deliver_idt(vector, code, kind, ret_ip),
        }
    }

    /// Undoes a failed delivery attempt, except CR2: it holds the address of the most
    /// recent page fault, even one raised while delivering.
    fn undo_delivery(&mut self, saved: CpuState) {
        let cr2 = self.s.cr2;
        self.s = saved;
        self.s.cr2 = cr2;
    }

    /// INT n, INT3, INTO, INT1: the return address is the next instruction (RIP already
    /// points there). A fault while delivering is a fault of the INT instruction itself.
    pub(crate) fn software_interrupt(&mut self, vector: u8, kind: Kind) -> X {
        let saved = self.s.clone();
        match self.deliver_vector(vector, None, kind) {
            Ok(()) => {
                self.mark_software_interrupt();
                Ok(())
            }
            Err(e) => {
                self.undo_delivery(saved);
                Err(e)
            }
        }
    }

    /// Delivers an exception raised by an instruction. The state is the one the handler
    /// must see saved: for a fault, RIP is the faulting instruction; for a trap, the next.
    pub(crate) fn deliver_exception(&mut self, first: Exc, kind: Kind) -> Delivery {
        let mut chain = describe(&first);
        let mut current = first;
        let mut kind = kind;
        let mut previous: Option<Vector> = None;
        loop {
            let saved = self.s.clone();
            let code = if matches!(self.s.mode(), CpuMode::Real) {
                None
            } else {
                current.code
            };
            if current.vector == Vector::DB {
                // The handler may use the debug registers: #DB clears DR7.GD.
                self.s.debug.dr7 &= !(1 << 13);
            }
            match self.deliver_vector(current.vector as u8, code, kind) {
                Ok(()) => return Delivery::Delivered,
                Err(next) => {
                    self.undo_delivery(saved);
                    if let Cause::Unimplemented { instruction } = &next.cause {
                        return Delivery::Undeliverable(format!(
                            "delivering {} needs {instruction}, which this CPU does not implement",
                            current.vector
                        ));
                    }
                    let prev = current.vector;
                    chain += &format!(", {} while delivering it", describe(&next));
                    if prev == Vector::DF || previous == Some(Vector::DF) {
                        return Delivery::TripleFault(chain);
                    }
                    let double = matches!(
                        (class(prev), class(next.vector)),
                        (Class::Contributory, Class::Contributory)
                            | (Class::PageFault, Class::Contributory | Class::PageFault)
                    );
                    previous = Some(prev);
                    current = if double {
                        chain += ": #DF";
                        Exc::with_code(Vector::DF, 0)
                    } else {
                        next
                    };
                    // Faults raised while delivering are faults (of the original
                    // instruction, which is where RIP still points).
                    kind = Kind::Fault;
                }
            }
        }
    }
}
