//! Multiplication and division: MUL IMUL (one, two and three operands), DIV IDIV (with #DE
//! for a zero divisor or a quotient that does not fit), MULX.

use super::flags;
use super::operand::{mask, sext};
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags::{CF, OF};
use crate::state::reg::{RAX, RDX};

/// The truncated product and the status flags of the two- and three-operand IMUL forms:
/// CF = OF = whether the signed product does not fit; SF, ZF, PF from the truncated
/// product, AF cleared. Shared by the general path and the fast path.
#[inline(always)]
pub(crate) fn imul_calc(a: u64, b: u64, size: u32) -> (u64, u64) {
    let signed = |v: u64| i128::from(sext(v, size) as i64);
    let full = signed(a) * signed(b);
    let lo = full as u64 & mask(size);
    let mut f = flags::szp(lo, size);
    if signed(lo) != full {
        f |= CF | OF;
    }
    (lo, f)
}

impl Cpu {
    /// The implicit accumulator pair for `size`: (low, high) as (AL, AH) or (rAX, rDX).
    fn acc_pair(&self, size: u32) -> (u64, u64) {
        if size == 1 {
            let ax = self.reg(RAX, 2);
            (ax & 0xff, ax >> 8)
        } else {
            (self.reg(RAX, size), self.reg(RDX, size))
        }
    }

    fn set_acc_pair(&mut self, size: u32, lo: u64, hi: u64) {
        if size == 1 {
            self.set_reg(RAX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
        } else {
            self.set_reg(RAX, size, lo);
            self.set_reg(RDX, size, hi);
        }
    }

    /// Flags of a multiplication: CF = OF = `overflow`; SF ZF PF from the low half and AF
    /// cleared (all four undefined).
    fn mul_flags(&mut self, lo: u64, size: u32, overflow: bool) {
        let mut f = flags::szp(lo, size);
        if overflow {
            f |= CF | OF;
        }
        self.set_status(f);
    }

    /// MUL r/m: unsigned rDX:rAX (or AX) := rAX × r/m.
    pub(crate) fn mul(&mut self) -> X {
        let size = self.op_size(0);
        let src = self.read_op(0, size)?;
        let (a, _) = self.acc_pair(size);
        let full = u128::from(a) * u128::from(src);
        let lo = full as u64 & mask(size);
        let hi = (full >> (size * 8)) as u64 & mask(size);
        self.set_acc_pair(size, lo, hi);
        self.mul_flags(lo, size, hi != 0);
        Ok(())
    }

    /// IMUL in its three forms.
    pub(crate) fn imul(&mut self) -> X {
        let size = self.op_size(0);
        let signed = |v: u64| i128::from(sext(v, size) as i64);
        if self.i.op_count() == 1 {
            let src = self.read_op(0, size)?;
            let (a, _) = self.acc_pair(size);
            let full = signed(a) * signed(src);
            let lo = full as u64 & mask(size);
            let hi = (full >> (size * 8)) as u64 & mask(size);
            self.set_acc_pair(size, lo, hi);
            self.mul_flags(lo, size, signed(lo) != full);
            return Ok(());
        }
        let (a, b) = if self.i.op_count() == 2 {
            (self.read_op(0, size)?, self.read_op(1, size)?)
        } else {
            (self.read_op(1, size)?, self.read_op(2, size)?)
        };
        let (lo, f) = imul_calc(a, b, size);
        self.write_op(0, size, lo)?;
        self.set_status(f);
        Ok(())
    }

    /// DIV and IDIV r/m: rAX (or AX) := quotient, rDX (or AH) := remainder. Flags unchanged.
    pub(crate) fn div(&mut self, signed: bool) -> X {
        let size = self.op_size(0);
        let bits = size * 8;
        let divisor = self.read_op(0, size)?;
        if divisor == 0 {
            return Err(Exc::new(Vector::DE));
        }
        let (lo, hi) = self.acc_pair(size);
        let dividend = (u128::from(hi) << bits) | u128::from(lo);
        let (q, r) = if signed {
            let n = (dividend << (128 - 2 * bits)) as i128 >> (128 - 2 * bits);
            let d = i128::from(sext(divisor, size) as i64);
            // Checked division turns the one quotient i128 cannot hold (a 64-bit
            // IDIV of -2^127 by -1) into #DE like every other overflow.
            let (Some(q), Some(r)) = (n.checked_div(d), n.checked_rem(d)) else {
                return Err(Exc::new(Vector::DE));
            };
            let max = (1i128 << (bits - 1)) - 1;
            if q > max || q < -max - 1 {
                return Err(Exc::new(Vector::DE));
            }
            (q as u64 & mask(size), r as u64 & mask(size))
        } else {
            let q = dividend / u128::from(divisor);
            if q >> bits != 0 {
                return Err(Exc::new(Vector::DE));
            }
            (q as u64, (dividend % u128::from(divisor)) as u64)
        };
        self.set_acc_pair(size, q, r);
        Ok(())
    }

    /// MULX hi, lo, src: unsigned rDX × src without touching flags. When both destinations
    /// are the same register it receives the high half.
    pub(crate) fn mulx(&mut self) -> X {
        let size = self.op_size(0);
        let src = self.read_op(2, size)?;
        let full = u128::from(self.reg(RDX, size)) * u128::from(src);
        self.write_op(1, size, full as u64 & mask(size))?;
        self.write_op(0, size, (full >> (size * 8)) as u64 & mask(size))
    }
}
