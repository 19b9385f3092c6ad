; =============================================================================
; Lesson 03 - The stack, CALL and RET
;
; The stack is an ordinary area of memory that the CPU addresses through
; SS:SP.  In 16-bit code, PUSH x first subtracts 2 from SP and then stores the
; word x at SS:SP; POP y first loads the word at SS:SP into y and then adds 2
; to SP.  So the stack grows DOWN, toward lower addresses, and the last word
; pushed is the first one popped ("last in, first out").  The firmware gave
; us SS = 0 and SP = 7C00h: the stack lies just below this program, which
; starts at 7C00h.
;
; CALL label is "PUSH the address of the next instruction, then JMP label";
; RET is "POP IP".  That is all a subroutine call is: the return address
; lives on the stack, which is why calls can nest and even recurse.  RET n
; pops the return address and then adds n to SP, discarding n bytes of
; arguments.  A routine usually reaches its arguments through BP: after
; PUSH BP / MOV BP,SP, [BP+2] is the return address and [BP+4] the last
; argument pushed (by default [BP+...] addresses the stack segment SS).
;
; What to watch:
;   - SP: every PUSH and CALL subtracts 2, every POP and RET adds 2; RET 4
;     adds 2 + 4.  SP is 7C00h again at the end of each part.
;   - The memory just below 7C00h (the stack): watch the pushed words appear
;     there, low byte first (x86 is "little-endian").
;   - IP at a CALL: it jumps to the routine; the word now at SS:SP is the
;     address of the instruction after the CALL.  At RET, IP takes that word.
;   - BP inside add2 and fact: it marks the routine's "stack frame"; in the
;     recursion each call's BP is 6 bytes lower than its caller's.
;   - AX after each RET of fact: it carries the result back up.
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
        PRINT `Lesson 03: the stack, CALL and RET\n`
        PRINT "At start: SS:SP = "
        mov ax, ss
        call print_hex16
        PRINT ":"
        mov ax, sp              ; capture SP *before* calling anything
        call print_hex16
        call newline

; ANCHOR: push
; --- 1. PUSH and POP ---------------------------------------------------------
        PRINT "PUSH 1111h: SP = "
        push word 0x1111        ; SP = 7BFEh, word 1111h at 0000:7BFE
        mov ax, sp
        call print_hex16        ; (the CALL pushes and the RET pops: SP is
        call newline            ;  the same again when print_hex16 returns)
        PRINT "PUSH 2222h: SP = "
        push word 0x2222        ; SP = 7BFCh
        mov ax, sp
        call print_hex16
        call newline
        PRINT "PUSH 3ABCh: SP = "
        push word 0x3abc        ; SP = 7BFAh
        mov ax, sp
        call print_hex16
        call newline

        ; Dump the 6 bytes from SS:SP upward.  The last word pushed is at the
        ; lowest address, and each word is stored low byte first: 3ABCh is
        ; the bytes BC, 3A.
        PRINT "Bytes at SS:SP: "
        mov bx, sp              ; BX = SP (as a base register, [bx] uses DS;
        mov cx, 6               ;  DS = SS = 0 here, so it is the same memory)
.dump:  mov al, [bx]
        call print_hex8
        PRINT " "
        inc bx
        dec cx
        jnz .dump
        call newline

        PRINT "POP, POP, POP gives: "
        pop ax                  ; 3ABCh: the last pushed comes out first
        call print_hex16
        PRINT " "
        pop ax                  ; 2222h
        call print_hex16
        PRINT " "
        pop ax                  ; 1111h
        call print_hex16
        PRINT ", SP = "
        mov ax, sp              ; 7C00h again
        call print_hex16
        call newline
; ANCHOR_END: push

; ANCHOR: call
; --- 2. CALL pushes the return address, RET pops it --------------------------
        PRINT `CALL show_return:\n`
        call show_return        ; pushes the address of `after_call`, jumps
after_call:
        PRINT "  back after RET: SP = "
        mov ax, sp
        call print_hex16
        PRINT ", label after_call = "
        mov ax, after_call      ; the address the assembler gave the label
        call print_hex16
        call newline
; ANCHOR_END: call

; ANCHOR: args
; --- 3. Arguments on the stack -----------------------------------------------
        ; Like the C call add2(5, 7): push the arguments (the last one
        ; first, as C compilers do), call, and let the routine remove them
        ; with RET 4.
        PRINT `add2(0005h, 0007h) with arguments on the stack:\n`
        push word 7             ; second argument
        push word 5             ; first argument
        call add2               ; AX = 5 + 7; RET 4 also removes both arguments
; ANCHOR_END: args
        PRINT "  AX = "
        call print_hex16
        PRINT ", SP = "
        mov ax, sp              ; 7C00h: the arguments are gone
        call print_hex16
        call newline

