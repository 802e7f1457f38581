/*
 * Jute, ZooKeeper's serialization: big-endian ints and longs, booleans as one
 * byte, ustrings and buffers as an int length (-1 = null) then bytes, vectors
 * as an int count (-1 = null) then elements.
 *
 * jute_writer appends into a growable buffer; a failed allocation sets oom and
 * later writes do nothing, so callers check once at the end.
 * jute_reader reads from a borrowed span; any read past the end, or a length
 * that is negative (other than -1) or larger than max_len, sets err and
 * returns zero values, so decoders check once at the end.
 */
#ifndef ZKPLUG_JUTE_H
#define ZKPLUG_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct jute_writer {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
} jute_writer;

typedef struct jute_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    size_t max_len; /* largest ustring/buffer accepted; 0 = no limit but the span */
    bool err;
} jute_reader;

/* A ustring/buffer read without copying: ptr into the reader's span. */
typedef struct jute_span {
    const uint8_t *ptr;
    int32_t len; /* -1 = null */
} jute_span;

void jute_writer_init(jute_writer *w, size_t initial_cap);
void jute_writer_free(jute_writer *w);
bool jute_writer_reserve(jute_writer *w, size_t extra);
static inline void jute_writer_reset(jute_writer *w) { w->len = 0; }

static inline void jute_write_raw(jute_writer *w, const void *p, size_t n)
{
    if (n == 0 || !jute_writer_reserve(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static inline void jute_write_int(jute_writer *w, int32_t v)
{
    if (!jute_writer_reserve(w, 4))
        return;
    uint32_t u = (uint32_t)v;
    uint8_t *p = w->data + w->len;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
    w->len += 4;
}

static inline void jute_write_long(jute_writer *w, int64_t v)
{
    jute_write_int(w, (int32_t)(uint32_t)((uint64_t)v >> 32));
    jute_write_int(w, (int32_t)(uint32_t)(uint64_t)v);
}

static inline void jute_write_bool(jute_writer *w, bool v)
{
    uint8_t b = v ? 1 : 0;
    jute_write_raw(w, &b, 1);
}

/* ustring or buffer; p == NULL writes null (-1). */
static inline void jute_write_bytes(jute_writer *w, const void *p, int32_t n)
{
    if (p == NULL) {
        jute_write_int(w, -1);
        return;
    }
    jute_write_int(w, n);
    jute_write_raw(w, p, (size_t)n);
}

static inline void jute_write_string(jute_writer *w, const char *s)
{
    jute_write_bytes(w, s, s ? (int32_t)strlen(s) : -1);
}

/* Overwrite an int written earlier at offset (frame lengths, counts). */
static inline void jute_patch_int(jute_writer *w, size_t offset, int32_t v)
{
    if (w->oom || offset + 4 > w->len)
        return;
    uint32_t u = (uint32_t)v;
    w->data[offset] = (uint8_t)(u >> 24);
    w->data[offset + 1] = (uint8_t)(u >> 16);
    w->data[offset + 2] = (uint8_t)(u >> 8);
    w->data[offset + 3] = (uint8_t)u;
}

static inline void jute_reader_init(jute_reader *r, const uint8_t *data, size_t len, size_t max_len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->max_len = max_len;
    r->err = false;
}

static inline size_t jute_remaining(const jute_reader *r) { return r->err ? 0 : r->len - r->pos; }

static inline int32_t jute_read_int(jute_reader *r)
{
    if (r->err || r->len - r->pos < 4) {
        r->err = true;
        return 0;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += 4;
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

static inline int64_t jute_read_long(jute_reader *r)
{
    uint64_t hi = (uint32_t)jute_read_int(r);
    uint64_t lo = (uint32_t)jute_read_int(r);
    return (int64_t)((hi << 32) | lo);
}

static inline bool jute_read_bool(jute_reader *r)
{
    if (r->err || r->len - r->pos < 1) {
        r->err = true;
        return false;
    }
    return r->data[r->pos++] != 0;
}

static inline jute_span jute_read_bytes(jute_reader *r)
{
    jute_span s = {NULL, -1};
    int32_t n = jute_read_int(r);
    if (r->err || n == -1)
        return s;
    if (n < 0 || (size_t)n > r->len - r->pos || (r->max_len && (size_t)n > r->max_len)) {
        r->err = true;
        return s;
    }
    s.ptr = r->data + r->pos;
    s.len = n;
    r->pos += (size_t)n;
    return s;
}

/* A vector's element count: -1 = null; an impossible count sets err. Each
 * element takes at least min_elem_size bytes, which bounds the count. */
static inline int32_t jute_read_count(jute_reader *r, size_t min_elem_size)
{
    int32_t n = jute_read_int(r);
    if (r->err)
        return 0;
    if (n < -1 || (n > 0 && min_elem_size && (size_t)n > (r->len - r->pos) / min_elem_size)) {
        r->err = true;
        return 0;
    }
    return n;
}

/* Big-endian helpers for raw buffers. */
static inline uint32_t jute_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void jute_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
