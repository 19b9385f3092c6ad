; modes.asm -- from real mode through protected mode into long mode, with
; exceptions caught through the IDT on the way.
;
; What it prints, and why (SDM = Intel 64 and IA-32 Architectures Software
; Developer's Manual, Vol. 3A):
;
; 1. Protected mode (SDM 10.9.1 "Switching to Protected Mode": LGDT, set
;    CR0.PE, far JMP).  CR0 is written as 11h (PE, and ET, which reads as 1
;    on every processor since the 486) and read back as 00000011.
; 2. #DE through a 32-bit interrupt gate: DIV ECX with ECX = 0.  #DE is a
;    fault (SDM 6.15, "Interrupt 0"), so the saved EIP is the address of the
;    DIV itself; no error code; the saved CS is 0008.  The low 16 bits of
;    the saved EFLAGS are 0046 (ZF PF from XOR ECX,ECX, and bit 1).
;    The handler moves the saved EIP past the DIV and returns with IRETD.
; 3. Long mode (SDM 10.8.5 "Initializing IA-32e Mode"): CR4.PAE, CR3,
;    EFER.LME, then CR0.PG, which sets EFER.LMA: EFER reads 00000500 in
;    compatibility mode, before the far jump to a 64-bit code segment.
; 4. #PF, not present: the PTE of page 40000h is cleared; a read of 40123h
;    faults with CR2 = 40123h and error code 0 (P=0 not present, W/R=0 read,
;    U/S=0 supervisor; SDM 4.7).  The handler maps the page and returns; the
;    MOV restarts and reads the qword at 40123h: 0000001122334455.
; 5. #PF, protection: with CR0.WP = 1 a supervisor write to a read-only page
;    (PTE 41001h: P, not R/W) faults with error code 3 (P=1, W/R=1).
; 6. Accessed and dirty bits (SDM 4.8): afterwards PTE(40000h) = 40023h
;    (A set by the read) and PTE(41000h) = 41063h (A and D set by the write);
;    the PML4 entry has A set: 11023h.
; 7. #GP(0): a read through a non-canonical address (SDM 3.3.7.1) in 64-bit
;    mode; #GP(0080h): MOV DS with selector 80h, beyond the GDT limit (SDM
;    5.4.1 / MOV: "#GP(selector) if the segment selector index is outside the
;    descriptor table limits").  Faults: the saved RIP is the instruction.
; 8. INT 80h through a 64-bit interrupt gate: a software interrupt, so the
;    saved RIP is the next instruction; the handler returns EAX*6 = 2Ah.
; 9. A page remapped by editing its PTE and INVLPG (SDM 4.10.4.1): the
;    linear page 30000h shows the qword 1111h from 31000h, then 2222h from
;    32000h.
; 10. The final control registers: CR0 = 80010011h (PG WP ET PE), CR3 =
;    10000h, CR4 = 20h (PAE), EFER = 500h (LMA LME).

%include "lib.inc"
%include "sys.inc"

PML4    equ 0x10000
PDPT    equ 0x11000
PD      equ 0x12000
PT      equ 0x13000
IDT32   equ 0x14000
IDT64   equ 0x15000
STACK   equ 0x70000

main:   P "real mode", 10
        lgdt [gdtr]
        mov eax, 0x11                   ; PE | ET
        mov cr0, eax
        jmp 0x08:pm32

gdt:    dq 0                            ; 00h null
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 08h code, 32-bit, DPL 0
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data, flat
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 18h code, 64-bit (L=1)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr32: dw 256*8 - 1
        dd IDT32
idtr64: dw 256*16 - 1
        dq IDT64

        bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, STACK
        P32 "protected mode: CR0="
        mov eax, cr0
        call p32hex
        P32 10

        ; the 32-bit IDT: vector 0 -> de32 (interrupt gate, DPL 0)
        mov edi, IDT32
        xor eax, eax
        mov ecx, 512
        rep stosd
        mov eax, de32
        mov [IDT32], ax
        mov word [IDT32+2], 0x08
        mov word [IDT32+4], 0x8E00
        shr eax, 16
        mov [IDT32+6], ax
        lidt [idtr32]

        mov eax, 100
        xor edx, edx
        xor ecx, ecx
div_at: div ecx
after_div:
        P32 "back from the #DE handler", 10

        ; page tables: identity map of 0..2 MiB with 4 KiB pages
        mov edi, PML4
        xor eax, eax
        mov ecx, 4096
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD | 3
        mov dword [PD], PT | 3
        mov edi, PT
        mov eax, 3
        mov ecx, 512
.pt:    mov [edi], eax
        add eax, 0x1000
        add edi, 8
        loop .pt
        mov eax, 0x20                   ; CR4.PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080             ; EFER.LME
        mov eax, 0x100
        xor edx, edx
        wrmsr
        mov eax, cr0
        or eax, 0x80000000              ; CR0.PG: activates IA-32e mode
        mov cr0, eax
        P32 "compatibility mode: EFER="
        mov ecx, 0xC0000080
        rdmsr
        call p32hex
        P32 10
        jmp 0x18:lm64

de32:   P32 "#DE: vector 00, saved EIP="
        mov eax, [esp]
        call p32hex
        P32 " (the DIV is at "
        mov eax, div_at
        call p32hex
        P32 "), CS="
        movzx eax, word [esp+4]
        call p32hex
        P32 ", FLAGS="
        movzx eax, word [esp+8]
        call p32hex
        P32 10
        mov dword [esp], after_div
        iretd

        bits 64
lm64:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, STACK
        P64 "64-bit mode: CS="
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
        call set_gate
        mov edi, 0x80
        mov rsi, int80
        mov edx, 0xEE00                 ; DPL 3: usable from user mode too
        call set_gate
        lidt [idtr64]

        ; 4. #PF on a not-present page
        mov rax, 0x1122334455667788
        mov [0x40120], rax
        mov qword [PT + 0x40*8], 0
        invlpg [0x40000]
        mov rax, 0x40123
pf1_at: mov rbx, [rax]
        P64 "read after the fix: "
        mov rax, rbx
        call p64hex
        P64 10

        ; 5. #PF on a write to a read-only page, with CR0.WP
        mov rax, cr0
        bts rax, 16
        mov cr0, rax
        mov qword [PT + 0x41*8], 0x41001
        invlpg [0x41000]
pf2_at: mov byte [0x41010], 1

        ; 6. accessed and dirty bits
        P64 "PTE(40000)="
        mov rax, [PT + 0x40*8]
        call p64hex
        P64 " PTE(41000)="
        mov rax, [PT + 0x41*8]
        call p64hex
        P64 " PML4E(0)="
        mov rax, [PML4]
        call p64hex
        P64 10

        ; 7. #GP(0) on a non-canonical address, #GP(sel) beyond the GDT limit
        mov qword [resume], gp1_done
        mov rcx, 0x8000000000000000
gp1_at: mov rax, [rcx]
gp1_done:
        mov qword [resume], gp2_done
        mov ax, 0x80
gp2_at: mov ds, ax
gp2_done:

        ; 8. INT 80h
        mov eax, 7
        int 0x80
int_ret:
        P64 "INT 80h returned EAX="
        call p64hex32
        P64 10

        ; 9. remapping a page
        mov qword [0x31000], 0x1111
        mov qword [0x32000], 0x2222
        mov qword [PT + 0x30*8], 0x31003
        invlpg [0x30000]
        P64 "30000h -> 31000h: "
        mov rax, [0x30000]
        call p64hex
        mov qword [PT + 0x30*8], 0x32003
        invlpg [0x30000]
        P64 ", -> 32000h: "
        mov rax, [0x30000]
        call p64hex
        P64 10

        ; 10. the control registers
        P64 "CR0="
        mov rax, cr0
        call p64hex
        P64 " CR3="
        mov rax, cr3
        call p64hex
        P64 " CR4="
        mov rax, cr4
        call p64hex
        P64 " EFER="
        mov ecx, 0xC0000080
        rdmsr
        call p64hex32
        P64 10
        EXIT

        SET_GATE64 0x18

; #PF: print CR2, the error code and the saved RIP; map the page, retry.
pf64:   push rax
        push rdx
        P64 "#PF: CR2="
        mov rax, cr2
        call p64hex
        P64 " error code="
        mov rax, [rsp+16]
        call p64hex32
        P64 " at "
        mov rax, [rsp+24]
        call plabel
        P64 10
        mov rax, cr2
        shr rax, 12
        and eax, 0x1FF
        mov rdx, cr2
        and rdx, ~0xFFF
        or rdx, 3
        mov [PT + rax*8], rdx
        mov rax, cr2
        invlpg [rax]
        pop rdx
        pop rax
        add rsp, 8                      ; the error code
        iretq

; #GP: print the error code and the saved RIP; continue at [resume].
gp64:   push rax
        P64 "#GP: error code="
        mov rax, [rsp+8]
        call p64hex32
        P64 " at "
        mov rax, [rsp+16]
        call plabel
        P64 10
        mov rax, [resume]
        mov [rsp+16], rax
        pop rax
        add rsp, 8
        iretq

; INT 80h: print EAX and the return RIP; return EAX*6.
int80:  P64 "INT 80h: EAX="
        call p64hex32
        P64 ", returns to "
        push rax
        mov rax, [rsp+8]
        call plabel
        pop rax
        P64 10
        imul eax, eax, 6
        iretq

        PLABEL64

resume: dq 0
labels: dq pf1_at, n_pf1
        dq pf2_at, n_pf2
        dq gp1_at, n_gp1
        dq gp2_at, n_gp2
        dq int_ret, n_int
        dq 0, 0
n_pf1:  db "pf1_at", 0
n_pf2:  db "pf2_at", 0
n_gp1:  db "gp1_at", 0
n_gp2:  db "gp2_at", 0
n_int:  db "the instruction after INT", 0

        IMAGE_END
