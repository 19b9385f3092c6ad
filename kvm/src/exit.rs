//! What a KVM exit means for the run: the exit handler, separate from the ioctls so that it
//! can be tested with synthetic exits and no guest.
//!
//! Port I/O goes to the same [`Devices`] the software CPU uses; MMIO outside RAM and ROM is
//! an open bus (reads return all-ones, writes are dropped), as in the software CPU, and so
//! are writes to the ROM window, which is a read-only memory slot.

use x86lab_emulator::{DeviceAction, Devices, Event};

/// A KVM exit, copied out of the vCPU's shared `kvm_run` page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// OUT/OUTS: `data` written to a port, `size` bytes at a time (a string OUT can
    /// carry several elements).
    IoOut {
        port: u16,
        size: usize,
        data: Vec<u8>,
    },
    /// IN/INS: `count` elements of `size` bytes to read from a port (the handler supplies
    /// them).
    IoIn {
        port: u16,
        size: usize,
        count: usize,
    },
    /// A read of guest-physical memory with no RAM behind it.
    MmioRead { addr: u64, size: usize },
    /// A write of guest-physical memory with no RAM (or with ROM) behind it.
    MmioWrite { addr: u64, data: Vec<u8> },
    /// HLT (no in-kernel interrupt controller, so every HLT comes to userspace).
    Hlt,
    /// The guest shut down: a triple fault.
    Shutdown,
    /// A debug exit: a single step or a guest-debug breakpoint.
    Debug { exception: u32, pc: u64, dr6: u64 },
    /// KVM could not go on: `suberror` 1 is an emulation failure of the host kernel's
    /// instruction emulator, with the instruction bytes in `data`.
    InternalError { suberror: u32, data: Vec<u64> },
    /// The hardware refused to enter the guest.
    FailEntry { reason: u64 },
    /// A signal interrupted the run (the wall-clock watchdog).
    Interrupted,
    /// Any other exit, by name.
    Other(String),
}

/// What the run loop does after an exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Enter the guest again. `data` is what an IN or MMIO read returns to it.
    Resume { data: Option<Vec<u8>> },
    /// The run ends with this event.
    Stop(Event),
    /// A debug exit: the run loop decides (single step or breakpoint).
    Debug { exception: u32, pc: u64, dr6: u64 },
    /// A signal: check the limits, then resume.
    Interrupted,
}

/// Handles one exit.
pub fn handle(exit: &Exit, devices: &mut Devices) -> Outcome {
    match exit {
        Exit::IoOut { port, size, data } => {
            let size = if *size == 0 { data.len().max(1) } else { *size };
            for element in data.chunks(size) {
                if let DeviceAction::Exit(status) = devices.io_write(*port, element) {
                    return Outcome::Stop(Event::ExitRequested { status });
                }
            }
            Outcome::Resume { data: None }
        }
        Exit::IoIn { port, size, count } => {
            let mut buf = vec![0u8; size * count];
            for element in buf.chunks_mut((*size).max(1)) {
                devices.io_read(*port, element);
            }
            Outcome::Resume { data: Some(buf) }
        }
        Exit::MmioRead { size, .. } => Outcome::Resume {
            data: Some(vec![0xff; *size]),
        },
        Exit::MmioWrite { .. } => Outcome::Resume { data: None },
        Exit::Hlt => Outcome::Stop(Event::Halted {
            // The run loop corrects this from RFLAGS.IF; KVM does not say.
            interrupts_enabled: false,
        }),
        Exit::Shutdown => Outcome::Stop(Event::Shutdown {
            reason: "KVM_EXIT_SHUTDOWN: the guest triple-faulted (KVM does not say which \
                     exceptions led there)"
                .to_string(),
        }),
        Exit::Debug { exception, pc, dr6 } => Outcome::Debug {
            exception: *exception,
            pc: *pc,
            dr6: *dr6,
        },
        Exit::InternalError { suberror, data } => Outcome::Stop(Event::HostFailure {
            reason: internal_error_reason(*suberror, data),
        }),
        Exit::FailEntry { reason } => Outcome::Stop(Event::HostFailure {
            reason: format!(
                "KVM_EXIT_FAIL_ENTRY: the processor refused to enter the guest \
                 (hardware entry failure reason {reason:#x}); the state is invalid for \
                 hardware-assisted virtualization"
            ),
        }),
        Exit::Interrupted => Outcome::Interrupted,
        Exit::Other(name) => Outcome::Stop(Event::HostFailure {
            reason: format!("unexpected KVM exit {name}"),
        }),
    }
}

