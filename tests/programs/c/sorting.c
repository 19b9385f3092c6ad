/*
 * sorting.c - sorting algorithms on PRNG-generated data: quicksort,
 * mergesort, heapsort, shellsort and insertion sort on int32 arrays, a
 * counting sort on bytes, radix sort on uint64 values, a generic
 * qsort-style sort (byte swapping, comparator function pointers) on structs
 * and on strings.  Every result is verified (sorted order, same multiset,
 * stability where promised) and summarised by checksums.
 */
#include "x86lab.h"

#define N 1500
#define N_SMALL 300
#define N_REC 120

static int32_t orig[N];
static int32_t work[N];
static int32_t tmp[N];
static uint64_t u64s[N];
static uint64_t u64tmp[N];
static uint8_t bytes[N];

static uint32_t rng_state = 2463534242u;

static uint32_t rng32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

/* ---- checks and summaries ---------------------------------------------- */

static int is_sorted(const int32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return 0;
    return 1;
}

/* Order-independent multiset fingerprint. */
static uint64_t multiset_hash(const int32_t *a, size_t n)
{
    uint64_t sum = 0, sq = 0, x = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)(int64_t)a[i];
        sum += v;
        sq += v * v;
        x ^= v * 0x9E3779B97F4A7C15ull;
    }
    return sum ^ (sq << 1) ^ (x >> 3);
}

/* Order-dependent checksum. */
static uint32_t seq_hash(const int32_t *a, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)a[i];
        h *= 0x01000193u;
    }
    return h;
}

static void copy_arr(int32_t *dst, const int32_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* ---- algorithms ---------------------------------------------------------- */

static void insertion_sort(int32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int32_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void swap_i32(int32_t *a, int32_t *b)
{
    int32_t t = *a;
    *a = *b;
    *b = t;
}

/* Hoare partition, median-of-three, recursion on the smaller side. */
static unsigned qs_depth_max;

static void quicksort_rec(int32_t *a, long lo, long hi, unsigned depth)
{
    if (depth > qs_depth_max)
        qs_depth_max = depth;
    while (hi - lo > 16) {
        long mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo])
            swap_i32(&a[mid], &a[lo]);
        if (a[hi] < a[lo])
            swap_i32(&a[hi], &a[lo]);
        if (a[hi] < a[mid])
            swap_i32(&a[hi], &a[mid]);
        int32_t pivot = a[mid];
        long i = lo - 1, j = hi + 1;
        for (;;) {
            do
                i++;
            while (a[i] < pivot);
            do
                j--;
            while (a[j] > pivot);
            if (i >= j)
                break;
            swap_i32(&a[i], &a[j]);
        }
        if (j - lo < hi - j) {
            quicksort_rec(a, lo, j, depth + 1);
            lo = j + 1;
        } else {
            quicksort_rec(a, j + 1, hi, depth + 1);
            hi = j;
        }
    }
    insertion_sort(a + lo, (size_t)(hi - lo + 1));
}

static void quicksort(int32_t *a, size_t n)
{
    if (n > 1)
        quicksort_rec(a, 0, (long)n - 1, 0);
}

static void merge_sort_rec(int32_t *a, int32_t *t, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return;
    size_t mid = lo + (hi - lo) / 2;
    merge_sort_rec(a, t, lo, mid);
    merge_sort_rec(a, t, mid, hi);
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        t[k++] = a[j] < a[i] ? a[j++] : a[i++];
    while (i < mid)
        t[k++] = a[i++];
    while (j < hi)
        t[k++] = a[j++];
    for (k = lo; k < hi; k++)
        a[k] = t[k];
}

static void merge_sort(int32_t *a, size_t n)
{
    merge_sort_rec(a, tmp, 0, n);
}

static void sift_down(int32_t *a, size_t start, size_t end)
{
    size_t root = start;
    while (2 * root + 1 < end) {
        size_t child = 2 * root + 1;
        if (child + 1 < end && a[child] < a[child + 1])
            child++;
        if (a[root] >= a[child])
            return;
        swap_i32(&a[root], &a[child]);
        root = child;
    }
}

static void heap_sort(int32_t *a, size_t n)
{
    for (size_t s = n / 2; s-- > 0;)
        sift_down(a, s, n);
    for (size_t end = n; end-- > 1;) {
        swap_i32(&a[0], &a[end]);
        sift_down(a, 0, end);
    }
}

static void shell_sort(int32_t *a, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            int32_t v = a[i];
            size_t j = i;
            while (j >= gap && a[j - gap] > v) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
    }
}

/* LSD radix sort, 8 bits per pass, on unsigned 64-bit keys. */
static void radix_sort_u64(uint64_t *a, uint64_t *t, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            t[count[(a[i] >> shift) & 0xff]++] = a[i];
        for (size_t i = 0; i < n; i++)
            a[i] = t[i];
    }
}

