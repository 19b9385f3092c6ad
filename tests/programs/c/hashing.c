/*
 * hashing.c - hash and checksum functions over fixed strings and over a
 * buffer filled by a deterministic PRNG: FNV-1a (32/64), djb2, CRC-32
 * (bitwise and table-driven), CRC-16/CCITT, Adler-32, MurmurHash3 x86_32,
 * SipHash-2-4 and SHA-256.  Known test vectors are self-checked.
 */
#include "x86lab.h"

#define BUF_LEN 4096

static uint8_t buf[BUF_LEN];
static uint32_t crc_table[256];

/* xorshift64*: deterministic data. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- FNV-1a ------------------------------------------------------------ */

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x01000193u;
    }
    return h;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t djb2(const uint8_t *p, size_t n)
{
    uint32_t h = 5381;
    for (size_t i = 0; i < n; i++)
        h = h * 33 + p[i];
    return h;
}

/* ---- CRC-32 (IEEE, reflected) ------------------------------------------ */

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xffff, not reflected. */
static uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int k = 0; k < 8; k++) {
            if (crc & 0x8000)
                crc = (uint16_t)((crc << 1) ^ 0x1021);
            else
                crc = (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

/* ---- MurmurHash3 x86_32 ------------------------------------------------- */

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

static uint32_t murmur3_32(const uint8_t *data, size_t len, uint32_t seed)
{
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    size_t nblocks = len / 4;
    uint32_t h1 = seed;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k1 = load_le32(data + 4 * i);
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64u;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3:
        k1 ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k1 ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
    }
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    h1 ^= h1 >> 16;
    return h1;
}

/* ---- SipHash-2-4 -------------------------------------------------------- */

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

#define SIPROUND                                                               \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = rotl64(v1, 13);                                                   \
        v1 ^= v0;                                                              \
        v0 = rotl64(v0, 32);                                                   \
        v2 += v3;                                                              \
        v3 = rotl64(v3, 16);                                                   \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = rotl64(v3, 21);                                                   \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = rotl64(v1, 17);                                                   \
        v1 ^= v2;                                                              \
        v2 = rotl64(v2, 32);                                                   \
    } while (0)

static uint64_t siphash24(const uint8_t *in, size_t len, const uint8_t key[16])
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0;
    uint64_t v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0;
    uint64_t v3 = 0x7465646279746573ull ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- SHA-256 ------------------------------------------------------------ */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;
    uint64_t total;
};

static uint32_t rotr32(uint32_t x, int r)
{
    return (x >> r) | (x << (32 - r));
}

static void sha256_compress(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + sha_k[i] + w[i];
        uint32_t S0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    for (int i = 0; i < 8; i++)
        s->h[i] = iv[i];
    s->used = 0;
    s->total = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
    s->total += n;
    while (n > 0) {
        size_t take = 64 - s->used;
        if (take > n)
            take = n;
        for (size_t i = 0; i < take; i++)
            s->block[s->used + i] = p[i];
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha256_compress(s, s->block);
            s->used = 0;
        }
    }
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80;
    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->used != 56)
        sha256_update(s, &pad, 1);
    uint8_t len_be[8];
    for (int i = 0; i < 8; i++)
        len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len_be, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    static const char hexdig[] = "0123456789abcdef";
    struct sha256 s;
    uint8_t digest[32];
    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_final(&s, digest);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hexdig[digest[i] >> 4];
        out[2 * i + 1] = hexdig[digest[i] & 15];
    }
    out[64] = 0;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* ---- report ------------------------------------------------------------- */

static const char *const strings[] = {
    "",
    "a",
    "abc",
    "123456789",
    "Wikipedia",
    "The quick brown fox jumps over the lazy dog",
    "x86lab: a teaching laboratory for the x86 architecture",
};

static void report_string(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = str_len(s);
    put_char('"');
    put_str(s);
    put_str("\" (");
    put_udec(n);
    put_str(" bytes)\n");
    put_str("  fnv1a32 ");
    put_hex32(fnv1a32(p, n));
    put_str("  fnv1a64 ");
    put_hex64(fnv1a64(p, n));
    put_str("  djb2 ");
    put_hex32(djb2(p, n));
    put_nl();
    put_str("  crc32 ");
    put_hex32(crc32_table(p, n));
    put_str("  crc16 ");
    put_hex16(crc16_ccitt(p, n));
    put_str("  adler32 ");
    put_hex32(adler32(p, n));
    put_str("  murmur3 ");
    put_hex32(murmur3_32(p, n, 0));
    put_nl();
    check(crc32_bitwise(p, n) == crc32_table(p, n), "crc32 bitwise == table (string)");
}

