; sieve -- a "mixed" program: the sieve of Eratosthenes below 1000 on a bit
; array (bt/bts with a register bit offset into a bit string), the primes
; gathered in a dword table with 32-bit scaled-index addressing in real mode
; (mov [edi+ecx*4], eax / mov eax, [ebx+ecx*4]), then statistics: count and
; sum, the list below 100, twin primes (sete), the largest gap (cmova),
; Goldbach partitions of 100 (setnc), bsf/bsr on a few numbers, and
; btc/btr/bts (register and immediate bit offsets) on a copy of the bits.
%include "lib.inc"

N       equ 1000
BITARR    equ 0x0600              ; 1 bit per number: 1 = composite
PRIMES  equ 0x0700              ; dword table
COPY    equ 0x0A00

main:
        mov edi, BITARR
        xor eax, eax
        mov cx, 32
        rep stosd               ; 1024 bits cleared
        mov esi, BITARR
        bts [esi], eax          ; 0 is not prime
        inc eax
        bts [esi], eax          ; 1 is not prime
        inc eax
.outer: bt [esi], eax
        jc .next
        mov ebx, eax
        imul ebx, eax           ; start at p*p
.inner: bts [esi], ebx
        add ebx, eax
        cmp ebx, N
        jb .inner
.next:  inc eax
        cmp eax, 32             ; 32*32 > N
        jb .outer

; --- gather the primes ---------------------------------------------------------
        xor ecx, ecx
        mov edi, PRIMES
        mov eax, 2
.coll:  bt [esi], eax
        jc .c2
        mov [edi+ecx*4], eax
        inc ecx
.c2:    inc eax
        cmp eax, N
        jb .coll
        mov [count], ecx
        P "primes<1000 count="
        mov eax, ecx
        call pdec

        xor eax, eax
        mov ebx, PRIMES
        xor ecx, ecx
.sum:   add eax, [ebx+ecx*4]
        inc ecx
        cmp ecx, [count]
        jb .sum
        P " sum="
        call pdec
        P " last="
        mov eax, [ebx+ecx*4-4]
        call pdec

        P 10, "<100:"
        xor ecx, ecx
.lst:   mov eax, [PRIMES+ecx*4]
        cmp eax, 100
        jae .lend
        P " "
        call pdec
        inc ecx
        jmp .lst
.lend:

; --- twin primes (sete) and the largest gap (cmova) -----------------------------
        xor edx, edx            ; twin count
        xor ebp, ebp            ; largest gap
        xor edi, edi            ; prime after the largest gap
        mov ecx, 1
.tw:    mov eax, [ebx+ecx*4]
        sub eax, [ebx+ecx*4-4]  ; gap
        cmp eax, ebp
        cmova ebp, eax
        cmova edi, [ebx+ecx*4]  ; flags still from cmp eax, ebp
        cmp eax, 2
        sete ah                 ; the gap is < 256: AH was 0
        add dl, ah
        inc ecx
        cmp ecx, [count]
        jb .tw
        P 10, "twins="
        movzx eax, dl
        call pdec
        P " maxgap="
        mov eax, ebp
        call pdec
        P " before "
        mov eax, edi
        call pdec

; --- Goldbach: p + q = 100 with p <= q ------------------------------------------
        P 10, "100="
        xor ecx, ecx
        xor dx, dx
.gb:    mov eax, [ebx+ecx*4]
        cmp eax, 50
        ja .gend
        mov edi, 100
        sub edi, eax
        bt [esi], edi
        setnc dl
        add dh, dl              ; count
        test dl, dl
        jz .gn
        P " "
        call pdec
        P "+"
        xchg eax, edi
        call pdec
        xchg eax, edi
.gn:    inc ecx
        jmp .gb
.gend:  P " ("
        movzx eax, dh
        call pdec
        P ")"

; --- bsf/bsr: lowest and highest set bit (sources are never zero) -----------------
        P 10, "bsf/bsr"
        mov si, bnums
.bs:    lodsd
        test eax, eax
        jz .bend
        P " "
        call phex32
        bsf edx, eax
        bsr ecx, eax
        P ":"
        xchg eax, edx
        call pdec
        P ","
        xchg eax, ecx
        call pdec
        jmp .bs
.bend:  bsf ax, [bw]            ; 16-bit form, memory source
        P " w:"
        movzx eax, ax
        call pdec
        xor ecx, ecx
        bsf edx, ecx            ; zero source: ZF=1 (destination undefined)
        P " zf="
        PFL 0x0040

; --- btc/btr/bts on a copy: a mask of the primes below 64 -------------------------
        mov si, BITARR
        mov di, COPY
        mov cx, 16
        rep movsd               ; 512 bits copied
        mov esi, COPY
        xor ecx, ecx
.not:   btc [esi], ecx          ; flip: 1 = prime now
        inc ecx
        cmp ecx, 64
        jb .not
        mov ecx, 4
.even:  btr [esi], ecx          ; even numbers above 2 are not prime
        jc .bad
        add ecx, 2
        cmp ecx, 64
        jb .even
        P 10, "primes<64 mask="
        mov eax, [COPY+4]
        call phex32
        mov eax, [COPY]
        call phex32
        btr dword [COPY], 2     ; CF=1: 2 was marked prime
        setc al
        bts word [COPY], 9      ; CF=0: 9 was not
        setc ah
        P " btr2/bts9 cf="
        call phex16
        P " mask="
        mov eax, [COPY]
        call phex32
        P 10, "ok", 10
        EXIT
.bad:   P 10, "btr found an even prime above 2", 10
        EXIT

bnums:  dd 997, 1000, 0x00F00000, 0x80000001, 0x00010000, 0
bw:     dw 0x0C00
count:  dd 0

        IMAGE_END