static void counting_sort_u8(uint8_t *a, size_t n, uint32_t hist_out[256])
{
    uint32_t hist[256];
    for (int i = 0; i < 256; i++)
        hist[i] = 0;
    for (size_t i = 0; i < n; i++)
        hist[a[i]]++;
    size_t k = 0;
    for (int v = 0; v < 256; v++) {
        hist_out[v] = hist[v];
        for (uint32_t c = 0; c < hist[v]; c++)
            a[k++] = (uint8_t)v;
    }
}

/* Generic sort: insertion-sort with binary search on elements of any size. */
typedef int (*cmp_fn)(const void *, const void *);

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    while (size--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Stable: an element is inserted after all equal ones. */
static void generic_sort(void *base, size_t n, size_t size, cmp_fn cmp)
{
    unsigned char *b = base;
    for (size_t i = 1; i < n; i++) {
        size_t lo = 0, hi = i;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp(b + mid * size, b + i * size) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t j = i; j > lo; j--)
            swap_bytes(b + (j - 1) * size, b + j * size, size);
    }
}

/* ---- structs and strings ------------------------------------------------ */

struct record {
    char name[12];
    int16_t score;
    uint8_t group;
    uint32_t id;
};

static struct record recs[N_REC];

static int str_len(const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    return n;
}

static int str_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int cmp_rec_name(const void *x, const void *y)
{
    const struct record *a = x, *b = y;
    return str_cmp(a->name, b->name);
}

static int cmp_rec_score_desc(const void *x, const void *y)
{
    const struct record *a = x, *b = y;
    return (b->score > a->score) - (b->score < a->score);
}

static int cmp_rec_group(const void *x, const void *y)
{
    const struct record *a = x, *b = y;
    return (int)a->group - (int)b->group;
}

static int cmp_str_ptr(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    return str_cmp(*a, *b);
}

static void make_name(char *out, uint32_t r)
{
    static const char *const syll[] = {"ka", "lo", "mi", "ra", "to", "ne",
                                       "su", "vi", "ba", "de", "zo", "gu"};
    int parts = 2 + (int)(r % 3);
    int k = 0;
    r /= 3;
    for (int p = 0; p < parts; p++) {
        const char *s = syll[r % 12];
        r /= 12;
        out[k++] = s[0];
        out[k++] = s[1];
    }
    out[0] = (char)(out[0] - 'a' + 'A');
    out[k] = 0;
}

static void print_record(const struct record *r)
{
    put_str("  ");
    put_str(r->name);
    put_spaces(10 - str_len(r->name));
    put_str(" score=");
    put_dec(r->score);
    put_str(" group=");
    put_udec(r->group);
    put_str(" id=");
    put_udec(r->id);
    put_nl();
}

static const char *words[] = {
    "pipeline", "register", "segment", "paging",    "interrupt", "descriptor",
    "gate",     "selector", "cache",   "TLB",       "microcode", "opcode",
    "prefix",   "ModRM",    "SIB",     "immediate", "flags",     "carry",
    "overflow", "parity",   "zero",    "sign",      "adjust",    "stack",
    "frame",    "call",     "return",  "jump",      "loop",      "string",
    "rep",      "movs",     "stos",    "cmps",      "scas",      "lods",
    "a",        "",         "Zebra",   "zebra",     "pag",       "pagingx",
};

/* ---- driver -------------------------------------------------------------- */

typedef void (*sort_fn)(int32_t *, size_t);

static void run_sort(const char *name, sort_fn fn, size_t n, uint64_t want_ms,
                     uint32_t *first_hash)
{
    copy_arr(work, orig, n);
    fn(work, n);
    int sorted = is_sorted(work, n);
    uint64_t ms = multiset_hash(work, n);
    uint32_t h = seq_hash(work, n);
    put_str("  ");
    put_str(name);
    put_spaces(10 - str_len(name));
    put_str(" n=");
    put_udec(n);
    put_str(sorted ? " sorted" : " NOT-SORTED");
    put_str(" seqhash=");
    put_hex32(h);
    put_str(" min=");
    put_dec(work[0]);
    put_str(" median=");
    put_dec(work[n / 2]);
    put_str(" max=");
    put_dec(work[n - 1]);
    put_nl();
    check(sorted, name);
    check(ms == want_ms, "multiset preserved");
    if (*first_hash == 0)
        *first_hash = h;
    check(h == *first_hash, "all sorts agree");
}

