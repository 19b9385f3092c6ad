//! Instruction forms: every encoding (iced-x86 `Code`) of the mnemonics the software CPU
//! implements, and bytes that encode a random instance of one, built from iced-x86's own
//! opcode tables (`OpCodeInfo`), so that rare forms are drawn as often as common ones.

use iced_x86::{
    Code, EncodingKind, MandatoryPrefix, Mnemonic, OpCodeInfo, OpCodeOperandKind as K,
    OpCodeTableKind,
};

/// The forms of one mode, grouped by mnemonic (each mnemonic is drawn equally often).
pub struct Forms {
    pub by_mnemonic: Vec<(Mnemonic, Vec<Code>)>,
}

/// Operand kinds the generator can give values: general-purpose, segment, control and debug
/// registers, immediates, memory and branch targets (no x87, MMX, SSE, AVX, mask, bound or
/// tile registers, which the software CPU does not have).
fn usable(k: K) -> bool {
    matches!(
        k,
        K::None
            | K::farbr2_2
            | K::farbr4_2
            | K::mem_offs
            | K::mem
            | K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r64_or_mem
            | K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_reg_mem
            | K::r16_rm
            | K::r16_opcode
            | K::r32_reg
            | K::r32_reg_mem
            | K::r32_rm
            | K::r32_opcode
            | K::r32_vvvv
            | K::r64_reg
            | K::r64_reg_mem
            | K::r64_rm
            | K::r64_opcode
            | K::r64_vvvv
            | K::seg_reg
            | K::cr_reg
            | K::dr_reg
            | K::es
            | K::cs
            | K::ss
            | K::ds
            | K::fs
            | K::gs
            | K::al
            | K::cl
            | K::ax
            | K::dx
            | K::eax
            | K::rax
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
            | K::seg_rSI
            | K::es_rDI
            | K::seg_rDI
            | K::seg_rBX_al
            | K::br16_1
            | K::br32_1
            | K::br64_1
            | K::br16_2
            | K::br32_4
            | K::br64_4
    )
}

fn in_mode(oc: &OpCodeInfo, bits: u32) -> bool {
    match bits {
        16 => oc.mode16(),
        32 => oc.mode32(),
        _ => oc.mode64(),
    }
}

