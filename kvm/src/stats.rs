//! KVM's binary statistics of the vCPU (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst
//! "KVM_GET_STATS_FD"): VM exits by kind, instructions the host emulated, halts, page
//! faults. `x86lab run --backend kvm --stats` prints them; the GUI's VM-exit timeline
//! will read them too.
//!
//! The file holds a header, then one descriptor per statistic (flags, exponent, size in
//! u64 values, offset of its data, a bucket size for histograms, and a name), then the data.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

use kvm_ioctls::VcpuFd;

/// One statistic: its name, its value (the first u64 for histograms), and whether it
/// counts up (cumulative) rather than showing a current or peak value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub name: String,
    pub value: u64,
    pub cumulative: bool,
}

const HEADER: usize = 24;
const DESC: usize = 16;
/// KVM_GET_STATS_FD = _IO(KVMIO, 0xce).
const KVM_GET_STATS_FD: libc::c_ulong = 0xae << 8 | 0xce;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Where the data ends, from the header and descriptors at the start of `b`.
fn data_end(b: &[u8]) -> Option<usize> {
    let name_size = u32_at(b, 4)? as usize;
    let num = u32_at(b, 8)? as usize;
    let desc_offset = u32_at(b, 16)? as usize;
    let data_offset = u32_at(b, 20)? as usize;
    let mut end = data_offset;
    for i in 0..num {
        let d = desc_offset + i * (DESC + name_size);
        let size = usize::from(u16_at(b, d + 6)?);
        let offset = u32_at(b, d + 8)? as usize;
        end = end.max(data_offset + offset + 8 * size);
    }
    Some(end)
}

/// Parses a whole statistics file.
pub fn parse(b: &[u8]) -> Result<Vec<Stat>, String> {
    let bad = || "KVM's statistics file is shorter than its header says".to_string();
    let name_size = u32_at(b, 4).ok_or_else(bad)? as usize;
    let num = u32_at(b, 8).ok_or_else(bad)? as usize;
    let desc_offset = u32_at(b, 16).ok_or_else(bad)? as usize;
    let data_offset = u32_at(b, 20).ok_or_else(bad)? as usize;
    let mut stats = Vec::with_capacity(num);
    for i in 0..num {
        let d = desc_offset + i * (DESC + name_size);
        let flags = u32_at(b, d).ok_or_else(bad)?;
        let offset = u32_at(b, d + 8).ok_or_else(bad)? as usize;
        let raw = b.get(d + DESC..d + DESC + name_size).ok_or_else(bad)?;
        let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        let name = String::from_utf8_lossy(&raw[..len]).into_owned();
        let value = u64_at(b, data_offset + offset).ok_or_else(bad)?;
        stats.push(Stat {
            name,
            value,
            cumulative: flags & kvm_bindings::KVM_STATS_TYPE_MASK
                == kvm_bindings::KVM_STATS_TYPE_CUMULATIVE,
        });
    }
    Ok(stats)
}

/// Opens the vCPU's statistics file.
pub(crate) fn open(vcpu: &VcpuFd) -> Result<File, String> {
    // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new file descriptor or -1;
    // `vcpu` is a live vCPU descriptor.
    let fd = unsafe { libc::ioctl(vcpu.as_raw_fd(), KVM_GET_STATS_FD) };
    if fd < 0 {
        return Err(format!(
            "KVM_GET_STATS_FD failed ({}): this kernel has no binary statistics (Linux 5.14 and later have them)",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Reads every statistic.
pub(crate) fn read(f: &File) -> Result<Vec<Stat>, String> {
    let io = |e: std::io::Error| format!("reading KVM's statistics: {e}");
    let mut head = vec![0u8; HEADER];
    f.read_exact_at(&mut head, 0).map_err(io)?;
    let name_size = u32_at(&head, 4).unwrap_or(0) as usize;
    let num = u32_at(&head, 8).unwrap_or(0) as usize;
    let desc_offset = u32_at(&head, 16).unwrap_or(0) as usize;
    let descs_end = desc_offset + num * (DESC + name_size);
    let mut b = vec![0u8; descs_end.max(HEADER)];
    f.read_exact_at(&mut b, 0).map_err(io)?;
    let end = data_end(&b).ok_or("KVM's statistics header is inconsistent")?;
    b.resize(end.max(b.len()), 0);
    f.read_exact_at(&mut b, 0).map_err(io)?;
    parse(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statistics file as the kernel lays it out, with two statistics.
    fn file() -> Vec<u8> {
        let name_size = 16usize;
        let desc_offset = HEADER + 8; // after an id string
        let data_offset = desc_offset + 2 * (DESC + name_size);
        let mut b = vec![0u8; data_offset + 16];
        let put32 =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put32(&mut b, 4, name_size as u32);
        put32(&mut b, 8, 2);
        put32(&mut b, 12, HEADER as u32);
        put32(&mut b, 16, desc_offset as u32);
        put32(&mut b, 20, data_offset as u32);
        for (i, (name, flags)) in [("io_exits", 0u32), ("halt_poll", 1)].iter().enumerate() {
            let d = desc_offset + i * (DESC + name_size);
            put32(&mut b, d, *flags);
            b[d + 6..d + 8].copy_from_slice(&1u16.to_le_bytes());
            put32(&mut b, d + 8, 8 * i as u32);
            b[d + DESC..d + DESC + name.len()].copy_from_slice(name.as_bytes());
        }
        b[data_offset..data_offset + 8].copy_from_slice(&12u64.to_le_bytes());
        b[data_offset + 8..data_offset + 16].copy_from_slice(&3u64.to_le_bytes());
        b
    }

    #[test]
    fn parses_names_values_and_kinds() {
        let b = file();
        assert_eq!(data_end(&b), Some(b.len()));
        let s = parse(&b).unwrap();
        assert_eq!(
            s,
            vec![
                Stat {
                    name: "io_exits".into(),
                    value: 12,
                    cumulative: true
                },
                Stat {
                    name: "halt_poll".into(),
                    value: 3,
                    cumulative: false
                },
            ]
        );
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let b = file();
        for n in [0, 10, 30, b.len() - 1] {
            assert!(parse(&b[..n]).is_err(), "{n} bytes");
        }
    }
}
