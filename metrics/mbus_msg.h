/*
 * Metrics bus messages (the protocol of docs/metrics.md): published bean
 * updates and events, and the query/answer pairs of the REP socket. Pure
 * encoding and dispatch over the bean registry; no sockets here, so the
 * protocol is tested without nng.
 *
 * Published messages are "<bean name> <JSON>": the bean name first, so a
 * subscription to a bean-name prefix selects beans. Query requests and
 * replies are bare JSON. Every JSON message carries "v": MBUS_PROTOCOL_VERSION.
 *
 * Thread: the event loop (the registry is read in place).
 */
#ifndef ZKPLUG_METRICS_MBUS_MSG_H
#define ZKPLUG_METRICS_MBUS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mbean.h"
#include "metrics_buf.h"

#define MBUS_PROTOCOL_VERSION 1
#define MBUS_MAX_REQUEST (1u << 20)

const char *mbus_type_name(enum mbean_type t);
const char *mbus_kind_name(enum mbean_kind k);

/* One attribute value as JSON. */
void mbus_encode_value(struct metrics_buf *out, const struct mbean_value *v);
/* {"Attr": value, ...} for every attribute of b. */
void mbus_encode_attributes(struct metrics_buf *out, struct mbean *b, struct metrics_buf *scratch);

/* "<name> {"v":1,"kind":"update",...,"attributes":ATTRS}" where ATTRS is
 * the already encoded attribute object. */
void mbus_encode_update(struct metrics_buf *out, const struct mbean *b, const char *attrs, size_t attrs_len,
                        uint64_t seq, int64_t time_ms);
/* "<name> {"v":1,"kind":"registered"|"unregistered"|"state"|"leader_elected",...}".
 * A registration carries the bean's attributes. */
void mbus_encode_event(struct metrics_buf *out, const struct mbean_event *ev, struct metrics_buf *scratch,
                       uint64_t seq, int64_t time_ms);

/* Answer one query (req[0..len), JSON) into out. Never fails: every error
 * is an answer with "ok": false. */
void mbus_query(const char *req, size_t len, struct metrics_buf *out);

#endif
