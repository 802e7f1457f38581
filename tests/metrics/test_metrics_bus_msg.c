/*
 * Unit tests for the bean registry and the bus protocol: bean names and
 * ordering, events, attribute reads and writes, operations, the JSON writer
 * and parser, the published message shapes, every query (and its errors),
 * and the Prometheus text rendering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mbean.h"
#include "mbus_json.h"
#include "mbus_msg.h"
#include "metrics_prom.h"
#include "registry.h"

#define SERVER MBEAN_DOMAIN ":name0=StandaloneServer_port2181"

/* ------------------------------------------------------- a test bean */

struct fake {
    int64_t packets;
    int64_t tick;
    int resets;
    struct metrics_summary lat;
};

static int fake_packets(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct fake *)obj)->packets;
    return 0;
}

static int fake_tick(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct fake *)obj)->tick;
    return 0;
}

static int fake_set_tick(void *obj, const struct mbean_value *in, char *err, size_t errlen)
{
    if (in->i <= 0) {
        snprintf(err, errlen, "tickTime must be positive");
        return -EINVAL;
    }
    ((struct fake *)obj)->tick = in->i;
    return 0;
}

static int fake_name(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    metrics_buf_puts(scratch, "quote\" and\nnewline");
    out->s = scratch->data;
    return 0;
}

static int fake_paths(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    metrics_buf_append(scratch, "/a\0/b", 6);
    out->s = scratch->data;
    out->n = 2;
    return 0;
}

static int fake_lat(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->summary = &((struct fake *)obj)->lat;
    return 0;
}

static int fake_reset(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err, size_t errlen)
{
    (void)result, (void)scratch, (void)err, (void)errlen;
    struct fake *f = obj;
    f->packets = 0;
    f->resets++;
    return 0;
}

static int fake_count(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err, size_t errlen)
{
    (void)scratch, (void)err, (void)errlen;
    result->type = MBEAN_INT;
    result->i = ((struct fake *)obj)->resets + 100;
    return 0;
}

static const struct mbean_attr_desc fake_attrs[] = {
    {"PacketsReceived", MBEAN_INT, MBEAN_KIND_COUNTER, fake_packets, NULL},
    {"TickTime", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, fake_tick, fake_set_tick},
    {"Name", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, fake_name, NULL},
    {"EphemeralNodes", MBEAN_STRINGS, MBEAN_KIND_ATTRIBUTE, fake_paths, NULL},
    {"Latency", MBEAN_SUMMARY, MBEAN_KIND_GAUGE, fake_lat, NULL},
};

static const struct mbean_op_desc fake_ops[] = {
    {"resetStatistics", "reset", fake_reset},
    {"countThings", "count", fake_count},
};

static const struct mbean_desc fake_desc = {
    .type = "ZooKeeperServerMXBean", .attrs = fake_attrs, .nattrs = 5, .ops = fake_ops, .nops = 2};

static const struct mbean_desc plain_desc = {.type = "DataTreeMXBean"};

static struct fake fake;

struct events {
    char log[16][256];
    size_t n;
};
static struct events events;

