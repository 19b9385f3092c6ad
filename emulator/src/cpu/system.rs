//! System instructions of this issue: segment-register loads, far transfers, HLT, CLI STI
//! and the flag instructions CLC STC CMC CLD STD, IN OUT, CPUID, RDTSC RDTSCP.
//!
//! Protected-mode segment loads read the descriptor from the GDT or LDT and apply the
//! checks of the SDM for data and stack segments; far transfers in protected mode go to
//! code segments at the same privilege level (gates, task switches and privilege changes
//! come with the system-architecture issue and raise #UD naming what is missing).

use iced_x86::OpKind;

use super::mmu::seg;
use super::operand::mask;
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags as fl;
use crate::state::reg::{RAX, RCX, RDX};
use crate::state::{attr, CpuMode, Segment};

impl Cpu {
    /// Reads the 8-byte descriptor a selector names, or faults with #GP(selector).
    pub(crate) fn read_descriptor(&mut self, sel: u16) -> X<u64> {
        let index = u64::from(sel & !7);
        let (base, limit) = if sel & 4 != 0 {
            if !self.s.ldtr.present() {
                return Err(Exc::with_code(Vector::GP, u32::from(sel & !3)));
            }
            (self.s.ldtr.base, u64::from(self.s.ldtr.limit))
        } else {
            (self.s.gdtr.base, u64::from(self.s.gdtr.limit))
        };
        if index + 7 > limit {
            return Err(Exc::with_code(Vector::GP, u32::from(sel & !3)));
        }
        self.read_lin(base.wrapping_add(index), 8, super::mmu::Access::Read)
    }

    /// Unpacks a code or data descriptor into a segment cache.
    pub(crate) fn descriptor_to_segment(sel: u16, d: u64) -> Segment {
        let base = ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24);
        let raw_limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
        let attributes = (((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8)) as u16;
        let limit = if attributes & attr::G != 0 {
            (raw_limit << 12) | 0xfff
        } else {
            raw_limit
        } as u32;
        Segment {
            selector: sel,
            base,
            limit,
            attributes,
        }
    }

    /// Sets the accessed bit of the descriptor `sel` names, if it is clear.
    fn mark_accessed(&mut self, sel: u16, d: u64) -> X {
        if d & (1 << 40) == 0 {
            let table = if sel & 4 != 0 {
                self.s.ldtr.base
            } else {
                self.s.gdtr.base
            };
            let lin = table.wrapping_add(u64::from(sel & !7)) + 5;
            let access = ((d >> 40) & 0xff) | 1;
            self.write_lin(lin, 1, access)?;
        }
        Ok(())
    }

    /// MOV/POP/LxS to a data or stack segment register.
    pub(crate) fn load_segment(&mut self, s: usize, sel: u16) -> X {
        match self.s.mode() {
            CpuMode::Real | CpuMode::Virtual8086 => {
                // Real mode changes only the selector and base; limit and attributes stay
                // (which is how "unreal mode" works).
                let r = self.s.seg_mut(s);
                r.selector = sel;
                r.base = u64::from(sel) << 4;
                Ok(())
            }
            _ => self.load_segment_protected(s, sel),
        }
    }

