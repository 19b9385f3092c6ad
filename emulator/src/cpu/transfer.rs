//! Far control transfers in protected, compatibility and 64-bit mode: far JMP and CALL to
//! code segments and through call gates (with the stack switch from the TSS and the
//! parameter copy of legacy gates), far RET and IRET to the same or an outer privilege
//! level, SYSCALL/SYSRET and SYSENTER/SYSEXIT. The checks and their order follow the
//! pseudocode of each instruction in the SDM (Vol. 2) and chapter 5 of Vol. 3.
//!
//! Each transfer reads and checks everything, then writes the new stack, then loads the
//! registers, so a fault leaves the registers as they were (the instruction restarts).
//! Task switches (through task gates or TSS descriptors, and IRET with NT = 1 outside long
//! mode) and returns to virtual-8086 mode are not implemented; they raise #UD naming what
//! is missing.

use iced_x86::Code;

use super::mmu::seg;
use super::operand::mask;
use super::segment::{null_segment, sel_code, sys, within_limit};
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags as fl;
use crate::state::reg::{R11, RCX, RDX, RSP};
use crate::state::{attr, ctl, CpuMode, Segment};

/// A stack being written by a transfer or an event delivery.
pub(crate) struct Frame {
    pub ss: Segment,
    pub sp: u64,
    /// 2, 4 or 8: the width of the stack pointer (SS.B, or 64-bit mode).
    pub width: u32,
    /// 64-bit stack: no segment checks, canonical addresses.
    pub long: bool,
    /// Accesses are user-mode accesses for paging (the stack belongs to CPL 3).
    pub user: bool,
    /// The error code of a #SS on this stack.
    pub err: u32,
}

pub(crate) fn canonical(a: u64) -> bool {
    ((a as i64) << 16 >> 16) as u64 == a
}

/// A flat 4 GiB code segment as SYSCALL, SYSRET, SYSENTER and SYSEXIT load it.
fn flat_code(sel: u16, dpl: u8, long: bool) -> Segment {
    let mode = if long { attr::L } else { attr::DB };
    Segment::flat(
        sel,
        attr::P
            | attr::S
            | attr::CODE
            | attr::RW
            | attr::ACCESSED
            | attr::G
            | mode
            | u16::from(dpl) << attr::DPL_SHIFT,
    )
}

/// A flat 4 GiB writable stack segment, as those instructions load SS.
fn flat_stack(sel: u16, dpl: u8) -> Segment {
    Segment::flat(
        sel,
        attr::P
            | attr::S
            | attr::RW
            | attr::ACCESSED
            | attr::G
            | attr::DB
            | u16::from(dpl) << attr::DPL_SHIFT,
    )
}

impl Cpu {
    /// Pushes `size` bytes on a frame.
    pub(crate) fn frame_push(&mut self, f: &mut Frame, v: u64, size: u32) -> X {
        let sp = f.sp.wrapping_sub(u64::from(size)) & mask(f.width);
        let lin = if f.long {
            if !canonical(sp) {
                return Err(Exc::with_code(Vector::SS, f.err));
            }
            sp
        } else {
            // (Real mode uses SS's limit but no present bit.)
            let unusable = !f.ss.present() && self.s.mode() != CpuMode::Real;
            if unusable || !within_limit(&f.ss, sp, size) {
                return Err(Exc::with_code(Vector::SS, f.err));
            }
            f.ss.base.wrapping_add(sp) & 0xffff_ffff
        };
        let was = std::mem::replace(&mut self.implicit_supervisor, !f.user);
        let r = self.write_lin(lin, size, v);
        self.implicit_supervisor = was;
        r?;
        f.sp = sp;
        Ok(())
    }

    /// The current stack as a frame.
    pub(crate) fn current_frame(&self) -> Frame {
        let long = self.s.mode() == CpuMode::Long64;
        Frame {
            ss: self.s.ss,
            sp: self.s.gpr[RSP],
            width: if long {
                8
            } else if self.s.ss.db() {
                4
            } else {
                2
            },
            long,
            user: self.s.cpl() == 3,
            err: 0,
        }
    }

