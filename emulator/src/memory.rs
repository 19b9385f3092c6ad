//! Guest physical memory: RAM from address 0 and a ROM window ending at 4 GiB, on vm-memory.
//!
//! Both backends use the same [`GuestMemoryMmap`]: the software CPU reads and writes it through
//! [`GuestMemory`], KVM registers its regions as memory slots.
//!
//! Accesses outside RAM and ROM behave like an open bus, as on a PC: reads return all-ones
//! (0xFF bytes) and writes are dropped. Guest writes to the ROM window are dropped as well; the
//! host fills it with [`GuestMemory::load`].

use thiserror::Error;
use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MemoryRegionAddress,
};

/// One mebibyte.
pub const MIB: u64 = 1 << 20;
/// The physical address just past the ROM window: 4 GiB.
pub const ROM_END: u64 = 1 << 32;
/// The largest RAM the layout accepts: RAM must end below the ROM window and the PCI hole.
pub const MAX_RAM: u64 = 3 << 30;

/// Sizes of the two memory regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLayout {
    /// Bytes of RAM, from physical address 0. A multiple of 4 KiB, at most [`MAX_RAM`].
    pub ram_size: u64,
    /// Bytes of ROM, ending at 4 GiB (so the reset vector 0xFFFF_FFF0 is inside it).
    pub rom_size: u64,
}

impl Default for MemoryLayout {
    fn default() -> Self {
        MemoryLayout {
            ram_size: 64 * MIB,
            rom_size: 256 * 1024,
        }
    }
}

impl MemoryLayout {
    /// The first physical address of the ROM window.
    pub fn rom_base(&self) -> u64 {
        ROM_END - self.rom_size
    }
}

#[derive(Debug, Error)]
pub enum MemoryError {
    #[error("RAM size {0:#x} is not a non-zero multiple of 4 KiB no larger than 3 GiB")]
    BadRamSize(u64),
    #[error("ROM size {0:#x} is not a non-zero multiple of 4 KiB no larger than 16 MiB")]
    BadRomSize(u64),
    #[error("cannot map guest memory: {0}")]
    Mmap(String),
    #[error(
        "{len:#x} bytes at physical address {addr:#x} do not fit in guest memory \
         (RAM is 0..{ram_end:#x}, ROM is {rom_base:#x}..0x100000000)"
    )]
    OutOfRange {
        addr: u64,
        len: u64,
        ram_end: u64,
        rom_base: u64,
    },
}

/// A region as a raw host span, for the software CPU's fast path.
#[derive(Clone, Copy)]
struct Span {
    base: u64,
    len: u64,
    host: *mut u8,
}

/// Guest physical memory.
pub struct GuestMemory {
    mmap: GuestMemoryMmap,
    layout: MemoryLayout,
    ram: Span,
    rom: Span,
    /// While on: each guest write's address and the bytes it replaced (see [`Self::journal`]).
    journal: Option<Vec<(u64, Vec<u8>)>>,
    /// Per 4 KiB page of RAM, a counter every change of the page moves on (guest writes,
    /// loading, clearing); it tells a cache of what memory held (the software CPU's decoded
    /// instructions) whether it still holds it.
    page_writes: Vec<u64>,
    /// The same for all of ROM (which only loading changes).
    rom_version: u64,
}

// SAFETY: the raw pointers in `ram` and `rom` point into mappings owned by `mmap`, which is
// itself Send; moving the whole value to another thread moves the owner with them.
unsafe impl Send for GuestMemory {}

impl GuestMemory {
    /// Maps RAM and ROM, both zero-filled.
    pub fn new(layout: MemoryLayout) -> Result<Self, MemoryError> {
        if layout.ram_size == 0 || layout.ram_size % 4096 != 0 || layout.ram_size > MAX_RAM {
            return Err(MemoryError::BadRamSize(layout.ram_size));
        }
        if layout.rom_size == 0 || layout.rom_size % 4096 != 0 || layout.rom_size > 16 * MIB {
            return Err(MemoryError::BadRomSize(layout.rom_size));
        }
        let mmap = GuestMemoryMmap::from_ranges(&[
            (GuestAddress(0), layout.ram_size as usize),
            (GuestAddress(layout.rom_base()), layout.rom_size as usize),
        ])
        .map_err(|e| MemoryError::Mmap(e.to_string()))?;
        let span = |base: u64, len: u64| -> Result<Span, MemoryError> {
            let region = mmap
                .find_region(GuestAddress(base))
                .ok_or_else(|| MemoryError::Mmap(format!("region at {base:#x} missing")))?;
            let host = region
                .get_host_address(MemoryRegionAddress(0))
                .map_err(|e| MemoryError::Mmap(e.to_string()))?;
            Ok(Span { base, len, host })
        };
        let ram = span(0, layout.ram_size)?;
        let rom = span(layout.rom_base(), layout.rom_size)?;
        Ok(GuestMemory {
            mmap,
            layout,
            ram,
            rom,
            journal: None,
            page_writes: vec![0; (layout.ram_size / 4096) as usize],
            rom_version: 0,
        })
    }

