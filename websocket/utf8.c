/*
 * websocket/utf8.c - UTF-8 validation for text messages and close
 * reasons: incremental (a text may be cut anywhere, between frames and
 * between reads) and failing fast, at the first byte after which no
 * continuation could make the text valid (RFC 6455 8.1, Autobahn's
 * section 6).
 *
 * A table-driven automaton in the manner of Bjoern Hoehrmann's decoder,
 * written for this file: each byte falls in one of 12 classes, and the
 * state (what the current character still needs) and the class give the
 * next state.  The states that need a particular second byte are what
 * reject overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF)
 * and code points past U+10FFFF (F4 90..BF) at that byte; C0, C1 and F5..FF
 * can start nothing and fail at once.  Between characters, ASCII is
 * skipped 16 bytes at a time.
 *
 * This file must never read past n or decode code points: it only
 * answers "can this still be UTF-8".
 */
#include "ws_internal.h"

#include <string.h>

/* Byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF (continuations),
 * 4 C2..DF, 5 E0, 6 E1..EC and EE..EF, 7 ED, 8 F0, 9 F1..F3, 10 F4,
 * 11 never valid (C0, C1, F5..FF). */
// clang-format off
static const uint8_t utf8_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 20 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 30 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 40 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 50 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 60 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 70 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, /* 80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 90 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3, /* A0 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3, /* B0 */
    11, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* C0 */
     4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* D0 */
     5,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6, /* E0 */
     8,  9,  9,  9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, /* F0 */
};

/*
 * States: 0 between characters (ACCEPT), 1 invalid (REJECT, for good),
 * 2 one continuation byte to go, 3 two to go, 4 after E0 (A0..BF next),
 * 5 after ED (80..9F next), 6 three to go, 7 after F0 (90..BF next),
 * 8 after F4 (80..8F next).  Row = state, column = class.
 */
static const uint8_t utf8_next[9][12] = {
    /*        asc 80  90  A0  C2  E0  E1  ED  F0  F1  F4  bad */
    /* 0 */ {  0,  1,  1,  1,  2,  4,  3,  5,  7,  6,  8,  1 },
    /* 1 */ {  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 2 */ {  1,  0,  0,  0,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 3 */ {  1,  2,  2,  2,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 4 */ {  1,  1,  1,  2,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 5 */ {  1,  2,  2,  1,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 6 */ {  1,  3,  3,  3,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 7 */ {  1,  1,  3,  3,  1,  1,  1,  1,  1,  1,  1,  1 },
    /* 8 */ {  1,  3,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1 },
};
// clang-format on

#define HIGH_BITS 0x8080808080808080ull

/* The index of the first non-ASCII byte at or after i, or n. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    uint64_t a, b;

    for (; i + 16 <= n; i += 16) {
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, 8);
        if ((a | b) & HIGH_BITS)
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

size_t eddy__utf8_valid(unsigned *state, const uint8_t *p, size_t n)
{
    unsigned s = *state;
    size_t i = 0;

    if (s == EDDY_UTF8_REJECT)
        return 0;
    while (i < n) {
        if (s == EDDY_UTF8_ACCEPT && (i = skip_ascii(p, i, n)) == n)
            break;
        s = utf8_next[s][utf8_class[p[i]]];
        if (s == EDDY_UTF8_REJECT) {
            *state = s;
            return i;
        }
        i++;
    }
    *state = s;
    return n;
}
