//! NASM's instruction names and iced-x86's `Mnemonic`s: iced's own names, NASM's aliases
//! (`jz` for `je`, `sal` for `shl`, ...), and the names whose meaning depends on the mode
//! (`pushf` is `pushfd` in 32-bit code).

use std::collections::HashMap;
use std::sync::OnceLock;

use iced_x86::Mnemonic;

/// Condition-code spellings NASM accepts, and iced's name for each.
const CONDITIONS: [(&str, &str); 14] = [
    ("z", "e"),
    ("nz", "ne"),
    ("c", "b"),
    ("nae", "b"),
    ("nc", "ae"),
    ("nb", "ae"),
    ("na", "be"),
    ("nbe", "a"),
    ("pe", "p"),
    ("po", "np"),
    ("nge", "l"),
    ("nl", "ge"),
    ("ng", "le"),
    ("nle", "g"),
];

fn table() -> &'static HashMap<String, Mnemonic> {
    static MAP: OnceLock<HashMap<String, Mnemonic>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: HashMap<String, Mnemonic> = Mnemonic::values()
            .filter(|&x| x != Mnemonic::INVALID)
            .map(|x| (format!("{x:?}").to_ascii_lowercase(), x))
            .collect();
        for (alias, canonical) in CONDITIONS {
            for family in ["j", "set", "cmov"] {
                if let Some(&x) = m.get(&format!("{family}{canonical}")) {
                    m.insert(format!("{family}{alias}"), x);
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

/// Whether a (lower-case) name is an instruction.
pub fn known(name: &str) -> bool {
    table().contains_key(name)
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
        assert_eq!(resolve("jz", 16), Some(Mnemonic::Je));
        assert_eq!(resolve("cmovnae", 64), Some(Mnemonic::Cmovb));
        assert_eq!(resolve("setpo", 32), Some(Mnemonic::Setnp));
        assert_eq!(resolve("pushf", 32), Some(Mnemonic::Pushfd));
        assert_eq!(resolve("iret", 64), Some(Mnemonic::Iretd));
        assert_eq!(suggest("mvo").as_deref(), Some("mov"));
        assert_eq!(suggest("xyzzyq"), None);
    }
}
