; Workload `string`: the string instructions over 1 MiB buffers.  Each iteration
; fills a buffer with REP STOSQ, copies it with REP MOVSB and compares it with
; REPE CMPSQ; the final checksum (a LODSQ loop over the copy) is printed in hex.
; Set the count with `-D ITERATIONS=n` and the buffers' size with `-D SIZE=n`.
; A 64-bit program at 100000h.
%ifndef ITERATIONS
%define ITERATIONS 16
%endif
SRC     equ 0x200000
DST     equ 0x300000
%ifndef SIZE
%define SIZE 0x100000
%endif
        bits 64
        org 0x100000
        cld
        mov r8, ITERATIONS
        xor r9, r9
.iter:  mov rdi, SRC
        mov rcx, SIZE / 8
        mov rax, r8
        imul rax, rax, 0x1F2E3D4C
        rep stosq
        mov rsi, SRC
        mov rdi, DST
        mov rcx, SIZE
        rep movsb
        mov rsi, SRC
        mov rdi, DST
        mov rcx, SIZE / 8
        repe cmpsq
        add r9, rcx                 ; 0 when the copy is equal
        mov rsi, DST
        mov rcx, SIZE / 8
.sum:   lodsq
        add r9, rax
        loop .sum
        dec r8
        jnz .iter
        mov rax, r9
        jmp report_and_halt
%include "hex64.inc"