    /// The vm-memory view, for registering with KVM or for `Bytes` access.
    pub fn mmap(&self) -> &GuestMemoryMmap {
        &self.mmap
    }

    pub fn layout(&self) -> MemoryLayout {
        self.layout
    }

    /// Host pointer to `len` bytes at `addr` if they lie inside RAM or ROM, and whether the
    /// span is ROM.
    #[inline]
    fn host(&self, addr: u64, len: u64) -> Option<(*mut u8, bool)> {
        for (span, rom) in [(self.ram, false), (self.rom, true)] {
            let off = addr.wrapping_sub(span.base);
            if off < span.len && len <= span.len - off {
                // SAFETY: `off + len <= span.len`, so the result stays inside the mapping.
                return Some((unsafe { span.host.add(off as usize) }, rom));
            }
        }
        None
    }

    /// Reads guest physical memory as the guest sees it; bytes outside RAM and ROM read 0xFF.
    pub fn read(&self, addr: u64, buf: &mut [u8]) {
        if let Some((p, _)) = self.host(addr, buf.len() as u64) {
            // SAFETY: `host` checked that `buf.len()` bytes at `p` are inside a live mapping;
            // `buf` is a distinct Rust allocation, so the ranges cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
            return;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = match self.host(addr.wrapping_add(i as u64), 1) {
                // SAFETY: `host` checked the byte is inside a live mapping.
                Some((p, _)) => unsafe { p.read() },
                None => 0xff,
            };
        }
    }

