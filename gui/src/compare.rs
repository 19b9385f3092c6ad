//! Comparing a step of the software CPU with the same step on the processor (KVM): which
//! registers differ, and why some differences are not divergences (flags the SDM leaves
//! undefined for the instruction, per iced-x86's instruction information; CPUID and the
//! time-stamp counter, which each backend answers for itself).

use iced_x86::{Instruction, Mnemonic, RflagsBits};
use x86lab_emulator::state::CpuState;

/// One difference between the two machines after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub what: String,
    pub emulator: String,
    pub processor: String,
    /// Why this is not a divergence, when it is not.
    pub expected: Option<String>,
}

/// The RFLAGS bits the SDM leaves undefined after `i`.
pub fn undefined_flags(i: &Instruction) -> u64 {
    let u = i.rflags_undefined();
    [
        (RflagsBits::OF, 1u64 << 11),
        (RflagsBits::SF, 1 << 7),
        (RflagsBits::ZF, 1 << 6),
        (RflagsBits::AF, 1 << 4),
        (RflagsBits::PF, 1 << 2),
        (RflagsBits::CF, 1),
    ]
    .iter()
    .filter(|(b, _)| u & b != 0)
    .fold(0, |m, (_, f)| m | f)
}

fn flag_names(bits: u64) -> String {
    let names: Vec<&str> = crate::panels::registers::FLAGS
        .iter()
        .filter(|(b, ..)| bits >> b & 1 != 0)
        .map(|(_, n, _)| *n)
        .collect();
    names.join(" ")
}

/// The differences after executing `i` on both machines (from the same state).
pub fn diff(i: Option<&Instruction>, emu: &CpuState, hw: &CpuState) -> Vec<Diff> {
    let mut out = Vec::new();
    let mnemonic = i.map(|i| i.mnemonic());
    let per_cpu = match mnemonic {
        Some(Mnemonic::Cpuid) => Some("CPUID describes each backend's own processor"),
        Some(Mnemonic::Rdtsc | Mnemonic::Rdtscp) => Some("the software CPU's time-stamp counter counts instructions; the processor's counts time"),
        _ => None,
    };
    const NAMES: [&str; 16] = [
        "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12",
        "R13", "R14", "R15",
    ];
    for (k, name) in NAMES.iter().enumerate() {
        if emu.gpr[k] != hw.gpr[k] {
            out.push(Diff {
                what: name.to_string(),
                emulator: format!("{:x}", emu.gpr[k]),
                processor: format!("{:x}", hw.gpr[k]),
                expected: per_cpu.map(str::to_string),
            });
        }
    }
    if emu.rip != hw.rip {
        out.push(Diff {
            what: "RIP".into(),
            emulator: format!("{:x}", emu.rip),
            processor: format!("{:x}", hw.rip),
            expected: None,
        });
    }
    let flags = emu.rflags ^ hw.rflags;
    if flags != 0 {
        let undefined = i.map_or(0, undefined_flags);
        let real = flags & !undefined;
        let loose = flags & undefined;
        if real != 0 {
            out.push(Diff {
                what: format!("RFLAGS ({})", flag_names(real)),
                emulator: format!("{:x}", emu.rflags),
                processor: format!("{:x}", hw.rflags),
                expected: None,
            });
        }
        if loose != 0 {
            out.push(Diff {
                what: format!("RFLAGS ({})", flag_names(loose)),
                emulator: format!("{:x}", emu.rflags),
                processor: format!("{:x}", hw.rflags),
                expected: Some(format!(
                    "the SDM leaves {} undefined after {}",
                    flag_names(loose),
                    mnemonic.map_or("this instruction".into(), |m| format!("{m:?}")
                        .to_uppercase())
                )),
            });
        }
    }
    for (k, name) in ["ES", "CS", "SS", "DS", "FS", "GS"].iter().enumerate() {
        let (a, b) = (emu.seg(k), hw.seg(k));
        if a.selector != b.selector || a.base != b.base {
            out.push(Diff {
                what: name.to_string(),
                emulator: format!("{:04x} base {:x}", a.selector, a.base),
                processor: format!("{:04x} base {:x}", b.selector, b.base),
                expected: None,
            });
        }
    }
    for (name, a, b) in [
        ("CR0", emu.cr0, hw.cr0),
        ("CR2", emu.cr2, hw.cr2),
        ("CR3", emu.cr3, hw.cr3),
        ("CR4", emu.cr4, hw.cr4),
        ("EFER", emu.efer, hw.efer),
    ] {
        if a != b {
            out.push(Diff {
                what: name.into(),
                emulator: format!("{a:x}"),
                processor: format!("{b:x}"),
                expected: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    #[test]
    fn undefined_flags_come_from_iced_and_are_not_divergences() {
        // MUL: SF, ZF, AF, PF undefined (SDM Vol. 2, MUL, "Flags Affected").
        let i = Decoder::with_ip(16, &[0xf6, 0xe3], 0, DecoderOptions::NONE).decode();
        assert_eq!(
            undefined_flags(&i),
            (1 << 7) | (1 << 6) | (1 << 4) | (1 << 2)
        );
        let a = CpuState::reset();
        let mut b = a.clone();
        b.rflags ^= 1 << 6; // ZF
        let d = diff(Some(&i), &a, &b);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].expected.as_deref().is_some_and(|e| e.contains("ZF")),
            "{d:?}"
        );
        b.rflags ^= 1; // CF is defined after MUL
        let d = diff(Some(&i), &a, &b);
        assert!(
            d.iter()
                .any(|x| x.expected.is_none() && x.what.contains("CF")),
            "{d:?}"
        );
    }
}
