//! "Why did this happen": an instruction's bytes broken into their parts, its operands with
//! their values, and for each status flag a step changed, the rule that set it (from the
//! SDM's "Flags Affected", by instruction family).

use iced_x86::{ConstantOffsets, Instruction, Mnemonic, OpKind, Register};
use x86lab_emulator::state::CpuState;

/// An instruction explained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Explained {
    pub addr: u64,
    pub text: String,
    /// (part, bytes in hex): prefixes, REX or VEX, opcode, ModRM, SIB, displacement, immediate.
    pub parts: Vec<(String, String)>,
    /// Each operand and its value before the instruction.
    pub operands: Vec<String>,
    /// For each status flag the step changed (or the instruction sets): flag, before,
    /// after, the rule.
    pub flags: Vec<(String, u8, u8, String)>,
}

fn is_legacy_prefix(b: u8) -> bool {
    matches!(
        b,
        0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0x66 | 0x67
    )
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parts of an instruction's bytes.
pub fn parts(
    i: &Instruction,
    bytes: &[u8],
    offsets: &ConstantOffsets,
    bits: u32,
) -> Vec<(String, String)> {
    let bytes = &bytes[..i.len().min(bytes.len())];
    let mut out = Vec::new();
    let mut k = 0;
    while k < bytes.len() && is_legacy_prefix(bytes[k]) {
        k += 1;
    }
    if k > 0 {
        out.push(("prefixes".to_string(), hex(&bytes[..k])));
    }
    if bits == 64 && k < bytes.len() && (0x40..0x50).contains(&bytes[k]) {
        out.push(("REX".to_string(), hex(&bytes[k..k + 1])));
        k += 1;
    }
    let op = i.code().op_code();
    let vex_len = match op.encoding() {
        iced_x86::EncodingKind::VEX => Some(if bytes.get(k) == Some(&0xc5) { 2 } else { 3 }),
        iced_x86::EncodingKind::XOP => Some(3),
        iced_x86::EncodingKind::EVEX => Some(4),
        _ => None,
    };
    if let Some(n) = vex_len {
        let end = (k + n).min(bytes.len());
        out.push(("VEX/EVEX/XOP prefix".to_string(), hex(&bytes[k..end])));
        k = end;
    }
    // Opcode: the map escapes (legacy only) and the opcode bytes.
    let map = match (vex_len, op.table()) {
        (None, iced_x86::OpCodeTableKind::T0F) => 1,
        (None, iced_x86::OpCodeTableKind::T0F38 | iced_x86::OpCodeTableKind::T0F3A) => 2,
        _ => 0,
    };
    let tail_start = [offsets.displacement_offset(), offsets.immediate_offset()]
        .into_iter()
        .zip([offsets.has_displacement(), offsets.has_immediate()])
        .filter(|(_, has)| *has)
        .map(|(o, _)| o)
        .min()
        .unwrap_or(bytes.len());
    let opcode_end = (k + map + op.op_code_len() as usize).min(tail_start);
    if opcode_end > k {
        out.push(("opcode".to_string(), hex(&bytes[k..opcode_end])));
        k = opcode_end;
    }
    if k < tail_start {
        let modrm = bytes[k];
        out.push((
            format!(
                "ModRM (mod {}, reg {}, rm {})",
                modrm >> 6,
                modrm >> 3 & 7,
                modrm & 7
            ),
            format!("{modrm:02x}"),
        ));
        k += 1;
        // A SIB byte follows when the ModRM says so (rm = 100b with a memory operand).
        let addressing16 = i.memory_base().is_gpr16() || i.memory_index().is_gpr16();
        if k < tail_start && modrm >> 6 != 3 && modrm & 7 == 4 && !addressing16 {
            let sib = bytes[k];
            out.push((
                format!(
                    "SIB (scale {}, index {}, base {})",
                    1 << (sib >> 6),
                    sib >> 3 & 7,
                    sib & 7
                ),
                format!("{sib:02x}"),
            ));
        }
    }
    if offsets.has_displacement() {
        let (o, n) = (offsets.displacement_offset(), offsets.displacement_size());
        out.push(("displacement".to_string(), hex(&bytes[o..o + n])));
    }
    if offsets.has_immediate() {
        let (o, n) = (offsets.immediate_offset(), offsets.immediate_size());
        out.push(("immediate".to_string(), hex(&bytes[o..o + n])));
    }
    if offsets.has_immediate2() {
        let (o, n) = (offsets.immediate_offset2(), offsets.immediate_size2());
        out.push(("second immediate".to_string(), hex(&bytes[o..o + n])));
    }
    out
}

/// A register's value in a state (sub-registers included).
pub fn register_value(s: &CpuState, r: Register) -> Option<u64> {
    let full = r.full_register();
    let gprs = [
        Register::RAX,
        Register::RCX,
        Register::RDX,
        Register::RBX,
        Register::RSP,
        Register::RBP,
        Register::RSI,
        Register::RDI,
        Register::R8,
        Register::R9,
        Register::R10,
        Register::R11,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ];
    if let Some(k) = gprs.iter().position(|&g| g == full) {
        let v = s.gpr[k];
        return Some(match r.size() {
            1 if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) => {
                v >> 8 & 0xff
            }
            1 => v & 0xff,
            2 => v & 0xffff,
            4 => v & 0xffff_ffff,
            _ => v,
        });
    }
    let seg = [
        Register::ES,
        Register::CS,
        Register::SS,
        Register::DS,
        Register::FS,
        Register::GS,
    ];
    if let Some(k) = seg.iter().position(|&g| g == r) {
        return Some(u64::from(s.seg(k).selector));
    }
    None
}

