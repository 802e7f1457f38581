/*
 * disk_sync: group commit for the disk storage plugin. One sync thread
 * fdatasync()s the txn log so the loop thread never waits for the disk.
 *
 * Design notes:
 * - sync() only queues a request (a callback and a sequence number). Once per
 *   loop iteration, just before the loop sleeps, disk_sync_kick writes the
 *   buffered entries (pwrite) and hands the thread the newest sequence number
 *   together with the last appended zxid. Every sync requested in one loop
 *   iteration therefore shares one fsync, and requests made while an fsync
 *   runs share the next one.
 * - The thread takes (seq, zxid, files) under mu, syncs without the lock:
 *   first the files rolled away since the last round (then closes them), then
 *   the current file, then the directory when a file was created. It then
 *   records done_seq = seq and durable_zxid = zxid and posts disk_sync_drain
 *   to the loop, which calls back every request with seq <= done_seq, in
 *   order, each once, with the durable zxid. A round with nothing new to
 *   make durable skips the fsync but still completes its requests.
 * - An fsync error is sticky: that and every later callback gets the error
 *   status (after a failed fsync the state of the page cache is unknown).
 * - The post argument is the plugin state itself, never an allocation, so a
 *   post that the host drops after stop leaks nothing. Requests not yet called
 *   back at stop are freed without a call.
 * - forceSync=no: no thread; sync writes the buffer and posts the drain at
 *   once, reporting the last appended zxid.
 * - stop: one last round covers everything appended, then the thread exits
 *   and is joined; callbacks still queued are dropped (stop promises that no
 *   callback follows it).
 *
 * Entry points: disk_sync_start, disk_sync_request (the sync op),
 * disk_sync_kick (before_sleep hook), disk_sync_set_fd / disk_sync_retire
 * (from disk_log.c), disk_sync_stop, disk_sync_free_requests.
 */
#include "disk_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t disk_sync_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Loop thread: deliver every request the finished rounds cover. */
static void disk_sync_drain(void *arg)
{
    struct disk_state *st = arg;
    pthread_mutex_lock(&st->mu);
    st->drain_posted = 0;
    uint64_t done = st->done_seq;
    int status = st->sync_status;
    int64_t durable = st->durable_zxid;
    st->m_fsyncs = st->sh_fsyncs;
    st->m_fsync_ms = st->sh_fsync_ms;
    st->m_fsync_total_us = st->sh_fsync_total_us;
    pthread_mutex_unlock(&st->mu);
    while (st->req_head != NULL && st->req_head->seq <= done) {
        struct disk_sync_req *r = st->req_head;
        st->req_head = r->next;
        if (st->req_head == NULL)
            st->req_tail = NULL;
        zkp_sync_cb cb = r->cb;
        void *cb_arg = r->arg;
        int64_t zxid = r->zxid >= 0 ? r->zxid : durable;
        free(r);
        cb(cb_arg, status, zxid);
    }
}

/* Called with mu held; drops it while posting. */
static void disk_sync_post_locked(struct disk_state *st)
{
    /* One drain in the queue is enough: it delivers everything done by the
     * time it runs. While stopping, nothing would run it. */
    if (st->drain_posted || st->stopping)
        return;
    st->drain_posted = 1;
    pthread_mutex_unlock(&st->mu);
    /* post fails only without memory; the callbacks must still come. */
    for (int i = 0; i < 1000; i++) {
        if (st->host->post(st->host, disk_sync_drain, st) == 0)
            break;
        usleep(1000);
    }
    pthread_mutex_lock(&st->mu);
}

