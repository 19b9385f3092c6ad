//! Case files: one machine state, some memory, how far to run, and optionally the
//! expected result, in JSON (`x86lab case`). The same case runs on either backend from the
//! identical state, so a case is also a reproducer of a difference between them.
//!
//! ```json
//! { "name": "adc ax, bx carry chain",
//!   "mode": "real",                        // real | protected | compat | long
//!   "cpl": 0,                              // optional; 3 in long and compat mode
//!   "initial": { "regs": { "rax": "0xffff", "rbx": "0x1", "rip": "0x7c00" },
//!                "memory": [ { "addr": "0x7c00", "bytes": "11d8f4" } ] },
//!   "max_instructions": 1,                 // optional; else run to the end (below)
//!   "expect": { "regs": { "rax": "0x0" }, "memory": [], "flags_mask": "0x8d5" } }
//! ```
//!
//! Registers use the names of the state format (`rax`..`r15`, `rip`, `rflags`, `cs`..`gs`,
//! `cr0`.., `efer`); unnamed ones keep the mode's defaults. In real mode a segment register
//! given as a number is a selector with base = selector × 16; in the other modes a number
//! sets the selector and keeps the mode's flat cache, and an object
//! (`{"selector", "base", "limit", "attributes"}`) gives the whole cache. Addresses are
//! physical; RAM is the default 64 MiB.
//!
//! The modes' environments: `real` is the boot-sector state (no IVT unless the case
//! writes one); `protected` is the 32-bit flat environment of `x86lab run`; `long` and
//! `compat` are the 64-bit environment of `x86lab run` plus a small kernel in the boot area:
//! a GDT with user segments (23h data, 2Bh 64-bit code, 33h 32-bit code, all DPL 3), a TSS
//! whose RSP0 is a kernel stack, user-accessible page tables, and an IDT whose 256 vectors
//! go to stubs that push the vector (and a zero error code where the CPU pushes none) and
//! write to the exit port; the gates are DPL 0 except those of vectors 3, 4 and 80h, which
//! user code may raise with INT3, INTO and INT 80h (DPL 3, as Linux has them). That reports a fault without any kernel code touching
//! the state under test, at either CPL.
//!
//! A run ends at HLT, at a write to the exit port (0F4h: `out 0xf4, al`, which CPL 3 can
//! execute because cases at CPL 3 start with IOPL = 3), at a fault (reported with vector,
//! error code and RIP), after `max_instructions` (single steps on KVM, which cannot count),
//! or after ten seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use x86lab_emulator::state::{attr, flags as fl, hex};
use x86lab_emulator::{CpuState, Event, Machine, RunLimits, Segment};

use crate::load::{boot_area, boot_state, descriptor, Mode};

/// The mode a case runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseMode {
    Real,
    Protected,
    Compat,
    Long,
}

/// A chunk of memory: a physical address and bytes in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    #[serde(with = "hex")]
    pub addr: u64,
    pub bytes: String,
}

impl Chunk {
    /// A chunk holding `data` at `addr`.
    pub fn new(addr: u64, data: &[u8]) -> Chunk {
        Chunk {
            addr,
            bytes: data.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    pub fn data(&self) -> Result<Vec<u8>> {
        let t: String = self.bytes.split_whitespace().collect();
        if t.len() % 2 != 0 {
            bail!(
                "memory at {:#x}: `{}` is not whole bytes of hex",
                self.addr,
                self.bytes
            );
        }
        (0..t.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&t[i..i + 2], 16)
                    .map_err(|_| anyhow!("memory at {:#x}: `{}` is not hex", self.addr, self.bytes))
            })
            .collect()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Initial {
    #[serde(default)]
    pub regs: BTreeMap<String, Value>,
    #[serde(default)]
    pub memory: Vec<Chunk>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub regs: BTreeMap<String, Value>,
    #[serde(default)]
    pub memory: Vec<Chunk>,
    /// The RFLAGS bits compared (default: all).
    #[serde(default, with = "opt_hex")]
    pub flags_mask: Option<u64>,
    /// The exception the case must end with, by vector number.
    #[serde(default)]
    pub fault: Option<u8>,
    /// Its error code.
    #[serde(default, with = "opt_hex", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u64>,
}

/// A case file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub mode: CaseMode,
    #[serde(default)]
    pub cpl: u8,
    #[serde(default)]
    pub initial: Initial,
    #[serde(default)]
    pub max_instructions: Option<u64>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

mod opt_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{v:#x}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v: Option<serde_json::Value> = Option::deserialize(d)?;
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_u64()),
            Some(serde_json::Value::String(t)) => x86lab_emulator::state::hex::parse(&t)
                .map(Some)
                .map_err(serde::de::Error::custom),
            Some(other) => Err(serde::de::Error::custom(format!("{other} is not a number"))),
        }
    }
}

