//! The assembler: NASM-style Intel syntax in, a flat binary image out, with a listing
//! (address, bytes, source line) and the labels' addresses.
//!
//! The work is NASM's: the source is read line by line ([`lex`], [`parse`]); then the
//! whole program is assembled in passes until every label's address stays the same from
//! one pass to the next — a forward jump first takes its long form, and shrinks once its
//! target is known to be near. Instructions are encoded by iced-x86 ([`encode`]), the form
//! chosen among those the operands fit the way NASM chooses.

pub mod disasm;
pub mod encode;
pub mod expr;
pub mod lex;
pub mod mnemonic;
pub mod parse;
pub mod preprocess;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::expr::Scope;
use self::parse::{DataItem, Line, Stmt};

/// A problem on a line, at a column (1-based; 0 when the line as a whole is meant).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub col: u32,
    pub message: String,
}

impl Problem {
    pub fn at(col: u32, message: impl Into<String>) -> Problem {
        Problem {
            col,
            message: message.into(),
        }
    }
}

/// An error or warning with its place: `file:line:column: message`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct Diagnostic {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.line > 0 && self.col > 0 {
            write!(f, ":{}", self.col)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that went wrong, in source order.
#[derive(Debug, thiserror::Error)]
pub struct Errors(pub Vec<Diagnostic>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, d) in self.0.iter().enumerate() {
            if k > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// One line of the source as the assembler reads it (after the preprocessor).
#[derive(Clone, Debug)]
pub struct SourceLine {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub text: String,
}

/// A listing line: where a source line went and what it became.
#[derive(Clone, Debug, PartialEq)]
pub struct ListingLine {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub address: u64,
    pub bytes: Vec<u8>,
    pub text: String,
}

/// An assembled program.
#[derive(Clone, Debug)]
pub struct Assembly {
    pub bytes: Vec<u8>,
    /// The address of the first byte (`org`).
    pub origin: u64,
    /// The mode of the first instruction (the first `bits`, else 16 as in NASM).
    pub bits: u32,
    pub listing: Vec<ListingLine>,
    /// Every label's address (local labels as `global.local`).
    pub labels: BTreeMap<String, u64>,
    pub warnings: Vec<Diagnostic>,
}

impl Assembly {
    /// The listing as text: address, bytes (hex) and the source line, NASM's layout.
    pub fn listing_text(&self) -> String {
        let mut out = String::new();
        for (k, l) in self.listing.iter().enumerate() {
            let hex: String = l
                .bytes
                .iter()
                .take(16)
                .map(|b| format!("{b:02X}"))
                .collect();
            let more = if l.bytes.len() > 16 { "..." } else { "" };
            if l.bytes.is_empty() {
                out += &format!("{:6} {:8} {:35} {}\n", k + 1, "", "", l.text);
            } else {
                out += &format!(
                    "{:6} {:08X} {:35} {}\n",
                    k + 1,
                    l.address,
                    format!("{hex}{more}"),
                    l.text
                );
            }
        }
        out
    }
}

/// The most passes before giving up on sizes that keep changing.
const MAX_PASSES: usize = 40;

/// Assembles the lines of a program (the preprocessor's output).
pub fn assemble_lines(lines: &[SourceLine]) -> Result<Assembly, Errors> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(lines.len());
    for l in lines {
        let end = l.text.chars().count() as u32 + 1;
        match lex::tokens(&l.text).and_then(|t| parse::line(&t, end)) {
            Ok(p) => parsed.push(p),
            Err(p) => {
                errors.push(diagnostic(l, p));
                parsed.push(Line {
                    label: None,
                    stmt: Stmt::Empty,
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors));
    }
    let mut symbols: HashMap<String, (i64, bool)> = HashMap::new();
    for _ in 0..MAX_PASSES {
        let mut pass = Pass::new(&symbols);
        for (l, p) in lines.iter().zip(&parsed) {
            pass.line(l, p);
        }
        if pass.defined == symbols {
            if !pass.errors.is_empty() {
                return Err(Errors(pass.errors));
            }
            let labels = pass
                .labels
                .iter()
                .map(|l| (l.clone(), pass.defined[l].0 as u64))
                .collect();
            return Ok(Assembly {
                bytes: pass.out,
                origin: pass.org.unwrap_or(0),
                bits: pass.first_bits.unwrap_or(16),
                listing: pass.listing,
                labels,
                warnings: pass.warnings,
            });
        }
        symbols = pass.defined;
    }
    Err(Errors(vec![Diagnostic {
        file: lines
            .first()
            .map_or_else(|| Arc::new(PathBuf::new()), |l| l.file.clone()),
        line: 0,
        col: 0,
        message: format!("the program's layout did not settle after {MAX_PASSES} passes"),
    }]))
}

/// How to assemble a file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where `%include` looks after the including file's directory (`nasm -i`).
    pub include: Vec<PathBuf>,
    /// Single-line macros defined before the program (`nasm -D NAME=VALUE`).
    pub defines: Vec<(String, String)>,
}

/// Preprocesses and assembles a file.
pub fn assemble_file(path: &Path, opts: &Options) -> Result<Assembly, Errors> {
    let mut pre = preprocess::Preprocessor::new();
    pre.include = opts.include.clone();
    for (name, value) in &opts.defines {
        pre.define(name, value);
    }
    let (lines, warnings) = pre.file(path)?;
    let mut a = assemble_lines(&lines)?;
    a.warnings.splice(0..0, warnings);
    Ok(a)
}

/// Preprocesses and assembles source text named `name` (`%include` is relative to it).
pub fn assemble_source(text: &str, name: &Path, opts: &Options) -> Result<Assembly, Errors> {
    let mut pre = preprocess::Preprocessor::new();
    pre.include = opts.include.clone();
    for (n, value) in &opts.defines {
        pre.define(n, value);
    }
    let (lines, warnings) = pre.text(text, name)?;
    let mut a = assemble_lines(&lines)?;
    a.warnings.splice(0..0, warnings);
    Ok(a)
}

/// Assembles source text without the preprocessor (`%` lines are errors).
pub fn assemble_str(text: &str, name: &Path) -> Result<Assembly, Errors> {
    let file = Arc::new(name.to_path_buf());
    let lines: Vec<SourceLine> = text
        .lines()
        .enumerate()
        .map(|(k, t)| SourceLine {
            file: file.clone(),
            line: k as u32 + 1,
            text: t.to_string(),
        })
        .collect();
    assemble_lines(&lines)
}

fn diagnostic(l: &SourceLine, p: Problem) -> Diagnostic {
    Diagnostic {
        file: l.file.clone(),
        line: l.line,
        col: p.col,
        message: p.message,
    }
}

/// The state of one pass over the program.
struct Pass<'a> {
    /// The previous pass's symbols (for forward references).
    previous: &'a HashMap<String, (i64, bool)>,
    /// This pass's symbols so far: value, and whether it is an address.
    defined: HashMap<String, (i64, bool)>,
    labels: Vec<String>,
    bits: u32,
    first_bits: Option<u32>,
    org: Option<u64>,
    default_rel: bool,
    /// The last non-local label, which `.local` labels belong to.
    base: String,
    out: Vec<u8>,
    listing: Vec<ListingLine>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// `$` for the line being assembled.
    here: i64,
}

