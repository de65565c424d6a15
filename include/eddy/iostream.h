/**
 * @file
 * @brief Buffered non-blocking streams over sockets and pipes.
 *
 * Everything it declares is described under @ref stream.
 */
/**
 * @defgroup stream Streams (iostream.h)
 * @brief Buffered non-blocking streams over sockets and pipes: Tornado's
 * IOStream.
 *
 * This is Tornado's IOStream in C.  A stream turns readiness events into
 * "give me the next line", "give me 512 bytes", "send this and tell me when
 * it is out".  All functions run on the loop's thread.
 *
 * Callbacks.  Every request (a read, a write with a callback, a connect)
 * gets its callback exactly once: with status 0 when it completed, or a
 * negative error when the stream closed first.  A callback never runs
 * inside the call that made the request: a read the buffer can satisfy at
 * once completes after the current callback returns, or in the next loop
 * iteration, so a protocol that reads in its read callback loops instead of
 * recursing.  At most one read is pending at a time.
 *
 * Closing.  A stream closes when its owner calls eddy_stream_close(), at
 * EOF from the peer (once queued writes are out), on an I/O error, or when
 * a limit is exceeded.  Its fd is closed at once; then the pending
 * callbacks run with an error, and last the close callback.
 *
 * Ownership.  The stream owns its fd(s) and frees itself after its close
 * callback returns (right after the last pending callback if it has none).
 * The pointer is valid inside every callback of the stream; to keep it
 * beyond them, set a close callback and drop the pointer there.  Close all
 * streams before closing their loop, and run it once more after the last
 * close callback (eddy_loop_run_once(loop, 0)): a stream that had work
 * queued on the loop when it closed (a request made outside its own
 * callbacks in that iteration) is freed there, not in its close callback.
 *
 * Errors are negative errno values, plus EDDY_EOF.  The limits close the
 * stream with their own codes: -ENOBUFS (max_buffer_size), -EMSGSIZE
 * (read_until's max_bytes), -ENOSPC (max_write_buffer_size).
 *
 * Backpressure.  A writer that must not outrun its reader sets a high and
 * a low watermark: once the bytes queued reach the high one,
 * eddy_stream_needs_drain() says so and the drain callback runs when they
 * have fallen to the low one (Node's 'drain').  Writes above the high
 * watermark still succeed: it is advice, and max_write_buffer_size stays
 * the hard limit.  A reader that cannot keep up pauses reading: nothing
 * more is read from the fd, so TCP's own flow control reaches the peer.
 */
#ifndef EDDY_IOSTREAM_H
#define EDDY_IOSTREAM_H

