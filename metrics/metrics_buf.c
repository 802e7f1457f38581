/*
 * Growable byte buffer (see metrics_buf.h).
 */
#include "metrics_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_buf_init(struct metrics_buf *b)
{
    memset(b, 0, sizeof *b);
}

void metrics_buf_free(struct metrics_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void metrics_buf_reset(struct metrics_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

static bool metrics_buf_reserve(struct metrics_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void metrics_buf_append(struct metrics_buf *b, const void *p, size_t n)
{
    if (!metrics_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void metrics_buf_puts(struct metrics_buf *b, const char *s)
{
    metrics_buf_append(b, s, strlen(s));
}

void metrics_buf_putc(struct metrics_buf *b, char c)
{
    metrics_buf_append(b, &c, 1);
}

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        metrics_buf_append(b, small, (size_t)n);
        return;
    }
    if (!metrics_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
