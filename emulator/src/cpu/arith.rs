//! Integer arithmetic: ADD ADC SUB SBB CMP (and the shared two-operand ALU form that the
//! logic instructions use too), INC DEC NEG, ADCX ADOX.

use super::flags;
use super::operand::mask;
use super::{Cpu, X};
use crate::state::flags::{CF, STATUS};

/// The operation of a two-operand ALU instruction (`op r/m, r/m/imm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AluOp {
    Add,
    Adc,
    Sub,
    Sbb,
    Cmp,
    And,
    Or,
    Xor,
    Test,
}

impl AluOp {
    /// Whether the instruction writes its destination (CMP and TEST only set flags).
    #[inline(always)]
    pub(crate) fn writes(self) -> bool {
        !matches!(self, AluOp::Cmp | AluOp::Test)
    }
}

/// Result and status flags of a two-operand ALU instruction on `a` (the destination) and
/// `b`, with the carry flag `cf` (ADC and SBB read it). Shared by the general path and the
/// fast path, so that both compute the same bits.
#[inline(always)]
pub(crate) fn alu_calc(op: AluOp, a: u64, b: u64, cf: bool, size: u32) -> (u64, u64) {
    match op {
        AluOp::Add => flags::add(a, b, false, size),
        AluOp::Adc => flags::add(a, b, cf, size),
        AluOp::Sub | AluOp::Cmp => flags::sub(a, b, false, size),
        AluOp::Sbb => flags::sub(a, b, cf, size),
        AluOp::And | AluOp::Test => ((a & b) & mask(size), flags::logic(a & b, size)),
        AluOp::Or => ((a | b) & mask(size), flags::logic(a | b, size)),
        AluOp::Xor => ((a ^ b) & mask(size), flags::logic(a ^ b, size)),
    }
}

impl Cpu {
    /// Replaces the six status flags.
    #[inline(always)]
    pub(crate) fn set_status(&mut self, f: u64) {
        self.s.rflags = (self.s.rflags & !STATUS) | (f & STATUS);
    }

    /// Replaces the status flags in `which` only.
    #[inline(always)]
    pub(crate) fn set_status_masked(&mut self, f: u64, which: u64) {
        self.s.rflags = (self.s.rflags & !which) | (f & which);
    }

    #[inline]
    pub(crate) fn cf(&self) -> bool {
        self.s.rflags & CF != 0
    }

    /// `op dst, src` for the nine two-operand ALU instructions.
    pub(crate) fn alu(&mut self, op: AluOp) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let a = if matches!(op, AluOp::Cmp | AluOp::Test) {
            self.read_loc(dst, size)?
        } else {
            self.read_rmw(dst, size)?
        };
        let b = self.read_op(1, size)?;
        let (r, f) = alu_calc(op, a, b, self.cf(), size);
        if op.writes() {
            self.write_loc(dst, size, r)?;
        }
        self.set_status(f);
        Ok(())
    }

    /// INC and DEC: like ADD and SUB of 1, but CF is preserved.
    pub(crate) fn inc_dec(&mut self, inc: bool) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let a = self.read_rmw(dst, size)?;
        let (r, f) = if inc {
            flags::add(a, 1, false, size)
        } else {
            flags::sub(a, 1, false, size)
        };
        self.write_loc(dst, size, r)?;
        self.set_status_masked(f, STATUS & !CF);
        Ok(())
    }

    /// NEG: 0 - dst; CF is set unless the operand was 0.
    pub(crate) fn neg(&mut self) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let a = self.read_rmw(dst, size)?;
        let (r, f) = flags::sub(0, a, false, size);
        self.write_loc(dst, size, r)?;
        self.set_status(f);
        Ok(())
    }

    /// ADCX (carry in and out through CF only) and ADOX (through OF only).
    pub(crate) fn adcx_adox(&mut self, flag: u64) -> X {
        let size = self.op_size(0);
        let a = self.read_op(0, size)?;
        let b = self.read_op(1, size)?;
        let carry = self.s.rflags & flag != 0;
        let wide = u128::from(a) + u128::from(b) + u128::from(carry);
        self.write_op(0, size, wide as u64 & mask(size))?;
        let out = if wide >> (size * 8) != 0 { flag } else { 0 };
        self.set_status_masked(out, flag);
        Ok(())
    }
}
