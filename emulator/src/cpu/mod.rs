//! The software CPU: decode with iced-x86, execute in Rust.
//!
//! One step is: check instruction breakpoints, fetch the bytes at CS:RIP through the MMU,
//! decode them, execute the instruction, retire it, and raise the debug traps it caused.
//! Instruction semantics live in one file per family (`arith`, `logic`, `shift`, `bits`,
//! `muldiv`, `bcd`, `data`, `stack`, `control`, `string`, `system`, `privileged`);
//! segmentation and protection in `segment`, far transfers across privilege levels in
//! `transfer`, operand access in `operand`, address translation (segments, then paging) in
//! `mmu`, exception and interrupt delivery in `exception`, the debug registers in `debug`,
//! the flag rules in `flags`.
//!
//! An instruction either completes, or returns an [`Exc`] before changing anything the
//! guest can see: GPRs, RIP and RFLAGS are restored from a snapshot (and the instructions
//! that change more — far transfers, delivery — check everything before they write), so a
//! fault leaves the instruction restartable, as the architecture requires.
//!
//! Interrupt shadows: after MOV SS or POP SS, debug traps wait until the next instruction
//! has completed (SDM 6.8.3). STI's shadow only delays maskable interrupts; this machine
//! has no interrupt controller yet, so it has nothing to delay.

mod arith;
mod bcd;
mod bits;
mod control;
mod cpuid;
mod data;
mod debug;
mod exception;
mod execute;
mod fast;
pub(crate) mod flags;
mod logic;
mod mmu;
mod muldiv;
mod operand;
mod privileged;
mod segment;
mod shift;
mod stack;
mod string;
mod system;
mod transfer;

use std::time::Instant;

use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};

pub use cpuid::{cpuid, VENDOR};
pub use execute::IMPLEMENTED;

use crate::devices::{DeviceAction, Devices};
use crate::machine::{Cause, Event, Exception, Limit, Machine, MachineError, RunLimits, Vector};
use crate::memory::{GuestMemory, MemoryLayout};
use crate::state::{flags as fl, CpuMode, CpuState};

use exception::Kind;
use mmu::Tlb;

/// An exception raised while executing an instruction, before it is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exc {
    pub vector: Vector,
    pub code: Option<u32>,
    pub cause: Cause,
}

impl Exc {
    pub fn new(vector: Vector) -> Self {
        Exc {
            vector,
            code: None,
            cause: Cause::Architectural,
        }
    }

    pub fn with_code(vector: Vector, code: u32) -> Self {
        Exc {
            vector,
            code: Some(code),
            cause: Cause::Architectural,
        }
    }

    pub fn gp0() -> Self {
        Exc::with_code(Vector::GP, 0)
    }
}

/// The result of executing part of an instruction.
pub(crate) type X<T = ()> = Result<T, Exc>;

/// What the current instruction asked of the run loop besides retiring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    Halt,
    Exit(u32),
    /// A REP string instruction executed one iteration and will run again.
    RepIteration,
    /// A software interrupt (INT n, INT3, INTO, INT1) was delivered.
    SoftwareInterrupt,
}

