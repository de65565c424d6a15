/*
 * tests/tlsutil.h - the test certificates of the suites that use TLS
 * (test_tls.c, test_https.c, test_httpclient.c): tests/certs.sh run into
 * a fresh directory under /tmp by a suite's cmocka group setup, and the
 * directory removed by its group teardown.
 *
 * Both return 0 or -1, as cmocka's group fixtures do, so that a suite
 * whose certificates could not be made fails as a whole.  Built without
 * TLS (make TLS=none) nothing is made: the suites' TLS tests skip.
 * Include testutil.h first.
 */
#ifndef EDDY_TESTS_TLSUTIL_H
#define EDDY_TESTS_TLSUTIL_H

#include "testutil.h"

#include "eddy/tls.h"

/* Makes a directory from tmpl ("/tmp/eddy-NAME-XXXXXX") into dir[0, cap)
 * and has tests/certs.sh fill it; without TLS, leaves dir empty.  Run
 * from the repository's root. */
static inline int tu_certs_make(char *dir, size_t cap, const char *tmpl)
{
    char cmd[256];

    dir[0] = '\0';
    if (eddy_tls_library() == NULL)
        return 0;
    snprintf(dir, cap, "%s", tmpl);
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "sh tests/certs.sh %s >/dev/null 2>&1", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tests/certs.sh failed (run from the repository's "
                        "root, with the openssl command)\n");
        return -1;
    }
    return 0;
}

/* Removes the directory tu_certs_make made, if it made one. */
static inline int tu_certs_remove(const char *dir)
{
    char cmd[256];

    if (dir[0] == '\0')
        return 0;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
