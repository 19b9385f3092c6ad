//! The `Machine` contract on the software CPU: stepping has the meaning hardware
//! single-stepping (RFLAGS.TF) has, runs stop at breakpoints and limits, HLT halts.

use x86lab_emulator::state::reg;
use x86lab_emulator::{Cpu, CpuState, Event, Limit, Machine, MemoryLayout, RunLimits};

/// A real-mode machine with `code` at 0000:1000.
fn real(code: &[u8]) -> Cpu {
    let mut cpu = Cpu::new(MemoryLayout {
        ram_size: 1 << 20,
        ..MemoryLayout::default()
    })
    .unwrap();
    cpu.memory_mut().load(0x1000, code).unwrap();
    let mut s = CpuState::real_mode(0, 0x1000);
    s.gpr[reg::RSP] = 0x8000;
    cpu.set_state(&s).unwrap();
    cpu
}

fn rip(cpu: &Cpu) -> u64 {
    cpu.state().unwrap().rip
}

#[test]
fn a_rep_string_instruction_takes_one_step_per_iteration() {
    // SDM Vol. 3, 18.3.1.4 (single-step): with TF set, a REP string instruction traps after
    // each iteration with RIP still on the instruction.
    // mov cx, 3 ; mov si, 0x2000 ; mov di, 0x3000 ; rep movsb ; nop
    let mut cpu = real(&[
        0xb9, 3, 0, 0xbe, 0x00, 0x20, 0xbf, 0x00, 0x30, 0xf3, 0xa4, 0x90,
    ]);
    cpu.memory_mut().load(0x2000, b"abc").unwrap();
    for _ in 0..3 {
        assert_eq!(cpu.step().unwrap(), Event::Stepped);
    }
    assert_eq!(rip(&cpu), 0x1009);
    for left in [2, 1] {
        assert_eq!(cpu.step().unwrap(), Event::Stepped);
        assert_eq!(rip(&cpu), 0x1009, "still on the REP instruction");
        assert_eq!(cpu.state().unwrap().gpr[reg::RCX], left);
    }
    assert_eq!(cpu.step().unwrap(), Event::Stepped);
    assert_eq!(rip(&cpu), 0x100b, "past it once CX reaches 0");
    let mut out = [0u8; 3];
    cpu.memory().read(0x3000, &mut out);
    assert_eq!(&out, b"abc");
    assert_eq!(cpu.instructions_retired(), Some(6));
}

#[test]
fn breakpoints_stop_before_the_instruction_and_a_run_can_resume_from_one() {
    // nop ; nop ; inc ax ; jmp -5 (back to inc ax)
    let mut cpu = real(&[0x90, 0x90, 0x40, 0xeb, 0xfd]);
    let limits = RunLimits {
        breakpoints: vec![0x1002],
        max_instructions: Some(100),
        ..RunLimits::default()
    };
    assert_eq!(
        cpu.run(&limits).unwrap(),
        Event::Breakpoint { address: 0x1002 }
    );
    assert_eq!(rip(&cpu), 0x1002);
    assert_eq!(cpu.state().unwrap().gpr[reg::RAX], 0, "not executed yet");
    // Resuming executes the instruction at the breakpoint and stops when it comes round.
    assert_eq!(
        cpu.run(&limits).unwrap(),
        Event::Breakpoint { address: 0x1002 }
    );
    assert_eq!(cpu.state().unwrap().gpr[reg::RAX], 1);
}

#[test]
fn hlt_halts_until_the_state_is_set_again() {
    // cli ; hlt ; inc ax
    let mut cpu = real(&[0xfa, 0xf4, 0x40]);
    let halted = Event::Halted {
        interrupts_enabled: false,
    };
    assert_eq!(cpu.run(&RunLimits::default()).unwrap(), halted);
    assert_eq!(rip(&cpu), 0x1002, "HLT completes; RIP is past it");
    assert_eq!(cpu.step().unwrap(), halted, "a halted CPU executes nothing");
    assert_eq!(rip(&cpu), 0x1002);
    let s = cpu.state().unwrap();
    cpu.set_state(&s).unwrap();
    assert_eq!(cpu.step().unwrap(), Event::Stepped);
    assert_eq!(cpu.state().unwrap().gpr[reg::RAX], 1);
}

