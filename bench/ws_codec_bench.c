/*
 * bench/ws_codec_bench.c - the WebSocket codec's rates, without I/O: the
 * frame reader with unmasking, and UTF-8 validation.
 *
 *   ws_codec_bench [-n MIB]
 *
 * Frames: a buffer of masked binary frames, as a server receives them
 * from clients, of 64 bytes and of 16 KiB of payload, read with the
 * server's reader (each payload unmasked in place, which leaves the
 * frames valid for the next pass) until MIB (default 256) MiB of payload
 * went by.  UTF-8: 1 MiB of ASCII text, and 1 MiB of mixed text (Greek,
 * CJK, emoji and ASCII), validated until MIB MiB went by.  Only the loops
 * are timed: wall time (CLOCK_MONOTONIC) and the process's CPU time.
 *
 * Prints one line per case on stdout:
 *   ws_frames lib=eddy payload=64 bytes=.. seconds=.. MB_s=.. frames_s=..
 * cpu_s=.. ws_utf8 lib=eddy text=ascii bytes=.. seconds=.. MB_s=.. cpu_s=..
 * where MB_s counts 10^6 bytes of payload or text over the wall time.
 * Exit status: 0 ok, 1 a result went wrong, 2 usage.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include "../websocket/ws_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_BYTES (4u << 20) /* the frames buffer: beyond the caches */

/* Fills buf with masked binary frames of payload bytes; returns the
 * bytes used and the frame count. */
static size_t make_frames(uint8_t *buf, size_t cap, size_t payload,
                          size_t *frames)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t at = 0;

    *frames = 0;
    while (at + EDDY_WS_MAX_HEADER + payload <= cap) {
        at += eddy__ws_write_header(buf + at, EDDY_WS_BINARY, 1, 0, payload,
                                    mask);
        for (size_t i = 0; i < payload; i++)
            buf[at + i] = (uint8_t)(i * 7);
        eddy__ws_mask(buf + at, payload, mask, 0);
        at += payload;
        ++*frames;
    }
    return at;
}

/* One pass of the server's reader over buf[0, len); the payload bytes
 * handed over, or 0 when it went wrong. */
static uint64_t read_frames(uint8_t *buf, size_t len)
{
    eddy__ws_reader r;
    eddy__ws_event ev;
    uint64_t got = 0;
    size_t at = 0, used;

    eddy__ws_reader_init(&r, EDDY_WS_SERVER, 1 << 20);
    while (at < len) {
        if (eddy__ws_read(&r, buf + at, len - at, &used, &ev) != 0 ||
            ev.type != EDDY_WS_EV_DATA)
            return 0;
        got += ev.len;
        at += used;
    }
    return got;
}

static int bench_frames(const char *prog, size_t payload, uint64_t want)
{
    uint8_t *buf = malloc(BUF_BYTES);
    size_t frames, len;
    uint64_t done = 0, nframes = 0;
    double t0, c0, s, cpu;

    if (buf == NULL)
        return BENCH_EXIT_FAIL;
    len = make_frames(buf, BUF_BYTES, payload, &frames);
    c0 = bench_cpu_s();
    t0 = bench_now_us();
    while (done < want) {
        uint64_t got = read_frames(buf, len);

        if (got != (uint64_t)frames * payload) {
            fprintf(stderr, "%s: the frames did not read back\n", prog);
            free(buf);
            return BENCH_EXIT_FAIL;
        }
        done += got;
        nframes += frames;
    }
    s = (bench_now_us() - t0) / 1e6;
    cpu = bench_cpu_s() - c0;
    printf("ws_frames lib=%s payload=%zu bytes=%llu seconds=%.3f MB_s=%.1f "
           "frames_s=%.0f cpu_s=%.3f\n",
           EDDY_BENCH_LIB, payload, (unsigned long long)done, s,
           (double)done / s / 1e6, (double)nframes / s, cpu);
    free(buf);
    return 0;
}

static int bench_utf8(const char *prog, const char *name, const char *unit,
                      uint64_t want)
{
    size_t n = strlen(unit), len = 0, cap = 1 << 20;
    uint8_t *text = malloc(cap);
    uint64_t done = 0;
    double t0, c0, s, cpu;

    if (text == NULL)
        return BENCH_EXIT_FAIL;
    while (len + n <= cap) {
        memcpy(text + len, unit, n);
        len += n;
    }
    c0 = bench_cpu_s();
    t0 = bench_now_us();
    while (done < want) {
        unsigned st = EDDY_UTF8_ACCEPT;

        if (eddy__utf8_valid(&st, text, len) != len || st != EDDY_UTF8_ACCEPT) {
            fprintf(stderr, "%s: the %s text did not validate\n", prog, name);
            free(text);
            return BENCH_EXIT_FAIL;
        }
        done += len;
    }
    s = (bench_now_us() - t0) / 1e6;
    cpu = bench_cpu_s() - c0;
    printf("ws_utf8 lib=%s text=%s bytes=%llu seconds=%.3f MB_s=%.1f "
           "cpu_s=%.3f\n",
           EDDY_BENCH_LIB, name, (unsigned long long)done, s,
           (double)done / s / 1e6, cpu);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    long mib = 256;
    uint64_t want;
    int opt, ret = 0;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n') {
            fprintf(stderr, "usage: %s [-n MIB]\n", argv[0]);
            return BENCH_EXIT_USAGE;
        }
        mib = bench_parse_long(argv[0], opt, optarg, 1, 1L << 20);
    }
    want = (uint64_t)mib << 20;
    ret |= bench_frames(argv[0], 64, want);
    ret |= bench_frames(argv[0], 16384, want);
    ret |= bench_utf8(argv[0], "ascii",
                      "The quick brown fox jumps over the lazy dog. ", want);
    ret |= bench_utf8(argv[0], "mixed",
                      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 "
                      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                      "\xf0\x9f\x98\x80 plain ascii words, ",
                      want);
    return ret ? BENCH_EXIT_FAIL : 0;
}
