//! Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR (by 1, CL or an immediate), SHLD
//! SHRD, and the flagless BMI2 forms RORX SARX SHLX SHRX.

use iced_x86::Mnemonic;

use super::flags::{self, sign_bit};
use super::operand::{mask, sext};
use super::{Cpu, X};
use crate::state::flags::{CF, OF, STATUS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShiftOp {
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
    Rcl,
    Rcr,
}

/// The count mask: 5 bits, or 6 for 64-bit operands.
pub(crate) fn count_mask(size: u32) -> u32 {
    if size == 8 {
        0x3f
    } else {
        0x1f
    }
}

/// Result, flags and which flags change, of a shift or rotate of `a` (`size` bytes) by a
/// masked, non-zero `count`, with the carry flag `cf` (RCL and RCR rotate through it).
/// Shared by the general path and the fast path.
#[inline(always)]
pub(crate) fn shift_calc(op: ShiftOp, a: u64, count: u32, size: u32, cf: bool) -> (u64, u64, u64) {
    let bits = size * 8;
    let msb = |v: u64| v & sign_bit(size) != 0;
    match op {
        ShiftOp::Shl => {
            let wide = u128::from(a) << count;
            let r = wide as u64 & mask(size);
            let cf = (wide >> bits) & 1 != 0;
            let mut f = flags::szp(r, size);
            if cf {
                f |= CF;
            }
            if msb(r) != cf {
                f |= OF;
            }
            (r, f, STATUS)
        }
        ShiftOp::Shr => {
            let r = if count >= 64 { 0 } else { a >> count };
            let cf = (a >> (count - 1)) & 1 != 0;
            let mut f = flags::szp(r, size);
            if cf {
                f |= CF;
            }
            if msb(a) {
                f |= OF;
            }
            (r, f, STATUS)
        }
        ShiftOp::Sar => {
            let s = sext(a, size) as i64;
            let r = (s >> count.min(63)) as u64 & mask(size);
            let cf = (s >> (count - 1).min(63)) & 1 != 0;
            let mut f = flags::szp(r, size);
            if cf {
                f |= CF;
            }
            (r, f, STATUS)
        }
        ShiftOp::Rol => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a << c) | (a >> (bits - c))) & mask(size)
            };
            let cf = r & 1 != 0;
            let mut f = if cf { CF } else { 0 };
            if msb(r) != cf {
                f |= OF;
            }
            (r, f, CF | OF)
        }
        ShiftOp::Ror => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a >> c) | (a << (bits - c))) & mask(size)
            };
            let mut f = if msb(r) { CF } else { 0 };
            if msb(r) != (r & (sign_bit(size) >> 1) != 0) {
                f |= OF;
            }
            (r, f, CF | OF)
        }
        ShiftOp::Rcl | ShiftOp::Rcr => {
            // Rotate the (bits + 1)-bit value CF:dst.
            let c = if size <= 2 { count % (bits + 1) } else { count };
            let width = bits + 1;
            let v = (u128::from(cf) << bits) | u128::from(a);
            let full = (1u128 << width) - 1;
            let rot = if c == 0 {
                v
            } else if op == ShiftOp::Rcl {
                ((v << c) | (v >> (width - c))) & full
            } else {
                ((v >> c) | (v << (width - c))) & full
            };
            let r = rot as u64 & mask(size);
            let cf = (rot >> bits) & 1 != 0;
            let of = if op == ShiftOp::Rcl {
                msb(r) != cf
            } else {
                msb(r) != (r & (sign_bit(size) >> 1) != 0)
            };
            let mut f = if cf { CF } else { 0 };
            if of {
                f |= OF;
            }
            // With a count that is a multiple of size+1 nothing rotates and CF keeps
            // its value; OF is then undefined and computed from the unchanged value.
            (r, f, CF | OF)
        }
    }
}

impl Cpu {
    pub(crate) fn shift(&mut self, op: ShiftOp) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let a = self.read_rmw(dst, size)?;
        let count = (self.read_op(1, 1)? as u32) & count_mask(size);
        if count == 0 {
            // No flags change; the destination is still written (a 32-bit register
            // destination is zero-extended, as on hardware).
            return self.write_loc(dst, size, a);
        }
        let old = self.s.rflags;
        let (r, f, which) = shift_calc(op, a, count, size, self.cf());
        self.write_loc(dst, size, r)?;
        self.s.rflags = (old & !which) | (f & which);
        Ok(())
    }

    /// SHLD and SHRD. For 16-bit operands with counts above 16 (undefined) the result is
    /// taken from the 48-bit concatenation dst:src:dst, which is what Intel processors do.
    pub(crate) fn shld_shrd(&mut self, left: bool) -> X {
        let size = self.op_size(0);
        let bits = size * 8;
        let dst = self.locate(0);
        let a = self.read_rmw(dst, size)?;
        let b = self.read_op(1, size)?;
        let count = (self.read_op(2, 1)? as u32) & count_mask(size);
        if count == 0 {
            return self.write_loc(dst, size, a);
        }
        let (r, cf) = if bits == 16 {
            if left {
                let wide = (a << 32) | (b << 16) | a;
                (
                    ((wide << count) >> 32) & 0xffff,
                    (wide >> (48 - count)) & 1 != 0,
                )
            } else {
                let wide = a | (b << 16) | (a << 32);
                ((wide >> count) & 0xffff, (wide >> (count - 1)) & 1 != 0)
            }
        } else if left {
            let r = ((a << count) | (b >> (bits - count))) & mask(size);
            (r, (a >> (bits - count)) & 1 != 0)
        } else {
            let r = ((a >> count) | (b << (bits - count))) & mask(size);
            (r, (a >> (count - 1)) & 1 != 0)
        };
        self.write_loc(dst, size, r)?;
        let mut f = flags::szp(r, size);
        if cf {
            f |= CF;
        }
        if (r ^ a) & sign_bit(size) != 0 {
            f |= OF;
        }
        self.set_status(f);
        Ok(())
    }

    /// RORX dst, src, imm8: rotate right without touching flags.
    pub(crate) fn rorx(&mut self) -> X {
        let size = self.op_size(0);
        let bits = size * 8;
        let a = self.read_op(1, size)?;
        let c = (self.i.immediate8() as u32) & (bits - 1);
        let r = if c == 0 {
            a
        } else {
            ((a >> c) | (a << (bits - c))) & mask(size)
        };
        self.write_op(0, size, r)
    }

    /// SARX SHLX SHRX dst, src, count: shifts without touching flags.
    pub(crate) fn shift_bmi2(&mut self, m: Mnemonic) -> X {
        let size = self.op_size(0);
        let a = self.read_op(1, size)?;
        let c = (self.read_op(2, size)? as u32) & (size * 8 - 1);
        let r = match m {
            Mnemonic::Sarx => (sext(a, size) as i64 >> c) as u64,
            Mnemonic::Shlx => a << c,
            _ => a >> c,
        };
        self.write_op(0, size, r & mask(size))
    }
}
