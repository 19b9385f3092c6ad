//! `CpuState`: every architectural register both backends read and write, and its JSON form.
//!
//! The JSON form is the project's state format (CLI `--state-out`, test cases, GUI save and
//! load). Every number is a hex string (`"0x7c00"`) and register names are lowercase. Fields
//! added in later versions carry `#[serde(default)]`, so older files keep loading.

use serde::{Deserialize, Serialize};

/// Indices of the general-purpose registers in [`CpuState::gpr`], in encoding order.
pub mod reg {
    pub const RAX: usize = 0;
    pub const RCX: usize = 1;
    pub const RDX: usize = 2;
    pub const RBX: usize = 3;
    pub const RSP: usize = 4;
    pub const RBP: usize = 5;
    pub const RSI: usize = 6;
    pub const RDI: usize = 7;
    pub const R8: usize = 8;
    pub const R9: usize = 9;
    pub const R10: usize = 10;
    pub const R11: usize = 11;
    pub const R12: usize = 12;
    pub const R13: usize = 13;
    pub const R14: usize = 14;
    pub const R15: usize = 15;
}

/// Lowercase names of the general-purpose registers, in encoding order.
pub const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// RFLAGS bits.
pub mod flags {
    pub const CF: u64 = 1 << 0;
    /// Bit 1 is reserved and always reads as 1.
    pub const FIXED: u64 = 1 << 1;
    pub const PF: u64 = 1 << 2;
    pub const AF: u64 = 1 << 4;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const TF: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const DF: u64 = 1 << 10;
    pub const OF: u64 = 1 << 11;
    pub const IOPL: u64 = 3 << 12;
    pub const NT: u64 = 1 << 14;
    pub const RF: u64 = 1 << 16;
    pub const VM: u64 = 1 << 17;
    pub const AC: u64 = 1 << 18;
    pub const VIF: u64 = 1 << 19;
    pub const VIP: u64 = 1 << 20;
    pub const ID: u64 = 1 << 21;
    /// The six arithmetic status flags.
    pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;
    /// Every bit software can ever see set.
    pub const DEFINED: u64 =
        STATUS | FIXED | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

    /// Names of the single-bit flags, for parsing and printing.
    pub const NAMES: [(&str, u64); 16] = [
        ("CF", CF),
        ("PF", PF),
        ("AF", AF),
        ("ZF", ZF),
        ("SF", SF),
        ("TF", TF),
        ("IF", IF),
        ("DF", DF),
        ("OF", OF),
        ("NT", NT),
        ("RF", RF),
        ("VM", VM),
        ("AC", AC),
        ("VIF", VIF),
        ("VIP", VIP),
        ("ID", ID),
    ];
}

/// Control-register and EFER bits used by the machine model.
pub mod ctl {
    pub const CR0_PE: u64 = 1 << 0;
    pub const CR0_MP: u64 = 1 << 1;
    pub const CR0_EM: u64 = 1 << 2;
    pub const CR0_TS: u64 = 1 << 3;
    pub const CR0_ET: u64 = 1 << 4;
    pub const CR0_NE: u64 = 1 << 5;
    pub const CR0_WP: u64 = 1 << 16;
    pub const CR0_AM: u64 = 1 << 18;
    pub const CR0_NW: u64 = 1 << 29;
    pub const CR0_CD: u64 = 1 << 30;
    pub const CR0_PG: u64 = 1 << 31;
    pub const CR4_TSD: u64 = 1 << 2;
    pub const CR4_DE: u64 = 1 << 3;
    pub const CR4_PSE: u64 = 1 << 4;
    pub const CR4_PAE: u64 = 1 << 5;
    pub const CR4_PGE: u64 = 1 << 7;
    pub const CR4_OSFXSR: u64 = 1 << 9;
    pub const CR4_FSGSBASE: u64 = 1 << 16;
    pub const EFER_SCE: u64 = 1 << 0;
    pub const EFER_LME: u64 = 1 << 8;
    pub const EFER_LMA: u64 = 1 << 10;
    pub const EFER_NXE: u64 = 1 << 11;
}

