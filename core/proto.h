/*
 * ZooKeeper 3.8 client protocol and txn records (zookeeper.jute): opcodes,
 * error codes, and a decoder/encoder per record.
 *
 * Decoders read from a jute_reader without copying: strings and buffers come
 * back as jute_span pointing into the packet, so a decoded request is valid
 * only while its packet is. Vectors of strings come back as a malloc'ed array
 * of spans (free with free()); ACL lists as malloc'ed struct acl_entry arrays
 * with malloc'ed NUL-terminated strings (free with acl_entries_free). A
 * decoder returns 0, -EBADMSG when the record is truncated or malformed (r->err
 * set), or -ENOMEM; on failure it frees whatever it had allocated and leaves
 * *out zeroed, so the matching _free is safe but not needed.
 *
 * Decoders read one record and stop: they do not require the reader to be
 * empty afterwards, because multi bodies and txn log entries carry several
 * records back to back. Vector counts are checked against the bytes left
 * before anything is allocated, so a hostile count cannot make us allocate.
 *
 * Encoders append to a jute_writer (check w->oom once at the end). Decoding
 * then encoding a record gives back the same bytes (the tests check this on
 * bytes captured from ZooKeeper 3.8.0), with the exceptions noted below.
 */
#ifndef ZKPLUG_PROTO_H
#define ZKPLUG_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"

enum zk_op {
    ZK_OP_NOTIFICATION = 0,
    ZK_OP_CREATE = 1,
    ZK_OP_DELETE = 2,
    ZK_OP_EXISTS = 3,
    ZK_OP_GETDATA = 4,
    ZK_OP_SETDATA = 5,
    ZK_OP_GETACL = 6,
    ZK_OP_SETACL = 7,
    ZK_OP_GETCHILDREN = 8,
    ZK_OP_SYNC = 9,
    ZK_OP_PING = 11,
    ZK_OP_GETCHILDREN2 = 12,
    ZK_OP_CHECK = 13,
    ZK_OP_MULTI = 14,
    ZK_OP_CREATE2 = 15,
    ZK_OP_RECONFIG = 16,
    ZK_OP_CHECKWATCHES = 17,
    ZK_OP_REMOVEWATCHES = 18,
    ZK_OP_CREATECONTAINER = 19,
    ZK_OP_DELETECONTAINER = 20,
    ZK_OP_CREATETTL = 21,
    ZK_OP_MULTIREAD = 22,
    ZK_OP_AUTH = 100,
    ZK_OP_SETWATCHES = 101,
    ZK_OP_SASL = 102,
    ZK_OP_GETEPHEMERALS = 103,
    ZK_OP_GETALLCHILDRENNUMBER = 104,
    ZK_OP_SETWATCHES2 = 105,
    ZK_OP_ADDWATCH = 106,
    ZK_OP_WHOAMI = 107,
    ZK_OP_CREATESESSION = -10,
    ZK_OP_CLOSESESSION = -11,
    ZK_OP_ERROR = -1,
};

enum zk_err {
    ZK_OK = 0,
    ZK_SYSTEMERROR = -1,
    ZK_RUNTIMEINCONSISTENCY = -2,
    ZK_DATAINCONSISTENCY = -3,
    ZK_CONNECTIONLOSS = -4,
    ZK_MARSHALLINGERROR = -5,
    ZK_UNIMPLEMENTED = -6,
    ZK_OPERATIONTIMEOUT = -7,
    ZK_BADARGUMENTS = -8,
    ZK_UNKNOWNSESSION = -12,
    ZK_NEWCONFIGNOQUORUM = -13,
    ZK_RECONFIGINPROGRESS = -14,
    ZK_NONODE = -101,
    ZK_NOAUTH = -102,
    ZK_BADVERSION = -103,
    ZK_NOCHILDRENFOREPHEMERALS = -108,
    ZK_NODEEXISTS = -110,
    ZK_NOTEMPTY = -111,
    ZK_SESSIONEXPIRED = -112,
    ZK_INVALIDCALLBACK = -113,
    ZK_INVALIDACL = -114,
    ZK_AUTHFAILED = -115,
    ZK_SESSIONMOVED = -118,
    ZK_NOTREADONLY = -119,
    ZK_EPHEMERALONLOCALSESSION = -120,
    ZK_NOWATCHER = -121,
    ZK_REQUESTTIMEOUT = -122,
    ZK_RECONFIGDISABLED = -123,
    ZK_SESSIONCLOSEDREQUIRESASLAUTH = -124,
    ZK_QUOTAEXCEEDED = -125,
    ZK_THROTTLEDOP = -127,
};