    fn load_segment_protected(&mut self, s: usize, sel: u16) -> X {
        let cpl = self.s.cpl();
        let rpl = (sel & 3) as u8;
        let err = |code: u16| Exc::with_code(Vector::GP, u32::from(code & !3));
        if s == seg::CS {
            return Err(Exc::new(Vector::UD));
        }
        if sel & !3 == 0 {
            // A null selector: allowed for data segments (any use faults later), and for
            // SS only in 64-bit mode below CPL 3.
            if s == seg::SS && !(self.s.mode() == CpuMode::Long64 && cpl < 3) {
                return Err(err(0));
            }
            *self.s.seg_mut(s) = Segment {
                selector: sel,
                ..Segment::default()
            };
            return Ok(());
        }
        let d = self.read_descriptor(sel)?;
        let seg_cache = Self::descriptor_to_segment(sel, d);
        let a = seg_cache.attributes;
        let dpl = seg_cache.dpl();
        if a & attr::S == 0 {
            return Err(err(sel));
        }
        if s == seg::SS {
            let writable_data = a & attr::CODE == 0 && a & attr::RW != 0;
            if !writable_data || rpl != cpl || dpl != cpl {
                return Err(err(sel));
            }
            if a & attr::P == 0 {
                return Err(Exc::with_code(Vector::SS, u32::from(sel & !3)));
            }
        } else {
            let readable = a & attr::CODE == 0 || a & attr::RW != 0;
            let conforming_code = a & attr::CODE != 0 && a & attr::DC != 0;
            if !readable || (!conforming_code && (rpl > dpl || cpl > dpl)) {
                return Err(err(sel));
            }
            if a & attr::P == 0 {
                return Err(Exc::with_code(Vector::NP, u32::from(sel & !3)));
            }
        }
        self.mark_accessed(sel, d)?;
        *self.s.seg_mut(s) = Segment {
            attributes: a | attr::ACCESSED,
            ..seg_cache
        };
        Ok(())
    }

    /// A far JMP (and the CS part of far CALL, RETF, IRET) to `sel:off`.
    pub(crate) fn far_jump(&mut self, sel: u16, off: u64) -> X {
        match self.s.mode() {
            CpuMode::Real | CpuMode::Virtual8086 => {
                if off > u64::from(self.s.cs.limit) {
                    return Err(Exc::gp0());
                }
                self.s.cs.selector = sel;
                self.s.cs.base = u64::from(sel) << 4;
                self.s.rip = off;
                Ok(())
            }
            _ => {
                if sel & !3 == 0 {
                    return Err(Exc::gp0());
                }
                let d = self.read_descriptor(sel)?;
                let c = Self::descriptor_to_segment(sel, d);
                let a = c.attributes;
                let cpl = self.s.cpl();
                if a & attr::S == 0 {
                    return Err(self.unimplemented(
                        "call gates, task gates and TSS targets come with the system issue",
                    ));
                }
                let conforming = a & attr::DC != 0;
                let ok = a & attr::CODE != 0
                    && if conforming {
                        c.dpl() <= cpl
                    } else {
                        c.dpl() == cpl && (sel & 3) as u8 <= cpl
                    };
                if !ok {
                    return Err(Exc::with_code(Vector::GP, u32::from(sel & !3)));
                }
                if a & attr::P == 0 {
                    return Err(Exc::with_code(Vector::NP, u32::from(sel & !3)));
                }
                let long =
                    self.s.mode() == CpuMode::Long64 || self.s.mode() == CpuMode::Compatibility;
                if !(long && a & attr::L != 0) && off > u64::from(c.limit) {
                    return Err(Exc::gp0());
                }
                self.mark_accessed(sel, d)?;
                self.s.cs = Segment {
                    selector: (sel & !3) | u16::from(cpl),
                    attributes: a | attr::ACCESSED,
                    ..c
                };
                self.s.rip = off;
                Ok(())
            }
        }
    }

    /// HLT: privileged; ends the step with the CPU halted.
    pub(crate) fn hlt(&mut self) -> X {
        if self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        self.request_halt();
        Ok(())
    }

    /// CLC STC CMC CLD STD: set, clear (`Some`) or complement (`None`) one flag.
    pub(crate) fn flag_op(&mut self, flag: u64, value: Option<bool>) -> X {
        match value {
            Some(true) => self.s.rflags |= flag,
            Some(false) => self.s.rflags &= !flag,
            None => self.s.rflags ^= flag,
        }
        Ok(())
    }

    /// CLI and STI: allowed when CPL <= IOPL (always in real mode), else #GP(0).
    pub(crate) fn cli_sti(&mut self, set: bool) -> X {
        let allowed = match self.s.mode() {
            CpuMode::Real => true,
            CpuMode::Virtual8086 => self.iopl() == 3,
            _ => self.s.cpl() <= self.iopl(),
        };
        if !allowed {
            return Err(Exc::gp0());
        }
        self.flag_op(fl::IF, Some(set))
    }

