//! Decimal arithmetic: DAA DAS (packed BCD), AAA AAS AAM AAD (unpacked BCD). These exist
//! only outside 64-bit mode; there the decoder reports them invalid and the CPU raises #UD.

use super::flags;
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::flags::{AF, CF, STATUS};
use crate::state::reg::RAX;

impl Cpu {
    /// DAA (after ADD) and DAS (after SUB), as the SDM's pseudocode. OF (undefined) cleared.
    pub(crate) fn daa_das(&mut self, add: bool) -> X {
        let old_al = self.reg(RAX, 1);
        let old_cf = self.cf();
        let mut al = old_al;
        let mut cf = false;
        let mut af = false;
        if (al & 0x0f) > 9 || self.s.rflags & AF != 0 {
            if add {
                cf = old_cf || al + 6 > 0xff;
                al = (al + 6) & 0xff;
            } else {
                cf = old_cf || al < 6;
                al = al.wrapping_sub(6) & 0xff;
            }
            af = true;
        }
        if old_al > 0x99 || old_cf {
            al = if add {
                (al + 0x60) & 0xff
            } else {
                al.wrapping_sub(0x60) & 0xff
            };
            cf = true;
        } else if add {
            cf = false;
        }
        self.set_reg(RAX, 1, al);
        let mut f = flags::szp(al, 1);
        if cf {
            f |= CF;
        }
        if af {
            f |= AF;
        }
        self.set_status(f);
        Ok(())
    }

    /// AAA (after ADD) and AAS (after SUB) of unpacked BCD digits in AL, carrying into AH.
    /// SF ZF PF (undefined) come from the final AL, OF (undefined) is cleared.
    pub(crate) fn aaa_aas(&mut self, add: bool) -> X {
        let ax = self.reg(RAX, 2);
        let adjust = (ax & 0x0f) > 9 || self.s.rflags & AF != 0;
        let mut ax = ax;
        if adjust {
            if add {
                ax = ax.wrapping_add(0x106);
            } else {
                // AX := AX - 6 (a borrow out of AL reaches AH), then AH := AH - 1.
                ax = ax.wrapping_sub(6).wrapping_sub(0x100) & 0xffff;
            }
        }
        ax &= 0xff0f;
        self.set_reg(RAX, 2, ax);
        let mut f = flags::szp(ax & 0xff, 1);
        if adjust {
            f |= AF | CF;
        }
        self.set_status(f);
        Ok(())
    }

    /// AAM imm8: AH := AL / imm8, AL := AL mod imm8; #DE for a zero base.
    pub(crate) fn aam(&mut self) -> X {
        let base = u64::from(self.i.immediate8());
        if base == 0 {
            return Err(Exc::new(Vector::DE));
        }
        let al = self.reg(RAX, 1);
        let (ah, al) = (al / base, al % base);
        self.set_reg(RAX, 2, (ah << 8) | al);
        self.set_status_masked(flags::szp(al, 1), STATUS);
        Ok(())
    }

    /// AAD imm8: AL := AL + AH × imm8, AH := 0.
    pub(crate) fn aad(&mut self) -> X {
        let base = u64::from(self.i.immediate8());
        let ax = self.reg(RAX, 2);
        let al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
        self.set_reg(RAX, 2, al);
        self.set_status_masked(flags::szp(al, 1), STATUS);
        Ok(())
    }
}
