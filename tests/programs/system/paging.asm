; paging.asm -- the three paging modes (SDM Vol. 3A, chapter 4): 32-bit
; paging with 4 MiB pages, PAE paging with 2 MiB pages and NX, 4-level
; paging with a 1 GiB page; page-fault error codes, reserved bits, CR0.WP,
; accessed and dirty bits on large pages.
;
; 1. 32-bit paging (4.3), CR4.PSE: PDE 1 maps the 4 MiB page at 400000h
;    onto itself, PDE 2 maps linear 800000h onto the same physical page.
;    A dword written through 400010h reads back through 800010h.  The
;    write set A and D in PDE 1 (4000E3h), the read only A in PDE 2
;    (4000A3h).  A read at C00005h (PDE 3 not present): #PF, CR2 = C00005h,
;    error code 0.  With CR0.WP = 0 a supervisor write to a read-only page
;    succeeds (4.6.1); with WP = 1 it faults with error code 3 (P, W/R).
; 2. PAE paging (4.4) with EFER.NXE: the same 4 MiB alias is two 2 MiB
;    pages now, and 800010h still reads the dword.  A jump to a page whose
;    PTE has XD set faults on the fetch: CR2 = the target, error code 11h
;    (P, I/D).
; 3. 4-level paging (4.5): PDPTE 1 is a 1 GiB page mapping linear 40000000h
;    onto physical 0, so the qword at 40007C00h is the first qword of this
;    program.  An XD 2 MiB page faults on execution with error code 11h.
;    The accessed bit of the 1 GiB PDPTE is set: 000000A3h.
;
; Reserved-bit faults (error code 9: P and RSVD, 4.7) and the #GP of a CR3
; load whose PAE PDPTEs have reserved bits set (4.4.1) are tested in
; tests/system.rs: the QEMU used to write paging.expected reports RSVD
; faults without P and does not check PDPTEs, unlike the SDM.

%include "lib.inc"
%include "sys.inc"

IDT32   equ 0x14000
IDT64   equ 0x15000
PD32    equ 0x20000
PT32    equ 0x21000
PDPT_P  equ 0x22000
PD_P    equ 0x23000
PT_P    equ 0x24000
PML4    equ 0x25000
PDPT_L  equ 0x26000
PD_L    equ 0x27000

main:   P "real mode", 10
        TO_PROTECTED_MODE gdtr, 0x08, 0x10, pm32

gdt:    dq 0                            ; 00h
        DESC 0, 0xFFFFF, 0x9A, 0xC      ; 08h code32
        DESC 0, 0xFFFFF, 0x92, 0xC      ; 10h data
        DESC 0, 0xFFFFF, 0x9A, 0xA      ; 18h code64
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr32: dw 256*8 - 1
        dd IDT32
idtr64: dw 256*16 - 1
        dq IDT64

        bits 32
pm32:
        mov edi, IDT32
        xor eax, eax
        mov ecx, 512
        rep stosd
        mov eax, pf32
        mov edi, IDT32 + 14*8
        call gate32
        mov eax, gp32
        mov edi, IDT32 + 13*8
        call gate32
        lidt [idtr32]

        ; ---- 1. 32-bit paging ----
        mov edi, PD32
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov edi, PT32
        mov eax, 3
        mov ecx, 1024
.pt32:  stosd
        add eax, 0x1000
        loop .pt32
        mov dword [PD32], PT32 | 3
        mov dword [PD32+4], 0x400000 | 0x83
        mov dword [PD32+8], 0x400000 | 0x83
        mov eax, 0x10                   ; CR4.PSE
        mov cr4, eax
        mov eax, PD32
        mov cr3, eax
        mov eax, 0x80000011
        mov cr0, eax
        P32 "32-bit paging: "
        mov dword [0x400010], 0xCAFEBABE
        mov eax, [0x800010]
        call p32hex
        P32 " PDE1="
        mov eax, [PD32+4]
        call p32hex
        P32 " PDE2="
        mov eax, [PD32+8]
        call p32hex
        P32 10
        mov dword [resume], r1
f1:     mov eax, [0xC00005]
r1:     mov dword [PT32 + 0x30*4], 0x30001
        invlpg [0x30000]
        mov dword [0x30000], 1
        P32 "read-only page written with WP=0", 10
        mov eax, cr0
        bts eax, 16
        mov cr0, eax
        mov dword [resume], r2
