; =============================================================================
; Lesson 12 - Where the emulator and the hardware differ: undefined flags
; =============================================================================
;
; What it teaches
;   For every instruction the Intel SDM lists, under "Flags Affected", what
;   happens to the six status flags CF, PF, AF, ZF, SF and OF.  Most are
;   DEFINED: set from the result by an exact rule.  Some are UNDEFINED: the
;   manual promises nothing about them.  Examples (SDM Vol. 2, "Flags
;   Affected" of each instruction):
;     MUL, IMUL        SF, ZF, AF, PF undefined (CF and OF defined)
;     AND, OR, XOR     AF undefined (CF = OF = 0; SF, ZF, PF from the result)
;     SHL/SHR/SAR      OF undefined when the count is not 1; AF undefined for
;                      any non-zero count; CF undefined for SHL and SHR when
;                      the count is at least the operand's size in bits
;     AAM, AAD         OF, AF, CF undefined (SF, ZF, PF from AL)
;     DAA, DAS         OF undefined (CF, AF, SF, ZF, PF defined)
;     DIV              all six undefined
;     BSF, BSR         CF, OF, SF, AF, PF undefined (ZF defined)
;   (Vol. 1, Appendix A "EFLAGS Cross-Reference" lists them all.)
;
; Why undefined?  The manual defines what software may rely on.  Leaving a
; flag undefined lets every processor design compute it however its
; circuits make cheapest - or not compute it at all - and different
; generations and vendors have indeed produced different values (AMD's
; manual leaves most of the same flags undefined).  Correct programs never
; read an undefined flag, so they run the same everywhere.
;
; An emulator, though, must put SOME value there.  x86lab's software CPU
; documents its choice per instruction family (emulator/src/cpu/flags.rs:
; for example AF cleared after AND/OR/XOR, and SF/ZF/PF of MUL computed from
; the low half of the product).  The processor uses its own logic.  So this
; lesson is expected to print different values on the two backends - but
; only in the undefined flags.
;
; What it prints
;   For each instruction: one line with the result (AX) and the DEFINED
;   flags - this line must be identical on both backends - and one line,
;   starting with "undefined:", with the UNDEFINED flags, twice: after
;   running the instruction with all six status flags 0 beforehand, and
;   after running it with all six 1 beforehand ("0 before | 1 before").  An
;   undefined flag that differs between the two runs depends on the flags
;   before: typically the processor simply left the old value in place.
;   (DAS is preceded by the SUB that prepares its input, and SUB sets all
;   six flags, so its two runs always agree.)
;   Only the "undefined:" lines may differ between the software CPU and the
;   processor: a test compares everything else.
;
; On which processor does the "kvm" backend run this?  With VT-x or AMD-V,
; on the processor itself.  On a KVM without them (PVM, as on x86lab's build
; machines) real-mode code is run by the host kernel's instruction
; emulator (Linux, arch/x86/kvm/emulate.c): for MUL, IMUL, AND, OR, SHL,
; DIV and BSF it executes the same instruction on the host processor
; ("fastop"), so the flags are still the processor's; AAM, AAD and DAS it
; computes in software (their SF, ZF, PF and OF come from an OR of the
; result with 0) - and DAA it cannot emulate at all, which is why this
; lesson shows DAS and not DAA.
;
; What to watch (stepping it in the GUI)
;   - EFLAGS before and after each instruction under test (in the routines
;     `t_mul` ... `t_bsf`): the driver `run` loads the flags with POPF just
;     before, and saves them with PUSHF just after (MOV, CALL and RET change
;     no flag, so nothing else touches them in between).
;   - The step-by-step comparison of the two backends in the GUI shows
;     where the two CPUs part: right after an instruction under test, EFLAGS
;     may differ in an undefined flag while every register and every
;     defined flag still agree.  That is the one place where they may
;     differ; a difference anywhere else is a bug worth reporting.
;
; Expected output on the software CPU:
;   Lesson 12: flags the SDM leaves undefined
;   each undefined: line gives the flags after a run with all six status flags 0 before | all 1 before
;   MUL BL with AL=80 BL=02: AX=0100 CF=1 OF=1
;   undefined: MUL BL: PF=1 AF=0 ZF=1 SF=0 | PF=1 AF=0 ZF=1 SF=0
;   IMUL BL with AL=ff BL=02: AX=fffe CF=0 OF=0
;   undefined: IMUL BL: PF=0 AF=0 ZF=0 SF=1 | PF=0 AF=0 ZF=0 SF=1
;   AND AL,0f with AL=3c: AX=000c CF=0 PF=1 ZF=0 SF=0 OF=0
;   undefined: AND AL,0f: AF=0 | AF=0
;   OR AL,80 with AL=01: AX=0081 CF=0 PF=1 ZF=0 SF=1 OF=0
;   undefined: OR AL,80: AF=0 | AF=0
;   SHL AL,4 with AL=96: AX=0060 CF=1 PF=1 ZF=0 SF=0
;   undefined: SHL AL,4: AF=0 OF=1 | AF=0 OF=1
;   SHL AL,CL with AL=ff CL=09: AX=0000 PF=1 ZF=1 SF=0
;   undefined: SHL AL,CL: CF=0 AF=0 OF=0 | CF=0 AF=0 OF=0
;   AAM with AX=004f: AX=0709 PF=1 ZF=0 SF=0
;   undefined: AAM: CF=0 AF=0 OF=0 | CF=0 AF=0 OF=0
;   AAD with AX=0709: AX=004f PF=0 ZF=0 SF=0
;   undefined: AAD: CF=0 AF=0 OF=0 | CF=0 AF=0 OF=0
;   DAS with AL=23-05 (SUB): AX=0018 CF=0 PF=1 AF=1 ZF=0 SF=0
;   undefined: DAS: OF=0 | OF=0
;   DIV BL with AX=0107 BL=10: AX=0710
;   undefined: DIV BL: CF=0 PF=0 AF=0 ZF=0 SF=0 OF=0 | CF=1 PF=1 AF=1 ZF=1 SF=1 OF=1
;   BSF AX,CX with CX=0050: AX=0004 ZF=0
;   undefined: BSF AX,CX: CF=0 PF=0 AF=0 SF=0 OF=0 | CF=1 PF=1 AF=1 SF=1 OF=1
;   done
;
; What KVM printed on one machine (an AMD EPYC processor under a PVM host,
; so through the host kernel's emulator as explained above): the same
; lines, except these "undefined:" lines:
;   undefined: MUL BL: PF=0 AF=0 ZF=0 SF=0 | PF=1 AF=1 ZF=1 SF=1
;   undefined: IMUL BL: PF=0 AF=0 ZF=0 SF=0 | PF=1 AF=1 ZF=1 SF=1
;   undefined: SHL AL,4: AF=1 OF=1 | AF=1 OF=1
;   undefined: SHL AL,CL: CF=0 AF=1 OF=0 | CF=0 AF=1 OF=0
;   undefined: DIV BL: CF=0 PF=0 AF=1 ZF=0 SF=0 OF=0 | CF=1 PF=0 AF=1 ZF=0 SF=0 OF=1
;   undefined: BSF AX,CX: CF=0 PF=0 AF=0 SF=0 OF=0 | CF=0 PF=0 AF=0 SF=0 OF=0
; =============================================================================

        bits 16
        org 0x7c00

CONSOLE     equ 0xE9
CF          equ 1 << 0          ; the six status flags' bits in FLAGS
PF          equ 1 << 2
AF          equ 1 << 4
ZF          equ 1 << 6
SF          equ 1 << 7
OF          equ 1 << 11
ALL6        equ CF | PF | AF | ZF | SF | OF
FLAGS_0     equ 0x0002          ; all six 0 (bit 1 always reads 1)
FLAGS_1     equ 0x0002 | ALL6   ; all six 1 (IF, TF, DF stay 0)

; A test in the table: the address of the next entry, of its name, of its
; inputs (text), of the routine that runs it (result in AX), the mask of its
; defined flags, the mask of its undefined flags; then the two strings.
%macro FLAG_TEST 5
        dw %%next, %%name, %%inputs, %3, %4, %5
%%name:   db %1, 0
%%inputs: db %2, 0
%%next:
%endmacro
; (offsets in an entry:)
T_NEXT      equ 0
T_NAME      equ 2
T_INPUTS    equ 4
T_CODE      equ 6
T_DEFINED   equ 8
T_UNDEFINED equ 10

start:
        cli
        xor ax, ax
        mov ds, ax
        mov si, msg_title
        call print
        mov si, msg_legend
        call print

        mov di, tests               ; DI walks the table (no test changes it)
.next:  cmp word [di + T_NEXT], 0   ; the end of the table?
        je .end

        mov dx, FLAGS_0             ; run it with all six flags 0 ...
        call run
        mov [result], ax
        mov [flags_0], dx
        mov dx, FLAGS_1             ; ... and with all six 1
        call run
        mov [result_1], ax
        mov [flags_1], dx

; The defined line: "NAME with INPUTS: AX=xxxx  CF=. ..."
        mov si, [di + T_NAME]
        call print
        mov si, msg_with
        call print
        mov si, [di + T_INPUTS]
        call print
        mov si, msg_ax
        call print
        mov ax, [result]
        call hex16
        mov dx, [flags_0]
        mov cx, [di + T_DEFINED]
        call print_flags
; A check: the result and the defined flags may not depend on the flags
; before.  (Never printed, unless a CPU gets a defined result wrong.)
        mov ax, [result]
        cmp ax, [result_1]
        jne .differs
        xor dx, [flags_1]           ; DX = the flags that differ ...
        test dx, cx                 ; ... among the defined ones?
        jz .same
.differs:
        mov si, msg_differs
        call print
.same:  call newline

; The undefined line: "undefined: NAME: flags (0 before) | flags (1 before)"
        mov si, msg_undefined
        call print
        mov si, [di + T_NAME]
        call print
        mov al, ':'
        call putc
        mov cx, [di + T_UNDEFINED]
        mov dx, [flags_0]
        call print_flags
        mov si, msg_bar
        call print
        mov dx, [flags_1]
        call print_flags
        call newline

        mov di, [di + T_NEXT]       ; the next entry
        jmp .next

.end:   mov si, msg_done
        call print
        cli
        hlt

; run: FLAGS := DX, call the test at [DI + T_CODE], DX := FLAGS afterwards.
; The test's result is in AX.
; ANCHOR: run
run:
        push dx
        popf                        ; the flags before
        call [di + T_CODE]          ; CALL, MOV and RET change no flag
        pushf
        pop dx                      ; the flags after
        ret
; ANCHOR_END: run

; -----------------------------------------------------------------------------
; The instructions under test.  Each sets its inputs with MOV (no flag
; changes), runs one instruction, and returns with the result in AX.
; -----------------------------------------------------------------------------
; ANCHOR: t_mul
t_mul:  mov ax, 0x0080
        mov bl, 0x02
        mul bl                      ; AX = AL * BL = 0100h: CF = OF = 1
        ret
; ANCHOR_END: t_mul

t_imul: mov ax, 0x00FF              ; AL = -1
        mov bl, 0x02
        imul bl                     ; AX = -2 = FFFEh, fits in AL: CF = OF = 0
        ret

t_and:  mov ax, 0x003C
        and al, 0x0F                ; 0Ch
        ret

t_or:   mov ax, 0x0001
        or al, 0x80                 ; 81h
        ret

t_shl4: mov ax, 0x0096
        shl al, 4                   ; 60h; CF = the last bit out (bit 4 of 96h)
        ret

t_shl9: mov ax, 0x00FF
        mov cl, 9
        shl al, cl                  ; count 9 > 8 bits: AL = 0, CF undefined
        ret

t_aam:  mov ax, 0x004F              ; 79
        aam                         ; AH = 79 / 10 = 7, AL = 79 mod 10 = 9
        ret

t_aad:  mov ax, 0x0709              ; unpacked BCD 7, 9
        aad                         ; AL = 7 * 10 + 9 = 79 = 4Fh, AH = 0
        ret

t_das:  mov ax, 0x0023
        sub al, 0x05                ; 23h - 05h = 1Eh, AF = 1 (SUB sets all six)
        das                         ; decimal 23 - 5 = 18: AL = 18h
        ret

; ANCHOR: t_div
t_div:  mov ax, 0x0107              ; 263
        mov bl, 0x10
        div bl                      ; AL = 16 = 10h, AH = 7: AX = 0710h
        ret
; ANCHOR_END: t_div

t_bsf:  mov ax, 0xFFFF
        mov cx, 0x0050
        bsf ax, cx                  ; the lowest set bit of 0050h: 4
        ret

; -----------------------------------------------------------------------------
; print_flags: for each flag in the mask CX, in the order CF PF AF ZF SF OF,
; print " XF=0" or " XF=1" as the flag is in DX.
; -----------------------------------------------------------------------------
print_flags:
        push ax
        push bx
        mov bx, flag_names
.next:  mov ax, [bx]                ; the flag's bit
        test ax, ax
        jz .done
        test cx, ax
        jz .skip
        push ax
        mov al, ' '
        call putc
        mov al, [bx + 2]            ; its two letters
        call putc
        mov al, [bx + 3]
        call putc
        mov al, '='
        call putc
        pop ax
        test dx, ax
        mov al, '0'
        jz .out
        mov al, '1'
.out:   call putc
.skip:  add bx, 4
        jmp .next
.done:  pop bx
        pop ax
        ret

; print: the zero-terminated string at DS:SI.  hex16: AX in hex.
print:
        push ax
.next:  lodsb
        test al, al
        jz .done
        call putc
        jmp .next
.done:  pop ax
        ret

hex16:  push ax
        push cx
        mov cx, 4
.digit: rol ax, 4
        push ax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   call putc
        pop ax
        loop .digit
        pop cx
        pop ax
        ret

putc:   out CONSOLE, al
        ret

newline:
        push ax
        mov al, 10
        call putc
        pop ax
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
flag_names:
        dw CF
        db "CF"
        dw PF
        db "PF"
        dw AF
        db "AF"
        dw ZF
        db "ZF"
        dw SF
        db "SF"
        dw OF
        db "OF"
        dw 0

;     name          inputs                  code     defined              undefined
tests:
        FLAG_TEST "MUL BL",   "AL=80 BL=02",   t_mul,   CF | OF,              SF | ZF | AF | PF
        FLAG_TEST "IMUL BL",  "AL=ff BL=02",   t_imul,  CF | OF,              SF | ZF | AF | PF
        FLAG_TEST "AND AL,0f", "AL=3c",        t_and,   CF | PF | ZF | SF | OF, AF
        FLAG_TEST "OR AL,80", "AL=01",         t_or,    CF | PF | ZF | SF | OF, AF
        FLAG_TEST "SHL AL,4", "AL=96",         t_shl4,  CF | PF | ZF | SF,    AF | OF
        FLAG_TEST "SHL AL,CL", "AL=ff CL=09",  t_shl9,  PF | ZF | SF,         CF | AF | OF
        FLAG_TEST "AAM",      "AX=004f",       t_aam,   PF | ZF | SF,         CF | AF | OF
        FLAG_TEST "AAD",      "AX=0709",       t_aad,   PF | ZF | SF,         CF | AF | OF
        FLAG_TEST "DAS",      "AL=23-05 (SUB)", t_das,  CF | PF | AF | ZF | SF, OF
        FLAG_TEST "DIV BL",   "AX=0107 BL=10", t_div,   0,                    ALL6
        FLAG_TEST "BSF AX,CX", "CX=0050",      t_bsf,   ZF,                   CF | PF | AF | SF | OF
        dw 0                        ; the end of the table

result:     dw 0
result_1:   dw 0
flags_0:    dw 0
flags_1:    dw 0

msg_title:      db "Lesson 12: flags the SDM leaves undefined", 10, 0
msg_legend:     db "each undefined: line gives the flags after a run with all six status flags 0 before | all 1 before", 10, 0
msg_with:       db " with ", 0
msg_ax:         db ": AX=", 0
msg_undefined:  db "undefined: ", 0
msg_bar:        db " |", 0
msg_differs:    db " - but not so with the six flags 1 before!", 0
msg_done:       db "done", 10, 0
