//! A read-only page walk, for showing how a linear address becomes a physical one: each
//! level's table, index, entry and flags, down to the page (Intel SDM Vol. 3, chapter 4).
//! Unlike the CPU's own walk it changes nothing (no accessed or dirty bits) and never faults.

use crate::memory::GuestMemory;
use crate::state::{ctl, CpuState};

/// One level of a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    /// "PML4", "PDPT", "PD", "PT" (or "PDPTE register" for PAE's first level).
    pub name: &'static str,
    /// Physical address of the table.
    pub table: u64,
    /// The index the linear address selects.
    pub index: u64,
    /// Physical address of the entry, and the entry.
    pub entry_addr: u64,
    pub entry: u64,
    /// The entry maps a page here (PS, or the last level).
    pub leaf: bool,
}

impl Level {
    pub fn present(&self) -> bool {
        self.entry & 1 != 0
    }

    /// The entry's flags in words: P, R/W, U/S, PWT, PCD, A, D, PS, G, NX.
    pub fn flags(&self, nx: bool) -> Vec<(&'static str, bool)> {
        let e = self.entry;
        let mut v = vec![
            ("P", e & 1 != 0),
            ("R/W", e & 2 != 0),
            ("U/S", e & 4 != 0),
            ("PWT", e & 8 != 0),
            ("PCD", e & 0x10 != 0),
            ("A", e & 0x20 != 0),
        ];
        if self.leaf {
            v.push(("D", e & 0x40 != 0));
            v.push(("G", e & 0x100 != 0));
        }
        if self.name != "PML4" && self.name != "PT" {
            v.push(("PS", e & 0x80 != 0));
        }
        if nx {
            v.push(("NX", e >> 63 != 0));
        }
        v
    }
}

/// A whole walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// "paging off", "32-bit paging", "PAE paging", "4-level paging".
    pub kind: &'static str,
    pub levels: Vec<Level>,
    /// The physical address, or `None` when an entry is not present.
    pub physical: Option<u64>,
    /// The page size in bytes when mapped.
    pub page_size: u64,
}

/// Walks the paging structures of `s` in `mem` for `linear`.
pub fn walk(s: &CpuState, mem: &GuestMemory, linear: u64) -> Walk {
    let paging = s.cr0 & ctl::CR0_PG != 0;
    if !paging {
        let mask = if s.efer & ctl::EFER_LMA != 0 {
            u64::MAX
        } else {
            0xffff_ffff
        };
        return Walk {
            kind: "paging off",
            levels: Vec::new(),
            physical: Some(linear & mask),
            page_size: 0,
        };
    }
    let read = |addr: u64, size: usize| mem.read_uint(addr, size);
    let mut levels = Vec::new();
    let (kind, physical, page_size) = if s.efer & ctl::EFER_LMA != 0 {
        // 4-level: PML4 (47:39), PDPT (38:30, 1 GiB pages), PD (29:21, 2 MiB), PT (20:12).
        let table = s.cr3 & 0x000f_ffff_ffff_f000;
        let levels_of = [("PML4", 39), ("PDPT", 30), ("PD", 21), ("PT", 12)];
        let (p, size) = descend(mem, linear, table, &levels_of, &mut levels);
        ("4-level paging", p, size)
    } else if s.cr4 & ctl::CR4_PAE != 0 {
        // PAE: 4 PDPTEs (31:30), PD (29:21, 2 MiB pages), PT (20:12).
        let pdpt = s.cr3 & 0xffff_ffe0;
        let index = (linear >> 30) & 3;
        let entry_addr = pdpt + index * 8;
        let entry = read(entry_addr, 8);
        levels.push(Level {
            name: "PDPTE",
            table: pdpt,
            index,
            entry_addr,
            entry,
            leaf: false,
        });
        let (p, size) = if entry & 1 != 0 {
            let table = entry & 0x000f_ffff_ffff_f000;
            descend(mem, linear, table, &[("PD", 21), ("PT", 12)], &mut levels)
        } else {
            (None, 0)
        };
        ("PAE paging", p, size)
    } else {
        // 32-bit: PD (31:22, 4 MiB pages with CR4.PSE), PT (21:12).
        let linear = linear & 0xffff_ffff;
        let pd = s.cr3 & 0xffff_f000;
        let index = linear >> 22;
        let entry_addr = pd + index * 4;
        let entry = read(entry_addr, 4);
        let big = s.cr4 & ctl::CR4_PSE != 0 && entry & 0x80 != 0;
        levels.push(Level {
            name: "PD",
            table: pd,
            index,
            entry_addr,
            entry,
            leaf: big,
        });
        let mut out = (None, 0);
        if entry & 1 != 0 {
            if big {
                // PSE-36: bits 20:13 of the entry are physical bits 39:32.
                let base = (entry & 0xffc0_0000) | ((entry >> 13) & 0xff) << 32;
                out = (Some(base | (linear & 0x3f_ffff)), 4 << 20);
            } else {
                let pt = entry & 0xffff_f000;
                let index = (linear >> 12) & 0x3ff;
                let entry_addr = pt + index * 4;
                let entry = read(entry_addr, 4);
                levels.push(Level {
                    name: "PT",
                    table: pt,
                    index,
                    entry_addr,
                    entry,
                    leaf: true,
                });
                if entry & 1 != 0 {
                    out = (Some((entry & 0xffff_f000) | (linear & 0xfff)), 4096);
                }
            }
        }
        ("32-bit paging", out.0, out.1)
    };
    Walk {
        kind,
        levels,
        physical,
        page_size,
    }
}

