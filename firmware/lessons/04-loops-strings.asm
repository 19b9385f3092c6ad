; =============================================================================
; Lesson 04 - Loops and string instructions
;
; x86 has instructions made for loops and for blocks of memory ("strings").
;   LOOP label    CX = CX - 1; jump if CX != 0.  It changes no flags.
;   JCXZ label    jump if CX = 0 (CX is not changed).
;   LODSB         AL = byte at DS:SI, then SI moves by 1.
;   STOSB         byte at ES:DI = AL, then DI moves by 1.
;   MOVSB         byte at ES:DI = byte at DS:SI, then SI and DI move by 1.
;   SCASB         compare AL with the byte at ES:DI (flags as CMP AL,[ES:DI]),
;                 then DI moves by 1.
;   CMPSB         compare the byte at DS:SI with the byte at ES:DI (flags as
;                 CMP [DS:SI],[ES:DI]), then SI and DI move by 1.
; "Moves by 1" means +1 when the direction flag DF is 0 (after CLD) and -1
; when DF is 1 (after STD).
; A prefix repeats one string instruction, counting in CX:
;   REP            while CX != 0: do it, CX = CX - 1        (MOVS, STOS)
;   REPE / REPZ    the same, but also stop after a compare that gave ZF = 0
;   REPNE / REPNZ  the same, but also stop after a compare that gave ZF = 1
; With REP, MOVSB is C's memcpy, STOSB memset, REPNE SCASB memchr / strlen,
; REPE CMPSB memcmp.
;
; What to watch:
;   - CX counting down in LOOP and in every REP; it is 0 when a REP ends
;     because the count ran out.
;   - SI and DI after each string instruction: +1 per byte with DF = 0,
;     -1 per byte with DF = 1.  Single-stepping a REP instruction runs one
;     repetition per step, as the processor's own single-step trap (TF) does:
;     IP stays on the instruction, CX goes down by one, SI/DI move, until
;     the repetition ends.
;   - DF in FLAGS: CLD clears it, STD sets it.
;   - The memory at `buffer` and at `work`: STOSB and MOVSB write there.
;   - ZF after REPE CMPSB and REPNE SCASB: it tells why the repetition stopped.
; =============================================================================

        bits 16
        org 0x7c00

; PRINT "text": print a string written here in the code (see lesson 02).
; It changes SI and the flags.
%macro PRINT 1
        jmp %%skip
%%str:  db %1, 0
%%skip: mov si, %%str
        call print_str
%endmacro

start:
        cld                     ; DF = 0: string instructions go forward
                                ; (the usual convention: code that sets DF
                                ;  clears it again when done)
        PRINT `Lesson 04: loops and string instructions\n`

; --- 1. LOOP -----------------------------------------------------------------
        PRINT "LOOP with CX = 5:"
        mov cx, 5
.count: PRINT " "
        mov ax, cx
        call print_hex8         ; CX's low byte: 5, 4, 3, 2, 1
        loop .count             ; CX = CX - 1; jump back while CX != 0
        PRINT "   (after: CX = "
        mov ax, cx
        call print_hex16
        PRINT `)\n`

; --- 2. JCXZ -----------------------------------------------------------------
        ; A LOOP body entered with CX = 0 would run 65536 times: LOOP first
        ; makes CX = FFFFh, which is not 0.  JCXZ before the loop guards that.
        PRINT "JCXZ with CX = 0: "
        xor cx, cx              ; CX = 0: "no elements"
        jcxz .empty             ; CX = 0: skip the loop entirely
.body:  PRINT "X"               ; (never reached here)
        loop .body
.empty: PRINT `loop body skipped\n`

; --- 3. REP STOSB: fill memory (memset) --------------------------------------
        ; ES:DI = the destination; DS = ES = 0 here, so offsets are addresses.
        mov di, buffer
        mov al, '*'             ; the byte to store
        mov cx, 16              ; how many
        rep stosb               ; 16 times: [ES:DI] = AL, DI = DI + 1, CX - 1
        mov byte [buffer + 16], 0   ; end the string
        PRINT "REP STOSB '*' x16: "
        mov si, buffer
        call print_str
        PRINT ", DI moved by "
        mov ax, di
        sub ax, buffer          ; how far DI went: 16 = 10h
        call print_hex16
        call newline

; --- 4. REP MOVSB: copy memory (memcpy) --------------------------------------
        mov si, hello           ; DS:SI = source
        mov di, buffer          ; ES:DI = destination
        mov cx, HELLO_LEN + 1   ; the text and its 0 byte
        rep movsb
        PRINT "REP MOVSB copy:    "
        mov si, buffer
        call print_str
        call newline

; --- 5. LODSB/STOSB loop: read, change, write --------------------------------
        ; Upper-case the copy in place: SI reads and DI writes the same bytes.
        mov si, buffer
        mov di, buffer
.upper: lodsb                   ; AL = [DS:SI], SI + 1
        cmp al, 'a'
        jb .keep                ; below 'a': not a lower-case letter
        cmp al, 'z'
        ja .keep                ; above 'z': neither
        sub al, 'a' - 'A'       ; 'a'..'z' -> 'A'..'Z' (subtract 20h)
