//! Loading programs into a machine and building the state they start in.
//!
//! Works on any [`Machine`], so the emulator and KVM start a program identically.
//!
//! - A **flat binary** follows the boot-sector convention by default: loaded at 0x7C00 and
//!   entered in real mode at CS:IP 0000:7C00 with SS:SP 0000:7C00, DL = 0x80 (the boot
//!   drive) and IF = 0. With `--mode protected` or `--mode long` it is entered at its load
//!   address (default 0x100000) in the same environment an ELF32 or ELF64 program gets.
//! - An **ELF64** static executable has its PT_LOAD segments copied to their physical
//!   addresses and is entered at `e_entry` in 64-bit mode at CPL 0, interrupts off, with the
//!   low 4 GiB identity-mapped by 2 MiB pages. An **ELF32** executable is entered in 32-bit
//!   protected mode with flat 4 GiB segments and paging off. The program sets its own stack
//!   (RSP starts at 0).
//! - The page tables (long mode) and the GDT (protected and long mode) live in the **boot
//!   area**, the top 1 MiB of RAM ([`boot_area`]); a program that reaches into it is refused. GDT selectors:
//!   0x08 64-bit code, 0x10 flat data, 0x18 flat 32-bit code.
//! - Protected and long mode start without an IDT (IDTR base 0, limit 0) and without a TSS:
//!   a program that wants to handle exceptions installs its own. An exception raised before
//!   that cannot be delivered, so the processor shuts down (a triple fault, as hardware
//!   does), and the run's message names the first exception and where it was raised.

use anyhow::{bail, Context, Result};
use goblin::elf::{header, program_header, Elf};
use x86lab_emulator::state::{attr, ctl, reg};
use x86lab_emulator::{CpuState, DescriptorTable, Machine, Segment};

/// The mode a program starts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Real,
    Protected,
    Long,
}

/// How to load a program.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The mode for a flat binary (ELF files carry their own); `None` means real mode.
    pub mode: Option<Mode>,
    /// The load address of a flat binary.
    pub load: Option<u64>,
    /// Long mode only: start at CPL 3 (user mode) with IOPL 3, so that IN and OUT still
    /// reach the devices, and every page user-accessible. On KVM without VT-x/AMD-V this is
    /// the code that runs on the processor rather than in the host kernel's emulator.
    pub user: bool,
}

/// What was loaded, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub kind: &'static str,
    pub mode: Mode,
    pub entry: u64,
}

/// The boot area: `[start, end)` at the top of RAM, holding page tables and the GDT.
pub fn boot_area(ram_size: u64) -> (u64, u64) {
    (ram_size - (1 << 20), ram_size)
}

pub const CODE64_SELECTOR: u16 = 0x08;
pub const DATA_SELECTOR: u16 = 0x10;
pub const CODE32_SELECTOR: u16 = 0x18;
/// User-mode (DPL 3) descriptors, in the GDT of programs loaded with `user`.
pub const USER_DATA_SELECTOR: u16 = 0x20;
pub const USER_CODE64_SELECTOR: u16 = 0x28;
/// Where the GDT sits in the boot area.
const GDT_OFFSET: u64 = 0x6000;

/// Loads `image` (flat binary or ELF) into `m` and sets the starting state.
pub fn load(m: &mut dyn Machine, image: &[u8], opts: &LoadOptions) -> Result<Loaded> {
    if image.starts_with(b"\x7fELF") {
        if opts.load.is_some() {
            bail!(
                "--load applies to flat binaries only; an ELF file is placed at its own addresses"
            );
        }
        load_elf(m, image, opts)
    } else {
        load_flat(m, image, opts)
    }
}

