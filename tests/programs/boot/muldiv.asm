; muldiv -- mul/imul/div/idiv in 8-, 16- and 32-bit forms (one-operand,
; and imul's two- and three-operand forms), results in hex and decimal.
; Only CF and OF are printed after mul/imul (SF ZF AF PF are undefined);
; no flags are printed after div/idiv (all undefined).
; Then multiword arithmetic: 1! .. 20! as 64-bit numbers (mul chains) printed
; in decimal with 64-by-32-bit division chains, 2^64-1 in decimal, and
; 2^32-1 in decimal with 16-bit division chains.
%include "lib.inc"

main:
; --- 8-bit: AX = AL * r/m8 ---------------------------------------------
        mov al, 200
        mov bl, 3
        mul bl
        P "mul8 "
        call u16
        mov al, 15
        mov bl, 17
        mul bl
        P "mul8 "
        call u16
        mov al, -2
        mov bl, 3
        imul bl
        P "imul8 "
        call s16
        mov al, -128
        mov bl, -1
        imul bl
        P "imul8 "
        call s16
        mov al, 100
        imul byte [m8]          ; 100 * -2
        P "imul8 "
        call s16

; --- 16-bit: DX:AX = AX * r/m16 ----------------------------------------
        mov ax, 0xFFFF
        mov bx, 0xFFFF
        mul bx
        P "mul16 "
        call u32
        mov ax, 300
        mov cx, 200
        mul cx
        P "mul16 "
        call u32
        mov ax, -300
        mov bx, 200
        imul bx
        P "imul16 "
        call s32
        mov ax, -300
        imul word [m16]         ; -300 * 100
        P "imul16 "
        call s32

; --- 32-bit: EDX:EAX = EAX * r/m32 -------------------------------------
        mov eax, 0x12345678
        mov ebx, 0x9ABCDEF0
        mul ebx
        P "mul32 "
        call x64
        mov eax, 0x10000
        mul dword [m32]         ; 65536 * 40000
        P "mul32 "
        call x64
        mov eax, -123456789
        mov ecx, 1000
        imul ecx
        P "imul32 "
        call x64
        mov eax, -50000
        mov esi, 40000
        imul esi                ; -2000000000 fits: CF=OF=0
        P "imul32 "
        call x64

; --- imul two- and three-operand forms (result truncated, CF=OF=overflow)
        mov bx, -7
        mov cx, 1234
        imul bx, cx
        P "imul r16 "
        xchg ax, bx
        call s16
        mov bx, 7
        imul ax, bx, 5000       ; 35000 does not fit in 16 bits
        P "imul r16 "
        call s16
        mov bx, 7
        imul dx, bx, -3         ; imm8 form
        P "imul r16 "
        xchg ax, dx
        call s16
        mov ebx, 30000
        imul eax, ebx, 100000   ; 3e9 does not fit in 32 bits
        P "imul r32 "
        call s32x
        mov edx, -46341
        imul edx, [m32]         ; -46341 * 40000
        P "imul r32 "
        xchg eax, edx
        call s32x

; --- division: quotient and remainder ------------------------------------
        mov ax, 1000
        mov bl, 7
        div bl
        P "div8 "
        call qu8
        mov ax, 0xFDF9
        mov bl, 0xFE
        div bl                  ; 65017 / 254 = 255 r 247
        P "div8 "
        call qu8
        mov ax, -7
        mov bl, 2
        idiv bl
        P "idiv8 "
        call qr8
        mov ax, 250
        idiv byte [m8]          ; 250 / -2
        P "idiv8 "
        call qr8
        mov dx, 1
        mov ax, 0x86A0          ; 100000
        mov bx, 300
        div bx
        P "div16 "
        call qu16
        mov ax, -1000
        cwd
        mov bx, -7
        idiv bx
        P "idiv16 "
        call qr16
        mov dx, 0x0F
        mov ax, 0x4240          ; 1000000
        div word [m16]          ; / 100
        P "div16 "
        call qu16
        mov edx, 2
        mov eax, 0x540BE3FF     ; 9999999999
        mov ecx, 100000
        div ecx
        P "div32 "
        call qu32
        mov eax, -2000000000
        cdq
        mov ecx, 3
        idiv ecx
        P "idiv32 "
        call qr32
        mov eax, 7
        cdq
        mov ecx, -2
        idiv ecx
        P "idiv32 "
        call qr32

; --- n! for n = 1..20 in 64 bits -----------------------------------------
        mov dword [fact], 1
        mov dword [fact+4], 0
        mov esi, 1
.fact:  mov eax, [fact]
        mul esi                 ; low dword * n
        mov [fact], eax
        mov ebx, edx
        mov eax, [fact+4]
        mul esi                 ; high dword * n
        add eax, ebx
        mov [fact+4], eax
        mov eax, esi
        call pdec
        P "! = "
        mov eax, [fact]
        mov edx, [fact+4]
        call pdec64
        P 10
        inc esi
        cmp esi, 20
        jbe .fact

        P "2^64-1 = "
        mov eax, -1
        cdq
        call pdec64
        P 10

; --- 2^32-1 printed with 16-bit divisions of a two-word number -----------
        P "2^32-1 = "
        mov word [w32], 0xFFFF
        mov word [w32+2], 0xFFFF
        mov bx, 10
        xor cx, cx
.d16:   xor dx, dx
        mov ax, [w32+2]
        div bx                  ; high word / 10
        mov [w32+2], ax
        mov ax, [w32]
        div bx                  ; (remainder:low word) / 10
        mov [w32], ax
        push dx
        inc cx
        or ax, [w32+2]
        jnz .d16
.p16:   pop ax
        add al, '0'
        out 0xE9, al
        loop .p16
        P 10, "ok", 10
        EXIT

; u16/s16: print AX in hex and as unsigned/signed decimal, then CF/OF.
u16:    call phex16
        P " "
        push eax
        movzx eax, ax
        call pdec
        pop eax
        jmp pmulf
s16:    call phex16
        P " "
        push eax
        movsx eax, ax
        call psdec
        pop eax
        jmp pmulf
; u32/s32: print DX:AX in hex and as unsigned/signed decimal, then CF/OF.
u32:    push eax
        xchg ax, dx
        call phex16
        xchg ax, dx
        call phex16
        P " "
        push dx
        push ax
        pop eax                 ; EAX = DX:AX (no flags touched)
        call pdec
        pop eax
        jmp pmulf
s32:    push eax
        xchg ax, dx
        call phex16
        xchg ax, dx
        call phex16
        P " "
        push dx
        push ax
        pop eax                 ; EAX = DX:AX
        call psdec
        pop eax
        jmp pmulf
; s32x: EAX in hex and signed decimal, then CF/OF.
s32x:   call phex32
        P " "
        call psdec
        jmp pmulf
; x64: EDX:EAX in hex, then CF/OF.
x64:    xchg eax, edx
        call phex32
        xchg eax, edx
        call phex32
pmulf:  P " f="
        PFL F_MUL
        P 10
        ret

; qr8/qr16/qr32: print quotient and remainder as signed decimals (idiv);
; qu8/qu16/qu32: the same as unsigned decimals (div).
qr8:    push eax
        movsx eax, al
        call psdec
        P " r "
        pop eax
        push eax
        movsx eax, ah
        call psdec
        pop eax
        P 10
        ret
qu8:    push eax
        movzx eax, al
        call pdec
        P " r "
        pop eax
        push eax
        movzx eax, ah
        call pdec
        pop eax
        P 10
        ret
qr16:   push eax
        movsx eax, ax
        call psdec
        P " r "
        movsx eax, dx
        call psdec
        pop eax
        P 10
        ret
qu16:   push eax
        movzx eax, ax
        call pdec
        P " r "
        movzx eax, dx
        call pdec
        pop eax
        P 10
        ret
qr32:   call psdec
        P " r "
        xchg eax, edx
        call psdec
        xchg eax, edx
        P 10
        ret
qu32:   call pdec
        P " r "
        xchg eax, edx
        call pdec
        xchg eax, edx
        P 10
        ret

; pdec64: print EDX:EAX as an unsigned decimal number.
pdec64: pushad
        mov ebx, 10
        xor cx, cx
.d:     mov esi, eax
        mov eax, edx
        xor edx, edx
        div ebx                 ; high / 10
        mov edi, eax
        mov eax, esi
        div ebx                 ; (remainder:low) / 10
        push dx
        inc cx
        mov edx, edi
        mov esi, eax
        or esi, edx
        jnz .d
.p:     pop ax
        add al, '0'
        out 0xE9, al
        loop .p
        popad
        ret

m8:     db -2
m16:    dw 100
m32:    dd 40000
fact:   dq 0
w32:    dd 0

        IMAGE_END