/// The operands of `i` with their values in `s`.
pub fn operands(i: &Instruction, s: &CpuState) -> Vec<String> {
    let mut out = Vec::new();
    for op in 0..i.op_count() {
        let text = match i.op_kind(op) {
            OpKind::Register => {
                let r = i.op_register(op);
                match register_value(s, r) {
                    Some(v) => format!("{} = {v:#x}", format!("{r:?}").to_lowercase()),
                    None => format!("{r:?}").to_lowercase(),
                }
            }
            OpKind::Memory => {
                let seg_base = |r: Register| -> u64 {
                    let seg = [
                        Register::ES,
                        Register::CS,
                        Register::SS,
                        Register::DS,
                        Register::FS,
                        Register::GS,
                    ];
                    seg.iter()
                        .position(|&g| g == r)
                        .map_or(0, |k| s.seg(k).base)
                };
                let ea = i.virtual_address(op, 0, |r, _, _| {
                    if r.is_segment_register() {
                        Some(seg_base(r))
                    } else {
                        register_value(s, r)
                    }
                });
                match ea {
                    Some(a) => {
                        format!("memory at linear {a:#x} ({} bytes)", i.memory_size().size())
                    }
                    None => "memory".into(),
                }
            }
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                format!("target {:#x}", i.near_branch_target())
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => format!(
                "target {:04x}:{:x}",
                i.far_branch_selector(),
                if i.op_kind(op) == OpKind::FarBranch16 {
                    u64::from(i.far_branch16())
                } else {
                    u64::from(i.far_branch32())
                }
            ),
            k if format!("{k:?}").starts_with("Immediate") => {
                format!("immediate {:#x}", i.immediate(op))
            }
            k => format!("{k:?}"),
        };
        out.push(text);
    }
    out
}

