; Corpus of 16-bit code: one instruction per line, each assembled on its own by NASM
; (regen.py) and by x86lab (tests/nasm_corpus.rs). `;` starts a comment.
; -- data movement, register and immediate forms
mov ax, bx
mov al, bl
mov ah, ch
mov eax, ebx
mov ax, 0x1234
mov al, 5
mov eax, 0x12345678
mov bx, -1
mov ds, ax
mov ax, es
mov word [bx], 5
mov byte [bx], 5
mov dword [bx], 5
mov [bx], ax
mov ax, [bx]
mov al, [0x1234]
mov ax, [0x1234]
mov [0x1234], al
mov [0x1234], ax
mov eax, [0x1234]
mov cx, [bx+0x1234]
; -- 16-bit addressing: every base/index pair and displacement size
mov ax, [bx+si]
mov ax, [bx+di]
mov ax, [bp+si]
mov ax, [bp+di]
mov ax, [si]
mov ax, [di]
mov ax, [bp]
mov ax, [bx]
mov ax, [si+bx]
mov ax, [bx+si+5]
mov ax, [bx+si-5]
mov ax, [bp+di+300]
mov ax, [bp-2]
mov ax, [di+0x7fff]
mov ax, [si+0xffff]
mov ax, es:[di]
mov ax, [es:di]
mov ax, [cs:bx+4]
mov ax, [ss:bx]
mov ax, [fs:si]
; -- 32-bit addressing in 16-bit code
mov ax, [eax]
mov ax, [ebx+ecx*4+8]
mov eax, [esp]
mov al, [ebp]
; -- arithmetic: accumulator, sign-extended and full immediates
add ax, bx
add ax, [bx]
add [bx], ax
add al, 5
add ax, 5
add ax, 500
add bx, 5
add bx, 500
add bx, -128
add bx, 127
add bx, 128
add word [bx], 5
add byte [bx], 5
add dword [bx], 1000
adc ax, 1
sbb cx, dx
sub sp, 16
cmp al, -1
cmp ax, 0xffff
and ax, 0xff00
or bl, 0x80
xor ax, ax
test ax, bx
test al, 5
test ax, 5
test bx, 0x100
test [bx], ax
test ax, [bx]
test byte [bx], 1
inc ax
inc eax
inc bl
inc word [bx]
dec cx
dec byte [si]
neg ax
not word [bx]
mul bx
imul cx
imul ax, bx
imul ax, bx, 3
imul ax, bx, 300
imul ax, 3
div byte [bx]
idiv ecx
; -- shifts and rotates
shl ax, 1
shl ax, cl
shl ax, 4
sal bx, 1
shr word [bx], 1
sar dx, cl
rol al, 3
rcr ax, 1
shld ax, bx, 4
shrd ax, bx, cl
; -- stack
push ax
push eax
push es
push cs
push ss
push ds
push fs
push gs
push 5
push 1000
push word 5
push dword 5
push byte -1
push word [bx]
push dword [bx]
pop ax
pop es
pop word [bx]
pusha
popa
pushad
pushf
popf
pushfd
enter 16, 0
enter 8, 1
leave
; -- exchange and conversion
xchg ax, bx
xchg bx, ax
xchg ax, ax
xchg cx, dx
xchg [bx], ax
xchg ax, [bx]
xchg al, ah
cbw
cwd
cwde
cdq
movzx ax, bl
movzx eax, byte [bx]
movzx eax, word [bx]
movsx cx, al
movsx ebx, word [si]
lea ax, [bx+si+4]
lea eax, [ebx*2]
lea ax, [bp]
bswap eax
xlatb
lahf
sahf
; -- strings
movsb
movsw
movsd
rep movsb
rep stosw
repe cmpsb
repne scasb
lodsb
lodsw
stosb
outsb
insw
a32 rep movsb
o32 lodsw
es movsb
; -- control transfers (targets relative to the instruction)
jmp $+2
jmp $+0x80
jmp $-0x100
jmp short $+10
jmp near $+10
jz $+5
jnz $-20
jz $+0x300
jcxz $+4
jecxz $+4
loop $-2
loopz $+3
loopnz $+3
; targets past the segment's end: `short` and LOOP wrap around 64 KiB, a plain jump does not
jnz short 0xffec
loop 0xfffe
jmp 0xfff0
call $+100
call $-0x200
jmp ax
jmp [bx]
jmp word [bx]
call bx
call [bx]
call word [bx+si]
jmp 0x1234:0x5678
call 0x10:0x20
jmp far [bx]
call far [bx]
jmp dword 0x10:0x12345678
ret
ret 4
retf
retf 2
iret
int 0x10
int 3
int3
into
; -- flags, system and I/O
clc
stc
cmc
cld
std
cli
sti
hlt
nop
in al, 0x60
in ax, dx
in al, dx
out 0x80, al
out dx, ax
out dx, al
lgdt [bx]
lidt [0x500]
sgdt [bx]
lmsw ax
smsw ax
mov eax, cr0
mov cr0, eax
mov cr3, eax
mov eax, dr7
ltr ax
lldt ax
lar ax, bx
lsl eax, ebx
verr ax
arpl [bx], ax
bound ax, [bx]
les bx, [bx]
lds si, [0x100]
lss sp, [bx]
lock inc word [bx]
lock xadd [bx], ax
cmpxchg [bx], cx
bt ax, 3
bts word [bx], 5
btr ax, bx
btc [bx], ax
bsf ax, bx
bsr eax, [bx]
setz al
setnae byte [bx]
cmovz ax, bx
cmovge eax, [bx]
daa
das
aaa
aas
aam
aad
aam 16
salc
wait
fninit
fld st1
fld dword [bx]
fld qword [bx]
fld tword [bx]
fild word [bx]
fistp dword [bx]
fadd st0, st1
fadd st1, st0
faddp
fxch
fstsw ax
fnstsw ax
; -- expressions in operands
mov ax, 2+3*4
mov ax, (2+3)*4
mov ax, 1<<10
mov ax, 0x10|0x01
mov ax, ~0
mov ax, -(5)
mov al, 'A'
mov ax, 'AB'
mov ax, [bx+2*3]
; -- errors NASM reports (x86lab must refuse them too)
inc [bx]
push [bx]
movzx ax, [bx]
mov [bx], 5
mov ax, bl
mov ax, [bx+bp]
mov ax, [si+di]
