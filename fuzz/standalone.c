/*
 * fuzz/standalone.c - a main() for the harnesses when libFuzzer is not
 * linked in: for AFL++ (afl-clang-fast ... harness.c standalone.c, then
 * afl-fuzz -i seeds -o out -- ./harness, or ./harness @@), and to replay
 * inputs with any compiler, under valgrind or a debugger.
 *
 *   harness FILE|DIR...    runs each file, and each file in each DIR
 *   harness                runs standard input
 *
 * Exits 0 when every input ran; a violated invariant aborts, as it does
 * under libFuzzer.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_stream(FILE *f, const char *name)
{
    size_t len = 0, cap = 4096;
    uint8_t *buf = malloc(cap);

    if (buf == NULL)
        return 1;
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);

        len += n;
        if (n == 0)
            break;
        if (len == cap) {
            uint8_t *b = realloc(buf, cap * 2);

            if (b == NULL) {
                free(buf);
                return 1;
            }
            buf = b;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "standalone: cannot read %s\n", name);
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    int err;

    if (f == NULL) {
        perror(path);
        return 1;
    }
    err = run_stream(f, path);
    fclose(f);
    return err;
}

static int run_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int err = 0;

    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    if ((d = opendir(path)) == NULL) {
        perror(path);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[4096];

        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
            err |= run_file(sub);
    }
    closedir(d);
    return err;
}

int main(int argc, char **argv)
{
    int err = 0;

    if (argc < 2)
        return run_stream(stdin, "standard input");
    for (int i = 1; i < argc; i++)
        err |= run_path(argv[i]);
    return err;
}