/// The software x86 CPU with its memory and devices.
pub struct Cpu {
    pub(crate) s: CpuState,
    pub(crate) mem: GuestMemory,
    pub(crate) dev: Devices,
    tlb: Tlb,
    retired: u64,
    halted: bool,
    pending: Pending,
    /// The instruction being executed.
    pub(crate) i: Instruction,
    /// Address (RIP) of the current instruction.
    pub(crate) ip: u64,
    /// Address size of the current instruction in bytes (2, 4 or 8).
    pub(crate) asz: u32,
    /// Code size of the current instruction in bits (16, 32 or 64).
    pub(crate) bits: u32,
    /// Non-zero when the current instruction is F3 90 with REX.B in 64-bit mode, which
    /// iced-x86 decodes as PAUSE but processors execute as XCHG r8, rAX (REX.B selects R8
    /// in 90+r): the operand size in bytes.
    pub(crate) pause_xchg_size: u32,
    /// An implicit supervisor-mode access is in progress (descriptor tables, TSS, inner
    /// stacks): paging checks it as CPL 0 whatever the CPL.
    pub(crate) implicit_supervisor: bool,
    /// The four PAE page-directory-pointer entries, loaded with CR3.
    pub(crate) pdptes: [u64; 4],
    /// Which kinds of DR0–DR3 breakpoints DR7 enables (cached for speed).
    pub(crate) exec_bp_armed: bool,
    pub(crate) data_bp_armed: bool,
    pub(crate) io_bp_armed: bool,
    /// DR6.B0–B3 bits of data and I/O breakpoints the current instruction hit.
    pub(crate) db_hits: u64,
    /// The previous instruction was MOV SS or POP SS: debug traps wait one instruction.
    ss_shadow: bool,
    /// Debug-trap bits (DR6 B0–B3, BS) held back by the MOV SS shadow.
    deferred_db: u64,
    /// Exceptions stop the CPU before delivery ([`Event::Intercepted`]).
    intercept_exceptions: bool,
    /// Instructions decoded before, by physical address (see [`Decoded`]).
    decoded: Box<[Decoded]>,
    /// Whether [`Machine::run`] may use the fast path (`fast.rs`); on by default.
    fast_path: bool,
    /// Instructions retired on the fast path.
    fast_retired: u64,
    /// The fast path's last code page: (linear, physical), while its TLB entry stays.
    code_page: (u64, u64),
    /// The fast path's blocks of prepared instructions (allocated when it first runs).
    blocks: Box<[fast::Block]>,
}

/// How many decoded instructions the CPU keeps (a power of two).
const DECODED: usize = 4096;

/// An instruction decoded before: the same bytes (the memory's version of their page has
/// not moved), at the same RIP, in the same code size decode to the same instruction.
/// Instructions that cross a page are not kept.
#[derive(Clone, Copy)]
struct Decoded {
    /// Physical address of the first byte; `u64::MAX` when the slot is empty.
    phys: u64,
    ip: u64,
    bits: u32,
    version: u64,
    asz: u32,
    pause_xchg_size: u32,
    instruction: Instruction,
    /// The instruction prepared for the fast path.
    fast: fast::Op,
}

/// The slot of the decoded instruction at physical address `phys`.
#[inline(always)]
fn decoded_slot(phys: u64) -> usize {
    (phys ^ (phys >> 12)) as usize & (DECODED - 1)
}

impl Decoded {
    /// Whether the slot holds the instruction at `ip`, physical `phys`, in a page of
    /// `version` (decoded in whatever code size; callers that care compare `bits`).
    #[inline(always)]
    fn holds(&self, phys: u64, ip: u64, version: u64) -> bool {
        self.phys == phys && self.ip == ip && self.version == version
    }

    fn empty() -> Decoded {
        Decoded {
            phys: u64::MAX,
            ip: 0,
            bits: 0,
            version: 0,
            asz: 0,
            pause_xchg_size: 0,
            instruction: Instruction::default(),
            fast: fast::Op::GENERIC,
        }
    }
}

/// What the software CPU carries between instructions besides [`CpuState`]: whether it is
/// halted, the MOV SS shadow and the debug traps it holds back, the PAE PDPTE registers.
/// [`crate::History`] keeps it so that stepping back is exact.
#[derive(Clone, Debug)]
pub struct Hidden {
    halted: bool,
    ss_shadow: bool,
    deferred_db: u64,
    pdptes: [u64; 4],
}

impl Cpu {
    /// The state between instructions that [`Machine::state`] does not show.
    pub fn hidden(&self) -> Hidden {
        Hidden {
            halted: self.halted,
            ss_shadow: self.ss_shadow,
            deferred_db: self.deferred_db,
            pdptes: self.pdptes,
        }
    }

