/*
 * tests/test_httputil.c - the HTTP utilities (httputil/): arguments,
 * percent-decoding, paths and route patterns, cookies, multipart bodies,
 * dates, ranges, entity tags and media types.
 *
 * Every parser gets its input copied to end at a PROT_NONE guard page
 * (testutil.h), so a read past the length crashes.  The multipart parser
 * is fed every body whole, byte by byte, and cut at every point (and at
 * every pair of points, outside valgrind), and must report the same parts
 * and bytes, or the same error, however the body came.  Every documented
 * error is taken, and then the thing the header says may follow.
 */
#include "testutil.h"

#include "eddy/httputil.h"

#include "../httputil/httputil_internal.h"

#include <ctype.h>
#include <limits.h>

#define S(lit) (lit), (sizeof(lit) - 1)
/* A literal against the guard page, and its length. */
#define GS(lit) G(S(lit)), (sizeof(lit) - 1)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* s copied against the suite's guard page. */
static const char *G(const char *s, size_t n)
{
    return tu_guarded(s, n);
}

static void assert_str(eddy_str s, const char *want, size_t n)
{
    if (s.len != n || (n > 0 && memcmp(s.p, want, n) != 0))
        fail_msg("got \"%.*s\" (%zu), want \"%.*s\" (%zu)", (int)s.len,
                 s.p ? s.p : "", s.len, (int)n, want, n);
}

#define assert_eq_str(s, lit) assert_str((s), S(lit))

/* ======================================================================
 * Arguments
 * ====================================================================== */

static eddy_args *parse_ok(const char *s, size_t n, unsigned flags)
{
    eddy_args *a = (eddy_args *)1;

    assert_int_equal(eddy_args_parse(G(s, n), n, flags, NULL, &a), 0);
    return a;
}

static void args_pairs(void **state)
{
    eddy_args *a = parse_ok(S("a=1&b=x+y&a=%32&c"), 0);
    eddy_str n, v, all[4];

    (void)state;
    assert_int_equal(eddy_args_count(a), 4);
    assert_int_equal(eddy_args_at(a, 0, &n, &v), 0);
    assert_eq_str(n, "a");
    assert_eq_str(v, "1");
    assert_int_equal(eddy_args_at(a, 1, &n, &v), 0);
    assert_eq_str(n, "b");
    assert_eq_str(v, "x y");
    assert_int_equal(v.p[v.len], '\0'); /* NUL after, for strtol() */
    assert_int_equal(n.p[n.len], '\0');
    assert_int_equal(eddy_args_at(a, 3, &n, &v), 0);
    assert_eq_str(n, "c");
    assert_eq_str(v, "");
    /* name or value may be NULL. */
    assert_int_equal(eddy_args_at(a, 2, NULL, &v), 0);
    assert_eq_str(v, "2");
    assert_int_equal(eddy_args_at(a, 2, &n, NULL), 0);
    assert_eq_str(n, "a");
    /* The last one wins, as Tornado's get_argument. */
    assert_int_equal(eddy_args_get(a, "a", &v), 0);
    assert_eq_str(v, "2");
    assert_int_equal(eddy_args_get_all(a, "a", all, 4), 2);
    assert_eq_str(all[0], "1");
    assert_eq_str(all[1], "2");
    assert_int_equal(eddy_args_get_all(a, "c", all, 4), 1);
    assert_int_equal(eddy_args_get_all(a, "zz", all, 4), 0);
    eddy_args_free(a);
}

static void args_errors_of_reading(void **state)
{
    eddy_args *a = parse_ok(S("x=1&x=2&x=3"), 0);
    eddy_str v = {"default", 7}, all[2];

    (void)state;
    /* -ERANGE past the last pair; then a pair in range still reads. */
    assert_int_equal(eddy_args_at(a, 3, &v, &v), -ERANGE);
    assert_int_equal(eddy_args_at(a, 2, NULL, &v), 0);
    assert_eq_str(v, "3");
    /* -ENOENT leaves the default set before the call. */
    v.p = "default";
    v.len = 7;
    assert_int_equal(eddy_args_get(a, "y", &v), -ENOENT);
    assert_eq_str(v, "default");
    assert_int_equal(eddy_args_get(a, "", &v), -ENOENT);
    assert_int_equal(eddy_args_get(a, "x=", &v), -ENOENT);
    /* -EINVAL for NULLs; then a proper call works. */
    assert_int_equal(eddy_args_get(a, NULL, &v), -EINVAL);
    assert_int_equal(eddy_args_get(a, "x", NULL), -EINVAL);
    assert_int_equal(eddy_args_get(a, "x", &v), 0);
    assert_eq_str(v, "3");
    /* get_all counts them all, fills max. */
    all[1].p = NULL;
    assert_int_equal(eddy_args_get_all(a, "x", all, 1), 3);
    assert_eq_str(all[0], "1");
    assert_null(all[1].p);
    assert_int_equal(eddy_args_get_all(a, "x", NULL, 0), 3);
    assert_int_equal(eddy_args_get_all(a, NULL, all, 2), 0);
    eddy_args_free(a);
}

static void args_empty(void **state)
{
    static const char *const empty[] = {"", "&", "&&&"};
    eddy_str v;

    (void)state;
    for (size_t i = 0; i < COUNT(empty); i++) {
        eddy_args *a = parse_ok(empty[i], strlen(empty[i]), 0);

        assert_null(a); /* no pair: no allocation */
        assert_int_equal(eddy_args_count(a), 0);
        assert_int_equal(eddy_args_at(a, 0, &v, &v), -ERANGE);
        assert_int_equal(eddy_args_get(a, "a", &v), -ENOENT);
        assert_int_equal(eddy_args_get_all(a, "a", &v, 1), 0);
        eddy_args_free(a);
    }
    /* NULL with length 0 is the empty string. */
    {
        eddy_args *a = (eddy_args *)1;

        assert_int_equal(eddy_args_parse(NULL, 0, 0, NULL, &a), 0);
        assert_null(a);
    }
}

/* One pair from s: its name and value. */
static void one_pair(const char *s, unsigned flags, const char *name,
                     size_t nlen, const char *value, size_t vlen)
{
    eddy_args *a = parse_ok(s, strlen(s), flags);
    eddy_str n, v;

    assert_int_equal(eddy_args_count(a), 1);
    assert_int_equal(eddy_args_at(a, 0, &n, &v), 0);
    assert_str(n, name, nlen);
    assert_str(v, value, vlen);
    eddy_args_free(a);
}

static void args_shapes(void **state)
{
    (void)state;
    one_pair("=v", 0, S(""), S("v"));
    one_pair("a==b", 0, S("a"), S("=b"));
    one_pair("a=", 0, S("a"), S(""));
    one_pair("&&a=1&&", 0, S("a"), S("1"));
    /* ';' separates nothing (Python dropped it as a separator in 2021). */
    one_pair("a=1;b=2", 0, S("a"), S("1;b=2"));
    one_pair("a+b=c+d", 0, S("a b"), S("c d"));
    one_pair("a+b=c+d", EDDY_ARGS_PLUS_LITERAL, S("a+b"), S("c+d"));
    one_pair("%2B=%2b", 0, S("+"), S("+"));
    one_pair("k=%41%62%7e%7E", 0, S("k"), S("Ab~~"));
    /* A decoded NUL is a byte of the value, counted in its length. */
    one_pair("k=a%00b", 0, S("k"), "a\0b", 3);
    one_pair("%26=%3D", 0, S("&"), S("="));
    one_pair("k=\xff\x01", 0, S("k"), S("\xff\x01"));
}

static void args_bad_escapes(void **state)
{
    static const char *const bad[] = {"a=%",    "a=%4",  "a=%zz",
                                      "a=%4g",  "%=1",   "a=1%",
                                      "a=%%41", "a=% 1", "b&a=%G0"};
    eddy_args *a = (eddy_args *)1;

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        size_t n = strlen(bad[i]);

        a = (eddy_args *)1;
        assert_int_equal(eddy_args_parse(G(bad[i], n), n, 0, NULL, &a),
                         -EINVAL);
        assert_null(a);
    }
    /* Kept as they are with EDDY_ARGS_KEEP_BAD_ESCAPES. */
    one_pair("a=%", EDDY_ARGS_KEEP_BAD_ESCAPES, S("a"), S("%"));
    one_pair("a=%4", EDDY_ARGS_KEEP_BAD_ESCAPES, S("a"), S("%4"));
    one_pair("a=%zz%41", EDDY_ARGS_KEEP_BAD_ESCAPES, S("a"), S("%zzA"));
    one_pair("a=%%41", EDDY_ARGS_KEEP_BAD_ESCAPES, S("a"), S("%A"));
}

/* Every "%XY": decoded when both are hex digits, refused or kept
 * otherwise. */
static void args_every_escape(void **state)
{
    static const char hex[] = "0123456789abcdefABCDEF";

    (void)state;
    for (unsigned x = 0; x < 256; x++) {
        for (unsigned y = 0; y < 256; y++) {
            char in[3] = {'%', (char)x, (char)y}, out[3];
            size_t n = 99;
            int ok = x != 0 && y != 0 && strchr(hex, (int)x) != NULL &&
                     strchr(hex, (int)y) != NULL;
            int r = eddy_url_unescape(G(in, 3), 3, 0, out, &n);

            if (!ok) {
                assert_int_equal(r, -EINVAL);
                assert_int_equal(eddy_url_unescape(G(in, 3), 3,
                                                   EDDY_ARGS_KEEP_BAD_ESCAPES |
                                                       EDDY_ARGS_PLUS_LITERAL,
                                                   out, &n),
                                 0);
                /* The '%' stays; the two bytes after it are decoded as
                 * ever (neither starts an escape of three). */
                assert_int_equal(n, 3);
                assert_memory_equal(out, in, 3);
                continue;
            }
            assert_int_equal(r, 0);
            assert_int_equal(n, 1);
            assert_int_equal((unsigned char)out[0],
                             strtoul((char[]){(char)x, (char)y, 0}, NULL, 16));
        }
    }
}

