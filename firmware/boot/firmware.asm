; =============================================================================
; x86lab boot firmware — the first lesson: how a PC-like machine goes from its
; power-on state to a program running in real, protected or long mode.
;
; Read it from the top; every step is one thing real firmware and boot
; loaders do.  x86lab assembles this file itself (x86lab-firmware) whenever a
; program is run with `x86lab run --boot firmware PROGRAM`.
;
; The contract with the host ("the boot information block"), at physical 500h:
;     dd 0x4C363858        ; magic, "X86L"
;     dd mode              ; 16, 32 or 64: the mode the payload wants
;     dd payload address   ; where the host put it: 7C00h (16) or 100000h (32, 64)
;     dd payload size      ; in bytes
; The payload starts with:
;     16: real mode, CS = DS = ES = SS = 0, IP = 7C00h, SP = 7C00h, DL = 80h,
;         the interrupt vector table set up for exceptions 0..31;
;     32: protected mode, flat 4 GiB code (08h) and data (10h) segments, paging
;         off, ESP = 90000h, an IDT for exceptions 0..31;
;     64: long mode, the first 4 GiB identity-mapped with 2 MiB pages, flat
;         64-bit code (18h) and data (10h), RSP = 90000h, an IDT for 0..31.
; In every mode an exception the payload does not handle is printed on the
; debug console (port E9h) with its vector, error code, instruction pointer
; and CR2, and the machine halts.
; =============================================================================

SHADOW      equ 0xF0000         ; where the firmware copies itself in RAM
BOOT_INFO   equ 0x500           ; the host's boot information block
MAGIC       equ 0x4C363858      ; "X86L"
CONSOLE     equ 0xE9            ; the debug console port
PML4        equ 0x10000         ; page tables for long mode (six 4 KiB pages)
PDPT        equ 0x11000
PD0         equ 0x12000         ; four page directories: 4 x 1 GiB
IDT32       equ 0x17000         ; the protected-mode IDT (32 gates x 8 bytes)
IDT64       equ 0x18000         ; the long-mode IDT (32 gates x 16 bytes)
STACK       equ 0x90000

        bits 16
        org 0
