/*
 * Prometheus text rendering of the registry (see metrics_prom.h).
 */
#include "metrics_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

void metrics_prom_double(struct metrics_buf *out, double d)
{
    if (isnan(d)) {
        metrics_buf_puts(out, "NaN");
        return;
    }
    if (isinf(d)) {
        metrics_buf_puts(out, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    double a = fabs(d);
    char tmp[48];
    if (a == 0 || (a >= 1e-3 && a < 1e7)) {
        /* Plain notation, shortest digits that read back, at least one
         * decimal: 5.0, 1.5, 0.0882. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*f", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        /* Trim trailing zeros but keep one decimal. */
        size_t n = strlen(tmp);
        while (n > 2 && tmp[n - 1] == '0' && tmp[n - 2] != '.')
            tmp[--n] = '\0';
        metrics_buf_puts(out, tmp);
        return;
    }
    /* Computerized scientific notation: 1.0E7, 1.2345E-5. */
    int exp10 = (int)floor(log10(a));
    double mant = d / pow(10, exp10);
    if (fabs(mant) >= 10) {
        mant /= 10;
        exp10++;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*f", prec, mant);
        if (strtod(tmp, NULL) * pow(10, exp10) == d || prec == 17)
            break;
    }
    size_t n = strlen(tmp);
    while (n > 3 && tmp[n - 1] == '0' && tmp[n - 2] != '.')
        tmp[--n] = '\0';
    metrics_buf_printf(out, "%sE%d", tmp, exp10);
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*. Registry names already are;
 * anything else is mapped to '_'. */
static void metrics_prom_name(struct metrics_buf *out, const char *name)
{
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (p != name && c >= '0' && c <= '9');
        metrics_buf_putc(out, ok ? c : '_');
    }
}

static void metrics_prom_header(struct metrics_buf *out, const char *name, const char *type)
{
    metrics_buf_puts(out, "# HELP ");
    metrics_prom_name(out, name);
    metrics_buf_putc(out, ' ');
    metrics_prom_name(out, name);
    metrics_buf_puts(out, "\n# TYPE ");
    metrics_prom_name(out, name);
    metrics_buf_printf(out, " %s\n", type);
}

static void metrics_prom_sample(struct metrics_buf *out, const char *name, const char *suffix, const char *labels,
                                double v)
{
    metrics_prom_name(out, name);
    metrics_buf_puts(out, suffix);
    metrics_buf_puts(out, labels);
    metrics_buf_putc(out, ' ');
    metrics_prom_double(out, v);
    metrics_buf_putc(out, '\n');
}

/* A label value: backslash, double quote and newline escaped. */
static void metrics_prom_label_value(struct metrics_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            metrics_buf_putc(out, '\\');
        if (*s == '\n')
            metrics_buf_puts(out, "\\n");
        else
            metrics_buf_putc(out, *s);
    }
}

/* <name><suffix>{key="<key>",[quantile="<q>",]} <v> */
static void metrics_prom_set_sample(struct metrics_buf *out, const char *name, const char *suffix, const char *key,
                                    const char *quantile, double v)
{
    metrics_prom_name(out, name);
    metrics_buf_puts(out, suffix);
    metrics_buf_puts(out, "{key=\"");
    metrics_prom_label_value(out, key);
    metrics_buf_puts(out, "\",");
    if (quantile)
        metrics_buf_printf(out, "quantile=\"%s\",", quantile);
    metrics_buf_puts(out, "} ");
    metrics_prom_double(out, v);
    metrics_buf_putc(out, '\n');
}

struct metrics_prom_ctx {
    struct metrics_buf *out;
    const char *set; /* the summary set whose header was written last */
};

/* One key of a summary set, as ZooKeeper's PrometheusLabelledSummary: the
 * set is one summary family labelled by key. */
static void metrics_prom_set_member(struct metrics_prom_ctx *ctx, const struct metrics_value *v)
{
    struct metrics_buf *out = ctx->out;
    if (ctx->set == NULL || strcmp(ctx->set, v->set_name) != 0) {
        metrics_prom_header(out, v->set_name, "summary");
        ctx->set = v->set_name;
    }
    struct metrics_summary_stats st;
    metrics_summary_read(v->summary, &st);
    const char *name = v->set_name, *key = v->set_key;
    double nan = st.window ? 0 : NAN;
    metrics_prom_set_sample(out, name, "", key, "0.5", st.window ? (double)st.p50 : nan);
    if (v->summary->level == METRICS_SUMMARY_ADVANCED) {
        metrics_prom_set_sample(out, name, "", key, "0.9", st.window ? (double)st.p90 : nan);
        metrics_prom_set_sample(out, name, "", key, "0.99", st.window ? (double)st.p99 : nan);
    }
    metrics_prom_set_sample(out, name, "_count", key, NULL, (double)st.count);
    metrics_prom_set_sample(out, name, "_sum", key, NULL, (double)st.sum);
}

static void metrics_prom_visit(void *arg, const char *name, const struct metrics_value *v)
{
    struct metrics_prom_ctx *ctx = arg;
    struct metrics_buf *out = ctx->out;
    if (v->set_name != NULL) {
        metrics_prom_set_member(ctx, v);
        return;
    }
    ctx->set = NULL;
    switch (v->type) {
    case METRICS_VALUE_INT:
    case METRICS_VALUE_DOUBLE:
        metrics_prom_header(out, name, v->kind == ZKP_METRIC_COUNTER ? "counter" : "gauge");
        metrics_prom_sample(out, name, "", "", v->type == METRICS_VALUE_INT ? (double)v->i : v->d);
        break;
    case METRICS_VALUE_SUMMARY: {
        struct metrics_summary_stats st;
        metrics_summary_read(v->summary, &st);
        metrics_prom_header(out, name, "summary");
        /* Quantiles of an empty window are NaN in Prometheus' client. */
        double nan = st.window ? 0 : NAN;
        metrics_prom_sample(out, name, "", "{quantile=\"0.5\",}", st.window ? (double)st.p50 : nan);
        if (v->summary->level == METRICS_SUMMARY_ADVANCED) {
            metrics_prom_sample(out, name, "", "{quantile=\"0.9\",}", st.window ? (double)st.p90 : nan);
            metrics_prom_sample(out, name, "", "{quantile=\"0.99\",}", st.window ? (double)st.p99 : nan);
        }
        metrics_prom_sample(out, name, "_count", "", (double)st.count);
        metrics_prom_sample(out, name, "_sum", "", (double)st.sum);
        break;
    }
    case METRICS_VALUE_TEXT:
        break;
    }
}

void metrics_prom_render(struct metrics_buf *out)
{
    struct metrics_prom_ctx ctx = {.out = out};
    metrics_foreach_value(metrics_prom_visit, &ctx);
}
