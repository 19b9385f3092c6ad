//! Segmentation and protection: descriptors, segment-register loads with the checks of the
//! SDM (Vol. 3, chapter 5 "Protection"), the LDT and task registers, and the instructions
//! that inspect descriptors (LAR LSL VERR VERW ARPL).
//!
//! Descriptors are read from the GDT or LDT with implicit supervisor-mode accesses. A load
//! that passes its checks sets the descriptor's accessed bit in memory and copies base,
//! limit (scaled by G) and attributes into the hidden cache of the segment register; a
//! load that fails raises #GP, #SS, #NP or #TS with the selector as error code and changes
//! nothing. In long mode, LDT and TSS descriptors (and call and interrupt gates) are 16
//! bytes: the upper 8 bytes hold base bits 63:32.

use iced_x86::OpKind;

use super::mmu::seg;
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags as fl;
use crate::state::{attr, CpuMode, Segment};

/// System-descriptor types (the low nibble of the access byte, S = 0).
pub(crate) mod sys {
    pub const TSS16_AVAILABLE: u16 = 0x1;
    pub const LDT: u16 = 0x2;
    pub const TSS16_BUSY: u16 = 0x3;
    pub const CALL_GATE16: u16 = 0x4;
    pub const TASK_GATE: u16 = 0x5;
    pub const INT_GATE16: u16 = 0x6;
    pub const TRAP_GATE16: u16 = 0x7;
    pub const TSS_AVAILABLE: u16 = 0x9;
    pub const TSS_BUSY: u16 = 0xb;
    pub const CALL_GATE: u16 = 0xc;
    pub const INT_GATE: u16 = 0xe;
    pub const TRAP_GATE: u16 = 0xf;
}

/// The error code that names a selector: its index and TI bit, with EXT.
pub(crate) fn sel_code(sel: u16, ext: u32) -> u32 {
    u32::from(sel & !3) | ext
}

/// A null segment register as a protected-mode load of a null selector leaves it: unusable
/// (attributes 0, so every access through it faults). The DPL field keeps the RPL, which is
/// how a null SS in 64-bit mode still records the CPL.
pub(crate) fn null_segment(sel: u16) -> Segment {
    Segment {
        selector: sel,
        base: 0,
        limit: 0,
        attributes: (sel & 3) << attr::DPL_SHIFT,
    }
}

/// Whether `size` bytes at `offset` lie within the limit of a segment (expand-up or
/// expand-down).
pub(crate) fn within_limit(sr: &Segment, offset: u64, size: u32) -> bool {
    let last = offset.wrapping_add(u64::from(size) - 1);
    let limit = u64::from(sr.limit);
    let expand_down = sr.attributes & (attr::CODE | attr::DC) == attr::DC;
    if expand_down {
        let top = if sr.db() { 0xffff_ffff } else { 0xffff };
        offset > limit && last <= top && last >= offset
    } else {
        last <= limit && last >= offset
    }
}

impl Cpu {
    /// The linear address of the descriptor a selector names, or #GP(selector) when it lies
    /// beyond the table's limit (`size` is 8, or 16 for long-mode system descriptors).
    fn descriptor_address(&self, sel: u16, size: u64, ext: u32) -> X<u64> {
        let index = u64::from(sel & !7);
        let (base, limit) = if sel & 4 != 0 {
            if !self.s.ldtr.present() {
                return Err(Exc::with_code(Vector::GP, sel_code(sel, ext)));
            }
            (self.s.ldtr.base, u64::from(self.s.ldtr.limit))
        } else {
            (self.s.gdtr.base, u64::from(self.s.gdtr.limit))
        };
        if index + size - 1 > limit {
            return Err(Exc::with_code(Vector::GP, sel_code(sel, ext)));
        }
        Ok(base.wrapping_add(index))
    }

    /// Reads the 8-byte descriptor a selector names, or faults with #GP(selector).
    pub(crate) fn read_descriptor(&mut self, sel: u16) -> X<u64> {
        self.read_descriptor_ext(sel, 0)
    }

    /// [`Self::read_descriptor`] with the EXT bit for faults during event delivery.
    pub(crate) fn read_descriptor_ext(&mut self, sel: u16, ext: u32) -> X<u64> {
        let at = self.descriptor_address(sel, 8, ext)?;
        self.sys_read(at, 8)
    }

