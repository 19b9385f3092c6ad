; =============================================================================
; Lesson 11 - Port I/O with the serial port (the 16550 UART)
; =============================================================================
;
; What it teaches
;   x86 processors have a second address space besides memory: 65536 I/O
;   PORTS, reached only with IN and OUT and the string forms INS and OUTS
;   (Intel SDM Vol. 1, chapter "Input/Output", section "I/O Port
;   Addressing"; Vol. 2, IN and OUT).  With DX as the port number, any port
;   can be reached; ports 0..FFh can also be written as an immediate.
;   Devices sit at port ranges; the PC's first serial port, COM1, is a
;   16550 UART (Universal Asynchronous Receiver/Transmitter) at 3F8h..3FFh.
;   This real-mode program programs it the way BIOSes and operating-system
;   drivers do - no interrupts, polling only - and writes all its output
;   through it: before each byte it reads the Line Status Register until
;   the transmitter can take another byte, then writes the byte to the
;   Transmitter Holding Register.
;
; The 16550's eight registers (offsets from the base 3F8h), from the
; PC16550D data sheet (National Semiconductor, now Texas Instruments,
; "PC16550D Universal Asynchronous Receiver/Transmitter with FIFOs", its
; register summary):
;   +0  3F8h  read:  RBR  Receiver Buffer: the next received byte
;             write: THR  Transmitter Holding: the next byte to send
;             with LCR.DLAB = 1: DLL, the divisor latch's low byte
;   +1  3F9h  IER  Interrupt Enable (0 = no interrupts: we poll)
;             with LCR.DLAB = 1: DLM, the divisor latch's high byte
;   +2  3FAh  read:  IIR  Interrupt Identification: bit 0 = 1 "no interrupt
;                    pending"; bits 7:6 = 11b when the FIFOs are enabled
;             write: FCR  FIFO Control: bit 0 enable the FIFOs, bit 1 clear
;                    the receive FIFO, bit 2 clear the transmit FIFO,
;                    bits 7:6 the receive trigger level (11b = 14 bytes)
;   +3  3FBh  LCR  Line Control: bits 1:0 word length (11b = 8 bits), bit 2
;                  stop bits (0 = 1 stop bit), bit 3 parity enable (0 = none),
;                  bits 5:4 parity kind, bit 6 send a break, bit 7 DLAB
;                  (Divisor Latch Access Bit: offsets 0 and 1 become DLL/DLM)
;   +4  3FCh  MCR  Modem Control: bit 0 DTR, bit 1 RTS, bit 2 OUT1, bit 3
;                  OUT2 (on PCs it gates the UART's interrupt line), bit 4
;                  LOOP (loopback: the transmitter feeds the receiver)
;   +5  3FDh  LSR  Line Status: bit 0 DR (a received byte is waiting),
;                  bits 1-4 errors (overrun, parity, framing, break),
;                  bit 5 THRE (the transmitter holding register - or, with
;                  FIFOs, the transmit FIFO - is empty: write the next byte),
;                  bit 6 TEMT (THRE and the shift register empty: the line
;                  is idle), bit 7 an error in the receive FIFO
;   +6  3FEh  MSR  Modem Status: the lines CTS, DSR, RI, DCD (bits 7:4) and
;                  their changes (bits 3:0)
;   +7  3FFh  SCR  Scratch: a byte for software, with no effect at all
;
; The baud rate: the UART divides its 1.8432 MHz clock by 16 x the divisor,
; so divisor = 115200 / baud: 12 (000Ch) for 9600 baud, 1 for 115200.
; "8N1" means 8 data bits, no parity, 1 stop bit: LCR = 03h.
;
; What to watch (stepping it in the GUI)
;   - DX and AL at every IN and OUT: the port number and the byte.
;   - The LCR writes: 80h (DLAB on: the next two OUTs go to the divisor
;     latch, not to THR and IER), then 03h (DLAB off, 8N1).
;   - The wait loop in `putc`: IN AL, DX with DX = 3FDh, TEST AL, 20h: on
;     the software CPU and on KVM x86lab's UART sends each byte at once, so
;     THRE is always 1 and the loop runs once; on a real 9600-baud line a
;     byte takes about 1 ms and the loop would spin thousands of times.
;   - The loopback test: with MCR bit 4 set, the byte written to THR does
;     not leave the chip; LSR bit 0 (DR) turns 1 and IN from 3F8h returns it.
;
; Expected output (the same on both backends):
;   Lesson 11: the 16550 UART at 3f8
;   IER = 00 (no interrupts: polling)
;   LCR = 03: 8 data bits, no parity, 1 stop bit, DLAB = 0
;   divisor latch = 000c: 115200 / 12 = 9600 baud
;   IIR = c1: FIFOs enabled (bits 7:6), no interrupt pending (bit 0)
;   MCR = 03: DTR, RTS
;   LSR = 60: THRE (bit 5) and TEMT (bit 6), no received byte, no error
;   SCR: wrote a5, read a5
;   loopback: LSR = 61 after sending 4c (DR set), received 4c
;   done: every byte of this text went out through THR at 3f8
; =============================================================================

        bits 16
        org 0x7c00

COM1        equ 0x3F8
RBR         equ COM1 + 0        ; receiver buffer (read, DLAB = 0)
THR         equ COM1 + 0        ; transmitter holding (write, DLAB = 0)
DLL         equ COM1 + 0        ; divisor latch, low byte (DLAB = 1)
IER         equ COM1 + 1        ; interrupt enable (DLAB = 0)
DLM         equ COM1 + 1        ; divisor latch, high byte (DLAB = 1)
IIR         equ COM1 + 2        ; interrupt identification (read)
FCR         equ COM1 + 2        ; FIFO control (write)
LCR         equ COM1 + 3        ; line control
MCR         equ COM1 + 4        ; modem control
LSR         equ COM1 + 5        ; line status
SCR         equ COM1 + 7        ; scratch

LCR_8N1     equ 0x03            ; 8 data bits, no parity, 1 stop bit
LCR_DLAB    equ 0x80
FCR_SETUP   equ 0xC7            ; enable, clear both FIFOs, trigger 14 bytes
MCR_DTR_RTS equ 0x03
MCR_LOOP    equ 0x10
LSR_DR      equ 0x01            ; data ready
LSR_THRE    equ 0x20            ; transmitter holding register empty
LSR_TEMT    equ 0x40            ; transmitter empty
BAUD        equ 9600
DIVISOR     equ 115200 / BAUD   ; 12

start:
        cli
        xor ax, ax
        mov ds, ax                  ; the firmware left DS = 0; set it anyway

; -----------------------------------------------------------------------------
; Step 1.  Program the UART.  The order matters: the divisor latch is only
; reachable while LCR.DLAB = 1.
; -----------------------------------------------------------------------------
; ANCHOR: init
        mov dx, IER
        mov al, 0                   ; no interrupts
        out dx, al

        mov dx, LCR
        mov al, LCR_DLAB            ; DLAB = 1: 3F8h/3F9h are now DLL/DLM
        out dx, al
        mov dx, DLL
        mov al, DIVISOR & 0xFF      ; 12: 9600 baud
        out dx, al
        mov dx, DLM
        mov al, DIVISOR >> 8        ; 0
        out dx, al
        mov dx, LCR
        mov al, LCR_8N1             ; DLAB = 0, 8N1
        out dx, al

        mov dx, FCR
        mov al, FCR_SETUP           ; FIFOs on, both cleared
        out dx, al

        mov dx, MCR
        mov al, MCR_DTR_RTS         ; "terminal ready", "request to send"
        out dx, al
; ANCHOR_END: init

; From here on every character goes out through putc.
        mov si, msg_title
        call puts

; -----------------------------------------------------------------------------
; Step 2.  Read the registers back.
; -----------------------------------------------------------------------------
        mov si, msg_ier
        call puts
        mov dx, IER
        in al, dx
        call hex8
        mov si, msg_ier2
        call puts

        mov si, msg_lcr
        call puts
        mov dx, LCR
        in al, dx
        call hex8
        mov si, msg_lcr2
        call puts

        mov si, msg_div             ; the divisor: set DLAB to read DLL/DLM
        call puts
        mov dx, LCR
        mov al, LCR_DLAB | LCR_8N1
        out dx, al
        mov dx, DLM
        in al, dx
        mov ah, al
        mov dx, DLL
        in al, dx                   ; AX = the divisor
        mov bx, ax
        mov dx, LCR
        mov al, LCR_8N1             ; DLAB off again, before any putc
        out dx, al
        mov ax, bx
        call hex16
        mov si, msg_div2
        call puts

        mov si, msg_iir
        call puts
        mov dx, IIR
        in al, dx
        call hex8
        mov si, msg_iir2
        call puts

        mov si, msg_mcr
        call puts
        mov dx, MCR
        in al, dx
        call hex8
        mov si, msg_mcr2
        call puts

        mov si, msg_lsr
        call puts
        call wait_idle              ; the line idle: LSR is now stable
        mov dx, LSR
        in al, dx
        call hex8
        mov si, msg_lsr2
        call puts

; The scratch register keeps whatever is written to it (drivers have used
; it to tell the original 8250, which had none, from later UARTs).
        mov si, msg_scr
        call puts
        mov dx, SCR
        mov al, 0xA5
        out dx, al
        call hex8
        mov si, msg_scr2
        call puts
        mov dx, SCR
        in al, dx
        call hex8
        call newline

; -----------------------------------------------------------------------------
; Step 3.  Loopback: MCR.LOOP connects the transmitter to the receiver
; inside the chip.  Send one byte and receive it.  Nothing is printed while
; the loop is on (it would not leave the chip either).
; -----------------------------------------------------------------------------
; ANCHOR: loopback
        call wait_idle              ; let the text so far leave first
        mov dx, MCR
        mov al, MCR_LOOP | MCR_DTR_RTS
        out dx, al
        mov dx, THR
        mov al, 'L'                 ; 4Ch
        out dx, al
        mov dx, LSR
        mov cx, 0xFFFF              ; wait for DR, but not forever
.rx:    in al, dx
        test al, LSR_DR
        jnz .got
        loop .rx
.got:   mov bl, al                  ; BL = LSR with DR set
        mov dx, RBR
        in al, dx                   ; reading RBR takes the byte (DR -> 0)
        mov bh, al                  ; BH = the byte received
        mov dx, MCR
        mov al, MCR_DTR_RTS         ; loopback off
        out dx, al
; ANCHOR_END: loopback

        mov si, msg_loop
        call puts
        mov al, bl
        call hex8
        mov si, msg_loop2
        call puts
        mov al, 'L'
        call hex8
        mov si, msg_loop3
        call puts
        mov al, bh
        call hex8
        call newline

        mov si, msg_done
        call puts
        call wait_idle              ; the last byte out before stopping
        cli
        hlt

; -----------------------------------------------------------------------------
; putc: send AL through the UART.  Wait until LSR.THRE says the transmitter
; holding register (the transmit FIFO) can take a byte, then write it to
; THR.  Keeps every register.
; -----------------------------------------------------------------------------
; ANCHOR: putc
putc:
        push dx
        push ax
        mov dx, LSR
.wait:  in al, dx
        test al, LSR_THRE
        jz .wait
        pop ax
        mov dx, THR
        out dx, al
        pop dx
        ret
; ANCHOR_END: putc

; wait_idle: wait until LSR.TEMT: everything written has left the UART.
wait_idle:
        push dx
        push ax
        mov dx, LSR
.wait:  in al, dx
        test al, LSR_TEMT
        jz .wait
        pop ax
        pop dx
        ret

; puts: the zero-terminated string at DS:SI.  hex16 / hex8: AX / AL in hex.
puts:
        push ax
.next:  lodsb
        test al, al
        jz .done
        call putc
        jmp .next
.done:  pop ax
        ret

hex16:  push ax
        mov al, ah
        call hex8
        pop ax
hex8:   push ax
        shr al, 4
        call .digit
        pop ax
        push ax
        call .digit
        pop ax
        ret
.digit: and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   jmp putc

newline:
        push ax
        mov al, 10
        call putc
        pop ax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
msg_title:  db "Lesson 11: the 16550 UART at 3f8", 10, 0
msg_ier:    db "IER = ", 0
msg_ier2:   db " (no interrupts: polling)", 10, 0
msg_lcr:    db "LCR = ", 0
msg_lcr2:   db ": 8 data bits, no parity, 1 stop bit, DLAB = 0", 10, 0
msg_div:    db "divisor latch = ", 0
msg_div2:   db ": 115200 / 12 = 9600 baud", 10, 0
msg_iir:    db "IIR = ", 0
msg_iir2:   db ": FIFOs enabled (bits 7:6), no interrupt pending (bit 0)", 10, 0
msg_mcr:    db "MCR = ", 0
msg_mcr2:   db ": DTR, RTS", 10, 0
msg_lsr:    db "LSR = ", 0
msg_lsr2:   db ": THRE (bit 5) and TEMT (bit 6), no received byte, no error", 10, 0
msg_scr:    db "SCR: wrote ", 0
msg_scr2:   db ", read ", 0
msg_loop:   db "loopback: LSR = ", 0
msg_loop2:  db " after sending ", 0
msg_loop3:  db " (DR set), received ", 0
msg_done:   db "done: every byte of this text went out through THR at 3f8", 10, 0
