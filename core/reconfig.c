/*
 * Dynamic reconfiguration: building, recording and activating new ensemble
 * configs (see reconfig.h).
 */
#include "reconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epoch.h"
#include "log.h"
#include "proto.h"
#include "quorum.h"
#include "server.h"

/* ------------------------------------------------------------ config text */

/* Add "server.N=spec" to q. */
static int reconfig_add_spec(struct server *srv, struct fle_quorum *q, const char *key, const char *value, char *err,
                             size_t errlen)
{
    struct config_server cs;
    int rc = config_server_from_spec(srv->cfg, key, value, &cs, err, errlen);
    if (rc < 0)
        return rc;
    rc = fle_quorum_add_server(q, cs.id, cs.host, cs.quorum_port, cs.election_port, cs.type == CONFIG_OBSERVER,
                               cs.client_host, cs.client_port);
    if (rc == -EEXIST) {
        snprintf(err, errlen, "%s listed twice", key);
        rc = -EINVAL;
    }
    config_server_clear(&cs);
    return rc;
}

static char *reconfig_trim(char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    char *e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return p;
}

/* Parse ZooKeeper's config text (server.N / group.N / weight.N lines and
 * version=hex, separated by newlines or commas) into q. */
static int reconfig_parse(struct server *srv, const char *text, size_t len, char sep2, struct fle_quorum *q,
                          char *err, size_t errlen)
{
    fle_quorum_init(q);
    char *copy = strndup(text, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    char *save = NULL;
    char seps[3] = {'\n', sep2, '\0'};
    for (char *line = strtok_r(copy, seps, &save); line && rc == 0; line = strtok_r(NULL, seps, &save)) {
        line = reconfig_trim(line);
        if (*line == '\0' || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "'%s': expected key=value", line);
            rc = -EINVAL;
            break;
        }
        *eq = '\0';
        char *key = reconfig_trim(line), *value = reconfig_trim(eq + 1);
        if (strcmp(key, "version") == 0) {
            char *end;
            q->version = (int64_t)strtoull(value, &end, 16);
            if (*end != '\0') {
                snprintf(err, errlen, "version '%s' is not hexadecimal", value);
                rc = -EINVAL;
            }
        } else if (strncmp(key, "server.", 7) == 0) {
            rc = reconfig_add_spec(srv, q, key, value, err, errlen);
        } else if ((rc = fle_quorum_set_entry(q, key, value, err, errlen)) == 1) {
            snprintf(err, errlen, "'%s' is not a server, group, weight or version line", key);
            rc = -EINVAL;
        }
    }
    free(copy);
    if (rc == 0 && q->nmembers == 0) {
        snprintf(err, errlen, "no server.N lines");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = fle_quorum_finish(q, err, errlen);
    return rc;
}

static char *reconfig_text(const struct fle_quorum *q, size_t *len)
{
    size_t n = fle_quorum_text(q, NULL, 0);
    char *t = malloc(n + 1);
    if (t == NULL)
        return NULL;
    fle_quorum_text(q, t, n + 1);
    *len = n;
    return t;
}

/* Copy the members of from into to (which was fle_quorum_init'ed). */
static int reconfig_copy_members(const struct fle_quorum *from, struct fle_quorum *to, int64_t skip)
{
    for (size_t i = 0; i < from->nmembers; i++) {
        const struct fle_member *m = &from->members[i];
        if (m->id == skip)
            continue;
        int rc = fle_quorum_add_server(to, m->id, m->host, m->quorum_port, m->election_port, m->observer,
                                       m->client_host, m->client_port);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static size_t reconfig_voters(const struct fle_quorum *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nmembers; i++)
        n += fle_quorum_is_voter(q, q->members[i].id);
    return n;
}

/* ---------------------------------------------------------------- leader */

static bool span_is_null(const jute_span *s) { return s->len < 0 || s->ptr == NULL; }

int reconfig_build(struct server *srv, const struct proto_reconfig_request *req, int64_t zxid, char **text,
                   size_t *len)
{
    struct quorum_peer *qp = srv->qp;
    char err[256] = "";
    if (qp->pending)
        return ZK_RECONFIGINPROGRESS;
    if (req->cur_config_id != -1 && req->cur_config_id != qp->verifier.version) {
        log_info("Reconfiguration from version 0x%" PRIx64 " failed -- last seen version is 0x%" PRIx64,
                 (uint64_t)req->cur_config_id, (uint64_t)qp->verifier.version);
        return ZK_BADVERSION;
    }
    struct fle_quorum next;
    int rc;
    if (!span_is_null(&req->new_members)) {
        log_info("Non-incremental reconfig");
        rc = reconfig_parse(srv, (const char *)req->new_members.ptr, (size_t)req->new_members.len, ',', &next, err,
                            sizeof err);
    } else {
        log_info("Incremental reconfig");
        fle_quorum_init(&next);
        rc = 0;
        if (qp->verifier.hierarchical) {
            snprintf(err, sizeof err, "Incremental reconfiguration requested but last configuration seen has a "
                                      "non-majority quorum system");
            rc = -EINVAL;
        }
        /* Members that stay: all but the leaving ones. */
        int64_t *leaving = NULL;
        size_t nleaving = 0;
        if (rc == 0 && !span_is_null(&req->leaving) && req->leaving.len > 0) {
            char *copy = strndup((const char *)req->leaving.ptr, (size_t)req->leaving.len);
            char *save = NULL;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == 0; t = strtok_r(NULL, ",", &save)) {
                char *end;
                t = reconfig_trim(t);
                long long id = strtoll(t, &end, 10);
                int64_t *nl = realloc(leaving, (nleaving + 1) * sizeof *nl);
                if (nl == NULL) {
                    snprintf(err, sizeof err, "out of memory");
                    rc = -ENOMEM;
                    break;
                }
                leaving = nl;
                if (*end != '\0' || end == t) {
                    snprintf(err, sizeof err, "'%s' is not a server id", t);
                    rc = -EINVAL;
                    break;
                }
                leaving[nleaving++] = id;
            }
            free(copy);
        }
        for (size_t i = 0; rc == 0 && i < qp->verifier.nmembers; i++) {
            const struct fle_member *m = &qp->verifier.members[i];
            bool leaves = false;
            for (size_t j = 0; j < nleaving; j++)
                leaves |= leaving[j] == m->id;
            /* A joiner with the id of a member replaces it. */
            if (!leaves)
                rc = fle_quorum_add_server(&next, m->id, m->host, m->quorum_port, m->election_port, m->observer,
                                           m->client_host, m->client_port);
        }
        free(leaving);
        if (rc == 0 && !span_is_null(&req->joining) && req->joining.len > 0) {
            char *copy = strndup((const char *)req->joining.ptr, (size_t)req->joining.len);
            char *save = NULL;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == 0; t = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(t, '=');
                if (eq == NULL || strchr(eq + 1, '=') != NULL) {
                    snprintf(err, sizeof err, "Wrong format of server string");
                    rc = -EINVAL;
                    break;
                }
                *eq = '\0';
                char *key = reconfig_trim(t), *value = reconfig_trim(eq + 1);
                struct config_server cs;
                rc = config_server_from_spec(srv->cfg, key, value, &cs, err, sizeof err);
                if (rc < 0)
                    break;
                if (cs.client_port == 0) {
                    snprintf(err, sizeof err, "Wrong format of server string - each server should have 3 ports "
                                              "specified");
                    config_server_clear(&cs);
                    rc = -EINVAL;
                    break;
                }
                struct fle_quorum tmp;
                fle_quorum_init(&tmp);
                rc = reconfig_copy_members(&next, &tmp, cs.id);
                if (rc == 0)
                    rc = fle_quorum_add_server(&tmp, cs.id, cs.host, cs.quorum_port, cs.election_port,
                                               cs.type == CONFIG_OBSERVER, cs.client_host, cs.client_port);
                config_server_clear(&cs);
                fle_quorum_fini(&next);
                next = tmp;
            }
            free(copy);
        }
        if (rc == 0)
            rc = fle_quorum_finish(&next, err, sizeof err);
    }
    if (rc == 0 && qp->verifier.hierarchical) {
        snprintf(err, sizeof err, "changing a hierarchical (group/weight) quorum configuration is not supported");
        rc = -EINVAL;
    }
    if (rc < 0) {
        log_warn("Reconfiguration failed: %s", err);
        fle_quorum_fini(&next);
        return ZK_BADARGUMENTS;
    }
    size_t voters = reconfig_voters(&next);
    if (srv->cfg->standalone_enabled ? voters < 2 : voters < 1) {
        log_warn("Reconfig failed - new configuration must include at least %d follower%s",
                 srv->cfg->standalone_enabled ? 2 : 1, srv->cfg->standalone_enabled ? "s" : "");
        fle_quorum_fini(&next);
        return ZK_BADARGUMENTS;
    }
    if (!leader_quorum_synced(qp->leader, &next)) {
        log_warn("Reconfig failed - there must be a connected and synced quorum in new configuration");
        fle_quorum_fini(&next);
        return ZK_NEWCONFIGNOQUORUM;
    }
    next.version = zxid;
    *text = reconfig_text(&next, len);
    fle_quorum_fini(&next);
    return *text ? ZK_OK : ZK_SYSTEMERROR;
}

