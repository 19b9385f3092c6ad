//! The dispatch: one `match` from iced's mnemonic to the family that implements it.

use iced_x86::Mnemonic as M;

use super::arith::AluOp;
use super::shift::ShiftOp;
use super::{Cpu, X};
use crate::state::flags as fl;

/// Every mnemonic the software CPU executes (some in only some forms: MOVSD and CMPSD are
/// the string instructions, not SSE2's). The differential engine draws its instructions
/// from this list, and its report lists each; a test checks the list against
/// the dispatch below, form by form (tests/fuzz.rs).
pub const IMPLEMENTED: &[M] = &[
    M::Aaa,
    M::Aad,
    M::Aam,
    M::Aas,
    M::Adc,
    M::Adcx,
    M::Add,
    M::Adox,
    M::And,
    M::Andn,
    M::Arpl,
    M::Bextr,
    M::Blsi,
    M::Blsmsk,
    M::Blsr,
    M::Bsf,
    M::Bsr,
    M::Bswap,
    M::Bt,
    M::Btc,
    M::Btr,
    M::Bts,
    M::Bzhi,
    M::Call,
    M::Cbw,
    M::Cdq,
    M::Cdqe,
    M::Clc,
    M::Cld,
    M::Cli,
    M::Clts,
    M::Cmc,
    M::Cmova,
    M::Cmovae,
    M::Cmovb,
    M::Cmovbe,
    M::Cmove,
    M::Cmovg,
    M::Cmovge,
    M::Cmovl,
    M::Cmovle,
    M::Cmovne,
    M::Cmovno,
    M::Cmovnp,
    M::Cmovns,
    M::Cmovo,
    M::Cmovp,
    M::Cmovs,
    M::Cmp,
    M::Cmpsb,
    M::Cmpsd,
    M::Cmpsq,
    M::Cmpsw,
    M::Cmpxchg,
    M::Cmpxchg16b,
    M::Cmpxchg8b,
    M::Cpuid,
    M::Cqo,
    M::Cwd,
    M::Cwde,
    M::Daa,
    M::Das,
    M::Dec,
    M::Div,
    M::Endbr32,
    M::Endbr64,
    M::Enter,
    M::Hlt,
    M::Idiv,
    M::Imul,
    M::In,
    M::Inc,
    M::Insb,
    M::Insd,
    M::Insw,
    M::Int,
    M::Int1,
    M::Int3,
    M::Into,
    M::Invd,
    M::Invlpg,
    M::Iret,
    M::Iretd,
    M::Iretq,
    M::Ja,
    M::Jae,
    M::Jb,
    M::Jbe,
    M::Jcxz,
    M::Je,
    M::Jecxz,
    M::Jg,
    M::Jge,
    M::Jl,
    M::Jle,
    M::Jmp,
    M::Jne,
    M::Jno,
    M::Jnp,
    M::Jns,
    M::Jo,
    M::Jp,
    M::Jrcxz,
    M::Js,
    M::Lahf,
    M::Lar,
    M::Lds,
    M::Lea,
    M::Leave,
    M::Les,
    M::Lfence,
    M::Lfs,
    M::Lgdt,
    M::Lgs,
    M::Lidt,
    M::Lldt,
    M::Lmsw,
    M::Lodsb,
    M::Lodsd,
    M::Lodsq,
    M::Lodsw,
    M::Loop,
    M::Loope,
    M::Loopne,
    M::Lsl,
    M::Lss,
    M::Ltr,
    M::Lzcnt,
    M::Mfence,
    M::Mov,
    M::Movbe,
    M::Movsb,
    M::Movsd,
    M::Movsq,
    M::Movsw,
    M::Movsx,
    M::Movsxd,
    M::Movzx,
    M::Mul,
    M::Mulx,
    M::Neg,
    M::Nop,
    M::Not,
    M::Or,
    M::Out,
    M::Outsb,
    M::Outsd,
    M::Outsw,
    M::Pause,
    M::Pdep,
    M::Pext,
    M::Pop,
    M::Popa,
    M::Popad,
    M::Popcnt,
    M::Popf,
    M::Popfd,
    M::Popfq,
    M::Prefetch,
    M::Prefetchnta,
    M::Prefetcht0,
    M::Prefetcht1,
    M::Prefetcht2,
    M::Prefetchw,
    M::Push,
    M::Pusha,
    M::Pushad,
    M::Pushf,
    M::Pushfd,
    M::Pushfq,
    M::Rcl,
    M::Rcr,
    M::Rdfsbase,
    M::Rdgsbase,
    M::Rdmsr,
    M::Rdtsc,
    M::Rdtscp,
    M::Ret,
    M::Retf,
    M::Rol,
    M::Ror,
    M::Rorx,
    M::Sahf,
    M::Sal,
    M::Sar,
    M::Sarx,
    M::Sbb,
    M::Scasb,
    M::Scasd,
    M::Scasq,
    M::Scasw,
    M::Seta,
    M::Setae,
    M::Setb,
    M::Setbe,
    M::Sete,
    M::Setg,
    M::Setge,
    M::Setl,
    M::Setle,
    M::Setne,
    M::Setno,
    M::Setnp,
    M::Setns,
    M::Seto,
    M::Setp,
    M::Sets,
    M::Sfence,
    M::Sgdt,
    M::Shl,
    M::Shld,
    M::Shlx,
    M::Shr,
    M::Shrd,
    M::Shrx,
    M::Sidt,
    M::Sldt,
    M::Smsw,
    M::Stc,
    M::Std,
    M::Sti,
    M::Stosb,
    M::Stosd,
    M::Stosq,
    M::Stosw,
    M::Str,
    M::Sub,
    M::Swapgs,
    M::Syscall,
    M::Sysenter,
    M::Sysexit,
    M::Sysexitq,
    M::Sysret,
    M::Sysretq,
    M::Test,
    M::Tzcnt,
    M::Ud0,
    M::Ud1,
    M::Ud2,
    M::Verr,
    M::Verw,
    M::Wbinvd,
    M::Wrfsbase,
    M::Wrgsbase,
    M::Wrmsr,
    M::Xadd,
    M::Xchg,
    M::Xlatb,
    M::Xor,
];

