//! NASM's preprocessor, as far as course material uses it: `%include` (relative to the
//! including file), single-line macros (`%define` with or without parameters, `%undef`,
//! `%assign`, `%defstr`), multi-line macros (`%macro`/`%endmacro` with parameter ranges,
//! greedy last parameters, defaults, `%%local` labels, `%0`, `%1`...), `%rep`/`%endrep`
//! (with `%exitrep`), conditionals (`%if`, `%elif`, `%else`, `%endif`, `%ifdef`, `%ifndef`,
//! `%elifdef`, `%elifndef`, `%ifmacro`) and `%error`/`%warning`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::expr::{self, Cursor, Scope};
use super::{lex, Diagnostic, Errors, SourceLine};

/// The deepest `%include` and macro nesting before the preprocessor assumes a loop.
const MAX_DEPTH: usize = 64;
/// The most lines one program may expand to.
const MAX_LINES: usize = 4_000_000;

#[derive(Clone, Debug)]
struct Define {
    params: Option<Vec<String>>,
    body: String,
}

#[derive(Clone, Debug)]
struct Macro {
    min: usize,
    /// `None`: any number (`%macro m 1-*`).
    max: Option<usize>,
    /// The last parameter takes the rest of the line, commas included (`%macro m 1+`).
    greedy: bool,
    defaults: Vec<String>,
    body: Vec<SourceLine>,
}

/// One level of `%if`: whether its lines are kept, and whether a branch was taken.
struct Cond {
    active: bool,
    taken: bool,
    /// The enclosing level is active.
    outer: bool,
}

pub struct Preprocessor {
    defines: HashMap<String, Define>,
    /// `%macro` names are case-sensitive, as in NASM.
    macros: HashMap<String, Vec<Macro>>,
    /// `%imacro` names, lower case.
    imacros: HashMap<String, Vec<Macro>>,
    out: Vec<SourceLine>,
    errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Expansions so far, for `%%` labels.
    unique: u32,
    /// Where `%include` looks after the including file's directory (as `nasm -i`).
    pub include: Vec<PathBuf>,
    /// `name equ constant` lines passed so far.
    equs: HashMap<String, i64>,
}

/// What preprocessor expressions may name besides constants: the `equ`s of constant
/// value seen so far (NASM evaluates `%if` and `%rep` with the symbols defined before them).
struct Equs<'a>(&'a HashMap<String, i64>);

impl Scope for Equs<'_> {
    fn symbol(&self, name: &str) -> Option<(i64, bool)> {
        self.0.get(name).map(|&v| (v, false))
    }
    fn here(&self) -> i64 {
        0
    }
    fn start(&self) -> i64 {
        0
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '?' | '@' | '$' | '#' | '~')
}

/// The characters of `s` outside quoted strings, with their byte offsets.
fn outside_quotes(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote = None;
    s.char_indices().filter(move |&(_, c)| match quote {
        Some(q) => {
            if c == q {
                quote = None;
            }
            false
        }
        None if matches!(c, '\'' | '"' | '`') => {
            quote = Some(c);
            false
        }
        None => true,
    })
}

/// The text of a line without its comment (a `;` outside quotes).
fn strip_comment(s: &str) -> &str {
    match outside_quotes(s).find(|&(_, c)| c == ';') {
        Some((k, _)) => &s[..k],
        None => s,
    }
}

/// Splits macro arguments at top-level commas (quotes and braces group; braces are removed).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut depth = 0;
    for c in s.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '{' => {
                    if depth > 0 {
                        cur.push(c);
                    }
                    depth += 1;
                }
                '}' if depth > 0 => {
                    depth -= 1;
                    if depth > 0 {
                        cur.push(c);
                    }
                }
                '(' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
                _ => cur.push(c),
            },
        }
    }
    let last = cur.trim().to_string();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// The first word of a line and the rest.
fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(is_ident_char(c) || c == '%'))
        .map_or(s.len(), |(k, _)| k);
    (&s[..end], s[end..].trim())
}

impl Default for Preprocessor {
    fn default() -> Self {
        Self::new()
    }
}