/// Segment descriptor attribute bits, in the packed 12-bit form used by [`Segment::attributes`]:
/// bits 0..8 are the descriptor's access byte (type, S, DPL, P) and bits 8..12 its flags nibble
/// (AVL, L, D/B, G). This is the layout of AMD's VMCB segment attributes.
pub mod attr {
    /// Type bit 0: accessed.
    pub const ACCESSED: u16 = 1 << 0;
    /// Type bit 1: writable (data) or readable (code).
    pub const RW: u16 = 1 << 1;
    /// Type bit 2: expand-down (data) or conforming (code).
    pub const DC: u16 = 1 << 2;
    /// Type bit 3: code segment.
    pub const CODE: u16 = 1 << 3;
    /// S: code or data (as opposed to a system descriptor).
    pub const S: u16 = 1 << 4;
    pub const DPL_SHIFT: u16 = 5;
    pub const DPL: u16 = 3 << 5;
    pub const P: u16 = 1 << 7;
    pub const AVL: u16 = 1 << 8;
    /// 64-bit code segment.
    pub const L: u16 = 1 << 9;
    /// Default operation size 32 bits (code) or big stack (SS).
    pub const DB: u16 = 1 << 10;
    pub const G: u16 = 1 << 11;
    /// Present, writable, accessed data segment, as real mode leaves it.
    pub const REAL_DATA: u16 = P | S | RW | ACCESSED;
    /// Present, readable, accessed code segment, as real mode leaves it.
    pub const REAL_CODE: u16 = P | S | CODE | RW | ACCESSED;
    /// Available 32/64-bit TSS, busy.
    pub const TSS_BUSY: u16 = P | 0xB;
    /// LDT descriptor.
    pub const LDT: u16 = P | 0x2;
}

/// A segment register: the visible selector and the hidden descriptor cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    #[serde(with = "hex")]
    pub selector: u16,
    #[serde(with = "hex")]
    pub base: u64,
    /// The limit in bytes (already scaled by the granularity bit).
    #[serde(with = "hex")]
    pub limit: u32,
    /// Access byte and flags nibble; see [`attr`].
    #[serde(with = "hex")]
    pub attributes: u16,
}

impl Segment {
    /// A segment register as real mode loads it: base = selector × 16, 64 KiB limit.
    pub fn real(selector: u16, attributes: u16) -> Self {
        Segment {
            selector,
            base: u64::from(selector) << 4,
            limit: 0xffff,
            attributes,
        }
    }

    /// A flat 4 GiB segment with the given attributes (add [`attr::G`] yourself if wanted).
    pub fn flat(selector: u16, attributes: u16) -> Self {
        Segment {
            selector,
            base: 0,
            limit: 0xffff_ffff,
            attributes,
        }
    }

    pub fn present(&self) -> bool {
        self.attributes & attr::P != 0
    }

    pub fn dpl(&self) -> u8 {
        ((self.attributes & attr::DPL) >> attr::DPL_SHIFT) as u8
    }

    pub fn is_code(&self) -> bool {
        self.attributes & attr::CODE != 0
    }

    /// The D/B bit: 32-bit default operand size for code, 32-bit stack pointer for SS.
    pub fn db(&self) -> bool {
        self.attributes & attr::DB != 0
    }

    /// The L bit: 64-bit code segment.
    pub fn long(&self) -> bool {
        self.attributes & attr::L != 0
    }

    /// A valid 64-bit code segment: L = 1 with D = 0 (L = D = 1 is reserved).
    pub fn is_64bit_code(&self) -> bool {
        self.long() && !self.db()
    }
}

/// GDTR or IDTR: a base address and a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptorTable {
    #[serde(with = "hex")]
    pub base: u64,
    #[serde(with = "hex")]
    pub limit: u16,
}

/// Model-specific registers a guest can touch through RDMSR/WRMSR (EFER lives in
/// [`CpuState::efer`], FS.base and GS.base in the segment caches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Msrs {
    #[serde(with = "hex")]
    pub kernel_gs_base: u64,
    #[serde(with = "hex")]
    pub star: u64,
    #[serde(with = "hex")]
    pub lstar: u64,
    #[serde(with = "hex")]
    pub cstar: u64,
    #[serde(with = "hex")]
    pub sfmask: u64,
    #[serde(with = "hex")]
    pub sysenter_cs: u64,
    #[serde(with = "hex")]
    pub sysenter_esp: u64,
    #[serde(with = "hex")]
    pub sysenter_eip: u64,
    #[serde(with = "hex")]
    pub pat: u64,
    #[serde(with = "hex")]
    pub tsc_aux: u64,
}

