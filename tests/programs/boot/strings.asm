; strings -- string instructions with rep prefixes: rep stosb/stosw,
; rep movsb/movsw/movsd forwards and backwards (std), overlapping moves,
; segment overrides on the source (es:, fs:, gs:), repne scasb (strlen,
; memchr), repe cmpsb (memcmp), repne scasw, lodsb/stosb loops, 32-bit
; addressing (a32 rep movsb uses ECX/ESI/EDI), rep with CX=0, and
; rep outsb to print.  The buffers live in segments 0x1000 (ES) and
; 0x2000 (FS); after each step the buffer and the final SI/DI/CX are shown.
; Only the flags of cmps/scas (defined like cmp) are printed.
%include "lib.inc"

SEG_A   equ 0x1000
SEG_B   equ 0x2000

main:
        mov ax, SEG_A
        mov es, ax
        mov ax, SEG_B
        mov fs, ax

; --- rep stosb / rep stosw ------------------------------------------------
        xor di, di
        mov al, '.'
        mov cx, 40
        rep stosb
        P "stosb  di="
        xchg ax, di
        call phex16
        xchg ax, di
        P " cx="
        xchg ax, cx
        call phex16
        xchg ax, cx
        mov di, 4
        mov ax, 'ab'            ; stored as 'a','b'
        mov cx, 5
        rep stosw
        P 10, "stosw  "
        call show_a

; --- rep movsb from DS:msg (segment 0) to ES:20 ---------------------------
        mov si, msg
        mov di, 20
        mov cx, msg_len
        rep movsb
        P "movsb  "
        call show_a
        P "        si="
        xchg ax, si
        call phex16
        xchg ax, si
        P " di="
        xchg ax, di
        call phex16
        xchg ax, di
        P 10

; --- rep movsd: whole buffer A (source via DS=SEG_A) to B (ES=SEG_B) -----
        push ds
        push es
        mov ax, SEG_A
        mov ds, ax
        mov ax, SEG_B
        mov es, ax
        xor si, si
        xor di, di
        mov cx, 10
        rep movsd
        pop es
        pop ds
        P "movsd  "
        call show_b

; --- rep fs movsw: B (FS:) to A at offset 1, source override -------------
        mov si, 20
        mov di, 1
        mov cx, 7
        rep fs movsw
        P "fsmovsw"
        call show_a

; --- overlapping forward copy: replicates a pattern (LZ77-style) ---------
        call pattern            ; A[0..15] = "0123456789ABCDEF", rest '-'
        xor si, si
        mov di, 4
        mov cx, 8
        rep es movsb            ; A[4+i] = A[i], i = 0..7, in order
        P "fwd    "
        call show_a

; --- backward copies with DF=1: a correct memmove to a higher address ----
        call pattern
        std
        mov si, 7
        mov di, 11
        mov cx, 8
        rep es movsb
        cld
        P "back b "
        call show_a
        call pattern
        std
        mov si, 6               ; last word of the source
        mov di, 10
        mov cx, 4
        rep es movsw
        cld
        P "back w "
        call show_a
        P "        si="
        xchg ax, si
        call phex16             ; 6 - 4*2 = -2
        xchg ax, si
        P " di="
        xchg ax, di
        call phex16
        xchg ax, di
        P 10
        call pattern
        std
        mov si, 12              ; last dword of the source
        mov di, 20
        mov cx, 4
        rep es movsd
        cld
        P "back d "
        call show_a
        std
        mov di, 39
        mov al, '<'
        mov cx, 5
        rep stosb               ; fills A[35..39] downwards
        cld
        P "std st "
        call show_a

; --- rep with CX=0 does nothing ---------------------------------------------
        mov di, 3
        xor cx, cx
        mov al, '!'
        rep stosb
        P "cx=0   di="
        xchg ax, di
        call phex16
        xchg ax, di
        P 10

