/*
 * ioloop/signal.c - signals delivered as ordinary callbacks on the loop
 * thread.
 *
 * Signal dispositions belong to the process, so this file keeps the one
 * piece of process-wide state in the library besides the default loop: for
 * each signal, the loop that watches it.  The handler must stay
 * async-signal-safe: it only sets a bit in that loop and wakes it (an
 * atomic or two and one write(2)).  The loop turns the bits into callbacks
 * after its next poll.  Deliveries that arrive before the loop gets to them
 * merge, as with any POSIX signal.
 */
#define _GNU_SOURCE
#include "loop_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct eddy__sig {
    eddy_signal_cb cb;
    void *arg;
    struct sigaction old;
};

static _Atomic(eddy_loop *) owners[NSIG];

static void on_signal(int signum)
{
    eddy_loop *loop = atomic_load(&owners[signum]);

    if (loop == NULL)
        return;
    atomic_fetch_or(&loop->sig_pending[signum / 32], 1u << (signum % 32));
    atomic_store(&loop->sig_any, 1);
    eddy__backend_wake(loop->backend);
}

int eddy_loop_add_signal(eddy_loop *loop, int signum, eddy_signal_cb cb,
                         void *arg)
{
    struct sigaction sa;
    eddy_loop *none = NULL;
    struct eddy__sig *s;

    if (signum <= 0 || signum >= NSIG || signum == SIGKILL ||
        signum == SIGSTOP || cb == NULL)
        return -EINVAL;
    if (loop->sigs == NULL &&
        (loop->sigs = calloc(NSIG, sizeof *loop->sigs)) == NULL)
        return -ENOMEM;
    s = &loop->sigs[signum];
    if (s->cb != NULL || !atomic_compare_exchange_strong(&owners[signum],
                                                         &none, loop))
        return -EBUSY;
    s->cb = cb;
    s->arg = arg;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(signum, &sa, &s->old) != 0) {
        int err = -errno;

        s->cb = NULL;
        atomic_store(&owners[signum], NULL);
        return err;
    }
    return 0;
}

int eddy_loop_remove_signal(eddy_loop *loop, int signum)
{
    struct eddy__sig *s;

    if (signum <= 0 || signum >= NSIG)
        return -EINVAL;
    if (loop->sigs == NULL || loop->sigs[signum].cb == NULL)
        return -ENOENT;
    s = &loop->sigs[signum];
    sigaction(signum, &s->old, NULL);
    atomic_store(&owners[signum], NULL);
    atomic_fetch_and(&loop->sig_pending[signum / 32], ~(1u << (signum % 32)));
    s->cb = NULL;
    s->arg = NULL;
    return 0;
}

void eddy__signals_dispatch(eddy_loop *loop)
{
    atomic_store(&loop->sig_any, 0);
    for (int w = 0; w < EDDY__SIGWORDS; w++) {
        unsigned bits = atomic_exchange(&loop->sig_pending[w], 0);

        while (bits != 0) {
            int signum = w * 32 + __builtin_ctz(bits);
            struct eddy__sig *s = &loop->sigs[signum];
            eddy_signal_cb cb = s->cb;
            uint64_t t0;

            bits &= bits - 1;
            if (cb == NULL)
                continue;
            t0 = eddy__watch_start(loop);
            cb(loop, signum, s->arg);
            eddy__watch_end(loop, t0, "signal handler", (void (*)(void))cb);
        }
    }
}

void eddy__signals_free(eddy_loop *loop)
{
    for (int signum = 1; loop->sigs != NULL && signum < NSIG; signum++)
        if (loop->sigs[signum].cb != NULL)
            eddy_loop_remove_signal(loop, signum);
    free(loop->sigs);
    loop->sigs = NULL;
}
