//! Privileged and system-register instructions: LGDT LIDT SGDT SIDT, MOV to and from the
//! control registers and debug registers, LMSW SMSW CLTS, RDMSR WRMSR, INVLPG, INVD
//! WBINVD, SWAPGS, RDFSBASE RDGSBASE WRFSBASE WRGSBASE.
//!
//! The instructions that need CPL 0 raise #GP(0) above it (real mode runs at CPL 0). Writes
//! to CR0, CR3, CR4 and EFER are checked as the SDM's MOV CR and WRMSR pages describe,
//! including the rules of the mode switches: CR0.PG may be set with EFER.LME only when
//! CR4.PAE is set, which activates long mode (EFER.LMA); it may be cleared in long mode
//! only from compatibility mode, which deactivates it; EFER.LME cannot change while
//! paging is on; CR4.PAE cannot be cleared in long mode.
//!
//! The MSRs this CPU has (any other index is #GP(0)):
//!
//! | index | MSR | notes |
//! | --- | --- | --- |
//! | 10h | TSC | the deterministic counter RDTSC reads |
//! | 1Bh | APIC_BASE | reads FEE00100h (the bootstrap processor, APIC globally disabled: this machine has no local APIC); writes are #GP(0) |
//! | 174h–176h | SYSENTER_CS/ESP/EIP | ESP and EIP must be canonical |
//! | 277h | PAT | each byte a valid memory type |
//! | C000_0080h | EFER | SCE, LME, NXE writable; LMA read-only |
//! | C000_0081h–84h | STAR LSTAR CSTAR SFMASK | LSTAR/CSTAR canonical, SFMASK 32 bits |
//! | C000_0100h–102h | FS.base GS.base KERNEL_GS_BASE | canonical |
//! | C000_0103h | TSC_AUX | 32 bits |

use iced_x86::{Code, OpKind, Register};

use super::mmu::seg;
use super::operand::mask;
use super::transfer::canonical;
use super::{Cpu, Exc, X};
use crate::machine::Vector;
use crate::state::reg::{RAX, RCX, RDX};
use crate::state::{ctl, CpuMode, DescriptorTable};

/// CR4 bits this CPU implements: TSD, DE, PSE, PAE, PGE, FSGSBASE. Any other bit is
/// reserved (#GP on MOV CR4), as it is on a processor whose CPUID does not report the
/// feature.
pub(crate) const CR4_SUPPORTED: u64 =
    ctl::CR4_TSD | ctl::CR4_DE | ctl::CR4_PSE | ctl::CR4_PAE | ctl::CR4_PGE | ctl::CR4_FSGSBASE;

/// EFER bits software may write.
const EFER_WRITABLE: u64 = ctl::EFER_SCE | ctl::EFER_LME | ctl::EFER_NXE;

mod msr {
    pub const TSC: u32 = 0x10;
    pub const APIC_BASE: u32 = 0x1b;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const PAT: u32 = 0x277;
    pub const EFER: u32 = 0xc000_0080;
    pub const STAR: u32 = 0xc000_0081;
    pub const LSTAR: u32 = 0xc000_0082;
    pub const CSTAR: u32 = 0xc000_0083;
    pub const SFMASK: u32 = 0xc000_0084;
    pub const FS_BASE: u32 = 0xc000_0100;
    pub const GS_BASE: u32 = 0xc000_0101;
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
    pub const TSC_AUX: u32 = 0xc000_0103;
}

/// What APIC_BASE reads: base FEE00000h, BSP = 1, global enable = 0.
const APIC_BASE_VALUE: u64 = 0xfee0_0100;

impl Cpu {
    /// #GP(0) unless CPL = 0 (real mode is CPL 0).
    pub(crate) fn require_cpl0(&self) -> X {
        if self.s.cpl() != 0 {
            return Err(Exc::gp0());
        }
        Ok(())
    }