    /// Puts back what [`Self::hidden`] took (after [`Machine::set_state`], which clears it).
    pub fn set_hidden(&mut self, h: &Hidden) {
        self.halted = h.halted;
        self.ss_shadow = h.ss_shadow;
        self.deferred_db = h.deferred_db;
        self.pdptes = h.pdptes;
    }

    /// Sets the count [`Machine::instructions_retired`] reports (stepping back lowers it).
    pub fn set_instructions_retired(&mut self, n: u64) {
        self.retired = n;
    }

    /// A CPU in the state after RESET ([`CpuState::reset`]: real mode, CS:IP = F000:FFF0,
    /// fetching from the top of the ROM window) with zeroed memory of the given layout.
    pub fn new(layout: MemoryLayout) -> Result<Self, crate::memory::MemoryError> {
        Ok(Cpu {
            s: CpuState::reset(),
            mem: GuestMemory::new(layout)?,
            dev: Devices::default(),
            tlb: Tlb::default(),
            retired: 0,
            halted: false,
            pending: Pending::None,
            i: Instruction::default(),
            ip: 0,
            asz: 2,
            bits: 16,
            pause_xchg_size: 0,
            implicit_supervisor: false,
            pdptes: [0; 4],
            exec_bp_armed: false,
            data_bp_armed: false,
            io_bp_armed: false,
            db_hits: 0,
            ss_shadow: false,
            deferred_db: 0,
            intercept_exceptions: false,
            decoded: vec![Decoded::empty(); DECODED].into_boxed_slice(),
            fast_path: true,
            fast_retired: 0,
            code_page: fast::NO_CODE_PAGE,
            blocks: Box::new([]),
        })
    }

    /// With `on`, every exception the CPU raises (not INT n, which is an instruction) stops
    /// it before delivery and is reported as [`Event::Intercepted`], the way a hypervisor's
    /// exception bitmap turns guest exceptions into VM exits. Off by default.
    pub fn set_exception_intercept(&mut self, on: bool) {
        self.intercept_exceptions = on;
    }

    /// With `false`, [`Machine::run`] executes every instruction on the general path, the
    /// one [`Machine::step`] takes; the results are the same, only slower (tests compare
    /// the two).
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    /// The architectural state, by reference.
    pub fn cpu_state(&self) -> &CpuState {
        &self.s
    }

    /// The width of code in the current mode, in bits.
    fn code_bits(&self) -> u32 {
        match self.s.mode() {
            CpuMode::Real | CpuMode::Virtual8086 => 16,
            CpuMode::Long64 => 64,
            CpuMode::Protected | CpuMode::Compatibility => {
                if self.s.cs.db() {
                    32
                } else {
                    16
                }
            }
        }
    }

