; int_soft -- software interrupts through handlers the program installs in
; the real-mode IVT: a mini DOS (int 0x21: print $-string, print char,
; version, get/set vector, error return through CF in the saved FLAGS), a
; mini Linux write/getpid (int 0x80, 32-bit registers, nested int 0x21
; calls), a frame dumper (int 0x60) called from CS=0 and from CS=0x0700 and
; emulated with pushf + call far, a handler that edits the saved IP, and
; iretd with a hand-made 32-bit frame.  The int 0x21 handler runs with
; CS=0x07C0 (IVT entry 07C0:xxxx), all others with CS=0.
; The FLAGS values printed are fully determined: the program loads FLAGS
; with popf before each interrupt whose frame it prints.
%include "lib.inc"

DOS_CS  equ 0x07C0

main:
        mov word [0x21*4], h21 - DOS_CS*16
        mov word [0x21*4+2], DOS_CS
        mov word [0x80*4], h80
        mov word [0x80*4+2], 0
        mov word [0x60*4], hdump
        mov word [0x60*4+2], 0
        mov word [0x62*4], hskip
        mov word [0x62*4+2], 0

; --- mini DOS ---------------------------------------------------------------
        mov ah, 0x09
        mov dx, hello
        int 0x21
        mov ah, 0x02
        mov dl, '!'
        int 0x21
        mov dl, 10
        int 0x21
        mov ax, 0x2561          ; set vector 0x61 = DS:DX
        mov dx, hA
        int 0x21
        mov ax, 0x3561          ; get vector 0x61 -> ES:BX
        int 0x21
        P "vec61="
        call pesbx
        mov ax, 0x3521          ; get vector 0x21 -> ES:BX
        int 0x21
        P " vec21="
        call pesbx
        xor ax, ax
        mov es, ax
        stc
        mov ah, 0x30            ; version: CF cleared by the handler
        int 0x21
        P 10, "ver ax="
        call phex16
        P " cf="
        PFL 0x0001
        clc
        mov ax, 0x9900          ; unknown function: CF=1, AX=1
        int 0x21
        P " bad ax="
        call phex16
        P " cf="
        PFL 0x0001
        P 10
        mov ax, 0x1111
        int 0x61                ; handler A
        mov ax, 0x2561
        mov dx, hB
        int 0x21
        mov ax, 0x2222
        int 0x61                ; handler B
        P 10

; --- mini Linux --------------------------------------------------------------
        mov eax, 4              ; write(1, text, len)
        mov ebx, 1
        mov ecx, text
        mov edx, text_len
        int 0x80
        P "write eax="
        call psdec
        mov eax, 20             ; getpid()
        int 0x80
        P " getpid eax="
        call psdec
        mov eax, 999            ; unknown: -ENOSYS
        int 0x80
        P " bad eax="
        call psdec
        P 10

; --- frames ------------------------------------------------------------------
        push word 0x0CD5        ; OF DF SF ZF AF PF CF
        popf
        int 0x60
        pushf
        pop ax
        P " after fl="
        call phex16
        P 10
        push byte 2
        popf
        call DUMP_CS:dump_far - DUMP_CS*16
        P " back", 10
        push word 0x0891        ; OF SF AF CF
        popf
        pushf                   ; emulate "int 0x60"
        call far [0x60*4]
        P " emulated", 10
        P "ret to "         ; hskip moves the return IP past 3 bytes
        int 0x62
        mov ax, 0xDEAD          ; 3 bytes: skipped
        mov ax, 0xBEEF
        call phex16
        P 10

; --- iretd: 32-bit frame EIP, CS, EFLAGS built by hand ----------------------
        push word 0x0801        ; FLAGS to be replaced by iretd
        popf
        pushfd
        pop eax
        and eax, ~0x08D5        ; clear OF..CF
        or al, 0x44             ; ZF PF
        push eax                ; EFLAGS
        push dword 0            ; CS
        push dword .i32         ; EIP
        iretd
        P "not reached"
.i32:   P "iretd fl="
        PFL F_ARITH
        P " sp="
        mov ax, sp
        call phex16
        P 10, "ok", 10
        EXIT

; pesbx: print ES:BX
pesbx:  mov ax, es
        call phex16
        P ":"
        mov ax, bx
        jmp phex16

; --- int 0x60: dump the frame [IP, CS, FLAGS], SP and FLAGS inside ---------
hdump:  push bp
        mov bp, sp
        push ax
        pushf
        P "dump ip="
        mov ax, [bp+2]
        call phex16
        P " cs="
        mov ax, [bp+4]
        call phex16
        P " fl="
        mov ax, [bp+6]
        call phex16
        P " sp="
        lea ax, [bp+2]          ; SP on entry to the handler
        call phex16
        P " in="
        pop ax                  ; FLAGS inside the handler (DF kept)
        call phex16
        xor ax, ax              ; change the flags; iret restores them
        cld
        pop ax
        pop bp
        iret

; --- called far with CS=0x0700: int 0x60 from there ----------------------
DUMP_CS equ 0x0700
dump_far:
        int 0x60
        retf

; --- int 0x62: return 3 bytes further ----------------------------------------
hskip:  push bp
        mov bp, sp
        add word [bp+2], 3
        pop bp
        iret

; --- int 0x61, two versions ------------------------------------------------------
hA:     P "A:"
        call phex16
        P " "
        iret
hB:     P "B:"
        call phex16
        iret

; --- int 0x80: eax = 4 write(ebx, ds:ecx, edx), 20 getpid; else -38 ----------
h80:    cmp eax, 4
        je .write
        cmp eax, 20
        je .pid
        mov eax, -38
        iret
.pid:   mov eax, 4242
        iret
.write: push si
        push cx
        push dx
        push ax
        mov si, cx
        mov cx, dx
        mov ah, 0x02
.l:     lodsb
        mov dl, al
        int 0x21                ; nested software interrupt
        loop .l
        pop ax
        pop dx
        pop cx
        pop si
        mov eax, edx            ; bytes written
        iret

; --- int 0x21, runs with CS=0x07C0: the labels' offsets are relative to 0x7C00
h21:    push bp
        mov bp, sp
        and byte [bp+6], 0xFE   ; CF=0 in the caller's FLAGS
        cmp ah, 0x09
        je .s09
        cmp ah, 0x02
        je .s02
        cmp ah, 0x30
        je .s30
        cmp ah, 0x25
        je .s25
        cmp ah, 0x35
        je .s35
        or byte [bp+6], 1       ; unknown function: CF=1, AX=1
        mov ax, 1
        jmp .ret
.s09:   push ax
        push si
        mov si, dx
.l09:   lodsb
        cmp al, '$'
        je .e09
        out 0xE9, al
        jmp .l09
.e09:   pop si
        pop ax
        jmp .ret
.s02:   push ax
        mov al, dl
        out 0xE9, al
        pop ax
        jmp .ret
.s30:   mov ax, 0x0A07
        jmp .ret
.s25:   push bx
        push es
        xor bx, bx
        mov es, bx
        mov bl, al
        shl bx, 2
        mov [es:bx], dx
        mov [es:bx+2], ds
        pop es
        pop bx
        jmp .ret
.s35:   push ds
        xor bx, bx
        mov ds, bx
        mov bl, al
        shl bx, 2
        les bx, [bx]
        pop ds
.ret:   pop bp
        iret

hello:  db "int21/09: hello$"
text:   db "int80/write via int21/02", 10
text_len equ $-text

        IMAGE_END
