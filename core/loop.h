/*
 * Event loop: epoll for fds, a min-heap of one-shot timers, an eventfd-woken
 * queue for posts from other threads, and before-sleep hooks (where batched
 * socket writes are flushed). Single-threaded: everything but loop_post runs
 * on the thread that calls loop_run.
 *
 * Entry points: loop_new, then loop_fd_* / loop_timer_* / loop_post /
 * loop_before_sleep while running, loop_run (returns after loop_stop),
 * loop_free.
 */
#ifndef ZKPLUG_LOOP_H
#define ZKPLUG_LOOP_H

#include <stdint.h>

#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u

typedef struct loop loop;
typedef void (*loop_fd_cb)(void *arg, int fd, unsigned events);
typedef void (*loop_cb)(void *arg);

loop *loop_new(void);
void loop_free(loop *l);
int loop_run(loop *l);
void loop_stop(loop *l); /* thread-safe */

int loop_fd_add(loop *l, int fd, unsigned events, loop_fd_cb cb, void *arg);
int loop_fd_modify(loop *l, int fd, unsigned events);
void loop_fd_remove(loop *l, int fd);

uint64_t loop_timer_start(loop *l, uint64_t ms, loop_cb cb, void *arg);
void loop_timer_cancel(loop *l, uint64_t id);

int loop_post(loop *l, loop_cb cb, void *arg); /* thread-safe */
int loop_before_sleep(loop *l, loop_cb cb, void *arg);

uint64_t loop_now_ms(void); /* monotonic */
uint64_t loop_now_ns(void);
int64_t loop_wall_ms(void); /* wall clock, ms since the epoch */

#endif