    /// Fetches and decodes the instruction at CS:RIP into `self.i`.
    fn fetch_decode(&mut self) -> X {
        self.bits = self.code_bits();
        self.ip = self.s.rip;
        let lin = self.code_linear(self.ip)?;
        let phys = self.translate(lin, mmu::Access::Execute)?;
        let version = self.mem.version(phys);
        let slot = decoded_slot(phys);
        let d = &self.decoded[slot];
        if d.holds(phys, self.ip, version) && d.bits == self.bits {
            self.i = d.instruction;
            self.asz = d.asz;
            self.pause_xchg_size = d.pause_xchg_size;
            return Ok(());
        }
        // Fetch what the first page holds; cross into the next page only if the
        // instruction really continues there (so a fault on it is only raised then).
        let first = (0x1000 - (lin & 0xfff)).min(15) as usize;
        let mut buf = [0u8; 15];
        self.mem.read(phys, &mut buf[..first]);
        let mut avail = first;
        loop {
            let mut d = Decoder::with_ip(self.bits, &buf[..avail], self.ip, DecoderOptions::NONE);
            d.decode_out(&mut self.i);
            match d.last_error() {
                DecoderError::NoMoreBytes if avail < 15 => {
                    // The rest of the bytes are on the next page (or past the CS limit).
                    let more = 15 - avail;
                    let lin2 = self.code_linear(self.ip.wrapping_add(avail as u64))?;
                    self.fetch_bytes(lin2, &mut buf[avail..avail + more])?;
                    avail = 15;
                }
                DecoderError::None => break,
                _ => {
                    return Err(Exc {
                        vector: Vector::UD,
                        code: None,
                        cause: Cause::Invalid {
                            instruction: hex_bytes(&buf[..avail.min(15)]),
                        },
                    })
                }
            }
        }
        self.asz = self.address_size(&buf[..self.i.len()]);
        self.pause_xchg_size = 0;
        if self.i.code() == iced_x86::Code::Pause && self.bits == 64 {
            // A REX prefix counts only right before the opcode (a legacy prefix after it
            // makes the processor ignore it).
            let prefixes = &buf[..self.i.len() - 1];
            let rex = prefixes.last().filter(|&&b| (0x40..=0x4f).contains(&b));
            if let Some(&rex) = rex.filter(|&&r| r & 1 != 0) {
                self.pause_xchg_size = if rex & 8 != 0 {
                    8
                } else if prefixes.contains(&0x66) {
                    2
                } else {
                    4
                };
            }
        }
        if self.i.len() <= first {
            self.decoded[slot] = Decoded {
                phys,
                ip: self.ip,
                bits: self.bits,
                version,
                asz: self.asz,
                pause_xchg_size: self.pause_xchg_size,
                instruction: self.i,
                fast: fast::compile(&self.i, self.bits, self.asz),
            };
        }
        Ok(())
    }

    /// The address size of the instruction with these bytes: the mode's default, flipped by
    /// a 0x67 prefix among the legacy prefixes.
    fn address_size(&self, bytes: &[u8]) -> u32 {
        let mut flip = false;
        for &b in bytes {
            match b {
                0x67 => flip = true,
                0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0x66 => {}
                0x40..=0x4f if self.bits == 64 => {}
                _ => break,
            }
        }
        match (self.bits, flip) {
            (64, false) => 8,
            (64, true) | (32, false) | (16, true) => 4,
            _ => 2,
        }
    }

    /// Executes one instruction (or one REP iteration) and returns what happened.
    fn step_one(&mut self) -> Event {
        if self.halted {
            return Event::Halted {
                interrupts_enabled: self.s.rflags & fl::IF != 0,
            };
        }
        let gpr = self.s.gpr;
        let rip = self.s.rip;
        let rflags = self.s.rflags;
        // Instruction breakpoints: a fault before the instruction begins, unless RF.
        if self.exec_bp_armed && rflags & fl::RF == 0 {
            let hits = self.exec_breakpoints(self.s.code_address());
            if hits != 0 {
                self.s.debug.dr6 = (self.s.debug.dr6 & !0xf) | hits;
                return self.raise(Exc::new(Vector::DB), rip, Kind::InstructionBreakpoint);
            }
        }
        self.pending = Pending::None;
        self.db_hits = 0;
        let shadowed = std::mem::take(&mut self.ss_shadow);
        let result = self.fetch_decode().and_then(|()| self.execute());
        match result {
            Ok(()) => {
                self.retire();
                let pending = std::mem::replace(&mut self.pending, Pending::None);
                // RF is cleared when an instruction completes (IRET loads it instead); it
                // stays set between the iterations of a REP string instruction.
                if pending == Pending::RepIteration {
                    self.s.rflags |= fl::RF;
                } else if !matches!(
                    self.i.mnemonic(),
                    iced_x86::Mnemonic::Iret
                        | iced_x86::Mnemonic::Iretd
                        | iced_x86::Mnemonic::Iretq
                ) {
                    self.s.rflags &= !fl::RF;
                }
                // Debug traps: data/I-O breakpoints hit, and the single-step trap after an
                // instruction that began with TF set (unless it delivered an interrupt,
                // which cleared TF for the handler, or ended the run).
                let mut traps = self.db_hits;
                if rflags & fl::TF != 0
                    && pending != Pending::SoftwareInterrupt
                    && !matches!(pending, Pending::Exit(_))
                {
                    traps |= debug::DR6_BS;
                }
                if self.loads_ss() && !shadowed {
                    // MOV SS / POP SS: traps wait until after the next instruction.
                    self.ss_shadow = true;
                    self.deferred_db |= traps;
                    traps = 0;
                } else {
                    traps |= std::mem::take(&mut self.deferred_db);
                }
                if traps != 0 {
                    self.s.debug.dr6 = (self.s.debug.dr6 & !0xf) | traps;
                    let kind = Kind::Trap {
                        rep_continues: pending == Pending::RepIteration,
                    };
                    return self.raise(Exc::new(Vector::DB), rip, kind);
                }
                match pending {
                    Pending::Halt => {
                        self.halted = true;
                        Event::Halted {
                            interrupts_enabled: self.s.rflags & fl::IF != 0,
                        }
                    }
                    Pending::Exit(status) => Event::ExitRequested { status },
                    Pending::None | Pending::RepIteration | Pending::SoftwareInterrupt => {
                        Event::Stepped
                    }
                }
            }
            Err(exc) => {
                self.s.gpr = gpr;
                self.s.rip = rip;
                self.s.rflags = rflags;
                self.deferred_db = 0;
                self.raise(exc, rip, Kind::Fault)
            }
        }
    }

