//! `KvmMachine`: one VM with one vCPU on /dev/kvm, behind the [`Machine`] trait.
//!
//! Memory is the emulator's [`GuestMemory`] (RAM from 0, the ROM window below 4 GiB)
//! registered as two KVM memory slots, the ROM one read-only where KVM supports that; the
//! host and the guest share the same pages. There is no in-kernel interrupt controller, so
//! HLT, port I/O and MMIO outside memory all come back to this loop, which hands them to
//! the same port devices the software CPU uses (see [`crate::exit`]).
//!
//! What differs from the software CPU, by design of the hardware:
//! - **No instruction count.** `run` refuses a `max_instructions` limit
//!   ([`MachineError::Unsupported`]) and `instructions_retired` is `None`; the wall-clock
//!   limit works (a watchdog thread interrupts `KVM_RUN` with a signal).
//! - **Breakpoints** use the four debug registers (KVM's guest-debug hardware breakpoints),
//!   so a run takes at most four.
//! - **Exceptions are the guest's.** KVM delivers them through the guest's IDT without
//!   telling the host; an exception that cannot be delivered ends as a triple fault
//!   (`KVM_EXIT_SHUTDOWN`), which names no exception.
//!
//! `step` executes exactly one instruction (one iteration of a REP string instruction), as
//! the software CPU's does, with KVM's guest-debug single-step. Where KVM's single-step does
//! not give that by itself, the backend builds it:
//! - a REP string instruction runs with its counter set to 1 (KVM without hardware
//!   virtualization emulates up to 1024 iterations per step), then the counter is set to
//!   what is left and RIP back to the instruction while iterations remain, with RF set, as
//!   hardware leaves an interrupted string instruction;
//! - HLT runs without single-stepping (single-stepping it does not stop on such hosts) and
//!   ends the step with `Event::Halted`, RIP past it;
//! - an OUT or IN ends the step at its I/O exit, completed at once.
//!
//! On hosts without VT-x/AMD-V, 64-bit code at CPL 3 runs natively, and neither KVM's
//! single-step trap nor its hardware breakpoints reach the host (the #DB goes to the guest,
//! breakpoints are not seen; `run` with breakpoints in such code does not stop). There
//! `step` puts a temporary `OUT` at every place the instruction can continue (the next
//! instruction, the branch target, the return address), runs to it, and puts everything
//! back (see `step_user_by_patching`; the OUT must be allowed by the guest's TSS I/O
//! permission bitmap there, since PVM ignores IOPL). It refuses, with
//! [`MachineError::Unsupported`] saying why, instructions that enter the kernel (INT n,
//! SYSCALL, UD2), that jump into themselves, or that depend on IOPL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind};
use kvm_bindings::{
    kvm_guest_debug, kvm_msr_entry, kvm_userspace_memory_region, Msrs, KVM_GUESTDBG_ENABLE,
    KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_HW_BP, KVM_MAX_CPUID_ENTRIES, KVM_MEM_READONLY,
};
use kvm_ioctls::{Cap, Kvm, VcpuExit, VcpuFd, VmFd};
use vm_memory::{GuestMemoryBackend, GuestMemoryRegion, MemoryRegionAddress};
use x86lab_emulator::state::{flags as fl, reg, CpuMode};
use x86lab_emulator::{
    CpuState, Devices, Event, GuestMemory, Limit, Machine, MachineError, MemoryLayout, RunLimits,
};

use crate::convert;
use crate::exit::{handle, Exit, Outcome};
use crate::info::{self, KvmError, KvmInfo};

/// The signal the wall-clock watchdog sends to interrupt KVM_RUN.
fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int) {}

/// Installs a do-nothing handler for the kick signal, without SA_RESTART, so that a
/// blocked KVM_RUN returns EINTR.
fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: an all-zero sigaction is a valid starting value; the handler is an
        // async-signal-safe function that does nothing.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// Interrupts the calling thread's KVM_RUN every few milliseconds from `deadline` on,
/// until dropped.
struct Watchdog {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn new(deadline: Option<Instant>) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let thread = deadline.map(|deadline| {
            // SAFETY: pthread_self has no preconditions.
            let target = unsafe { libc::pthread_self() };
            let done = done.clone();
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    let now = Instant::now();
                    // Parked, not asleep: dropping the watchdog unparks it, so that a run
                    // that ends early does not wait for the sleep to end.
                    if now < deadline {
                        std::thread::park_timeout((deadline - now).min(Duration::from_millis(20)));
                        continue;
                    }
                    // SAFETY: `target` is the thread that owns this watchdog and joins it
                    // before returning, so it is alive; the signal has a handler.
                    unsafe { libc::pthread_kill(target, kick_signal()) };
                    std::thread::park_timeout(Duration::from_millis(5));
                }
            })
        });
        Watchdog { done, thread }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// How the vCPU is entered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Debug {
    Off,
    SingleStep,
    Breakpoints,
}

