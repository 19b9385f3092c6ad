/*
 * formatting.c - a printf-style formatter implemented in the program itself
 * (flags "-+ #0", field width and precision including '*', length modifiers
 * hh h l ll j z t, conversions d i u x X o c s %), checked against the
 * output the C standard requires for 75 format cases, plus number
 * conversion in every base from 2 to 36, 128-bit decimal conversion
 * (factorials up to 34!, by hand with 32-bit limbs and cross-checked with
 * unsigned __int128 where the compiler has it), exact long division of
 * rationals, human-readable sizes and a hex dump.
 *
 * 64-bit division appears in both its "divide by constant" form (multiply
 * by a magic number) and its "divide by variable" form (div instruction, or
 * libgcc's __udivdi3/__umoddi3 on i386; __udivti3 for __int128).
 */
#include <stdarg.h>

#include "x86lab.h"

/* ---- output sinks -------------------------------------------------------- */

struct sink {
    char *buf;    /* NULL: write to the console */
    size_t cap;   /* capacity of buf including the terminating NUL */
    size_t len;   /* characters produced so far (even if not stored) */
};

static void sink_put(struct sink *s, char c)
{
    if (s->buf == NULL)
        put_char(c);
    else if (s->len + 1 < s->cap)
        s->buf[s->len] = c;
    s->len++;
}

static void sink_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        sink_put(s, c);
}

/* ---- integer to digits --------------------------------------------------- */

static const char lower_digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char upper_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Writes the digits of v backwards into end[-1], end[-2], ...; returns count. */
static int utoa_rev(uint64_t v, unsigned base, int upper, char *end)
{
    const char *dig = upper ? upper_digits : lower_digits;
    int n = 0;
    if (base == 10) {
        /* Constant divisor: compiled to a multiply by a magic number. */
        do {
            *--end = dig[v % 10];
            v /= 10;
            n++;
        } while (v != 0);
    } else if (base == 16) {
        do {
            *--end = dig[v & 15];
            v >>= 4;
            n++;
        } while (v != 0);
    } else {
        /* Variable divisor: a real division. */
        do {
            *--end = dig[v % base];
            v /= base;
            n++;
        } while (v != 0);
    }
    return n;
}

/* ---- the formatter -------------------------------------------------------- */

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T };

static void format_integer(struct sink *s, uint64_t mag, int negative,
                           unsigned base, int upper, int flag_minus,
                           int flag_plus, int flag_space, int flag_hash,
                           int flag_zero, int width, int precision)
{
    char digits[72];
    char *end = digits + sizeof digits;
    int ndig = utoa_rev(mag, base, upper, end);
    if (precision == 0 && mag == 0)
        ndig = 0; /* "%.0d" of 0 prints no digits */
    char *start = end - ndig;

    const char *prefix = "";
    if (negative)
        prefix = "-";
    else if (flag_plus)
        prefix = "+";
    else if (flag_space)
        prefix = " ";
    if (flag_hash && base == 16 && mag != 0)
        prefix = upper ? "0X" : "0x";

    int zeros = precision > ndig ? precision - ndig : 0;
    if (flag_hash && base == 8 && zeros == 0 && (ndig == 0 || *start != '0'))
        zeros = 1; /* '#' with 'o': the first digit must be 0 */

    int prefix_len = 0;
    while (prefix[prefix_len])
        prefix_len++;
    int body = prefix_len + zeros + ndig;
    int pad = width > body ? width - body : 0;

    if (flag_zero && !flag_minus && precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!flag_minus)
        sink_pad(s, ' ', pad);
    for (int i = 0; i < prefix_len; i++)
        sink_put(s, prefix[i]);
    sink_pad(s, '0', zeros);
    for (int i = 0; i < ndig; i++)
        sink_put(s, start[i]);
    if (flag_minus)
        sink_pad(s, ' ', pad);
}