    /// Whether the instruction just executed was MOV SS or POP SS.
    fn loads_ss(&self) -> bool {
        matches!(
            self.i.mnemonic(),
            iced_x86::Mnemonic::Mov | iced_x86::Mnemonic::Pop
        ) && self.i.op_kind(0) == iced_x86::OpKind::Register
            && self.i.op_register(0) == iced_x86::Register::SS
    }

    fn retire(&mut self) {
        self.retired += 1;
        self.s.tsc = self.s.tsc.wrapping_add(1);
    }

    /// Delivers an exception raised by the instruction at `at`. For a fault RIP is still
    /// `at`; for a trap it is the next instruction, which the handler returns to.
    fn raise(&mut self, exc: Exc, at: u64, kind: Kind) -> Event {
        let info = Exception {
            vector: exc.vector,
            error_code: exc.code,
            rip: at,
            cause: exc.cause.clone(),
        };
        if self.intercept_exceptions {
            return Event::Intercepted(info);
        }
        match self.deliver_exception(exc, kind) {
            exception::Delivery::Delivered => Event::Exception(info),
            exception::Delivery::Undeliverable(reason) => Event::Undeliverable {
                exception: info,
                reason,
            },
            exception::Delivery::TripleFault(chain) => {
                self.halted = true;
                Event::Shutdown {
                    reason: format!("{chain}; the first raised at rip {at:#x}"),
                }
            }
        }
    }

    /// Marks the instruction as a halt.
    pub(crate) fn request_halt(&mut self) {
        self.pending = Pending::Halt;
    }

    /// Records what a device asked for after a port write.
    pub(crate) fn device_action(&mut self, action: DeviceAction) {
        if let DeviceAction::Exit(status) = action {
            self.pending = Pending::Exit(status);
        }
    }

    pub(crate) fn mark_rep_iteration(&mut self) {
        self.pending = Pending::RepIteration;
    }

    pub(crate) fn mark_software_interrupt(&mut self) {
        self.pending = Pending::SoftwareInterrupt;
    }

    /// An exception naming the current instruction as not implemented.
    pub(crate) fn unimplemented(&self, what: &str) -> Exc {
        let mut text = String::new();
        let mut f = iced_x86::NasmFormatter::new();
        iced_x86::Formatter::format(&mut f, &self.i, &mut text);
        Exc {
            vector: Vector::UD,
            code: None,
            cause: Cause::Unimplemented {
                instruction: if what.is_empty() {
                    text
                } else {
                    format!("{text} ({what})")
                },
            },
        }
    }
}