/// The x86lab machine on KVM.
pub struct KvmMachine {
    // Declared before `mem`: the vCPU and the VM are closed before the guest memory they
    // map is unmapped (fields drop in declaration order).
    vcpu: VcpuFd,
    _vm: VmFd,
    _kvm: Kvm,
    mem: GuestMemory,
    dev: Devices,
    info: KvmInfo,
    immediate_exit: bool,
    /// The guest-debug mode last set, and its breakpoints.
    debug: (Debug, Vec<u64>),
    /// The vCPU's statistics file, opened on first use.
    stats: Option<std::fs::File>,
}

fn backend_error(what: &str) -> impl FnOnce(kvm_ioctls::Error) -> MachineError + '_ {
    move |e| MachineError::Backend(format!("KVM: {what}: {e}"))
}

impl KvmMachine {
    /// Creates a VM with the memory `layout`, one vCPU with KVM's supported CPUID, in the
    /// reset state ([`CpuState::reset`]).
    pub fn new(layout: MemoryLayout) -> Result<KvmMachine, KvmError> {
        let kvm = info::open()?;
        let info = KvmInfo::of(&kvm);
        let vm = kvm.create_vm().map_err(KvmError::ioctl("creating a VM"))?;
        let mem = GuestMemory::new(layout)?;
        let rom_base = layout.rom_base();
        // The three pages Intel's KVM needs for real mode go just below the ROM window.
        vm.set_tss_address((rom_base - 0x3000) as usize)
            .map_err(KvmError::ioctl("placing the real-mode TSS"))?;
        if vm.check_extension(Cap::SetIdentityMapAddr) {
            vm.set_identity_map_address(rom_base - 0x4000)
                .map_err(KvmError::ioctl("placing the identity map"))?;
        }
        let readonly = kvm.check_extension(Cap::ReadonlyMem);
        for (slot, region) in mem.mmap().iter().enumerate() {
            let gpa = region.start_addr().0;
            let host = region
                .get_host_address(MemoryRegionAddress(0))
                .map_err(|e| KvmError::Ioctl {
                    what: "finding guest memory",
                    err: e.to_string(),
                })?;
            let r = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: if gpa == rom_base && readonly {
                    KVM_MEM_READONLY
                } else {
                    0
                },
                guest_phys_addr: gpa,
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: `host` is the start of a mapping of `region.len()` bytes owned by
            // `mem`, which this KvmMachine keeps alive for as long as the VM exists (the VM
            // is dropped first, see the field order).
            unsafe { vm.set_user_memory_region(r) }
                .map_err(KvmError::ioctl("registering guest memory"))?;
        }
        let vcpu = vm
            .create_vcpu(0)
            .map_err(KvmError::ioctl("creating a vCPU"))?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(KvmError::ioctl("reading the supported CPUID"))?;
        vcpu.set_cpuid2(&cpuid)
            .map_err(KvmError::ioctl("setting CPUID"))?;
        install_kick_handler();
        let immediate_exit = kvm.check_extension(Cap::ImmediateExit);
        let mut m = KvmMachine {
            vcpu,
            _vm: vm,
            _kvm: kvm,
            mem,
            dev: Devices::default(),
            immediate_exit,
            info,
            debug: (Debug::Off, Vec::new()),
            stats: None,
        };
        m.set_state(&CpuState::reset())
            .map_err(|e| KvmError::Ioctl {
                what: "setting the reset state",
                err: e.to_string(),
            })?;
        Ok(m)
    }

    /// KVM on this host.
    pub fn info(&self) -> &KvmInfo {
        &self.info
    }

    /// KVM's statistics of the vCPU since it was created (see [`crate::stats`]).
    pub fn stats(&mut self) -> Result<Vec<crate::Stat>, MachineError> {
        if self.stats.is_none() {
            self.stats = Some(crate::stats::open(&self.vcpu).map_err(MachineError::Unsupported)?);
        }
        let f = self.stats.as_ref().expect("opened above");
        crate::stats::read(f).map_err(MachineError::Backend)
    }