impl Scope for Pass<'_> {
    fn symbol(&self, name: &str) -> Option<(i64, bool)> {
        let q = self.qualify(name);
        self.defined
            .get(&q)
            .or_else(|| self.previous.get(&q))
            .copied()
    }

    fn here(&self) -> i64 {
        self.here
    }

    fn start(&self) -> i64 {
        self.org.unwrap_or(0) as i64
    }
}

impl<'a> Pass<'a> {
    fn new(previous: &'a HashMap<String, (i64, bool)>) -> Pass<'a> {
        Pass {
            previous,
            defined: HashMap::new(),
            labels: Vec::new(),
            bits: 16,
            first_bits: None,
            org: None,
            default_rel: false,
            base: String::new(),
            out: Vec::new(),
            listing: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            here: 0,
        }
    }

    fn qualify(&self, name: &str) -> String {
        if name.starts_with('.') && !name.starts_with("..") {
            format!("{}{name}", self.base)
        } else {
            name.to_string()
        }
    }

    fn address(&self) -> i64 {
        (self.org.unwrap_or(0) + self.out.len() as u64) as i64
    }

    fn define(&mut self, name: &str, value: (i64, bool), col: u32, src: &SourceLine) {
        if !name.starts_with('.') {
            self.base = name.to_string();
        }
        let q = self.qualify(name);
        if self.defined.insert(q.clone(), value).is_some() {
            self.errors.push(diagnostic(
                src,
                Problem::at(col, format!("`{q}` is defined twice")),
            ));
        }
    }

    fn line(&mut self, src: &SourceLine, l: &Line) {
        self.here = self.address();
        let start = self.out.len();
        let address = self.here as u64;
        if let Some((name, col)) = &l.label {
            let value = match &l.stmt {
                Stmt::Equ(e, ecol) => match expr::eval(e, self, *ecol) {
                    Ok(v) if v.regs.is_empty() => (v.n, v.symbolic),
                    Ok(_) => {
                        self.errors.push(diagnostic(
                            src,
                            Problem::at(*ecol, "`equ` takes a number, not registers"),
                        ));
                        (0, false)
                    }
                    Err(p) => {
                        self.errors.push(diagnostic(src, p));
                        (0, false)
                    }
                },
                _ => {
                    self.labels.push(self.qualify_label(name));
                    (self.here, true)
                }
            };
            self.define(name, value, *col, src);
        }
        if let Err(p) = self.statement(src, &l.stmt) {
            self.errors.push(diagnostic(src, p));
        }
        self.listing.push(ListingLine {
            file: src.file.clone(),
            line: src.line,
            address: if matches!(l.stmt, Stmt::Org(..)) {
                self.here as u64
            } else {
                address
            },
            bytes: self.out[start..].to_vec(),
            text: src.text.clone(),
        });
    }

    fn qualify_label(&self, name: &str) -> String {
        if name.starts_with('.') && !name.starts_with("..") {
            format!("{}{name}", self.base)
        } else {
            name.to_string()
        }
    }

    /// A number for a directive: known, without registers.
    fn number(&self, e: &expr::Expr, col: u32, what: &str) -> Result<i64, Problem> {
        let v = expr::eval(e, self, col)?;
        if !v.regs.is_empty() {
            return Err(Problem::at(col, format!("{what} cannot use registers")));
        }
        if let Some(name) = v.unknown {
            return Err(Problem::at(
                col,
                format!("{what} uses `{name}`, which is not defined before this line"),
            ));
        }
        Ok(v.n)
    }

    fn statement(&mut self, src: &SourceLine, s: &Stmt) -> Result<(), Problem> {
        match s {
            Stmt::Empty | Stmt::Equ(..) => {}
            Stmt::Bits(b) => {
                self.bits = *b;
                if self.first_bits.is_none() && self.out.is_empty() {
                    self.first_bits = Some(*b);
                }
            }
            Stmt::Default { rel } => self.default_rel = *rel,
            Stmt::Org(e, col) => {
                let v = self.number(e, *col, "`org`")?;
                if !self.out.is_empty() || self.org.is_some() {
                    return Err(Problem::at(
                        *col,
                        "`org` must come once, before any code or data",
                    ));
                }
                self.org = Some(v as u64);
                self.here = v;
            }
            Stmt::Data(unit, items) => {
                for item in items {
                    match item {
                        DataItem::Str(b) => {
                            self.out.extend_from_slice(b);
                            let pad = (*unit as usize - b.len() % *unit as usize) % *unit as usize;
                            self.out.extend(std::iter::repeat_n(0, pad));
                        }
                        DataItem::Expr(e, col) => {
                            let v = expr::eval(e, self, *col)?;
                            if !v.regs.is_empty() {
                                return Err(Problem::at(*col, "data cannot contain registers"));
                            }
                            if let Some(name) = &v.unknown {
                                self.undefined(src, name, *col);
                            }
                            let bits = unit * 8;
                            if v.unknown.is_none()
                                && bits < 64
                                && !(-(1i64 << (bits - 1))..(1i64 << bits)).contains(&v.n)
                            {
                                self.warnings.push(diagnostic(
                                    src,
                                    Problem::at(
                                        *col,
                                        format!(
                                            "{} data exceeds bounds (truncated)",
                                            unit_name(*unit)
                                        ),
                                    ),
                                ));
                            }
                            self.out
                                .extend_from_slice(&v.n.to_le_bytes()[..*unit as usize]);
                        }
                    }
                }
            }
            Stmt::Reserve(unit, e, col) => {
                let n = self.number(e, *col, "a reservation")?;
                if n < 0 {
                    return Err(Problem::at(*col, "a reservation cannot be negative"));
                }
                self.out
                    .extend(std::iter::repeat_n(0, n as usize * *unit as usize));
            }
            Stmt::Align { to, col, nop } => {
                let n = self.number(to, *col, "`align`")?;
                if n <= 0 || n & (n - 1) != 0 {
                    return Err(Problem::at(*col, "`align` takes a power of two"));
                }
                let pad = (n - (self.out.len() as i64 % n)) % n;
                let fill = if *nop { 0x90 } else { 0 };
                self.out.extend(std::iter::repeat_n(fill, pad as usize));
            }
            Stmt::Times(count, col, body) => {
                let v = expr::eval(count, self, *col)?;
                if !v.regs.is_empty() {
                    return Err(Problem::at(*col, "`times` takes a number"));
                }
                if let Some(name) = &v.unknown {
                    self.undefined(src, name, *col);
                    return Ok(());
                }
                if v.n < 0 {
                    return Err(Problem::at(
                        *col,
                        format!("`times` count is negative ({})", v.n),
                    ));
                }
                if v.n > 1 << 24 {
                    return Err(Problem::at(
                        *col,
                        format!("`times` count {} is too large", v.n),
                    ));
                }
                for _ in 0..v.n {
                    self.here = self.address();
                    self.statement(src, body)?;
                }
            }
            Stmt::Instr(ins) => {
                let ctx = encode::Ctx {
                    bits: self.bits,
                    ip: self.address() as u64,
                    default_rel: self.default_rel,
                };
                let e = encode::encode(ins, &ctx, self)?;
                if let Some((name, col)) = &e.unknown {
                    self.undefined(src, name, *col);
                }
                for w in e.warnings {
                    self.warnings.push(diagnostic(src, w));
                }
                self.out.extend_from_slice(&e.bytes);
            }
        }
        Ok(())
    }

    /// A symbol not defined anywhere: an error if it stays so (every pass records it; only
    /// the last pass's errors are reported).
    fn undefined(&mut self, src: &SourceLine, name: &str, col: u32) {
        self.errors.push(diagnostic(
            src,
            Problem::at(
                col,
                format!("symbol `{}` is not defined", self.qualify(name)),
            ),
        ));
    }
}

fn unit_name(unit: u32) -> &'static str {
    match unit {
        1 => "byte",
        2 => "word",
        4 => "dword",
        _ => "qword",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        match assemble_str(src, Path::new("t.asm")) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn errors_name_file_line_column_and_what_was_expected() {
        assert_eq!(
            errors("bits 16\n  mvo ax, 1\n"),
            ["t.asm:2:3: unknown mnemonic 'mvo' — did you mean 'mov'?"]
        );
        assert_eq!(
            errors("bits 16\ninc [bx]\n"),
            ["t.asm:2:5: operation size not specified (write byte, word, dword or qword before the memory operand)"]
        );
        assert_eq!(
            errors("bits 16\nmov ax, bl\n"),
            ["t.asm:2:1: operand sizes do not match: ax is 16 bits, bl is 8 bits"]
        );
        assert_eq!(
            errors("jmp nowhere\n"),
            ["t.asm:1:5: symbol `nowhere` is not defined"]
        );
        assert_eq!(
            errors("a: nop\na: nop\n"),
            ["t.asm:2:1: `a` is defined twice"]
        );
        assert_eq!(
            errors("mov eax, dword ptr [ebx]\n"),
            ["t.asm:1:16: NASM syntax has no `ptr`: write `dword [x]`, not `dword ptr [x]`"]
        );
    }

    #[test]
    fn forward_references_settle_to_the_shortest_jumps() {
        // A forward jump over 120 bytes is short; over 130 it is near (NASM -Ox).
        let a = assemble_str(
            "bits 16\njmp x\ntimes 120 nop\nx: jmp y\ntimes 130 nop\ny:\n",
            Path::new("t.asm"),
        )
        .unwrap();
        assert_eq!(&a.bytes[..2], &[0xeb, 120]);
        assert_eq!(&a.bytes[122..125], &[0xe9, 130, 0]);
        assert_eq!(a.labels["x"], 122);
        assert_eq!(a.labels["y"], 125 + 130);
    }
}