/// Boots through the firmware (firmware/boot/firmware.asm): the firmware's ROM image at the
/// top of 4 GiB, the payload where the firmware expects it for `mode` (real mode 7C00h,
/// else 100000h), the boot information block at 500h, and the CPU in its power-on state.
pub fn boot_firmware(m: &mut dyn Machine, payload: &[u8], mode: Mode) -> Result<Loaded> {
    use crate::{BOOT_INFO, BOOT_MAGIC, FIRMWARE_SIZE};
    if payload.is_empty() {
        bail!("the program file is empty");
    }
    let rom =
        crate::firmware().map_err(|e| anyhow::anyhow!("the firmware does not assemble: {e}"))?;
    let layout = m.memory().layout();
    if layout.rom_size < FIRMWARE_SIZE {
        bail!(
            "the ROM window ({:#x} bytes) is smaller than the firmware ({FIRMWARE_SIZE:#x})",
            layout.rom_size
        );
    }
    let (addr, limit, bits) = match mode {
        // Below the firmware's stack and the shadow at F0000h.
        Mode::Real => (0x7c00u64, 0x9_0000u64, 16u32),
        Mode::Protected => (0x10_0000, layout.ram_size, 32),
        Mode::Long => (0x10_0000, layout.ram_size, 64),
    };
    let end = addr + payload.len() as u64;
    if end > limit {
        bail!(
            "a {}-byte program at {addr:#x} does not fit below {limit:#x} (the firmware's limit for this mode{})",
            payload.len(),
            if mode == Mode::Real { "" } else { "; try a larger --ram" }
        );
    }
    m.memory_mut()
        .load(x86lab_emulator::memory::ROM_END - FIRMWARE_SIZE, &rom)?;
    let mut info = Vec::with_capacity(16);
    for v in [BOOT_MAGIC, bits, addr as u32, payload.len() as u32] {
        info.extend_from_slice(&v.to_le_bytes());
    }
    m.memory_mut().load(BOOT_INFO, &info)?;
    m.memory_mut().load(addr, payload)?;
    m.set_state(&CpuState::reset())?;
    Ok(Loaded {
        kind: "program booted through the firmware",
        mode,
        entry: 0xffff_fff0,
    })
}

fn load_flat(m: &mut dyn Machine, image: &[u8], opts: &LoadOptions) -> Result<Loaded> {
    let mode = opts.mode.unwrap_or(Mode::Real);
    if image.is_empty() {
        bail!("the program file is empty");
    }
    let addr = opts.load.unwrap_or(match mode {
        Mode::Real => 0x7c00,
        _ => 0x10_0000,
    });
    let ram = m.memory().layout().ram_size;
    let end = addr
        .checked_add(image.len() as u64)
        .filter(|&e| e <= ram)
        .with_context(|| {
            format!(
                "a {}-byte program at {addr:#x} does not fit in RAM (0..{ram:#x}); choose another --load address or a larger --ram",
                image.len()
            )
        })?;
    if mode != Mode::Long {
        refuse_user(opts, "a real-mode or protected-mode program")?;
    }
    let state = match mode {
        Mode::Real => {
            if end > 0x10_0000 {
                bail!("a real-mode program must lie below 1 MiB, but this one ends at {end:#x}");
            }
            let (cs, ip) = if addr <= 0xffff {
                (0, addr as u16)
            } else {
                ((addr >> 4) as u16, (addr & 0xf) as u16)
            };
            let mut s = CpuState::real_mode(cs, ip);
            s.gpr[reg::RSP] = 0x7c00;
            s.gpr[reg::RDX] = 0x80;
            s
        }
        Mode::Protected => {
            check_outside_boot_area(ram, addr, end)?;
            protected_state(m, addr)?
        }
        Mode::Long => {
            check_outside_boot_area(ram, addr, end)?;
            long_state(m, addr, opts.user)?
        }
    };
    m.memory_mut().load(addr, image)?;
    m.set_state(&state)?;
    Ok(Loaded {
        kind: "flat binary",
        mode,
        entry: addr,
    })
}

fn check_outside_boot_area(ram: u64, start: u64, end: u64) -> Result<()> {
    let (lo, hi) = boot_area(ram);
    if start < hi && end > lo {
        bail!(
            "the program overlaps the boot area {lo:#x}..{hi:#x} (top 1 MiB of RAM, page tables and GDT); link it lower or use a larger --ram"
        );
    }
    Ok(())
}

