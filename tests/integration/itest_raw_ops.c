/*
 * Integration tests, on the wire, for opcodes the C client does not expose:
 * addWatch (persistent and persistent-recursive, and the notifications they
 * deliver), checkWatches / removeWatches, getEphemerals,
 * getAllChildrenNumber, whoAmI, multiRead, createTTL argument checks,
 * setWatches2 on a resumed connection, and a multi mixing reads and writes.
 *
 * Each test opens its own raw sessions; a "watcher" connection observes
 * while a "writer" connection makes the changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "raw.h"

#define EVENT_WAIT_MS 5000

enum { EV_CREATED = 1, EV_DELETED = 2, EV_DATA = 3, EV_CHILDREN = 4 };

static void open_conn(struct zkr_conn *c)
{
    assert_int_equal(zkr_connect(c, zkh_server_port(zkh_current), 10000, 0, NULL, 5000), 0);
}

static void close_conn(struct zkr_conn *c)
{
    assert_int_equal(zkr_close_session(c), 0);
    zkr_close(c);
}

static void expect_event(struct zkr_conn *c, int32_t type, const char *path)
{
    struct zkr_event ev;
    int rc = zkr_next_event(c, &ev, EVENT_WAIT_MS);
    if (rc != 0)
        fail_msg("expected event %d %s, got none (%d)", type, path, rc);
    if (ev.type != type || strcmp(ev.path, path) != 0)
        fail_msg("expected event %d %s, got %d %s", type, path, ev.type, ev.path);
    assert_int_equal(ev.state, 3);
}

static void expect_no_more_events(struct zkr_conn *c)
{
    int n = zkr_drain(c);
    if (n != 0) {
        struct zkr_event ev;
        zkr_next_event(c, &ev, 0);
        fail_msg("%d unexpected event(s), first: %d %s", n, ev.type, ev.path);
    }
}

/* Reads a vector<ustring> into a sorted, NULL-terminated, malloc'ed array. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **read_strings(jute_reader *r, int *count)
{
    int32_t n = jute_read_count(r, 4);
    assert_false(r->err);
    assert_true(n >= 0);
    char **out = calloc((size_t)n + 1, sizeof *out);
    assert_non_null(out);
    for (int32_t i = 0; i < n; i++) {
        jute_span s = jute_read_bytes(r);
        assert_false(r->err);
        out[i] = strndup((const char *)s.ptr, (size_t)s.len);
    }
    qsort(out, (size_t)n, sizeof *out, cmp_str);
    *count = n;
    return out;
}

static void free_strings(char **v)
{
    for (int i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

static void test_persistent_watch_fires_repeatedly(void **state)
{
    (void)state;
    struct zkr_conn w, c;
    open_conn(&w);
    open_conn(&c);
    assert_int_equal(zkr_add_watch(&w, "/pw", 0), 0); /* the node need not exist */

    assert_int_equal(zkr_create(&c, "/pw", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CREATED, "/pw");
    assert_int_equal(zkr_set_data(&c, "/pw", "1", -1), 0);
    expect_event(&w, EV_DATA, "/pw");
    assert_int_equal(zkr_set_data(&c, "/pw", "2", -1), 0);
    expect_event(&w, EV_DATA, "/pw");
    assert_int_equal(zkr_create(&c, "/pw/c", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CHILDREN, "/pw");
    /* Grandchildren are outside a non-recursive watch. */
    assert_int_equal(zkr_create(&c, "/pw/c/d", NULL, 0, NULL, 0), 0);
    assert_int_equal(zkr_set_data(&c, "/pw/c", "x", -1), 0);
    assert_int_equal(zkr_delete(&c, "/pw/c/d", -1), 0);
    assert_int_equal(zkr_delete(&c, "/pw/c", -1), 0);
    expect_event(&w, EV_CHILDREN, "/pw");
    assert_int_equal(zkr_delete(&c, "/pw", -1), 0);
    expect_event(&w, EV_DELETED, "/pw");
    /* Still there after the node went away. */
    assert_int_equal(zkr_create(&c, "/pw", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CREATED, "/pw");
    expect_no_more_events(&w);
    close_conn(&w);
    close_conn(&c);
}

static void test_persistent_recursive_watch_covers_subtree(void **state)
{
    (void)state;
    struct zkr_conn w, c;
    open_conn(&w);
    open_conn(&c);
    assert_int_equal(zkr_add_watch(&w, "/pr", 1), 0);

    assert_int_equal(zkr_create(&c, "/pr", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CREATED, "/pr");
    assert_int_equal(zkr_create(&c, "/pr/x", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CREATED, "/pr/x");
    assert_int_equal(zkr_set_data(&c, "/pr/x", "v", -1), 0);
    expect_event(&w, EV_DATA, "/pr/x");
    assert_int_equal(zkr_create(&c, "/pr/x/y", NULL, 0, NULL, 0), 0);
    expect_event(&w, EV_CREATED, "/pr/x/y");
    assert_int_equal(zkr_delete(&c, "/pr/x/y", -1), 0);
    expect_event(&w, EV_DELETED, "/pr/x/y");
    assert_int_equal(zkr_set_data(&c, "/pr", "v", -1), 0);
    expect_event(&w, EV_DATA, "/pr");
    /* Outside the subtree: nothing. A sibling with a common prefix too. */
    assert_int_equal(zkr_create(&c, "/prx", NULL, 0, NULL, 0), 0);
    /* Recursive watches never report NodeChildrenChanged. */
    expect_no_more_events(&w);
    close_conn(&w);
    close_conn(&c);
}

static void test_check_and_remove_watches(void **state)
{
    (void)state;
    struct zkr_conn w, c;
    open_conn(&w);
    open_conn(&c);
    assert_int_equal(zkr_create(&c, "/rw", NULL, 0, NULL, 0), 0);
    assert_int_equal(zkr_get_data(&w, "/rw", true, NULL, 0, NULL), 0);

    /* checkWatches (17): data watch present, child watch absent. */
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 2), 0);
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 1), -121);
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 3), 0);
    assert_int_equal(zkr_path_int_op(&w, 17, "/elsewhere", 3), -121);
    /* Not asserted: checkWatches from a session without a watch on a path
     * that another session watches (ZooKeeper 3.8 answers 0 there). A
     * session without any watch anywhere near gets NOWATCHER: */
    assert_int_equal(zkr_path_int_op(&c, 17, "/elsewhere", 2), -121);

    /* removeWatches (18): gone, then no event for the change. */
    assert_int_equal(zkr_path_int_op(&w, 18, "/rw", 1), -121);
    assert_int_equal(zkr_path_int_op(&w, 18, "/rw", 2), 0);
    assert_int_equal(zkr_path_int_op(&w, 18, "/rw", 2), -121);
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 2), -121);
    assert_int_equal(zkr_set_data(&c, "/rw", "x", -1), 0);
    expect_no_more_events(&w);

    /* A persistent watch can be removed too. */
    assert_int_equal(zkr_add_watch(&w, "/rw", 0), 0);
    /* A persistent watch counts as both a data and a child watch. */
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 2), 0);
    assert_int_equal(zkr_path_int_op(&w, 17, "/rw", 1), 0);
    assert_int_equal(zkr_path_int_op(&w, 18, "/rw", 3), 0);
    assert_int_equal(zkr_path_int_op(&w, 18, "/rw", 3), -121);
    assert_int_equal(zkr_set_data(&c, "/rw", "y", -1), 0);
    assert_int_equal(zkr_create(&c, "/rw/k", NULL, 0, NULL, 0), 0);
    expect_no_more_events(&w);
    close_conn(&w);
    close_conn(&c);
}

