/*
 * crt0.S - entry point of the freestanding x86lab guest build.
 *
 * The x86lab loader enters _start at CPL0 with interrupts disabled, flat
 * segments and all general-purpose registers zero: in 64-bit long mode for an
 * ELF64 image, in 32-bit protected mode (paging off) for an ELF32 image.
 * Nothing else is set up, so _start:
 *   1. clears the direction flag and loads its own stack pointer (a 64 KiB,
 *      16-byte-aligned stack in .bss, defined at the end of this file),
 *   2. zeroes .bss (__bss_start..__bss_end, 8-byte aligned, from guest.ld)
 *      rather than trusting that RAM starts out zeroed,
 *   3. calls main(),
 *   4. writes main's return value to port 0xF4, which ends the run with that
 *      exit status,
 *   5. as a fallback, if the port write did not end the run, does cli; hlt.
 */

#if defined(__x86_64__)

    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl $__stack_top, %esp         /* image is below 4 GiB: zero-extends */
    xorl %ebp, %ebp

    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    xorl %eax, %eax
1:  cmpq %rcx, %rdi
    jae 2f
    movq %rax, (%rdi)
    addq $8, %rdi
    jmp 1b
2:
    call main
    outb %al, $0xF4
3:  cli
    hlt
    jmp 3b
    .size _start, . - _start

#elif defined(__i386__)

    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl $__stack_top, %esp
    xorl %ebp, %ebp

    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    xorl %eax, %eax
1:  cmpl %ecx, %edi
    jae 2f
    movl %eax, (%edi)
    movl %eax, 4(%edi)
    addl $8, %edi
    jmp 1b
2:
    call main                       /* esp was 16-byte aligned at the call */
    outb %al, $0xF4
3:  cli
    hlt
    jmp 3b
    .size _start, . - _start

#else
#error "crt0.S supports only x86_64 and i386"
#endif

    /* The 64 KiB stack lives in .bss (zeroed above before its first use). */
    .section .bss.stack, "aw", @nobits
    .balign 16
    .globl __stack_bottom, __stack_top
__stack_bottom:
    .skip 65536
__stack_top:

    .section .note.GNU-stack, "", @progbits
