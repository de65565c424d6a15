/*
 * httpserver/static.c - files under a directory (Tornado's
 * StaticFileHandler): a prefix route whose handler opens the file the
 * rest of the decoded path names, inside the root and only there, and
 * answers with its validators (Last-Modified, ETag), the conditional
 * requests and single byte ranges they allow, and its bytes by sendfile.
 *
 * Staying inside the root: the router refused any path that climbs above
 * `/` and removed dot segments, so the rest of the path names no `..`;
 * this file also refuses empty segments (`//` would make an absolute
 * name), and names that begin with '.' unless asked.  Symbolic links are
 * resolved beneath the root by openat2(2)'s RESOLVE_BENEATH on Linux;
 * without it (another system, an older kernel) the path is walked a
 * component at a time with O_NOFOLLOW, so no link is followed at all.
 * EDDY_STATIC_FOLLOW_SYMLINKS turns both off.  A FIFO is opened
 * non-blocking, then refused as not a regular file.
 *
 * One request costs open (or openat2), fstat, sendfile and close, as
 * nginx's does without its open_file_cache.
 *
 * This file must never open a name outside the root (but through a link
 * it was allowed to follow), nor send a byte past the file's length.
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* openat2(2)'s header comes with the kernel's headers, which a libc such
 * as musl may be built without: without it, links are refused instead. */
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#include <sys/syscall.h>
#define HAVE_OPENAT2 1
#endif
#endif

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

struct eddy__static {
    int root;          /* the directory, open */
    size_t prefix_len; /* what the route's path takes of a request's */
    char *index, *cache_control;
    unsigned flags;
    int openat2; /* works: 1, not on this kernel: -1, untried: 0 */
};

static void static_free(void *arg)
{
    struct eddy__static *st = arg;

    close(st->root);
    free(st->index);
    free(st->cache_control);
    free(st);
}

/* --- names -------------------------------------------------------------- */

int eddy__static_rel_ok(const char *rel, size_t n, int dotfiles)
{
    size_t i = 0;

    while (i < n) {
        const char *slash = memchr(rel + i, '/', n - i);
        size_t len = slash ? (size_t)(slash - (rel + i)) : n - i;

        if (len == 0 || (rel[i] == '.' && !dotfiles) ||
            (len == 1 && rel[i] == '.') ||
            (len == 2 && rel[i] == '.' && rel[i + 1] == '.'))
            return 0;
        i += len + 1;
    }
    return n == 0 || rel[n - 1] != '/'; /* nor an empty last one */
}

/* Opens path a component at a time from the root, following no link:
 * where RESOLVE_BENEATH is not to be had. */
static int walk(int root, const char *path)
{
    char comp[NAME_MAX + 1];
    int dir = root, fd = -1;

    for (;;) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);

        if (len > NAME_MAX) {
            errno = ENAMETOOLONG;
            fd = -1;
            break;
        }
        memcpy(comp, path, len);
        comp[len] = '\0';
        fd = openat(dir, comp,
                    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
                        (slash ? O_DIRECTORY : O_NONBLOCK));
        if (dir != root) {
            int e = errno;

            close(dir);
            errno = e;
        }
        if (fd < 0 || slash == NULL)
            break;
        dir = fd;
        path = slash + 1;
    }
    return fd;
}

/* Opens path (relative, NUL-terminated) beneath the root, for reading. */
static int open_beneath(struct eddy__static *st, const char *path)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

    if (st->flags & EDDY_STATIC_FOLLOW_SYMLINKS)
        return openat(st->root, path, flags);
#if defined(HAVE_OPENAT2) && defined(SYS_openat2)
    if (st->openat2 >= 0) {
        struct open_how how;
        long fd;

        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)flags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = syscall(SYS_openat2, st->root, path, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS) {
            st->openat2 = 1;
            return (int)fd;
        }
        st->openat2 = -1; /* a kernel before 5.6, or a filter */
    }
#endif
    return walk(st->root, path);
}

/* The answer to a file that could not be opened. */
static int open_status(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    case ENOENT:
    case ENOTDIR:
    case ELOOP: /* a link, where none is followed */
    case EXDEV: /* a link out of the root (RESOLVE_BENEATH) */
    case ENAMETOOLONG:
    case ENXIO:
        return 404;
    default:
        return 500;
    }
}

/* --- validators and conditions ------------------------------------------ */

static int64_t mtime_of(const struct stat *sb)
{
    return (int64_t)sb->st_mtime;
}

static uint64_t mtime_ns(const struct stat *sb)
{
#if defined(__APPLE__)
    return (uint64_t)sb->st_mtimespec.tv_sec * 1000000000u +
           (uint64_t)sb->st_mtimespec.tv_nsec;
#else
    return (uint64_t)sb->st_mtim.tv_sec * 1000000000u +
           (uint64_t)sb->st_mtim.tv_nsec;
#endif
}