    /// LGDT and LIDT: limit and base from memory (24 bits of base with a 16-bit operand
    /// size, 32 bits with 32, 64 bits in 64-bit mode, where it must be canonical).
    pub(crate) fn load_descriptor_table(&mut self, idt: bool) -> X {
        self.require_memory(0)?;
        self.require_cpl0()?;
        let seg = self.mem_seg();
        let ea = self.effective_address();
        let limit = self.read_seg(seg, ea, 2)? as u16;
        let base_at = ea.wrapping_add(2) & mask(self.asz);
        let base = match self.i.code() {
            Code::Lgdt_m1664 | Code::Lidt_m1664 => {
                let b = self.read_seg(seg, base_at, 8)?;
                if !canonical(b) {
                    return Err(Exc::gp0());
                }
                b
            }
            Code::Lgdt_m1632_16 | Code::Lidt_m1632_16 => {
                self.read_seg(seg, base_at, 4)? & 0xff_ffff
            }
            _ => self.read_seg(seg, base_at, 4)?,
        };
        let t = DescriptorTable { base, limit };
        if idt {
            self.s.idtr = t;
        } else {
            self.s.gdtr = t;
        }
        Ok(())
    }

    /// SGDT and SIDT: limit, then a 32-bit base (64-bit in 64-bit mode). Not privileged.
    pub(crate) fn store_descriptor_table(&mut self, idt: bool) -> X {
        self.require_memory(0)?;
        let t = if idt { self.s.idtr } else { self.s.gdtr };
        let seg = self.mem_seg();
        let ea = self.effective_address();
        let base_size = if self.s.mode() == CpuMode::Long64 {
            8
        } else {
            4
        };
        // Check both parts before writing either.
        let lin = self.linear(seg, ea, 2 + base_size, super::mmu::Access::Write)?;
        self.probe_write(lin, 2 + base_size)?;
        self.write_seg(seg, ea, 2, u64::from(t.limit))?;
        self.write_seg(seg, ea.wrapping_add(2) & mask(self.asz), base_size, t.base)
    }

    /// The number of a control or debug register operand.
    fn sysreg_number(r: Register, first: Register) -> usize {
        r as usize - first as usize
    }

    /// MOV r, CRn / MOV CRn, r (CR0, CR2, CR3, CR4, CR8; any other is #UD).
    pub(crate) fn mov_cr(&mut self) -> X {
        let to_cr = matches!(self.i.code(), Code::Mov_cr_r32 | Code::Mov_cr_r64);
        let op_cr = if to_cr { 0 } else { 1 };
        let n = Self::sysreg_number(self.i.op_register(op_cr), Register::CR0);
        if !matches!(n, 0 | 2 | 3 | 4 | 8) || (n == 8 && self.s.mode() != CpuMode::Long64) {
            return Err(Exc::new(Vector::UD));
        }
        self.require_cpl0()?;
        let size = if self.bits == 64 { 8 } else { 4 };
        if !to_cr {
            let v = match n {
                0 => self.s.cr0,
                2 => self.s.cr2,
                3 => self.s.cr3,
                4 => self.s.cr4,
                _ => self.s.cr8,
            };
            return self.write_op(0, size, v & mask(size));
        }
        let v = self.read_op(1, size)?;
        match n {
            0 => self.write_cr0(v),
            2 => {
                self.s.cr2 = v;
                Ok(())
            }
            3 => self.write_cr3(v),
            4 => self.write_cr4(v),
            _ => {
                if v > 15 {
                    return Err(Exc::gp0());
                }
                self.s.cr8 = v;
                Ok(())
            }
        }
    }

