//! The machine behind the GUI, on its own thread: it takes [`Command`]s, runs the software
//! CPU (recording every step so it can be undone), and publishes a [`View`] of what the
//! panels show. The UI never waits for it, even when the guest loops forever at full speed.

use std::collections::{BTreeSet, VecDeque};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iced_x86::{Decoder, DecoderOptions};
use x86lab_emulator::state::CpuState;
use x86lab_emulator::walk::{walk, Walk};
use x86lab_emulator::{Cpu, CpuMode, Event, History, Machine, MemoryLayout};
use x86lab_firmware::load::{self, LoadOptions};

use crate::program::{Boot, Program};

/// What the UI asks of the machine.
#[derive(Debug)]
pub enum Command {
    Load(Box<Program>),
    Step,
    /// Step, but over CALLs and REP/LOOP: run to the next instruction.
    StepOver,
    /// Run until the current routine returns.
    StepOut,
    Back,
    Run,
    Pause,
    Reset,
    /// Instructions per second while running; `None`: as fast as possible.
    Speed(Option<u32>),
    ToggleBreakpoint(u64),
    /// Where the memory panel looks (a linear address).
    MemoryAt(u64),
    /// Write bytes at a linear address (the memory panel's editor).
    Poke(u64, Vec<u8>),
    /// Lockstep with the processor (KVM) on or off.
    Compare(bool),
    /// Sets or clears a watchpoint: a run stops after a write into `len` bytes at a
    /// physical address.
    ToggleWatch(u64, u64),
    /// Runs this many steps from the start (restoring a saved session exactly).
    Replay(u64),
    /// Run the program on the processor through KVM (`true`) or on the software CPU.
    OnProcessor(bool),
}

/// The comparison with the processor, when on.
#[derive(Clone, Debug, Default)]
pub struct CompareView {
    pub on: bool,
    /// Why it cannot be on (no KVM here...), in one sentence.
    pub unavailable: Option<String>,
    /// What KVM is on this host.
    pub regime: String,
    /// The processor's registers after the last step.
    pub processor: Option<CpuState>,
    pub diffs: Vec<crate::compare::Diff>,
    /// Steps compared since it was turned on.
    pub steps: u64,
    /// What the hypervisor did: KVM's counters (VM exits by kind, instructions the host
    /// emulated...) since lockstep began, and what each recent step added, newest last.
    pub counters: Vec<(String, u64)>,
    pub timeline: VecDeque<Exits>,
}

/// One step in the hypervisor's timeline: its number, the instruction, and what it added
/// to each KVM counter.
pub type Exits = (u64, String, Vec<(String, u64)>);

/// One line of the disassembly panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    /// Linear address.
    pub addr: u64,
    pub bytes: String,
    pub text: String,
    pub label: Option<String>,
    pub current: bool,
    pub breakpoint: bool,
}

/// What the panels show, published by the machine's thread.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Commands handled so far.
    pub handled: u64,
    pub program: String,
    pub state: Option<CpuState>,
    /// The state before the last step (the registers panel marks what changed).
    pub previous: Option<CpuState>,
    pub console: String,
    pub running: bool,
    pub retired: u64,
    pub ips: f64,
    /// Steps that can be undone.
    pub history: usize,
    /// What happened last, in words.
    pub status: String,
    pub disasm: Vec<Line>,
    pub memory_at: u64,
    pub memory: Vec<u8>,
    /// Physical addresses (and lengths) the last step wrote.
    pub written: Vec<(u64, usize)>,
    pub stack: Vec<(u64, u64)>,
    pub breakpoints: BTreeSet<u64>,
    /// Watched physical ranges: start and length.
    pub watches: Vec<(u64, u64)>,
    /// The source line (1-based) of the next instruction, when the program was assembled.
    pub source_line: Option<u32>,
    /// Exceptions and interrupts seen, newest last.
    pub events: VecDeque<String>,
    /// How `memory_at` is translated.
    pub walk: Option<Walk>,
    /// The first GDT descriptors (8 bytes each) and IDT gates (16 bytes in long mode, else
    /// 8), as the CPU would read them through GDTR and IDTR.
    pub gdt: Vec<u64>,
    pub idt: Vec<(u64, u64)>,
    pub compare: CompareView,
    /// The program runs on the processor (KVM), not on the software CPU.
    pub on_processor: bool,
    /// The next instruction, and the one the last step executed, explained.
    pub next: Option<crate::explain::Explained>,
    pub last: Option<crate::explain::Explained>,
    pub error: Option<String>,
}

