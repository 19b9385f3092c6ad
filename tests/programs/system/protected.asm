; protected.asm -- 32-bit protected mode without paging: descriptor checks,
; a ring-3 program, a call gate with parameters, INT 80h through a trap gate
; with the TSS stack switch, SYSENTER/SYSEXIT, and the segment registers a
; return to an outer privilege level nulls.
;
; (SDM = Intel SDM Vol. 3A; instruction pages in Vol. 2.)
;
; GDT: 08h code DPL 0, 10h data DPL 0, 18h code DPL 3, 20h data DPL 3 (so
; that SYSENTER_CS = 08h gives SS 10h, and SYSEXIT CS 18h|3, SS 20h|3),
; 28h 32-bit TSS at 16000h (ESP0 = 80000h, SS0 = 10h), 30h a 32-bit call
; gate, DPL 3, 2 parameters, to 08h:gate_target, 38h an expand-down data
; segment (limit FFFh, B = 0: valid offsets 1000h..FFFFh), 40h a read-only
; data segment.
;
; 1. LAR/LSL/VERR/VERW (Vol. 2): LAR 10h gives ZF=1 and the access rights
;    00C09300h (the second descriptor dword AND 00F0FF00h: G, D/B, P, S,
;    type 3 with the accessed bit set by the earlier load; bits 19:16 are
;    undefined, "00FxFF00h": the processor returns the limit's bits there,
;    QEMU zeros, so the program clears them before printing); LSL 10h gives
;    FFFFFFFFh (limit FFFFFh, G = 1); LSL 28h (the TSS) 67h; LAR 30h (a call
;    gate, valid for LAR) 0000EC00h; LSL 30h ZF=0 (gates have no limit);
;    VERR 40h ZF=1, VERW 40h ZF=0 (read-only), VERW 10h ZF=1; LAR 1000h
;    (beyond the GDT limit) ZF=0.
; 2. MOV SS with the read-only data selector 40h is #GP(0040h) (MOV: "If
;    the SS register is being loaded and the segment is a nonwritable data
;    segment").  (The limit checks of data accesses, e.g. through the
;    expand-down segment 38h, are tested in tests/system.rs: QEMU does not
;    check segment limits or the null selector on data accesses, so it
;    cannot provide their expected output.  For the same reason every
;    handler here loads its own DS, as a real kernel must.)
; 3. IRETD to ring 3 (EFLAGS image 3002h: IOPL 3, so the ring-3 code may
;    print with OUT): DS, ES, FS and GS held DPL-0 segments, which CPL 3 may
;    not use, so IRET loads them with null (IRET pseudocode, "RETURN-TO-
;    OUTER-PRIVILEGE-LEVEL"): the program sees 0000 in all four.
; 4. INT 80h from ring 3 through a trap gate with DPL 3: the stack switches
;    to SS0:ESP0 from the TSS; SS, ESP, EFLAGS, CS, EIP are pushed (6.12.1):
;    the handler runs with ESP = 80000h - 20 = 7FFECh and sees the saved
;    CS 001B and SS 0023.
; 5. CALL FAR through the call gate (5.8.5): the two dword parameters the
;    caller pushed (1111h, then 2222h) are copied to the inner stack, which
;    then holds, from ESP up: EIP, CS, 2222h, 1111h, ESP, SS; ESP = 80000h -
;    24 = 7FFE8h.  The target loads DS with the DPL-0 data segment and
;    returns with RETF 8, which releases the parameters on both stacks and,
;    returning to an outer level, nulls DS again: the caller sees DS = 0000
;    and the same ESP as before it pushed the parameters.
; 6. INT 20h from ring 3 where the gate's DPL is 0: #GP with error code
;    20h*8 + 2 (IDT) = 0102h (6.12.1.1).
; 7. SYSENTER from ring 3: CS = 08h, SS = 10h, ESP = SYSENTER_ESP = 88000h;
;    SYSEXIT returns to CS 001B, SS 0023 with ESP = ECX, EIP = EDX.

%include "lib.inc"
%include "sys.inc"

IDT32   equ 0x14000
TSS     equ 0x16000

main:   P "real mode", 10
        TO_PROTECTED_MODE gdtr, 0x08, 0x10, pm32

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 08h code DPL 0
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data DPL 0
        DESC 0, 0xFFFFF, 0xFA, 0xC      ; 18h code DPL 3
        DESC 0, 0xFFFFF, 0xF2, 0xC      ; 20h data DPL 3
        DESC TSS, 0x67, 0x89, 0x0       ; 28h 32-bit TSS
gate:   dq 0                            ; 30h call gate (written at run time)
        DESC 0, 0x00FFF, 0x96, 0x0      ; 38h data, expand-down, B = 0
        DESC 0, 0xFFFFF, 0x90, 0xC      ; 40h data, read-only
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256*8 - 1
        dd IDT32

        bits 32
pm32:
        P32 "protected mode", 10

        ; the call gate: 08h:gate_target, P, DPL 3, type Ch, 2 parameters
        mov eax, gate_target
        mov [gate], ax
        mov word [gate+2], 0x08
        mov byte [gate+4], 2
        mov byte [gate+5], 0xEC
        shr eax, 16
        mov [gate+6], ax

        ; the IDT: #GP -> gp32, INT 80h -> int80 (trap gate, DPL 3),
        ; INT 20h -> int80 (interrupt gate, DPL 0)
        mov edi, IDT32
        xor eax, eax
        mov ecx, 512
        rep stosd
        mov eax, gp32
        mov edi, 13
        mov edx, 0x8E00
        call set_gate
        mov eax, int80
        mov edi, 0x80
        mov edx, 0xEF00
        call set_gate
        mov edi, 0x20
        mov edx, 0x8E00
        call set_gate
        lidt [idtr]

        ; 1. LAR LSL VERR VERW
        P32 "LAR 10h: "
        mov eax, 0xDEADBEEF
        mov bx, 0x10
        lar eax, bx
        pushf
        and eax, 0xFFF0FFFF             ; bits 19:16 undefined (see above)
        popf
        call zf_eax
        P32 "LSL 10h: "
        lsl eax, bx
        call zf_eax
        P32 "LSL 28h: "
        mov bx, 0x28
        lsl eax, bx
        call zf_eax
        P32 "LAR 30h: "
        mov bx, 0x30
        lar eax, bx
        call zf_eax
        P32 "LSL 30h: "
        mov eax, 0x12345678
        lsl eax, bx
        call zf_eax
        P32 "VERR 40h: "
        mov bx, 0x40
        verr bx
        call zf
        P32 ", VERW 40h: "
        verw bx
        call zf
        P32 ", VERW 10h: "
        mov bx, 0x10
        verw bx
        call zf
        P32 ", LAR 1000h: "
        mov bx, 0x1000
        lar eax, bx
        call zf
        P32 10

        ; 2. MOV SS with a read-only data segment
        mov ax, 0x40
        mov dword [resume], r_ro2
f_ro2:  mov ss, ax
r_ro2:
        ; 3. to ring 3
        mov edi, TSS
        xor eax, eax
        mov ecx, 0x68/4
        rep stosd
        mov dword [TSS+4], 0x80000      ; ESP0
        mov word [TSS+8], 0x10          ; SS0
        mov word [TSS+0x66], 0x68       ; no I/O bitmap
        mov ax, 0x28
        ltr ax
        mov ecx, 0x174                  ; SYSENTER_CS, _ESP, _EIP
        mov eax, 0x08
        xor edx, edx
        wrmsr
        inc ecx
        mov eax, 0x88000
        wrmsr
        inc ecx
        mov eax, sysenter_target
        wrmsr
        push 0x23
        push 0x70000
        push 0x3002
        push 0x1B
        push user
        iretd

; zf_eax / zf: print ZF (and EAX), newline only after zf_eax
zf_eax: pushfd
        call zf
        P32 " EAX="
        call p32hex
        P32 10
        popfd
        ret
zf:     pushfd
        push eax
        P32 "ZF="
        mov eax, [esp+4]
        shr eax, 6
        and eax, 1
        add al, '0'
        out 0xE9, al
        pop eax
        popfd
        ret

; set_gate: IDT32 entry EDI -> handler EAX, type/attribute word EDX
set_gate:
        push eax
        lea edi, [IDT32 + edi*8]
        mov [edi], ax
        mov word [edi+2], 0x08
        mov [edi+4], dx
        shr eax, 16
        mov [edi+6], ax
        pop eax
        ret

; #GP: print the error code and where, continue at [resume].
gp32:   push ds
        push eax
        mov ax, 0x10
        mov ds, ax
        P32 "#GP("
        mov eax, [esp+8]
        call p32hex
        P32 ") at "
        mov eax, [esp+12]
        call plabel
        P32 " CS="
        mov eax, [esp+16]
        call p32hex
        P32 10
        mov eax, [resume]
        mov [esp+12], eax
        pop eax
        pop ds
        add esp, 4
        iretd

; INT 80h (trap gate, DPL 3): report the frame, return EAX*3.
int80:  push ds
        push eax
        mov ax, 0x10
        mov ds, ax
        P32 "INT 80h: ESP="
        lea eax, [esp+8]
        call p32hex
        P32 " saved CS="
        mov eax, [esp+12]
        call p32hex
        P32 " SS="
        mov eax, [esp+24]
        call p32hex
        P32 10
        pop eax
        pop ds
        imul eax, eax, 3
        iretd

; The call gate's target (CPL 0): report the frame, return with RETF 8.
gate_target:
        push eax
        mov ax, 0x10
        mov ds, ax
        P32 "call gate: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 " SS="
        mov ax, ss
        movzx eax, ax
        call p32hex
        P32 " ESP="
        lea eax, [esp+4]
        call p32hex
        P32 " parameters "
        mov eax, [esp+12]
        call p32hex
        P32 " "
        mov eax, [esp+16]
        call p32hex
        P32 " caller "
        mov eax, [esp+8]
        call p32hex
        P32 ":"
        mov eax, [esp+4]
        call plabel
        P32 10
        pop eax
        retf 8

; SYSENTER target (CPL 0): EAX = 60 ends the program, otherwise report and
; return with SYSEXIT (ECX and EDX set by the caller).
sysenter_target:
        push ds
        push eax
        mov ax, 0x10
        mov ds, ax
        cmp dword [esp], 60
        je .exit
        P32 "SYSENTER: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 " SS="
        mov ax, ss
        movzx eax, ax
        call p32hex
        P32 " ESP="
        lea eax, [esp+8]
        call p32hex
        P32 10
        pop eax
        pop ds
        sysexit
.exit:  P32 "exit", 10
        EXIT

        PLABEL32

; ---- ring 3 ----
user:   mov ax, ds
        movzx ebx, ax
        mov ax, es
        movzx ecx, ax
        mov ax, fs
        movzx edx, ax
        mov ax, gs
        movzx esi, ax
        mov ax, 0x23
        mov ds, ax
        mov es, ax
        P32 "ring 3: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 " after IRETD DS="
        mov eax, ebx
        call p32hex
        P32 " ES="
        mov eax, ecx
        call p32hex
        P32 " FS="
        mov eax, edx
        call p32hex
        P32 " GS="
        mov eax, esi
        call p32hex
        P32 10

        mov eax, 14
        int 0x80
        P32 "INT 80h returned "
        call p32hex
        P32 10

        mov ebp, esp
        push 0x1111
        push 0x2222
        call 0x30:0
after_call:
        mov ax, ds
        movzx ebx, ax
        mov ax, 0x23
        mov ds, ax
        P32 "back from the gate: DS="
        mov eax, ebx
        call p32hex
        P32 ", ESP - ESP before the pushes = "
        mov eax, esp
        sub eax, ebp
        call p32hex
        P32 10

        mov dword [resume], r_i20
f_i20:  int 0x20
r_i20:
        mov ecx, esp
        mov edx, after_sysenter
        xor eax, eax
        sysenter
after_sysenter:
        P32 "after SYSEXIT: CS="
        mov ax, cs
        movzx eax, ax
        call p32hex
        P32 " SS="
        mov ax, ss
        movzx eax, ax
        call p32hex
        P32 10
        mov eax, 60
        sysenter

resume: dd 0
labels: dd after_call, n_after_call
        dd f_ro2, n_ro2
        dd f_i20, n_i20
        dd 0, 0
n_after_call: db "after_call", 0
n_ro2:  db "MOV SS,AX", 0
n_i20:  db "INT 20h", 0

        IMAGE_END