/* ------------------------------------------------------------- recording */

bool reconfig_txn_text(const uint8_t *txn, size_t len, const uint8_t **text, size_t *tlen)
{
    jute_reader r;
    jute_reader_init(&r, txn, len, 0);
    struct proto_txn_header hdr;
    if (proto_read_txn_header(&r, &hdr) < 0 || hdr.type != ZK_OP_RECONFIG)
        return false;
    jute_read_bytes(&r); /* path */
    jute_span data = jute_read_bytes(&r);
    if (r.err || data.len < 0)
        return false;
    *text = data.ptr;
    *tlen = (size_t)data.len;
    return true;
}

static int reconfig_line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ZooKeeper's writeDynamicConfig: the config's lines sorted, without the
 * version line unless keep_version. */
static int reconfig_write_dynamic(const char *path, const struct fle_quorum *q, bool keep_version)
{
    size_t len;
    char *text = reconfig_text(q, &len);
    if (text == NULL)
        return -ENOMEM;
    char *lines[1024];
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && n < 1024; l = strtok_r(NULL, "\n", &save))
        if (keep_version || strncmp(l, "version=", 8) != 0)
            lines[n++] = l;
    qsort(lines, n, sizeof *lines, reconfig_line_cmp);
    size_t cap = len + 2;
    char *out = malloc(cap);
    int rc = -ENOMEM;
    if (out) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++)
            off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "\n" : "", lines[i]);
        char err[256];
        rc = atomic_write_file(path, out, off, err, sizeof err);
        if (rc < 0)
            log_warn("%s", err);
    }
    free(out);
    free(text);
    return rc;
}

