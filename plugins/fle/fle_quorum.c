/*
 * Quorum verifiers, vote order and vote equality (see fle_quorum.h), as
 * ZooKeeper 3.8's QuorumMaj, QuorumHierarchical, FastLeaderElection.
 * totalOrderPredicate and Vote.equals define them.
 *
 * Design notes: members are kept sorted by id so the config text comes out
 * in the order ZooKeeper prints it (its HashMap of small Long keys iterates in
 * id order). Group and weight tables are small arrays searched linearly: an
 * ensemble has a handful of servers.
 */
#include "fle_quorum.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fle_quorum_init(struct fle_quorum *q) { memset(q, 0, sizeof *q); }

int fle_quorum_set_entry(struct fle_quorum *q, const char *key, const char *value, char *err,
                         size_t errlen)
{
    char *end;
    if (strncmp(key, "group.", 6) == 0) {
        long long gid = strtoll(key + 6, &end, 10);
        if (*end != '\0' || gid <= 0) {
            snprintf(err, errlen, "%s: group id is not a positive integer", key);
            return -EINVAL;
        }
        return fle_quorum_set_group(q, gid, value, err, errlen);
    }
    if (strncmp(key, "weight.", 7) == 0) {
        char *vend;
        long long sid = strtoll(key + 7, &end, 10);
        long long w = strtoll(value, &vend, 10);
        if (*end != '\0' || *vend != '\0' || vend == value) {
            snprintf(err, errlen, "%s=%s: not a server id and a weight", key, value);
            return -EINVAL;
        }
        return fle_quorum_set_weight(q, sid, w, err, errlen);
    }
    return 1;
}

void fle_quorum_fini(struct fle_quorum *q)
{
    for (size_t i = 0; i < q->nmembers; i++) {
        free(q->members[i].host);
        free(q->members[i].client_host);
    }
    free(q->members);
    free(q->group_ids);
    free(q->group_weights);
    memset(q, 0, sizeof *q);
}

static struct fle_member *fle_quorum_find(const struct fle_quorum *q, int64_t id)
{
    for (size_t i = 0; i < q->nmembers; i++)
        if (q->members[i].id == id)
            return &q->members[i];
    return NULL;
}

