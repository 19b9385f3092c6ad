//! Instruction test vectors: the case-file format of `tests/cases/` (see its README).
//!
//! One case per line, four fields separated by ` | `:
//!
//! ```text
//! BITS | ASM | INITIAL | EXPECTED
//! 64 | add eax, ebx | rax=0xffffffff rbx=0x1 | rax=0x0 flags=CF,PF,AF,ZF
//! ```
//!
//! The parser only turns text into values; running a case is the job of whoever holds a
//! machine (the tests, and later the differential engine).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use x86lab_emulator::state::{flags, hex, GPR_NAMES};

/// One assignment in the INITIAL or EXPECTED field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A general-purpose register (index in encoding order) and its 64-bit value.
    Gpr(usize, u64),
    /// A segment register (index ES CS SS DS FS GS) and its selector.
    Seg(usize, u16),
    /// The set of RFLAGS bits named in `flags=`.
    Flags(u64),
    /// `rip=`.
    Rip(u64),
    /// Bytes at a physical address (from `m8`..`m128` or `bytes`).
    Mem(u64, Vec<u8>),
    /// `exception=XX`: the vector mnemonic without `#`.
    Exception(String),
}

/// A parsed case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `file:line`, for messages.
    pub origin: String,
    pub bits: u32,
    /// The instructions, one element per line of assembly.
    pub asm: Vec<String>,
    pub initial: Vec<Item>,
    pub expected: Vec<Item>,
    /// The line as written.
    pub text: String,
}

impl Case {
    /// The GPR values INITIAL names.
    pub fn initial_gprs(&self) -> BTreeMap<usize, u64> {
        gprs(&self.initial)
    }

    pub fn expected_gprs(&self) -> BTreeMap<usize, u64> {
        gprs(&self.expected)
    }

    pub fn expected_exception(&self) -> Option<&str> {
        self.expected.iter().find_map(|i| match i {
            Item::Exception(e) => Some(e.as_str()),
            _ => None,
        })
    }

    pub fn flags(items: &[Item]) -> Option<u64> {
        items.iter().find_map(|i| match i {
            Item::Flags(f) => Some(*f),
            _ => None,
        })
    }
}

fn gprs(items: &[Item]) -> BTreeMap<usize, u64> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Gpr(r, v) => Some((*r, *v)),
            _ => None,
        })
        .collect()
}

const SEGS: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];

fn parse_item(token: &str) -> Result<Item> {
    let (key, value) = token
        .split_once('=')
        .ok_or_else(|| anyhow!("`{token}` is not an assignment (write name=value)"))?;
    if key == "flags" {
        let mut f = 0;
        for name in value.split(',').filter(|n| !n.is_empty()) {
            let bit = flags::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| anyhow!("unknown flag `{name}`"))?
                .1;
            f |= bit;
        }
        return Ok(Item::Flags(f));
    }
    if key == "exception" {
        return Ok(Item::Exception(value.trim_start_matches('#').to_string()));
    }
    if key == "rip" {
        return Ok(Item::Rip(hex::parse(value).map_err(|e| anyhow!(e))?));
    }
    if let Some(i) = GPR_NAMES.iter().position(|n| *n == key) {
        return Ok(Item::Gpr(i, hex::parse(value).map_err(|e| anyhow!(e))?));
    }
    if let Some(i) = SEGS.iter().position(|n| *n == key) {
        let v = hex::parse(value).map_err(|e| anyhow!(e))?;
        return Ok(Item::Seg(
            i,
            u16::try_from(v).context("selector wider than 16 bits")?,
        ));
    }
    if let Some((kind, rest)) = key.split_once('[') {
        let addr = hex::parse(
            rest.strip_suffix(']')
                .ok_or_else(|| anyhow!("missing `]` in `{key}`"))?,
        )
        .map_err(|e| anyhow!(e))?;
        let bytes = match kind {
            "bytes" => {
                if value.len() % 2 != 0 {
                    bail!("`{value}` has an odd number of hex digits");
                }
                (0..value.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&value[i..i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .with_context(|| format!("`{value}` is not hex bytes"))?
            }
            "m8" | "m16" | "m32" | "m64" | "m128" => {
                let n: usize = kind[1..].parse::<usize>()? / 8;
                let digits = value
                    .strip_prefix("0x")
                    .ok_or_else(|| anyhow!("write memory values in hex: `{value}`"))?
                    .replace('_', "");
                let v = u128::from_str_radix(&digits, 16)
                    .with_context(|| format!("`{value}` is not hex"))?;
                if n < 16 && v >> (n * 8) != 0 {
                    bail!("{value} does not fit in {kind}");
                }
                v.to_le_bytes()[..n].to_vec()
            }
            _ => bail!("unknown memory form `{kind}` (use m8 m16 m32 m64 m128 or bytes)"),
        };
        return Ok(Item::Mem(addr, bytes));
    }
    bail!("unknown name `{key}`")
}

fn parse_items(field: &str) -> Result<Vec<Item>> {
    field.split_whitespace().map(parse_item).collect()
}

/// Parses a case file's text; `name` is used in origins.
pub fn parse(name: &str, text: &str) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let origin = format!("{name}:{}", n + 1);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = t.split('|').map(str::trim).collect();
        if fields.len() != 4 {
            bail!(
                "{origin}: expected 4 fields separated by `|`, found {}",
                fields.len()
            );
        }
        let bits = match fields[0] {
            "16" => 16,
            "32" => 32,
            "64" => 64,
            b => bail!("{origin}: BITS must be 16, 32 or 64, not `{b}`"),
        };
        let asm = fields[1]
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let initial = parse_items(fields[2]).with_context(|| format!("{origin}: INITIAL"))?;
        let expected = parse_items(fields[3]).with_context(|| format!("{origin}: EXPECTED"))?;
        cases.push(Case {
            origin,
            bits,
            asm,
            initial,
            expected,
            text: t.to_string(),
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_readme_example() {
        let c = parse(
            "x",
            "# c\n64 | add eax, ebx ; .l: | rax=0xffffffff rbx=0x1 m32[0x200000]=0x12 | rax=0x0 flags=CF,ZF bytes[0x10]=0aff\n",
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].bits, 64);
        assert_eq!(c[0].asm, vec!["add eax, ebx", ".l:"]);
        assert_eq!(c[0].initial_gprs()[&0], 0xffff_ffff);
        assert!(c[0]
            .initial
            .contains(&Item::Mem(0x20_0000, vec![0x12, 0, 0, 0])));
        assert_eq!(Case::flags(&c[0].expected), Some(flags::CF | flags::ZF));
        assert!(c[0].expected.contains(&Item::Mem(0x10, vec![0x0a, 0xff])));
        assert_eq!(c[0].origin, "x:2");
    }

    #[test]
    fn reports_bad_lines() {
        assert!(parse("x", "64 | nop | rzz=1 | ").is_err());
        assert!(parse("x", "65 | nop |  | ").is_err());
        assert!(parse("x", "64 | nop | m8[0x10]=0x100 | ").is_err());
    }
}
