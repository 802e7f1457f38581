/*
 * Summary sets: one summary per key, for ZooKeeper's SummarySet metrics
 * (AvgMinMaxCounterSet: read_per_namespace, write_per_namespace), whose keys
 * (top-level znode names) are only known once recorded.
 *
 * A set is a fixed-capacity table: at most METRICS_SUMMARY_SET_MAX keys,
 * found by a 32-bit FNV-1a hash of the key in an open-addressed slot array.
 * Recording takes no lock and allocates only the first time a key is seen
 * (its entry: key and summary together); once the table is full, samples of
 * new keys are not recorded (counted in dropped). Keys stay until
 * metrics_summary_set_clear; metrics_summary_set_reset zeroes their
 * summaries and keeps them, as ZooKeeper's reset does. Like every summary it
 * is written and read on the event-loop thread only. Everything is inline
 * here, as in metrics_summary.h, so any file that includes the registry
 * links without more.
 */
#ifndef ZKPLUG_METRICS_METRICS_SUMMARY_SET_H
#define ZKPLUG_METRICS_METRICS_SUMMARY_SET_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_summary.h"

#define METRICS_SUMMARY_SET_MAX 256u
#define METRICS_SUMMARY_SET_SLOTS 512u /* power of two, twice the keys */

struct metrics_summary_set_entry {
    struct metrics_summary summary;
    uint32_t hash;
    uint32_t len;
    char key[]; /* len bytes and a NUL */
};

struct metrics_summary_set {
    enum metrics_summary_level level;
    uint32_t n;      /* keys, entries[0..n) in first-seen order */
    int64_t dropped; /* samples of new keys once the table was full */
    uint16_t slots[METRICS_SUMMARY_SET_SLOTS]; /* entry index + 1; 0: free */
    struct metrics_summary_set_entry *entries[METRICS_SUMMARY_SET_MAX];
};

static inline uint32_t metrics_summary_set_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)key[i]) * 16777619u;
    return h;
}

static inline void metrics_summary_set_init(struct metrics_summary_set *s, enum metrics_summary_level level)
{
    memset(s, 0, sizeof *s);
    s->level = level;
}

/* The key's summary, added when new; NULL when the table is full (the
 * sample is then counted in dropped) or out of memory. hash is
 * metrics_summary_set_hash(key, len). Linear probing: the slot array is
 * twice the capacity, so a free slot ends every search. */
static inline struct metrics_summary *metrics_summary_set_get(struct metrics_summary_set *s, const char *key,
                                                              size_t len, uint32_t hash)
{
    uint32_t i = hash & (METRICS_SUMMARY_SET_SLOTS - 1);
    for (uint16_t slot; (slot = s->slots[i]) != 0; i = (i + 1) & (METRICS_SUMMARY_SET_SLOTS - 1)) {
        struct metrics_summary_set_entry *e = s->entries[slot - 1];
        if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
            return &e->summary;
    }
    if (s->n == METRICS_SUMMARY_SET_MAX || len > UINT32_MAX) {
        s->dropped++;
        return NULL;
    }
    struct metrics_summary_set_entry *e = (struct metrics_summary_set_entry *)malloc(sizeof *e + len + 1);
    if (e == NULL) {
        s->dropped++;
        return NULL;
    }
    metrics_summary_init(&e->summary, s->level);
    e->hash = hash;
    e->len = (uint32_t)len;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    s->entries[s->n++] = e;
    s->slots[i] = (uint16_t)s->n;
    return &e->summary;
}

static inline void metrics_summary_set_record(struct metrics_summary_set *s, const char *key, size_t len,
                                              uint32_t hash, int64_t v)
{
    struct metrics_summary *m = metrics_summary_set_get(s, key, len, hash);
    if (m != NULL)
        metrics_summary_record(m, v);
}

/* Zero every key's summary, keeping the keys. */
static inline void metrics_summary_set_reset(struct metrics_summary_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        metrics_summary_reset(&s->entries[i]->summary);
    s->dropped = 0;
}

/* Forget every key (frees the entries). */
static inline void metrics_summary_set_clear(struct metrics_summary_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->entries[i]);
    metrics_summary_set_init(s, s->level);
}

#endif
