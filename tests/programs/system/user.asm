; user.asm -- a small 64-bit kernel runs a user-mode (CPL 3) program that
; makes system calls with SYSCALL and INT 80h and tries privileged things.
;
; The kernel (SDM = Intel SDM Vol. 3A; Vol. 2 for instructions):
; - GDT: 08h kernel code64, 10h kernel data, 18h user code32, 20h user data,
;   28h user code64 (the order SYSCALL/SYSRET need: STAR[47:32] = 08h gives
;   CS = 08h, SS = 10h; STAR[63:48] = 18h gives, for SYSRET to 64-bit code,
;   CS = 18h+16 = 28h and SS = 18h+8 = 20h, both with RPL 3), 30h the 64-bit
;   TSS (16 bytes), 40h kernel code32 for the way in.
; - TSS at 16000h: RSP0 = 80000h, IST1 = 90000h, no I/O bitmap (its offset
;   68h is past the limit 67h).  LTR marks the descriptor busy: its access
;   byte reads 8Bh afterwards (was 89h; SDM 8.2.2).
; - IDT: #GP (13) interrupt gate on the RSP0 stack, #PF (14) on IST1, 80h an
;   interrupt gate with DPL 3 so that CPL 3 may use INT 80h (SDM 6.12.1.1).
; - Page tables: the first 2 MiB identity-mapped, every entry user (U/S=1)
;   except the page 50000h (supervisor only).
; - Enters user mode with IRETQ (SS=23h, RSP=60000h, RFLAGS=2, CS=2Bh).
;
; What the user program sees:
; - CS = 002B and SS = 0023 (RPL = CPL = 3).
; - SYSCALL (SDM Vol. 2 SYSCALL): RCX = the address of the next instruction,
;   R11 = RFLAGS = 3 (bit 1, and CF from STC), the kernel runs with CS = 08h;
;   SYSRETQ returns RAX = 100 and RFLAGS = R11, so CF is still 1.
; - INT 80h from CPL 3: the gate's DPL 3 allows it; the handler runs on the
;   RSP0 stack: RSP = 80000h - 5*8 = 7FFD8h (SS, RSP, RFLAGS, CS, RIP
;   pushed; 6.14.2 "64-Bit Mode Stack Frame"); saved CS = 002B.
; - CLI, HLT, MOV RAX,CR3, IN AL,60h and WRMSR at CPL 3 raise #GP(0) (CLI
;   and IN: CPL > IOPL = 0, the others: CPL > 0); MOV DS,10h raises
;   #GP(0010h) (the data segment's DPL 0 < CPL 3, SDM 5.7).  The #GP
;   handler runs with RSP = 80000h - 6*8 = 7FFD0h (the error code too).
; - A read of the supervisor page 50000h raises #PF with error code 5
;   (P=1, W/R=0, U/S=1); the handler runs on IST1: RSP = 90000h - 48 =
;   8FFD0h (6.14.5 "Interrupt Stack Table").
; - exit (system call 60): the kernel prints CS = 0008, SS = 0010, TR = 0030
;   and halts.

%include "lib.inc"
%include "sys.inc"

IDT64   equ 0x15000
TSS     equ 0x16000
PT      equ 0x13000

; UP "text" -- user mode: print through system call 1
%macro UP 1+
        jmp %%go
%%s:    db %1, 0
%%go:   lea rsi, [rel %%s]
        mov eax, 1
        syscall
%endmacro

; UHEX -- user mode: print RDI in hex through system call 3
%macro UHEX 0
        mov eax, 3
        syscall
%endmacro

main:   P "real mode", 10
        TO_LONG_MODE gdtr, 0x40, 0x10, 0x08, 7, kernel

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 08h kernel code64
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h kernel data
        DESC 0, 0xFFFFF, 0xFA, 0xC      ; 18h user code32
        DESC 0, 0xFFFFF, 0xF2, 0xC      ; 20h user data
        DESC 0, 0xFFFFF, 0xFA, 0xA      ; 28h user code64
        DESC TSS, 0x67, 0x89, 0x0       ; 30h 64-bit TSS, available
        dq 0                            ;     (base bits 63:32)
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 40h kernel code32
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*16 - 1
        dq IDT64

        bits 64
kernel: mov rsp, 0x70000
        P64 "kernel: CS="
        mov ax, cs
        movzx eax, ax
        call p64hex32
        P64 10

        mov rdi, IDT64
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov edi, 13
        mov rsi, gp64
        mov edx, 0x8E00
        call set_gate
        mov edi, 14
        mov rsi, pf64
        mov edx, 0x8E01                 ; IST1
        call set_gate
        mov edi, 0x80
        mov rsi, int80
        mov edx, 0xEE00                 ; DPL 3
        call set_gate
        lidt [idtr]

        mov rdi, TSS
        xor eax, eax
        mov ecx, 0x68/4
        rep stosd
        mov qword [TSS+4], 0x80000      ; RSP0
        mov qword [TSS+0x24], 0x90000   ; IST1
        mov word [TSS+0x66], 0x68       ; I/O map base: past the limit
        mov ax, 0x30
        ltr ax
        P64 "TR="
        str ax
        movzx eax, ax
        call p64hex32
        P64 ", TSS descriptor access byte="
        movzx eax, byte [gdt + 0x30 + 5]
        call p64hex32
        P64 10

        mov ecx, 0xC0000081             ; STAR
        xor eax, eax
        mov edx, 0x00180008
        wrmsr
        mov ecx, 0xC0000082             ; LSTAR
        mov rax, syscall_entry
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, 0xC0000084             ; SFMASK: clear IF and TF
        mov eax, 0x300
        xor edx, edx
        wrmsr
        mov ecx, 0xC0000080             ; EFER.SCE
        rdmsr
        or eax, 1
        wrmsr

        mov qword [PT + 0x50*8], 0x50003 ; the supervisor-only page
        invlpg [0x50000]

        push 0x23                       ; SS
        push 0x60000                    ; RSP
        push 0x2                        ; RFLAGS
        push 0x2B                       ; CS
        mov rax, user
        push rax                        ; RIP
        iretq

        SET_GATE64 0x08

