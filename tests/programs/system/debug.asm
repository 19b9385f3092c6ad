; debug.asm -- single-stepping with RFLAGS.TF, breakpoints in DR0-DR3,
; INT3, and general detect, in 64-bit mode (SDM Vol. 3B, chapter 19
; "Debug, Branch Profile, TSC, and Intel RDT Features", and 6.15).
;
; The #DB handler prints where it was entered (the saved RIP, as a label)
; and DR6, then clears DR6 (it then reads FFFF0FF0: bits 4-11 and 16-31
; read as 1).
;
; 1. TF: POPFQ sets TF.  The trap happens after each instruction that
;    *began* with TF = 1 (19.2.4 / "Single-step exception condition"), so
;    the first #DB follows the NOP after the POPFQ, not the POPFQ: saved RIP
;    = s1 (the INC).  DR6 = FFFF4FF0 (BS, bit 14).  After three steps the
;    handler clears TF in the saved RFLAGS.
; 2. MOV SS: "the processor inhibits ... debug exceptions ... until the
;    instruction boundary following the next instruction" (6.8.3): with TF
;    set, no #DB follows MOV SS; one follows the NOP after it (saved RIP
;    = m2), with BS.
; 3. An instruction breakpoint (DR0 = bp_target, DR7 = 1: L0, R/W0 = 00,
;    LEN0 = 00) is a fault (19.2.4): the saved RIP is bp_target itself,
;    DR6 = FFFF0FF1 (B0), and the saved RFLAGS has RF = 0 (6.13: for an
;    instruction breakpoint the processor pushes RF as it was).  The handler
;    sets RF in the saved RFLAGS so the instruction runs on return
;    ("Resume Flag"), and the instruction runs exactly once.
; 4. A data breakpoint (DR1 = var, R/W1 = 01 write, LEN1 = 11 four bytes)
;    is a trap: the #DB follows the write, saved RIP = w1 (the next
;    instruction), DR6 = FFFF0FF2 (B1).  A read of var does not trigger it.
; 5. INT3 is a trap through vector 3: the saved RIP is the next instruction.
;
; (General detect, DR7.GD, is tested in tests/system_programs.rs instead:
; QEMU does not implement it, so it cannot provide the expected output.)

%include "lib.inc"
%include "sys.inc"

IDT64   equ 0x15000

main:   P "real mode", 10
        TO_LONG_MODE gdtr, 0x18, 0x10, 0x08, 3, kernel

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 08h code64
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 18h code32 (the way in)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*16 - 1
        dq IDT64

        bits 64
kernel: mov rsp, 0x70000
        mov rdi, IDT64
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov edi, 1
        mov rsi, db64
        mov edx, 0x8E00
        call set_gate
        mov edi, 3
        mov rsi, bp64
        mov edx, 0x8E00
        call set_gate
        lidt [idtr]
        xor eax, eax
        mov dr6, rax
        P64 "DR6 after MOV DR6,0: "
        mov rax, dr6
        call p64hex
        P64 ", DR7: "
        mov rax, dr7
        call p64hex
        P64 10

        ; 1. single-stepping
        mov byte [mode], 1
        mov byte [steps], 3
        pushfq
        or qword [rsp], 0x100
        popfq
        nop
s1:     inc eax
s2:     inc eax
s3:     inc eax
s4:     P64 "stepped three times, EAX="
        call p64hex32
        P64 10

        ; 2. the MOV SS shadow
        mov byte [steps], 2
        mov ax, ss
        pushfq
        or qword [rsp], 0x100
        popfq
m0:     mov ss, ax
m1:     nop
m2:     nop
m3:     P64 "after MOV SS", 10

        ; 3. an instruction breakpoint
        mov byte [mode], 2
        mov rax, bp_target
        mov dr0, rax
        mov eax, 1
        mov dr7, rax
        xor ebx, ebx
bp_target:
        inc ebx
        xor eax, eax
        mov dr7, rax
        P64 "the breakpointed INC ran "
        mov eax, ebx
        call p64hex32
        P64 " time(s)", 10

        ; 4. a data breakpoint on writes
        mov byte [mode], 0
        mov rax, var
        mov dr1, rax
        mov eax, 0x00D00004             ; L1, R/W1 = 01, LEN1 = 11
        mov dr7, rax
        mov eax, [var]
r1:     mov dword [var], 5
w1:     xor eax, eax
        mov dr7, rax

        ; 5. INT3
        int3
i1:     P64 "done", 10
        EXIT

        SET_GATE64 0x08

; #DB: print the saved RIP, DR6 and the saved RF, then act by [mode]:
; 1 = count single steps and clear TF after [steps]; 2 = set RF to resume.
db64:   push rax
        P64 "#DB at "
        mov rax, [rsp+8]
        call plabel
        P64 " DR6="
        mov rax, dr6
        call p64hex
        P64 " RF="
        mov rax, [rsp+24]
        shr rax, 16
        and eax, 1
        call p64hex32
        P64 10
        xor eax, eax
        mov dr6, rax
        cmp byte [mode], 1
        jne .m2
        dec byte [steps]
        jnz .e
        and qword [rsp+24], ~0x100
        jmp .e
.m2:    cmp byte [mode], 2
        jne .e
        bts qword [rsp+24], 16
.e:     pop rax
        iretq

; #BP: print the saved RIP.
bp64:   push rax
        P64 "#BP at "
        mov rax, [rsp+8]
        call plabel
        P64 10
        pop rax
        iretq

        PLABEL64

mode:   db 0
steps:  db 0
        align 4
var:    dd 0
labels: dq s1, n_s1
        dq s2, n_s2
        dq s3, n_s3
        dq s4, n_s4
        dq m0, n_m0
        dq m1, n_m1
        dq m2, n_m2
        dq m3, n_m3
        dq bp_target, n_bp
        dq r1, n_r1
        dq w1, n_w1
        dq i1, n_i1
        dq 0, 0
n_s1:   db "s1", 0
n_s2:   db "s2", 0
n_s3:   db "s3", 0
n_s4:   db "s4", 0
n_m0:   db "m0", 0
n_m1:   db "m1", 0
n_m2:   db "m2", 0
n_m3:   db "m3", 0
n_bp:   db "bp_target", 0
n_r1:   db "r1", 0
n_w1:   db "w1", 0
n_i1:   db "i1", 0

        IMAGE_END