static void url_unescape(void **state)
{
    char buf[32];
    size_t n = 0;

    (void)state;
    assert_int_equal(
        eddy_url_unescape(G(S("a+b%20c")), sizeof "a+b%20c" - 1, 0, buf, &n),
        0);
    assert_str((eddy_str){buf, n}, S("a b c"));
    assert_int_equal(
        eddy_url_unescape(G(S("a+b")), 3, EDDY_ARGS_PLUS_LITERAL, buf, &n), 0);
    assert_str((eddy_str){buf, n}, S("a+b"));
    /* In place. */
    strcpy(buf, "%41%42+");
    assert_int_equal(eddy_url_unescape(buf, 7, 0, buf, &n), 0);
    assert_str((eddy_str){buf, n}, S("AB "));
    assert_int_equal(eddy_url_unescape(NULL, 0, 0, buf, &n), 0);
    assert_int_equal(n, 0);
    /* Errors, then a good call. */
    assert_int_equal(eddy_url_unescape(S("%x"), 0, buf, &n), -EINVAL);
    assert_int_equal(eddy_url_unescape("a", 1, 0, NULL, &n), -EINVAL);
    assert_int_equal(eddy_url_unescape("a", 1, 0, buf, NULL), -EINVAL);
    assert_int_equal(eddy_url_unescape(NULL, 1, 0, buf, &n), -EINVAL);
    assert_int_equal(eddy_url_unescape("a", 1, 0x100, buf, &n), -EINVAL);
    assert_int_equal(eddy_url_unescape(S("%C3"), EDDY_ARGS_UTF8, buf, &n),
                     -EILSEQ);
    assert_int_equal(eddy_url_unescape(S("%C3%A9"), EDDY_ARGS_UTF8, buf, &n),
                     0);
    assert_str((eddy_str){buf, n}, S("\xc3\xa9"));
}

static void args_utf8(void **state)
{
    static const char *const bad[] = {
        "a=%C3",          /* cut short */
        "a=%C0%80",       /* overlong NUL */
        "a=%E0%80%80",    /* overlong */
        "a=%ED%A0%80",    /* a surrogate */
        "a=%F4%90%80%80", /* past U+10FFFF */
        "a=%FF",          /* never in UTF-8 */
        "%80=1",          /* a name too */
        "a=\xc3",         /* raw bytes are checked as decoded ones */
    };
    eddy_args *a;

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        size_t n = strlen(bad[i]);

        a = (eddy_args *)1;
        assert_int_equal(
            eddy_args_parse(G(bad[i], n), n, EDDY_ARGS_UTF8, NULL, &a),
            -EILSEQ);
        assert_null(a);
        /* Without the flag, the same bytes are taken. */
        assert_int_equal(eddy_args_parse(G(bad[i], n), n, 0, NULL, &a), 0);
        eddy_args_free(a);
    }
    one_pair("%C3%A9=%F0%9F%98%80%ED%9F%BF", EDDY_ARGS_UTF8, S("\xc3\xa9"),
             S("\xf0\x9f\x98\x80\xed\x9f\xbf"));
    assert_true(eddy__hu_utf8(S("\xf4\x8f\xbf\xbf")));
    assert_false(eddy__hu_utf8(S("\xe0\xa0")));
    assert_false(eddy__hu_utf8(S("\xc2\x41")));
}

static void args_limits(void **state)
{
    eddy_args_limits lim = {3, 16};
    eddy_args *a = (eddy_args *)1;
    char *big;
    size_t n;

    (void)state;
    /* max_args: 3 pairs (empty pieces do not count), not 4. */
    assert_int_equal(eddy_args_parse(GS("a&&b&c&"), 0, &lim, &a), 0);
    assert_int_equal(eddy_args_count(a), 3);
    eddy_args_free(a);
    assert_int_equal(eddy_args_parse(GS("a&b&c&d"), 0, &lim, &a), -E2BIG);
    assert_null(a);
    /* max_size: the input's length, 16 but not 17. */
    assert_int_equal(eddy_args_parse(GS("0123456789abcdef"), 0, &lim, &a), 0);
    eddy_args_free(a);
    assert_int_equal(eddy_args_parse(GS("0123456789abcdefg"), 0, &lim, &a),
                     -EMSGSIZE);
    assert_null(a);
    /* The defaults: 1000 pairs, 1 MiB. */
    n = 1024 * 1024 + 1;
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    for (size_t i = 0; i < 1000; i++)
        big[2 * i + 1] = '&';
    assert_int_equal(eddy_args_parse(G(big, 2000), 2000, 0, NULL, &a), 0);
    assert_int_equal(eddy_args_count(a), 1000);
    eddy_args_free(a);
    assert_int_equal(eddy_args_parse(G(big, 2002), 2002, 0, NULL, &a), -E2BIG);
    memset(big, 'x', n);
    assert_int_equal(eddy_args_parse(G(big, n - 1), n - 1, 0, NULL, &a), 0);
    assert_int_equal(eddy_args_count(a), 1);
    eddy_args_free(a);
    assert_int_equal(eddy_args_parse(G(big, n), n, 0, NULL, &a), -EMSGSIZE);
    free(big);
    /* After each error the caller may parse again. */
    assert_int_equal(eddy_args_parse(GS("a=1"), 0, &lim, &a), 0);
    eddy_args_free(a);
}

static void args_bad_calls(void **state)
{
    eddy_args *a = (eddy_args *)1;

    (void)state;
    assert_int_equal(eddy_args_parse(S("a=1"), 0, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_args_parse(S("a=1"), 8, NULL, &a), -EINVAL);
    assert_null(a);
    assert_int_equal(eddy_args_parse(NULL, 3, 0, NULL, &a), -EINVAL);
    assert_int_equal(eddy_args_parse(S("a=1"), 0, NULL, &a), 0);
    eddy_args_free(a);
    eddy_args_free(NULL);
}

/* The internal builder the server and the multipart collector use. */
static void args_builder(void **state)
{
    eddy_args_limits lim = {4, 64}, huge = {0, SIZE_MAX};
    eddy_args *a = NULL;
    eddy_str v;
    char pad[52]; /* 12 bytes are in: 64 is the limit */

    (void)state;
    assert_int_equal(eddy__args_extend(&a, "x", 1, &lim), -EINVAL);
    assert_int_equal(eddy__args_append(&a, S("q=1&r=2"), 0, &lim), 0);
    assert_int_equal(eddy__args_add(&a, S("f"), &lim), 0);
    assert_int_equal(eddy__args_extend(&a, S("ab"), &lim), 0);
    assert_int_equal(eddy__args_extend(&a, S(""), &lim), 0);
    assert_int_equal(eddy__args_extend(&a, S("c"), &lim), 0);
    assert_int_equal(eddy_args_count(a), 3);
    assert_int_equal(eddy_args_get(a, "f", &v), 0);
    assert_eq_str(v, "abc");
    assert_int_equal(v.p[v.len], '\0');
    assert_int_equal(eddy_args_get(a, "r", &v), 0);
    assert_eq_str(v, "2");
    /* Limits count over the whole set: 11 bytes so far of 64, 3 of 4. */
    assert_int_equal(eddy__args_add(&a, S("g"), &lim), 0);
    assert_int_equal(eddy__args_add(&a, S("h"), &lim), -E2BIG);
    assert_int_equal(eddy__args_append(&a, S("h=1"), 0, &lim), -E2BIG);
    memset(pad, 'p', sizeof pad);
    assert_int_equal(eddy__args_extend(&a, pad, sizeof pad, &lim), 0);
    assert_int_equal(eddy__args_extend(&a, "x", 1, &lim), -EMSGSIZE);
    assert_int_equal(eddy__args_append(&a, S("&"), 0, &lim), -EMSGSIZE);
    assert_int_equal(eddy_args_count(a), 4);
    /* A set that fails keeps the pairs before; UTF-8 from a pair on. */
    assert_int_equal(eddy__args_check_utf8(a, 0), 0);
    eddy_args_free(a);
    a = NULL;
    assert_int_equal(eddy__args_append(&a, S("a=1&b=%zz"), 0, NULL), -EINVAL);
    assert_int_equal(eddy_args_count(a), 1);
    assert_int_equal(eddy__args_add(&a, S("\xff"), NULL), 0);
    assert_int_equal(eddy__args_check_utf8(a, 0), -EILSEQ);
    assert_int_equal(eddy__args_check_utf8(a, 1), -EILSEQ);
    assert_int_equal(eddy__args_check_utf8(a, 2), 0);
    assert_int_equal(eddy__args_check_utf8(NULL, 0), 0);
    /* -ENOMEM: more than memory can hold (the name is never read). */
    assert_int_equal(eddy__args_add(&a, "", SIZE_MAX / 2, &huge), -ENOMEM);
    assert_int_equal(eddy_args_count(a), 2);
    eddy_args_free(a);
    /* Many pairs one at a time: the set moves as it grows. */
    a = NULL;
    for (int i = 0; i < 500; i++) {
        char name[16];

        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(eddy__args_add(&a, name, strlen(name), NULL), 0);
        assert_int_equal(eddy__args_extend(&a, name, strlen(name), NULL), 0);
    }
    for (int i = 0; i < 500; i += 99) {
        char name[16];

        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(eddy_args_get(a, name, &v), 0);
        assert_str(v, name, strlen(name));
    }
    eddy_args_free(a);
}

/* ======================================================================
 * Paths
 * ====================================================================== */

#define BAD NULL

static const struct {
    const char *in, *out;
} paths[] = {
    {"/", "/"},
    {"/a/b", "/a/b"},
    {"/a/b/", "/a/b/"},
    {"/a/./b", "/a/b"},
    {"/a/../b", "/b"},
    {"/a/b/..", "/a/"},
    {"/a/b/../", "/a/"},
    {"/a/.", "/a/"},
    {"/.", "/"},
    {"/./", "/"},
    {"/a/..", "/"},
    {"/a/%2e%2E/b", "/b"},
    {"/a/.%2e/", "/"},
    {"/%2e", "/"},
    {"/a/b/c/./../../g", "/a/g"}, /* RFC 3986 5.4.2 */
    {"/mid/content=5/../6", "/mid/6"},
    {"/a//b", "/a//b"},
    {"/a//../b", "/a/b"},
    {"/...", "/..."},
    {"/.a/..b/a..", "/.a/..b/a.."},
    {"/%41%62", "/Ab"},
    {"/a+b", "/a+b"},
    {"/%20%7e", "/ ~"},
    {"/%80%ff", "/\x80\xff"},
    {"/%0a", "/\n"},
    {"/items/%31", "/items/1"},
    {"/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;="},
    {"/..", BAD},
    {"/../a", BAD},
    {"/a/../..", BAD},
    {"/a/../../b", BAD},
    {"/%2e%2e", BAD},
    {"/%2E%2E/etc/passwd", BAD},
    {"/a/./../..", BAD},
    {"/a%2Fb", BAD},
    {"/a%2fb", BAD},
    {"/a%00", BAD},
    {"/a%zz", BAD},
    {"/a%4", BAD},
    {"/a%", BAD},
    {"a", BAD},
    {"", BAD},
    {"*", BAD},
    {"/a b", BAD},
    {"/a?b", BAD},
    {"/a#b", BAD},
    {"/\x80", BAD},
    {"/a\tb", BAD},
    {"/a\x7f", BAD},
};

static void path_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(paths); i++) {
        size_t n = strlen(paths[i].in), len = 12345;
        char out[64], inplace[64];
        int r = eddy_path_decode(G(paths[i].in, n), n, out, &len);

        if (paths[i].out == BAD) {
            if (r != -EINVAL)
                fail_msg("%s: %d, want -EINVAL", paths[i].in, r);
            continue;
        }
        if (r != 0)
            fail_msg("%s: %d", paths[i].in, r);
        assert_str((eddy_str){out, len}, paths[i].out, strlen(paths[i].out));
        assert_true(len <= n);
        /* In place, out == path. */
        memcpy(inplace, paths[i].in, n);
        assert_int_equal(eddy_path_decode(inplace, n, inplace, &len), 0);
        assert_str((eddy_str){inplace, len}, paths[i].out,
                   strlen(paths[i].out));
    }
}

