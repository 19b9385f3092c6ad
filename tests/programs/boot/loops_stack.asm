; loops_stack -- loop/loope/loopne, jcxz/jecxz, loop with a 32-bit count
; (address-size prefix: ECX), enter/leave with nesting levels 0..3,
; pusha/popa and pushad/popad (with the stacked image printed), push/pop
; of segment registers, push imm8/imm16, push sp (pushes the value before
; the push on 286+), push/pop of memory operands, and changing SS:SP.
%include "lib.inc"

main:
; --- loop: sum 1..100 ----------------------------------------------------------
        xor ax, ax
        mov cx, 100
.sum:   add ax, cx
        loop .sum
        P "loop sum="
        movzx eax, ax
        call pdec

; --- loope: length of the run of equal bytes; loopne: find a byte -------------
        mov si, run
        mov cx, 10
.le:    lodsb
        cmp al, 7
        loope .le               ; stops at the first byte != 7 (or CX=0)
        P " loope cx="
        mov ax, cx
        call phex16
        P " zf="
        PFL 0x0040
        mov si, run
        mov cx, 10
.ln:    lodsb
        cmp al, 9
        loopne .ln              ; stops at the first 9
        P " loopne cx="
        mov ax, cx
        call phex16
        P " zf="
        PFL 0x0040

; --- jcxz / jecxz ------------------------------------------------------------------
        P 10, "jcxz "
        mov ecx, 0x00010000     ; CX = 0 but ECX != 0
        jcxz .z1
        P "no "
        jmp .n1
.z1:    P "yes "
.n1:    jecxz .z2
        P "jecxz no "
        jmp .n2
.z2:    P "jecxz yes "
.n2:    xor ecx, ecx
        jecxz .z3
        P "no"
        jmp .n3
.z3:    P "yes"
.n3:

; --- loop with ECX (a32): 0x10003 iterations; the same with CX: 3 ------------
        xor eax, eax
        mov ecx, 0x00010003
.l32:   inc eax
        loop .l32, ecx
        P 10, "a32 loop n="
        call pdec
        P " ecx="
        xchg eax, ecx
        call phex32
        xor eax, eax
        mov ecx, 0x00010003
.l16:   inc eax
        loop .l16
        P " a16 loop n="
        call pdec
        P " ecx="
        xchg eax, ecx
        call phex32             ; upper half untouched

; --- enter/leave with nesting levels -------------------------------------------
        mov [save_sp], sp
        mov sp, 0x6000
        mov bp, 0xAAAA
        enter 4, 0
        call pbpsp
        leave
        call pbpsp
        enter 4, 1
        call pbpsp
        enter 4, 2
        call pbpsp
        enter 4, 3
        call pbpsp
        P 10, "display"         ; [bp-6..bp]: the copied frame pointers, bp
        lea si, [bp-6]
        mov cx, 4
.disp:  P " "
        mov ax, [si]
        call phex16
        add si, 2
        loop .disp
        leave
        call pbpsp
        leave
        call pbpsp
        leave
        call pbpsp
        enter 0x1234, 0
        call pbpsp
        leave
        mov sp, [save_sp]

; --- pusha / popa -------------------------------------------------------------------
        mov ax, 0xA0A0
        mov cx, 0xC1C1
        mov dx, 0xD2D2
        mov bx, 0xB3B3
        mov bp, 0xB5B5
        mov si, 0x5656
        mov di, 0xD7D7
        pusha
        P 10, "pusha"
        mov si, sp
        mov cx, 8
.pa:    P " "
        mov ax, [ss:si+14]      ; AX first (highest address)
        call phex16
        sub si, 2
        loop .pa
        P " sp="
        mov ax, sp
        call phex16
        xor ax, ax
        mov cx, ax
        mov dx, ax
        mov bx, ax
        mov bp, ax
        mov si, ax
        mov di, ax
        popa
        P 10, "popa "
        call phex16
        P " "
        xchg ax, cx
        call phex16
        xchg ax, cx
        P " "
        xchg ax, dx
        call phex16
        xchg ax, dx
        P " "
        xchg ax, bx
        call phex16
        xchg ax, bx
        P " "
        xchg ax, bp
        call phex16
        xchg ax, bp
        P " "
        xchg ax, si
        call phex16
        xchg ax, si
        P " "
        xchg ax, di
        call phex16
        xchg ax, di
        P " sp="
        mov ax, sp
        call phex16

; --- pushad / popad ---------------------------------------------------------------
        mov eax, 0x11112222
        mov ebx, 0x33334444
        mov ebp, 0x55556666
        pushad
        P 10, "pushad eax="
        mov eax, [esp+28]
        call phex32
        P " ebx="
        mov eax, [esp+16]
        call phex32
        P " esp="
        mov eax, [esp+12]       ; ESP before pushad
        call phex32
        P " ebp="
        mov eax, [esp+8]
        call phex32
        xor eax, eax
        xor ebx, ebx
        xor ebp, ebp
        popad
        P 10, "popad eax="
        call phex32
        P " ebx="
        xchg eax, ebx
        call phex32
        xchg eax, ebx
        P " ebp="
        xchg eax, ebp
        call phex32
        xchg eax, ebp
        P " sp="
        mov ax, sp
        call phex16

; --- segment registers on the stack -------------------------------------------
        mov ax, 0x1234
        mov fs, ax
        mov ax, 0x5678
        mov es, ax
        push fs
        push es
        push cs
        pop gs                  ; gs = cs = 0
        pop fs                  ; fs = 0x5678
        pop es                  ; es = 0x1234
        P 10, "segs es="
        mov ax, es
        call phex16
        P " fs="
        mov ax, fs
        call phex16
        P " gs="
        mov ax, gs
        call phex16
        push ss
        pop ds                  ; ds = ss = 0
        P " ds="
        mov ax, ds
        call phex16
        xor ax, ax
        mov es, ax
        mov fs, ax

; --- push imm, push sp, push/pop memory ---------------------------------------------
        push byte -2            ; sign-extended to 0xFFFE
        push word 0x8001
        push dword 0x80
        P 10, "push imm "
        pop eax
        call phex32
        P " "
        pop ax
        call phex16
        P " "
        pop ax
        call phex16
        mov bx, sp
        push sp
        pop ax                  ; SP before the push (286+)
        P " push sp: sp="
        xchg ax, bx
        call phex16
        P " pushed="
        xchg ax, bx
        call phex16
        push word [val]
        pop word [val+2]
        push dword [val]
        pop dword [val+4]
        P " mem "
        mov eax, [val+4]
        call phex32

; --- another stack: SS = 0x0500, SP = 0x0100 -----------------------------------------
        mov [save_sp], sp
        mov ax, 0x0500
        mov ss, ax              ; mov ss inhibits interrupts for one instruction
        mov sp, 0x0100
        push word 0x4321
        mov ax, [0x5000+0x00FE] ; the same word through DS = 0
        mov bx, sp
        xor cx, cx
        mov ss, cx
        mov sp, [save_sp]
        P 10, "ss:sp 0500:"
        xchg ax, bx
        call phex16
        P " word="
        xchg ax, bx
        call phex16
        P 10, "ok", 10
        EXIT

; pbpsp: print " bp=XXXX sp=XXXX" of the caller (SP before the call)
pbpsp:  push ax
        P 10, "bp="
        mov ax, bp
        call phex16
        P " sp="
        lea ax, [esp+4]         ; SP of the caller
        call phex16
        pop ax
        ret

run:    db 7, 7, 7, 7, 9, 7, 7, 9, 1, 2
save_sp: dw 0
val:    dw 0xBEEF, 0, 0, 0

        IMAGE_END
