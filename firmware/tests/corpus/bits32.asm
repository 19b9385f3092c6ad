; Corpus of 32-bit code (see bits16.asm).
mov eax, ebx
mov ax, bx
mov al, 0x7f
mov eax, 0x80000000
mov eax, -1
mov eax, [ebx]
mov [ebx], eax
mov eax, [0x12345678]
mov al, [0x1234]
mov [0x1234], eax
mov ax, [0x1234]
mov dword [ebx], 5
mov byte [ebx+4], 5
mov word [ebx], 0x1234
mov ds, ax
mov ax, ds
mov eax, ds
; -- 32-bit addressing: SIB, no base, esp and ebp
mov eax, [esp]
mov eax, [esp+4]
mov eax, [ebp]
mov eax, [ebp+8]
mov eax, [ebp-4]
mov eax, [eax+ebx]
mov eax, [ebx+eax]
mov eax, [eax+esp]
mov eax, [ebp+eax]
mov eax, [eax+ebp]
mov eax, [ebx+ecx*2]
mov eax, [ebx+ecx*4+0x10]
mov eax, [ecx*8]
mov eax, [ecx*8+0x100]
mov eax, [ecx*2]
mov eax, [ecx*3]
mov eax, [ecx*5+4]
mov eax, [ecx*9]
mov eax, [ebx+ecx+0x12345678]
mov eax, [ebx-0x80]
mov eax, [ebx+0x7f]
mov eax, [ebx+0x80]
mov eax, [esi+edi*1]
mov eax, [fs:0]
mov eax, [gs:eax+4]
mov eax, es:[edi]
mov ax, [bx+si]
; -- arithmetic
add eax, ebx
add eax, 1
add eax, 1000
add ebx, 1000
add ebx, -1
add ax, 5
add ax, 1000
add al, 200
add dword [ebx], 1
add dword [ebx], 1000
add word [ebx], 1
add byte [ebx], 1
add [ebx], eax
add eax, [ebx]
sub esp, 0x100
cmp eax, 0xffffffff
cmp ecx, -2
and eax, 0xfffffff0
or eax, 0x80000000
xor eax, eax
test eax, eax
test eax, 0x100
test al, 1
test ecx, 1
inc eax
inc ax
dec ebx
inc dword [ebx]
neg eax
not eax
mul ecx
imul eax, ebx
imul eax, [ebx], 10
imul eax, ebx, 1000
imul eax, 10
div dword [ebx]
idiv ecx
shl eax, 1
shl eax, 5
shl eax, cl
shr dword [ebx], 1
sar eax, 31
rol eax, 1
ror ecx, cl
shld eax, ebx, 1
; -- stack
push eax
push ax
push 1
push 0x1000
push -1
push dword [ebx]
push word [ebx]
push es
push fs
pop eax
pop dword [ebx]
pop ds
pushad
popad
pusha
pushf
pushfd
popfd
enter 0x10, 0
leave
; -- exchange, conversion
xchg eax, ebx
xchg ebx, eax
xchg ecx, ebx
xchg eax, eax
xchg [ebx], eax
xchg eax, [ebx]
cwde
cdq
cbw
cwd
movzx eax, bl
movzx eax, word [ebx]
movsx eax, byte [ebx]
lea eax, [ebx+ecx*4+8]
lea eax, [eax*2]
lea eax, [0x1000]
bswap ecx
; -- strings
movsd
movsb
rep movsd
rep stosb
repne scasb
repe cmpsd
lodsd
stosd
a16 movsb
o16 movsw
; -- control
jmp $+2
jmp $+0x1000
jmp short $-10
jnz $+0x80
jnz $+0x7f
js $-0x81
jecxz $+5
jcxz $+5
loop $
call $+5
call eax
call [ebx]
call dword [ebx]
jmp eax
jmp [ebx+4]
jmp 0x08:0x12345678
jmp word 0x08:0x1234
call 0x08:0x100
jmp far [ebx]
call far [ebx]
ret
ret 8
retf
iret
iretd
int 0x80
int3
; -- system
lgdt [eax]
lidt [0x1000]
sgdt [ebx]
mov cr0, eax
mov eax, cr2
mov cr4, ebx
mov dr0, eax
ltr ax
str eax
sldt eax
lar eax, ebx
lsl eax, [ebx]
verw [ebx]
invlpg [eax]
wbinvd
rdtsc
cpuid
rdmsr
wrmsr
sysenter
in al, dx
out 0xe9, al
out dx, eax
hlt
pause
lock cmpxchg [ebx], ecx
lock add dword [ebx], 1
cmpxchg8b [ebx]
xadd eax, ebx
bt eax, ebx
bts dword [ebx], 31
bsr eax, ebx
tzcnt eax, ebx
lzcnt eax, [ebx]
popcnt eax, ebx
andn eax, ebx, ecx
bextr eax, ebx, ecx
shlx eax, ebx, ecx
seto al
cmovbe eax, ebx
arpl ax, bx
bound eax, [ebx]
; -- x87 and SIMD
fld st0
fld dword [ebx]
fstp qword [ebx]
fadd st0, st3
fmulp st1, st0
fldz
fsqrt
movd xmm0, eax
movd eax, xmm1
movq xmm0, [ebx]
movaps xmm0, xmm1
movaps [ebx], xmm2
addps xmm0, [ebx]
pxor mm0, mm1
paddd xmm1, xmm2
cvtsi2sd xmm0, eax
movdqu xmm7, [esi]
movsd xmm0, xmm1
movsd xmm0, [ebx]
vaddps ymm0, ymm1, ymm2
vpxor xmm3, xmm4, [ebx]
vmovdqu ymm0, [eax]
; -- errors NASM reports
mov eax, bx
push [ebx]
inc [ebx]
mov eax, [esp*2]
mov eax, [eax+ebx+ecx]
; -- AVX-512 in 32-bit code
vaddps zmm1{k1}{z}, zmm2, zmm7
vaddps zmm1, zmm2, [eax]{1to16}
vmovdqa32 zmm0, [esp+0x80]
vpandd zmm3{k4}, zmm4, dword [ebx]{1to16}
; -- NASM's hint_nop0..63 (0F 18..1F with a reg field) and XOP (AMD)
hint_nop0 eax
hint_nop9 word [ebx]
hint_nop63 ecx
hint_nop5 dword [eax]
vpcmov xmm1, xmm2, xmm3, xmm4
vprotd xmm1, xmm2, 3
