//! Address translation: segmentation (logical → linear), then paging (linear → physical).
//!
//! Segmentation applies the hidden descriptor caches: base, limit (expand-up and
//! expand-down), and the type checks for writes to read-only or code segments. In 64-bit
//! mode only FS and GS have a base and every address must be canonical.
//!
//! Paging supports the three formats of the manuals: 32-bit (with 4 MiB pages when
//! CR4.PSE), PAE (2 MiB pages) and 4-level (2 MiB and 1 GiB pages). It checks present,
//! R/W (with CR0.WP), U/S and NX, sets the accessed and dirty bits, and reports page faults
//! with CR2 and the architectural error code. A small direct-mapped TLB caches walks; it is
//! flushed when CR0, CR3 or CR4 change and by INVLPG, as on hardware. PAE's PDPTEs are read
//! on each walk rather than cached at CR3 load, which only differs from hardware when a guest
//! edits live PDPTEs without reloading CR3.

use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::{attr, ctl, CpuMode};

/// Segment register indices in encoding order.
pub(crate) mod seg {
    pub const ES: usize = 0;
    pub const CS: usize = 1;
    pub const SS: usize = 2;
    pub const DS: usize = 3;
    pub const FS: usize = 4;
    pub const GS: usize = 5;
}

/// Why memory is accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Execute,
}

const TLB_SIZE: usize = 256;
const TLB_VALID: u64 = 1;

/// Page permissions cached in a TLB entry.
const P_WRITE: u8 = 1;
const P_USER: u8 = 2;
const P_EXEC: u8 = 4;
const P_DIRTY: u8 = 8;

#[derive(Clone, Copy, Default)]
struct TlbEntry {
    /// Linear page number << 12 | TLB_VALID.
    tag: u64,
    /// Physical address of the page.
    phys: u64,
    perm: u8,
}

/// A direct-mapped cache of page walks.
pub(crate) struct Tlb {
    entries: Box<[TlbEntry; TLB_SIZE]>,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            entries: Box::new([TlbEntry::default(); TLB_SIZE]),
        }
    }
}

impl Tlb {
    pub fn flush_all(&mut self) {
        self.entries.fill(TlbEntry::default());
    }
}

/// Page-fault error code bits.
const PF_P: u32 = 1;
const PF_W: u32 = 2;
const PF_U: u32 = 4;
const PF_I: u32 = 16;

fn canonical(a: u64) -> bool {
    ((a as i64) << 16 >> 16) as u64 == a
}

impl Cpu {
    /// The exception a failed access through segment `s` raises.
    fn seg_fault(s: usize) -> Exc {
        if s == seg::SS {
            Exc::with_code(Vector::SS, 0)
        } else {
            Exc::gp0()
        }
    }

    /// Logical (segment, offset) → linear address, checking `size` bytes.
    pub(crate) fn linear(&self, s: usize, offset: u64, size: u32, access: Access) -> X<u64> {
        let mode = self.s.mode();
        if mode == CpuMode::Long64 {
            let base = if s >= seg::FS { self.s.seg(s).base } else { 0 };
            let lin = base.wrapping_add(offset);
            if !canonical(lin) || !canonical(lin.wrapping_add(u64::from(size) - 1)) {
                return Err(Self::seg_fault(s));
            }
            return Ok(lin);
        }
        let sr = self.s.seg(s);
        if mode == CpuMode::Protected || mode == CpuMode::Compatibility {
            if !sr.present() {
                return Err(Self::seg_fault(s));
            }
            let a = sr.attributes;
            match access {
                Access::Write if a & attr::CODE != 0 || a & attr::RW == 0 => {
                    return Err(Self::seg_fault(s))
                }
                Access::Read if a & attr::CODE != 0 && a & attr::RW == 0 && s != seg::CS => {
                    return Err(Self::seg_fault(s))
                }
                _ => {}
            }
        }
        let last = offset.wrapping_add(u64::from(size) - 1);
        let limit = u64::from(sr.limit);
        let expand_down = sr.attributes & (attr::CODE | attr::DC) == attr::DC;
        let ok = if expand_down {
            let top = if sr.db() { 0xffff_ffff } else { 0xffff };
            offset > limit && last <= top && last >= offset
        } else {
            last <= limit && last >= offset
        };
        if !ok {
            return Err(Self::seg_fault(s));
        }
        Ok(sr.base.wrapping_add(offset) & 0xffff_ffff)
    }

    /// The linear address of an instruction byte at `ip` (checked against CS).
    pub(crate) fn code_linear(&self, ip: u64) -> X<u64> {
        self.linear(seg::CS, ip, 1, Access::Execute)
    }