/// An exception a case ended with, as the kernel stubs report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub vector: u8,
    #[serde(with = "hex")]
    pub error_code: u64,
    /// The saved RIP (the faulting instruction for a fault, the next one for a trap).
    #[serde(with = "hex")]
    pub rip: u64,
    #[serde(with = "hex")]
    pub rflags: u64,
    #[serde(with = "hex")]
    pub rsp: u64,
}

/// What a case did on one backend.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub name: String,
    pub backend: String,
    /// How the run ended, in words.
    pub ended: String,
    pub fault: Option<Fault>,
    /// The software CPU met an instruction it does not implement.
    pub unimplemented: bool,
    /// KVM could not go on (an internal error, such as the host's emulator failing).
    pub host_failure: bool,
    pub state: CpuState,
    /// The memory ranges the case names (initial and expected), as they are at the end.
    pub memory: Vec<Chunk>,
}

/// Reads a case file.
pub fn read(path: &std::path::Path) -> Result<Case> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a valid case file", path.display()))
}

// The small kernel of long and compat mode, in the boot area (after the page tables and
// the GDT that `boot_state` puts there).
const GDT_AT: u64 = 0x6000;
const IDT_AT: u64 = 0x7000;
const TSS_AT: u64 = 0x8000;
/// 68h bytes of TSS, the 2000h-byte I/O bitmap and its terminating byte.
const TSS_LIMIT: u64 = 0x68 + 0x2000;
const STUBS_AT: u64 = 0xb000;
const STUB_SIZE: u64 = 16;
/// The IDT's vectors: all 256.
const VECTORS: u64 = 256;
const KSTACK_TOP: u64 = 0x12000;
/// The exit port, whose writes end a run.
const EXIT_PORT: u8 = 0xf4;

pub const USER_DATA: u16 = 0x23;
pub const USER_CODE64: u16 = 0x2b;
pub const USER_CODE32: u16 = 0x33;
const TSS_SELECTOR: u16 = 0x38;

const DPL3: u16 = 3 << attr::DPL_SHIFT;
const FLAT_CODE: u16 = attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED | attr::G;
const FLAT_DATA: u16 = attr::P | attr::S | attr::RW | attr::ACCESSED | attr::DB | attr::G;

/// Whether the CPU pushes an error code for an exception vector.
fn has_error_code(v: u8) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// Writes the small kernel of long and compat mode and returns the boot-area base.
fn install_kernel(m: &mut dyn Machine) -> Result<u64> {
    let (area, _) = boot_area(m.memory().layout().ram_size);
    let gdt = [
        0,
        descriptor(0, 0xfffff, FLAT_CODE | attr::L),
        descriptor(0, 0xfffff, FLAT_DATA),
        descriptor(0, 0xfffff, FLAT_CODE | attr::DB),
        descriptor(0, 0xfffff, FLAT_DATA | DPL3),
        descriptor(0, 0xfffff, FLAT_CODE | attr::L | DPL3),
        descriptor(0, 0xfffff, FLAT_CODE | attr::DB | DPL3),
        descriptor(area + TSS_AT, TSS_LIMIT, attr::P | 0x9),
        (area + TSS_AT) >> 32,
    ];
    let bytes: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
    m.memory_mut().load(area + GDT_AT, &bytes)?;
    // The TSS: RSP0, and an I/O permission bitmap that allows every port (all zeros, then
    // the terminating FFh). With IOPL = 3 the bitmap is not consulted; KVM without VT-x/AMD-V
    // (PVM) does not honour IOPL for user-mode I/O but does consult the bitmap.
    let mut tss = vec![0u8; TSS_LIMIT as usize + 1];
    tss[4..12].copy_from_slice(&(area + KSTACK_TOP).to_le_bytes());
    tss[0x66..0x68].copy_from_slice(&0x68u16.to_le_bytes());
    *tss.last_mut().expect("not empty") = 0xff;
    m.memory_mut().load(area + TSS_AT, &tss)?;
    let mut idt = Vec::with_capacity(VECTORS as usize * 16);
    let mut stubs = Vec::new();
    for v in 0..VECTORS {
        let v = v as u8;
        let stub = area + STUBS_AT + u64::from(v) * STUB_SIZE;
        let mut code = Vec::new();
        if !has_error_code(v) {
            code.extend_from_slice(&[0x6a, 0x00]); // push 0
        }
        code.extend_from_slice(&[0x68]); // push imm32 (v)
        code.extend_from_slice(&u32::from(v).to_le_bytes());
        code.extend_from_slice(&[0xe6, EXIT_PORT, 0xf4]); // out 0xf4, al ; hlt
        code.resize(STUB_SIZE as usize, 0xcc);
        stubs.extend_from_slice(&code);
        // Interrupt gates of DPL 0, except those user code may raise with INT3, INTO and
        // INT 80h (DPL 3, as Linux has them).
        let dpl: u64 = if matches!(v, 3 | 4 | 0x80) { 3 } else { 0 };
        let lo = (stub & 0xffff)
            | (0x08 << 16)
            | ((0x8e00u64 | dpl << 13) << 32)
            | (((stub >> 16) & 0xffff) << 48);
        idt.extend_from_slice(&lo.to_le_bytes());
        idt.extend_from_slice(&(stub >> 32).to_le_bytes());
    }
    m.memory_mut().load(area + IDT_AT, &idt)?;
    m.memory_mut().load(area + STUBS_AT, &stubs)?;
    // Every page-table entry user-accessible (the boot area's 4 GiB identity map).
    for a in [area]
        .into_iter()
        .chain((0..4).map(|g| area + 0x1000 + g * 8))
        .chain((0..2048).map(|e| area + 0x2000 + e * 8))
    {
        let v = m.memory().read_uint(a, 8);
        m.memory_mut().write_uint(a, 8, v | 4);
    }
    Ok(area)
}

