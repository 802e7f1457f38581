/*
 * Event loop implementation (see loop.h).
 *
 * Design notes:
 * - fd watches live in an array indexed by fd; epoll's data carries the fd.
 * - Timers are a binary min-heap ordered by (deadline, id); cancel marks the
 *   entry dead by clearing its callback, found through a linear search only
 *   when cancelled (timers here are few: sessions use tick buckets).
 * - Posts from other threads go into a mutex-protected list and wake the loop
 *   through an eventfd; they run in FIFO order on the loop thread.
 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct loop_watch {
    loop_fd_cb cb;
    void *arg;
    unsigned events;
    int active;
};

struct loop_timer {
    uint64_t deadline;
    uint64_t id;
    loop_cb cb;
    void *arg;
};

struct loop_post_item {
    struct loop_post_item *next;
    loop_cb cb;
    void *arg;
};

struct loop_hook {
    loop_cb cb;
    void *arg;
};

struct loop {
    int epfd;
    int wakefd;
    volatile int stopping;
    struct loop_watch *watches;
    int nwatches;
    struct loop_timer *timers;
    size_t ntimers, timers_cap;
    uint64_t next_timer_id;
    pthread_mutex_t post_lock;
    struct loop_post_item *post_head, *post_tail;
    struct loop_hook *hooks;
    size_t nhooks;
};

uint64_t loop_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now_ms(void) { return loop_now_ns() / 1000000u; }

int64_t loop_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

loop *loop_new(void)
{
    loop *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wakefd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
        goto fail;
    pthread_mutex_init(&l->post_lock, NULL);
    l->next_timer_id = 1;
    return l;
fail:
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l);
    return NULL;
}

void loop_free(loop *l)
{
    if (l == NULL)
        return;
    struct loop_post_item *p = l->post_head;
    while (p) {
        struct loop_post_item *n = p->next;
        free(p);
        p = n;
    }
    pthread_mutex_destroy(&l->post_lock);
    close(l->epfd);
    close(l->wakefd);
    free(l->watches);
    free(l->timers);
    free(l->hooks);
    free(l);
}

static uint32_t loop_epoll_events(unsigned events)
{
    uint32_t e = 0;
    if (events & LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int loop_fd_add(loop *l, int fd, unsigned events, loop_fd_cb cb, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (fd >= l->nwatches) {
        int n = l->nwatches ? l->nwatches : 64;
        while (n <= fd)
            n *= 2;
        struct loop_watch *w = realloc(l->watches, (size_t)n * sizeof *w);
        if (w == NULL)
            return -ENOMEM;
        memset(w + l->nwatches, 0, (size_t)(n - l->nwatches) * sizeof *w);
        l->watches = w;
        l->nwatches = n;
    }
    if (l->watches[fd].active)
        return -EEXIST;
    struct epoll_event ev = {.events = loop_epoll_events(events), .data.fd = fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    l->watches[fd] = (struct loop_watch){.cb = cb, .arg = arg, .events = events, .active = 1};
    return 0;
}

int loop_fd_modify(loop *l, int fd, unsigned events)
{
    if (fd < 0 || fd >= l->nwatches || !l->watches[fd].active)
        return -ENOENT;
    if (l->watches[fd].events == events)
        return 0;
    struct epoll_event ev = {.events = loop_epoll_events(events), .data.fd = fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -errno;
    l->watches[fd].events = events;
    return 0;
}

void loop_fd_remove(loop *l, int fd)
{
    if (fd < 0 || fd >= l->nwatches || !l->watches[fd].active)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->watches[fd].active = 0;
    l->watches[fd].cb = NULL;
}

static int loop_timer_less(const struct loop_timer *a, const struct loop_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id);
}

static void loop_heap_up(loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!loop_timer_less(&l->timers[i], &l->timers[p]))
            break;
        struct loop_timer t = l->timers[i];
        l->timers[i] = l->timers[p];
        l->timers[p] = t;
        i = p;
    }
}

static void loop_heap_down(loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->ntimers && loop_timer_less(&l->timers[a], &l->timers[m]))
            m = a;
        if (b < l->ntimers && loop_timer_less(&l->timers[b], &l->timers[m]))
            m = b;
        if (m == i)
            return;
        struct loop_timer t = l->timers[i];
        l->timers[i] = l->timers[m];
        l->timers[m] = t;
        i = m;
    }
}

uint64_t loop_timer_start(loop *l, uint64_t ms, loop_cb cb, void *arg)
{
    if (l->ntimers == l->timers_cap) {
        size_t n = l->timers_cap ? l->timers_cap * 2 : 64;
        struct loop_timer *t = realloc(l->timers, n * sizeof *t);
        if (t == NULL)
            return 0;
        l->timers = t;
        l->timers_cap = n;
    }
    uint64_t id = l->next_timer_id++;
    l->timers[l->ntimers] = (struct loop_timer){loop_now_ms() + ms, id, cb, arg};
    loop_heap_up(l, l->ntimers++);
    return id;
}

void loop_timer_cancel(loop *l, uint64_t id)
{
    for (size_t i = 0; i < l->ntimers; i++) {
        if (l->timers[i].id == id) {
            l->timers[i].cb = NULL;
            return;
        }
    }
}

int loop_post(loop *l, loop_cb cb, void *arg)
{
    struct loop_post_item *p = malloc(sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->next = NULL;
    p->cb = cb;
    p->arg = arg;
    pthread_mutex_lock(&l->post_lock);
    if (l->post_tail)
        l->post_tail->next = p;
    else
        l->post_head = p;
    l->post_tail = p;
    pthread_mutex_unlock(&l->post_lock);
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof one);
    (void)w;
    return 0;
}

int loop_before_sleep(loop *l, loop_cb cb, void *arg)
{
    struct loop_hook *h = realloc(l->hooks, (l->nhooks + 1) * sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    l->hooks = h;
    l->hooks[l->nhooks++] = (struct loop_hook){cb, arg};
    return 0;
}

void loop_stop(loop *l)
{
    l->stopping = 1;
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof one);
    (void)w;
}

static void loop_run_posts(loop *l)
{
    uint64_t v;
    ssize_t r = read(l->wakefd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&l->post_lock);
    struct loop_post_item *p = l->post_head;
    l->post_head = l->post_tail = NULL;
    pthread_mutex_unlock(&l->post_lock);
    while (p) {
        struct loop_post_item *n = p->next;
        p->cb(p->arg);
        free(p);
        p = n;
    }
}

static void loop_run_timers(loop *l)
{
    uint64_t now = loop_now_ms();
    while (l->ntimers > 0 && l->timers[0].deadline <= now) {
        struct loop_timer t = l->timers[0];
        l->timers[0] = l->timers[--l->ntimers];
        loop_heap_down(l, 0);
        if (t.cb)
            t.cb(t.arg);
    }
}

int loop_run(loop *l)
{
    struct epoll_event events[256];
    while (!l->stopping) {
        for (size_t i = 0; i < l->nhooks; i++)
            l->hooks[i].cb(l->hooks[i].arg);
        /* Dead timers at the top of the heap would wake us for nothing. */
        while (l->ntimers > 0 && l->timers[0].cb == NULL) {
            l->timers[0] = l->timers[--l->ntimers];
            loop_heap_down(l, 0);
        }
        int timeout = -1;
        if (l->ntimers > 0) {
            uint64_t now = loop_now_ms();
            timeout = l->timers[0].deadline <= now ? 0 : (int)(l->timers[0].deadline - now);
        }
        int n = epoll_wait(l->epfd, events, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd < 0) {
                loop_run_posts(l);
                continue;
            }
            if (fd >= l->nwatches || !l->watches[fd].active)
                continue;
            unsigned ev = 0;
            uint32_t e = events[i].events;
            if (e & (EPOLLIN | EPOLLRDHUP))
                ev |= LOOP_READ;
            if (e & EPOLLOUT)
                ev |= LOOP_WRITE;
            if (e & (EPOLLERR | EPOLLHUP))
                ev |= LOOP_ERROR | LOOP_READ;
            l->watches[fd].cb(l->watches[fd].arg, fd, ev);
        }
        loop_run_timers(l);
    }
    return 0;
}