/// KVM_INTERNAL_ERROR_* suberrors, in plain words.
fn internal_error_reason(suberror: u32, data: &[u64]) -> String {
    let what = match suberror {
        1 => "the host kernel's instruction emulator could not emulate the instruction \
              (KVM_INTERNAL_ERROR_EMULATION)"
            .to_string(),
        2 => "the guest took a fault while KVM was delivering an event to it \
              (KVM_INTERNAL_ERROR_SIMUL_EX)"
            .to_string(),
        3 => "KVM could not deliver an event during a VM exit (KVM_INTERNAL_ERROR_DELIVERY_EV)"
            .to_string(),
        4 => "the VM exit had an unexpected reason (KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON)"
            .to_string(),
        n => format!("KVM internal error, suberror {n}"),
    };
    if suberror == 1 && data.len() >= 2 && data[0] & 1 != 0 {
        // Emulation failures with KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES set
        // (data[0] = flags) carry the instruction: a length byte, then up to 15 bytes
        // (struct kvm_run's emulation_failure member overlays data[1..]).
        let raw: Vec<u8> = data[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
        let n = usize::from(raw[0]).min(15).min(raw.len() - 1);
        if n > 0 {
            let hex: Vec<String> = raw[1..=n].iter().map(|b| format!("{b:02x}")).collect();
            return format!("{what}; instruction bytes {}", hex.join(" "));
        }
    }
    what
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_writes_reach_the_console_and_the_exit_port() {
        let mut dev = Devices::default();
        let out = handle(
            &Exit::IoOut {
                port: 0xe9,
                size: 1,
                data: b"OK".to_vec(),
            },
            &mut dev,
        );
        assert_eq!(out, Outcome::Resume { data: None });
        assert_eq!(dev.output().take(), b"OK", "a string OUT of two bytes");
        let out = handle(
            &Exit::IoOut {
                port: 0xf4,
                size: 1,
                data: vec![42],
            },
            &mut dev,
        );
        assert_eq!(out, Outcome::Stop(Event::ExitRequested { status: 42 }));
    }

    #[test]
    fn reads_outside_memory_see_an_open_bus() {
        let mut dev = Devices::default();
        let out = handle(
            &Exit::MmioRead {
                addr: 0xfee0_0000,
                size: 4,
            },
            &mut dev,
        );
        assert_eq!(
            out,
            Outcome::Resume {
                data: Some(vec![0xff; 4])
            }
        );
        let out = handle(
            &Exit::MmioWrite {
                addr: 0xffff_fff0,
                data: vec![1, 2],
            },
            &mut dev,
        );
        assert_eq!(out, Outcome::Resume { data: None });
        // An unassigned port reads as all-ones too (the device bus's rule).
        let out = handle(
            &Exit::IoIn {
                port: 0x80,
                size: 2,
                count: 1,
            },
            &mut dev,
        );
        assert_eq!(
            out,
            Outcome::Resume {
                data: Some(vec![0xff, 0xff])
            }
        );
    }

    #[test]
    fn an_emulation_failure_names_the_instruction_bytes() {
        // int 0x80 (cd 80) as the kernel reports it: flags (instruction bytes present),
        // then the length byte 2 and the bytes.
        let out = handle(
            &Exit::InternalError {
                suberror: 1,
                data: vec![1, 0x80cd02, 0],
            },
            &mut Devices::default(),
        );
        match out {
            Outcome::Stop(Event::HostFailure { reason }) => {
                assert!(reason.contains("could not emulate"), "{reason}");
                assert!(reason.ends_with("instruction bytes cd 80"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shutdown_is_a_triple_fault_and_hlt_a_halt() {
        let mut dev = Devices::default();
        assert!(matches!(
            handle(&Exit::Shutdown, &mut dev),
            Outcome::Stop(Event::Shutdown { .. })
        ));
        assert!(matches!(
            handle(&Exit::Hlt, &mut dev),
            Outcome::Stop(Event::Halted { .. })
        ));
        assert_eq!(handle(&Exit::Interrupted, &mut dev), Outcome::Interrupted);
    }
}
