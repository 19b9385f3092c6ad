; return.asm -- into long mode and back out to real mode, in the order the
; SDM gives (Vol. 3A 10.8.5.4 "Leaving IA-32e mode", 10.9.2 "Switching Back
; to Real-Address Mode").
;
; 1. From 64-bit mode, a far jump through a m16:32 pointer to a 32-bit code
;    segment enters compatibility mode: EFER still reads 00000500 (LME, LMA).
; 2. Clearing CR0.PG there deactivates IA-32e mode: EFER.LMA clears, EFER
;    reads 00000100; the processor is in 32-bit protected mode.  (Clearing
;    PG in 64-bit mode itself would be #GP(0).)  Then EFER.LME is cleared.
; 3. A far jump to a 16-bit code segment (limit FFFFh), 16-bit data segments
;    in DS/ES/SS, then clearing CR0.PE and a far jump to real-mode code:
;    CR0 reads 00000010 (ET only); segments are base = selector * 16 again.
; 4. LIDT with the real-mode IVT (base 0, limit 3FFh) and an INT 42h through
;    an IVT entry the program writes.

%include "lib.inc"
%include "sys.inc"

main:   P "real mode", 10
        TO_LONG_MODE gdtr, 0x08, 0x10, 0x18, 3, lm64

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 08h code32
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 18h code64
        DESC 0, 0x0FFFF, 0x9A, 0x0      ; 20h code16, limit FFFFh
        DESC 0, 0x0FFFF, 0x92, 0x0      ; 28h data16, limit FFFFh
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
ivtr:   dw 0x3FF
        dd 0
farptr: dd compat32
        dw 0x08

        bits 64
lm64:   P64 "64-bit mode: EFER="
        mov ecx, 0xC0000080
        rdmsr
        call p64hex32
        P64 10
        jmp far dword [farptr]

        bits 32
compat32:
        P32 "compatibility mode: EFER="
        mov ecx, 0xC0000080
        rdmsr
        call p32hex
        P32 10
        mov eax, cr0
        btr eax, 31                     ; CR0.PG = 0: IA-32e mode off
        mov cr0, eax
        P32 "paging off: EFER="
        mov ecx, 0xC0000080
        rdmsr
        call p32hex
        xor eax, eax
        xor edx, edx
        wrmsr                           ; EFER.LME = 0
        mov cr4, eax
        mov cr3, eax
        P32 ", then "
        rdmsr
        call p32hex
        P32 ", CR0="
        mov eax, cr0
        call p32hex
        P32 10
        jmp 0x20:pm16

        bits 16
pm16:   mov ax, 0x28
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, cr0
        and al, 0xFE                    ; CR0.PE = 0
        mov cr0, eax
        jmp 0:real16

real16: xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        lidt [ivtr]
        P "back in real mode: CR0="
        mov eax, cr0
        call phex32
        P 10
        mov word [0x42*4], int42
        mov word [0x42*4+2], 0
        int 0x42
        P "INT 42h returned", 10
        EXIT

int42:  P "INT 42h through the IVT: CS="
        push ax
        mov ax, cs
        call phex16
        pop ax
        P 10
        iret

        IMAGE_END
