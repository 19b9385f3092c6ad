; uart_exit -- output through the 16550 UART at 0x3F8 instead of port 0xE9,
; and the end of the run through port 0xF4 with a non-zero status.
; Programs the divisor latch (DLAB=1: writes to 0x3F8/0x3F9 are NOT data),
; the line control register (8N1), FIFO control, IER and MCR; reads back
; DLL, LCR and the scratch register; sends each byte after polling LSR
; bit 5 (THRE); finally writes 42 to port 0xF4.
; x86lab-exit: 42
%include "lib.inc"

COM1    equ 0x3F8

main:
        mov dx, COM1+3          ; LCR: DLAB=1
        mov al, 0x80
        out dx, al
        mov dx, COM1            ; DLL = 1 (115200 baud): not transmitted
        mov al, 0x01
        out dx, al
        inc dx                  ; DLM = 0
        xor al, al
        out dx, al
        mov dx, COM1
        in al, dx               ; reads DLL back while DLAB=1
        mov [dll], al
        mov dx, COM1+3          ; LCR: 8 data bits, no parity, 1 stop, DLAB=0
        mov al, 0x03
        out dx, al
        in al, dx
        mov [lcr], al
        mov dx, COM1+2          ; FCR: enable and clear the FIFOs
        mov al, 0x07
        out dx, al
        mov dx, COM1+1          ; IER: no interrupts
        xor al, al
        out dx, al
        mov dx, COM1+4          ; MCR: DTR, RTS (no loopback)
        mov al, 0x03
        out dx, al
        mov dx, COM1+7          ; scratch register
        mov al, 0x5A
        out dx, al
        in al, dx
        mov [scr], al

        mov si, hello
        call uputs
        mov si, m_dll
        call uputs
        mov al, [dll]
        call uhex8
        mov si, m_lcr
        call uputs
        mov al, [lcr]
        call uhex8
        mov si, m_scr
        call uputs
        mov al, [scr]
        call uhex8
        mov si, m_lsr
        call uputs
        mov dx, COM1+5
        in al, dx
        and al, 0x60            ; THRE and TEMT: both set when idle
        call uhex8
        mov al, 10
        call uputc
        mov si, bye
        call uputs

        mov al, 42              ; exit status 42
        out 0xF4, al
        EXIT                    ; not reached

; uputc: send AL when the transmitter holding register is empty
uputc:  push dx
        push ax
        mov dx, COM1+5
.w:     in al, dx
        test al, 0x20
        jz .w
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret

; uputs: send the zero-terminated string at DS:SI
uputs:  lodsb
        test al, al
        jz .e
        call uputc
        jmp uputs
.e:     ret

; uhex8: send AL as two hex digits
uhex8:  push ax
        shr al, 4
        call .d
        pop ax
        and al, 0x0F
.d:     add al, '0'
        cmp al, '9'
        jbe .o
        add al, 'A'-'9'-1
.o:     jmp uputc

hello:  db "uart: hello from the 16550", 10, 0
m_dll:  db "dll=", 0
m_lcr:  db " lcr=", 0
m_scr:  db " scr=", 0
m_lsr:  db " lsr&60=", 0
bye:    db "exit 42 via port 0xF4", 10, 0
dll:    db 0
lcr:    db 0
scr:    db 0

        IMAGE_END