static void test_get_ephemerals_lists_own_session_only(void **state)
{
    (void)state;
    struct zkr_conn a, b;
    open_conn(&a);
    open_conn(&b);
    assert_int_equal(zkr_create(&a, "/ge", NULL, 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&a, "/ge/a1", NULL, 1, NULL, 0), 0);
    assert_int_equal(zkr_create(&a, "/ge/a2", NULL, 1, NULL, 0), 0);
    assert_int_equal(zkr_create(&a, "/ge-other", NULL, 1, NULL, 0), 0);
    assert_int_equal(zkr_create(&b, "/ge/b1", NULL, 1, NULL, 0), 0);

    const char *prefixes[] = {"/ge/", "/", "/ge"};
    const int expect_n[] = {2, 3, 3};
    for (int i = 0; i < 3; i++) {
        jute_writer w;
        int32_t xid = zkr_begin(&a, &w, 103);
        jute_write_string(&w, prefixes[i]);
        struct zkr_reply rep;
        assert_int_equal(zkr_finish(&a, &w, xid, &rep), 0);
        assert_int_equal(rep.err, 0);
        int n;
        char **v = read_strings(&rep.body, &n);
        assert_int_equal(n, expect_n[i]);
        assert_string_equal(v[0], i == 0 ? "/ge/a1" : "/ge-other");
        if (i > 0) {
            assert_string_equal(v[1], "/ge/a1");
            assert_string_equal(v[2], "/ge/a2");
        } else {
            assert_string_equal(v[1], "/ge/a2");
        }
        free_strings(v);
        zkr_reply_free(&rep);
    }
    /* b sees only its own. */
    jute_writer w;
    int32_t xid = zkr_begin(&b, &w, 103);
    jute_write_string(&w, "/");
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(&b, &w, xid, &rep), 0);
    assert_int_equal(rep.err, 0);
    int n;
    char **v = read_strings(&rep.body, &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "/ge/b1");
    free_strings(v);
    zkr_reply_free(&rep);
    close_conn(&a);
    close_conn(&b);
}

