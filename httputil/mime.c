/*
 * httputil/mime.c - media types by file extension, for static files.
 *
 * A small table of the types the web serves, sorted by extension and
 * searched in halves.  Text types say charset=utf-8, so that a browser
 * does not guess; JSON (source maps too), SVG and XML define or declare
 * their encoding themselves and get no parameter.
 *
 * This file must never read past the name it is given or return anything
 * but a static string or NULL.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <string.h>

#define UTF8 "; charset=utf-8"

static const struct {
    const char *ext, *type;
} table[] = {
    /* Sorted by strcmp of the lowercase extension (the tests check). */
    {"avif", "image/avif"},       {"bmp", "image/bmp"},
    {"css", "text/css" UTF8},     {"csv", "text/csv" UTF8},
    {"gif", "image/gif"},         {"gz", "application/gzip"},
    {"htm", "text/html" UTF8},    {"html", "text/html" UTF8},
    {"ico", "image/x-icon"},      {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},        {"js", "text/javascript" UTF8},
    {"json", "application/json"}, {"map", "application/json"},
    {"md", "text/markdown" UTF8}, {"mjs", "text/javascript" UTF8},
    {"mp3", "audio/mpeg"},        {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},         {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},         {"otf", "font/otf"},
    {"pdf", "application/pdf"},   {"png", "image/png"},
    {"svg", "image/svg+xml"},     {"tar", "application/x-tar"},
    {"ttf", "font/ttf"},          {"txt", "text/plain" UTF8},
    {"wasm", "application/wasm"}, {"wav", "audio/wav"},
    {"webm", "video/webm"},       {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},       {"woff", "font/woff"},
    {"woff2", "font/woff2"},      {"xml", "application/xml"},
    {"zip", "application/zip"},
};

#define NTYPES (sizeof table / sizeof table[0])
#define MAX_EXT 15 /* longer than any in the table */

const char *eddy_http_mime_type(const char *path, size_t len)
{
    char ext[MAX_EXT + 1];
    size_t i = len, n, lo = 0, hi = NTYPES;

    if (path == NULL)
        return NULL;
    /* The extension: after the last '.' of the last segment, not its
     * first byte (".bashrc" has none). */
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/')
        i--;
    if (i < 2 || path[i - 1] != '.' || path[i - 2] == '/' ||
        (n = len - i) == 0 || n > MAX_EXT)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        char c = path[i + k];

        if (c == '\0')
            return NULL;
        ext[k] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
    }
    ext[n] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ext, table[mid].ext);

        if (cmp == 0)
            return table[mid].type;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int eddy__mime_at(size_t i, const char **ext, const char **type)
{
    if (i >= NTYPES)
        return -ERANGE;
    *ext = table[i].ext;
    *type = table[i].type;
    return 0;
}
