/*
 * Jute writer buffer management (the codec itself is inline in jute.h).
 */
#include "jute.h"

#include <stdlib.h>

void jute_writer_init(jute_writer *w, size_t initial_cap)
{
    w->data = initial_cap ? malloc(initial_cap) : NULL;
    w->len = 0;
    w->cap = w->data ? initial_cap : 0;
    w->oom = initial_cap && w->data == NULL;
}

void jute_writer_free(jute_writer *w)
{
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

bool jute_writer_reserve(jute_writer *w, size_t extra)
{
    if (w->oom)
        return false;
    if (w->cap - w->len >= extra)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < extra)
        cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (p == NULL) {
        w->oom = true;
        return false;
    }
    w->data = p;
    w->cap = cap;
    return true;
}