/* Special xids. */
enum {
    ZK_XID_NOTIFICATION = -1,
    ZK_XID_PING = -2,
    ZK_XID_AUTH = -4,
    ZK_XID_SETWATCHES = -8,
};

/* Watch event types and states (WatcherEvent). */
enum {
    ZK_EVENT_NONE = -1,
    ZK_EVENT_CREATED = 1,
    ZK_EVENT_DELETED = 2,
    ZK_EVENT_DATA_CHANGED = 3,
    ZK_EVENT_CHILDREN_CHANGED = 4,
    ZK_STATE_SYNC_CONNECTED = 3,
};

/* Create flags (CreateMode). */
enum {
    ZK_CREATE_PERSISTENT = 0,
    ZK_CREATE_EPHEMERAL = 1,
    ZK_CREATE_PERSISTENT_SEQUENTIAL = 2,
    ZK_CREATE_EPHEMERAL_SEQUENTIAL = 3,
    ZK_CREATE_CONTAINER = 4,
    ZK_CREATE_PERSISTENT_WITH_TTL = 5,
    ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* WatcherType for checkWatches/removeWatches; AddWatch modes. */
enum { ZK_WATCHER_CHILDREN = 1, ZK_WATCHER_DATA = 2, ZK_WATCHER_ANY = 3 };
enum { ZK_ADDWATCH_PERSISTENT = 0, ZK_ADDWATCH_PERSISTENT_RECURSIVE = 1 };

/* Stat as clients see it (68 bytes on the wire). */
struct zk_stat {
    int64_t czxid, mzxid, ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t ephemeral_owner;
    int32_t data_length, num_children;
    int64_t pzxid;
};

/* ---------------------------------------------------------------- session */

struct proto_connect_request {
    int32_t protocol_version;
    int64_t last_zxid_seen;
    int32_t timeout;
    int64_t session_id;
    jute_span passwd;
    bool read_only;
    bool has_read_only; /* false: an old client that did not send the byte */
};

struct proto_connect_response {
    int32_t protocol_version;
    int32_t timeout;
    int64_t session_id;
    const uint8_t *passwd; /* 16 bytes */
    bool read_only;
    bool has_read_only; /* write the byte only when the client sent one */
};

/* The readOnly byte is read only when at least one byte is left; bytes after
 * it are ignored, as ZooKeeper does. */
int proto_read_connect_request(jute_reader *r, struct proto_connect_request *out);
/* resp->passwd == NULL writes 16 zero bytes (the "session expired" reply). */
void proto_write_connect_response(jute_writer *w, const struct proto_connect_response *resp);

/* ---------------------------------------------------------------- headers */

struct proto_request_header {
    int32_t xid;
    int32_t type;
};

int proto_read_request_header(jute_reader *r, struct proto_request_header *out);
void proto_write_reply_header(jute_writer *w, int32_t xid, int64_t zxid, int32_t err);

/* The client side of the same headers, for tools and tests that talk to a
 * server (added after the first version of this interface). */
struct proto_reply_header {
    int32_t xid;
    int64_t zxid;
    int32_t err;
};
void proto_write_request_header(jute_writer *w, int32_t xid, int32_t type);
int proto_read_reply_header(jute_reader *r, struct proto_reply_header *out);

void proto_write_stat(jute_writer *w, const struct zk_stat *stat);
int proto_read_stat(jute_reader *r, struct zk_stat *out);
/* vector<ACL>: acl == NULL writes a null vector (-1), otherwise n entries
 * (n may be 0). The reader mirrors this: a null vector gives *out = NULL,
 * an empty one a non-NULL array with *n = 0, so both round-trip. A null
 * scheme or id reads as "" (ZooKeeper would fail on it later anyway); an
 * embedded NUL byte is -EBADMSG, since it would silently shorten the C
 * string and change what the ACL means. */
void proto_write_acl_list(jute_writer *w, const struct acl_entry *acl, size_t n);
int proto_read_acl_list(jute_reader *r, struct acl_entry **out, size_t *n);
void proto_write_watcher_event(jute_writer *w, int32_t type, int32_t state, const char *path, size_t pathlen);

/* --------------------------------------------------------------- requests */

/* create, create2, createContainer (CreateRequest) and createTTL
 * (CreateTTLRequest: same plus a trailing long ttl; ttl = 0 otherwise). */
struct proto_create_request {
    jute_span path;
    jute_span data;
    struct acl_entry *acl;
    size_t nacl;
    int32_t flags;
    int64_t ttl;
};
int proto_read_create_request(jute_reader *r, bool with_ttl, struct proto_create_request *out);
void proto_create_request_free(struct proto_create_request *req);

/* delete (DeleteRequest), setData (SetDataRequest), check (CheckVersionRequest):
 * data is null for delete and check. */
struct proto_path_version_request {
    jute_span path;
    jute_span data;
    int32_t version;
};
int proto_read_delete_request(jute_reader *r, struct proto_path_version_request *out);
int proto_read_set_data_request(jute_reader *r, struct proto_path_version_request *out);
int proto_read_check_version_request(jute_reader *r, struct proto_path_version_request *out);

/* exists, getData, getChildren, getChildren2: {path, bool watch}. */
struct proto_path_watch_request {
    jute_span path;
    bool watch;
};
int proto_read_path_watch_request(jute_reader *r, struct proto_path_watch_request *out);

/* getACL, sync, getEphemerals, getAllChildrenNumber: {path}. */
int proto_read_path_request(jute_reader *r, jute_span *path);

struct proto_set_acl_request {
    jute_span path;
    struct acl_entry *acl;
    size_t nacl;
    int32_t version;
};
int proto_read_set_acl_request(jute_reader *r, struct proto_set_acl_request *out);

/* checkWatches / removeWatches {path, int type}; addWatch {path, int mode}. */
struct proto_path_int_request {
    jute_span path;
    int32_t value;
};
int proto_read_path_int_request(jute_reader *r, struct proto_path_int_request *out);

struct proto_auth_request {
    int32_t type;
    jute_span scheme;
    jute_span auth;
};
int proto_read_auth_request(jute_reader *r, struct proto_auth_request *out);

/* setWatches (5 lists: the last two are empty) and setWatches2. A null
 * vector (count -1) gives n = -1 and items NULL; an empty one n = 0. Note
 * that the Java client sends setWatches with an ordinary xid, not -8 (its
 * NIO socket overwrites the xid of every packet but ping and auth; zkCli
 * 3.8.0 sent xid 2 after a reconnect), and expects that xid back. */
struct proto_span_list {
    jute_span *items;
    int32_t n;
};
struct proto_set_watches_request {
    int64_t relative_zxid;
    struct proto_span_list data, exist, child, persistent, persistent_recursive;
};
int proto_read_set_watches_request(jute_reader *r, bool v2, struct proto_set_watches_request *out);
void proto_set_watches_request_free(struct proto_set_watches_request *req);

struct proto_reconfig_request {
    jute_span joining, leaving, new_members;
    int64_t cur_config_id;
};
int proto_read_reconfig_request(jute_reader *r, struct proto_reconfig_request *out);

struct proto_multi_header {
    int32_t type;
    bool done;
    int32_t err;
};
int proto_read_multi_header(jute_reader *r, struct proto_multi_header *out);
void proto_write_multi_header(jute_writer *w, int32_t type, bool done, int32_t err);

/* -------------------------------------------------------------- responses */

/* vector<ustring> */
void proto_write_string_count(jute_writer *w, int32_t n); /* then jute_write_bytes per item */

/* --------------------------------------------------------------------- txns */
/* A logged transaction is TxnHeader + txn record (+ TxnDigest when digests
 * are enabled), the same bytes that PROPOSAL packets and log entries carry. */

struct proto_txn_header {
    int64_t client_id;
    int32_t cxid;
    int64_t zxid;
    int64_t time;
    int32_t type;
};
void proto_write_txn_header(jute_writer *w, const struct proto_txn_header *h);
int proto_read_txn_header(jute_reader *r, struct proto_txn_header *out);

/* One txn body, decoded. Which members are used depends on type:
 *   create (1) / create2 (15): path, data, acl, ephemeral, parent_cversion
 *   createContainer (19): path, data, acl, parent_cversion
 *   createTTL (21): path, data, acl, parent_cversion, ttl
 *   delete (2), deleteContainer (20): path
 *   setData (5): path, data, version
 *   setACL (7): path, acl, version
 *   check (13): path, version
 *   error (-1): err
 *   createSession (-10): timeout
 *   closeSession (-11): paths (may be absent: old format, n = -1)
 *   multi (14): sub-txns in multi (each is {type, body bytes})
 *   reconfig (16): path, data, version (SetDataTxn, as ZooKeeper logs it)
 *
 * Old formats accepted on read: a CreateTxn without parentCVersion (3.4's
 * CreateTxnV0, when the record ends after `ephemeral`) reads as
 * parent_cversion = -1 like ZooKeeper does, and is written back in the
 * current format. A closeSession with no body reads as paths.n = -1 whether
 * or not a TxnDigest follows it (servers run with closeSessionTxn.enabled =
 * false log exactly that), and writes back with no body.
 *
 * A multi's sub-txns may only be the types ZooKeeper's DataTree accepts
 * there (create, create2, createContainer, createTTL, delete,
 * deleteContainer, setData, check, error); anything else, including a nested
 * multi, is -EBADMSG.
 */
struct proto_txn {
    int32_t type;
    jute_span path;
    jute_span data;
    struct acl_entry *acl;
    size_t nacl;
    bool ephemeral;
    int32_t parent_cversion;
    int64_t ttl;
    int32_t version;
    int32_t err;
    int32_t timeout;
    struct proto_span_list paths;
    struct proto_txn *multi; /* multi: decoded sub-txns */
    int32_t nmulti;
};
/* Encode a txn body (not the header) of txn->type. */
void proto_write_txn_body(jute_writer *w, const struct proto_txn *txn);
/* Decode a txn body of the given type from the reader's position; an
 * optional TxnDigest may follow (read it with proto_read_txn_digest). An
 * unknown type is -EBADMSG. */
int proto_read_txn_body(jute_reader *r, int32_t type, struct proto_txn *out);
void proto_txn_free(struct proto_txn *txn);

struct proto_txn_digest {
    int32_t version; /* 2 */
    int64_t tree_digest;
};
void proto_write_txn_digest(jute_writer *w, const struct proto_txn_digest *d);
/* The TxnDigest after a txn body, which is optional: with nothing left in the
 * reader *present is false and 0 is returned (error txns never carry one).
 * Added after the first version of this interface. */
int proto_read_txn_digest(jute_reader *r, struct proto_txn_digest *out, bool *present);

/* For messages: ZooKeeper's Request.op2String names ("create", "createTtl",
 * "getData", ...) plus "addWatch", which 3.8.0 does not name; "unknown"
 * otherwise. */
const char *proto_op_name(int32_t op);
/* cons' `lop` tags, as FinalRequestProcessor sets them in 3.8.0: "CREA",
 * "GETD", "GETACN", ...; "NA" for ops that do not set one (auth, sasl,
 * error, notification) and unknown ops. */
const char *proto_op_tag(int32_t op);

#endif
