/*
 * ioloop/timer.c - one-shot and periodic timers on a 4-ary min-heap.
 *
 * A heap node is 16 bytes: the deadline, a sequence number that breaks ties
 * (equal deadlines fire in the order they were added) and the index of the
 * timer's record.  The heap is stored three nodes into a 64-byte aligned
 * block, so the four children of any node share one cache line: a sift-down
 * costs one line per level, and a 4-ary heap has half the levels of a
 * binary one.  Records live in a loop-owned array, reached by index and
 * holding their heap position, so cancel is O(log n) without a search.
 *
 * A handle is (generation << 32 | index).  Freeing a record bumps its
 * generation, so a handle of a fired or removed timer is recognised as
 * stale instead of cancelling whatever reused the record.
 *
 * Sequence numbers are 32 bits.  When they run out (after 2^32 adds) every
 * node gets its rank among the pending ones instead, which keeps every
 * comparison, and hence the heap, as it was.
 *
 * This file must never call a timer callback while the heap is in an
 * inconsistent state: a callback may add or remove any timer.
 */
#define _GNU_SOURCE
#include "loop_state.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_PAD 3 /* node p's children sit at 4(p+1) .. 4(p+1)+3 */
#define NS_PER_MS 1000000u

static inline int before(const eddy__heap_node *a, const eddy__heap_node *b)
{
    return a->deadline != b->deadline ? a->deadline < b->deadline
                                      : a->seq < b->seq;
}

static inline void place(eddy_loop *loop, uint32_t p, eddy__heap_node n)
{
    loop->heap[p] = n;
    loop->timers[n.slot].pos = p;
}

static void sift_up(eddy_loop *loop, uint32_t p, eddy__heap_node n)
{
    while (p > 0) {
        uint32_t parent = (p - 1) / 4;

        if (!before(&n, &loop->heap[parent]))
            break;
        place(loop, p, loop->heap[parent]);
        p = parent;
    }
    place(loop, p, n);
}

static void sift_down(eddy_loop *loop, uint32_t p, eddy__heap_node n)
{
    eddy__heap_node *h = loop->heap;
    uint32_t count = loop->heap_n;

    for (;;) {
        uint32_t c = 4 * p + 1, m = c;

        if (eddy__likely(c + 3 < count)) {
            uint32_t m2 = c + 2;

            m = before(&h[c + 1], &h[c]) ? c + 1 : c;
            m2 = before(&h[c + 3], &h[c + 2]) ? c + 3 : c + 2;
            m = before(&h[m2], &h[m]) ? m2 : m;
        } else if (c < count) {
            for (uint32_t i = c + 1; i < count; i++)
                if (before(&h[i], &h[m]))
                    m = i;
        } else {
            break;
        }
        if (!before(&h[m], &n))
            break;
        place(loop, p, h[m]);
        p = m;
    }
    place(loop, p, n);
}

static void heap_remove(eddy_loop *loop, uint32_t p)
{
    eddy__heap_node last = loop->heap[--loop->heap_n];

    if (p == loop->heap_n)
        return;
    if (p > 0 && before(&last, &loop->heap[(p - 1) / 4]))
        sift_up(loop, p, last);
    else
        sift_down(loop, p, last);
}

static int heap_grow(eddy_loop *loop)
{
    uint32_t cap = loop->heap_cap ? 2 * (loop->heap_cap + HEAP_PAD) - HEAP_PAD
                                  : 64 - HEAP_PAD;
    void *mem;

    if (cap <= loop->heap_cap || cap > UINT32_MAX / 2)
        return -ENOMEM;
    if (posix_memalign(&mem, 64, (cap + HEAP_PAD) * sizeof(eddy__heap_node)))
        return -ENOMEM;
    if (loop->heap_n != 0)
        memcpy((eddy__heap_node *)mem + HEAP_PAD, loop->heap,
               loop->heap_n * sizeof(eddy__heap_node));
    free(loop->heap_mem);
    loop->heap_mem = mem;
    loop->heap = (eddy__heap_node *)mem + HEAP_PAD;
    loop->heap_cap = cap;
    return 0;
}

