/*
 * bittricks.c - bit manipulation and integer edge cases: popcount, clz/ctz,
 * ffs, clrsb, parity and bswap through __builtin_* (checked against portable
 * versions), bit reversal, rotations of 8/16/32/64-bit values, Gray code,
 * Gosper's next-permutation-of-bits, arithmetic right shifts of negative
 * values, __builtin_{add,sub,mul}_overflow at several widths, wrapping
 * 8/16/32/64-bit arithmetic, signed division and modulo of negative values,
 * division by constants versus by variables, sign/zero extension, bit
 * fields, Morton codes, multi-word (256-bit) carries and 64x64->128 multiply.
 *
 * Everything here is defined behaviour in GNU C (right shift of a negative
 * value is arithmetic in gcc; conversions to narrower signed types wrap).
 */
#include "x86lab.h"

static uint64_t rng = 0x0123456789ABCDEFull;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A running digest of everything computed, printed per section. */
static uint64_t digest;

static void mix(uint64_t v)
{
    digest = (digest ^ v) * 0x100000001b3ull;
    digest ^= digest >> 29;
}

static void section(const char *name)
{
    put_str("-- ");
    put_str(name);
    put_nl();
}

static void section_digest(void)
{
    put_str("   digest ");
    put_hex64(digest);
    put_nl();
}

/* Prevent constant folding: forces real instructions for the operations. */
static uint64_t opaque64(uint64_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

static uint32_t opaque32(uint32_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* ---- portable reference versions ------------------------------------------ */

static int pop_ref(uint64_t v)
{
    int n = 0;
    while (v) {
        v &= v - 1;
        n++;
    }
    return n;
}

static int pop_swar(uint64_t v)
{
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int)((v * 0x0101010101010101ull) >> 56);
}

static int clz_ref(uint64_t v)
{
    int n = 0;
    for (uint64_t m = 1ull << 63; m && !(v & m); m >>= 1)
        n++;
    return n;
}

static int ctz_ref(uint64_t v)
{
    int n = 0;
    while (n < 64 && !(v >> n & 1))
        n++;
    return n;
}

static uint64_t bswap64_ref(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r = r << 8 | (v >> (8 * i) & 0xff);
    return r;
}

static uint64_t rev64_ref(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++)
        r |= (v >> i & 1) << (63 - i);
    return r;
}

static uint64_t rev64_swar(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

static uint8_t rev8(uint8_t b)
{
    return (uint8_t)(((b * 0x0802u & 0x22110u) | (b * 0x8020u & 0x88440u)) * 0x10101u >> 16);
}

/* Rotations written the way gcc turns into rol/ror. */
static uint8_t rotl8(uint8_t v, unsigned r)
{
    r &= 7;
    return (uint8_t)((v << r) | (v >> ((8 - r) & 7)));
}

static uint16_t rotr16(uint16_t v, unsigned r)
{
    r &= 15;
    return (uint16_t)((v >> r) | (v << ((16 - r) & 15)));
}

static uint32_t rotl32(uint32_t v, unsigned r)
{
    return (v << (r & 31)) | (v >> (-r & 31));
}

static uint64_t rotr64(uint64_t v, unsigned r)
{
    return (v >> (r & 63)) | (v << (-r & 63));
}

/* ---- sections -------------------------------------------------------------- */

static void counting_bits(void)
{
    section("popcount / clz / ctz / ffs / clrsb / parity");
    static const uint64_t vals[] = {1, 2, 3, 0x80, 0xff, 0x100, 0x8000000000000000ull,
                                    0x7fffffffffffffffull, 0xffffffffffffffffull,
                                    0x00f0000000000f00ull, 0x5555555555555555ull};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t v = opaque64(vals[i]);
        uint32_t lo = (uint32_t)v;
        put_str("   ");
        put_hex64(v);
        put_str(" pop=");
        put_udec((unsigned)__builtin_popcountll(v));
        put_str(" clz=");
        put_udec((unsigned)__builtin_clzll(v));
        put_str(" ctz=");
        put_udec((unsigned)__builtin_ctzll(v));
        put_str(" ffs32=");
        put_udec((unsigned)__builtin_ffs((int)lo));
        put_str(" clrsb=");
        put_udec((unsigned)__builtin_clrsbll((long long)v));
        put_str(" par=");
        put_udec((unsigned)__builtin_parityll(v));
        put_nl();
    }
    int ok = 1;
    uint64_t sum = 0;
    for (int i = 0; i < 300; i++) {
        uint64_t v = rnd() >> (i % 64);
        if (v == 0)
            v = 1;
        uint32_t w = opaque32((uint32_t)v | 1u << (i % 32));
        int p = __builtin_popcountll(v);
        if (p != pop_ref(v) || p != pop_swar(v))
            ok = 0;
        if (__builtin_clzll(v) != clz_ref(v) || __builtin_ctzll(v) != ctz_ref(v))
            ok = 0;
        if (__builtin_clz(w) != clz_ref(w) - 32 || __builtin_ctz(w) != ctz_ref(w))
            ok = 0;
        if (__builtin_parityll(v) != (p & 1))
            ok = 0;
        if (__builtin_popcount(w) != pop_ref(w))
            ok = 0;
        sum += (uint64_t)p * 1000003u + (uint64_t)__builtin_clzll(v) * 101u +
               (uint64_t)__builtin_ctz(w);
        mix(v);
    }
    put_str("   300 random values: weighted sum ");
    put_udec(sum);
    put_nl();
    check(ok, "builtin bit counts match reference");
    mix(sum);
    section_digest();
}

