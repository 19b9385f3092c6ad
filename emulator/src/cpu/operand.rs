//! Operands: registers, immediates, and memory operands with their effective addresses.

use iced_x86::{OpKind, Register};

use super::mmu::{seg, Access};
use super::{Cpu, Exc, X};
use crate::machine::Vector;

/// Where a register operand lives in the GPR file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GprRef {
    pub index: usize,
    /// Size in bytes: 1, 2, 4 or 8.
    pub size: u32,
    /// AH, CH, DH, BH: bits 8..16 of the register.
    pub high: bool,
}

/// Maps an iced general-purpose register to its place in the GPR file.
pub(crate) fn gpr(r: Register) -> Option<GprRef> {
    let n = r as u32;
    let (base, size) = match n {
        1..=20 => (1, 1),
        21..=36 => (21, 2),
        37..=52 => (37, 4),
        53..=68 => (53, 8),
        _ => return None,
    };
    let i = (n - base) as usize;
    if size == 1 && (4..8).contains(&i) {
        // AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8L..: iced orders AH..BH before SPL.
        return Some(GprRef {
            index: i - 4,
            size: 1,
            high: true,
        });
    }
    let index = if size == 1 && i >= 8 { i - 4 } else { i };
    Some(GprRef {
        index,
        size,
        high: false,
    })
}

/// Index (ES, CS, SS, DS, FS, GS) of an iced segment register.
pub(crate) fn sreg(r: Register) -> Option<usize> {
    match r {
        Register::ES => Some(seg::ES),
        Register::CS => Some(seg::CS),
        Register::SS => Some(seg::SS),
        Register::DS => Some(seg::DS),
        Register::FS => Some(seg::FS),
        Register::GS => Some(seg::GS),
        _ => None,
    }
}

/// Mask of the low `size` bytes.
#[inline(always)]
pub(crate) fn mask(size: u32) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

/// Sign-extends the low `size` bytes of `v` to 64 bits.
#[inline(always)]
pub(crate) fn sext(v: u64, size: u32) -> u64 {
    let shift = 64 - size * 8;
    (((v << shift) as i64) >> shift) as u64
}

/// Whether an operand kind is an immediate.
#[inline]
pub(crate) fn is_immediate(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// A located operand: a register, or a memory operand's segment and offset.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc {
    Reg(GprRef),
    Mem { seg: usize, offset: u64 },
}

impl Cpu {
    #[inline]
    pub(crate) fn get_gpr(&self, r: GprRef) -> u64 {
        let v = self.s.gpr[r.index];
        if r.high {
            (v >> 8) & 0xff
        } else {
            v & mask(r.size)
        }
    }

    /// Writes a register the way the architecture does: 8- and 16-bit writes keep the other
    /// bits, 32-bit writes zero the upper half.
    #[inline(always)]
    pub(crate) fn set_gpr(&mut self, r: GprRef, v: u64) {
        let old = &mut self.s.gpr[r.index];
        *old = match (r.size, r.high) {
            (1, true) => (*old & !0xff00) | ((v & 0xff) << 8),
            (1, false) => (*old & !0xff) | (v & 0xff),
            (2, _) => (*old & !0xffff) | (v & 0xffff),
            (4, _) => v & 0xffff_ffff,
            _ => v,
        };
    }

    /// Reads GPR number `index` at `size` bytes (no high-byte registers).
    #[inline]
    pub(crate) fn reg(&self, index: usize, size: u32) -> u64 {
        self.s.gpr[index] & mask(size)
    }

    /// Writes GPR number `index` at `size` bytes.
    #[inline(always)]
    pub(crate) fn set_reg(&mut self, index: usize, size: u32, v: u64) {
        self.set_gpr(
            GprRef {
                index,
                size,
                high: false,
            },
            v,
        );
    }

    /// The register operand `op`, which must be a general-purpose register.
    pub(crate) fn op_gpr(&self, op: u32) -> GprRef {
        gpr(self.i.op_register(op)).expect("operand is a general-purpose register")
    }

    /// The effective address (offset within the segment) of the memory operand.
    pub(crate) fn effective_address(&self) -> u64 {
        let i = &self.i;
        let mut ea = i.memory_displacement64();
        let base = i.memory_base();
        if base == Register::RIP || base == Register::EIP {
            // iced has already added the next instruction's address.
            return ea & super::operand::mask(self.asz);
        }
        if let Some(b) = gpr(base) {
            ea = ea.wrapping_add(self.get_gpr(b));
        }
        if let Some(x) = gpr(i.memory_index()) {
            ea = ea.wrapping_add(
                self.get_gpr(x)
                    .wrapping_mul(u64::from(i.memory_index_scale())),
            );
        }
        ea & mask(self.asz)
    }

    /// The segment of the memory operand.
    pub(crate) fn mem_seg(&self) -> usize {
        let s = sreg(self.i.memory_segment()).unwrap_or(seg::DS);
        if self.bits == 64 && s < seg::FS && s != seg::SS {
            // In 64-bit mode the CS, DS and ES overrides are ignored: the segment is the
            // default one, SS for an RSP or RBP base (which decides between #SS and #GP for
            // a non-canonical address), DS otherwise. An SS override is not: the processor
            // raises #SS for a non-canonical [rdi] under it (measured on KVM at CPL 3).
            let base = self.i.memory_base().full_register();
            return if matches!(base, Register::RSP | Register::RBP) {
                seg::SS
            } else {
                seg::DS
            };
        }
        s
    }