/// The state a case starts from: the mode's defaults and environment, then the case's
/// registers and memory.
pub fn prepare(m: &mut dyn Machine, case: &Case) -> Result<CpuState> {
    if case.cpl != 0 && case.cpl != 3 {
        bail!("{}: cpl must be 0 or 3", case.name);
    }
    let s = match case.mode {
        CaseMode::Real => {
            if case.cpl != 0 {
                bail!("{}: real mode has only CPL 0", case.name);
            }
            boot_state(m, Mode::Real, 0)?
        }
        CaseMode::Protected => {
            if case.cpl != 0 {
                bail!("{}: CPL 3 cases run in long or compat mode (protected mode at CPL 3 is not offered yet)", case.name);
            }
            boot_state(m, Mode::Protected, 0)?
        }
        CaseMode::Long | CaseMode::Compat => {
            let mut s = boot_state(m, Mode::Long, 0)?;
            let area = install_kernel(m)?;
            s.gdtr = x86lab_emulator::DescriptorTable {
                base: area + GDT_AT,
                limit: 9 * 8 - 1,
            };
            s.idtr = x86lab_emulator::DescriptorTable {
                base: area + IDT_AT,
                limit: VECTORS as u16 * 16 - 1,
            };
            s.tr = Segment {
                selector: TSS_SELECTOR,
                base: area + TSS_AT,
                limit: TSS_LIMIT as u32,
                attributes: attr::P | 0xb,
            };
            let user = case.cpl == 3;
            let (code_sel, code_attr) = match (case.mode, user) {
                (CaseMode::Long, false) => (0x08, FLAT_CODE | attr::L),
                (CaseMode::Long, true) => (USER_CODE64, FLAT_CODE | attr::L | DPL3),
                (_, false) => (0x18, FLAT_CODE | attr::DB),
                (_, true) => (USER_CODE32, FLAT_CODE | attr::DB | DPL3),
            };
            s.cs = Segment::flat(code_sel, code_attr);
            let data = if user {
                Segment::flat(USER_DATA, FLAT_DATA | DPL3)
            } else {
                Segment::flat(0x10, FLAT_DATA)
            };
            (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
            if user {
                s.rflags |= fl::IOPL;
            }
            s
        }
    };
    // The case's registers, through the state format's JSON.
    let mut json = serde_json::to_value(&s)?;
    let obj = json
        .as_object_mut()
        .expect("CpuState serializes to an object");
    for (name, v) in &case.initial.regs {
        let name = name.to_ascii_lowercase();
        let Some(slot) = obj.get_mut(&name) else {
            bail!(
                "{}: `{name}` is not a register of the state format",
                case.name
            );
        };
        match (slot.is_object(), v) {
            (true, Value::Object(_)) => *slot = v.clone(),
            (true, _) => {
                let sel = value_u64(v).with_context(|| format!("{}: {name}", case.name))?;
                let sel = u16::try_from(sel)
                    .map_err(|_| anyhow!("{}: {name} = {sel:#x} is not a selector", case.name))?;
                let mut seg: Segment = serde_json::from_value(slot.clone())?;
                seg.selector = sel;
                if case.mode == CaseMode::Real {
                    seg.base = u64::from(sel) << 4;
                    seg.limit = 0xffff;
                }
                *slot = serde_json::to_value(seg)?;
            }
            (false, _) => *slot = v.clone(),
        }
    }
    let s: CpuState = serde_json::from_value(json)
        .with_context(|| format!("{}: the initial registers", case.name))?;
    for c in &case.initial.memory {
        m.memory_mut()
            .load(c.addr, &c.data()?)
            .with_context(|| format!("{}: initial memory", case.name))?;
    }
    Ok(s)
}

fn value_u64(v: &Value) -> Result<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| anyhow!("{n} is not an unsigned number")),
        Value::String(t) => hex::parse(t).map_err(|e| anyhow!(e)),
        other => bail!("{other} is not a number"),
    }
}