static void path_decode_bad_calls(void **state)
{
    char out[8];
    size_t n;

    (void)state;
    assert_int_equal(eddy_path_decode(NULL, 1, out, &n), -EINVAL);
    assert_int_equal(eddy_path_decode("/", 1, NULL, &n), -EINVAL);
    assert_int_equal(eddy_path_decode("/", 1, out, NULL), -EINVAL);
    assert_int_equal(eddy_path_decode("/", 1, out, &n), 0);
    assert_int_equal(n, 1);
}

/* Every byte after '/' and every byte as "%XX": refused exactly when the
 * rules say. */
static void path_every_byte(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        char raw[2] = {'/', (char)c}, enc[8], out[4];
        size_t n;
        int raw_ok = c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '%';
        int r = eddy_path_decode(G(raw, 2), 2, out, &n);

        assert_int_equal(r, raw_ok ? 0 : -EINVAL);
        snprintf(enc, sizeof enc, "/%%%02X", c);
        r = eddy_path_decode(G(enc, 4), 4, out, &n);
        if (c == 0 || c == '/') {
            assert_int_equal(r, -EINVAL);
        } else {
            assert_int_equal(r, 0);
            /* "%2E" alone is a dot segment: "/". */
            assert_int_equal(n, c == '.' ? 1 : 2);
            if (c != '.')
                assert_int_equal((unsigned char)out[1], c);
        }
    }
}

/* ======================================================================
 * Route patterns (internal)
 * ====================================================================== */

static eddy__pattern *compile(const char *p)
{
    eddy__pattern *pt = NULL;

    assert_int_equal(eddy__pattern_compile(G(p, strlen(p)), strlen(p), &pt), 0);
    return pt;
}

static void pattern_compile_errors(void **state)
{
    static const char *const bad[] = {
        "",         "a",       "/{",      "/{}",    "/{1a}",
        "/{a",      "/a}",     "/{a}{b}", "/x{a}",  "/{a}x",
        "/{a}/{a}", "/{a*}/b", "/{*}",    "/{a-b}", "/./a",
        "/../a",    "/a/.",    "/{ a}",   "/{a**}", "/a/{b}/{c*}/",
    };
    eddy__pattern *pt = NULL;
    char name[80] = "/{";

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        size_t n = strlen(bad[i]);

        if (eddy__pattern_compile(G(bad[i], n), n, &pt) != -EINVAL)
            fail_msg("%s compiled", bad[i]);
    }
    assert_int_equal(eddy__pattern_compile(NULL, 1, &pt), -EINVAL);
    assert_int_equal(eddy__pattern_compile("/", 1, NULL), -EINVAL);
    assert_int_equal(eddy__pattern_compile("/a\0b", 4, &pt), -EINVAL);
    /* 64 characters is the longest name. */
    memset(name + 2, 'a', 64);
    strcpy(name + 66, "}");
    pt = compile(name);
    assert_int_equal(eddy__pattern_nparams(pt), 1);
    eddy__pattern_free(pt);
    memset(name + 2, 'a', 65);
    strcpy(name + 67, "}");
    assert_int_equal(eddy__pattern_compile(name, strlen(name), &pt), -EINVAL);
}

/* Whether pattern matches path, and the parameters it captured, as
 * "name=value;..." */
static int match(const char *pattern, const char *path, char *caps, size_t size)
{
    eddy__pattern *pt = compile(pattern);
    eddy__path_param params[8];
    size_t n = strlen(path), used = 0;
    int r;

    assert_true(eddy__pattern_nparams(pt) <= 8);
    r = eddy__pattern_match(pt, G(path, n), n, params);
    caps[0] = '\0';
    for (size_t i = 0; r == 0 && i < eddy__pattern_nparams(pt); i++)
        used += (size_t)snprintf(caps + used, size - used, "%.*s=%.*s;",
                                 (int)params[i].name.len, params[i].name.p,
                                 (int)params[i].value.len, params[i].value.p);
    eddy__pattern_free(pt);
    return r;
}

static void pattern_match(void **state)
{
    static const struct {
        const char *pattern, *path, *caps; /* caps NULL: no match */
    } cases[] = {
        {"/", "/", ""},
        {"/", "/a", NULL},
        {"/a/b", "/a/b", ""},
        {"/a/b", "/a/b/", NULL},
        {"/a/b", "/a", NULL},
        {"/a/", "/a/", ""},
        {"/a/", "/a", NULL},
        {"/items/{id}", "/items/42", "id=42;"},
        {"/items/{id}", "/items/", NULL},
        {"/items/{id}", "/items", NULL},
        {"/items/{id}", "/items/4/2", NULL},
        {"/items/{id}", "/items/42/", NULL},
        {"/items/{id}", "/itemz/42", NULL},
        {"/{a}/x/{b_2}", "/1/x/2", "a=1;b_2=2;"},
        {"/{a}/x/{b_2}", "/1/y/2", NULL},
        {"/files/{path*}", "/files/", "path=;"},
        {"/files/{path*}", "/files/a/b.txt", "path=a/b.txt;"},
        {"/files/{path*}", "/files/a//", "path=a//;"},
        {"/files/{path*}", "/files", NULL},
        {"/files/{path*}", "/filesx/a", NULL},
        {"/{all*}", "/", "all=;"},
        {"/{all*}", "/a/b", "all=a/b;"},
        {"/u/{id}/{rest*}", "/u/7/a/b", "id=7;rest=a/b;"},
        {"/u/{id}/{rest*}", "/u//a", NULL},
        {"/a", "", NULL},
        {"/a", "a", NULL},
        {"/a b/{x}", "/a b/\xff", "x=\xff;"},
    };
    char caps[256];

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        int r = match(cases[i].pattern, cases[i].path, caps, sizeof caps);

        if (cases[i].caps == NULL ? r != -ENOENT
                                  : r != 0 || strcmp(caps, cases[i].caps))
            fail_msg("%s vs %s: %d \"%s\"", cases[i].pattern, cases[i].path, r,
                     caps);
    }
}

static void pattern_params(void **state)
{
    eddy__pattern *pt = compile("/{x}/{y}");
    eddy__path_param params[2];
    eddy_str v = {"d", 1};

    (void)state;
    assert_int_equal(eddy__pattern_nparams(pt), 2);
    assert_int_equal(eddy__pattern_match(pt, S("/1/22"), params), 0);
    assert_int_equal(eddy__path_param_get(params, 2, "y", &v), 0);
    assert_eq_str(v, "22");
    assert_int_equal(eddy__path_param_get(params, 2, "x", &v), 0);
    assert_eq_str(v, "1");
    assert_int_equal(eddy__path_param_get(params, 2, "z", &v), -ENOENT);
    assert_eq_str(v, "1");
    eddy__pattern_free(pt);
    /* A pattern without parameters takes NULL. */
    pt = compile("/a");
    assert_int_equal(eddy__pattern_match(pt, S("/a"), NULL), 0);
    eddy__pattern_free(pt);
}

/* ======================================================================
 * Cookies
 * ====================================================================== */

/* All pairs of header as "name=value|". */
static void cookies(const char *header, const char *want)
{
    size_t n = strlen(header), pos = 0, used = 0;
    const char *h = G(header, n);
    char got[512];
    eddy_str name, value;
    int r;

    got[0] = '\0';
    while ((r = eddy_cookie_next(h, n, &pos, &name, &value)) == 0) {
        assert_true(pos <= n);
        assert_true(name.p >= h && name.p + name.len <= h + n);
        assert_true(value.p >= h && value.p + value.len <= h + n);
        used +=
            (size_t)snprintf(got + used, sizeof got - used, "%.*s=%.*s|",
                             (int)name.len, name.p, (int)value.len, value.p);
    }
    assert_int_equal(r, -ENOENT);
    assert_int_equal(pos, n);
    if (strcmp(got, want) != 0)
        fail_msg("[%s]: got %s, want %s", header, got, want);
    /* And -ENOENT again, at the end. */
    assert_int_equal(eddy_cookie_next(h, n, &pos, &name, &value), -ENOENT);
}

static void cookie_parse(void **state)
{
    (void)state;
    cookies("", "");
    cookies("a=1", "a=1|");
    cookies("a=1; b=2", "a=1|b=2|");
    cookies("a=1;b=2;", "a=1|b=2|");
    cookies(" a = 1 ;\tb=\"x y\" ", "a=1|b=x y|");
    cookies("q=\"\"; r=\"; s=a\"b; t=\"\"\"", "q=|r=\"|s=a\"b|t=\"|");
    cookies("e=; f==; g=a=b", "e=|f==|g=a=b|");
    /* Malformed pairs are skipped, the rest kept. */
    cookies("novalue; =x; a b=1; c=\x01; d=ok; (x)=1; e=a\tb; f=\x7f", "d=ok|");
    cookies(";;; ; x=1 ;;", "x=1|");
    cookies("u=caf\xc3\xa9, more", "u=caf\xc3\xa9, more|");
    cookies("__Host-id=1; $Version=1", "__Host-id=1|$Version=1|");
}

static void cookie_get(void **state)
{
    const char *h = G(S("a=1; b=2; a=3; bad b=4; c=\"q\""));
    size_t n = sizeof "a=1; b=2; a=3; bad b=4; c=\"q\"" - 1;
    eddy_str v = {"default", 7};

    (void)state;
    assert_int_equal(eddy_cookie_get(h, n, "a", &v), 0);
    assert_eq_str(v, "1"); /* the first, as browsers order them */
    assert_int_equal(eddy_cookie_get(h, n, "c", &v), 0);
    assert_eq_str(v, "q");
    v.p = "default";
    v.len = 7;
    assert_int_equal(eddy_cookie_get(h, n, "b=4", &v), -ENOENT);
    assert_int_equal(eddy_cookie_get(h, n, "A", &v), -ENOENT);
    assert_int_equal(eddy_cookie_get(h, n, "", &v), -ENOENT);
    assert_eq_str(v, "default");
    assert_int_equal(eddy_cookie_get(h, n, NULL, &v), -EINVAL);
    assert_int_equal(eddy_cookie_get(h, n, "a", NULL), -EINVAL);
    assert_int_equal(eddy_cookie_get(NULL, 0, "a", &v), -ENOENT);
    {
        size_t pos = 0;
        eddy_str name;

        assert_int_equal(eddy_cookie_next(h, n, NULL, &name, &v), -EINVAL);
        assert_int_equal(eddy_cookie_next(h, n, &pos, NULL, &v), -EINVAL);
        assert_int_equal(eddy_cookie_next(h, n, &pos, &name, NULL), -EINVAL);
        assert_int_equal(eddy_cookie_next(NULL, 1, &pos, &name, &v), -EINVAL);
        assert_int_equal(eddy_cookie_next(h, n, &pos, &name, &v), 0);
        assert_eq_str(name, "a");
        /* pos past the end is the end. */
        pos = n + 5;
        assert_int_equal(eddy_cookie_next(h, n, &pos, &name, &v), -ENOENT);
    }
}

