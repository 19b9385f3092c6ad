; =============================================================================
; Lesson 06 - Entering protected mode by hand
;
; In real mode a segment register holds a number that is multiplied by 16.
; In protected mode it holds a SELECTOR: an index into a table of segment
; DESCRIPTORS, the Global Descriptor Table (GDT).  Each 8-byte descriptor
; gives a segment's base address (32 bits), its limit (its size), and its
; kind and rights: code or data, 16- or 32-bit, privilege level.  Offsets
; and registers become 32-bit, so one segment can span all 4 GiB.
;
; The steps, as the Intel SDM (Vol. 3A, "Switching to Protected Mode") lists
; them, are the ones this program takes:
;   1. disable interrupts (CLI): the real-mode interrupt table is useless
;      after the switch (the firmware already did it; we do it again);
;   2. build a GDT in memory and load its address and size with LGDT;
;   3. set the PE bit (bit 0) of control register CR0;
;   4. at once, a far JMP to a code segment: it loads CS with a selector and
;      the CPU starts decoding 32-bit code;
;   5. load the data segment registers (DS, ES, SS, ...) with data selectors
;      and set up a stack.
; Then it prints from 32-bit code (OUT to port E9h works in any mode), and
; shows that a 32-bit address reaches beyond real mode's 1 MiB.
;
; Here CS = DS = 0 and org = 7C00h, so every label's offset is also its
; linear (and physical) address: that is what lets the GDT register and the
; far jump use labels directly.
;
; What to watch:
;   - GDTR after LGDT: its base = the address of `gdt`, its limit = size - 1.
;   - CR0 bit 0 (PE) after `mov cr0, eax`.  Nothing else changes yet: CS
;     still holds 0000h with its real-mode base, and the next instruction is
;     still decoded as 16-bit code.
;   - The far JMP: CS becomes 0008h, IP becomes EIP = pm_entry, and from
;     there the disassembly must be read as 32-bit code.
;   - DS, ES, SS, FS = 0010h / 0018h after the MOVs: each load reads an
;     8-byte descriptor from the GDT into the register's hidden part (base,
;     limit, rights).
;   - ESP, and the 32-bit registers EAX, ESI used by the 32-bit routines.
;   - Memory at physical 00200000h (2 MiB): written through DS (base 0) and
;     read back through FS (base 00200000h) at offset 0.
;   - Memory at `gdt`: when the far JMP loads CS, byte 5 of descriptor 08h
;     changes from 9Ah to 9Bh: the CPU sets the descriptor's "accessed" bit
;     (the same happens to 10h and 18h when DS and FS are loaded).
; =============================================================================

        bits 16
        org 0x7c00

CODE_SEL equ 0x08               ; selector = index * 8: descriptor 1
DATA_SEL equ 0x10               ; descriptor 2
HIGH_SEL equ 0x18               ; descriptor 3
HIGH_BASE equ 0x00200000        ; the base of descriptor 3: 2 MiB

; PRINT "text" (16-bit code) and PRINT32 "text" (32-bit code): print a string
; written here in the code.  They change (E)SI and the flags.
%macro PRINT 1
        jmp %%skip
%%str:  db %1, 0
%%skip: mov si, %%str
        call print_str16
%endmacro
%macro PRINT32 1
        jmp %%skip
%%str:  db %1, 0
%%skip: mov esi, %%str
        call print_str32
%endmacro

start:
        PRINT `Lesson 06: entering protected mode\n`
        mov eax, cr0            ; CR0 can only be read into a 32-bit register
        and al, 1               ; bit 0 = PE (Protection Enable)
        PRINT "Real mode: CR0.PE = "
        call print_digit16
        PRINT ", CS = "
        mov ax, cs
        call print_hex16
        PRINT `h\n`

