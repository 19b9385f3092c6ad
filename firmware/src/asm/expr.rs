//! NASM expressions: parsing (with NASM's precedence, lowest first: `||`, `^^`, `&&`,
//! comparisons, `|`, `^`, `&`, shifts, `+ -`, `* / // % %%`, unary `- + ~ !`) and
//! evaluation to a number plus, inside memory operands, a sum of registers times scales.

use iced_x86::Register;

use super::lex::{Tok, Token};
use super::Problem;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(i64),
    /// A symbol, as written (local labels are qualified when evaluated).
    Sym(String, u32),
    /// `$`: the address of the current line.
    Here,
    /// `$$`: the start of the section (the origin).
    Start,
    Reg(Register),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
}

/// An evaluated expression: `n + Σ regs`, and whether it used a symbol not yet defined.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Value {
    pub n: i64,
    pub regs: Vec<(Register, i64)>,
    /// Some symbol is not known yet (an earlier pass, or an error in the last).
    pub unknown: Option<String>,
    /// The value depends on a label or `$`: NASM does not shorten such immediates where
    /// the shorter form only holds for that value (`mov r64, label` keeps its imm64).
    pub symbolic: bool,
}

impl Value {
    fn num(n: i64) -> Value {
        Value {
            n,
            ..Value::default()
        }
    }
}

/// What an expression may refer to.
pub trait Scope {
    /// The value of a symbol and whether it is an address (a label, or an `equ` of one),
    /// `None` when it is not (yet) defined.
    fn symbol(&self, name: &str) -> Option<(i64, bool)>;
    fn here(&self) -> i64;
    fn start(&self) -> i64;
}

/// A cursor over a line's tokens.
pub struct Cursor<'a> {
    pub toks: &'a [Token],
    pub k: usize,
    /// Column just past the line, for errors at its end.
    pub end: u32,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token], end: u32) -> Cursor<'a> {
        Cursor { toks, k: 0, end }
    }

    pub fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.k).map(|t| &t.tok)
    }

    pub fn peek_at(&self, n: usize) -> Option<&'a Tok> {
        self.toks.get(self.k + n).map(|t| &t.tok)
    }

    pub fn col(&self) -> u32 {
        self.toks.get(self.k).map_or(self.end, |t| t.col)
    }

    pub fn advance(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.k).map(|t| &t.tok);
        self.k += 1;
        t
    }

    pub fn at_end(&self) -> bool {
        self.k >= self.toks.len()
    }

    pub fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.k += 1;
            true
        } else {
            false
        }
    }

    /// Consumes an identifier equal (ignoring case) to `word`.
    pub fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word)) {
            self.k += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, p: &str) -> Result<(), Problem> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(Problem::at(self.col(), format!("expected `{p}`")))
        }
    }
}

const LEVELS: [&[&str]; 9] = [
    &["||"],
    &["^^"],
    &["&&"],
    &["==", "=", "!=", "<>", "<", "<=", ">", ">="],
    &["|"],
    &["^"],
    &["&"],
    &["<<", ">>"],
    &["+", "-"],
];
const PRODUCT: &[&str] = &["*", "/", "//", "%", "%%"];

/// Parses an expression at the cursor (registers allowed; the caller decides where).
pub fn parse(c: &mut Cursor) -> Result<Expr, Problem> {
    level(c, 0)
}

fn level(c: &mut Cursor, n: usize) -> Result<Expr, Problem> {
    let ops = if n < LEVELS.len() { LEVELS[n] } else { PRODUCT };
    let sub = |c: &mut Cursor| {
        if n < LEVELS.len() {
            level(c, n + 1)
        } else {
            unary(c)
        }
    };
    let mut left = sub(c)?;
    loop {
        let Some(Tok::Punct(p)) = c.peek() else {
            return Ok(left);
        };
        let Some(op) = ops.iter().find(|o| *o == p) else {
            return Ok(left);
        };
        c.k += 1;
        let right = sub(c)?;
        left = Expr::Binary(op, Box::new(left), Box::new(right));
    }
}

fn unary(c: &mut Cursor) -> Result<Expr, Problem> {
    for op in ["-", "+", "~", "!"] {
        if c.eat(op) {
            return Ok(Expr::Unary(op, Box::new(unary(c)?)));
        }
    }
    atom(c)
}