static void reconfig_path(const struct server *srv, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s.dynamic.%s", srv->cfg->path ? srv->cfg->path : "zoo.cfg", suffix);
}

static bool reconfig_key_moves(const char *line, bool erase_client)
{
    while (*line == ' ' || *line == '\t')
        line++;
    static const char *const prefixes[] = {"server.", "group", "weight", "dynamicConfigFile", "peerType"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return erase_client && strncmp(line, "clientPort", 10) == 0;
}

/* ZooKeeper's editStaticConfig: the ensemble lines (and the client address
 * when this server's line carries one) leave zoo.cfg, which then points at
 * the dynamic file. Comments and the order of the other lines are kept. */
static int reconfig_edit_static(const struct server *srv, const char *dynamic_path, bool erase_client)
{
    const char *path = srv->cfg->path;
    if (path == NULL)
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    char line[4096];
    while (out && fgets(line, sizeof line, f)) {
        if (reconfig_key_moves(line, erase_client))
            continue;
        size_t l = strlen(line);
        if (len + l + 1 >= cap) {
            char *bigger = realloc(out, cap * 2 + l);
            if (bigger == NULL) {
                free(out);
                out = NULL;
                break;
            }
            out = bigger;
            cap = cap * 2 + l;
        }
        memcpy(out + len, line, l);
        len += l;
        if (line[l - 1] != '\n')
            out[len++] = '\n';
    }
    fclose(f);
    if (out == NULL)
        return -ENOMEM;
    char abs[PATH_MAX];
    if (realpath(dynamic_path, abs) == NULL)
        snprintf(abs, sizeof abs, "%s", dynamic_path);
    size_t need = len + strlen(abs) + 32;
    char *full = realloc(out, need);
    if (full == NULL) {
        free(out);
        return -ENOMEM;
    }
    len += (size_t)snprintf(full + len, need - len, "dynamicConfigFile=%s\n", abs);
    char err[256];
    int rc = atomic_write_file(path, full, len, err, sizeof err);
    if (rc < 0)
        log_warn("%s", err);
    free(full);
    return rc;
}

void reconfig_seen(struct server *srv, const uint8_t *text, size_t len)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL || !srv->cfg->reconfig_enabled)
        return;
    char err[256] = "";
    struct fle_quorum *q = calloc(1, sizeof *q);
    if (q == NULL || reconfig_parse(srv, (const char *)text, len, '\n', q, err, sizeof err) < 0) {
        log_error("a reconfig txn carries a config this server cannot read: %s", err);
        if (q)
            fle_quorum_fini(q);
        free(q);
        return;
    }
    if (q->version <= qp->verifier.version) {
        fle_quorum_fini(q);
        free(q);
        return;
    }
    if (qp->pending) {
        fle_quorum_fini(qp->pending);
        free(qp->pending);
    }
    qp->pending = q;
    char path[PATH_MAX];
    reconfig_path(srv, "next", path, sizeof path);
    int rc = reconfig_write_dynamic(path, q, true);
    if (rc < 0)
        log_warn("cannot write %s: %s", path, strerror(-rc));
    log_info("proposed config version 0x%" PRIx64 ": %zu members", (uint64_t)q->version, q->nmembers);
}

