//! CPUID: an honest description of what this software CPU implements.
//!
//! | leaf | what it reports |
//! | --- | --- |
//! | 0 | highest basic leaf 7, vendor "x86labx86lab" |
//! | 1 | family 6 model 0 stepping 1; DE PSE TSC MSR PAE CX8 SEP PGE CMOV PAT PSE-36 in EDX, CX16 MOVBE POPCNT in ECX; no x87, MMX or SSE (this CPU has no floating point), no local APIC, no RDRAND |
//! | 7.0 | FSGSBASE BMI1 BMI2 ADX in EBX |
//! | 0x8000_0000 | highest extended leaf 0x8000_0008 |
//! | 0x8000_0001 | LAHF/SAHF in 64-bit mode and LZCNT (ABM) in ECX; SYSCALL, NX, 1-GiB pages, RDTSCP and long mode in EDX |
//! | 0x8000_0002..4 | the brand string "x86lab software CPU" |
//! | 0x8000_0008 | 40 physical and 48 linear address bits |
//! | anything else | zeros (as AMD processors do for leaves above the maximum) |

/// The vendor string of leaf 0.
pub const VENDOR: &[u8; 12] = b"x86labx86lab";

const BRAND: &[u8; 48] = b"x86lab software CPU (an iced-x86 interpreter)\0\0\0";

fn dword(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// EAX, EBX, ECX, EDX for a leaf and subleaf.
pub fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    match leaf {
        0 => [
            7,
            dword(&VENDOR[0..4]),
            dword(&VENDOR[8..12]),
            dword(&VENDOR[4..8]),
        ],
        1 => {
            let eax = (6 << 8) | 1; // family 6, model 0, stepping 1
            let ecx = (1 << 13) | (1 << 22) | (1 << 23); // CX16 MOVBE POPCNT
                                                         // DE PSE TSC MSR PAE CX8 SEP PGE CMOV PAT PSE-36
            let edx = (1 << 2)
                | (1 << 3)
                | (1 << 4)
                | (1 << 5)
                | (1 << 6)
                | (1 << 8)
                | (1 << 11)
                | (1 << 13)
                | (1 << 15)
                | (1 << 16)
                | (1 << 17);
            [eax, 0, ecx, edx]
        }
        // FSGSBASE BMI1 BMI2 ADX
        7 if sub == 0 => [0, 1 | (1 << 3) | (1 << 8) | (1 << 19), 0, 0],
        0x8000_0000 => [0x8000_0008, 0, 0, 0],
        // SYSCALL NX Page1GB RDTSCP LM
        0x8000_0001 => [
            0,
            0,
            1 | (1 << 5),
            (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29),
        ],
        0x8000_0008 => [(48 << 8) | super::mmu::MAXPHYADDR, 0, 0, 0],
        0x8000_0002..=0x8000_0004 => {
            let o = ((leaf - 0x8000_0002) * 16) as usize;
            let b = &BRAND[o..o + 16];
            [
                dword(&b[0..]),
                dword(&b[4..]),
                dword(&b[8..]),
                dword(&b[12..]),
            ]
        }
        _ => [0; 4],
    }
}
