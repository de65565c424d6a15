/*
 * common/internal.h - the few things every layer's internal code shares:
 * the attribute that hides a symbol shared between files, branch hints,
 * and the one monotonic clock (defined in ioloop/loop.c, the lowest layer
 * with code of its own that every build links).
 *
 * Any library file may include it; public headers never do.  It must
 * never grow state or anything that belongs to one layer.
 */
#ifndef EDDY_COMMON_INTERNAL_H
#define EDDY_COMMON_INTERNAL_H

#include <stdint.h>

/* Marks an eddy__* symbol shared between the library's files: the shared
 * library never exports it (the build also uses -fvisibility=hidden; this
 * keeps it so when a file is built without). */
#define EDDY_HIDDEN __attribute__((visibility("hidden")))

#define eddy__likely(x) __builtin_expect(!!(x), 1)
#define eddy__unlikely(x) __builtin_expect(!!(x), 0)

/* CLOCK_MONOTONIC in nanoseconds (ioloop/loop.c): the loop's clock, and
 * every other layer's when it needs more than eddy_loop_now()'s cached
 * milliseconds. */
EDDY_HIDDEN uint64_t eddy__clock_ns(void);

#endif