impl Cpu {
    /// Executes the decoded instruction `self.i`. On success RIP points past it (or at the
    /// branch target); on error nothing the guest sees has changed except memory that an
    /// instruction wrote before a later part faulted, where the architecture allows it.
    pub(crate) fn execute(&mut self) -> X {
        // Most instructions continue at the next one; control transfers overwrite this.
        let next = self.i.next_ip() & self.ip_mask();
        let old_rip = self.s.rip;
        self.s.rip = next;
        let r = self.dispatch();
        if r.is_err() {
            self.s.rip = old_rip;
        }
        r
    }

    /// Whether the instruction's operands are those of a string instruction (ES:rDI and
    /// seg:rSI), as opposed to the SSE2 instructions that share the mnemonics MOVSD/CMPSD.
    fn is_string_form(&self) -> bool {
        use iced_x86::OpKind as K;
        matches!(
            self.i.op0_kind(),
            K::MemoryESDI
                | K::MemoryESEDI
                | K::MemoryESRDI
                | K::MemorySegSI
                | K::MemorySegESI
                | K::MemorySegRSI
        )
    }

    /// The mask of the instruction pointer in the current code size.
    pub(crate) fn ip_mask(&self) -> u64 {
        match self.bits {
            16 => 0xffff,
            32 => 0xffff_ffff,
            _ => u64::MAX,
        }
    }