static int disk_sync_file(int fd)
{
    while (fdatasync(fd) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static void *disk_sync_main(void *arg)
{
    struct disk_state *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (st->done_seq >= st->req_seq && !st->stopping)
            pthread_cond_wait(&st->cv, &st->mu);
        if (st->done_seq >= st->req_seq)
            break; /* stopping, nothing left */
        uint64_t seq = st->req_seq;
        int64_t zxid = st->req_zxid;
        int fd = st->sync_fd;
        int *retired = st->retired;
        size_t nretired = st->nretired;
        st->retired = NULL;
        st->nretired = st->retired_cap = 0;
        int dirty = st->dir_dirty;
        st->dir_dirty = 0;
        int skip = zxid <= st->durable_zxid && nretired == 0 && !dirty;
        pthread_mutex_unlock(&st->mu);

        int rc = 0;
        int64_t t0 = disk_sync_now_us();
        for (size_t i = 0; i < nretired; i++) {
            int r = disk_sync_file(retired[i]);
            if (rc == 0)
                rc = r;
            close(retired[i]);
        }
        free(retired);
        if (!skip && fd >= 0) {
            int r = disk_sync_file(fd);
            if (rc == 0)
                rc = r;
        }
        if (dirty && st->dir_fd >= 0 && fsync(st->dir_fd) != 0 && rc == 0)
            rc = -errno;
        int64_t us = disk_sync_now_us() - t0;

        pthread_mutex_lock(&st->mu);
        if (rc < 0 && st->sync_status == 0)
            st->sync_status = rc;
        if (!skip) {
            st->sh_fsyncs++;
            st->sh_fsync_ms = us / 1000;
            st->sh_fsync_total_us += us;
        }
        if (seq > st->done_seq)
            st->done_seq = seq;
        if (st->sync_status == 0 && zxid > st->durable_zxid)
            st->durable_zxid = zxid;
        disk_sync_post_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

int disk_sync_start(struct disk_state *st, char *err, size_t errlen)
{
    if (!st->force_sync)
        return 0;
    int rc = st->host->before_sleep(st->host, disk_sync_kick, st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot register the group-commit hook: %s", st->log_dir,
                 strerror(-rc));
        return rc;
    }
    st->stopping = 0;
    rc = -pthread_create(&st->thread, NULL, disk_sync_main, st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot start the sync thread: %s", st->log_dir,
                 strerror(-rc));
        return rc;
    }
    st->thread_running = 1;
    return 0;
}

void disk_sync_kick(void *arg)
{
    struct disk_state *st = arg;
    if (!st->thread_running || st->queued_seq == st->kicked_seq)
        return;
    int rc = disk_log_flush(st);
    pthread_mutex_lock(&st->mu);
    if (rc < 0) {
        /* Nothing more can become durable: fail these requests now. */
        if (st->sync_status == 0)
            st->sync_status = rc;
        if (st->queued_seq > st->done_seq)
            st->done_seq = st->queued_seq;
        disk_sync_post_locked(st);
    } else {
        st->req_seq = st->queued_seq;
        st->req_zxid = st->last_zxid;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    st->kicked_seq = st->queued_seq;
}

int disk_sync_request(struct disk_state *st, zkp_sync_cb cb, void *arg)
{
    if (cb == NULL)
        return -EINVAL;
    if (st->broken)
        return st->broken;
    struct disk_sync_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->cb = cb;
    r->arg = arg;
    r->zxid = -1;
    if (!st->thread_running) {
        /* forceSync=no (or not started): written is as durable as it gets. */
        int rc = disk_log_flush(st);
        if (rc < 0) {
            free(r);
            return rc;
        }
        pthread_mutex_lock(&st->mu);
        int need_post = !st->drain_posted;
        st->drain_posted = 1;
        pthread_mutex_unlock(&st->mu);
        if (need_post) {
            int rc2 = st->host->post(st->host, disk_sync_drain, st);
            if (rc2 < 0) {
                pthread_mutex_lock(&st->mu);
                st->drain_posted = 0;
                pthread_mutex_unlock(&st->mu);
                free(r);
                return rc2;
            }
        }
        r->seq = ++st->queued_seq;
        r->zxid = st->last_zxid;
        st->kicked_seq = st->queued_seq;
        pthread_mutex_lock(&st->mu);
        st->done_seq = r->seq;
        if (st->last_zxid > st->durable_zxid)
            st->durable_zxid = st->last_zxid;
        pthread_mutex_unlock(&st->mu);
    } else {
        r->seq = ++st->queued_seq;
    }
    if (st->req_tail)
        st->req_tail->next = r;
    else
        st->req_head = r;
    st->req_tail = r;
    st->m_sync_requests++;
    return 0;
}

void disk_sync_set_fd(struct disk_state *st, int fd, int created)
{
    pthread_mutex_lock(&st->mu);
    st->sync_fd = fd;
    if (created)
        st->dir_dirty = 1;
    pthread_mutex_unlock(&st->mu);
}

void disk_sync_retire(struct disk_state *st, int fd)
{
    pthread_mutex_lock(&st->mu);
    if (st->sync_fd == fd)
        st->sync_fd = -1;
    if (st->thread_running) {
        if (st->nretired == st->retired_cap) {
            size_t cap = st->retired_cap ? st->retired_cap * 2 : 4;
            int *r = realloc(st->retired, cap * sizeof *r);
            if (r == NULL) {
                /* Keep the promise the slow way: sync it here. */
                pthread_mutex_unlock(&st->mu);
                disk_sync_file(fd);
                close(fd);
                return;
            }
            st->retired = r;
            st->retired_cap = cap;
        }
        st->retired[st->nretired++] = fd;
        pthread_mutex_unlock(&st->mu);
        return;
    }
    pthread_mutex_unlock(&st->mu);
    close(fd);
}

void disk_sync_stop(struct disk_state *st)
{
    if (!st->thread_running)
        return;
    int rc = disk_log_flush(st);
    pthread_mutex_lock(&st->mu);
    if (rc < 0 && st->sync_status == 0)
        st->sync_status = rc;
    /* One last round for everything appended, requested or not. */
    st->req_seq = ++st->queued_seq;
    st->kicked_seq = st->queued_seq;
    st->req_zxid = st->last_zxid;
    st->stopping = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    st->thread_running = 0;
    /* Whatever was retired after the last round: the thread has synced
     * everything up to req_zxid, so only closing is left. */
    for (size_t i = 0; i < st->nretired; i++)
        close(st->retired[i]);
    free(st->retired);
    st->retired = NULL;
    st->nretired = st->retired_cap = 0;
    st->m_fsyncs = st->sh_fsyncs;
    st->m_fsync_ms = st->sh_fsync_ms;
    st->m_fsync_total_us = st->sh_fsync_total_us;
}

void disk_sync_free_requests(struct disk_state *st)
{
    while (st->req_head != NULL) {
        struct disk_sync_req *r = st->req_head;
        st->req_head = r->next;
        free(r);
    }
    st->req_tail = NULL;
}