#include "eddy/ioloop.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup stream
 *  @{ */

/** A buffered stream.  Opaque; create with eddy_stream_new(),
 *  eddy_stream_new_pair() or eddy_stream_connect(). */
typedef struct eddy_stream eddy_stream;

/** The peer closed the stream (read returned 0). */
#define EDDY_EOF (-4095)
/* eddy's own codes share one namespace below EDDY_EOF, all known to
 * eddy_strerror(); the tcp layer's are -4080 to -4089, TLS's -4070 to
 * -4079 (tls.h), the HTTP client's -4050 to -4069 (httpclient.h),
 * WebSocket's -4040 to -4049 (websocket.h), the HTTP server's from -4094
 * (EDDY_HTTP_TOO_LARGE, httpserver.h) down. */
/** Name resolution: the host name does not exist, or has no address of
 *  the family asked for (EAI_NONAME, EAI_NODATA, a name under .invalid). */
#define EDDY_ENOTFOUND (-4080)
/** Name resolution: a temporary failure, such as an unreachable name
 *  server (EAI_AGAIN); trying again later may work. */
#define EDDY_ETRYAGAIN (-4081)
/** Name resolution failed for good in some other way (EAI_FAIL, and any
 *  EAI_ code without a closer errno). */
#define EDDY_ERESOLVE (-4082)
/** Status of a streaming read's pieces: more will follow. */
#define EDDY_MORE 1
/** The longest delimiter eddy_stream_read_until() accepts. */
#define EDDY_MAX_DELIMITER 64

/** Limits; a zero field takes its default. */
typedef struct eddy_stream_options {
    size_t max_buffer_size;       /**< read buffer cap; default 100 MiB */
    size_t read_chunk_size;       /**< bytes per read(2); default 64 KiB */
    size_t max_write_buffer_size; /**< queued write bytes cap; default none */
} eddy_stream_options;

/**
 * Called when a read completes.  status: 0 (done), EDDY_MORE (a piece of
 * eddy_stream_read_stream(), more to come), or negative (the stream closed
 * first; data then holds what was buffered, a partial message).  data is
 * valid only during the call, except for eddy_stream_read_into(), where it
 * is the caller's buffer.
 */
typedef void (*eddy_read_cb)(eddy_stream *s, int status, const char *data,
                             size_t len, void *arg);
/** Called when a write is out, a connect completes, or the stream closed
 *  (status: 0, or a negative error; the close callback gets the error that
 *  closed the stream, see eddy_stream_error()). */
typedef void (*eddy_stream_cb)(eddy_stream *s, int status, void *arg);

/** @name Creating streams
 *  @{ */

/**
 * Wraps a connected socket, or a pipe or tty used in both directions, in a
 * stream.  fd is made non-blocking and owned by the stream from here on,
 * also when this fails.  opts may be NULL.  Errors: -EBADF, -ENOMEM, or the
 * loop's errors for the handler.
 */
EDDY_API int eddy_stream_new(eddy_loop *loop, int fd,
                             const eddy_stream_options *opts,
                             eddy_stream **out);

/**
 * A stream over two fds: reads from rfd, writes to wfd (a pipe pair to a
 * child process, say).  Either may be -1 for a one-way stream.  Both are
 * made non-blocking and owned by the stream from here on, also when this
 * fails with an error other than -EBADF.  Errors: -EBADF (both -1, or rfd
 * equal to wfd: eddy_stream_new() takes one fd; nothing is closed then),
 * -ENOMEM, or the loop's errors for the handlers.
 */
EDDY_API int eddy_stream_new_pair(eddy_loop *loop, int rfd, int wfd,
                                  const eddy_stream_options *opts,
                                  eddy_stream **out);

/**
 * Connects to a numeric IPv4 or IPv6 address (no DNS: that would block)
 * and port.  The stream exists at once: reads and writes may be queued and
 * go out once connected.  cb runs with 0, or -ECONNREFUSED, -ETIMEDOUT
 * (after timeout_ms; 0 means none), -ENETUNREACH..., after which the stream
 * closes.  Errors: -EINVAL (not a numeric address), -ENOMEM, socket's.
 */
EDDY_API int eddy_stream_connect(eddy_loop *loop, const char *host,
                                 uint16_t port, uint64_t timeout_ms,
                                 const eddy_stream_options *opts,
                                 eddy_stream_cb cb, void *arg,
                                 eddy_stream **out);

/** @} */
/** @name Reading
 *  At most one read is pending at a time.
 *  @{ */

/**
 * Reads exactly n bytes, or with partial non-zero as soon as any (at most
 * n) are there.  Errors (from every read call): -EBUSY (a read is
 * pending), -EPIPE (closed or at EOF), -EINVAL, and -ENOBUFS when n can
 * never fit max_buffer_size (the stream closes).
 */
EDDY_API int eddy_stream_read_bytes(eddy_stream *s, size_t n, int partial,
                                    eddy_read_cb cb, void *arg);

/**
 * Reads up to and including the delimiter (1 to EDDY_MAX_DELIMITER bytes,
 * copied).  When max_bytes (0: max_buffer_size) pass without the
 * delimiter, the stream closes with -EMSGSIZE.  Each byte is scanned once,
 * however the data arrives.  Errors as eddy_stream_read_bytes(), and
 * -EINVAL for a NULL, empty or too long delimiter.
 */
EDDY_API int eddy_stream_read_until(eddy_stream *s, const void *delim,
                                    size_t delim_len, size_t max_bytes,
                                    eddy_read_cb cb, void *arg);

/** Reads everything until EOF (status 0 then), within max_buffer_size.
 *  Errors as eddy_stream_read_bytes(). */
EDDY_API int eddy_stream_read_until_close(eddy_stream *s, eddy_read_cb cb,
                                          void *arg);

/**
 * Reads into buf, which the caller owns and keeps valid until cb runs:
 * exactly len bytes, or with partial as soon as any are there.  Bytes go
 * from the kernel straight into buf when nothing is buffered.  Errors as
 * eddy_stream_read_bytes(), and -EINVAL for a NULL buf with a non-zero len.
 */
EDDY_API int eddy_stream_read_into(eddy_stream *s, void *buf, size_t len,
                                   int partial, eddy_read_cb cb, void *arg);

/**
 * Hands data over in pieces as it arrives (status EDDY_MORE), until n bytes
 * (SIZE_MAX: until EOF) have gone by; the last call has status 0 (possibly
 * with len 0 at EOF).  Nothing is buffered beyond one piece.  Errors as
 * eddy_stream_read_bytes().
 */
EDDY_API int eddy_stream_read_stream(eddy_stream *s, size_t n,
                                     eddy_read_cb cb, void *arg);

/** @} */
/** @name Writing
 *  @{ */

/**
 * Queues a copy of data; small writes queued together go out in one
 * writev.  cb (may be NULL) runs once the data is handed to the kernel.
 * Errors: -EPIPE (closed), -ENOMEM, -ENOSPC (max_write_buffer_size would be
 * passed: the stream closes).
 */
EDDY_API int eddy_stream_write(eddy_stream *s, const void *data, size_t len,
                               eddy_stream_cb cb, void *arg);

/**
 * Queues data without copying it: the caller keeps it valid and unchanged
 * until cb runs (with 0 once sent, or an error if the stream closed first),
 * and may free it there.  Errors as eddy_stream_write(); on error cb does
 * not run.
 */
EDDY_API int eddy_stream_write_ref(eddy_stream *s, const void *data,
                                   size_t len, eddy_stream_cb cb, void *arg);

/**
 * Queues len bytes of the file open on fd, from offset, in order with the
 * other writes, without reading them into memory first: a plain socket
 * sends them with sendfile(2) on Linux; a TLS stream, a pipe, or a system
 * where sendfile(2) differs (FreeBSD, macOS) reads them with pread(2), 64
 * KiB at a time, and writes them as any bytes.  fd is the caller's: keep
 * it open, and the file's bytes in place, until cb runs (with 0 once they
 * were all handed to the kernel, or with an error), and close it there;
 * cb may be NULL when fd is kept open longer (until the stream's close
 * callback, say).  The bytes count in eddy_stream_write_buffered() and
 * the watermarks, but not against max_write_buffer_size, which bounds
 * memory.  A file that ends before offset + len (truncated meanwhile)
 * closes the stream with -ENODATA before a byte that is not the file's is
 * sent; a file rewritten in place meanwhile cannot be noticed (replace
 * files with rename(2): an open fd keeps the old one).  Errors: -EPIPE
 * (closed), -EINVAL (fd negative; offset + len past INT64_MAX), -ENOMEM;
 * nothing is queued then and cb does not run.
 */
EDDY_API int eddy_stream_sendfile(eddy_stream *s, int fd, uint64_t offset,
                                  uint64_t len, eddy_stream_cb cb, void *arg);

/**
 * Sets the write watermarks: from the moment the bytes queued reach high,
 * eddy_stream_needs_drain() is non-zero, and once they have fallen to low
 * the drain callback runs (once).  high 0 (the default) turns them off.
 * Writes keep succeeding above high.  Errors: -EINVAL (low not below a
 * non-zero high; nothing changes).
 */
EDDY_API int eddy_stream_set_write_watermarks(eddy_stream *s, size_t high,
                                              size_t low);

/**
 * Runs cb(s, 0, arg) each time the queued bytes, after reaching the high
 * watermark, have fallen to the low one: a producer paused at the high
 * watermark resumes there.  It is not a request: it does not run when the
 * stream closes (the close callback does).  NULL removes it.
 */
EDDY_API void eddy_stream_set_drain_callback(eddy_stream *s,
                                             eddy_stream_cb cb, void *arg);

/** Non-zero from the moment the bytes queued reached the high watermark
 *  until they fell to the low one (when the drain callback runs). */
EDDY_API int eddy_stream_needs_drain(const eddy_stream *s);

/** @} */
/** @name Pausing reads
 *  @{ */

/**
 * Stops reading from the fd: data the peer sends waits in the kernel, and
 * TCP's window makes the peer wait.  A pending read stays pending (it is
 * not completed even from buffered bytes, nor failed at EOF) until
 * eddy_stream_resume_reading(); new reads may still be asked for.  Writes
 * go on.  On a closed or paused stream it does nothing.
 */
EDDY_API void eddy_stream_pause_reading(eddy_stream *s);

/** Reads again: a pending read completes from what is buffered, or waits
 *  for the fd.  On a stream that is not paused it does nothing. */
EDDY_API void eddy_stream_resume_reading(eddy_stream *s);

/** Non-zero while reading is paused. */
EDDY_API int eddy_stream_reading_paused(const eddy_stream *s);

/** @} */
/** @name Closing and state
 *  @{ */

/**
 * Half-open (on non-zero; off by default, Node's allowHalfOpen): at the
 * peer's EOF while no read is pending, the stream stays open for writing
 * instead of closing once its queued writes are out, so a client that
 * shut down its sending side after its request still gets an answer
 * written later.  The next read then fails (-EPIPE, or EDDY_EOF if it was
 * pending), and the owner closes the stream.  The HTTP server's streams
 * are half-open.  Turned off after such an EOF, the stream closes as it
 * would have (from a loop callback).
 */
EDDY_API void eddy_stream_set_half_open(eddy_stream *s, int on);

/** Runs cb(s, error, arg) when the stream closes (see the top).  May be
 *  changed or cancelled (NULL) until it has run, also after the close. */
EDDY_API void eddy_stream_set_close_callback(eddy_stream *s, eddy_stream_cb cb,
                                             void *arg);

/**
 * Closes the stream: its fd(s) at once; queued writes are dropped (wait
 * for the last write's callback first to send them).  No callback runs
 * inside this call.  The pending ones run next: right after the stream's
 * own callback that called this returns, or, called from anywhere else,
 * from a loop callback (eddy_loop_add_callback()), so at the latest in the
 * next loop iteration.  The connect callback first (0 if the connection
 * was made and not reported yet, else -ECANCELED), then the pending read
 * (with -ECANCELED and what was buffered), then each write callback (0 if
 * its bytes had all gone to the kernel, else -ECANCELED), and last the
 * close callback, with 0.  The stream is freed when that returns.  Calling
 * it again, or on a stream that is closing (at EOF, after an error), does
 * nothing: the callbacks then get that first error.
 */
EDDY_API void eddy_stream_close(eddy_stream *s);

/**
 * Half-closes the stream: once every write queued so far is out, the peer
 * reads the end of what the stream sends, while reading goes on (a
 * lingering close, a request sent in full, Node's end()).  On a socket
 * that is shutdown(SHUT_WR); on a TLS stream a close_notify goes first,
 * so that the peer sees a clean end (#EDDY_EOF), never a truncation; a
 * stream over two fds closes its write fd (and one that only wrote then
 * closes, with 0).  A handshake or connect under way is waited for.
 * Writes fail from now on (-EPIPE); reads, and EOF and errors from the
 * peer, behave as before, and the owner still closes the stream.  A
 * failure to send closes the stream with its error (-ECONNRESET...).
 * Errors (nothing changes): -EPIPE (closed, already half-closed, or with
 * no write side), -ENOTSOCK (one fd that is not a socket, such as a tty:
 * close the stream instead), -ENOMEM.
 */
EDDY_API int eddy_stream_shutdown_write(eddy_stream *s);

/** Turns Nagle's algorithm off (on != 0) or on, on a TCP stream.  Errors:
 *  -EPIPE (closed), or setsockopt's errno: -ENOTSOCK (a pipe),
 *  -EOPNOTSUPP (a socket that is not TCP). */
EDDY_API int eddy_stream_set_nodelay(eddy_stream *s, int on);

/** The error that closed the stream: 0 (open, or closed by its owner),
 *  EDDY_EOF, or a negative errno / limit code. */
EDDY_API int eddy_stream_error(const eddy_stream *s);
/** Non-zero once the stream is closed or closing. */
EDDY_API int eddy_stream_closed(const eddy_stream *s);
/** Non-zero while a read is pending. */
EDDY_API int eddy_stream_reading(const eddy_stream *s);
/** Bytes queued for writing and not yet handed to the kernel (a file's
 *  queued with eddy_stream_sendfile() too). */
EDDY_API size_t eddy_stream_write_buffered(const eddy_stream *s);
/** Bytes read from the fd and not yet handed to a read callback. */
EDDY_API size_t eddy_stream_read_buffered(const eddy_stream *s);
/** The fd (the read fd for a pair, or its write fd when it only writes),
 *  or -1 once closed.  The stream still owns it. */
EDDY_API int eddy_stream_fd(const eddy_stream *s);
/** The loop the stream runs on. */
EDDY_API eddy_loop *eddy_stream_loop(const eddy_stream *s);
/** Stores a pointer for the owner's use; the stream never reads or frees
 *  it. */
EDDY_API void eddy_stream_set_data(eddy_stream *s, void *data);
/** The pointer last given to eddy_stream_set_data(), or NULL. */
EDDY_API void *eddy_stream_data(const eddy_stream *s);

/** @} */

/** A message for any error eddy returns (EDDY_EOF, limits, the EDDY_TLS_*
 *  codes of tls.h, errno): a constant string, or strerror()'s.  Never
 *  NULL; do not free it. */
EDDY_API const char *eddy_strerror(int err);

/** @} */

#ifdef __cplusplus
}
#endif

#endif
