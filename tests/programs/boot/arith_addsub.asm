; arith_addsub -- add/adc/sub/sbb on multiword numbers, 16-bit words and
; 32-bit dwords (operand-size prefix in real mode), and the status flags
; (read with pushf and lahf) of add, adc, sub, sbb, inc, dec, neg, cmp.
; Only flags the SDM defines for each instruction are printed.
%include "lib.inc"

main:
; --- 64-bit numbers as four 16-bit words: a + b and a - b ---------------
        mov si, numa
        mov di, numb
        mov bx, r64
        mov cx, 4
        clc
.add16: mov ax, [si]
        adc ax, [di]
        mov [bx], ax
        lea si, [si+2]          ; lea/inc/loop keep CF
        inc di
        inc di
        lea bx, [bx+2]
        loop .add16
        P "add64 "
        mov si, r64+7
        mov cx, 8
        call pbytes
        P " cf="
        PFL 0x0001              ; inc di above redefined the other flags
        P 10

        mov si, numa
        mov di, numb
        mov bx, r64
        mov cx, 4
        clc
.sub16: mov ax, [si]
        sbb ax, [di]
        mov [bx], ax
        lea si, [si+2]
        lea di, [di+2]
        lea bx, [bx+2]
        loop .sub16
        P "sub64 "
        mov si, r64+7
        mov cx, 8
        call pbytes
        P " f="
        PFL F_ARITH
        P 10

; --- 128-bit numbers as four dwords ------------------------------------
        xor si, si
        mov cx, 4
        clc
.add32: mov eax, [x128+si]
        adc eax, [y128+si]
        mov [r128+si], eax
        lea si, [si+4]
        loop .add32
        P "add128 "
        mov si, r128+15
        mov cx, 16
        call pbytes
        P " f="
        PFL F_ARITH
        P 10

        xor si, si
        mov cx, 4
        clc
.sub32: mov eax, [x128+si]
        sbb eax, [y128+si]
        mov [r128+si], eax
        lea si, [si+4]
        loop .sub32
        P "sub128 "
        mov si, r128+15
        mov cx, 16
        call pbytes
        P " f="
        PFL F_ARITH
        P 10

; --- single operations: flags via pushf (PFL) and lahf ------------------
        mov ax, 0x7FFF
        add ax, 1               ; 8000: OF SF AF PF
        lahf
        P "add f="
        PFL F_ARITH
        P " lahf="
        xchg al, ah
        call phex8
        mov al, 0x80
        sub al, 1               ; 7F: OF AF
        P 10, "sub f="
        PFL F_ARITH
        xor ax, ax
        sub ax, 1               ; FFFF: SF AF PF CF
        P " f="
        PFL F_ARITH
        stc
        mov al, 0xFF
        adc al, 0               ; 00: ZF AF PF CF
        P 10, "adc f="
        PFL F_ARITH
        stc
        mov eax, 0x80000000
        sbb eax, 0              ; 7FFFFFFF: OF AF PF
        P " sbb f="
        PFL F_ARITH
        stc
        mov al, 0xFF
        inc al                  ; 00, CF kept
        P 10, "inc f="
        PFL F_ARITH
        clc
        mov al, 0x80
        dec al                  ; 7F, CF kept
        P " dec f="
        PFL F_ARITH
        mov ax, 0x8000
        neg ax                  ; 8000: OF SF PF CF
        P " neg f="
        PFL F_ARITH
        xor cx, cx
        neg cx                  ; 0: ZF PF
        P " f="
        PFL F_ARITH
        mov ax, 5
        cmp ax, 7               ; -2: SF AF CF
        P 10, "cmp f="
        PFL F_ARITH

; --- decimal: unsigned and signed 32-bit sums ---------------------------
        P 10, "dec "
        mov eax, 1234567890
        add eax, 987654321
        call pdec               ; 2222222211
        P " "
        mov eax, 100000
        sub eax, 2147483647
        call psdec              ; -2147383647

; --- memory destinations, immediates, 8-bit high registers, xadd/cmpxchg -
        mov dword [cnt], 0xFFFFFFFF
        mov dword [cnt+4], 0x7FFFFFFF
        add dword [cnt], 1      ; 64-bit increment in memory
        adc dword [cnt+4], byte 0
        P 10, "inc64 f="
        PFL F_ARITH
        P " "
        mov si, cnt+7
        mov cx, 8
        call pbytes
        sub word [cnt], 1       ; 64-bit decrement, word by word
        sbb word [cnt+2], 0
        sbb word [cnt+4], 0
        sbb word [cnt+6], 0
        P 10, "dec64 f="
        PFL F_ARITH
        P " "
        mov si, cnt+7
        mov cx, 8
        call pbytes
        mov ax, 0x12F0
        mov bx, 0x3420
        add ah, bl              ; 12+20 = 32
        adc al, bh              ; F0+34 = 24, CF
        adc bh, ah              ; 34+32+1 = 67
        P 10, "hi8 "
        call phex16
        P " "
        xchg ax, bx
        call phex16
        mov ecx, 1000
        mov edx, 234
        xadd ecx, edx           ; ecx=1234 edx=1000
        P 10, "xadd f="
        PFL F_ARITH
        P " "
        mov eax, ecx
        call pdec
        P " "
        mov eax, edx
        call pdec
        mov ax, 1234
        mov word [cnt], 1234
        mov cx, 999
        cmpxchg [cnt], cx       ; equal: [cnt] = 999, ZF=1
        P 10, "cmpxchg f="
        PFL F_ARITH
        mov dx, [cnt]
        cmpxchg [cnt], cx       ; not equal: ax = 999, ZF=0
        P " f="
        PFL F_ARITH
        P " "
        movzx eax, dx
        call pdec
        P " "
        movzx eax, ax
        call pdec
        P 10, "ok", 10
        EXIT

; pbytes: print CX bytes in hex, from DS:SI downwards (most significant first)
pbytes: std
.l:     lodsb
        call phex8
        loop .l
        cld
        ret

numa:    dq 0x0123456789ABCDEF
numb:    dq 0xFEDCBA9876543211
x128:   dd 0x80000000, 0x00000000, 0xFFFFFFFF, 0x7FFFFFFF
y128:   dd 0x80000000, 0xFFFFFFFF, 0x00000000, 0x00000000
cnt:    dq 0
r64     equ 0x0600
r128    equ 0x0610

        IMAGE_END
