/*
 * A growable byte buffer for building text (JSON messages, Prometheus
 * exposition, attribute strings). Appends never fail loudly: on allocation
 * failure the buffer keeps what it had and sets oom, and the caller checks
 * oom once at the end.
 *
 * Use: metrics_buf_init (or zero the struct), metrics_buf_append* ...,
 * metrics_buf_free. Not thread-safe; one owner at a time.
 */
#ifndef ZKPLUG_METRICS_METRICS_BUF_H
#define ZKPLUG_METRICS_METRICS_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct metrics_buf {
    char *data; /* always NUL-terminated once anything was appended */
    size_t len, cap;
    bool oom;
};

void metrics_buf_init(struct metrics_buf *b);
void metrics_buf_free(struct metrics_buf *b);
void metrics_buf_reset(struct metrics_buf *b); /* len = 0, keeps memory */
void metrics_buf_append(struct metrics_buf *b, const void *p, size_t n);
void metrics_buf_puts(struct metrics_buf *b, const char *s);
void metrics_buf_putc(struct metrics_buf *b, char c);
void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
