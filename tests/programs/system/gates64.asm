; gates64.asm -- IA-32e mode beyond the basics: SGDT in 64-bit mode, SWAPGS,
; the FSGSBASE instructions, a CPL-3 program in compatibility mode, an
; interrupt from compatibility mode into a 64-bit handler, and a 64-bit call
; gate.
;
; (SDM = Intel SDM Vol. 3A; instruction pages in Vol. 2.)
;
; 1. SGDT in 64-bit mode stores the limit and a 64-bit base (10 bytes).
; 2. SWAPGS exchanges GS.base with IA32_KERNEL_GS_BASE: after writing
;    GS.base = 2222h and KERNEL_GS_BASE = 1111h, they read 1111h and 2222h.
; 3. With CR4.FSGSBASE (bit 16), WRFSBASE sets FS.base = 3000h: a dword
;    written at FS:10h lands at 3010h; RDFSBASE and RDMSR C0000100h read
;    3000h.
; 4. IRETQ to a 32-bit code segment with DPL 3 enters compatibility mode at
;    CPL 3 (CS = 002B).
; 5. INT 80h from compatibility mode goes through the 64-bit IDT (IA-32e
;    mode has only 64-bit gates, 6.14.1): the handler runs in 64-bit mode
;    on RSP0 = 80000h with a 64-bit frame: RSP = 80000h - 5*8 = 7FFD8h,
;    saved CS 002B, saved SS 0023.
; 6. A far CALL through a 64-bit call gate (DPL 3, to 08h:gate_target,
;    5.8.3.1 "IA-32e Mode Call Gates") from compatibility mode at CPL 3: the
;    stack switches to RSP0, SS is loaded with a null selector (RPL = the new
;    CPL 0), and SS, RSP, CS, RIP are pushed as 8-byte values: RSP =
;    80000h - 32 = 7FFE0h.  RETFQ (RETF with REX.W) pops them and returns to
;    compatibility mode at CPL 3.

%include "lib.inc"
%include "sys.inc"

IDT64   equ 0x15000
TSS     equ 0x16000

main:   P "real mode", 10
        TO_LONG_MODE gdtr, 0x18, 0x10, 0x08, 7, kernel

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 08h code64 DPL 0
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data DPL 0
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 18h code32 DPL 0 (the way in)
        DESC 0, 0xFFFFF, 0xF2, 0xC      ; 20h data DPL 3
        DESC 0, 0xFFFFF, 0xFA, 0xC      ; 28h code32 DPL 3 (compatibility)
        DESC TSS, 0x67, 0x89, 0x0       ; 30h 64-bit TSS
        dq 0
cgate:  dq 0, 0                         ; 40h 64-bit call gate (built below)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*16 - 1
        dq IDT64
gateptr: dd 0                           ; offset (ignored for a gate)
        dw 0x43                         ; the call gate, RPL 3

        bits 64
kernel: mov rsp, 0x70000
        ; 1. SGDT
        sgdt [0x5000]
        P64 "SGDT: limit="
        movzx eax, word [0x5000]
        call p64hex32
        P64 " base="
        mov rax, [0x5002]
        call p64hex
        P64 10

        ; 2. SWAPGS
        mov ecx, 0xC0000101             ; GS.base
        mov eax, 0x2222
        xor edx, edx
        wrmsr
        mov ecx, 0xC0000102             ; KERNEL_GS_BASE
        mov eax, 0x1111
        wrmsr
        swapgs
        P64 "after SWAPGS: GS.base="
        mov ecx, 0xC0000101
        rdmsr
        call p64hex32
        P64 " KERNEL_GS_BASE="
        mov ecx, 0xC0000102
        rdmsr
        call p64hex32
        P64 10

        ; 3. FSGSBASE
        mov rax, cr4
        bts rax, 16
        mov cr4, rax
        mov eax, 0x3000
        wrfsbase rax
        mov dword [fs:0x10], 0xABCD
        P64 "WRFSBASE 3000h: [3010h]="
        mov eax, [0x3010]
        call p64hex32
        P64 " RDFSBASE="
        rdfsbase rax
        call p64hex
        P64 " FS_BASE MSR="
        mov ecx, 0xC0000100
        rdmsr
        call p64hex32
        P64 10

        ; the TSS, the IDT and the call gate
        mov rdi, TSS
        xor eax, eax
        mov ecx, 0x68/4
        rep stosd
        mov qword [TSS+4], 0x80000
        mov word [TSS+0x66], 0x68
        mov ax, 0x30
        ltr ax
        mov rdi, IDT64
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov rax, int80
        mov rdi, IDT64 + 0x80*16
        mov [rdi], ax
        mov word [rdi+2], 0x08
        mov word [rdi+4], 0xEE00
        shr rax, 16
        mov [rdi+6], ax
        shr rax, 16
        mov [rdi+8], eax
        lidt [idtr]
        mov rax, gate_target
        mov [cgate], ax
        mov word [cgate+2], 0x08
        mov word [cgate+4], 0xEC00       ; P, DPL 3, type Ch
        shr rax, 16
        mov [cgate+6], ax
        shr rax, 16
        mov [cgate+8], eax

        ; 4. to compatibility mode at CPL 3
        push 0x23
        push 0x60000
        push 0x3002                     ; IOPL 3: the user code prints itself
        push 0x2B
        mov rax, user32
        push rax
        iretq

; INT 80h: report the 64-bit frame; EAX = 60 ends the program.
int80:  cmp eax, 60
        je .exit
        push rax
        P64 "INT 80h from compatibility mode: saved CS="
        mov rax, [rsp+16]
        call p64hex32
        P64 " SS="
        mov rax, [rsp+40]
        call p64hex32
        P64 " handler RSP="
        lea rax, [rsp+8]
        call p64hex
        P64 10
        pop rax
        iretq
.exit:  P64 "exit", 10
        EXIT

; The 64-bit call gate's target, at CPL 0.
gate_target:
        push rax
        P64 "call gate: CS="
        mov ax, cs
        movzx eax, ax
        call p64hex32
        P64 " SS="
        mov ax, ss
        movzx eax, ax
        call p64hex32
        P64 " RSP="
        lea rax, [rsp+8]
        call p64hex
        P64 " saved CS="
        mov rax, [rsp+16]
        call p64hex32
        P64 " saved SS="
        mov rax, [rsp+32]
        call p64hex32
        P64 10
        pop rax
        o64 retf

        bits 32
user32: mov ax, 0x23
        mov ds, ax
        mov es, ax
        P32 "compatibility mode, CPL 3: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 10
        mov eax, 1
        int 0x80
        call far [gateptr]
        P32 "back in compatibility mode: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 " SS="
        mov ax, ss
        movzx eax, ax
        call p32hex
        P32 10
        mov eax, 60
        int 0x80

        IMAGE_END
