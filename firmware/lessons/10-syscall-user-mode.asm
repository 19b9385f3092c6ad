; =============================================================================
; Lesson 10 - A system call from user mode
; =============================================================================
;
; What it teaches
;   A 64-bit kernel (this program, at CPL 0) starts a user program (at
;   CPL 3) and serves its system calls.  It needs:
;     - user segments: a code segment and a data segment with DPL 3, in a
;       GDT ordered the way SYSCALL and SYSRET expect (see STAR below);
;     - a TSS whose RSP0 field gives the stack the processor switches to
;       when an interrupt or exception takes it from CPL 3 to CPL 0;
;     - page-table entries with U/S = 1 for what user mode may touch;
;     - the SYSCALL MSRs: STAR (selectors), LSTAR (the kernel's entry
;       point), SFMASK (RFLAGS bits to clear on entry), and EFER.SCE (bit 0)
;       to enable SYSCALL/SYSRET at all.
;   The kernel enters user mode with IRETQ, by "returning" to a frame it
;   built itself: SS, RSP, RFLAGS, CS, RIP with RPL 3 selectors.  The user
;   program cannot print by itself: OUT at CPL 3 needs IOPL = 3 or the
;   port's bit cleared in the TSS's I/O permission bitmap, and this kernel
;   gives neither.  So it asks the kernel, with SYSCALL and a number in RAX:
;        1  write the zero-terminated string at RSI
;        2  show the registers received, return RDI * RDI in RAX
;        3  write RDI in hexadecimal, RSI digits
;   At the end the user program tries OUT anyway: #GP(0).  The processor
;   switches to the RSP0 stack, and the kernel's #GP handler shows the frame
;   and stops the program.
;
; Why a 64-bit payload: the firmware already did what Lesson 09 shows by
; hand (long mode, a 64-bit IDT for exceptions, flat segments), so this
; program starts in 64-bit mode at CPL 0 and only adds what user mode needs.
; It keeps the firmware's selectors 08h, 10h and 18h unchanged in its own
; GDT, so the running CS (18h), SS and DS (10h), and the firmware's
; exception gates (selector 18h) stay valid after LGDT.
;
; Where the facts come from (Intel SDM = Intel 64 and IA-32 Architectures
; Software Developer's Manual.  Section, figure and table numbers are those
; of the editions of the late 2010s; they move from edition to edition, so
; every citation also gives the section's title):
;   - SYSCALL (Vol. 2, SYSCALL): RCX := RIP of the next instruction,
;     R11 := RFLAGS, RFLAGS := RFLAGS AND NOT SFMASK, CS := STAR[47:32]
;     (CPL 0), SS := STAR[47:32] + 8, RIP := LSTAR.  RSP is NOT changed:
;     the kernel must switch stacks itself.
;   - SYSRET with REX.W ("o64 sysret", Vol. 2, SYSRET): RIP := RCX,
;     RFLAGS := R11 (RF and VM cleared), CS := STAR[63:48] + 16 with RPL 3,
;     SS := STAR[63:48] + 8 with RPL 3; CPL becomes 3.  So the GDT must hold, from STAR[63:48] on: a
;     32-bit user code segment (for SYSRET to compatibility mode), the user
;     data segment, the 64-bit user code segment.
;   - MSR numbers: EFER C0000080h, STAR C0000081h, LSTAR C0000082h, SFMASK
;     C0000084h.  Vol. 3, 5.8.8 "Fast System Calls in 64-Bit Mode".
;   - CPL is the RPL field (bits 1:0) of CS: Vol. 3, 5.5 "Privilege Levels".
;   - The 64-bit TSS: RSP0 at offset 4, the I/O map base at offset 66h;
;     Vol. 3, 7.7 "Task Management in 64-bit Mode", Figure 7-11.  Its
;     descriptor is 16 bytes, type 9 ("available 64-bit TSS"); LTR marks it
;     busy (type Bh): 7.2.3 "TSS Descriptor in 64-bit mode".
;   - IRETQ to a lower privilege pops RIP, CS, RFLAGS, RSP, SS, and loads a
;     null selector into DS, ES, FS, GS if they hold segments the outer
;     level may not use (DPL < CPL): Vol. 2, IRET; Vol. 3, 6.14.3 "IRET in
;     IA-32e Mode".
;   - I/O at CPL 3: allowed if CPL <= IOPL (RFLAGS bits 13:12), otherwise
;     only if the TSS's I/O permission bitmap clears the port's bit; with no
;     bitmap (its base beyond the TSS limit) the access is #GP(0).  Vol. 1,
;     chapter "Input/Output", sections "I/O Privilege Level" and "I/O
;     Permission Bit Map"; Vol. 2, OUT.
;   - User access needs U/S = 1 in the entries of every level: Vol. 3, 4.6
;     "Access Rights".
;   - An exception from CPL 3 in 64-bit mode loads RSP from TSS.RSP0 and
;     pushes SS, RSP, RFLAGS, CS, RIP and (for #GP) the error code: six
;     quadwords.  Vol. 3, 6.14.2 "64-Bit Mode Stack Frame", 6.14.4 "Stack
;     Switching in IA-32e Mode"; the 16-byte gate: 6.14.1 "64-Bit Mode IDT".
;
; What to watch (stepping it in the GUI)
;   - The GDT in memory (label `gdt`) and GDTR after LGDT; TR after LTR, and
;     the TSS descriptor's access byte (P, DPL, type) changing from 89h to
;     8Bh: type 9 "available" became type Bh "busy".
;   - The TSS at 20000h: RSP0 (bytes 4..11) = 90000h.
;   - The MSRs STAR, LSTAR, SFMASK and EFER as the WRMSRs write them.
;   - The IRETQ: the five quadwords on the stack before it; after it CS =
;     003Bh, SS = 0033h (RPL 3: CPL 3), RSP = 80000h, DS = 0 (nulled).
;   - Each SYSCALL: CS goes 3Bh -> 18h, RCX = the user RIP after SYSCALL,
;     R11 = the user RFLAGS, RSP unchanged until the kernel's own MOV; the
;     STD before system call 2 sets DF, and SFMASK clears it (and IF) in the
;     kernel's RFLAGS.  `o64 sysret` takes CS back to 3Bh.
;   - The OUT at CPL 3: the next instruction is `gp_handler`, RSP = 8FFD0h
;     (RSP0 - 6 x 8); the frame holds the error code 0, the OUT's RIP, CS =
;     3Bh, RFLAGS, the user RSP 80000h and SS = 33h.
;
; Note on KVM without VT-x/AMD-V (PVM, as on x86lab's build machines): there
; user-mode code runs on the processor, but a SYSCALL executed in the
; guest's user mode does not enter the guest kernel at CPL 0 (PVM reserves
; SYSCALL for its own paravirtual guests).  On x86lab's build machine the
; code at LSTAR then ran with CS still 3Bh - at CPL 3 - so the kernel's
; first OUT (in kprint) raised #GP(0), and the #GP handler reported that
; OUT's address instead of the user's, and the kernel stack as the saved
; RSP.  Everything up to the IRETQ prints the same on both backends.  With
; VT-x or AMD-V, SYSCALL in the guest enters the guest kernel as the SDM
; describes.
; kvm-without-vtx: SYSCALL from the guest's user mode does not enter the guest kernel under PVM
;
; Expected output (the software CPU, as the SDM's rules predict for the
; processor too; the addresses are those of this file as assembled):
;   Lesson 10: a system call from user mode
;   kernel: TR = 0040, TSS descriptor access byte = 8b (busy), TSS.RSP0 = 0000000000090000
;   kernel: STAR = 0028001800000000, LSTAR = 00000000001002ef
;   kernel: SFMASK = 0000000000000700, EFER = 0000000000000501
;   kernel: IRETQ to CS 003b, SS 0033, RSP 0000000000080000, RFLAGS 0000000000000202, RIP 0000000000100203
;   user: hello from user mode - printed by the kernel (system call 1)
;   user: CS = 003b, SS = 0033, DS = 0000, so CPL = 3
;   kernel: SYSCALL with RAX = 0000000000000002, RDI = 0000000000000007
;   kernel:   RCX (user RIP) = 00000000001002ac, R11 (user RFLAGS) = 0000000000000606
;   kernel:   running with CS = 0018: CPL 0, RFLAGS = 0000000000000006, user RSP = 0000000000080000
;   kernel:   SYSRETQ with RAX = RDI * RDI = 0000000000000031
;   user: system call 2 returned RAX = 0000000000000031
;   user: now OUT to port e9 directly...
;   kernel: #GP, error code 0000, at RIP 00000000001002eb (the OUT at 00000000001002eb)
;   kernel:   saved CS = 003b, SS = 0033, RSP = 0000000000080000
;   kernel:   handler RSP = 000000000008ffd0 = TSS.RSP0 - 6 x 8
;   kernel: the user program is stopped
;
; What a PVM host printed instead (x86lab's build machine):
;   Lesson 10: a system call from user mode
;   kernel: TR = 0040, TSS descriptor access byte = 8b (busy), TSS.RSP0 = 0000000000090000
;   kernel: STAR = 0028001800000000, LSTAR = 00000000001002ef
;   kernel: SFMASK = 0000000000000700, EFER = 0000000000000501
;   kernel: IRETQ to CS 003b, SS 0033, RSP 0000000000080000, RFLAGS 0000000000000202, RIP 0000000000100203
;   kernel: #GP, error code 0000, at RIP 0000000000100516 (the OUT at 00000000001002eb)
;   kernel:   saved CS = 003b, SS = 0033, RSP = 000000000008ffc0
;   kernel:   handler RSP = 000000000008ffd0 = TSS.RSP0 - 6 x 8
;   kernel: the user program is stopped
; =============================================================================

        bits 64
        org 0x100000

CONSOLE     equ 0xE9
TSS         equ 0x20000         ; the task-state segment (104 bytes)
PML4        equ 0x21000         ; our page tables (user-accessible low 2 MiB)
PDPT        equ 0x22000
PD          equ 0x23000
KERNEL_STACK equ 0x90000        ; the firmware's stack, also TSS.RSP0
USER_STACK  equ 0x80000         ; the user program's stack (grows down)

; Our GDT's selectors (see `gdt` below)
KERNEL_CS   equ 0x18            ; 64-bit kernel code (the firmware's CS)
KERNEL_SS   equ 0x20            ; = KERNEL_CS + 8, as SYSCALL sets SS
USER_BASE   equ 0x28            ; STAR[63:48]: 32-bit user code
USER_SS     equ USER_BASE + 8 + 3       ; 33h: user data, RPL 3
USER_CS     equ USER_BASE + 16 + 3      ; 3Bh: 64-bit user code, RPL 3
TSS_SEL     equ 0x40

; MSRs
EFER        equ 0xC0000080
STAR        equ 0xC0000081
LSTAR       equ 0xC0000082
SFMASK      equ 0xC0000084
EFER_SCE    equ 1 << 0

RFLAGS_IF   equ 1 << 9
RFLAGS_DF   equ 1 << 10
RFLAGS_TF   equ 1 << 8
PG_P        equ 1 << 0
PG_RW       equ 1 << 1
PG_US       equ 1 << 2          ; user access allowed
PG_PS       equ 1 << 7

SYS_WRITE   equ 1
SYS_SQUARE  equ 2
SYS_HEX     equ 3

start:
        lea rsi, [rel msg_title]
        call kprint

; -----------------------------------------------------------------------------
; Step 1.  Page tables in which user mode may use the first 2 MiB (where
; this whole program, its stacks and its data are) and the kernel the first
; 1 GiB.  A real kernel would give user mode only the user program's pages;
; here the kernel's code is in the same 2 MiB page, so user code could
; overwrite it - a simplification, not a design to copy.
; -----------------------------------------------------------------------------
; ANCHOR: pages
        mov rdi, PML4
        mov ecx, 3 * 4096 / 4
        xor eax, eax
        rep stosd
        mov dword [PML4], PDPT | PG_P | PG_RW | PG_US
        mov dword [PDPT], PD | PG_P | PG_RW | PG_US
        mov rdi, PD
        mov eax, PG_PS | PG_P | PG_RW       ; 2 MiB pages, supervisor only
        mov ecx, 512
.pde:   mov [rdi], eax
        add eax, 0x200000
        add rdi, 8
        loop .pde
        or dword [PD], PG_US                ; the first 2 MiB: user too
        mov eax, PML4
        mov cr3, rax
; ANCHOR_END: pages

; -----------------------------------------------------------------------------
; Step 2.  The GDT with the user segments and the TSS; then the TSS itself.
; -----------------------------------------------------------------------------
        lgdt [rel gdtr]

; ANCHOR: tss
        mov rdi, TSS                        ; all fields 0 ...
        mov ecx, 104 / 4
        xor eax, eax
        rep stosd
        mov rax, KERNEL_STACK
        mov [TSS + 4], rax                  ; ... but RSP0
        mov word [TSS + 0x66], 104          ; I/O map base = the limit + 1: no bitmap
        mov ax, TSS_SEL
        ltr ax
; ANCHOR_END: tss

        lea rsi, [rel msg_tss]
        call kprint
        str ax                              ; TR
        mov ecx, 4
        call khex
        lea rsi, [rel msg_type]
        call kprint
        movzx eax, byte [rel gdt + TSS_SEL + 5]     ; the descriptor's access byte
        mov ecx, 2
        call khex
        lea rsi, [rel msg_rsp0]
        call kprint
        mov rax, [TSS + 4]
        mov ecx, 16
        call khex
        call knewline

; -----------------------------------------------------------------------------
; Step 3.  The #GP handler: replace gate 13 of the IDT the firmware built
; (SIDT says where it is) with a 64-bit interrupt gate to gp_handler.
; -----------------------------------------------------------------------------
        sidt [rel idtr_copy]
        mov rdi, [rel idtr_copy + 2]        ; the IDT's base
        add rdi, 13 * 16                    ; gate 13
        lea rax, [rel gp_handler]
        mov [rdi], ax                       ; offset 15:0
        mov word [rdi + 2], KERNEL_CS       ; selector
        mov word [rdi + 4], 0x8E00          ; IST 0, P, DPL 0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax                   ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax                  ; offset 63:32
        mov dword [rdi + 12], 0             ; reserved

; -----------------------------------------------------------------------------
; Step 4.  The SYSCALL MSRs.  WRMSR writes EDX:EAX to the MSR numbered ECX.
; -----------------------------------------------------------------------------
; ANCHOR: msrs
        mov ecx, STAR
        xor eax, eax                        ; bits 31:0: only for legacy SYSCALL
        mov edx, (USER_BASE << 16) | KERNEL_CS      ; bits 63:48, 47:32
        wrmsr
        mov ecx, LSTAR
        lea rax, [rel syscall_entry]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, SFMASK
        mov eax, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF  ; cleared on entry
        xor edx, edx
        wrmsr
        mov ecx, EFER
        rdmsr
        or eax, EFER_SCE
        wrmsr
; ANCHOR_END: msrs

        lea rsi, [rel msg_star]
        call kprint
        mov ecx, STAR
        call show_msr
        lea rsi, [rel msg_lstar]
        call kprint
        mov ecx, LSTAR
        call show_msr
        call knewline
        lea rsi, [rel msg_sfmask]
        call kprint
        mov ecx, SFMASK
        call show_msr
        lea rsi, [rel msg_efer]
        call kprint
        mov ecx, EFER
        call show_msr
        call knewline

; -----------------------------------------------------------------------------
; Step 5.  Enter user mode: IRETQ pops RIP, CS, RFLAGS, RSP and SS, so push
; them in the opposite order.  CS and SS have RPL 3: the new CPL is 3.
; RFLAGS = 202h: IF = 1 (as user programs run), IOPL = 0.
; -----------------------------------------------------------------------------
        lea rsi, [rel msg_iretq]
        call kprint
        lea rax, [rel user_main]
        mov ecx, 16
        call khex
        call knewline

; ANCHOR: iretq
        push USER_SS                        ; SS
        push USER_STACK                     ; RSP
        push 0x202                          ; RFLAGS
        push USER_CS                        ; CS
        lea rax, [rel user_main]
        push rax                            ; RIP
        iretq
; ANCHOR_END: iretq

; =============================================================================
; The user program (CPL 3).  It only computes and makes system calls:
; SYSCALL clobbers RCX and R11; this kernel keeps every other register.
; =============================================================================
user_main:
        lea rsi, [rel msg_u_hello]
        mov eax, SYS_WRITE
        syscall

        lea rsi, [rel msg_u_cs]             ; its selectors: CS, SS, DS
        mov eax, SYS_WRITE
        syscall
        mov di, cs                          ; reading a segment register is
        movzx edi, di                       ; allowed at any CPL
        mov esi, 4
        mov eax, SYS_HEX
        syscall
        lea rsi, [rel msg_u_ss]
        mov eax, SYS_WRITE
        syscall
        mov di, ss
        movzx edi, di
        mov esi, 4
        mov eax, SYS_HEX
        syscall
        lea rsi, [rel msg_u_ds]
        mov eax, SYS_WRITE
        syscall
        mov di, ds                          ; IRETQ nulled it
        movzx edi, di
        mov esi, 4
        mov eax, SYS_HEX
        syscall
        lea rsi, [rel msg_u_cpl]
        mov eax, SYS_WRITE
        syscall
        mov di, cs
        and edi, 3                          ; CPL = CS.RPL
        mov esi, 1
        mov eax, SYS_HEX
        syscall
        lea rsi, [rel msg_nl]
        mov eax, SYS_WRITE
        syscall

; ANCHOR: syscall
        std                                 ; DF = 1: watch SFMASK clear it
        mov edi, 7
        mov eax, SYS_SQUARE                 ; the system call's number
        syscall                             ; -> syscall_entry, CPL 0
        cld
; ANCHOR_END: syscall
        mov rbx, rax                        ; the result

        lea rsi, [rel msg_u_result]         ; print it: ask the kernel again
        mov eax, SYS_WRITE
        syscall
        mov rdi, rbx
        mov esi, 16
        mov eax, SYS_HEX
        syscall
        lea rsi, [rel msg_nl]
        mov eax, SYS_WRITE
        syscall

        lea rsi, [rel msg_u_out]
        mov eax, SYS_WRITE
        syscall
; ANCHOR: user_out
        mov al, '!'
user_out:
        out CONSOLE, al                     ; CPL 3 > IOPL 0, no bitmap: #GP(0)
        jmp user_out                        ; (not reached)
; ANCHOR_END: user_out

; =============================================================================
; The kernel's SYSCALL entry (LSTAR).  The processor changed CS, SS, RIP,
; RFLAGS, RCX and R11 - not RSP, which still points into the user's stack.
; A kernel must not trust that stack: it first switches to its own (on a
; machine with several processors, through per-processor data and SWAPGS;
; one processor here, so a variable does).
; =============================================================================
; ANCHOR: entry
syscall_entry:
        mov [rel user_rsp], rsp
        mov rsp, KERNEL_STACK
        pushfq                              ; RFLAGS as SYSCALL left it
        push rcx                            ; the user's RIP
        push r11                            ; the user's RFLAGS
        push rsi
        push rdi
        push rdx
; ANCHOR_END: entry

        cmp rax, SYS_WRITE
        je .write
        cmp rax, SYS_SQUARE
        je .square
        cmp rax, SYS_HEX
        je .hex
        mov rax, -1                         ; unknown: return -1
        jmp .return

.write: call kprint                         ; (a real kernel would first check
        jmp .return                         ; that RSI points into user memory)

.hex:   mov ecx, esi                        ; the number of digits: 1..16
        test ecx, ecx                       ; (a kernel checks what user
        jz .return                          ; mode passes it)
        cmp ecx, 16
        ja .return
        mov rax, rdi
        call khex
        jmp .return

.square:
        push rax
        lea rsi, [rel msg_k_sys]
        call kprint
        pop rax
        mov ecx, 16
        call khex                           ; RAX: the number
        lea rsi, [rel msg_k_rdi]
        call kprint
        mov rax, rdi
        call khex
        lea rsi, [rel msg_k_rcx]
        call kprint
        mov rax, [rsp + 32]                 ; RCX: where SYSRET will return
        call khex
        lea rsi, [rel msg_k_r11]
        call kprint
        mov rax, [rsp + 24]                 ; R11: the user's RFLAGS
        call khex
        lea rsi, [rel msg_k_cs]
        call kprint
        mov ax, cs
        mov ecx, 4
        call khex
        lea rsi, [rel msg_k_cpl]
        call kprint
        mov ax, cs
        and eax, 3                          ; CPL = CS.RPL
        mov ecx, 1
        call khex
        lea rsi, [rel msg_k_rflags]
        call kprint
        mov rax, [rsp + 40]                 ; RFLAGS on entry
        mov ecx, 16
        call khex
        lea rsi, [rel msg_k_rsp]
        call kprint
        mov rax, [rel user_rsp]
        call khex
        call knewline
        mov rax, rdi
        imul rax, rdi                       ; the result: RDI * RDI
        lea rsi, [rel msg_k_ret]
        call kprint
        call khex
        call knewline

; ANCHOR: sysret
.return:
        pop rdx
        pop rdi
        pop rsi
        pop r11
        pop rcx
        add rsp, 8                          ; the RFLAGS copy
        mov rsp, [rel user_rsp]
        o64 sysret                          ; SYSRETQ: back to CPL 3 at RCX
; ANCHOR_END: sysret

; =============================================================================
; The kernel's #GP handler.  From CPL 3 the processor loaded RSP from
; TSS.RSP0 (90000h) and pushed:
;     [rsp + 40] SS     [rsp + 32] RSP    [rsp + 24] RFLAGS
;     [rsp + 16] CS     [rsp + 8]  RIP    [rsp + 0]  error code
; =============================================================================
gp_handler:
        lea rsi, [rel msg_gp]
        call kprint
        mov rax, [rsp]
        mov ecx, 4
        call khex
        lea rsi, [rel msg_gp_rip]
        call kprint
        mov rax, [rsp + 8]
        mov ecx, 16
        call khex
        lea rsi, [rel msg_gp_out]
        call kprint
        lea rax, [rel user_out]
        call khex
        lea rsi, [rel msg_gp_frame]
        call kprint
        mov rax, [rsp + 16]
        mov ecx, 4
        call khex
        lea rsi, [rel msg_gp_ss]
        call kprint
        mov rax, [rsp + 40]
        call khex
        lea rsi, [rel msg_gp_ursp]
        call kprint
        mov rax, [rsp + 32]
        mov ecx, 16
        call khex
        call knewline
        lea rsi, [rel msg_gp_rsp]
        call kprint
        mov rax, rsp
        call khex
        lea rsi, [rel msg_gp_rsp2]
        call kprint
        lea rsi, [rel msg_gp_stop]
        call kprint
        cli
        hlt

; -----------------------------------------------------------------------------
; Kernel console output.  kprint: the zero-terminated string at RSI.
; khex: the low ECX hex digits of RAX.  show_msr: the MSR numbered ECX
; (16 digits).  knewline: a line feed.  They keep every register but the
; flags (kprint advances RSI past the string).
; -----------------------------------------------------------------------------
kprint:
        push rax
.next:  mov al, [rsi]
        inc rsi
        test al, al
        jz .done
        out CONSOLE, al
        jmp .next
.done:  pop rax
        ret

khex:   push rax
        push rcx
        push rdx
        mov rdx, rax
        shl ecx, 2                          ; rotate the wanted digits to the
        ror rdx, cl                         ; top: by 4 x digits (64 rotates by 0)
        shr ecx, 2
.digit: rol rdx, 4
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out CONSOLE, al
        loop .digit
        pop rdx
        pop rcx
        pop rax
        ret

show_msr:
        push rax
        push rcx
        push rdx
        rdmsr                               ; EDX:EAX = MSR[ECX]
        shl rdx, 32
        or rax, rdx
        mov ecx, 16
        call khex
        pop rdx
        pop rcx
        pop rax
        ret

knewline:
        push rax
        mov al, 10
        out CONSOLE, al
        pop rax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
; The GDT.  Access byte: 9Ah/92h = present, DPL 0, code/data; FAh/F2h the
; same with DPL 3.  Flags: Ch = 4 KiB granularity + 32-bit; Ah = 4 KiB
; granularity + L (64-bit code).
        align 8
; ANCHOR: gdt
gdt:    dq 0                                ; 00h null
        dq 0x00CF9A000000FFFF               ; 08h kernel code, 32-bit (firmware's)
        dq 0x00CF92000000FFFF               ; 10h kernel data (firmware's)
        dq 0x00AF9A000000FFFF               ; 18h kernel code, 64-bit: STAR[47:32]
        dq 0x00CF92000000FFFF               ; 20h kernel data: SYSCALL's SS
        dq 0x00CFFA000000FFFF               ; 28h user code, 32-bit: STAR[63:48]
        dq 0x00CFF2000000FFFF               ; 30h user data: SYSRET's SS
        dq 0x00AFFA000000FFFF               ; 38h user code, 64-bit: SYSRET's CS
        ; 40h: the 64-bit TSS descriptor, 16 bytes: limit 67h, base TSS,
        ; type 9 (available 64-bit TSS), P = 1, DPL 0.
        dw 104 - 1                          ; limit 15:0
        dw TSS & 0xFFFF                     ; base 15:0
        db (TSS >> 16) & 0xFF               ; base 23:16
        db 0x89                             ; P, DPL 0, type 9
        db 0                                ; G = 0, limit 19:16 = 0
        db (TSS >> 24) & 0xFF               ; base 31:24
        dd 0                                ; base 63:32
        dd 0                                ; reserved
gdt_end:
; ANCHOR_END: gdt
gdtr:   dw gdt_end - gdt - 1
        dq gdt

idtr_copy:
        dw 0
        dq 0
user_rsp:
        dq 0

msg_title:      db "Lesson 10: a system call from user mode", 10, 0
msg_tss:        db "kernel: TR = ", 0
msg_type:       db ", TSS descriptor access byte = ", 0
msg_rsp0:       db " (busy), TSS.RSP0 = ", 0
msg_star:       db "kernel: STAR = ", 0
msg_lstar:      db ", LSTAR = ", 0
msg_sfmask:     db "kernel: SFMASK = ", 0
msg_efer:       db ", EFER = ", 0
msg_iretq:      db "kernel: IRETQ to CS 003b, SS 0033, RSP 0000000000080000, RFLAGS 0000000000000202, RIP ", 0
msg_u_hello:    db "user: hello from user mode - printed by the kernel (system call 1)", 10, 0
msg_u_cs:       db "user: CS = ", 0
msg_u_ss:       db ", SS = ", 0
msg_u_ds:       db ", DS = ", 0
msg_u_cpl:      db ", so CPL = ", 0
msg_nl:         db 10, 0
msg_u_result:   db "user: system call 2 returned RAX = ", 0
msg_u_out:      db "user: now OUT to port e9 directly...", 10, 0
msg_k_sys:      db "kernel: SYSCALL with RAX = ", 0
msg_k_rdi:      db ", RDI = ", 0
msg_k_rcx:      db 10, "kernel:   RCX (user RIP) = ", 0
msg_k_r11:      db ", R11 (user RFLAGS) = ", 0
msg_k_cs:       db 10, "kernel:   running with CS = ", 0
msg_k_cpl:      db ": CPL ", 0
msg_k_rflags:   db ", RFLAGS = ", 0
msg_k_rsp:      db ", user RSP = ", 0
msg_k_ret:      db "kernel:   SYSRETQ with RAX = RDI * RDI = ", 0
msg_gp:         db "kernel: #GP, error code ", 0
msg_gp_rip:     db ", at RIP ", 0
msg_gp_out:     db " (the OUT at ", 0
msg_gp_frame:   db ")", 10, "kernel:   saved CS = ", 0
msg_gp_ss:      db ", SS = ", 0
msg_gp_ursp:    db ", RSP = ", 0
msg_gp_rsp:     db "kernel:   handler RSP = ", 0
msg_gp_rsp2:    db " = TSS.RSP0 - 6 x 8", 10, 0
msg_gp_stop:    db "kernel: the user program is stopped", 10, 0