impl Forms {
    /// The forms encodable in a `bits`-bit code segment whose mnemonic `keep` accepts.
    pub fn new(bits: u32, keep: impl Fn(Mnemonic) -> bool) -> Forms {
        let mut by: std::collections::BTreeMap<Mnemonic, Vec<Code>> = Default::default();
        for code in Code::values() {
            let oc = code.op_code();
            if !oc.is_instruction()
                || !in_mode(oc, bits)
                || !matches!(oc.encoding(), EncodingKind::Legacy | EncodingKind::VEX)
                || oc.decoder_option() != 0
                || oc.fwait()
                || !oc.op_kinds().iter().all(|&k| usable(k))
                || !keep(code.mnemonic())
            {
                continue;
            }
            by.entry(code.mnemonic()).or_default().push(code);
        }
        Forms {
            by_mnemonic: by.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_mnemonic.is_empty()
    }
}

/// The operand kinds that a ModRM byte may make a memory operand.
const MODRM_MEMORY: &[K] = &[
    K::mem,
    K::r8_or_mem,
    K::r16_or_mem,
    K::r32_or_mem,
    K::r64_or_mem,
];

fn has(oc: &OpCodeInfo, kinds: &[K]) -> bool {
    oc.op_kinds().iter().any(|k| kinds.contains(k))
}

/// Bytes that encode an instance of `code` in a `bits`-bit code segment: the prefixes the
/// form needs, optional ones chosen by `knobs` (a segment override, LOCK, REP, the
/// address-size prefix, REX bits, VEX's ignored bits), the opcode with its ModRM group,
/// and `tail` for ModRM, SIB, displacement and immediates. The decoder may read the bytes
/// as a different form (say, a register where the form wants memory); callers check.
pub fn encode(code: Code, bits: u32, knobs: &[u8; 8], tail: &[u8]) -> Vec<u8> {
    let oc = code.op_code();
    let mut b = Vec::with_capacity(24);
    // FSTSW, FINIT...: the WAIT (9Bh) is part of the form.
    if oc.fwait() {
        b.push(0x9b);
    }
    // 3DNow!: 0F 0F, ModRM (a register form here), then the opcode as a suffix byte.
    if oc.encoding() == EncodingKind::D3NOW {
        b.extend_from_slice(&[0x0f, 0x0f, 0xc0 | tail.first().copied().unwrap_or(0) & 0x3f]);
        b.push(oc.op_code() as u8);
        return b;
    }
    let memory = has(oc, MODRM_MEMORY)
        || has(
            oc,
            &[
                K::seg_rSI,
                K::es_rDI,
                K::seg_rDI,
                K::seg_rBX_al,
                K::mem_offs,
            ],
        );
    if memory && knobs[0] & 7 == 0 {
        b.push([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65][usize::from(knobs[0] >> 3) % 6]);
    }
    let vex = matches!(
        oc.encoding(),
        EncodingKind::VEX | EncodingKind::EVEX | EncodingKind::XOP
    );
    if !vex && oc.can_use_lock_prefix() && knobs[1] & 3 == 0 {
        b.push(0xf0);
    }
    let wanted_address = match (bits, oc.address_size()) {
        (16, 32) | (32, 16) | (64, 32) => true,
        (_, 0) => memory && knobs[1] & 0x1c == 0,
        _ => false,
    };
    if wanted_address {
        b.push(0x67);
    }
    if oc.encoding() == EncodingKind::EVEX {
        encode_evex(oc, bits, knobs, &mut b);
    } else if oc.encoding() == EncodingKind::XOP {
        // XOP (AMD): VEX's three-byte layout behind 8Fh, with maps 8, 9 and 10.
        encode_vex(oc, bits, knobs, &mut b);
        let n = b.len();
        b[n - 3] = 0x8f;
        let map = match oc.table() {
            OpCodeTableKind::MAP9 => 9,
            OpCodeTableKind::MAP10 => 10,
            _ => 8,
        };
        b[n - 2] = (b[n - 2] & 0xe0) | map;
    } else if vex {
        encode_vex(oc, bits, knobs, &mut b);
    } else {
        let size16 = matches!((bits, oc.operand_size()), (16, 32) | (32, 16) | (64, 16));
        if size16 {
            b.push(0x66);
        }
        let mandatory = match oc.mandatory_prefix() {
            MandatoryPrefix::P66 => Some(0x66),
            MandatoryPrefix::PF3 => Some(0xf3),
            MandatoryPrefix::PF2 => Some(0xf2),
            _ => None,
        };
        match mandatory {
            Some(p) => b.push(p),
            None if (oc.can_use_rep_prefix() || oc.can_use_repne_prefix())
                && knobs[1] & 0x20 != 0 =>
            {
                b.push(if knobs[1] & 0x40 != 0 { 0xf2 } else { 0xf3 })
            }
            None => {}
        }
        if bits == 64 {
            let w = oc.operand_size() == 64 && !oc.default_op_size64() && !oc.force_op_size64()
                || oc.operand_size() == 64 && knobs[2] & 1 != 0;
            if w || knobs[2] & 2 != 0 {
                b.push(0x40 | if w { 8 } else { 0 } | (knobs[2] >> 2) & 7);
            }
        }
        match oc.table() {
            OpCodeTableKind::T0F => b.push(0x0f),
            OpCodeTableKind::T0F38 => b.extend_from_slice(&[0x0f, 0x38]),
            OpCodeTableKind::T0F3A => b.extend_from_slice(&[0x0f, 0x3a]),
            _ => {}
        }
    }
    let op = oc.op_code();
    let mut last = op as u8;
    if has(
        oc,
        &[K::r8_opcode, K::r16_opcode, K::r32_opcode, K::r64_opcode],
    ) {
        last |= knobs[3] & 7;
    }
    if oc.op_code_len() == 2 {
        b.push((op >> 8) as u8);
    }
    b.push(last);
    let modrm = oc.is_group()
        || has(oc, MODRM_MEMORY)
        || has(
            oc,
            &[
                K::r8_reg,
                K::r16_reg,
                K::r16_reg_mem,
                K::r16_rm,
                K::r32_reg,
                K::r32_reg_mem,
                K::r32_rm,
                K::r64_reg,
                K::r64_reg_mem,
                K::r64_rm,
                K::seg_reg,
                K::cr_reg,
                K::dr_reg,
            ],
        );
    let mut tail = tail.to_vec();
    if modrm && !tail.is_empty() {
        let mut m = tail[0];
        if has(oc, &[K::r16_rm, K::r32_rm, K::r64_rm]) {
            m |= 0xc0;
        } else if has(oc, &[K::mem]) {
            m = (m & 0x3f) | (((knobs[3] >> 3) % 3) << 6);
        }
        if oc.is_group() {
            m = (m & 0xc7) | (oc.group_index() as u8) << 3;
        }
        if oc.is_rm_group() {
            m = 0xc0 | (m & 0x38) | oc.rm_group_index() as u8;
        }
        tail[0] = m;
    }
    b.extend_from_slice(&tail);
    b
}

/// The EVEX prefix (62h P0 P1 P2) of an AVX-512 form: map, W, vvvv, pp, vector length,
/// and, from the knobs, the opmask, zeroing and the broadcast/rounding bit.
fn encode_evex(oc: &OpCodeInfo, bits: u32, knobs: &[u8; 8], b: &mut Vec<u8>) {
    let map = match oc.table() {
        OpCodeTableKind::T0F38 => 2,
        OpCodeTableKind::T0F3A => 3,
        OpCodeTableKind::MAP5 => 5,
        OpCodeTableKind::MAP6 => 6,
        _ => 1,
    };
    // R, X, B, R' and V' are stored inverted; outside 64-bit mode R and X must be 1 (else
    // the bytes are BOUND), and R' and V' too.
    let rxbr = if bits == 64 { knobs[4] & 0xf } else { 0 };
    let p0 = (!rxbr & 7) << 5 | (!(rxbr >> 3) & 1) << 4 | map;
    // vvvv (and V') name a register only in forms that have one there; else all ones.
    let has_vvvv = has(
        oc,
        &[
            K::r32_vvvv,
            K::r64_vvvv,
            K::k_vvvv,
            K::xmm_vvvv,
            K::xmmp3_vvvv,
            K::ymm_vvvv,
            K::zmm_vvvv,
            K::zmmp3_vvvv,
        ],
    );
    let vvvv = match (has_vvvv, bits) {
        (false, _) => 0,
        (true, 64) => knobs[4] >> 4,
        (true, _) => knobs[4] >> 4 & 7,
    };
    let w = if oc.is_wig() || (oc.is_wig32() && bits != 64) {
        knobs[5] & 1
    } else {
        oc.w() as u8
    };
    let pp = match oc.mandatory_prefix() {
        MandatoryPrefix::P66 => 1,
        MandatoryPrefix::PF3 => 2,
        MandatoryPrefix::PF2 => 3,
        _ => 0,
    };
    let p1 = w << 7 | (!vvvv & 0xf) << 3 | 4 | pp;
    let ll = if oc.is_lig() {
        knobs[5] >> 1 & 3
    } else {
        oc.l() as u8
    };
    let aaa = if oc.can_use_op_mask_register() {
        knobs[6] & 7 | u8::from(oc.require_op_mask_register())
    } else {
        0
    };
    let z = u8::from(oc.can_use_zeroing_masking() && aaa != 0 && knobs[6] & 8 != 0);
    let bit = u8::from(
        (oc.can_broadcast() || oc.can_use_rounding_control() || oc.can_suppress_all_exceptions())
            && knobs[6] & 0x10 != 0,
    );
    let v_high = if bits == 64 && has_vvvv {
        knobs[6] >> 5 & 1
    } else {
        0
    };
    let p2 = z << 7 | (ll & 3) << 5 | bit << 4 | (!v_high & 1) << 3 | aaa;
    b.extend_from_slice(&[0x62, p0, p1, p2]);
}

/// The three-byte VEX prefix (C4h) of a form, and its map.
fn encode_vex(oc: &OpCodeInfo, bits: u32, knobs: &[u8; 8], b: &mut Vec<u8>) {
    let map = match oc.table() {
        OpCodeTableKind::T0F38 => 2,
        OpCodeTableKind::T0F3A => 3,
        _ => 1,
    };
    // R, X, B and vvvv are stored inverted; outside 64-bit mode R and X must be 1 (else the
    // bytes are LES) and vvvv's top bit too.
    let rxb = if bits == 64 { knobs[4] & 7 } else { 0 };
    let b1 = (!rxb & 7) << 5 | map;
    let vvvv = if has(oc, &[K::r32_vvvv, K::r64_vvvv]) {
        if bits == 64 {
            knobs[4] >> 4
        } else {
            knobs[4] >> 4 & 7
        }
    } else {
        0
    };
    let w = if oc.is_wig() || (oc.is_wig32() && bits != 64) {
        knobs[5] & 1
    } else {
        oc.w() as u8
    };
    let l = if oc.is_lig() {
        knobs[5] >> 1 & 1
    } else {
        oc.l() as u8
    };
    let pp = match oc.mandatory_prefix() {
        MandatoryPrefix::P66 => 1,
        MandatoryPrefix::PF3 => 2,
        MandatoryPrefix::PF2 => 3,
        _ => 0,
    };
    b.extend_from_slice(&[0xc4, b1, w << 7 | (!vvvv & 0xf) << 3 | l << 2 | pp]);
}