/* Formats c and checks the result. */
static void set_cookie(const eddy_cookie *c, const char *want)
{
    char buf[512];
    size_t len = 0;

    assert_int_equal(eddy_cookie_format(c, buf, sizeof buf, &len), 0);
    assert_int_equal(len, strlen(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("got %s, want %s", buf, want);
}

static void cookie_format(void **state)
{
    eddy_cookie c = {0};
    char buf[64];
    size_t len = 0;

    (void)state;
    c.name = "id";
    c.value = "a1";
    set_cookie(&c, "id=a1");
    c.value = NULL;
    set_cookie(&c, "id=");
    c.value = "!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~";
    set_cookie(&c, "id=!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~");
    c.value = "v";
    c.flags = EDDY_COOKIE_EXPIRES | EDDY_COOKIE_MAX_AGE | EDDY_COOKIE_SECURE |
              EDDY_COOKIE_HTTPONLY | EDDY_COOKIE_SAMESITE_LAX;
    c.expires = 784111777;
    c.max_age = 3600;
    c.domain = "example.com";
    c.path = "/a b";
    set_cookie(&c, "id=v; Expires=Sun, 06 Nov 1994 08:49:37 GMT; "
                   "Max-Age=3600; Domain=example.com; Path=/a b; Secure; "
                   "HttpOnly; SameSite=Lax");
    c.flags = EDDY_COOKIE_MAX_AGE | EDDY_COOKIE_SAMESITE_STRICT;
    c.max_age = 0;
    c.domain = NULL;
    c.path = NULL;
    set_cookie(&c, "id=v; Max-Age=0; SameSite=Strict");
    c.flags =
        EDDY_COOKIE_MAX_AGE | EDDY_COOKIE_SAMESITE_NONE | EDDY_COOKIE_SECURE;
    c.max_age = INT64_MAX;
    set_cookie(&c, "id=v; Max-Age=9223372036854775807; Secure; SameSite=None");
    c.flags = EDDY_COOKIE_SECURE;
    c.name = "__Secure-x";
    set_cookie(&c, "__Secure-x=v; Secure");
    c.name = "__Host-x";
    c.path = "/";
    set_cookie(&c, "__Host-x=v; Path=/; Secure");
    /* -ENOSPC: *len says how long; a buffer of len + 1 then does it. */
    c.name = "n";
    c.path = NULL;
    c.flags = 0;
    assert_int_equal(eddy_cookie_format(&c, NULL, 0, &len), -ENOSPC);
    assert_int_equal(len, 3);
    assert_int_equal(eddy_cookie_format(&c, buf, 3, &len), -ENOSPC);
    assert_int_equal(len, 3);
    assert_int_equal(eddy_cookie_format(&c, buf, len + 1, &len), 0);
    assert_string_equal(buf, "n=v");
}

static void cookie_format_refused(void **state)
{
    static const char *const names[] = {"",       "a b", "a;b", "a=b",
                                        "a\r\nb", "a\"", "a,b", "\xc3\xa9",
                                        "a\tb",   "(a)"};
    static const char *const values[] = {"a b",  "a;b",      "a\"",  "a,b",
                                         "a\\b", "a\r",      "a\n",  "\x7f",
                                         "\x01", "\xc3\xa9", "\"q\""};
    static const char *const domains[] = {"",    "a;b", "a b",         "a\r\n",
                                          "a_b", "a/b", "\xc3\xa9.com"};
    static const char *const cpaths[] = {"",           "a",     "/a;b",
                                         "/a\r\nX: y", "/\x7f", "/\x80"};
    eddy_cookie good = {0}, c;
    char buf[64];
    size_t len = 99;

    (void)state;
    good.name = "n";
    good.value = "v";
    memset(buf, 'Z', sizeof buf);
    for (size_t i = 0; i < COUNT(names); i++) {
        c = good;
        c.name = names[i];
        assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len),
                         -EINVAL);
    }
    for (size_t i = 0; i < COUNT(values); i++) {
        c = good;
        c.value = values[i];
        assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len),
                         -EINVAL);
    }
    for (size_t i = 0; i < COUNT(domains); i++) {
        c = good;
        c.domain = domains[i];
        assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len),
                         -EINVAL);
    }
    for (size_t i = 0; i < COUNT(cpaths); i++) {
        c = good;
        c.path = cpaths[i];
        assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len),
                         -EINVAL);
    }
    c = good;
    c.name = NULL;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c = good;
    c.flags = EDDY_COOKIE_MAX_AGE;
    c.max_age = -1;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c = good;
    c.flags = EDDY_COOKIE_EXPIRES;
    c.expires = 253402300800LL; /* year 10000 */
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.expires = INT64_MIN;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c = good;
    c.flags = EDDY_COOKIE_SAMESITE_LAX | EDDY_COOKIE_SAMESITE_STRICT;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.flags = EDDY_COOKIE_SAMESITE_NONE; /* without Secure */
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.flags = 128;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    /* Prefixes, in any case. */
    c = good;
    c.name = "__secure-x";
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.name = "__HOST-x";
    c.flags = EDDY_COOKIE_SECURE;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.path = "/a";
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.path = "/";
    c.domain = "example.com";
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    c.domain = NULL;
    c.flags = 0;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), -EINVAL);
    assert_int_equal(eddy_cookie_format(NULL, buf, sizeof buf, &len), -EINVAL);
    assert_int_equal(eddy_cookie_format(&good, buf, sizeof buf, NULL), -EINVAL);
    /* Nothing was written, and *len untouched. */
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 'Z');
    assert_int_equal(len, 99);
    /* What the caller does next: fix the cookie and format it. */
    c.flags = EDDY_COOKIE_SECURE;
    assert_int_equal(eddy_cookie_format(&c, buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "__HOST-x=v; Path=/; Secure");
}

/* Every byte in every field: either refused, or the value written holds
 * no byte that could end the header or begin an attribute. */
static void cookie_no_injection(void **state)
{
    (void)state;
    for (unsigned ch = 1; ch < 256; ch++) {
        for (int field = 0; field < 4; field++) {
            char s[4] = {'/', 'a', (char)ch, 0}, buf[128];
            eddy_cookie c = {0};
            size_t len;
            int r;

            c.name = "n";
            c.value = "v";
            if (field == 0)
                c.name = s + 1;
            else if (field == 1)
                c.value = s + 1;
            else if (field == 2)
                c.domain = s + 1;
            else
                c.path = s;
            r = eddy_cookie_format(&c, buf, sizeof buf, &len);
            if (r == -EINVAL)
                continue;
            assert_int_equal(r, 0);
            for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)buf[i];

                assert_true(b >= 0x20 && b < 0x7f);
            }
            /* The only ';' are the attributes' own "; ". */
            for (const char *q = strchr(buf, ';'); q; q = strchr(q + 1, ';'))
                assert_int_equal(q[1], ' ');
            if (ch == ';')
                fail_msg("';' taken in field %d", field);
        }
    }
}

/* ======================================================================
 * multipart/form-data
 * ====================================================================== */

static void boundary(void **state)
{
    static const struct {
        const char *ct, *b; /* b NULL: the error */
        int err;
    } cases[] = {
        {"multipart/form-data; boundary=abc", "abc", 0},
        {"multipart/form-data;boundary=abc", "abc", 0},
        {"Multipart/Form-Data; BOUNDARY=x", "x", 0},
        {"multipart/form-data; boundary=\"a b:c\"", "a b:c", 0},
        {"multipart/form-data; charset=utf-8; boundary=z; x=1", "z", 0},
        {"multipart/form-data; x=\"a\\\"b;boundary=q\"; boundary=z", "z", 0},
        {"multipart/form-data; ; boundary=z;", "z", 0},
        {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
         "----WebKitFormBoundary7MA4YWxkTrZu0gW", 0},
        {"multipart/form-data; boundary="
         "0123456789012345678901234567890123456789012345678901234567890123456"
         "789",
         "0123456789012345678901234567890123456789012345678901234567890123456"
         "789",
         0},
        {"text/plain", NULL, -ENOTSUP},
        {"multipart/mixed; boundary=a", NULL, -ENOTSUP},
        {"multipart/form-datax; boundary=a", NULL, -ENOTSUP},
        {"", NULL, -ENOTSUP},
        {"multipart/form-data", NULL, -EINVAL},
        {"multipart/form-data;", NULL, -EINVAL},
        {"multipart/form-data; boundary=", NULL, -EINVAL},
        {"multipart/form-data; boundary=\"\"", NULL, -EINVAL},
        {"multipart/form-data; boundary=\"a \"", NULL, -EINVAL},
        {"multipart/form-data; boundary=\"a@b\"", NULL, -EINVAL},
        {"multipart/form-data; boundary=a@b", NULL, -EINVAL},
        {"multipart/form-data; boundary=\"a\\b\"", NULL, -EINVAL},
        {"multipart/form-data; boundary=\"ab", NULL, -EINVAL},
        {"multipart/form-data; boundary=a; boundary=a", NULL, -EINVAL},
        {"multipart/form-data; boundary = a", NULL, -EINVAL},
        {"multipart/form-data x", NULL, -EINVAL},
        {"multipart/form-data; boundary="
         "0123456789012345678901234567890123456789012345678901234567890123456"
         "7890",
         NULL, -EINVAL},
    };
    eddy_str b;

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t n = strlen(cases[i].ct);
        int r = eddy_multipart_boundary(G(cases[i].ct, n), n, &b);

        if (cases[i].b == NULL) {
            if (r != cases[i].err)
                fail_msg("%s: %d, want %d", cases[i].ct, r, cases[i].err);
            continue;
        }
        if (r != 0)
            fail_msg("%s: %d", cases[i].ct, r);
        assert_str(b, cases[i].b, strlen(cases[i].b));
    }
    assert_int_equal(eddy_multipart_boundary(NULL, 0, &b), -EINVAL);
    assert_int_equal(eddy_multipart_boundary("", 0, NULL), -EINVAL);
}

