/*
 * common/internal.h - the few things every layer's internal code shares:
 * the attribute that hides a symbol shared between files, branch hints,
 * and the one monotonic clock.
 *
 * Any library file may include it; public headers never do.  It must
 * never grow state or anything that belongs to one layer.
 */
#ifndef EDDY_COMMON_INTERNAL_H
#define EDDY_COMMON_INTERNAL_H

#include <stdint.h>
#include <time.h>

/* Marks an eddy__* symbol shared between the library's files: the shared
 * library never exports it (the build also uses -fvisibility=hidden; this
 * keeps it so when a file is built without). */
#define EDDY_HIDDEN __attribute__((visibility("hidden")))

#define eddy__likely(x) __builtin_expect(!!(x), 1)
#define eddy__unlikely(x) __builtin_expect(!!(x), 0)

/* CLOCK_MONOTONIC in nanoseconds: the loop's clock, and every other
 * layer's when it needs more than eddy_loop_now()'s cached milliseconds. */
static inline uint64_t eddy__clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