    /// Locates operand `op` (a register or memory operand).
    pub(crate) fn locate(&self, op: u32) -> Loc {
        match self.i.op_kind(op) {
            OpKind::Register => Loc::Reg(self.op_gpr(op)),
            _ => Loc::Mem {
                seg: self.mem_seg(),
                offset: self.effective_address(),
            },
        }
    }

    /// Reads the destination of a read-modify-write instruction: the memory is checked
    /// for writing first, so a fault reports the write (a #PF error code with W/R = 1, as
    /// processors report for ADD [m], BTS [m] and the like).
    pub(crate) fn read_rmw(&mut self, loc: Loc, size: u32) -> X<u64> {
        self.probe_loc(loc, size)?;
        self.read_loc(loc, size)
    }

    pub(crate) fn read_loc(&mut self, loc: Loc, size: u32) -> X<u64> {
        match loc {
            Loc::Reg(r) => Ok(self.get_gpr(r)),
            Loc::Mem { seg, offset } => self.read_seg(seg, offset, size),
        }
    }

    pub(crate) fn write_loc(&mut self, loc: Loc, size: u32, v: u64) -> X {
        match loc {
            Loc::Reg(r) => {
                self.set_gpr(r, v);
                Ok(())
            }
            Loc::Mem { seg, offset } => self.write_seg(seg, offset, size, v),
        }
    }

    /// Checks a memory destination is writable before a multi-part update.
    pub(crate) fn probe_loc(&mut self, loc: Loc, size: u32) -> X {
        if let Loc::Mem { seg, offset } = loc {
            let lin = self.linear(seg, offset, size, Access::Write)?;
            self.probe_write(lin, size)?;
        }
        Ok(())
    }

    /// The size in bytes of operand `op`.
    pub(crate) fn op_size(&self, op: u32) -> u32 {
        match self.i.op_kind(op) {
            OpKind::Register => self.i.op_register(op).size() as u32,
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
            OpKind::Immediate64 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => 8,
            _ => self.i.memory_size().size() as u32,
        }
    }

    /// Reads operand `op` of any kind, truncated to `size` bytes.
    pub(crate) fn read_op(&mut self, op: u32, size: u32) -> X<u64> {
        let v = match self.i.op_kind(op) {
            OpKind::Register => {
                let r = self.i.op_register(op);
                match gpr(r) {
                    Some(g) => self.get_gpr(g),
                    None => match sreg(r) {
                        Some(s) => u64::from(self.s.seg(s).selector),
                        None => return Err(self.unimplemented("register operand")),
                    },
                }
            }
            k if is_immediate(k) => self.i.immediate(op),
            OpKind::Memory => {
                let loc = self.locate(op);
                self.read_loc(loc, size)?
            }
            _ => return Err(self.unimplemented("operand kind")),
        };
        Ok(v & mask(size))
    }

    /// Writes operand `op` (register or memory) at `size` bytes.
    pub(crate) fn write_op(&mut self, op: u32, size: u32, v: u64) -> X {
        let loc = self.locate(op);
        self.write_loc(loc, size, v)
    }

    /// #UD unless operand `op` is in memory (for instructions with register forms that
    /// do not exist, like LEA with a register source).
    pub(crate) fn require_memory(&self, op: u32) -> X {
        if self.i.op_kind(op) == OpKind::Memory {
            Ok(())
        } else {
            Err(Exc::new(Vector::UD))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iced_registers_map_to_encoding_order() {
        let g = |r| gpr(r).map(|g: GprRef| (g.index, g.size, g.high));
        assert_eq!(g(Register::AL), Some((0, 1, false)));
        assert_eq!(g(Register::BL), Some((3, 1, false)));
        assert_eq!(g(Register::AH), Some((0, 1, true)));
        assert_eq!(g(Register::BH), Some((3, 1, true)));
        assert_eq!(g(Register::SPL), Some((4, 1, false)));
        assert_eq!(g(Register::DIL), Some((7, 1, false)));
        assert_eq!(g(Register::R8L), Some((8, 1, false)));
        assert_eq!(g(Register::R15L), Some((15, 1, false)));
        assert_eq!(g(Register::SP), Some((4, 2, false)));
        assert_eq!(g(Register::R9W), Some((9, 2, false)));
        assert_eq!(g(Register::EDI), Some((7, 4, false)));
        assert_eq!(g(Register::R15D), Some((15, 4, false)));
        assert_eq!(g(Register::RAX), Some((0, 8, false)));
        assert_eq!(g(Register::R15), Some((15, 8, false)));
        assert_eq!(g(Register::RIP), None);
        assert_eq!(g(Register::ES), None);
    }

    #[test]
    fn sign_extension_and_masks() {
        assert_eq!(sext(0x80, 1), 0xffff_ffff_ffff_ff80);
        assert_eq!(sext(0x7fff, 2), 0x7fff);
        assert_eq!(sext(0x8000_0000, 4), 0xffff_ffff_8000_0000);
        assert_eq!(mask(1), 0xff);
        assert_eq!(mask(8), u64::MAX);
    }
}
