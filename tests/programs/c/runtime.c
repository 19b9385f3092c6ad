/*
 * runtime.c - the few libc functions a freestanding gcc build may call.
 *
 * gcc requires memcpy, memmove, memset and memcmp even with -ffreestanding
 * (it emits calls to them for struct copies, large initialisers and loops it
 * recognises).  They are plain byte loops here.  The optimize attribute stops
 * gcc from turning these very loops back into calls to themselves.
 *
 * Only linked into the guest build (X86LAB_GUEST); the native build uses the
 * host libc.
 */
#include <stddef.h>
#include <stdint.h>

#define RUNTIME_FN __attribute__((optimize("no-tree-loop-distribute-patterns")))

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

RUNTIME_FN void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

RUNTIME_FN void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if ((uintptr_t)d - (uintptr_t)s >= n) {
        /* No harmful overlap: copy forwards. */
        while (n--)
            *d++ = *s++;
    } else {
        /* dst overlaps the tail of src: copy backwards. */
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

RUNTIME_FN void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

RUNTIME_FN int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a;
    const unsigned char *q = b;
    for (; n != 0; n--, p++, q++) {
        if (*p != *q)
            return *p < *q ? -1 : 1;
    }
    return 0;
}