    fn set_debug(&mut self, mode: Debug, breakpoints: &[u64]) -> Result<(), MachineError> {
        if self.debug.0 == mode && self.debug.1 == breakpoints {
            return Ok(());
        }
        let mut d = kvm_guest_debug::default();
        match mode {
            Debug::Off => {}
            Debug::SingleStep => d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
            Debug::Breakpoints => {
                d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
                for (i, &a) in breakpoints.iter().enumerate() {
                    d.arch.debugreg[i] = a;
                    d.arch.debugreg[7] |= 1 << (2 * i); // Li, execute, length 1
                }
            }
        }
        self.vcpu
            .set_guest_debug(&d)
            .map_err(backend_error("setting guest debug"))?;
        self.debug = (mode, breakpoints.to_vec());
        Ok(())
    }

    /// Completes a pending I/O or MMIO exit without running the guest further, so that
    /// the registers read next are final (an IN's value is written into RAX, and on
    /// hardware-assisted KVM RIP moves past the instruction, only when KVM_RUN is next
    /// entered).
    fn complete_pending(&mut self) {
        if !self.immediate_exit {
            return;
        }
        self.vcpu.set_kvm_immediate_exit(1);
        let _ = self.vcpu.run();
        self.vcpu.set_kvm_immediate_exit(0);
    }

    /// Enters the guest once and returns the exit, copied out of the shared page.
    fn enter(&mut self) -> Result<Exit, MachineError> {
        let exit = match self.vcpu.run() {
            Ok(VcpuExit::IoOut(port, data)) => Exit::IoOut {
                port,
                size: 0,
                data: data.to_vec(),
            },
            Ok(VcpuExit::IoIn(port, data)) => Exit::IoIn {
                port,
                size: 0,
                count: data.len(),
            },
            Ok(VcpuExit::MmioRead(addr, data)) => Exit::MmioRead {
                addr,
                size: data.len(),
            },
            Ok(VcpuExit::MmioWrite(addr, data)) => Exit::MmioWrite {
                addr,
                data: data.to_vec(),
            },
            Ok(VcpuExit::Hlt) => Exit::Hlt,
            Ok(VcpuExit::Shutdown) => Exit::Shutdown,
            Ok(VcpuExit::Debug(d)) => Exit::Debug {
                exception: d.exception,
                pc: d.pc,
                dr6: d.dr6,
            },
            Ok(VcpuExit::InternalError) => Exit::InternalError {
                suberror: 0,
                data: Vec::new(),
            },
            Ok(VcpuExit::FailEntry(reason, _)) => Exit::FailEntry { reason },
            Ok(VcpuExit::Intr) => Exit::Interrupted,
            Ok(other) => Exit::Other(format!("{other:?}")),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Interrupted,
            Err(e) => return Err(MachineError::Backend(format!("KVM_RUN failed: {e}"))),
        };
        // Details kvm-ioctls does not pass on, read from the kvm_run page.
        let run = self.vcpu.get_kvm_run();
        Ok(match exit {
            Exit::IoOut { port, data, .. } => {
                // SAFETY: the exit reason was KVM_EXIT_IO, so `io` is the live union member.
                let io = unsafe { run.__bindgen_anon_1.io };
                Exit::IoOut {
                    port,
                    size: usize::from(io.size),
                    data,
                }
            }
            Exit::IoIn { port, .. } => {
                // SAFETY: as above.
                let io = unsafe { run.__bindgen_anon_1.io };
                Exit::IoIn {
                    port,
                    size: usize::from(io.size),
                    count: io.count as usize,
                }
            }
            Exit::InternalError { .. } => {
                // SAFETY: the exit reason was KVM_EXIT_INTERNAL_ERROR, so `internal` is the
                // live union member.
                let e = unsafe { run.__bindgen_anon_1.internal };
                let n = (e.ndata as usize).min(e.data.len());
                Exit::InternalError {
                    suberror: e.suberror,
                    data: e.data[..n].to_vec(),
                }
            }
            other => other,
        })
    }

    /// Hands data back to the guest for the exit just taken (IN, MMIO read).
    fn respond(&mut self, exit: &Exit, data: &[u8]) {
        let run = self.vcpu.get_kvm_run();
        match exit {
            Exit::IoIn { .. } => {
                // SAFETY: the last exit was KVM_EXIT_IO (an IN); `data_offset` is the
                // kernel's offset of its data buffer inside the kvm_run mapping, which holds
                // at least `size * count` bytes, the length of `data`.
                unsafe {
                    let io = run.__bindgen_anon_1.io;
                    let base = (run as *mut kvm_bindings::kvm_run).cast::<u8>();
                    let dst = base.add(io.data_offset as usize);
                    let n = data.len().min(usize::from(io.size) * io.count as usize);
                    std::ptr::copy_nonoverlapping(data.as_ptr(), dst, n);
                }
            }
            Exit::MmioRead { .. } => {
                // SAFETY: the last exit was KVM_EXIT_MMIO, so `mmio` is the live member.
                let mmio = unsafe { &mut run.__bindgen_anon_1.mmio };
                let n = data.len().min(mmio.data.len());
                mmio.data[..n].copy_from_slice(&data[..n]);
            }
            _ => {}
        }
    }