bool reconfig_pending(const struct server *srv) { return srv->qp && srv->qp->pending != NULL; }

const struct fle_quorum *reconfig_pending_verifier(const struct server *srv)
{
    return srv->qp ? srv->qp->pending : NULL;
}

bool reconfig_quorum(const struct server *srv, const int64_t *sids, size_t n)
{
    const struct quorum_peer *qp = srv->qp;
    if (!fle_quorum_contains(&qp->verifier, sids, n))
        return false;
    return qp->pending == NULL || fle_quorum_contains(qp->pending, sids, n);
}

/* cfg->servers from the verifier (what zkp_host.server_get lends). */
static int reconfig_install_servers(struct server *srv, const struct fle_quorum *q)
{
    struct config_server *list = calloc(q->nmembers ? q->nmembers : 1, sizeof *list);
    if (list == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < q->nmembers; i++) {
        const struct fle_member *m = &q->members[i];
        list[i].id = m->id;
        list[i].host = strdup(m->host);
        list[i].quorum_port = m->quorum_port;
        list[i].election_port = m->election_port;
        list[i].type = m->observer ? CONFIG_OBSERVER : CONFIG_PARTICIPANT;
        list[i].client_host = m->client_host ? strdup(m->client_host) : NULL;
        list[i].client_port = m->client_port;
    }
    return config_set_servers(srv->cfg, list, q->nmembers);
}

/* Make q the current config: files, cfg, election plugin. */
static bool reconfig_install(struct server *srv, struct fle_quorum *q, int64_t designated)
{
    struct quorum_peer *qp = srv->qp;
    bool was_observer = qp->observer;
    const struct fle_member *me = fle_quorum_member(q, qp->myid);
    char hex[32], path[PATH_MAX];
    snprintf(hex, sizeof hex, "%" PRIx64, (uint64_t)q->version);
    reconfig_path(srv, hex, path, sizeof path);
    int rc = reconfig_write_dynamic(path, q, false);
    if (rc == 0)
        rc = reconfig_edit_static(srv, path, me && me->client_port != 0);
    if (rc < 0)
        log_error("cannot write the new config (%s, %s): %s", path, srv->cfg->path ? srv->cfg->path : "-",
                  strerror(-rc));
    char next[PATH_MAX];
    reconfig_path(srv, "next", next, sizeof next);
    unlink(next);
    fle_quorum_fini(&qp->verifier);
    qp->verifier = *q;
    free(q);
    if (reconfig_install_servers(srv, &qp->verifier) < 0)
        log_error("out of memory installing the new config");
    size_t tlen;
    char *text = reconfig_text(&qp->verifier, &tlen);
    if (qp->eops->size >= offsetof(struct zkp_election_ops, reconfigure) + sizeof qp->eops->reconfigure &&
        qp->eops->reconfigure && text)
        qp->eops->reconfigure(qp->election->state, text);
    log_info("activated config version 0x%" PRIx64 ": %s", (uint64_t)qp->verifier.version, text ? text : "");
    free(text);
    me = fle_quorum_member(&qp->verifier, qp->myid);
    if (me == NULL) {
        log_warn("this server is not a member of the new config");
        return false;
    }
    qp->observer = me->observer;
    if (me->observer != was_observer)
        return false;
    if (designated >= 0 && designated != qp->vote.leader)
        return false;
    if (qp->leader && !fle_quorum_is_voter(&qp->verifier, qp->myid))
        return false;
    return true;
}

bool reconfig_activate(struct server *srv, int64_t designated)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL || qp->pending == NULL)
        return true;
    struct fle_quorum *q = qp->pending;
    qp->pending = NULL;
    return reconfig_install(srv, q, designated);
}

bool reconfig_adopt(struct server *srv, const uint8_t *text, size_t len)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL || !srv->cfg->reconfig_enabled || len == 0)
        return true;
    char err[256] = "";
    struct fle_quorum *q = calloc(1, sizeof *q);
    if (q == NULL || reconfig_parse(srv, (const char *)text, len, '\n', q, err, sizeof err) < 0) {
        log_warn("the leader's config cannot be read: %s", err);
        if (q)
            fle_quorum_fini(q);
        free(q);
        return true;
    }
    if (q->version <= qp->verifier.version) {
        fle_quorum_fini(q);
        free(q);
        return true;
    }
    if (qp->pending && qp->pending->version <= q->version) {
        fle_quorum_fini(qp->pending);
        free(qp->pending);
        qp->pending = NULL;
    }
    return reconfig_install(srv, q, -1);
}

void reconfig_free(struct server *srv)
{
    struct quorum_peer *qp = srv->qp;
    if (qp && qp->pending) {
        fle_quorum_fini(qp->pending);
        free(qp->pending);
        qp->pending = NULL;
    }
}
