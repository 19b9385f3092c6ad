//! The processor as the other side of compatibility-mode cases, on hosts whose KVM does not
//! run 32-bit code on it (without VT-x/AMD-V, KVM emulates it in the host kernel).
//!
//! A small C program (`native.c`, built once with gcc and cached in the temporary
//! directory) runs each case in a 32-bit code segment of a Linux process: code at 100000h,
//! sandbox at 200000h, the case's registers and flags, Linux's flat user segments; the
//! sentinel `out 0xf4, al` ends it with a #GP (no I/O permission), any other fault with its
//! vector, error code and address. [`arbitrable`] says which instructions mean the same there
//! as in the case's environment: not those that use the machine's tables, selectors, I/O
//! permission, RFLAGS.IF/IOPL, system calls or the page at 0 — except LAR, LSL, VERR and
//! VERW on selectors of the case's LDT (or null ones), which the runner installs as the
//! process's LDT with modify_ldt() and reads back to check that Linux holds it as given.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use iced_x86::{Instruction, Mnemonic, OpKind};
use x86lab_emulator::state::flags as fl;

use super::generate::{Generated, CODE, LDT_AT, LOW};
use crate::case_file::{CaseMode, Outcome};

/// A running native runner.
pub struct Native {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

/// What a case did natively.
#[derive(Debug)]
pub struct NativeRun {
    pub signal: u32,
    pub trapno: u64,
    pub err: u64,
    /// The fault address (CR2 for a page fault).
    pub addr: u64,
    pub rip: u64,
    pub rflags: u64,
    pub gpr: [u64; 16],
    pub memory: Vec<String>,
}

const SIGSEGV: u32 = 11;
const SIGALRM: u32 = 14;

impl Native {
    /// Builds (once) and starts the runner.
    pub fn start() -> Result<Native> {
        static BUILT: std::sync::OnceLock<std::result::Result<std::path::PathBuf, String>> =
            std::sync::OnceLock::new();
        let exe = BUILT
            .get_or_init(|| build().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(|e| anyhow!(e))?;
        let mut child = Command::new(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start the native runner `{}`", exe.display()))?;
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Native {
            child,
            input,
            output,
        })
    }

    /// Runs a case natively; `None` when its memory is outside the runner's pages.
    pub fn run(&mut self, g: &Generated) -> Result<Option<NativeRun>> {
        let mut msg = format!("C {:x}", g.rflags);
        for v in g.gpr {
            msg += &format!(" {v:x}");
        }
        // The case's LDT (LAR, LSL, VERR, VERW) goes on the C line: the runner installs it
        // with modify_ldt(); the other chunks are memory of the runner's pages.
        let (ldt, chunks): (Vec<_>, Vec<_>) =
            g.case.initial.memory.iter().partition(|c| c.addr == LDT_AT);
        let n_chunks = chunks.len();
        msg += &format!(" {n_chunks}");
        match ldt.first() {
            Some(c) => msg += &format!(" {}\n", c.bytes.split_whitespace().collect::<String>()),
            None => msg += " -\n",
        }
        for c in chunks {
            msg += &format!(
                "M {:x} {}\n",
                c.addr,
                c.bytes.split_whitespace().collect::<String>()
            );
        }
        self.input.write_all(msg.as_bytes())?;
        self.input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            let status = self.child.wait()?;
            bail!("the native runner stopped ({status})");
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"B") {
            return Ok(None);
        }
        let n = |k: usize| -> Result<u64> {
            u64::from_str_radix(f.get(k).ok_or_else(|| anyhow!("short answer: {line}"))?, 16)
                .map_err(|e| anyhow!("bad answer `{line}`: {e}"))
        };
        if f.first() == Some(&"L") {
            bail!(
                "the native runner could not install the LDT of `{}` as given (`{}`: entry, errno, the table read back); modify_ldt() writes only DPL 3 code and data descriptors",
                g.case.name,
                line.trim()
            );
        }
        if f.first() != Some(&"R") || f.len() != 23 + n_chunks {
            bail!("the native runner answered `{}`", line.trim());
        }
        let mut gpr = [0; 16];
        for (k, v) in gpr.iter_mut().enumerate() {
            *v = n(7 + k)?;
        }
        Ok(Some(NativeRun {
            signal: n(1)? as u32,
            trapno: n(2)?,
            err: n(3)?,
            addr: n(4)?,
            rip: n(5)?,
            rflags: n(6)?,
            gpr,
            memory: f[23..].iter().map(|s| s.to_string()).collect(),
        }))
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the runner with gcc, once per version of its source, into the temporary
/// directory.
fn build() -> Result<std::path::PathBuf> {
    let source = include_str!("native.c");
    let hash = source.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let exe = std::env::temp_dir().join(format!("x86lab-native-{hash:016x}"));
    if exe.exists() {
        return Ok(exe);
    }
    let c = std::env::temp_dir().join(format!("x86lab-native-{}.c", std::process::id()));
    std::fs::write(&c, source)?;
    let tmp = exe.with_extension(format!("tmp{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-O0", "-static-pie", "-fno-stack-protector", "-o"])
        .arg(&tmp)
        .arg(&c)
        .output()
        .context("the native runner needs gcc (apt-get install gcc)")?;
    let _ = std::fs::remove_file(&c);
    if !out.status.success() {
        bail!(
            "gcc could not build the native runner: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&tmp, &exe)?;
    Ok(exe)
}

/// Whether a compatibility-mode case means the same in the native process as in the case's
/// environment.
pub fn arbitrable(g: &Generated) -> bool {
    use Mnemonic::*;
    let i: &Instruction = &g.instruction;
    if g.env.mode != CaseMode::Compat
        || g.env.cpl != 3
        || g.case.initial.memory.iter().any(|c| c.addr == LOW)
    {
        return false;
    }
    // LAR, LSL, VERR, VERW: the process has the case's LDT, not its GDT.
    if matches!(i.mnemonic(), Lar | Lsl | Verr | Verw) {
        return g.selector.is_some_and(|s| s & 4 != 0 || s < 4);
    }
    let segment_register = (0..i.op_count())
        .any(|k| i.op_kind(k) == OpKind::Register && i.op_register(k).is_segment_register());
    !segment_register
        && !super::generate::far_pointer(i)
        && !matches!(
            i.mnemonic(),
            In | Out
                | Insb
                | Insw
                | Insd
                | Outsb
                | Outsw
                | Outsd
                | Int
                | Int1
                | Syscall
                | Sysenter
                | Sysexit
                | Sysret
                | Cli
                | Sti
                | Pushf
                | Pushfd
                | Popf
                | Popfd
                | Iret
                | Iretd
                | Retf
                | Sgdt
                | Sidt
                | Sldt
                | Str
                | Smsw
                | Lldt
                | Ltr
                | Lgdt
                | Lidt
                | Lmsw
        )
}

/// The differences between the software CPU's outcome and the native run.
pub fn compare(emu: &Outcome, n: &NativeRun, g: &Generated) -> Vec<String> {
    let mut d = Vec::new();
    let at = |rip: u64| -> Option<&str> {
        let o = 2 * usize::try_from(rip.checked_sub(CODE)?).ok()?;
        n.memory.first()?.get(o..o + 4)
    };
    // How the native run ended: the sentinel (a #GP on `out 0xf4, al`) or a fault.
    let exited = n.signal == SIGSEGV && n.trapno == 13 && n.err == 0 && at(n.rip) == Some("e6f4");
    let (rsp, rflags) = match (&emu.fault, exited) {
        (None, true) => {
            if emu.state.rip != n.rip + 2 {
                d.push(format!(
                    "end: emulator exits at {:#x}, native at {:#x}",
                    emu.state.rip,
                    n.rip + 2
                ));
            }
            (emu.state.gpr[4], emu.state.rflags)
        }
        (Some(f), false) if n.signal != SIGALRM => {
            let with_code = matches!(f.vector, 8 | 10..=14 | 17);
            if u64::from(f.vector) != n.trapno
                || f.rip != n.rip
                || (with_code && f.error_code != n.err)
                || (f.vector == 14 && emu.state.cr2 != n.addr)
            {
                d.push(format!(
                    "fault: emulator vector {} error {:#x} at {:#x} (cr2 {:#x}), native vector {} error {:#x} at {:#x} (address {:#x})",
                    f.vector, f.error_code, f.rip, emu.state.cr2, n.trapno, n.err, n.rip, n.addr
                ));
            }
            (f.rsp, f.rflags)
        }
        _ => {
            d.push(format!(
                "end: emulator {}, native signal {} vector {} at {:#x}",
                emu.ended, n.signal, n.trapno, n.rip
            ));
            return d;
        }
    };
    for (k, name) in x86lab_emulator::state::GPR_NAMES.iter().enumerate() {
        let (a, b) = if k == 4 {
            (rsp, n.gpr[4])
        } else {
            (emu.state.gpr[k], n.gpr[k])
        };
        // The upper halves of the eight legacy registers are undefined after compatibility
        // mode; compare the low 32 bits.
        let mask = if k < 8 { 0xffff_ffff } else { u64::MAX };
        if a & mask != b & mask {
            d.push(format!("{name}: emulator {a:#x}, native {b:#x}"));
        }
    }
    let m = g.flags_mask & (fl::STATUS | fl::DF);
    if rflags & m != n.rflags & m {
        d.push(format!(
            "rflags: emulator {:#x}, native {:#x}",
            rflags & m,
            n.rflags & m
        ));
    }
    let memory = emu.memory.iter().filter(|c| c.addr != LDT_AT);
    for (k, (x, y)) in memory.zip(&n.memory).enumerate() {
        if x.bytes != *y {
            let o = x
                .bytes
                .bytes()
                .zip(y.bytes())
                .position(|(p, q)| p != q)
                .unwrap_or(0)
                / 2;
            d.push(format!(
                "memory chunk {k} differs from {:#x}",
                x.addr + o as u64
            ));
        }
    }
    d
}
