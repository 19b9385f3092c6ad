//! Control flow: JMP CALL RET (near, far, indirect, RET imm16), Jcc, JCXZ JECXZ JRCXZ, LOOP
//! LOOPE LOOPNE, INT n INT3 INTO INT1, IRET. The protected-mode far transfers are in
//! `transfer`.

use iced_x86::{Code, Mnemonic, OpKind};

use super::exception::Kind;
use super::operand::mask;
use super::{Cpu, X};
use crate::machine::Vector;
use crate::state::flags as fl;
use crate::state::reg::RCX;
use crate::state::CpuMode;

impl Cpu {
    /// Operand size of a near branch: 16, 32 or 64-bit, from iced's code.
    fn branch_size(&self) -> u32 {
        match self.i.code() {
            Code::Call_rel16
            | Code::Jmp_rel16
            | Code::Jmp_rel8_16
            | Code::Call_rm16
            | Code::Jmp_rm16
            | Code::Retnw
            | Code::Retnw_imm16 => 2,
            Code::Call_rel32_32
            | Code::Jmp_rel32_32
            | Code::Jmp_rel8_32
            | Code::Call_rm32
            | Code::Jmp_rm32
            | Code::Retnd
            | Code::Retnd_imm16 => 4,
            _ => 8,
        }
    }

    /// Jumps to `target` within CS (checking the limit outside 64-bit mode; a
    /// non-canonical target in 64-bit mode faults with #GP(0), on the branch itself).
    pub(crate) fn branch_to(&mut self, target: u64) -> X {
        self.check_ip(target)?;
        self.s.rip = target;
        Ok(())
    }

    fn check_ip(&self, target: u64) -> X {
        if self.s.mode() == CpuMode::Long64 {
            if ((target as i64) << 16 >> 16) as u64 != target {
                return Err(super::Exc::gp0());
            }
        } else if target > u64::from(self.s.cs.limit) {
            return Err(super::Exc::gp0());
        }
        Ok(())
    }