static void format_v(struct sink *s, const char *fmt, va_list ap)
{
    while (*fmt) {
        char c = *fmt++;
        if (c != '%') {
            sink_put(s, c);
            continue;
        }
        int flag_minus = 0, flag_plus = 0, flag_space = 0, flag_hash = 0,
            flag_zero = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                flag_minus = 1;
            else if (*fmt == '+')
                flag_plus = 1;
            else if (*fmt == ' ')
                flag_space = 1;
            else if (*fmt == '#')
                flag_hash = 1;
            else if (*fmt == '0')
                flag_zero = 1;
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            fmt++;
            width = va_arg(ap, int);
            if (width < 0) {
                flag_minus = 1;
                width = -width;
            }
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        int precision = -1;
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                fmt++;
                precision = va_arg(ap, int);
                if (precision < 0)
                    precision = -1;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    precision = precision * 10 + (*fmt++ - '0');
            }
        }
        enum length len = LEN_NONE;
        switch (*fmt) {
        case 'h':
            fmt++;
            len = LEN_H;
            if (*fmt == 'h') {
                fmt++;
                len = LEN_HH;
            }
            break;
        case 'l':
            fmt++;
            len = LEN_L;
            if (*fmt == 'l') {
                fmt++;
                len = LEN_LL;
            }
            break;
        case 'j':
            fmt++;
            len = LEN_J;
            break;
        case 'z':
            fmt++;
            len = LEN_Z;
            break;
        case 't':
            fmt++;
            len = LEN_T;
            break;
        default:
            break;
        }
        char conv = *fmt;
        if (conv == 0)
            return;
        fmt++;
        switch (conv) {
        case 'd':
        case 'i': {
            int64_t v;
            switch (len) {
            case LEN_HH:
                v = (signed char)va_arg(ap, int);
                break;
            case LEN_H:
                v = (short)va_arg(ap, int);
                break;
            case LEN_L:
                v = va_arg(ap, long);
                break;
            case LEN_LL:
                v = va_arg(ap, long long);
                break;
            case LEN_J:
                v = va_arg(ap, intmax_t);
                break;
            case LEN_Z:
            case LEN_T:
                v = va_arg(ap, ptrdiff_t);
                break;
            default:
                v = va_arg(ap, int);
                break;
            }
            uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            format_integer(s, mag, v < 0, 10, 0, flag_minus, flag_plus,
                           flag_space, 0, flag_zero, width, precision);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v;
            switch (len) {
            case LEN_HH:
                v = (unsigned char)va_arg(ap, unsigned);
                break;
            case LEN_H:
                v = (unsigned short)va_arg(ap, unsigned);
                break;
            case LEN_L:
                v = va_arg(ap, unsigned long);
                break;
            case LEN_LL:
                v = va_arg(ap, unsigned long long);
                break;
            case LEN_J:
                v = va_arg(ap, uintmax_t);
                break;
            case LEN_Z:
            case LEN_T:
                v = va_arg(ap, size_t);
                break;
            default:
                v = va_arg(ap, unsigned);
                break;
            }
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            format_integer(s, v, 0, base, conv == 'X', flag_minus, 0, 0,
                           flag_hash, flag_zero, width, precision);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(ap, int);
            if (!flag_minus)
                sink_pad(s, ' ', width - 1);
            sink_put(s, ch);
            if (flag_minus)
                sink_pad(s, ' ', width - 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            int n = 0;
            while (str[n] && (precision < 0 || n < precision))
                n++;
            if (!flag_minus)
                sink_pad(s, ' ', width - n);
            for (int i = 0; i < n; i++)
                sink_put(s, str[i]);
            if (flag_minus)
                sink_pad(s, ' ', width - n);
            break;
        }
        case '%':
            sink_put(s, '%');
            break;
        default:
            /* Unknown conversion: print it verbatim. */
            sink_put(s, '%');
            sink_put(s, conv);
            break;
        }
    }
}

__attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
    struct sink s = {NULL, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    format_v(&s, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static size_t
fmt_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    struct sink s = {buf, cap, 0};
    va_list ap;
    va_start(ap, fmt);
    format_v(&s, fmt, ap);
    va_end(ap);
    if (cap > 0)
        buf[s.len < cap ? s.len : cap - 1] = 0;
    return s.len;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* ---- the standard-conformance table -------------------------------------- */

static unsigned cases_run, cases_bad;

static void case_result(const char *expected, const char *fmt, const char *got)
{
    cases_run++;
    int ok = str_eq(expected, got);
    if (!ok)
        cases_bad++;
    out("%-16s %s%s\n", fmt, got, ok ? "" : "   <-- MISMATCH");
    check(ok, fmt);
}

#define CASE(expected, fmt, ...)                                               \
    do {                                                                       \
        char got_[128];                                                        \
        fmt_snprintf(got_, sizeof got_, fmt, ##__VA_ARGS__);                   \
        case_result(expected, fmt, got_);                                      \
    } while (0)

/* ---- 128-bit numbers by hand: four 32-bit limbs, least significant first -- */

struct u128 {
    uint32_t w[4];
};

static void u128_set(struct u128 *a, uint64_t v)
{
    a->w[0] = (uint32_t)v;
    a->w[1] = (uint32_t)(v >> 32);
    a->w[2] = 0;
    a->w[3] = 0;
}

static int u128_is_zero(const struct u128 *a)
{
    return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

static void u128_mul_small(struct u128 *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t t = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
}

static uint32_t u128_divmod_small(struct u128 *a, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = 3; i >= 0; i--) {
        uint64_t cur = rem << 32 | a->w[i];
        a->w[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    return (uint32_t)rem;
}

static void u128_to_dec(struct u128 v, char *out)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u128_divmod_small(&v, 10));
    } while (!u128_is_zero(&v));
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

#ifdef __SIZEOF_INT128__
static void native128_to_dec(unsigned __int128 v, char *out)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}
#endif

static void factorials_128(void)
{
    out("factorials in 128 bits:\n");
    struct u128 f;
    u128_set(&f, 1);
    int ok_div = 1, ok_native = 1;
#ifdef __SIZEOF_INT128__
    /* Cross-check against the compiler's own 128-bit arithmetic. */
    unsigned __int128 nf = 1;
#endif
    for (uint32_t n = 1; n <= 34; n++) {
        struct u128 prev = f;
        u128_mul_small(&f, n);
        char dec[48];
        u128_to_dec(f, dec);
        if (n >= 18 && (n % 4 == 2 || n >= 32))
            out("  %2u! = %40s  (hi limb %08x)\n", n, dec, f.w[3]);
        /* Dividing back must give the previous factorial, remainder 0. */
        struct u128 back = f;
        uint32_t rem = u128_divmod_small(&back, n);
        for (int i = 0; i < 4; i++)
            if (back.w[i] != prev.w[i])
                ok_div = 0;
        if (rem != 0)
            ok_div = 0;
#ifdef __SIZEOF_INT128__
        nf *= n;
        char ndec[48];
        native128_to_dec(nf, ndec);
        if (!str_eq(dec, ndec) || (uint32_t)(nf >> 96) != f.w[3])
            ok_native = 0;
#endif
    }
    check(ok_div, "n! / n == (n-1)!");
    check(ok_native, "u128 limbs == unsigned __int128");
    /* 2^128 - 1 */
    struct u128 m = {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}};
    char dec[48];
    u128_to_dec(m, dec);
    out("  2^128-1 = %s\n", dec);
    check(str_eq(dec, "340282366920938463463374607431768211455"), "2^128-1");
}

/* ---- bases ---------------------------------------------------------------- */

static void to_base(uint64_t v, unsigned base, char *outbuf)
{
    char tmp[72];
    int n = utoa_rev(v, base, 0, tmp + sizeof tmp);
    for (int i = 0; i < n; i++)
        outbuf[i] = tmp[sizeof tmp - n + i];
    outbuf[n] = 0;
}

static uint64_t from_base(const char *s, unsigned base)
{
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d = *s <= '9' ? (unsigned)(*s - '0') : (unsigned)(*s - 'a' + 10);
        v = v * base + d;
    }
    return v;
}

static void bases(void)
{
    static const uint64_t values[] = {0, 255, 1000000007ull, 1ull << 63,
                                      0xfedcba9876543210ull, UINT64_MAX};
    static const unsigned bases_list[] = {2, 3, 7, 8, 10, 16, 36};
    out("bases:\n");
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (size_t b = 0; b < sizeof bases_list / sizeof bases_list[0]; b++) {
            char buf[72];
            unsigned base = bases_list[b];
            to_base(values[i], base, buf);
            out("  %llx base %2u: %s\n", (unsigned long long)values[i], base, buf);
            check(from_base(buf, base) == values[i], "base round trip");
        }
    }
}

/* ---- division --------------------------------------------------------------- */

static uint64_t div_rng = 88172645463325252ull;

static uint64_t next64(void)
{
    div_rng ^= div_rng << 13;
    div_rng ^= div_rng >> 7;
    div_rng ^= div_rng << 17;
    return div_rng;
}

