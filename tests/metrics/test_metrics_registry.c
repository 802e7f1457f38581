/*
 * Unit tests for the metrics registry and summaries: registration and
 * rebinding, defaults that never hide an owner's value, mntr expansion of
 * summaries in ZooKeeper's key names, percentiles over the sliding window,
 * resets, ZooKeeper's catalog and the per-opcode recording.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics_zk.h"
#include "registry.h"

static int registry_teardown(void **state)
{
    (void)state;
    metrics_clear();
    return 0;
}

static void test_register_reads_value_in_place(void **state)
{
    (void)state;
    int64_t packets = 5;
    assert_int_equal(metrics_register("packets_received", ZKP_METRIC_COUNTER, &packets), 0);
    int64_t v = -1;
    assert_int_equal(metrics_get("packets_received", &v), 0);
    assert_int_equal(v, 5);
    packets = 9;
    assert_int_equal(metrics_get("packets_received", &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(metrics_get("nope", &v), -ENOENT);
    assert_int_equal(v, 0);
}

static void test_reregistration_rebinds_the_name(void **state)
{
    (void)state;
    int64_t a = 1, b = 2;
    metrics_register("x", ZKP_METRIC_GAUGE, &a);
    metrics_register("x", ZKP_METRIC_GAUGE, &b);
    int64_t v;
    metrics_get("x", &v);
    assert_int_equal(v, 2);
    assert_int_equal(metrics_count_registered(), 1);
}

static void test_default_never_hides_the_owner(void **state)
{
    (void)state;
    int64_t owner = 7, fallback = 0;
    metrics_register("bytes_received_count", ZKP_METRIC_COUNTER, &owner);
    assert_int_equal(metrics_register_default("bytes_received_count", ZKP_METRIC_COUNTER, &fallback), 1);
    int64_t v;
    metrics_get("bytes_received_count", &v);
    assert_int_equal(v, 7);
    /* And unregistering the default by its storage leaves the owner. */
    metrics_unregister_bound("bytes_received_count", &fallback);
    assert_true(metrics_exists("bytes_received_count"));
    metrics_unregister_bound("bytes_received_count", &owner);
    assert_false(metrics_exists("bytes_received_count"));
}

static int64_t gauge_fn(void *arg)
{
    return *(int64_t *)arg * 2;
}

static double double_fn(void *arg)
{
    (void)arg;
    return 1.5;
}

static const char *text_fn(void *arg)
{
    (void)arg;
    return "standalone";
}

struct collected {
    char names[64][64];
    struct metrics_value values[64];
    size_t n;
};

static void collect(void *arg, const char *name, const struct metrics_value *v)
{
    struct collected *c = arg;
    if (c->n < 64) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
        c->values[c->n++] = *v;
    }
}

static const struct metrics_value *find(const struct collected *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0)
            return &c->values[i];
    return NULL;
}

static void test_mntr_expands_summaries_with_zookeeper_names(void **state)
{
    (void)state;
    static struct metrics_summary fsync, readlat;
    metrics_summary_init(&fsync, METRICS_SUMMARY_BASIC);
    metrics_summary_init(&readlat, METRICS_SUMMARY_ADVANCED);
    metrics_summary_record(&fsync, 2);
    metrics_summary_record(&fsync, 4);
    for (int i = 1; i <= 100; i++)
        metrics_summary_record(&readlat, i);
    int64_t n = 21;
    metrics_register_summary("fsynctime", &fsync);
    metrics_register_summary("readlatency", &readlat);
    metrics_register_fn("znode_count", gauge_fn, &n);
    metrics_register_double_fn("avg_latency", double_fn, NULL);
    metrics_register_text_fn("server_state", text_fn, NULL);

    struct collected c = {0};
    metrics_foreach_mntr(collect, &c);
    const struct metrics_value *v = find(&c, "avg_fsynctime");
    assert_non_null(v);
    assert_int_equal(v->type, METRICS_VALUE_DOUBLE);
    assert_true(fabs(v->d - 3.0) < 1e-9);
    assert_int_equal(find(&c, "min_fsynctime")->i, 2);
    assert_int_equal(find(&c, "max_fsynctime")->i, 4);
    assert_int_equal(find(&c, "cnt_fsynctime")->i, 2);
    assert_int_equal(find(&c, "sum_fsynctime")->i, 6);
    assert_null(find(&c, "p50_fsynctime")); /* BASIC: no percentiles */
    assert_int_equal(find(&c, "p50_readlatency")->i, 51); /* 0.5 * 101 = 50.5 -> 50.5 rounds up */
    assert_int_equal(find(&c, "p99_readlatency")->i, 100);
    assert_int_equal(find(&c, "znode_count")->i, 42);
    assert_string_equal(find(&c, "server_state")->text, "standalone");

    /* The integer view (mntr through Lua) has the summary's integer keys
     * and the plain value; metrics_get resolves a summary key. */
    int64_t got;
    assert_int_equal(metrics_get("cnt_readlatency", &got), 0);
    assert_int_equal(got, 100);
    assert_int_equal(metrics_get("avg_latency", &got), -ENOENT);
}

static void test_reset_zeroes_defaults_and_summaries_only(void **state)
{
    (void)state;
    static struct metrics_summary s;
    metrics_summary_init(&s, METRICS_SUMMARY_ADVANCED);
    metrics_summary_record(&s, 10);
    int64_t owned = 5, dflt = 6;
    metrics_register("packets_sent", ZKP_METRIC_COUNTER, &owned);
    metrics_register_default("stale_replies", ZKP_METRIC_COUNTER, &dflt);
    metrics_register_summary("updatelatency", &s);
    metrics_reset_counters();
    assert_int_equal(owned, 5);
    assert_int_equal(dflt, 0);
    assert_int_equal(s.count, 0);
    struct metrics_summary_stats st;
    metrics_summary_read(&s, &st);
    assert_int_equal(st.window, 0);
    assert_int_equal(st.max, 0);
}

