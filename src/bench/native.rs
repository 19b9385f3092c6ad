//! The workloads as plain machine code in a Linux process on this CPU: the "native" column
//! of `x86lab bench`, against which KVM's figures are judged.
//!
//! A child process maps the program at its `org` and the memory the workloads use at the
//! same addresses as in the guest, and jumps to it in user mode. The workloads talk to
//! x86lab through OUT (the debug console at port E9h, the exit port F4h), which a Linux
//! process may not execute: each OUT raises SIGSEGV, and the child's handler does what the
//! port would do and steps over the instruction (the exit port ends the child). The run is
//! timed inside the child, from the jump to the exit port: like KVM's figure, it includes
//! the few OUTs, which cost a signal each instead of a VM exit.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Result};

/// The guest memory the workloads use, mapped at the same addresses: a stack below the
/// program (the call workload's RSP is 90000h) and the data from 200000h on.
const STACK: (u64, u64) = (0x8_0000, 0x8_0000);
const DATA: (u64, u64) = (0x20_0000, 0xe0_0000);
const INITIAL_RSP: u64 = 0x9_0000;

/// What the signal handler needs: where to report, the start time, the console output.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);
static START_NS: AtomicU64 = AtomicU64::new(0);
const OUT_CAP: usize = 4096;
static OUTPUT: [AtomicU8; OUT_CAP] = [const { AtomicU8::new(0) }; OUT_CAP];
static OUTPUT_LEN: AtomicUsize = AtomicUsize::new(0);

fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to fill; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// What the child reports through the pipe: the run's nanoseconds, the exit status the
/// program wrote to port F4h, and its console output.
fn report(status: u8) -> ! {
    let ns = now_ns() - START_NS.load(Ordering::Relaxed);
    let len = OUTPUT_LEN.load(Ordering::Relaxed).min(OUT_CAP);
    let mut msg = [0u8; 9 + OUT_CAP];
    msg[..8].copy_from_slice(&ns.to_le_bytes());
    msg[8] = status;
    for (i, b) in OUTPUT[..len].iter().enumerate() {
        msg[9 + i] = b.load(Ordering::Relaxed);
    }
    let fd = REPORT_FD.load(Ordering::Relaxed);
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `msg` is valid for its length.
    unsafe {
        libc::write(fd, msg.as_ptr().cast(), 9 + len);
        libc::_exit(0)
    }
}

/// SIGSEGV in the child: an OUT to port E9h or F4h is carried out and stepped over;
/// anything else ends the child with status 3.
extern "C" fn on_segv(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext_t for an SA_SIGINFO handler; the bytes
    // read at RIP are inside the program the child mapped (checked first: a fault with RIP
    // anywhere else ends the child).
    unsafe {
        let uc = &mut *ctx.cast::<libc::ucontext_t>();
        let gregs = &mut uc.uc_mcontext.gregs;
        let rip = gregs[libc::REG_RIP as usize] as u64;
        let code = CODE.load(Ordering::Relaxed);
        let code_end = CODE_END.load(Ordering::Relaxed);
        if !(code..code_end.saturating_sub(1)).contains(&rip) {
            libc::_exit(3);
        }
        let al = gregs[libc::REG_RAX as usize] as u8;
        let (port, len) = match *(rip as *const u8) {
            0xe6 => (u16::from(*((rip + 1) as *const u8)), 2),
            0xee => (gregs[libc::REG_RDX as usize] as u16, 1),
            _ => libc::_exit(3),
        };
        match port {
            0xe9 => {
                let n = OUTPUT_LEN.load(Ordering::Relaxed);
                if n < OUT_CAP {
                    OUTPUT[n].store(al, Ordering::Relaxed);
                    OUTPUT_LEN.store(n + 1, Ordering::Relaxed);
                }
            }
            0xf4 => report(al),
            _ => {}
        }
        gregs[libc::REG_RIP as usize] += len;
    }
}

