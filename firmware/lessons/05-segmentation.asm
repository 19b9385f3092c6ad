; =============================================================================
; Lesson 05 - Real-mode segmentation
;
; The 8086 had 16-bit registers but 20 address lines (1 MiB).  To form a
; 20-bit address it combines two 16-bit numbers, a SEGMENT and an OFFSET:
;
;       physical address = segment * 16 + offset        (written seg:off)
;
; The segment comes from a segment register: CS for instructions, SS for the
; stack, DS for most data, ES for the destination of string instructions.
; (When a segment register is loaded in real mode, the CPU also keeps
; segment * 16 in a hidden "base" part of it; every access adds the offset
; to that base.)  Consequences this program shows:
;   - Segments overlap: a new one starts every 16 bytes, so the same byte has
;     up to 4096 different seg:off names.
;   - Each memory operand has a default segment: DS, except that addresses
;     built with BP (and the stack instructions) use SS.  A prefix such as
;     ES: ("segment override") picks another one.
;   - An offset is a 16-bit number: offset arithmetic wraps around from
;     FFFFh to 0000h, so one segment is a 64 KiB window; to go further you
;     change the segment, not the offset.
;
; What to watch:
;   - DS and ES while they change (a segment register is loaded from a
;     general register or from memory: there is no MOV DS, immediate).
;   - The effective address (the offset) of each memory operand, and which
;     segment register the instruction uses: [bx] -> DS, [bp] -> SS, [es:bx].
;   - Memory at physical 12345h: one byte written once, read back through
;     four different seg:off pairs.
;   - BX + SI = FFF0h + 0020h: the offset is 0010h, not 10010h.
;   - SI after the LODSB at SI = FFFFh: 0000h.
; =============================================================================

        bits 16
        org 0x7c00

; PRINT "text": print a string written here in the code (see lesson 02).
; It reads the string through DS, so DS must be 0 when it is used.
%macro PRINT 1
        jmp %%skip
%%str:  db %1, 0
%%skip: mov si, %%str
        call print_str
%endmacro

start:
        PRINT `Lesson 05: real-mode segmentation (physical = segment*16 + offset)\n`
        PRINT "At start: CS="
        mov ax, cs
        call print_hex16
        PRINT " DS="
        mov ax, ds
        call print_hex16
        PRINT " ES="
        mov ax, es
        call print_hex16
        PRINT " SS="
        mov ax, ss
        call print_hex16
        call newline

; ANCHOR: one-byte
; --- 1. One byte, many names -------------------------------------------------
        ; Write A5h at 1234:0005, that is at 12340h + 5 = 12345h.
        mov ax, 0x1234
        mov es, ax              ; ES = 1234h (no MOV ES, immediate exists)
        mov byte [es:0x0005], 0xa5  ; the ES: prefix: address ES*16 + 0005h
        PRINT `Wrote A5h at 1234:0005. Reading it back:\n`
        mov ax, 0x1234          ; each show_pair: AX = segment, BX = offset
        mov bx, 0x0005
        call show_pair
        mov ax, 0x1000          ; 10000h + 2345h = 12345h
        mov bx, 0x2345
        call show_pair
        mov ax, 0x1230          ; 12300h + 0045h = 12345h
        mov bx, 0x0045
        call show_pair
        mov ax, 0x0235          ; 02350h + FFF5h = 12345h
        mov bx, 0xfff5
        call show_pair
        mov ax, 0x1235          ; for contrast: 12350h + 0005h = 12355h,
        mov bx, 0x0005          ; 16 bytes further (a different byte, 00h)
        call show_pair
; ANCHOR_END: one-byte

; --- 2. Default segments and overrides ----------------------------------------
        ; Put a different marker at offset 0600h of three segments:
        ;   0000:0600 (physical 00600h) = 'S'   (SS = 0)
        ;   1000:0600 (physical 10600h) = 'D'   (DS will be 1000h)
        ;   2000:0600 (physical 20600h) = 'E'   (ES will be 2000h)
        mov byte [0x0600], 'S'  ; DS = 0 still: physical 00600h
        mov ax, 0x1000
        mov es, ax
        mov byte [es:0x0600], 'D'
        mov ax, 0x2000
        mov es, ax              ; ES = 2000h from here on
        mov byte [es:0x0600], 'E'

; ANCHOR: defaults
        mov ax, 0x1000
        mov ds, ax              ; DS = 1000h: now [bx] means 1000:BX
        mov bx, 0x0600
        mov bp, 0x0600          ; BX and BP hold the SAME offset
        mov al, [bx]            ; default DS: 1000:0600 -> 'D'
        mov ah, [bp]            ; default SS: 0000:0600 -> 'S'
        mov cl, [ss:bx]         ; override: SS for a BX address -> 'S'
        mov ch, [ds:bp]         ; override: DS for a BP address -> 'D'
        mov dl, [es:bx]         ; override: ES -> 'E'
        mov dh, [cs:code_byte]  ; CS: a byte of this program (CS = 0) -> 'C';
                                ; without CS: it would read 1000:code_byte
; ANCHOR_END: defaults
        xor si, si
        mov ds, si              ; DS = 0 again (PRINT reads its text via DS)

        PRINT "Same offset 0600h, DS=1000h ES=2000h SS=0000h:"
        PRINT `\n  [bx]="`
        call putc_al            ; AL
        PRINT `" (DS)  [bp]="`
        mov al, ah
        call putc_al
        PRINT `" (SS)  [ss:bx]="`
        mov al, cl
        call putc_al
        PRINT `"  [ds:bp]="`
        mov al, ch
        call putc_al
        PRINT `"  [es:bx]="`
        mov al, dl
        call putc_al
        PRINT `"\n  [cs:code_byte]="`
        mov al, dh
        call putc_al
        PRINT `" (CS=0000h: a byte stored in this program)\n`
        ; MOVSB copies DS:SI -> ES:DI.  DS:SI can be overridden; ES:DI cannot.
        mov si, 0x0600          ; source 0000:0600 ('S')  (DS = 0)
        mov di, 0x0601          ; destination 2000:0601
        cld                     ; DF = 0: SI and DI go up (lesson 04)
        movsb                   ; [ES:DI] = [DS:SI], then SI + 1, DI + 1
        mov al, [es:0x0601]
        PRINT `  MOVSB from DS:0600 to ES:0601 copied "`
        call putc_al
        PRINT `" into segment 2000h\n`