; ANCHOR: power_on
; -----------------------------------------------------------------------------
; Step 1.  Power on.  The CPU starts in real mode at CS:IP = F000:FFF0, with
; the hidden base of CS set to FFFF0000h: the first instruction is fetched
; from physical FFFFFFF0h, 16 bytes below 4 GiB, where the ROM is mapped
; (this file's last 16 bytes).  That instruction jumps here, to the start of
; the ROM.  CS still has its odd base, so only near jumps are possible yet.
; -----------------------------------------------------------------------------
start:
        cli                         ; no interrupts until there is a table for them
        cld
; Step 2.  Shadow the ROM.  Once CS is reloaded, segment F000 means physical
; F0000h (segment * 16), which is RAM here.  Like a PC BIOS, copy the
; firmware there ("shadow RAM"); the CS override reads through the reset-time
; base, which still points at the ROM.
        mov ax, SHADOW >> 4
        mov es, ax
        xor si, si
        xor di, di
        mov cx, (fw_end - start + 1) / 2
        cs rep movsw
        jmp (SHADOW >> 4):shadowed  ; reload CS: from now on we run from RAM
shadowed:
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000              ; SS = 0: a stack below the payload's 7C00h
; ANCHOR_END: power_on
; Step 3.  Read what the host asked for.
        cmp dword [BOOT_INFO], MAGIC
        jne no_info
        mov eax, [BOOT_INFO + 4]
        cmp eax, 16
        je real_payload
        cmp eax, 32
        je to_protected
        cmp eax, 64
        je to_protected
no_info:
        mov si, msg_no_info
        call print16
        jmp halt16

; ANCHOR: real_payload
; -----------------------------------------------------------------------------
; Step 4 (real mode).  Point the first 32 interrupt vectors at handlers that
; report the exception, then jump to the payload at 0000:7C00 as a BIOS jumps
; to a boot sector.  Each vector is a far pointer: offset, then segment.
; -----------------------------------------------------------------------------
real_payload:
        xor di, di                  ; ES:DI = 0000:0000, the vector table
        mov es, di
        mov bx, rstubs
        mov cx, 32
.vec:   mov [es:di], bx             ; offset of the stub
        mov word [es:di + 2], SHADOW >> 4
        add di, 4
        add bx, RSTUB_SIZE
        loop .vec
        xor ax, ax
        mov es, ax
        mov sp, 0x7C00
        mov dx, 0x80                ; "booted from the first hard disk", as BIOSes say
        xor bx, bx
        xor si, si
        xor di, di
        jmp 0:0x7C00
; ANCHOR_END: real_payload

; Real-mode exception stubs: each pushes its vector number and joins rcommon.
%assign v 0
rstubs:
%rep 32
        push word v
        jmp near rcommon            ; `near`: every stub the same size
%assign v v+1
%endrep
RSTUB_SIZE  equ (rcommon - rstubs) / 32

rcommon:                            ; stack: vector, IP, CS, FLAGS
        mov bp, sp
        push cs
        pop ds
        mov si, msg_exc_real
        call print16
        mov ax, [ss:bp]
        call hex16_8                ; the vector
        mov si, msg_at
        call print16
        mov ax, [ss:bp + 4]         ; CS
        call hex16
        mov al, ':'
        out CONSOLE, al
        mov ax, [ss:bp + 2]         ; IP
        call hex16
        mov al, 10
        out CONSOLE, al
halt16: cli
        hlt
        jmp halt16

; print16: the zero-terminated string at DS:SI, on the console.
print16:
        lodsb
        test al, al
        jz .done
        out CONSOLE, al
        jmp print16
.done:  ret

; hex16: AX as four hex digits; hex16_8: AL as two.
hex16:  push ax
        mov al, ah
        call hex16_8
        pop ax
hex16_8:
        push ax
        shr al, 4
        call .digit
        pop ax
.digit: and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        ret

; ANCHOR: to_protected
; -----------------------------------------------------------------------------
; Step 5.  Enter protected mode: load the GDT register, set CR0.PE, and jump
; far into a 32-bit code segment.  The far jump is what switches: it loads CS
; from the GDT, and the CPU now decodes 32-bit code.
; -----------------------------------------------------------------------------
to_protected:
        lgdt [cs:gdtr]              ; DS is 0; the table's register is in this segment
        mov eax, cr0
        and eax, 0x9FFFFFFF         ; clear CD and NW: caches on, as firmware does
        or eax, 1                   ; PE
        mov cr0, eax
        jmp dword CODE32:(SHADOW + pm32)
; ANCHOR_END: to_protected

; The global descriptor table: flat 4 GiB segments.  Each descriptor is base,
; limit, access rights (P, DPL, S, type) and flags (G, D/B, L).
align 8
gdt:    dq 0                        ; 00h: the null descriptor
        dq 0x00CF9A000000FFFF       ; 08h: 32-bit code, base 0, limit 4 GiB
        dq 0x00CF92000000FFFF       ; 10h: data, base 0, limit 4 GiB
        dq 0x00AF9A000000FFFF       ; 18h: 64-bit code (L = 1)
gdt_end:
CODE32  equ 0x08
DATA    equ 0x10
CODE64  equ 0x18
gdtr:   dw gdt_end - gdt - 1
        dd SHADOW + gdt

        bits 32
pm32:
        mov ax, DATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STACK
; Step 6.  An IDT for the exceptions: 32 interrupt gates, each pointing at a
; stub that pushes its vector (and a 0 where the CPU pushes no error code).
        mov edi, IDT32
        mov ebx, SHADOW + pstubs
        mov ecx, 32
.gate:  mov eax, ebx
        mov [edi], ax               ; offset 15:0
        mov word [edi + 2], CODE32  ; selector
        mov word [edi + 4], 0x8E00  ; present, DPL 0, 32-bit interrupt gate
        shr eax, 16
        mov [edi + 6], ax           ; offset 31:16
        add edi, 8
        add ebx, PSTUB_SIZE
        loop .gate
        lidt [SHADOW + idtr32]
        cmp dword [BOOT_INFO + 4], 64
        je to_long
; The 32-bit payload.
        xor eax, eax
        xor ebx, ebx
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        xor edi, edi
        xor ebp, ebp
        jmp dword [BOOT_INFO + 8]

idtr32: dw 32 * 8 - 1
        dd IDT32

; Protected-mode stubs: the CPU pushes an error code for vectors 8, 10-14 and
; 17; the others push 0 themselves so that every frame looks the same.
%assign v 0
pstubs:
%rep 32
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
        nop
        nop
%else
        push byte 0
%endif
        push byte v
        jmp near pcommon
%assign v v+1
%endrep
PSTUB_SIZE  equ (pcommon - pstubs) / 32

; ANCHOR: exception_report
pcommon:                            ; stack: vector, error, EIP, CS, EFLAGS
        mov esi, SHADOW + msg_exc
        call print32
        mov eax, [esp]
        call hex32_8
        mov esi, SHADOW + msg_error
        call print32
        mov eax, [esp + 4]
        call hex32
        mov esi, SHADOW + msg_rip
        call print32
        mov eax, [esp + 8]
        call hex32
        mov esi, SHADOW + msg_cr2
        call print32
        mov eax, cr2
        call hex32
        mov al, 10
        out CONSOLE, al
.halt:  cli
        hlt
        jmp .halt
; ANCHOR_END: exception_report

print32:
        lodsb
        test al, al
        jz .done
        out CONSOLE, al
        jmp print32
.done:  ret

; hex32: EAX as eight hex digits; hex32_8: AL as two.
hex32:  mov ecx, 8
.next:  rol eax, 4
        push eax
        call digit32
        pop eax
        loop .next
        ret
hex32_8:
        push eax
        shr al, 4
        call digit32
        pop eax
digit32:
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        ret

; -----------------------------------------------------------------------------
; Step 7.  Long mode needs paging.  Build identity-mapped page tables for the
; first 4 GiB: one PML4 entry -> one PDPT with four entries -> four page
; directories of 512 entries, each mapping 2 MiB (PS = 1).  Flags 3: present
; and writable; 83h adds PS.
; -----------------------------------------------------------------------------
to_long:
        mov edi, PML4               ; clear the six pages
        mov ecx, 6 * 4096 / 4
        xor eax, eax
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD0 | 3
        mov dword [PDPT + 8], (PD0 + 0x1000) | 3
        mov dword [PDPT + 16], (PD0 + 0x2000) | 3
        mov dword [PDPT + 24], (PD0 + 0x3000) | 3
        mov edi, PD0
        mov eax, 0x83               ; physical 0, PS, writable, present
        xor edx, edx                ; bits 63:32 of the entries
        mov ecx, 4 * 512
.pde:   mov [edi], eax
        mov [edi + 4], edx
        add eax, 0x200000
        adc edx, 0
        add edi, 8
        loop .pde
; ANCHOR: to_long
; Step 8.  Switch: CR4.PAE, CR3 = the PML4, EFER.LME (MSR C0000080h bit 8),
; then CR0.PG.  The CPU is now in long mode, but still running 32-bit code
; (compatibility mode) until a far jump loads a 64-bit code segment.
        mov eax, cr4
        or eax, 1 << 5              ; PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080
        rdmsr
        or eax, 1 << 8              ; LME
        wrmsr
        mov eax, cr0
        or eax, 1 << 31             ; PG
        mov cr0, eax
        jmp CODE64:(SHADOW + lm64)
; ANCHOR_END: to_long

        bits 64
lm64:
        mov ax, DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, STACK
; Step 9.  Long-mode gates are 16 bytes: the handler's offset is 64 bits.
        mov rdi, IDT64
        mov rbx, SHADOW + lstubs
        mov ecx, 32
.gate:  mov rax, rbx
        mov [rdi], ax               ; offset 15:0
        mov word [rdi + 2], CODE64
        mov word [rdi + 4], 0x8E00  ; present, DPL 0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax           ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax          ; offset 63:32
        mov dword [rdi + 12], 0
        add rdi, 16
        add rbx, LSTUB_SIZE
        loop .gate
        lidt [rel idtr64]
; The 64-bit payload.
        mov eax, [BOOT_INFO + 8]
        xor ebx, ebx
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        xor edi, edi
        xor ebp, ebp
        jmp rax

idtr64: dw 32 * 16 - 1
        dq IDT64

%assign v 0
lstubs:
%rep 32
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
        nop
        nop
%else
        push byte 0
%endif
        push byte v
        jmp near lcommon
%assign v v+1
%endrep
LSTUB_SIZE  equ (lcommon - lstubs) / 32

lcommon:                            ; stack: vector, error, RIP, CS, RFLAGS, RSP, SS
        lea rsi, [rel msg_exc]
        call print64
        mov rax, [rsp]
        call hex64_8
        lea rsi, [rel msg_error]
        call print64
        mov rax, [rsp + 8]
        call hex64
        lea rsi, [rel msg_rip]
        call print64
        mov rax, [rsp + 16]
        call hex64
        lea rsi, [rel msg_cr2]
        call print64
        mov rax, cr2
        call hex64
        mov al, 10
        out CONSOLE, al
.halt:  cli
        hlt
        jmp .halt

print64:
        lodsb
        test al, al
        jz .done
        out CONSOLE, al
        jmp print64
.done:  ret

; hex64: RAX as sixteen hex digits; hex64_8: AL as two.
hex64:  mov ecx, 16
.next:  rol rax, 4
        push rax
        call digit64
        pop rax
        loop .next
        ret
hex64_8:
        push rax
        shr al, 4
        call digit64
        pop rax
digit64:
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        ret

msg_no_info:    db "firmware: no boot information block at 500h: nothing to run", 10, 0
msg_exc_real:   db "firmware: real-mode exception ", 0
msg_at:         db " at ", 0
msg_exc:        db "firmware: exception ", 0
msg_error:      db " error ", 0
msg_rip:        db " at ", 0
msg_cr2:        db " cr2 ", 0

fw_end:
; ANCHOR: reset_vector
; -----------------------------------------------------------------------------
; The reset vector: the last 16 bytes of the 64 KiB ROM image, at FFFFFFF0h.
; -----------------------------------------------------------------------------
        times 0xFFF0 - ($ - $$) db 0xFF
        bits 16
reset:  jmp start
        times 0x10000 - ($ - $$) db 0xFF
; ANCHOR_END: reset_vector
