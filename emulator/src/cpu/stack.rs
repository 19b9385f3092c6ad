//! The stack: PUSH POP (all forms, including segment registers and memory), PUSHF POPF
//! (with the real rules for IF, IOPL, AC and ID), PUSHA POPA, ENTER LEAVE.

use iced_x86::{Code, OpKind};

use super::mmu::seg;
use super::operand::{mask, sreg};
use super::{Cpu, X};
use crate::state::flags as fl;
use crate::state::reg::{RBP, RSP};
use crate::state::CpuMode;

impl Cpu {
    /// The stack-pointer width in bytes: 8 in 64-bit mode, else 4 or 2 by SS.B.
    pub(crate) fn stack_size(&self) -> u32 {
        if self.bits == 64 {
            8
        } else if self.s.ss.db() {
            4
        } else {
            2
        }
    }

    /// Pushes the low `size` bytes of `v`.
    pub(crate) fn push(&mut self, v: u64, size: u32) -> X {
        let ssz = self.stack_size();
        let sp = self.reg(RSP, ssz).wrapping_sub(u64::from(size)) & mask(ssz);
        self.write_seg(seg::SS, sp, size, v)?;
        self.set_reg(RSP, ssz, sp);
        Ok(())
    }

    /// Pops `size` bytes.
    pub(crate) fn pop(&mut self, size: u32) -> X<u64> {
        let ssz = self.stack_size();
        let sp = self.reg(RSP, ssz);
        let v = self.read_seg(seg::SS, sp, size)?;
        self.set_reg(RSP, ssz, sp.wrapping_add(u64::from(size)));
        Ok(v)
    }

    /// Reads `size` bytes at `depth` bytes above the stack pointer, without popping.
    pub(crate) fn peek(&mut self, depth: u64, size: u32) -> X<u64> {
        let ssz = self.stack_size();
        let sp = self.reg(RSP, ssz).wrapping_add(depth) & mask(ssz);
        self.read_seg(seg::SS, sp, size)
    }

    /// The operand size of a push or pop, from iced's stack-pointer increment.
    fn stack_op_size(&self) -> u32 {
        self.i.stack_pointer_increment().unsigned_abs()
    }

    /// PUSH r/m, imm or a segment register. A segment register pushed with a 32- or 64-bit
    /// operand size is zero-extended (AMD's behaviour; recent Intel cores write only 16 bits).
    pub(crate) fn push_op(&mut self) -> X {
        let size = self.stack_op_size();
        let v = match self.i.op_kind(0) {
            OpKind::Register => match sreg(self.i.op_register(0)) {
                Some(s) => u64::from(self.s.seg(s).selector),
                // PUSH rSP pushes the value before the decrement.
                None => self.read_op(0, size)?,
            },
            _ => self.read_op(0, size)?,
        };
        self.push(v, size)
    }

    /// POP r/m or a segment register. A memory destination addressed through rSP uses the
    /// incremented rSP, as the SDM specifies.
    pub(crate) fn pop_op(&mut self) -> X {
        let size = self.stack_op_size();
        let v = self.pop(size)?;
        if self.i.op_kind(0) == OpKind::Register {
            let r = self.i.op_register(0);
            if let Some(s) = sreg(r) {
                return self.load_segment(s, v as u16);
            }
        }
        self.write_op(0, size, v)
    }

    /// PUSHF/PUSHFD/PUSHFQ: the image has VM and RF cleared.
    pub(crate) fn pushf(&mut self) -> X {
        let size = self.stack_op_size();
        if self.s.mode() == CpuMode::Virtual8086 && self.iopl() < 3 {
            return Err(super::Exc::gp0());
        }
        let v = self.s.rflags & !(fl::VM | fl::RF);
        self.push(v, size)
    }

    pub(crate) fn iopl(&self) -> u8 {
        ((self.s.rflags & fl::IOPL) >> 12) as u8
    }