static void byte_and_bit_order(void)
{
    section("bswap / bit reversal / rotations");
    uint64_t v = opaque64(0x0123456789abcdefull);
    put_str("   bswap64 ");
    put_hex64(__builtin_bswap64(v));
    put_str(" bswap32 ");
    put_hex32(__builtin_bswap32((uint32_t)v));
    put_str(" bswap16 ");
    put_hex16(__builtin_bswap16((uint16_t)v));
    put_nl();
    put_str("   rev64 ");
    put_hex64(rev64_swar(v));
    put_str(" rev8(0x01)=");
    put_hex8(rev8(1));
    put_str(" rev8(0xb4)=");
    put_hex8(rev8(0xb4));
    put_nl();
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        uint64_t x = rnd();
        if (__builtin_bswap64(x) != bswap64_ref(x) || rev64_swar(x) != rev64_ref(x))
            ok = 0;
        if (rev8((uint8_t)x) != (uint8_t)(rev64_ref(x & 0xff) >> 56))
            ok = 0;
        unsigned r = (unsigned)(x >> 58);
        if (rotr64(rotr64(x, r), 64 - r) != x || rotl32(rotl32((uint32_t)x, r), 32 - r) != (uint32_t)x)
            ok = 0;
        mix(rotr64(x, r) ^ rotl32((uint32_t)x, r));
    }
    check(ok, "bswap/reverse/rotate identities");
    put_str("   rotl8(0x81,n) n=0..8:");
    for (unsigned n = 0; n <= 8; n++) {
        put_char(' ');
        put_hex8(rotl8(opaque32(0x81) & 0xff, n));
    }
    put_nl();
    put_str("   rotr16(0x1234,n) n=0,4,8,12,16,20:");
    for (unsigned n = 0; n <= 20; n += 4) {
        put_char(' ');
        put_hex16(rotr16((uint16_t)opaque32(0x1234), n));
    }
    put_nl();
    put_str("   rotl32(0x80000001,1)=");
    put_hex32(rotl32(opaque32(0x80000001u), 1));
    put_str(" rotr64(1,1)=");
    put_hex64(rotr64(opaque64(1), 1));
    put_nl();
    section_digest();
}

static void gray_and_permutations(void)
{
    section("gray code / next bit permutation");
    put_str("   gray 0..15:");
    for (uint32_t i = 0; i < 16; i++) {
        put_char(' ');
        put_hex(i ^ (i >> 1), 1);
    }
    put_nl();
    int ok = 1;
    for (uint32_t i = 0; i < 4096; i += 7) {
        uint32_t g = i ^ (i >> 1);
        uint32_t b = g;
        for (uint32_t s = 1; s < 32; s <<= 1)
            b ^= b >> s;
        if (b != i)
            ok = 0;
        uint32_t g_next = (i + 1) ^ ((i + 1) >> 1);
        if (__builtin_popcount(g ^ g_next) != 1)
            ok = 0;
    }
    check(ok, "gray code round trip and adjacency");

    /* Gosper's hack: all 16-bit words with exactly 4 bits set, in order. */
    uint32_t v = 0xf, count = 0, xsum = 0;
    put_str("   4-of-16 first:");
    while (v < 0x10000) {
        if (count < 6) {
            put_char(' ');
            put_hex16((uint16_t)v);
        }
        count++;
        xsum = xsum * 31 + v;
        uint32_t t = v | (v - 1);
        v = (t + 1) | (((~t & -~t) - 1) >> (__builtin_ctz(v) + 1));
    }
    put_str("\n   count ");
    put_udec(count);
    put_str(" hash ");
    put_hex32(xsum);
    put_nl();
    check(count == 1820, "C(16,4) == 1820");
    mix(xsum);
    section_digest();
}