    /// A CR0 write with the SDM's checks and the long-mode activation rules.
    pub(crate) fn write_cr0(&mut self, v: u64) -> X {
        let v = v | ctl::CR0_ET;
        if v >> 32 != 0
            || (v & ctl::CR0_PG != 0 && v & ctl::CR0_PE == 0)
            || (v & ctl::CR0_NW != 0 && v & ctl::CR0_CD == 0)
        {
            return Err(Exc::gp0());
        }
        let old = self.s.cr0;
        let old_efer = self.s.efer;
        let turning_on = old & ctl::CR0_PG == 0 && v & ctl::CR0_PG != 0;
        let turning_off = old & ctl::CR0_PG != 0 && v & ctl::CR0_PG == 0;
        if turning_on && self.s.efer & ctl::EFER_LME != 0 {
            if self.s.cr4 & ctl::CR4_PAE == 0 || self.s.cs.long() {
                return Err(Exc::gp0());
            }
            self.s.efer |= ctl::EFER_LMA;
        }
        if turning_off && self.s.efer & ctl::EFER_LMA != 0 {
            if self.s.mode() == CpuMode::Long64 {
                return Err(Exc::gp0());
            }
            self.s.efer &= !ctl::EFER_LMA;
        }
        self.s.cr0 = v;
        let cache_bits = ctl::CR0_PG | ctl::CR0_CD | ctl::CR0_NW;
        if self.pae_legacy_paging() && (old ^ v) & cache_bits != 0 {
            if let Err(e) = self.load_pdptes() {
                self.s.cr0 = old;
                self.s.efer = old_efer;
                return Err(e);
            }
        }
        if (old ^ v) & (ctl::CR0_PG | ctl::CR0_WP | ctl::CR0_PE) != 0 {
            self.tlb.flush_all();
        }
        Ok(())
    }

    fn write_cr3(&mut self, v: u64) -> X {
        let long = self.s.efer & ctl::EFER_LMA != 0;
        if long && v >> super::mmu::MAXPHYADDR != 0 {
            return Err(Exc::gp0());
        }
        let old = self.s.cr3;
        self.s.cr3 = if long { v } else { v & 0xffff_ffff };
        if self.pae_legacy_paging() {
            if let Err(e) = self.load_pdptes() {
                self.s.cr3 = old;
                return Err(e);
            }
        }
        self.tlb.flush_non_global();
        Ok(())
    }

    fn write_cr4(&mut self, v: u64) -> X {
        if v & !CR4_SUPPORTED != 0 {
            return Err(Exc::gp0());
        }
        if self.s.efer & ctl::EFER_LMA != 0 && v & ctl::CR4_PAE == 0 {
            return Err(Exc::gp0());
        }
        let old = self.s.cr4;
        self.s.cr4 = v;
        let paging_bits = ctl::CR4_PAE | ctl::CR4_PGE | ctl::CR4_PSE;
        if (old ^ v) & paging_bits != 0 {
            if self.pae_legacy_paging() {
                if let Err(e) = self.load_pdptes() {
                    self.s.cr4 = old;
                    return Err(e);
                }
            }
            self.tlb.flush_all();
        }
        if (old ^ v) & ctl::CR4_DE != 0 {
            self.recompute_breakpoints();
        }
        Ok(())
    }

