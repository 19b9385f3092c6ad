//! The differential engine in the test suite.
//!
//! - A bounded campaign: 3000 random instructions (fixed seed) in 64-bit and compatibility
//!   mode at CPL 3, on the software CPU and on the processor (KVM; for compatibility mode
//!   without VT-x/AMD-V, a native 32-bit process), must agree (see `x86lab::fuzz` for what
//!   is compared and what is excluded on purpose).
//! - The generator reaches every implemented mnemonic, and the list of implemented
//!   mnemonics is the emulator's dispatch: every form of a listed mnemonic executes, every
//!   form of an unlisted one is reported as not implemented.

mod common;

use std::sync::Arc;

use common::kvm_usable;
use iced_x86::Mnemonic;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use x86lab::fuzz::{generate, Campaign, Ctx};
use x86lab_emulator::cpu::IMPLEMENTED;

#[test]
fn three_thousand_random_instructions_agree_with_the_processor() {
    if !kvm_usable("differential campaign") {
        return;
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    // 64-bit and compatibility mode at CPL 3. Without VT-x/AMD-V, compatibility-mode cases
    // are compared with a native 32-bit process where the instruction means the same there,
    // and otherwise with the host's emulator, whose disagreements are counted apart.
    let envs = Campaign::user_envs();
    let c = Campaign {
        cases: 3000,
        seed: 0x5eed,
        jobs: 2,
        only: Vec::new(),
        out: out.clone(),
        shard: (0, 1),
        envs,
    };
    let s = x86lab::fuzz::campaign(&c, &indicatif::ProgressBar::hidden()).unwrap();
    assert!(s.run > 2000, "only {} cases compared", s.run);
    let bad: Vec<String> = s
        .tally
        .iter()
        .filter(|(_, t)| t.mismatches > 0)
        .map(|((e, m), t)| {
            format!(
                "{e}, {m}: {} of {} ({:?})",
                t.mismatches, t.cases, t.first_reproducer
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "mismatches (reproducers in {}):\n{}",
        out.display(),
        bad.join("\n")
    );
    // The families are all there: some of each kind of instruction was compared,
    // control transfers included.
    let seen: std::collections::BTreeSet<&str> = s.tally.keys().map(|(_, m)| m.as_str()).collect();
    for m in [
        "add", "sub", "and", "imul", "div", "shl", "rol", "bt", "bsf", "mov", "push", "cmovne",
        "setne", "xchg", "cmpxchg", "movsb", "jmp", "jne", "call", "ret", "loop", "int3", "andn",
        "daa", "aaa", "pushad", "arpl",
    ] {
        assert!(seen.contains(m), "no `{m}` among the cases: {seen:?}");
    }
}

#[test]
fn descriptor_instructions_agree_with_the_processor_on_the_cases_ldt() {
    if !kvm_usable("differential campaign of LAR, LSL, VERR and VERW") {
        return;
    }
    // Compatibility mode at CPL 3; without VT-x/AMD-V the processor's side is a native
    // process holding the case's LDT (modify_ldt()); selectors of the GDT, which differ
    // there, go to the host's emulator and are counted apart.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-descriptors");
    let c = Campaign {
        cases: 400,
        seed: 0x1d7,
        jobs: 1,
        only: vec![Mnemonic::Lar, Mnemonic::Lsl, Mnemonic::Verr, Mnemonic::Verw],
        out: out.clone(),
        shard: (0, 1),
        envs: vec![x86lab::fuzz::Env {
            mode: x86lab::case_file::CaseMode::Compat,
            cpl: 3,
        }],
    };
    let s = x86lab::fuzz::campaign(&c, &indicatif::ProgressBar::hidden()).unwrap();
    for m in ["lar", "lsl", "verr", "verw"] {
        let t = s
            .tally
            .iter()
            .find(|((_, n), _)| n == m)
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("no `{m}` drawn"));
        assert!(
            t.on_cpu > 40,
            "{m}: only {} cases on the processor",
            t.on_cpu
        );
        assert_eq!(
            t.mismatches, 0,
            "{m}: {} mismatches, first {:?}",
            t.mismatches, t.first_reproducer
        );
    }
}

/// Draws one case of `ctx` (attempt `n`) with a fixed seed.
fn draw(ctx: &Arc<Ctx>, n: u64) -> Option<generate::Generated> {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            max_local_rejects: 20_000,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    generate::cases(ctx.clone())
        .new_tree(&mut runner)
        .ok()
        .map(|t| t.current().1)
}

#[test]
fn the_generator_reaches_every_implemented_mnemonic_and_each_executes() {
    let layout = x86lab_emulator::MemoryLayout::default();
    let mut emu = x86lab_emulator::Cpu::new(layout).unwrap();
    let envs = Campaign::user_envs();
    let mut missing = Vec::new();
    let mut unexecuted = Vec::new();
    for &m in IMPLEMENTED {
        // Each backend reports its own processor and clock: never drawn (DIVERGENCES).
        if matches!(m, Mnemonic::Cpuid | Mnemonic::Rdtsc | Mnemonic::Rdtscp) {
            continue;
        }
        let mut drawn = false;
        for &env in &envs {
            // As on a host with VT-x/AMD-V and an Intel processor: nothing else excluded.
            let ctx = Arc::new(Ctx::new(env, true, false, &[m]));
            if ctx.forms.is_empty() {
                continue;
            }
            for n in 0..3 {
                let Some(g) = draw(&ctx, n) else { continue };
                drawn = true;
                let o = x86lab::case_file::run(&mut emu, &g.case).unwrap();
                if o.unimplemented {
                    unexecuted.push(format!("{}: {}", g.case.name, o.ended));
                }
            }
        }
        if !drawn {
            missing.push(format!("{m:?}"));
        }
    }
    assert!(missing.is_empty(), "never drawn: {missing:?}");
    assert!(
        unexecuted.is_empty(),
        "listed as implemented, but the software CPU says it is not:\n{}",
        unexecuted.join("\n")
    );
}

#[test]
fn unlisted_mnemonics_are_reported_as_not_implemented() {
    let layout = x86lab_emulator::MemoryLayout::default();
    let mut emu = x86lab_emulator::Cpu::new(layout).unwrap();
    let mut executed = Vec::new();
    let mut tried = 0;
    for env in Campaign::user_envs() {
        let forms = x86lab::fuzz::forms::Forms::new(env.bits(), |m| !IMPLEMENTED.contains(&m));
        for (m, _) in &forms.by_mnemonic {
            let ctx = Arc::new(Ctx::with_mnemonics(env, true, false, &[*m], |_| true));
            let Some(g) = draw(&ctx, 0) else { continue };
            tried += 1;
            let o = x86lab::case_file::run(&mut emu, &g.case).unwrap();
            if !o.unimplemented {
                executed.push(format!("{}: {}", g.case.name, o.ended));
            }
        }
    }
    assert!(tried > 30, "only {tried} unlisted mnemonics drawn");
    assert!(
        executed.is_empty(),
        "not in IMPLEMENTED, but the software CPU ran them (add them to the list):\n{}",
        executed.join("\n")
    );
}