/// The UI's end of the machine thread.
pub struct Handle {
    tx: Sender<Command>,
    view: Arc<Mutex<View>>,
    sent: u64,
}

impl Handle {
    /// Starts the machine thread; `repaint` is called when the view changes.
    pub fn spawn(repaint: Box<dyn Fn() + Send>) -> Handle {
        let (tx, rx) = channel();
        let view = Arc::new(Mutex::new(View::default()));
        let shared = view.clone();
        std::thread::Builder::new()
            .name("x86lab machine".into())
            .spawn(move || Worker::new(shared, repaint).run(rx))
            .expect("a thread can be started");
        Handle { tx, view, sent: 0 }
    }

    pub fn send(&mut self, c: Command) {
        if self.tx.send(c).is_ok() {
            self.sent += 1;
        }
    }

    /// The latest view.
    pub fn view(&self) -> View {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits until every command sent has been handled and the machine is not running
    /// (tests; at most `limit`).
    pub fn settle(&self, limit: Duration) -> View {
        let start = Instant::now();
        loop {
            let v = self.view();
            if (v.handled >= self.sent && !v.running) || start.elapsed() > limit {
                return v;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The thread ends when the channel closes.
    }
}

/// Steps kept for stepping back.
const HISTORY: usize = 200_000;
/// How many instructions to run between looks at the command queue at full speed.
const SLICE: u64 = 20_000;
/// Instructions the firmware may take to reach a program.
const BOOT_LIMIT: u64 = 2_000_000;

struct Worker {
    shared: Arc<Mutex<View>>,
    repaint: Box<dyn Fn() + Send>,
    cpu: Option<Cpu>,
    program: Option<Program>,
    history: History,
    console: Vec<u8>,
    view: View,
    speed: Option<u32>,
    /// Until when a run goes on (step over/out set it).
    stop_at: Option<StopAt>,
    trace: VecDeque<u64>,
    run_started: Option<(Instant, u64)>,
    /// The processor's side of the comparison.
    kvm: Option<x86lab_kvm::KvmMachine>,
    /// The program's machine when it runs on the processor.
    hw: Option<x86lab_kvm::KvmMachine>,
    /// Steps taken on `hw` since the program was loaded (stepping back replays them).
    hw_steps: u64,
    /// Memory was edited by hand since the load: a replay would not come back here.
    hw_edited: bool,
}

#[derive(Clone, Copy, Debug)]
enum StopAt {
    /// An address (the instruction after a CALL).
    Address(u64),
    /// The stack pointer rising above this (a RET of the current routine).
    Return(u64),
}

impl Worker {
    fn new(shared: Arc<Mutex<View>>, repaint: Box<dyn Fn() + Send>) -> Worker {
        Worker {
            shared,
            repaint,
            cpu: None,
            program: None,
            history: History::new(HISTORY),
            console: Vec::new(),
            view: View {
                status: "no program".into(),
                ..View::default()
            },
            speed: None,
            stop_at: None,
            trace: VecDeque::new(),
            run_started: None,
            kvm: None,
            hw: None,
            hw_steps: 0,
            hw_edited: false,
        }
    }

    fn run(mut self, rx: Receiver<Command>) {
        self.publish();
        loop {
            let cmd = if self.view.running {
                match rx.recv_timeout(Duration::ZERO) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            };
            if let Some(c) = cmd {
                self.handle(c);
                self.view.handled += 1;
            }
            if self.view.running {
                self.run_slice();
            }
            self.publish();
        }
    }

    fn handle(&mut self, c: Command) {
        match c {
            Command::Load(p) => self.load(*p),
            Command::Reset => {
                if let Some(p) = self.program.clone() {
                    self.load(p);
                }
            }
            Command::Step => {
                self.stop();
                self.step_once();
            }
            Command::StepOver => {
                self.stop();
                match self.next_after_call() {
                    Some(next) => {
                        self.stop_at = Some(StopAt::Address(next));
                        self.start();
                    }
                    None => {
                        self.step_once();
                    }
                }
            }
            Command::StepOut => {
                self.stop();
                if let Some(s) = self.state() {
                    self.stop_at = Some(StopAt::Return(s.gpr[4]));
                    self.start();
                }
            }
            Command::Back if self.hw.is_some() => {
                self.stop();
                self.back_by_replay();
            }
            Command::OnProcessor(on) => {
                self.stop();
                if on && self.view.compare.on {
                    self.view.compare.on = false;
                    self.kvm = None;
                }
                if on {
                    if let Err(e) = x86lab_kvm::KvmMachine::new(MemoryLayout::default()) {
                        self.view.error = Some(format!("cannot run on the processor: {e}"));
                        return;
                    }
                }
                self.view.on_processor = on;
                self.view.compare.timeline.clear();
                if let Some(p) = self.program.clone() {
                    self.load(p);
                }
            }
            Command::Back => {
                self.stop();
                if let Some(cpu) = &mut self.cpu {
                    match self.history.back(cpu) {
                        Ok(Some(len)) => {
                            self.console.truncate(len);
                            self.view.status = "stepped back".into();
                            if self.view.compare.on {
                                self.sync_processor();
                            }
                            self.view.previous = None;
                            self.view.written.clear();
                            self.trace.pop_back();
                        }
                        Ok(None) => self.view.status = "nothing to step back to".into(),
                        Err(e) => self.view.status = format!("cannot step back: {e}"),
                    }
                }
            }
            Command::Run => self.start(),
            Command::Pause => {
                self.stop();
                self.view.status = "paused".into();
            }
            Command::Speed(s) => self.speed = s,
            Command::ToggleBreakpoint(a) => {
                if !self.view.breakpoints.remove(&a) {
                    self.view.breakpoints.insert(a);
                }
            }
            Command::ToggleWatch(a, n) => {
                match self.view.watches.iter().position(|&w| w == (a, n)) {
                    Some(k) => {
                        self.view.watches.remove(k);
                    }
                    None => self.view.watches.push((a, n)),
                }
            }
            Command::Replay(n) => {
                self.stop();
                let mut done = 0;
                while done < n && self.step_once() {
                    done += 1;
                }
                self.view.status = format!("replayed {done} of {n} steps");
            }
            Command::MemoryAt(a) => self.view.memory_at = a,
            Command::Compare(true) if self.hw.is_some() => {
                self.view.compare.unavailable =
                    Some("the program already runs on the processor".into());
            }
            Command::Compare(on) => {
                self.stop();
                if on {
                    self.start_compare();
                } else {
                    self.view.compare.on = false;
                    self.view.compare.diffs.clear();
                    self.kvm = None;
                }
            }
            Command::Poke(addr, bytes) if self.hw.is_some() => {
                if let (Some(hw), Some(s)) = (&mut self.hw, self.view.state.clone()) {
                    for (k, b) in bytes.iter().enumerate() {
                        let lin = addr.wrapping_add(k as u64);
                        if let Some(p) = walk(&s, hw.memory(), lin).physical {
                            hw.memory_mut().write(p, &[*b]);
                        }
                    }
                    self.hw_edited = true;
                }
            }
            Command::Poke(addr, bytes) => {
                if let (Some(cpu), Some(s)) = (&mut self.cpu, self.view.state.clone()) {
                    for (k, b) in bytes.iter().enumerate() {
                        let lin = addr.wrapping_add(k as u64);
                        if let Some(p) = walk(&s, cpu.memory(), lin).physical {
                            cpu.memory_mut().write(p, &[*b]);
                        }
                    }
                    // What came before no longer matches memory.
                    self.history.clear();
                    if self.view.compare.on {
                        self.sync_processor();
                    }
                }
            }
        }
    }

    fn start(&mut self) {
        if self.machine().is_some() {
            self.view.running = true;
            self.view.status = "running".into();
            self.run_started = Some((Instant::now(), self.retired()));
        }
    }

    fn stop(&mut self) {
        self.view.running = false;
        self.stop_at = None;
        self.run_started = None;
        self.view.ips = 0.0;
    }

    /// The machine the program runs on.
    fn machine(&self) -> Option<&dyn Machine> {
        machine_of(&self.hw, &self.cpu)
    }

    fn state(&self) -> Option<CpuState> {
        self.machine().and_then(|m| m.state().ok())
    }

    fn load(&mut self, p: Program) {
        self.stop();
        self.history.clear();
        self.console.clear();
        self.trace.clear();
        self.view.events.clear();
        self.view.previous = None;
        self.view.written.clear();
        self.view.error = None;
        self.view.program = p.name.clone();
        self.view.compare.timeline.clear();
        self.hw_steps = 0;
        self.hw_edited = false;
        let booted = if self.view.on_processor {
            match x86lab_kvm::KvmMachine::new(MemoryLayout::default()) {
                Ok(mut k) => {
                    let r = boot(&mut k, &p);
                    self.view.compare.counters = k.statistics().unwrap_or_default();
                    self.hw = Some(k);
                    self.cpu = None;
                    r
                }
                Err(e) => Err(format!("KVM is not available here: {e}")),
            }
        } else {
            match Cpu::new(MemoryLayout::default()) {
                Ok(mut c) => {
                    let r = boot(&mut c, &p);
                    self.cpu = Some(c);
                    self.hw = None;
                    r
                }
                Err(e) => Err(format!("cannot create the machine: {e}")),
            }
        };
        match booted {
            Ok((steps, out)) => {
                self.console = out;
                self.view.status = match p.boot {
                    Boot::Firmware => format!(
                        "booted through the firmware ({steps} instructions); at the program's first instruction"
                    ),
                    Boot::Direct => "loaded".into(),
                };
            }
            Err(e) => {
                self.view.error = Some(e);
                self.cpu = None;
                self.hw = None;
            }
        }
        self.view.memory_at = p.entry;
        self.program = Some(p);
        if self.view.compare.on {
            self.sync_processor();
        }
    }

    /// Steps back on the processor: loads the program again and replays all steps but the
    /// last (the processor keeps no journal; the same steps from the same start give the
    /// same machine).
    fn back_by_replay(&mut self) {
        if self.hw_edited {
            self.view.status = "cannot step back: memory was edited by hand since the load".into();
            return;
        }
        let n = self.hw_steps;
        let Some(p) = self.program.clone() else {
            return;
        };
        if n == 0 {
            self.view.status = "nothing to step back to".into();
            return;
        }
        self.load(p);
        let mut done = 0;
        while done + 1 < n && self.step_once() {
            done += 1;
        }
        self.view.previous = None;
        self.view.status = format!(
            "stepped back: replayed {done} steps on the processor (all but its time-stamp counter, which counts real time)"
        );
    }

    /// Turns the comparison on: a KVM machine with the software CPU's memory and state.
    fn start_compare(&mut self) {
        let regime = x86lab_kvm::Regime::detect();
        self.view.compare.regime = if regime.is_hardware_assisted() {
            "KVM with VT-x/AMD-V: every mode runs on the processor".into()
        } else {
            "KVM without VT-x/AMD-V: 64-bit user code runs on the processor; real-mode, 32-bit and kernel code in the host kernel's emulator".into()
        };
        match x86lab_kvm::KvmMachine::new(MemoryLayout::default()) {
            Ok(mut k) => {
                self.view.compare.counters = k.statistics().unwrap_or_default();
                self.view.compare.timeline.clear();
                self.kvm = Some(k);
                self.view.compare.on = true;
                self.view.compare.unavailable = None;
                self.view.compare.steps = 0;
                self.sync_processor();
            }
            Err(e) => {
                self.view.compare.on = false;
                self.view.compare.unavailable = Some(format!("KVM is not available here: {e}"));
            }
        }
    }

    /// Gives the processor the software CPU's memory and registers.
    fn sync_processor(&mut self) {
        let (Some(cpu), Some(kvm)) = (&self.cpu, &mut self.kvm) else {
            return;
        };
        let layout = cpu.memory().layout();
        let mut buf = vec![0u8; 1 << 20];
        for base in (0..layout.ram_size).step_by(buf.len()) {
            cpu.memory().read(base, &mut buf);
            let _ = kvm.memory_mut().load(base, &buf);
        }
        let mut rom = vec![0u8; layout.rom_size as usize];
        cpu.memory().read(layout.rom_base(), &mut rom);
        let _ = kvm.memory_mut().load(layout.rom_base(), &rom);
        match cpu.state().and_then(|s| kvm.set_state(&s)) {
            Ok(()) => {
                self.view.compare.diffs.clear();
                self.view.compare.processor = kvm.state().ok();
            }
            Err(e) => {
                self.view.compare.unavailable = Some(format!("KVM refused the state: {e}"));
                self.view.compare.on = false;
                self.kvm = None;
            }
        }
    }

    /// One recorded step; false when the machine should stop running.
    fn step_once(&mut self) -> bool {
        if self.hw.is_some() {
            return self.step_on_processor();
        }
        let Some(cpu) = &mut self.cpu else {
            return false;
        };
        let before = cpu.state().ok();
        let at = before.as_ref().map(CpuState::code_address);
        let instruction = match (&before, self.kvm.is_some()) {
            (Some(s), true) => decode_at(cpu, s, s.code_address()).map(|(i, _)| i),
            _ => None,
        };
        let event = self.history.step(cpu, self.console.len());
        self.console.extend(cpu.devices().output().take());
        let mut diverged = false;
        let mut exits = None;
        if let (Some(kvm), Ok(after)) = (&mut self.kvm, cpu.state()) {
            match kvm.step() {
                Ok(_) => {
                    kvm.devices().output().take();
                    let hw = kvm.state().ok();
                    self.view.compare.diffs = hw
                        .as_ref()
                        .map(|hw| crate::compare::diff(instruction.as_ref(), &after, hw))
                        .unwrap_or_default();
                    self.view.compare.processor = hw;
                    self.view.compare.steps += 1;
                    exits = kvm.statistics().ok();
                    diverged = self.view.compare.diffs.iter().any(|d| d.expected.is_none());
                    // Differences the manual allows (undefined flags, CPUID, the TSC): the
                    // processor goes on from the software CPU's registers, so that the next
                    // step is compared from one state again instead of carrying them along.
                    if !diverged && !self.view.compare.diffs.is_empty() {
                        let _ = kvm.set_state(&after);
                    }
                }
                Err(e) => {
                    self.view.compare.unavailable =
                        Some(format!("KVM could not run this step: {e}"));
                    diverged = true;
                }
            }
        }
        self.view.previous = before;
        if let Some(a) = at {
            self.trace.push_back(a);
            if self.trace.len() > 8 {
                self.trace.pop_front();
            }
        }
        if let Some(now) = exits {
            self.record_exits(now, instruction.as_ref());
        }
        if diverged {
            self.view.status = "the processor did something else: see Compare".into();
            return false;
        }
        self.after_event(event)
    }

    /// One step on the processor (KVM); stepping back will replay the steps.
    fn step_on_processor(&mut self) -> bool {
        let Some(hw) = &mut self.hw else {
            return false;
        };
        let before = hw.state().ok();
        let instruction = before
            .as_ref()
            .and_then(|s| decode_at(hw, s, s.code_address()))
            .map(|(i, _)| i);
        let event = hw.step();
        self.console.extend(hw.devices().output().take());
        let now = hw.statistics().unwrap_or_default();
        self.hw_steps += 1;
        if let Some(a) = before.as_ref().map(CpuState::code_address) {
            self.trace.push_back(a);
            if self.trace.len() > 8 {
                self.trace.pop_front();
            }
        }
        self.view.previous = before;
        self.record_exits(now, instruction.as_ref());
        self.after_event(event)
    }

    /// Adds a step to the hypervisor's timeline: what it added to each KVM counter.
    fn record_exits(
        &mut self,
        now: Vec<(String, u64)>,
        instruction: Option<&iced_x86::Instruction>,
    ) {
        let added: Vec<(String, u64)> = now
            .iter()
            .filter_map(|(n, v)| {
                let was = self
                    .view
                    .compare
                    .counters
                    .iter()
                    .find(|(m, _)| m == n)
                    .map_or(0, |(_, w)| *w);
                (*v > was).then(|| (n.clone(), v - was))
            })
            .collect();
        let text = instruction
            .map(|i| {
                let mut f = x86lab_firmware::asm::disasm::formatter();
                x86lab_firmware::asm::disasm::text(&mut f, i)
            })
            .unwrap_or_default();
        let step = self.view.compare.timeline.back().map_or(1, |(k, ..)| k + 1);
        self.view.compare.timeline.push_back((step, text, added));
        if self.view.compare.timeline.len() > 64 {
            self.view.compare.timeline.pop_front();
        }
        self.view.compare.counters = now;
    }

    /// What a step's event means for the run: false when it must stop.
    fn after_event(&mut self, event: Result<Event, x86lab_emulator::MachineError>) -> bool {
        match event {
            Ok(Event::Stepped) => {
                self.view.status = "stepped".into();
                true
            }
            Ok(Event::Exception(e)) => {
                // Where the CPU went: the handler the IDT (or the vector table) named.
                let handler = self.state().map(|s| s.code_address()).unwrap_or(0);
                let text = format!("{e}, handler at {handler:#x}");
                self.view.status = format!("exception {text}");
                self.view.events.push_back(text);
                if self.view.events.len() > 32 {
                    self.view.events.pop_front();
                }
                true
            }
            Ok(other) => {
                self.view.status = other.to_string();
                false
            }
            Err(e) => {
                self.view.status = format!("the machine stopped: {e}");
                false
            }
        }
    }

    /// The address after the current instruction when it is a CALL, REP string, LOOP or INT
    /// (step over runs to it).
    fn next_after_call(&self) -> Option<u64> {
        let s = self.state()?;
        let (i, _) = decode_at(self.machine()?, &s, s.code_address())?;
        let over = matches!(
            i.mnemonic(),
            iced_x86::Mnemonic::Call
                | iced_x86::Mnemonic::Loop
                | iced_x86::Mnemonic::Loope
                | iced_x86::Mnemonic::Loopne
                | iced_x86::Mnemonic::Int
        ) || i.has_rep_prefix()
            || i.has_repne_prefix();
        over.then(|| s.code_address() + i.len() as u64)
    }

    fn run_slice(&mut self) {
        let budget = match (self.speed, self.run_started) {
            (Some(ips), Some((t0, r0))) => {
                let due = (t0.elapsed().as_secs_f64() * f64::from(ips)) as u64;
                let done = self.retired() - r0;
                if due <= done {
                    std::thread::sleep(Duration::from_millis(5));
                    0
                } else {
                    (due - done).min(SLICE)
                }
            }
            _ => SLICE,
        };
        let frame = Instant::now();
        for k in 0..budget {
            if k > 0 {
                if let Some(s) = self.state() {
                    let at = s.code_address();
                    if self.view.breakpoints.contains(&at) {
                        self.stop();
                        self.view.status = format!("breakpoint at {at:#x}");
                        return;
                    }
                    let reached = match self.stop_at {
                        Some(StopAt::Address(a)) => at == a,
                        Some(StopAt::Return(sp)) => s.gpr[4] > sp,
                        None => false,
                    };
                    if reached {
                        self.stop();
                        self.view.status = "stopped".into();
                        return;
                    }
                }
            }
            if !self.step_once() {
                self.stop();
                return;
            }
            let hit = self.history.last_writes().iter().find_map(|(a, b)| {
                self.view
                    .watches
                    .iter()
                    .find(|&&(w, n)| *a < w + n && w < *a + b.len() as u64)
                    .map(|_| *a)
            });
            if let Some(a) = hit {
                self.stop();
                self.view.status = format!("watchpoint: a write at {a:#x}");
                return;
            }
            if frame.elapsed() > Duration::from_millis(30) {
                break;
            }
        }
        if let Some((t0, r0)) = self.run_started {
            let secs = t0.elapsed().as_secs_f64();
            if secs > 0.0 {
                self.view.ips = (self.retired() - r0) as f64 / secs;
            }
        }
    }

    /// Instructions retired: the software CPU counts them; on the processor, the steps
    /// taken since the load.
    fn retired(&self) -> u64 {
        match &self.cpu {
            Some(c) if self.hw.is_none() => c.instructions_retired().unwrap_or(0),
            _ => self.hw_steps,
        }
    }

    /// Copies what the panels show into the shared view.
    fn publish(&mut self) {
        let state = self.state();
        self.view.state = state.clone();
        self.view.retired = self.retired();
        self.view.history = if self.hw.is_some() {
            // On the processor, stepping back replays the steps since the load.
            if self.hw_edited {
                0
            } else {
                self.hw_steps as usize
            }
        } else {
            self.history.len()
        };
        self.view.console = String::from_utf8_lossy(&self.console).into_owned();
        if let (Some(cpu), Some(s)) = (machine_of(&self.hw, &self.cpu), &state) {
            self.view.disasm = disassembly(
                cpu,
                s,
                &self.trace,
                self.program.as_ref(),
                &self.view.breakpoints,
            );
            self.view.walk = Some(walk(s, cpu.memory(), self.view.memory_at));
            self.view.memory = read_linear(cpu, s, self.view.memory_at, 256);
            self.view.stack = stack(cpu, s);
            self.view.next = explain(cpu, s, None);
            let here = s.code_address();
            self.view.source_line = self.program.as_ref().and_then(|p| {
                p.listing
                    .iter()
                    .find(|l| {
                        l.address == here
                            && !l.bytes.is_empty()
                            && l.file.as_path() == p.main_file.as_path()
                    })
                    .map(|l| l.line)
            });
            self.view.last = self
                .view
                .previous
                .as_ref()
                .and_then(|p| explain(cpu, p, Some(s)));
            let words = |base: u64, n: usize, size: usize| -> Vec<u64> {
                read_linear(cpu, s, base, n * size)
                    .chunks(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect()
            };
            let gdt_n = ((usize::from(s.gdtr.limit) + 1) / 8).min(32);
            self.view.gdt = if s.mode() == CpuMode::Real {
                Vec::new()
            } else {
                words(s.gdtr.base, gdt_n, 8)
            };
            let long = s.efer & x86lab_emulator::state::ctl::EFER_LMA != 0;
            let gate = if long { 16 } else { 8 };
            let idt_n = ((usize::from(s.idtr.limit) + 1) / gate).min(32);
            let raw = words(s.idtr.base, idt_n, gate);
            self.view.idt = if s.mode() == CpuMode::Real {
                Vec::new()
            } else if long {
                raw.chunks(2)
                    .map(|c| (c[0], c.get(1).copied().unwrap_or(0)))
                    .collect()
            } else {
                raw.iter().map(|&w| (w, 0)).collect()
            };
            let writes: &[(u64, Vec<u8>)] = if self.hw.is_some() {
                &[]
            } else {
                self.history.last_writes()
            };
            self.view.written = writes.iter().map(|(a, b)| (*a, b.len())).collect();
        }
        if let Ok(mut v) = self.shared.lock() {
            *v = self.view.clone();
        }
        (self.repaint)();
    }
}

/// The machine a program runs on: the processor's when there is one, else the software CPU.
fn machine_of<'a>(
    hw: &'a Option<x86lab_kvm::KvmMachine>,
    cpu: &'a Option<Cpu>,
) -> Option<&'a dyn Machine> {
    match (hw, cpu) {
        (Some(h), _) => Some(h),
        (None, Some(c)) => Some(c),
        _ => None,
    }
}

/// Loads a program into a machine; through the firmware, runs it to the program's first
/// instruction. Returns the firmware's steps and console output.
fn boot(m: &mut dyn Machine, p: &Program) -> Result<(u64, Vec<u8>), String> {
    match p.boot {
        Boot::Firmware => load::boot_firmware(m, &p.image, p.mode),
        Boot::Direct => load::load(m, &p.image, &LoadOptions::default()),
    }
    .map_err(|e| format!("{e:#}"))?;
    let mut n = 0;
    if p.boot == Boot::Firmware {
        while m.state().map(|s| s.code_address()).ok() != Some(p.entry) {
            if n >= BOOT_LIMIT {
                return Err(format!(
                    "the firmware did not reach the program in {BOOT_LIMIT} instructions"
                ));
            }
            match m.step() {
                Ok(Event::Stepped) | Ok(Event::Exception(_)) => n += 1,
                Ok(other) => {
                    return Err(format!("the firmware stopped before the program: {other}"))
                }
                Err(e) => return Err(format!("the firmware stopped: {e}")),
            }
        }
    }
    Ok((n, m.devices().output().take()))
}

/// Reads `len` bytes at a linear address through the page tables (0xFF where unmapped).
pub fn read_linear(cpu: &dyn Machine, s: &CpuState, addr: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|k| {
            let lin = addr.wrapping_add(k);
            match walk(s, cpu.memory(), lin).physical {
                Some(p) => cpu.memory().read_uint(p, 1) as u8,
                None => 0xff,
            }
        })
        .collect()
}

/// The code size of the current mode, in bits.
fn bitness(s: &CpuState) -> u32 {
    match s.mode() {
        CpuMode::Long64 => 64,
        CpuMode::Real | CpuMode::Virtual8086 => 16,
        _ => {
            if s.cs.db() {
                32
            } else {
                16
            }
        }
    }
}

/// Decodes the instruction at a linear address.
fn decode_at(
    cpu: &dyn Machine,
    s: &CpuState,
    lin: u64,
) -> Option<(iced_x86::Instruction, Vec<u8>)> {
    let bytes = read_linear(cpu, s, lin, 15);
    let ip = if s.mode() == CpuMode::Long64 {
        lin
    } else {
        lin.wrapping_sub(s.cs.base)
    };
    let i = Decoder::with_ip(bitness(s), &bytes, ip, DecoderOptions::NONE).decode();
    Some((i, bytes))
}

/// The instruction at `before`'s RIP explained; with `after`, the flags it changed.
fn explain(
    cpu: &dyn Machine,
    before: &CpuState,
    after: Option<&CpuState>,
) -> Option<crate::explain::Explained> {
    let lin = before.code_address();
    let bytes = read_linear(cpu, before, lin, 15);
    let ip = if before.mode() == CpuMode::Long64 {
        lin
    } else {
        lin.wrapping_sub(before.cs.base)
    };
    let bits = bitness(before);
    let mut d = Decoder::with_ip(bits, &bytes, ip, DecoderOptions::NONE);
    let i = d.decode();
    if i.is_invalid() {
        return None;
    }
    let offsets = d.get_constant_offsets(&i);
    let mut f = x86lab_firmware::asm::disasm::formatter();
    Some(crate::explain::Explained {
        addr: lin,
        text: x86lab_firmware::asm::disasm::text(&mut f, &i),
        parts: crate::explain::parts(&i, &bytes, &offsets, bits),
        operands: crate::explain::operands(&i, before),
        flags: after
            .map(|a| crate::explain::flags(&i, before, a))
            .unwrap_or_default(),
    })
}

/// The disassembly around RIP: the last instructions executed, then the next ones.
fn disassembly(
    cpu: &dyn Machine,
    s: &CpuState,
    trace: &VecDeque<u64>,
    program: Option<&Program>,
    breakpoints: &BTreeSet<u64>,
) -> Vec<Line> {
    let mut f = x86lab_firmware::asm::disasm::formatter();
    let here = s.code_address();
    // The instructions executed just before, in address order (a loop's body once).
    let addrs: Vec<u64> = trace
        .iter()
        .copied()
        .filter(|&a| a < here && here - a < 256)
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    let mut lines = Vec::new();
    let label = |a: u64| program.and_then(|p| p.labels.get(&a).cloned());
    let mut line = |a: u64| -> u64 {
        match decode_at(cpu, s, a) {
            Some((i, bytes)) if !i.is_invalid() => {
                let len = i.len();
                lines.push(Line {
                    addr: a,
                    bytes: bytes[..len].iter().map(|b| format!("{b:02x}")).collect(),
                    text: x86lab_firmware::asm::disasm::text(&mut f, &i),
                    label: label(a),
                    current: a == here,
                    breakpoint: breakpoints.contains(&a),
                });
                len as u64
            }
            Some((_, bytes)) => {
                lines.push(Line {
                    addr: a,
                    bytes: format!("{:02x}", bytes[0]),
                    text: "(not an instruction in this mode)".into(),
                    label: label(a),
                    current: a == here,
                    breakpoint: breakpoints.contains(&a),
                });
                1
            }
            None => 1,
        }
    };
    for a in addrs.iter().rev().take(6).rev() {
        line(*a);
    }
    let mut a = here;
    for _ in 0..24 {
        a += line(a);
    }
    lines
}

/// The stack: 16 slots from SS:SP of the mode's width.
fn stack(cpu: &dyn Machine, s: &CpuState) -> Vec<(u64, u64)> {
    let width: u64 = match s.mode() {
        CpuMode::Long64 => 8,
        _ if s.ss.db() && s.mode() != CpuMode::Real => 4,
        _ => 2,
    };
    let sp = match width {
        8 => s.gpr[4],
        4 => s.gpr[4] & 0xffff_ffff,
        _ => s.gpr[4] & 0xffff,
    };
    let base = if s.mode() == CpuMode::Long64 {
        0
    } else {
        s.ss.base
    };
    (0..16)
        .map(|k| {
            let lin = base.wrapping_add(sp + k * width);
            let b = read_linear(cpu, s, lin, width as usize);
            let mut v = [0u8; 8];
            v[..b.len()].copy_from_slice(&b);
            (sp + k * width, u64::from_le_bytes(v))
        })
        .collect()
}
