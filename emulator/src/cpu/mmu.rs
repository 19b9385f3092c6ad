//! Address translation: segmentation (logical → linear), then paging (linear → physical).
//!
//! Segmentation applies the hidden descriptor caches: base, limit (expand-up and
//! expand-down), and the type checks for writes to read-only or code segments. In 64-bit
//! mode only FS and GS have a base and every address must be canonical.
//!
//! Paging supports the three formats of the manuals: 32-bit (with 4 MiB PSE-36 pages when
//! CR4.PSE), PAE (2 MiB pages) and 4-level (2 MiB and 1 GiB pages); 5-level paging is not
//! implemented (CR4.LA57 is reserved, CPUID does not report it). A walk checks present,
//! reserved bits (physical-address bits above MAXPHYADDR = 40, XD without EFER.NXE, PS in a
//! PML4E, the low bits of large-page addresses), R/W (with CR0.WP), U/S and NX; it sets the
//! accessed bits of every entry it used and the dirty bit of the leaf on a write, and reports
//! page faults with CR2 and the architectural error code (P, W/R, U/S, RSVD, I/D).
//! Descriptor-table, TSS and interrupt-stack accesses are supervisor accesses whatever the
//! CPL (the SDM's "implicit supervisor-mode accesses").
//!
//! A small direct-mapped TLB caches walks, as hardware does: a guest that edits a live
//! entry sees the change only after MOV CR3 (which keeps global pages when CR4.PGE), INVLPG
//! of that page, or a CR0/CR4 paging-bit change. PAE's four PDPTEs are loaded into internal
//! registers when CR3 is loaded (and when PAE paging is turned on), as the SDM specifies.

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

/// Entries of the TLB: 1024 pages, 4 MiB of linear addresses (two 1 MiB buffers a page
/// apart in the slots, as the workloads' source and destination are, do not evict each other).
const TLB_SIZE: usize = 1024;
const TLB_VALID: u64 = 1;
/// The entry maps a global page (G = 1 with CR4.PGE): a CR3 load keeps it.
const TLB_GLOBAL: u64 = 2;

/// Page permissions cached in a TLB entry.
pub(crate) const P_WRITE: u8 = 1;
pub(crate) const P_USER: u8 = 2;
pub(crate) const P_EXEC: u8 = 4;
pub(crate) const P_DIRTY: u8 = 8;
/// The page is all RAM (the entry's host address is set): the fast path's accesses need it.
pub(crate) const P_RAM: u8 = 16;

#[derive(Clone, Copy)]
struct TlbEntry {
    /// Linear page number << 12 | TLB_VALID.
    tag: u64,
    /// Physical address of the page.
    phys: u64,
    /// The host address of the page when it is all RAM (else null): the fast path reads
    /// and writes through it.
    host: *mut u8,
    perm: u8,
}

impl Default for TlbEntry {
    fn default() -> Self {
        TlbEntry {
            tag: 0,
            phys: 0,
            host: std::ptr::null_mut(),
            perm: 0,
        }
    }
}

/// A direct-mapped cache of page walks.
pub(crate) struct Tlb {
    entries: Box<[TlbEntry; TLB_SIZE]>,
}

// SAFETY: the host addresses in the entries point into the mappings of the guest memory of
// the same `Cpu`, which owns both and moves them to another thread together; they are
// flushed whenever that memory is handed out mutably (`Machine::memory_mut`).
unsafe impl Send for Tlb {}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            entries: Box::new([TlbEntry::default(); TLB_SIZE]),
        }
    }
}

impl Tlb {
    /// Forgets every translation (CR0.PG/WP, CR4 paging bits, state loads).
    pub fn flush_all(&mut self) {
        self.entries.fill(TlbEntry::default());
    }

    /// Forgets every translation except global pages (a CR3 load).
    pub fn flush_non_global(&mut self) {
        for e in self.entries.iter_mut() {
            if e.tag & TLB_GLOBAL == 0 {
                *e = TlbEntry::default();
            }
        }
    }

    /// The physical page and host address of the page holding `lin`, if the TLB holds its
    /// translation with every permission bit of `need` (`P_*`; with `P_RAM`, the host
    /// address is set), without walking. Only canonical addresses are held, so `lin` is
    /// canonical when it hits.
    #[inline(always)]
    pub fn hit(&self, lin: u64, need: u8) -> Option<(u64, *mut u8)> {
        let e = &self.entries[((lin >> 12) as usize) % TLB_SIZE];
        if e.tag & !TLB_GLOBAL == (lin & !0xfff) | TLB_VALID && e.perm & need == need {
            Some((e.phys, e.host))
        } else {
            None
        }
    }

    /// Forgets the translation of one linear page, global or not (INVLPG).
    pub fn flush_page(&mut self, lin: u64) {
        let slot = ((lin >> 12) as usize) % TLB_SIZE;
        if self.entries[slot].tag & !(TLB_GLOBAL | TLB_VALID) == lin & !0xfff {
            self.entries[slot] = TlbEntry::default();
        }
    }
}