    /// MOV r, DRn / MOV DRn, r. DR4 and DR5 alias DR6 and DR7 unless CR4.DE (then #UD);
    /// with DR7.GD set, any access is a #DB fault with DR6.BD.
    pub(crate) fn mov_dr(&mut self) -> X {
        let to_dr = matches!(self.i.code(), Code::Mov_dr_r32 | Code::Mov_dr_r64);
        let op_dr = if to_dr { 0 } else { 1 };
        let mut n = Self::sysreg_number(self.i.op_register(op_dr), Register::DR0);
        if n > 7 {
            return Err(Exc::new(Vector::UD));
        }
        if n == 4 || n == 5 {
            if self.s.cr4 & ctl::CR4_DE != 0 {
                return Err(Exc::new(Vector::UD));
            }
            n += 2;
        }
        self.require_cpl0()?;
        if self.s.debug.dr7 & (1 << 13) != 0 {
            self.s.debug.dr6 = (self.s.debug.dr6 & !0xf) | (1 << 13);
            return Err(Exc::new(Vector::DB));
        }
        let size = if self.bits == 64 { 8 } else { 4 };
        let d = &mut self.s.debug;
        if !to_dr {
            let v = match n {
                0 => d.dr0,
                1 => d.dr1,
                2 => d.dr2,
                3 => d.dr3,
                6 => d.dr6,
                _ => d.dr7,
            };
            return self.write_op(0, size, v & mask(size));
        }
        let v = self.read_op(1, size)?;
        if (n == 6 || n == 7) && v >> 32 != 0 {
            return Err(Exc::gp0());
        }
        let d = &mut self.s.debug;
        match n {
            0 => d.dr0 = v,
            1 => d.dr1 = v,
            2 => d.dr2 = v,
            3 => d.dr3 = v,
            // DR6: bits 4-11 and 16-31 read as 1, bit 12 as 0.
            6 => d.dr6 = (v & 0xe00f) | crate::state::DebugRegs::DR6_INIT,
            // DR7: bit 10 reads as 1; bits 11, 12, 14 and 15 as 0.
            _ => d.dr7 = (v & 0xffff_23ff) | crate::state::DebugRegs::DR7_INIT,
        }
        self.recompute_breakpoints();
        Ok(())
    }

    /// LMSW: loads CR0 bits 3:0 (PE, MP, EM, TS); it can set PE but not clear it.
    pub(crate) fn lmsw(&mut self) -> X {
        self.require_cpl0()?;
        let v = self.read_op(0, 2)?;
        let keep_pe = self.s.cr0 & ctl::CR0_PE;
        let cr0 = (self.s.cr0 & !0xf) | (v & 0xf) | keep_pe;
        self.write_cr0(cr0)
    }

    /// SMSW: CR0 into a register (operand size) or 16 bits of memory. Not privileged.
    pub(crate) fn smsw(&mut self) -> X {
        let size = if self.i.op_kind(0) == OpKind::Register {
            self.op_size(0)
        } else {
            2
        };
        self.write_op(0, size, self.s.cr0 & mask(size))
    }

    pub(crate) fn clts(&mut self) -> X {
        self.require_cpl0()?;
        self.s.cr0 &= !ctl::CR0_TS;
        Ok(())
    }

    /// INVD and WBINVD: there are no caches to flush; privileged.
    pub(crate) fn invd(&mut self) -> X {
        self.require_cpl0()
    }

    /// INVLPG m: drops the TLB entry of the page holding the linear address of m (global
    /// or not). It never faults on the address itself.
    pub(crate) fn invlpg(&mut self) -> X {
        self.require_memory(0)?;
        self.require_cpl0()?;
        let s = self.mem_seg();
        let ea = self.effective_address();
        let lin = match self.s.mode() {
            CpuMode::Long64 if s < seg::FS => ea,
            CpuMode::Long64 => self.s.seg(s).base.wrapping_add(ea),
            _ => self.s.seg(s).base.wrapping_add(ea) & 0xffff_ffff,
        };
        self.tlb.flush_page(lin);
        Ok(())
    }

    pub(crate) fn rdmsr(&mut self) -> X {
        self.require_cpl0()?;
        let index = self.reg(RCX, 4) as u32;
        let m = &self.s.msrs;
        let v = match index {
            msr::TSC => self.s.tsc,
            msr::APIC_BASE => APIC_BASE_VALUE,
            msr::SYSENTER_CS => m.sysenter_cs,
            msr::SYSENTER_ESP => m.sysenter_esp,
            msr::SYSENTER_EIP => m.sysenter_eip,
            msr::PAT => m.pat,
            msr::EFER => self.s.efer,
            msr::STAR => m.star,
            msr::LSTAR => m.lstar,
            msr::CSTAR => m.cstar,
            msr::SFMASK => m.sfmask,
            msr::FS_BASE => self.s.fs.base,
            msr::GS_BASE => self.s.gs.base,
            msr::KERNEL_GS_BASE => m.kernel_gs_base,
            msr::TSC_AUX => m.tsc_aux,
            _ => return Err(Exc::gp0()),
        };
        self.set_reg(RAX, 4, v & 0xffff_ffff);
        self.set_reg(RDX, 4, v >> 32);
        Ok(())
    }