/// The rule the SDM gives for a status flag after an instruction family.
pub fn flag_rule(m: Mnemonic, flag: &str) -> String {
    use Mnemonic as M;
    let arith = matches!(
        m,
        M::Add
            | M::Adc
            | M::Sub
            | M::Sbb
            | M::Cmp
            | M::Neg
            | M::Inc
            | M::Dec
            | M::Xadd
            | M::Cmpxchg
    );
    let logic = matches!(m, M::And | M::Or | M::Xor | M::Test | M::Andn);
    let shift = matches!(
        m,
        M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shld | M::Shrd
    );
    let common = match flag {
        "ZF" => Some("ZF = 1 when the result is 0"),
        "SF" => Some("SF = the result's top bit (its sign)"),
        "PF" => Some("PF = 1 when the result's low byte has an even number of 1 bits"),
        _ => None,
    };
    match (flag, arith, logic, shift) {
        ("CF", true, ..) if matches!(m, M::Sub | M::Sbb | M::Cmp | M::Neg | M::Cmpxchg) => {
            "CF = 1 when the subtraction borrows: the first operand is smaller, unsigned".into()
        }
        ("CF", true, ..) => "CF = 1 when the sum carries out of the top bit (an unsigned overflow)".into(),
        ("OF", true, ..) => "OF = 1 when the signed result does not fit: the operands' signs predict another sign than the result's".into(),
        ("AF", true, ..) => "AF = 1 when bit 3 carries into, or borrows from, bit 4 (for BCD)".into(),
        ("CF" | "OF", _, true, _) => format!("{flag} = 0 always after {m:?}").to_uppercase(),
        ("CF", _, _, true) => "CF = the last bit shifted or rotated out".into(),
        ("OF", _, _, true) => "OF (shifts by 1): 1 when the top bit changed; undefined for other counts".into(),
        _ => common.map_or_else(
            || format!("{flag}: see the SDM's \"Flags Affected\" for {m:?}").to_uppercase(),
            str::to_string,
        ),
    }
}

/// The status flags that differ between two states, or that `i` writes, with their rules.
pub fn flags(
    i: &Instruction,
    before: &CpuState,
    after: &CpuState,
) -> Vec<(String, u8, u8, String)> {
    let written = i.rflags_modified();
    let names = [
        ("CF", 0, iced_x86::RflagsBits::CF),
        ("PF", 2, iced_x86::RflagsBits::PF),
        ("AF", 4, iced_x86::RflagsBits::AF),
        ("ZF", 6, iced_x86::RflagsBits::ZF),
        ("SF", 7, iced_x86::RflagsBits::SF),
        ("OF", 11, iced_x86::RflagsBits::OF),
    ];
    let undefined = i.rflags_undefined();
    names
        .iter()
        .filter(|(_, _, b)| written & b != 0)
        .map(|(n, bit, b)| {
            let (x, y) = (
                (before.rflags >> bit & 1) as u8,
                (after.rflags >> bit & 1) as u8,
            );
            let rule = if undefined & b != 0 {
                format!(
                    "{n} is undefined after {:?} (the SDM promises nothing)",
                    i.mnemonic()
                )
                .to_uppercase()
            } else {
                flag_rule(i.mnemonic(), n)
            };
            (n.to_string(), x, y, rule)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    #[test]
    fn bytes_break_into_prefix_opcode_modrm_sib_displacement_immediate() {
        // 66 81 44 8b 10 34 12: add word [ebx+ecx*4+0x10], 0x1234 (32-bit code).
        let bytes = [0x66, 0x81, 0x44, 0x8b, 0x10, 0x34, 0x12];
        let mut d = Decoder::with_ip(32, &bytes, 0, DecoderOptions::NONE);
        let i = d.decode();
        let p = parts(&i, &bytes, &d.get_constant_offsets(&i), 32);
        let names: Vec<&str> = p
            .iter()
            .map(|(n, _)| n.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "prefixes",
                "opcode",
                "ModRM",
                "SIB",
                "displacement",
                "immediate"
            ]
        );
        assert_eq!(p[2].0, "ModRM (mod 1, reg 0, rm 4)");
        assert_eq!(p[3].0, "SIB (scale 4, index 1, base 3)");
        assert_eq!(p[5].1, "34 12");
    }
}
