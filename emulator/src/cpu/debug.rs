//! Debug registers: DR0–DR3 breakpoints as DR7 enables them (SDM Vol. 3, chapter
//! "Debug, Branch Profile, TSC, and Intel Resource Director Technology Features").
//!
//! - Instruction breakpoints (R/W = 00) are faults: checked before an instruction begins,
//!   unless RFLAGS.RF is set; RIP stays at the instruction.
//! - Data breakpoints (R/W = 01 writes, 11 reads or writes) are traps: any access of the
//!   instruction that overlaps the 1-, 2-, 4- or 8-byte range (the address aligned down to
//!   the length, as the SDM says the processor does) raises #DB after it completes.
//! - I/O breakpoints (R/W = 10, only with CR4.DE) are traps on IN/OUT/INS/OUTS to an
//!   overlapping port range.
//!
//! On each #DB, DR6.B0–B3 are replaced by the breakpoints that hit (hardware may also report
//! matching breakpoints that were not enabled; this CPU reports only enabled ones); BS
//! (single-step) and BD (general detect) are set and never cleared by the processor, as the
//! SDM says ("the remaining contents of DR6 are never cleared by the processor").
//! Breakpoint addresses are linear addresses; the L and G bits are treated alike (there
//! are no task switches to clear L).

use super::Cpu;
use crate::state::ctl;

/// DR6.BS: the #DB was a single-step trap.
pub(crate) const DR6_BS: u64 = 1 << 14;

impl Cpu {
    fn bp_enabled(&self, n: usize) -> bool {
        (self.s.debug.dr7 >> (2 * n)) & 3 != 0
    }

    fn bp_rw(&self, n: usize) -> u64 {
        (self.s.debug.dr7 >> (16 + 4 * n)) & 3
    }

    fn bp_len(&self, n: usize) -> u64 {
        match (self.s.debug.dr7 >> (18 + 4 * n)) & 3 {
            0 => 1,
            1 => 2,
            2 => 8,
            _ => 4,
        }
    }

    /// Recomputes which kinds of breakpoints are armed (after DR7 or CR4 changes).
    pub(crate) fn recompute_breakpoints(&mut self) {
        let mut exec = false;
        let mut data = false;
        let mut io = false;
        for n in 0..4 {
            if !self.bp_enabled(n) {
                continue;
            }
            match self.bp_rw(n) {
                0 => exec = true,
                2 => io |= self.s.cr4 & ctl::CR4_DE != 0,
                _ => data = true,
            }
        }
        self.exec_bp_armed = exec;
        self.data_bp_armed = data;
        self.io_bp_armed = io;
    }

    /// The DR6.Bn bits of instruction breakpoints at linear address `lin`.
    pub(crate) fn exec_breakpoints(&self, lin: u64) -> u64 {
        (0..4)
            .filter(|&n| self.bp_enabled(n) && self.bp_rw(n) == 0 && self.s.debug.addr(n) == lin)
            .fold(0, |bits, n| bits | 1 << n)
    }

    /// Records data breakpoints hit by an access of `size` bytes at `lin`.
    pub(crate) fn watch_data(&mut self, lin: u64, size: u32, write: bool) {
        if !self.data_bp_armed {
            return;
        }
        for n in 0..4 {
            let rw = self.bp_rw(n);
            if !self.bp_enabled(n) || !(rw == 3 || (rw == 1 && write)) {
                continue;
            }
            let len = self.bp_len(n);
            let start = self.s.debug.addr(n) & !(len - 1);
            if lin < start.wrapping_add(len) && start < lin.wrapping_add(u64::from(size)) {
                self.db_hits |= 1 << n;
            }
        }
    }

    /// Records I/O breakpoints hit by an access of `size` bytes at `port`.
    pub(crate) fn watch_io(&mut self, port: u16, size: u32) {
        if !self.io_bp_armed {
            return;
        }
        for n in 0..4 {
            if !self.bp_enabled(n) || self.bp_rw(n) != 2 {
                continue;
            }
            let len = self.bp_len(n);
            let start = (self.s.debug.addr(n) & 0xffff) & !(len - 1);
            let p = u64::from(port);
            if p < start + len && start < p + u64::from(size) {
                self.db_hits |= 1 << n;
            }
        }
    }
}
