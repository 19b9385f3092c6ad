//! Bit instructions: BT BTS BTR BTC (register and memory bit-string forms), BSF BSR, POPCNT
//! LZCNT TZCNT, and the BMI1/BMI2 bit-field set BEXTR BLSI BLSMSK BLSR BZHI PDEP PEXT.

use iced_x86::{Mnemonic, OpKind};

use super::flags::sign_bit;
use super::operand::{mask, sext, Loc};
use super::{Cpu, X};
use crate::state::flags::{CF, SF, STATUS, ZF};

impl Cpu {
    /// BT BTS BTR BTC: CF := the selected bit, then test / set / reset / complement it.
    /// With a register bit offset and a memory operand, the offset is a signed bit index
    /// into a bit string starting at the operand's address.
    pub(crate) fn bit_test(&mut self, m: Mnemonic) -> X {
        let size = self.op_size(0);
        let bits = u64::from(size * 8);
        let mut loc = self.locate(0);
        let offset = self.read_op(1, size)?;
        let bit = match (loc, self.i.op_kind(1)) {
            (Loc::Mem { seg, offset: ea }, OpKind::Register) => {
                let signed = sext(offset, size) as i64;
                let word = signed.div_euclid(bits as i64);
                let delta = (word * i64::from(size)) as u64;
                loc = Loc::Mem {
                    seg,
                    offset: ea.wrapping_add(delta) & mask(self.asz),
                };
                signed.rem_euclid(bits as i64) as u64
            }
            _ => offset & (bits - 1),
        };
        let v = if m == Mnemonic::Bt {
            self.read_loc(loc, size)?
        } else {
            self.read_rmw(loc, size)?
        };
        let set = (v >> bit) & 1 != 0;
        let nv = match m {
            Mnemonic::Bts => Some(v | (1 << bit)),
            Mnemonic::Btr => Some(v & !(1 << bit)),
            Mnemonic::Btc => Some(v ^ (1 << bit)),
            _ => None,
        };
        if let Some(nv) = nv {
            self.write_loc(loc, size, nv)?;
        }
        self.set_status_masked(if set { CF } else { 0 }, CF);
        Ok(())
    }

    /// BSF and BSR: index of the lowest / highest set bit. A zero source sets ZF and leaves
    /// the destination unchanged.
    pub(crate) fn bit_scan(&mut self, forward: bool) -> X {
        let size = self.op_size(0);
        let src = self.read_op(1, size)?;
        if src == 0 {
            self.set_status_masked(ZF, ZF);
            return Ok(());
        }
        let idx = if forward {
            src.trailing_zeros()
        } else {
            63 - src.leading_zeros()
        };
        self.write_op(0, size, u64::from(idx))?;
        self.set_status_masked(0, ZF);
        Ok(())
    }

    /// POPCNT: ZF for a zero source, the other five status flags cleared.
    pub(crate) fn popcnt(&mut self) -> X {
        let size = self.op_size(0);
        let src = self.read_op(1, size)?;
        self.write_op(0, size, u64::from(src.count_ones()))?;
        self.set_status(if src == 0 { ZF } else { 0 });
        Ok(())
    }

    /// LZCNT and TZCNT: CF for a zero source, ZF for a zero result; OF SF AF PF unchanged.
    pub(crate) fn count_zeros(&mut self, leading: bool) -> X {
        let size = self.op_size(0);
        let bits = size * 8;
        let src = self.read_op(1, size)?;
        let n = if src == 0 {
            bits
        } else if leading {
            src.leading_zeros() - (64 - bits)
        } else {
            src.trailing_zeros()
        };
        self.write_op(0, size, u64::from(n))?;
        let mut f = 0;
        if src == 0 {
            f |= CF;
        }
        if n == 0 {
            f |= ZF;
        }
        self.set_status_masked(f, CF | ZF);
        Ok(())
    }

    /// Sets ZF and SF from a BMI result, CF as given, OF, AF and PF cleared.
    fn bmi_flags(&mut self, r: u64, size: u32, cf: bool) {
        let mut f = 0;
        if r == 0 {
            f |= ZF;
        }
        if r & sign_bit(size) != 0 {
            f |= SF;
        }
        if cf {
            f |= CF;
        }
        self.set_status_masked(f, STATUS);
    }

    /// BEXTR dst, src, ctl: extract ctl[15:8] bits starting at bit ctl[7:0].
    pub(crate) fn bextr(&mut self) -> X {
        let size = self.op_size(0);
        let bits = u64::from(size * 8);
        let src = self.read_op(1, size)?;
        let ctl = self.read_op(2, size)?;
        let start = ctl & 0xff;
        let len = (ctl >> 8) & 0xff;
        let shifted = if start >= bits { 0 } else { src >> start };
        let r = if len >= 64 {
            shifted
        } else {
            shifted & ((1u64 << len) - 1)
        };
        self.write_op(0, size, r)?;
        self.bmi_flags(r, size, false);
        // SF is undefined for BEXTR: cleared, per the table in `flags`.
        self.set_status_masked(0, SF);
        Ok(())
    }

    /// BLSI, BLSMSK, BLSR.
    pub(crate) fn bls(&mut self, m: Mnemonic) -> X {
        let size = self.op_size(0);
        let src = self.read_op(1, size)?;
        let r = match m {
            Mnemonic::Blsi => src.wrapping_neg() & src,
            Mnemonic::Blsmsk => src.wrapping_sub(1) ^ src,
            _ => src.wrapping_sub(1) & src,
        } & mask(size);
        self.write_op(0, size, r)?;
        let cf = if m == Mnemonic::Blsi {
            src != 0
        } else {
            src == 0
        };
        self.bmi_flags(r, size, cf);
        if m == Mnemonic::Blsmsk {
            self.set_status_masked(0, ZF);
        }
        Ok(())
    }

    /// BZHI dst, src, index: zero the bits from index[7:0] up; CF when the index is too big.
    pub(crate) fn bzhi(&mut self) -> X {
        let size = self.op_size(0);
        let bits = u64::from(size * 8);
        let src = self.read_op(1, size)?;
        let n = self.read_op(2, size)? & 0xff;
        let (r, cf) = if n < bits {
            (src & ((1u64 << n) - 1), false)
        } else {
            (src, true)
        };
        self.write_op(0, size, r)?;
        self.bmi_flags(r, size, cf);
        Ok(())
    }

    /// PDEP (scatter the low source bits to the mask's set bits) and PEXT (gather them).
    pub(crate) fn pdep_pext(&mut self, deposit: bool) -> X {
        let size = self.op_size(0);
        let src = self.read_op(1, size)?;
        let msk = self.read_op(2, size)?;
        let mut r = 0u64;
        let mut k = 0;
        for i in 0..size * 8 {
            if msk >> i & 1 != 0 {
                if deposit {
                    r |= ((src >> k) & 1) << i;
                } else {
                    r |= ((src >> i) & 1) << k;
                }
                k += 1;
            }
        }
        self.write_op(0, size, r)
    }
}
