/*
 * examples/fetch.c - a small curl made of eddy's HTTP client.
 *
 *   build/examples/fetch [-v] [-X METHOD] [-H 'Name: value']... [-d DATA]
 *                        [--cacert FILE] [--insecure] [--max-redirects N]
 *                        [--timeout-ms N] URL
 *   build/examples/fetch --parallel N --count M [options] URL
 *
 * Writes the response body to stdout and exits 0 when a complete response
 * arrived, whatever its status.  It asks for gzip (unless -H gives an
 * Accept-Encoding) and writes a gzip body inflated, as browsers do.  -v writes
 * the status line and the header fields to stderr.  -d sends DATA as the body
 * (and makes the method POST unless -X says otherwise).  --max-redirects 0
 * hands a redirect over as it is.  --timeout-ms bounds the whole fetch,
 * connecting included.  On any failure (refused, timeout, a name that does not
 * resolve, TLS verification, a malformed or truncated response) it writes one
 * line naming the cause to stderr and exits 1; bad usage exits 2.
 *
 * --parallel N --count M fetches the URL M times over N keep-alive
 * connections (N fetches in flight at once, bodies dropped) and prints
 * one line: requests per second and the process's CPU time per request,
 *   fetch requests=M failed=F seconds=S req_s=R cpu_us_per_req=C
 * a load generator made of eddy.  It exits 1 if any fetch failed.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_HEADERS 64

typedef struct run {
    eddy_loop *loop;
    eddy_http_client *client;
    const char *url;
    eddy_http_fetch_options opt;
    int verbose, failed, done;
    long count, started, finished, errors, parallel;
    int first_error;
    char why[512];
} run;

static void print_head(const eddy_http_response *r)
{
    fprintf(stderr, "HTTP/1.%d %d %.*s\n", r->version - 10, r->status,
            (int)r->reason.len, r->reason.p);
    for (size_t i = 0; i < r->nheaders; i++)
        fprintf(stderr, "%.*s: %.*s\n", (int)r->headers[i].name_len,
                r->headers[i].name, (int)r->headers[i].value_len,
                r->headers[i].value);
}

static void on_headers(eddy_http_fetch *f, const eddy_http_response *r,
                       void *arg)
{
    run *u = arg;

    (void)f;
    if (u->verbose)
        print_head(r);
}

static void on_chunk(eddy_http_fetch *f, const char *data, size_t len,
                     void *arg)
{
    (void)f;
    (void)arg;
    fwrite(data, 1, len, stdout);
}

static void on_done(eddy_http_fetch *f, int status, const eddy_http_response *r,
                    void *arg)
{
    run *u = arg;
    const char *detail = eddy_http_fetch_detail(f);

    (void)r;
    if (status != 0) {
        u->failed = 1;
        snprintf(u->why, sizeof u->why, "fetch: %s: %s%s%s", u->url,
                 eddy_strerror(status), detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
    }
    fflush(stdout);
    u->done = 1;
    eddy_loop_stop(u->loop);
}

/* --- --parallel ---------------------------------------------------------- */

static void drop_chunk(eddy_http_fetch *f, const char *data, size_t len,
                       void *arg)
{
    (void)f;
    (void)data;
    (void)len;
    (void)arg;
}

static void start_one(run *u);

static void on_one(eddy_http_fetch *f, int status, const eddy_http_response *r,
                   void *arg)
{
    run *u = arg;

    (void)f;
    (void)r;
    u->finished++;
    if (status != 0 && u->errors++ == 0)
        u->first_error = status;
    if (u->started < u->count)
        start_one(u);
    else if (u->finished == u->count)
        eddy_loop_stop(u->loop);
}

static void start_one(run *u)
{
    int err =
        eddy_http_client_fetch(u->client, u->url, &u->opt, on_one, u, NULL);

    u->started++;
    if (err != 0) { /* counted as one that failed */
        u->finished++;
        if (u->errors++ == 0)
            u->first_error = err;
        if (u->finished == u->count)
            eddy_loop_stop(u->loop);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int parallel(run *u)
{
    double t0, c0, s, cpu;

    u->opt.on_chunk = drop_chunk;
    t0 = now_s();
    c0 = cpu_s();
    while (u->started < u->parallel && u->started < u->count)
        start_one(u);
    if (u->finished < u->count)
        eddy_loop_run(u->loop);
    s = now_s() - t0;
    cpu = cpu_s() - c0;
    printf("fetch requests=%ld failed=%ld seconds=%.3f req_s=%.0f "
           "cpu_us_per_req=%.2f\n",
           u->count, u->errors, s, (double)u->count / s,
           cpu * 1e6 / (double)u->count);
    if (u->errors > 0)
        fprintf(stderr, "fetch: %ld of %ld failed, the first: %s\n", u->errors,
                u->count, eddy_strerror(u->first_error));
    return u->errors > 0;
}

/* --- the command line ---------------------------------------------------- */

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-v] [-X METHOD] [-H 'Name: value']... [-d DATA] "
            "[--cacert FILE] [--insecure] [--max-redirects N] "
            "[--timeout-ms N] [--parallel N --count M] URL\n",
            argv0);
    return 2;
}

static long number(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    return errno != 0 || *end != '\0' || end == s || v < 0 || v > max ? -1 : v;
}