/* What a parser reported, as text: "{i name file ct}" at begin (file and
 * ct "-" when absent), the data as it came, "." at end. */
typedef struct rec {
    char *log;
    size_t len, cap;
    int fail_at;   /* fail the fail_at-th callback (1-based; 0: none) */
    int fail_with; /* with this */
    int calls;
    const char *lo, *hi; /* the piece being fed */
    size_t outside;      /* data bytes not from the piece (held back) */
} rec;

static void rec_put(rec *r, const char *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->log = realloc(r->log, r->cap);
        assert_non_null(r->log);
    }
    memcpy(r->log + r->len, p, n);
    r->len += n;
}

static int rec_fail(rec *r)
{
    return ++r->calls == r->fail_at ? r->fail_with : 0;
}

static void put_str(rec *r, eddy_str s)
{
    if (s.p == NULL)
        rec_put(r, "-", 1);
    else
        rec_put(r, s.p, s.len);
}

static int rec_begin(const eddy_multipart_part *part, void *arg)
{
    rec *r = arg;
    char i[24];

    snprintf(i, sizeof i, "{%zu ", part->index);
    rec_put(r, i, strlen(i));
    put_str(r, part->name);
    rec_put(r, " ", 1);
    put_str(r, part->filename);
    rec_put(r, " ", 1);
    put_str(r, part->content_type);
    rec_put(r, "}", 1);
    assert_true(part->nheaders >= 1 && part->nheaders <= 16);
    return rec_fail(r);
}

static int rec_data(const char *p, size_t n, void *arg)
{
    rec *r = arg;

    assert_true(n > 0);
    if (!(p >= r->lo && p + n <= r->hi))
        r->outside += n;
    rec_put(r, p, n);
    return rec_fail(r);
}

static int rec_end(void *arg)
{
    rec *r = arg;

    rec_put(r, ".", 1);
    return rec_fail(r);
}

static const eddy_multipart_callbacks rec_cb = {rec_begin, rec_data, rec_end};

/* Feeds body[0, n) cut at cuts[0, ncuts) (increasing), each piece
 * against the guard page; the result of the last feed or of finish. */
static int feed_cut(const char *bnd, const eddy_multipart_limits *lim,
                    const char *body, size_t n, const size_t *cuts,
                    size_t ncuts, rec *r)
{
    eddy_multipart *mp = NULL;
    size_t at = 0;
    int ret = 0;

    memset(r, 0, sizeof *r);
    assert_int_equal(eddy_multipart_new(bnd, strlen(bnd), lim, &rec_cb, r, &mp),
                     0);
    for (size_t i = 0; i <= ncuts && ret == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        const char *piece = G(body + at, to - at);

        r->lo = piece;
        r->hi = piece + (to - at);
        ret = eddy_multipart_feed(mp, piece, to - at);
        at = to;
    }
    if (ret == 0)
        ret = eddy_multipart_finish(mp);
    else
        assert_int_equal(eddy_multipart_finish(mp), ret); /* sticky */
    eddy_multipart_free(mp);
    return ret;
}

/* A body that parses gives the same log however it is cut.  One that
 * fails may have handed over more or fewer bytes before the error (a
 * field's bytes in pieces, then the piece past its limit), but never
 * different ones: one log is a prefix of the other.  Frees r's. */
static void same_log(rec *r, const rec *whole, int want)
{
    size_t n = r->len < whole->len ? r->len : whole->len;

    if (want == 0)
        assert_str((eddy_str){r->log, r->len}, whole->log, whole->len);
    else if (n > 0)
        assert_memory_equal(r->log, whole->log, n);
    free(r->log);
}

/* The body every way: whole, byte by byte, cut at every k, and outside
 * valgrind at every pair of points; each way the same result and log. */
static void every_split(const char *bnd, const eddy_multipart_limits *lim,
                        const char *body, size_t n, int want,
                        const char *want_log, size_t want_len)
{
    rec whole, r;
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    int ret;

    assert_non_null(cuts);
    ret = feed_cut(bnd, lim, body, n, NULL, 0, &whole);
    if (ret != want)
        fail_msg("whole: %d, want %d", ret, want);
    if (want_log != NULL)
        assert_str((eddy_str){whole.log, whole.len}, want_log, want_len);
    assert_int_equal(whole.outside, 0); /* zero-copy when whole */
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    ret = feed_cut(bnd, lim, body, n, cuts, n ? n - 1 : 0, &r);
    assert_int_equal(ret, want);
    same_log(&r, &whole, want);
    for (size_t k = 1; k < n; k++) {
        cuts[0] = k;
        assert_int_equal(feed_cut(bnd, lim, body, n, cuts, 1, &r), want);
        same_log(&r, &whole, want);
    }
    for (size_t j = 2; !tu_valgrind() && n <= 600 && j < n; j++) {
        for (size_t k = 1; k < j; k++) {
            cuts[0] = k;
            cuts[1] = j;
            assert_int_equal(feed_cut(bnd, lim, body, n, cuts, 2, &r), want);
            same_log(&r, &whole, want);
        }
    }
    free(whole.log);
    free(cuts);
}

/* Every way, checking the whole feed's log (a string literal). */
#define SPLITS(bnd, lim, body, want, log)                                      \
    every_split((bnd), (lim), S(body), (want), S(log))
/* Every way, the logs only compared between the ways. */
#define SPLITS_ANY(bnd, lim, body, want)                                       \
    every_split((bnd), (lim), S(body), (want), NULL, 0)

static const char form[] =
    "preamble, ignored\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"a\"\r\n"
    "\r\n"
    "1\r\n"
    "--XyZ  \t\r\n"
    "content-disposition: FORM-DATA; filename=\"a\\\"b.txt\"; name=f\r\n"
    "Content-Type: text/plain\r\n"
    "X-Other:  kept \r\n"
    "\r\n"
    "l1\r\nl2\r\n--Xy\r\n\r\r\n-\r\n--XY\n--XyZ a--XyZ\r--XyZ\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue, ignored --XyZ\r\n";

static const char form_log[] =
    "{0 a - -}1."
    "{1 f a\"b.txt text/plain}"
    "l1\r\nl2\r\n--Xy\r\n\r\r\n-\r\n--XY\n--XyZ a--XyZ\r--XyZ."
    "{2 empty - -}.";

static void multipart_form(void **state)
{
    (void)state;
    SPLITS("XyZ", NULL, form, 0, form_log);
}

static void multipart_shapes(void **state)
{
    (void)state;
    /* No preamble; no parts at all; CRLF before the first delimiter. */
    SPLITS("b", NULL,
           "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--", 0,
           "{0 x - -}v.");
    SPLITS("b", NULL, "--b--", 0, "");
    SPLITS("b", NULL, "\r\n--b--\r\n", 0, "");
    /* An empty filename is a file input left empty. */
    SPLITS("b", NULL,
           "--b\r\nContent-Disposition: form-data; name=\"f\"; "
           "filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
           "\r\n--b--",
           0, "{0 f  application/octet-stream}.");
    /* filename* is ignored (RFC 7578 4.2); a backslash before other bytes
     * stays (old browsers' Windows paths); "\\" is one. */
    SPLITS("b", NULL,
           "--b\r\nContent-Disposition: form-data; name=\"n\\\\\"; "
           "filename*=UTF-8''x; filename=\"C:\\dir\\a.txt\"\r\n\r\n"
           "\r\n--b--",
           0, "{0 n\\ C:\\dir\\a.txt -}.");
    /* Binary data, and a data piece that is only CR. */
    SPLITS("bb", NULL,
           "--bb\r\nContent-Disposition: form-data; name=z\r\n\r\n"
           "\r\r\r\n\r\n-\r\n--\r\n--b\x00\xff\r\r\n--bb--",
           0, "{0 z - -}\r\r\r\n\r\n-\r\n--\r\n--b\x00\xff\r.");
    /* A close delimiter with padding, and the epilogue. */
    SPLITS("b", NULL,
           "--b \r\nContent-Disposition: form-data; name=x\r\n\r\n"
           "\r\n--b--  junk\r\n--b\r\nmore",
           0, "{0 x - -}.");
    /* 16 header fields is the most. */
    SPLITS("b", NULL,
           "--b\r\nContent-Disposition: form-data; name=x\r\n"
           "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\nA:8\r\nA:9\r\n"
           "A:10\r\nA:11\r\nA:12\r\nA:13\r\nA:14\r\nA:15\r\n\r\n\r\n--b--",
           0, "{0 x - -}.");
}

static void multipart_malformed(void **state)
{
    static const char *const bad[] = {
        /* No Content-Disposition, or not form-data, or no name. */
        "--b\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Disposition: form-data; filename=x\r\n\r\n\r\n--b--",
        /* Twice. */
        "--b\r\nContent-Disposition: form-data; name=x\r\n"
        "Content-Disposition: form-data; name=y\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x; name=y\r\n\r\n"
        "\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x; filename=a; "
        "filename=b\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x\r\nContent-Type: a\r\n"
        "Content-Type: b\r\n\r\n\r\n--b--",
        /* Malformed parameters. */
        "--b\r\nContent-Disposition: form-data; name = x\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data name=x\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x;;\r\n\r\n\r\n--b--",
        /* Malformed header lines: no colon, space before it, obs-fold,
         * bare LF, a control character. */
        "--b\r\nContent-Disposition: form-data; name=x\r\nNoColon\r\n\r\n"
        "\r\n--b--",
        "--b\r\nContent-Disposition : form-data; name=x\r\n\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data;\r\n name=x\r\n\r\n\r\n--b--",
        "--b\r\nX: 1\nContent-Disposition: form-data; name=x\r\n\r\n"
        "\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x\r\nX: a\x01\r\n\r\n"
        "\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=x\r\nX: a\rb\r\n\r\n"
        "\r\n--b--",
        /* What may follow a delimiter. */
        "--bX\r\n",
        "--b-\r\n",
        "--b \r \n",
        "--b\r\r\n",
        "--b\n",
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--bb",
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b -",
    };

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++)
        every_split("b", NULL, bad[i], strlen(bad[i]), -EBADMSG, NULL, 0);
}

static void multipart_truncated(void **state)
{
    size_t done = (size_t)(strstr(form, "--XyZ--") - form) + 7;
    rec r;

    (void)state;
    /* Every prefix of a valid body without its closing delimiter is cut
     * short: -EPROTO from finish; with it, the epilogue may be cut. */
    for (size_t k = 0; k < sizeof form; k++) {
        assert_int_equal(feed_cut("XyZ", NULL, form, k, NULL, 0, &r),
                         k < done ? -EPROTO : 0);
        free(r.log);
    }
    SPLITS("b", NULL, "", -EPROTO, "");
    SPLITS("b", NULL, "just a preamble\r\n--c--", -EPROTO, "");
    SPLITS("b", NULL, "x--b--", -EPROTO, "");
    SPLITS("b", NULL, "--b-", -EPROTO, "");
    SPLITS("b", NULL, "--b\r\nContent-Disposition: form-data; name=x\r\n",
           -EPROTO, "");
}