    fn halted(&self) -> Result<Event, MachineError> {
        let regs = self
            .vcpu
            .get_regs()
            .map_err(backend_error("reading registers"))?;
        Ok(Event::Halted {
            interrupts_enabled: regs.rflags & fl::IF != 0,
        })
    }

    /// Runs until an event, the deadline, or (in single-step mode) one debug exit.
    fn run_until(&mut self, deadline: Option<Instant>, mode: Debug) -> Result<Event, MachineError> {
        let _watchdog = Watchdog::new(deadline);
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Event::LimitReached(Limit::WallTime));
            }
            let exit = self.enter()?;
            let outcome = handle(&exit, &mut self.dev);
            match outcome {
                Outcome::Resume { data } => {
                    if let Some(d) = data {
                        self.respond(&exit, &d);
                    }
                    if mode == Debug::SingleStep
                        && matches!(exit, Exit::IoOut { .. } | Exit::IoIn { .. })
                    {
                        // The I/O exit ends the instruction's step (KVM reports no debug
                        // exit for it on every host).
                        self.complete_pending();
                        return Ok(Event::Stepped);
                    }
                }
                Outcome::Stop(Event::Halted { .. }) => return self.halted(),
                Outcome::Stop(event) => {
                    if matches!(exit, Exit::IoOut { .. }) {
                        self.complete_pending();
                    }
                    return Ok(event);
                }
                Outcome::Debug { dr6, pc, .. } => match mode {
                    Debug::SingleStep => return Ok(Event::Stepped),
                    Debug::Breakpoints if dr6 & 0xf != 0 => {
                        return Ok(Event::Breakpoint { address: pc })
                    }
                    _ => {}
                },
                Outcome::Interrupted => {}
            }
        }
    }

    /// The instruction at CS:RIP, decoded (through the guest's page tables).
    fn current_instruction(
        &self,
        s: &CpuState,
    ) -> Result<Option<iced_x86::Instruction>, MachineError> {
        let bits = match s.mode() {
            CpuMode::Long64 => 64,
            CpuMode::Real | CpuMode::Virtual8086 => 16,
            _ if s.cs.db() => 32,
            _ => 16,
        };
        let mut bytes = [0u8; 15];
        if self.read_linear(s, s.code_address(), &mut bytes).is_none() {
            return Ok(None);
        }
        let mut d = Decoder::with_ip(bits, &bytes, s.rip, DecoderOptions::NONE);
        let i = d.decode();
        Ok((!i.is_invalid()).then_some(i))
    }

    /// One iteration of a REP string instruction, with the counter trick described in the
    /// module documentation.
    fn step_rep(
        &mut self,
        s: &CpuState,
        i: &iced_x86::Instruction,
        (mask, count): (u64, u64),
    ) -> Result<Event, MachineError> {
        let mut one = s.clone();
        one.gpr[reg::RCX] = (s.gpr[reg::RCX] & !mask) | 1;
        let mut regs = convert::to_kvm_regs(&one);
        self.vcpu
            .set_regs(&regs)
            .map_err(backend_error("writing registers"))?;
        // One iteration; KVM may report the exhausted counter before it advances RIP.
        let mut event = Event::Stepped;
        for _ in 0..4 {
            event = self.run_until(None, Debug::SingleStep)?;
            regs = self
                .vcpu
                .get_regs()
                .map_err(backend_error("reading registers"))?;
            if event != Event::Stepped || regs.rip != s.rip {
                break;
            }
        }
        if event != Event::Stepped && !matches!(event, Event::ExitRequested { .. }) {
            return Ok(event);
        }
        rep_finish(&mut regs, s, i, mask, count);
        self.vcpu
            .set_regs(&regs)
            .map_err(backend_error("writing registers"))?;
        Ok(event)
    }
}

/// For a REP string instruction with a non-zero counter: (the counter's mask by address
/// size, the count).
fn rep_counter(s: &CpuState, i: &iced_x86::Instruction) -> Option<(u64, u64)> {
    if !(is_string(i.mnemonic())
        && (i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix()))
    {
        return None;
    }
    let mask: u64 = match i.op_kind(0).max(i.op_kind(1)) {
        OpKind::MemorySegSI | OpKind::MemoryESDI | OpKind::MemorySegDI => 0xffff,
        OpKind::MemorySegESI | OpKind::MemoryESEDI | OpKind::MemorySegEDI => 0xffff_ffff,
        _ => u64::MAX,
    };
    let count = s.gpr[reg::RCX] & mask;
    (count != 0).then_some((mask, count))
}