    pub(crate) fn wrmsr(&mut self) -> X {
        self.require_cpl0()?;
        let index = self.reg(RCX, 4) as u32;
        let v = (self.reg(RDX, 4) << 32) | self.reg(RAX, 4);
        let need_canonical = matches!(
            index,
            msr::SYSENTER_ESP
                | msr::SYSENTER_EIP
                | msr::LSTAR
                | msr::CSTAR
                | msr::FS_BASE
                | msr::GS_BASE
                | msr::KERNEL_GS_BASE
        );
        if need_canonical && !canonical(v) {
            return Err(Exc::gp0());
        }
        let m = &mut self.s.msrs;
        match index {
            msr::TSC => self.s.tsc = v,
            msr::SYSENTER_CS => m.sysenter_cs = v & 0xffff_ffff,
            msr::SYSENTER_ESP => m.sysenter_esp = v,
            msr::SYSENTER_EIP => m.sysenter_eip = v,
            msr::PAT => {
                // Valid memory types: UC WC WT WP WB UC- (0, 1, 4, 5, 6, 7).
                if v.to_le_bytes().iter().any(|&t| t > 7 || t == 2 || t == 3) {
                    return Err(Exc::gp0());
                }
                m.pat = v;
            }
            msr::EFER => return self.write_efer(v),
            msr::STAR => m.star = v,
            msr::LSTAR => m.lstar = v,
            msr::CSTAR => m.cstar = v,
            msr::SFMASK if v >> 32 == 0 => m.sfmask = v,
            msr::FS_BASE => self.s.fs.base = v,
            msr::GS_BASE => self.s.gs.base = v,
            msr::KERNEL_GS_BASE => m.kernel_gs_base = v,
            msr::TSC_AUX if v >> 32 == 0 => m.tsc_aux = v,
            _ => return Err(Exc::gp0()),
        }
        Ok(())
    }

    fn write_efer(&mut self, v: u64) -> X {
        if v & !(EFER_WRITABLE | ctl::EFER_LMA) != 0 {
            return Err(Exc::gp0());
        }
        let old = self.s.efer;
        if self.s.cr0 & ctl::CR0_PG != 0 && (old ^ v) & ctl::EFER_LME != 0 {
            return Err(Exc::gp0());
        }
        self.s.efer = (v & EFER_WRITABLE) | (old & ctl::EFER_LMA);
        if (old ^ v) & ctl::EFER_NXE != 0 {
            self.tlb.flush_all();
        }
        Ok(())
    }

    /// SWAPGS: exchanges GS.base with KERNEL_GS_BASE; 64-bit mode, CPL 0.
    pub(crate) fn swapgs(&mut self) -> X {
        if self.s.mode() != CpuMode::Long64 {
            return Err(Exc::new(Vector::UD));
        }
        self.require_cpl0()?;
        std::mem::swap(&mut self.s.gs.base, &mut self.s.msrs.kernel_gs_base);
        Ok(())
    }

    /// RDFSBASE RDGSBASE WRFSBASE WRGSBASE: 64-bit mode with CR4.FSGSBASE, any CPL.
    pub(crate) fn fsgsbase(&mut self, write: bool, gs: bool) -> X {
        if self.s.mode() != CpuMode::Long64 || self.s.cr4 & ctl::CR4_FSGSBASE == 0 {
            return Err(Exc::new(Vector::UD));
        }
        let size = self.op_size(0);
        let s = if gs { seg::GS } else { seg::FS };
        if write {
            let v = self.read_op(0, size)?;
            if !canonical(v) {
                return Err(Exc::gp0());
            }
            self.s.seg_mut(s).base = v;
            Ok(())
        } else {
            let v = self.s.seg(s).base & mask(size);
            self.write_op(0, size, v)
        }
    }
}