.keep:  stosb                   ; [ES:DI] = AL, DI + 1
        cmp al, 0
        jne .upper              ; until the 0 byte has been copied
        PRINT "LODSB/STOSB upper: "
        mov si, buffer
        call print_str
        call newline

; --- 6. REPNE SCASB: search (strlen, memchr) ---------------------------------
        ; strlen: scan for the 0 byte with CX = FFFFh ("no limit").  Each
        ; step decrements CX, and the step that finds the 0 counts too, so
        ; length = FFFFh - CX - 1.
        mov di, hello
        xor al, al              ; AL = 0, the byte to look for
        mov cx, 0xffff
        repne scasb             ; while CX != 0 and [ES:DI] != AL
        mov ax, 0xffff
        sub ax, cx
        dec ax                  ; AX = FFFFh - CX - 1 = the length
        PRINT "REPNE SCASB strlen(hello) = "
        call print_hex16
        call newline
        ; memchr: where is the first ','?  The scan stops just past it.
        mov di, hello
        mov al, ','
        mov cx, HELLO_LEN
        repne scasb
        mov bx, di              ; MOV keeps the flags of the last SCASB
        pushf                   ; ZF = 1: it stopped because it found ','
        PRINT "REPNE SCASB ',' found at index "
        mov ax, bx
        sub ax, hello + 1       ; DI is one past the match
        call print_hex16
        PRINT ", CX left = "
        mov ax, cx
        call print_hex16
        PRINT ", ZF = "
        pop ax                  ; the saved FLAGS
        shr ax, 6               ; ZF is bit 6
        and al, 1
        call print_digit        ; one digit, 0 or 1
        call newline

; --- 7. REPE CMPSB: compare (memcmp) -----------------------------------------
        mov si, word1           ; DS:SI = "assembly"
        mov di, word2           ; ES:DI = "assemble"
        mov cx, 8
        repe cmpsb              ; while CX != 0 and the bytes are equal
        pushf                   ; ZF = 0: it stopped on a difference
        ; Here the difference is in the last byte, so CX is 0 as well: CX = 0
        ; alone does not say "equal"; ZF does (ZF = 1 only if all matched).
        PRINT "REPE CMPSB assembly/assemble: differ at index "
        mov ax, di              ; (PRINT changed SI: use DI; both moved
        sub ax, word2 + 1       ;  together, one past the different bytes)
        call print_hex16
        PRINT ", CX left = "
        mov ax, cx
        call print_hex16
        PRINT ", ZF = "
        pop ax
        shr ax, 6
        and al, 1
        call print_digit
        call newline

; --- 8. The direction flag ---------------------------------------------------
        ; With DF = 1, LODSB goes backward: print hello from its last byte.
        PRINT "STD, LODSB backward: "
        mov bx, hello + HELLO_LEN - 1   ; the last character (print_str uses SI)
        mov cx, HELLO_LEN
        std                     ; DF = 1: SI goes down
.back:  xchg bx, si             ; SI = our pointer
        lodsb                   ; AL = [SI], SI - 1
        xchg bx, si
        out 0xe9, al
        loop .back
        cld                     ; DF = 0 again (PRINT does not use DF, but
                                ;  the convention says: restore it)
        call newline

        ; Overlapping copy: move the 6 bytes "ABCDEF" two places to the right
        ; inside "ABCDEFGH".  Forward, the copy overwrites source bytes before
        ; reading them; backward (DF = 1, starting at the last byte) it does
        ; not.  This is why C has memmove as well as memcpy.
        mov si, letters         ; reset the work area to "ABCDEFGH"
        mov di, work
        mov cx, 9
        rep movsb
        mov si, work            ; forward: source work, destination work+2
        mov di, work + 2
        mov cx, 6
        rep movsb
        PRINT "ABCDEFGH, copy 6 bytes 2 right, CLD: "
        mov si, work
        call print_str
        call newline

        mov si, letters         ; reset again
        mov di, work
        mov cx, 9
        rep movsb
        mov si, work + 5        ; backward: start at the LAST byte of each
        mov di, work + 7
        mov cx, 6
        std                     ; DF = 1
        rep movsb               ; [work+7] = [work+5], [work+6] = [work+4], ...
        cld
        PRINT "ABCDEFGH, copy 6 bytes 2 right, STD: "
        mov si, work
        call print_str
        call newline

        cli
        hlt

; -----------------------------------------------------------------------------
; Printing routines.  print_str uses LODSB now.
; -----------------------------------------------------------------------------
print_str:                      ; the zero-terminated string at DS:SI
        push ax
.next:  lodsb                   ; AL = [DS:SI], SI + 1 (DF = 0)
        test al, al             ; AL AND AL: ZF = 1 if AL = 0
        jz .done
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

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
hello:  db "Hello, strings!"
HELLO_LEN equ $ - hello         ; 15 = 0Fh, computed by the assembler
        db 0
word1:  db "assembly"
word2:  db "assemble"
letters: db "ABCDEFGH", 0
work:   times 9 db 0            ; room for "ABCDEFGH" and its 0
buffer: times 32 db 0
