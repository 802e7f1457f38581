/*
 * Integration tests for sessions: timeout negotiation, expiry of a silent
 * session (its socket is closed, its ephemerals go, watchers of other
 * sessions hear NodeDeleted / NodeChildrenChanged), explicit close,
 * resuming a session with its id and password (from the C client and on the
 * wire), a wrong password or an expired id answered as "expired", pings,
 * and ephemerals surviving a server restart only while their session lives.
 *
 * The server runs with tickTime=100 and minSessionTimeout=600 so an expiry
 * takes well under two seconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "raw.h"
#include "zkclient.h"

#define MIN_TIMEOUT 600
#define MAX_TIMEOUT 8000
#define EXPIRY_WAIT_MS 8000

static int port(void) { return zkh_server_port(zkh_current); }

static void test_timeout_is_clamped_to_server_bounds(void **state)
{
    (void)state;
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 100, 0, NULL, 5000), 0);
    assert_int_equal(c.timeout, MIN_TIMEOUT);
    assert_true(c.session_id != 0);
    int64_t first = c.session_id;
    assert_int_equal(zkr_close_session(&c), 0);
    zkr_close(&c);

    assert_int_equal(zkr_connect(&c, port(), 1000000, 0, NULL, 5000), 0);
    assert_int_equal(c.timeout, MAX_TIMEOUT);
    assert_true(c.session_id != first);
    assert_int_equal(zkr_close_session(&c), 0);
    zkr_close(&c);

    assert_int_equal(zkr_connect(&c, port(), 3000, 0, NULL, 5000), 0);
    assert_int_equal(c.timeout, 3000);
    assert_int_equal(zkr_close_session(&c), 0);
    zkr_close(&c);
}

static void test_ping_is_answered_with_xid_minus_two(void **state)
{
    (void)state;
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 5000, 0, NULL, 5000), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(zkr_ping(&c), 0);
    assert_int_equal(zkr_close_session(&c), 0);
    /* After closeSession the server closes the socket. */
    assert_int_equal(zkr_wait_closed(&c, 5000, NULL), 0);
    zkr_close(&c);
}