/* The client's TLS context for --cacert FILE (the CAs to trust instead of
 * the system's) or --insecure (no verification); says why on failure. */
static int tls_setup(eddy_tls_ctx **out, const char *cacert, int insecure)
{
    static const char *const alpn[] = {"http/1.1"};
    eddy_tls_ctx *ctx = NULL;
    int err = eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx);

    if (err == 0)
        err = eddy_tls_ctx_set_alpn(ctx, alpn, 1);
    if (err == 0 && cacert != NULL &&
        (err = eddy_tls_ctx_load_verify(ctx, cacert, NULL)) != 0)
        fprintf(stderr, "fetch: --cacert %s: %s: %s\n", cacert,
                eddy_strerror(err), eddy_tls_ctx_error(ctx));
    else if (err != 0)
        fprintf(stderr, "fetch: TLS: %s\n", eddy_strerror(err));
    if (err == 0 && insecure)
        err = eddy_tls_ctx_set_verify(ctx, EDDY_TLS_VERIFY_NONE);
    if (err != 0) {
        eddy_tls_ctx_free(ctx);
        return err;
    }
    *out = ctx;
    return 0;
}

/* "Name: value" into h (pointing into s). */
static int header(char *s, eddy_http_header *h)
{
    char *colon = strchr(s, ':'), *v;

    if (colon == NULL || colon == s)
        return -1;
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    h->name = s;
    h->name_len = (size_t)(colon - s);
    h->value = v;
    h->value_len = strlen(v);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"cacert", required_argument, NULL, 'c'},
        {"insecure", no_argument, NULL, 'k'},
        {"max-redirects", required_argument, NULL, 'r'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"parallel", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    eddy_http_header headers[MAX_HEADERS];
    eddy_http_client_options copt = {0};
    const char *cacert = NULL, *data = NULL;
    run u = {0};
    long v;
    int opt, err, insecure = 0;
    size_t nh = 0;

    while ((opt = getopt_long(argc, argv, "vX:H:d:", longs, NULL)) != -1) {
        switch (opt) {
        case 'v':
            u.verbose = 1;
            break;
        case 'X':
            u.opt.method = optarg;
            break;
        case 'H':
            if (nh == MAX_HEADERS || header(optarg, &headers[nh]) != 0)
                return usage(argv[0]);
            nh++;
            break;
        case 'd':
            data = optarg;
            break;
        case 'c':
            cacert = optarg;
            break;
        case 'k':
            insecure = 1;
            break;
        case 'r':
            if ((v = number(optarg, 1000)) < 0)
                return usage(argv[0]);
            if (v == 0)
                u.opt.flags |= EDDY_FETCH_NO_REDIRECTS;
            u.opt.max_redirects = (unsigned)v;
            break;
        case 't':
            if ((v = number(optarg, 86400000)) <= 0)
                return usage(argv[0]);
            u.opt.request_timeout_ms = u.opt.connect_timeout_ms = (uint64_t)v;
            break;
        case 'p':
            if ((u.parallel = number(optarg, 10000)) <= 0)
                return usage(argv[0]);
            break;
        case 'n':
            if ((u.count = number(optarg, 1000000000L)) <= 0)
                return usage(argv[0]);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (optind != argc - 1 || (u.parallel > 0) != (u.count > 0))
        return usage(argv[0]);
    u.url = argv[optind];
    u.opt.headers = headers;
    u.opt.nheaders = nh;
    if (data != NULL) {
        u.opt.body = data;
        u.opt.body_len = strlen(data);
        if (u.opt.method == NULL)
            u.opt.method = "POST";
    }
    if (u.parallel > 0) {
        copt.max_connections = (size_t)u.parallel;
        copt.max_per_host = (size_t)u.parallel;
    }
    if ((cacert != NULL || insecure) &&
        (err = tls_setup(&copt.tls, cacert, insecure)) != 0)
        return 1;
    if ((err = eddy_loop_new(&u.loop)) != 0 ||
        (err = eddy_http_client_new(u.loop, &copt, &u.client)) != 0) {
        fprintf(stderr, "fetch: %s\n", eddy_strerror(err));
        return 1;
    }
    if (u.parallel > 0) {
        err = parallel(&u);
    } else {
        u.opt.on_headers = on_headers;
        u.opt.on_chunk = on_chunk;
        u.opt.flags |= EDDY_FETCH_GZIP;
        err =
            eddy_http_client_fetch(u.client, u.url, &u.opt, on_done, &u, NULL);
        if (err == -ENOTSUP) { /* no zlib (or no TLS: that fails again) */
            u.opt.flags &= ~(unsigned)EDDY_FETCH_GZIP;
            err = eddy_http_client_fetch(u.client, u.url, &u.opt, on_done, &u,
                                         NULL);
        }
        if (err != 0) {
            u.failed = 1;
            snprintf(u.why, sizeof u.why, "fetch: %s: %s", u.url,
                     eddy_strerror(err));
        } else {
            eddy_loop_run(u.loop);
        }
        if (u.failed)
            fprintf(stderr, "%s\n", u.why);
        err = u.failed;
    }
    eddy_http_client_free(u.client);
    eddy_tls_ctx_free(copt.tls);
    eddy_loop_run_once(u.loop, 0);
    eddy_loop_close(u.loop, 1);
    return err != 0 ? 1 : 0;
}