    /// The target of a near branch: relative or through a register or memory.
    fn near_target(&mut self, size: u32) -> X<u64> {
        match self.i.op_kind(0) {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                Ok(self.i.near_branch_target() & mask(size))
            }
            _ => self.read_op(0, size),
        }
    }

    /// The (selector, offset, operand size) of a far branch: immediate or from memory.
    fn far_target(&mut self) -> X<(u16, u64, u32)> {
        match self.i.op_kind(0) {
            OpKind::FarBranch16 => Ok((
                self.i.far_branch_selector(),
                u64::from(self.i.far_branch16()),
                2,
            )),
            OpKind::FarBranch32 => Ok((
                self.i.far_branch_selector(),
                u64::from(self.i.far_branch32()),
                4,
            )),
            _ => {
                let size = self.i.memory_size().size() as u32 - 2;
                let seg = self.mem_seg();
                let ea = self.effective_address();
                let off = self.read_seg(seg, ea, size)?;
                let sel =
                    self.read_seg(seg, ea.wrapping_add(u64::from(size)) & mask(self.asz), 2)?;
                Ok((sel as u16, off, size))
            }
        }
    }

    pub(crate) fn jmp(&mut self) -> X {
        if matches!(
            self.i.code(),
            Code::Jmp_ptr1616
                | Code::Jmp_ptr1632
                | Code::Jmp_m1616
                | Code::Jmp_m1632
                | Code::Jmp_m1664
        ) {
            let (sel, off, _) = self.far_target()?;
            return self.far_jump(sel, off);
        }
        let size = self.branch_size();
        let t = self.near_target(size)?;
        self.branch_to(t)
    }

    pub(crate) fn call(&mut self) -> X {
        if matches!(
            self.i.code(),
            Code::Call_ptr1616
                | Code::Call_ptr1632
                | Code::Call_m1616
                | Code::Call_m1632
                | Code::Call_m1664
        ) {
            let (sel, off, size) = self.far_target()?;
            return self.far_call(sel, off, size);
        }
        let size = self.branch_size();
        let t = self.near_target(size)?;
        self.check_ip(t)?;
        let ret = self.s.rip;
        self.push(ret, size)?;
        self.s.rip = t;
        Ok(())
    }

    pub(crate) fn ret_near(&mut self) -> X {
        let size = self.branch_size();
        let t = self.pop(size)?;
        self.check_ip(t)?;
        let imm = if self.i.op_count() > 0 {
            u64::from(self.i.immediate16())
        } else {
            0
        };
        self.release_stack(imm);
        self.s.rip = t;
        Ok(())
    }

    /// Adds `bytes` to the stack pointer (RET imm16).
    pub(crate) fn release_stack(&mut self, bytes: u64) {
        if bytes != 0 {
            let ssz = self.stack_size();
            let sp = self.reg(crate::state::reg::RSP, ssz).wrapping_add(bytes);
            self.set_reg(crate::state::reg::RSP, ssz, sp);
        }
    }

    pub(crate) fn ret_far(&mut self) -> X {
        let size = match self.i.code() {
            Code::Retfw | Code::Retfw_imm16 => 2,
            Code::Retfd | Code::Retfd_imm16 => 4,
            _ => 8,
        };
        let imm = if self.i.op_count() > 0 {
            u64::from(self.i.immediate16())
        } else {
            0
        };
        if !matches!(self.s.mode(), CpuMode::Real | CpuMode::Virtual8086) {
            return self.ret_far_protected(size, imm);
        }
        let off = self.peek(0, size)?;
        let sel = self.peek(u64::from(size), size)? as u16;
        self.far_jump(sel, off)?;
        self.release_stack(u64::from(2 * size) + imm);
        Ok(())
    }

    pub(crate) fn jcc(&mut self) -> X {
        if self.cond() {
            let t = self.i.near_branch_target();
            self.branch_to(t)?;
        }
        Ok(())
    }

    /// JCXZ JECXZ JRCXZ: the counter is CX, ECX or RCX by address size.
    pub(crate) fn jcxz(&mut self) -> X {
        if self.reg(RCX, self.asz) == 0 {
            let t = self.i.near_branch_target();
            self.branch_to(t)?;
        }
        Ok(())
    }

    /// LOOP LOOPE LOOPNE: decrement the counter (CX, ECX or RCX by address size) without
    /// touching flags, and branch while it is not zero (and ZF matches).
    pub(crate) fn loop_(&mut self, m: Mnemonic) -> X {
        let c = self.reg(RCX, self.asz).wrapping_sub(1) & mask(self.asz);
        let zf = self.s.rflags & fl::ZF != 0;
        let take = c != 0
            && match m {
                Mnemonic::Loope => zf,
                Mnemonic::Loopne => !zf,
                _ => true,
            };
        if take {
            let t = self.i.near_branch_target();
            self.check_ip(t)?;
            self.s.rip = t;
        }
        self.set_reg(RCX, self.asz, c);
        Ok(())
    }

    pub(crate) fn int_n(&mut self) -> X {
        let v = self.i.immediate8();
        self.software_interrupt(v, Kind::Software)
    }

    pub(crate) fn int3(&mut self) -> X {
        self.software_interrupt(Vector::BP as u8, Kind::Software)
    }

    pub(crate) fn into(&mut self) -> X {
        if self.s.rflags & fl::OF != 0 {
            return self.software_interrupt(Vector::OF as u8, Kind::Software);
        }
        Ok(())
    }

    pub(crate) fn int1(&mut self) -> X {
        self.software_interrupt(Vector::DB as u8, Kind::Icebp)
    }

    /// IRET: in real mode pops IP, CS and FLAGS; the protected forms are in `transfer`.
    pub(crate) fn iret(&mut self) -> X {
        let size = match self.i.code() {
            Code::Iretw => 2,
            Code::Iretd => 4,
            _ => 8,
        };
        match self.s.mode() {
            CpuMode::Real => {}
            CpuMode::Virtual8086 => return Err(self.unimplemented("virtual-8086 mode")),
            _ => return self.iret_protected(size),
        }
        let ip = self.peek(0, size)?;
        let sel = self.peek(u64::from(size), size)? as u16;
        let flags = self.peek(u64::from(2 * size), size)?;
        let m = self.popf_mask(size);
        self.far_jump(sel, ip)?;
        self.s.rflags = (self.s.rflags & !m) | (flags & m) | fl::FIXED;
        self.release_stack(u64::from(3 * size));
        Ok(())
    }
}