int eddy__if_range(const char *p, size_t n, const char *etag, size_t etag_len,
                   int64_t mtime)
{
    int64_t t;

    /* One tag, compared strongly: a weak one never matches, and ours is
     * strong, so the bytes must be ours. */
    if (n > 0 && (p[0] == '"' || (n > 1 && p[0] == 'W' && p[1] == '/')))
        return n == etag_len && memcmp(p, etag, n) == 0 && etag[0] == '"';
    return eddy_http_date_parse(p, n, &t) == 0 && t == mtime;
}

/* A date header's value, or -1 when absent or not a date. */
static int64_t header_date(const eddy_http_request *req, const char *name)
{
    eddy_str v;
    int64_t t;

    if (eddy_http_header_get(req, name, &v) != 0 ||
        eddy_http_date_parse(v.p, v.len, &t) != 0)
        return -1;
    return t;
}

/* RFC 9110 13.2.2's order: 412 (If-Match, else If-Unmodified-Since),
 * then 304 (If-None-Match, else If-Modified-Since), else 0. */
static int preconditions(const eddy_http_request *req, const char *etag,
                         size_t etag_len, int64_t mtime)
{
    eddy_str v;
    int64_t t;

    if (eddy_http_header_get(req, "If-Match", &v) == 0) {
        if (eddy_http_etag_match(v.p, v.len, etag, etag_len, 1) != 1)
            return 412;
    } else if ((t = header_date(req, "If-Unmodified-Since")) >= 0 &&
               mtime > t) {
        return 412;
    }
    if (eddy_http_header_get(req, "If-None-Match", &v) == 0)
        return eddy_http_etag_match(v.p, v.len, etag, etag_len, 0) == 1 ? 304
                                                                        : 0;
    if ((t = header_date(req, "If-Modified-Since")) >= 0 && mtime <= t)
        return 304;
    return 0;
}

/* --- answering ---------------------------------------------------------- */

static void close_file(eddy_stream *s, int status, void *arg)
{
    (void)s;
    (void)status;
    close((int)(intptr_t)arg);
}

/* What a file's answer says about it. */
struct file_head {
    eddy_http_header h[6];
    size_t n;
    char etag[80], lm[EDDY_HTTP_DATE_SIZE], range[80];
};

static void add(struct file_head *fh, const char *name, const char *value)
{
    fh->h[fh->n++] =
        (eddy_http_header){name, strlen(name), value, strlen(value)};
}

static void validators(struct file_head *fh, const struct eddy__static *st,
                       const struct stat *sb)
{
    fh->n = 0;
    snprintf(fh->etag, sizeof fh->etag,
             "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)sb->st_size,
             mtime_ns(sb), (uint64_t)sb->st_ino);
    if (eddy_http_date_format(mtime_of(sb), fh->lm) != 0)
        fh->lm[0] = '\0';
    add(fh, "ETag", fh->etag);
    if (fh->lm[0] != '\0')
        add(fh, "Last-Modified", fh->lm);
    if (st->cache_control != NULL)
        add(fh, "Cache-Control", st->cache_control);
}

/* Whether Range applies: a GET with a Range, and an If-Range, if any,
 * that the file still matches (else the whole file, RFC 9110 13.1.5). */
static int range_applies(const eddy_http_request *req, const char *etag,
                         int64_t mtime, eddy_str *range)
{
    eddy_str m = eddy_http_method(req), v;

    if (m.len != 3 || memcmp(m.p, "GET", 3) != 0 ||
        eddy_http_header_get(req, "Range", range) != 0)
        return 0;
    return eddy_http_header_get(req, "If-Range", &v) != 0 ||
           eddy__if_range(v.p, v.len, etag, strlen(etag), mtime);
}

/* Answers with the file open on fd (which this closes, or the write's
 * callback once sent): 304, 412, 416, 206 or 200. */
static void send_file(eddy_http_request *req, const struct eddy__static *st,
                      int fd, const struct stat *sb, const char *path)
{
    uint64_t size = (uint64_t)sb->st_size, first = 0, len = size;
    const char *type = eddy_http_mime_type(path, strlen(path));
    struct file_head fh;
    eddy_str range;
    int status;

    validators(&fh, st, sb);
    status = preconditions(req, fh.etag, strlen(fh.etag), mtime_of(sb));
    if (status == 0 && range_applies(req, fh.etag, mtime_of(sb), &range)) {
        uint64_t last;
        int r = eddy_http_range_parse(range.p, range.len, size, &first, &last);

        if (r == -ERANGE) {
            snprintf(fh.range, sizeof fh.range, "bytes */%" PRIu64, size);
            eddy_http_add_header(req, "Content-Range", fh.range);
            status = 416;
        } else if (r == 0) {
            snprintf(fh.range, sizeof fh.range,
                     "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
                     size);
            add(&fh, "Content-Range", fh.range);
            len = last - first + 1;
            status = 206;
        } else {
            first = 0; /* several ranges, or a malformed one: all of it */
        }
    }
    if (status == 304 || status == 412 || status == 416) {
        close(fd);
        if (status == 304)
            eddy_http_respond(req, 304, fh.h, fh.n, NULL, 0);
        else
            eddy_http_send_error(req, status);
        return;
    }
    add(&fh, "Content-Type", type != NULL ? type : "application/octet-stream");
    add(&fh, "Accept-Ranges", "bytes");
    if (eddy_http_start_response(req, status ? status : 200, NULL, fh.h, fh.n,
                                 (int64_t)len) != 0 ||
        len == 0 ||
        eddy_http_write_file(req, fd, first, len, close_file,
                             (void *)(intptr_t)fd) != 0)
        close(fd);
    eddy_http_finish(req);
}