static void test_summary_min_max_avg_and_empty(void **state)
{
    (void)state;
    static struct metrics_summary s;
    metrics_summary_init(&s, METRICS_SUMMARY_ADVANCED);
    struct metrics_summary_stats st;
    metrics_summary_read(&s, &st);
    assert_int_equal(st.count, 0);
    assert_int_equal(st.min, 0);
    assert_int_equal(st.max, 0);
    assert_true(st.avg == 0.0);
    metrics_summary_record(&s, -3);
    metrics_summary_record(&s, 9);
    metrics_summary_record(&s, 3);
    metrics_summary_read(&s, &st);
    assert_int_equal(st.min, -3);
    assert_int_equal(st.max, 9);
    assert_int_equal(st.sum, 9);
    assert_true(fabs(st.avg - 3.0) < 1e-9);
}

static void test_summary_percentiles_follow_the_window(void **state)
{
    (void)state;
    static struct metrics_summary s;
    metrics_summary_init(&s, METRICS_SUMMARY_ADVANCED);
    /* A full window of large values, then a full window of small ones: the
     * percentiles forget the old samples, count/max do not. */
    for (uint32_t i = 0; i < METRICS_SUMMARY_WINDOW; i++)
        metrics_summary_record(&s, 1000000);
    for (uint32_t i = 0; i < METRICS_SUMMARY_WINDOW; i++)
        metrics_summary_record(&s, (int64_t)(i % 100) + 1);
    struct metrics_summary_stats st;
    metrics_summary_read(&s, &st);
    assert_int_equal(st.count, 2 * METRICS_SUMMARY_WINDOW);
    assert_int_equal(st.max, 1000000);
    assert_int_equal(st.window, METRICS_SUMMARY_WINDOW);
    assert_in_range(st.p50, 45, 55);
    assert_in_range(st.p95, 93, 97);
    assert_in_range(st.p99, 98, 100);
    assert_int_equal(st.p999, 100);
}

static void test_quantile_interpolates_as_dropwizard(void **state)
{
    (void)state;
    int64_t v[] = {10, 20, 30, 40};
    assert_true(metrics_quantile(v, 4, 0.5) == 25.0); /* pos 2.5 */
    assert_true(metrics_quantile(v, 4, 0.1) == 10.0); /* pos < 1 */
    assert_true(metrics_quantile(v, 4, 0.99) == 40.0);
    assert_true(metrics_quantile(v, 0, 0.5) == 0.0);
}

static void test_catalog_has_zookeeper_names(void **state)
{
    (void)state;
    metrics_zk_register();
    const char *names[] = {"looking_count", "stale_requests", "proposal_count", "digest_mismatches_count",
                           "fsynctime", "readlatency", "updatelatency", "propagation_latency",
                           "jvm_pause_time_ms", "get_data_latency_us", "close_session_latency_us"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_true(metrics_exists(names[i]));
    /* 46 counters + 64 summaries + the per-opcode summaries. */
    assert_int_equal(metrics_count_registered(), 46 + 64 + metrics_op_count());
    metrics_zk_unregister();
    assert_int_equal(metrics_count_registered(), 0);
}

static void test_request_record_feeds_opcode_and_zookeeper_summaries(void **state)
{
    (void)state;
    metrics_zk_register();
    metrics_zk_set_enabled(true);
    int64_t before_read = metrics_zk.readlatency.count, before_update = metrics_zk.updatelatency.count;
    metrics_request_record(4, 3000000);  /* getData, 3 ms */
    metrics_request_record(1, 7500000);  /* create, 7.5 ms */
    metrics_request_record(-11, 1000);   /* closeSession: an update */
    metrics_request_record(999, 1000);   /* unknown opcode: ignored */
    assert_int_equal(metrics_zk.readlatency.count, before_read + 1);
    assert_int_equal(metrics_zk.updatelatency.count, before_update + 2);
    assert_int_equal(metrics_zk.readlatency.max >= 3, 1);
    struct metrics_summary *gd = metrics_op_summary(4);
    assert_non_null(gd);
    assert_int_equal(gd->window[(gd->next - 1) % METRICS_SUMMARY_WINDOW], 3000);
    int64_t v;
    assert_int_equal(metrics_get("cnt_create_latency_us", &v), 0);
    assert_true(v >= 1);
    metrics_zk_set_enabled(false);
    int64_t n = gd->count;
    metrics_request_record(4, 1000);
    assert_int_equal(gd->count, n); /* disabled: nothing recorded */
    metrics_zk_set_enabled(true);
    metrics_zk_unregister();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_register_reads_value_in_place, registry_teardown),
        cmocka_unit_test_teardown(test_reregistration_rebinds_the_name, registry_teardown),
        cmocka_unit_test_teardown(test_default_never_hides_the_owner, registry_teardown),
        cmocka_unit_test_teardown(test_mntr_expands_summaries_with_zookeeper_names, registry_teardown),
        cmocka_unit_test_teardown(test_reset_zeroes_defaults_and_summaries_only, registry_teardown),
        cmocka_unit_test(test_summary_min_max_avg_and_empty),
        cmocka_unit_test(test_summary_percentiles_follow_the_window),
        cmocka_unit_test(test_quantile_interpolates_as_dropwizard),
        cmocka_unit_test_teardown(test_catalog_has_zookeeper_names, registry_teardown),
        cmocka_unit_test_teardown(test_request_record_feeds_opcode_and_zookeeper_summaries, registry_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