fn atom(c: &mut Cursor) -> Result<Expr, Problem> {
    let col = c.col();
    match c.advance() {
        Some(Tok::Num(v)) => Ok(Expr::Num(*v as i64)),
        Some(Tok::Str(b)) => {
            if b.len() > 8 {
                return Err(Problem::at(col, "a character constant has at most 8 bytes"));
            }
            let mut v = [0u8; 8];
            v[..b.len()].copy_from_slice(b);
            Ok(Expr::Num(i64::from_le_bytes(v)))
        }
        Some(Tok::Punct("(")) => {
            let e = parse(c)?;
            c.expect(")")?;
            Ok(e)
        }
        Some(Tok::Ident(w)) => Ok(match w.as_str() {
            "$" => Expr::Here,
            "$$" => Expr::Start,
            _ => match register(w) {
                Some(r) => Expr::Reg(r),
                None => Expr::Sym(w.strip_prefix('$').unwrap_or(w).to_string(), col),
            },
        }),
        Some(t) => Err(Problem::at(
            col,
            format!("expected an expression, found {}", show(t)),
        )),
        None => Err(Problem::at(col, "expected an expression")),
    }
}

/// How a token reads in a message.
pub fn show(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => format!("`{w}`"),
        Tok::Num(n) => format!("`{n}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::Decorator(d) => format!("`{{{d}}}`"),
    }
}

/// The register a name denotes (`$name` is never one).
pub fn register(name: &str) -> Option<Register> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static MAP: OnceLock<HashMap<String, Register>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m: HashMap<String, Register> = Register::values()
            .filter(|&r| r != Register::None)
            .map(|r| (format!("{r:?}").to_ascii_lowercase(), r))
            .collect();
        // NASM's names where they differ from iced-x86's.
        for k in 8..16 {
            if let Some(&r) = m.get(&format!("r{k}l")) {
                m.insert(format!("r{k}b"), r);
            }
        }
        m.remove("rip");
        m.remove("eip");
        m
    });
    map.get(&name.to_ascii_lowercase()).copied()
}

/// Evaluates an expression. Registers may only be added, subtracted or scaled by constants.
pub fn eval(e: &Expr, scope: &dyn Scope, col: u32) -> Result<Value, Problem> {
    Ok(match e {
        Expr::Num(n) => Value::num(*n),
        Expr::Here => Value {
            symbolic: true,
            ..Value::num(scope.here())
        },
        Expr::Start => Value {
            symbolic: true,
            ..Value::num(scope.start())
        },
        Expr::Reg(r) => Value {
            n: 0,
            regs: vec![(*r, 1)],
            ..Value::default()
        },
        Expr::Sym(name, _) => match scope.symbol(name) {
            Some((v, address)) => Value {
                symbolic: address,
                ..Value::num(v)
            },
            None => Value {
                unknown: Some(name.clone()),
                symbolic: true,
                ..Value::default()
            },
        },
        Expr::Unary(op, x) => {
            let v = eval(x, scope, col)?;
            if *op == "-" {
                return Ok(Value {
                    n: v.n.wrapping_neg(),
                    regs: v.regs.iter().map(|&(r, s)| (r, -s)).collect(),
                    unknown: v.unknown,
                    symbolic: v.symbolic,
                });
            }
            let n = plain(&v, col)?;
            let n = match *op {
                "+" => n,
                "~" => !n,
                _ => i64::from(n == 0),
            };
            Value {
                n,
                regs: Vec::new(),
                unknown: v.unknown,
                symbolic: v.symbolic,
            }
        }
        Expr::Binary(op, a, b) => {
            let x = eval(a, scope, col)?;
            let y = eval(b, scope, col)?;
            let unknown = x.unknown.clone().or(y.unknown.clone());
            // `label2 - label1` is a plain number again.
            let symbolic = (x.symbolic || y.symbolic) && !(*op == "-" && x.symbolic && y.symbolic);
            match *op {
                "+" | "-" => {
                    let s = if *op == "+" { 1 } else { -1 };
                    let mut regs = x.regs.clone();
                    for &(r, k) in &y.regs {
                        add_reg(&mut regs, r, k * s);
                    }
                    Value {
                        n: if s == 1 {
                            x.n.wrapping_add(y.n)
                        } else {
                            x.n.wrapping_sub(y.n)
                        },
                        regs,
                        unknown,
                        symbolic,
                    }
                }
                "*" if x.regs.is_empty() || y.regs.is_empty() => {
                    let (k, v) = if x.regs.is_empty() {
                        (x.n, &y)
                    } else {
                        (y.n, &x)
                    };
                    Value {
                        n: v.n.wrapping_mul(k),
                        regs: v
                            .regs
                            .iter()
                            .map(|&(r, s)| (r, s.wrapping_mul(k)))
                            .collect(),
                        unknown,
                        symbolic,
                    }
                }
                _ => {
                    let (p, q) = (plain(&x, col)?, plain(&y, col)?);
                    let n = binary(op, p, q, unknown.is_some()).map_err(|m| Problem::at(col, m))?;
                    Value {
                        n,
                        regs: Vec::new(),
                        unknown,
                        symbolic,
                    }
                }
            }
        }
    })
}