/// After one iteration run with the counter set to 1: the counter gets what is left, and
/// while iterations remain (and REPE/REPNE's condition holds) RIP goes back to the
/// instruction with RF set, as hardware leaves an interrupted string instruction.
fn rep_finish(
    regs: &mut kvm_bindings::kvm_regs,
    s: &CpuState,
    i: &iced_x86::Instruction,
    mask: u64,
    count: u64,
) {
    let left = count - 1;
    regs.rcx = (regs.rcx & !mask) | left;
    let zf = regs.rflags & fl::ZF != 0;
    let stopped_by_flags = match i.mnemonic() {
        Mnemonic::Cmpsb
        | Mnemonic::Cmpsw
        | Mnemonic::Cmpsd
        | Mnemonic::Cmpsq
        | Mnemonic::Scasb
        | Mnemonic::Scasw
        | Mnemonic::Scasd
        | Mnemonic::Scasq => (i.has_repe_prefix() && !zf) || (i.has_repne_prefix() && zf),
        _ => false,
    };
    if left != 0 && !stopped_by_flags {
        regs.rip = s.rip;
        regs.rflags |= fl::RF;
    } else {
        regs.rip = i.next_ip();
        regs.rflags &= !fl::RF;
    }
}

/// The port the temporary step patches write to (not a port any x86lab device uses).
const STEP_PORT: u16 = 0xe7;

impl KvmMachine {
    /// Guest-physical address of a linear address, through the guest's page tables.
    fn physical(&self, s: &CpuState, lin: u64) -> Option<u64> {
        if s.cr0 & (1 << 31) == 0 {
            return Some(lin);
        }
        match self.vcpu.translate_gva(lin) {
            Ok(t) if t.valid != 0 => Some(t.physical_address),
            _ => None,
        }
    }

    /// Reads guest memory at a linear address through the guest's page tables, one
    /// translation per page; `None` where a page is not mapped.
    fn read_linear(&self, s: &CpuState, lin: u64, buf: &mut [u8]) -> Option<()> {
        let mut done = 0;
        while done < buf.len() {
            let a = lin.wrapping_add(done as u64);
            let n = (0x1000 - (a & 0xfff) as usize).min(buf.len() - done);
            self.mem
                .read(self.physical(s, a)?, &mut buf[done..done + n]);
            done += n;
        }
        Some(())
    }

    /// Reads a little-endian u64 at a linear address.
    fn read_linear_u64(&self, s: &CpuState, lin: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read_linear(s, lin, &mut b)?;
        Some(u64::from_le_bytes(b))
    }

    /// Where execution can continue after `i`, for the patch-based step: the next
    /// instruction and/or the branch target (read from registers or memory for indirect
    /// branches and returns). `Err` names what cannot be predicted.
    fn next_rips(&self, s: &CpuState, i: &iced_x86::Instruction) -> Result<Vec<u64>, String> {
        use iced_x86::{FlowControl, Register};
        let value = |r: Register, _: usize, _: usize| -> Option<u64> {
            let full = r.full_register();
            let gpr = match full {
                Register::RAX => Some(reg::RAX),
                Register::RCX => Some(reg::RCX),
                Register::RDX => Some(reg::RDX),
                Register::RBX => Some(reg::RBX),
                Register::RSP => Some(reg::RSP),
                Register::RBP => Some(reg::RBP),
                Register::RSI => Some(reg::RSI),
                Register::RDI => Some(reg::RDI),
                Register::R8 => Some(reg::R8),
                Register::R9 => Some(reg::R9),
                Register::R10 => Some(reg::R10),
                Register::R11 => Some(reg::R11),
                Register::R12 => Some(reg::R12),
                Register::R13 => Some(reg::R13),
                Register::R14 => Some(reg::R14),
                Register::R15 => Some(reg::R15),
                _ => None,
            };
            match (gpr, r) {
                (Some(g), _) => Some(s.gpr[g] & (u64::MAX >> (64 - 8 * r.size().min(8) as u32))),
                (None, Register::RIP) => Some(i.next_ip()),
                (None, Register::FS) => Some(s.fs.base),
                (None, Register::GS) => Some(s.gs.base),
                (None, Register::ES | Register::CS | Register::SS | Register::DS) => Some(0),
                _ => None,
            }
        };
        let indirect = |this: &Self| -> Result<u64, String> {
            if i.op_kind(0) == OpKind::Register {
                return value(i.op_register(0), 0, 0)
                    .ok_or_else(|| "an unreadable register".to_string());
            }
            let at = i
                .virtual_address(0, 0, value)
                .ok_or_else(|| "an unreadable address".to_string())?;
            let v = this
                .read_linear_u64(s, at)
                .ok_or_else(|| format!("the branch target at {at:#x} is not mapped"))?;
            Ok(match i.memory_size().size() {
                2 => v & 0xffff,
                4 | 6 => v & 0xffff_ffff,
                _ => v,
            })
        };
        let next = i.next_ip();
        Ok(match i.flow_control() {
            FlowControl::Next => vec![next],
            FlowControl::UnconditionalBranch | FlowControl::Call => vec![i.near_branch_target()],
            FlowControl::ConditionalBranch => vec![next, i.near_branch_target()],
            FlowControl::IndirectBranch | FlowControl::IndirectCall => vec![indirect(self)?],
            FlowControl::Return => vec![self
                .read_linear_u64(s, s.gpr[reg::RSP])
                .ok_or("the return address is not mapped")?],
            FlowControl::Interrupt | FlowControl::Exception | FlowControl::XbeginXabortXend => {
                return Err(format!("`{i}` enters the guest kernel"))
            }
        })
    }

