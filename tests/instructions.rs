//! The instruction test vectors of `tests/cases/*.txt`, run on the software CPU.
//!
//! Each case's expectations were worked out from the Intel SDM / AMD APM and the 64-bit (and
//! 32-bit) ones cross-checked on a real processor by `tests/cases/verify_native.py`; this
//! test runs them on the emulator. The cases are assembled with NASM (installed by
//! `scripts/setup.sh`); without it these tests say so and are skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{skip, tool_available};
use iced_x86::{Decoder, DecoderOptions, RflagsBits};
use x86lab::cases::{self, Case, Item};
use x86lab::load::{self, Mode};
use x86lab_emulator::state::{flags as fl, reg, GPR_NAMES};
use x86lab_emulator::{Cpu, CpuState, Event, Machine, MemoryLayout, Segment};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Assembles a case's instructions at its code address.
fn assemble(case: &Case, addr: u64, dir: &Path, n: usize) -> Result<Vec<u8>, String> {
    let src = dir.join(format!("case{n}.asm"));
    let out = dir.join(format!("case{n}.bin"));
    let mut text = format!("bits {}\norg {addr:#x}\nstart:\n", case.bits);
    for line in &case.asm {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&src, text).map_err(|e| e.to_string())?;
    let o = Command::new("nasm")
        .args(["-f", "bin", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "nasm: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    std::fs::read(&out).map_err(|e| e.to_string())
}

/// Converts iced's RflagsBits to RFLAGS bit positions.
fn rflags_from_iced(b: u32) -> u64 {
    let map = [
        (RflagsBits::OF, fl::OF),
        (RflagsBits::SF, fl::SF),
        (RflagsBits::ZF, fl::ZF),
        (RflagsBits::AF, fl::AF),
        (RflagsBits::CF, fl::CF),
        (RflagsBits::PF, fl::PF),
        (RflagsBits::DF, fl::DF),
        (RflagsBits::IF, fl::IF),
        (RflagsBits::AC, fl::AC),
    ];
    map.iter().filter(|(i, _)| b & i != 0).map(|(_, f)| f).sum()
}

/// The flags a case can name and compare.
const CASE_FLAGS: u64 =
    fl::CF | fl::PF | fl::AF | fl::ZF | fl::SF | fl::TF | fl::IF | fl::DF | fl::OF | fl::AC;

fn vector_name(e: &x86lab_emulator::Exception) -> String {
    format!("{:?}", e.vector)
}

fn run_case(case: &Case, code: &[u8]) -> Result<(), String> {
    let mut cpu = Cpu::new(MemoryLayout::default()).map_err(|e| e.to_string())?;
    let (mode, code_addr, sp) = match case.bits {
        16 => (Mode::Real, 0x1000u64, 0x8000u64),
        32 => (Mode::Protected, 0x10_0000, 0x20_f000),
        _ => (Mode::Long, 0x10_0000, 0x20_f000),
    };
    let mut s: CpuState = if mode == Mode::Real {
        CpuState::real_mode(0, code_addr as u16)
    } else {
        load::boot_state(&mut cpu, mode, code_addr).map_err(|e| e.to_string())?
    };
    s.gpr[reg::RSP] = sp;
    for item in &case.initial {
        match item {
            Item::Gpr(r, v) => s.gpr[*r] = *v,
            Item::Seg(i, sel) if mode == Mode::Real => {
                let old = *s.seg(*i);
                *s.seg_mut(*i) = Segment::real(*sel, old.attributes);
            }
            Item::Seg(..) => return Err("segment registers can be set only in 16-bit cases".into()),
            Item::Flags(f) => s.rflags = fl::FIXED | f,
            Item::Mem(a, b) => cpu.memory_mut().load(*a, b).map_err(|e| e.to_string())?,
            Item::Rip(_) | Item::Exception(_) => {
                return Err("rip= and exception= belong in EXPECTED".into())
            }
        }
    }
    cpu.memory_mut()
        .load(code_addr, code)
        .map_err(|e| e.to_string())?;
    cpu.set_state(&s).map_err(|e| e.to_string())?;
    // 32- and 64-bit cases have no IDT: stop at the exception, before delivery, with the
    // faulting instruction's state (16-bit cases deliver through the IVT at 0).
    cpu.set_exception_intercept(mode != Mode::Real);
    let initial = s.clone();
    let end = code_addr + code.len() as u64;
    let mut undefined = 0u64;
    let mut before = initial.clone();
    let mut fault: Option<(x86lab_emulator::Exception, bool)> = None;
    for _ in 0..100_000 {
        let st = cpu.state().map_err(|e| e.to_string())?;
        let lin = st.cs.base + st.rip;
        if lin < code_addr || lin >= end {
            break;
        }
        // The flags the manual leaves undefined for this instruction are not compared
        // (unless a later instruction defines them again).
        let mut bytes = [0u8; 15];
        cpu.memory().read(lin, &mut bytes);
        let bitness = if case.bits == 16 { 16 } else { case.bits };
        let insn = Decoder::with_ip(bitness, &bytes, st.rip, DecoderOptions::NONE).decode();
        before = st;
        let ev = cpu.step().map_err(|e| e.to_string())?;
        undefined = (undefined & !rflags_from_iced(insn.rflags_modified()))
            | rflags_from_iced(insn.rflags_undefined());
        match ev {
            Event::Stepped => {}
            Event::Exception(e) => {
                fault = Some((e, true));
                break;
            }
            Event::Intercepted(e) => {
                fault = Some((e, false));
                break;
            }
            other => return Err(format!("the code ended with `{other}`")),
        }
    }
    let fin = cpu.state().map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    match (case.expected_exception(), fault) {
        (Some(want), Some((e, delivered))) => {
            if vector_name(&e) != want {
                errors.push(format!("raised {} instead of #{want}", e.vector));
            }
            // A fault leaves the instruction's state untouched: compare against the state
            // before it (delivery through the real-mode IVT moved RSP, CS:IP and FLAGS).
            let want = case.expected_gprs();
            compare_gprs(
                &fin,
                |r| want.get(&r).copied().unwrap_or(before.gpr[r]),
                delivered,
                &mut errors,
            );
            if e.rip != before.rip {
                errors.push(format!(
                    "exception reported at rip {:#x}, the instruction is at {:#x}",
                    e.rip, before.rip
                ));
            }
        }
        (Some(want), None) => errors.push(format!("expected #{want}, but no exception was raised")),
        (None, Some((e, _))) => errors.push(format!("unexpected exception {e}")),
        (None, None) => {
            let want = case.expected_gprs();
            compare_gprs(
                &fin,
                |r| want.get(&r).copied().unwrap_or(initial.gpr[r]),
                false,
                &mut errors,
            );
            let want_rip = case
                .expected
                .iter()
                .find_map(|i| match i {
                    Item::Rip(r) => Some(*r),
                    _ => None,
                })
                .unwrap_or(end.wrapping_sub(fin.cs.base));
            if fin.rip != want_rip {
                errors.push(format!("rip = {:#x}, expected {want_rip:#x}", fin.rip));
            }
            match Case::flags(&case.expected) {
                Some(f) => {
                    let cmp = CASE_FLAGS & !undefined;
                    if fin.rflags & cmp != f & cmp {
                        errors.push(format!(
                            "flags = {}, expected {} (compared: {})",
                            flag_names(fin.rflags & cmp),
                            flag_names(f & cmp),
                            flag_names(cmp)
                        ));
                    }
                }
                None => {
                    if fin.rflags != initial.rflags {
                        errors.push(format!(
                            "flags changed from {} to {}",
                            flag_names(initial.rflags),
                            flag_names(fin.rflags)
                        ));
                    }
                }
            }
            for (i, seg) in ["es", "cs", "ss", "ds", "fs", "gs"].iter().enumerate() {
                if let Some(want) = case.expected.iter().find_map(|it| match it {
                    Item::Seg(j, v) if *j == i => Some(*v),
                    _ => None,
                }) {
                    if fin.seg(i).selector != want {
                        errors.push(format!(
                            "{seg} = {:#x}, expected {want:#x}",
                            fin.seg(i).selector
                        ));
                    }
                }
            }
        }
    }
    for item in &case.expected {
        if let Item::Mem(a, want) = item {
            let mut got = vec![0u8; want.len()];
            cpu.memory().read(*a, &mut got);
            if &got != want {
                errors.push(format!(
                    "memory at {a:#x} = {got:02x?}, expected {want:02x?}"
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Compares the GPRs with `want(index)`, skipping RSP if `skip_rsp`.
fn compare_gprs(
    fin: &CpuState,
    want: impl Fn(usize) -> u64,
    skip_rsp: bool,
    errors: &mut Vec<String>,
) {
    for (r, (&got, name)) in fin.gpr.iter().zip(GPR_NAMES).enumerate() {
        if skip_rsp && r == reg::RSP {
            continue;
        }
        let w = want(r);
        if got != w {
            errors.push(format!("{name} = {got:#x}, expected {w:#x}"));
        }
    }
}

fn flag_names(f: u64) -> String {
    let names: Vec<&str> = fl::NAMES
        .iter()
        .filter(|(_, b)| f & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(",")
    }
}

fn run_file(name: &str) {
    if !tool_available("nasm", "-v") {
        skip(&format!("tests/cases/{name}.txt needs nasm to assemble its cases; run scripts/setup.sh to install it"));
        return;
    }
    let path = cases_dir().join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = cases::parse(&format!("{name}.txt"), &text).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!cases.is_empty(), "{name}.txt has no cases");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cases-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let addr = if case.bits == 16 { 0x1000 } else { 0x10_0000 };
        let result = assemble(case, addr, &dir, n).and_then(|code| run_case(case, &code));
        if let Err(e) = result {
            failures.push(format!("{}: {}\n    {e}", case.origin, case.text));
        }
    }
    println!(
        "{name}.txt: {} cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases in {name}.txt failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

macro_rules! case_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_file(stringify!($name));
            }
        )*
    };
}

case_files!(arith, logic, shift, bits, muldiv, data, stack, control, string, bcd, misc);

#[test]
fn every_case_file_is_run() {
    let listed = [
        "arith", "logic", "shift", "bits", "muldiv", "data", "stack", "control", "string", "bcd",
        "misc",
    ];
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "txt") {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                listed.contains(&stem.as_str()),
                "{} is not run by tests/instructions.rs",
                p.display()
            );
        }
    }
}
