/*
 * A minimal blocking ZooKeeper wire-protocol client for tests: framing, the
 * session handshake, request/reply with jute.h, and a queue of watch
 * notifications that arrive while waiting for replies.
 *
 * It exists for opcodes the C client library does not expose (addWatch,
 * getEphemerals, getAllChildrenNumber, whoAmI, multiRead, setWatches2,
 * checkWatches) and for sending deliberately bad bytes. Every receive has a
 * timeout; nothing blocks forever.
 *
 * Order: zkr_connect (or zkr_open + raw bytes) -> zkr_begin/zkr_finish or
 * the one-call requests ->
 * zkr_close_session (optional) -> zkr_close.
 */
#ifndef ZKPLUG_TESTS_INTEGRATION_RAW_H
#define ZKPLUG_TESTS_INTEGRATION_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"

#define ZKR_MAX_EVENTS 64

struct zkr_event {
    int32_t type;
    int32_t state;
    char path[256];
};

struct zkr_conn {
    int fd;
    int64_t session_id;
    uint8_t passwd[16];
    int32_t timeout; /* negotiated */
    int32_t next_xid;
    int64_t last_zxid; /* zxid of the last reply */
    struct zkr_event events[ZKR_MAX_EVENTS];
    int nevents;
};

/* A reply: header fields plus the body (returns new; zkr_reply_free). */
struct zkr_reply {
    int32_t xid;
    int64_t zxid;
    int32_t err;
    uint8_t *frame; /* whole payload */
    size_t len;
    jute_reader body; /* positioned after the ReplyHeader */
};

/* TCP connect to 127.0.0.1:port (2 s bound). 0 or negative errno. */
int zkr_open(struct zkr_conn *c, int port);
/* zkr_open + ConnectRequest (session_id 0 = new, passwd NULL = zeros).
 * 0 on success; -ESTALE when the server answered with timeout 0 (expired or
 * bad password); other negative errno on I/O errors. */
int zkr_connect(struct zkr_conn *c, int port, int32_t timeout_ms, int64_t session_id,
                const uint8_t *passwd, int wait_ms);
void zkr_close(struct zkr_conn *c);

/* Raw bytes / one framed payload. 0 or negative errno. */
int zkr_send_raw(struct zkr_conn *c, const void *p, size_t n);
int zkr_send_frame(struct zkr_conn *c, const void *payload, size_t n);
/* Next frame (returns new in *out). 0, -ETIMEDOUT, -ECONNRESET (peer closed)
 * or another negative errno. */
int zkr_recv_frame(struct zkr_conn *c, uint8_t **out, size_t *n, int timeout_ms);
/* Waits for the peer to close: 0 when EOF/reset is seen within timeout_ms,
 * -ETIMEDOUT otherwise; *junk counts bytes received meanwhile (may be NULL). */
int zkr_wait_closed(struct zkr_conn *c, int timeout_ms, size_t *junk);
/* Like zkr_wait_closed, keeping up to cap received bytes in buf. */
int zkr_read_until_closed(struct zkr_conn *c, void *buf, size_t cap, int timeout_ms, size_t *got);

/* Starts a request: RequestHeader{next xid, type}; returns the xid. */
int32_t zkr_begin(struct zkr_conn *c, jute_writer *w, int32_t type);
/* Sends w (frees it) and reads frames until the reply with xid arrives;
 * notifications on the way are queued. 0 or negative errno. */
int zkr_finish(struct zkr_conn *c, jute_writer *w, int32_t xid, struct zkr_reply *rep);
/* Reads frames until the reply with xid (a request sent by hand). */
int zkr_await_reply(struct zkr_conn *c, int32_t xid, struct zkr_reply *rep);
void zkr_reply_free(struct zkr_reply *rep);

/* Notifications: pops the oldest queued one, or reads up to timeout_ms.
 * 0, -ETIMEDOUT or negative errno. */
int zkr_next_event(struct zkr_conn *c, struct zkr_event *ev, int timeout_ms);
/* Round trip (ping) so everything the server sent before is queued; then the
 * number of queued events. */
int zkr_drain(struct zkr_conn *c);

/* One-call requests: each returns the reply's err (0 or a ZooKeeper error
 * code, -1..-127), or ZKR_IOERR plus a negative errno when the request could
 * not be sent or its reply not read. */
#define ZKR_IOERR (-1000)
int zkr_ping(struct zkr_conn *c);
int zkr_close_session(struct zkr_conn *c);
int zkr_create(struct zkr_conn *c, const char *path, const char *data, int32_t flags,
               char *out_path, size_t out_len);
int zkr_create_ttl(struct zkr_conn *c, const char *path, const char *data, int32_t flags,
                   int64_t ttl, char *out_path, size_t out_len);
int zkr_delete(struct zkr_conn *c, const char *path, int32_t version);
int zkr_set_data(struct zkr_conn *c, const char *path, const char *data, int32_t version);
/* data copied NUL-terminated into buf (may be NULL); version into *version. */
int zkr_get_data(struct zkr_conn *c, const char *path, bool watch, char *buf, size_t len,
                 int32_t *version);
int zkr_exists(struct zkr_conn *c, const char *path, bool watch);
int zkr_get_children(struct zkr_conn *c, const char *path, bool watch);
int zkr_add_watch(struct zkr_conn *c, const char *path, int32_t mode);
int zkr_path_int_op(struct zkr_conn *c, int32_t op, const char *path, int32_t value);
int zkr_auth(struct zkr_conn *c, const char *scheme, const char *auth);

#endif
