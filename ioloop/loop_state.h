/*
 * ioloop/loop_state.h - the loop's state, shared by the ioloop files
 * (loop.c, timer.c, signal.c) and by tests that need to reach inside.
 * Only ioloop/ includes it: the layers above get what they need from the
 * loop through ioloop/loop_internal.h, and never see this struct.
 */
#ifndef EDDY_LOOP_STATE_H
#define EDDY_LOOP_STATE_H

#include "../backends/backend.h"
#include "loop_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifndef NSIG
#define NSIG 65
#endif
#define EDDY__SIGWORDS ((NSIG + 31) / 32)

/* A slot of the fd table.  mask is also what the backend holds while
 * EDDY__FD_KERNEL is set, even after the handler was removed. */
enum { EDDY__FD_KERNEL = 1, EDDY__FD_PENDING = 2 };

struct eddy__fd {
    eddy_fd_cb cb;          /* NULL: no handler */
    void *arg;
    uint32_t gen;           /* generation of the backend registration */
    uint32_t removed_round; /* round in which the handler was last removed */
    uint8_t mask;           /* EDDY_READ | EDDY_WRITE */
    uint8_t flags;
};

typedef struct eddy__task {
    eddy_cb cb;
    void *arg;
} eddy__task;

typedef struct eddy__tasks {
    eddy__task *v;
    size_t n, cap;
} eddy__tasks;

/* A heap node: 16 bytes, so the four children of a node fill one cache
 * line.  seq breaks ties in deadline: first added, first fired. */
typedef struct eddy__heap_node {
    uint64_t deadline; /* ns on the loop clock */
    uint32_t seq;
    uint32_t slot;     /* index into loop->timers */
} eddy__heap_node;

/* A timer record.  cb == NULL marks a free record, pos then links the free
 * list.  gen is the upper half of the handle, bumped when freed. */
typedef struct eddy__timer {
    eddy_cb cb;
    void *arg;
    uint64_t period; /* ns; 0 for a one-shot timer */
    uint32_t pos;    /* heap position, EDDY__TIMER_RUNNING, or free link */
    uint32_t gen;
} eddy__timer;

#define EDDY__TIMER_RUNNING UINT32_MAX
#define EDDY__NO_SLOT UINT32_MAX

struct eddy_loop {
    eddy__backend *backend;

    /* fds */
    struct eddy__fd *fds;
    int nfds;
    int *pending;        /* fds whose removal is not yet applied */
    int npending;
    eddy__fired *fired;
    int nfired_max;
    void *spare_buf;     /* an empty stream read buffer: loop_internal.h */
    uint32_t round;      /* bumped after each poll */
    uint64_t nhandlers;

    /* timers */
    eddy__heap_node *heap; /* heap[0] is the root; see timer.c */
    void *heap_mem;
    uint32_t heap_n, heap_cap;
    eddy__timer *timers;
    uint32_t timers_cap, free_timer;
    uint32_t ntimers;        /* records in use */
    uint32_t fresh;          /* records from here on are unused, in order */
    uint32_t ndead;          /* removed timers still in the heap */
    uint32_t seq, seq_limit; /* next seq; timers with seq >= limit wait */
    uint64_t now;            /* ns, cached */

    /* callbacks: queue is the loop thread's, remote is every other's */
    eddy__tasks queue, running;
    pthread_mutex_t lock;
    eddy__tasks remote;
    atomic_int remote_n;
    atomic_int wake_pending;
    atomic_int stop;
    int in_run;

    /* signals (signal.c) */
    atomic_uint sig_pending[EDDY__SIGWORDS];
    atomic_int sig_any;
    struct eddy__sig *sigs;

    /* diagnostics */
    uint64_t block_ns;
    eddy_log_fn log;
    void *log_arg;
    eddy_loop_stats stats;
};

/* Reports a callback that held the loop for more than the threshold. */
EDDY_HIDDEN void eddy__watch_end(eddy_loop *loop, uint64_t t0,
                                 const char *kind, void (*fn)(void));

static inline uint64_t eddy__watch_start(const eddy_loop *loop)
{
    return eddy__unlikely(loop->block_ns != 0) ? eddy__clock_ns() : 0;
}

/* timer.c */
EDDY_HIDDEN int eddy__timers_init(eddy_loop *loop);
EDDY_HIDDEN void eddy__timers_free(eddy_loop *loop);
EDDY_HIDDEN void eddy__timers_run(eddy_loop *loop);
EDDY_HIDDEN int eddy__timers_timeout(const eddy_loop *loop, uint64_t now);

/* signal.c */
EDDY_HIDDEN void eddy__signals_dispatch(eddy_loop *loop);
EDDY_HIDDEN void eddy__signals_free(eddy_loop *loop);

#endif
