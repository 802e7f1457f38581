/*
 * Integration tests for hostile or broken input on the client port: an
 * unknown opcode, truncated or malformed requests, frame lengths that are
 * negative or above jute.maxbuffer (before and after the handshake), garbage
 * as the first packet, and an unknown four-letter word. Each must cost only
 * the offending connection: a session established beforehand keeps working,
 * new sessions can still be opened, and the server process stays up.
 *
 * A frame that is sound but whose request record is cut short is the one
 * exception: ZooKeeper answers it with MARSHALLINGERROR and keeps the
 * connection.
 *
 * The server runs with jute.maxbuffer=4096.
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

#define MAXBUFFER 4096
#define CLOSE_WAIT_MS 5000

static int port(void) { return zkh_server_port(zkh_current); }

/* Per-test fixture: an established session that must survive the test. */
static int bystander_setup(void **state)
{
    struct zkr_conn *c = calloc(1, sizeof *c);
    if (c == NULL || zkr_connect(c, port(), 30000, 0, NULL, 5000) != 0) {
        free(c);
        return -1;
    }
    if (zkr_create(c, "/bystander", "ok", 0, NULL, 0) != 0 && zkr_exists(c, "/bystander", 0) != 0) {
        zkr_close(c);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int bystander_teardown(void **state)
{
    struct zkr_conn *c = *state;
    if (c) {
        zkr_close_session(c);
        zkr_close(c);
        free(c);
    }
    return 0;
}

/* The bystander still works, a new session can be opened, the server runs. */
static void assert_server_healthy(void **state)
{
    struct zkr_conn *by = *state;
    char buf[8];
    assert_int_equal(zkr_ping(by), 0);
    assert_int_equal(zkr_get_data(by, "/bystander", false, buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "ok");
    struct zkr_conn fresh;
    assert_int_equal(zkr_connect(&fresh, port(), 10000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_exists(&fresh, "/bystander", false), 0);
    assert_int_equal(zkr_close_session(&fresh), 0);
    zkr_close(&fresh);
    assert_true(zkh_server_alive(zkh_current));
}

static void assert_closed_silently(struct zkr_conn *c)
{
    size_t junk = 99;
    assert_int_equal(zkr_wait_closed(c, CLOSE_WAIT_MS, &junk), 0);
    assert_int_equal(junk, 0);
    zkr_close(c);
}

static void test_unknown_opcode_gets_unimplemented_then_close(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    jute_writer w;
    int32_t xid = zkr_begin(&c, &w, 99);
    jute_write_string(&w, "/");
    struct zkr_reply rep;
    assert_int_equal(zkr_finish(&c, &w, xid, &rep), 0);
    assert_int_equal(rep.xid, xid);
    assert_int_equal(rep.err, -6);
    assert_int_equal(jute_remaining(&rep.body), 0);
    zkr_reply_free(&rep);
    assert_closed_silently(&c);
    assert_server_healthy(state);
}

static void test_frame_over_maxbuffer_closes_connection(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    uint8_t hdr[4];
    jute_put_u32(hdr, MAXBUFFER + 1000);
    assert_int_equal(zkr_send_raw(&c, hdr, 4), 0);
    uint8_t body[64] = {0};
    zkr_send_raw(&c, body, sizeof body); /* may fail if already closed */
    assert_closed_silently(&c);

    /* A create whose data alone exceeds the limit, well framed. */
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    char *big = malloc(MAXBUFFER + 1000);
    assert_non_null(big);
    memset(big, 'z', MAXBUFFER + 999);
    big[MAXBUFFER + 999] = '\0';
    jute_writer w;
    zkr_begin(&c, &w, 1);
    jute_write_string(&w, "/too-big");
    jute_write_string(&w, big);
    jute_write_int(&w, 1);
    jute_write_int(&w, 31);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 0);
    zkr_send_frame(&c, w.data, w.len);
    jute_writer_free(&w);
    free(big);
    assert_closed_silently(&c);
    assert_server_healthy(state);
    assert_int_equal(zkr_exists(*state, "/too-big", false), -101);
}

static void test_oversized_first_packet_closes_connection(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_open(&c, port()), 0);
    uint8_t hdr[4];
    jute_put_u32(hdr, 0x00100000); /* 1 MiB */
    assert_int_equal(zkr_send_raw(&c, hdr, 4), 0);
    assert_closed_silently(&c);
    assert_server_healthy(state);
}

static void test_negative_frame_length_closes_connection(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    uint8_t hdr[4];
    jute_put_u32(hdr, (uint32_t)-5);
    assert_int_equal(zkr_send_raw(&c, hdr, 4), 0);
    assert_closed_silently(&c);

    assert_int_equal(zkr_open(&c, port()), 0); /* and as the first packet */
    jute_put_u32(hdr, 0xffffffffu);
    assert_int_equal(zkr_send_raw(&c, hdr, 4), 0);
    assert_closed_silently(&c);
    assert_server_healthy(state);
}

static void test_garbage_first_packet_closes_connection(void **state)
{
    struct zkr_conn c;
    /* Framed, but far too short for a ConnectRequest. */
    assert_int_equal(zkr_open(&c, port()), 0);
    static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(zkr_send_frame(&c, junk, sizeof junk), 0);
    assert_closed_silently(&c);

    /* A ConnectRequest whose password length runs past the frame. */
    assert_int_equal(zkr_open(&c, port()), 0);
    jute_writer w;
    jute_writer_init(&w, 64);
    jute_write_int(&w, 0);
    jute_write_long(&w, 0);
    jute_write_int(&w, 10000);
    jute_write_long(&w, 0);
    jute_write_int(&w, 1000); /* claims 1000 bytes of password */
    jute_write_raw(&w, "short", 5);
    assert_int_equal(zkr_send_frame(&c, w.data, w.len), 0);
    jute_writer_free(&w);
    assert_closed_silently(&c);
    assert_server_healthy(state);
}

static void test_truncated_request_closes_connection(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    /* A request header cut in half. */
    static const uint8_t half[] = {0x00, 0x00, 0x00, 0x07, 0x00, 0x00};
    assert_int_equal(zkr_send_frame(&c, half, sizeof half), 0);
    assert_closed_silently(&c);
    assert_server_healthy(state);
}

static void test_malformed_request_body_gets_marshalling_error(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
    /* getData whose path length runs past the end of the frame. */
    jute_writer w;
    int32_t xid = zkr_begin(&c, &w, 4);
    jute_write_int(&w, 100);
    jute_write_raw(&w, "/abc", 4);
    assert_int_equal(zkr_send_frame(&c, w.data, w.len), 0);
    jute_writer_free(&w);
    /* ZooKeeper answers MARSHALLINGERROR (header only) for that xid and
     * keeps the connection: the frame itself was sound. */
    struct zkr_reply rep;
    assert_int_equal(zkr_await_reply(&c, xid, &rep), 0);
    assert_int_equal(rep.err, -5);
    assert_int_equal(jute_remaining(&rep.body), 0);
    zkr_reply_free(&rep);
    assert_int_equal(zkr_ping(&c), 0);
    assert_int_equal(zkr_exists(&c, "/bystander", false), 0);
    assert_int_equal(zkr_close_session(&c), 0);
    zkr_close(&c);
    assert_server_healthy(state);
}

static void test_unknown_four_letter_word_closes_without_output(void **state)
{
    struct zkr_conn c;
    assert_int_equal(zkr_open(&c, port()), 0);
    assert_int_equal(zkr_send_raw(&c, "xxxx", 4), 0);
    assert_closed_silently(&c);

    /* A known word still answers (and then closes). */
    assert_int_equal(zkr_open(&c, port()), 0);
    assert_int_equal(zkr_send_raw(&c, "ruok", 4), 0);
    char out[16] = {0};
    size_t got = 0;
    assert_int_equal(zkr_read_until_closed(&c, out, sizeof out - 1, CLOSE_WAIT_MS, &got), 0);
    assert_int_equal(got, 4);
    assert_string_equal(out, "imok");
    zkr_close(&c);
    assert_server_healthy(state);
}

static void test_half_sent_frame_then_disconnect(void **state)
{
    for (int i = 0; i < 5; i++) {
        struct zkr_conn c;
        assert_int_equal(zkr_connect(&c, port(), 10000, 0, NULL, 5000), 0);
        static const uint8_t partial[] = {0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01};
        assert_int_equal(zkr_send_raw(&c, partial, sizeof partial), 0);
        zkr_close(&c);
    }
    assert_server_healthy(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_opcode_gets_unimplemented_then_close,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_frame_over_maxbuffer_closes_connection,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_first_packet_closes_connection,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_negative_frame_length_closes_connection,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_first_packet_closes_connection,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_request_closes_connection, bystander_setup,
                                        bystander_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_request_body_gets_marshalling_error, bystander_setup,
                                        bystander_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_four_letter_word_closes_without_output,
                                        bystander_setup, bystander_teardown),
        cmocka_unit_test_setup_teardown(test_half_sent_frame_then_disconnect, bystander_setup,
                                        bystander_teardown),
    };
    static const char *const settings[] = {"jute.maxbuffer=4096", "maxSessionTimeout=60000",
                                           NULL};
    return ZKH_RUN("itest_bad_input", tests, settings);
}