static void on_event(void *arg, const struct mbean_event *ev)
{
    struct events *e = arg;
    static const char *kinds[] = {"registered", "unregistered", "state", "leader"};
    if (e->n < 16)
        snprintf(e->log[e->n++], sizeof e->log[0], "%s %s", kinds[ev->type], ev->name);
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.packets = 42;
    fake.tick = 2000;
    metrics_summary_init(&fake.lat, METRICS_SUMMARY_ADVANCED);
    memset(&events, 0, sizeof events);
    mbean_set_listener(on_event, &events);
    assert_int_equal(mbean_register(SERVER, &fake_desc, &fake), 0);
    assert_int_equal(mbean_register(SERVER ",name1=InMemoryDataTree", &plain_desc, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mbean_clear();
    mbean_set_listener(NULL, NULL);
    metrics_clear();
    return 0;
}

/* ------------------------------------------------------------ beans */

static void test_register_sorts_and_refuses_duplicates_and_foreign_domains(void **state)
{
    (void)state;
    assert_int_equal(mbean_register(SERVER, &fake_desc, &fake), -EEXIST);
    assert_int_equal(mbean_register("java.lang:type=Memory", &plain_desc, NULL), -EINVAL);
    assert_int_equal(mbean_register(MBEAN_DOMAIN ":", &plain_desc, NULL), -EINVAL);
    assert_int_equal(mbean_register(SERVER ",name1=Connections,name2=127.0.0.1,name3=0x1", &plain_desc, NULL), 0);
    assert_int_equal(mbean_count(), 3);
    assert_string_equal(mbean_at(0)->name, SERVER);
    assert_string_equal(mbean_at(1)->name, SERVER ",name1=Connections,name2=127.0.0.1,name3=0x1");
    assert_string_equal(mbean_at(2)->name, SERVER ",name1=InMemoryDataTree");
    assert_int_equal(mbean_unregister_prefix(SERVER ",name1=Connections,"), 1);
    assert_int_equal(mbean_unregister("nope"), -ENOENT);
    assert_int_equal(events.n, 4);
    assert_string_equal(events.log[0], "registered " SERVER);
    assert_string_equal(events.log[3], "unregistered " SERVER ",name1=Connections,name2=127.0.0.1,name3=0x1");
}

static void test_names_and_quoting(void **state)
{
    (void)state;
    char name[256], q[64];
    const char *parts[] = {"ReplicatedServer_id1", "replica.1", "Leader"};
    assert_true(mbean_make_name(name, sizeof name, parts, 3) > 0);
    assert_string_equal(name, MBEAN_DOMAIN ":name0=ReplicatedServer_id1,name1=replica.1,name2=Leader");
    assert_int_equal(mbean_make_name(name, 20, parts, 3), -ENAMETOOLONG);
    mbean_quote(q, sizeof q, "fe80::1*?\"");
    assert_string_equal(q, "\"fe80::1\\*\\?\\\"\"");
    assert_true(mbean_name_matches(NULL, SERVER));
    assert_true(mbean_name_matches(MBEAN_DOMAIN ":name0=Standalone", SERVER));
    assert_false(mbean_name_matches(MBEAN_DOMAIN ":name0=Replicated", SERVER));
    assert_true(mbean_name_matches("*InMemoryDataTree", SERVER ",name1=InMemoryDataTree"));
    assert_false(mbean_name_matches("*InMemoryDataTree", SERVER));
}

static void test_set_checks_writability_type_and_setter(void **state)
{
    (void)state;
    char err[128] = "";
    struct mbean *b = mbean_find(SERVER);
    struct mbean_value v = {.type = MBEAN_INT, .i = 3000};
    assert_int_equal(mbean_set_attr(b, "TickTime", &v, err, sizeof err), 0);
    assert_int_equal(fake.tick, 3000);
    v.i = -1;
    assert_int_equal(mbean_set_attr(b, "TickTime", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "tickTime must be positive");
    assert_int_equal(mbean_set_attr(b, "PacketsReceived", &v, err, sizeof err), -EPERM);
    assert_int_equal(mbean_set_attr(b, "Nope", &v, err, sizeof err), -ENOENT);
    struct mbean_value s = {.type = MBEAN_STRING, .s = "x"};
    assert_int_equal(mbean_set_attr(b, "TickTime", &s, err, sizeof err), -EINVAL);
}

/* ------------------------------------------------------------- JSON */

static void test_json_writer_escapes_and_formats_numbers(void **state)
{
    (void)state;
    struct metrics_buf b;
    metrics_buf_init(&b);
    mbus_json_string(&b, "a\"b\\c\n\x01");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    metrics_buf_reset(&b);
    mbus_json_double(&b, 40.0);
    metrics_buf_putc(&b, ' ');
    mbus_json_double(&b, 0.1);
    metrics_buf_putc(&b, ' ');
    mbus_json_double(&b, 1.0 / 0.0);
    assert_string_equal(b.data, "40.0 0.1 null");
    metrics_buf_free(&b);
}

static void test_json_parser_accepts_valid_and_refuses_bad_input(void **state)
{
    (void)state;
    char err[128];
    const char *doc = "{\"a\":[1,-2.5e1,true,null],\"s\":\"x\\u00e9\\ud83d\\ude00\",\"o\":{}}";
    struct mbus_json *j = mbus_json_parse(doc, strlen(doc), err, sizeof err);
    assert_non_null(j);
    const struct mbus_json *a = mbus_json_get(j, "a");
    assert_int_equal(a->count, 4);
    assert_true(a->child->is_int && a->child->i == 1);
    assert_true(a->child->next->num == -25.0 && !a->child->next->is_int);
    assert_string_equal(mbus_json_get_string(j, "s"), "x\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(mbus_json_get(j, "o")->type, MBUS_JSON_OBJECT);
    mbus_json_free(j);
    const char *bad[] = {"", "{", "{\"a\" 1}", "[1,]", "{\"a\":tru}", "\"\\ud800\"", "01", "[1] x", "\"a\nb\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(mbus_json_parse(bad[i], strlen(bad[i]), err, sizeof err));
        assert_true(strncmp(err, "bad JSON", 8) == 0);
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_null(mbus_json_parse(deep, sizeof deep, err, sizeof err));
    assert_non_null(strstr(err, "nested too deeply"));
}

/* ---------------------------------------------------------- messages */

static struct mbus_json *body_of(const struct metrics_buf *msg, const char *topic)
{
    size_t tl = strlen(topic);
    assert_true(msg->len > tl + 1);
    assert_memory_equal(msg->data, topic, tl); /* the topic prefix subscribers filter on */
    assert_int_equal(msg->data[tl], ' ');
    char err[128];
    struct mbus_json *j = mbus_json_parse(msg->data + tl + 1, msg->len - tl - 1, err, sizeof err);
    if (j == NULL)
        fail_msg("%s in %s", err, msg->data);
    return j;
}

static void test_update_message_is_topic_then_versioned_json(void **state)
{
    (void)state;
    struct metrics_buf attrs, scratch, msg;
    metrics_buf_init(&attrs);
    metrics_buf_init(&scratch);
    metrics_buf_init(&msg);
    metrics_summary_record(&fake.lat, 5);
    metrics_summary_record(&fake.lat, 7);
    struct mbean *b = mbean_find(SERVER);
    mbus_encode_attributes(&attrs, b, &scratch);
    mbus_encode_update(&msg, b, attrs.data, attrs.len, 17, 1700000000000);
    struct mbus_json *j = body_of(&msg, SERVER);
    assert_int_equal(mbus_json_get(j, "v")->i, MBUS_PROTOCOL_VERSION);
    assert_string_equal(mbus_json_get_string(j, "kind"), "update");
    assert_int_equal(mbus_json_get(j, "seq")->i, 17);
    assert_string_equal(mbus_json_get_string(j, "bean"), SERVER);
    assert_string_equal(mbus_json_get_string(j, "type"), "ZooKeeperServerMXBean");
    const struct mbus_json *a = mbus_json_get(j, "attributes");
    assert_int_equal(mbus_json_get(a, "PacketsReceived")->i, 42);
    assert_string_equal(mbus_json_get_string(a, "Name"), "quote\" and\nnewline");
    const struct mbus_json *paths = mbus_json_get(a, "EphemeralNodes");
    assert_int_equal(paths->count, 2);
    assert_string_equal(paths->child->next->s, "/b");
    const struct mbus_json *lat = mbus_json_get(a, "Latency");
    assert_int_equal(mbus_json_get(lat, "count")->i, 2);
    assert_int_equal(mbus_json_get(lat, "max")->i, 7);
    assert_true(mbus_json_get(lat, "avg")->num == 6.0);
    assert_non_null(mbus_json_get(lat, "p999"));
    mbus_json_free(j);

    struct mbean_event ev = {.type = MBEAN_EVENT_STATE, .name = SERVER, .state = "standalone"};
    metrics_buf_reset(&msg);
    mbus_encode_event(&msg, &ev, &scratch, 18, 1);
    j = body_of(&msg, SERVER);
    assert_string_equal(mbus_json_get_string(j, "kind"), "state");
    assert_string_equal(mbus_json_get_string(j, "state"), "standalone");
    assert_int_equal(mbus_json_get(j, "previous")->type, MBUS_JSON_NULL);
    mbus_json_free(j);

    ev = (struct mbean_event){.type = MBEAN_EVENT_REGISTERED, .bean = b, .name = b->name};
    metrics_buf_reset(&msg);
    mbus_encode_event(&msg, &ev, &scratch, 19, 1);
    j = body_of(&msg, SERVER);
    assert_string_equal(mbus_json_get_string(j, "kind"), "registered");
    assert_int_equal(mbus_json_get(mbus_json_get(j, "attributes"), "TickTime")->i, 2000);
    mbus_json_free(j);
    metrics_buf_free(&attrs);
    metrics_buf_free(&scratch);
    metrics_buf_free(&msg);
}

/* ----------------------------------------------------------- queries */

static struct mbus_json *query(const char *req, bool expect_ok)
{
    struct metrics_buf out;
    metrics_buf_init(&out);
    mbus_query(req, strlen(req), &out);
    char err[128];
    struct mbus_json *j = mbus_json_parse(out.data, out.len, err, sizeof err);
    if (j == NULL)
        fail_msg("reply is not JSON: %s", out.data);
    const struct mbus_json *ok = mbus_json_get(j, "ok");
    if (ok == NULL || ok->b != expect_ok)
        fail_msg("unexpected reply to %s: %s", req, out.data);
    assert_int_equal(mbus_json_get(j, "v")->i, MBUS_PROTOCOL_VERSION);
    metrics_buf_free(&out);
    return j;
}

static const char *error_code(const struct mbus_json *j)
{
    return mbus_json_get_string(mbus_json_get(j, "error"), "code");
}

static void test_query_list_by_pattern_with_detail(void **state)
{
    (void)state;
    struct mbus_json *j = query("{\"v\":1,\"id\":\"x7\",\"op\":\"list\"}", true);
    assert_string_equal(mbus_json_get_string(j, "id"), "x7");
    assert_int_equal(mbus_json_get(j, "beans")->count, 2);
    mbus_json_free(j);
    j = query("{\"op\":\"list\",\"pattern\":\"*InMemoryDataTree\",\"detail\":true}", true);
    const struct mbus_json *beans = mbus_json_get(j, "beans");
    assert_int_equal(beans->count, 1);
    assert_string_equal(mbus_json_get_string(beans->child, "type"), "DataTreeMXBean");
    mbus_json_free(j);
    j = query("{\"op\":\"list\",\"pattern\":\"" SERVER "\",\"detail\":true}", true);
    const struct mbus_json *first = mbus_json_get(j, "beans")->child;
    const struct mbus_json *attrs = mbus_json_get(first, "attributes");
    assert_int_equal(attrs->count, 5);
    const struct mbus_json *tick = attrs->child->next;
    assert_string_equal(mbus_json_get_string(tick, "name"), "TickTime");
    assert_true(mbus_json_get(tick, "writable")->b);
    assert_string_equal(mbus_json_get_string(attrs->child, "kind"), "counter");
    assert_int_equal(mbus_json_get(first, "operations")->count, 2);
    mbus_json_free(j);
}

static void test_query_get_set_invoke(void **state)
{
    (void)state;
    struct mbus_json *j = query("{\"op\":\"get\",\"bean\":\"" SERVER "\",\"attributes\":[\"PacketsReceived\"]}", true);
    const struct mbus_json *a = mbus_json_get(j, "attributes");
    assert_int_equal(a->count, 1);
    assert_int_equal(mbus_json_get(a, "PacketsReceived")->i, 42);
    mbus_json_free(j);

    j = query("{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"TickTime\",\"value\":2500}", true);
    assert_int_equal(mbus_json_get(j, "value")->i, 2500);
    assert_int_equal(fake.tick, 2500);
    mbus_json_free(j);
    /* A numeric string is accepted for an int attribute (the CLI's form). */
    j = query("{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"TickTime\",\"value\":\"2600\"}", true);
    assert_int_equal(fake.tick, 2600);
    mbus_json_free(j);

    j = query("{\"op\":\"invoke\",\"bean\":\"" SERVER "\",\"operation\":\"resetStatistics\"}", true);
    assert_int_equal(mbus_json_get(j, "result")->type, MBUS_JSON_NULL);
    assert_int_equal(fake.packets, 0);
    mbus_json_free(j);
    j = query("{\"op\":\"invoke\",\"bean\":\"" SERVER "\",\"operation\":\"countThings\"}", true);
    assert_int_equal(mbus_json_get(j, "result")->i, 101);
    mbus_json_free(j);
}

static void test_query_errors_are_answers(void **state)
{
    (void)state;
    static const struct {
        const char *req, *code;
    } cases[] = {
        {"not json", "bad_request"},
        {"[1,2]", "bad_request"},
        {"{\"v\":2,\"op\":\"list\"}", "unsupported_version"},
        {"{\"op\":\"frobnicate\"}", "bad_request"},
        {"{\"id\":3}", "bad_request"},
        {"{\"op\":\"get\"}", "bad_request"},
        {"{\"op\":\"get\",\"bean\":\"" MBEAN_DOMAIN ":name0=Nope\"}", "not_found"},
        {"{\"op\":\"get\",\"bean\":\"" SERVER "\",\"attributes\":[\"Nope\"]}", "not_found"},
        {"{\"op\":\"get\",\"bean\":\"" SERVER "\",\"attributes\":\"TickTime\"}", "bad_request"},
        {"{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"PacketsReceived\",\"value\":1}", "read_only"},
        {"{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"TickTime\",\"value\":\"abc\"}", "invalid"},
        {"{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"TickTime\",\"value\":-5}", "invalid"},
        {"{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"Nope\",\"value\":1}", "not_found"},
        {"{\"op\":\"set\",\"bean\":\"" SERVER "\",\"attribute\":\"TickTime\"}", "bad_request"},
        {"{\"op\":\"invoke\",\"bean\":\"" SERVER "\",\"operation\":\"explode\"}", "not_found"},
        {"{\"op\":\"invoke\",\"bean\":\"" SERVER "\"}", "bad_request"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mbus_json *j = query(cases[i].req, false);
        if (strcmp(error_code(j), cases[i].code) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].req, cases[i].code, error_code(j));
        assert_non_null(mbus_json_get_string(mbus_json_get(j, "error"), "message"));
        mbus_json_free(j);
    }
    assert_int_equal(fake.tick, 2000); /* no failed set changed anything */
}

/* -------------------------------------------------------- prometheus */

static void test_prometheus_text_uses_zookeeper_names_and_forms(void **state)
{
    (void)state;
    static struct metrics_summary rl, ft;
    metrics_summary_init(&rl, METRICS_SUMMARY_ADVANCED);
    metrics_summary_init(&ft, METRICS_SUMMARY_BASIC);
    metrics_summary_record(&rl, 4);
    int64_t packets = 12;
    metrics_register("packets_received", ZKP_METRIC_COUNTER, &packets);
    metrics_register_summary("readlatency", &rl);
    metrics_register_summary("fsynctime", &ft);
    struct metrics_buf b;
    metrics_buf_init(&b);
    metrics_prom_render(&b);
    assert_non_null(strstr(b.data, "# HELP packets_received packets_received\n# TYPE packets_received counter\n"
                                   "packets_received 12.0\n"));
    assert_non_null(strstr(b.data, "# TYPE readlatency summary\nreadlatency{quantile=\"0.5\",} 4.0\n"
                                   "readlatency{quantile=\"0.9\",} 4.0\nreadlatency{quantile=\"0.99\",} 4.0\n"
                                   "readlatency_count 1.0\nreadlatency_sum 4.0\n"));
    assert_non_null(strstr(b.data, "fsynctime{quantile=\"0.5\",} NaN\nfsynctime_count 0.0\n"));
    assert_null(strstr(b.data, "fsynctime{quantile=\"0.9\""));
    metrics_buf_reset(&b);
    metrics_prom_double(&b, 1e7);
    metrics_buf_putc(&b, ' ');
    metrics_prom_double(&b, 0.0882);
    metrics_buf_putc(&b, ' ');
    metrics_prom_double(&b, 12345678.0);
    assert_string_equal(b.data, "1.0E7 0.0882 1.2345678E7");
    metrics_buf_free(&b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_register_sorts_and_refuses_duplicates_and_foreign_domains),
        T(test_names_and_quoting),
        T(test_set_checks_writability_type_and_setter),
        T(test_json_writer_escapes_and_formats_numbers),
        T(test_json_parser_accepts_valid_and_refuses_bad_input),
        T(test_update_message_is_topic_then_versioned_json),
        T(test_query_list_by_pattern_with_detail),
        T(test_query_get_set_invoke),
        T(test_query_errors_are_answers),
        T(test_prometheus_text_uses_zookeeper_names_and_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
