//! Tokens of one source line, NASM's way: identifiers (with `.local`, `..@macro` and `$`
//! escapes), numbers in every NASM radix notation, strings in the three quote styles,
//! and operators. A `;` outside a string ends the line.

use super::Problem;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name: label, mnemonic, register, directive or keyword (`$` and `$$` included).
    Ident(String),
    Num(u64),
    /// A quoted string's bytes (a character constant in expressions).
    Str(Vec<u8>),
    Punct(&'static str),
    /// An AVX-512 decorator, `{k1}`, `{z}`, `{1to16}`, `{rn-sae}`: its text, lower case.
    Decorator(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Column (1-based) where the token starts.
    pub col: u32,
}

const PUNCTS: [&str; 32] = [
    "<<", ">>", "//", "%%", "==", "!=", "<>", "<=", ">=", "&&", "||", "^^", "+", "-", "*", "/",
    "%", "(", ")", "[", "]", ",", ":", "&", "|", "^", "~", "!", "<", ">", "=", "?",
];

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '?' | '@' | '$')
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '?' | '@' | '$' | '#' | '~')
}

/// Splits a line into tokens, dropping its comment.
pub fn tokens(line: &str) -> Result<Vec<Token>, Problem> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        let col = k as u32 + 1;
        if c == ';' {
            break;
        }
        if c.is_whitespace() {
            k += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '$' && chars.get(k + 1).is_some_and(char::is_ascii_digit)) {
            let start = k;
            k += 1;
            while k < chars.len() && (chars[k].is_ascii_alphanumeric() || chars[k] == '_') {
                k += 1;
            }
            let text: String = chars[start..k].iter().collect();
            if k < chars.len()
                && chars[k] == '.'
                && chars.get(k + 1).is_some_and(char::is_ascii_digit)
            {
                return Err(Problem::at(
                    col,
                    "floating-point constants are not supported",
                ));
            }
            out.push(Token {
                tok: Tok::Num(number(&text).map_err(|m| Problem::at(col, m))?),
                col,
            });
            continue;
        }
        if ident_start(c) {
            let start = k;
            k += 1;
            while k < chars.len() && ident_char(chars[k]) {
                k += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..k].iter().collect()),
                col,
            });
            continue;
        }
        if c == '{' {
            let Some(end) = chars[k..].iter().position(|&x| x == '}') else {
                return Err(Problem::at(col, "`{` without `}`"));
            };
            let text: String = chars[k + 1..k + end].iter().collect();
            out.push(Token {
                tok: Tok::Decorator(text.trim().to_ascii_lowercase()),
                col,
            });
            k += end + 1;
            continue;
        }
        if matches!(c, '\'' | '"' | '`') {
            let (bytes, next) = string(&chars, k).map_err(|m| Problem::at(col, m))?;
            out.push(Token {
                tok: Tok::Str(bytes),
                col,
            });
            k = next;
            continue;
        }
        let rest: String = chars[k..chars.len().min(k + 2)].iter().collect();
        match PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                out.push(Token {
                    tok: Tok::Punct(p),
                    col,
                });
                k += p.len();
            }
            None => return Err(Problem::at(col, format!("unexpected character `{c}`"))),
        }
    }
    Ok(out)
}

/// A NASM number: `0x1F`, `1Fh`, `$1F`, `0b101`, `101b`, `0o17`, `17q`, `0d9`, `9d`, `123`,
/// with `_` separators anywhere.
pub fn number(text: &str) -> Result<u64, String> {
    let t: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let bad = || format!("`{text}` is not a number");
    let digits = |s: &str, radix: u32| -> Result<u64, String> {
        if s.is_empty() {
            return Err(bad());
        }
        let mut v: u64 = 0;
        for c in s.chars() {
            let d = c.to_digit(radix).ok_or_else(bad)?;
            v = v
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(|| format!("`{text}` does not fit in 64 bits"))?;
        }
        Ok(v)
    };
    if let Some(h) = t.strip_prefix('$') {
        return digits(h, 16);
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0h", 16),
        ("0b", 2),
        ("0y", 2),
        ("0o", 8),
        ("0q", 8),
        ("0d", 10),
        ("0t", 10),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            // `0bh` and `0d2h` are hexadecimal numbers with a suffix, not prefixed ones.
            if !(t.ends_with('h') && radix != 16) {
                if let Ok(v) = digits(rest, radix) {
                    return Ok(v);
                }
            }
        }
    }
    let (body, radix) = match t.chars().last() {
        Some('h' | 'x') => (&t[..t.len() - 1], 16),
        Some('b' | 'y') => (&t[..t.len() - 1], 2),
        Some('o' | 'q') => (&t[..t.len() - 1], 8),
        Some('d' | 't') => (&t[..t.len() - 1], 10),
        _ => (&t[..], 10),
    };
    digits(body, radix)
}