    fn dispatch(&mut self) -> X {
        let m = self.i.mnemonic();
        match m {
            // arith
            M::Add => self.alu(AluOp::Add),
            M::Adc => self.alu(AluOp::Adc),
            M::Sub => self.alu(AluOp::Sub),
            M::Sbb => self.alu(AluOp::Sbb),
            M::Cmp => self.alu(AluOp::Cmp),
            M::And => self.alu(AluOp::And),
            M::Or => self.alu(AluOp::Or),
            M::Xor => self.alu(AluOp::Xor),
            M::Test => self.alu(AluOp::Test),
            M::Inc => self.inc_dec(true),
            M::Dec => self.inc_dec(false),
            M::Neg => self.neg(),
            M::Not => self.not(),
            M::Adcx => self.adcx_adox(fl::CF),
            M::Adox => self.adcx_adox(fl::OF),
            M::Andn => self.andn(),
            // shifts and rotates
            M::Shl | M::Sal => self.shift(ShiftOp::Shl),
            M::Shr => self.shift(ShiftOp::Shr),
            M::Sar => self.shift(ShiftOp::Sar),
            M::Rol => self.shift(ShiftOp::Rol),
            M::Ror => self.shift(ShiftOp::Ror),
            M::Rcl => self.shift(ShiftOp::Rcl),
            M::Rcr => self.shift(ShiftOp::Rcr),
            M::Shld => self.shld_shrd(true),
            M::Shrd => self.shld_shrd(false),
            M::Rorx => self.rorx(),
            M::Sarx | M::Shlx | M::Shrx => self.shift_bmi2(m),
            // bits
            M::Bt | M::Bts | M::Btr | M::Btc => self.bit_test(m),
            M::Bsf | M::Bsr => self.bit_scan(m == M::Bsf),
            M::Popcnt => self.popcnt(),
            M::Lzcnt | M::Tzcnt => self.count_zeros(m == M::Lzcnt),
            M::Bextr => self.bextr(),
            M::Blsi | M::Blsmsk | M::Blsr => self.bls(m),
            M::Bzhi => self.bzhi(),
            M::Pdep | M::Pext => self.pdep_pext(m == M::Pdep),
            // multiply and divide
            M::Mul => self.mul(),
            M::Imul => self.imul(),
            M::Div => self.div(false),
            M::Idiv => self.div(true),
            M::Mulx => self.mulx(),
            // decimal
            M::Daa => self.daa_das(true),
            M::Das => self.daa_das(false),
            M::Aaa => self.aaa_aas(true),
            M::Aas => self.aaa_aas(false),
            M::Aam => self.aam(),
            M::Aad => self.aad(),
            // data movement
            M::Mov => self.mov(),
            M::Movzx => self.movzx_movsx(false),
            M::Movsx | M::Movsxd => self.movzx_movsx(true),
            M::Lea => self.lea(),
            M::Xchg => self.xchg(),
            M::Cmpxchg => self.cmpxchg(),
            M::Cmpxchg8b | M::Cmpxchg16b => self.cmpxchg_double(),
            M::Xadd => self.xadd(),
            M::Bswap => self.bswap(),
            M::Movbe => self.movbe(),
            M::Cbw | M::Cwde | M::Cdqe => self.convert_widen(),
            M::Cwd | M::Cdq | M::Cqo => self.convert_split(),
            M::Xlatb => self.xlat(),
            M::Lahf => self.lahf(),
            M::Sahf => self.sahf(),
            M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg => self.cmovcc(),
            M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg => self.setcc(),
            M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => self.load_far_pointer(m),
            M::Pause if self.pause_xchg_size != 0 => self.pause_rex_b(),
            M::Nop | M::Pause | M::Endbr32 | M::Endbr64 | M::Lfence | M::Sfence | M::Mfence => {
                Ok(())
            }
            M::Prefetch
            | M::Prefetchnta
            | M::Prefetcht0
            | M::Prefetcht1
            | M::Prefetcht2
            | M::Prefetchw => Ok(()),
            // stack
            M::Push => self.push_op(),
            M::Pop => self.pop_op(),
            M::Pushf | M::Pushfd | M::Pushfq => self.pushf(),
            M::Popf | M::Popfd | M::Popfq => self.popf(),
            M::Pusha | M::Pushad => self.pusha(),
            M::Popa | M::Popad => self.popa(),
            M::Enter => self.enter(),
            M::Leave => self.leave(),
            // control flow
            M::Jmp => self.jmp(),
            M::Call => self.call(),
            M::Ret => self.ret_near(),
            M::Retf => self.ret_far(),
            M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg => self.jcc(),
            M::Jcxz | M::Jecxz | M::Jrcxz => self.jcxz(),
            M::Loop | M::Loope | M::Loopne => self.loop_(m),
            M::Int => self.int_n(),
            M::Int3 => self.int3(),
            M::Into => self.into(),
            M::Int1 => self.int1(),
            M::Iret | M::Iretd | M::Iretq => self.iret(),
            M::Ud0 | M::Ud1 | M::Ud2 => Err(super::Exc::new(crate::machine::Vector::UD)),
            // strings
            // iced-x86 names SSE2's MOVSD/CMPSD xmm forms like the string instructions:
            // only the forms with string operands are strings.
            M::Movsd | M::Cmpsd if !self.is_string_form() => Err(self.unimplemented("")),
            M::Movsb | M::Movsw | M::Movsd | M::Movsq => self.movs(),
            M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq => self.cmps(),
            M::Scasb | M::Scasw | M::Scasd | M::Scasq => self.scas(),
            M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq => self.lods(),
            M::Stosb | M::Stosw | M::Stosd | M::Stosq => self.stos(),
            M::Insb | M::Insw | M::Insd => self.ins(),
            M::Outsb | M::Outsw | M::Outsd => self.outs(),
            // system and flag control
            M::Hlt => self.hlt(),
            M::Clc => self.flag_op(fl::CF, Some(false)),
            M::Stc => self.flag_op(fl::CF, Some(true)),
            M::Cmc => self.flag_op(fl::CF, None),
            M::Cld => self.flag_op(fl::DF, Some(false)),
            M::Std => self.flag_op(fl::DF, Some(true)),
            M::Cli => self.cli_sti(false),
            M::Sti => self.cli_sti(true),
            M::In => self.in_(),
            M::Out => self.out(),
            M::Cpuid => self.cpuid_op(),
            M::Rdtsc => self.rdtsc(false),
            M::Rdtscp => self.rdtsc(true),
            // segmentation and protection
            M::Lldt => self.lldt(),
            M::Ltr => self.ltr(),
            M::Sldt => self.store_selector(self.s.ldtr.selector),
            M::Str => self.store_selector(self.s.tr.selector),
            M::Lar => self.lar_lsl(false),
            M::Lsl => self.lar_lsl(true),
            M::Verr => self.verr_verw(false),
            M::Verw => self.verr_verw(true),
            M::Arpl => self.arpl(),
            // privileged and system registers
            M::Lgdt => self.load_descriptor_table(false),
            M::Lidt => self.load_descriptor_table(true),
            M::Sgdt => self.store_descriptor_table(false),
            M::Sidt => self.store_descriptor_table(true),
            M::Lmsw => self.lmsw(),
            M::Smsw => self.smsw(),
            M::Clts => self.clts(),
            M::Rdmsr => self.rdmsr(),
            M::Wrmsr => self.wrmsr(),
            M::Invlpg => self.invlpg(),
            M::Invd | M::Wbinvd => self.invd(),
            M::Swapgs => self.swapgs(),
            M::Rdfsbase => self.fsgsbase(false, false),
            M::Rdgsbase => self.fsgsbase(false, true),
            M::Wrfsbase => self.fsgsbase(true, false),
            M::Wrgsbase => self.fsgsbase(true, true),
            // fast system calls
            M::Syscall => self.syscall(),
            M::Sysret | M::Sysretq => self.sysret(),
            M::Sysenter => self.sysenter(),
            M::Sysexit | M::Sysexitq => self.sysexit(),
            _ => Err(self.unimplemented("")),
        }
    }
}