/// Runs a case on a machine.
pub fn run(m: &mut dyn Machine, case: &Case) -> Result<Outcome> {
    let s = prepare(m, case)?;
    m.set_state(&s)?;
    let counts = m.instructions_retired().is_some();
    let event = match case.max_instructions {
        Some(n) if counts => m.run(&RunLimits {
            max_instructions: Some(n),
            max_time: Some(Duration::from_secs(10)),
            ..RunLimits::default()
        })?,
        Some(n) => {
            let mut e = Event::LimitReached(x86lab_emulator::Limit::Instructions);
            for _ in 0..n {
                e = m.step()?;
                if !matches!(e, Event::Stepped | Event::Exception(_)) {
                    break;
                }
                e = Event::LimitReached(x86lab_emulator::Limit::Instructions);
            }
            e
        }
        None => m.run(&RunLimits {
            max_time: Some(Duration::from_secs(10)),
            ..RunLimits::default()
        })?,
    };
    let state = m.state()?;
    let mut fault = None;
    if matches!(event, Event::ExitRequested { .. })
        && matches!(case.mode, CaseMode::Long | CaseMode::Compat)
    {
        let (area, _) = boot_area(m.memory().layout().ram_size);
        let stubs = area + STUBS_AT..area + STUBS_AT + VECTORS * STUB_SIZE;
        if stubs.contains(&state.rip) {
            let at = state.gpr[x86lab_emulator::state::reg::RSP];
            let q = |i: u64| m.memory().read_uint(at + 8 * i, 8);
            fault = Some(Fault {
                vector: q(0) as u8,
                error_code: q(1),
                rip: q(2),
                rflags: q(4),
                rsp: q(5),
            });
        }
    }
    let ended = match (&fault, &event) {
        (Some(f), _) => format!("exception {} (vector {})", vector_name(f.vector), f.vector),
        (None, e) => e.to_string(),
    };
    let mut memory = Vec::new();
    let expected = case.expect.iter().flat_map(|e| e.memory.iter());
    for c in case.initial.memory.iter().chain(expected) {
        let mut buf = vec![0u8; c.data()?.len()];
        m.memory().read(c.addr, &mut buf);
        memory.push(Chunk::new(c.addr, &buf));
    }
    let unimplemented = matches!(
        &event,
        Event::Exception(e) if matches!(e.cause, x86lab_emulator::Cause::Unimplemented { .. })
    );
    Ok(Outcome {
        name: case.name.clone(),
        backend: m.backend().to_string(),
        ended,
        fault,
        unimplemented,
        host_failure: matches!(event, Event::HostFailure { .. }),
        state,
        memory,
    })
}

fn vector_name(v: u8) -> String {
    x86lab_emulator::Vector::from_number(v).map_or_else(|| format!("#{v}"), |x| x.to_string())
}

