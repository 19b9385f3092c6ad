//! `CpuState` to and from KVM's register structures.
//!
//! The packed segment attributes of [`Segment`] (access byte and flags nibble, AMD's VMCB
//! layout) are unpacked into `kvm_segment`'s one-field-per-bit form and back. The
//! normalisations hardware needs:
//!
//! - A segment the guest cannot use (a null selector in protected mode, attributes 0 in
//!   x86lab's form) is `unusable = 1` for KVM; KVM reports unusable segments with P = 0,
//!   which reads back as "not present", the same thing.
//! - AMD hardware does not keep the G bit of the data segments it caches (KVM on AMD reports
//!   g = 0 with a scaled limit such as FFFFFFFFh). A limit above FFFFFh can only come from a
//!   descriptor with G = 1, so such a segment is reported with G set.
//! - The TSC is the IA32_TSC MSR on KVM; it counts time, not instructions, so it never
//!   matches the software CPU's and comparisons leave it out.

use kvm_bindings::{kvm_dtable, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs};
use x86lab_emulator::state::{attr, reg, Msrs};
use x86lab_emulator::{CpuState, DebugRegs, DescriptorTable, Segment};

/// The MSRs x86lab models, by index, in the order of [`msr_values`].
pub const MSR_INDICES: [u32; 11] = [
    0x10,        // TSC
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
    0x277,       // PAT
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0xc000_0102, // KERNEL_GS_BASE
    0xc000_0103, // TSC_AUX
];

/// The values of [`MSR_INDICES`] in a state.
pub fn msr_values(s: &CpuState) -> [u64; 11] {
    let m = &s.msrs;
    [
        s.tsc,
        m.sysenter_cs,
        m.sysenter_esp,
        m.sysenter_eip,
        m.pat,
        m.star,
        m.lstar,
        m.cstar,
        m.sfmask,
        m.kernel_gs_base,
        m.tsc_aux,
    ]
}

/// Puts MSR values read from KVM into a state.
pub fn set_msr(s: &mut CpuState, index: u32, data: u64) {
    let m: &mut Msrs = &mut s.msrs;
    match index {
        0x10 => s.tsc = data,
        0x174 => m.sysenter_cs = data,
        0x175 => m.sysenter_esp = data,
        0x176 => m.sysenter_eip = data,
        0x277 => m.pat = data,
        0xc000_0081 => m.star = data,
        0xc000_0082 => m.lstar = data,
        0xc000_0083 => m.cstar = data,
        0xc000_0084 => m.sfmask = data,
        0xc000_0102 => m.kernel_gs_base = data,
        0xc000_0103 => m.tsc_aux = data,
        _ => {}
    }
}