    /// Makes a frame's stack pointer the current one.
    pub(crate) fn commit_frame(&mut self, f: &Frame) {
        self.set_reg(RSP, f.width, f.sp);
    }

    fn tss_fault(&self, ext: u32) -> Exc {
        Exc::with_code(Vector::TS, sel_code(self.s.tr.selector, ext))
    }

    /// The inner stack (SS, ESP) for privilege `dpl` from a 32-bit or 16-bit TSS.
    pub(crate) fn tss_stack_legacy(&mut self, dpl: u8, ext: u32) -> X<(u16, u64)> {
        let tr = self.s.tr;
        let (off, width) = match tr.attributes & 0xf {
            sys::TSS_AVAILABLE | sys::TSS_BUSY => (4 + 8 * u64::from(dpl), 4),
            sys::TSS16_AVAILABLE | sys::TSS16_BUSY => (2 + 4 * u64::from(dpl), 2),
            _ => return Err(self.tss_fault(ext)),
        };
        if !tr.present() || off + u64::from(width) + 1 > u64::from(tr.limit) {
            return Err(self.tss_fault(ext));
        }
        let sp = self.sys_read(tr.base.wrapping_add(off), width)?;
        let ss = self.sys_read(tr.base.wrapping_add(off + u64::from(width)), 2)?;
        Ok((ss as u16, sp))
    }

    /// A stack pointer from the 64-bit TSS at `off` (RSPn at 4 + 8n, ISTn at 24h + 8(n-1)).
    pub(crate) fn tss_rsp64(&mut self, off: u64, ext: u32) -> X<u64> {
        let tr = self.s.tr;
        let ty = tr.attributes & 0xf;
        if !tr.present()
            || !(ty == sys::TSS_AVAILABLE || ty == sys::TSS_BUSY)
            || off + 7 > u64::from(tr.limit)
        {
            return Err(self.tss_fault(ext));
        }
        let rsp = self.sys_read(tr.base.wrapping_add(off), 8)?;
        if !canonical(rsp) {
            return Err(Exc::with_code(Vector::SS, ext));
        }
        Ok(rsp)
    }

    /// The stack of privilege `new_cpl` from a legacy (16- or 32-bit) TSS, checked: the
    /// frame an inward transfer or delivery pushes on.
    pub(crate) fn inner_frame_legacy(&mut self, new_cpl: u8, ext: u32) -> X<Frame> {
        let (ss_sel, esp) = self.tss_stack_legacy(new_cpl, ext)?;
        let ss = self.inner_ss(ss_sel, new_cpl, ext)?;
        Ok(Frame {
            ss,
            sp: esp,
            width: if ss.db() { 4 } else { 2 },
            long: false,
            user: new_cpl == 3,
            err: sel_code(ss_sel, ext),
        })
    }