static void shifts_and_extension(void)
{
    section("signed shifts / sign and zero extension");
    int8_t a8 = (int8_t)opaque32(0x80);     /* -128 */
    int16_t a16 = (int16_t)opaque32(0x8001); /* -32767 */
    int32_t a32 = (int32_t)opaque32(0xfffffff0u);
    int64_t a64 = (int64_t)opaque64(0x8000000000000000ull);
    put_str("   -128>>1=");
    put_dec(a8 >> 1);
    put_str(" -128>>7=");
    put_dec(a8 >> 7);
    put_str(" -32767>>4=");
    put_dec(a16 >> 4);
    put_str(" -16>>2=");
    put_dec(a32 >> 2);
    put_str(" -16>>31=");
    put_dec(a32 >> 31);
    put_str(" INT64_MIN>>63=");
    put_dec(a64 >> 63);
    put_str(" INT64_MIN>>1=");
    put_dec(a64 >> 1);
    put_nl();
    /* Unsigned shifts of the same bit patterns. */
    put_str("   logical: ");
    put_hex8((uint8_t)((uint8_t)a8 >> 1));
    put_char(' ');
    put_hex16((uint16_t)((uint16_t)a16 >> 4));
    put_char(' ');
    put_hex32((uint32_t)a32 >> 2);
    put_char(' ');
    put_hex64((uint64_t)a64 >> 1);
    put_nl();
    /* Variable shift counts (cl). */
    uint64_t acc = 0;
    for (unsigned s = 0; s < 64; s++) {
        uint64_t x = opaque64(0xfedcba9876543210ull);
        int64_t sx = (int64_t)x;
        acc += (x << s) ^ (x >> s) ^ (uint64_t)(sx >> s);
        uint32_t y = opaque32(0x87654321u);
        acc += (uint64_t)((y << (s & 31)) ^ (y >> (s & 31)) ^ (uint32_t)((int32_t)y >> (s & 31)));
    }
    put_str("   variable shifts sum ");
    put_hex64(acc);
    put_nl();
    mix(acc);
    /* Sign and zero extension through every width. */
    uint8_t b = (uint8_t)opaque32(0xfe);
    int64_t sext = (int8_t)b;
    uint64_t zext = b;
    int16_t h = (int16_t)opaque32(0xff80);
    int32_t wsx = (int32_t)opaque32(0x80000000u);
    put_str("   (int8)0xfe=");
    put_dec(sext);
    put_str(" zext=");
    put_udec(zext);
    put_str(" (int16)0xff80=");
    put_dec(h);
    put_str(" (int64)(int32)0x80000000=");
    put_dec((int64_t)wsx);
    put_str(" (uint64)(uint32)=");
    put_udec((uint64_t)(uint32_t)wsx);
    put_nl();
    check(sext == -2 && zext == 254 && h == -128 && wsx == INT32_MIN, "extensions");
    check((a8 >> 7) == -1 && (a64 >> 63) == -1, "arithmetic shifts");
    mix((uint64_t)sext ^ zext ^ (uint64_t)(int64_t)h);
    section_digest();
}

static void put_flagged(const char *what, int64_t v, int of)
{
    put_str("   ");
    put_str(what);
    put_str(" = ");
    put_dec(v);
    put_str(of ? " (overflow)\n" : "\n");
    mix((uint64_t)v + (uint64_t)of);
}

static void put_flagged_u(const char *what, uint64_t v, int of)
{
    put_str("   ");
    put_str(what);
    put_str(" = ");
    put_udec(v);
    put_str(of ? " (overflow)\n" : "\n");
    mix(v + (uint64_t)of);
}

