/*
 * tests/test_fuzz_regressions.c - replays what fuzzing found, and the seed
 * corpora, through the fuzz harnesses' own checks, so that `make check`
 * runs them on every backend, under valgrind and under ASan and UBSan.
 *
 * The harnesses (fuzz/NAME.c) are compiled into this file with their entry
 * points renamed and FUZZ_NO_ABORT defined: an invariant that fails is
 * printed and counted instead of aborting, and the test of that harness
 * fails naming the input.  A crash is a crash here too.
 *
 * Inputs, for each harness H, relative to $EDDY_FUZZ_DIR (default fuzz,
 * as make check runs from the repository's root):
 *   regressions/H/   minimised inputs of bugs found and fixed
 *   corpus/H/        the seeds
 *   known/H/         bugs found and not fixed yet: replayed only with
 *                    EDDY_FUZZ_KNOWN=1 (they fail until fixed; then they
 *                    move to regressions/)
 */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>

#define FUZZ_NO_ABORT

#define FUZZ_ENTRY fuzz_parse_head
#include "../fuzz/parse_head.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_parse_response
#include "../fuzz/parse_response.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_chunked
#include "../fuzz/chunked.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_client_conn
#include "../fuzz/client_conn.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_connection
#include "../fuzz/connection.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_stream_reads
#include "../fuzz/stream_reads.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_args
#include "../fuzz/args.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_cookie
#include "../fuzz/cookie.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_multipart
#include "../fuzz/multipart.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_ws_frame
#include "../fuzz/ws_frame.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_ws_inflate
#include "../fuzz/ws_inflate.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_ws_conn
#include "../fuzz/ws_conn.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_tls_server
#include "../fuzz/tls_server.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_https_conn
#include "../fuzz/https_conn.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_handlers
#include "../fuzz/handlers.c"
#undef FUZZ_ENTRY

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096;

    *len = 0;
    *data = malloc(cap);
    if (f == NULL || *data == NULL) {
        if (f != NULL)
            fclose(f);
        free(*data);
        return -1;
    }
    for (;;) {
        size_t n = fread(*data + *len, 1, cap - *len, f);

        *len += n;
        if (n == 0)
            break;
        if (*len == cap) {
            uint8_t *p = realloc(*data, cap * 2);

            if (p == NULL)
                break;
            *data = p;
            cap *= 2;
        }
    }
    fclose(f);
    return 0;
}

/* Runs every file in dir/kind/name; returns how many ran.  A missing
 * directory runs none. */
static size_t replay_dir(const char *kind, const char *name, harness_fn fn,
                         size_t *bad)
{
    const char *root = getenv("EDDY_FUZZ_DIR");
    char dir[1024];
    DIR *d;
    struct dirent *e;
    size_t ran = 0;

    snprintf(dir, sizeof dir, "%s/%s/%s", root ? root : "fuzz", kind, name);
    if ((d = opendir(dir)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[2048];
        struct stat st;
        uint8_t *data;
        size_t len;
        unsigned long before = fuzz_violations;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        assert_int_equal(read_file(path, &data, &len), 0);
        fn(data, len);
        free(data);
        ran++;
        if (fuzz_violations != before) {
            print_error("fuzz input %s: %lu invariant(s) failed\n", path,
                        fuzz_violations - before);
            (*bad)++;
        }
    }
    closedir(d);
    return ran;
}

static void replay(const char *name, harness_fn fn)
{
    const char *known = getenv("EDDY_FUZZ_KNOWN");
    size_t bad = 0, seeds;

    replay_dir("regressions", name, fn, &bad);
    seeds = replay_dir("corpus", name, fn, &bad);
    if (known != NULL && strcmp(known, "1") == 0)
        replay_dir("known", name, fn, &bad);
    assert_true(seeds > 0); /* the seeds are where they should be */
    assert_int_equal(bad, 0);
}

static void test_parse_head(void **state)
{
    (void)state;
    replay("parse_head", fuzz_parse_head);
}

static void test_parse_response(void **state)
{
    (void)state;
    replay("parse_response", fuzz_parse_response);
}

static void test_client_conn(void **state)
{
    (void)state;
    replay("client_conn", fuzz_client_conn);
}

static void test_chunked(void **state)
{
    (void)state;
    replay("chunked", fuzz_chunked);
}

static void test_connection(void **state)
{
    (void)state;
    replay("connection", fuzz_connection);
}

static void test_stream_reads(void **state)
{
    (void)state;
    replay("stream_reads", fuzz_stream_reads);
}

static void test_args(void **state)
{
    (void)state;
    replay("args", fuzz_args);
}

static void test_cookie(void **state)
{
    (void)state;
    replay("cookie", fuzz_cookie);
}

static void test_multipart(void **state)
{
    (void)state;
    replay("multipart", fuzz_multipart);
}

static void test_ws_frame(void **state)
{
    (void)state;
    replay("ws_frame", fuzz_ws_frame);
}

static void test_ws_inflate(void **state)
{
    (void)state;
    replay("ws_inflate", fuzz_ws_inflate);
}

static void test_ws_conn(void **state)
{
    (void)state;
    replay("ws_conn", fuzz_ws_conn);
}

static void test_tls_server(void **state)
{
    (void)state;
    replay("tls_server", fuzz_tls_server);
}

static void test_https_conn(void **state)
{
    (void)state;
    replay("https_conn", fuzz_https_conn);
}

static void test_handlers(void **state)
{
    (void)state;
    replay("handlers", fuzz_handlers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_head),
        cmocka_unit_test(test_parse_response),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_client_conn),
        cmocka_unit_test(test_connection),
        cmocka_unit_test(test_stream_reads),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_ws_frame),
        cmocka_unit_test(test_ws_inflate),
        cmocka_unit_test(test_ws_conn),
        cmocka_unit_test(test_tls_server),
        cmocka_unit_test(test_https_conn),
        cmocka_unit_test(test_handlers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
