/*
 * fuzz/fuzz_tls.h - what the TLS harnesses (fuzz/tls_server.c,
 * fuzz/https_conn.c) share: a server certificate and its key, made for
 * the harnesses alone, self-signed, never secret, and the same as a file
 * (eddy loads files), made once per process and removed at its exit.
 *
 * Like fuzz.h, everything here is static and may go unused: a harness
 * file may be included into tests/test_fuzz_regressions.c with the others.
 */
#ifndef EDDY_FUZZ_TLS_H
#define EDDY_FUZZ_TLS_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((unused)) static const char fuzz_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCAT2gAwIBAgIUJ9Xi2ZON9UhbBpyMuFFQHO3RdOgwCgYIKoZIzj0EAwIw\n"
    "IDEeMBwGA1UEAwwVZWRkeSBmdXp6ICh0ZXN0IG9ubHkpMCAXDTI2MTIwNzE5MDIx\n"
    "MloYDzIxMjYxMTEzMTkwMjEyWjAgMR4wHAYDVQQDDBVlZGR5IGZ1enogKHRlc3Qg\n"
    "b25seSkwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASt6F4zjzjYrLxGcrUikNRi\n"
    "KSNVbeskHIdsHsAKz95BUgmPr64zKCVlVVRpGvwTwraMBAJI3fjX19kWkMq8NYzU\n"
    "o1MwUTAdBgNVHQ4EFgQUGWOmlXSIHP0NQrFOxvOzz+MtihAwHwYDVR0jBBgwFoAU\n"
    "GWOmlXSIHP0NQrFOxvOzz+MtihAwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD\n"
    "AgNIADBFAiEAr3Gdcc24AkzM13NoDr0NRAtNFnq54eKQhNcUP3LKzuACICWH6S28\n"
    "UL6G/2MapynVNY7nMyFTNRG4eQ9hiI6gV6HE\n"
    "-----END CERTIFICATE-----\n"
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghrdtq9il6xI84Vae\n"
    "S8E06hfCaGQAmYsE8iT+XIc6pA+hRANCAASt6F4zjzjYrLxGcrUikNRiKSNVbesk\n"
    "HIdsHsAKz95BUgmPr64zKCVlVVRpGvwTwraMBAJI3fjX19kWkMq8NYzU\n"
    "-----END PRIVATE KEY-----\n";

static char fuzz_pem_path[64];

__attribute__((unused)) static void fuzz_pem_unlink(void)
{
    unlink(fuzz_pem_path);
}

/* The path of a file holding fuzz_pem, or NULL if it could not be made. */
__attribute__((unused)) static const char *fuzz_pem_file(void)
{
    int fd;

    if (fuzz_pem_path[0] != '\0')
        return fuzz_pem_path;
    snprintf(fuzz_pem_path, sizeof fuzz_pem_path, "/tmp/eddy-fuzz-tls-XXXXXX");
    if ((fd = mkstemp(fuzz_pem_path)) < 0 ||
        write(fd, fuzz_pem, sizeof fuzz_pem - 1) !=
            (ssize_t)(sizeof fuzz_pem - 1)) {
        if (fd >= 0)
            close(fd);
        fuzz_pem_path[0] = '\0';
        return NULL;
    }
    close(fd);
    atexit(fuzz_pem_unlink);
    return fuzz_pem_path;
}

#endif