static void division(void)
{
    uint64_t uq = 0, ur = 0, sq = 0, sr = 0;
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        uint64_t a = next64();
        uint64_t b = next64() >> (next64() % 64);
        if (b == 0)
            b = 3;
        uint64_t q = a / b, r = a % b;
        if (q * b + r != a || r >= b)
            ok = 0;
        uq += q;
        ur ^= r;
        int64_t sa = (int64_t)a;
        int64_t sb = (int64_t)b;
        if (i & 1)
            sb = -sb;
        if (sb == -1 && sa == INT64_MIN)
            sb = 7;
        int64_t q2 = sa / sb, r2 = sa % sb;
        if ((uint64_t)q2 * (uint64_t)sb + (uint64_t)r2 != (uint64_t)sa)
            ok = 0;
        if (r2 != 0 && (r2 < 0) != (sa < 0))
            ok = 0; /* C: remainder has the sign of the dividend */
        sq += (uint64_t)q2;
        sr ^= (uint64_t)r2;
        /* 32-bit division as well. */
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b | 1u;
        if (a32 / b32 * b32 + a32 % b32 != a32)
            ok = 0;
        uq += a32 / b32;
    }
    out("division: 200 pairs, unsigned q-sum %016llx r-xor %016llx\n",
        (unsigned long long)uq, (unsigned long long)ur);
    out("          signed q-sum %016llx r-xor %016llx\n", (unsigned long long)sq,
        (unsigned long long)sr);
    check(ok, "division identities");

    /* Exact long division of rationals. */
    static const uint64_t rat[][2] = {{22, 7},  {355, 113}, {1, 7},
                                      {1, 97},  {10, 3},    {UINT64_MAX, 1000000007ull},
                                      {2, 3}};
    for (size_t i = 0; i < sizeof rat / sizeof rat[0]; i++) {
        uint64_t p = rat[i][0], q = rat[i][1];
        char digits[64];
        uint64_t rem = p % q;
        for (int d = 0; d < 60; d++) {
            /* rem < q < 2^30 for the fractional rows, so rem * 10 fits. */
            rem *= 10;
            digits[d] = (char)('0' + rem / q);
            rem %= q;
        }
        digits[60] = 0;
        out("  %llu/%llu = %llu.%s\n", (unsigned long long)p, (unsigned long long)q,
            (unsigned long long)(p / q), digits);
    }
}

/* ---- human-readable sizes and a hex dump ----------------------------------- */

static void human_size(uint64_t v, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    uint64_t whole = v, frac_num = 0, div = 1;
    while (whole >= 1024 && u < 6) {
        whole >>= 10;
        div <<= 10;
        u++;
    }
    if (u == 0) {
        fmt_snprintf(buf, cap, "%llu %s", (unsigned long long)v, units[0]);
        return;
    }
    /* One decimal, rounded half up: tenths = round(v * 10 / div). */
    frac_num = v - whole * div;
    uint64_t tenths = (frac_num / (div / 1024) * 10 + 512) / 1024;
    if (tenths >= 10) {
        whole++;
        tenths -= 10;
    }
    fmt_snprintf(buf, cap, "%llu.%llu %s", (unsigned long long)whole,
                 (unsigned long long)tenths, units[u]);
}

static void sizes_and_dump(void)
{
    static const uint64_t sz[] = {0, 1023, 1024, 1536, 1000000, 67108864,
                                  1099511627776ull + 1099511627776ull / 3,
                                  UINT64_MAX};
    out("sizes:\n");
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        char b[32];
        human_size(sz[i], b, sizeof b);
        out("  %20llu -> %s\n", (unsigned long long)sz[i], b);
    }
    char small[8];
    size_t n = fmt_snprintf(small, sizeof small, "%s-%d", "truncated", 12345);
    out("snprintf truncation: \"%s\" (would be %zu chars)\n", small, n);
    check(n == 15 && str_eq(small, "truncat"), "snprintf truncation");

    uint8_t data[48];
    const char *text = "x86lab formats numbers without libc!";
    for (int i = 0; i < 48; i++)
        data[i] = (uint8_t)(i < 36 ? text[i] : i * 37);
    out("hexdump:\n");
    for (int off = 0; off < 48; off += 16) {
        out("  %08x:", off);
        for (int i = 0; i < 16; i += 2)
            out(" %02x%02x", data[off + i], data[off + i + 1]);
        out("  ");
        for (int i = 0; i < 16; i++) {
            uint8_t c = data[off + i];
            out("%c", c >= 32 && c < 127 ? c : '.');
        }
        out("\n");
    }
}

