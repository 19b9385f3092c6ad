//! String instructions: MOVS CMPS SCAS LODS STOS INS OUTS in all element sizes, with REP,
//! REPE and REPNE. Pointers and the counter use the address size (SI/DI/CX wrap at 64 KiB
//! with 16-bit addressing); the source segment can be overridden, ES:rDI cannot.
//!
//! A REP instruction executes one iteration per step and leaves RIP on itself until it is
//! done, which is what hardware single-stepping shows (one trap per iteration).

use iced_x86::Mnemonic;

use super::flags;
use super::mmu::seg;
use super::operand::{mask, sreg};
use super::{Cpu, X};
use crate::state::flags::DF;
use crate::state::reg::{RAX, RCX, RDI, RDX, RSI};

impl Cpu {
    /// Element size in bytes of a string instruction, from its mnemonic.
    fn element_size(&self) -> u32 {
        use Mnemonic::*;
        match self.i.mnemonic() {
            Movsb | Cmpsb | Scasb | Lodsb | Stosb | Insb | Outsb => 1,
            Movsw | Cmpsw | Scasw | Lodsw | Stosw | Insw | Outsw => 2,
            Movsd | Cmpsd | Scasd | Lodsd | Stosd | Insd | Outsd => 4,
            _ => 8,
        }
    }

    /// The source segment of rSI (DS unless overridden).
    fn source_segment(&self) -> usize {
        sreg(self.i.memory_segment()).unwrap_or(seg::DS)
    }

    /// Advances a pointer register by one element in the DF direction.
    fn advance(&mut self, r: usize, size: u32) {
        let p = self.reg(r, self.asz);
        let step = if self.s.rflags & DF != 0 {
            p.wrapping_sub(u64::from(size))
        } else {
            p.wrapping_add(u64::from(size))
        };
        self.set_reg(r, self.asz, step & mask(self.asz));
    }

    /// Runs one iteration of a (possibly REP-prefixed) string instruction. `body` does the
    /// element's work and returns whether a REPE/REPNE condition allows going on.
    fn string_op(&mut self, body: impl FnOnce(&mut Self, u32) -> X<bool>, conditional: bool) -> X {
        let size = self.element_size();
        let rep = self.i.has_rep_prefix() || self.i.has_repe_prefix() || self.i.has_repne_prefix();
        if !rep {
            body(self, size)?;
            return Ok(());
        }
        let count = self.reg(RCX, self.asz);
        if count == 0 {
            return Ok(());
        }
        let mut go_on = body(self, size)?;
        let left = (count - 1) & mask(self.asz);
        self.set_reg(RCX, self.asz, left);
        if conditional {
            let zf = self.s.rflags & crate::state::flags::ZF != 0;
            go_on = if self.i.has_repne_prefix() { !zf } else { zf };
        }
        if left != 0 && go_on {
            self.s.rip = self.ip;
            self.mark_rep_iteration();
        }
        Ok(())
    }

    pub(crate) fn movs(&mut self) -> X {
        self.string_op(
            |c, size| {
                let src = c.source_segment();
                let v = c.read_seg(src, c.reg(RSI, c.asz), size)?;
                c.write_seg(seg::ES, c.reg(RDI, c.asz), size, v)?;
                c.advance(RSI, size);
                c.advance(RDI, size);
                Ok(true)
            },
            false,
        )
    }

    pub(crate) fn cmps(&mut self) -> X {
        self.string_op(
            |c, size| {
                let src = c.source_segment();
                let a = c.read_seg(src, c.reg(RSI, c.asz), size)?;
                let b = c.read_seg(seg::ES, c.reg(RDI, c.asz), size)?;
                let (_, f) = flags::sub(a, b, false, size);
                c.set_status(f);
                c.advance(RSI, size);
                c.advance(RDI, size);
                Ok(true)
            },
            true,
        )
    }

    pub(crate) fn scas(&mut self) -> X {
        self.string_op(
            |c, size| {
                let b = c.read_seg(seg::ES, c.reg(RDI, c.asz), size)?;
                let (_, f) = flags::sub(c.reg(RAX, size), b, false, size);
                c.set_status(f);
                c.advance(RDI, size);
                Ok(true)
            },
            true,
        )
    }

    pub(crate) fn lods(&mut self) -> X {
        self.string_op(
            |c, size| {
                let src = c.source_segment();
                let v = c.read_seg(src, c.reg(RSI, c.asz), size)?;
                c.set_reg(RAX, size, v);
                c.advance(RSI, size);
                Ok(true)
            },
            false,
        )
    }

    pub(crate) fn stos(&mut self) -> X {
        self.string_op(
            |c, size| {
                let v = c.reg(RAX, size);
                c.write_seg(seg::ES, c.reg(RDI, c.asz), size, v)?;
                c.advance(RDI, size);
                Ok(true)
            },
            false,
        )
    }

    pub(crate) fn ins(&mut self) -> X {
        self.string_op(
            |c, size| {
                let port = c.reg(RDX, 2) as u16;
                // The destination is checked before the port is read, so a fault does not
                // lose the device's byte.
                let di = c.reg(RDI, c.asz);
                let lin = c.linear(seg::ES, di, size, super::mmu::Access::Write)?;
                c.probe_write(lin, size)?;
                let v = c.port_read(port, size)?;
                c.write_seg(seg::ES, di, size, v)?;
                c.advance(RDI, size);
                Ok(true)
            },
            false,
        )
    }

    pub(crate) fn outs(&mut self) -> X {
        self.string_op(
            |c, size| {
                let port = c.reg(RDX, 2) as u16;
                let src = c.source_segment();
                let v = c.read_seg(src, c.reg(RSI, c.asz), size)?;
                c.port_write(port, size, v)?;
                c.advance(RSI, size);
                Ok(true)
            },
            false,
        )
    }
}