    /// Whether the current privilege may access `port` for `size` bytes. The TSS I/O
    /// permission bitmap is consulted when CPL > IOPL.
    fn io_allowed(&mut self, port: u16, size: u32) -> X {
        let needs_bitmap = match self.s.mode() {
            CpuMode::Real => false,
            CpuMode::Virtual8086 => true,
            _ => self.s.cpl() > self.iopl(),
        };
        if !needs_bitmap {
            return Ok(());
        }
        // The bitmap lives in a 32/64-bit TSS at the offset stored at TSS+0x66.
        let tr = self.s.tr;
        let ok_tss = tr.present() && tr.attributes & 0xf == 0xb && tr.limit >= 0x67;
        if !ok_tss {
            return Err(Exc::gp0());
        }
        let base_off = self.read_lin(tr.base + 0x66, 2, super::mmu::Access::Read)?;
        let byte_off = base_off + u64::from(port / 8);
        if byte_off + 1 > u64::from(tr.limit) {
            return Err(Exc::gp0());
        }
        let bits = self.read_lin(tr.base + byte_off, 2, super::mmu::Access::Read)?;
        let want = ((1u64 << size) - 1) << (port % 8);
        if bits & want != 0 {
            return Err(Exc::gp0());
        }
        Ok(())
    }

    /// The port of IN/OUT: an immediate byte or DX.
    fn io_port(&self, op: u32) -> u16 {
        match self.i.op_kind(op) {
            OpKind::Immediate8 => u16::from(self.i.immediate8()),
            _ => self.reg(RDX, 2) as u16,
        }
    }

    pub(crate) fn in_(&mut self) -> X {
        let size = self.op_size(0);
        let port = self.io_port(1);
        self.io_allowed(port, size)?;
        let mut buf = [0u8; 4];
        self.dev.io_read(port, &mut buf[..size as usize]);
        self.set_reg(RAX, size, u64::from(u32::from_le_bytes(buf)));
        Ok(())
    }

    pub(crate) fn out(&mut self) -> X {
        let size = self.op_size(1);
        let port = self.io_port(0);
        self.io_allowed(port, size)?;
        let v = self.reg(RAX, size) as u32;
        let action = self.dev.io_write(port, &v.to_le_bytes()[..size as usize]);
        self.device_action(action);
        Ok(())
    }

    /// Port I/O for the string forms (INS/OUTS), after their permission check.
    pub(crate) fn port_read(&mut self, port: u16, size: u32) -> X<u64> {
        self.io_allowed(port, size)?;
        let mut buf = [0u8; 4];
        self.dev.io_read(port, &mut buf[..size as usize]);
        Ok(u64::from(u32::from_le_bytes(buf)))
    }

    pub(crate) fn port_write(&mut self, port: u16, size: u32, v: u64) -> X {
        self.io_allowed(port, size)?;
        let action = self.dev.io_write(port, &v.to_le_bytes()[..size as usize]);
        self.device_action(action);
        Ok(())
    }

    pub(crate) fn cpuid_op(&mut self) -> X {
        let leaf = self.reg(RAX, 4) as u32;
        let sub = self.reg(RCX, 4) as u32;
        let r = super::cpuid(leaf, sub);
        self.set_reg(RAX, 4, u64::from(r[0]));
        self.set_reg(crate::state::reg::RBX, 4, u64::from(r[1]));
        self.set_reg(RCX, 4, u64::from(r[2]));
        self.set_reg(RDX, 4, u64::from(r[3]));
        Ok(())
    }

    /// RDTSC (and RDTSCP, which also loads TSC_AUX into ECX). The counter is deterministic:
    /// it advances by one per retired instruction, so runs are repeatable. CR4.TSD makes
    /// it privileged.
    pub(crate) fn rdtsc(&mut self, with_aux: bool) -> X {
        if self.s.cr4 & (1 << 2) != 0 && self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        let t = self.s.tsc;
        self.set_reg(RAX, 4, t & mask(4));
        self.set_reg(RDX, 4, t >> 32);
        if with_aux {
            self.set_reg(RCX, 4, self.s.msrs.tsc_aux & mask(4));
        }
        Ok(())
    }
}