/// A quoted string starting at `chars[k]`: its bytes and the index after it. Single and
/// double quotes take the text as it is; backquotes take C-style escapes.
fn string(chars: &[char], k: usize) -> Result<(Vec<u8>, usize), String> {
    let q = chars[k];
    let mut out = Vec::new();
    let mut i = k + 1;
    let push = |out: &mut Vec<u8>, c: char| {
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    };
    while i < chars.len() {
        let c = chars[i];
        if c == q {
            return Ok((out, i + 1));
        }
        if q == '`' && c == '\\' {
            i += 1;
            let e = *chars.get(i).ok_or("unterminated string")?;
            match e {
                'n' => out.push(b'\n'),
                't' => out.push(b'\t'),
                'r' => out.push(b'\r'),
                '0'..='7' => {
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < 3 && i < chars.len() && chars[i].is_digit(8) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        n += 1;
                    }
                    out.push(v as u8);
                    continue;
                }
                'x' => {
                    let mut v = 0u32;
                    let mut n = 0;
                    i += 1;
                    while n < 2 && i < chars.len() && chars[i].is_ascii_hexdigit() {
                        v = v * 16 + chars[i].to_digit(16).unwrap_or(0);
                        i += 1;
                        n += 1;
                    }
                    if n == 0 {
                        return Err("`\\x` needs hexadecimal digits".into());
                    }
                    out.push(v as u8);
                    continue;
                }
                'a' => out.push(7),
                'b' => out.push(8),
                'e' => out.push(27),
                'f' => out.push(12),
                'v' => out.push(11),
                other => push(&mut out, other),
            }
            i += 1;
            continue;
        }
        push(&mut out, c);
        i += 1;
    }
    Err(format!("unterminated string (missing {q})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_nasm_notations() {
        // The NASM manual, 3.4.1 "Numeric Constants".
        for (t, v) in [
            ("200", 200),
            ("0200", 200),
            ("0200d", 200),
            ("0d200", 200),
            ("0c8h", 0xc8),
            ("$0c8", 0xc8),
            ("0xc8", 0xc8),
            ("0hc8", 0xc8),
            ("310q", 0o310),
            ("310o", 0o310),
            ("0o310", 0o310),
            ("0q310", 0o310),
            ("11001000b", 0xc8),
            ("1100_1000b", 0xc8),
            ("1100_1000y", 0xc8),
            ("0b1100_1000", 0xc8),
            ("0y1100_1000", 0xc8),
            ("0bh", 0xb),
        ] {
            assert_eq!(number(t), Ok(v), "{t}");
        }
        assert!(number("12a").is_err());
        assert!(number("0x10000000000000000").is_err());
    }

    #[test]
    fn strings_and_comments() {
        let t = tokens("db 'a;b', \"c\", `\\n\\x41` ; comment").unwrap();
        let toks: Vec<Tok> = t.into_iter().map(|t| t.tok).collect();
        assert_eq!(
            toks,
            vec![
                Tok::Ident("db".into()),
                Tok::Str(b"a;b".to_vec()),
                Tok::Punct(","),
                Tok::Str(b"c".to_vec()),
                Tok::Punct(","),
                Tok::Str(b"\nA".to_vec()),
            ]
        );
    }
}
