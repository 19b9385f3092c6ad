; =============================================================================
; Lesson 08 - Paging and a page fault
; =============================================================================
;
; What it teaches
;   With paging on (CR0.PG = 1) every address a program uses is a LINEAR
;   address that the processor translates, through tables in memory, into a
;   PHYSICAL address.  This program uses 32-bit paging with 4 KiB pages
;   (CR4.PAE = 0), the oldest and simplest form:
;     - CR3 holds the physical address of the PAGE DIRECTORY: 1024 entries
;       (PDEs) of 4 bytes, each covering 4 MiB;
;     - a PDE points to a PAGE TABLE: 1024 entries (PTEs), each mapping one
;       4 KiB page;
;     - a linear address splits into bits 31:22 (index in the directory),
;       21:12 (index in the table) and 11:0 (offset in the page).
;   It builds one page directory and one page table that map the first
;   4 MiB to themselves ("identity map": linear = physical) except for the
;   page at 00300000h, whose PTE is left 0: not present.  It installs its
;   own IDT with a handler for the page fault (#PF, vector 14), turns
;   paging on, reads a mapped address, and then writes into the missing
;   page.  The write raises #PF; the handler reads CR2 (the linear address
;   that faulted) and the error code, maps the page, and returns with
;   IRETD.  #PF is a FAULT: the saved EIP is the faulting MOV itself, so
;   the processor runs it again - and now it succeeds.  This is, in
;   essence, how an operating system loads pages on demand.
;
; Where the facts come from (Intel SDM = Intel 64 and IA-32 Architectures
; Software Developer's Manual.  Section, figure and table numbers are those
; of the editions of the late 2010s; they move from edition to edition, so
; every citation also gives the section's title):
;   - CR0.PG (bit 31), CR0.PE (bit 0), CR3, CR4.PAE (bit 5): Vol. 3, 2.5
;     "Control Registers".  PG = 1 with PAE = 0 selects 32-bit paging:
;     Vol. 3, 4.1 "Paging Modes and Control Bits", Table 4-1.
;   - Translation with 4 KiB pages: Vol. 3, 4.3 "32-Bit Paging", Figure 4-2;
;     the PDE that points to a page table: Table 4-5; the PTE: Table 4-6.
;     Entry bits used here: 0 P (present), 1 R/W (writes allowed),
;     2 U/S (user access allowed), 5 A (accessed), 6 D (dirty, PTE only),
;     bits 31:12 the physical address of the page table or of the page.
;   - The processor sets A when it uses an entry and D when it writes to the
;     page: Vol. 3, 4.8 "Accessed and Dirty Flags".
;   - #PF: Vol. 3, 6.15 "Interrupt 14 - Page-Fault Exception (#PF)".  The
;     processor loads CR2 with the linear address that caused the fault and
;     pushes an error code; Vol. 3, 4.7 "Page-Fault Exceptions", Figure 4-12:
;        bit 0 P    0 = the page was not present,
;                   1 = a protection violation on a present page
;        bit 1 W/R  0 = the access was a read, 1 = a write
;        bit 2 U/S  0 = a supervisor-mode access (CPL < 3),
;                   1 = a user-mode access (CPL = 3)
;     (bit 3 RSVD = a reserved bit set in an entry, bit 4 I/D = an
;     instruction fetch; both 0 here.)
;   - The stack frame with an error code, same privilege level: EFLAGS, CS,
;     EIP, error code (on top).  Vol. 3, 6.12.1 "Exception- or
;     Interrupt-Handler Procedures", Figure 6-4.  IRETD does not pop the
;     error code: the handler must remove it (ADD ESP, 4) first.
;   - Invalidation: the processor creates no TLB entry from an entry whose
;     P flag is 0, so changing P from 0 to 1 needs no INVLPG (Vol. 3, 4.10.4.3
;     "Optional Invalidation"); the handler runs INVLPG anyway, as an
;     operating system does after it edits a PTE (Vol. 2, INVLPG).
;
; What to watch (stepping it in the GUI)
;   - Memory at 20000h (the page directory): one entry, 00021003h, i.e. the
;     page table at 21000h with P = 1 and R/W = 1.  The other 1023 PDEs are 0.
;   - Memory at 21000h (the page table): entry i holds i * 1000h + 3; the
;     entry for 00300000h is at 21000h + 300h * 4 = 21C00h and holds 0.
;   - CR3 = 00020000h, then CR0 before and after `mov cr0, eax`: bit 31 (PG)
;     goes to 1; the next instruction is already fetched through the page
;     table (it works because the code is identity-mapped).
;   - At `mov dword [0x300abc], ...`: step once and the handler `page_fault`
;     is next.  CR2 = 00300ABCh.  On the stack: the error code 00000002h,
;     then the saved EIP - the address of that same MOV - CS and EFLAGS.
;   - In the handler: the PTE at 21C00h changes from 0 to 00300003h.  After
;     IRETD the MOV runs again and completes; the PTE then reads 00300063h:
;     the processor set A (bit 5) and D (bit 6) itself.  PDE 0 reads
;     00021023h: A was set there the first time paging used it.
;
; Note on KVM without VT-x/AMD-V (PVM, as on x86lab's build machines): such
; a host runs this 32-bit code in its kernel's instruction emulator and does
; not accept paging outside long mode: the MOV to CR0 that sets PG raises
; #GP(0) there (observed with 32-bit and with PAE paging alike), which this
; program's stub reports as "unexpected exception, vector 0d" before it
; halts.  That host's emulator cannot run IRETD in protected mode either.
; With VT-x or AMD-V the processor itself runs this code, paging and IRETD
; included.
; kvm-without-vtx: the host kernel's emulator refuses paging outside long mode (#GP at MOV CR0) and IRETD
;
; Expected output (the addresses are those of this file as assembled):
;   Lesson 08: paging and a page fault
;   PDE 0 = 00021003, PTE 300 = 00000000 (page 00300000 not present)
;   CR3 = 00020000, CR4 = 00000000
;   CR0 = 00000011 -> 80000011 (PG set)
;   read [00000500] through the page tables: 4c363858
;   writing 00c0ffee to [00300abc] ...
;     #PF handler: CR2 = 00300abc, error code = 00000002
;       P=0 (page not present), W/R=1 (write), U/S=0 (supervisor)
;       saved EIP = 00100142, the faulting MOV is at 00100142
;       page mapped: PTE = 00300003
;   the MOV was retried and completed: [00300abc] = 00c0ffee
;   PTE 300 = 00300063, PDE 0 = 00021023
;     the processor set A in both entries, and D in the PTE
;   done
; =============================================================================

        bits 32
        org 0x100000

CONSOLE     equ 0xE9            ; the debug console port
CODE_SEL    equ 0x08            ; the firmware's flat 32-bit code segment
PAGE_DIR    equ 0x20000         ; page directory (4 KiB, 4 KiB-aligned)
PAGE_TABLE  equ 0x21000         ; the page table for linear 0..4 MiB
IDT         equ 0x22000         ; our IDT
%define VECTORS 32              ; vectors 0..31: the exceptions
GATE_ATTR   equ 0x8E00          ; P = 1, DPL = 0, 32-bit interrupt gate
PF_VECTOR   equ 14
HOLE        equ 0x00300000      ; the page left not present
TARGET      equ HOLE + 0xABC    ; the address written
PTE_P       equ 1 << 0          ; present
PTE_RW      equ 1 << 1          ; writable
CR0_PG      equ 1 << 31

start:
        mov esi, msg_title
        call print

; -----------------------------------------------------------------------------
; Step 1.  The IDT: every vector to a stub that reports it, vector 14 to
; the page-fault handler.
; -----------------------------------------------------------------------------
        xor eax, eax                ; EAX = vector
        mov ebx, stubs              ; EBX = its handler
.fill:  call set_gate
        inc eax
        add ebx, STUB_SIZE
        cmp eax, VECTORS
        jb .fill
        mov eax, PF_VECTOR
        mov ebx, page_fault
        call set_gate
        lidt [idtr]

; ANCHOR: tables
; -----------------------------------------------------------------------------
; Step 2.  The page table: PTE i maps linear page i to physical page i
; (address i * 4096), present and writable.  Then the hole.
; -----------------------------------------------------------------------------
        mov edi, PAGE_TABLE
        mov eax, PTE_P | PTE_RW     ; page 0, P, R/W
        mov ecx, 1024
.pte:   mov [edi], eax
        add eax, 0x1000             ; the next physical page
        add edi, 4
        loop .pte
        mov dword [PAGE_TABLE + (HOLE >> 12) * 4], 0    ; not present

; The page directory: PDE 0 points to the page table; the other 1023 PDEs
; are 0 (not present): linear addresses from 4 MiB up are not mapped.
        mov edi, PAGE_DIR
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PAGE_DIR], PAGE_TABLE | PTE_P | PTE_RW
; ANCHOR_END: tables

        mov esi, msg_pde
        call print
        mov eax, [PAGE_DIR]
        call hex32
        mov esi, msg_pte
        call print
        mov eax, [PAGE_TABLE + (HOLE >> 12) * 4]
        call hex32
        mov esi, msg_hole
        call print
        mov eax, HOLE
        call hex32
        mov esi, msg_not_present
        call print

; -----------------------------------------------------------------------------
; Step 3.  Turn paging on: CR3 first, then CR0.PG.
; -----------------------------------------------------------------------------
; ANCHOR: enable
        mov eax, PAGE_DIR
        mov cr3, eax
        mov esi, msg_cr3
        call print
        mov eax, cr3
        call hex32
        mov esi, msg_cr4
        call print
        mov eax, cr4                ; PAE = 0: 32-bit paging
        call hex32
        call newline

        mov esi, msg_cr0
        call print
        mov eax, cr0
        call hex32
        or eax, CR0_PG
        mov cr0, eax                ; paging is on from the next instruction
; ANCHOR_END: enable
        mov esi, msg_arrow
        call print
        mov eax, cr0
        call hex32
        mov esi, msg_pg
        call print

; -----------------------------------------------------------------------------
; Step 4.  A read through the page tables: linear 500h is in page 0, mapped
; to physical 500h, where the host left its boot information ("X86L").
; -----------------------------------------------------------------------------
        mov esi, msg_read
        call print
        mov eax, [0x500]
        call hex32
        call newline

; -----------------------------------------------------------------------------
; Step 5.  A write into the page that is not present.
; -----------------------------------------------------------------------------
        mov esi, msg_write
        call print
; ANCHOR: touch
touch:  mov dword [TARGET], 0x00C0FFEE  ; #PF, then (after the handler) again
; ANCHOR_END: touch
        mov esi, msg_retried
        call print
        mov eax, [TARGET]
        call hex32
        mov esi, msg_pte_now
        call print
        mov eax, [PAGE_TABLE + (HOLE >> 12) * 4]
        call hex32
        mov esi, msg_pde_now
        call print
        mov eax, [PAGE_DIR]
        call hex32
        mov esi, msg_ad
        call print

        mov esi, msg_done
        call print
        cli
        hlt

; -----------------------------------------------------------------------------
; set_gate: make IDT entry EAX a 32-bit interrupt gate to the handler at EBX.
; -----------------------------------------------------------------------------
set_gate:
        push ebx
        mov [IDT + eax * 8], bx             ; offset 15:0
        mov word [IDT + eax * 8 + 2], CODE_SEL
        mov word [IDT + eax * 8 + 4], GATE_ATTR
        shr ebx, 16
        mov [IDT + eax * 8 + 6], bx         ; offset 31:16
        pop ebx
        ret

; -----------------------------------------------------------------------------
; The page-fault handler (vector 14).  On entry:
;     [esp + 0]  error code
;     [esp + 4]  EIP      the address of the faulting instruction
;     [esp + 8]  CS
;     [esp + 12] EFLAGS
; After PUSHAD (32 bytes) and EBP = ESP they are at EBP + 32 ... EBP + 44.
; -----------------------------------------------------------------------------
page_fault:
        pushad
        mov ebp, esp

        mov esi, msg_pf
        call print
        mov eax, cr2                ; the linear address that faulted
        call hex32
        mov esi, msg_error
        call print
        mov eax, [ebp + 32]         ; the error code
        call hex32
        call newline

; Decode the three low bits of the error code.
        mov ebx, [ebp + 32]
        mov esi, msg_p0             ; bit 0: P
        test ebx, 1
        jz .p
        mov esi, msg_p1
.p:     call print
        mov esi, msg_w0             ; bit 1: W/R
        test ebx, 2
        jz .w
        mov esi, msg_w1
.w:     call print
        mov esi, msg_u0             ; bit 2: U/S
        test ebx, 4
        jz .u
        mov esi, msg_u1
.u:     call print

        mov esi, msg_saved_eip
        call print
        mov eax, [ebp + 36]         ; saved EIP: the faulting MOV
        call hex32
        mov esi, msg_touch
        call print
        mov eax, touch
        call hex32
        call newline

; ANCHOR: fix
; Only a not-present page in the first 4 MiB can be fixed here.
        test ebx, 1
        jnz .fatal
        mov eax, cr2
        cmp eax, 0x400000
        jae .fatal

; Map it: PTE number CR2 >> 12 := (CR2 rounded down to 4 KiB) | P | R/W.
        mov ebx, eax
        shr ebx, 12                 ; the PTE's index
        and eax, 0xFFFFF000         ; identity: the physical page = the linear one
        or eax, PTE_P | PTE_RW
        mov [PAGE_TABLE + ebx * 4], eax
        mov ecx, cr2
        invlpg [ecx]                ; drop any cached translation of that page
        mov esi, msg_mapped
        call print
        call hex32
        call newline

        popad
        add esp, 4                  ; remove the error code: IRETD does not
        iretd                       ; back to the MOV, which runs again
; ANCHOR_END: fix

.fatal: mov esi, msg_fatal
        call print
        cli
        hlt

; Stubs for the other vectors, as in the firmware: each pushes its vector
; number and jumps to `unexpected`.  For the vectors whose exceptions come
; with an error code (8, 10-14, 17 and 21 in SDM Vol. 3, Table 6-1; 29 and 30
; on AMD processors) the processor has pushed one; the other stubs push a 0
; in its place, so that every frame looks the same.  `nop nop` has the size
; of `push byte 0`, and `jmp near` keeps every stub the same size.
stubs:
%assign v 0
%rep VECTORS
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
        nop
        nop
%else
        push byte 0
%endif
        push byte v
        jmp near unexpected
%assign v v + 1
%endrep
STUB_SIZE   equ (unexpected - stubs) / VECTORS

unexpected:                         ; stack: vector, error code, EIP, CS, EFLAGS
        mov esi, msg_unexpected
        call print
        mov eax, [esp]              ; the vector
        call hex8
        mov esi, msg_unexp_error
        call print
        mov eax, [esp + 4]          ; the error code (or 0)
        call hex32
        mov esi, msg_unexp_eip
        call print
        mov eax, [esp + 8]          ; the saved EIP
        call hex32
        call newline
        cli
        hlt

; -----------------------------------------------------------------------------
; Console output: print writes the zero-terminated string at ESI; hex32 and
; hex8 write EAX or AL in hexadecimal (8 or 2 digits).  They change no
; register but ESI (print) and the flags.
; -----------------------------------------------------------------------------
print:
        push eax
.next:  mov al, [esi]
        inc esi
        test al, al
        jz .done
        out CONSOLE, al
        jmp .next
.done:  pop eax
        ret

hex32:  push ecx
        mov ecx, 8
        jmp hex
hex8:   push ecx
        mov ecx, 2
hex:                                ; ECX digits of EAX; ECX saved by the caller
        push eax
        push edx
        mov edx, eax
        shl ecx, 2                  ; rotate the wanted digits to the top:
        ror edx, cl                 ; by 4 x digits (32 rotates by 0)
        shr ecx, 2
.digit: rol edx, 4                  ; the next digit into bits 3:0
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        loop .digit
        pop edx
        pop eax
        pop ecx
        ret

newline:
        push eax
        mov al, 10
        out CONSOLE, al
        pop eax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
idtr:   dw VECTORS * 8 - 1
        dd IDT

msg_title:      db "Lesson 08: paging and a page fault", 10, 0
msg_pde:        db "PDE 0 = ", 0
msg_pte:        db ", PTE 300 = ", 0
msg_hole:       db " (page ", 0
msg_not_present: db " not present)", 10, 0
msg_cr3:        db "CR3 = ", 0
msg_cr4:        db ", CR4 = ", 0
msg_cr0:        db "CR0 = ", 0
msg_arrow:      db " -> ", 0
msg_pg:         db " (PG set)", 10, 0
msg_read:       db "read [00000500] through the page tables: ", 0
msg_write:      db "writing 00c0ffee to [00300abc] ...", 10, 0
msg_pf:         db "  #PF handler: CR2 = ", 0
msg_error:      db ", error code = ", 0
msg_p0:         db "    P=0 (page not present), ", 0
msg_p1:         db "    P=1 (protection violation), ", 0
msg_w0:         db "W/R=0 (read), ", 0
msg_w1:         db "W/R=1 (write), ", 0
msg_u0:         db "U/S=0 (supervisor)", 10, 0
msg_u1:         db "U/S=1 (user)", 10, 0
msg_saved_eip:  db "    saved EIP = ", 0
msg_touch:      db ", the faulting MOV is at ", 0
msg_mapped:     db "    page mapped: PTE = ", 0
msg_fatal:      db "    cannot fix this fault: halting", 10, 0
msg_retried:    db "the MOV was retried and completed: [00300abc] = ", 0
msg_pte_now:    db 10, "PTE 300 = ", 0
msg_pde_now:    db ", PDE 0 = ", 0
msg_ad:         db 10, "  the processor set A in both entries, and D in the PTE", 10, 0
msg_done:       db "done", 10, 0
msg_unexpected: db 10, "unexpected exception, vector ", 0
msg_unexp_error: db ", error code ", 0
msg_unexp_eip:  db ", at EIP ", 0