; ANCHOR: lgdt
; --- Step 1: no interrupts -----------------------------------------------------
        cli                     ; IF = 0 (already 0: the firmware's contract)

; --- Step 2: load the GDT register ---------------------------------------------
        ; LGDT reads 6 bytes: a 16-bit limit (the table's size - 1) and the
        ; table's linear address.  (With a 16-bit operand size only 24 bits
        ; of the address are used; ours is below 16 MiB.)
        lgdt [gdtr]
; ANCHOR_END: lgdt
        PRINT "LGDT: GDT at "
        mov eax, [gdtr + 2]     ; the base we gave it
        call print_hex32_16
        PRINT "h, limit "
        mov ax, [gdtr]
        call print_hex16
        PRINT `h (4 descriptors x 8 bytes - 1)\n`
        PRINT "  descriptor 08h (code) = "
        mov eax, [gdt + 8 + 4]  ; the high dword...
        call print_hex32_16
        mov eax, [gdt + 8]      ; ...then the low dword: the 8 bytes as one
        call print_hex32_16     ; 64-bit number, 00CF9A000000FFFFh
        PRINT `h\n`

; ANCHOR: enter
; --- Step 3: set CR0.PE -------------------------------------------------------
        mov eax, cr0
        or eax, 1               ; PE = 1: protection on
        mov cr0, eax            ; from here on we are in protected mode, but CS
                                ; still has its real-mode contents: the next
                                ; instruction must reload it

; --- Step 4: far jump into the 32-bit code segment -----------------------------
        ; CS = 0008h: the CPU reads descriptor 1, whose D bit says "32-bit
        ; code", and EIP = pm_entry.  `dword` gives the jump a 32-bit offset
        ; (operand-size prefix 66h, then opcode EAh): in 16-bit code the plain
        ; form has a 16-bit offset, enough here (pm_entry is below 10000h) but
        ; not for 32-bit code placed above 64 KiB.
        jmp dword CODE_SEL:pm_entry
; ANCHOR_END: enter

; =============================================================================
; 32-bit protected-mode code
; =============================================================================
        bits 32
; ANCHOR: segments
pm_entry:
; --- Step 5: data segments and a stack -----------------------------------------
        mov ax, DATA_SEL        ; no MOV DS, immediate: go through AX
        mov ds, ax              ; each MOV makes the CPU read descriptor 2: base
        mov es, ax              ; 0, limit 4 GiB, read/write data
        mov ss, ax              ; (MOV SS also holds off interrupts for one
        mov esp, 0x7c00         ;  instruction, so SS and ESP change together)
; ANCHOR_END: segments
                                ; FS and GS still hold their real-mode contents;
                                ; FS gets a selector below, GS is not used.

        PRINT32 `Hello from 32-bit protected mode!\n`
        mov eax, cr0
        and eax, 1
        PRINT32 "CR0.PE = "
        call print_digit32
        PRINT32 ", CS = "
        mov ax, cs
        call print_hex16_32
        PRINT32 "h, DS = "
        mov ax, ds
        call print_hex16_32
        PRINT32 "h, ES = "
        mov ax, es
        call print_hex16_32
        PRINT32 "h, SS = "
        mov ax, ss
        call print_hex16_32
        PRINT32 `h\nESP = `
        mov eax, esp
        call print_hex32
        PRINT32 `h\n`

; ANCHOR: fs
        ; A 32-bit offset reaches any of the 4 GiB: write at 2 MiB through DS
        ; (base 0), an address no real-mode seg:off can form (max 10FFEFh).
        mov dword [HIGH_BASE], 0x12345678
        ; Segmentation still applies: FS = 0018h has base 00200000h, so
        ; offset 0 in FS is that same physical address.
        mov ax, HIGH_SEL
        mov fs, ax
        PRINT32 "DS:00200000h = "
        mov eax, [HIGH_BASE]    ; through DS: base 0 + 200000h
        call print_hex32
        PRINT32 "h, FS:00000000h = "
        mov eax, [fs:0]         ; through FS: base 200000h + 0
; ANCHOR_END: fs
        call print_hex32
        PRINT32 `h (the same dword)\n`

        ; Loading a segment register sets the "accessed" bit (bit 0 of the
        ; type, in the access byte) of its descriptor in memory, if it was
        ; clear: the far JMP turned descriptor 08h's 9Ah into 9Bh.
        PRINT32 "Descriptor 08h is now "
        mov eax, [gdt + 8 + 4]
        call print_hex32
        mov eax, [gdt + 8]
        call print_hex32
        PRINT32 `h: the CPU set its accessed bit (9Ah -> 9Bh)\n`

        PRINT32 `Halting in protected mode.\n`
        ; No IDT was set up for protected mode: IDTR still describes the
        ; real-mode vector table at address 0, whose 4-byte vectors the CPU
        ; would now read as 8-byte gates.  An exception here would most
        ; likely end in a triple fault (the CPU shuts down).  Interrupts are
        ; off; we stop.
        cli
        hlt

; --- 32-bit printing routines ---------------------------------------------------
print_str32:                    ; the zero-terminated string at DS:ESI
        push eax
.next:  mov al, [esi]
        inc esi
        cmp al, 0
        je .done
        out 0xe9, al
        jmp .next
.done:  pop eax
        ret

print_hex32:                    ; EAX as 8 hex digits
        push eax
        shr eax, 16
        call print_hex16_32     ; the high half
        pop eax
        call print_hex16_32     ; the low half
        ret

print_hex16_32:                 ; AX as 4 hex digits
        push eax
        mov al, ah
        call print_hex8_32
        pop eax
        call print_hex8_32
        ret

print_hex8_32:                  ; AL as 2 hex digits
        push eax
        shr al, 4
        call print_digit32
        pop eax
        push eax
        and al, 0x0f
        call print_digit32
        pop eax
        ret

print_digit32:                  ; AL (0..15) as one hex digit
        push eax
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xe9, al
        pop eax
        ret

; =============================================================================
; 16-bit (real-mode) printing routines
; =============================================================================
        bits 16
print_str16:                    ; the zero-terminated string at DS:SI
        push ax
.next:  mov al, [si]
        inc si
        cmp al, 0
        je .done
        out 0xe9, al
        jmp .next
.done:  pop ax
        ret

print_hex32_16:                 ; EAX as 8 hex digits
        push eax
        shr eax, 16
        call print_hex16
        pop eax
        call print_hex16
        ret

print_hex16:                    ; AX as 4 hex digits
        push ax
        mov al, ah
        call print_hex8
        pop ax
        call print_hex8
        ret

print_hex8:                     ; AL as 2 hex digits
        push ax
        shr al, 4
        call print_digit16
        pop ax
        push ax
        and al, 0x0f
        call print_digit16
        pop ax
        ret

print_digit16:                  ; AL (0..15) as one hex digit
        push ax
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xe9, al
        pop ax
        ret

; =============================================================================
; The Global Descriptor Table
;
; A descriptor packs its fields in a historical order (the 80286 had 24-bit
; bases and 16-bit limits; the 80386 added the rest in the last bytes):
;   bytes 0-1  limit bits 15..0
;   bytes 2-3  base bits 15..0
;   byte  4    base bits 23..16
;   byte  5    access: P (present, bit 7), DPL (privilege 0-3, bits 6-5),
;              S (1 = code/data, bit 4), type (bits 3-0: for code 1010b =
;              execute/read, for data 0010b = read/write)
;   byte  6    flags in bits 7-4: G (granularity: limit counted in 4 KiB
;              units), D/B (1 = 32-bit segment), L (64-bit code), AVL;
;              limit bits 19..16 in bits 3-0
;   byte  7    base bits 31..24
; The DESCRIPTOR macro below does the packing: base, limit (20 bits),
; access byte, flags (4 bits).
; =============================================================================
; ANCHOR: descriptor
%macro DESCRIPTOR 4
        dw (%2) & 0xffff                        ; limit 15..0
        dw (%1) & 0xffff                        ; base 15..0
        db ((%1) >> 16) & 0xff                  ; base 23..16
        db (%3)                                 ; access byte
        db (((%4) & 0xf) << 4) | (((%2) >> 16) & 0xf)  ; flags, limit 19..16
        db ((%1) >> 24) & 0xff                  ; base 31..24
%endmacro
; ANCHOR_END: descriptor

; ANCHOR: gdt
        align 8                 ; descriptors are read faster when aligned
gdt:
        dq 0                    ; 00h: the null descriptor (selector 0 means
                                ; "no segment"; the CPU never uses entry 0)
        ; 08h: code, base 0, limit FFFFFh x 4 KiB = 4 GiB.
        ;      access 9Ah = P=1, DPL=0, S=1, type 1010b (execute/read)
        ;      flags Ch = G=1 (4 KiB units), D=1 (32-bit)
        DESCRIPTOR 0, 0xfffff, 0x9a, 0xc
        ; 10h: data, base 0, 4 GiB.  access 92h = type 0010b (read/write)
        DESCRIPTOR 0, 0xfffff, 0x92, 0xc
        ; 18h: data, base 200000h, limit FFFFh bytes (G=0): a 64 KiB
        ;      window at 2 MiB.  Offsets above FFFFh in it would fault (#GP).
        DESCRIPTOR HIGH_BASE, 0xffff, 0x92, 0x4
gdt_end:

gdtr:   dw gdt_end - gdt - 1    ; the limit: the last valid byte's offset
        dd gdt                  ; the base: linear address of the table
; ANCHOR_END: gdt
