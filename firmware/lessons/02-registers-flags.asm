; =============================================================================
; Lesson 02 - Registers and flags
;
; The general registers of a 16-bit x86 are AX, BX, CX, DX, SI, DI, BP and SP.
; AX, BX, CX and DX each split into two 8-bit halves: AX = AH:AL (high byte,
; low byte).  Since the 80386 each register is the low half of a 32-bit one
; (EAX, EBX, ...), usable even in real mode.
;
; Arithmetic instructions also leave a report in the FLAGS register: six
; "status flags", single bits that describe the result.
;   CF carry     the unsigned result did not fit: a carry out of the top bit
;                (ADD), or a borrow (SUB, CMP).
;   OF overflow  the signed (two's complement) result did not fit.
;   SF sign      a copy of the result's top bit: 1 = negative if signed.
;   ZF zero      the result is 0.
;   PF parity    the LOW BYTE of the result has an even number of 1 bits.
;   AF adjust    a carry or borrow between bit 3 and bit 4 (used for BCD).
; Conditional jumps such as JE, JB and JL decide by testing these bits.
;
; Each line of output shows one instruction, its result, and the flags it
; left.  Only flags that the Intel SDM defines for that instruction are shown:
; after AND, for instance, AF is "undefined" (it may be anything), so it is
; left out.
;
; What to watch:
;   - AX, AH and AL in the first block: writing AL changes only the low byte
;     of AX; writing EAX changes AX too.
;   - The FLAGS register, bits CF PF AF ZF SF OF: step over each ADD, SUB,
;     CMP, INC, DEC, NEG, AND and see which bits the single instruction
;     changes.  MOV and CALL never change them: that is why
;     `call show_al` can read the flags of the instruction just before it.
;   - STC/CLC set/clear CF by hand; INC and DEC then leave CF untouched.
;   - After CMP, AL is unchanged: CMP is a SUB that keeps only the flags.
;   - In show_cmp, POPF puts the saved flags back and JB / JL read them.
;   - The stack (SS:SP) in show_al: PUSHF copies FLAGS to memory there.
; =============================================================================

        bits 16
        org 0x7c00

; ANCHOR: masks
; Masks for the status flags: each is one bit of the FLAGS register.
FL_CF   equ 1 << 0
FL_PF   equ 1 << 2
FL_AF   equ 1 << 4
FL_ZF   equ 1 << 6
FL_SF   equ 1 << 7
FL_OF   equ 1 << 11
; ADD, SUB, CMP, NEG, INC, DEC define all six; AND, OR, XOR leave AF undefined.
ARITH   equ FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF
LOGIC   equ FL_CF | FL_PF | FL_ZF | FL_SF | FL_OF
; ANCHOR_END: masks

; PRINT "text": print a string written right here in the code.  The macro
; places the bytes of the string in the program, jumps over them, and calls
; print_str with their address.  (%%str and %%skip are labels private to each
; use of the macro.)  It changes SI and the flags, nothing else.
%macro PRINT 1
        jmp %%skip
%%str:  db %1, 0
%%skip: mov si, %%str
        call print_str
%endmacro

start:
        PRINT `Lesson 02: registers and flags\n`

; ANCHOR: halves
; --- 1. Registers and their halves -------------------------------------------
        mov ax, 0x1234          ; AX = 1234h, so AH = 12h and AL = 34h
        PRINT "MOV AX,1234h  : "
        call show_ax_parts
        mov al, 0xff            ; write only the low byte
        PRINT "MOV AL,0FFh   : "
        call show_ax_parts      ; AH is still 12h: AX = 12FFh
        mov ah, 0x00            ; write only the high byte
        PRINT "MOV AH,00h    : "
        call show_ax_parts
        mov eax, 0x89abcdef     ; a 32-bit register (needs a 386 or later)
        PRINT "MOV EAX,89ABCDEFh: EAX="
        call print_hex32        ; EAX as 8 hex digits
        PRINT ", so "
        call show_ax_parts      ; AX is the low half of EAX
; ANCHOR_END: halves

; ANCHOR: add
; --- 2. ADD: carry (unsigned) and overflow (signed) are different things -----
        PRINT `ADD (8-bit) sets all six flags:\n`
        ; 7Fh + 1: as unsigned bytes 127 + 1 = 128 fits (CF=0); as signed
        ; bytes +127 + 1 = +128 does not fit in -128..+127, and the result 80h
        ; reads as -128: OF=1.  80h has its top bit set (SF=1) and a single 1
        ; bit (odd count: PF=0).  7+1 carries out of bit 3: AF=1.
        PRINT "  ADD 7Fh,01h  "
        mov al, 0x7f
        mov bx, ARITH           ; which flags show_al prints (MOV: no flag change)
        add al, 1
        call show_al            ; CALL does not change the flags either
        ; FFh + 1: unsigned 255 + 1 = 256 does not fit in a byte: CF=1 and AL
        ; wraps to 00h (ZF=1).  Signed: -1 + 1 = 0, no overflow: OF=0.
        PRINT "  ADD FFh,01h  "
        mov al, 0xff
        add al, 1
        call show_al
        ; 08h + 08h = 10h: the only carry is from bit 3 into bit 4: AF=1, CF=0.
        PRINT "  ADD 08h,08h  "
        mov al, 0x08
        add al, 0x08
        call show_al
        ; The FLAGS register as one 16-bit number, after ADD 7Fh,01h again:
        ; OF (800h) + SF (80h) + AF (10h) + bit 1 (always 1) = 0892h.  The
        ; other bits are 0 here: CF ZF PF, and the control flags IF (interrupts
        ; off), DF and TF.
        mov al, 0x7f
        add al, 1
        pushf                   ; copy FLAGS onto the stack...
        pop ax                  ; ...and from there into AX
        PRINT "  FLAGS after ADD 7Fh,01h = "
        call print_hex16
        PRINT `h = OF+SF+AF+bit 1 (bit 1 of FLAGS is always 1)\n`
; ANCHOR_END: add
        ; PF looks only at the low byte of a result, even in a 16-bit ADD:
        ; 0100h + 0003h = 0103h; low byte 03h has two 1 bits (even): PF=1.
        PRINT "  ADD 0100h,0003h"
        mov ax, 0x0100
        add ax, 0x0003
        call show_ax

; ANCHOR: cmp
; --- 3. SUB and CMP ----------------------------------------------------------
        PRINT `SUB and CMP compute a-b (CMP keeps AL, only sets flags); CF=1: borrow:\n`
        ; 0 - 1: unsigned, a borrow (CF=1), AL wraps to FFh.  Signed: 0 - 1 =
        ; -1 fits: OF=0.
        PRINT "  SUB 00h,01h  "
        mov al, 0x00
        sub al, 1
        call show_al
        ; 80h - 1: signed -128 - 1 = -129 does not fit: OF=1, result 7Fh (+127).
        ; Unsigned 128 - 1 = 127: no borrow, CF=0.
        PRINT "  SUB 80h,01h  "
        mov al, 0x80
        sub al, 1
        call show_al
        ; CMP subtracts like SUB but throws the difference away: AL keeps 05h.
        PRINT "  CMP 05h,07h  "
        mov al, 0x05
        cmp al, 0x07
        call show_al            ; prints AL (still 05h) and the flags
        call show_cmp           ; what JB and JL decide from those flags
        ; FFh vs 01h: unsigned 255 > 1 (CF=0) but signed -1 < +1 (SF != OF).
        PRINT "  CMP FFh,01h  "
        mov al, 0xff
        cmp al, 0x01
        call show_al
        call show_cmp
; ANCHOR_END: cmp

; ANCHOR: incdec
; --- 4. INC, DEC and NEG -----------------------------------------------------
        PRINT `INC/DEC change OF SF ZF AF PF but never CF (Intel SDM):\n`
        ; STC forces CF=1 first.  7Fh + 1 makes no carry, yet CF stays 1:
        ; INC simply does not write CF.
        PRINT "  STC, INC 7Fh "
        mov al, 0x7f
        stc                     ; CF = 1
        inc al
        call show_al
        ; CLC forces CF=0.  FFh + 1 wraps to 00h, a carry for ADD, yet CF
        ; stays 0.  (So a loop can INC its index between two ADCs without
        ; losing the carry.)
        PRINT "  CLC, INC FFh "
        mov al, 0xff
        clc                     ; CF = 0
        inc al
        call show_al
        ; DEC 80h: signed -128 - 1 overflows (OF=1), unsigned 128 - 1 needs
        ; no borrow, and CF keeps the 1 that STC put there.
        PRINT "  STC, DEC 80h "
        mov al, 0x80
        stc
        dec al
        call show_al
        ; NEG computes 0 - AL: CF=1 unless AL was 0.  -(5) = FBh.
        PRINT "  NEG 05h      "
        mov al, 0x05
        neg al
        call show_al
; ANCHOR_END: incdec

; --- 5. Logic instructions ---------------------------------------------------
        PRINT `AND/OR/XOR clear CF and OF; AF is undefined (not shown):\n`
        mov bx, LOGIC
        PRINT "  AND F0h,0Fh  "
        mov al, 0xf0
        and al, 0x0f            ; no bit is 1 in both: 00h, ZF=1
        call show_al
        PRINT "  OR  F0h,0Fh  "
        mov al, 0xf0
        or al, 0x0f             ; FFh: SF=1, eight 1 bits: PF=1
        call show_al
        PRINT "  XOR AX,AX    "
        mov ax, 0x1234
        xor ax, ax              ; x XOR x = 0: the usual way to zero a register
        call show_ax

; ANCHOR: adc
; --- 6. ADC: adding numbers wider than a register ----------------------------
        ; 0001FFFFh + 00000001h with 16-bit registers, like a schoolbook
        ; addition in two columns: DX:AX holds the 32-bit number.
        PRINT `ADC adds CF from the previous ADD: 0001FFFFh + 1 in 16-bit halves:\n`
        mov bx, ARITH
        mov dx, 0x0001          ; high half
        mov ax, 0xffff          ; low half
        PRINT "  ADD AX,1     "
        add ax, 1               ; low halves: FFFFh + 1 = 0000h, carry out: CF=1
        call show_ax            ; (show_ax gives the flags back as it found them)
        pushf                   ; PRINT changes the flags: keep CF on the stack
        PRINT "  ADC DX,0     "
        popf                    ; CF = the carry of the ADD again
        adc dx, 0               ; high halves: 0001h + 0 + CF(1) = 0002h
        push ax
        mov ax, dx              ; show_ax prints AX (MOV and PUSH keep the flags)
        call show_ax
        pop ax                  ; DX:AX = 0002h:0000h = 00020000h
        PRINT "  DX:AX = "
        xchg ax, dx             ; swap: AX = the high half...
        call print_hex16
        xchg ax, dx             ; ...and back: AX = the low half
        call print_hex16
        PRINT `h\n`
; ANCHOR_END: adc

        PRINT `Done.\n`
        cli
        hlt

; =============================================================================
; Helper routines.  They all preserve the registers they use (PUSH at the
; start, POP at the end; lesson 03 explains the stack).
; =============================================================================

; show_al: print " -> AL" and the flags selected by the mask in BX, as they
; were when show_al was called.  Keeps all registers AND the flags.
show_al:
        pushf                   ; FIRST, save the flags the caller left
        push ax
        push si
        PRINT " -> "
        call print_hex8         ; AL
        PRINT "h   "
        jmp show_common

; show_ax: the same for AX (16-bit results).
show_ax:
        pushf
        push ax
        push si
        PRINT " -> "
        call print_hex16        ; AX
        PRINT "h "
show_common:                    ; stack: SI, AX, FLAGS (SP points at SI)
        push bp
        mov bp, sp              ; [bp+6] = the saved FLAGS
        mov ax, [bp + 6]
        call print_flags        ; AX = FLAGS image, BX = mask
        mov al, 10
        out 0xe9, al
        pop bp
        pop si
        pop ax
        popf                    ; the caller's flags again
        ret

; ANCHOR: show_cmp
; show_cmp: with the flags of a CMP, say whether JB (unsigned "below", jumps
; if CF=1) and JL (signed "less", jumps if SF != OF) would jump, by letting
; the real instructions decide.  Keeps all registers and the flags.
show_cmp:
        pushf                   ; the flags of the CMP
        push ax
        push si
        push bp
        mov bp, sp              ; [bp+6] = the saved FLAGS
        PRINT "      JB (unsigned a<b): "
        push word [bp + 6]
        popf                    ; FLAGS = what CMP left (PRINT changed them)
        mov si, str_no          ; MOV changes no flags
        jnb .b                  ; JNB: jump if CF = 0
        mov si, str_yes
.b:     call print_str
        PRINT ", JL (signed a<b): "
        push word [bp + 6]
        popf
        mov si, str_no
        jnl .l                  ; JNL: jump if SF = OF
        mov si, str_yes
.l:     call print_str
        mov al, 10
        out 0xe9, al
        pop bp
        pop si
        pop ax
        popf
        ret
str_yes: db "jumps", 0
str_no:  db "no", 0
; ANCHOR_END: show_cmp

; show_ax_parts: print "AX=.... AH=.. AL=.." and a new line.
show_ax_parts:
        push ax
        push si
        PRINT "AX="
        call print_hex16
        PRINT " AH="
        push ax
        mov al, ah
        call print_hex8
        pop ax
        PRINT " AL="
        call print_hex8
        mov al, 10
        out 0xe9, al
        pop si
        pop ax
        ret

; print_flags: for each flag whose bit is set in the mask BX, print " XF=v"
; with v its value (0 or 1) in the FLAGS image in AX.
print_flags:
        push ax
        push cx
        push dx
        push si
        mov dx, ax              ; DX = the FLAGS image
        mov si, flag_table
        mov cx, 6               ; six entries
.next:  mov ax, [si + 2]        ; this flag's bit
        test bx, ax             ; TEST = AND that keeps only the flags
        jz .skip                ; bit not in the mask: not asked for
        mov al, ' '
        out 0xe9, al
        mov al, [si]            ; the name, two letters
        out 0xe9, al
        mov al, [si + 1]
        out 0xe9, al
        mov al, '='
        out 0xe9, al
        mov al, '0'
        test dx, [si + 2]       ; is the flag set in the image?
        jz .out
        mov al, '1'
.out:   out 0xe9, al
.skip:  add si, 4               ; next entry
        dec cx
        jnz .next
        pop si
        pop dx
        pop cx
        pop ax
        ret
; name, then the bit's mask: in the order they sit in FLAGS, high to low.
flag_table:
        db "OF"
        dw FL_OF
        db "SF"
        dw FL_SF
        db "ZF"
        dw FL_ZF
        db "AF"
        dw FL_AF
        db "PF"
        dw FL_PF
        db "CF"
        dw FL_CF

; print_str: print the zero-terminated string at SI.  Keeps AX; changes SI
; and the flags.
print_str:
        push ax
.next:  mov al, [si]
        inc si
        cmp al, 0
        je .done
        out 0xe9, al
        jmp .next
.done:  pop ax
        ret

; print_hex32: EAX as 8 hex digits.  ROR rotates EAX by 16 bits, so its high
; half comes down into AX; a second ROR puts it back.
print_hex32:
        ror eax, 16
        call print_hex16        ; the high half
        ror eax, 16
        call print_hex16        ; the low half
        ret

; print_hex16: AX as 4 hex digits (AH first).  Keeps AX.
print_hex16:
        push ax
        mov al, ah
        call print_hex8
        pop ax
        call print_hex8
        ret

; print_hex8: AL as 2 hex digits.  Keeps AX.
print_hex8:
        push ax
        shr al, 4               ; the high nibble
        call print_digit
        pop ax
        push ax
        and al, 0x0f            ; the low nibble
        call print_digit
        pop ax
        ret

; print_digit: AL (0..15) as '0'..'9' or 'A'..'F'.
print_digit:
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xe9, al
        ret
