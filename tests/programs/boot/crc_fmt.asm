; crc_fmt -- a "mixed" program: CRC-32 of "123456789" computed bit by bit
; (shr/sbb/and/xor, no branches) and with a 256-entry table built at run
; time and indexed with [ebx+edx*4]; hex output through xlat; a setcc
; truth table (all 16 conditions) after three compares; lahf/sahf;
; cbw/cwd/cwde/cdq; xchg forms; shld/shrd; bswap; movsx/movzx; and a tiny
; text formatter: right-aligned number columns and greedy word wrapping.
; Flags printed: sahf (SF ZF AF PF CF), shld/shrd by more than one bit
; (SF ZF PF CF; OF only for a count of 1, AF undefined).
%include "lib.inc"

CRCTAB  equ 0x1000              ; 256 dwords

main:
; --- CRC-32, bitwise ---------------------------------------------------------
        mov si, check
        mov eax, 0xFFFFFFFF
.byte:  xor al, [si]
        inc si
        mov cx, 8
.bit:   shr eax, 1
        sbb edx, edx            ; 0 or -1 from CF
        and edx, 0xEDB88320
        xor eax, edx
        loop .bit
        cmp si, check_end
        jb .byte
        not eax
        P "crc32 bitwise="
        call xhex32

; --- CRC-32, table ---------------------------------------------------------
        xor ecx, ecx
.tab:   mov eax, ecx
        mov dx, 8
.tb:    shr eax, 1
        jnc .tn
        xor eax, 0xEDB88320
.tn:    dec dx
        jnz .tb
        mov [CRCTAB+ecx*4], eax
        inc cl
        jnz .tab                ; 256 entries
        mov ebx, CRCTAB
        mov eax, 0xFFFFFFFF
        mov si, check
.tbyte: movzx edx, byte [si]
        xor dl, al
        shr eax, 8
        xor eax, [ebx+edx*4]
        inc si
        cmp si, check_end
        jb .tbyte
        not eax
        P " table="
        call xhex32
        P " tab[1]="
        mov eax, [ebx+4]
        call xhex32
        P " tab[255]="
        mov eax, [ebx+255*4]
        call xhex32

; --- setcc truth tables: o no b ae e ne be a s ns p np l ge le g -------------
        P 10, "setcc                 onbaenbasnpnlglg"
        P 10, "                       o e ee  s p ee"
        mov eax, -5
        mov ebx, 3
        call settab
        mov eax, 3
        call settab
        mov eax, 0x80000000
        mov ebx, 1
        call settab

; --- lahf / sahf ----------------------------------------------------------------
        stc
        lahf
        clc
        sahf
        setc al
        P 10, "sahf cf="
        call phex8
        mov ah, 0xD5            ; SF ZF AF PF CF
        sahf
        P " f="
        PFL F_DAA
        mov ah, 0x02
        sahf
        P " f="
        PFL F_DAA

; --- sign and zero extension ------------------------------------------------------
        mov eax, 0x12345680
        cbw
        P 10, "cbw="
        call phex16
        cwd
        P " cwd="
        xchg ax, dx
        call phex16
        xchg ax, dx
        cwde
        P " cwde="
        call phex32
        cdq
        P " cdq="
        xchg eax, edx
        call phex32
        mov ax, 0x7F01
        cwd
        P " cwd="
        xchg ax, dx
        call phex16
        mov bl, 0xF0
        movsx ecx, bl
        movzx edx, bl
        P " movsx="
        xchg eax, ecx
        call phex32
        P " movzx="
        xchg eax, edx
        call phex32
        movsx eax, word [negw]
        P " movsx w="
        call phex32

; --- xchg ------------------------------------------------------------------------------
        mov ax, 0x1122
        mov bx, 0x3344
        xchg ax, bx
        xchg al, ah
        xchg bh, bl
        mov word [xw], 0x5566
        xchg [xw], ax
        mov ecx, 0xCAFEBABE
        xchg ecx, [xd]
        P 10, "xchg ax="
        call phex16
        P " bx="
        xchg ax, bx
        call phex16
        P " mem="
        mov ax, [xw]
        call phex16
        P " ecx="
        xchg eax, ecx
        call phex32
        P " memd="
        mov eax, [xd]
        call phex32