static void overflow_builtins(void)
{
    section("overflow builtins");
    int8_t r8;
    int16_t r16;
    int32_t r32;
    int64_t r64;
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    int of;
    of = __builtin_add_overflow((int8_t)opaque32(100), (int8_t)opaque32(27), &r8);
    put_flagged("int8 100+27", r8, of);
    of = __builtin_add_overflow((int8_t)opaque32(100), (int8_t)opaque32(28), &r8);
    put_flagged("int8 100+28", r8, of);
    of = __builtin_sub_overflow((int8_t)opaque32(0x80), (int8_t)opaque32(1), &r8);
    put_flagged("int8 -128-1", r8, of);
    of = __builtin_mul_overflow((int16_t)opaque32(181), (int16_t)opaque32(181), &r16);
    put_flagged("int16 181*181", r16, of);
    of = __builtin_mul_overflow((int16_t)opaque32(182), (int16_t)opaque32(181), &r16);
    put_flagged("int16 182*181", r16, of);
    of = __builtin_add_overflow((int32_t)opaque32(INT32_MAX), 1, &r32);
    put_flagged("int32 MAX+1", r32, of);
    of = __builtin_mul_overflow((int32_t)opaque32(-65536), 32768, &r32);
    put_flagged("int32 -65536*32768", r32, of);
    of = __builtin_mul_overflow((int32_t)opaque32(65536), 32768, &r32);
    put_flagged("int32 65536*32768", r32, of);
    of = __builtin_add_overflow((int64_t)opaque64((uint64_t)INT64_MAX), (int64_t)1, &r64);
    put_flagged("int64 MAX+1", r64, of);
    of = __builtin_sub_overflow((int64_t)opaque64((uint64_t)INT64_MIN), (int64_t)1, &r64);
    put_flagged("int64 MIN-1", r64, of);
    of = __builtin_mul_overflow((int64_t)opaque64(3037000499ull), (int64_t)3037000499ll, &r64);
    put_flagged("int64 3037000499^2", r64, of);
    of = __builtin_mul_overflow((int64_t)opaque64(3037000500ull), (int64_t)3037000500ll, &r64);
    put_flagged("int64 3037000500^2", r64, of);
    of = __builtin_mul_overflow((int64_t)opaque64((uint64_t)INT64_MIN), (int64_t)-1, &r64);
    put_flagged("int64 MIN*-1", r64, of);
    of = __builtin_add_overflow((uint8_t)opaque32(200), (uint8_t)opaque32(56), &u8);
    put_flagged_u("uint8 200+56", u8, of);
    of = __builtin_sub_overflow((uint32_t)opaque32(0), 1u, &u32);
    put_flagged_u("uint32 0-1", u32, of);
    of = __builtin_mul_overflow(opaque64(0x100000000ull), opaque64(0xffffffffull), &u64);
    put_flagged_u("uint64 2^32*(2^32-1)", u64, of);
    of = __builtin_mul_overflow(opaque64(0x100000000ull), opaque64(0x100000000ull), &u64);
    put_flagged_u("uint64 2^32*2^32", u64, of);
    /* Mixed signedness: result type decides. */
    of = __builtin_add_overflow((int32_t)opaque32((uint32_t)-5), (uint32_t)opaque32(3), &r32);
    put_flagged("int32 -5+3u", r32, of);
    of = __builtin_sub_overflow((uint64_t)opaque64(3), (int64_t)5, &u64);
    put_flagged_u("uint64 3-5", u64, of);
    /* Cross-check random 32-bit products against 64-bit arithmetic. */
    int ok = 1;
    for (int i = 0; i < 300; i++) {
        int32_t x = (int32_t)(uint32_t)rnd() >> (i % 31);
        int32_t y = (int32_t)(uint32_t)rnd() >> (i % 29);
        int64_t wide = (int64_t)x * y;
        int o = __builtin_mul_overflow(x, y, &r32);
        if (o != (wide < INT32_MIN || wide > INT32_MAX) || r32 != (int32_t)(uint32_t)(uint64_t)wide)
            ok = 0;
        int64_t s = (int64_t)x + y;
        o = __builtin_add_overflow(x, y, &r32);
        if (o != (s < INT32_MIN || s > INT32_MAX) || r32 != (int32_t)(uint32_t)(uint64_t)s)
            ok = 0;
    }
    check(ok, "mul/add overflow agree with widening");
    section_digest();
}

