; =============================================================================
; Lesson 09 - Entering long mode by hand
; =============================================================================
;
; What it teaches
;   The firmware starts this program in 32-bit protected mode with paging
;   off.  The program then does, one step at a time, what every 64-bit
;   operating system's boot code does to reach 64-bit mode:
;     1. builds 4-level page tables that identity-map the first 1 GiB with
;        2 MiB pages: PML4 -> PDPT -> page directory (PS = 1 in each PDE);
;     2. loads its own GDT, which adds a 64-bit code segment (L = 1);
;     3. sets CR4.PAE (paging in long mode uses 8-byte entries only);
;     4. points CR3 at the PML4;
;     5. sets EFER.LME with WRMSR (EFER is MSR C0000080h);
;     6. sets CR0.PG - the processor is now in IA-32e mode and sets EFER.LMA,
;        but it still runs the 32-bit code: "compatibility mode";
;     7. far-jumps to the 64-bit code segment: CS now has L = 1, and the
;        processor decodes 64-bit code.
;   The 64-bit code then prints 64-bit values: a constant, a product that
;   needs more than 32 bits, a register of the new set (R8-R15), RSP, CS
;   and the control registers.
;
; Where the facts come from (Intel SDM = Intel 64 and IA-32 Architectures
; Software Developer's Manual.  Section, figure and table numbers are those
; of the editions of the late 2010s; they move from edition to edition, so
; every citation also gives the section's title):
;   - The order of the steps: Vol. 3, 9.8.5 "Initializing IA-32e Mode":
;     protected mode with paging off, CR4.PAE = 1, CR3 = the PML4's physical
;     address, IA32_EFER.LME = 1, then CR0.PG = 1, which makes the processor
;     set IA32_EFER.LMA.  The MOV CR0 that enables paging, and the
;     instructions after it until a jump leaves them, must be in
;     identity-mapped pages (here everything is).
;   - IA32_EFER (MSR C0000080h): bit 0 SCE, bit 8 LME, bit 10 LMA (read
;     only), bit 11 NXE.  Vol. 3, 2.2.1 "Extended Feature Enable Register";
;     RDMSR/WRMSR take the MSR number in ECX and the value in EDX:EAX
;     (Vol. 2, RDMSR, WRMSR).
;   - CR0.PG is bit 31, CR4.PAE is bit 5: Vol. 3, 2.5 "Control Registers".
;   - 4-level paging: a linear address splits into bits 47:39 (PML4 index),
;     38:30 (PDPT index), 29:21 (page-directory index) and, for a 2 MiB page,
;     20:0 (offset).  Entries are 8 bytes: bit 0 P, bit 1 R/W, bit 7 PS in a
;     PDE = "this entry maps a 2 MiB page".  Vol. 3, 4.5 "4-Level Paging"
;     (earlier "IA-32e Paging"): the figure "Linear-Address Translation to
;     a 2-MByte Page using 4-Level Paging" and the tables of the PML4E, the
;     PDPTE that references a page directory, and the PDE that maps a
;     2-MByte page.
;   - The 64-bit code-segment descriptor: L (bit 53) = 1 and D (bit 54) = 0;
;     in 64-bit mode the base and limit of CS, DS, ES and SS are ignored.
;     Vol. 3, 3.4.5 "Segment Descriptors" and 5.2.1 "Code-Segment Descriptor
;     in 64-bit Mode".
;   - A real boot loader first asks CPUID (leaf 80000001h, EDX bit 29 "LM")
;     whether the processor has long mode at all; this lesson, which wants
;     the same output everywhere, does not print CPUID values.
;
; What to watch (stepping it in the GUI)
;   - Memory at 20000h (PML4): entry 0 = 00021003h -> the PDPT at 21000h;
;     PDPT entry 0 = 00022003h -> the page directory at 22000h; its entry i
;     = i * 200000h + 83h (P, R/W, PS).
;   - GDTR before (the firmware's GDT in F0000h..) and after LGDT (ours).
;   - CR4 after `mov cr4, eax`: bit 5 (PAE).  CR3 = 00020000h.
;   - EFER (MSR C0000080h) in EDX:EAX around WRMSR: 0 -> 100h (LME).
;   - CR0 after the MOV that sets PG: 80000011h; EFER now reads 500h (LMA,
;     bit 10, set by the processor).  The code still runs as 32-bit code.
;   - The far JMP: CS changes from 0008h to 0018h and the disassembly
;     becomes 64-bit (REX prefixes, 64-bit registers).  RIP = the address of
;     `long64`.
;   - In 64-bit code: RAX holding a 64-bit product, R8, RSP.
;
; Expected output (the same on both backends):
;   Lesson 09: entering long mode by hand
;   protected mode: CR0 = 00000011, CR4 = 00000000, EFER = 00000000
;   page tables: PML4[0] = 00021003, PDPT[0] = 00022003, PD[1] = 00200083
;   CR4 = 00000020 (PAE), CR3 = 00020000, EFER = 00000100 (LME)
;   CR0 = 80000011 (PG): EFER = 00000500 (LME, LMA): compatibility mode
;   64-bit mode: CS = 0018
;   RAX = 0123456789abcdef (a 64-bit constant)
;   ffffffff * ffffffff = fffffffe00000001
;   R8 = 1 << 40 = 0000010000000000
;   RSP = 0000000000090000
;   CR0 = 0000000080000011, CR4 = 0000000000000020, EFER = 0000000000000500
;   done
; =============================================================================

        bits 32
        org 0x100000

CONSOLE     equ 0xE9            ; the debug console port
PML4        equ 0x20000         ; page-map level 4 (each table 4 KiB, aligned)
PDPT        equ 0x21000         ; page-directory-pointer table
PD          equ 0x22000         ; page directory: 512 x 2 MiB = 1 GiB
EFER        equ 0xC0000080      ; the MSR number of IA32_EFER
EFER_LME    equ 1 << 8          ; long mode enable
CR4_PAE     equ 1 << 5
CR0_PG      equ 1 << 31
PG_P        equ 1 << 0          ; present
PG_RW       equ 1 << 1          ; writable
PG_PS       equ 1 << 7          ; in a PDE: maps a 2 MiB page

CODE32      equ 0x08            ; selectors of our GDT (below)
DATA        equ 0x10
CODE64      equ 0x18

start:
        mov esi, msg_title
        call print32

; The state the firmware left: protected mode (CR0.PE), paging off.
        mov esi, msg_pm
        call print32
        mov eax, cr0
        call hex32
        mov esi, msg_cr4
        call print32
        mov eax, cr4
        call hex32
        mov esi, msg_efer
        call print32
        mov ecx, EFER
        rdmsr                       ; EDX:EAX = IA32_EFER
        call hex32
        call newline32

; -----------------------------------------------------------------------------
; Step 1.  The page tables.  Clear the three pages, link PML4[0] -> PDPT and
; PDPT[0] -> PD, and fill the 512 PDEs: PDE i maps the 2 MiB page at
; physical i * 2 MiB to linear i * 2 MiB.  The high dword of each 8-byte
; entry (physical address bits 63:32, XD) stays 0.
; -----------------------------------------------------------------------------
; ANCHOR: tables
        mov edi, PML4
        mov ecx, 3 * 4096 / 4
        xor eax, eax
        rep stosd
        mov dword [PML4], PDPT | PG_P | PG_RW
        mov dword [PDPT], PD | PG_P | PG_RW
        mov edi, PD
        mov eax, PG_PS | PG_P | PG_RW       ; physical 0, 2 MiB page
        mov ecx, 512
.pde:   mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop .pde
; ANCHOR_END: tables

        mov esi, msg_tables
        call print32
        mov eax, [PML4]
        call hex32
        mov esi, msg_pdpt
        call print32
        mov eax, [PDPT]
        call hex32
        mov esi, msg_pd1
        call print32
        mov eax, [PD + 8]
        call hex32
        call newline32

; -----------------------------------------------------------------------------
; Step 2.  Our GDT.  Its 08h and 10h are the same flat segments as the
; firmware's, so the CS and DS/SS this code runs with stay valid; 18h is
; the 64-bit code segment the far jump will load.
; -----------------------------------------------------------------------------
; ANCHOR: switch
        lgdt [gdtr]

; Steps 3-5.  CR4.PAE, CR3, EFER.LME.
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, EFER
        rdmsr
        or eax, EFER_LME
        wrmsr
; ANCHOR_END: switch

        mov esi, msg_cr4_now
        call print32
        mov eax, cr4
        call hex32
        mov esi, msg_cr3
        call print32
        mov eax, cr3
        call hex32
        mov esi, msg_efer
        call print32
        mov ecx, EFER
        rdmsr
        call hex32
        mov esi, msg_lme
        call print32

; Step 6.  CR0.PG: IA-32e mode is active from here (EFER.LMA = 1), in its
; compatibility mode: CS is still the 32-bit segment 08h.  Note: the IDT the
; firmware installed has 8-byte 32-bit gates, which mean nothing in IA-32e
; mode (its gates are 16 bytes); this lesson takes no exception from here
; on - one would end in a triple fault.  Lesson 10 installs a 64-bit IDT.
; ANCHOR: pg
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
; ANCHOR_END: pg

        mov esi, msg_cr0
        call print32
        mov eax, cr0
        call hex32
        mov esi, msg_pg
        call print32
        mov ecx, EFER
        rdmsr
        call hex32
        mov esi, msg_lma
        call print32

; Step 7.  The far jump: CS := 18h, a code segment with L = 1.
; ANCHOR: jump
        jmp CODE64:long64
; ANCHOR_END: jump

; -----------------------------------------------------------------------------
; 32-bit console output: print32 writes the zero-terminated string at ESI,
; hex32 writes EAX in 8 hex digits, newline32 a line feed.
; -----------------------------------------------------------------------------
print32:
        push eax
.next:  mov al, [esi]
        inc esi
        test al, al
        jz .done
        out CONSOLE, al
        jmp .next
.done:  pop eax
        ret

hex32:  push eax
        push ecx
        push edx
        mov edx, eax
        mov ecx, 8
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
        pop ecx
        pop eax
        ret

newline32:
        push eax
        mov al, 10
        out CONSOLE, al
        pop eax
        ret

; -----------------------------------------------------------------------------
; 64-bit code from here on.
; -----------------------------------------------------------------------------
        bits 64
; ANCHOR: long64
long64:
        mov ax, DATA                ; data segments: in 64-bit mode their base
        mov ds, ax                  ; and limit are ignored, but SS, DS and ES
        mov es, ax                  ; are given a valid flat selector as
        mov ss, ax                  ; kernels do
; ANCHOR_END: long64
        lea rsi, [rel msg_64]       ; RIP-relative: the address of msg_64 as
        call print64                ; a distance from the next instruction
        mov ax, cs
        call hex16_64
        call newline64

        lea rsi, [rel msg_rax]
        call print64
        mov rax, 0x0123456789ABCDEF         ; a 64-bit immediate (MOV r64, imm64)
        call hex64
        lea rsi, [rel msg_const]
        call print64

; ANCHOR: imul
        mov eax, 0xFFFFFFFF
        mov ecx, 0xFFFFFFFF
        imul rax, rcx                       ; 64-bit product, no EDX:EAX pair
; ANCHOR_END: imul
        lea rsi, [rel msg_mul]
        call print64
        call hex64
        call newline64

        lea rsi, [rel msg_r8]
        call print64
        mov r8d, 1                          ; writing R8D clears R8's bits 63:32
        shl r8, 40
        mov rax, r8
        call hex64
        call newline64

        lea rsi, [rel msg_rsp]
        call print64
        mov rax, rsp
        call hex64
        call newline64

        lea rsi, [rel msg_cr0_64]
        call print64
        mov rax, cr0                        ; control registers are 64 bits wide now
        call hex64
        lea rsi, [rel msg_cr4_64]
        call print64
        mov rax, cr4
        call hex64
        lea rsi, [rel msg_efer_64]
        call print64
        mov ecx, EFER
        rdmsr
        shl rdx, 32                         ; RDMSR still returns EDX:EAX
        or rax, rdx
        call hex64
        call newline64

        lea rsi, [rel msg_done]
        call print64
        cli
        hlt

; -----------------------------------------------------------------------------
; 64-bit console output: print64 writes the zero-terminated string at RSI,
; hex64 writes RAX in 16 hex digits, hex16_64 AX in 4.
; -----------------------------------------------------------------------------
print64:
        push rax
.next:  mov al, [rsi]
        inc rsi
        test al, al
        jz .done
        out CONSOLE, al
        jmp .next
.done:  pop rax
        ret

hex64:  push rcx
        mov ecx, 16
        jmp hex_n
hex16_64:
        push rcx
        mov ecx, 4
        shl rax, 48                         ; bring AX to the top
hex_n:  push rax                            ; ECX digits from the top of RAX
        push rdx
        mov rdx, rax
.digit: rol rdx, 4
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        loop .digit
        pop rdx
        pop rax
        pop rcx
        ret

newline64:
        push rax
        mov al, 10
        out CONSOLE, al
        pop rax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
; The GDT.  A descriptor is 8 bytes: limit 15:0, base 23:0, access byte
; (P, DPL, S, type), flags (G, D/B, L, AVL) with limit 19:16, base 31:24.
;   9Ah = P, DPL 0, code, execute/read;  92h = P, DPL 0, data, read/write.
;   flags Ch = G (4 KiB granularity) + D/B (32-bit);  Ah = G + L (64-bit).
        align 8
; ANCHOR: gdt
gdt:    dq 0                                ; 00h: the null descriptor
        dq 0x00CF9A000000FFFF               ; 08h: 32-bit code, base 0, 4 GiB
        dq 0x00CF92000000FFFF               ; 10h: data, base 0, 4 GiB
        dq 0x00AF9A000000FFFF               ; 18h: 64-bit code (L = 1, D = 0)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
; ANCHOR_END: gdt

msg_title:      db "Lesson 09: entering long mode by hand", 10, 0
msg_pm:         db "protected mode: CR0 = ", 0
msg_cr4:        db ", CR4 = ", 0
msg_efer:       db ", EFER = ", 0
msg_tables:     db "page tables: PML4[0] = ", 0
msg_pdpt:       db ", PDPT[0] = ", 0
msg_pd1:        db ", PD[1] = ", 0
msg_cr4_now:    db "CR4 = ", 0
msg_cr3:        db " (PAE), CR3 = ", 0
msg_lme:        db " (LME)", 10, 0
msg_cr0:        db "CR0 = ", 0
msg_pg:         db " (PG): EFER = ", 0
msg_lma:        db " (LME, LMA): compatibility mode", 10, 0
msg_64:         db "64-bit mode: CS = ", 0
msg_rax:        db "RAX = ", 0
msg_const:      db " (a 64-bit constant)", 10, 0
msg_mul:        db "ffffffff * ffffffff = ", 0
msg_r8:         db "R8 = 1 << 40 = ", 0
msg_rsp:        db "RSP = ", 0
msg_cr0_64:     db "CR0 = ", 0
msg_cr4_64:     db ", CR4 = ", 0
msg_efer_64:    db ", EFER = ", 0
msg_done:       db "done", 10, 0
