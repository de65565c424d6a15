/*
 * iostream/stream_internal.h - what the stream offers the layer directly
 * above it (tcp/) beyond the public iostream.h: hidden functions defined
 * in iostream/, never the stream's struct.
 *
 * Public headers never include this file, and only iostream/ and tcp/ may
 * (scripts/check_layers.sh).
 */
#ifndef EDDY_STREAM_INTERNAL_H
#define EDDY_STREAM_INTERNAL_H

#include "../common/internal.h"
#include "eddy/iostream.h"

#include <sys/socket.h>

/*
 * A stream over fd, a connected socket that accept4() made non-blocking,
 * with its handler added now for reading: the first read the owner asks
 * for costs no system call, and an fd the poller cannot watch is found
 * here, before anyone sees the stream.  On error (-ERANGE: past select's
 * FD_SETSIZE; -ENOMEM; the loop's errors) fd stays open and the caller's.
 */
EDDY_HIDDEN int eddy__stream_accepted(eddy_loop *loop, int fd,
                                      const eddy_stream_options *opts,
                                      eddy_stream **out);

/*
 * Connects a new stream to sa, bound first to bind_sa when it is not NULL,
 * as eddy_stream_connect() does for a numeric address: every outcome of
 * the connect reaches cb.  Errors (nothing is left open): -EINVAL (a
 * family other than AF_INET and AF_INET6), -ENOMEM, socket(2)'s and
 * bind(2)'s (-EADDRNOTAVAIL, -EADDRINUSE).
 */
EDDY_HIDDEN int
eddy__stream_connect_addr(eddy_loop *loop, const struct sockaddr *sa,
                          socklen_t len, const struct sockaddr *bind_sa,
                          socklen_t bind_len, uint64_t timeout_ms,
                          const eddy_stream_options *opts, eddy_stream_cb cb,
                          void *arg, eddy_stream **out);

/*
 * Runs fn(arg) once, when the stream frees itself: after its close
 * callback returned, from the loop (never inside a call of the owner's).
 * The layer that handed the stream out learns this way that a connection
 * is gone without taking the owner's close callback.  fn NULL removes it.
 */
EDDY_HIDDEN void eddy__stream_on_free(eddy_stream *s, void (*fn)(void *arg),
                                      void *arg);

#endif