static int all_children_number(struct zkr_conn *c, const char *path, int32_t *out)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, 104);
    jute_write_string(&w, path);
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(c, &w, xid, &rep), 0);
    int err = rep.err;
    if (err == 0) {
        *out = jute_read_int(&rep.body);
        assert_false(rep.body.err);
    }
    zkr_reply_free(&rep);
    return err;
}

static void test_get_all_children_number_counts_descendants(void **state)
{
    (void)state;
    struct zkr_conn c;
    open_conn(&c);
    const char *paths[] = {"/acn", "/acn/a", "/acn/a/b", "/acn/a/b/c", "/acn/d"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(zkr_create(&c, paths[i], NULL, 0, NULL, 0), 0);
    int32_t n = -1;
    assert_int_equal(all_children_number(&c, "/acn", &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(all_children_number(&c, "/acn/a", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(all_children_number(&c, "/acn/d", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(all_children_number(&c, "/acn/missing", &n), -101);
    close_conn(&c);
}

static void test_who_am_i_reports_identities(void **state)
{
    (void)state;
    struct zkr_conn c;
    open_conn(&c);
    for (int round = 0; round < 2; round++) {
        jute_writer w;
        int32_t xid = zkr_begin(&c, &w, 107);
        struct zkr_reply rep;
        assert_int_equal(zkr_finish(&c, &w, xid, &rep), 0);
        assert_int_equal(rep.err, 0);
        int32_t n = jute_read_count(&rep.body, 8);
        assert_int_equal(n, round == 0 ? 1 : 2);
        bool saw_ip = false, saw_digest = false;
        for (int32_t i = 0; i < n; i++) {
            jute_span scheme = jute_read_bytes(&rep.body);
            jute_span user = jute_read_bytes(&rep.body);
            assert_false(rep.body.err);
            if (scheme.len == 2 && memcmp(scheme.ptr, "ip", 2) == 0) {
                assert_int_equal(user.len, 9);
                assert_memory_equal(user.ptr, "127.0.0.1", 9);
                saw_ip = true;
            } else if (scheme.len == 6 && memcmp(scheme.ptr, "digest", 6) == 0) {
                assert_int_equal(user.len, 1);
                assert_memory_equal(user.ptr, "u", 1);
                saw_digest = true;
            }
        }
        assert_true(saw_ip);
        assert_int_equal(saw_digest, round == 1);
        zkr_reply_free(&rep);
        if (round == 0)
            assert_int_equal(zkr_auth(&c, "digest", "u:p"), 0);
    }
    close_conn(&c);
}

static void test_multi_read_reports_per_op_results(void **state)
{
    (void)state;
    struct zkr_conn c;
    open_conn(&c);
    assert_int_equal(zkr_create(&c, "/mr", "parent", 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/mr/k1", "one", 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/mr/k2", NULL, 0, NULL, 0), 0);

    jute_writer w;
    int32_t xid = zkr_begin(&c, &w, 22);
    jute_write_int(&w, 4); /* getData /mr/k1 */
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_string(&w, "/mr/k1");
    jute_write_bool(&w, false);
    jute_write_int(&w, 8); /* getChildren /mr */
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_string(&w, "/mr");
    jute_write_bool(&w, false);
    jute_write_int(&w, 4); /* getData of a missing node */
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_string(&w, "/mr/none");
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_bool(&w, true);
    jute_write_int(&w, -1);
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(&c, &w, xid, &rep), 0);
    assert_int_equal(rep.err, 0);
    jute_reader *r = &rep.body;

    assert_int_equal(jute_read_int(r), 4);
    assert_false(jute_read_bool(r));
    assert_int_equal(jute_read_int(r), 0);
    jute_span d = jute_read_bytes(r);
    assert_int_equal(d.len, 3);
    assert_memory_equal(d.ptr, "one", 3);
    for (int i = 0; i < 4; i++)
        (void)jute_read_long(r); /* Stat: 4 longs, 3 ints, long, 2 ints, long */
    for (int i = 0; i < 3; i++)
        (void)jute_read_int(r);
    (void)jute_read_long(r);
    assert_int_equal(jute_read_int(r), 3); /* dataLength */
    assert_int_equal(jute_read_int(r), 0); /* numChildren */
    (void)jute_read_long(r);

    assert_int_equal(jute_read_int(r), 8);
    assert_false(jute_read_bool(r));
    assert_int_equal(jute_read_int(r), 0);
    int n;
    char **kids = read_strings(r, &n);
    assert_int_equal(n, 2);
    assert_string_equal(kids[0], "k1");
    assert_string_equal(kids[1], "k2");
    free_strings(kids);

    assert_int_equal(jute_read_int(r), -1);
    assert_false(jute_read_bool(r));
    assert_int_equal(jute_read_int(r), -101);
    assert_int_equal(jute_read_int(r), -101); /* ErrorResponse */

    assert_int_equal(jute_read_int(r), -1); /* terminator */
    assert_true(jute_read_bool(r));
    assert_int_equal(jute_read_int(r), -1);
    assert_false(r->err);
    assert_int_equal(jute_remaining(r), 0);
    zkr_reply_free(&rep);
    close_conn(&c);
}

static void test_multi_mixing_reads_and_writes_is_rejected(void **state)
{
    (void)state;
    struct zkr_conn c;
    open_conn(&c);
    jute_writer w;
    int32_t xid = zkr_begin(&c, &w, 14);
    jute_write_int(&w, 1); /* create /mix */
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_string(&w, "/mix");
    jute_write_bytes(&w, NULL, -1);
    jute_write_int(&w, 1);
    jute_write_int(&w, 31);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 0);
    jute_write_int(&w, 4); /* getData / */
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_string(&w, "/");
    jute_write_bool(&w, false);
    jute_write_int(&w, -1);
    jute_write_bool(&w, true);
    jute_write_int(&w, -1);
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(&c, &w, xid, &rep), 0);
    assert_int_equal(rep.err, -5); /* MARSHALLINGERROR */
    assert_int_equal(jute_remaining(&rep.body), 0);
    zkr_reply_free(&rep);
    assert_int_equal(zkr_exists(&c, "/mix", false), -101);
    close_conn(&c);
}

static void test_create_ttl_validates_arguments(void **state)
{
    (void)state;
    struct zkr_conn c;
    open_conn(&c);
    char out[64];
    assert_int_equal(zkr_create_ttl(&c, "/rttl", "d", 5, 100000, out, sizeof out), 0);
    assert_string_equal(out, "/rttl");
    assert_int_equal(zkr_create_ttl(&c, "/rttl/s-", NULL, 6, 100000, out, sizeof out), 0);
    assert_string_equal(out, "/rttl/s-0000000000");
    assert_int_equal(zkr_create_ttl(&c, "/rttl0", NULL, 5, 0, NULL, 0), -8);
    assert_int_equal(zkr_create_ttl(&c, "/rttl-neg", NULL, 5, -5, NULL, 0), -8);
    assert_int_equal(zkr_create_ttl(&c, "/rttl-big", NULL, 5, (int64_t)1 << 40, NULL, 0), -8);
    assert_int_equal(zkr_create_ttl(&c, "/rttl-flags", NULL, 0, 1000, NULL, 0), -8);
    assert_int_equal(zkr_create_ttl(&c, "/rttl-eph", NULL, 1, 1000, NULL, 0), -8);
    /* Plain create with a TTL mode is refused as well. */
    assert_int_equal(zkr_create(&c, "/rttl-op1", NULL, 5, NULL, 0), -8);
    assert_int_equal(zkr_create(&c, "/rttl-bad", NULL, 9, NULL, 0), -8);
    assert_int_equal(zkr_exists(&c, "/rttl0", false), -101);
    assert_int_equal(zkr_exists(&c, "/rttl-op1", false), -101);
    close_conn(&c);
}

static void write_string_vector(jute_writer *w, const char *const *v, int n)
{
    jute_write_int(w, n);
    for (int i = 0; i < n; i++)
        jute_write_string(w, v[i]);
}

static void test_set_watches2_restores_watches_on_new_connection(void **state)
{
    (void)state;
    struct zkr_conn c, writer;
    open_conn(&c);
    open_conn(&writer);
    assert_int_equal(zkr_create(&c, "/sw", NULL, 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/sw/changed", "0", 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/sw/same", "0", 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/sw/gone", "0", 0, NULL, 0), 0);
    assert_int_equal(zkr_create(&c, "/sw/here", "0", 0, NULL, 0), 0);
    int64_t seen = c.last_zxid;
    int64_t id = c.session_id;
    uint8_t pw[16];
    memcpy(pw, c.passwd, 16);
    zkr_close(&c); /* drop the connection, keep the session */
    assert_int_equal(zkr_set_data(&writer, "/sw/changed", "1", -1), 0);
    assert_int_equal(zkr_delete(&writer, "/sw/gone", -1), 0);
    assert_int_equal(zkr_connect(&c, zkh_server_port(zkh_current), 10000, id, pw, 5000), 0);
    assert_int_equal(c.session_id, id);

    static const char *const data[] = {"/sw/changed", "/sw/same", "/sw/gone"};
    static const char *const exist[] = {"/sw/here", "/sw/absent"};
    static const char *const child[] = {"/sw"};
    static const char *const persistent[] = {"/sw/p"};
    static const char *const recursive[] = {"/sw/r"};
    jute_writer w;
    jute_writer_init(&w, 256);
    jute_write_int(&w, -8);
    jute_write_int(&w, 105);
    jute_write_long(&w, seen);
    write_string_vector(&w, data, 3);
    write_string_vector(&w, exist, 2);
    write_string_vector(&w, child, 1);
    write_string_vector(&w, persistent, 1);
    write_string_vector(&w, recursive, 1);
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(&c, &w, -8, &rep), 0);
    assert_int_equal(rep.err, 0);
    zkr_reply_free(&rep);

    /* Immediate events come before the reply, so they are queued now. */
    int immediate = c.nevents;
    bool changed = false, gone = false, here = false, kids = false;
    for (int i = 0; i < immediate; i++) {
        struct zkr_event ev;
        assert_int_equal(zkr_next_event(&c, &ev, 0), 0);
        if (ev.type == EV_DATA && strcmp(ev.path, "/sw/changed") == 0)
            changed = true;
        else if (ev.type == EV_DELETED && strcmp(ev.path, "/sw/gone") == 0)
            gone = true;
        else if (ev.type == EV_CREATED && strcmp(ev.path, "/sw/here") == 0)
            here = true;
        else if (ev.type == EV_CHILDREN && strcmp(ev.path, "/sw") == 0)
            kids = true;
        else
            fail_msg("unexpected immediate event %d %s", ev.type, ev.path);
    }
    assert_true(changed);
    assert_true(gone);
    assert_true(here);
    assert_true(kids); /* /sw's pzxid moved past relativeZxid (delete of /sw/gone) */
    assert_int_equal(immediate, 4);

    /* The rest were registered. */
    assert_int_equal(zkr_set_data(&writer, "/sw/same", "1", -1), 0);
    expect_event(&c, EV_DATA, "/sw/same");
    assert_int_equal(zkr_create(&writer, "/sw/absent", NULL, 0, NULL, 0), 0);
    expect_event(&c, EV_CREATED, "/sw/absent");
    assert_int_equal(zkr_create(&writer, "/sw/p", NULL, 0, NULL, 0), 0);
    expect_event(&c, EV_CREATED, "/sw/p");
    assert_int_equal(zkr_set_data(&writer, "/sw/p", "1", -1), 0);
    expect_event(&c, EV_DATA, "/sw/p");
    assert_int_equal(zkr_set_data(&writer, "/sw/p", "2", -1), 0);
    expect_event(&c, EV_DATA, "/sw/p");
    assert_int_equal(zkr_create(&writer, "/sw/r", NULL, 0, NULL, 0), 0);
    expect_event(&c, EV_CREATED, "/sw/r");
    assert_int_equal(zkr_create(&writer, "/sw/r/deep", NULL, 0, NULL, 0), 0);
    expect_event(&c, EV_CREATED, "/sw/r/deep");
    expect_no_more_events(&c);
    close_conn(&c);
    close_conn(&writer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_persistent_watch_fires_repeatedly),
        cmocka_unit_test(test_persistent_recursive_watch_covers_subtree),
        cmocka_unit_test(test_check_and_remove_watches),
        cmocka_unit_test(test_get_ephemerals_lists_own_session_only),
        cmocka_unit_test(test_get_all_children_number_counts_descendants),
        cmocka_unit_test(test_who_am_i_reports_identities),
        cmocka_unit_test(test_multi_read_reports_per_op_results),
        cmocka_unit_test(test_multi_mixing_reads_and_writes_is_rejected),
        cmocka_unit_test(test_create_ttl_validates_arguments),
        cmocka_unit_test(test_set_watches2_restores_watches_on_new_connection),
    };
    static const char *const settings[] = {"zookeeper.extendedTypesEnabled=true",
                                           "maxSessionTimeout=60000", NULL};
    return ZKH_RUN("itest_raw_ops", tests, settings);
}