    /// Which RFLAGS bits a POPF or IRET at this privilege may change, for `size` bytes.
    pub(crate) fn popf_mask(&self, size: u32) -> u64 {
        let mut m = fl::STATUS | fl::TF | fl::DF | fl::NT;
        if size >= 4 {
            m |= fl::AC | fl::ID;
        }
        let cpl = self.s.cpl();
        match self.s.mode() {
            CpuMode::Real => m |= fl::IF | fl::IOPL,
            CpuMode::Virtual8086 => m |= fl::IF,
            _ => {
                if cpl == 0 {
                    m |= fl::IOPL;
                }
                if cpl <= self.iopl() {
                    m |= fl::IF;
                }
            }
        }
        m & mask(size)
    }

    /// POPF/POPFD/POPFQ: bits this privilege may not change keep their value (silently, as
    /// on hardware); VM, VIF and VIP are never changed, RF is cleared.
    pub(crate) fn popf(&mut self) -> X {
        let size = self.stack_op_size();
        if self.s.mode() == CpuMode::Virtual8086 && self.iopl() < 3 {
            return Err(super::Exc::gp0());
        }
        let v = self.pop(size)?;
        let m = self.popf_mask(size);
        self.s.rflags = ((self.s.rflags & !m) | (v & m) | fl::FIXED) & !fl::RF;
        Ok(())
    }

    /// PUSHA/PUSHAD: AX CX DX BX, the original SP, BP SI DI.
    pub(crate) fn pusha(&mut self) -> X {
        let size = self.stack_op_size() / 8;
        let regs: Vec<u64> = (0..8).map(|r| self.reg(r, size)).collect();
        for v in regs {
            self.push(v, size)?;
        }
        Ok(())
    }

    /// POPA/POPAD: DI SI BP, skip SP, BX DX CX AX.
    pub(crate) fn popa(&mut self) -> X {
        let size = self.stack_op_size() / 8;
        let mut vals = [0u64; 8];
        for r in (0..8).rev() {
            vals[r] = self.pop(size)?;
        }
        for (r, &v) in vals.iter().enumerate() {
            if r != RSP {
                self.set_reg(r, size, v);
            }
        }
        Ok(())
    }

    /// ENTER alloc, level: push rBP, copy `level - 1` outer frame pointers, push the new
    /// frame pointer, then allocate.
    pub(crate) fn enter(&mut self) -> X {
        let size = match self.i.code() {
            Code::Enterw_imm16_imm8 => 2,
            Code::Enterd_imm16_imm8 => 4,
            _ => 8,
        };
        let ssz = self.stack_size();
        let alloc = u64::from(self.i.immediate16());
        let level = u32::from(self.i.immediate8_2nd()) % 32;
        self.push(self.reg(RBP, size), size)?;
        let frame = self.reg(RSP, ssz);
        if level > 0 {
            let mut bp = self.reg(RBP, ssz);
            for _ in 1..level {
                bp = bp.wrapping_sub(u64::from(size)) & mask(ssz);
                let v = self.read_seg(seg::SS, bp, size)?;
                self.push(v, size)?;
            }
            self.push(frame, size)?;
        }
        let sp = self.reg(RSP, ssz).wrapping_sub(alloc) & mask(ssz);
        // Touch the new top of stack so a fault happens now, as on hardware.
        if alloc > 0 {
            self.linear(seg::SS, sp, 1, super::mmu::Access::Write)?;
        }
        self.set_reg(RBP, ssz, frame);
        self.set_reg(RSP, ssz, sp);
        Ok(())
    }

    /// LEAVE: rSP := rBP, then pop rBP.
    pub(crate) fn leave(&mut self) -> X {
        let size = match self.i.code() {
            Code::Leavew => 2,
            Code::Leaved => 4,
            _ => 8,
        };
        let ssz = self.stack_size();
        let bp = self.reg(RBP, ssz);
        let v = self.read_seg(seg::SS, bp, size)?;
        self.set_reg(RSP, ssz, bp.wrapping_add(u64::from(size)));
        self.set_reg(RBP, size, v);
        Ok(())
    }
}
