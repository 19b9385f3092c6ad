; descriptors.asm -- the rest of the 32-bit system instructions: SGDT/SIDT,
; LLDT/SLDT and a segment from the LDT, LTR/STR, LMSW/SMSW/CLTS, ARPL, and
; the TSS I/O permission bitmap at CPL 3.
;
; (SDM = Intel SDM Vol. 3A; instruction pages in Vol. 2.)
;
; 1. SGDT and SIDT store the 16-bit limit and the 32-bit base (SGDT: "If
;    the operand-size attribute is 16 or 32 bits, the 16-bit limit field of
;    the register is loaded into the low word of the destination operand,
;    and the 32-bit base address into the high doubleword").
; 2. SMSW reads CR0's low word: 0011h after MOV CR0 with 11h.  LMSW loads
;    PE, MP, EM and TS: LMSW 000Fh gives 001Fh; LMSW 0 cannot clear PE
;    (LMSW: "cannot be used to clear the PE flag"): 0011h.  LMSW 0009h sets
;    TS; CLTS clears it again: 0011h.
; 3. ARPL 0010h, 0003h raises the RPL to 3: 0013h and ZF = 1; a second ARPL
;    changes nothing: ZF = 0.
; 4. LLDT with the GDT's LDT descriptor 30h; SLDT reads 0030h.  Selector
;    000Ch (index 1, TI = 1) names the LDT's data segment with base 50000h:
;    a dword written at FS:10h appears at linear 50010h.
; 5. LTR 28h; STR reads 0028h.  The TSS has an I/O permission bitmap at 68h
;    denying every port but E9h.  At CPL 3 with IOPL 0 (so CPL > IOPL and
;    the bitmap decides, 20.5.2 "I/O Permission Bit Map"), OUT E9h works -
;    the ring-3 code prints its own line - and IN AL,80h is #GP(0).

%include "lib.inc"
%include "sys.inc"

IDT32   equ 0x14000
TSS     equ 0x16000                     ; 68h bytes, then the 2001h-byte bitmap
LDT     equ 0x19000

main:   P "real mode", 10
        TO_PROTECTED_MODE gdtr, 0x08, 0x10, pm32

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 08h code DPL 0
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data DPL 0
        DESC 0, 0xFFFFF, 0xFA, 0xC      ; 18h code DPL 3
        DESC 0, 0xFFFFF, 0xF2, 0xC      ; 20h data DPL 3
        DESC TSS, 0x68 + 0x2000, 0x89, 0x0 ; 28h TSS with the I/O bitmap
        DESC LDT, 0x17, 0x82, 0x0       ; 30h LDT, 3 entries
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*8 - 1
        dd IDT32
ldt:    dq 0                            ; LDT 0
        DESC 0x50000, 0xFFFF, 0x92, 0x0 ; LDT 1 (selector 0Ch): data at 50000h
        dq 0

        bits 32
pm32:
        mov edi, IDT32
        xor eax, eax
        mov ecx, 512
        rep stosd
        mov eax, gp32
        mov edi, IDT32 + 13*8
        mov edx, 0x8E00
        call gate32
        mov eax, int80
        mov edi, IDT32 + 0x80*8
        mov edx, 0xEE00
        call gate32
        lidt [idtr]

        ; 1. SGDT SIDT
        sgdt [0x5000]
        sidt [0x5008]
        P32 "SGDT: limit="
        movzx eax, word [0x5000]
        call p32hex
        P32 " base="
        mov eax, [0x5002]
        call p32hex
        P32 ", SIDT: limit="
        movzx eax, word [0x5008]
        call p32hex
        P32 " base="
        mov eax, [0x500A]
        call p32hex
        P32 10

        ; 2. SMSW LMSW CLTS
        P32 "SMSW: "
        smsw ax
        call pax
        mov ax, 0x000F
        lmsw ax
        P32 ", after LMSW 000Fh: "
        smsw ax
        call pax
        xor eax, eax
        lmsw ax
        P32 ", after LMSW 0: "
        smsw ax
        call pax
        mov ax, 0x0009
        lmsw ax
        P32 ", TS set: "
        smsw ax
        call pax
        clts
        P32 ", after CLTS: "
        smsw ax
        call pax
        P32 10

        ; 3. ARPL
        mov ax, 0x0010
        mov bx, 0x0003
        arpl ax, bx
        P32 "ARPL: "
        call pax
        call pzf
        arpl ax, bx
        P32 ", again: "
        call pax
        call pzf
        P32 10

        ; 4. the LDT
        mov esi, ldt
        mov edi, LDT
        mov ecx, 6
        rep movsd
        mov ax, 0x30
        lldt ax
        sldt ax
        P32 "SLDT: "
        call pax
        mov ax, 0x0C
        mov fs, ax
        mov dword [fs:0x10], 0x12345678
        P32 ", linear 50010h: "
        mov eax, [0x50010]
        call p32hex
        P32 10

        ; 5. the TSS, its I/O bitmap, and CPL 3
        mov edi, TSS
        xor eax, eax
        mov ecx, 0x68/4
        rep stosd
        mov dword [TSS+4], 0x80000
        mov word [TSS+8], 0x10
        mov word [TSS+0x66], 0x68
        mov edi, TSS + 0x68
        mov al, 0xFF
        mov ecx, 0x2001
        rep stosb
        and byte [TSS + 0x68 + 0xE9/8], ~(1 << (0xE9 % 8))
        mov ax, 0x28
        ltr ax
        str ax
        P32 "STR: "
        call pax
        P32 10
        push 0x23
        push 0x60000
        push 0x0002                     ; IOPL 0
        push 0x1B
        push ring3
        iretd

gate32: mov [edi], ax
        mov word [edi+2], 0x08
        mov [edi+4], dx
        shr eax, 16
        mov [edi+6], ax
        ret

; pax: print AX as 4 hex digits; pzf: print " ZF=" and ZF (both keep the flags)
pax:    pushfd
        push eax
        push ecx
        shl eax, 16
        mov ecx, 4
.l:     rol eax, 4
        push eax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .o
        add al, 'A'-'9'-1
.o:     out 0xE9, al
        pop eax
        loop .l
        pop ecx
        pop eax
        popfd
        ret
pzf:    pushfd
        push eax
        P32 " ZF="
        mov eax, [esp+4]
        shr eax, 6
        and eax, 1
        add al, '0'
        out 0xE9, al
        pop eax
        popfd
        ret

gp32:   push ds
        push eax
        mov ax, 0x10
        mov ds, ax
        P32 "#GP("
        mov eax, [esp+8]
        call p32hex
        P32 ") from CS="
        mov eax, [esp+16]
        call p32hex
        P32 10
        mov eax, [resume]
        mov [esp+12], eax
        pop eax
        pop ds
        add esp, 4
        iretd

int80:  mov ax, 0x10
        mov ds, ax
        P32 "back in the kernel", 10
        EXIT

ring3:  mov ax, 0x23
        mov ds, ax
        mov es, ax
        P32 "ring 3 prints through the I/O bitmap", 10
        mov dword [resume], .r
        in al, 0x80
.r:     int 0x80

resume: dd 0

        IMAGE_END