impl Preprocessor {
    pub fn new() -> Preprocessor {
        Preprocessor {
            defines: HashMap::new(),
            macros: HashMap::new(),
            imacros: HashMap::new(),
            out: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            unique: 0,
            include: Vec::new(),
            equs: HashMap::new(),
        }
    }

    /// Defines a single-line macro before the program (as `nasm -D`).
    pub fn define(&mut self, name: &str, body: &str) {
        self.defines.insert(
            name.to_string(),
            Define {
                params: None,
                body: body.to_string(),
            },
        );
    }

    /// Preprocesses a file; `Err` lists every error.
    pub fn file(self, path: &Path) -> Result<(Vec<SourceLine>, Vec<Diagnostic>), Errors> {
        match std::fs::read_to_string(path) {
            Ok(text) => self.text(&text, path),
            Err(e) => Err(Errors(vec![Diagnostic {
                file: Arc::new(path.to_path_buf()),
                line: 0,
                col: 0,
                message: format!("cannot read the file: {e}"),
            }])),
        }
    }

    /// Preprocesses source text named `name` (`%include` is relative to its directory).
    pub fn text(
        mut self,
        text: &str,
        name: &Path,
    ) -> Result<(Vec<SourceLine>, Vec<Diagnostic>), Errors> {
        let lines = lines_of(text, name);
        self.lines(&lines, 0);
        if self.errors.is_empty() {
            Ok((self.out, self.warnings))
        } else {
            Err(Errors(self.errors))
        }
    }

