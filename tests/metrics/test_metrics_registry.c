/*
 * Unit tests for the metrics registry and summaries: registration and
 * rebinding, defaults that never hide an owner's value, mntr expansion of
 * summaries in ZooKeeper's key names, percentiles over the sliding window,
 * resets, ZooKeeper's catalog and the per-opcode recording, summary sets
 * (the fixed namespace table, mntr and Prometheus forms) and the
 * per-namespace byte counts.
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

#include "metrics_buf.h"
#include "metrics_prom.h"
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

/* Only the per-namespace keys (the catalog has more than collect keeps). */
static void collect_namespaces(void *arg, const char *name, const struct metrics_value *v)
{
    if (strstr(name, "_per_namespace") != NULL)
        collect(arg, name, v);
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
    assert_true(metrics_exists("requests_not_forwarded_to_commit_processor"));
    assert_true(metrics_exists("read_per_namespace"));
    assert_true(metrics_exists("write_per_namespace"));
    int64_t v = -1;
    assert_int_equal(metrics_get("requests_not_forwarded_to_commit_processor", &v), 0);
    assert_int_equal(v, 0);
    /* 47 counters + 64 summaries + 2 summary sets + the per-opcode summaries. */
    assert_int_equal(metrics_count_registered(), 47 + 64 + 2 + metrics_op_count());
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

static void test_summary_set_is_a_bounded_table(void **state)
{
    (void)state;
    static struct metrics_summary_set set;
    metrics_summary_set_init(&set, METRICS_SUMMARY_BASIC);
    char key[16];
    for (unsigned i = 0; i < METRICS_SUMMARY_SET_MAX; i++) {
        int n = snprintf(key, sizeof key, "ns%u", i);
        metrics_summary_set_record(&set, key, (size_t)n, metrics_summary_set_hash(key, (size_t)n), i);
    }
    assert_int_equal(set.n, METRICS_SUMMARY_SET_MAX);
    assert_int_equal(set.dropped, 0);
    /* Known keys are found again (no new entry); a new key is dropped. */
    for (unsigned i = 0; i < METRICS_SUMMARY_SET_MAX; i++) {
        int n = snprintf(key, sizeof key, "ns%u", i);
        uint32_t h = metrics_summary_set_hash(key, (size_t)n);
        struct metrics_summary *m = metrics_summary_set_get(&set, key, (size_t)n, h);
        assert_non_null(m);
        assert_int_equal(m->count, 1);
        assert_int_equal(m->sum, i);
        metrics_summary_record(m, 1);
    }
    assert_int_equal(set.n, METRICS_SUMMARY_SET_MAX);
    metrics_summary_set_record(&set, "extra", 5, metrics_summary_set_hash("extra", 5), 1);
    assert_int_equal(set.n, METRICS_SUMMARY_SET_MAX);
    assert_int_equal(set.dropped, 1);
    /* First-seen order; a reset keeps the keys, a clear forgets them. */
    assert_string_equal(set.entries[0]->key, "ns0");
    assert_string_equal(set.entries[255]->key, "ns255");
    metrics_summary_set_reset(&set);
    assert_int_equal(set.n, METRICS_SUMMARY_SET_MAX);
    assert_int_equal(set.entries[7]->summary.count, 0);
    metrics_summary_set_clear(&set);
    assert_int_equal(set.n, 0);
    assert_non_null(metrics_summary_set_get(&set, "ns0", 3, metrics_summary_set_hash("ns0", 3)));
    assert_int_equal(set.n, 1);
    metrics_summary_set_clear(&set);
}

static void test_namespace_bytes_as_zookeeper_counts_them(void **state)
{
    (void)state;
    metrics_zk_register();
    metrics_zk_set_enabled(true);
    /* DataTree.updateWriteStat: path length + data length. */
    metrics_namespace_write("/a", 2, 5);       /* create /a "hello": 7 */
    metrics_namespace_write("/a/child", 8, 0); /* delete /a/child: 8 */
    metrics_namespace_write("/b", 2, 1);       /* 3 */
    metrics_namespace_write("/", 1, 4);        /* the root has no namespace */
    /* DataTree.updateReadStat: path length + bytes + STAT_OVERHEAD_BYTES (68). */
    metrics_namespace_read("/a", 2, 5);        /* getData: 75 */
    metrics_namespace_read("/a", 2, 0);        /* exists: 70 */
    metrics_namespace_read("/", 1, 2);         /* not recorded */
    /* Java's String.length: "/\xc3\xa9" (/e-acute) is 2, a 4-byte character 2. */
    metrics_namespace_write("/\xc3\xa9", 3, 0);
    assert_int_equal(metrics_java_length("/\xc3\xa9", 3), 2);
    assert_int_equal(metrics_java_length("/\xf0\x9f\x98\x80", 5), 3);
    assert_int_equal(metrics_java_length("/\xe2\x82\xac", 4), 2);

    struct collected c = {0};
    metrics_foreach_mntr(collect_namespaces, &c);
    assert_int_equal(find(&c, "cnt_a_write_per_namespace")->i, 2);
    assert_int_equal(find(&c, "sum_a_write_per_namespace")->i, 15);
    assert_int_equal(find(&c, "min_a_write_per_namespace")->i, 7);
    assert_int_equal(find(&c, "max_a_write_per_namespace")->i, 8);
    assert_true(fabs(find(&c, "avg_a_write_per_namespace")->d - 7.5) < 1e-9);
    assert_null(find(&c, "p50_a_write_per_namespace")); /* BASIC */
    assert_int_equal(find(&c, "sum_b_write_per_namespace")->i, 3);
    assert_int_equal(find(&c, "sum_\xc3\xa9_write_per_namespace")->i, 2);
    assert_int_equal(find(&c, "cnt_a_read_per_namespace")->i, 2);
    assert_int_equal(find(&c, "sum_a_read_per_namespace")->i, 145);
    assert_null(find(&c, "cnt_b_read_per_namespace"));
    assert_null(find(&c, "cnt__write_per_namespace"));
    int64_t v;
    assert_int_equal(metrics_get("sum_b_write_per_namespace", &v), 0);
    assert_int_equal(v, 3);

    /* Prometheus: one family per set, labelled by key. */
    struct metrics_buf out;
    metrics_buf_init(&out);
    metrics_prom_render(&out);
    assert_false(out.oom);
    assert_non_null(strstr(out.data, "# TYPE write_per_namespace summary\n"
                                     "write_per_namespace{key=\"a\",quantile=\"0.5\",} 8.0\n"
                                     "write_per_namespace_count{key=\"a\",} 2.0\n"
                                     "write_per_namespace_sum{key=\"a\",} 15.0\n"
                                     "write_per_namespace{key=\"b\",quantile=\"0.5\",} 3.0\n"));
    assert_non_null(strstr(out.data, "read_per_namespace_sum{key=\"a\",} 145.0\n"));
    const char *first = strstr(out.data, "# TYPE write_per_namespace ");
    assert_null(strstr(first + 1, "# TYPE write_per_namespace "));
    metrics_buf_free(&out);

    /* Disabled: nothing recorded. A reset zeroes the sets and keeps the keys. */
    metrics_zk_set_enabled(false);
    metrics_namespace_write("/a", 2, 5);
    assert_int_equal(metrics_get("cnt_a_write_per_namespace", &v), 0);
    assert_int_equal(v, 2);
    metrics_zk_set_enabled(true);
    metrics_reset_counters();
    assert_int_equal(metrics_get("cnt_a_write_per_namespace", &v), 0);
    assert_int_equal(v, 0);
    metrics_zk_unregister();
    assert_int_equal(metrics_zk.write_per_namespace.n, 0);
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
        cmocka_unit_test(test_summary_set_is_a_bounded_table),
        cmocka_unit_test_teardown(test_namespace_bytes_as_zookeeper_counts_them, registry_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