int main(void)
{
    crc32_init();
    put_str("== hashing ==\n");
    put_line_x32("crc32 table[1]", crc_table[1]);
    put_line_x32("crc32 table[255]", crc_table[255]);

    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        report_string(strings[i]);

    /* Known-answer tests. */
    const uint8_t *digits = (const uint8_t *)"123456789";
    const uint8_t *fox = (const uint8_t *)"The quick brown fox jumps over the lazy dog";
    check(crc32_table(digits, 9) == 0xcbf43926u, "crc32 check value");
    check(crc32_table(fox, 43) == 0x414fa339u, "crc32 fox");
    check(crc16_ccitt(digits, 9) == 0x29b1, "crc16 check value");
    check(adler32((const uint8_t *)"Wikipedia", 9) == 0x11e60398u, "adler32 Wikipedia");
    check(fnv1a32((const uint8_t *)"a", 1) == 0xe40c292cu, "fnv1a32 a");
    check(fnv1a64((const uint8_t *)"a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a64 a");
    check(murmur3_32((const uint8_t *)"", 0, 1) == 0x514e28b7u, "murmur3 empty seed 1");
    check(murmur3_32(fox, 43, 0) == 0x2e4ff723u, "murmur3 fox");

    /* SipHash-2-4 reference vectors: key 00..0f, message 00..(n-1). */
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    put_str("siphash-2-4 (key 00..0f, message 00..n-1):\n");
    for (size_t n = 0; n <= 16; n++) {
        put_str("  n=");
        if (n < 10)
            put_char(' ');
        put_udec(n);
        put_char(' ');
        put_hex64(siphash24(msg, n, key));
        put_nl();
    }
    check(siphash24(msg, 0, key) == 0x726fdb47dd0e0e31ull, "siphash vector 0");
    check(siphash24(msg, 15, key) == 0xa129ca6149be45e5ull, "siphash vector 15");

    char hex[65];
    sha256_hex((const uint8_t *)"", 0, hex);
    put_str("sha256(\"\")    ");
    put_str(hex);
    put_nl();
    check(str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          "sha256 empty");
    sha256_hex((const uint8_t *)"abc", 3, hex);
    put_str("sha256(\"abc\") ");
    put_str(hex);
    put_nl();
    check(str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "sha256 abc");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex((const uint8_t *)two_blocks, str_len(two_blocks), hex);
    put_str("sha256(448-bit NIST message) ");
    put_str(hex);
    put_nl();
    check(str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
          "sha256 two blocks");

    /* Generated data: prefixes of a PRNG-filled buffer. */
    for (size_t i = 0; i < BUF_LEN; i += 8) {
        uint64_t r = rng_next();
        for (int k = 0; k < 8; k++)
            buf[i + k] = (uint8_t)(r >> (8 * k));
    }
    static const size_t lens[] = {1, 7, 64, 255, 1000, BUF_LEN};
    put_str("prng buffer prefixes:\n");
    put_str("   len  crc32    adler32  fnv1a32  murmur3  siphash24\n");
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        uint32_t c = crc32_table(buf, n);
        put_spaces(n < 10 ? 5 : n < 100 ? 4 : n < 1000 ? 3 : 2);
        put_udec(n);
        put_char(' ');
        put_hex32(c);
        put_char(' ');
        put_hex32(adler32(buf, n));
        put_char(' ');
        put_hex32(fnv1a32(buf, n));
        put_char(' ');
        put_hex32(murmur3_32(buf, n, 0x12345678u));
        put_char(' ');
        put_hex64(siphash24(buf, n, key));
        put_nl();
        check(crc32_bitwise(buf, n) == c, "crc32 bitwise == table (buffer)");
    }
    sha256_hex(buf, BUF_LEN, hex);
    put_str("sha256(buffer) ");
    put_str(hex);
    put_nl();
    put_line_x64("fnv1a64(buffer)", fnv1a64(buf, BUF_LEN));

    return finish("hashing");
}