/// The operating mode the CPU is in, derived from CR0, EFER and CS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMode {
    /// Real-address mode (CR0.PE = 0).
    Real,
    /// Virtual-8086 mode (protected mode with RFLAGS.VM = 1).
    Virtual8086,
    /// Protected mode (16- or 32-bit code, per CS.D).
    Protected,
    /// IA-32e compatibility mode (long mode, CS.L = 0).
    Compatibility,
    /// 64-bit mode (long mode, CS.L = 1).
    Long64,
}

/// Every architectural register of the machine model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StateJson", into = "StateJson")]
pub struct CpuState {
    /// RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15 in encoding order; see [`reg`].
    pub gpr: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    pub es: Segment,
    pub cs: Segment,
    pub ss: Segment,
    pub ds: Segment,
    pub fs: Segment,
    pub gs: Segment,
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: DescriptorTable,
    pub idtr: DescriptorTable,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub cr8: u64,
    pub efer: u64,
    pub msrs: Msrs,
    /// The time-stamp counter RDTSC reads.
    pub tsc: u64,
    /// Debug registers: DR0–DR3 (breakpoint addresses), DR6 (status), DR7 (control).
    pub debug: DebugRegs,
}

/// The debug registers. DR4 and DR5 are aliases of DR6 and DR7 (when CR4.DE = 0) and have
/// no storage of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DebugRegs {
    #[serde(with = "hex")]
    pub dr0: u64,
    #[serde(with = "hex")]
    pub dr1: u64,
    #[serde(with = "hex")]
    pub dr2: u64,
    #[serde(with = "hex")]
    pub dr3: u64,
    #[serde(with = "hex")]
    pub dr6: u64,
    #[serde(with = "hex")]
    pub dr7: u64,
}

impl DebugRegs {
    /// DR6 as the processor resets it: the reserved bits that read as 1.
    pub const DR6_INIT: u64 = 0xffff_0ff0;
    /// DR7 as the processor resets it: bit 10 reads as 1.
    pub const DR7_INIT: u64 = 0x400;

    /// DR0–DR3 by number.
    pub fn addr(&self, n: usize) -> u64 {
        match n {
            0 => self.dr0,
            1 => self.dr1,
            2 => self.dr2,
            _ => self.dr3,
        }
    }
}

impl Default for DebugRegs {
    fn default() -> Self {
        DebugRegs {
            dr0: 0,
            dr1: 0,
            dr2: 0,
            dr3: 0,
            dr6: Self::DR6_INIT,
            dr7: Self::DR7_INIT,
        }
    }
}

impl Default for CpuState {
    fn default() -> Self {
        Self::real_mode(0, 0)
    }
}

impl CpuState {
    /// Real mode with CS:IP = `cs`:`ip`, all other segments 0, IVT at 0, interrupts off.
    pub fn real_mode(cs: u16, ip: u16) -> Self {
        CpuState {
            gpr: [0; 16],
            rip: u64::from(ip),
            rflags: flags::FIXED,
            es: Segment::real(0, attr::REAL_DATA),
            cs: Segment::real(cs, attr::REAL_CODE),
            ss: Segment::real(0, attr::REAL_DATA),
            ds: Segment::real(0, attr::REAL_DATA),
            fs: Segment::real(0, attr::REAL_DATA),
            gs: Segment::real(0, attr::REAL_DATA),
            ldtr: Segment {
                attributes: attr::LDT,
                limit: 0xffff,
                ..Segment::default()
            },
            tr: Segment {
                attributes: attr::TSS_BUSY,
                limit: 0xffff,
                ..Segment::default()
            },
            gdtr: DescriptorTable {
                base: 0,
                limit: 0xffff,
            },
            idtr: DescriptorTable {
                base: 0,
                limit: 0x3ff,
            },
            cr0: ctl::CR0_ET,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            cr8: 0,
            efer: 0,
            msrs: Msrs::default(),
            tsc: 0,
            debug: DebugRegs::default(),
        }
    }

    /// The state after RESET, as the SDM's table "IA-32 and Intel 64 Processor States
    /// Following Power-up, Reset, or INIT" gives it: real mode at CS:IP = F000:FFF0 with the
    /// CS base FFFF0000, so the first instruction is fetched from physical FFFFFFF0 (the
    /// ROM window's last 16 bytes); EDX holds the processor signature (CPUID.1:EAX);
    /// CR0 = 60000010h (CD, NW and ET set); GDTR and IDTR base 0 limit FFFFh.
    pub fn reset() -> Self {
        let mut s = Self::real_mode(0xf000, 0xfff0);
        s.cs.base = 0xffff_0000;
        s.gpr[reg::RDX] = u64::from(crate::cpu::cpuid(1, 0)[0]);
        s.cr0 = ctl::CR0_CD | ctl::CR0_NW | ctl::CR0_ET;
        s.idtr.limit = 0xffff;
        s
    }

