/*
 * Integration tests for standard (one-shot) watches through the official C
 * client: data watches (getData), exists watches (including on a missing
 * node), child watches (getChildren), which operations fire which events,
 * that a watch fires once, that getData on a missing node sets no watch,
 * that every watching session is told, and the ordering guarantee: a watch
 * event reaches the client before the reply to a later request that
 * reflects the change (checked with the C client and on the raw byte
 * stream).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "raw.h"
#include "zkclient.h"

#define CLIENT(state) ((struct zkc_client *)*(state))

/* How long we wait for an event that must come, and for one that must not. */
#define EVENT_WAIT_MS 5000
#define QUIET_MS 300

static void test_data_watch_fires_once_on_set(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create(c->zh, "/wd", "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(c->zh, "/wd", 1, buf, &len, NULL), ZOK);

    struct zkc_client *writer = zkc_open(10000, NULL);
    assert_non_null(writer);
    assert_int_equal(zoo_set(writer->zh, "/wd", "1", 1, -1), ZOK);
    struct zkc_event ev;
    assert_true(zkc_wait_event(&c->ev, ZOO_CHANGED_EVENT, "/wd", EVENT_WAIT_MS, &ev));
    assert_int_equal(ev.state, ZOO_CONNECTED_STATE);

    /* One-shot: a second change is not reported. */
    assert_int_equal(zoo_set(writer->zh, "/wd", "2", 1, -1), ZOK);
    assert_int_equal(zoo_delete(writer->zh, "/wd", -1), ZOK);
    assert_false(zkc_wait_event(&c->ev, ZOO_CHANGED_EVENT, "/wd", QUIET_MS, NULL));
    assert_false(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/wd", 10, NULL));
    /* The writer set no watch and hears nothing. */
    assert_int_equal(zkc_count(&writer->ev, ZOO_CHANGED_EVENT, NULL), 0);
    zkc_close(writer);
}

static void test_data_watch_fires_deleted(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create(c->zh, "/wdel", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(c->zh, "/wdel", 1, buf, &len, NULL), ZOK);
    assert_int_equal(zoo_delete(c->zh, "/wdel", -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/wdel", EVENT_WAIT_MS, NULL));
    assert_int_equal(zkc_count(&c->ev, ZOO_CHANGED_EVENT, "/wdel"), 0);
}

static void test_exists_watch_on_missing_node_fires_created(void **state)
{
    struct zkc_client *c = CLIENT(state);
    struct Stat st;
    assert_int_equal(zoo_exists(c->zh, "/wex", 1, &st), ZNONODE);
    struct zkc_client *writer = zkc_open(10000, NULL);
    assert_non_null(writer);
    assert_int_equal(zoo_create(writer->zh, "/wex", "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    struct zkc_event ev;
    assert_true(zkc_wait_event(&c->ev, ZOO_CREATED_EVENT, "/wex", EVENT_WAIT_MS, &ev));
    assert_int_equal(ev.state, ZOO_CONNECTED_STATE);

    /* exists on an existing node watches for data changes and deletion. */
    assert_int_equal(zoo_exists(c->zh, "/wex", 1, &st), ZOK);
    assert_int_equal(zoo_set(writer->zh, "/wex", "y", 1, -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_CHANGED_EVENT, "/wex", EVENT_WAIT_MS, NULL));
    assert_int_equal(zoo_exists(c->zh, "/wex", 1, &st), ZOK);
    assert_int_equal(zoo_delete(writer->zh, "/wex", -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/wex", EVENT_WAIT_MS, NULL));
    zkc_close(writer);
}

static void test_get_data_on_missing_node_sets_no_watch(void **state)
{
    struct zkc_client *c = CLIENT(state);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(c->zh, "/wnone", 1, buf, &len, NULL), ZNONODE);
    struct String_vector kids;
    assert_int_equal(zoo_get_children(c->zh, "/wnone", 1, &kids), ZNONODE);
    assert_int_equal(zoo_create(c->zh, "/wnone", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_set(c->zh, "/wnone", "x", 1, -1), ZOK);
    assert_false(zkc_wait_event(&c->ev, ZOO_CREATED_EVENT, "/wnone", QUIET_MS, NULL));
    assert_int_equal(zkc_count(&c->ev, ZOO_CHANGED_EVENT, "/wnone"), 0);
}

static void test_child_watch_fires_on_create_delete_and_parent_delete(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zkc_mkdir(c->zh, "/wc"), ZOK);
    struct String_vector kids;
    assert_int_equal(zoo_get_children(c->zh, "/wc", 1, &kids), ZOK);
    deallocate_String_vector(&kids);

    struct zkc_client *writer = zkc_open(10000, NULL);
    assert_non_null(writer);
    assert_int_equal(zoo_create(writer->zh, "/wc/a", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_CHILD_EVENT, "/wc", EVENT_WAIT_MS, NULL));

    /* Data changes of the parent or child do not fire child watches. */
    assert_int_equal(zoo_get_children(c->zh, "/wc", 1, &kids), ZOK);
    deallocate_String_vector(&kids);
    assert_int_equal(zoo_set(writer->zh, "/wc", "d", 1, -1), ZOK);
    assert_int_equal(zoo_set(writer->zh, "/wc/a", "d", 1, -1), ZOK);
    assert_false(zkc_wait_event(&c->ev, ZOO_CHILD_EVENT, "/wc", QUIET_MS, NULL));
    assert_int_equal(zkc_count(&c->ev, ZOO_CHANGED_EVENT, NULL), 0);

    assert_int_equal(zoo_delete(writer->zh, "/wc/a", -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_CHILD_EVENT, "/wc", EVENT_WAIT_MS, NULL));

    /* Deleting the watched node itself: NodeDeleted to its child watcher. */
    assert_int_equal(zoo_get_children(c->zh, "/wc", 1, &kids), ZOK);
    deallocate_String_vector(&kids);
    assert_int_equal(zoo_delete(writer->zh, "/wc", -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/wc", EVENT_WAIT_MS, NULL));
    assert_int_equal(zkc_count(&c->ev, ZOO_CHILD_EVENT, "/wc"), 0);
    zkc_close(writer);
}

static void test_every_watching_session_is_notified(void **state)
{
    struct zkc_client *a = CLIENT(state);
    struct zkc_client *b = zkc_open(10000, NULL);
    assert_non_null(b);
    assert_int_equal(zoo_create(a->zh, "/wm", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                0),
                     ZOK);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(a->zh, "/wm", 1, buf, &len, NULL), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(b->zh, "/wm", 1, buf, &len, NULL), ZOK);
    assert_int_equal(zoo_exists(b->zh, "/wm", 1, NULL), ZOK); /* same path, second kind */
    assert_int_equal(zoo_set(a->zh, "/wm", "x", 1, -1), ZOK);
    assert_true(zkc_wait_event(&a->ev, ZOO_CHANGED_EVENT, "/wm", EVENT_WAIT_MS, NULL));
    assert_true(zkc_wait_event(&b->ev, ZOO_CHANGED_EVENT, "/wm", EVENT_WAIT_MS, NULL));
    /* b's data and exists watches are one server-side registration per path. */
    assert_false(zkc_wait_event(&b->ev, ZOO_CHANGED_EVENT, "/wm", QUIET_MS, NULL));
    zkc_close(b);
}

/* With the C client: asynchronous completions and watch events share one
 * queue in arrival order, so when the completion of a read that sees the
 * new value runs, the watcher for that change must already have run. */
struct order_probe {
    struct zkc_events *ev;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    int version;
    int events_seen;
};

static void order_data_cb(int rc, const char *value, int len, const struct Stat *stat,
                          const void *data)
{
    (void)value;
    (void)len;
    struct order_probe *p = (struct order_probe *)data;
    int seen = zkc_count(p->ev, ZOO_CHANGED_EVENT, "/word");
    pthread_mutex_lock(&p->lock);
    p->rc = rc;
    p->version = stat ? stat->version : -1;
    p->events_seen = seen;
    p->done = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void order_probe_read(zhandle_t *zh, struct order_probe *p)
{
    p->done = false;
    assert_int_equal(zoo_aget(zh, "/word", 0, order_data_cb, p), ZOK);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&p->lock);
    while (!p->done)
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
            break;
    bool done = p->done;
    pthread_mutex_unlock(&p->lock);
    assert_true(done);
    assert_int_equal(p->rc, ZOK);
}

static void test_event_precedes_reply_reflecting_change(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create(c->zh, "/word", "old", 3, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    struct zkc_client *writer = zkc_open(10000, NULL);
    assert_non_null(writer);
    struct order_probe p = {.ev = &c->ev};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    for (int round = 0; round < 20; round++) {
        char buf[16];
        int len = sizeof buf;
        assert_int_equal(zoo_get(c->zh, "/word", 1, buf, &len, NULL), ZOK);
        assert_int_equal(zoo_set(writer->zh, "/word", "new", 3, -1), ZOK);
        /* Read without a watch until the change is visible. */
        bool visible = false;
        for (int i = 0; i < 1000 && !visible; i++) {
            order_probe_read(c->zh, &p);
            if (p.version == round + 1) {
                visible = true;
                assert_int_equal(p.events_seen, 1);
            } else {
                assert_int_equal(p.version, round);
            }
        }
        assert_true(visible);
        assert_true(zkc_wait_event(&c->ev, ZOO_CHANGED_EVENT, "/word", 10, NULL));
    }
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
    zkc_close(writer);
}

/* On the wire: the notification frame comes before the reply frame of a
 * read issued after the change was acknowledged to another client. */
static void test_raw_notification_precedes_later_reply(void **state)
{
    (void)state;
    int port = zkh_server_port(zkh_current);
    struct zkr_conn reader, writer;
    assert_int_equal(zkr_connect(&reader, port, 10000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_connect(&writer, port, 10000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_create(&writer, "/wraw", "a", 0, NULL, 0), 0);
    for (int round = 0; round < 10; round++) {
        int32_t version = -1;
        assert_int_equal(zkr_get_data(&reader, "/wraw", true, NULL, 0, &version), 0);
        assert_int_equal(version, round);
        assert_int_equal(reader.nevents, 0);
        assert_int_equal(zkr_set_data(&writer, "/wraw", "b", -1), 0);

        /* Send getData and read frames one by one. */
        jute_writer w;
        int32_t xid = zkr_begin(&reader, &w, 4);
        jute_write_string(&w, "/wraw");
        jute_write_bool(&w, false);
        assert_int_equal(zkr_send_frame(&reader, w.data, w.len), 0);
        jute_writer_free(&w);

        uint8_t *frame;
        size_t n;
        assert_int_equal(zkr_recv_frame(&reader, &frame, &n, 5000), 0);
        jute_reader r;
        jute_reader_init(&r, frame, n, 0);
        assert_int_equal(jute_read_int(&r), -1); /* notification first */
        assert_int_equal(jute_read_long(&r), -1);
        assert_int_equal(jute_read_int(&r), 0);
        assert_int_equal(jute_read_int(&r), 3); /* NodeDataChanged */
        assert_int_equal(jute_read_int(&r), 3); /* SyncConnected */
        jute_span p = jute_read_bytes(&r);
        assert_int_equal(p.len, 5);
        assert_memory_equal(p.ptr, "/wraw", 5);
        assert_false(r.err);
        free(frame);

        assert_int_equal(zkr_recv_frame(&reader, &frame, &n, 5000), 0);
        jute_reader_init(&r, frame, n, 0);
        assert_int_equal(jute_read_int(&r), xid);
        (void)jute_read_long(&r);
        assert_int_equal(jute_read_int(&r), 0);
        (void)jute_read_bytes(&r);
        for (int i = 0; i < 4; i++)
            (void)jute_read_long(&r);
        assert_int_equal(jute_read_int(&r), round + 1); /* the new version */
        assert_false(r.err);
        free(frame);
    }
    assert_int_equal(zkr_close_session(&reader), 0);
    assert_int_equal(zkr_close_session(&writer), 0);
    zkr_close(&reader);
    zkr_close(&writer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_watch_fires_once_on_set, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_data_watch_fires_deleted, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_exists_watch_on_missing_node_fires_created, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_get_data_on_missing_node_sets_no_watch, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_child_watch_fires_on_create_delete_and_parent_delete,
                                        zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_every_watching_session_is_notified, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_event_precedes_reply_reflecting_change, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test(test_raw_notification_precedes_later_reply),
    };
    static const char *const settings[] = {"maxSessionTimeout=60000", NULL};
    return ZKH_RUN("itest_watches", tests, settings);
}