f2:     mov dword [0x30004], 2
r2:
        ; ---- 2. PAE paging ----
        mov eax, 0x11
        mov cr0, eax                    ; paging off
        mov edi, PDPT_P
        xor eax, eax
        mov ecx, (PT_P + 0x1000 - PDPT_P) / 4
        rep stosd
        mov dword [PDPT_P], PD_P | 1
        mov dword [PD_P], PT_P | 3
        mov dword [PD_P + 1*8], 0x200000 | 0x83
        mov dword [PD_P + 4*8], 0x400000 | 0x83
        mov edi, PT_P
        mov eax, 3
        mov ecx, 512
.ptp:   mov [edi], eax
        add eax, 0x1000
        add edi, 8
        loop .ptp
        mov dword [PT_P + 0x31*8 + 4], 0x80000000   ; XD
        mov byte [0x31000], 0xC3
        mov ecx, 0xC0000080
        mov eax, 0x800                  ; EFER.NXE
        xor edx, edx
        wrmsr
        mov eax, 0x20                   ; CR4.PAE
        mov cr4, eax
        mov eax, PDPT_P
        mov cr3, eax
        mov eax, 0x80010011
        mov cr0, eax
        P32 "PAE paging: "
        mov eax, [0x800010]
        call p32hex
        P32 10
        mov dword [resume], r3
        mov eax, 0x31000
f3:     jmp eax
r3:

        ; ---- 3. 4-level paging ----
        mov eax, 0x11
        mov cr0, eax
        mov edi, PML4
        xor eax, eax
        mov ecx, (PD_L + 0x1000 - PML4) / 4
        rep stosd
        mov dword [PML4], PDPT_L | 3
        mov dword [PDPT_L], PD_L | 3
        mov dword [PDPT_L + 8], 0x83                ; 1 GiB page -> 0
        mov edi, PD_L
        mov eax, 0x83
        mov ecx, 512
.pdl:   mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop .pdl
        mov dword [PD_L + 3*8 + 4], 0x80000000      ; XD on 600000h..7FFFFFh
        mov byte [0x600000], 0xC3
        mov ecx, 0xC0000080
        mov eax, 0x900                  ; LME NXE
        xor edx, edx
        wrmsr
        mov eax, PML4
        mov cr3, eax
        mov eax, 0x80010011
        mov cr0, eax
        jmp 0x18:lm64

gate32: mov [edi], ax
        mov word [edi+2], 0x08
        mov word [edi+4], 0x8E00
        shr eax, 16
        mov [edi+6], ax
        ret

pf32:   push eax
        P32 "#PF: CR2="
        mov eax, cr2
        call p32hex
        P32 " error code="
        mov eax, [esp+4]
        call p32hex
        P32 " at "
        mov eax, [esp+8]
        call p32hex
        P32 10
        mov eax, [resume]
        mov [esp+8], eax
        pop eax
        add esp, 4
        iretd

gp32:   push eax
        P32 "#GP: error code="
        mov eax, [esp+4]
        call p32hex
        P32 " at "
        mov eax, [esp+8]
        call p32hex
        P32 10
        mov eax, [resume]
        mov [esp+8], eax
        pop eax
        add esp, 4
        iretd

        bits 64
lm64:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, 0x70000
        mov rdi, IDT64
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov rax, pf64
        mov [IDT64 + 14*16], ax
        mov word [IDT64 + 14*16 + 2], 0x18
        mov word [IDT64 + 14*16 + 4], 0x8E00
        shr rax, 16
        mov [IDT64 + 14*16 + 6], ax
        lidt [idtr64]
        P64 "4-level paging: "
        mov rax, [0x40007C00]
        call p64hex
        P64 " = "
        mov rax, [0x7C00]
        call p64hex
        P64 10
        mov qword [resume], r7
        mov eax, 0x600000
f7:     jmp rax
r7:     P64 "PDPTE1="
        mov rax, [PDPT_L + 8]
        call p64hex
        P64 10
        EXIT

pf64:   push rax
        P64 "#PF: CR2="
        mov rax, cr2
        call p64hex
        P64 " error code="
        mov rax, [rsp+8]
        call p64hex32
        P64 " at "
        mov rax, [rsp+16]
        call p64hex
        P64 10
        mov rax, [resume]
        mov [rsp+16], rax
        pop rax
        add rsp, 8
        iretq

resume: dq 0

        IMAGE_END