; SYSCALL entry, still on the user stack (this kernel trusts its user).
; RAX = 1: print the string at RSI; 2: report RCX, R11, CS; 3: print RDI;
; 60: exit.  Returns with SYSRETQ (RAX = 100 for call 2).
syscall_entry:
        cmp eax, 1
        je .print
        cmp eax, 2
        je .info
        cmp eax, 3
        je .hex
        cmp eax, 60
        je .exit
        P64 "unknown system call", 10
        o64 sysret
.print: push rax
.pl:    lodsb
        test al, al
        jz .pe
        out 0xE9, al
        jmp .pl
.pe:    pop rax
        o64 sysret
.hex:   mov rax, rdi
        call p64hex32
        o64 sysret
.info:  P64 "SYSCALL: RCX="
        mov rax, rcx
        call plabel
        P64 " R11="
        mov rax, r11
        call p64hex
        P64 " CS="
        mov ax, cs
        movzx eax, ax
        call p64hex32
        P64 10
        mov eax, 100
        o64 sysret
.exit:  P64 "exit: CS="
        mov ax, cs
        movzx eax, ax
        call p64hex32
        P64 " SS="
        mov ax, ss
        movzx eax, ax
        call p64hex32
        P64 " TR="
        str ax
        movzx eax, ax
        call p64hex32
        P64 10
        EXIT

; INT 80h (DPL 3 gate): report the frame, return RAX*2.
int80:  push rax
        P64 "INT 80h: RAX="
        call p64hex32
        P64 " saved CS="
        mov rax, [rsp+16]
        call p64hex32
        P64 " saved RIP="
        mov rax, [rsp+8]
        call plabel
        P64 " handler RSP="
        lea rax, [rsp+8]
        call p64hex
        P64 10
        pop rax
        add eax, eax
        iretq

; #GP: report the error code and the frame, continue the user at [resume].
gp64:   push rax
        P64 "#GP("
        mov rax, [rsp+8]
        call p64hex32
        P64 ") CS="
        mov rax, [rsp+24]
        call p64hex32
        P64 " at "
        mov rax, [rsp+16]
        call plabel
        P64 " handler RSP="
        lea rax, [rsp+8]
        call p64hex
        P64 10
        mov rax, [resume]
        mov [rsp+16], rax
        pop rax
        add rsp, 8
        iretq

; #PF (IST1): report CR2, the error code and the frame, continue at [resume].
pf64:   push rax
        P64 "#PF("
        mov rax, [rsp+8]
        call p64hex32
        P64 ") CR2="
        mov rax, cr2
        call p64hex
        P64 " at "
        mov rax, [rsp+16]
        call plabel
        P64 " handler RSP="
        lea rax, [rsp+8]
        call p64hex
        P64 10
        mov rax, [resume]
        mov [rsp+16], rax
        pop rax
        add rsp, 8
        iretq

        PLABEL64

; ---- the user program (CPL 3) ----
user:   UP "user mode: CS="
        mov ax, cs
        movzx edi, ax
        UHEX
        UP " SS="
        mov ax, ss
        movzx edi, ax
        UHEX
        UP 10
        stc
        mov eax, 2
        syscall
after_syscall:
        setc bl
        movzx r12d, bl
        mov r13, rax
        UP "SYSCALL returned RAX="
        mov rdi, r13
        UHEX
        UP ", CF="
        mov rdi, r12
        UHEX
        UP 10
        mov eax, 21
        int 0x80
after_int:
        mov r13, rax
        UP "INT 80h returned RAX="
        mov rdi, r13
        UHEX
        UP 10
        mov qword [resume], r1
f_cli:  cli
r1:     mov qword [resume], r2
f_hlt:  hlt
r2:     mov qword [resume], r3
f_cr3:  mov rax, cr3
r3:     mov qword [resume], r4
        mov ax, 0x10
f_ds:   mov ds, ax
r4:     mov qword [resume], r5
f_in:   in al, 0x60
r5:     mov qword [resume], r6
f_wrmsr:
        wrmsr
r6:     mov qword [resume], r7
f_kread:
        mov rax, [0x50000]
r7:     mov eax, 60
        syscall

resume: dq 0
labels: dq after_syscall, n_after_syscall
        dq after_int, n_after_int
        dq f_cli, n_cli
        dq f_hlt, n_hlt
        dq f_cr3, n_cr3
        dq f_ds, n_ds
        dq f_in, n_in
        dq f_wrmsr, n_wrmsr
        dq f_kread, n_kread
        dq 0, 0
n_after_syscall: db "the instruction after SYSCALL", 0
n_after_int:    db "the instruction after INT 80h", 0
n_cli:  db "CLI", 0
n_hlt:  db "HLT", 0
n_cr3:  db "MOV RAX,CR3", 0
n_ds:   db "MOV DS,AX", 0
n_in:   db "IN AL,60h", 0
n_wrmsr: db "WRMSR", 0
n_kread: db "MOV RAX,[50000h]", 0

        IMAGE_END