    /// Reads a system descriptor: 8 bytes, or 16 in long mode (the second half is returned
    /// as the upper u64, 0 outside long mode).
    pub(crate) fn read_system_descriptor(&mut self, sel: u16, ext: u32) -> X<(u64, u64)> {
        let long = self.s.efer & crate::state::ctl::EFER_LMA != 0;
        let at = self.descriptor_address(sel, if long { 16 } else { 8 }, ext)?;
        let lo = self.sys_read(at, 8)?;
        let hi = if long { self.sys_read(at + 8, 8)? } else { 0 };
        Ok((lo, hi))
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
    pub(crate) fn mark_accessed(&mut self, sel: u16, d: u64) -> X {
        if d & (1 << 40) == 0 {
            let at = self.descriptor_address(sel, 8, 0)?;
            let access = ((d >> 40) & 0xff) | 1;
            self.sys_write(at + 5, 1, access)?;
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
            _ => {
                let cache = self.check_data_segment(s, sel, self.s.cpl(), 0)?;
                if s == seg::SS {
                    self.s.ss = cache;
                } else if self.s.mode() == CpuMode::Long64 && s >= seg::FS {
                    // In 64-bit mode a selector load writes FS.base/GS.base with the
                    // descriptor's 32-bit base (and a null selector leaves the base as is,
                    // AMD's behaviour).
                    let base = if sel & !3 == 0 {
                        self.s.seg(s).base
                    } else {
                        cache.base
                    };
                    *self.s.seg_mut(s) = Segment { base, ..cache };
                } else {
                    *self.s.seg_mut(s) = cache;
                }
                Ok(())
            }
        }
    }

    /// The checks of a protected-mode load of a data segment register (or of SS, with
    /// `cpl` as the privilege the stack must match), returning the new cache. Sets the
    /// accessed bit. `ext` is OR-ed into error codes (event delivery).
    pub(crate) fn check_data_segment(
        &mut self,
        s: usize,
        sel: u16,
        cpl: u8,
        ext: u32,
    ) -> X<Segment> {
        let rpl = (sel & 3) as u8;
        let err = |code: u16| Exc::with_code(Vector::GP, sel_code(code, ext));
        if s == seg::CS {
            return Err(Exc::new(Vector::UD));
        }
        if sel & !3 == 0 {
            // A null selector: allowed for data segments (any use faults later), and for
            // SS only in 64-bit mode below CPL 3 with RPL = CPL.
            if s == seg::SS && !(self.s.mode() == CpuMode::Long64 && cpl < 3 && rpl == cpl) {
                return Err(err(0));
            }
            return Ok(null_segment(sel));
        }
        let d = self.read_descriptor_ext(sel, ext)?;
        let cache = Self::descriptor_to_segment(sel, d);
        let a = cache.attributes;
        let dpl = cache.dpl();
        if a & attr::S == 0 {
            return Err(err(sel));
        }
        if s == seg::SS {
            let writable_data = a & attr::CODE == 0 && a & attr::RW != 0;
            if !writable_data || rpl != cpl || dpl != cpl {
                return Err(err(sel));
            }
            if a & attr::P == 0 {
                return Err(Exc::with_code(Vector::SS, sel_code(sel, ext)));
            }
        } else {
            let readable = a & attr::CODE == 0 || a & attr::RW != 0;
            let conforming_code = a & attr::CODE != 0 && a & attr::DC != 0;
            if !readable || (!conforming_code && (rpl > dpl || cpl > dpl)) {
                return Err(err(sel));
            }
            if a & attr::P == 0 {
                return Err(Exc::with_code(Vector::NP, sel_code(sel, ext)));
            }
        }
        self.mark_accessed(sel, d)?;
        Ok(Segment {
            attributes: a | attr::ACCESSED,
            ..cache
        })
    }

    /// After a return to an outer privilege level: DS, ES, FS and GS whose segment the new
    /// CPL may not use (data or non-conforming code with DPL < CPL) are loaded with null.
    pub(crate) fn null_inaccessible_segments(&mut self) {
        let cpl = self.s.cpl();
        for s in [seg::ES, seg::DS, seg::FS, seg::GS] {
            let r = *self.s.seg(s);
            let conforming = r.attributes & (attr::CODE | attr::DC) == attr::CODE | attr::DC;
            if r.present() && !conforming && r.dpl() < cpl {
                let base = if s >= seg::FS && self.s.efer & crate::state::ctl::EFER_LMA != 0 {
                    r.base
                } else {
                    0
                };
                *self.s.seg_mut(s) = Segment {
                    base,
                    ..null_segment(0)
                };
            }
        }
    }

    /// A system descriptor (LDT, TSS) unpacked into a cache, with base bits 63:32 from the
    /// upper half in long mode.
    fn system_segment(sel: u16, lo: u64, hi: u64) -> Segment {
        let mut c = Self::descriptor_to_segment(sel, lo);
        c.base |= (hi & 0xffff_ffff) << 32;
        c
    }

    /// The selector operand of LLDT, LTR, VERR, VERW, LAR, LSL.
    fn selector_operand(&mut self, op: u32) -> X<u16> {
        Ok(self.read_op(op, 2)? as u16)
    }

    /// #UD in real and virtual-8086 mode; #GP(0) at CPL > 0 (for LLDT, LTR, LGDT, ...).
    pub(crate) fn require_protected_cpl0(&self) -> X {
        match self.s.mode() {
            CpuMode::Real | CpuMode::Virtual8086 => Err(Exc::new(Vector::UD)),
            _ if self.s.cpl() != 0 => Err(Exc::gp0()),
            _ => Ok(()),
        }
    }

    /// LLDT r/m16: load LDTR from a GDT LDT descriptor (a null selector leaves LDTR unusable).
    pub(crate) fn lldt(&mut self) -> X {
        self.require_protected_cpl0()?;
        let sel = self.selector_operand(0)?;
        if sel & !3 == 0 {
            self.s.ldtr = null_segment(0);
            return Ok(());
        }
        if sel & 4 != 0 {
            return Err(Exc::with_code(Vector::GP, sel_code(sel, 0)));
        }
        let (lo, hi) = self.read_system_descriptor(sel, 0)?;
        let c = Self::system_segment(sel, lo, hi);
        if c.attributes & (attr::S | 0xf) != sys::LDT {
            return Err(Exc::with_code(Vector::GP, sel_code(sel, 0)));
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::NP, sel_code(sel, 0)));
        }
        self.s.ldtr = c;
        Ok(())
    }

    /// LTR r/m16: load TR from an available TSS descriptor in the GDT and mark it busy.
    pub(crate) fn ltr(&mut self) -> X {
        self.require_protected_cpl0()?;
        let sel = self.selector_operand(0)?;
        if sel & !3 == 0 || sel & 4 != 0 {
            return Err(Exc::with_code(Vector::GP, sel_code(sel, 0)));
        }
        let (lo, hi) = self.read_system_descriptor(sel, 0)?;
        let c = Self::system_segment(sel, lo, hi);
        let ty = c.attributes & (attr::S | 0xf);
        let long = self.s.efer & crate::state::ctl::EFER_LMA != 0;
        let ok = ty == sys::TSS_AVAILABLE || (!long && ty == sys::TSS16_AVAILABLE);
        if !ok {
            return Err(Exc::with_code(Vector::GP, sel_code(sel, 0)));
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::NP, sel_code(sel, 0)));
        }
        // The busy bit is type bit 1.
        let at = self.descriptor_address(sel, 8, 0)?;
        self.sys_write(at + 5, 1, ((lo >> 40) & 0xff) | 2)?;
        self.s.tr = Segment {
            attributes: c.attributes | 2,
            ..c
        };
        Ok(())
    }

    /// SLDT and STR: store the selector (zero-extended into a register, 16 bits to memory).
    pub(crate) fn store_selector(&mut self, sel: u16) -> X {
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            return Err(Exc::new(Vector::UD));
        }
        let size = if self.i.op_kind(0) == OpKind::Register {
            self.op_size(0)
        } else {
            2
        };
        self.write_op(0, size, u64::from(sel))
    }

    /// The descriptor LAR, LSL, VERR and VERW examine, if it is visible at this privilege:
    /// not null, within its table, and (for all but conforming code) DPL >= CPL and RPL.
    fn visible_descriptor(&mut self, sel: u16) -> X<Option<u64>> {
        if sel & !3 == 0 {
            return Ok(None);
        }
        let Ok(at) = self.descriptor_address(sel, 8, 0) else {
            return Ok(None);
        };
        let d = self.sys_read(at, 8)?;
        let c = Self::descriptor_to_segment(sel, d);
        let conforming =
            c.attributes & (attr::S | attr::CODE | attr::DC) == attr::S | attr::CODE | attr::DC;
        let cpl = self.s.cpl();
        if !conforming && (c.dpl() < cpl || c.dpl() < (sel & 3) as u8) {
            return Ok(None);
        }
        Ok(Some(d))
    }

    /// LAR and LSL: ZF = 1 and the access rights (LAR: the second dword masked to 00FFFF00h)
    /// or the scaled limit (LSL) when the descriptor is visible
    /// and of a type the instruction accepts; else ZF = 0 and the destination is unchanged.
    pub(crate) fn lar_lsl(&mut self, lsl: bool) -> X {
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            return Err(Exc::new(Vector::UD));
        }
        let sel = self.selector_operand(1)?;
        let d = self.visible_descriptor(sel)?;
        let long = self.s.efer & crate::state::ctl::EFER_LMA != 0;
        let value = d.and_then(|d| {
            let a = ((d >> 40) & 0xff) as u16;
            if a & attr::S == 0 {
                let ty = a & 0xf;
                let ok = match ty {
                    sys::LDT | sys::TSS_AVAILABLE | sys::TSS_BUSY => true,
                    sys::TSS16_AVAILABLE | sys::TSS16_BUSY => !long,
                    sys::CALL_GATE => !lsl,
                    sys::CALL_GATE16 | sys::TASK_GATE => !lsl && !long,
                    _ => false,
                };
                if !ok {
                    return None;
                }
            }
            Some(if lsl {
                u64::from(Self::descriptor_to_segment(sel, d).limit)
            } else {
                // The SDM masks with 00FxFF00h, leaving bits 19:16 undefined; the processor
                // (AMD EPYC, measured natively) returns the limit's bits 19:16 there.
                (d >> 32) & 0x00ff_ff00
            })
        });
        match value {
            Some(v) => {
                let size = self.op_size(0);
                self.write_op(0, size, v)?;
                self.s.rflags |= fl::ZF;
            }
            None => self.s.rflags &= !fl::ZF,
        }
        Ok(())
    }

    /// VERR and VERW: ZF = 1 when the segment is readable (VERR) or writable (VERW) at the
    /// current privilege.
    pub(crate) fn verr_verw(&mut self, write: bool) -> X {
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            return Err(Exc::new(Vector::UD));
        }
        let sel = self.selector_operand(0)?;
        let d = self.visible_descriptor(sel)?;
        let ok = d.is_some_and(|d| {
            let a = ((d >> 40) & 0xff) as u16;
            if a & attr::S == 0 {
                return false;
            }
            let code = a & attr::CODE != 0;
            if write {
                !code && a & attr::RW != 0
            } else {
                !code || a & attr::RW != 0
            }
        });
        if ok {
            self.s.rflags |= fl::ZF;
        } else {
            self.s.rflags &= !fl::ZF;
        }
        Ok(())
    }

    /// ARPL r/m16, r16: raise the destination's RPL to the source's (ZF = 1), else ZF = 0.
    /// Not valid in real mode (#UD); in 64-bit mode the opcode is MOVSXD, decoded as such.
    pub(crate) fn arpl(&mut self) -> X {
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            return Err(Exc::new(Vector::UD));
        }
        let dst = self.read_op(0, 2)?;
        let src = self.read_op(1, 2)?;
        if dst & 3 < src & 3 {
            let v = (dst & !3) | (src & 3);
            match super::operand::gpr(self.i.op0_register()) {
                // ARPL writes 16 bits, also in its 32-bit-operand form (`arpl r32/m16, r32`):
                // the rest of a register is kept (measured on the processor).
                Some(mut r) if self.i.op0_kind() == OpKind::Register => {
                    r.size = 2;
                    self.set_gpr(r, v);
                }
                _ => self.write_op(0, 2, v)?,
            }
            self.s.rflags |= fl::ZF;
        } else {
            self.s.rflags &= !fl::ZF;
        }
        Ok(())
    }
}
