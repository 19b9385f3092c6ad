//! Guest code can do anything; the host must never panic. Random bytes executed in every
//! mode, with random registers and flags, must only ever produce events.
//!
//! The test profile keeps overflow checks on, so an arithmetic slip in an instruction
//! (a shift by the operand width, a size of zero) shows up here as a panic.

use proptest::prelude::*;
use x86lab_emulator::state::{attr, ctl, reg};
use x86lab_emulator::{Cpu, CpuState, Event, Limit, Machine, MemoryLayout, RunLimits, Segment};

const CODE: u64 = 0x1_0000;

fn machine(mode: u8, gprs: [u64; 16], rflags: u64, seg: u16) -> Cpu {
    let mut cpu = Cpu::new(MemoryLayout {
        ram_size: 2 << 20,
        rom_size: 4096,
    })
    .unwrap();
    let mut s = CpuState::real_mode(0, CODE as u16);
    s.gpr = gprs;
    s.rflags = rflags;
    match mode {
        0 => {
            s.cs = Segment::real(0x1000, attr::REAL_CODE);
            s.rip = 0;
            s.ds = Segment::real(seg, attr::REAL_DATA);
            s.ss = Segment::real(seg.rotate_left(3), attr::REAL_DATA);
        }
        _ => {
            let code_attr = attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED | attr::G;
            let data = Segment::flat(0x10, attr::REAL_DATA | attr::DB | attr::G);
            (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
            s.cr0 = ctl::CR0_PE | ctl::CR0_ET;
            s.rip = CODE;
            s.gdtr.limit = 0x17;
            if mode == 1 {
                s.cs = Segment::flat(0x8, code_attr | attr::DB);
            } else {
                // 1 GiB identity page: PML4 at 0x1000, PDPT at 0x2000.
                let m = cpu.memory_mut();
                m.load(0x1000, &(0x2003u64).to_le_bytes()).unwrap();
                m.load(0x2000, &(0x83u64).to_le_bytes()).unwrap();
                s.cs = Segment::flat(0x8, code_attr | attr::L);
                s.cr0 |= ctl::CR0_PG;
                s.cr3 = 0x1000;
                s.cr4 = ctl::CR4_PAE;
                s.efer = ctl::EFER_LME | ctl::EFER_LMA;
            }
        }
    }
    s.gpr[reg::RSP] = 0x8000 + (gprs[reg::RSP] & 0xff);
    cpu.set_state(&s).unwrap();
    cpu
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_code_only_produces_events(
        code in proptest::collection::vec(any::<u8>(), 1..48),
        gprs in proptest::array::uniform16(prop_oneof![any::<u64>(), 0..0x20u64, Just(u64::MAX)]),
        rflags in any::<u64>(),
        mode in 0u8..3,
        seg in any::<u16>(),
    ) {
        let mut cpu = machine(mode, gprs, rflags & 0x3f_7fd7 | 2, seg);
        cpu.memory_mut().load(CODE, &code).unwrap();
        // When a run stops (a fault this build cannot deliver, a halt, a shutdown), move
        // past the byte and go on, so every offset of the random code gets decoded.
        for _ in 0..24 {
            let limits = RunLimits { max_instructions: Some(64), ..RunLimits::default() };
            let ev = cpu.run(&limits).unwrap();
            if ev != Event::LimitReached(Limit::Instructions) {
                let mut st = cpu.state().unwrap();
                st.rip = st.rip.wrapping_add(1) & 0xffff_ffff;
                cpu.set_state(&st).unwrap();
            }
            cpu.step().unwrap();
        }
        let s = cpu.state().unwrap();
        prop_assert_eq!(s.rflags & 2, 2);
    }
}