fn hex_bytes(b: &[u8]) -> String {
    let v: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("bytes {}", v.join(" "))
}

impl Machine for Cpu {
    fn backend(&self) -> &'static str {
        "emulator"
    }

    fn state(&self) -> Result<CpuState, MachineError> {
        Ok(self.s.clone())
    }

    fn set_state(&mut self, state: &CpuState) -> Result<(), MachineError> {
        self.s = state.clone();
        self.s.rflags = (self.s.rflags & fl::DEFINED) | fl::FIXED;
        self.tlb.flush_all();
        self.halted = false;
        self.ss_shadow = false;
        self.deferred_db = 0;
        self.recompute_breakpoints();
        if self.pae_legacy_paging() {
            // A state whose PDPTEs have reserved bits set faults on the first access
            // through them instead (the entries read as not present).
            if self.load_pdptes().is_err() {
                self.pdptes = [0; 4];
            }
        }
        Ok(())
    }

    fn memory(&self) -> &GuestMemory {
        &self.mem
    }

    fn memory_mut(&mut self) -> &mut GuestMemory {
        self.tlb.flush_all();
        &mut self.mem
    }

    fn devices(&mut self) -> &mut Devices {
        &mut self.dev
    }

    fn step(&mut self) -> Result<Event, MachineError> {
        Ok(self.step_one())
    }

    fn run(&mut self, limits: &RunLimits) -> Result<Event, MachineError> {
        let start = Instant::now();
        let mut count: u64 = 0;
        // The wall-time limit is looked at every few thousand instructions.
        let mut next_clock = 0x1000;
        // The fast path stopped at an instruction that needs the general path.
        let mut general_next = false;
        loop {
            if let Some(max) = limits.max_instructions {
                if count >= max {
                    return Ok(Event::LimitReached(Limit::Instructions));
                }
            }
            if count >= next_clock {
                next_clock = count + 0x1000;
                if let Some(t) = limits.max_time {
                    if start.elapsed() >= t {
                        return Ok(Event::LimitReached(Limit::WallTime));
                    }
                }
            }
            // As the processor's instruction breakpoints: not between a REP instruction's
            // iterations, nor after an IRET that set RF (RF is set then).
            if count != 0 && !limits.breakpoints.is_empty() && self.s.rflags & fl::RF == 0 {
                let lin = self.s.code_address();
                if limits.breakpoints.contains(&lin) {
                    return Ok(Event::Breakpoint { address: lin });
                }
            }
            if !general_next && self.fast_path && self.fast_ready() {
                let mut budget = next_clock - count;
                if let Some(max) = limits.max_instructions {
                    budget = budget.min(max - count);
                }
                let (n, bail) = self.fast_run(budget, &limits.breakpoints, count != 0);
                count += n;
                general_next = bail;
                // Having run nothing, the fast path stopped at an instruction it leaves to
                // the general path (the limits above would have caught any other reason):
                // never ask it again without a step in between.
                if n != 0 {
                    continue;
                }
            }
            general_next = false;
            count += 1;
            match self.step_one() {
                Event::Stepped => {}
                // Unimplemented instructions always stop a run: from there on the software
                // CPU would no longer do what the processor does.
                Event::Exception(e)
                    if !limits.stop_on_exception
                        && !matches!(e.cause, Cause::Unimplemented { .. }) => {}
                other => return Ok(other),
            }
        }
    }

    fn instructions_retired(&self) -> Option<u64> {
        Some(self.retired)
    }

    fn statistics(&mut self) -> Result<Vec<(String, u64)>, MachineError> {
        Ok(vec![
            ("instructions_retired".to_string(), self.retired),
            ("fast_path_instructions".to_string(), self.fast_retired),
        ])
    }
}