    fn error(&mut self, at: &SourceLine, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            file: at.file.clone(),
            line: at.line,
            col: 0,
            message: message.into(),
        });
    }

    /// Processes a block of lines: directives, conditionals, macro definitions and calls.
    fn lines(&mut self, lines: &[SourceLine], depth: usize) {
        if depth > MAX_DEPTH {
            if let Some(l) = lines.first() {
                self.error(
                    l,
                    "macros or includes nest too deeply (a recursive %include or macro?)",
                );
            }
            return;
        }
        let mut conds: Vec<Cond> = Vec::new();
        let mut k = 0;
        while k < lines.len() {
            let l = &lines[k];
            k += 1;
            if self.out.len() > MAX_LINES {
                self.error(
                    l,
                    format!("the program expands to more than {MAX_LINES} lines"),
                );
                return;
            }
            let code = strip_comment(&l.text).trim();
            let active = conds.last().is_none_or(|c| c.active);
            let (word, rest) = first_word(code);
            let directive = word.starts_with('%')
                && word.len() > 1
                && !word[1..].starts_with(|c: char| c.is_ascii_digit() || c == '%');
            let d = word.to_ascii_lowercase();
            if directive {
                match d.as_str() {
                    "%if" | "%ifdef" | "%ifndef" | "%ifmacro" => {
                        let truth = active && self.condition(&d, rest, l);
                        conds.push(Cond {
                            active: truth,
                            taken: truth,
                            outer: active,
                        });
                        continue;
                    }
                    "%elif" | "%elifdef" | "%elifndef" | "%elifmacro" => {
                        let Some(c) = conds.last() else {
                            self.error(l, format!("`{word}` without `%if`"));
                            continue;
                        };
                        let (outer, taken) = (c.outer, c.taken);
                        let truth =
                            outer && !taken && self.condition(&d.replacen("%el", "%", 1), rest, l);
                        let c = conds.last_mut().expect("checked");
                        c.active = truth;
                        c.taken |= truth;
                        continue;
                    }
                    "%else" => {
                        match conds.last_mut() {
                            Some(c) => {
                                c.active = c.outer && !c.taken;
                                c.taken = true;
                            }
                            None => self.error(l, "`%else` without `%if`"),
                        }
                        continue;
                    }
                    "%endif" => {
                        if conds.pop().is_none() {
                            self.error(l, "`%endif` without `%if`");
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            if !active {
                // Skip whole macro and %rep bodies inside a false branch.
                if directive && matches!(d.as_str(), "%macro" | "%imacro" | "%rep") {
                    let end = if d == "%rep" { "%endrep" } else { "%endmacro" };
                    k = self
                        .block_end(lines, k, &d, end)
                        .map_or(lines.len(), |e| e + 1);
                }
                continue;
            }
            if directive {
                k = self.directive(lines, k, &d, rest, depth);
                continue;
            }
            self.plain(l, depth);
        }
        if let Some(l) = lines.last() {
            if !conds.is_empty() {
                self.error(l, "`%if` without `%endif` before the end of the file");
            }
        }
    }

    /// The index of the line that closes a block opened before `from` (nested blocks of
    /// the same kind counted).
    fn block_end(
        &mut self,
        lines: &[SourceLine],
        from: usize,
        open: &str,
        close: &str,
    ) -> Option<usize> {
        let mut depth = 1;
        for (k, l) in lines.iter().enumerate().skip(from) {
            let (w, _) = first_word(strip_comment(&l.text));
            let w = w.to_ascii_lowercase();
            let opens = if open == "%rep" {
                w == "%rep"
            } else {
                w == "%macro" || w == "%imacro"
            };
            if opens {
                depth += 1;
            } else if w == close {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
        }
        let at = &lines[from.saturating_sub(1)];
        self.error(at, format!("`{open}` without `{close}`"));
        None
    }

    fn condition(&mut self, d: &str, rest: &str, l: &SourceLine) -> bool {
        match d {
            "%ifdef" => self.defines.contains_key(rest.trim()),
            "%ifndef" => !self.defines.contains_key(rest.trim()),
            "%ifmacro" => self.find_macro(rest.trim()).is_some(),
            _ => match self.constant(rest, l) {
                Some(v) => v != 0,
                None => false,
            },
        }
    }

    /// A constant expression after macro expansion (`%if`, `%assign`, `%rep`).
    fn constant(&mut self, text: &str, l: &SourceLine) -> Option<i64> {
        let text = self.expand_defines(text, l);
        let toks = match lex::tokens(&text) {
            Ok(t) => t,
            Err(p) => {
                self.error(l, p.message);
                return None;
            }
        };
        let mut c = Cursor::new(&toks, text.len() as u32 + 1);
        let v = expr::parse(&mut c).and_then(|e| expr::eval(&e, &Equs(&self.equs), 1));
        match v {
            Ok(v) if c.at_end() && v.regs.is_empty() && v.unknown.is_none() => Some(v.n),
            Ok(v) if v.unknown.is_some() => {
                self.error(l, format!("`{}` is not known to the preprocessor (only constants, %define'd names and earlier `equ`s of constants)", v.unknown.unwrap_or_default()));
                None
            }
            Ok(_) => {
                self.error(l, format!("`{text}` is not a constant expression"));
                None
            }
            Err(p) => {
                self.error(l, p.message);
                None
            }
        }
    }

    /// Handles a directive line (at `lines[k - 1]`); returns the index of the next line.
    fn directive(
        &mut self,
        lines: &[SourceLine],
        k: usize,
        d: &str,
        rest: &str,
        depth: usize,
    ) -> usize {
        let l = &lines[k - 1];
        match d {
            "%define" | "%idefine" | "%xdefine" => {
                let (name, after) = first_word(rest);
                if name.is_empty() {
                    self.error(l, format!("`{d}` needs a name"));
                    return k;
                }
                let (params, body) = match after.strip_prefix('(') {
                    Some(p) if rest[name.len()..].starts_with('(') => match p.split_once(')') {
                        Some((ps, body)) => (
                            Some(
                                ps.split(',')
                                    .map(|s| s.trim().to_string())
                                    .filter(|s| !s.is_empty())
                                    .collect(),
                            ),
                            body.trim().to_string(),
                        ),
                        None => {
                            self.error(l, "a macro's parameter list needs `)`");
                            return k;
                        }
                    },
                    _ => (None, after.to_string()),
                };
                let body = if d == "%xdefine" {
                    self.expand_defines(&body, l)
                } else {
                    body
                };
                self.defines
                    .insert(name.to_string(), Define { params, body });
            }
            "%undef" => {
                self.defines.remove(rest.trim());
            }
            "%assign" | "%iassign" => {
                let (name, after) = first_word(rest);
                if let Some(v) = self.constant(after, l) {
                    self.defines.insert(
                        name.to_string(),
                        Define {
                            params: None,
                            body: v.to_string(),
                        },
                    );
                }
            }
            "%defstr" => {
                let (name, after) = first_word(rest);
                let text = self.expand_defines(after, l);
                self.defines.insert(
                    name.to_string(),
                    Define {
                        params: None,
                        body: format!("'{}'", text.trim()),
                    },
                );
            }
            "%include" => {
                let name = rest
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == '<' || c == '>');
                let base = l.file.parent().unwrap_or(Path::new("."));
                let path = std::iter::once(base.to_path_buf())
                    .chain(self.include.iter().cloned())
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
                    .unwrap_or_else(|| base.join(name));
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let inc = lines_of(&text, &path);
                        self.lines(&inc, depth + 1);
                    }
                    Err(e) => self.error(l, format!("cannot include `{}`: {e}", path.display())),
                }
            }
            "%macro" | "%imacro" => {
                let Some(end) = self.block_end(lines, k, "%macro", "%endmacro") else {
                    return lines.len();
                };
                if let Some((name, m)) = self.macro_header(rest, l) {
                    let m = Macro {
                        body: lines[k..end].to_vec(),
                        ..m
                    };
                    if d == "%imacro" {
                        let key = name.to_ascii_lowercase();
                        self.imacros.entry(key).or_default().push(m);
                    } else {
                        self.macros.entry(name).or_default().push(m);
                    }
                }
                return end + 1;
            }
            "%rep" => {
                let Some(end) = self.block_end(lines, k, "%rep", "%endrep") else {
                    return lines.len();
                };
                let count = self.constant(rest, l).unwrap_or(0);
                if count > 1 << 20 {
                    self.error(l, format!("`%rep {count}` repeats too many times"));
                    return end + 1;
                }
                let body = &lines[k..end];
                let exit = body.iter().position(|b| {
                    first_word(strip_comment(&b.text))
                        .0
                        .eq_ignore_ascii_case("%exitrep")
                });
                for _ in 0..count.max(0) {
                    match exit {
                        // `%exitrep` stops the repetition (where it is reached unconditionally).
                        Some(x) => {
                            self.lines(&body[..x], depth + 1);
                            break;
                        }
                        None => self.lines(body, depth + 1),
                    }
                }
                return end + 1;
            }
            "%error" | "%fatal" => {
                let msg = self.expand_defines(rest, l);
                self.error(l, format!("%error: {}", msg.trim().trim_matches('"')));
            }
            "%warning" => {
                let msg = self.expand_defines(rest, l);
                self.warnings.push(Diagnostic {
                    file: l.file.clone(),
                    line: l.line,
                    col: 0,
                    message: format!("%warning: {}", msg.trim().trim_matches('"')),
                });
            }
            "%endmacro" | "%endrep" | "%exitrep" => {
                self.error(l, format!("`{d}` without its opening directive"))
            }
            _ => self.error(l, format!("unknown preprocessor directive `{d}`")),
        }
        k
    }

    /// `name count[-max|-*][+] [defaults...]`.
    fn macro_header(&mut self, rest: &str, l: &SourceLine) -> Option<(String, Macro)> {
        let (name, after) = first_word(rest);
        let mut parts = after.splitn(2, char::is_whitespace);
        let spec = parts.next().unwrap_or("").trim();
        let defaults = parts.next().map(split_args).unwrap_or_default();
        let greedy = spec.ends_with('+');
        let spec = spec.trim_end_matches('+');
        let bad =
            || format!("`%macro {name}` needs a parameter count (`0`, `2`, `1-3`, `1-*`, `1+`)");
        let (min, max) = match spec.split_once('-') {
            Some((a, "*")) => (a.parse().ok(), None),
            Some((a, b)) => (a.parse().ok(), Some(b.parse().ok())),
            None => (spec.parse().ok(), Some(spec.parse().ok())),
        };
        let (Some(min), Some(max)) = (min, max.map_or(Some(None), |m: Option<usize>| m.map(Some)))
        else {
            self.error(l, bad());
            return None;
        };
        if name.is_empty() {
            self.error(l, bad());
            return None;
        }
        Some((
            name.to_string(),
            Macro {
                min,
                max,
                greedy,
                defaults,
                body: Vec::new(),
            },
        ))
    }

    /// A line that is not a directive: defines expanded, then a macro call or code.
    fn plain(&mut self, l: &SourceLine, depth: usize) {
        let text = self.expand_defines(&l.text, l);
        let code = strip_comment(&text);
        // `label: macro args` or `macro args`.
        let (mut word, mut rest) = first_word(code);
        let mut label = None;
        let after = code.trim_start()[word.len()..].trim_start();
        if let Some(r) = after.strip_prefix(':') {
            let (w2, r2) = first_word(r);
            if self.find_macro(w2).is_some() {
                label = Some(format!("{word}:"));
                (word, rest) = (w2, r2);
            }
        }
        if let Some(defs) = self.find_macro(word) {
            let mut args = if rest.is_empty() {
                Vec::new()
            } else {
                split_args(rest)
            };
            let n = args.len();
            let fit = defs
                .iter()
                .find(|m| n >= m.min && (m.greedy || m.max.is_none_or(|x| n <= x)));
            let Some(m) = fit else {
                // NASM warns and reads the line as it is (`test ax, ax` beside a
                // `%macro test 5`).
                self.warnings.push(Diagnostic {
                    file: l.file.clone(),
                    line: l.line,
                    col: 0,
                    message: format!("macro `{word}` exists but not taking {n} parameters"),
                });
                self.emit(l, text);
                return;
            };
            let top = m.max.unwrap_or(n).max(m.min);
            if m.greedy && top > 0 && n > top {
                // The last parameter takes the rest of the line as written.
                let tail = rest_after_commas(rest, top - 1);
                args.truncate(top - 1);
                args.push(tail);
            }
            // Defaults fill the parameters after the minimum.
            while args.len() < top {
                match m.defaults.get(args.len() - m.min) {
                    Some(d) => args.push(d.clone()),
                    None => break,
                }
            }
            if let Some(lab) = label {
                self.out.push(SourceLine {
                    text: lab,
                    ..l.clone()
                });
            }
            self.unique += 1;
            let id = self.unique;
            let count = args.len();
            let body: Vec<SourceLine> = m
                .body
                .iter()
                .map(|b| SourceLine {
                    file: l.file.clone(),
                    line: l.line,
                    text: substitute(&b.text, &args, count, id),
                })
                .collect();
            self.lines(&body, depth + 1);
            return;
        }
        self.emit(l, text);
    }

    /// Passes a line to the assembler, remembering `name equ constant`.
    fn emit(&mut self, l: &SourceLine, text: String) {
        if let Ok(toks) = lex::tokens(&text) {
            if let [lex::Token {
                tok: lex::Tok::Ident(name),
                ..
            }, lex::Token {
                tok: lex::Tok::Ident(equ),
                ..
            }, rest @ ..] = toks.as_slice()
            {
                if equ.eq_ignore_ascii_case("equ") {
                    let mut c = Cursor::new(rest, 0);
                    if let Ok(v) =
                        expr::parse(&mut c).and_then(|e| expr::eval(&e, &Equs(&self.equs), 1))
                    {
                        if c.at_end() && v.regs.is_empty() && v.unknown.is_none() {
                            self.equs.insert(name.clone(), v.n);
                        }
                    }
                }
            }
        }
        self.out.push(SourceLine { text, ..l.clone() });
    }

    /// The definitions of a multi-line macro called `word`.
    fn find_macro(&self, word: &str) -> Option<Vec<Macro>> {
        self.macros
            .get(word)
            .or_else(|| self.imacros.get(&word.to_ascii_lowercase()))
            .cloned()
    }

    /// Expands single-line macros in a line (not inside strings or its comment).
    fn expand_defines(&mut self, text: &str, l: &SourceLine) -> String {
        let mut s = text.to_string();
        for _ in 0..MAX_DEPTH {
            let (next, changed) = self.expand_once(&s);
            s = next;
            if !changed {
                return s;
            }
        }
        self.error(l, "a %define expands forever (it refers to itself)");
        s
    }

    fn expand_once(&self, s: &str) -> (String, bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut changed = false;
        let mut k = 0;
        let mut quote = None;
        while k < chars.len() {
            let c = chars[k];
            if let Some(q) = quote {
                out.push(c);
                if c == q {
                    quote = None;
                }
                k += 1;
                continue;
            }
            if matches!(c, '\'' | '"' | '`') {
                quote = Some(c);
                out.push(c);
                k += 1;
                continue;
            }
            if c == ';' {
                out.extend(&chars[k..]);
                break;
            }
            let starts = (c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '?' | '@' | '$'))
                && (k == 0 || !(is_ident_char(chars[k - 1]) || chars[k - 1] == '%'));
            if !starts {
                out.push(c);
                k += 1;
                continue;
            }
            let start = k;
            while k < chars.len() && is_ident_char(chars[k]) {
                k += 1;
            }
            let word: String = chars[start..k].iter().collect();
            match self.defines.get(&word) {
                Some(Define { params: None, body }) => {
                    out += body;
                    changed = true;
                }
                Some(Define {
                    params: Some(ps),
                    body,
                }) if chars.get(k) == Some(&'(') => {
                    // Arguments up to the matching parenthesis.
                    let mut depth = 0;
                    let mut end = k;
                    for (j, &ch) in chars.iter().enumerate().skip(k) {
                        if ch == '(' {
                            depth += 1;
                        } else if ch == ')' {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                    }
                    if end == k {
                        out += &word;
                        continue;
                    }
                    let inner: String = chars[k + 1..end].iter().collect();
                    let args = split_args(&inner);
                    if args.len() != ps.len() {
                        out += &word;
                        continue;
                    }
                    out += &replace_words(body, ps, &args);
                    k = end + 1;
                    changed = true;
                }
                _ => out += &word,
            }
        }
        (out, changed)
    }
}

/// The text after the first `n` top-level commas.
fn rest_after_commas(s: &str, n: usize) -> String {
    if n == 0 {
        return s.trim().to_string();
    }
    outside_quotes(s)
        .filter(|&(_, c)| c == ',')
        .nth(n - 1)
        .map(|(k, _)| s[k + 1..].trim().to_string())
        .unwrap_or_default()
}

/// Replaces whole words `ps[i]` by `args[i]`.
fn replace_words(body: &str, ps: &[String], args: &[String]) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut k = 0;
    while k < chars.len() {
        if is_ident_char(chars[k]) && (k == 0 || !is_ident_char(chars[k - 1])) {
            let start = k;
            while k < chars.len() && is_ident_char(chars[k]) {
                k += 1;
            }
            let w: String = chars[start..k].iter().collect();
            match ps.iter().position(|p| *p == w) {
                Some(i) => out += &args[i],
                None => out += &w,
            }
        } else {
            out.push(chars[k]);
            k += 1;
        }
    }
    out
}