static int records_grow(eddy_loop *loop)
{
    uint32_t cap = loop->timers_cap ? 2 * loop->timers_cap : 64;
    eddy__timer *t;

    if (cap <= loop->timers_cap || cap >= EDDY__NO_SLOT)
        return -ENOMEM;
    t = realloc(loop->timers, cap * sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    for (uint32_t i = loop->timers_cap; i < cap; i++) {
        t[i].cb = NULL;
        t[i].gen = 1;
    }
    loop->timers = t;
    loop->timers_cap = cap;
    return 0;
}

/* With no timer left, every node still in the heap is a removed one: drop
 * them all, and hand out records in index order again (after timers fired
 * in deadline order, the free list is a random walk through the array, and
 * every add would take a cache miss on it). */
static void drop_all(eddy_loop *loop)
{
    loop->heap_n = 0;
    loop->ndead = 0;
    loop->free_timer = EDDY__NO_SLOT;
    loop->fresh = 0;
}

static void record_release(eddy_loop *loop, uint32_t slot)
{
    loop->timers[slot].pos = loop->free_timer;
    loop->free_timer = slot;
}

/* Ends a timer: its handle goes stale at once, its record is reused only
 * when no heap node refers to it any more. */
static void record_end(eddy__timer *t)
{
    t->cb = NULL;
    t->arg = NULL;
    if (++t->gen == 0)
        t->gen = 1;
}

static void record_free(eddy_loop *loop, uint32_t slot)
{
    record_end(&loop->timers[slot]);
    record_release(loop, slot);
    if (--loop->ntimers == 0)
        drop_all(loop);
}

/* Keeps the root live, so that the timeout and the run see a real
 * deadline: pops removed nodes off the top. */
static void pop_dead_roots(eddy_loop *loop)
{
    while (loop->ndead != 0 && loop->heap_n != 0 &&
           loop->timers[loop->heap[0].slot].cb == NULL) {
        uint32_t slot = loop->heap[0].slot;

        heap_remove(loop, 0);
        record_release(loop, slot);
        loop->ndead--;
    }
}

/* Drops the removed nodes and rebuilds the heap bottom-up, in O(n) once
 * they are half of it: O(1) a removal. */
static void compact(eddy_loop *loop)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < loop->heap_n; i++) {
        eddy__heap_node node = loop->heap[i];

        if (loop->timers[node.slot].cb == NULL) {
            record_release(loop, node.slot);
            continue;
        }
        loop->heap[n] = node;
        loop->timers[node.slot].pos = n;
        n++;
    }
    loop->heap_n = n;
    loop->ndead = 0;
    for (uint32_t p = n > 1 ? (n - 2) / 4 + 1 : 0; p-- > 0;)
        sift_down(loop, p, loop->heap[p]);
}

int eddy_loop_reserve_timers(eddy_loop *loop, uint32_t n)
{
    if (n >= EDDY__NO_SLOT - 1)
        return -ENOMEM;
    while (loop->heap_cap < n)
        if (heap_grow(loop) != 0)
            return -ENOMEM;
    while (loop->timers_cap < n)
        if (records_grow(loop) != 0)
            return -ENOMEM;
    /* Take the page faults now, not in the adds: that is the point. */
    memset(loop->heap + loop->heap_n, 0,
           (loop->heap_cap - loop->heap_n) * sizeof *loop->heap);
    return 0;
}

int eddy__timers_init(eddy_loop *loop)
{
    loop->free_timer = EDDY__NO_SLOT;
    return heap_grow(loop) != 0 || records_grow(loop) != 0 ? -ENOMEM : 0;
}

void eddy__timers_free(eddy_loop *loop)
{
    free(loop->heap_mem);
    free(loop->timers);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Gives every pending node its rank by seq as its new seq. */
static int renumber(eddy_loop *loop)
{
    uint32_t n = loop->heap_n, limit = 0;
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);

    if (keys == NULL)
        return -ENOMEM;
    for (uint32_t p = 0; p < n; p++)
        keys[p] = (uint64_t)loop->heap[p].seq << 32 | p;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (uint32_t r = 0; r < n; r++) {
        if (keys[r] >> 32 < loop->seq_limit)
            limit = r + 1;
        loop->heap[(uint32_t)keys[r]].seq = r;
    }
    free(keys);
    loop->seq = n;
    loop->seq_limit = limit;
    return 0;
}

/* Queues slot at deadline as the newest of its ties.  A past deadline
 * becomes now: it then sorts after the timers that are already due, and
 * runs in the next iteration. */
static int heap_push(eddy_loop *loop, uint64_t deadline, uint32_t slot)
{
    eddy__heap_node n = {deadline < loop->now ? loop->now : deadline, 0, slot};

    if ((loop->heap_n == loop->heap_cap && heap_grow(loop) != 0) ||
        (loop->seq == UINT32_MAX && renumber(loop) != 0))
        return -ENOMEM;
    n.seq = loop->seq++;
    sift_up(loop, loop->heap_n++, n);
    return 0;
}