fn add_reg(regs: &mut Vec<(Register, i64)>, r: Register, k: i64) {
    match regs.iter_mut().find(|(q, _)| *q == r) {
        Some(e) => e.1 += k,
        None => regs.push((r, k)),
    }
    regs.retain(|&(_, k)| k != 0);
}

fn plain(v: &Value, col: u32) -> Result<i64, Problem> {
    if v.regs.is_empty() {
        Ok(v.n)
    } else {
        Err(Problem::at(
            col,
            "registers can only be added or multiplied by a constant in an address",
        ))
    }
}

fn binary(op: &str, p: i64, q: i64, unknown: bool) -> Result<i64, String> {
    let (up, uq) = (p as u64, q as u64);
    Ok(match op {
        "|" => p | q,
        "^" => p ^ q,
        "&" => p & q,
        "<<" => {
            if uq >= 64 {
                0
            } else {
                p << q
            }
        }
        ">>" => {
            if uq >= 64 {
                0
            } else {
                (up >> q) as i64
            }
        }
        "*" => p.wrapping_mul(q),
        "/" | "//" | "%" | "%%" if q == 0 => {
            if unknown {
                return Ok(0);
            }
            return Err("division by zero".into());
        }
        "/" => (up / uq) as i64,
        "//" => p.wrapping_div(q),
        "%" => (up % uq) as i64,
        "%%" => p.wrapping_rem(q),
        "==" | "=" => i64::from(p == q),
        "!=" | "<>" => i64::from(p != q),
        "<" => i64::from(p < q),
        "<=" => i64::from(p <= q),
        ">" => i64::from(p > q),
        ">=" => i64::from(p >= q),
        "&&" => i64::from(p != 0 && q != 0),
        "||" => i64::from(p != 0 || q != 0),
        "^^" => i64::from((p != 0) != (q != 0)),
        _ => return Err(format!("unknown operator `{op}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokens;
    use super::*;

    struct S;
    impl Scope for S {
        fn symbol(&self, name: &str) -> Option<(i64, bool)> {
            (name == "ten").then_some((10, false))
        }
        fn here(&self) -> i64 {
            0x7c10
        }
        fn start(&self) -> i64 {
            0x7c00
        }
    }

    fn value(text: &str) -> Value {
        let t = tokens(text).unwrap();
        let mut c = Cursor::new(&t, 99);
        let e = parse(&mut c).unwrap();
        assert!(c.at_end(), "{text}: trailing tokens");
        eval(&e, &S, 1).unwrap()
    }

    #[test]
    fn precedence_and_operators_as_in_nasm() {
        // The NASM manual, 3.5 "Expressions".
        assert_eq!(value("1 + 2 * 3").n, 7);
        assert_eq!(value("(1 + 2) * 3").n, 9);
        assert_eq!(value("1 << 2 + 1").n, 8);
        assert_eq!(value("6 | 1 & 3").n, 7);
        assert_eq!(value("-7 / 2").n, ((-7i64 as u64) / 2) as i64);
        assert_eq!(value("-7 // 2").n, -3);
        assert_eq!(value("-7 %% 2").n, -1);
        assert_eq!(value("$ - $$").n, 0x10);
        assert_eq!(value("ten * 2 - 'A'").n, 20 - 65);
        assert_eq!(value("ten == 10 && 1 < 2").n, 1);
        assert_eq!(value("~0").n, -1);
        assert_eq!(value("!5").n, 0);
    }

    #[test]
    fn addresses_are_sums_of_scaled_registers() {
        let v = value("ebx + esi*4 + ten - 2");
        assert_eq!(v.n, 8);
        assert_eq!(v.regs, vec![(Register::EBX, 1), (Register::ESI, 4)]);
        assert_eq!(value("eax*3").regs, vec![(Register::EAX, 3)]);
        assert!(value("undefined_thing + 1").unknown.is_some());
    }
}