fn load_elf(m: &mut dyn Machine, image: &[u8], opts: &LoadOptions) -> Result<Loaded> {
    let mode = opts.mode;
    let elf = Elf::parse(image).context("not a valid ELF file")?;
    let (want_machine, elf_mode, kind) = if elf.is_64 {
        (header::EM_X86_64, Mode::Long, "ELF64")
    } else {
        (header::EM_386, Mode::Protected, "ELF32")
    };
    if elf.header.e_machine != want_machine {
        bail!(
            "this {kind} file is for machine {} ({}), not x86",
            elf.header.e_machine,
            header::machine_to_str(elf.header.e_machine)
        );
    }
    if let Some(mode) = mode {
        if mode != elf_mode {
            bail!("--mode {mode:?} does not match this {kind} file, which runs in {elf_mode:?} mode; drop --mode");
        }
    }
    match elf.header.e_type {
        header::ET_EXEC => {}
        header::ET_DYN => bail!(
            "this is a position-independent or shared object; link a static executable with -static -no-pie"
        ),
        t => bail!("ELF type {t} is not an executable"),
    }
    if elf
        .program_headers
        .iter()
        .any(|p| p.p_type == program_header::PT_INTERP)
    {
        bail!("this executable is dynamically linked; link it with -static -nostdlib");
    }
    let ram = m.memory().layout().ram_size;
    let mut segments = Vec::new();
    for ph in elf
        .program_headers
        .iter()
        .filter(|p| p.p_type == program_header::PT_LOAD)
    {
        let file = ph
            .p_offset
            .checked_add(ph.p_filesz)
            .and_then(|e| image.get(ph.p_offset as usize..e as usize))
            .with_context(|| {
                format!(
                    "the file is truncated: a segment needs bytes {:#x}..{:#x} but the file has {:#x}",
                    ph.p_offset,
                    ph.p_offset.saturating_add(ph.p_filesz),
                    image.len()
                )
            })?;
        if ph.p_filesz > ph.p_memsz {
            bail!(
                "a segment at {:#x} has more file bytes than memory bytes",
                ph.p_paddr
            );
        }
        let end = ph
            .p_paddr
            .checked_add(ph.p_memsz)
            .filter(|&e| e <= ram)
            .with_context(|| {
                format!(
                    "the segment at {:#x} ({:#x} bytes) lies outside RAM (0..{ram:#x}); link it lower or use a larger --ram",
                    ph.p_paddr, ph.p_memsz
                )
            })?;
        check_outside_boot_area(ram, ph.p_paddr, end)?;
        segments.push((ph.p_paddr, file, ph.p_memsz));
    }
    if segments.is_empty() {
        bail!("the ELF file has no loadable (PT_LOAD) segment");
    }
    let entry = elf.entry;
    let state = match elf_mode {
        Mode::Long => long_state(m, entry, opts.user)?,
        _ => {
            refuse_user(opts, "this ELF32 file")?;
            protected_state(m, entry)?
        }
    };
    for (paddr, file, memsz) in segments {
        let mem = m.memory_mut();
        mem.load(paddr, file)?;
        let zeros = vec![0u8; (memsz - file.len() as u64) as usize];
        mem.load(paddr + file.len() as u64, &zeros)?;
    }
    m.set_state(&state)?;
    Ok(Loaded {
        kind,
        mode: elf_mode,
        entry,
    })
}

/// Prepares the environment of `mode` (GDT, and page tables for long mode, in the boot
/// area) and returns the state that enters it at `entry`. Real mode gets the boot-sector
/// state with CS:IP = 0000:`entry`.
pub fn boot_state(m: &mut dyn Machine, mode: Mode, entry: u64) -> Result<CpuState> {
    match mode {
        Mode::Real => Ok(CpuState::real_mode(0, entry as u16)),
        Mode::Protected => protected_state(m, entry),
        Mode::Long => long_state(m, entry, false),
    }
}

fn refuse_user(opts: &LoadOptions, what: &str) -> Result<()> {
    if opts.user {
        bail!("user mode (CPL 3) is offered for 64-bit programs only, and {what} is not one");
    }
    Ok(())
}