/// A macro body line with `%1`.., `%{10}`, `%0` and `%%label` filled in.
fn substitute(text: &str, args: &[String], count: usize, id: u32) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] != '%' {
            out.push(chars[k]);
            k += 1;
            continue;
        }
        match chars.get(k + 1) {
            Some('%')
                if chars
                    .get(k + 2)
                    .is_some_and(|&c| c.is_ascii_alphabetic() || c == '_' || c == '.') =>
            {
                out += &format!("..@{id}.");
                k += 2;
            }
            Some(c) if c.is_ascii_digit() => {
                let mut j = k + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let n: usize = chars[k + 1..j]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0);
                if n == 0 {
                    out += &count.to_string();
                } else if let Some(a) = args.get(n - 1) {
                    out += a;
                }
                k = j;
            }
            Some('{') => {
                let close = chars[k..].iter().position(|&c| c == '}').map(|p| k + p);
                let inner: String =
                    close.map_or(String::new(), |c| chars[k + 2..c].iter().collect());
                match (inner.parse::<usize>(), close) {
                    (Ok(n), Some(c)) if n > 0 => {
                        if let Some(a) = args.get(n - 1) {
                            out += a;
                        }
                        k = c + 1;
                    }
                    _ => {
                        out.push('%');
                        k += 1;
                    }
                }
            }
            _ => {
                out.push('%');
                k += 1;
            }
        }
    }
    out
}

