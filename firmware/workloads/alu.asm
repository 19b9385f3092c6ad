; Workload `alu`: a tight loop of integer arithmetic (ADD, XOR, ROL, IMUL, SUB,
; SHR), ITERATIONS times, then the result in hex on the console.  It measures how
; fast a CPU (software or hardware) runs plain register-to-register instructions.
; Set the count with `-D ITERATIONS=n` (x86lab asm/run), default below.
; Runs as a 64-bit program at 100000h: `x86lab run alu.asm` or with --boot firmware.
%ifndef ITERATIONS
%define ITERATIONS 10000000
%endif
        bits 64
        org 0x100000
        mov rcx, ITERATIONS
        xor eax, eax
        mov rbx, 0x9E3779B97F4A7C15 ; the golden ratio in fixed point
        mov edx, 1
.loop:  add rax, rbx
        xor rax, rdx
        rol rax, 7
        imul rdx, rdx, 5
        sub rdx, rax
        shr rbx, 1
        adc rbx, 0
        dec rcx
        jnz .loop
        jmp report_and_halt
%include "hex64.inc"