; --- 4. Recursion --------------------------------------------------------------
        ; fact(n) = n * fact(n - 1), fact(1) = 1, each call with its own frame.
        PRINT `Recursion: fact(5)\n`
        push word 5             ; the argument n
        call fact               ; AX = 5! = 120 = 78h
fact_returned:
        add sp, 2               ; here the CALLER removes the argument (like C)
        PRINT "fact(5) = "
        call print_hex16
        PRINT "h (120), SP = "
        mov ax, sp
        call print_hex16
        call newline
        PRINT "(return addresses: "
        mov ax, fact_returned   ; after the CALL in the main program
        call print_hex16
        PRINT " = fact_returned, "
        mov ax, fact.back       ; after the CALL inside fact itself
        call print_hex16
        PRINT ` = fact.back)\n`

        cli
        hlt

; -----------------------------------------------------------------------------
; show_return: print SP and the word on top of the stack: the return address
; CALL pushed.  It must equal the address of the label after the CALL.
; -----------------------------------------------------------------------------
; ANCHOR: show_return
show_return:
        mov bx, sp              ; SP: the top of the stack...
        mov dx, [bx]            ; ...holds the return address; DX = that word
        PRINT "  in show_return: SP = "
        mov ax, sp              ; 7BFEh: one word (the return address) pushed
        call print_hex16
        PRINT ", word at SS:SP = "
        mov ax, dx
        call print_hex16
        call newline
        ret                     ; POP IP: continue at after_call
; ANCHOR_END: show_return

; -----------------------------------------------------------------------------
; add2(a, b): return a + b in AX.  The stack after PUSH BP; MOV BP,SP:
;     [bp+6]  b = 0007h   (pushed first)
;     [bp+4]  a = 0005h   (pushed last)
;     [bp+2]  return address (pushed by CALL)
;     [bp+0]  the caller's BP   <- SP = BP
; -----------------------------------------------------------------------------
; ANCHOR: add2
add2:
        push bp                 ; save the caller's BP: we are about to change it
        mov bp, sp              ; BP = a fixed point to find the arguments from
        PRINT "  in add2: BP = "
        mov ax, bp
        call print_hex16
        PRINT ", [BP+2] = "
        mov ax, [bp + 2]        ; the return address
        call print_hex16
        PRINT ", [BP+4] = "
        mov ax, [bp + 4]        ; a
        call print_hex16
        PRINT ", [BP+6] = "
        mov ax, [bp + 6]        ; b
        call print_hex16
        call newline
        mov ax, [bp + 4]        ; AX = a
        add ax, [bp + 6]        ; AX = a + b
        pop bp                  ; the caller's BP; SP -> the return address
        ret 4                   ; POP IP, then SP += 4: drop the two arguments
; ANCHOR_END: add2

; -----------------------------------------------------------------------------
; fact(n): return n! in AX (for n <= 8: 9! = 362880 needs more than 16 bits).
; Each call has its own frame: argument n, return address, saved BP.  That
; is 6 bytes, so each deeper call's BP is 6 lower.
; -----------------------------------------------------------------------------
; ANCHOR: fact
fact:
        push bp
        mov bp, sp              ; [bp+4] = n, [bp+2] = return address
        PRINT "  enter fact("
        mov ax, [bp + 4]
        call print_hex8         ; n (small: its low byte is enough)
        PRINT "): BP = "
        mov ax, bp
        call print_hex16
        PRINT ", returns to "
        mov ax, [bp + 2]
        call print_hex16
        call newline

        mov ax, 1               ; fact(0) = fact(1) = 1
        cmp word [bp + 4], 1
        jbe .done               ; n <= 1: AX = 1 is the answer
        mov ax, [bp + 4]
        dec ax
        push ax                 ; the argument n - 1
        call fact               ; AX = fact(n - 1)
.back:  add sp, 2               ; drop the argument (caller cleans up)
        mul word [bp + 4]       ; DX:AX = AX * n (unsigned); MUL writes DX too,
                                ; here 0, as n! fits in AX for n <= 8
.done:  PRINT "  leave fact("
        push ax
        mov ax, [bp + 4]
        call print_hex8
        pop ax
        PRINT ") = "
        call print_hex16
        call newline
        pop bp
        ret
; ANCHOR_END: fact

; -----------------------------------------------------------------------------
; Printing routines (as in lesson 02).  All keep AX.
; -----------------------------------------------------------------------------
print_str:                      ; the zero-terminated string at SI
        push ax
.next:  mov al, [si]
        inc si
        cmp al, 0
        je .done
        out 0xe9, al
        jmp .next
.done:  pop ax
        ret

newline:                        ; a line feed (character 10)
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