; --- repne scasb: strlen and memchr on the sentence in segment 0 ---------
        push es
        xor ax, ax
        mov es, ax
        mov di, sentence
        mov cx, 0xFFFF
        xor al, al
        repne scasb
        not cx
        dec cx                  ; length without the terminator
        P "strlen "
        movzx eax, cx
        call pdec
        mov bx, cx
        mov di, sentence
        mov al, 'q'
        repne scasb
        P " memchr(q) "
        PFL F_ARITH
        lea ax, [di-sentence-1]
        P " @"
        movzx eax, ax
        call pdec
        mov di, sentence
        mov cx, bx
        mov al, 'Z'
        repne scasb
        P " memchr(Z) "
        PFL F_ARITH
        P " cx="
        mov ax, cx
        call phex16

; --- repne scasw: find a word in a table ---------------------------------
        mov di, words
        mov cx, 8
        mov ax, 0x1234
        repne scasw
        P 10, "scasw  "
        PFL F_ARITH
        P " idx="
        lea ax, [di-words-2]
        shr ax, 1
        call phex16
        P " cx="
        mov ax, cx
        call phex16

; --- repe cmpsb: memcmp ----------------------------------------------------
        mov si, str1
        mov di, str2
        mov cx, 8
        repe cmpsb
        P 10, "cmpsb  "
        PFL F_ARITH             ; last compare 'X' - 'Y'
        P " at="
        lea ax, [si-str1-1]
        call phex16
        P " cx="
        mov ax, cx
        call phex16
        mov si, str2
        mov di, str1
        mov cx, 8
        repe cmpsb
        P " rev "
        PFL F_ARITH             ; 'Y' - 'X'
        mov si, str1
        mov di, str1
        mov cx, 8
        repe cmpsb
        P " same "
        PFL F_ARITH
        P " cx="
        mov ax, cx
        call phex16
        pop es

; --- repe fs cmpsb: B (FS:) against A (ES:), A was changed since the copy -
        xor si, si
        xor di, di
        mov cx, 40
        repe fs cmpsb
        P 10, "fscmps "
        PFL F_ARITH
        P " at="
        lea ax, [si-1]
        call phex16
        P 10

; --- lodsb/stosb loop: upper-case the sentence into B via gs: -------------
        mov ax, SEG_B
        mov es, ax
        xor ax, ax
        mov gs, ax
        mov si, sentence
        xor di, di
.up:    gs lodsb
        cmp al, 'a'
        jb .st
        cmp al, 'z'
        ja .st
        sub al, 'a'-'A'
.st:    stosb
        test al, al
        jnz .up
        mov ax, SEG_A
        mov es, ax
        P "upper  "
        call show_b

; --- a32 rep movsb: 32-bit ECX/ESI/EDI in real mode ------------------------
        mov ecx, 0x00000005     ; the count is ECX, not CX
        mov esi, msg+7
        mov edi, 0x00000021
        a32 rep movsb
        P "a32    "
        call show_a
        P "        esi="
        xchg eax, esi
        call phex32
        xchg eax, esi
        P " edi="
        xchg eax, edi
        call phex32
        xchg eax, edi
        P " ecx="
        xchg eax, ecx
        call phex32
        P 10, "ok", 10
        EXIT

; pattern: A[0..15] = "0123456789ABCDEF", A[16..39] = '-'
pattern:
        mov si, hexd
        xor di, di
        mov cx, 4
        rep movsd
        mov al, '-'
        mov cx, 24
        rep stosb
        ret

; show_a: print "[" A[0..39] "]\n" with rep es outsb
show_a: pusha
        P "["
        mov dx, 0xE9
        xor si, si
        mov cx, 40
        rep es outsb
        P "]", 10
        popa
        ret

; show_b: print "[" B[0..39] "]\n" with an fs lodsb loop (0 bytes as '_')
show_b: pusha
        P "["
        xor si, si
        mov cx, 40
.l:     fs lodsb
        test al, al
        jnz .o
        mov al, '_'
.o:     out 0xE9, al
        loop .l
        P "]", 10
        popa
        ret

msg:    db "Hello, world!"
msg_len equ $-msg
sentence:
        db "The quick brown fox jumps over the lazy dog", 0
str1:   db "abcdefXh"
str2:   db "abcdefYh"
words:  dw 0x1111, 0x2222, 0x1234, 0x3333, 0x1234, 0x4444, 0x5555, 0x6666
hexd:   db "0123456789ABCDEF"

        IMAGE_END