/// Packs a code or data descriptor (or a system descriptor's low half).
pub fn descriptor(base: u64, limit: u64, attributes: u16) -> u64 {
    (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (u64::from(attributes & 0xff) << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (u64::from(attributes >> 8) << 52)
        | (((base >> 24) & 0xff) << 56)
}

const CODE64: u16 = attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED | attr::L | attr::G;
const CODE32: u16 = attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED | attr::DB | attr::G;
const DATA: u16 = attr::P | attr::S | attr::RW | attr::ACCESSED | attr::DB | attr::G;

/// The GDT every protected or long-mode program gets; with `user`, also DPL 3 data and
/// 64-bit code descriptors.
fn gdt(user: bool) -> Vec<u64> {
    let mut table = vec![
        0,
        descriptor(0, 0xfffff, CODE64),
        descriptor(0, 0xfffff, DATA),
        descriptor(0, 0xfffff, CODE32),
    ];
    if user {
        table.push(descriptor(0, 0xfffff, DATA | attr::DPL));
        table.push(descriptor(0, 0xfffff, CODE64 | attr::DPL));
    }
    table
}

/// Writes the GDT at `at` and returns GDTR.
fn write_gdt(m: &mut dyn Machine, at: u64, user: bool) -> Result<DescriptorTable> {
    let table = gdt(user);
    let bytes: Vec<u8> = table.iter().flat_map(|d| d.to_le_bytes()).collect();
    m.memory_mut().load(at, &bytes)?;
    Ok(DescriptorTable {
        base: at,
        limit: (bytes.len() - 1) as u16,
    })
}

/// 32-bit protected mode, flat segments, paging off, CPL 0, at `entry`; the GDT in the
/// boot area.
fn protected_state(m: &mut dyn Machine, entry: u64) -> Result<CpuState> {
    let (area, _) = boot_area(m.memory().layout().ram_size);
    let mut s = CpuState::real_mode(0, 0);
    s.gdtr = write_gdt(m, area + GDT_OFFSET, false)?;
    s.cr0 = ctl::CR0_PE | ctl::CR0_ET | ctl::CR0_NE;
    s.cs = Segment::flat(CODE32_SELECTOR, CODE32);
    let data = Segment::flat(DATA_SELECTOR, DATA);
    (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
    s.rip = entry;
    s.idtr = DescriptorTable { base: 0, limit: 0 };
    Ok(s)
}

/// 64-bit mode at CPL 0 (or, with `user`, CPL 3 and IOPL 3) with the low 4 GiB
/// identity-mapped, page tables and GDT in the boot area.
fn long_state(m: &mut dyn Machine, entry: u64, user: bool) -> Result<CpuState> {
    let ram = m.memory().layout().ram_size;
    let (area, _) = boot_area(ram);
    let pml4 = area;
    let pdpt = area + 0x1000;
    let pd = area + 0x2000; // four page directories, one per GiB
    let gdt_at = area + GDT_OFFSET;
    const LARGE: u64 = 0x80;
    // Present, writable, and with `user` accessible at CPL 3 (U/S must be set at every level).
    let present_rw: u64 = if user { 0x7 } else { 0x3 };
    let mem = m.memory_mut();
    mem.load(pml4, &(pdpt | present_rw).to_le_bytes())?;
    for g in 0..4u64 {
        mem.load(
            pdpt + g * 8,
            &((pd + g * 0x1000) | present_rw).to_le_bytes(),
        )?;
        let entries: Vec<u8> = (0..512u64)
            .flat_map(|i| (((g << 30) | (i << 21)) | present_rw | LARGE).to_le_bytes())
            .collect();
        mem.load(pd + g * 0x1000, &entries)?;
    }
    let gdtr = write_gdt(m, gdt_at, user)?;
    let mut s = CpuState::real_mode(0, 0);
    s.cr0 = ctl::CR0_PE | ctl::CR0_ET | ctl::CR0_NE | ctl::CR0_WP | ctl::CR0_PG;
    s.cr3 = pml4;
    s.cr4 = ctl::CR4_PAE;
    s.efer = ctl::EFER_LME | ctl::EFER_LMA;
    let (cs, data) = if user {
        (
            Segment::flat(USER_CODE64_SELECTOR | 3, CODE64 | attr::DPL),
            Segment::flat(USER_DATA_SELECTOR | 3, DATA | attr::DPL),
        )
    } else {
        (
            Segment::flat(CODE64_SELECTOR, CODE64),
            Segment::flat(DATA_SELECTOR, DATA),
        )
    };
    s.cs = cs;
    (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
    if user {
        s.rflags |= 3 << 12; // IOPL 3: IN, OUT, CLI and STI allowed at CPL 3
    }
    s.gdtr = gdtr;
    s.idtr = DescriptorTable { base: 0, limit: 0 };
    s.rip = entry;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_pack_like_the_manual_examples() {
        // The classic flat descriptors: 0x00af9b000000ffff (64-bit code, accessed),
        // 0x00cf93000000ffff (data), 0x00cf9b000000ffff (32-bit code).
        assert_eq!(descriptor(0, 0xfffff, CODE64), 0x00af_9b00_0000_ffff);
        assert_eq!(descriptor(0, 0xfffff, DATA), 0x00cf_9300_0000_ffff);
        assert_eq!(descriptor(0, 0xfffff, CODE32), 0x00cf_9b00_0000_ffff);
    }
}
