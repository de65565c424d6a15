/*
 * tests/failalloc.h - allocation failures on purpose, for the suites the
 * Makefile links with GNU ld's --wrap for malloc, calloc and realloc
 * (Linux; it defines TU_WRAP_MALLOC for them): test_ws_conn.c and
 * test_ws_handshake.c.  Elsewhere the wrappers are not built, and the
 * tests that need them skip.
 *
 * fail_alloc counts down the allocations of the library and of the
 * suite, and the one it reaches 0 at fails: 0 fails the next one, 1 the
 * one after, -1 none.  Include it in one file of a test binary only: the
 * wrappers are the binary's own malloc, calloc and realloc, so they are
 * not static.
 */
#ifndef EDDY_TESTS_FAILALLOC_H
#define EDDY_TESTS_FAILALLOC_H

#include <stddef.h>

static volatile long fail_alloc = -1;

#ifdef TU_WRAP_MALLOC
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static int alloc_fails(void)
{
    if (fail_alloc < 0)
        return 0;
    return fail_alloc-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : __real_realloc(p, n);
}
#endif

#endif
