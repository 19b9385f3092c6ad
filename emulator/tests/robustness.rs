//! Guest code can do anything; the host must never panic. Random bytes executed in every
//! mode, with random registers and flags, must only ever produce events.
//!
//! The test profile keeps overflow checks on, so an arithmetic slip in an instruction
//! (a shift by the operand width, a size of zero) shows up here as a panic.

mod common;

use proptest::prelude::*;
use x86lab_emulator::state::{attr, ctl, reg};
use x86lab_emulator::{Cpu, CpuState, Event, Limit, Machine, RunLimits, Segment};

use common::CODE;

/// A machine in real mode (random DS and SS), 32-bit protected mode or 64-bit mode.
fn machine(mode: u8, gprs: [u64; 16], rflags: u64, seg: u16) -> Cpu {
    let mut cpu = common::long_mode(&[]);
    let mut s = cpu.state().unwrap();
    s.gpr = gprs;
    s.rflags = rflags;
    match mode {
        0 => {
            s = CpuState {
                gpr: gprs,
                rflags,
                ..CpuState::real_mode(0x1000, 0)
            };
            s.ds = Segment::real(seg, attr::REAL_DATA);
            s.ss = Segment::real(seg.rotate_left(3), attr::REAL_DATA);
        }
        1 => {
            s.cr0 &= !ctl::CR0_PG;
            s.efer = 0;
            s.cs.attributes = (s.cs.attributes & !attr::L) | attr::DB;
        }
        _ => {}
    }
    s.gpr[reg::RSP] = 0x8000 + (gprs[reg::RSP] & 0xff);
    cpu.set_state(&s).unwrap();
    cpu
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Random bytes in the GDT, the IDT and the page tables, then code that uses them
    /// (segment loads, far transfers, software interrupts, exceptions, memory accesses):
    /// every outcome is an event.
    #[test]
    fn random_system_tables_only_produce_events(
        gdt in proptest::collection::vec(any::<u8>(), 8..96),
        idt in proptest::collection::vec(any::<u8>(), 0..512),
        pml4e in any::<u64>(),
        pdpte in prop_oneof![any::<u64>(), Just(0x83u64), Just(0x87u64)],
        code in proptest::collection::vec(any::<u8>(), 0..32),
        mode in 1u8..3,
        which in 0usize..6,
    ) {
        // Code that walks the tables; the random tail runs after it.
        let prologue: &[&[u8]] = &[
            &[0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8],       // mov ax, 0x10 ; mov ds, ax
            &[0xcd, 0x80],                               // int 0x80
            &[0x0f, 0x0b],                               // ud2
            &[0x31, 0xc9, 0xf7, 0xf1],                   // xor ecx, ecx ; div ecx
            &[0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40], // mov eax, [0x40000000]
            &[0xea, 0, 0, 0, 0, 0x18, 0x00],             // jmp far 0x18:0 (32-bit) / invalid
        ];
        let mut cpu = machine(mode, [0; 16], 2, 0);
        let mut all = prologue[which].to_vec();
        all.extend_from_slice(&code);
        cpu.memory_mut().load(CODE, &all).unwrap();
        cpu.memory_mut().load(0x5000, &gdt).unwrap();
        cpu.memory_mut().load(0x6000, &idt).unwrap();
        cpu.memory_mut().load(0x1008, &pml4e.to_le_bytes()).unwrap();
        cpu.memory_mut().load(0x2008, &pdpte.to_le_bytes()).unwrap();
        let mut s = cpu.state().unwrap();
        s.gdtr = x86lab_emulator::DescriptorTable { base: 0x5000, limit: (gdt.len() - 1) as u16 };
        s.idtr = x86lab_emulator::DescriptorTable { base: 0x6000, limit: idt.len().saturating_sub(1) as u16 };
        cpu.set_state(&s).unwrap();
        let ev = cpu.run(&RunLimits { max_instructions: Some(2_000), ..RunLimits::default() }).unwrap();
        prop_assert!(!matches!(ev, Event::Stepped), "{}", ev);
    }
}