/// Page-fault error code bits.
const PF_P: u32 = 1;
const PF_W: u32 = 2;
const PF_U: u32 = 4;
const PF_RSVD: u32 = 8;
const PF_I: u32 = 16;

/// The physical-address width this CPU reports (CPUID 8000_0008h): 40 bits.
pub(crate) const MAXPHYADDR: u32 = 40;
/// The physical-address bits of a PAE or 4-level entry.
const ADDR_MASK: u64 = ((1 << MAXPHYADDR) - 1) & !0xfff;
/// Entry bits 51:MAXPHYADDR, reserved.
const PHYS_RESERVED: u64 = ((1 << 52) - 1) & !((1 << MAXPHYADDR) - 1);

pub(crate) fn canonical(a: u64) -> bool {
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
                Access::Read if a & attr::CODE != 0 && a & attr::RW == 0 => {
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

    /// Whether accesses made now are user-mode accesses for paging: at CPL 3, except the
    /// implicit supervisor accesses to descriptor tables, the TSS and (during delivery)
    /// the inner stack.
    fn user_access(&self) -> bool {
        !self.implicit_supervisor && self.s.cpl() == 3
    }

    /// Linear → physical for one byte's page.
    pub(crate) fn translate(&mut self, lin: u64, access: Access) -> X<u64> {
        if self.s.cr0 & ctl::CR0_PG == 0 {
            return Ok(lin & 0xffff_ffff);
        }
        let user = self.user_access();
        let slot = ((lin >> 12) as usize) % TLB_SIZE;
        let e = self.tlb.entries[slot];
        if e.tag & !TLB_GLOBAL == (lin & !0xfff) | TLB_VALID && self.permitted(e.perm, user, access)
        {
            return Ok(e.phys | (lin & 0xfff));
        }
        let (phys, perm, global) = self.walk(lin, access, user)?;
        if canonical(lin) {
            let host = self.mem.ram_page(phys);
            self.tlb.entries[slot] = TlbEntry {
                tag: (lin & !0xfff) | TLB_VALID | if global { TLB_GLOBAL } else { 0 },
                phys,
                host,
                perm: perm | if host.is_null() { 0 } else { P_RAM },
            };
        }
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

    /// Walks the page tables; returns the physical page, its effective permissions and
    /// whether it is global.
    fn walk(&mut self, lin: u64, access: Access, user: bool) -> X<(u64, u8, bool)> {
        let long = self.s.efer & ctl::EFER_LMA != 0;
        let pae = self.s.cr4 & ctl::CR4_PAE != 0;
        let nxe = self.s.efer & ctl::EFER_NXE != 0;
        // Bits that must be 0 in every PAE and 4-level entry: above MAXPHYADDR, and XD
        // unless EFER.NXE.
        let rsvd_high = PHYS_RESERVED | if nxe { 0 } else { 1 << 63 };
        // The levels, top down: (index shift, whether PS makes a large page here, the
        // reserved bits of a large page, whether PS itself is reserved).
        let levels: &[(u32, bool, u64, bool)] = if long {
            &[
                (39, false, 0, true),
                (30, true, 0x3fff_e000, false),
                (21, true, 0x1f_e000, false),
                (12, false, 0, false),
            ]
        } else if pae {
            &[(21, true, 0x1f_e000, false), (12, false, 0, false)]
        } else if self.s.cr4 & ctl::CR4_PSE != 0 {
            &[(22, true, 1 << 21, false), (12, false, 0, false)]
        } else {
            &[(22, false, 0, false), (12, false, 0, false)]
        };
        let entry_size: usize = if long || pae { 8 } else { 4 };
        let mut table = if long {
            self.s.cr3 & ADDR_MASK
        } else if pae {
            let pdpte = self.pdptes[((lin >> 30) & 3) as usize];
            if pdpte & 1 == 0 {
                return Err(self.page_fault(lin, access, user, 0));
            }
            pdpte & ADDR_MASK
        } else {
            self.s.cr3 & 0xffff_f000
        };
        let (mut write_ok, mut user_ok, mut exec_ok) = (true, true, true);
        let mut touched = [0u64; 4];
        for (n, &(shift, large_ok, large_rsvd, ps_rsvd)) in levels.iter().enumerate() {
            let index_bits = if entry_size == 4 { 10 } else { 9 };
            let index = (lin >> shift) & ((1 << index_bits) - 1);
            let addr = table + index * entry_size as u64;
            let entry = self.mem.read_uint(addr, entry_size);
            if entry & 1 == 0 {
                return Err(self.page_fault(lin, access, user, 0));
            }
            let large = large_ok && entry & 0x80 != 0;
            let mut rsvd = if entry_size == 8 {
                entry & rsvd_high
            } else {
                0
            };
            if large {
                rsvd |= entry & large_rsvd;
            }
            if ps_rsvd && entry & 0x80 != 0 {
                rsvd |= 0x80;
            }
            if rsvd != 0 {
                return Err(self.page_fault(lin, access, user, PF_P | PF_RSVD));
            }
            write_ok &= entry & 2 != 0;
            user_ok &= entry & 4 != 0;
            if nxe && entry >> 63 != 0 {
                exec_ok = false;
            }
            touched[n] = addr;
            if !(large || n == levels.len() - 1) {
                table = entry
                    & if entry_size == 4 {
                        0xffff_f000
                    } else {
                        ADDR_MASK
                    };
                continue;
            }
            let phys = if shift == 12 {
                entry
                    & if entry_size == 4 {
                        0xffff_f000
                    } else {
                        ADDR_MASK
                    }
            } else if entry_size == 4 {
                // 4 MiB page (PSE-36): bits 31:22 from the PDE, bits 39:32 from bits 20:13.
                (entry & 0xffc0_0000) | (((entry >> 13) & 0xff) << 32) | (lin & 0x3f_f000)
            } else {
                let page = 1u64 << shift;
                (entry & ADDR_MASK & !(page - 1)) | (lin & (page - 1) & !0xfff)
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
            if !self.permitted(perm | P_DIRTY, user, access) {
                return Err(self.page_fault(lin, access, user, PF_P));
            }
            // Accessed bits on every level used, dirty on the leaf for writes.
            for &a in &touched[..=n] {
                let v = self.mem.read_uint(a, entry_size);
                if v & 0x20 == 0 {
                    self.mem.write_uint(a, entry_size, v | 0x20);
                }
            }
            if access == Access::Write {
                let v = self.mem.read_uint(addr, entry_size);
                if v & 0x40 == 0 {
                    self.mem.write_uint(addr, entry_size, v | 0x40);
                }
                perm |= P_DIRTY;
            } else if entry & 0x40 != 0 {
                perm |= P_DIRTY;
            }
            let global = entry & 0x100 != 0 && self.s.cr4 & ctl::CR4_PGE != 0;
            return Ok((phys, perm, global));
        }
        unreachable!("the last paging level is always a leaf")
    }

    /// Loads the four PAE page-directory-pointer entries from CR3, as MOV CR3 (and the CR0
    /// and CR4 writes that enable PAE paging) do outside long mode. A present entry with a
    /// reserved bit set is #GP(0), raised by the instruction that loads them.
    pub(crate) fn load_pdptes(&mut self) -> X {
        let mut p = [0u64; 4];
        for (i, e) in p.iter_mut().enumerate() {
            *e = self
                .mem
                .read_uint((self.s.cr3 & 0xffff_ffe0) + i as u64 * 8, 8);
            if *e & 1 != 0 && *e & (PHYS_RESERVED | 1 << 63 | 0x1e6) != 0 {
                return Err(Exc::gp0());
            }
        }
        self.pdptes = p;
        Ok(())
    }

    /// Whether PAE paging with the four cached PDPTEs is active (PAE without long mode).
    pub(crate) fn pae_legacy_paging(&self) -> bool {
        self.s.cr0 & ctl::CR0_PG != 0
            && self.s.cr4 & ctl::CR4_PAE != 0
            && self.s.efer & ctl::EFER_LMA == 0
    }

    fn page_fault(&mut self, lin: u64, access: Access, user: bool, bits: u32) -> Exc {
        self.s.cr2 = lin;
        let mut code = bits;
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
        self.check_alignment(lin, size)?;
        self.watch_data(lin, size, false);
        self.read_lin(lin, size, Access::Read)
    }

    /// Writes through a segment.
    pub(crate) fn write_seg(&mut self, s: usize, offset: u64, size: u32, value: u64) -> X {
        let lin = self.linear(s, offset, size, Access::Write)?;
        self.check_alignment(lin, size)?;
        self.watch_data(lin, size, true);
        self.write_lin(lin, size, value)
    }

    /// #AC(0) for a misaligned data access at CPL 3 when CR0.AM and RFLAGS.AC are both set.
    fn check_alignment(&self, lin: u64, size: u32) -> X {
        if lin & u64::from(size - 1) != 0
            && size <= 8
            && self.s.cr0 & ctl::CR0_AM != 0
            && self.s.rflags & crate::state::flags::AC != 0
            && self.s.cpl() == 3
            && !self.implicit_supervisor
        {
            return Err(Exc::with_code(Vector::AC, 0));
        }
        Ok(())
    }

    /// An implicit supervisor-mode read (descriptor tables, TSS, IDT), whatever the CPL.
    pub(crate) fn sys_read(&mut self, lin: u64, size: u32) -> X<u64> {
        let was = std::mem::replace(&mut self.implicit_supervisor, true);
        let r = self.read_lin(lin, size, Access::Read);
        self.implicit_supervisor = was;
        r
    }

    /// An implicit supervisor-mode write (accessed and busy bits, stacks during delivery).
    pub(crate) fn sys_write(&mut self, lin: u64, size: u32, value: u64) -> X {
        let was = std::mem::replace(&mut self.implicit_supervisor, true);
        let r = self.write_lin(lin, size, value);
        self.implicit_supervisor = was;
        r
    }
}
