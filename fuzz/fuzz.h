/*
 * fuzz/fuzz.h - what the harnesses share: the entry point's name, how an
 * invariant that does not hold is reported, a reader for the control
 * bytes at the front of an input, a growing byte buffer, and an exact
 * heap copy of an input.
 *
 * A harness is one file with one entry point, FUZZ_ENTRY (libFuzzer's
 * LLVMFuzzerTestOneInput unless the includer renames it).  It is built
 * three ways: with -fsanitize=fuzzer (libFuzzer), with fuzz/standalone.c
 * (AFL++, or a plain replay of files), and included into
 * tests/test_fuzz_regressions.c, which defines FUZZ_ENTRY and
 * FUZZ_NO_ABORT so that a violation fails a cmocka test instead of
 * aborting.  So everything a harness defines besides its entry point is
 * static and carries the harness's prefix.
 *
 * A harness must be deterministic: the same input always takes the same
 * path.  It must not print unless an invariant fails.
 */
#ifndef EDDY_FUZZ_H
#define EDDY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* Violations seen by this process (only counted with FUZZ_NO_ABORT). */
static unsigned long fuzz_violations;

__attribute__((unused)) static void fuzz_violation(const char *file,
                                                   int line,
                                                   const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
    fuzz_violations++;
#ifndef FUZZ_NO_ABORT
    abort();
#endif
}

/* Checks an invariant: aborts (libFuzzer records the input as a crash),
 * or with FUZZ_NO_ABORT counts it and goes on. */
#define FUZZ_CHECK(cond, what)                                                \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_violation(__FILE__, __LINE__, what);                         \
    } while (0)

/* The control bytes at the front of an input; past the end reads 0. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

__attribute__((unused)) static unsigned fuzz_byte(fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/*
 * Cut points for feeding the rest of the input in pieces: one control byte
 * for how many cuts (0..max), then one byte per cut giving the gap from
 * the previous cut (1..256).  The bytes after these are the payload: cuts[]
 * gets increasing positions strictly inside (0, payload length), and the
 * count is returned; the pieces are [0, c0), [c0, c1), ..., [c_last, len).
 * max is at most 255.
 */
__attribute__((unused)) static size_t fuzz_cuts(fuzz_in *in, size_t *cuts,
                                                size_t max)
{
    size_t k = fuzz_byte(in) % (max + 1), n = 0, at = 0;
    size_t gaps[256];

    for (size_t i = 0; i < k; i++)
        gaps[i] = fuzz_byte(in) + 1;
    for (size_t i = 0; i < k; i++) {
        at += gaps[i];
        if (at < in->n)
            cuts[n++] = at;
    }
    return n;
}

/* A growing buffer of bytes the harness writes (an encoding it builds, or
 * what a decoder gave); failed: an allocation failed, and the bytes are
 * not all there.  Free p. */
typedef struct fuzz_buf {
    char *p;
    size_t len, cap;
    int failed;
} fuzz_buf;

__attribute__((unused)) static void fuzz_put(fuzz_buf *b, const void *p,
                                             size_t n)
{
    if (n == 0 || b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *q;

        while (cap < b->len + n)
            cap *= 2;
        if ((q = realloc(b->p, cap)) == NULL) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* A heap copy of exactly data[0, len) (one byte when len is 0), so that
 * ASan catches a read past len; NULL when out of memory.  Free it. */
__attribute__((unused)) static char *fuzz_copy(const uint8_t *data, size_t len)
{
    char *copy = malloc(len ? len : 1);

    if (copy != NULL && len > 0)
        memcpy(copy, data, len);
    return copy;
}

#endif