static int timer_add(eddy_loop *loop, uint64_t deadline, uint64_t period,
                     eddy_cb cb, void *arg, eddy_timer_id *id)
{
    eddy__timer *t;
    uint32_t slot = loop->free_timer;

    if (cb == NULL)
        return -EINVAL;
    if (slot != EDDY__NO_SLOT) {
        loop->free_timer = loop->timers[slot].pos;
    } else {
        if (loop->fresh == loop->timers_cap && records_grow(loop) != 0)
            return -ENOMEM;
        slot = loop->fresh++;
    }
    loop->ntimers++;
    t = &loop->timers[slot];
    t->cb = cb;
    t->arg = arg;
    t->period = period;
    if (heap_push(loop, deadline, slot) != 0) {
        record_free(loop, slot);
        return -ENOMEM;
    }
    if (id != NULL)
        *id = (uint64_t)t->gen << 32 | slot;
    return 0;
}

static uint64_t ms_to_ns(uint64_t ms)
{
    return ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : ms * NS_PER_MS;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int eddy_loop_call_later(eddy_loop *loop, uint64_t delay_ms, eddy_cb cb,
                         void *arg, eddy_timer_id *id)
{
    return timer_add(loop, add_sat(loop->now, ms_to_ns(delay_ms)), 0, cb, arg,
                     id);
}

int eddy_loop_call_at(eddy_loop *loop, uint64_t deadline_ms, eddy_cb cb,
                      void *arg, eddy_timer_id *id)
{
    return timer_add(loop, ms_to_ns(deadline_ms), 0, cb, arg, id);
}

int eddy_loop_call_every(eddy_loop *loop, uint64_t period_ms, eddy_cb cb,
                         void *arg, eddy_timer_id *id)
{
    uint64_t period = ms_to_ns(period_ms);

    if (period == 0)
        return -EINVAL;
    return timer_add(loop, add_sat(loop->now, period), period, cb, arg, id);
}

int eddy_loop_remove_timeout(eddy_loop *loop, eddy_timer_id id)
{
    uint32_t slot = (uint32_t)id;
    eddy__timer *t;

    if (slot >= loop->timers_cap)
        return -ENOENT;
    t = &loop->timers[slot];
    if (t->cb == NULL || t->gen != (uint32_t)(id >> 32))
        return -ENOENT;
    if (t->pos == EDDY__TIMER_RUNNING) {
        record_free(loop, slot);
        return 0;
    }
    /* The node stays in the heap, marked by its record's NULL cb: taking
     * it out of a large heap costs a cache miss for it, its parent, its
     * children and the record of the node that moves into its place. */
    record_end(t);
    loop->ndead++;
    if (--loop->ntimers == 0)
        drop_all(loop);
    else if (t->pos == 0)
        pop_dead_roots(loop);
    else if (loop->ndead > 64 && loop->ndead > loop->heap_n / 2)
        compact(loop);
    return 0;
}

/* Milliseconds from now (ns) to the first deadline, rounded up. */
int eddy__timers_timeout(const eddy_loop *loop, uint64_t now)
{
    uint64_t d;

    if (loop->heap_n == 0)
        return -1;
    d = loop->heap[0].deadline;
    if (d <= now)
        return 0;
    d = (d - now + NS_PER_MS - 1) / NS_PER_MS;
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* Runs the timers that were due, and added, before this call began. */
void eddy__timers_run(eddy_loop *loop)
{
    loop->seq_limit = loop->seq;
    while (loop->heap_n != 0) {
        eddy__heap_node top = loop->heap[0];
        eddy__timer *t;
        eddy_cb cb;
        void *arg;
        uint32_t gen;
        uint64_t t0;

        if (top.deadline > loop->now || top.seq >= loop->seq_limit)
            break;
        heap_remove(loop, 0);
        if (eddy__unlikely(loop->ndead != 0))
            pop_dead_roots(loop);
        t = &loop->timers[top.slot];
        cb = t->cb;
        arg = t->arg;
        gen = t->gen;
        if (t->period == 0)
            record_free(loop, top.slot);
        else
            t->pos = EDDY__TIMER_RUNNING;
        t0 = eddy__watch_start(loop);
        cb(loop, arg);
        eddy__watch_end(loop, t0, "timer", (void (*)(void))cb);
        loop->stats.timers_run++;

        t = &loop->timers[top.slot];
        if (t->cb != NULL && t->gen == gen && t->pos == EDDY__TIMER_RUNNING) {
            /* Periodic: the next period that is still ahead of now. */
            uint64_t next = add_sat(top.deadline, t->period);

            if (next <= loop->now)
                next = add_sat(next, ((loop->now - next) / t->period + 1) *
                                         t->period);
            if (heap_push(loop, next, top.slot) != 0) {
                eddy_loop_log(loop, EDDY_LOG_ERROR,
                          "out of memory: periodic timer %p stopped",
                          (void *)(void (*)(void))cb);
                record_free(loop, top.slot);
            }
        }
    }
}