; ANCHOR: wrap
; --- 3. Offsets wrap around at 64 KiB ------------------------------------------
        ; Markers: 1000:0010 (physical 10010h) = 'L', and 2000:0010
        ; (physical 20010h, which is what 10000h + 10010h would be) = 'H'.
        mov byte [es:0x0010], 'H'   ; ES = 2000h
        mov ax, 0x1000
        mov es, ax
        mov byte [es:0x0010], 'L'
        mov byte [es:0xffff], 'Z'   ; the last byte of segment 1000h: 1FFFFh

        mov ds, ax              ; DS = 1000h
        mov bx, 0xfff0
        mov si, 0x0020
        mov dh, [bx + si]       ; offset = (FFF0h + 0020h) mod 10000h = 0010h:
                                ; 1000:0010 -> 'L'
        mov si, 0xffff
        lodsb                   ; AL = [1000:FFFF] = 'Z', then SI = FFFFh + 1,
        mov cx, si              ; which is 0000h (not 10000h): CX = the new SI
; ANCHOR_END: wrap
        xor si, si
        mov ds, si              ; DS = 0 again
        PRINT `Offsets are 16 bits, DS=1000h:\n  BX=FFF0h SI=0020h: [bx+si]="`
        xchg al, dh             ; AL = what [bx+si] read (DH keeps the 'Z')
        call putc_al
        PRINT `" = 1000:0010 ('L'), not physical 20010h ('H')\n`
        PRINT `  LODSB at SI=FFFFh read "`
        mov al, dh
        call putc_al
        PRINT `" (1000:FFFF), then SI = `
        mov ax, cx
        call print_hex16
        PRINT `h (it wrapped; DS did not change)\n`

; ANCHOR: a20
; --- 4. Beyond 1 MiB -----------------------------------------------------------
        ; The largest real-mode address is FFFF:FFFF = FFFF0h + FFFFh =
        ; 10FFEFh, almost 64 KiB above 1 MiB.  The 8086 had only 20 address
        ; lines, A0..A19, so FFFF:0010 (100000h) wrapped to 00000h.  From the
        ; 80286 on there is a 21st line, A20; PCs added a "gate" to force it
        ; to 0 for old programs.  Write a byte through FFFF:0010 and see
        ; whether it landed at 00000h.
        mov ax, 0xffff
        mov es, ax
        mov byte [es:0x0010], 0x5a  ; physical 100000h if A20 is enabled
        PRINT "FFFF:0010 -> physical 100000h: wrote 5Ah, 0000:0000 holds "
        mov al, [0x0000]        ; DS = 0: the byte at physical 0 (the first
                                ; byte of the interrupt vector table that the
                                ; firmware filled)
; ANCHOR_END: a20
        call print_hex8
        PRINT "h"
        cmp al, 0x5a
        je .wrapped
        PRINT `: not a copy, A20 is enabled here\n`
        jmp .end
.wrapped:
        PRINT `: the same byte, the address wrapped to 00000h (A20 off)\n`
.end:
        cli
        hlt

; -----------------------------------------------------------------------------
code_byte: db 'C'

; show_pair: AX = segment, BX = offset.  Prints "  ssss:oooo -> physical
; ppppph: bbh" where ppppp = ssss * 16 + oooo and bb is the byte read through
; ES:BX.  Keeps AX, BX and DX; changes ES.
show_pair:
        push ax
        push dx
        mov es, ax              ; ES = the segment to read through
        PRINT "  "
        call print_hex16        ; the segment
        PRINT ":"
        xchg ax, bx
        call print_hex16        ; the offset
        xchg ax, bx
        PRINT " -> physical "
; ANCHOR: show_pair
        ; Compute segment * 16 + offset in 32 bits: it needs 20 bits.
        movzx eax, ax           ; EAX = segment (upper 16 bits cleared)
        shl eax, 4              ; * 16
        movzx edx, bx
        add eax, edx            ; + offset
        call print_hex20
; ANCHOR_END: show_pair
        PRINT "h: "
        mov al, [es:bx]         ; read the byte through ES:BX
        call print_hex8
        PRINT `h\n`
        pop dx
        pop ax
        ret

; putc_al: print the character in AL.
putc_al:
        out 0xe9, al
        ret

; -----------------------------------------------------------------------------
; Printing routines (as in lesson 03).  All keep AX.
; -----------------------------------------------------------------------------
print_str:                      ; the zero-terminated string at DS:SI
        push ax
.next:  mov al, [si]
        inc si
        cmp al, 0
        je .done
        out 0xe9, al
        jmp .next
.done:  pop ax
        ret

newline:
        push ax
        mov al, 10
        out 0xe9, al
        pop ax
        ret

print_hex20:                    ; the low 20 bits of EAX as 5 hex digits
        push eax
        ror eax, 16             ; bits 19..16 come down into AL
        and al, 0x0f
        call print_digit
        pop eax
        call print_hex16        ; bits 15..0
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
        call print_digit
        pop ax
        push ax
        and al, 0x0f
        call print_digit
        pop ax
        ret

print_digit:                    ; AL (0..15) as one hex digit
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xe9, al
        ret
