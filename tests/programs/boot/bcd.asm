; bcd -- decimal arithmetic: daa/das on packed BCD (multi-digit addition
; and subtraction with carry/borrow chains), aaa/aas on unpacked ASCII digit
; strings, aam (base 10, 16, 7) after mul, aad (base 10, 16, 2) before div,
; and the classic "cmp al,10 / sbb al,69h / das" hex-digit trick.
; Flags printed: daa/das SF ZF AF PF CF (OF undefined); aaa/aas AF CF
; (the rest undefined); aam/aad SF ZF PF (OF AF CF undefined).
%include "lib.inc"

main:
; --- daa/das on single bytes, with flags -----------------------------------
        mov si, daa_cases
.dc:    lodsw                   ; al = a, ah = b
        test ax, ax
        jz .dd
        mov bx, ax
        P "daa "
        call phex8
        P "+"
        xchg al, ah
        call phex8
        xchg al, ah
        add al, ah
        daa
        P "="
        call phex8
        P " f="
        PFL F_DAA
        mov ax, bx
        P "  das "
        call phex8
        P "-"
        xchg al, ah
        call phex8
        xchg al, ah
        sub al, ah
        das
        P "="
        call phex8
        P " f="
        PFL F_DAA
        P 10
        jmp .dc
.dd:

; --- packed BCD, 8 digits (4 bytes, little endian) ------------------------
        mov si, bcd_a
        mov di, bcd_b
        mov bx, bcd_r
        mov cx, 4
        clc
.add:   mov al, [si]
        adc al, [di]
        daa
        mov [bx], al
        inc si                  ; inc/loop keep CF
        inc di
        inc bx
        loop .add
        setc al                 ; the ninth digit
        P "98765432+12345678="
        call phex8
        mov si, bcd_r+3
        call pbcd4
        mov si, bcd_b
        mov di, bcd_a
        mov bx, bcd_r
        mov cx, 4
        clc
.sub:   mov al, [si]
        sbb al, [di]
        das
        mov [bx], al
        inc si
        inc di
        inc bx
        loop .sub
        P "12345678-98765432="
        sbb al, al              ; CF=1: borrow, result is the 10's complement
        call phex8
        mov si, bcd_r+3
        call pbcd4

; --- unpacked ASCII: "09876" + "05678" and "5000" - "1234" with aaa/aas ---
        mov si, asc_a+4
        mov di, asc_b+4
        mov bx, asc_r+4
        mov cx, 5
        clc
.aaa:   mov al, [si]
        adc al, [di]
        aaa
        pushf
        or al, '0'
        popf
        mov [bx], al
        dec si                  ; dec/loop keep CF
        dec di
        dec bx
        loop .aaa
        P "09876+05678="
        mov si, asc_r
        call pasc5
        mov si, asc_c+4
        mov di, asc_d+4
        mov bx, asc_r+4
        mov cx, 5
        clc
.aas:   mov al, [si]
        sbb al, [di]
        aas
        pushf
        or al, '0'
        popf
        mov [bx], al
        dec si
        dec di
        dec bx
        loop .aas
        P "05000-01234="
        mov si, asc_r
        call pasc5

; --- aaa/aas on single values: AX before/after and AF/CF ---------------------
        mov ax, 0x0009
        add al, 8               ; 0x11 with AF=1
        aaa
        P "aaa 0009+8 ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x0105
        add al, 3               ; 0x08, no adjustment
        aaa
        P " 0105+3 ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x00FB          ; AL > 0xF9: carry into AH via AX+106h
        add al, 0
        aaa
        P " 00FB ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x0203
        sub al, 5               ; 0xFE with AF=1
        aas
        P 10, "aas 0203-5 ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x0007
        sub al, 2
        aas
        P " 0007-2 ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x0003
        sub al, 4               ; 0xFF with AF=1, AH 0 -> FF
        aas
        P " 0003-4 ax="
        call phex16
        P " f="
        PFL F_AAA
        mov ax, 0x0512
        sub al, 0x0F            ; 0x03 with AF=1: AX-6 borrows from AH
        aas
        P " 0512-F ax="
        call phex16
        P " f="
        PFL F_AAA

; --- aam: unpacked multiplication, other bases --------------------------------
        mov al, 9
        mov bl, 8
        mul bl
        aam                     ; 72 -> 0702
        P 10, "aam 9*8 ax="
        call phex16
        P " f="
        PFL F_AAM
        mov al, 6
        mov bl, 10
        mul bl
        aam                     ; 60 -> 0600, ZF
        P " 6*10 ax="
        call phex16
        P " f="
        PFL F_AAM
        mov al, 0xA7
        aam 16                  ; splits nibbles: 0A07
        P " A7/16 ax="
        call phex16
        P " f="
        PFL F_AAM
        mov al, 100
        aam 7                   ; 100 = 14*7 + 2 -> 0E02
        P " 100/7 ax="
        call phex16
        P " f="
        PFL F_AAM

; --- aad: unpacked division, other bases --------------------------------------
        mov ax, 0x0703
        aad                     ; 73 = 0x49
        P 10, "aad 0703 ax="
        call phex16
        P " f="
        PFL F_AAM
        mov bl, 5
        div bl                  ; 73 / 5 = 14 r 3
        P " /5 ax="
        call phex16
        mov ax, 0x0A07
        aad 16                  ; joins nibbles: 00A7
        P " 0A07 ax="
        call phex16
        P " f="
        PFL F_AAM
        mov ax, 0x0101
        aad 2                   ; 1*2+1 = 3
        P " 0101 ax="
        call phex16
        mov ax, 0x1A06
        aad                     ; 26*10+6 = 266 -> 0A (8-bit wrap)
        P " 1A06 ax="
        call phex16
        P " f="
        PFL F_AAM

; --- hex digits with cmp/sbb/das --------------------------------------------
        P 10, "hex "
        xor cx, cx
.hx:    mov al, cl
        cmp al, 10
        sbb al, 0x69
        das
        out 0xE9, al
        inc cx
        cmp cx, 16
        jb .hx
        P 10, "ok", 10
        EXIT

; pbcd4: print 4 packed-BCD bytes from DS:SI downwards, then a newline
pbcd4:  mov cx, 4
        std
.l:     lodsb
        call phex8
        loop .l
        cld
        P 10
        ret

; pasc5: print 5 ASCII bytes at DS:SI, then a newline
pasc5:  mov cx, 5
.l:     lodsb
        out 0xE9, al
        loop .l
        P 10
        ret

daa_cases:
        db 0x19, 0x28           ; 47, AF from the low nibble
        db 0x45, 0x55           ; 100: carry out
        db 0x99, 0x01           ; 00 with CF and ZF
        db 0x50, 0x40           ; 90, SF
        db 0x08, 0x09           ; 17; das: 08-09 = 99 borrow
        db 0x00, 0x00           ; end
bcd_a:  dd 0x98765432
bcd_b:  dd 0x12345678
bcd_r:  dd 0
asc_a:  db "09876"
asc_b:  db "05678"
asc_c:  db "05000"
asc_d:  db "01234"
asc_r:  db "?????"

        IMAGE_END
