; Workload `mem`: memory traffic over 1 MiB buffers.  Each iteration fills the
; source with a pattern, copies it byte by byte and then qword by qword, and
; checksums the copy both ways; the final checksum is printed in hex.
; Set the count with `-D ITERATIONS=n` and the buffers' size with `-D SIZE=n`.
; A 64-bit program at 100000h; the buffers are at 200000h and 300000h
; (identity-mapped by the loader or the firmware).
%ifndef ITERATIONS
%define ITERATIONS 8
%endif
SRC     equ 0x200000
DST     equ 0x300000
%ifndef SIZE
%define SIZE 0x100000
%endif
        bits 64
        org 0x100000
        mov r8, ITERATIONS
        xor r9, r9                  ; the checksum
.iter:  mov rdi, SRC                ; fill: qword k = k * 0x0101010101010101 + iteration
        xor ecx, ecx
        mov r10, 0x0101010101010101
.fill:  mov rax, rcx
        imul rax, r10
        add rax, r8
        mov [rdi + rcx * 8], rax
        inc rcx
        cmp rcx, SIZE / 8
        jb .fill
        mov rsi, SRC                ; copy byte by byte
        mov rdi, DST
        mov rcx, SIZE
.byte:  mov al, [rsi]
        mov [rdi], al
        inc rsi
        inc rdi
        dec rcx
        jnz .byte
        xor ecx, ecx                ; byte checksum of the copy
.bsum:  movzx eax, byte [DST + rcx]
        add r9, rax
        inc rcx
        cmp rcx, SIZE
        jb .bsum
        xor ecx, ecx                ; copy qword by qword, and sum
.qword: mov rax, [SRC + rcx * 8]
        mov [DST + rcx * 8], rax
        add r9, rax
        inc rcx
        cmp rcx, SIZE / 8
        jb .qword
        dec r8
        jnz .iter
        mov rax, r9
        jmp report_and_halt
%include "hex64.inc"