    /// The checks of the SS an inward transfer loads from the TSS (faults are #TS).
    pub(crate) fn inner_ss(&mut self, sel: u16, cpl: u8, ext: u32) -> X<Segment> {
        let ts = |s: u16| Exc::with_code(Vector::TS, sel_code(s, ext));
        if sel & !3 == 0 {
            return Err(ts(0));
        }
        if (sel & 3) as u8 != cpl {
            return Err(ts(sel));
        }
        let d = match self.read_descriptor_ext(sel, ext) {
            Ok(d) => d,
            Err(e) if e.vector == Vector::GP => return Err(ts(sel)),
            Err(e) => return Err(e),
        };
        let c = Self::descriptor_to_segment(sel, d);
        let a = c.attributes;
        if a & attr::S == 0 || a & attr::CODE != 0 || a & attr::RW == 0 || c.dpl() != cpl {
            return Err(ts(sel));
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::SS, sel_code(sel, ext)));
        }
        self.mark_accessed(sel, d)?;
        Ok(Segment {
            attributes: a | attr::ACCESSED,
            ..c
        })
    }

    /// The checks of the SS a return to the outer level `rpl` pops (faults are #GP/#SS).
    /// A null SS is accepted in long mode when returning to 64-bit code below CPL 3.
    fn outer_ss(&mut self, sel: u16, rpl: u8, to_64bit: bool) -> X<Segment> {
        if sel & !3 == 0 {
            if self.s.efer & ctl::EFER_LMA != 0 && to_64bit && rpl != 3 && (sel & 3) as u8 == rpl {
                return Ok(null_segment(sel));
            }
            return Err(Exc::gp0());
        }
        let gp = Exc::with_code(Vector::GP, sel_code(sel, 0));
        if (sel & 3) as u8 != rpl {
            return Err(gp);
        }
        let d = self.read_descriptor(sel)?;
        let c = Self::descriptor_to_segment(sel, d);
        let a = c.attributes;
        if a & attr::S == 0 || a & attr::CODE != 0 || a & attr::RW == 0 || c.dpl() != rpl {
            return Err(gp);
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::SS, sel_code(sel, 0)));
        }
        self.mark_accessed(sel, d)?;
        Ok(Segment {
            attributes: a | attr::ACCESSED,
            ..c
        })
    }

    /// The descriptor a far transfer's selector names; a null selector is #GP(ext).
    pub(crate) fn target_descriptor(&mut self, sel: u16, ext: u32) -> X<(Segment, u64)> {
        if sel & !3 == 0 {
            return Err(Exc::with_code(Vector::GP, ext));
        }
        let d = self.read_descriptor_ext(sel, ext)?;
        Ok((Self::descriptor_to_segment(sel, d), d))
    }

    /// #GP(0) unless `off` is a valid instruction pointer in the code segment `c`: within
    /// its limit, or canonical for 64-bit code.
    pub(crate) fn check_target(&self, c: &Segment, off: u64) -> X {
        let long_code = self.s.efer & ctl::EFER_LMA != 0 && c.long();
        let ok = if long_code {
            canonical(off)
        } else {
            off <= u64::from(c.limit)
        };
        if ok {
            Ok(())
        } else {
            Err(Exc::gp0())
        }
    }

    /// Loads CS from a checked descriptor with RPL = `cpl`, setting its accessed bit.
    pub(crate) fn load_cs(&mut self, c: Segment, raw: u64, cpl: u8) -> X {
        self.mark_accessed(c.selector, raw)?;
        self.s.cs = Segment {
            selector: (c.selector & !3) | u16::from(cpl),
            attributes: c.attributes | attr::ACCESSED,
            ..c
        };
        Ok(())
    }

    /// The privilege checks of a direct JMP or CALL to a code segment (or of the code
    /// segment a call gate names, `through_gate`): #GP(selector) or #NP(selector).
    fn check_code_target(&self, c: &Segment, cpl: u8, call_gate: Option<bool>) -> X {
        let a = c.attributes;
        let gp = Exc::with_code(Vector::GP, sel_code(c.selector, 0));
        if a & attr::S == 0 || a & attr::CODE == 0 {
            return Err(gp);
        }
        let conforming = a & attr::DC != 0;
        let ok = match call_gate {
            // Direct: conforming DPL <= CPL; non-conforming RPL <= CPL and DPL = CPL.
            None => {
                if conforming {
                    c.dpl() <= cpl
                } else {
                    c.dpl() == cpl && (c.selector & 3) as u8 <= cpl
                }
            }
            // Through a gate by CALL: DPL <= CPL.
            Some(true) => c.dpl() <= cpl,
            // Through a gate by JMP: no privilege change.
            Some(false) => {
                if conforming {
                    c.dpl() <= cpl
                } else {
                    c.dpl() == cpl
                }
            }
        };
        if !ok {
            return Err(gp);
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::NP, sel_code(c.selector, 0)));
        }
        if call_gate.is_some() && self.s.efer & ctl::EFER_LMA != 0 && !c.is_64bit_code() {
            return Err(gp);
        }
        Ok(())
    }

    /// A call gate named by `sel`: (target selector, target offset, parameter count,
    /// operand size of the gate), after the gate's own checks.
    fn call_gate(&mut self, sel: u16, cpl: u8) -> X<(u16, u64, u32, u32)> {
        let long = self.s.efer & ctl::EFER_LMA != 0;
        let (lo, hi) = self.read_system_descriptor(sel, 0)?;
        let gp = Exc::with_code(Vector::GP, sel_code(sel, 0));
        let ty = ((lo >> 40) & 0xf) as u16;
        let size = match ty {
            sys::CALL_GATE if long => 8,
            sys::CALL_GATE => 4,
            sys::CALL_GATE16 if !long => 2,
            _ => return Err(gp),
        };
        // The upper half of a 64-bit gate must have type 0 where a descriptor's type is.
        if long && (hi >> 40) & 0x1f != 0 {
            return Err(gp);
        }
        let dpl = ((lo >> 45) & 3) as u8;
        if dpl < cpl || dpl < (sel & 3) as u8 {
            return Err(gp);
        }
        if lo & (1 << 47) == 0 {
            return Err(Exc::with_code(Vector::NP, sel_code(sel, 0)));
        }
        let mut off = (lo & 0xffff) | ((lo >> 48) << 16);
        if long {
            off |= (hi & 0xffff_ffff) << 32;
        } else if size == 2 {
            off &= 0xffff;
        }
        Ok(((lo >> 16) as u16, off, ((lo >> 32) & 0x1f) as u32, size))
    }

    /// What a far JMP or CALL selector names: a code segment (its cache and raw
    /// descriptor) or a call gate. Task gates and TSS descriptors (task switches) are not
    /// implemented; any other system descriptor is #GP(selector).
    fn far_destination(&mut self, sel: u16) -> X<Option<(Segment, u64)>> {
        let (c, d) = self.target_descriptor(sel, 0)?;
        if c.attributes & attr::S != 0 {
            return Ok(Some((c, d)));
        }
        match c.attributes & 0xf {
            sys::CALL_GATE | sys::CALL_GATE16 => Ok(None),
            sys::TASK_GATE | sys::TSS16_AVAILABLE | sys::TSS_AVAILABLE => {
                Err(self.unimplemented("task switches through task gates and TSS descriptors"))
            }
            _ => Err(Exc::with_code(Vector::GP, sel_code(sel, 0))),
        }
    }

    /// A far JMP to `sel:off`.
    pub(crate) fn far_jump(&mut self, sel: u16, off: u64) -> X {
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            if off > u64::from(self.s.cs.limit) {
                return Err(Exc::gp0());
            }
            self.s.cs.selector = sel;
            self.s.cs.base = u64::from(sel) << 4;
            self.s.rip = off;
            return Ok(());
        }
        let cpl = self.s.cpl();
        if let Some((c, d)) = self.far_destination(sel)? {
            self.check_code_target(&c, cpl, None)?;
            self.check_target(&c, off)?;
            self.load_cs(c, d, cpl)?;
            self.s.rip = off;
            return Ok(());
        }
        let (tsel, toff, _, _) = self.call_gate(sel, cpl)?;
        let (tc, td) = self.target_descriptor(tsel, 0)?;
        self.check_code_target(&tc, cpl, Some(false))?;
        self.check_target(&tc, toff)?;
        self.load_cs(tc, td, cpl)?;
        self.s.rip = toff;
        Ok(())
    }

    /// A far CALL to `sel:off` with an operand size of `size` bytes; the return address is
    /// the current RIP (already past the instruction).
    pub(crate) fn far_call(&mut self, sel: u16, off: u64, size: u32) -> X {
        let ret = self.s.rip;
        let old_cs = self.s.cs;
        if matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            if off > u64::from(self.s.cs.limit) {
                return Err(Exc::gp0());
            }
            let mut f = self.current_frame();
            self.frame_push(&mut f, u64::from(old_cs.selector), size)?;
            self.frame_push(&mut f, ret, size)?;
            self.commit_frame(&f);
            self.s.cs.selector = sel;
            self.s.cs.base = u64::from(sel) << 4;
            self.s.rip = off;
            return Ok(());
        }
        let cpl = self.s.cpl();
        if let Some((c, d)) = self.far_destination(sel)? {
            self.check_code_target(&c, cpl, None)?;
            self.check_target(&c, off)?;
            return self.call_same_level(c, d, off, size);
        }
        let (tsel, toff, params, gsize) = self.call_gate(sel, cpl)?;
        let (tc, td) = self.target_descriptor(tsel, 0)?;
        self.check_code_target(&tc, cpl, Some(true))?;
        self.check_target(&tc, toff)?;
        let conforming = tc.attributes & attr::DC != 0;
        if conforming || tc.dpl() == cpl {
            return self.call_same_level(tc, td, toff, gsize);
        }
        // A call to a more privileged level: switch to the stack the TSS holds for it.
        let new_cpl = tc.dpl();
        let old_ss = self.s.ss;
        let old_sp = self.s.gpr[RSP];
        let mut f;
        if self.s.efer & ctl::EFER_LMA != 0 {
            let rsp = self.tss_rsp64(4 + 8 * u64::from(new_cpl), 0)?;
            f = Frame {
                ss: null_segment(u16::from(new_cpl)),
                sp: rsp,
                width: 8,
                long: true,
                user: false,
                err: 0,
            };
        } else {
            f = self.inner_frame_legacy(new_cpl, 0)?;
        }
        // The parameters are read from the old stack before anything is written.
        let mut copied = Vec::with_capacity(params as usize);
        let old_width = self.current_frame().width;
        for i in 0..params {
            let at = old_sp.wrapping_add(u64::from(i * gsize)) & mask(old_width);
            copied.push(self.read_seg(seg::SS, at, gsize)?);
        }
        self.frame_push(&mut f, u64::from(old_ss.selector), gsize)?;
        self.frame_push(&mut f, old_sp & mask(old_width.max(gsize)), gsize)?;
        for &p in copied.iter().rev() {
            self.frame_push(&mut f, p, gsize)?;
        }
        self.frame_push(&mut f, u64::from(old_cs.selector), gsize)?;
        self.frame_push(&mut f, ret, gsize)?;
        self.load_cs(tc, td, new_cpl)?;
        self.s.ss = f.ss;
        self.s.gpr[RSP] = f.sp;
        self.s.rip = toff;
        Ok(())
    }

    /// The rest of a far CALL that stays at the current privilege level: push CS and the
    /// return address (`size` bytes each) on the current stack, load CS, jump.
    fn call_same_level(&mut self, c: Segment, raw: u64, off: u64, size: u32) -> X {
        let (ret, old_cs) = (self.s.rip, self.s.cs.selector);
        let mut f = self.current_frame();
        self.frame_push(&mut f, u64::from(old_cs), size)?;
        self.frame_push(&mut f, ret, size)?;
        self.load_cs(c, raw, self.s.cpl())?;
        self.commit_frame(&f);
        self.s.rip = off;
        Ok(())
    }

    /// The checks of the code segment a far RET or IRET returns to (RPL >= CPL).
    fn return_cs(&mut self, sel: u16) -> X<(Segment, u64)> {
        let cpl = self.s.cpl();
        let rpl = (sel & 3) as u8;
        let gp = Exc::with_code(Vector::GP, sel_code(sel, 0));
        if sel & !3 == 0 {
            return Err(Exc::gp0());
        }
        if rpl < cpl {
            return Err(gp);
        }
        let (c, d) = self.target_descriptor(sel, 0)?;
        let a = c.attributes;
        if a & attr::S == 0 || a & attr::CODE == 0 {
            return Err(gp);
        }
        let ok = if a & attr::DC != 0 {
            c.dpl() <= rpl
        } else {
            c.dpl() == rpl
        };
        if !ok {
            return Err(gp);
        }
        if !c.present() {
            return Err(Exc::with_code(Vector::NP, sel_code(sel, 0)));
        }
        if self.s.efer & ctl::EFER_LMA != 0 && c.long() && c.db() {
            return Err(gp);
        }
        Ok((c, d))
    }

    /// RETF [imm16] in protected, compatibility and 64-bit mode.
    pub(crate) fn ret_far_protected(&mut self, size: u32, imm: u64) -> X {
        let off = self.peek(0, size)?;
        let sel = self.peek(u64::from(size), size)? as u16;
        let (c, d) = self.return_cs(sel)?;
        let rpl = (sel & 3) as u8;
        self.check_target(&c, off)?;
        let cpl = self.s.cpl();
        if rpl == cpl {
            self.load_cs(c, d, rpl)?;
            self.s.rip = off;
            self.release_stack(u64::from(2 * size) + imm);
            return Ok(());
        }
        let depth = u64::from(2 * size) + imm;
        let new_sp = self.peek(depth, size)?;
        let new_ss = self.peek(depth + u64::from(size), size)? as u16;
        let to_64 = self.s.efer & ctl::EFER_LMA != 0 && c.long();
        let ss = self.outer_ss(new_ss, rpl, to_64)?;
        self.load_cs(c, d, rpl)?;
        self.s.ss = ss;
        let width = if to_64 {
            8
        } else if ss.db() {
            4
        } else {
            2
        };
        self.set_reg(RSP, width, new_sp.wrapping_add(imm));
        self.s.rip = off;
        self.null_inaccessible_segments();
        Ok(())
    }

    /// IRET/IRETD/IRETQ in protected, compatibility and 64-bit mode.
    pub(crate) fn iret_protected(&mut self, size: u32) -> X {
        let mode = self.s.mode();
        let long = self.s.efer & ctl::EFER_LMA != 0;
        if self.s.rflags & fl::NT != 0 {
            if long {
                return Err(Exc::gp0());
            }
            return Err(self.unimplemented("a task return (IRET with NT = 1)"));
        }
        let ip = self.peek(0, size)?;
        let sel = self.peek(u64::from(size), size)? as u16;
        let flags = self.peek(u64::from(2 * size), size)?;
        let cpl = self.s.cpl();
        if !long && size == 4 && flags & fl::VM != 0 && cpl == 0 {
            return Err(self.unimplemented("a return to virtual-8086 mode"));
        }
        let (c, d) = self.return_cs(sel)?;
        let rpl = (sel & 3) as u8;
        // The flags this privilege may change (IOPL at CPL 0, IF at CPL <= IOPL), plus RF.
        let m = self.popf_mask(size) | if size >= 4 { fl::RF } else { 0 };
        let new_flags = (self.s.rflags & !m) | (flags & m) | fl::FIXED;
        if rpl > cpl || mode == CpuMode::Long64 {
            let new_sp = self.peek(u64::from(3 * size), size)?;
            let new_ss = self.peek(u64::from(4 * size), size)? as u16;
            let to_64 = long && c.long();
            let ss = self.outer_ss(new_ss, rpl, to_64)?;
            self.check_target(&c, ip)?;
            self.load_cs(c, d, rpl)?;
            self.s.ss = ss;
            let width = if to_64 || size == 8 {
                8
            } else if ss.db() {
                4
            } else {
                2
            };
            self.set_reg(RSP, width, new_sp);
            self.s.rip = ip;
            self.s.rflags = new_flags;
            if rpl > cpl {
                self.null_inaccessible_segments();
            }
        } else {
            self.check_target(&c, ip)?;
            self.load_cs(c, d, rpl)?;
            self.s.rip = ip;
            self.s.rflags = new_flags;
            self.release_stack(u64::from(3 * size));
        }
        Ok(())
    }

    /// SYSCALL: valid in 64-bit mode with EFER.SCE (Intel's rule; AMD also allows it in
    /// legacy mode). RCX := next RIP, R11 := RFLAGS, RFLAGS &= ~SFMASK; CS and SS from
    /// STAR[47:32]; RIP := LSTAR.
    pub(crate) fn syscall(&mut self) -> X {
        if self.s.efer & ctl::EFER_SCE == 0 || self.s.mode() != CpuMode::Long64 {
            return Err(Exc::new(Vector::UD));
        }
        let base = ((self.s.msrs.star >> 32) & 0xfffc) as u16;
        self.s.gpr[RCX] = self.s.rip;
        self.s.gpr[R11] = self.s.rflags & !fl::RF;
        self.s.rflags = (self.s.rflags & !self.s.msrs.sfmask & !fl::RF) | fl::FIXED;
        self.s.cs = flat_code(base, 0, true);
        self.s.ss = flat_stack(base.wrapping_add(8), 0);
        self.s.rip = self.s.msrs.lstar;
        Ok(())
    }

    /// SYSRET: back to CPL 3 with CS and SS from STAR[63:48] (+16 for 64-bit code with
    /// REX.W); RIP := RCX, RFLAGS := R11. A non-canonical RCX is #GP(0) at CPL 0 (Intel).
    pub(crate) fn sysret(&mut self) -> X {
        if self.s.efer & ctl::EFER_SCE == 0 || self.s.mode() != CpuMode::Long64 {
            return Err(Exc::new(Vector::UD));
        }
        if self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        let base = (self.s.msrs.star >> 48) as u16;
        if self.i.code() == Code::Sysretq {
            let rip = self.s.gpr[RCX];
            if !canonical(rip) {
                return Err(Exc::gp0());
            }
            self.s.cs = flat_code(base.wrapping_add(16) | 3, 3, true);
            self.s.rip = rip;
        } else {
            self.s.cs = flat_code(base | 3, 3, false);
            self.s.rip = self.s.gpr[RCX] & 0xffff_ffff;
        }
        self.s.rflags = (self.s.gpr[R11] & 0x3c_7fd7) | fl::FIXED;
        self.s.ss = flat_stack(base.wrapping_add(8) | 3, 3);
        Ok(())
    }

    /// SYSENTER: to CPL 0 with CS from IA32_SYSENTER_CS (SS = CS + 8), ESP/EIP from the
    /// SYSENTER MSRs; clears VM, IF and RF. #GP(0) in real mode or with a null
    /// SYSENTER_CS. Valid in compatibility and 64-bit mode too (Intel's rule).
    pub(crate) fn sysenter(&mut self) -> X {
        let cs = (self.s.msrs.sysenter_cs & 0xfffc) as u16;
        if self.s.mode() == CpuMode::Real || cs == 0 {
            return Err(Exc::gp0());
        }
        let long = self.s.efer & ctl::EFER_LMA != 0;
        self.s.rflags &= !(fl::VM | fl::IF | fl::RF);
        self.s.cs = flat_code(cs, 0, long);
        self.s.ss = flat_stack(cs.wrapping_add(8), 0);
        let m = if long { u64::MAX } else { 0xffff_ffff };
        self.s.gpr[RSP] = self.s.msrs.sysenter_esp & m;
        self.s.rip = self.s.msrs.sysenter_eip & m;
        Ok(())
    }

    /// SYSEXIT: to CPL 3 with CS = SYSENTER_CS + 16 (+32 for 64-bit code with REX.W) and
    /// SS 8 above it; ESP := ECX, EIP := EDX.
    pub(crate) fn sysexit(&mut self) -> X {
        let cs = (self.s.msrs.sysenter_cs & 0xfffc) as u16;
        if self.s.mode() == CpuMode::Real || cs == 0 || self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        if self.i.code() == Code::Sysexitq {
            let (sp, ip) = (self.s.gpr[RCX], self.s.gpr[RDX]);
            if !canonical(sp) || !canonical(ip) {
                return Err(Exc::gp0());
            }
            self.s.cs = flat_code(cs.wrapping_add(32) | 3, 3, true);
            self.s.ss = flat_stack(cs.wrapping_add(40) | 3, 3);
            self.s.gpr[RSP] = sp;
            self.s.rip = ip;
        } else {
            self.s.cs = flat_code(cs.wrapping_add(16) | 3, 3, false);
            self.s.ss = flat_stack(cs.wrapping_add(24) | 3, 3);
            self.s.gpr[RSP] = self.s.gpr[RCX] & 0xffff_ffff;
            self.s.rip = self.s.gpr[RDX] & 0xffff_ffff;
        }
        Ok(())
    }
}
