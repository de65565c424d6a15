/*
 * ioloop/loop_internal.h - what the loop offers the layer directly above
 * it (iostream) beyond the public ioloop.h: hidden functions, never the
 * loop's struct (ioloop/loop_state.h), never the backend.
 *
 * Public headers never include this file, and only ioloop/ and iostream/
 * may (scripts/check_layers.sh).
 */
#ifndef EDDY_LOOP_INTERNAL_H
#define EDDY_LOOP_INTERNAL_H

#include "../common/internal.h"
#include "eddy/ioloop.h"

#include <stddef.h>

/* The size of the spare read buffer the loop keeps for its streams: a
 * stream's first buffer (iostream/stream.c). */
#define EDDY__SPARE_SIZE 4096

/* The loop's spare buffer of EDDY__SPARE_SIZE bytes, now the caller's, or
 * NULL when it has none.  Connections served one after another pass one
 * buffer on this way instead of calling malloc and free for each. */
EDDY_HIDDEN void *eddy__loop_take_spare(eddy_loop *loop);

/* Offers buf (EDDY__SPARE_SIZE bytes, from malloc) to the loop as its
 * spare.  Returns NULL when the loop took it, or buf when it already has
 * one: the caller frees buf then. */
EDDY_HIDDEN void *eddy__loop_give_spare(eddy_loop *loop, void *buf);

#endif
