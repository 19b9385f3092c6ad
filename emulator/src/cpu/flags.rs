//! The arithmetic flag rules, and the conditions that test them.
//!
//! Every flag the manuals define is computed exactly. For flags the manuals leave undefined,
//! this CPU makes one documented choice per instruction family:
//!
//! | instructions | undefined flags | this CPU |
//! | --- | --- | --- |
//! | AND OR XOR TEST | AF | cleared |
//! | SHL SHR SAR, count > 1 | OF | computed as for a count of 1 (from the last shift) |
//! | SHL SHR SAR, count ≠ 0 | AF | cleared |
//! | ROL ROR RCL RCR, count > 1 | OF | computed as for a count of 1 |
//! | SHLD SHRD, count > 1 | OF | computed as for a count of 1 |
//! | SHLD SHRD, 16-bit, count > 16 | result and all flags | as Intel: shifted through the 48-bit dst:src:dst; AF cleared |
//! | SHLD SHRD, count ≠ 0 | AF | cleared |
//! | MUL IMUL | SF ZF AF PF | SF, ZF, PF from the low half of the result, AF cleared |
//! | DIV IDIV | CF OF SF ZF AF PF | unchanged |
//! | BT BTS BTR BTC | OF SF AF PF | unchanged |
//! | BSF BSR | CF OF SF AF PF | unchanged (destination unchanged for a zero source, as AMD documents) |
//! | DAA DAS | OF | cleared |
//! | AAA AAS | OF SF ZF PF | OF cleared; SF ZF PF from AL |
//! | AAM AAD | OF AF CF | cleared |
//! | BZHI BEXTR ANDN BLS* | AF PF (SF for BEXTR) | cleared |
//! | LZCNT TZCNT | OF SF AF PF | unchanged |
//! | RCL RCR, count a multiple of size + 1 | OF | computed from the unchanged value |

use crate::state::flags::{AF, CF, OF, PF, SF, ZF};

use super::operand::mask;

/// The sign bit of an operand of `size` bytes.
#[inline(always)]
pub(crate) fn sign_bit(size: u32) -> u64 {
    1u64 << (size * 8 - 1)
}

/// PF: set when the low byte of the result has an even number of one bits.
#[inline(always)]
pub(crate) fn parity(r: u64) -> u64 {
    // Fold the byte to a nibble (same parity), then look the nibble up in a 16-bit table
    // whose bit n is set when n has an even number of one bits.
    let b = r as u8;
    let n = (b ^ (b >> 4)) & 0xf;
    ((0x9669u64 >> n) & 1) * PF
}

/// SF, ZF and PF of a result of `size` bytes.
#[inline(always)]
pub(crate) fn szp(r: u64, size: u32) -> u64 {
    let r = r & mask(size);
    let mut f = parity(r);
    if r == 0 {
        f |= ZF;
    }
    if r & sign_bit(size) != 0 {
        f |= SF;
    }
    f
}

/// Result and status flags of `a + b + carry`.
#[inline(always)]
pub(crate) fn add(a: u64, b: u64, carry: bool, size: u32) -> (u64, u64) {
    let m = mask(size);
    let wide = u128::from(a & m) + u128::from(b & m) + u128::from(carry);
    let r = (wide as u64) & m;
    let mut f = szp(r, size);
    if wide >> (size * 8) != 0 {
        f |= CF;
    }
    if (a ^ r) & (b ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// Result and status flags of `a - b - borrow`.
#[inline(always)]
pub(crate) fn sub(a: u64, b: u64, borrow: bool, size: u32) -> (u64, u64) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(u64::from(borrow)) & m;
    let mut f = szp(r, size);
    if u128::from(a) < u128::from(b) + u128::from(borrow) {
        f |= CF;
    }
    if (a ^ b) & (a ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// Status flags of a logical result: CF = OF = 0, AF cleared (undefined).
#[inline(always)]
pub(crate) fn logic(r: u64, size: u32) -> u64 {
    szp(r, size)
}

/// Whether `m` is one of the sixteen CMOVcc.
pub(crate) fn is_cmovcc(m: iced_x86::Mnemonic) -> bool {
    use iced_x86::Mnemonic as M;
    matches!(
        m,
        M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg
    )
}

/// Whether `m` is one of the sixteen SETcc.
pub(crate) fn is_setcc(m: iced_x86::Mnemonic) -> bool {
    use iced_x86::Mnemonic as M;
    matches!(
        m,
        M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
    )
}

/// Evaluates a condition code (the low four bits of a Jcc/SETcc/CMOVcc opcode).
#[inline(always)]
pub(crate) fn condition(cc: u8, rflags: u64) -> bool {
    let f = |bit: u64| rflags & bit != 0;
    let r = match cc >> 1 {
        0 => f(OF),
        1 => f(CF),
        2 => f(ZF),
        3 => f(CF) || f(ZF),
        4 => f(SF),
        5 => f(PF),
        6 => f(SF) != f(OF),
        _ => f(ZF) || (f(SF) != f(OF)),
    };
    r != (cc & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values worked out from the SDM's definitions of the status flags.
    #[test]
    fn add_sets_carry_overflow_and_adjust() {
        assert_eq!(add(0xff, 1, false, 1), (0, CF | ZF | PF | AF));
        assert_eq!(add(0x7f, 1, false, 1), (0x80, OF | SF | AF));
        assert_eq!(
            add(0x7fff_ffff, 0, true, 4),
            (0x8000_0000, OF | SF | PF | AF)
        );
        assert_eq!(
            add(u64::MAX, u64::MAX, true, 8),
            (u64::MAX, CF | SF | PF | AF)
        );
    }

    #[test]
    fn sub_sets_borrow_and_signed_overflow() {
        assert_eq!(sub(0, 1, false, 2), (0xffff, CF | SF | PF | AF));
        assert_eq!(sub(0x8000, 1, false, 2), (0x7fff, OF | PF | AF));
        assert_eq!(sub(5, 5, false, 8), (0, ZF | PF));
        assert_eq!(sub(0, 0, true, 1), (0xff, CF | SF | PF | AF));
    }

    #[test]
    fn conditions_follow_the_opcode_table() {
        // 0x4 = E/Z, 0x5 = NE, 0xC = L, 0xF = G
        assert!(condition(0x4, ZF));
        assert!(!condition(0x5, ZF));
        assert!(condition(0xc, SF));
        assert!(!condition(0xc, SF | OF));
        assert!(condition(0xf, 0));
        assert!(!condition(0xf, ZF));
        assert!(condition(0x6, CF)); // BE
        assert!(condition(0xb, 0)); // NP
    }
}