; --- double shifts and bswap -------------------------------------------------------
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        shld eax, edx, 8
        P 10, "shld="
        call phex32
        P " f="
        PFL 0x00C5
        mov eax, 0x12345678
        shrd eax, edx, 12
        P " shrd="
        call phex32
        P " f="
        PFL 0x00C5
        mov ax, 0x8001
        mov bx, 0x0000
        shld ax, bx, 1          ; count 1: OF defined (sign changed)
        P " shld1="
        call phex16
        P " f="
        PFL F_LOGIC
        mov ax, 0x1234
        mov bx, 0xABCD
        mov cl, 4
        shrd ax, bx, cl
        P " shrd cl="
        call phex16
        mov eax, 0x11223344
        bswap eax
        P " bswap="
        call phex32

; --- formatter 1: right-aligned columns -------------------------------------------
        P 10, "          n        n^2        n^3", 10
        mov si, nums
.row:   lodsd
        test eax, eax
        jz .rend
        mov ecx, eax
        call pcol
        imul eax, ecx
        call pcol
        imul eax, ecx
        call pcol
        P 10
        jmp .row
.rend:

; --- formatter 2: greedy word wrap at WIDTH columns -------------------------------------
WIDTH   equ 24
        P "+------------------------+", 10
        P "|"
        mov si, text
        xor bx, bx              ; characters on the current line
.word:  cmp byte [si], 0
        je .wend
        mov di, si              ; find the end of the word with scasb
        mov al, ' '
.scan:  cmp byte [di], 0
        je .got
        scasb
        jne .scan
        dec di
.got:   mov cx, di
        sub cx, si              ; word length
        mov ax, bx
        test bx, bx
        jz .fits0
        inc ax                  ; a space before the word
.fits0: add ax, cx
        cmp ax, WIDTH
        jbe .put
        call endline
        P "|"
        xor bx, bx
        mov ax, cx
.put:   test bx, bx
        jz .nosp
        P " "
.nosp:  mov bx, ax
        push dx
        mov dx, 0xE9
        rep outsb
        pop dx
        cmp byte [si], ' '
        jne .word
        inc si
        jmp .word
.wend:  call endline
        P "+------------------------+", 10
        P "ok", 10
        EXIT

; endline: pad the line (BX characters so far) to WIDTH and close it
endline:
        push cx
        mov cx, WIDTH
        sub cx, bx
        jz .e
.sp:    P " "
        loop .sp
.e:     P "|", 10
        pop cx
        ret

; pcol: print EAX right-aligned in 11 columns
pcol:   pushad
        mov di, colbuf+11
        mov ebx, 10
.d:     xor edx, edx
        div ebx
        add dl, '0'
        dec di
        mov [di], dl
        test eax, eax
        jnz .d
        mov cx, di
        sub cx, colbuf          ; padding
        jz .p
.sp:    P " "
        loop .sp
.p:     mov si, di
        mov cx, colbuf+11
        sub cx, di
        mov dx, 0xE9
        rep outsb
        popad
        ret

; settab: print the 16 setcc results of "cmp eax, ebx" as 0/1 characters
settab: pushad
        P 10, "cmp "
        call phex32
        P ","
        xchg eax, ebx
        call phex32
        xchg eax, ebx
        P " "
        cmp eax, ebx
        mov di, stbuf
        seto [di]
        setno [di+1]
        setb [di+2]
        setae [di+3]
        sete [di+4]
        setne [di+5]
        setbe [di+6]
        seta [di+7]
        sets [di+8]
        setns [di+9]
        setp [di+10]
        setnp [di+11]
        setl [di+12]
        setge [di+13]
        setle [di+14]
        setg [di+15]
        mov cx, 16
.l:     mov al, [di]
        add al, '0'
        out 0xE9, al
        inc di
        loop .l
        popad
        ret

; xhex32: print EAX as 8 lower-case hex digits, through xlat
xhex32: pushad
        mov edx, eax
        mov bx, hexlc
        mov cx, 8
.l:     rol edx, 4
        mov al, dl
        and al, 0x0F
        xlat
        out 0xE9, al
        loop .l
        popad
        ret

check:  db "123456789"
check_end:
hexlc:  db "0123456789abcdef"
negw:   dw -300
xw:     dw 0
xd:     dd 0x0BADF00D
nums:   dd 1, 7, 12, 99, 100, 1234, 0
stbuf:  times 16 db 0
colbuf: times 11 db 0
text:   db "The quick brown fox jumps over the lazy dog; pack my box with "
        db "five dozen liquor jugs. Sphinx of black quartz, judge my vow!", 0

        IMAGE_END