    /// One instruction of 64-bit user-mode code on a host without VT-x/AMD-V, where KVM's
    /// single-step and hardware breakpoints do not reach the host: the places execution
    /// can go next get a temporary `OUT 0E7h, AL`, the guest runs until one of them exits
    /// to x86lab, and the original bytes come back. IOPL is raised to 3 for the step, which
    /// is what lets CPL 3 execute the OUT on hardware; PVM ignores IOPL for user-mode I/O
    /// and consults only the guest's TSS I/O permission bitmap, so there the step needs
    /// that bitmap to allow port E7h (the environments of `x86lab case` allow every port).
    /// Instructions whose next address cannot be known (INT n, SYSCALL, UD2) or that
    /// observe IOPL (IN, OUT, CLI, STI, POPF; PUSHF's image is fixed up) are refused; an
    /// instruction that faults, or an OUT the guest's bitmap denies, takes the guest into
    /// its kernel, and the step ends with `MachineError::Unsupported` after a second.
    fn step_user_by_patching(&mut self, s: &CpuState) -> Result<Event, MachineError> {
        let unsupported = |why: String| {
            MachineError::Unsupported(format!(
                "cannot single-step this 64-bit user-mode instruction on a KVM without \
                 VT-x/AMD-V: {why}"
            ))
        };
        let i = self
            .current_instruction(s)?
            .ok_or_else(|| unsupported("its bytes are not mapped or do not decode".into()))?;
        let iopl_sensitive = matches!(
            i.mnemonic(),
            Mnemonic::In
                | Mnemonic::Out
                | Mnemonic::Insb
                | Mnemonic::Insw
                | Mnemonic::Insd
                | Mnemonic::Outsb
                | Mnemonic::Outsw
                | Mnemonic::Outsd
                | Mnemonic::Cli
                | Mnemonic::Sti
                | Mnemonic::Popf
                | Mnemonic::Popfq
        );
        if iopl_sensitive && s.rflags & fl::IOPL != fl::IOPL {
            return Err(unsupported(format!(
                "`{i}` depends on IOPL, which the step changes"
            )));
        }
        let mut targets = self.next_rips(s, &i).map_err(unsupported)?;
        targets.sort_unstable();
        targets.dedup();
        // Patch each target (two bytes), refusing one that overlaps the instruction. The
        // original bytes are kept one by one (the two may lie on different pages).
        let mut saved: Vec<(u64, u8)> = Vec::new();
        let restore = |m: &mut Self, saved: &[(u64, u8)]| {
            for &(p, b) in saved.iter().rev() {
                m.mem.write(p, &[b]);
            }
        };
        for &t in &targets {
            if t.wrapping_add(2) > s.rip && t < i.next_ip() {
                restore(self, &saved);
                return Err(unsupported(format!("`{i}` jumps into itself")));
            }
            let (Some(p0), Some(p1)) = (self.physical(s, t), self.physical(s, t + 1)) else {
                restore(self, &saved);
                return Err(unsupported(format!(
                    "the next instruction at {t:#x} is not mapped"
                )));
            };
            for (p, byte) in [(p0, 0xe6u8), (p1, STEP_PORT as u8)] {
                let mut old = [0u8];
                self.mem.read(p, &mut old);
                saved.push((p, old[0]));
                self.mem.write(p, &[byte]);
            }
        }
        let rep = rep_counter(s, &i);
        let mut regs = self
            .vcpu
            .get_regs()
            .map_err(backend_error("reading registers"))?;
        regs.rflags |= fl::IOPL;
        if let Some((mask, _)) = rep {
            regs.rcx = (regs.rcx & !mask) | 1;
        }
        self.vcpu
            .set_regs(&regs)
            .map_err(backend_error("writing registers"))?;
        self.set_debug(Debug::Off, &[])?;
        let deadline = Instant::now() + Duration::from_secs(1);
        let watchdog = Watchdog::new(Some(deadline));
        let result = loop {
            if Instant::now() >= deadline {
                break Err(unsupported(
                    "it did not come back to user mode within a second (a fault or an \
                     interrupt took the guest into its kernel)"
                        .into(),
                ));
            }
            let exit = self.enter()?;
            if let Exit::IoOut {
                port: STEP_PORT, ..
            } = exit
            {
                self.complete_pending();
                break Ok(Event::Stepped);
            }
            match handle(&exit, &mut self.dev) {
                Outcome::Resume { data } => {
                    if let Some(d) = data {
                        self.respond(&exit, &d);
                    }
                }
                Outcome::Stop(Event::Halted { .. }) => break self.halted(),
                Outcome::Stop(e) => break Ok(e),
                Outcome::Debug { .. } | Outcome::Interrupted => {}
            }
        };
        drop(watchdog);
        restore(self, &saved);
        let stepped = matches!(result, Ok(Event::Stepped));
        let mut regs = self
            .vcpu
            .get_regs()
            .map_err(backend_error("reading registers"))?;
        if stepped {
            regs.rip -= 2;
            if let Some((mask, count)) = rep {
                rep_finish(&mut regs, s, &i, mask, count);
            }
        }
        regs.rflags = (regs.rflags & !fl::IOPL) | (s.rflags & fl::IOPL);
        self.vcpu
            .set_regs(&regs)
            .map_err(backend_error("writing registers"))?;
        if stepped && matches!(i.mnemonic(), Mnemonic::Pushf | Mnemonic::Pushfq) {
            // PUSHF stored the raised IOPL: put the real one in the image.
            if let Some(p) = self.physical(s, regs.rsp) {
                let v = self.mem.read_uint(p, 8);
                self.mem
                    .write_uint(p, 8, (v & !fl::IOPL) | (s.rflags & fl::IOPL));
            }
        }
        result
    }
}

