//! A bounded differential campaign in the test suite: 3000 random instructions (fixed
//! seed) in 64-bit user mode, on the software CPU and on KVM, must agree (see
//! `x86lab::fuzz` for what is compared and what is excluded on purpose).

mod common;

use common::kvm_usable;

#[test]
fn three_thousand_random_instructions_agree_with_the_processor() {
    if !kvm_usable("differential campaign") {
        return;
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    let c = x86lab::fuzz::Campaign {
        cases: 3000,
        seed: 0x5eed,
        jobs: 2,
        only: Vec::new(),
        out: out.clone(),
        shard: (0, 1),
    };
    let s = x86lab::fuzz::campaign(&c, &indicatif::ProgressBar::hidden()).unwrap();
    assert!(s.run > 2000, "only {} cases compared", s.run);
    let bad: Vec<String> = s
        .tally
        .iter()
        .filter(|(_, t)| t.mismatches > 0)
        .map(|(m, t)| {
            format!(
                "{m}: {} of {} ({:?})",
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
    // The families are all there: some of each kind of instruction was compared.
    for m in [
        "add", "sub", "and", "imul", "shl", "rol", "bt", "mov", "push", "cmovne", "setne", "xchg",
    ] {
        assert!(
            s.tally.contains_key(m),
            "no `{m}` among the cases: {:?}",
            s.tally.keys()
        );
    }
}