/// The differences of an outcome from the case's expectations.
pub fn check(case: &Case, o: &Outcome) -> Result<Vec<String>> {
    let Some(exp) = &case.expect else {
        return Ok(Vec::new());
    };
    let mut diffs = Vec::new();
    let got = serde_json::to_value(&o.state)?;
    for (name, want) in &exp.regs {
        let name = name.to_ascii_lowercase();
        let Some(have) = got.get(&name) else {
            bail!(
                "{}: expected register `{name}` is not in the state format",
                case.name
            );
        };
        let mask = if name == "rflags" {
            exp.flags_mask.unwrap_or(u64::MAX)
        } else {
            u64::MAX
        };
        let (w, h) = if have.is_object() {
            let seg: Segment = serde_json::from_value(have.clone())?;
            (value_u64(want)?, u64::from(seg.selector))
        } else {
            (value_u64(want)?, value_u64(have)?)
        };
        if w & mask != h & mask {
            diffs.push(format!(
                "{name}: expected {:#x}, got {:#x}",
                w & mask,
                h & mask
            ));
        }
    }
    for c in &exp.memory {
        // The outcome holds every range the case names, as it was at the end.
        let have = match o.memory.iter().find(|m| m.addr == c.addr) {
            Some(m) => m.data()?,
            None => Vec::new(),
        };
        if have != c.data()? {
            diffs.push(format!(
                "memory {:#x}: expected {}, got {}",
                c.addr,
                c.bytes,
                Chunk::new(c.addr, &have).bytes
            ));
        }
    }
    match (exp.fault, &o.fault) {
        (Some(v), Some(f)) if f.vector != v => {
            diffs.push(format!("expected exception vector {v}, got {}", f.vector))
        }
        (Some(_), Some(f)) if exp.error_code.is_some_and(|c| c != f.error_code) => {
            diffs.push(format!(
                "expected error code {:#x}, got {:#x}",
                exp.error_code.unwrap_or(0),
                f.error_code
            ))
        }
        (Some(v), None) => diffs.push(format!(
            "expected exception vector {v}, the run ended: {}",
            o.ended
        )),
        // A case that expects registers or memory expects no exception.
        (None, Some(f)) if !exp.regs.is_empty() || !exp.memory.is_empty() => diffs.push(format!(
            "unexpected exception {} at {:#x}",
            vector_name(f.vector),
            f.rip
        )),
        _ => {}
    }
    Ok(diffs)
}

/// The differences between the outcomes of two backends: every GPR, RIP, RFLAGS (under
/// `flags_mask`), the segment registers, the control registers, the fault, the memory.
/// The TSC is left out (time on KVM, instructions in the emulator).
pub fn compare(a: &Outcome, b: &Outcome, flags_mask: u64) -> Vec<String> {
    let mut d = Vec::new();
    let (sa, sb) = (&a.state, &b.state);
    for (i, name) in x86lab_emulator::state::GPR_NAMES.iter().enumerate() {
        if sa.gpr[i] != sb.gpr[i] {
            d.push(format!(
                "{name}: {} {:#x}, {} {:#x}",
                a.backend, sa.gpr[i], b.backend, sb.gpr[i]
            ));
        }
    }
    let pairs: [(&str, u64, u64); 8] = [
        ("rip", sa.rip, sb.rip),
        ("rflags", sa.rflags & flags_mask, sb.rflags & flags_mask),
        ("cr0", sa.cr0, sb.cr0),
        ("cr2", sa.cr2, sb.cr2),
        ("cr3", sa.cr3, sb.cr3),
        ("cr4", sa.cr4, sb.cr4),
        ("efer", sa.efer, sb.efer),
        ("fs.base", sa.fs.base, sb.fs.base),
    ];
    for (name, x, y) in pairs {
        if x != y {
            d.push(format!(
                "{name}: {} {x:#x}, {} {y:#x}",
                a.backend, b.backend
            ));
        }
    }
    for i in 0..6 {
        let (x, y) = (sa.seg(i), sb.seg(i));
        if x.selector != y.selector {
            d.push(format!(
                "segment {i} selector: {} {:#x}, {} {:#x}",
                a.backend, x.selector, b.backend, y.selector
            ));
        }
    }
    let masked = |f: &Option<Fault>| {
        f.clone().map(|f| Fault {
            rflags: f.rflags & flags_mask,
            ..f
        })
    };
    if masked(&a.fault) != masked(&b.fault) {
        let show = |f: &Option<Fault>| {
            f.as_ref().map_or_else(
                || "none".to_string(),
                |f| {
                    format!(
                        "{} error code {:#x} at {:#x} (rflags {:#x}, rsp {:#x})",
                        vector_name(f.vector),
                        f.error_code,
                        f.rip,
                        f.rflags & flags_mask,
                        f.rsp
                    )
                },
            )
        };
        d.push(format!(
            "fault: {} {}, {} {}",
            a.backend,
            show(&a.fault),
            b.backend,
            show(&b.fault)
        ));
    }
    for (x, y) in a.memory.iter().zip(&b.memory) {
        if x.bytes != y.bytes {
            // From the first differing byte, sixteen bytes of each.
            let o = x
                .bytes
                .bytes()
                .zip(y.bytes.bytes())
                .position(|(p, q)| p != q)
                .unwrap_or(0)
                & !1;
            let part = |t: &str| t.get(o..(o + 32).min(t.len())).unwrap_or("").to_string();
            d.push(format!(
                "memory from {:#x}: {} {}, {} {}",
                x.addr + (o / 2) as u64,
                a.backend,
                part(&x.bytes),
                b.backend,
                part(&y.bytes)
            ));
        }
    }
    d
}