/// The MSR entries to write for a state.
pub fn msr_entries(s: &CpuState) -> Vec<kvm_msr_entry> {
    MSR_INDICES
        .iter()
        .zip(msr_values(s))
        .map(|(&index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect()
}

pub fn to_kvm_segment(s: &Segment) -> kvm_segment {
    let a = s.attributes;
    let bit = |b: u16| u8::from(a & b != 0);
    kvm_segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: (a & 0xf) as u8,
        present: bit(attr::P),
        dpl: s.dpl(),
        db: bit(attr::DB),
        s: bit(attr::S),
        l: bit(attr::L),
        g: bit(attr::G),
        avl: bit(attr::AVL),
        unusable: u8::from(!s.present()),
        padding: 0,
    }
}

pub fn from_kvm_segment(k: &kvm_segment) -> Segment {
    let flag = |v: u8, b: u16| if v != 0 { b } else { 0 };
    let present = k.present != 0 && k.unusable == 0;
    let g = k.g != 0 || k.limit > 0xf_ffff;
    let attributes = u16::from(k.type_ & 0xf)
        | flag(k.s, attr::S)
        | (u16::from(k.dpl & 3) << attr::DPL_SHIFT)
        | if present { attr::P } else { 0 }
        | flag(k.avl, attr::AVL)
        | flag(k.l, attr::L)
        | flag(k.db, attr::DB)
        | if g { attr::G } else { 0 };
    Segment {
        selector: k.selector,
        base: k.base,
        limit: k.limit,
        attributes,
    }
}

fn to_dtable(t: &DescriptorTable) -> kvm_dtable {
    kvm_dtable {
        base: t.base,
        limit: t.limit,
        ..Default::default()
    }
}

fn from_dtable(t: &kvm_dtable) -> DescriptorTable {
    DescriptorTable {
        base: t.base,
        limit: t.limit,
    }
}

pub fn to_kvm_regs(s: &CpuState) -> kvm_regs {
    let g = &s.gpr;
    kvm_regs {
        rax: g[reg::RAX],
        rbx: g[reg::RBX],
        rcx: g[reg::RCX],
        rdx: g[reg::RDX],
        rsi: g[reg::RSI],
        rdi: g[reg::RDI],
        rsp: g[reg::RSP],
        rbp: g[reg::RBP],
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
    }
}

pub fn from_kvm_regs(s: &mut CpuState, r: &kvm_regs) {
    s.gpr = [
        r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12,
        r.r13, r.r14, r.r15,
    ];
    s.rip = r.rip;
    s.rflags = r.rflags;
}

/// The sregs for a state; `apic_base` and the interrupt bitmap are kept from `current`.
pub fn to_kvm_sregs(s: &CpuState, current: &kvm_sregs) -> kvm_sregs {
    kvm_sregs {
        cs: to_kvm_segment(&s.cs),
        ds: to_kvm_segment(&s.ds),
        es: to_kvm_segment(&s.es),
        fs: to_kvm_segment(&s.fs),
        gs: to_kvm_segment(&s.gs),
        ss: to_kvm_segment(&s.ss),
        tr: to_kvm_segment(&s.tr),
        ldt: to_kvm_segment(&s.ldtr),
        gdt: to_dtable(&s.gdtr),
        idt: to_dtable(&s.idtr),
        cr0: s.cr0,
        cr2: s.cr2,
        cr3: s.cr3,
        cr4: s.cr4,
        cr8: s.cr8,
        efer: s.efer,
        apic_base: current.apic_base,
        interrupt_bitmap: current.interrupt_bitmap,
    }
}

pub fn from_kvm_sregs(s: &mut CpuState, k: &kvm_sregs) {
    s.cs = from_kvm_segment(&k.cs);
    s.ds = from_kvm_segment(&k.ds);
    s.es = from_kvm_segment(&k.es);
    s.fs = from_kvm_segment(&k.fs);
    s.gs = from_kvm_segment(&k.gs);
    s.ss = from_kvm_segment(&k.ss);
    s.tr = from_kvm_segment(&k.tr);
    s.ldtr = from_kvm_segment(&k.ldt);
    s.gdtr = from_dtable(&k.gdt);
    s.idtr = from_dtable(&k.idt);
    s.cr0 = k.cr0;
    s.cr2 = k.cr2;
    s.cr3 = k.cr3;
    s.cr4 = k.cr4;
    s.cr8 = k.cr8;
    s.efer = k.efer;
}

pub fn to_kvm_debugregs(d: &DebugRegs) -> kvm_bindings::kvm_debugregs {
    kvm_bindings::kvm_debugregs {
        db: [d.dr0, d.dr1, d.dr2, d.dr3],
        dr6: d.dr6,
        dr7: d.dr7,
        ..Default::default()
    }
}

pub fn from_kvm_debugregs(k: &kvm_bindings::kvm_debugregs) -> DebugRegs {
    DebugRegs {
        dr0: k.db[0],
        dr1: k.db[1],
        dr2: k.db[2],
        dr3: k.db[3],
        dr6: k.dr6,
        dr7: k.dr7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_through_kvm_form() {
        // A flat 64-bit code segment as a GDT entry 00AF9B00_0000FFFF describes it.
        let code = Segment {
            selector: 8,
            base: 0,
            limit: 0xffff_ffff,
            attributes: 0xa9b,
        };
        let k = to_kvm_segment(&code);
        assert_eq!(
            (k.type_, k.s, k.dpl, k.present, k.l, k.db, k.g),
            (0xb, 1, 0, 1, 1, 0, 1)
        );
        assert_eq!(k.unusable, 0);
        assert_eq!(from_kvm_segment(&k), code);
        // A null data segment is unusable, and comes back not present.
        let null = Segment::default();
        let k = to_kvm_segment(&null);
        assert_eq!(k.unusable, 1);
        assert!(!from_kvm_segment(&k).present());
    }

    #[test]
    fn a_large_limit_without_g_is_reported_with_g() {
        // What KVM on AMD returns for a flat data segment: g = 0, limit FFFFFFFFh.
        let k = kvm_segment {
            limit: 0xffff_ffff,
            type_: 3,
            s: 1,
            present: 1,
            db: 1,
            ..Default::default()
        };
        assert_eq!(from_kvm_segment(&k).attributes, 0xc93);
    }

    #[test]
    fn general_registers_keep_their_places() {
        let mut s = CpuState::real_mode(0, 0);
        for (i, g) in s.gpr.iter_mut().enumerate() {
            *g = 0x100 + i as u64;
        }
        let r = to_kvm_regs(&s);
        assert_eq!((r.rax, r.rcx, r.rsp, r.r15), (0x100, 0x101, 0x104, 0x10f));
        let mut back = CpuState::real_mode(0, 0);
        from_kvm_regs(&mut back, &r);
        assert_eq!(back.gpr, s.gpr);
    }

    #[test]
    fn msrs_round_trip() {
        let mut s = CpuState::real_mode(0, 0);
        s.msrs.lstar = 0xffff_8000_0000_1000;
        s.msrs.star = 0x0023_0010_0000_0000;
        s.tsc = 77;
        let mut back = CpuState::real_mode(0, 0);
        for e in msr_entries(&s) {
            set_msr(&mut back, e.index, e.data);
        }
        assert_eq!((back.msrs, back.tsc), (s.msrs, s.tsc));
    }
}