static void wrapping_arithmetic(void)
{
    section("wrapping 8/16/32/64-bit arithmetic");
    uint8_t a = (uint8_t)opaque32(200), b = (uint8_t)opaque32(100);
    uint16_t c = (uint16_t)opaque32(65535), d = (uint16_t)opaque32(65535);
    uint32_t e = opaque32(0xffffffffu);
    uint64_t f = opaque64(0xffffffffffffffffull);
    put_str("   u8: 200+100=");
    put_udec((uint8_t)(a + b));
    put_str(" 100-200=");
    put_udec((uint8_t)(b - a));
    put_str(" 200*100=");
    put_udec((uint8_t)(a * b));
    put_str(" ~200=");
    put_udec((uint8_t)~a);
    put_str(" -200=");
    put_udec((uint8_t)-a);
    put_nl();
    put_str("   u16: 65535*65535=");
    put_udec((uint16_t)((uint32_t)c * d));
    put_str(" 65535+1=");
    put_udec((uint16_t)(c + 1));
    put_str("  u32: max+1=");
    put_udec(e + 1);
    put_str(" max*max=");
    put_udec(e * e);
    put_str("  u64: max+1=");
    put_udec(f + 1);
    put_str(" max*max=");
    put_udec(f * f);
    put_nl();
    /* Narrowing to signed types wraps (implementation-defined, gcc: modulo). */
    put_str("   (int8)200=");
    put_dec((int8_t)a);
    put_str(" (int16)65535=");
    put_dec((int16_t)c);
    put_str(" (int32)0xffffffff=");
    put_dec((int32_t)e);
    put_str(" (int8)(int32)-129=");
    put_dec((int8_t)(int32_t)opaque32((uint32_t)-129));
    put_nl();
    /* Mixed-width loops: 8- and 16-bit accumulators. */
    uint8_t s8 = 0;
    uint16_t s16 = 0;
    int16_t m16 = 1;
    for (int i = 0; i < 1000; i++) {
        s8 = (uint8_t)(s8 * 3 + (uint8_t)i);
        s16 = (uint16_t)(s16 * 7 + (uint16_t)(i ^ 0x5a5a));
        m16 = (int16_t)(m16 * 3 + (int16_t)(i & 7) - 4);
    }
    put_str("   loops: s8=");
    put_udec(s8);
    put_str(" s16=");
    put_udec(s16);
    put_str(" m16=");
    put_dec(m16);
    put_nl();
    mix(s8 ^ ((uint64_t)s16 << 8) ^ ((uint64_t)(uint16_t)m16 << 24));
    /* abs/min/max without branches (gcc may use cmov / sbb / setcc). */
    int64_t acc = 0;
    for (int i = 0; i < 100; i++) {
        int32_t x = (int32_t)(uint32_t)rnd();
        int32_t y = (int32_t)(uint32_t)rnd();
        int32_t mn = x < y ? x : y;
        int32_t mx = x < y ? y : x;
        int64_t ab = x < 0 ? -(int64_t)x : x;
        acc += mn - (int64_t)mx + ab + (x == y) + (x > 0);
    }
    put_line_d("   min/max/abs sum", acc);
    mix((uint64_t)acc);
    section_digest();
}

