; =============================================================================
; Lesson 01 - Hello, world on the debug console
;
; The smallest useful x86 program.  The x86lab firmware has already brought the
; machine up and jumped here, to address 0000:7C00, in *real mode*: the 16-bit
; mode every x86 processor starts in, as the original 8086 ran.  There is no
; operating system and no C library: to show text, the program itself sends
; bytes, one at a time, to an I/O port.  x86lab's machine has a "debug
; console" at I/O port E9h: every byte written there appears on the terminal.
;
; The program prints two lines, then prints the value the firmware left in DL
; as a hexadecimal number, and stops the processor.  The small routines here
; (print_str, print_hex8) come back, a little extended, in later lessons:
; each lesson is one self-contained file.
;
; What to watch:
;   - IP, the instruction pointer: it starts at 7C00h and moves forward by the
;     length of each instruction (1 to 3 bytes here); CALL, RET and the jumps
;     change it in one step.
;   - SI walks through the string: it holds the address of the next character.
;   - AL (the low byte of AX) holds the character; OUT 0xE9, AL sends it, and
;     one more character appears on the console after each OUT.
;   - After CMP AL, 0 look at ZF: it is 1 only for the 0 byte that ends the
;     string, and that is what makes JE leave the loop.
;   - In print_hex8, watch AL turn from the number 8 into the character '8'
;     (38h): a digit's character code is the digit plus 30h.
;   - The last instruction, HLT, stops the CPU; because CLI cleared IF just
;     before it, no (maskable) interrupt can wake it again, and x86lab ends
;     the run.
; =============================================================================

        bits 16                 ; real mode: 16-bit registers and addresses
        org 0x7c00              ; the firmware loads us at 7C00h: labels count
                                ; from there, so `msg_hello` is a real address

; ANCHOR: main
start:
        ; The firmware set CS = DS = ES = SS = 0 and SP = 7C00h.  DS is the
        ; segment that memory operands such as [si] use, so [si] means the
        ; byte at address 0*16 + SI = SI (lesson 05 explains segments).
        mov si, msg_hello       ; SI = address of the first character
        call print_str          ; print the string at SI (the routine is below)

        mov si, msg_port
        call print_str

        ; The firmware (like a PC BIOS) passes the boot drive number in DL:
        ; 80h means "the first hard disk".  Print it in hexadecimal.
        mov si, msg_dl
        call print_str
        mov al, dl              ; AL = the number to print
        call print_hex8         ; prints two hex digits: "80"
        mov al, 10              ; 10 = line feed: end the line
        out 0xe9, al

        mov si, msg_bye
        call print_str

        cli                     ; IF = 0: ignore (maskable) interrupts
        hlt                     ; stop; with IF = 0 no interrupt restarts it
; ANCHOR_END: main

; -----------------------------------------------------------------------------
; print_str: send the zero-terminated string at address SI to port E9h.
; Like a C string: the bytes of the text, then a 0 byte marking the end.
; Changes AL and SI (SI ends just past the 0 byte).
; -----------------------------------------------------------------------------
; ANCHOR: print_str
print_str:
        mov al, [si]            ; AL = the byte at address SI (like c = *s)
        inc si                  ; SI = address of the next byte   (s++)
        cmp al, 0               ; compare AL with 0: sets ZF = 1 if equal
        je .done                ; "jump if equal" (ZF = 1): end of the string
        out 0xe9, al            ; write the byte to I/O port E9h: it appears
        jmp print_str           ; and go on with the next one
.done:  ret                     ; return to the instruction after the CALL
; ANCHOR_END: print_str

; -----------------------------------------------------------------------------
; print_hex8: print AL as two hexadecimal digits (for example 80h -> "80").
; A byte is two 4-bit halves ("nibbles"); each is one hex digit 0..F.
; Changes AX.
; -----------------------------------------------------------------------------
print_hex8:
        mov ah, al              ; keep a copy of the whole byte in AH
        shr al, 4               ; shift right by 4: AL = the high nibble (0..15)
        call print_digit
        mov al, ah              ; the byte again
        and al, 0x0f            ; keep only the low nibble (0..15)
        call print_digit
        ret

; print_digit: print AL (0..15) as one hex digit, '0'..'9' or 'A'..'F'.
; ANCHOR: print_digit
print_digit:
        add al, '0'             ; 0..9 -> '0'..'9' (character codes 30h..39h)
        cmp al, '9'
        jbe .out                ; "jump if below or equal" (unsigned): a digit
        add al, 'A' - '9' - 1   ; 10..15: skip the 7 characters between '9'
                                ; and 'A' in ASCII, giving 'A'..'F'
.out:   out 0xe9, al
; ANCHOR_END: print_digit
        ret

; -----------------------------------------------------------------------------
; The data.  `db` places bytes in memory; a string in quotes gives its ASCII
; codes.  10 is the line feed that ends a line; 0 ends the string.
; -----------------------------------------------------------------------------
msg_hello: db "Hello, world!", 10, 0
msg_port:  db "Each character was written by OUT to I/O port 0xE9.", 10, 0
msg_dl:    db "Boot drive in DL = 0x", 0
msg_bye:   db "Halting the CPU now (CLI, HLT).", 10, 0
