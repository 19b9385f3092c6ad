//! Stepping back on the software CPU (`x86lab_emulator::History`): a lesson booted through
//! the firmware runs forward thousands of steps — mode switches, descriptor loads, port
//! I/O, the firmware's copy of itself into RAM — and is undone step by step; at every step
//! the registers, and at checkpoints all of memory, must be what they were on the way
//! forward.

use std::path::Path;

use x86lab_emulator::{CpuState, History, Machine, MemoryLayout};

/// A fingerprint of all of RAM (std's hasher: optimised even in test builds).
fn memory_hash(m: &dyn Machine) -> u64 {
    use std::hash::{Hash, Hasher};
    let layout = m.memory().layout();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    for base in (0..layout.ram_size).step_by(buf.len()) {
        m.memory().read(base, &mut buf);
        buf.hash(&mut h);
    }
    h.finish()
}

#[test]
fn every_step_of_a_booted_lesson_can_be_undone() {
    let lesson =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware/lessons/06-protected-mode.asm");
    let a = x86lab_firmware::asm::assemble_file(&lesson, &Default::default()).unwrap();
    let mut cpu = x86lab_emulator::Cpu::new(MemoryLayout::default()).unwrap();
    x86lab::load::boot_firmware(&mut cpu, &a.bytes, x86lab::load::Mode::Real).unwrap();
    let mut history = History::new(1 << 20);
    let mut states: Vec<CpuState> = Vec::new();
    let mut hashes = Vec::new();
    let mut console: Vec<u8> = Vec::new();
    let mut lengths = Vec::new();
    let mut modes = std::collections::BTreeSet::new();
    loop {
        let s = cpu.state().unwrap();
        modes.insert(format!("{:?}", s.mode()));
        if states.len() % 2048 == 0 {
            hashes.push((states.len(), memory_hash(&cpu)));
        }
        states.push(s);
        lengths.push(console.len());
        let event = history.step(&mut cpu, console.len()).unwrap();
        console.extend(cpu.devices().output().take());
        if !matches!(event, x86lab_emulator::Event::Stepped) {
            break;
        }
        assert!(states.len() < 200_000, "the lesson does not end");
    }
    let text = String::from_utf8_lossy(&console);
    assert!(text.contains("Hello from 32-bit protected mode!"), "{text}");
    assert!(
        modes.contains("Real") && modes.contains("Protected"),
        "{modes:?}"
    );
    assert_eq!(history.len(), states.len());
    // Back to the reset vector, one step at a time.
    for k in (0..states.len()).rev() {
        let len = history.back(&mut cpu).unwrap().expect("a step to undo");
        assert_eq!(len, lengths[k], "console length before step {k}");
        let s = cpu.state().unwrap();
        assert!(
            s == states[k],
            "state before step {k} differs:\n{}\n{}",
            s.to_json(),
            states[k].to_json()
        );
        if let Some((_, h)) = hashes.iter().find(|(at, _)| *at == k) {
            assert_eq!(memory_hash(&cpu), *h, "memory before step {k}");
        }
    }
    assert!(history.back(&mut cpu).unwrap().is_none());
    assert_eq!(cpu.state().unwrap().rip, 0xfff0);
    // And forward again: the same run.
    let mut again = Vec::new();
    for _ in 0..states.len() {
        history.step(&mut cpu, 0).unwrap();
        again.extend(cpu.devices().output().take());
    }
    assert_eq!(again, console);
}
