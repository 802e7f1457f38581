/*
 * Hook points: where the server hands events and commands to an extension
 * host (the Lua host). The server holds an optional table of functions
 * (struct hooks_ops) and calls it at fixed points; with no table installed
 * nothing happens and nothing is paid beyond one pointer test.
 *
 * Threading and cost: every hook is called on the event-loop thread. Hooks
 * that observe writes (audit, session_event) are called after the write has
 * been applied and its reply queued; an implementation must not do slow work
 * inside them (queue the event and handle it elsewhere), so that a slow
 * handler can never delay an acknowledgement.
 *
 * Call order: server_started once the client port is open; server_stopping
 * when shutdown begins; audit and session_event as writes happen;
 * command_* whenever a four-letter word (or an admin command) arrives.
 */
#ifndef ZKPLUG_HOOKS_H
#define ZKPLUG_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"

struct server;
struct conn;

enum hooks_result {
    HOOKS_RESULT_SUCCESS,
    HOOKS_RESULT_FAILURE,
    HOOKS_RESULT_INVOKED,
};

/* One audited operation, in ZooKeeper's AuditEvent terms. Strings are valid
 * only during the call. */
struct hooks_audit_event {
    const char *operation;  /* "create", "delete", "setData", "setAcl", "multiOperation",
                               "reconfig", "ephemeralZNodeDeletionOnSessionCloseOrExpire",
                               "serverStart", "serverStop" */
    int64_t session;        /* 0 when not tied to a session */
    const struct acl_auth *auth; /* the caller's identities (NULL for server events) */
    const char *ip;         /* client address, NULL for server events */
    const char *znode;      /* NULL when not applicable */
    const char *znode_type; /* create: CreateMode in lower case ("persistent", ...) */
    const struct acl_entry *acl; /* setAcl: the new ACL */
    size_t nacl;
    int32_t err;            /* ZooKeeper error code of the operation (0 = ok) */
    enum hooks_result result;
};

enum hooks_session_event {
    HOOKS_SESSION_CREATED,
    HOOKS_SESSION_CLOSED,
    HOOKS_SESSION_EXPIRED,
};

struct hooks_ops {
    void (*server_started)(void *ctx, struct server *srv);
    void (*server_stopping)(void *ctx, struct server *srv);
    void (*audit)(void *ctx, const struct hooks_audit_event *ev);
    void (*session_event)(void *ctx, int64_t session_id, enum hooks_session_event what);
    /* An ensemble member's state changed ("looking", "leading", "following",
     * "observing", "read-only"); leader >= 0 when an election just named it. */
    void (*peer_state)(void *ctx, const char *state, int64_t leader);
    /* Is `word` (a four-letter word, or an admin command name) a command the
     * host answers? Then run it, appending its output to out. */
    bool (*command_exists)(void *ctx, const char *word);
    void (*command_run)(void *ctx, struct server *srv, struct conn *c, const char *word, const uint8_t *arg,
                        size_t arglen, jute_writer *out);
};

#endif
