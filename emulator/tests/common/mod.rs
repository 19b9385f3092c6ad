//! Machines for the emulator's integration tests.

use x86lab_emulator::state::{attr, ctl, reg};
use x86lab_emulator::{Cpu, CpuState, Machine, MemoryLayout, Segment};

/// Where test code is placed.
pub const CODE: u64 = 0x1_0000;

/// A 2 MiB machine in 64-bit mode at CPL 0 at [`CODE`], the first GiB identity-mapped by a
/// 1 GiB page (PML4 at 0x1000, PDPT at 0x2000), RSP = 0x8000.
pub fn long_mode(code: &[u8]) -> Cpu {
    let mut cpu = Cpu::new(MemoryLayout {
        ram_size: 2 << 20,
        rom_size: 4096,
    })
    .unwrap();
    let m = cpu.memory_mut();
    m.load(0x1000, &0x2003u64.to_le_bytes()).unwrap();
    m.load(0x2000, &0x83u64.to_le_bytes()).unwrap();
    m.load(CODE, code).unwrap();
    let mut s = CpuState::real_mode(0, 0);
    let data = Segment::flat(0x10, attr::REAL_DATA | attr::DB | attr::G);
    (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
    s.cs = Segment::flat(
        0x8,
        attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED | attr::G | attr::L,
    );
    s.cr0 = ctl::CR0_PE | ctl::CR0_ET | ctl::CR0_PG;
    s.cr3 = 0x1000;
    s.cr4 = ctl::CR4_PAE;
    s.efer = ctl::EFER_LME | ctl::EFER_LMA;
    s.gdtr.limit = 0x17;
    s.rip = CODE;
    s.gpr[reg::RSP] = 0x8000;
    cpu.set_state(&s).unwrap();
    cpu
}
