//! Logic: AND OR XOR TEST (through the shared ALU form in `arith`, whose flags are CF = OF =
//! 0 with AF, undefined, cleared), NOT, ANDN.

use super::flags;
use super::operand::mask;
use super::{Cpu, X};
use crate::state::flags::{SF, STATUS, ZF};

impl Cpu {
    /// NOT: no flags change.
    pub(crate) fn not(&mut self) -> X {
        let size = self.op_size(0);
        let dst = self.locate(0);
        let a = self.read_rmw(dst, size)?;
        self.write_loc(dst, size, !a & mask(size))
    }

    /// ANDN dst, src1, src2: dst = !src1 & src2. SF ZF from the result, CF = OF = 0,
    /// AF and PF (undefined) cleared.
    pub(crate) fn andn(&mut self) -> X {
        let size = self.op_size(0);
        let a = self.read_op(1, size)?;
        let b = self.read_op(2, size)?;
        let r = !a & b & mask(size);
        self.write_op(0, size, r)?;
        let f = flags::szp(r, size) & (SF | ZF);
        self.set_status_masked(f, STATUS);
        Ok(())
    }
}
