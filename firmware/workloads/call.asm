; Workload `call`: recursive Fibonacci, fib(N) = fib(N-1) + fib(N-2), computed
; ITERATIONS times: CALL, RET, PUSH and POP dominate.  Prints the sum of the
; results in hex.  Set the counts with `-D ITERATIONS=n` and `-D N=n`.
; A 64-bit program at 100000h.
%ifndef ITERATIONS
%define ITERATIONS 20
%endif
%ifndef N
%define N 24
%endif
        bits 64
        org 0x100000
        mov rsp, 0x90000
        mov r12, ITERATIONS
        xor r13, r13
.iter:  mov edi, N
        call fib
        add r13, rax
        dec r12
        jnz .iter
        mov rax, r13
        jmp report_and_halt

; fib(rdi) -> rax, recursively (keeps rbx).
fib:    cmp rdi, 2
        jb .small
        push rbx
        push rdi
        dec rdi
        call fib
        mov rbx, rax
        pop rdi
        sub rdi, 2
        call fib
        add rax, rbx
        pop rbx
        ret
.small: mov rax, rdi
        ret
%include "hex64.inc"