static void signed_division(void)
{
    section("signed division and modulo");
    static const int32_t as[] = {7, -7, 13, -13, 0, 1, -1, INT32_MAX, INT32_MIN};
    static const int32_t bs[] = {2, -2, 3, -3, 5};
    for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) {
        put_str("   ");
        put_dec(as[i]);
        put_str(":");
        for (size_t j = 0; j < sizeof bs / sizeof bs[0]; j++) {
            int32_t a = (int32_t)opaque32((uint32_t)as[i]);
            int32_t b = (int32_t)opaque32((uint32_t)bs[j]);
            int32_t q = a / b, r = a % b;
            put_str(" /");
            put_dec(b);
            put_char('=');
            put_dec(q);
            put_char(',');
            put_dec(r);
            check(q * b + r == a, "q*b+r == a");
            mix((uint64_t)(uint32_t)q << 32 | (uint32_t)r);
        }
        put_nl();
    }
    /* Floor division and Euclidean modulo built on C's truncation. */
    put_str("   floor/euclid:");
    for (int a = -7; a <= 7; a += 7) {
        for (int b = -3; b <= 3; b += 6) {
            int q = a / b, r = a % b;
            if (r != 0 && ((r < 0) != (b < 0))) {
                q--;
                r += b;
            }
            int e = a % b;
            if (e < 0)
                e += b < 0 ? -b : b;
            put_str(" (");
            put_dec(a);
            put_char(',');
            put_dec(b);
            put_str(")->");
            put_dec(q);
            put_char(',');
            put_dec(r);
            put_char(',');
            put_dec(e);
        }
    }
    put_nl();
    /* 64-bit signed division, including by powers of two (shift with bias). */
    int64_t acc = 0;
    for (int i = 0; i < 200; i++) {
        int64_t x = (int64_t)rnd();
        int64_t y = (int64_t)(rnd() >> (i % 60)) * ((i & 1) ? -1 : 1);
        if (y == 0)
            y = 11;
        acc += x / y + x % y + x / 8 + x % 8 + x / -16 + x / 1000 + x % 1000;
        int32_t w = (int32_t)x;
        acc += w / 4 + w % 4 + w / 10 + w % 10 + w / -7;
    }
    put_line_d("   64-bit mixed division sum", acc);
    mix((uint64_t)acc);
    /* Unsigned division by constants (magic multiplies) vs by variables (div). */
    uint32_t ok = 1;
    uint64_t usum = 0;
    for (int i = 0; i < 300; i++) {
        uint64_t x = rnd();
        uint32_t x32 = (uint32_t)x;
        uint64_t v3 = opaque64(3), v7 = opaque64(7), v10 = opaque64(10), v1e9 = opaque64(1000000000);
        if (x / 3 != x / v3 || x / 7 != x / v7 || x % 10 != x % v10 || x / 1000000000 != x / v1e9)
            ok = 0;
        if (x32 / 3 != x32 / (uint32_t)v3 || x32 % 7 != x32 % (uint32_t)v7 ||
            x32 / 641 != x32 / opaque32(641))
            ok = 0;
        usum += x / 7 + x32 / 3 + x % 10;
    }
    put_line_x64("   constant-division sum", usum);
    check(ok, "division by constant == division by variable");
    mix(usum);
    section_digest();
}

struct packed_fields {
    unsigned kind : 3;
    signed delta : 5;
    unsigned present : 1;
    unsigned long long big : 40;
    signed small : 4;
};

static void bitfields_and_misc(void)
{
    section("bit fields / morton / isqrt / log / pow2");
    struct packed_fields pf = {0};
    uint64_t acc = 0;
    for (int i = 0; i < 40; i++) {
        pf.kind = (unsigned)i & 7;
        pf.delta = (signed)((i % 32) - 16);
        pf.present = (unsigned)i & 1;
        pf.big = (uint64_t)i * 0x123456789ull;
        pf.small = (signed)(i % 16) - 8;
        acc = acc * 33 + (uint64_t)pf.kind + (uint64_t)(int64_t)pf.delta +
              pf.present + pf.big + (uint64_t)(int64_t)pf.small;
    }
    put_str("   last fields: kind=");
    put_udec(pf.kind);
    put_str(" delta=");
    put_dec(pf.delta);
    put_str(" present=");
    put_udec(pf.present);
    put_str(" big=");
    put_hex(pf.big, 10);
    put_str(" small=");
    put_dec(pf.small);
    put_str(" acc=");
    put_hex64(acc);
    put_nl();
    check(pf.delta == -9 && pf.small == -1 && pf.kind == 7, "signed bit fields");
    mix(acc);

    /* Morton code: interleave two 16-bit coordinates. */
    uint32_t x = opaque32(0xbeef), y = opaque32(0x1234);
    uint32_t mx = x, my = y;
    mx = (mx | (mx << 8)) & 0x00ff00ffu;
    mx = (mx | (mx << 4)) & 0x0f0f0f0fu;
    mx = (mx | (mx << 2)) & 0x33333333u;
    mx = (mx | (mx << 1)) & 0x55555555u;
    my = (my | (my << 8)) & 0x00ff00ffu;
    my = (my | (my << 4)) & 0x0f0f0f0fu;
    my = (my | (my << 2)) & 0x33333333u;
    my = (my | (my << 1)) & 0x55555555u;
    uint32_t morton = mx | my << 1;
    put_str("   morton(beef,1234)=");
    put_hex32(morton);
    uint32_t ref = 0;
    for (int i = 0; i < 16; i++)
        ref |= (x >> i & 1) << (2 * i) | (y >> i & 1) << (2 * i + 1);
    check(morton == ref, "morton");

    /* Integer square root (bit by bit), log2, log10, round up to power of 2. */
    put_str(" isqrt:");
    static const uint64_t sq[] = {0, 1, 15, 16, 17, 1000000, 0xffffffffffffffffull};
    for (size_t i = 0; i < sizeof sq / sizeof sq[0]; i++) {
        uint64_t n = opaque64(sq[i]), res = 0, bit = 1ull << 62;
        while (bit > n)
            bit >>= 2;
        while (bit) {
            if (n >= res + bit) {
                n -= res + bit;
                res = (res >> 1) + bit;
            } else {
                res >>= 1;
            }
            bit >>= 2;
        }
        put_char(' ');
        put_udec(res);
        check(res * res <= sq[i] && (res + 1) * (res + 1) - 1 >= sq[i], "isqrt bounds");
    }
    put_nl();
    put_str("   log2/log10/pow2:");
    static const uint64_t lv[] = {1, 2, 3, 1000, 1024, 1025, 999999999999ull};
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
        uint64_t v = opaque64(lv[i]);
        int l2 = 63 - __builtin_clzll(v);
        int l10 = 0;
        for (uint64_t t = v; t >= 10; t /= 10)
            l10++;
        uint64_t p2 = v <= 1 ? 1 : 1ull << (64 - __builtin_clzll(v - 1));
        put_str(" (");
        put_dec(l2);
        put_char(',');
        put_dec(l10);
        put_char(',');
        put_udec(p2);
        put_char(')');
        mix(p2 + (uint64_t)l2 + (uint64_t)l10);
    }
    put_nl();
    section_digest();
}

