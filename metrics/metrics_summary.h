/*
 * Summaries: count, sum, min and max since the last reset, plus a window of
 * the most recent samples from which percentiles are computed when read.
 * This is ZooKeeper's AvgMinMaxCounter (BASIC) and AvgMinMaxPercentileCounter
 * (ADVANCED) with a sliding window of the last METRICS_SUMMARY_WINDOW samples
 * in place of a uniform reservoir.
 *
 * Cost: metrics_summary_record is inline, takes no lock and allocates
 * nothing: a few compares, two adds and one store into the ring. It must be
 * called from one thread (the event loop); readers run on the same thread.
 * Reading (metrics_summary_read) copies and sorts the window. Everything is
 * inline here, so any file that includes the registry links without more.
 */
#ifndef ZKPLUG_METRICS_METRICS_SUMMARY_H
#define ZKPLUG_METRICS_METRICS_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SUMMARY_WINDOW 1024u /* power of two */

enum metrics_summary_level {
    METRICS_SUMMARY_BASIC,    /* avg/min/max/cnt/sum */
    METRICS_SUMMARY_ADVANCED, /* and p50/p95/p99/p999 */
};

struct metrics_summary {
    int64_t count, sum, min, max;
    uint64_t next; /* samples written since the reset (ring position) */
    enum metrics_summary_level level;
    int64_t window[METRICS_SUMMARY_WINDOW];
};

/* A read-out. min/max/avg are 0 when count is 0, as in ZooKeeper. */
struct metrics_summary_stats {
    int64_t count, sum, min, max;
    double avg;
    int64_t p50, p90, p95, p99, p999; /* rounded, over the window */
    uint32_t window;                  /* samples the percentiles cover */
};

static inline void metrics_summary_record(struct metrics_summary *s, int64_t v)
{
    if (s->count == 0 || v < s->min)
        s->min = v;
    if (s->count == 0 || v > s->max)
        s->max = v;
    s->count++;
    s->sum += v;
    s->window[s->next++ & (METRICS_SUMMARY_WINDOW - 1)] = v;
}

static inline void metrics_summary_init(struct metrics_summary *s, enum metrics_summary_level level)
{
    memset(s, 0, sizeof *s);
    s->level = level;
}

static inline void metrics_summary_reset(struct metrics_summary *s)
{
    s->count = s->sum = s->min = s->max = 0;
    s->next = 0;
}

/* The q-quantile (0..1) of n sorted values, interpolated as Dropwizard's
 * UniformSnapshot does (ZooKeeper's percentiles); 0 when n is 0. */
static inline double metrics_quantile(const int64_t *sorted, uint32_t n, double q)
{
    if (n == 0)
        return 0.0;
    double pos = q * (double)(n + 1);
    if (pos < 1)
        return (double)sorted[0];
    if (pos >= n)
        return (double)sorted[n - 1];
    uint32_t k = (uint32_t)pos; /* pos >= 1: truncation is floor */
    double lower = (double)sorted[k - 1], upper = (double)sorted[k];
    return lower + (pos - (double)k) * (upper - lower);
}

static inline int64_t metrics_round(double x)
{
    return x >= 0 ? (int64_t)(x + 0.5) : -(int64_t)(-x + 0.5);
}

static inline int metrics_summary_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Read count/sum/min/max/avg and the window's percentiles. Sorts a copy of
 * the window on the stack (8 KiB). */
static inline void metrics_summary_read(const struct metrics_summary *s, struct metrics_summary_stats *out)
{
    memset(out, 0, sizeof *out);
    out->count = s->count;
    out->sum = s->sum;
    if (s->count > 0) {
        out->min = s->min;
        out->max = s->max;
        out->avg = (double)s->sum / (double)s->count;
    }
    uint32_t n = s->next < METRICS_SUMMARY_WINDOW ? (uint32_t)s->next : METRICS_SUMMARY_WINDOW;
    out->window = n;
    if (n == 0)
        return;
    int64_t sorted[METRICS_SUMMARY_WINDOW];
    memcpy(sorted, s->window, n * sizeof sorted[0]);
    qsort(sorted, n, sizeof sorted[0], metrics_summary_cmp);
    out->p50 = metrics_round(metrics_quantile(sorted, n, 0.5));
    out->p90 = metrics_round(metrics_quantile(sorted, n, 0.9));
    out->p95 = metrics_round(metrics_quantile(sorted, n, 0.95));
    out->p99 = metrics_round(metrics_quantile(sorted, n, 0.99));
    out->p999 = metrics_round(metrics_quantile(sorted, n, 0.999));
}

#endif
