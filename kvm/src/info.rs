//! What KVM is on this host: the regime (hardware-assisted or not), the API version and
//! the capabilities x86lab uses, in plain words (`x86lab kvm-info`, and the GUI later).

use std::fmt;
use std::path::Path;

use kvm_ioctls::{Cap, Kvm};
use thiserror::Error;

/// Why KVM cannot be used. Each message is one sentence that says what to do.
#[derive(Debug, Error)]
pub enum KvmError {
    #[error(
        "/dev/kvm does not exist: this kernel has no KVM (load the kvm module), or this is \
         not Linux; the emulator backend (--backend emulator) works without it"
    )]
    Missing,
    #[error(
        "/dev/kvm exists but this user may not open it: add the user to the `kvm` group \
         (sudo usermod -aG kvm $USER, then log in again), or use --backend emulator"
    )]
    PermissionDenied,
    #[error("KVM API version {0} is not 12, the stable version x86lab needs: the kernel is too old or too new for kvm-ioctls")]
    ApiVersion(i32),
    #[error("KVM refused {what}: {err}")]
    Ioctl { what: &'static str, err: String },
    #[error("{0}")]
    Memory(#[from] x86lab_emulator::MemoryError),
}

impl KvmError {
    pub(crate) fn ioctl(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> KvmError {
        move |e| KvmError::Ioctl {
            what,
            err: e.to_string(),
        }
    }
}

/// Opens /dev/kvm with a clear error.
pub(crate) fn open() -> Result<Kvm, KvmError> {
    open_at(c"/dev/kvm")
}

/// Opens a KVM device node.
fn open_at(path: &std::ffi::CStr) -> Result<Kvm, KvmError> {
    use std::os::fd::FromRawFd;
    let fd = Kvm::open_with_cloexec_at(path, true).map_err(|e| open_error(e.errno()))?;
    // SAFETY: `fd` was just opened by us on a KVM device node and is owned by nothing
    // else; the Kvm takes ownership of it.
    let kvm = unsafe { Kvm::from_raw_fd(fd) };
    let v = kvm.get_api_version();
    if v != 12 {
        return Err(KvmError::ApiVersion(v));
    }
    Ok(kvm)
}

/// The error for a failed open of /dev/kvm, by errno.
fn open_error(errno: i32) -> KvmError {
    match errno {
        libc::ENOENT | libc::ENXIO | libc::ENODEV => KvmError::Missing,
        libc::EACCES | libc::EPERM => KvmError::PermissionDenied,
        _ => KvmError::Ioctl {
            what: "opening /dev/kvm",
            err: std::io::Error::from_raw_os_error(errno).to_string(),
        },
    }
}

/// Whether KVM runs guests on the processor or mostly in the host kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Regime {
    /// VT-x or AMD-V underneath: guest code runs on the processor in every mode.
    HardwareAssisted { technology: &'static str },
    /// No hardware virtualization extensions (for example PVM, a KVM that shadows the
    /// guest's page tables): 64-bit user-mode (CPL 3) code runs on the processor, but
    /// real-mode, 32-bit and CPL 0 code is run by the host kernel's instruction emulator.
    SoftwareOnly { module: Option<String> },
}

impl Regime {
    /// The regime of this host, from the CPU flags and the loaded KVM module.
    pub fn detect() -> Regime {
        let flags = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("flags"))
                    .map(|l| format!("{l} "))
            })
            .unwrap_or_default();
        if flags.contains(" vmx ") {
            return Regime::HardwareAssisted {
                technology: "Intel VT-x",
            };
        }
        if flags.contains(" svm ") {
            return Regime::HardwareAssisted {
                technology: "AMD-V",
            };
        }
        let module = ["kvm_pvm", "kvm_intel", "kvm_amd"]
            .into_iter()
            .find(|m| Path::new("/sys/module").join(m).exists())
            .map(str::to_string);
        Regime::SoftwareOnly { module }
    }

    pub fn is_hardware_assisted(&self) -> bool {
        matches!(self, Regime::HardwareAssisted { .. })
    }
}

/// KVM on this host, for `x86lab kvm-info` and the GUI.
#[derive(Clone, Debug)]
pub struct KvmInfo {
    pub api_version: i32,
    pub regime: Regime,
    /// The capabilities x86lab relies on, by name, and whether KVM has them.
    pub capabilities: Vec<(&'static str, bool)>,
}

impl KvmInfo {
    /// Opens /dev/kvm and asks it.
    pub fn probe() -> Result<KvmInfo, KvmError> {
        let kvm = open()?;
        Ok(Self::of(&kvm))
    }

    pub(crate) fn of(kvm: &Kvm) -> KvmInfo {
        let caps = [
            (
                "KVM_CAP_SET_GUEST_DEBUG (single-stepping, breakpoints)",
                Cap::SetGuestDebug,
            ),
            (
                "KVM_CAP_READONLY_MEM (a read-only ROM slot)",
                Cap::ReadonlyMem,
            ),
            (
                "KVM_CAP_IMMEDIATE_EXIT (completing an I/O exit without running on)",
                Cap::ImmediateExit,
            ),
            ("KVM_CAP_EXT_CPUID (setting CPUID)", Cap::ExtCpuid),
            ("KVM_CAP_DEBUGREGS (reading DR0-DR7)", Cap::Debugregs),
        ];
        KvmInfo {
            api_version: kvm.get_api_version(),
            regime: Regime::detect(),
            capabilities: caps
                .iter()
                .map(|&(name, cap)| (name, kvm.check_extension(cap)))
                .collect(),
        }
    }
}

impl fmt::Display for KvmInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "KVM API version {}", self.api_version)?;
        match &self.regime {
            Regime::HardwareAssisted { technology } => {
                writeln!(f, "regime: hardware-assisted ({technology})")?;
                writeln!(
                    f,
                    "  guest code runs on the processor in every mode; KVM exits to x86lab \
                     only for I/O, HLT, shutdown and debug events"
                )?;
            }
            Regime::SoftwareOnly { module } => {
                let m = module.as_deref().unwrap_or("unknown");
                writeln!(
                    f,
                    "regime: no hardware virtualization (the CPU flags show no vmx or svm; \
                     KVM module: {m})"
                )?;
                writeln!(
                    f,
                    "  64-bit user-mode (CPL 3) code runs on the processor at native speed;"
                )?;
                writeln!(
                    f,
                    "  real-mode, 32-bit and kernel-mode (CPL 0) code is emulated by the host \
                     kernel's instruction emulator, about a million instructions per second, \
                     and some instructions (int n at 64-bit CPL 0) fail there"
                )?;
            }
        }
        writeln!(f, "capabilities:")?;
        for (name, has) in &self.capabilities {
            writeln!(f, "  {} {name}", if *has { "yes" } else { "no " })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_says_so_and_what_to_do() {
        let Err(e) = open_at(c"/nonexistent/kvm") else {
            panic!("opened a device that does not exist");
        };
        assert!(matches!(e, KvmError::Missing), "{e}");
        assert!(e.to_string().contains("--backend emulator"), "{e}");
    }

    #[test]
    fn a_forbidden_device_names_the_kvm_group() {
        for errno in [libc::EACCES, libc::EPERM] {
            let e = open_error(errno);
            assert!(e.to_string().contains("`kvm` group"), "{e}");
        }
    }
}
