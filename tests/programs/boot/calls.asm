; calls -- near and far transfers of control: call/ret direct, through a
; register and through memory; ret imm16 (callee pops its arguments);
; recursion (fib); a routine copied to 0x3000:0000 and reached with a
; direct far call, an indirect far call through memory and a far jump,
; from where it far-calls back into segment 0; retf and retf imm16;
; a routine reached through an alias segment (CS=0x07C0); jmp far [mem];
; jump tables; rel16 conditional jumps; 32-bit operand-size calls (o32).
; The far helper `where` prints the caller's CS:IP from its stack frame.
%include "lib.inc"

FAR_SEG equ 0x3000
ALIAS   equ 0x07C0

main:
; --- near calls ---------------------------------------------------------------
        call f_near
        mov bx, f_near2
        call bx
        call [p_near]
        mov si, p_near - 2
        call [si+2]
        push word 5
        push word 7
        call f_sub              ; 7 - 5, ret 4 pops both arguments
        P "sub="
        call phex16
        P " sp="
        mov ax, sp
        call phex16
        push word 20
        call fib
        P " fib20="
        movzx eax, ax
        call pdec
        P " maxdepth="
        mov ax, 0x7C00
        sub ax, [minsp]
        call phex16
        P 10

; --- copy the far routines to FAR_SEG:0 --------------------------------------
        mov ax, FAR_SEG
        mov es, ax
        xor di, di
        mov si, far_code
        mov cx, far_len
        rep movsb
        xor ax, ax
        mov es, ax

        call FAR_SEG:0                          ; direct far call
        mov word [fptr], 0
        mov word [fptr+2], FAR_SEG
        call far [fptr]                         ; indirect, memory
        mov bx, fptr
        call far [bx]                           ; indirect, register base
        push word 100
        push word 58
        call FAR_SEG:(far_args - far_code)      ; retf 4
        P "retf4 ax="
        call phex16
        P " sp="
        mov ax, sp
        call phex16
        P 10
        jmp FAR_SEG:(far_jmp - far_code)        ; comes back to .back
        P "not reached"
.back:  P "back in cs="
        mov ax, cs
        call phex16
        P 10

; --- alias segment: the same bytes run with CS=0x07C0 ------------------------
        call ALIAS:(f_alias - ALIAS*16)
        P 10

; --- jmp far [mem] ---------------------------------------------------------------
        mov word [fptr], .jf
        mov word [fptr+2], 0
        jmp far [fptr]
        P "not reached"
.jf:    P "jmp far [mem] ok", 10

; --- jump table: jmp [bx+table] ------------------------------------------------
        xor si, si
.jt:    mov bx, si
        shl bx, 1
        jmp [bx+jtab]
.c0:    P "zero "
        jmp .jn
.c1:    P "one "
        jmp .jn
.c2:    P "two "
.jn:    inc si
        cmp si, 3
        jb .jt
        P 10

; --- rel16 conditional jumps (targets further than 127 bytes) -----------------
        mov cx, 3
.far_loop:
        P "jcc16 "
        dec cx
        jz near .out            ; 0F 84 rel16 forwards
        times 130 nop
        jmp .far_loop
.out:   xor ax, ax
        cmp ax, 1
        jb near .below          ; 0F 82 rel16
        P "not reached"
.below: P 10

; --- operand-size 32 calls in real mode ------------------------------------------
        call dword f32          ; 66 E8 rel32: pushes EIP (4 bytes)
        P " "
        call dword 0:f32far     ; 66 9A: pushes CS and EIP as dwords
        P 10, "ok", 10
        EXIT

; ------------------------------------------------------------------------------
f_near: P "near "
        ret
f_near2:
        P "reg "
        ret
f_near3:
        P "mem "
        ret
f_sub:  push bp
        mov bp, sp
        mov ax, [bp+4]          ; last pushed: 7
        sub ax, [bp+6]          ; first pushed: 5
        pop bp
        ret 4

; fib(n), n on the stack, result in AX; tracks the lowest SP in [minsp]
fib:    push bp
        mov bp, sp
        cmp sp, [minsp]
        jae .sp
        mov [minsp], sp
.sp:    mov ax, [bp+4]
        cmp ax, 2
        jb .done
        dec ax
        push ax
        call fib                ; fib(n-1)
        push ax
        mov ax, [bp+4]
        sub ax, 2
        push ax
        call fib                ; fib(n-2)
        pop bx
        add ax, bx
.done:  pop bp
        ret 2

; where: called far; prints "CS:IP" of its caller from the frame
where:  push bp
        mov bp, sp
        push ax
        mov ax, [bp+4]
        call phex16
        P ":"
        mov ax, [bp+2]
        call phex16
        pop ax
        pop bp
        retf

f_alias:
        P "alias cs="
        mov ax, cs
        call phex16             ; relative call: still reaches phex16
        P " ip="
        call .here
.here:  pop ax
        call phex16
        retf

f32:    P "o32 call sp="
        mov ax, sp
        call phex16
        o32 ret                 ; pops 4 bytes
f32far: P "o32 callf sp="
        mov ax, sp
        call phex16
        P " cs="
        mov ax, [esp+4]         ; low word of the CS slot (the SDM leaves
        call phex16             ; the upper word unspecified)
        o32 retf                ; pops 8 bytes

; --- position-independent code copied to FAR_SEG:0 ---------------------------
far_code:
        call 0:hello_far
        call 0:where            ; prints FAR_SEG:xxxx
        call 0:newline
        retf
far_args:
        push bp
        mov bp, sp
        mov ax, [bp+6]          ; 58
        sub ax, [bp+8]          ; - 100
        pop bp
        retf 4
far_jmp:
        call 0:hello_far
        call 0:where
        call 0:newline
        jmp 0:main.back
far_len equ $-far_code

hello_far:
        P "far code at "
        retf
newline:
        P 10
        retf

p_near: dw f_near3
fptr:   dd 0
minsp:  dw 0xFFFF
jtab:   dw main.c0, main.c1, main.c2

        IMAGE_END