#[test]
fn limits_end_runs() {
    // jmp $
    let mut cpu = real(&[0xeb, 0xfe]);
    let e = cpu
        .run(&RunLimits {
            max_instructions: Some(500),
            ..RunLimits::default()
        })
        .unwrap();
    assert_eq!(e, Event::LimitReached(Limit::Instructions));
    assert_eq!(cpu.instructions_retired(), Some(500));
    let e = cpu
        .run(&RunLimits {
            max_time: Some(std::time::Duration::from_millis(50)),
            ..RunLimits::default()
        })
        .unwrap();
    assert_eq!(e, Event::LimitReached(Limit::WallTime));
}

#[test]
fn rdtsc_counts_retired_instructions() {
    // rdtsc ; mov bx, ax ; nop ; nop ; rdtsc
    let mut cpu = real(&[0x0f, 0x31, 0x89, 0xc3, 0x90, 0x90, 0x0f, 0x31]);
    for _ in 0..5 {
        cpu.step().unwrap();
    }
    let s = cpu.state().unwrap();
    assert_eq!(
        s.gpr[reg::RAX] - s.gpr[reg::RBX],
        4,
        "four instructions retired in between"
    );
}

#[test]
fn a_real_mode_exception_goes_through_the_ivt_and_step_reports_it() {
    // IVT[0] = 0000:2000 ; at 0x1000: xor cx, cx ; div cx   (#DE) ; at 0x2000: hlt
    let mut cpu = real(&[0x31, 0xc9, 0xf7, 0xf1]);
    cpu.memory_mut().load(0, &[0x00, 0x20, 0x00, 0x00]).unwrap();
    cpu.memory_mut().load(0x2000, &[0xf4]).unwrap();
    cpu.step().unwrap();
    match cpu.step().unwrap() {
        Event::Exception(e) => {
            assert_eq!(e.vector, x86lab_emulator::Vector::DE);
            assert_eq!(e.rip, 0x1002, "#DE is a fault: it reports the DIV");
        }
        other => panic!("expected #DE, got {other}"),
    }
    let s = cpu.state().unwrap();
    assert_eq!(s.rip, 0x2000);
    assert_eq!(s.gpr[reg::RSP], 0x8000 - 6, "FLAGS, CS and IP pushed");
    let mut frame = [0u8; 6];
    cpu.memory().read(0x8000 - 6, &mut frame);
    assert_eq!(
        &frame[..4],
        &[0x02, 0x10, 0x00, 0x00],
        "return address is the DIV itself"
    );
}

#[test]
fn the_trap_flag_single_steps_through_the_ivt() {
    // SDM Vol. 3, 18.3.1.4: with TF set at the start of an instruction, #DB (vector 1)
    // is raised after it; the handler runs with TF clear and IRET restores it. The POPF that
    // sets TF is not trapped, the POPF that clears it is.
    #[rustfmt::skip]
    let code = [
        0xc7, 0x06, 0x04, 0x00, 0x00, 0x20, // mov word [4], 0x2000  (IVT[1] offset)
        0xc7, 0x06, 0x06, 0x00, 0x00, 0x00, // mov word [6], 0       (IVT[1] segment)
        0x9c, 0x58, 0x0d, 0x00, 0x01,       // pushf ; pop ax ; or ax, 0x100
        0x50, 0x9d,                         // push ax ; popf       (TF on: no trap yet)
        0x90, 0x90,                         // nop ; nop            (traps 1, 2)
        0x9c, 0x58, 0x25, 0xff, 0xfe,       // pushf ; pop ax ; and ax, 0xfeff (3, 4, 5)
        0x50, 0x9d,                         // push ax ; popf       (6, 7)
        0x90, 0xf4,                         // nop ; hlt            (TF off)
    ];
    let mut cpu = real(&code);
    // Handler: inc word [0x3000] ; iret
    cpu.memory_mut()
        .load(0x2000, &[0xff, 0x06, 0x00, 0x30, 0xcf])
        .unwrap();
    let e = cpu.run(&RunLimits::default()).unwrap();
    assert_eq!(
        e,
        Event::Halted {
            interrupts_enabled: false
        }
    );
    let mut count = [0u8; 2];
    cpu.memory().read(0x3000, &mut count);
    assert_eq!(u16::from_le_bytes(count), 7);
    assert_eq!(
        cpu.state().unwrap().rflags & 0x100,
        0,
        "TF is off at the end"
    );
}