int fle_quorum_add_server(struct fle_quorum *q, int64_t id, const char *host, int quorum_port,
                          int election_port, bool observer, const char *client_host,
                          int client_port)
{
    if (fle_quorum_find(q, id) != NULL)
        return -EEXIST;
    struct fle_member *m = realloc(q->members, (q->nmembers + 1) * sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    q->members = m;
    m = &q->members[q->nmembers];
    memset(m, 0, sizeof *m);
    m->id = id;
    m->host = strdup(host ? host : "");
    m->client_host = client_host ? strdup(client_host) : NULL;
    if (m->host == NULL || (client_host && m->client_host == NULL)) {
        free(m->host);
        free(m->client_host);
        return -ENOMEM;
    }
    m->quorum_port = quorum_port;
    m->election_port = election_port;
    m->observer = observer;
    m->client_port = client_port;
    m->weight = 1;
    q->nmembers++;
    return 0;
}

int fle_quorum_set_group(struct fle_quorum *q, int64_t gid, const char *value, char *err,
                         size_t errlen)
{
    q->hierarchical = true;
    const char *p = value;
    while (*p) {
        char *end;
        long long sid = strtoll(p, &end, 10);
        if (end == p || (*end != ':' && *end != '\0')) {
            snprintf(err, errlen, "group.%" PRId64 "=%s: not a ':'-separated list of server ids",
                     gid, value);
            return -EINVAL;
        }
        struct fle_member *m = fle_quorum_find(q, sid);
        if (m == NULL) {
            snprintf(err, errlen, "group.%" PRId64 ": server %lld has no server.%lld line", gid,
                     sid, sid);
            return -EINVAL;
        }
        if (m->group != 0) {
            snprintf(err, errlen, "group.%" PRId64 ": server %lld is in multiple groups", gid,
                     sid);
            return -EINVAL;
        }
        m->group = gid;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int fle_quorum_set_weight(struct fle_quorum *q, int64_t sid, int64_t weight, char *err,
                          size_t errlen)
{
    struct fle_member *m = fle_quorum_find(q, sid);
    if (m == NULL || weight < 0) {
        snprintf(err, errlen, "weight.%" PRId64 "=%" PRId64 ": %s", sid, weight,
                 m == NULL ? "no such server" : "negative weight");
        return -EINVAL;
    }
    m->weight = weight;
    m->has_weight = true;
    q->hierarchical = true;
    return 0;
}

static int fle_member_cmp(const void *a, const void *b)
{
    const struct fle_member *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int fle_quorum_finish(struct fle_quorum *q, char *err, size_t errlen)
{
    qsort(q->members, q->nmembers, sizeof *q->members, fle_member_cmp);
    q->nvoters = 0;
    for (size_t i = 0; i < q->nmembers; i++)
        if (!q->members[i].observer)
            q->nvoters++;
    if (!q->hierarchical)
        return 0;
    free(q->group_ids);
    free(q->group_weights);
    q->group_ids = calloc(q->nmembers + 1, sizeof *q->group_ids);
    q->group_weights = calloc(q->nmembers + 1, sizeof *q->group_weights);
    if (q->group_ids == NULL || q->group_weights == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    q->ngroups = 0;
    for (size_t i = 0; i < q->nmembers; i++) {
        struct fle_member *m = &q->members[i];
        if (m->group == 0) {
            if (!m->observer) {
                snprintf(err, errlen, "server %" PRId64 " is not in a group", m->id);
                return -EINVAL;
            }
            continue;
        }
        size_t g = 0;
        while (g < q->ngroups && q->group_ids[g] != m->group)
            g++;
        if (g == q->ngroups) {
            if (q->ngroups == FLE_QUORUM_MAX_GROUPS) {
                snprintf(err, errlen, "more than %d groups", FLE_QUORUM_MAX_GROUPS);
                return -EINVAL;
            }
            q->group_ids[q->ngroups++] = m->group;
        }
        q->group_weights[g] += m->weight;
    }
    q->nonzero_groups = 0;
    for (size_t g = 0; g < q->ngroups; g++)
        if (q->group_weights[g] != 0)
            q->nonzero_groups++;
    return 0;
}

const struct fle_member *fle_quorum_member(const struct fle_quorum *q, int64_t id)
{
    return fle_quorum_find(q, id);
}

bool fle_quorum_is_voter(const struct fle_quorum *q, int64_t id)
{
    const struct fle_member *m = fle_quorum_find(q, id);
    return m != NULL && !m->observer;
}

int64_t fle_quorum_weight(const struct fle_quorum *q, int64_t id)
{
    if (!q->hierarchical)
        return 1;
    const struct fle_member *m = fle_quorum_find(q, id);
    return m ? m->weight : 0;
}

bool fle_quorum_contains(const struct fle_quorum *q, const int64_t *sids, size_t n)
{
    /* Count each voter once, whatever the input holds. */
    size_t count = 0;
    int64_t gsum[FLE_QUORUM_MAX_GROUPS];
    size_t ng = q->ngroups;
    memset(gsum, 0, sizeof gsum);
    for (size_t i = 0; i < q->nmembers; i++) {
        const struct fle_member *m = &q->members[i];
        if (m->observer)
            continue;
        bool in = false;
        for (size_t k = 0; k < n && !in; k++)
            in = sids[k] == m->id;
        if (!in)
            continue;
        count++;
        for (size_t g = 0; g < ng; g++)
            if (q->group_ids[g] == m->group)
                gsum[g] += m->weight;
    }
    if (!q->hierarchical)
        return count > q->nvoters / 2;
    if (count == 0)
        return false;
    size_t majority_groups = 0;
    for (size_t g = 0; g < ng; g++)
        if (gsum[g] > q->group_weights[g] / 2 && gsum[g] > 0)
            majority_groups++;
    return majority_groups > q->nonzero_groups / 2;
}

bool fle_vote_beats(const struct fle_quorum *q, int64_t new_id, int64_t new_zxid,
                    int64_t new_epoch, int64_t cur_id, int64_t cur_zxid, int64_t cur_epoch)
{
    if (fle_quorum_weight(q, new_id) == 0)
        return false;
    return new_epoch > cur_epoch ||
           (new_epoch == cur_epoch && (new_zxid > cur_zxid || (new_zxid == cur_zxid && new_id > cur_id)));
}

bool fle_vote_equal(const struct fle_vote *a, const struct fle_vote *b)
{
    if (a->state == FLE_LOOKING || b->state == FLE_LOOKING)
        return a->leader == b->leader && a->zxid == b->zxid &&
               a->election_epoch == b->election_epoch && a->peer_epoch == b->peer_epoch;
    if ((a->version > 0) != (b->version > 0))
        return a->leader == b->leader;
    return a->leader == b->leader && a->peer_epoch == b->peer_epoch;
}

/* snprintf that keeps counting past cap. */
static size_t fle_text_add(char *out, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t fle_text_add(char *out, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char dummy[1];
    int n = at < cap ? vsnprintf(out + at, cap - at, fmt, ap) : vsnprintf(dummy, 0, fmt, ap);
    va_end(ap);
    return n > 0 ? at + (size_t)n : at;
}

size_t fle_quorum_text(const struct fle_quorum *q, char *out, size_t cap)
{
    size_t at = 0;
    if (cap > 0)
        out[0] = '\0';
    for (size_t i = 0; i < q->nmembers; i++) {
        const struct fle_member *m = &q->members[i];
        int v6 = strchr(m->host, ':') != NULL;
        at = fle_text_add(out, cap, at, "server.%" PRId64 "=%s%s%s:%d:%d:%s", m->id, v6 ? "[" : "",
                          m->host, v6 ? "]" : "", m->quorum_port, m->election_port,
                          m->observer ? "observer" : "participant");
        if (m->client_port > 0) {
            const char *ch = m->client_host ? m->client_host : "0.0.0.0";
            int c6 = strchr(ch, ':') != NULL;
            at = fle_text_add(out, cap, at, ";%s%s%s:%d", c6 ? "[" : "", ch, c6 ? "]" : "",
                              m->client_port);
        }
        at = fle_text_add(out, cap, at, "\n");
    }
    if (q->hierarchical) {
        for (size_t g = 0; g < q->ngroups; g++) {
            at = fle_text_add(out, cap, at, "group.%" PRId64 "=", q->group_ids[g]);
            int first = 1;
            for (size_t i = 0; i < q->nmembers; i++) {
                if (q->members[i].group != q->group_ids[g])
                    continue;
                at = fle_text_add(out, cap, at, "%s%" PRId64, first ? "" : ":", q->members[i].id);
                first = 0;
            }
            at = fle_text_add(out, cap, at, "\n");
        }
        for (size_t i = 0; i < q->nmembers; i++)
            if (!q->members[i].observer || q->members[i].has_weight)
                at = fle_text_add(out, cap, at, "weight.%" PRId64 "=%" PRId64 "\n",
                                  q->members[i].id, q->members[i].weight);
    }
    at = fle_text_add(out, cap, at, "version=%" PRIx64, (uint64_t)q->version);
    return at;
}