int main(void)
{
    out("== formatting ==\n");
    out("format cases (format -> output):\n");
    /* Some cases are deliberately unusual (e.g. '0' flag with precision). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    CASE("[0]", "[%d]", 0);
    CASE("[42]", "[%d]", 42);
    CASE("[-42]", "[%d]", -42);
    CASE("[2147483647]", "[%i]", 2147483647);
    CASE("[-2147483648]", "[%d]", (int)(-2147483647 - 1));
    CASE("[4294967295]", "[%u]", 4294967295u);
    CASE("[   42]", "[%5d]", 42);
    CASE("[42   ]", "[%-5d]", 42);
    CASE("[00042]", "[%05d]", 42);
    CASE("[-0042]", "[%05d]", -42);
    CASE("[+42]", "[%+d]", 42);
    CASE("[-42]", "[%+d]", -42);
    CASE("[ 42]", "[% d]", 42);
    CASE("[   42]", "[% 5d]", 42);
    CASE("[+0007]", "[%+05d]", 7);
    CASE("[+7    ]", "[%-+6d]", 7);
    CASE("[007]", "[%.3d]", 7);
    CASE("[]", "[%.0d]", 0);
    CASE("[     ]", "[%5.0d]", 0);
    CASE("[    -007]", "[%8.3d]", -7);
    CASE("[-007    ]", "[%-8.3d]", -7);
    CASE("[     007]", "[%08.3d]", 7);
    CASE("[   123]", "[%*d]", 6, 123);
    CASE("[123   ]", "[%*d]", -6, 123);
    CASE("[00123]", "[%.*d]", 5, 123);
    CASE("[  -00123]", "[%*.*d]", 8, 5, -123);
    CASE("[ff]", "[%x]", 255u);
    CASE("[FF]", "[%X]", 255u);
    CASE("[0xff]", "[%#x]", 255u);
    CASE("[0XBEEF]", "[%#X]", 48879u);
    CASE("[0]", "[%#x]", 0u);
    CASE("[deadbeef]", "[%08x]", 3735928559u);
    CASE("[0x0000beef]", "[%#010x]", 48879u);
    CASE("[10]", "[%o]", 8u);
    CASE("[010]", "[%#o]", 8u);
    CASE("[0]", "[%#o]", 0u);
    CASE("[010]", "[%#.3o]", 8u);
    CASE("[-56]", "[%hhd]", 200);
    CASE("[44]", "[%hhu]", 300);
    CASE("[-25536]", "[%hd]", 40000);
    CASE("[4464]", "[%hu]", 70000);
    CASE("[5678]", "[%hx]", 0x12345678u);
    CASE("[-9223372036854775808]", "[%lld]", (long long)(-9223372036854775807LL - 1));
    CASE("[9223372036854775807]", "[%lld]", 9223372036854775807LL);
    CASE("[18446744073709551615]", "[%llu]", 18446744073709551615ULL);
    CASE("[ffffffffffffffff]", "[%llx]", 18446744073709551615ULL);
    CASE("[1777777777777777777777]", "[%llo]", 18446744073709551615ULL);
    CASE("[0X123456789ABCDEF]", "[%#llX]", 0x0123456789abcdefULL);
    CASE("[     -9223372036854775808]", "[%25lld]", (long long)(-9223372036854775807LL - 1));
    CASE("[10000000000000000000     ]", "[%-25llu]", 10000000000000000000ULL);
    CASE("[+00000001234567890123]", "[%+.20lld]", 1234567890123LL);
    CASE("[-1]", "[%jd]", (intmax_t)-1);
    CASE("[12345678901234567]", "[%ju]", (uintmax_t)12345678901234567ULL);
    CASE("[4096]", "[%zu]", (size_t)4096);
    CASE("[1000]", "[%zx]", (size_t)4096);
    CASE("[-77]", "[%td]", (ptrdiff_t)-77);
    CASE("[-123456]", "[%ld]", -123456L);
    CASE("[123456]", "[%lu]", 123456UL);
    CASE("[A]", "[%c]", 'A');
    CASE("[    B]", "[%5c]", 'B');
    CASE("[C    ]", "[%-5c]", 'C');
    CASE("[hello]", "[%s]", "hello");
    CASE("[   hello]", "[%8s]", "hello");
    CASE("[hello   ]", "[%-8s]", "hello");
    CASE("[hel]", "[%.3s]", "hello");
    CASE("[     hel]", "[%8.3s]", "hello");
    CASE("[hel     ]|", "[%-8.3s]|", "hello");
    CASE("[]", "[%s]", "");
    CASE("[he]", "[%.*s]", 2, "hello");
    CASE("[%]", "[%%]");
    CASE("[100%]", "[100%%]");
    CASE("[-1 1 1a z end]", "[%d %u %x %c %s]", -1, 1u, 26u, 'z', "end");
    CASE("[  5|5  |005]", "[%3d|%-3d|%03d]", 5, 5, 5);
    CASE("[4611686018427387904 -4611686018427387904]", "[%lld %lld]", 4611686018427387904LL, -4611686018427387904LL);
    CASE("[0 0 0]", "[%x %X %o]", 0u, 0u, 0u);
#pragma GCC diagnostic pop
    out("format cases: %u run, %u mismatched\n", cases_run, cases_bad);
    bases();
    factorials_128();
    division();
    sizes_and_dump();
    return finish("formatting");
}