static void multiword(void)
{
    section("256-bit carries / 64x64->128 multiply");
    /* 256-bit add and subtract with explicit carries (adc/sbb chains). */
    uint64_t a[4] = {0xffffffffffffffffull, 0xffffffffffffffffull, 0x0123456789abcdefull, 0};
    uint64_t b[4] = {1, 0, 0xfedcba9876543210ull, 0x8000000000000000ull};
    uint64_t s[4], d[4];
    unsigned carry = 0, borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t t;
        unsigned c1 = __builtin_add_overflow(a[i], b[i], &t);
        unsigned c2 = __builtin_add_overflow(t, (uint64_t)carry, &s[i]);
        carry = c1 | c2;
        unsigned b1 = __builtin_sub_overflow(a[i], b[i], &t);
        unsigned b2 = __builtin_sub_overflow(t, (uint64_t)borrow, &d[i]);
        borrow = b1 | b2;
    }
    put_str("   sum  ");
    for (int i = 3; i >= 0; i--)
        put_hex64(s[i]);
    put_str(" carry ");
    put_udec(carry);
    put_str("\n   diff ");
    for (int i = 3; i >= 0; i--)
        put_hex64(d[i]);
    put_str(" borrow ");
    put_udec(borrow);
    put_nl();
    /* 64x64->128 by 32-bit halves, cross-checked with __int128 when present. */
    uint64_t hs = 0, ls = 0;
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        uint64_t x = rnd(), y = rnd() >> (i % 64);
        uint64_t x0 = (uint32_t)x, x1 = x >> 32, y0 = (uint32_t)y, y1 = y >> 32;
        uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
        uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
        uint64_t hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
        uint64_t lo = (mid << 32) | (uint32_t)p00;
        if (lo != x * y)
            ok = 0;
#ifdef __SIZEOF_INT128__
        unsigned __int128 p = (unsigned __int128)x * y;
        if ((uint64_t)(p >> 64) != hi || (uint64_t)p != lo)
            ok = 0;
        __int128 sp = (__int128)(int64_t)x * (int64_t)y;
        if ((uint64_t)sp != lo)
            ok = 0;
#endif
        hs += hi;
        ls ^= lo;
    }
    put_str("   200 products: hi-sum ");
    put_hex64(hs);
    put_str(" lo-xor ");
    put_hex64(ls);
    put_nl();
    check(ok, "64x64->128 multiply");
    check(carry == 0 && borrow == 1 && s[0] == 0 && s[1] == 0 && d[0] == 0xfffffffffffffffeull,
          "256-bit carry chain");
    mix(hs ^ ls ^ s[2] ^ d[3]);
    section_digest();
}

int main(void)
{
    put_str("== bittricks ==\n");
    counting_bits();
    byte_and_bit_order();
    gray_and_permutations();
    shifts_and_extension();
    overflow_builtins();
    wrapping_arithmetic();
    signed_division();
    bitfields_and_misc();
    multiword();
    put_line_x64("final digest", digest);
    return finish("bittricks");
}