/// The 8-byte-entry levels from `table` down (each selects 9 bits of `linear` at its
/// shift; PS makes an entry a page below the top level): the physical address and page
/// size, or `None` at a not-present entry.
fn descend(
    mem: &GuestMemory,
    linear: u64,
    mut table: u64,
    levels_of: &[(&'static str, u32)],
    levels: &mut Vec<Level>,
) -> (Option<u64>, u64) {
    for (k, &(name, shift)) in levels_of.iter().enumerate() {
        let index = (linear >> shift) & 0x1ff;
        let entry_addr = table + index * 8;
        let entry = mem.read_uint(entry_addr, 8);
        let last = k + 1 == levels_of.len();
        let leaf = last || (name != "PML4" && entry & 0x80 != 0);
        levels.push(Level {
            name,
            table,
            index,
            entry_addr,
            entry,
            leaf,
        });
        if entry & 1 == 0 {
            return (None, 0);
        }
        let frame = entry & 0x000f_ffff_ffff_f000;
        if leaf {
            let size = 1u64 << shift;
            return (Some((frame & !(size - 1)) | (linear & (size - 1))), size);
        }
        table = frame;
    }
    (None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLayout;

    #[test]
    fn four_level_walk_reaches_a_4k_page_and_reports_2m_pages() {
        // SDM Vol. 3, 4.5: CR3 -> PML4[0] -> PDPT[0] -> PD[1] (4 KiB PT) -> PT[5].
        let mut mem = GuestMemory::new(MemoryLayout::default()).unwrap();
        mem.write_uint(0x1000, 8, 0x2003); // PML4[0] -> PDPT at 2000h
        mem.write_uint(0x2000, 8, 0x3003); // PDPT[0] -> PD at 3000h
        mem.write_uint(0x3008, 8, 0x4003); // PD[1] -> PT at 4000h
        mem.write_uint(0x4000 + 5 * 8, 8, 0x0012_3063); // PT[5] -> 123000h, A, D
        mem.write_uint(0x3010, 8, 0x0060_0083); // PD[2]: a 2 MiB page at 600000h
        let mut s = CpuState::reset();
        s.cr0 |= ctl::CR0_PG | ctl::CR0_PE;
        s.cr4 |= ctl::CR4_PAE;
        s.efer |= ctl::EFER_LME | ctl::EFER_LMA;
        s.cr3 = 0x1000;
        let w = walk(&s, &mem, 0x0020_5abc);
        assert_eq!(w.kind, "4-level paging");
        assert_eq!(w.levels.len(), 4);
        assert_eq!(w.levels[3].index, 5);
        assert_eq!(w.physical, Some(0x0012_3abc));
        assert_eq!(w.page_size, 4096);
        let big = walk(&s, &mem, 0x0041_2345);
        assert_eq!((big.physical, big.page_size), (Some(0x0061_2345), 2 << 20));
        assert!(big.levels[2].leaf);
        let missing = walk(&s, &mem, 0x0080_0000_0000);
        assert_eq!(missing.physical, None);
        assert_eq!(missing.levels.len(), 1);
    }

    #[test]
    fn thirty_two_bit_walk_with_4m_pages() {
        let mut mem = GuestMemory::new(MemoryLayout::default()).unwrap();
        mem.write_uint(0x5000 + 4, 4, 0x0080_0083); // PD[1]: 4 MiB page at 800000h
        let mut s = CpuState::reset();
        s.cr0 |= ctl::CR0_PG | ctl::CR0_PE;
        s.cr4 |= ctl::CR4_PSE;
        s.cr3 = 0x5000;
        let w = walk(&s, &mem, 0x0045_6789);
        assert_eq!(w.physical, Some(0x0085_6789));
        assert_eq!(w.kind, "32-bit paging");
    }
}