/// The program's mapped range, for the handler.
static CODE: AtomicU64 = AtomicU64::new(0);
static CODE_END: AtomicU64 = AtomicU64::new(0);

/// Maps `len` bytes at exactly `addr` or ends the child with status 2.
///
/// # Safety
/// Only in the child, before it jumps to the program.
unsafe fn map_fixed(addr: u64, len: u64, prot: libc::c_int) {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len as usize,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p as u64 != addr {
        // SAFETY: _exit is always safe to call.
        unsafe { libc::_exit(2) };
    }
}

/// The child: map, install the handler, start the clock, jump. Never returns.
///
/// # Safety
/// Only right after fork(), in the child.
unsafe fn child(image: &[u8], origin: u64, fd: libc::c_int) -> ! {
    REPORT_FD.store(fd, Ordering::Relaxed);
    let start = origin & !0xfff;
    let len = (origin + image.len() as u64 - start + 0xfff) & !0xfff;
    // SAFETY: fresh mappings at fixed addresses nothing else uses, filled and then made
    // executable; the handler and its stack are installed before the jump.
    unsafe {
        map_fixed(start, len, libc::PROT_READ | libc::PROT_WRITE);
        std::ptr::copy_nonoverlapping(image.as_ptr(), origin as *mut u8, image.len());
        libc::mprotect(
            start as *mut libc::c_void,
            len as usize,
            libc::PROT_READ | libc::PROT_EXEC,
        );
        CODE.store(start, Ordering::Relaxed);
        CODE_END.store(start + len, Ordering::Relaxed);
        map_fixed(STACK.0, STACK.1, libc::PROT_READ | libc::PROT_WRITE);
        map_fixed(DATA.0, DATA.1, libc::PROT_READ | libc::PROT_WRITE);
        let alt = libc::mmap(
            std::ptr::null_mut(),
            1 << 16,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        let ss = libc::stack_t {
            ss_sp: alt,
            ss_flags: 0,
            ss_size: 1 << 16,
        };
        libc::sigaltstack(&ss, std::ptr::null_mut());
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_segv as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut());
        START_NS.store(now_ns(), Ordering::Relaxed);
        std::arch::asm!(
            "mov rsp, {rsp}",
            "jmp {entry}",
            rsp = in(reg) INITIAL_RSP,
            entry = in(reg) origin,
            options(noreturn)
        );
    }
}

/// Runs `image` (assembled for `origin`) natively; the time from the jump to the exit port,
/// and the console output. Fails unless the program ends through the exit port with 0.
pub fn run(image: &[u8], origin: u64) -> Result<(Duration, Vec<u8>)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) returns.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: the child only maps memory, installs a handler and runs the program, which
    // ends in _exit; it touches nothing the parent's other threads hold.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("cannot fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: this is the child, right after fork.
        unsafe {
            libc::close(fds[0]);
            child(image, origin, fds[1])
        }
    }
    // SAFETY: closing our copy of the write end, reading the child's report into a buffer
    // of the given length, and reaping the child.
    let (msg, status) = unsafe {
        libc::close(fds[1]);
        let mut msg = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            msg.extend_from_slice(&buf[..n as usize]);
        }
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        (msg, status)
    };
    if msg.len() < 9 {
        let why = if libc::WIFSIGNALED(status) {
            format!("killed by signal {}", libc::WTERMSIG(status))
        } else {
            match libc::WEXITSTATUS(status) {
                2 => "its memory could not be mapped at the guest's addresses".into(),
                3 => "it faulted on something other than an OUT to port E9h or F4h".into(),
                c => format!("exit status {c}"),
            }
        };
        bail!("the native run failed: {why}");
    }
    if msg[8] != 0 {
        bail!(
            "the native run ended with status {} at the exit port",
            msg[8]
        );
    }
    let ns = u64::from_le_bytes(msg[..8].try_into().expect("8 bytes"));
    Ok((Duration::from_nanos(ns), msg[9..].to_vec()))
}
