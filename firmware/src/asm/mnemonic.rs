//! NASM's instruction names and iced-x86's `Mnemonic`s: iced's own names, NASM's aliases
//! (`jz` for `je`, `sal` for `shl`, ...), and the names whose meaning depends on the mode
//! (`pushf` is `pushfd` in 32-bit code).

use std::collections::HashMap;
use std::sync::OnceLock;

use iced_x86::Mnemonic;

/// The spellings of each condition code (NASM accepts them all; iced-x86 names one).
const CONDITIONS: [&[&str]; 16] = [
    &["o"],
    &["no"],
    &["b", "c", "nae"],
    &["ae", "nb", "nc"],
    &["e", "z"],
    &["ne", "nz"],
    &["be", "na"],
    &["a", "nbe"],
    &["s"],
    &["ns"],
    &["p", "pe"],
    &["np", "po"],
    &["l", "nge"],
    &["ge", "nl"],
    &["le", "ng"],
    &["g", "nle"],
];

/// Instruction families with a condition code in their name: prefix and suffix.
const CONDITIONAL: [(&str, &str); 4] = [("j", ""), ("set", ""), ("cmov", ""), ("cmp", "xadd")];

/// Names that fix the operand size: (name, mnemonic, size).
const SIZED: [(&str, Mnemonic, u32); 17] = [
    ("pushaw", Mnemonic::Pusha, 16),
    ("popaw", Mnemonic::Popa, 16),
    ("pushfw", Mnemonic::Pushf, 16),
    ("popfw", Mnemonic::Popf, 16),
    ("iretw", Mnemonic::Iret, 16),
    ("retw", Mnemonic::Ret, 16),
    ("retd", Mnemonic::Ret, 32),
    ("retq", Mnemonic::Ret, 64),
    ("retnw", Mnemonic::Ret, 16),
    ("retnd", Mnemonic::Ret, 32),
    ("retnq", Mnemonic::Ret, 64),
    ("retfw", Mnemonic::Retf, 16),
    ("retfd", Mnemonic::Retf, 32),
    ("retfq", Mnemonic::Retf, 64),
    ("sysretd", Mnemonic::Sysret, 32),
    ("sysexitd", Mnemonic::Sysexit, 32),
    ("pushd", Mnemonic::Push, 32),
];

fn table() -> &'static HashMap<String, Mnemonic> {
    static MAP: OnceLock<HashMap<String, Mnemonic>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: HashMap<String, Mnemonic> = Mnemonic::values()
            .filter(|&x| x != Mnemonic::INVALID)
            .map(|x| (format!("{x:?}").to_ascii_lowercase(), x))
            .collect();
        for spellings in CONDITIONS {
            for (prefix, suffix) in CONDITIONAL {
                let named = spellings
                    .iter()
                    .find_map(|cc| m.get(&format!("{prefix}{cc}{suffix}")).copied());
                if let Some(x) = named {
                    for cc in spellings {
                        m.insert(format!("{prefix}{cc}{suffix}"), x);
                    }
                }
            }
        }
        for (alias, canonical) in [
            ("sal", "shl"),
            ("loopz", "loope"),
            ("loopnz", "loopne"),
            ("xlat", "xlatb"),
            ("fwait", "wait"),
            ("retn", "ret"),
            ("icebp", "int1"),
            ("int01", "int1"),
            ("int03", "int3"),
            ("ud2a", "ud2"),
            // NASM's name for 3DNow!'s PMULHRW (Cyrix's is `pmulhrwc`).
            ("pmulhrwa", "pmulhrw"),
        ] {
            let x = m[canonical];
            m.insert(alias.to_string(), x);
        }
        m
    })
}

/// Names whose instruction depends on the mode's operand size: (name, 16-, 32-, 64-bit).
const BY_MODE: [(&str, Mnemonic, Mnemonic, Mnemonic); 5] = [
    ("pushf", Mnemonic::Pushf, Mnemonic::Pushfd, Mnemonic::Pushfq),
    ("popf", Mnemonic::Popf, Mnemonic::Popfd, Mnemonic::Popfq),
    ("pusha", Mnemonic::Pusha, Mnemonic::Pushad, Mnemonic::Pusha),
    ("popa", Mnemonic::Popa, Mnemonic::Popad, Mnemonic::Popa),
    // NASM: `iret` in 64-bit code is IRETD (write `iretq` for the 64-bit frame).
    ("iret", Mnemonic::Iret, Mnemonic::Iretd, Mnemonic::Iretd),
];

/// The predicates of CMPPS/CMPPD/CMPSS/CMPSD (0..7) and of their VEX forms (0..31), as
/// the pseudo-instructions `cmpeqps`, `vcmpnge_uqsd`... name them.
const PREDICATES: [&str; 32] = [
    "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord", "eq_uq", "nge", "ngt", "false",
    "neq_oq", "ge", "gt", "true", "eq_os", "lt_oq", "le_oq", "unord_s", "neq_us", "nlt_uq",
    "nle_uq", "ord_s", "eq_us", "nge_uq", "ngt_uq", "false_os", "neq_os", "ge_oq", "gt_oq",
    "true_us",
];

/// PCLMULQDQ's pseudo-instructions and their immediates.
const CLMUL: [(&str, u8); 4] = [
    ("lqlq", 0x00),
    ("hqlq", 0x01),
    ("lqhq", 0x10),
    ("hqhq", 0x11),
];