int main(void)
{
    put_str("== sorting ==\n");
    for (size_t i = 0; i < N; i++) {
        /* Mix of wide-range and narrow-range (duplicate-heavy) values. */
        uint32_t r = rng32();
        if (i % 3 == 0)
            orig[i] = (int32_t)(r % 100) - 50;
        else
            orig[i] = (int32_t)((r ^ 0x80000000u) - 0x40000000u);
    }
    orig[7] = INT32_MIN;
    orig[8] = INT32_MAX;
    uint64_t want_full = multiset_hash(orig, N);
    uint64_t want_small = multiset_hash(orig, N_SMALL);
    put_line_x32("input seqhash", seq_hash(orig, N));
    put_line_x64("input multiset", want_full);

    uint32_t h_full = 0, h_small = 0;
    put_str("int32 sorts:\n");
    run_sort("quicksort", quicksort, N, want_full, &h_full);
    put_line_u("  quicksort max recursion depth", qs_depth_max);
    run_sort("mergesort", merge_sort, N, want_full, &h_full);
    run_sort("heapsort", heap_sort, N, want_full, &h_full);
    run_sort("shellsort", shell_sort, N, want_full, &h_full);
    run_sort("insertion", insertion_sort, N_SMALL, want_small, &h_small);
    run_sort("quicksort", quicksort, N_SMALL, want_small, &h_small);

    /* Already sorted and reversed inputs. */
    copy_arr(work, orig, N);
    quicksort(work, N);
    quicksort(work, N);
    check(is_sorted(work, N), "quicksort of sorted input");
    for (size_t i = 0; i < N / 2; i++)
        swap_i32(&work[i], &work[N - 1 - i]);
    heap_sort(work, N);
    check(is_sorted(work, N) && seq_hash(work, N) == h_full, "heapsort of reversed input");

    /* Radix sort of u64 keys; verify against pairwise order. */
    for (size_t i = 0; i < N; i++)
        u64s[i] = (uint64_t)rng32() << 32 | rng32();
    u64s[0] = 0;
    u64s[1] = UINT64_MAX;
    radix_sort_u64(u64s, u64tmp, N);
    int ok = 1;
    uint64_t acc = 0;
    for (size_t i = 0; i < N; i++) {
        if (i > 0 && u64s[i - 1] > u64s[i])
            ok = 0;
        acc = acc * 31 + u64s[i];
    }
    put_str("radix u64: ");
    put_str(ok ? "sorted" : "NOT-SORTED");
    put_str(" first=");
    put_hex64(u64s[0]);
    put_str(" second=");
    put_hex64(u64s[1]);
    put_str(" last=");
    put_hex64(u64s[N - 1]);
    put_str(" acc=");
    put_hex64(acc);
    put_nl();
    check(ok, "radix sorted");

    /* Counting sort of bytes drawn from a skewed distribution. */
    for (size_t i = 0; i < N; i++) {
        uint32_t r = rng32();
        bytes[i] = (uint8_t)((r & 0xff) & ((r >> 8) & 0xff));
    }
    uint32_t hist[256];
    counting_sort_u8(bytes, N, hist);
    put_str("counting u8: hist[0]=");
    put_udec(hist[0]);
    put_str(" hist[1]=");
    put_udec(hist[1]);
    put_str(" hist[255]=");
    put_udec(hist[255]);
    put_str(" median=");
    put_udec(bytes[N / 2]);
    put_nl();
    ok = 1;
    for (size_t i = 1; i < N; i++)
        if (bytes[i - 1] > bytes[i])
            ok = 0;
    check(ok, "counting sort sorted");

    /* Structs: by name, then stable by group (names stay ordered within a group). */
    for (size_t i = 0; i < N_REC; i++) {
        uint32_t r = rng32();
        make_name(recs[i].name, r);
        recs[i].score = (int16_t)((int32_t)(rng32() % 2001) - 1000);
        recs[i].group = (uint8_t)(rng32() % 5);
        recs[i].id = (uint32_t)i;
    }
    generic_sort(recs, N_REC, sizeof recs[0], cmp_rec_name);
    put_str("records by name (first 6):\n");
    for (int i = 0; i < 6; i++)
        print_record(&recs[i]);
    ok = 1;
    for (size_t i = 1; i < N_REC; i++)
        if (cmp_rec_name(&recs[i - 1], &recs[i]) > 0)
            ok = 0;
    check(ok, "records sorted by name");
    generic_sort(recs, N_REC, sizeof recs[0], cmp_rec_group);
    ok = 1;
    for (size_t i = 1; i < N_REC; i++) {
        if (recs[i - 1].group > recs[i].group)
            ok = 0;
        else if (recs[i - 1].group == recs[i].group &&
                 cmp_rec_name(&recs[i - 1], &recs[i]) > 0)
            ok = 0;
    }
    check(ok, "stable sort by group keeps name order");
    put_str("records by group, stable (first 4):\n");
    for (int i = 0; i < 4; i++)
        print_record(&recs[i]);
    generic_sort(recs, N_REC, sizeof recs[0], cmp_rec_score_desc);
    put_str("records by score desc (top 5):\n");
    for (int i = 0; i < 5; i++)
        print_record(&recs[i]);
    uint32_t idsum = 0;
    for (size_t i = 0; i < N_REC; i++)
        idsum = idsum * 131 + recs[i].id;
    put_line_x32("record id order hash", idsum);

    /* Strings. */
    size_t nw = sizeof words / sizeof words[0];
    generic_sort(words, nw, sizeof words[0], cmp_str_ptr);
    put_str("words:");
    for (size_t i = 0; i < nw; i++) {
        if (i % 10 == 0)
            put_str("\n ");
        put_str(" [");
        put_str(words[i]);
        put_char(']');
    }
    put_nl();
    ok = 1;
    for (size_t i = 1; i < nw; i++)
        if (str_cmp(words[i - 1], words[i]) > 0)
            ok = 0;
    check(ok, "words sorted");

    return finish("sorting");
}