fn lines_of(text: &str, name: &Path) -> Vec<SourceLine> {
    let file = Arc::new(PathBuf::from(name));
    text.lines()
        .enumerate()
        .map(|(k, t)| SourceLine {
            file: file.clone(),
            line: k as u32 + 1,
            text: t.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Vec<String> {
        let (lines, _) = Preprocessor::new().text(src, Path::new("t.asm")).unwrap();
        lines
            .into_iter()
            .map(|l| l.text.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    }

    #[test]
    fn defines_macros_and_conditionals_as_in_the_nasm_manual() {
        // The NASM manual, 4.1.1 (%define with parameters), 4.3 (multi-line macros), 4.4
        // (conditional assembly), 4.5 (%rep).
        let out = run("%define ctrl 0x1F &\n%define param(a,b) ((a)+(a)*(b))\nmov byte [param(2,ebx)], ctrl 'D'\n");
        assert_eq!(out, vec!["mov byte [((2)+(2)*(ebx))], 0x1F & 'D'"]);
        let out = run("%macro prologue 1\npush ebp\nmov ebp,esp\nsub esp,%1\n%endmacro\nmyfunc: prologue 12\n");
        assert_eq!(
            out,
            vec!["myfunc:", "push ebp", "mov ebp,esp", "sub esp,12"]
        );
        let out =
            run("%macro silly 2\n%2: db %1\n%endmacro\nsilly 'a', letter_a\nsilly {13,10}, crlf\n");
        assert_eq!(out, vec!["letter_a: db 'a'", "crlf: db 13,10"]);
        let out = run("%macro retz 0\njnz %%skip\nret\n%%skip:\n%endmacro\nretz\nretz\n");
        assert_eq!(
            out,
            vec![
                "jnz ..@1.skip",
                "ret",
                "..@1.skip:",
                "jnz ..@2.skip",
                "ret",
                "..@2.skip:"
            ]
        );
        let out = run("%macro w 1+\ndb %1, 0\n%endmacro\nw 'a', 'b'\n");
        assert_eq!(out, vec!["db 'a', 'b', 0"]);
        let out = run("%macro d 1-2 7\ndb %1, %2, %0\n%endmacro\nd 1\nd 1, 2\n");
        assert_eq!(out, vec!["db 1, 7, 2", "db 1, 2, 2"]);
        let out = run("%define X 1\n%ifdef X\na\n%elifdef Y\nb\n%else\nc\n%endif\n%if X > 1\nd\n%elif X == 1\ne\n%endif\n");
        assert_eq!(out, vec!["a", "e"]);
        let out = run("%assign i 0\n%rep 3\ndb i\n%assign i i+1\n%endrep\n");
        assert_eq!(out, vec!["db 0", "db 1", "db 2"]);
    }

    #[test]
    fn macro_names_are_case_sensitive_unless_imacro() {
        let out = run(
            "%macro FOO 1\nnop\n%endmacro\nfoo: db 1\nFOO 2\n%imacro bar 0\nhlt\n%endmacro\nBAR\n",
        );
        assert_eq!(out, vec!["foo: db 1", "nop", "hlt"]);
    }

    #[test]
    fn rep_and_if_see_earlier_equs_and_a_misfit_macro_call_is_an_instruction() {
        assert_eq!(
            run("N equ 2\n%rep N\nnop\n%endrep\n"),
            vec!["N equ 2", "nop", "nop"]
        );
        let (lines, warnings) = Preprocessor::new()
            .text(
                "%macro test 5\nhlt\n%endmacro\ntest ax, ax\n",
                Path::new("t.asm"),
            )
            .unwrap();
        assert_eq!(lines.last().unwrap().text, "test ax, ax");
        assert!(warnings[0].message.contains("not taking 2 parameters"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Preprocessor::new()
            .text("nop\n%error \"stop here\"\n", Path::new("t.asm"))
            .unwrap_err();
        assert_eq!(e.0[0].line, 2);
        assert!(e.0[0].message.contains("stop here"));
        let e = Preprocessor::new()
            .text("%if 1\nnop\n", Path::new("t.asm"))
            .unwrap_err();
        assert!(e.0[0].message.contains("%endif"));
    }
}