    /// Linear → physical for one byte's page.
    pub(crate) fn translate(&mut self, lin: u64, access: Access) -> X<u64> {
        if self.s.cr0 & ctl::CR0_PG == 0 {
            return Ok(lin & 0xffff_ffff);
        }
        let user = self.s.cpl() == 3;
        let slot = ((lin >> 12) as usize) % TLB_SIZE;
        let e = self.tlb.entries[slot];
        if e.tag == (lin & !0xfff) | TLB_VALID && self.permitted(e.perm, user, access) {
            return Ok(e.phys | (lin & 0xfff));
        }
        let (phys, perm) = self.walk(lin, access, user)?;
        self.tlb.entries[slot] = TlbEntry {
            tag: (lin & !0xfff) | TLB_VALID,
            phys,
            perm,
        };
        Ok(phys | (lin & 0xfff))
    }

    fn permitted(&self, perm: u8, user: bool, access: Access) -> bool {
        if user && perm & P_USER == 0 {
            return false;
        }
        match access {
            Access::Read => true,
            Access::Execute => perm & P_EXEC != 0,
            Access::Write => {
                perm & P_DIRTY != 0
                    && (perm & P_WRITE != 0 || (!user && self.s.cr0 & ctl::CR0_WP == 0))
            }
        }
    }

    /// Walks the page tables; returns the physical page and its effective permissions.
    fn walk(&mut self, lin: u64, access: Access, user: bool) -> X<(u64, u8)> {
        let long = self.s.efer & ctl::EFER_LMA != 0;
        let pae = self.s.cr4 & ctl::CR4_PAE != 0;
        let nxe = self.s.efer & ctl::EFER_NXE != 0;
        let addr_mask: u64 = 0x000f_ffff_ffff_f000;
        // (table address, index shift, entry size, whether a large page is allowed here)
        let mut levels: Vec<(u32, bool)> = Vec::with_capacity(4);
        let mut table;
        let entry_size: u64;
        if long {
            table = self.s.cr3 & addr_mask;
            levels.extend([(39, false), (30, true), (21, true), (12, false)]);
            entry_size = 8;
        } else if pae {
            // The PDPT: four entries at CR3[31:5].
            let pdpte_addr = (self.s.cr3 & 0xffff_ffe0) + ((lin >> 30) & 3) * 8;
            let pdpte = self.mem.read_uint(pdpte_addr, 8);
            if pdpte & 1 == 0 {
                return Err(self.page_fault(lin, access, user, false));
            }
            table = pdpte & addr_mask;
            levels.extend([(21, true), (12, false)]);
            entry_size = 8;
        } else {
            table = self.s.cr3 & 0xffff_f000;
            let pse = self.s.cr4 & ctl::CR4_PSE != 0;
            levels.extend([(22, pse), (12, false)]);
            entry_size = 4;
        }
        let mut write_ok = true;
        let mut user_ok = true;
        let mut exec_ok = true;
        let mut touched: Vec<u64> = Vec::with_capacity(4);
        for (n, &(shift, large_ok)) in levels.iter().enumerate() {
            let index_bits = if entry_size == 4 { 10 } else { 9 };
            let index = (lin >> shift) & ((1 << index_bits) - 1);
            let addr = table + index * entry_size;
            let entry = self.mem.read_uint(addr, entry_size as usize);
            if entry & 1 == 0 {
                return Err(self.page_fault(lin, access, user, false));
            }
            write_ok &= entry & 2 != 0;
            user_ok &= entry & 4 != 0;
            if nxe && entry_size == 8 && entry >> 63 != 0 {
                exec_ok = false;
            }
            touched.push(addr);
            let leaf = n == levels.len() - 1 || (large_ok && entry & 0x80 != 0);
            if leaf {
                let phys = if shift == 12 {
                    entry & addr_mask
                } else if entry_size == 4 {
                    // 4 MiB page: bits 31:22 from the PDE, bits 39:32 from PDE bits 20:13.
                    (entry & 0xffc0_0000) | (((entry >> 13) & 0xff) << 32) | (lin & 0x3f_f000)
                } else {
                    let page = 1u64 << shift;
                    (entry & addr_mask & !(page - 1)) | (lin & (page - 1) & !0xfff)
                };
                let mut perm = 0;
                if write_ok {
                    perm |= P_WRITE;
                }
                if user_ok {
                    perm |= P_USER;
                }
                if exec_ok {
                    perm |= P_EXEC;
                }
                let leaf_perm_ok = self.permitted(perm | P_DIRTY, user, access);
                if !leaf_perm_ok {
                    return Err(self.page_fault(lin, access, user, true));
                }
                // Accessed bits on every level, dirty on the leaf for writes.
                for &a in &touched {
                    let v = self.mem.read_uint(a, entry_size as usize);
                    if v & 0x20 == 0 {
                        self.mem.write_uint(a, entry_size as usize, v | 0x20);
                    }
                }
                if access == Access::Write {
                    let v = self.mem.read_uint(addr, entry_size as usize);
                    self.mem.write_uint(addr, entry_size as usize, v | 0x40);
                    perm |= P_DIRTY;
                } else if entry & 0x40 != 0 {
                    perm |= P_DIRTY;
                }
                return Ok((phys, perm));
            }
            table = entry
                & if entry_size == 4 {
                    0xffff_f000
                } else {
                    addr_mask
                };
        }
        unreachable!("the last paging level is always a leaf")
    }

