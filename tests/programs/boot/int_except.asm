; int_except -- CPU exceptions and trap instructions in real mode, through
; handlers the program installs in the IVT:
;   #DE (vector 0): div/idiv by zero and quotient overflow in 8/16/32 bits,
;       aam 0; a fault: the saved IP points at the faulting instruction
;       (including its prefixes), so the handler must move it on;
;   int 0 (software): same vector, but the saved IP is after the instruction;
;   int3 (0xCC) and int 3 (0xCD 0x03): vector 3, IP after the instruction;
;   into: no trap while OF=0, vector 4 with IP after it when OF=1;
;   ud2 and a lock prefix on a register operand: #UD (vector 6), a fault.
; Each test records the address of its instruction in [fault_at] and where to
; continue in [resume]; the vcommon handler prints the vector, the saved IP
; relative to [fault_at], the saved CS and FLAGS, and returns with iret to
; [resume] (or re-executes the instruction after fixing a register).
; FLAGS are loaded with popf before each test, so the saved value is known.
%include "lib.inc"

main:
        mov word [0*4], v0
        mov word [3*4], v3
        mov word [4*4], v4
        mov word [6*4], v6
        xor ax, ax
        mov [0*4+2], ax
        mov [3*4+2], ax
        mov [4*4+2], ax
        mov [6*4+2], ax

%macro TEST 3                   ; name, flags, instruction(s)
        P %1
        mov word [fault_at], %%i
        mov word [resume], %%r
        push word %2
        popf
%%i:    %3
        P " no exception"
%%r:    P 10
%endmacro

        mov ax, 0x1234
        xor bl, bl
        TEST "div8/0", 0x0002, {div bl}
        mov ax, 0x1000
        mov bl, 2
        TEST "div8 ovf", 0x0001, {div bl}
        mov ax, -128
        mov bl, -1
        TEST "idiv8 ovf", 0x0080, {idiv bl}
        mov dx, 0xC000          ; -2^30 / -1 = 2^30 (not 0x8000:0000, whose
        xor ax, ax              ; -2^31 / -1 crashes QEMU 7.2 with SIGFPE)
        mov bx, -1
        TEST "idiv16 ovf", 0x0084, {idiv bx}
        mov eax, 1
        xor edx, edx
        xor ecx, ecx
        TEST "div32/0", 0x0040, {div ecx}
        mov dword [zero], 0
        TEST "div32 mem/0", 0x0004, {div dword [cs:zero]}
        mov ax, 100
        TEST "aam 0", 0x0010, {aam 0}
        TEST "int 0", 0x0800, {int 0}
        TEST "int3", 0x0002, {int3}
        TEST "int 3", 0x0001, {int 3}
        mov al, 0x7E
        add al, 1               ; OF=0
        TEST "into OF=0", 0x0002, {into}
        TEST "into OF=1", 0x0892, {into}
        TEST "ud2", 0x0002, {ud2}
        TEST "lock reg", 0x0040, {db 0xF0, 0x01, 0xD8} ; lock add ax, bx

; --- fix the divisor and re-execute the faulting div ------------------------
        mov byte [fixbl], 1
        mov ax, 0x0042
        xor bl, bl
        TEST "div8 retry", 0x0002, {div bl}
        P "retry ax="
        call phex16
        P " bl="
        xchg ax, bx
        call phex8
        P " faults="
        mov al, [count]
        call phex8
        P 10, "ok", 10
        EXIT

v0:     push word 0
        jmp vcommon
v3:     push word 3
        jmp vcommon
v4:     push word 4
        jmp vcommon
v6:     push word 6
vcommon: push bp
        mov bp, sp              ; [bp+2] vector, [bp+4] IP, [bp+6] CS, [bp+8] FLAGS
        push ax
        inc byte [count]
        P " -> vec="
        mov al, [bp+2]
        call phex8
        P " ip=at+"
        mov ax, [bp+4]
        sub ax, [fault_at]
        call phex16
        P " cs="
        mov ax, [bp+6]
        call phex16
        P " fl="
        mov ax, [bp+8]
        call phex16
        cmp byte [fixbl], 0
        jne .fix
        mov ax, [resume]
        mov [bp+4], ax          ; continue at [resume]
        jmp .ret
.fix:   mov bl, 1               ; retry the same instruction with BL=1
        mov byte [fixbl], 0
.ret:   pop ax
        pop bp
        add sp, 2
        iret

fault_at: dw 0
resume: dw 0
zero:   dd 0
count:  db 0
fixbl:  db 0

        IMAGE_END
