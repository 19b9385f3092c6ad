//! One source line as a statement: an optional label, then a directive, data, a
//! reservation, `times`, or an instruction with its prefixes and operands.

use iced_x86::Register;

use super::expr::{self, show, Cursor, Expr};
use super::lex::{Tok, Token};
use super::mnemonic;
use super::Problem;

/// An operand size keyword (`byte` .. `zword`): bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Bytes(u32),
}

/// `short`, `near` or `far` before a branch target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Short,
    Near,
    Far,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Reg(Register, u32),
    Mem(Mem),
    Imm(Imm),
    /// `selector:offset`, the target of a far JMP or CALL (`word`/`dword`: the offset's
    /// size).
    Far(Expr, Expr, Option<Size>, u32),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mem {
    /// With `far`: the size of the pointer's offset (`far dword [x]` is m16:32).
    pub size: Option<Size>,
    /// `far`: the operand is a far pointer (JMP, CALL).
    pub far: bool,
    pub seg: Option<Register>,
    pub expr: Expr,
    /// `rel` or `abs` inside the brackets (else the `default`).
    pub rel: Option<bool>,
    /// `[dword x]`, `[byte rbx+1]`: the displacement's size in bytes (and, without
    /// registers, the address size: `[qword x]` is a 64-bit absolute address).
    pub disp_size: Option<u32>,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Imm {
    pub expr: Expr,
    pub size: Option<Size>,
    pub strict: bool,
    pub reach: Option<Reach>,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instr {
    /// Prefixes as written, lower case (`rep`, `lock`, `o16`, `a32`, `fs`...).
    pub prefixes: Vec<String>,
    pub mnemonic: String,
    pub col: u32,
    pub operands: Vec<Operand>,
    pub evex: Evex,
}

/// AVX-512's decorators (NASM's syntax): `zmm1{k1}{z}`, `[rax]{1to16}`, `{rn-sae}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evex {
    /// The opmask register of the destination, and zeroing (`{z}`) instead of merging.
    pub mask: Option<Register>,
    pub zeroing: bool,
    /// `{1toN}` on the memory operand: N.
    pub broadcast: Option<u32>,
    /// `{rn-sae}`, `{rd-sae}`, `{ru-sae}`, `{rz-sae}`: 1..4 (iced-x86's `RoundingControl`).
    pub rounding: Option<u32>,
    /// `{sae}`: suppress all exceptions.
    pub sae: bool,
    pub col: u32,
}

impl Evex {
    pub fn any(&self) -> bool {
        self.mask.is_some()
            || self.zeroing
            || self.broadcast.is_some()
            || self.rounding.is_some()
            || self.sae
    }

    /// Takes one decorator's meaning.
    fn take(&mut self, d: &str, col: u32) -> Result<(), Problem> {
        self.col = col;
        match d {
            "z" => self.zeroing = true,
            "sae" => self.sae = true,
            "rn-sae" => self.rounding = Some(1),
            "rd-sae" => self.rounding = Some(2),
            "ru-sae" => self.rounding = Some(3),
            "rz-sae" => self.rounding = Some(4),
            _ => {
                if let Some(n) = d.strip_prefix("1to").and_then(|n| n.parse().ok()) {
                    self.broadcast = Some(n);
                } else {
                    match expr::register(d) {
                        Some(r) if r.is_k() => self.mask = Some(r),
                        _ => {
                            return Err(Problem::at(
                                col,
                                format!("`{{{d}}}` is not a decorator (write {{k1}}, {{z}}, {{1to16}}, {{sae}} or {{rn-sae}})"),
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum DataItem {
    Expr(Expr, u32),
    Str(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    Empty,
    Bits(u32),
    Org(Expr, u32),
    Default {
        rel: bool,
    },
    Equ(Expr, u32),
    /// `db`..`dq`: the unit in bytes and the items.
    Data(u32, Vec<DataItem>),
    /// `resb`..`resq`: the unit and the count.
    Reserve(u32, Expr, u32),
    /// `align` (fill with NOPs, or the given data) and `alignb` (zeros).
    Align {
        to: Expr,
        col: u32,
        nop: bool,
    },
    Times(Expr, u32, Box<Stmt>),
    Instr(Instr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: Option<(String, u32)>,
    pub stmt: Stmt,
}

const PREFIXES: [&str; 19] = [
    "rep", "repe", "repz", "repne", "repnz", "lock", "o16", "o32", "o64", "a16", "a32", "a64",
    "es", "cs", "ss", "ds", "fs", "gs", "xacquire",
];

fn data_unit(w: &str) -> Option<u32> {
    Some(match w {
        "db" => 1,
        "dw" => 2,
        "dd" => 4,
        "dq" => 8,
        _ => return None,
    })
}

fn reserve_unit(w: &str) -> Option<u32> {
    Some(match w {
        "resb" => 1,
        "resw" => 2,
        "resd" => 4,
        "resq" => 8,
        "rest" => 10,
        "reso" => 16,
        "resy" => 32,
        "resz" => 64,
        _ => return None,
    })
}

pub fn size_keyword(w: &str) -> Option<Size> {
    Some(Size::Bytes(match w {
        "byte" => 1,
        "word" => 2,
        "dword" => 4,
        "qword" => 8,
        "tword" => 10,
        "oword" => 16,
        "yword" => 32,
        "zword" => 64,
        _ => return None,
    }))
}

const DIRECTIVES: [&str; 12] = [
    "bits", "use16", "use32", "use64", "org", "section", "segment", "default", "cpu", "global",
    "align", "alignb",
];

/// Whether a word starts a statement (so a word before it is a label).
fn starts_statement(w: &str) -> bool {
    let w = w.to_ascii_lowercase();
    DIRECTIVES.contains(&w.as_str())
        || PREFIXES.contains(&w.as_str())
        || data_unit(&w).is_some()
        || reserve_unit(&w).is_some()
        || matches!(
            w.as_str(),
            "times"
                | "equ"
                | "extern"
                | "incbin"
                | "dt"
                | "do"
                | "dy"
                | "dz"
                | "struc"
                | "absolute"
        )
        || mnemonic::known(&w)
}

/// Parses a line's tokens (`end` is the column after the line).
pub fn line(toks: &[Token], end: u32) -> Result<Line, Problem> {
    let mut c = Cursor::new(toks, end);
    // `[bits 16]`, `[org 7c00h]`: NASM's primitive directive form.
    if matches!(c.peek(), Some(Tok::Punct("[")))
        && matches!(c.peek_at(1), Some(Tok::Ident(w)) if DIRECTIVES.contains(&w.to_ascii_lowercase().as_str()))
        && matches!(toks.last().map(|t| &t.tok), Some(Tok::Punct("]")))
    {
        let inner = &toks[1..toks.len() - 1];
        let l = line(inner, toks[toks.len() - 1].col)?;
        return Ok(l);
    }
    let mut label = None;
    if let Some(Tok::Ident(w)) = c.peek() {
        let colon = matches!(c.peek_at(1), Some(Tok::Punct(":")));
        let alone_or_before_statement = match c.peek_at(1) {
            None => !starts_statement(w),
            Some(Tok::Ident(next)) => !starts_statement(w) && starts_statement(next),
            _ => false,
        };
        if colon || alone_or_before_statement {
            label = Some((w.strip_prefix('$').unwrap_or(w).to_string(), c.col()));
            c.k += 1;
            if colon {
                c.k += 1;
            }
        }
    }
    let stmt = statement(&mut c)?;
    if !c.at_end() {
        return Err(Problem::at(
            c.col(),
            format!(
                "unexpected {} (expected the end of the line)",
                show(c.peek().expect("not at end"))
            ),
        ));
    }
    if matches!(stmt, Stmt::Equ(..)) && label.is_none() {
        return Err(Problem::at(1, "`equ` needs a label before it"));
    }
    Ok(Line { label, stmt })
}

fn statement(c: &mut Cursor) -> Result<Stmt, Problem> {
    let col = c.col();
    let Some(tok) = c.peek() else {
        return Ok(Stmt::Empty);
    };
    let Tok::Ident(word) = tok else {
        return Err(Problem::at(
            col,
            format!(
                "expected an instruction or a directive, found {}",
                show(tok)
            ),
        ));
    };
    let w = word.to_ascii_lowercase();
    if let Some(unit) = data_unit(&w) {
        c.k += 1;
        return data(c, unit);
    }
    if let Some(unit) = reserve_unit(&w) {
        c.k += 1;
        let col = c.col();
        return Ok(Stmt::Reserve(unit, expr::parse(c)?, col));
    }
    match w.as_str() {
        "bits" => {
            c.k += 1;
            let col = c.col();
            match c.advance() {
                Some(Tok::Num(b @ (16 | 32 | 64))) => Ok(Stmt::Bits(*b as u32)),
                _ => Err(Problem::at(col, "`bits` takes 16, 32 or 64")),
            }
        }
        "use16" | "use32" | "use64" => {
            c.k += 1;
            Ok(Stmt::Bits(w[3..].parse().expect("digits")))
        }
        "org" => {
            c.k += 1;
            let col = c.col();
            Ok(Stmt::Org(expr::parse(c)?, col))
        }
        "default" => {
            c.k += 1;
            let col = c.col();
            match c.advance() {
                Some(Tok::Ident(v)) if v.eq_ignore_ascii_case("rel") => {
                    Ok(Stmt::Default { rel: true })
                }
                Some(Tok::Ident(v)) if v.eq_ignore_ascii_case("abs") => {
                    Ok(Stmt::Default { rel: false })
                }
                _ => Err(Problem::at(col, "`default` takes `rel` or `abs`")),
            }
        }
        "section" | "segment" => {
            c.k += 1;
            let col = c.col();
            match c.advance() {
                Some(Tok::Ident(name)) if name == ".text" => {
                    // Flat output has one section; further attributes are ignored.
                    c.k = c.toks.len();
                    Ok(Stmt::Empty)
                }
                _ => Err(Problem::at(
                    col,
                    "the output is one flat image: only `section .text` is accepted (put data after the code instead)",
                )),
            }
        }
        "cpu" | "global" => {
            // CPU levels are not enforced; global symbols mean nothing in a flat image.
            c.k = c.toks.len();
            Ok(Stmt::Empty)
        }
        "extern" => Err(Problem::at(
            col,
            "`extern` needs a linker; the output is one flat image",
        )),
        "incbin" => Err(Problem::at(col, "`incbin` is not supported")),
        "struc" | "absolute" => Err(Problem::at(col, format!("`{w}` is not supported"))),
        "dt" | "do" | "dy" | "dz" => Err(Problem::at(
            col,
            format!("`{w}` (floating-point and wide data) is not supported; use db/dw/dd/dq"),
        )),
        "equ" => {
            c.k += 1;
            let col = c.col();
            Ok(Stmt::Equ(expr::parse(c)?, col))
        }
        "align" | "alignb" => {
            c.k += 1;
            let col = c.col();
            let to = expr::parse(c)?;
            if c.eat(",") {
                return Err(Problem::at(
                    c.col(),
                    "a fill for `align` is not supported (NOPs, or zeros with `alignb`)",
                ));
            }
            Ok(Stmt::Align {
                to,
                col,
                nop: w == "align",
            })
        }
        "times" => {
            c.k += 1;
            let col = c.col();
            let n = expr::parse(c)?;
            let body = statement(c)?;
            if matches!(body, Stmt::Empty) {
                return Err(Problem::at(
                    c.col(),
                    "`times` needs an instruction or data to repeat",
                ));
            }
            Ok(Stmt::Times(n, col, Box::new(body)))
        }
        _ if w.starts_with('%') => Err(Problem::at(
            col,
            format!("unknown preprocessor directive `{word}`"),
        )),
        _ => instruction(c).map(Stmt::Instr),
    }
}

fn data(c: &mut Cursor, unit: u32) -> Result<Stmt, Problem> {
    let mut items = Vec::new();
    loop {
        let col = c.col();
        match (c.peek(), c.peek_at(1)) {
            (Some(Tok::Str(s)), None | Some(Tok::Punct(","))) => {
                items.push(DataItem::Str(s.clone()));
                c.k += 1;
            }
            (None, _) => return Err(Problem::at(col, "expected data after the directive")),
            _ => items.push(DataItem::Expr(expr::parse(c)?, col)),
        }
        if !c.eat(",") {
            return Ok(Stmt::Data(unit, items));
        }
    }
}

fn instruction(c: &mut Cursor) -> Result<Instr, Problem> {
    let mut prefixes = Vec::new();
    loop {
        let col = c.col();
        let Some(Tok::Ident(w)) = c.advance() else {
            return Err(Problem::at(col, "expected an instruction"));
        };
        let lw = w.to_ascii_lowercase();
        // `rep` alone on a line, or a segment register before an instruction.
        if PREFIXES.contains(&lw.as_str())
            && !c.at_end()
            && !matches!(c.peek(), Some(Tok::Punct(_)))
        {
            prefixes.push(lw);
            continue;
        }
        if PREFIXES.contains(&lw.as_str()) && c.at_end() {
            return Err(Problem::at(
                col,
                format!("the prefix `{w}` needs an instruction after it"),
            ));
        }
        if !mnemonic::known(&lw) {
            let hint = mnemonic::suggest(&lw)
                .map(|s| format!(" — did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(Problem::at(col, format!("unknown mnemonic '{w}'{hint}")));
        }
        // `fadd to st1` (NASM's x87 form): the destination is the register, ST0 the source.
        let to = c.eat_word("to");
        let mut operands = Vec::new();
        let mut evex = Evex::default();
        if !c.at_end() {
            loop {
                // `{rn-sae}` stands alone as the last operand.
                if let Some(Tok::Decorator(d)) = c.peek() {
                    let dcol = c.col();
                    c.k += 1;
                    evex.take(d, dcol)?;
                } else {
                    operands.push(operand(c)?);
                }
                while let Some(Tok::Decorator(d)) = c.peek() {
                    let dcol = c.col();
                    c.k += 1;
                    evex.take(d, dcol)?;
                }
                if !c.eat(",") {
                    break;
                }
            }
        }
        if to {
            match operands.as_slice() {
                [Operand::Reg(r, _)] if r.is_st() => {
                    // The `sti, st0` form even for `fadd to st0` (DC C0, not D8 C0).
                    prefixes.push("to".to_string());
                    operands.push(Operand::Reg(Register::ST0, col))
                }
                _ => {
                    return Err(Problem::at(
                        col,
                        "`to` takes one x87 stack register (`fadd to st1`)",
                    ))
                }
            }
        }
        return Ok(Instr {
            prefixes,
            mnemonic: lw,
            col,
            operands,
            evex,
        });
    }
}

fn operand(c: &mut Cursor) -> Result<Operand, Problem> {
    let mut size = None;
    let mut strict = false;
    let mut reach = None;
    while let Some(Tok::Ident(w)) = c.peek() {
        let w = w.to_ascii_lowercase();
        if let Some(s) = size_keyword(&w) {
            size = Some(s);
        } else if w == "far" {
            reach = Some(Reach::Far);
        } else if w == "strict" {
            strict = true;
        } else if w == "short" {
            reach = Some(Reach::Short);
        } else if w == "near" {
            reach = Some(Reach::Near);
        } else if w == "ptr" {
            return Err(Problem::at(
                c.col(),
                "NASM syntax has no `ptr`: write `dword [x]`, not `dword ptr [x]`",
            ));
        } else {
            break;
        }
        c.k += 1;
    }
    let col = c.col();
    // `es:[di]`: a segment override before the brackets.
    let mut seg = None;
    if let (Some(Tok::Ident(w)), Some(Tok::Punct(":")), Some(Tok::Punct("["))) =
        (c.peek(), c.peek_at(1), c.peek_at(2))
    {
        match expr::register(w) {
            Some(r) if r.is_segment_register() => {
                seg = Some(r);
                c.k += 2;
            }
            _ => return Err(Problem::at(col, format!("`{w}` is not a segment register"))),
        }
    }
    if c.eat("[") {
        if let (Some(Tok::Ident(w)), Some(Tok::Punct(":"))) = (c.peek(), c.peek_at(1)) {
            match expr::register(w) {
                Some(r) if r.is_segment_register() => {
                    seg = Some(r);
                    c.k += 2;
                }
                _ => {}
            }
        }
        let mut rel = None;
        if c.eat_word("rel") {
            rel = Some(true);
        } else if c.eat_word("abs") {
            rel = Some(false);
        }
        let mut disp_size = None;
        if let Some(Tok::Ident(w)) = c.peek() {
            if let Some(Size::Bytes(n @ (1 | 2 | 4 | 8))) = size_keyword(&w.to_ascii_lowercase()) {
                disp_size = Some(n);
                c.k += 1;
            }
        }
        let e = expr::parse(c)?;
        c.expect("]")?;
        return Ok(Operand::Mem(Mem {
            disp_size,
            size,
            far: reach == Some(Reach::Far),
            seg,
            expr: e,
            rel,
            col,
        }));
    }
    let e = expr::parse(c)?;
    if let Expr::Reg(r) = e {
        // NASM accepts (and ignores) `strict qword rax`; a distance makes no sense.
        if reach.is_some() {
            return Err(Problem::at(
                col,
                "a register operand takes no distance keyword",
            ));
        }
        return Ok(Operand::Reg(r, col));
    }
    if c.eat(":") {
        let off = expr::parse(c)?;
        return Ok(Operand::Far(e, off, size, col));
    }
    Ok(Operand::Imm(Imm {
        expr: e,
        size,
        strict,
        reach,
        col,
    }))
}