fn is_string(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Movsb
            | Movsw
            | Movsd
            | Movsq
            | Cmpsb
            | Cmpsw
            | Cmpsd
            | Cmpsq
            | Scasb
            | Scasw
            | Scasd
            | Scasq
            | Lodsb
            | Lodsw
            | Lodsd
            | Lodsq
            | Stosb
            | Stosw
            | Stosd
            | Stosq
            | Insb
            | Insw
            | Insd
            | Outsb
            | Outsw
            | Outsd
    )
}

impl Machine for KvmMachine {
    fn backend(&self) -> &'static str {
        "kvm"
    }

    fn state(&self) -> Result<CpuState, MachineError> {
        let regs = self
            .vcpu
            .get_regs()
            .map_err(backend_error("reading registers"))?;
        let sregs = self
            .vcpu
            .get_sregs()
            .map_err(backend_error("reading system registers"))?;
        let dregs = self
            .vcpu
            .get_debug_regs()
            .map_err(backend_error("reading debug registers"))?;
        let mut s = CpuState::reset();
        convert::from_kvm_regs(&mut s, &regs);
        convert::from_kvm_sregs(&mut s, &sregs);
        s.debug = convert::from_kvm_debugregs(&dregs);
        let entries: Vec<kvm_msr_entry> = convert::MSR_INDICES
            .iter()
            .map(|&index| kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&entries)
            .map_err(|e| MachineError::Backend(format!("KVM: MSR list: {e:?}")))?;
        let n = self
            .vcpu
            .get_msrs(&mut msrs)
            .map_err(backend_error("reading MSRs"))?;
        for e in &msrs.as_slice()[..n] {
            convert::set_msr(&mut s, e.index, e.data);
        }
        Ok(s)
    }

    fn set_state(&mut self, state: &CpuState) -> Result<(), MachineError> {
        self.complete_pending();
        let current = self
            .vcpu
            .get_sregs()
            .map_err(backend_error("reading system registers"))?;
        self.vcpu
            .set_sregs(&convert::to_kvm_sregs(state, &current))
            .map_err(|e| {
                MachineError::InvalidState(format!("KVM refused the system registers: {e}"))
            })?;
        self.vcpu
            .set_regs(&convert::to_kvm_regs(state))
            .map_err(|e| MachineError::InvalidState(format!("KVM refused the registers: {e}")))?;
        let entries = convert::msr_entries(state);
        let msrs = Msrs::from_entries(&entries)
            .map_err(|e| MachineError::Backend(format!("KVM: MSR list: {e:?}")))?;
        let n = self
            .vcpu
            .set_msrs(&msrs)
            .map_err(backend_error("writing MSRs"))?;
        if n < entries.len() {
            return Err(MachineError::InvalidState(format!(
                "KVM refused MSR {:#x} = {:#x}",
                entries[n].index, entries[n].data
            )));
        }
        self.vcpu
            .set_debug_regs(&convert::to_kvm_debugregs(&state.debug))
            .map_err(|e| {
                MachineError::InvalidState(format!("KVM refused the debug registers: {e}"))
            })?;
        Ok(())
    }

    fn memory(&self) -> &GuestMemory {
        &self.mem
    }

    fn memory_mut(&mut self) -> &mut GuestMemory {
        &mut self.mem
    }

    fn devices(&mut self) -> &mut Devices {
        &mut self.dev
    }

    fn step(&mut self) -> Result<Event, MachineError> {
        let s = self.state()?;
        if !self.info.regime.is_hardware_assisted() && s.mode() == CpuMode::Long64 && s.cpl() == 3 {
            return self.step_user_by_patching(&s);
        }
        let insn = self.current_instruction(&s)?;
        let rep = insn.as_ref().and_then(|i| rep_counter(&s, i));
        let event = match (insn, rep) {
            (Some(i), _) if i.mnemonic() == Mnemonic::Hlt && s.cpl() == 0 => {
                self.set_debug(Debug::Off, &[])?;
                let e = self.run_until(None, Debug::Off)?;
                if matches!(e, Event::Halted { .. }) {
                    // Hosts without hardware virtualization report the first HLT exit with
                    // RIP still at the HLT; the instruction has completed, so RIP moves on.
                    let mut regs = self
                        .vcpu
                        .get_regs()
                        .map_err(backend_error("reading registers"))?;
                    if regs.rip == s.rip {
                        regs.rip = i.next_ip();
                        self.vcpu
                            .set_regs(&regs)
                            .map_err(backend_error("writing registers"))?;
                    }
                }
                e
            }
            (Some(i), Some(counter)) => {
                self.set_debug(Debug::SingleStep, &[])?;
                self.step_rep(&s, &i, counter)?
            }
            _ => {
                self.set_debug(Debug::SingleStep, &[])?;
                self.run_until(None, Debug::SingleStep)?
            }
        };
        self.set_debug(Debug::Off, &[])?;
        Ok(event)
    }

    fn run(&mut self, limits: &RunLimits) -> Result<Event, MachineError> {
        if limits.max_instructions.is_some() {
            return Err(MachineError::Unsupported(
                "KVM cannot count the instructions a guest runs; limit the run by time instead"
                    .to_string(),
            ));
        }
        if limits.breakpoints.len() > 4 {
            return Err(MachineError::Unsupported(format!(
                "KVM breakpoints use the four debug registers; {} were asked for",
                limits.breakpoints.len()
            )));
        }
        let deadline = limits.max_time.map(|t| Instant::now() + t);
        if !limits.breakpoints.is_empty() {
            // The instruction the run starts at never triggers a breakpoint: step over it
            // first (a hardware breakpoint would fire again at once).
            let s = self.state()?;
            if limits.breakpoints.contains(&s.code_address()) {
                let e = self.step()?;
                if e != Event::Stepped {
                    return Ok(e);
                }
            }
            self.set_debug(Debug::Breakpoints, &limits.breakpoints)?;
            let e = self.run_until(deadline, Debug::Breakpoints);
            self.set_debug(Debug::Off, &[])?;
            return e;
        }
        self.set_debug(Debug::Off, &[])?;
        self.run_until(deadline, Debug::Off)
    }

    fn instructions_retired(&self) -> Option<u64> {
        None
    }

    /// The vCPU's cumulative counters that are not zero.
    fn statistics(&mut self) -> Result<Vec<(String, u64)>, MachineError> {
        Ok(self
            .stats()?
            .into_iter()
            .filter(|s| s.cumulative && s.value != 0)
            .map(|s| (s.name, s.value))
            .collect())
    }
}