    /// The mode the CPU is in.
    pub fn mode(&self) -> CpuMode {
        if self.cr0 & ctl::CR0_PE == 0 {
            CpuMode::Real
        } else if self.efer & ctl::EFER_LMA != 0 {
            if self.cs.long() {
                CpuMode::Long64
            } else {
                CpuMode::Compatibility
            }
        } else if self.rflags & flags::VM != 0 {
            CpuMode::Virtual8086
        } else {
            CpuMode::Protected
        }
    }

    /// The linear address of CS:RIP, the next instruction (CS.base counts as 0 in 64-bit
    /// mode; linear addresses wrap at 4 GiB outside it).
    pub fn code_address(&self) -> u64 {
        if self.mode() == CpuMode::Long64 {
            self.rip
        } else {
            self.cs.base.wrapping_add(self.rip) & 0xffff_ffff
        }
    }

    /// The current privilege level. In real mode 0; in virtual-8086 mode 3; otherwise the
    /// DPL of SS, which always equals CS.RPL (VT-x and AMD-V define CPL the same way; unlike
    /// CS.DPL it stays right while conforming code runs).
    pub fn cpl(&self) -> u8 {
        match self.mode() {
            CpuMode::Real => 0,
            CpuMode::Virtual8086 => 3,
            _ => self.ss.dpl(),
        }
    }

    /// The segment register with the given index in encoding order (ES, CS, SS, DS, FS, GS).
    pub fn seg(&self, index: usize) -> &Segment {
        match index {
            0 => &self.es,
            1 => &self.cs,
            2 => &self.ss,
            3 => &self.ds,
            4 => &self.fs,
            _ => &self.gs,
        }
    }

    /// Mutable access to the segment register with the given index (ES, CS, SS, DS, FS, GS).
    pub fn seg_mut(&mut self, index: usize) -> &mut Segment {
        match index {
            0 => &mut self.es,
            1 => &mut self.cs,
            2 => &mut self.ss,
            3 => &mut self.ds,
            4 => &mut self.fs,
            _ => &mut self.gs,
        }
    }

    /// Parses the JSON state format.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON state format, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("CpuState always serializes")
    }
}

/// The JSON shape of [`CpuState`]: named registers instead of an array.
#[derive(Serialize, Deserialize)]
struct StateJson {
    #[serde(with = "hex")]
    rax: u64,
    #[serde(with = "hex")]
    rbx: u64,
    #[serde(with = "hex")]
    rcx: u64,
    #[serde(with = "hex")]
    rdx: u64,
    #[serde(with = "hex")]
    rsi: u64,
    #[serde(with = "hex")]
    rdi: u64,
    #[serde(with = "hex")]
    rbp: u64,
    #[serde(with = "hex")]
    rsp: u64,
    #[serde(with = "hex")]
    r8: u64,
    #[serde(with = "hex")]
    r9: u64,
    #[serde(with = "hex")]
    r10: u64,
    #[serde(with = "hex")]
    r11: u64,
    #[serde(with = "hex")]
    r12: u64,
    #[serde(with = "hex")]
    r13: u64,
    #[serde(with = "hex")]
    r14: u64,
    #[serde(with = "hex")]
    r15: u64,
    #[serde(with = "hex")]
    rip: u64,
    #[serde(with = "hex")]
    rflags: u64,
    cs: Segment,
    ds: Segment,
    es: Segment,
    fs: Segment,
    gs: Segment,
    ss: Segment,
    ldtr: Segment,
    tr: Segment,
    gdtr: DescriptorTable,
    idtr: DescriptorTable,
    #[serde(with = "hex")]
    cr0: u64,
    #[serde(with = "hex")]
    cr2: u64,
    #[serde(with = "hex")]
    cr3: u64,
    #[serde(with = "hex")]
    cr4: u64,
    #[serde(with = "hex")]
    cr8: u64,
    #[serde(with = "hex")]
    efer: u64,
    #[serde(default)]
    msrs: Msrs,
    #[serde(default, with = "hex")]
    tsc: u64,
    /// dr0..dr3, dr6, dr7 at the top level, like the control registers.
    #[serde(flatten)]
    debug: DebugRegs,
}