static void test_expired_session_loses_ephemerals_and_watchers_hear(void **state)
{
    (void)state;
    struct zkc_client *watcher = zkc_open(5000, NULL);
    assert_non_null(watcher);
    assert_int_equal(zkc_mkdir(watcher->zh, "/exp"), ZOK);

    struct zkr_conn doomed;
    assert_int_equal(zkr_connect(&doomed, port(), MIN_TIMEOUT, 0, NULL, 5000), 0);
    assert_int_equal(zkr_create(&doomed, "/exp/e", "x", 1, NULL, 0), 0);
    int64_t id = doomed.session_id;
    uint8_t pw[16];
    memcpy(pw, doomed.passwd, 16);

    struct Stat st;
    assert_int_equal(zoo_exists(watcher->zh, "/exp/e", 1, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, id);
    struct String_vector kids;
    assert_int_equal(zoo_get_children(watcher->zh, "/exp", 1, &kids), ZOK);
    assert_int_equal(kids.count, 1);
    deallocate_String_vector(&kids);

    /* Go silent: the server must expire the session and close the socket. */
    int64_t t0 = zkh_now_ms();
    assert_int_equal(zkr_wait_closed(&doomed, EXPIRY_WAIT_MS, NULL), 0);
    int64_t took = zkh_now_ms() - t0;
    assert_true(took >= MIN_TIMEOUT / 2);
    zkr_close(&doomed);

    assert_true(zkc_wait_event(&watcher->ev, ZOO_DELETED_EVENT, "/exp/e", EXPIRY_WAIT_MS, NULL));
    assert_true(zkc_wait_event(&watcher->ev, ZOO_CHILD_EVENT, "/exp", EXPIRY_WAIT_MS, NULL));
    assert_int_equal(zoo_exists(watcher->zh, "/exp/e", 0, NULL), ZNONODE);

    /* The session cannot be resumed any more. */
    struct zkr_conn again;
    assert_int_equal(zkr_connect(&again, port(), MIN_TIMEOUT, id, pw, 5000), -ESTALE);

    /* The C client reports it as expired too. */
    clientid_t cid = {.client_id = id};
    memcpy(cid.passwd, pw, 16);
    struct zkc_client *late = zkc_open_nowait(5000, &cid);
    assert_non_null(late);
    assert_true(zkc_wait_state(&late->ev, ZOO_EXPIRED_SESSION_STATE, 10000));
    zkc_close(late);
    zkc_close(watcher);
}

static void test_close_deletes_ephemerals_immediately(void **state)
{
    (void)state;
    struct zkc_client *observer = zkc_open(5000, NULL);
    assert_non_null(observer);
    assert_int_equal(zkc_mkdir(observer->zh, "/cls"), ZOK);
    struct zkc_client *owner = zkc_open(5000, NULL);
    assert_non_null(owner);
    char name[64];
    assert_int_equal(zoo_create(owner->zh, "/cls/e", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_create(owner->zh, "/cls/s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL_SEQUENTIAL, name, sizeof name),
                     ZOK);
    assert_int_equal(zoo_exists(observer->zh, "/cls/e", 1, NULL), ZOK);
    zkc_close(owner);
    /* closeSession is acknowledged only after the ephemerals are gone. */
    assert_int_equal(zoo_exists(observer->zh, "/cls/e", 0, NULL), ZNONODE);
    assert_int_equal(zoo_exists(observer->zh, name, 0, NULL), ZNONODE);
    assert_true(zkc_wait_event(&observer->ev, ZOO_DELETED_EVENT, "/cls/e", 5000, NULL));
    struct Stat st;
    assert_int_equal(zoo_exists(observer->zh, "/cls", 0, &st), ZOK);
    assert_int_equal(st.numChildren, 0);
    zkc_close(observer);
}

static void test_resume_with_valid_password_keeps_session(void **state)
{
    (void)state;
    struct zkr_conn first;
    assert_int_equal(zkr_connect(&first, port(), 2000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_create(&first, "/keep", "k", 1, NULL, 0), 0);
    int64_t id = first.session_id;
    uint8_t pw[16];
    memcpy(pw, first.passwd, 16);
    zkr_close(&first); /* drop TCP only: the session lives on */

    /* On the wire: same id and password come back. */
    struct zkr_conn second;
    assert_int_equal(zkr_connect(&second, port(), 2000, id, pw, 5000), 0);
    assert_int_equal(second.session_id, id);
    assert_memory_equal(second.passwd, pw, 16);
    assert_int_equal(second.timeout, 2000);
    assert_int_equal(zkr_create(&second, "/keep2", NULL, 1, NULL, 0), 0);
    zkr_close(&second);

    /* The C client resumes it as well and keeps it alive past the timeout. */
    clientid_t cid = {.client_id = id};
    memcpy(cid.passwd, pw, 16);
    struct zkc_client *c = zkc_open(2000, &cid);
    assert_non_null(c);
    assert_int_equal(zoo_client_id(c->zh)->client_id, id);
    struct Stat st;
    assert_int_equal(zoo_exists(c->zh, "/keep", 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, id);
    zkh_sleep_ms(3000);
    assert_int_equal(zoo_exists(c->zh, "/keep2", 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, id);
    zkc_close(c);

    struct zkc_client *check = zkc_open(5000, NULL);
    assert_non_null(check);
    assert_int_equal(zoo_exists(check->zh, "/keep", 0, NULL), ZNONODE);
    assert_int_equal(zoo_exists(check->zh, "/keep2", 0, NULL), ZNONODE);
    zkc_close(check);
}

static void test_wrong_password_is_answered_as_expired(void **state)
{
    (void)state;
    struct zkr_conn live;
    assert_int_equal(zkr_connect(&live, port(), 5000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_create(&live, "/wrongpw", NULL, 1, NULL, 0), 0);
    uint8_t bad[16];
    memcpy(bad, live.passwd, 16);
    bad[0] ^= 0xff;

    /* Raw: ConnectResponse with timeout 0, session 0, zero password, then close. */
    struct zkr_conn probe;
    assert_int_equal(zkr_open(&probe, port()), 0);
    jute_writer w;
    jute_writer_init(&w, 64);
    jute_write_int(&w, 0);
    jute_write_long(&w, 0);
    jute_write_int(&w, 5000);
    jute_write_long(&w, live.session_id);
    jute_write_bytes(&w, bad, 16);
    jute_write_bool(&w, false);
    assert_int_equal(zkr_send_frame(&probe, w.data, w.len), 0);
    jute_writer_free(&w);
    uint8_t *frame;
    size_t n;
    assert_int_equal(zkr_recv_frame(&probe, &frame, &n, 5000), 0);
    assert_int_equal(n, 37);
    jute_reader r;
    jute_reader_init(&r, frame, n, 0);
    assert_int_equal(jute_read_int(&r), 0);
    assert_int_equal(jute_read_int(&r), 0);
    assert_int_equal(jute_read_long(&r), 0);
    jute_span pw = jute_read_bytes(&r);
    assert_int_equal(pw.len, 16);
    static const uint8_t zeros[16];
    assert_memory_equal(pw.ptr, zeros, 16);
    free(frame);
    assert_int_equal(zkr_wait_closed(&probe, 5000, NULL), 0);
    zkr_close(&probe);

    /* C client: the session event says expired. */
    clientid_t cid = {.client_id = live.session_id};
    memcpy(cid.passwd, bad, 16);
    struct zkc_client *c = zkc_open_nowait(5000, &cid);
    assert_non_null(c);
    assert_true(zkc_wait_state(&c->ev, ZOO_EXPIRED_SESSION_STATE, 10000));
    zkc_close(c);

    /* ZooKeeper 3.8 drops the connection currently holding the session as
     * soon as a reconnect for it arrives, before checking the password, so
     * anyone who knows a session id can disconnect its owner. zkplug leaves
     * the owner's connection alone. Either way the session stays valid and
     * resumes with the right password. */
    if (zkh_server_is_zookeeper()) {
        assert_int_equal(zkr_wait_closed(&live, 5000, NULL), 0);
    } else {
        assert_int_equal(zkr_ping(&live), 0);
        assert_int_equal(zkr_exists(&live, "/wrongpw", false), 0);
    }
    zkr_close(&live);
    struct zkr_conn back;
    assert_int_equal(zkr_connect(&back, port(), 5000, cid.client_id, live.passwd, 5000), 0);
    assert_int_equal(back.session_id, cid.client_id);
    assert_int_equal(zkr_exists(&back, "/wrongpw", false), 0);
    assert_int_equal(zkr_close_session(&back), 0);
    zkr_close(&back);
}

static void test_unknown_session_id_is_answered_as_expired(void **state)
{
    (void)state;
    struct zkr_conn c;
    uint8_t pw[16] = {1, 2, 3};
    assert_int_equal(zkr_connect(&c, port(), 5000, 0x0123456789abcdefLL, pw, 5000), -ESTALE);
}

static void test_session_survives_server_restart(void **state)
{
    (void)state;
    struct zkc_client *c = zkc_open(MAX_TIMEOUT, NULL);
    assert_non_null(c);
    assert_int_equal(zoo_create(c->zh, "/rs", "persist", 7, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_create(c->zh, "/rs-eph", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                                NULL, 0),
                     ZOK);
    int64_t id = zoo_client_id(c->zh)->client_id;

    assert_int_equal(zkh_server_stop(zkh_current), 0);
    assert_int_equal(zkh_server_start(zkh_current), 0);

    /* The client reconnects on its own within its session timeout. */
    struct Stat st;
    int rc = ZCONNECTIONLOSS;
    for (int i = 0; i < 100 && rc != ZOK; i++) {
        rc = zoo_exists(c->zh, "/rs-eph", 0, &st);
        if (rc != ZOK)
            zkh_sleep_ms(100);
    }
    assert_int_equal(rc, ZOK);
    assert_int_equal(st.ephemeralOwner, id);
    assert_int_equal(zoo_client_id(c->zh)->client_id, id);
    char buf[16];
    int len = sizeof buf;
    assert_int_equal(zoo_get(c->zh, "/rs", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "persist", 7);
    zkc_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_is_clamped_to_server_bounds),
        cmocka_unit_test(test_ping_is_answered_with_xid_minus_two),
        cmocka_unit_test(test_expired_session_loses_ephemerals_and_watchers_hear),
        cmocka_unit_test(test_close_deletes_ephemerals_immediately),
        cmocka_unit_test(test_resume_with_valid_password_keeps_session),
        cmocka_unit_test(test_wrong_password_is_answered_as_expired),
        cmocka_unit_test(test_unknown_session_id_is_answered_as_expired),
        cmocka_unit_test(test_session_survives_server_restart),
    };
    static const char *const settings[] = {"minSessionTimeout=600", "maxSessionTimeout=8000", NULL};
    return ZKH_RUN("itest_sessions", tests, settings);
}
