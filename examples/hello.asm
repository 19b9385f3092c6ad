; hello.asm: a boot sector for x86lab (NASM syntax).
;
; A BIOS would load these 512 bytes at 0x7C00 and jump to them in real mode; x86lab does
; the same. The program prints a greeting and the Fibonacci numbers below 1000 on the debug
; console (port 0xE9), then stops the processor.
;
;   nasm -f bin -o hello.bin hello.asm
;   x86lab run hello.bin

bits 16
org 0x7c00

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00

        mov si, greeting
        call print

        mov si, fib_title
        call print
        xor bx, bx              ; F(0)
        mov cx, 1               ; F(1)
.next:  mov ax, bx
        call print_decimal
        mov al, ' '
        out 0xe9, al
        mov ax, bx              ; (bx, cx) := (cx, bx + cx)
        add ax, cx
        mov bx, cx
        mov cx, ax
        cmp bx, 1000
        jb .next
        mov al, 10
        out 0xe9, al

        hlt                     ; interrupts are off: the machine stops here

; print: write the zero-terminated string at DS:SI to port 0xE9.
print:
        lodsb
        test al, al
        jz .done
        out 0xe9, al
        jmp print
.done:  ret

; print_decimal: write AX in decimal.
print_decimal:
        push bx
        push cx
        push dx
        mov bx, 10
        xor cx, cx
.divide:
        xor dx, dx
        div bx                  ; DX:AX / 10 -> AX quotient, DX remainder
        push dx
        inc cx
        test ax, ax
        jnz .divide
.emit:  pop ax
        add al, '0'
        out 0xe9, al
        loop .emit
        pop dx
        pop cx
        pop bx
        ret

greeting:  db "Hello from x86lab! This text comes from a boot sector in real mode.", 10, 0
fib_title: db "Fibonacci numbers below 1000: ", 0

times 510 - ($ - $$) db 0
dw 0xaa55