    /// Writes guest physical memory as the guest does: writes to ROM or outside memory are
    /// dropped.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        if self.journal.is_some() {
            let mut old = vec![0u8; data.len()];
            self.read(addr, &mut old);
            if let Some(j) = &mut self.journal {
                j.push((addr, old));
            }
        }
        if let Some((p, rom)) = self.host(addr, data.len() as u64) {
            if !rom && !data.is_empty() {
                // SAFETY: `host` checked the span is inside the RAM mapping, which we own
                // mutably through `&mut self`.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                self.count_writes(addr, data.len() as u64);
            }
            return;
        }
        for (i, &b) in data.iter().enumerate() {
            let a = addr.wrapping_add(i as u64);
            if let Some((p, false)) = self.host(a, 1) {
                // SAFETY: as above, for one byte of RAM.
                unsafe { p.write(b) };
                self.note_write(a);
            }
        }
    }

    /// What identifies the contents of the page holding `addr` (RAM or ROM) until they
    /// change: equal versions mean equal bytes (versions only grow).
    #[inline(always)]
    pub fn version(&self, addr: u64) -> u64 {
        let page = (addr >> 12) as usize;
        match self.page_writes.get(page) {
            Some(&v) => v,
            None => self.rom_version,
        }
    }

    /// The host address of the 4 KiB RAM page at `page` (page-aligned), or null when the page
    /// is not RAM. The software CPU's TLB keeps it to read and write without a lookup; such
    /// writes must be followed by [`Self::note_write`], and are allowed only while no
    /// journal is kept.
    pub(crate) fn ram_page(&self, page: u64) -> *mut u8 {
        match self.host(page, 4096) {
            Some((p, false)) => p,
            _ => std::ptr::null_mut(),
        }
    }

    /// Counts a write the software CPU made through [`Self::ram_page`] into the page
    /// holding `addr`.
    #[inline(always)]
    pub(crate) fn note_write(&mut self, addr: u64) {
        if let Some(w) = self.page_writes.get_mut((addr >> 12) as usize) {
            *w += 1;
        }
    }

    /// Moves on the version of every RAM page that `len` (at least 1) bytes at `addr`, all in
    /// RAM, touch.
    fn count_writes(&mut self, addr: u64, len: u64) {
        for page in addr >> 12..=(addr + len - 1) >> 12 {
            self.page_writes[page as usize] += 1;
        }
    }

    /// Whether guest writes are being recorded ([`Self::start_journal`]).
    #[inline]
    pub fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Starts recording guest writes (what [`Self::write`] replaces), for stepping back.
    pub fn start_journal(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Stops recording.
    pub fn stop_journal(&mut self) {
        self.journal = None;
    }

    /// Takes the writes recorded since the last call: (address, the bytes before), in order.
    /// Writing them back in reverse order undoes them ([`Self::undo`]).
    pub fn journal(&mut self) -> Vec<(u64, Vec<u8>)> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Undoes recorded writes: puts the old bytes back, latest first. Bytes outside RAM were
    /// never changed, and stay so.
    pub fn undo(&mut self, writes: &[(u64, Vec<u8>)]) {
        let journal = self.journal.take();
        for (addr, old) in writes.iter().rev() {
            self.write(*addr, old);
        }
        self.journal = journal;
    }

    /// Host-side loading: writes RAM or ROM, and fails (writing nothing) if any byte falls
    /// outside both.
    pub fn load(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        match self.host(addr, data.len() as u64) {
            Some((p, _)) => {
                // SAFETY: `host` checked the span lies inside one mapping we own mutably.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                if addr < self.layout.ram_size {
                    self.count_writes(addr, data.len().max(1) as u64);
                } else {
                    self.rom_version += 1;
                }
                Ok(())
            }
            None if data.is_empty() => Ok(()),
            None => Err(MemoryError::OutOfRange {
                addr,
                len: data.len() as u64,
                ram_end: self.layout.ram_size,
                rom_base: self.layout.rom_base(),
            }),
        }
    }

    /// Whether `len` bytes at `addr` are all inside RAM.
    pub fn is_ram(&self, addr: u64, len: u64) -> bool {
        matches!(self.host(addr, len), Some((_, false)))
    }

    /// Reads a little-endian value of `size` bytes (1, 2, 4 or 8).
    #[inline]
    pub fn read_uint(&self, addr: u64, size: usize) -> u64 {
        let mut b = [0u8; 8];
        self.read(addr, &mut b[..size]);
        u64::from_le_bytes(b)
    }

    /// Writes the low `size` bytes of `value`, little-endian.
    #[inline]
    pub fn write_uint(&mut self, addr: u64, size: usize, value: u64) {
        self.write(addr, &value.to_le_bytes()[..size]);
    }

    /// Fills RAM with zeros.
    pub fn clear_ram(&mut self) {
        // SAFETY: the RAM span is exactly the RAM mapping, owned mutably through `&mut self`.
        unsafe { std::ptr::write_bytes(self.ram.host, 0, self.ram.len as usize) };
        for v in &mut self.page_writes {
            *v += 1;
        }
    }

    /// Checks that the regions are still the ones vm-memory reports (used by tests).
    pub fn region_count(&self) -> usize {
        self.mmap.num_regions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GuestMemory {
        GuestMemory::new(MemoryLayout {
            ram_size: 64 * 1024,
            rom_size: 4096,
        })
        .unwrap()
    }

    #[test]
    fn ram_round_trips_and_unmapped_reads_are_all_ones() {
        let mut m = small();
        m.write_uint(0x100, 4, 0x1122_3344);
        assert_eq!(m.read_uint(0x100, 4), 0x1122_3344);
        assert_eq!(m.read_uint(0x100, 1), 0x44);
        // Straddling the end of RAM: the mapped half reads back, the rest is open bus.
        m.write_uint(0xfffe, 4, 0xaabb_ccdd);
        assert_eq!(m.read_uint(0xfffe, 4), 0xffff_ccdd);
        assert_eq!(m.read_uint(0x10_0000, 8), u64::MAX);
        m.write_uint(0x10_0000, 8, 0); // dropped, no panic
        assert_eq!(m.region_count(), 2);
    }

    #[test]
    fn rom_is_loadable_by_the_host_but_read_only_to_the_guest() {
        let mut m = small();
        m.load(0xffff_fff0, &[0xea, 0x5b]).unwrap();
        m.write(0xffff_fff0, &[0x90, 0x90]);
        assert_eq!(m.read_uint(0xffff_fff0, 2), 0x5bea);
        let err = m.load(0xfff0, &[0; 0x20]).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(GuestMemory::new(MemoryLayout {
            ram_size: 1000,
            rom_size: 4096
        })
        .is_err());
        assert!(GuestMemory::new(MemoryLayout {
            ram_size: 4 << 30,
            rom_size: 4096
        })
        .is_err());
    }
}
