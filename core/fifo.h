/*
 * A growable first-in-first-out ring of fixed-size items (the leader's
 * outstanding proposals, a learner's pending ACKs and SYNC waiters). Loop
 * thread only; items are copied in and out by value.
 */
#ifndef ZKPLUG_FIFO_H
#define ZKPLUG_FIFO_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct fifo {
    unsigned char *items;
    size_t item_size;
    size_t head, len, cap;
};

static inline void fifo_init(struct fifo *f, size_t item_size)
{
    memset(f, 0, sizeof *f);
    f->item_size = item_size;
}

/* The i-th item from the front (i < len). */
static inline void *fifo_at(const struct fifo *f, size_t i)
{
    return f->items + ((f->head + i) % f->cap) * f->item_size;
}

static inline void *fifo_front(const struct fifo *f)
{
    return f->len ? fifo_at(f, 0) : NULL;
}

/* Append a copy of item. 0, or -ENOMEM (the fifo is unchanged). */
static inline int fifo_push(struct fifo *f, const void *item)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        unsigned char *items = malloc(cap * f->item_size);
        if (items == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < f->len; i++)
            memcpy(items + i * f->item_size, fifo_at(f, i), f->item_size);
        free(f->items);
        f->items = items;
        f->cap = cap;
        f->head = 0;
    }
    memcpy(f->items + ((f->head + f->len) % f->cap) * f->item_size, item, f->item_size);
    f->len++;
    return 0;
}

static inline void fifo_pop(struct fifo *f)
{
    if (f->len == 0)
        return;
    f->head = (f->head + 1) % f->cap;
    f->len--;
}

static inline void fifo_free(struct fifo *f)
{
    free(f->items);
    fifo_init(f, f->item_size);
}

#endif
