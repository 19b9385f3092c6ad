//! # x86lab-firmware
//!
//! The x86lab text assembler (NASM-style Intel syntax, encoded with iced-x86), the boot
//! firmware (`boot/firmware.asm`, assembled by that assembler when a machine boots through
//! it), loading programs into a machine ([`load`]: flat binaries, ELF files, or through the
//! firmware) and the guest programs (the lessons, [`LESSONS`]).
//!
//! ```
//! let a = x86lab_firmware::asm::assemble_str("bits 16\nmov ax, 0x1234\nhlt\n", "demo.asm".as_ref())
//!     .expect("assembles");
//! assert_eq!(a.bytes, [0xb8, 0x34, 0x12, 0xf4]);
//! ```

pub mod asm;
pub mod load;

/// The boot firmware's source: a 64 KiB ROM image whose last 16 bytes hold the reset vector.
pub const FIRMWARE_SOURCE: &str = include_str!("../boot/firmware.asm");
/// The size of the firmware image; it is mapped so that it ends at 4 GiB.
pub const FIRMWARE_SIZE: u64 = 0x10000;
/// Where the host leaves the boot information block the firmware reads (see the source).
pub const BOOT_INFO: u64 = 0x500;
/// The block's first dword: "X86L".
pub const BOOT_MAGIC: u32 = 0x4C36_3858;

/// Assembles the firmware.
pub fn firmware() -> Result<Vec<u8>, asm::Errors> {
    let a = asm::assemble_source(
        FIRMWARE_SOURCE,
        std::path::Path::new("firmware/boot/firmware.asm"),
        &asm::Options::default(),
    )?;
    debug_assert_eq!(a.bytes.len() as u64, FIRMWARE_SIZE);
    Ok(a.bytes)
}

/// The lessons (firmware/lessons/), in order: file name and source.
pub const LESSONS: &[(&str, &str)] = &[
    ("01-hello.asm", include_str!("../lessons/01-hello.asm")),
    (
        "02-registers-flags.asm",
        include_str!("../lessons/02-registers-flags.asm"),
    ),
    (
        "03-stack-call-ret.asm",
        include_str!("../lessons/03-stack-call-ret.asm"),
    ),
    (
        "04-loops-strings.asm",
        include_str!("../lessons/04-loops-strings.asm"),
    ),
    (
        "05-segmentation.asm",
        include_str!("../lessons/05-segmentation.asm"),
    ),
    (
        "06-protected-mode.asm",
        include_str!("../lessons/06-protected-mode.asm"),
    ),
    (
        "07-idt-divide-error.asm",
        include_str!("../lessons/07-idt-divide-error.asm"),
    ),
    (
        "08-paging-page-fault.asm",
        include_str!("../lessons/08-paging-page-fault.asm"),
    ),
    (
        "09-long-mode.asm",
        include_str!("../lessons/09-long-mode.asm"),
    ),
    (
        "10-syscall-user-mode.asm",
        include_str!("../lessons/10-syscall-user-mode.asm"),
    ),
    (
        "11-serial-port.asm",
        include_str!("../lessons/11-serial-port.asm"),
    ),
    (
        "12-undefined-flags.asm",
        include_str!("../lessons/12-undefined-flags.asm"),
    ),
];

/// The workloads (firmware/workloads/): name and source. Each is a 64-bit program at
/// 100000h that takes its counts as `-D` defines and ends through the exit port; see
/// [`assemble_workload`].
pub const WORKLOADS: &[(&str, &str)] = &[
    ("alu", include_str!("../workloads/alu.asm")),
    ("mem", include_str!("../workloads/mem.asm")),
    ("call", include_str!("../workloads/call.asm")),
    ("string", include_str!("../workloads/string.asm")),
];

/// The routine every workload includes (`%include "hex64.inc"`).
const WORKLOAD_INCLUDE: &str = include_str!("../workloads/hex64.inc");

/// Assembles the workload `name` of [`WORKLOADS`] with `defines` (`ITERATIONS`, `SIZE`,
/// `N`), from the sources built into x86lab, so it needs no checkout of the repository.
pub fn assemble_workload(
    name: &str,
    defines: &[(String, String)],
) -> Result<asm::Assembly, String> {
    let (_, source) = WORKLOADS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let names: Vec<&str> = WORKLOADS.iter().map(|(n, _)| *n).collect();
        format!(
            "no workload `{name}`; the workloads are {}",
            names.join(", ")
        )
    })?;
    // The one %include, spliced in: the built-in sources have no directory to search.
    let text = source.replace("%include \"hex64.inc\"", WORKLOAD_INCLUDE);
    let opts = asm::Options {
        include: Vec::new(),
        defines: defines.to_vec(),
    };
    asm::assemble_source(&text, format!("{name}.asm").as_ref(), &opts).map_err(|e| e.to_string())
}
