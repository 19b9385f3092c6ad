/*
 * x86lab.h - tiny shared output layer for the x86lab C test programs.
 *
 * Every program in this directory prints its report only through put_char()
 * (directly or through the helpers below), so the same source produces
 * byte-identical output in two builds:
 *
 *   guest build  (-DX86LAB_GUEST, freestanding, linked with crt0.S,
 *                 runtime.c and guest.ld): put_char writes the byte to the
 *                 debug console with `out 0xE9, al`.  main's return value is
 *                 written to port 0xF4 by crt0.S, which ends the run.
 *   native build (ordinary hosted gcc): put_char calls putchar().
 *
 * Rules for programs: no libc calls (only the __builtin_* functions and
 * these helpers), no printed pointers, no uninitialised data, no undefined
 * behaviour.  main returns 0 when all of the program's self-checks pass.
 */
#ifndef X86LAB_H
#define X86LAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef X86LAB_GUEST
static inline void put_char(char c)
{
    __asm__ volatile("outb %0, $0xE9" : : "a"(c) : "memory");
}
#else
int putchar(int c);
static inline void put_char(char c)
{
    putchar((unsigned char)c);
}
#endif

int main(void);

static inline void put_str(const char *s)
{
    while (*s)
        put_char(*s++);
}

static inline void put_nl(void)
{
    put_char('\n');
}

static inline void put_spaces(int n)
{
    while (n-- > 0)
        put_char(' ');
}

/* Unsigned decimal (64-bit: on i386 this uses libgcc's __udivdi3/__umoddi3). */
static inline void put_udec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        put_char(buf[--n]);
}

/* Signed decimal, correct for INT64_MIN. */
static inline void put_dec(int64_t v)
{
    if (v < 0) {
        put_char('-');
        put_udec(0 - (uint64_t)v);
    } else {
        put_udec((uint64_t)v);
    }
}

/* Lower-case hex with exactly `digits` digits (1..16). */
static inline void put_hex(uint64_t v, int digits)
{
    static const char hexdig[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        put_char(hexdig[(v >> (4 * i)) & 0xf]);
}

static inline void put_hex8(uint8_t v) { put_hex(v, 2); }
static inline void put_hex16(uint16_t v) { put_hex(v, 4); }
static inline void put_hex32(uint32_t v) { put_hex(v, 8); }
static inline void put_hex64(uint64_t v) { put_hex(v, 16); }

/* "label: value\n" helpers, used for the many one-line results. */
static inline void put_label(const char *label)
{
    put_str(label);
    put_str(": ");
}

static inline void put_line_u(const char *label, uint64_t v)
{
    put_label(label);
    put_udec(v);
    put_nl();
}

static inline void put_line_d(const char *label, int64_t v)
{
    put_label(label);
    put_dec(v);
    put_nl();
}

static inline void put_line_x32(const char *label, uint32_t v)
{
    put_label(label);
    put_hex32(v);
    put_nl();
}

static inline void put_line_x64(const char *label, uint64_t v)
{
    put_label(label);
    put_hex64(v);
    put_nl();
}

/*
 * Self-check bookkeeping: check() prints a line only on failure (so the
 * report stays the same length either way) and counts; finish() prints a
 * summary and returns main's exit status.
 */
static unsigned x86lab_checks_run;
static unsigned x86lab_checks_failed;

static inline void check(int ok, const char *what)
{
    x86lab_checks_run++;
    if (!ok) {
        x86lab_checks_failed++;
        put_str("SELF-CHECK FAILED: ");
        put_str(what);
        put_nl();
    }
}

static inline int finish(const char *program)
{
    put_str(program);
    put_str(": ");
    put_udec(x86lab_checks_run);
    put_str(" self-checks, ");
    if (x86lab_checks_failed == 0) {
        put_str("all ok\n");
        return 0;
    }
    put_udec(x86lab_checks_failed);
    put_str(" FAILED\n");
    return 1;
}

#endif /* X86LAB_H */