impl From<StateJson> for CpuState {
    fn from(j: StateJson) -> Self {
        CpuState {
            gpr: [
                j.rax, j.rcx, j.rdx, j.rbx, j.rsp, j.rbp, j.rsi, j.rdi, j.r8, j.r9, j.r10, j.r11,
                j.r12, j.r13, j.r14, j.r15,
            ],
            rip: j.rip,
            rflags: j.rflags,
            es: j.es,
            cs: j.cs,
            ss: j.ss,
            ds: j.ds,
            fs: j.fs,
            gs: j.gs,
            ldtr: j.ldtr,
            tr: j.tr,
            gdtr: j.gdtr,
            idtr: j.idtr,
            cr0: j.cr0,
            cr2: j.cr2,
            cr3: j.cr3,
            cr4: j.cr4,
            cr8: j.cr8,
            efer: j.efer,
            msrs: j.msrs,
            tsc: j.tsc,
            debug: j.debug,
        }
    }
}

impl From<CpuState> for StateJson {
    fn from(s: CpuState) -> Self {
        let g = s.gpr;
        StateJson {
            rax: g[reg::RAX],
            rbx: g[reg::RBX],
            rcx: g[reg::RCX],
            rdx: g[reg::RDX],
            rsi: g[reg::RSI],
            rdi: g[reg::RDI],
            rbp: g[reg::RBP],
            rsp: g[reg::RSP],
            r8: g[reg::R8],
            r9: g[reg::R9],
            r10: g[reg::R10],
            r11: g[reg::R11],
            r12: g[reg::R12],
            r13: g[reg::R13],
            r14: g[reg::R14],
            r15: g[reg::R15],
            rip: s.rip,
            rflags: s.rflags,
            cs: s.cs,
            ds: s.ds,
            es: s.es,
            fs: s.fs,
            gs: s.gs,
            ss: s.ss,
            ldtr: s.ldtr,
            tr: s.tr,
            gdtr: s.gdtr,
            idtr: s.idtr,
            cr0: s.cr0,
            cr2: s.cr2,
            cr3: s.cr3,
            cr4: s.cr4,
            cr8: s.cr8,
            efer: s.efer,
            msrs: s.msrs,
            tsc: s.tsc,
            debug: s.debug,
        }
    }
}

/// Serde helpers: integers as `"0x…"` strings. Deserialization also accepts plain JSON numbers
/// and decimal strings, so hand-written files are forgiving.
pub mod hex {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<T, S>(value: &T, s: S) -> Result<S::Ok, S::Error>
    where
        T: Copy + Into<u64>,
        S: Serializer,
    {
        s.serialize_str(&format!("{:#x}", (*value).into()))
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: TryFrom<u64>,
        D: Deserializer<'de>,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        let value = match Raw::deserialize(d)? {
            Raw::Num(n) => n,
            Raw::Text(t) => parse(&t).map_err(de::Error::custom)?,
        };
        T::try_from(value)
            .map_err(|_| de::Error::custom(format!("{value:#x} does not fit in this register")))
    }

    /// Parses `0x1f`, `1f h`-free hex with prefix, or a decimal number.
    pub fn parse(text: &str) -> Result<u64, String> {
        let t = text.trim().replace('_', "");
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => t.parse(),
        };
        parsed.map_err(|_| format!("`{text}` is not a number (write hex as 0x1234)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_hex_strings_and_lowercase_names() {
        let mut s = CpuState::real_mode(0, 0x7c00);
        s.gpr[reg::RDX] = 0x80;
        let json = s.to_json();
        assert!(json.contains("\"rip\": \"0x7c00\""), "{json}");
        assert!(json.contains("\"rdx\": \"0x80\""), "{json}");
        assert!(json.contains("\"cs\": {"), "{json}");
        let back = CpuState::from_json(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn json_rejects_values_too_wide_for_the_register() {
        let s = CpuState::default().to_json();
        let bad = s.replacen("\"selector\": \"0x0\"", "\"selector\": \"0x10000\"", 1);
        let err = CpuState::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
    }

    #[test]
    fn mode_follows_cr0_efer_and_cs() {
        let mut s = CpuState::default();
        assert_eq!(s.mode(), CpuMode::Real);
        s.cr0 |= ctl::CR0_PE;
        assert_eq!(s.mode(), CpuMode::Protected);
        s.efer |= ctl::EFER_LMA;
        assert_eq!(s.mode(), CpuMode::Compatibility);
        s.cs.attributes |= attr::L;
        assert_eq!(s.mode(), CpuMode::Long64);
    }
}