/// A pseudo-instruction that is another instruction with an immediate last operand:
/// `cmpltps x, y` is `cmpps x, y, 1`, `pclmulhqlqdq x, y` is `pclmulqdq x, y, 1`.
pub fn pseudo(name: &str) -> Option<(Mnemonic, u8)> {
    let (vex, rest) = match name.strip_prefix('v') {
        Some(r) => (true, r),
        None => (false, name),
    };
    if let Some(body) = rest.strip_prefix("cmp") {
        for suffix in ["ps", "pd", "ss", "sd"] {
            if let Some(pred) = body.strip_suffix(suffix) {
                let n = PREDICATES.iter().position(|p| *p == pred)?;
                if n >= 8 && !vex {
                    return None;
                }
                let base = format!("{}cmp{suffix}", if vex { "v" } else { "" });
                return table().get(&base).map(|&m| (m, n as u8));
            }
        }
    }
    // AVX-512's VPCMP[U]B/W/D/Q: eq, lt, le, false, neq, nlt, nle, true.
    if let Some(body) = rest.strip_prefix("pcmp").filter(|_| vex) {
        for suffix in ["ub", "uw", "ud", "uq", "b", "w", "d", "q"] {
            if let Some(pred) = body.strip_suffix(suffix) {
                let n = match pred {
                    "false" => 3,
                    "true" => 7,
                    _ => PREDICATES[..8].iter().position(|p| *p == pred)?,
                };
                return table()
                    .get(&format!("vpcmp{suffix}"))
                    .map(|&m| (m, n as u8));
            }
        }
    }
    if let Some(body) = rest
        .strip_prefix("pclmul")
        .and_then(|b| b.strip_suffix("dq"))
    {
        let &(_, imm) = CLMUL.iter().find(|(k, _)| *k == body)?;
        let base = if vex { "vpclmulqdq" } else { "pclmulqdq" };
        return table().get(base).map(|&m| (m, imm));
    }
    None
}

/// Whether a (lower-case) name is an instruction.
pub fn known(name: &str) -> bool {
    table().contains_key(name)
        || SIZED.iter().any(|(n, ..)| *n == name)
        || pseudo(name).is_some()
        || hint_nop(name).is_some()
}

/// NASM's `hint_nop0`..`hint_nop63`: the NOP space 0F 18..1F with the ModRM reg field
/// (`n / 8` chooses the opcode, `n % 8` the reg field). Returns n.
pub fn hint_nop(name: &str) -> Option<u32> {
    name.strip_prefix("hint_nop")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n < 64)
}

/// A name that fixes the operand size (`retfq`, `pushaw`): its mnemonic and the size.
pub fn sized(name: &str) -> Option<(Mnemonic, u32)> {
    SIZED
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, m, size)| (m, size))
}

/// The mnemonic a name denotes in code of `bits`.
pub fn resolve(name: &str, bits: u32) -> Option<Mnemonic> {
    if let Some(&(_, m16, m32, m64)) = BY_MODE.iter().find(|(n, ..)| *n == name) {
        return Some(match bits {
            16 => m16,
            32 => m32,
            _ => m64,
        });
    }
    table().get(name).copied()
}

/// The known name closest to a misspelt one (edit distance 1, or a swap of neighbours).
pub fn suggest(name: &str) -> Option<String> {
    let mut best: Option<(usize, &String)> = None;
    for k in table().keys() {
        let d = distance(name, k);
        if d <= 2 && best.is_none_or(|(b, bk)| d < b || (d == b && k < bk)) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k.clone())
}

/// Damerau-Levenshtein distance (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_suggestions() {
        assert_eq!(pseudo("cmpltps"), Some((Mnemonic::Cmpps, 1)));
        assert_eq!(pseudo("vcmpnge_uqsd"), Some((Mnemonic::Vcmpsd, 25)));
        assert_eq!(pseudo("cmpge_oqps"), None);
        assert_eq!(pseudo("pclmulhqlqdq"), Some((Mnemonic::Pclmulqdq, 1)));
        assert_eq!(pseudo("vpcmpfalseub"), Some((Mnemonic::Vpcmpub, 3)));
        assert_eq!(pseudo("vpcmpnltd"), Some((Mnemonic::Vpcmpd, 5)));
        assert_eq!(resolve("jz", 16), Some(Mnemonic::Je));
        assert_eq!(resolve("jnae", 16), Some(Mnemonic::Jb));
        assert_eq!(resolve("cmovnle", 32), Some(Mnemonic::Cmovg));
        assert_eq!(resolve("cmpgxadd", 64), resolve("cmpnlexadd", 64));
        assert!(resolve("cmpgxadd", 64).is_some());
        assert_eq!(resolve("cmovnae", 64), Some(Mnemonic::Cmovb));
        assert_eq!(resolve("setpo", 32), Some(Mnemonic::Setnp));
        assert_eq!(resolve("pushf", 32), Some(Mnemonic::Pushfd));
        assert_eq!(resolve("iret", 64), Some(Mnemonic::Iretd));
        assert_eq!(suggest("mvo").as_deref(), Some("mov"));
        assert_eq!(suggest("xyzzyq"), None);
    }
}