    fn page_fault(&mut self, lin: u64, access: Access, user: bool, present: bool) -> Exc {
        self.s.cr2 = lin;
        let mut code = 0;
        if present {
            code |= PF_P;
        }
        if access == Access::Write {
            code |= PF_W;
        }
        if user {
            code |= PF_U;
        }
        if access == Access::Execute && self.s.efer & ctl::EFER_NXE != 0 {
            code |= PF_I;
        }
        Exc::with_code(Vector::PF, code)
    }

    /// Reads `size` bytes (1..=8) at a linear address.
    pub(crate) fn read_lin(&mut self, lin: u64, size: u32, access: Access) -> X<u64> {
        let off = lin & 0xfff;
        if off + u64::from(size) <= 0x1000 {
            let p = self.translate(lin, access)?;
            return Ok(self.mem.read_uint(p, size as usize));
        }
        // Crossing a page: translate both halves before reading.
        let first = (0x1000 - off) as usize;
        let p1 = self.translate(lin, access)?;
        let p2 = self.translate(self.wrap_lin(lin + first as u64), access)?;
        let mut b = [0u8; 8];
        self.mem.read(p1, &mut b[..first]);
        self.mem.read(p2, &mut b[first..size as usize]);
        Ok(u64::from_le_bytes(b))
    }

    /// Writes the low `size` bytes (1..=8) of `value` at a linear address.
    pub(crate) fn write_lin(&mut self, lin: u64, size: u32, value: u64) -> X {
        let off = lin & 0xfff;
        if off + u64::from(size) <= 0x1000 {
            let p = self.translate(lin, Access::Write)?;
            self.mem.write_uint(p, size as usize, value);
            return Ok(());
        }
        let first = (0x1000 - off) as usize;
        let p1 = self.translate(lin, Access::Write)?;
        let p2 = self.translate(self.wrap_lin(lin + first as u64), Access::Write)?;
        let b = value.to_le_bytes();
        self.mem.write(p1, &b[..first]);
        self.mem.write(p2, &b[first..size as usize]);
        Ok(())
    }

    /// Checks that `size` bytes at `lin` can be written, without writing (for instructions
    /// that must not fault after a partial update).
    pub(crate) fn probe_write(&mut self, lin: u64, size: u32) -> X {
        self.translate(lin, Access::Write)?;
        let last = self.wrap_lin(lin.wrapping_add(u64::from(size) - 1));
        self.translate(last, Access::Write)?;
        Ok(())
    }

    /// Linear addresses wrap at 4 GiB outside long mode.
    fn wrap_lin(&self, lin: u64) -> u64 {
        if self.s.efer & ctl::EFER_LMA != 0 {
            lin
        } else {
            lin & 0xffff_ffff
        }
    }

    /// Instruction bytes at a linear address (one page at most).
    pub(crate) fn fetch_bytes(&mut self, lin: u64, buf: &mut [u8]) -> X {
        if buf.is_empty() {
            return Ok(());
        }
        let p = self.translate(lin, Access::Execute)?;
        self.mem.read(p, buf);
        Ok(())
    }

    /// Reads through a segment.
    pub(crate) fn read_seg(&mut self, s: usize, offset: u64, size: u32) -> X<u64> {
        let lin = self.linear(s, offset, size, Access::Read)?;
        self.read_lin(lin, size, Access::Read)
    }

    /// Writes through a segment.
    pub(crate) fn write_seg(&mut self, s: usize, offset: u64, size: u32, value: u64) -> X {
        let lin = self.linear(s, offset, size, Access::Write)?;
        self.write_lin(lin, size, value)
    }
}
