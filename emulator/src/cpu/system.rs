//! HLT, CLI STI and the flag instructions CLC STC CMC CLD STD, IN OUT (with IOPL and the
//! TSS I/O permission bitmap), CPUID, RDTSC RDTSCP.

use iced_x86::OpKind;

use super::operand::mask;
use super::{Cpu, Exc, X};
use crate::state::flags as fl;
use crate::state::reg::{RAX, RCX, RDX};
use crate::state::CpuMode;

impl Cpu {
    /// HLT: privileged; ends the step with the CPU halted.
    pub(crate) fn hlt(&mut self) -> X {
        if self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        self.request_halt();
        Ok(())
    }

    /// CLC STC CMC CLD STD: set, clear (`Some`) or complement (`None`) one flag.
    pub(crate) fn flag_op(&mut self, flag: u64, value: Option<bool>) -> X {
        match value {
            Some(true) => self.s.rflags |= flag,
            Some(false) => self.s.rflags &= !flag,
            None => self.s.rflags ^= flag,
        }
        Ok(())
    }

    /// CLI and STI: allowed when CPL <= IOPL (always in real mode), else #GP(0).
    pub(crate) fn cli_sti(&mut self, set: bool) -> X {
        let allowed = match self.s.mode() {
            CpuMode::Real => true,
            CpuMode::Virtual8086 => self.iopl() == 3,
            _ => self.s.cpl() <= self.iopl(),
        };
        if !allowed {
            return Err(Exc::gp0());
        }
        self.flag_op(fl::IF, Some(set))
    }

    /// Whether the current privilege may access `port` for `size` bytes. The TSS I/O
    /// permission bitmap is consulted when CPL > IOPL.
    fn io_allowed(&mut self, port: u16, size: u32) -> X {
        let needs_bitmap = match self.s.mode() {
            CpuMode::Real => false,
            CpuMode::Virtual8086 => true,
            _ => self.s.cpl() > self.iopl(),
        };
        if !needs_bitmap {
            return Ok(());
        }
        // The bitmap lives in a 32/64-bit TSS at the offset stored at TSS+0x66.
        let tr = self.s.tr;
        let ok_tss = tr.present() && tr.attributes & 0xf == 0xb && tr.limit >= 0x67;
        if !ok_tss {
            return Err(Exc::gp0());
        }
        let base_off = self.sys_read(tr.base.wrapping_add(0x66), 2)?;
        let byte_off = base_off + u64::from(port / 8);
        if byte_off + 1 > u64::from(tr.limit) {
            return Err(Exc::gp0());
        }
        let bits = self.sys_read(tr.base.wrapping_add(byte_off), 2)?;
        let want = ((1u64 << size) - 1) << (port % 8);
        if bits & want != 0 {
            return Err(Exc::gp0());
        }
        Ok(())
    }

    /// The port of IN/OUT: an immediate byte or DX.
    fn io_port(&self, op: u32) -> u16 {
        match self.i.op_kind(op) {
            OpKind::Immediate8 => u16::from(self.i.immediate8()),
            _ => self.reg(RDX, 2) as u16,
        }
    }

    pub(crate) fn in_(&mut self) -> X {
        let size = self.op_size(0);
        let port = self.io_port(1);
        self.io_allowed(port, size)?;
        self.watch_io(port, size);
        let mut buf = [0u8; 4];
        self.dev.io_read(port, &mut buf[..size as usize]);
        self.set_reg(RAX, size, u64::from(u32::from_le_bytes(buf)));
        Ok(())
    }

    pub(crate) fn out(&mut self) -> X {
        let size = self.op_size(1);
        let port = self.io_port(0);
        self.io_allowed(port, size)?;
        let v = self.reg(RAX, size) as u32;
        self.watch_io(port, size);
        let action = self.dev.io_write(port, &v.to_le_bytes()[..size as usize]);
        self.device_action(action);
        Ok(())
    }

    /// Port I/O for the string forms (INS/OUTS), after their permission check.
    pub(crate) fn port_read(&mut self, port: u16, size: u32) -> X<u64> {
        self.io_allowed(port, size)?;
        self.watch_io(port, size);
        let mut buf = [0u8; 4];
        self.dev.io_read(port, &mut buf[..size as usize]);
        Ok(u64::from(u32::from_le_bytes(buf)))
    }

    pub(crate) fn port_write(&mut self, port: u16, size: u32, v: u64) -> X {
        self.io_allowed(port, size)?;
        self.watch_io(port, size);
        let action = self.dev.io_write(port, &v.to_le_bytes()[..size as usize]);
        self.device_action(action);
        Ok(())
    }

    pub(crate) fn cpuid_op(&mut self) -> X {
        let leaf = self.reg(RAX, 4) as u32;
        let sub = self.reg(RCX, 4) as u32;
        let r = super::cpuid(leaf, sub);
        self.set_reg(RAX, 4, u64::from(r[0]));
        self.set_reg(crate::state::reg::RBX, 4, u64::from(r[1]));
        self.set_reg(RCX, 4, u64::from(r[2]));
        self.set_reg(RDX, 4, u64::from(r[3]));
        Ok(())
    }

    /// RDTSC (and RDTSCP, which also loads TSC_AUX into ECX). The counter is deterministic:
    /// it advances by one per retired instruction, so runs are repeatable. CR4.TSD makes
    /// it privileged.
    pub(crate) fn rdtsc(&mut self, with_aux: bool) -> X {
        if self.s.cr4 & (1 << 2) != 0 && self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        let t = self.s.tsc;
        self.set_reg(RAX, 4, t & mask(4));
        self.set_reg(RDX, 4, t >> 32);
        if with_aux {
            self.set_reg(RCX, 4, self.s.msrs.tsc_aux & mask(4));
        }
        Ok(())
    }
}
