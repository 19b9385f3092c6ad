; Corpus of 64-bit code (see bits16.asm).
mov rax, rbx
mov eax, ebx
mov r8, r9
mov r8d, eax
mov r15w, ax
mov r10b, al
mov sil, dil
mov spl, 1
mov rax, 1
mov rax, -1
mov rax, 0x80000000
mov rax, 0x100000000
mov rax, 0x123456789abcdef0
mov r11, 5
mov strict qword rax, 5
mov eax, 5
mov al, 5
mov qword [rax], 5
mov qword [rax], -5
mov dword [rax], 5
mov [rax], rbx
mov rbx, [rax]
mov rax, [0x1000]
mov eax, [0x1000]
mov al, [0x1000]
mov rax, [rel $+0x100]
mov eax, [rel $]
lea rax, [rel $+7]
mov ax, [rax]
mov ds, ax
mov rax, cr3
mov cr3, rax
mov cr8, rax
; -- 64-bit addressing
mov rax, [rsp]
mov rax, [rsp+8]
mov rax, [rbp]
mov rax, [r12]
mov rax, [r13]
mov rax, [r12+8]
mov rax, [r13+r14*8]
mov rax, [rax+rbx*4+0x10]
mov rax, [rbx*2]
mov rax, [rbx*8]
mov rax, [r8+r9]
mov rax, [r9+r8]
mov rax, [rax+rsp]
mov rax, [eax]
mov rax, [eax+ebx*2]
mov rax, [fs:0x28]
mov rax, [gs:rax]
mov rax, [rbx-0x80]
mov rax, [rbx+0x80]
mov rax, [rbx+0x7fffffff]
; -- arithmetic
add rax, rbx
add rax, 1
add rax, 0x1000
add rax, -1
add r9, 100
add eax, 1
add ax, 1
add ax, 1000
add al, 1
add qword [rax], 1
add dword [rax], 1
add [rax], r10
add r10, [rax]
sub rsp, 8
sub rsp, 0x1000
cmp rax, -2
cmp rax, 0x7fffffff
and rax, -16
and eax, 0xfffffff0
or r8, 1
xor eax, eax
xor r8d, r8d
test rax, rax
test rax, 1
test eax, 0x80000000
test r8b, r8b
inc rax
inc eax
inc r8
dec ecx
inc qword [rax]
neg r9
not rax
mul rcx
imul rax, rbx
imul rax, [rbx], 8
imul r8, r9, 1000
imul rax, 10
div qword [rbx]
idiv r15
shl rax, 1
shl rax, 63
shl rax, cl
sar r8, 3
ror qword [rax], 1
shld rax, rbx, 2
adc rax, 0
sbb r8, r9
; -- stack
push rax
push r8
push r15
push 1
push 0x1000
push -1
push qword [rax]
push word 1
push fs
push gs
pop rax
pop r12
pop qword [rax]
pop fs
pushf
popf
pushfq
enter 0x20, 0
leave
; -- exchange, conversion
xchg rax, rbx
xchg rbx, rax
xchg r8, rax
xchg eax, ecx
xchg eax, eax
xchg rcx, rdx
xchg [rax], rbx
cdqe
cqo
cwde
cdq
movzx eax, byte [rax]
movzx rax, word [rax]
movsx rax, byte [rax]
movsx rax, bx
movsxd rax, ecx
movsxd rax, dword [rbx]
lea rax, [rbx+rcx*2+1]
lea eax, [rbx+rcx]
lea rax, [rax*4]
bswap rax
bswap r9d
; -- strings
movsq
movsd
stosq
rep movsq
rep stosb
repne scasb
lodsq
a32 lodsb
; -- control
jmp $+2
jmp $+0x1000
jz $+0x10
jz $+0x1000
jrcxz $+4
jecxz $+4
loop $-5
call $+5
call $+0x12345
call rax
call r11
call [rax]
call qword [rax]
jmp rax
jmp [rax+8]
jmp qword [rel $+0x40]
jmp far [rax]
call far [rax]
ret
ret 16
retf
iretq
iret
int 0x80
int3
syscall
sysret
; -- system
lgdt [rax]
lidt [rel $+0x20]
sgdt [rax]
swapgs
rdfsbase rax
wrgsbase rbx
invlpg [rax]
mov rax, dr6
in al, dx
out 0xf4, al
out dx, al
hlt
lock cmpxchg [rax], rcx
lock inc qword [rax]
cmpxchg16b [rax]
xadd [rax], rbx
bt rax, 63
bts qword [rax], 1
btr rax, rbx
bsf rax, [rbx]
tzcnt rax, rbx
popcnt r8, r9
andn rax, rbx, rcx
blsr r8, r9
sarx rax, rbx, rcx
pdep rax, rbx, rcx
rorx eax, ebx, 3
setnz r9b
setg byte [rax]
cmovnz rax, rbx
cmovl r8d, [rax]
crc32 eax, byte [rax]
; -- SIMD
movq xmm0, rax
movq rax, xmm0
movd xmm1, eax
movdqa xmm8, xmm9
movups xmm15, [rax]
addsd xmm0, [rax+8]
pshufd xmm0, xmm1, 0x1b
vaddpd ymm8, ymm9, ymm10
vmovaps ymm0, [rax]
vpbroadcastd ymm0, xmm1
vfmadd231ps xmm0, xmm1, xmm2
; -- errors NASM reports
mov ax, [bx]
push eax
mov rax, [rax+eax]
pusha
inc [rax]
; -- AVX-512 (EVEX): opmasks, zeroing, broadcast, rounding, compressed displacements
vaddps zmm1{k1}{z}, zmm2, zmm3
vaddps zmm1, zmm2, [rax]{1to16}
vaddps zmm1, zmm2, zmm3, {rn-sae}
vaddps zmm1{k7}, zmm2, zmm3, {rz-sae}
vaddpd zmm0, zmm1, qword [rbx+8]{1to8}
vmovdqu64 zmm0, [rax+0x40]
vmovaps zmm0, [rax+0x1000]
vmovaps zmm0, [rax+0x1001]
vmovaps zmm30, [r15-0x80]
vpxorq zmm16, zmm17, zmm31
vaddps xmm1, xmm2, xmm3
vaddps xmm16, xmm1, xmm2
vcmpps k1{k2}, zmm1, zmm2, 5
vcmpltps k1, zmm2, zmm3
vpcmpub k1, zmm0, zmm1, 3
vpcmpeqb k1, zmm0, zmm1
vgatherdps zmm0{k1}, [rax+zmm1*4]
vpscatterdd [r8+zmm2*4]{k3}, zmm5
kmovw k1, eax
kandw k1, k2, k3
vpternlogd zmm0, zmm1, zmm2, 0xff
vcvtsi2sd xmm1, xmm2, rax
vcvtsd2si rax, xmm1, {rd-sae}
vucomiss xmm1, xmm2, {sae}
vbroadcastss zmm0, xmm1
vpermt2d zmm1, zmm2, [rsi+0x100]
