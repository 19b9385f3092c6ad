//! Data movement: MOV (all forms, including moffs and segment registers), MOVZX MOVSX
//! MOVSXD, LEA, XCHG, CMPXCHG CMPXCHG8B CMPXCHG16B, XADD, BSWAP, MOVBE, CBW CWDE CDQE, CWD
//! CDQ CQO, XLAT, LAHF SAHF, CMOVcc, SETcc, LDS LES LFS LGS LSS.

use iced_x86::{Mnemonic, OpKind};

use super::flags;
use super::operand::{gpr, mask, sext, sreg, Loc};
use super::{Cpu, Exc, X};
use crate::state::flags::{AF, CF, FIXED, PF, SF, ZF};
use crate::state::reg::{RAX, RBX, RCX, RDX};

impl Cpu {
    /// The condition of a Jcc, SETcc or CMOVcc as the low nibble of its opcode.
    pub(crate) fn cond(&self) -> bool {
        let cc = self.i.condition_code() as u8 - 1;
        flags::condition(cc, self.s.rflags)
    }

    pub(crate) fn mov(&mut self) -> X {
        let r0 = self.i.op_register(0);
        if self.i.op_kind(0) == OpKind::Register {
            if let Some(s) = sreg(r0) {
                if s == super::mmu::seg::CS {
                    // MOV CS does not exist since the 80286: #UD.
                    return Err(Exc::new(crate::machine::Vector::UD));
                }
                let sel = self.read_op(1, 2)? as u16;
                return self.load_segment(s, sel);
            }
            if r0.is_cr() {
                return self.mov_cr();
            }
            if r0.is_dr() {
                return self.mov_dr();
            }
            if gpr(r0).is_none() {
                return Err(self.unimplemented("this register operand"));
            }
        }
        if self.i.op_kind(1) == OpKind::Register {
            if let Some(s) = sreg(self.i.op_register(1)) {
                // A register destination gets the selector zero-extended; memory gets 16 bits.
                let sel = u64::from(self.s.seg(s).selector);
                let size = if self.i.op_kind(0) == OpKind::Register {
                    self.op_size(0)
                } else {
                    2
                };
                return self.write_op(0, size, sel);
            }
            let r1 = self.i.op_register(1);
            if r1.is_cr() {
                return self.mov_cr();
            }
            if r1.is_dr() {
                return self.mov_dr();
            }
            if gpr(r1).is_none() {
                return Err(self.unimplemented("this register operand"));
            }
        }
        let size = self.op_size(0);
        let v = self.read_op(1, size)?;
        self.write_op(0, size, v)
    }

    pub(crate) fn movzx_movsx(&mut self, signed: bool) -> X {
        let size = self.op_size(0);
        let src_size = self.op_size(1);
        let v = self.read_op(1, src_size)?;
        let v = if signed { sext(v, src_size) } else { v };
        self.write_op(0, size, v & mask(size))
    }

    pub(crate) fn lea(&mut self) -> X {
        self.require_memory(1)?;
        let size = self.op_size(0);
        let ea = self.effective_address();
        self.write_op(0, size, ea & mask(size))
    }

    pub(crate) fn xchg(&mut self) -> X {
        let size = self.op_size(0);
        let a = self.locate(0);
        let b = self.locate(1);
        let va = self.read_rmw(a, size)?;
        let vb = self.read_rmw(b, size)?;
        // Memory first, so a fault leaves the registers untouched.
        if let Loc::Mem { .. } = b {
            self.write_loc(b, size, va)?;
            return self.write_loc(a, size, vb);
        }
        self.write_loc(a, size, vb)?;
        self.write_loc(b, size, va)
    }