/* A directory's path without its '/': where its index is (RFC 9110 15.4.2:
 * relative links in the index resolve against the path with the '/'). */
static void redirect_dir(eddy_http_request *req)
{
    eddy_str p = eddy_http_path(req), q = eddy_http_query(req);
    char *loc = malloc(p.len + q.len + 3);
    eddy_http_header h = {"Location", 8, loc, 0};

    if (loc == NULL) {
        eddy_http_send_error(req, 503);
        return;
    }
    memcpy(loc, p.p, p.len);
    loc[p.len] = '/';
    h.value_len = p.len + 1;
    if (q.len > 0) {
        loc[h.value_len++] = '?';
        memcpy(loc + h.value_len, q.p, q.len);
        h.value_len += q.len;
    }
    eddy_http_respond(req, 301, &h, 1, NULL, 0);
    free(loc);
}

/* The route's handler. */
static void serve(eddy_http_request *req, void *arg)
{
    struct eddy__static *st = arg;
    eddy_str d = eddy_http_decoded_path(req);
    const char *rel = d.p + st->prefix_len;
    size_t n = d.len - st->prefix_len, ilen = st->index ? strlen(st->index) : 0;
    int dir = n == 0 || rel[n - 1] == '/', fd, status;
    char path[PATH_MAX];
    struct stat sb;

    /* The root itself, or a directory named with its '/': its index. */
    if (!eddy__static_rel_ok(rel, n - (n > 0 && dir),
                             st->flags & EDDY_STATIC_DOTFILES) ||
        (dir && st->index == NULL) || n + ilen + 1 > sizeof path) {
        eddy_http_send_error(req, 404);
        return;
    }
    memcpy(path, rel, n);
    memcpy(path + n, dir ? st->index : "", dir ? ilen : 0);
    path[n + (dir ? ilen : 0)] = '\0';
    if ((fd = open_beneath(st, path)) < 0) {
        if ((status = open_status(errno)) == 500)
            eddy_loop_log(eddy_http_request_loop(req), EDDY_LOG_ERROR,
                          "static: %s: %s", path, eddy_strerror(-errno));
        eddy_http_send_error(req, status);
        return;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int is_dir = S_ISDIR(sb.st_mode);

        close(fd);
        if (is_dir && !dir && st->index != NULL)
            redirect_dir(req);
        else
            eddy_http_send_error(req, 404);
        return;
    }
    send_file(req, st, fd, &sb, path);
}

/* --- adding the route --------------------------------------------------- */

int eddy_http_server_static(eddy_http_server *srv, const char *prefix,
                            const char *root,
                            const eddy_http_static_options *opts)
{
    eddy_http_static_options o = {NULL, NULL, 0};
    struct eddy__static *st;
    size_t plen;
    struct stat sb;

    if (opts != NULL)
        o = *opts;
    if (prefix == NULL || root == NULL || (plen = strlen(prefix)) == 0 ||
        prefix[0] != '/' || prefix[plen - 1] != '/' ||
        strchr(prefix, '{') != NULL ||
        (o.flags &
         ~(unsigned)(EDDY_STATIC_FOLLOW_SYMLINKS | EDDY_STATIC_DOTFILES)) ||
        (o.index != NULL &&
         (o.index[0] == '\0' || strchr(o.index, '/') != NULL)))
        return -EINVAL;
    if (o.cache_control != NULL) {
        eddy_http_header h = {"Cache-Control", 13, o.cache_control,
                              strlen(o.cache_control)};

        if (eddy__check_header(&h) != 0)
            return -EINVAL;
    }
    if ((st = calloc(1, sizeof *st)) == NULL)
        return -ENOMEM;
    st->root = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->root < 0 || fstat(st->root, &sb) != 0) {
        int err = -errno;

        if (st->root >= 0)
            close(st->root);
        free(st);
        return err;
    }
    st->prefix_len = plen;
    st->flags = o.flags;
    st->index = o.index ? strdup(o.index) : NULL;
    st->cache_control = o.cache_control ? strdup(o.cache_control) : NULL;
    if ((o.index && !st->index) || (o.cache_control && !st->cache_control)) {
        static_free(st);
        return -ENOMEM;
    }
    return eddy__route_add(srv, "GET", prefix,
                           EDDY_ROUTE_PREFIX | EDDY_ROUTE_NO_GZIP, serve, st,
                           NULL, static_free);
}
