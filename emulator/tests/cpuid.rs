//! CPUID is an honest model: every feature it reports executes, and what it leaves out
//! (x87, SSE, RDRAND) raises #UD naming the instruction.

mod common;

use x86lab_emulator::state::reg;
use x86lab_emulator::{Cause, Event, Machine, Vector};

/// Runs one instruction in 64-bit mode (RSI = 0x4000, 16-byte aligned) and returns the event.
fn run_one(code: &[u8]) -> Event {
    let mut cpu = common::long_mode(code);
    // Stop at the exception (the test machine has no IDT to deliver it through).
    cpu.set_exception_intercept(true);
    let mut s = cpu.state().unwrap();
    s.gpr[reg::RSI] = 0x4000;
    cpu.set_state(&s).unwrap();
    cpu.step().unwrap()
}

fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    x86lab_emulator::cpu::cpuid(leaf, sub)
}

#[test]
fn every_reported_feature_executes() {
    let l1 = cpuid(1, 0);
    let l7 = cpuid(7, 0);
    let e1 = cpuid(0x8000_0001, 0);
    // (reported?, encoding, name)
    let features: [(bool, &[u8], &str); 9] = [
        (
            l1[2] & (1 << 13) != 0,
            &[0x48, 0x0f, 0xc7, 0x0e],
            "CX16: cmpxchg16b [rsi]",
        ),
        (
            l1[2] & (1 << 22) != 0,
            &[0x0f, 0x38, 0xf0, 0x06],
            "MOVBE: movbe eax, [rsi]",
        ),
        (
            l1[2] & (1 << 23) != 0,
            &[0xf3, 0x0f, 0xb8, 0xc3],
            "POPCNT: popcnt eax, ebx",
        ),
        (
            l7[1] & (1 << 3) != 0,
            &[0xc4, 0xe2, 0x60, 0xf2, 0xc1],
            "BMI1: andn eax, ebx, ecx",
        ),
        (
            l7[1] & (1 << 8) != 0,
            &[0xc4, 0xe2, 0x63, 0xf5, 0xc1],
            "BMI2: pdep eax, ebx, ecx",
        ),
        (
            l7[1] & (1 << 19) != 0,
            &[0x66, 0x0f, 0x38, 0xf6, 0xc3],
            "ADX: adcx eax, ebx",
        ),
        (
            e1[2] & (1 << 5) != 0,
            &[0xf3, 0x0f, 0xbd, 0xc3],
            "ABM: lzcnt eax, ebx",
        ),
        (e1[2] & 1 != 0, &[0x9f], "LAHF-SAHF: lahf in 64-bit mode"),
        (
            e1[3] & (1 << 27) != 0,
            &[0x0f, 0x01, 0xf9],
            "RDTSCP: rdtscp",
        ),
    ];
    for (reported, code, name) in features {
        assert!(reported, "{name} is implemented but not reported");
        assert_eq!(run_one(code), Event::Stepped, "{name}");
    }
}

#[test]
fn what_is_not_reported_raises_ud_naming_the_instruction() {
    let l1 = cpuid(1, 0);
    assert_eq!(l1[3] & 1, 0, "no x87 FPU");
    assert_eq!(l1[3] & (1 << 25 | 1 << 26), 0, "no SSE, SSE2");
    assert_eq!(l1[2] & (1 << 30), 0, "no RDRAND");
    for (code, name) in [
        (&[0x0f, 0x28, 0xc1][..], "movaps"),
        (&[0x0f, 0xc7, 0xf0][..], "rdrand"),
        (&[0xd9, 0xe8][..], "fld1"),
        // SSE2's MOVSD and CMPSD share their mnemonics with the string instructions
        // (found by the differential engine: the software CPU moved strings for them).
        (&[0xf2, 0x0f, 0x10, 0x06][..], "movsd xmm0"),
        (&[0xf2, 0x0f, 0xc2, 0xc1, 0x00][..], "cmpeqsd xmm0"),
    ] {
        match run_one(code) {
            Event::Intercepted(e) | Event::Exception(e) => {
                assert_eq!(e.vector, Vector::UD, "{name}");
                match e.cause {
                    Cause::Unimplemented { instruction } => {
                        assert!(instruction.contains(name), "{instruction}")
                    }
                    other => panic!("{name}: cause {other:?}"),
                }
            }
            other => panic!("{name}: {other}"),
        }
    }
}

#[test]
fn vendor_and_brand_strings() {
    let l0 = cpuid(0, 0);
    let vendor: Vec<u8> = [l0[1], l0[3], l0[2]]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    assert_eq!(&vendor, x86lab_emulator::cpu::VENDOR);
    assert!(l0[0] >= 7);
    let brand: Vec<u8> = (0x8000_0002..=0x8000_0004)
        .flat_map(|l| cpuid(l, 0))
        .flat_map(|r| r.to_le_bytes())
        .collect();
    assert!(String::from_utf8_lossy(&brand).starts_with("x86lab software CPU"));
}