    /// CMPXCHG r/m, r: compare the accumulator with the destination; if equal store the
    /// source, else load the destination into the accumulator. On failure a memory
    /// destination is written back with its own value (the SDM's pseudocode: the bus sees
    /// a write), while a register destination is left as it is: a 32-bit register keeps
    /// its upper half, as the AMD processors this project runs on do (measured by the
    /// differential engine; the SDM's "written back" would zero-extend it).
    pub(crate) fn cmpxchg(&mut self) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let d = self.read_rmw(dst, size)?;
        let src = self.read_op(1, size)?;
        let acc = self.reg(RAX, size);
        let (_, f) = flags::sub(acc, d, false, size);
        if acc == d {
            self.write_loc(dst, size, src)?;
        } else {
            if let Loc::Mem { .. } = dst {
                self.write_loc(dst, size, d)?;
            }
            self.set_reg(RAX, size, d);
        }
        self.set_status(f);
        Ok(())
    }

    /// CMPXCHG8B m64 and CMPXCHG16B m128 (which must be 16-byte aligned).
    pub(crate) fn cmpxchg_double(&mut self) -> X {
        self.require_memory(0)?;
        let half = if self.i.mnemonic() == Mnemonic::Cmpxchg16b {
            8
        } else {
            4
        };
        let seg = self.mem_seg();
        let ea = self.effective_address();
        if half == 8 && ea & 15 != 0 {
            return Err(Exc::gp0());
        }
        let lo_loc = Loc::Mem { seg, offset: ea };
        let hi_loc = Loc::Mem {
            seg,
            offset: ea.wrapping_add(half as u64) & mask(self.asz),
        };
        self.probe_loc(lo_loc, half)?;
        self.probe_loc(hi_loc, half)?;
        let lo = self.read_loc(lo_loc, half)?;
        let hi = self.read_loc(hi_loc, half)?;
        let equal = lo == self.reg(RAX, half) && hi == self.reg(RDX, half);
        if equal {
            let (b, c) = (self.reg(RBX, half), self.reg(RCX, half));
            self.write_loc(lo_loc, half, b)?;
            self.write_loc(hi_loc, half, c)?;
            self.set_status_masked(ZF, ZF);
        } else {
            self.write_loc(lo_loc, half, lo)?;
            self.write_loc(hi_loc, half, hi)?;
            self.set_reg(RAX, half, lo);
            self.set_reg(RDX, half, hi);
            self.set_status_masked(0, ZF);
        }
        Ok(())
    }

    /// XADD r/m, r: TEMP := SRC + DEST; SRC := DEST; DEST := TEMP.
    pub(crate) fn xadd(&mut self) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let d = self.read_rmw(dst, size)?;
        let s = self.read_op(1, size)?;
        let (r, f) = flags::add(d, s, false, size);
        self.probe_loc(dst, size)?;
        let src = self.op_gpr(1);
        self.set_gpr(src, d);
        self.write_loc(dst, size, r)?;
        self.set_status(f);
        Ok(())
    }

    /// BSWAP r32/r64. With a 16-bit operand the result is undefined; this CPU writes 0, as
    /// Intel and AMD processors do.
    pub(crate) fn bswap(&mut self) -> X {
        let size = self.op_size(0);
        let v = self.read_op(0, size)?;
        let r = match size {
            4 => u64::from((v as u32).swap_bytes()),
            8 => v.swap_bytes(),
            _ => 0,
        };
        self.write_op(0, size, r)
    }

    /// MOVBE: a load or store with the bytes reversed.
    pub(crate) fn movbe(&mut self) -> X {
        let size = self.op_size(0);
        let v = self.read_op(1, size)?;
        let r = v.swap_bytes() >> (64 - size * 8);
        self.write_op(0, size, r)
    }

    /// CBW CWDE CDQE: sign-extend the low half of the accumulator into all of it.
    pub(crate) fn convert_widen(&mut self) -> X {
        let size = match self.i.mnemonic() {
            Mnemonic::Cbw => 2,
            Mnemonic::Cwde => 4,
            _ => 8,
        };
        let half = size / 2;
        let v = sext(self.reg(RAX, half), half);
        self.set_reg(RAX, size, v);
        Ok(())
    }

    /// CWD CDQ CQO: fill rDX with the sign of rAX.
    pub(crate) fn convert_split(&mut self) -> X {
        let size = match self.i.mnemonic() {
            Mnemonic::Cwd => 2,
            Mnemonic::Cdq => 4,
            _ => 8,
        };
        let negative = self.reg(RAX, size) & flags::sign_bit(size) != 0;
        self.set_reg(RDX, size, if negative { u64::MAX } else { 0 });
        Ok(())
    }

    /// XLAT: AL := [seg:rBX + AL].
    pub(crate) fn xlat(&mut self) -> X {
        let v = self.read_op(0, 1)?;
        self.set_reg(RAX, 1, v);
        Ok(())
    }

    /// LAHF: AH := SF:ZF:0:AF:0:PF:1:CF.
    pub(crate) fn lahf(&mut self) -> X {
        let v = (self.s.rflags & (SF | ZF | AF | PF | CF)) | FIXED;
        let ah = super::operand::GprRef {
            index: RAX,
            size: 1,
            high: true,
        };
        self.set_gpr(ah, v);
        Ok(())
    }

    /// SAHF: SF ZF AF PF CF := AH.
    pub(crate) fn sahf(&mut self) -> X {
        let ah = (self.s.gpr[RAX] >> 8) & 0xff;
        let which = SF | ZF | AF | PF | CF;
        self.s.rflags = (self.s.rflags & !which) | (ah & which);
        Ok(())
    }

    /// CMOVcc: the source is read (and can fault) whatever the condition; a 32-bit
    /// destination is zero-extended even when nothing moves.
    pub(crate) fn cmovcc(&mut self) -> X {
        let size = self.op_size(0);
        let src = self.read_op(1, size)?;
        let v = if self.cond() {
            src
        } else {
            self.read_op(0, size)?
        };
        self.write_op(0, size, v)
    }

    pub(crate) fn setcc(&mut self) -> X {
        let v = u64::from(self.cond());
        self.write_op(0, 1, v)
    }

    /// F3 90 with REX.B (which iced-x86 reports as PAUSE): XCHG r8, rAX at the operand size
    /// of the prefixes (REX.W: 64, 66h: 16, else 32 bits), as processors execute it.
    pub(crate) fn pause_rex_b(&mut self) -> X {
        let size = self.pause_xchg_size;
        let a = self.reg(RAX, size);
        let b = self.reg(8, size);
        self.set_reg(RAX, size, b);
        self.set_reg(8, size, a);
        Ok(())
    }

    /// LDS LES LFS LGS LSS r, m16:off: load an offset and a selector from memory.
    pub(crate) fn load_far_pointer(&mut self, m: Mnemonic) -> X {
        self.require_memory(1)?;
        let size = self.op_size(0);
        let seg = self.mem_seg();
        let ea = self.effective_address();
        let off = self.read_seg(seg, ea, size)?;
        let sel = self.read_seg(seg, ea.wrapping_add(u64::from(size)) & mask(self.asz), 2)? as u16;
        let s = match m {
            Mnemonic::Lds => super::mmu::seg::DS,
            Mnemonic::Les => super::mmu::seg::ES,
            Mnemonic::Lfs => super::mmu::seg::FS,
            Mnemonic::Lgs => super::mmu::seg::GS,
            _ => super::mmu::seg::SS,
        };
        self.load_segment(s, sel)?;
        let r = self.op_gpr(0);
        self.set_gpr(r, off);
        Ok(())
    }
}
