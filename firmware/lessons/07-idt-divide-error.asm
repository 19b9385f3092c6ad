; =============================================================================
; Lesson 07 - The IDT and a divide error
; =============================================================================
;
; What it teaches
;   In protected mode the processor finds the handler of an exception or an
;   interrupt through the Interrupt Descriptor Table (IDT): a table of 8-byte
;   gate descriptors indexed by the vector number, whose base address and
;   limit are held in the IDTR register (loaded with LIDT).  This program
;   builds its own IDT, replacing the one the firmware installed, and then
;   makes DIV fail twice on purpose:
;     1. a division by zero;
;     2. a quotient too large for its register (EDX:EAX / ECX where the
;        quotient does not fit in 32 bits) - the same exception, #DE.
;   Both raise exception 0, the divide error (#DE).  #DE is a FAULT: the
;   EIP the processor saves on the stack is the address of the DIV itself,
;   so that a handler that fixes the cause can run it again.  Our handler
;   cannot fix anything, so it prints the vector and the stack frame, then
;   moves the saved EIP past the DIV (the instruction is 2 bytes long) and
;   returns with IRETD: the program resumes after the DIV.  (An operating
;   system would not skip the instruction; Linux, for example, sends the
;   process the signal SIGFPE.)
;
; Where the facts come from (Intel SDM = Intel 64 and IA-32 Architectures
; Software Developer's Manual.  Section, figure and table numbers are those
; of the editions of the late 2010s; they move from edition to edition, so
; every citation also gives the section's title):
;   - IDT, IDTR, LIDT: Vol. 3, 6.10 "Interrupt Descriptor Table (IDT)".
;   - Gate format: Vol. 3, 6.11 "IDT Descriptors", Figure 6-2.  A 32-bit
;     interrupt gate is two dwords:
;        low  dword: bits 31:16 segment selector, bits 15:0 offset 15:0
;        high dword: bits 31:16 offset 31:16, bit 15 P (present),
;                    bits 14:13 DPL, bits 12:8 = 01110b (D = 1: 32-bit gate,
;                    type 110b: interrupt gate), bits 7:0 zero
;     so the attribute word 8E00h means P = 1, DPL = 0, 32-bit interrupt gate.
;   - The stack frame without a privilege change (handler at the same CPL):
;     EFLAGS, CS, EIP pushed in this order, EIP ends on top; #DE pushes no
;     error code.  Vol. 3, 6.12.1 "Exception- or Interrupt-Handler
;     Procedures", Figure 6-4; which exceptions push an error code: 6.13
;     "Error Code" and Table 6-1.
;   - An interrupt gate clears IF (a trap gate does not); both clear TF, VM,
;     RF and NT: Vol. 3, 6.12.1.2 "Flag Usage By Exception- or
;     Interrupt-Handler Procedure".
;   - #DE is a fault, raised when the divisor is 0 or the quotient is too
;     large for the destination: Vol. 3, 6.15 "Interrupt 0 - Divide Error
;     Exception (#DE)"; Vol. 2, DIV.  Faults save the address of the
;     faulting instruction: Vol. 3, 6.5 "Exception Classifications".
;   - The EFLAGS image pushed for a fault has RF (bit 16) = 1, so that the
;     return to the instruction is not stopped again by an instruction
;     breakpoint on it: Vol. 3, 17.3.1.1 "Instruction-Breakpoint Exception
;     Condition".  That is why the saved EFLAGS below reads 00010046h and
;     not 00000046h (46h = ZF, PF and the always-1 bit 1, left by XOR).
;   - IRETD pops EIP, CS and EFLAGS: Vol. 2, IRET/IRETD.
;
; What to watch (stepping it in the GUI)
;   - IDTR before and after LIDT: the firmware's table at 17000h, then ours
;     at 20000h with limit 00FFh (32 gates x 8 bytes - 1).
;   - Memory at 20000h while the loop fills it: 8 bytes per vector; find in
;     gate 0 the handler's address split in two halves around 0008h (the
;     code selector) and 8E00h (the attributes).
;   - At each `div ecx`: EDX:EAX and ECX.  Step once: the next instruction
;     shown is the first one of `divide_error`, not the one after the DIV.
;     ESP dropped by 12 (three dwords); in memory at ESP: EIP (the DIV's
;     address), CS = 0008h, EFLAGS (with RF, bit 16, set).  EFLAGS.IF is 0
;     (the firmware left it 0; an interrupt gate would clear it anyway).
;   - EAX and EDX after the fault: unchanged - a fault leaves the state as it
;     was before the faulting instruction.
;   - The `add dword [ebp + 32], 2` in the handler: the saved EIP in memory
;     grows by 2; the IRETD that follows jumps there.
;
; Note on KVM without VT-x/AMD-V (PVM, as on x86lab's build machines): there
; the host kernel's instruction emulator runs this 32-bit code, and it does
; not implement IRETD in protected mode.  The run prints the same lines as
; on the software CPU up to the first handler's IRETD, then stops with "the
; host could not go on" (exit status 126).  With VT-x or AMD-V the processor
; itself runs this code, IRETD included.
; kvm-without-vtx: the host kernel's emulator does not implement IRETD in protected mode
;
; Expected output (the addresses are those of this file as assembled):
;   Lesson 07: the IDT and a divide error
;   IDTR: base 00020000 limit 00ff
;   gate 0: 00108e00 000801af (high dword, low dword)
;           handler divide_error at 001001af
;   100 / 0 with the DIV at 001000de
;     #DE handler: vector 00, saved EIP 001000de, CS 0008, EFLAGS 00010046
;     bytes at EIP: f7 f1, EDX:EAX unchanged 00000000:00000064
;     saved EIP + 2 = 001000e0
;   resumed after the DIV (the next instruction, at 001000e0)
;   1_00000000h / 1 (quotient too large) with the DIV at 00100123
;     #DE handler: vector 00, saved EIP 00100123, CS 0008, EFLAGS 00010046
;     bytes at EIP: f7 f1, EDX:EAX unchanged 00000001:00000000
;     saved EIP + 2 = 00100125
;   resumed after the DIV (the next instruction, at 00100125)
;   1_00000064h / 10h = 10000006 remainder 00000004
;   done
; =============================================================================

        bits 32
        org 0x100000

CONSOLE     equ 0xE9            ; the debug console port
CODE_SEL    equ 0x08            ; the firmware's flat 32-bit code segment
IDT         equ 0x20000         ; our IDT: 32 gates x 8 bytes (free memory)
%define VECTORS 32              ; vectors 0..31: the exceptions (a %define: %rep needs it)
GATE_ATTR   equ 0x8E00          ; P = 1, DPL = 0, 32-bit interrupt gate
DIV_LENGTH  equ 2               ; `div ecx` is F7 F1: two bytes

start:
        mov esi, msg_title
        call print

; -----------------------------------------------------------------------------
; Step 1.  Build the IDT.  Every vector first gets a small stub that reports
; an unexpected exception (so that a mistake cannot triple-fault the
; machine); then vector 0 is pointed at our divide-error handler.
; -----------------------------------------------------------------------------
; ANCHOR: build
        mov edi, IDT                ; clear the table: not-present gates
        mov ecx, VECTORS * 8 / 4
        xor eax, eax
        rep stosd

        xor eax, eax                ; EAX = vector
        mov ebx, stubs              ; EBX = its stub
.fill:  call set_gate
        inc eax
        add ebx, STUB_SIZE
        cmp eax, VECTORS
        jb .fill

        xor eax, eax                ; vector 0, #DE
        mov ebx, divide_error
        call set_gate

        lidt [idtr]                 ; from now on exceptions come to us
; ANCHOR_END: build

        sidt [idtr_copy]            ; read IDTR back and show it
        mov esi, msg_idtr
        call print
        mov eax, [idtr_copy + 2]    ; base
        call hex32
        mov esi, msg_limit
        call print
        movzx eax, word [idtr_copy] ; limit
        call hex16
        call newline

        mov esi, msg_gate
        call print
        mov eax, [IDT + 4]          ; high dword: offset 31:16, attributes
        call hex32
        call space
        mov eax, [IDT]              ; low dword: selector, offset 15:0
        call hex32
        mov esi, msg_gate_end
        call print
        mov esi, msg_handler
        call print
        mov eax, divide_error
        call hex32
        call newline

; -----------------------------------------------------------------------------
; Step 2.  Divide by zero: 100 / 0.
; -----------------------------------------------------------------------------
        mov esi, msg_div1
        call print
        mov eax, div1
        call hex32
        call newline
; ANCHOR: div0
        mov eax, 100                ; EDX:EAX = 100
        xor edx, edx
        xor ecx, ecx                ; ECX = 0 (and EFLAGS = 46h: ZF, PF, bit 1)
div1:   div ecx                     ; #DE: the divisor is 0
; ANCHOR_END: div0
        mov esi, msg_resumed        ; the handler returns here
        call print
        mov eax, div1 + DIV_LENGTH
        call hex32
        mov esi, msg_close
        call print

; -----------------------------------------------------------------------------
; Step 3.  A quotient too large: 1_00000000h / 1 = 1_00000000h, which does
; not fit in EAX.  Not a division by zero, and still #DE.
; -----------------------------------------------------------------------------
        mov esi, msg_div2
        call print
        mov eax, div2
        call hex32
        call newline
; ANCHOR: div2
        mov edx, 1                  ; EDX:EAX = 1_00000000h
        xor eax, eax
        mov ecx, 1
div2:   div ecx                     ; #DE: the quotient needs 33 bits
; ANCHOR_END: div2
        mov esi, msg_resumed
        call print
        mov eax, div2 + DIV_LENGTH
        call hex32
        mov esi, msg_close
        call print

; -----------------------------------------------------------------------------
; Step 4.  A division that works: 1_00000064h / 10h.
; -----------------------------------------------------------------------------
        mov edx, 1                  ; EDX:EAX = 1_00000064h
        mov eax, 0x64
        mov ecx, 0x10
        div ecx                     ; EAX = 10000006h, EDX = 4
        mov esi, msg_div3
        call print
        call hex32                  ; the quotient
        mov esi, msg_rem
        call print
        mov eax, edx
        call hex32
        call newline

        mov esi, msg_done
        call print
        cli
        hlt

; -----------------------------------------------------------------------------
; set_gate: make IDT entry EAX a 32-bit interrupt gate to the handler at EBX
; (in the code segment CODE_SEL).
; -----------------------------------------------------------------------------
; ANCHOR: set_gate
set_gate:
        push ebx
        mov [IDT + eax * 8], bx             ; offset 15:0
        mov word [IDT + eax * 8 + 2], CODE_SEL
        mov word [IDT + eax * 8 + 4], GATE_ATTR
        shr ebx, 16
        mov [IDT + eax * 8 + 6], bx         ; offset 31:16
        pop ebx
        ret
; ANCHOR_END: set_gate

; -----------------------------------------------------------------------------
; ANCHOR: frame
; The divide-error handler (vector 0).  The processor does not tell a
; handler which vector brought it here: this code knows it is vector 0
; because only gate 0 points at it.
;
; On entry the stack holds (the processor pushed them, no error code):
;     [esp + 0] EIP     the address of the DIV (a fault)
;     [esp + 4] CS
;     [esp + 8] EFLAGS
; PUSHAD then pushes 8 registers (32 bytes) below them, so with EBP = ESP
; the frame is at EBP + 32, + 36, + 40, and the interrupted program's EAX
; and EDX are at EBP + 28 and EBP + 20 (PUSHAD order: EAX, ECX, EDX, EBX,
; ESP, EBP, ESI, EDI; EDI ends lowest).
; -----------------------------------------------------------------------------
divide_error:
        pushad
        mov ebp, esp
; ANCHOR_END: frame

        mov esi, msg_de
        call print
        xor eax, eax                ; vector 0 (known, not read from anywhere)
        call hex8
        mov esi, msg_eip
        call print
        mov eax, [ebp + 32]         ; saved EIP
        call hex32
        mov esi, msg_cs
        call print
        mov eax, [ebp + 36]         ; saved CS
        call hex16
        mov esi, msg_eflags
        call print
        mov eax, [ebp + 40]         ; saved EFLAGS
        call hex32
        call newline

        mov esi, msg_bytes          ; the instruction at the saved EIP
        call print
        mov ebx, [ebp + 32]
        mov al, [ebx]
        call hex8
        call space
        mov al, [ebx + 1]
        call hex8
        mov esi, msg_edxeax         ; the registers DIV would have written
        call print
        mov eax, [ebp + 20]         ; EDX
        call hex32
        mov al, ':'
        out CONSOLE, al
        mov eax, [ebp + 28]         ; EAX
        call hex32
        call newline

; ANCHOR: skip
        add dword [ebp + 32], DIV_LENGTH    ; skip the DIV
        mov esi, msg_skip
        call print
        mov eax, [ebp + 32]
        call hex32
        call newline

        popad
        iretd                       ; pops EIP, CS, EFLAGS
; ANCHOR_END: skip

; Stubs for the other vectors, as in the firmware: each pushes its vector
; number and jumps to `unexpected`.  For the vectors whose exceptions come
; with an error code (8, 10-14, 17 and 21 in SDM Vol. 3, Table 6-1; 29 and 30
; on AMD processors) the processor has pushed one; the other stubs push a 0
; in its place, so that every frame looks the same.  `nop nop` has the size
; of `push byte 0`, and `jmp near` keeps every stub the same size.
; ANCHOR: stubs
stubs:
%assign v 0
%rep VECTORS
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
        nop
        nop
%else
        push byte 0
%endif
        push byte v
        jmp near unexpected
%assign v v + 1
%endrep
STUB_SIZE   equ (unexpected - stubs) / VECTORS
; ANCHOR_END: stubs

unexpected:                         ; stack: vector, error code, EIP, CS, EFLAGS
        mov esi, msg_unexpected
        call print
        mov eax, [esp]              ; the vector
        call hex8
        mov esi, msg_unexp_error
        call print
        mov eax, [esp + 4]          ; the error code (or 0)
        call hex32
        mov esi, msg_unexp_eip
        call print
        mov eax, [esp + 8]          ; the saved EIP
        call hex32
        call newline
        cli
        hlt

; -----------------------------------------------------------------------------
; Console output: print writes the zero-terminated string at ESI; hex32,
; hex16 and hex8 write EAX, AX or AL in hexadecimal (8, 4 or 2 digits).
; They change no register but ESI (print) and the flags.
; -----------------------------------------------------------------------------
print:
        push eax
.next:  mov al, [esi]
        inc esi
        test al, al
        jz .done
        out CONSOLE, al
        jmp .next
.done:  pop eax
        ret

hex32:  push ecx
        mov ecx, 8
        jmp hex
hex16:  push ecx
        mov ecx, 4
        jmp hex
hex8:   push ecx
        mov ecx, 2
hex:                                ; ECX digits of EAX; ECX saved by the caller
        push eax
        push edx
        mov edx, eax
        shl ecx, 2                  ; rotate the wanted digits to the top:
        ror edx, cl                 ; by 4 x digits (32 rotates by 0)
        shr ecx, 2
.digit: rol edx, 4                  ; the next digit into bits 3:0
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        loop .digit
        pop edx
        pop eax
        pop ecx
        ret

space:  push eax
        mov al, ' '
        out CONSOLE, al
        pop eax
        ret

newline:
        push eax
        mov al, 10
        out CONSOLE, al
        pop eax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
idtr:   dw VECTORS * 8 - 1          ; limit: the last valid byte
        dd IDT                      ; base (linear address)
idtr_copy:
        dw 0
        dd 0

msg_title:      db "Lesson 07: the IDT and a divide error", 10, 0
msg_idtr:       db "IDTR: base ", 0
msg_limit:      db " limit ", 0
msg_gate:       db "gate 0: ", 0
msg_gate_end:   db " (high dword, low dword)", 10, 0
msg_handler:    db "        handler divide_error at ", 0
msg_div1:       db "100 / 0 with the DIV at ", 0
msg_div2:       db "1_00000000h / 1 (quotient too large) with the DIV at ", 0
msg_de:         db "  #DE handler: vector ", 0
msg_eip:        db ", saved EIP ", 0
msg_cs:         db ", CS ", 0
msg_eflags:     db ", EFLAGS ", 0
msg_bytes:      db "  bytes at EIP: ", 0
msg_edxeax:     db ", EDX:EAX unchanged ", 0
msg_skip:       db "  saved EIP + 2 = ", 0
msg_resumed:    db "resumed after the DIV (the next instruction, at ", 0
msg_close:      db ")", 10, 0
msg_div3:       db "1_00000064h / 10h = ", 0
msg_rem:        db " remainder ", 0
msg_done:       db "done", 10, 0
msg_unexpected: db 10, "unexpected exception, vector ", 0
msg_unexp_error: db ", error code ", 0
msg_unexp_eip:  db ", at EIP ", 0