static void multipart_limits(void **state)
{
    eddy_multipart_limits parts = {2, 0, 0}, header = {0, 64, 0},
                          field = {0, 0, 4};
    static const char two[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n"
        "--b\r\nContent-Disposition: form-data; name=y\r\n\r\n\r\n--b--";
    static const char three[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n"
        "--b\r\nContent-Disposition: form-data; name=y\r\n\r\n\r\n"
        "--b\r\nContent-Disposition: form-data; name=z\r\n\r\n\r\n--b--";
    /* Header blocks of 40 + 22 + 2 and 40 + 23 + 2 bytes. */
    static const char hdr64[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n"
        "X-Pad: 1234567890123\r\n\r\n\r\n--b--";
    static const char hdr65[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n"
        "X-Pad: 12345678901234\r\n\r\n\r\n--b--";
    static const char hdr17[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n"
        "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\nA:8\r\nA:9\r\n"
        "A:10\r\nA:11\r\nA:12\r\nA:13\r\nA:14\r\nA:15\r\nA:16\r\n\r\n--b--";
    static const char field4[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabcd\r\n--b--";
    static const char field5[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabcde\r\n--b--";
    static const char file5[] =
        "--b\r\nContent-Disposition: form-data; name=x; filename=f\r\n\r\n"
        "abcde\r\n--b--";

    (void)state;
    SPLITS("b", &parts, two, 0, "{0 x - -}.{1 y - -}.");
    SPLITS("b", &parts, three, -E2BIG, "{0 x - -}.{1 y - -}.");
    SPLITS("b", &header, hdr64, 0, "{0 x - -}.");
    SPLITS("b", &header, hdr65, -EMSGSIZE, "");
    SPLITS("b", NULL, hdr17, -EMSGSIZE, "");
    SPLITS("b", &field, field4, 0, "{0 x - -}abcd.");
    SPLITS_ANY("b", &field, field5, -EFBIG);
    SPLITS("b", &field, file5, 0, "{0 x f -}abcde.");
}

static void multipart_callback_errors(void **state)
{
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nab\r\n--b--";
    eddy_multipart *mp;
    rec r;

    (void)state;
    /* Callbacks 1 (begin), 2 (data), 3 (end) each stop the parser. */
    for (int at = 1; at <= 3; at++) {
        for (int k = 0; k < 2; k++) {
            memset(&r, 0, sizeof r);
            r.fail_at = at;
            r.fail_with = k == 0 ? -EIO : 7;
            assert_int_equal(eddy_multipart_new(S("b"), NULL, &rec_cb, &r, &mp),
                             0);
            r.lo = body;
            r.hi = body + sizeof body - 1;
            assert_int_equal(eddy_multipart_feed(mp, S(body)),
                             k == 0 ? -EIO : -ECANCELED);
            /* No callback after that; the same error from then on. */
            assert_int_equal(r.calls, at);
            assert_int_equal(eddy_multipart_feed(mp, S("x")),
                             k == 0 ? -EIO : -ECANCELED);
            assert_int_equal(eddy_multipart_finish(mp),
                             k == 0 ? -EIO : -ECANCELED);
            assert_int_equal(r.calls, at);
            eddy_multipart_free(mp);
            free(r.log);
        }
    }
}

static int count_data(const char *p, size_t n, void *arg)
{
    (void)p;
    *(uint64_t *)arg += n;
    return 0;
}

/* A part far larger than memory could hold whole goes through in pieces
 * handed over from the caller's buffer. */
static void multipart_large(void **state)
{
    static const eddy_multipart_callbacks cb = {NULL, count_data, NULL};
    static const char head[] =
        "--b0123456789\r\nContent-Disposition: form-data; name=f; "
        "filename=big\r\n\r\n";
    size_t chunk = 64 * 1024;
    uint64_t total = tu_valgrind() ? 8u << 20 : 256u << 20, got = 0;
    char *buf = malloc(chunk);
    eddy_multipart *mp;

    (void)state;
    assert_non_null(buf);
    /* Near misses of the delimiter throughout. */
    for (size_t i = 0; i < chunk; i++)
        buf[i] = "\r\n--b012345678\r\n-x"[i % 18];
    assert_int_equal(eddy_multipart_new(S("b0123456789"), NULL, &cb, &got, &mp),
                     0);
    assert_int_equal(eddy_multipart_feed(mp, S(head)), 0);
    for (uint64_t sent = 0; sent < total; sent += chunk)
        assert_int_equal(eddy_multipart_feed(mp, buf, chunk), 0);
    assert_int_equal(eddy_multipart_feed(mp, S("\r\n--b0123456789--")), 0);
    assert_int_equal(eddy_multipart_finish(mp), 0);
    assert_true(got == total);
    eddy_multipart_free(mp);
    free(buf);
}

static void multipart_bad_calls(void **state)
{
    eddy_multipart_limits huge = {0, SIZE_MAX / 2, 0};
    eddy_multipart *mp = NULL;

    (void)state;
    assert_int_equal(eddy_multipart_new(NULL, 1, NULL, &rec_cb, NULL, &mp),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b", 0, NULL, &rec_cb, NULL, &mp),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b ", 2, NULL, &rec_cb, NULL, &mp),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b@", 2, NULL, &rec_cb, NULL, &mp),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b", 1, NULL, NULL, NULL, &mp),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b", 1, NULL, &rec_cb, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_multipart_new("b", 1, &huge, &rec_cb, NULL, &mp),
                     -ENOMEM);
    assert_null(mp);
    /* Then a good one; NULL data with len 0 is nothing; all callbacks
     * may be NULL. */
    {
        static const eddy_multipart_callbacks none = {NULL, NULL, NULL};

        assert_int_equal(eddy_multipart_new("b", 1, NULL, &none, NULL, &mp), 0);
        assert_int_equal(eddy_multipart_feed(mp, NULL, 0), 0);
        assert_int_equal(eddy_multipart_feed(mp, NULL, 1), -EINVAL);
        assert_int_equal(
            eddy_multipart_feed(
                mp, S("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv"
                      "\r\n--b--")),
            0);
        assert_int_equal(eddy_multipart_finish(mp), 0);
        eddy_multipart_free(mp);
    }
    eddy_multipart_free(NULL);
}

/* ======================================================================
 * Body arguments
 * ====================================================================== */

static void body_args(void **state)
{
    static const char mp_ct[] = "multipart/form-data; boundary=b";
    static const char mp_body[] =
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n"
        "file bytes\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"c d\"\r\n\r\nx+y%41"
        "\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\n2\r\n--b--";
    eddy_args *a = (eddy_args *)1;
    eddy_str n, v;

    (void)state;
    assert_int_equal(
        eddy_args_parse_body(G(S("application/x-www-form-urlencoded")),
                             sizeof "application/x-www-form-urlencoded" - 1,
                             S("a=1&b=x+y"), 0, NULL, &a),
        0);
    assert_int_equal(eddy_args_count(a), 2);
    assert_int_equal(eddy_args_get(a, "b", &v), 0);
    assert_eq_str(v, "x y");
    eddy_args_free(a);
    assert_int_equal(
        eddy_args_parse_body(S(" Application/X-WWW-Form-Urlencoded ; "
                               "charset=UTF-8"),
                             S("k=%zz"), EDDY_ARGS_KEEP_BAD_ESCAPES, NULL, &a),
        0);
    assert_int_equal(eddy_args_get(a, "k", &v), 0);
    assert_eq_str(v, "%zz");
    eddy_args_free(a);
    /* Multipart: the fields, as sent (no percent-decoding), files not. */
    assert_int_equal(eddy_args_parse_body(S(mp_ct), G(S(mp_body)),
                                          sizeof mp_body - 1, 0, NULL, &a),
                     0);
    assert_int_equal(eddy_args_count(a), 3);
    assert_int_equal(eddy_args_at(a, 1, &n, &v), 0);
    assert_eq_str(n, "c d");
    assert_eq_str(v, "x+y%41");
    assert_int_equal(eddy_args_get(a, "a", &v), 0);
    assert_eq_str(v, "2");
    assert_int_equal(eddy_args_get(a, "f", &v), -ENOENT);
    eddy_args_free(a);
}

static void body_args_errors(void **state)
{
    static const char mp_ct[] = "multipart/form-data; boundary=b";
    static const char latin1[] =
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\xe9\r\n--b--";
    eddy_args_limits one = {1, 0}, small = {0, 10};
    eddy_args *a = (eddy_args *)1;
    char *big;
    size_t n;

    (void)state;
    assert_int_equal(
        eddy_args_parse_body(S("text/plain"), S("a=1"), 0, NULL, &a), -ENOTSUP);
    assert_null(a);
    assert_int_equal(eddy_args_parse_body(NULL, 0, S("a=1"), 0, NULL, &a),
                     -ENOTSUP);
    assert_int_equal(eddy_args_parse_body(S("application/x-www-form-"
                                            "urlencodedx"),
                                          S("a=1"), 0, NULL, &a),
                     -ENOTSUP);
    assert_int_equal(eddy_args_parse_body(S(mp_ct), S("a=1"), 0, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_args_parse_body(S(mp_ct), S("a=1"), 64, NULL, &a),
                     -EINVAL);
    assert_int_equal(eddy_args_parse_body(S(mp_ct), NULL, 1, 0, NULL, &a),
                     -EINVAL);
    assert_int_equal(
        eddy_args_parse_body(S("multipart/form-data"), S("x"), 0, NULL, &a),
        -EINVAL);
    assert_int_equal(
        eddy_args_parse_body(S(mp_ct), S("--b\r\n\r\n"), 0, NULL, &a),
        -EBADMSG);
    assert_int_equal(eddy_args_parse_body(S(mp_ct), S("--b"), 0, NULL, &a),
                     -EPROTO);
    assert_int_equal(
        eddy_args_parse_body(S(mp_ct), S(latin1), EDDY_ARGS_UTF8, NULL, &a),
        -EILSEQ);
    assert_null(a);
    assert_int_equal(eddy_args_parse_body(S(mp_ct), S(latin1), 0, &small, &a),
                     -EMSGSIZE);
    assert_int_equal(
        eddy_args_parse_body(
            S(mp_ct),
            S("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
              "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n\r\n"
              "--b--"),
            0, &one, &a),
        -E2BIG);
    assert_int_equal(
        eddy_args_parse_body(S("application/x-www-form-urlencoded"), S("a&b"),
                             0, &one, &a),
        -E2BIG);
    /* The default field limit, 1 MiB. */
    n = (1u << 20) + 200;
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'v', n);
    memcpy(big, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n", 47);
    memcpy(big + n - 7, "\r\n--b--", 7);
    {
        eddy_args_limits roomy = {0, 4u << 20};

        assert_int_equal(eddy_args_parse_body(S(mp_ct), big, n, 0, &roomy, &a),
                         -EFBIG);
        /* 1 MiB exactly is taken. */
        memcpy(big + 47 + (1u << 20), "\r\n--b--", 7);
        assert_int_equal(eddy_args_parse_body(
                             S(mp_ct), big, 47 + (1u << 20) + 7, 0, &roomy, &a),
                         0);
        assert_int_equal(eddy_args_get(a, "a", &(eddy_str){0}), 0);
        eddy_args_free(a);
    }
    free(big);
}

/* ======================================================================
 * Dates
 * ====================================================================== */

static void date_format(void **state)
{
    static const struct {
        int64_t t;
        const char *s;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT"},
        {-62167219200LL, "Sat, 01 Jan 0000 00:00:00 GMT"},
        {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"},
        {-2208988800LL, "Mon, 01 Jan 1900 00:00:00 GMT"},
    };
    char buf[EDDY_HTTP_DATE_SIZE];

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        assert_int_equal(eddy_http_date_format(cases[i].t, buf), 0);
        assert_string_equal(buf, cases[i].s);
    }
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(eddy_http_date_format(-62167219201LL, buf), -ERANGE);
    assert_int_equal(eddy_http_date_format(253402300800LL, buf), -ERANGE);
    assert_int_equal(eddy_http_date_format(INT64_MIN, buf), -ERANGE);
    assert_int_equal(eddy_http_date_format(INT64_MAX, buf), -ERANGE);
    assert_int_equal(buf[0], 'Z');
}

/* Against the C library across 1900..2100 (and a few thousand odd
 * seconds): format, and parse back in all three forms. */
static void date_against_libc(void **state)
{
    static const char *const longd[] = {"Sunday",    "Monday",   "Tuesday",
                                        "Wednesday", "Thursday", "Friday",
                                        "Saturday"};
    int64_t step = tu_valgrind() ? 86400 * 7 + 3607 : 86400 + 3607;

    (void)state;
    for (int64_t t = -2208988800LL; t < 4102444800LL; t += step) {
        time_t tt = (time_t)t;
        struct tm tm;
        char want[64], buf[EDDY_HTTP_DATE_SIZE], alt[64];
        int64_t back = 0;

        if ((int64_t)tt != t)
            continue; /* a 32-bit time_t */
        assert_non_null(gmtime_r(&tt, &tm));
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_int_equal(eddy_http_date_format(t, buf), 0);
        assert_string_equal(buf, want);
        assert_int_equal(eddy__http_date_parse_at(G(buf, 29), 29, t, &back), 0);
        assert_true(back == t);
        strftime(alt, sizeof alt, "%a %b %e %H:%M:%S %Y", &tm);
        assert_int_equal(eddy__http_date_parse_at(G(alt, 24), 24, t, &back), 0);
        assert_true(back == t);
        snprintf(alt, sizeof alt, "%s, %02d-%.3s-%02d %02d:%02d:%02d GMT",
                 longd[tm.tm_wday], tm.tm_mday, want + 8, tm.tm_year % 100,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_int_equal(eddy__http_date_parse_at(G(alt, strlen(alt)),
                                                  strlen(alt), t, &back),
                         0);
        assert_true(back == t);
    }
}

static void date_parse(void **state)
{
    static const char *const same[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",      "Sun Nov 06 08:49:37 1994",
        "Mon, 06 Nov 1994 08:49:37 GMT", /* the day name is not checked */
    };
    static const char *const bad[] = {
        "",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 30 Feb 2000 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 1994 08:49:3a GMT",
        "Sun, 06 Nov 199x 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sonntag, 06-Nov-94 08:49:37 GMT",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMTx",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",
        "Sun Nov   6 08:49:37 1994",
        "Sun  Nov 6 08:49:37 1994",
        "1994-11-06T08:49:37Z",
    };
    int64_t t = 5;

    (void)state;
    for (size_t i = 0; i < COUNT(same); i++) {
        size_t n = strlen(same[i]);

        t = 0;
        assert_int_equal(eddy_http_date_parse(G(same[i], n), n, &t), 0);
        assert_true(t == 784111777);
    }
    for (size_t i = 0; i < COUNT(bad); i++) {
        size_t n = strlen(bad[i]);

        t = 5;
        if (eddy_http_date_parse(G(bad[i], n), n, &t) != -EINVAL)
            fail_msg("%s parsed", bad[i]);
        assert_true(t == 5);
    }
    /* Leap years and a leap second. */
    assert_int_equal(
        eddy_http_date_parse(S("Tue, 29 Feb 2000 00:00:00 GMT"), &t), 0);
    assert_true(t == 951782400);
    assert_int_equal(
        eddy_http_date_parse(S("Sat, 31 Dec 2016 23:59:60 GMT"), &t), 0);
    assert_true(t == 1483228800);
    assert_int_equal(eddy_http_date_parse(NULL, 0, &t), -EINVAL);
    assert_int_equal(
        eddy_http_date_parse(S("Sun, 06 Nov 1994 08:49:37 GMT"), NULL),
        -EINVAL);
}

/* RFC 850's two-digit year: more than 50 years ahead is the century
 * before. */
static void date_two_digit_year(void **state)
{
    const int64_t y2020 = 1577836800, y2070 = 3155760000LL, y1960 = -315619200;
    int64_t t;

    (void)state;
    /* In 2020: 70 is 2070 (50 ahead), 71 is 1971, 00 is 2000. */
    assert_int_equal(eddy__http_date_parse_at(
                         S("Tuesday, 01-Jan-70 00:00:00 GMT"), y2020, &t),
                     0);
    assert_true(t == y2070);
    assert_int_equal(eddy__http_date_parse_at(
                         S("Friday, 01-Jan-71 00:00:00 GMT"), y2020, &t),
                     0);
    assert_true(t == 31536000);
    assert_int_equal(eddy__http_date_parse_at(
                         S("Saturday, 01-Jan-00 00:00:00 GMT"), y2020, &t),
                     0);
    assert_true(t == 946684800);
    /* In 1960: 10 is 2010 (50 ahead, not 50 back), 60 is 1960, 11 is
     * 1911 (49 back). */
    assert_int_equal(eddy__http_date_parse_at(
                         S("Friday, 01-Jan-10 00:00:00 GMT"), y1960, &t),
                     0);
    assert_true(t == 1262304000);
    assert_int_equal(eddy__http_date_parse_at(
                         S("Friday, 01-Jan-60 00:00:00 GMT"), y1960, &t),
                     0);
    assert_true(t == y1960);
    assert_int_equal(eddy__http_date_parse_at(
                         S("Sunday, 01-Jan-11 00:00:00 GMT"), y1960, &t),
                     0);
    assert_true(t == -1861920000);
    /* A clock outside 0000..9999 counts as 1970. */
    assert_int_equal(eddy__http_date_parse_at(
                         S("Friday, 01-Jan-71 00:00:00 GMT"), INT64_MAX, &t),
                     0);
    assert_true(t == 31536000);
}

/* ======================================================================
 * Ranges, entity tags, media types
 * ====================================================================== */

#define RANGE_OK 0

static void ranges(void **state)
{
    static const struct {
        const char *in;
        uint64_t size;
        int want;
        uint64_t first, last;
    } cases[] = {
        {"bytes=0-499", 10000, RANGE_OK, 0, 499},
        {"bytes=500-999", 10000, RANGE_OK, 500, 999},
        {"bytes=-500", 10000, RANGE_OK, 9500, 9999},
        {"bytes=9500-", 10000, RANGE_OK, 9500, 9999},
        {"bytes=0-0", 10000, RANGE_OK, 0, 0},
        {"bytes=-1", 10000, RANGE_OK, 9999, 9999},
        {"bytes=0-", 10000, RANGE_OK, 0, 9999},
        {"bytes=0-99999", 10000, RANGE_OK, 0, 9999},
        {"bytes=9999-99999", 10000, RANGE_OK, 9999, 9999},
        {"bytes=-20000", 10000, RANGE_OK, 0, 9999},
        {"BYTES=1-2", 10000, RANGE_OK, 1, 2},
        {"bytes= 1-2 ", 10000, RANGE_OK, 1, 2},
        {"bytes=1-2, ,", 10000, RANGE_OK, 1, 2},
        {"bytes=,1-2", 10000, RANGE_OK, 1, 2},
        {"bytes=0-0", 1, RANGE_OK, 0, 0},
        {"bytes=-5", 1, RANGE_OK, 0, 0},
        {"bytes=00000000000000000000000001-", 10, RANGE_OK, 1, 9},
        {"bytes=10000-", 10000, -ERANGE, 0, 0},
        {"bytes=10000-20000", 10000, -ERANGE, 0, 0},
        {"bytes=-0", 10000, -ERANGE, 0, 0},
        {"bytes=0-", 0, -ERANGE, 0, 0},
        {"bytes=-5", 0, -ERANGE, 0, 0},
        {"bytes=0-0", 0, -ERANGE, 0, 0},
        {"bytes=0-1,2-3", 10000, -ENOTSUP, 0, 0},
        {"bytes=0-1, -2", 10000, -ENOTSUP, 0, 0},
        {"bytes=10000-,20000-", 10000, -ENOTSUP, 0, 0},
        {"items=0-1", 10000, -ENOTSUP, 0, 0},
        {"bytesx=0-1", 10000, -ENOTSUP, 0, 0},
        {"bytes=5-4", 10000, -EINVAL, 0, 0},
        {"bytes=", 10000, -EINVAL, 0, 0},
        {"bytes= , ", 10000, -EINVAL, 0, 0},
        {"bytes", 10000, -EINVAL, 0, 0},
        {"=0-1", 10000, -EINVAL, 0, 0},
        {"by tes=0-1", 10000, -EINVAL, 0, 0},
        {"bytes=a-b", 10000, -EINVAL, 0, 0},
        {"bytes=1-2-3", 10000, -EINVAL, 0, 0},
        {"bytes=-", 10000, -EINVAL, 0, 0},
        {"bytes=1", 10000, -EINVAL, 0, 0},
        {"bytes=0 -1", 10000, -EINVAL, 0, 0},
        {"bytes=0- 1", 10000, -EINVAL, 0, 0},
        {"bytes=+1-2", 10000, -EINVAL, 0, 0},
        {"bytes=0x1-2", 10000, -EINVAL, 0, 0},
        {"bytes=--1", 10000, -EINVAL, 0, 0},
        {"bytes=1-2;", 10000, -EINVAL, 0, 0},
        {"bytes=0-1,5-4", 10000, -EINVAL, 0, 0},
        /* Past 4 GiB, and at the ends of 64 bits. */
        {"bytes=4294967296-", 8589934592ULL, RANGE_OK, 4294967296ULL,
         8589934591ULL},
        {"bytes=4294967295-4294967296", 8589934592ULL, RANGE_OK, 4294967295ULL,
         4294967296ULL},
        {"bytes=-4294967297", 8589934592ULL, RANGE_OK, 4294967295ULL,
         8589934591ULL},
        {"bytes=18446744073709551614-", UINT64_MAX, RANGE_OK,
         18446744073709551614ULL, 18446744073709551614ULL},
        {"bytes=18446744073709551615-", UINT64_MAX, -ERANGE, 0, 0},
        {"bytes=-18446744073709551615", UINT64_MAX, RANGE_OK, 0,
         18446744073709551614ULL},
        {"bytes=99999999999999999999999-", UINT64_MAX, -ERANGE, 0, 0},
        {"bytes=0-99999999999999999999999", 10, RANGE_OK, 0, 9},
        {"bytes=-99999999999999999999999", 10, RANGE_OK, 0, 9},
        {"bytes=18446744073709551616-18446744073709551615", 10, -ERANGE, 0, 0},
    };
    uint64_t first, last;

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t n = strlen(cases[i].in);
        int r;

        first = last = 77;
        r = eddy_http_range_parse(G(cases[i].in, n), n, cases[i].size, &first,
                                  &last);
        if (r != cases[i].want)
            fail_msg("%s: %d, want %d", cases[i].in, r, cases[i].want);
        if (r == 0 && (first != cases[i].first || last != cases[i].last))
            fail_msg("%s: %llu-%llu", cases[i].in, (unsigned long long)first,
                     (unsigned long long)last);
        if (r == 0)
            assert_true(first <= last && last < cases[i].size);
        else
            assert_true(first == 77 && last == 77);
    }
    assert_int_equal(eddy_http_range_parse(NULL, 0, 1, &first, &last), -EINVAL);
    assert_int_equal(eddy_http_range_parse(S("bytes=0-0"), 1, NULL, &last),
                     -EINVAL);
    assert_int_equal(eddy_http_range_parse(S("bytes=0-0"), 1, &first, NULL),
                     -EINVAL);
}

static void etags(void **state)
{
    static const struct {
        const char *list, *tag;
        int weak, strong; /* the answers of the two comparisons */
    } cases[] = {
        {"\"a\"", "\"a\"", 1, 1},
        {"\"a\", \"b\"", "\"b\"", 1, 1},
        {"\"a\",\"b\"", "\"c\"", 0, 0},
        {"W/\"a\"", "\"a\"", 1, 0},
        {"\"a\"", "W/\"a\"", 1, 0},
        {"W/\"a\"", "W/\"a\"", 1, 0},
        {" \"x\" ,\t\"a\" ", "\"a\"", 1, 1},
        {"\"a\",,\"b\",", "\"b\"", 1, 1},
        {"\"\"", "\"\"", 1, 1},
        {"\"\xc3\xa9\"", "\"\xc3\xa9\"", 1, 1},
        {"*", "\"a\"", 1, 1},
        {" * ", "W/\"a\"", 1, 1},
        {"\"a\"", "\"A\"", 0, 0},
        {"w/\"a\"", "\"a\"", -EINVAL, -EINVAL},
        {"", "\"a\"", -EINVAL, -EINVAL},
        {" , ", "\"a\"", -EINVAL, -EINVAL},
        {"*, \"a\"", "\"a\"", -EINVAL, -EINVAL},
        {"**", "\"a\"", -EINVAL, -EINVAL},
        {"\"a\" \"b\"", "\"a\"", -EINVAL, -EINVAL},
        {"\"a", "\"a\"", -EINVAL, -EINVAL},
        {"a", "\"a\"", -EINVAL, -EINVAL},
        {"\"a b\"", "\"a\"", -EINVAL, -EINVAL},
        {"\"a\x01\"", "\"a\"", -EINVAL, -EINVAL},
        {"\"a\"x", "\"a\"", -EINVAL, -EINVAL},
        {"\"a\"", "a", -EINVAL, -EINVAL},
        {"\"a\"", "\"a\" ", -EINVAL, -EINVAL},
        {"\"a\"", "W/a", -EINVAL, -EINVAL},
        {"\"a\"", "", -EINVAL, -EINVAL},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t n = strlen(cases[i].list), k = strlen(cases[i].tag);
        char tag[32];

        memcpy(tag, cases[i].tag, k);
        for (int strong = 0; strong < 2; strong++) {
            int want = strong ? cases[i].strong : cases[i].weak;
            int r =
                eddy_http_etag_match(G(cases[i].list, n), n, tag, k, strong);

            if (r != want)
                fail_msg("%s vs %s (%s): %d, want %d", cases[i].list,
                         cases[i].tag, strong ? "strong" : "weak", r, want);
        }
    }
    assert_int_equal(eddy_http_etag_match(NULL, 0, S("\"a\""), 0), -EINVAL);
    assert_int_equal(eddy_http_etag_match(S("\"a\""), NULL, 0, 0), -EINVAL);
    /* And the tag against the guard too. */
    assert_int_equal(eddy_http_etag_match(S("\"ab\""), GS("\"ab\""), 0), 1);
    assert_int_equal(eddy_http_etag_match(S("\"ab\""), GS("\"ab"), 0), -EINVAL);
}

static void mime_types(void **state)
{
    const char *ext, *type, *prev = "";
    size_t i;

    (void)state;
    /* The table is sorted and every entry is found, in any case. */
    for (i = 0; eddy__mime_at(i, &ext, &type) == 0; i++) {
        char name[32], upper[32];

        assert_true(strcmp(prev, ext) < 0);
        prev = ext;
        snprintf(name, sizeof name, "dir/f.%s", ext);
        assert_ptr_equal(
            eddy_http_mime_type(G(name, strlen(name)), strlen(name)), type);
        for (size_t k = 0; name[k] != '\0'; k++)
            upper[k] = (char)toupper((unsigned char)name[k]);
        upper[strlen(name)] = '\0';
        assert_ptr_equal(eddy_http_mime_type(upper, strlen(upper)), type);
        /* Text types say their charset. */
        if (strncmp(type, "text/", 5) == 0)
            assert_non_null(strstr(type, "; charset=utf-8"));
    }
    assert_true(i > 30);
    assert_int_equal(eddy__mime_at(i, &ext, &type), -ERANGE);
    assert_string_equal(eddy_http_mime_type(S("index.html")),
                        "text/html; charset=utf-8");
    assert_string_equal(eddy_http_mime_type(S("a.tar.gz")), "application/gzip");
    assert_string_equal(eddy_http_mime_type(S("/x.y/a.PNG")), "image/png");
    assert_string_equal(eddy_http_mime_type(S("a.js")),
                        "text/javascript; charset=utf-8");
    assert_null(eddy_http_mime_type(S("README")));
    assert_null(eddy_http_mime_type(S(".png")));
    assert_null(eddy_http_mime_type(S("dir/.png")));
    assert_null(eddy_http_mime_type(S("a.")));
    assert_null(eddy_http_mime_type(S("a.png/")));
    assert_null(eddy_http_mime_type(S("dir.png/file")));
    assert_null(eddy_http_mime_type(S("a.unknown")));
    assert_null(eddy_http_mime_type(S("a.webmanifestwebmanifest")));
    assert_null(eddy_http_mime_type("a.png\0", 6));
    assert_null(eddy_http_mime_type("a.p\0ng", 6));
    assert_null(eddy_http_mime_type(NULL, 0));
    assert_null(eddy_http_mime_type(S("")));
}

static void characters(void **state)
{
    (void)state;
    assert_true(eddy__hu_token(S("Content-Type")));
    assert_false(eddy__hu_token(S("")));
    assert_false(eddy__hu_token(S("a b")));
    assert_true(eddy__hu_ieq(S("FORM-data"), "form-data"));
    assert_false(eddy__hu_ieq(S("form-dat"), "form-data"));
    assert_false(eddy__hu_ieq(S("form-datax"), "form-data"));
    /* The table against the RFCs' sets, byte by byte. */
    for (unsigned c = 0; c < 256; c++) {
        int tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') ||
                    (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL);
        int cookie = c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
                     (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
                     (c >= 0x5d && c <= 0x7e);
        int bchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') ||
                    (c != 0 && strchr("'()+_,-./:=?", (int)c) != NULL);

        assert_int_equal(eddy__hu_is((unsigned char)c, EDDY__HU_TOKEN), tchar);
        assert_int_equal(eddy__hu_is((unsigned char)c, EDDY__HU_COOKIE),
                         cookie);
        assert_int_equal(eddy__hu_is((unsigned char)c, EDDY__HU_BCHAR), bchar);
        assert_int_equal(eddy__hu_is((unsigned char)c, EDDY__HU_VALUE),
                         c == '\t' || (c >= 0x20 && c != 0x7f));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(args_pairs),
        cmocka_unit_test(args_errors_of_reading),
        cmocka_unit_test(args_empty),
        cmocka_unit_test(args_shapes),
        cmocka_unit_test(args_bad_escapes),
        cmocka_unit_test(args_every_escape),
        cmocka_unit_test(url_unescape),
        cmocka_unit_test(args_utf8),
        cmocka_unit_test(args_limits),
        cmocka_unit_test(args_bad_calls),
        cmocka_unit_test(args_builder),
        cmocka_unit_test(path_decode),
        cmocka_unit_test(path_decode_bad_calls),
        cmocka_unit_test(path_every_byte),
        cmocka_unit_test(pattern_compile_errors),
        cmocka_unit_test(pattern_match),
        cmocka_unit_test(pattern_params),
        cmocka_unit_test(cookie_parse),
        cmocka_unit_test(cookie_get),
        cmocka_unit_test(cookie_format),
        cmocka_unit_test(cookie_format_refused),
        cmocka_unit_test(cookie_no_injection),
        cmocka_unit_test(boundary),
        cmocka_unit_test(multipart_form),
        cmocka_unit_test(multipart_shapes),
        cmocka_unit_test(multipart_malformed),
        cmocka_unit_test(multipart_truncated),
        cmocka_unit_test(multipart_limits),
        cmocka_unit_test(multipart_callback_errors),
        cmocka_unit_test(multipart_large),
        cmocka_unit_test(multipart_bad_calls),
        cmocka_unit_test(body_args),
        cmocka_unit_test(body_args_errors),
        cmocka_unit_test(date_format),
        cmocka_unit_test(date_against_libc),
        cmocka_unit_test(date_parse),
        cmocka_unit_test(date_two_digit_year),
        cmocka_unit_test(ranges),
        cmocka_unit_test(etags),
        cmocka_unit_test(mime_types),
        cmocka_unit_test(characters),
    };

    return cmocka_run_group_tests(tests, tu_guard_setup, tu_guard_teardown);
}
