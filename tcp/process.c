/*
 * tcp/process.c - pre-forking (Tornado's process.fork_processes).
 *
 * Bind the listening sockets first, then fork: every child accepts on the
 * same sockets, and the kernel spreads the connections.  The parent only
 * supervises.  It waits for signals synchronously with sigwait() (SIGCHLD,
 * SIGTERM, SIGINT blocked), which has no race between "check for a
 * signal" and "sleep" and needs no handler.
 *
 * The task id is process-wide by nature, like the signal dispositions: it
 * is the one variable this file keeps.  This file must never return in the
 * parent, and never restart a child that exited on its own with status 0.
 */
#define _GNU_SOURCE
#include "eddy/tcp.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int task_id = -1;

int eddy_task_id(void)
{
    return task_id;
}

static pid_t spawn(int id, const sigset_t *old, int *is_child)
{
    pid_t pid = fork();

    if (pid == 0) {
        task_id = id;
        *is_child = 1;
        signal(SIGCHLD, SIG_DFL);
        pthread_sigmask(SIG_SETMASK, old, NULL);
    }
    return pid;
}

int eddy_fork_processes(int n, int max_restarts, int *out_id)
{
    sigset_t set, old;
    pid_t *pids;
    int child = 0, alive = 0, failed = 0, stopping = 0;

    if (n < 0 || max_restarts < 0 || out_id == NULL || task_id != -1)
        return -EINVAL;
    if (n == 0)
        n = eddy_cpu_count();
    pids = calloc((size_t)n, sizeof *pids);
    if (pids == NULL)
        return -ENOMEM;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < n; i++) {
        pids[i] = spawn(i, &old, &child);
        if (child) {
            free(pids);
            *out_id = i;
            return 0;
        }
        if (pids[i] < 0) {
            int err = -errno;

            for (int j = 0; j < i; j++)
                kill(pids[j], SIGTERM);
            for (int j = 0; j < i; j++)
                waitpid(pids[j], NULL, 0);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            free(pids);
            return err;
        }
        alive++;
    }
    while (alive > 0) {
        int sig, st;
        pid_t pid;

        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGCHLD) {
            stopping = 1;
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], sig);
            continue;
        }
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            int i = 0, clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;

            while (i < n && pids[i] != pid)
                i++;
            if (i == n)
                continue;
            pids[i] = 0;
            alive--;
            if (clean)
                continue;
            if (stopping || max_restarts-- <= 0) {
                failed = 1;
                continue;
            }
            pids[i] = spawn(i, &old, &child);
            if (child) {
                free(pids);
                *out_id = i;
                return 0;
            }
            if (pids[i] > 0)
                alive++;
            else
                failed = 1;
        }
    }
    free(pids);
    exit(failed ? 1 : 0);
}
