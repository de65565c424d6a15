/*
 * fuzz/fuzz_http.h - what the HTTP harnesses (fuzz/parse_head.c,
 * fuzz/parse_response.c, fuzz/client_conn.c) check alike, on top of the
 * parser's own tables (httputil/parser.h).
 *
 * Like fuzz.h, everything here is static and may go unused: a harness
 * file may be included into tests/test_fuzz_regressions.c with the others.
 */
#ifndef EDDY_FUZZ_HTTP_H
#define EDDY_FUZZ_HTTP_H

#include "../httputil/parser.h"

#include <stddef.h>

/* Whether p[0, n) is an RFC 9110 token: not empty, tchars only. */
__attribute__((unused)) static int fuzz_is_token(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!eddy__http_is_token((unsigned char)p[i]))
            return 0;
    return n > 0;
}

#endif
