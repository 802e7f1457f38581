/*
 * mem: in-memory storage (struct zkp_storage_ops) for standalone runs and
 * tests. Nothing touches the disk; "durable" means "kept for the life of the
 * process".
 *
 * Design notes:
 * - One store per dataDir (zoo.cfg key dataDir, "" when absent), kept in a
 *   process-wide list. The object is linked with -z nodelete, so when the
 *   server unloads and loads the plugin again in the same process (a restart
 *   inside tests), restore finds what was written before. A store serves one
 *   instance at a time: a second instance on the same dataDir is refused.
 * - The store keeps copies: every appended txn in zxid order, and each
 *   committed snapshot body (oldest first) until purge drops it. log_floor is
 *   the highest zxid purge has dropped; the log reaches back to it.
 * - sync never calls back synchronously: it posts the completion through
 *   host->post with status 0 and the last appended zxid. Posted records are
 *   tracked in the instance and freed in fini, because the host drops posts
 *   still queued when a plugin stops.
 * - Threads: none; every op runs on the loop thread.
 *
 * Entry points: the descriptor's init/start/stop/fini and mem_ops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkplug/plugin.h>

struct mem_txn {
    int64_t zxid;
    size_t len;
    uint8_t *data;
};

struct mem_snapshot {
    int64_t zxid;
    size_t len;
    uint8_t *body;
};

struct mem_store {
    struct mem_store *next; /* mem_stores */
    char *data_dir;
    int in_use;
    struct mem_txn *txns;
    size_t ntxns, txn_cap;
    struct mem_snapshot *snaps; /* oldest first */
    size_t nsnaps;
    int64_t last_zxid; /* highest zxid appended (after truncate: at most that) */
    int64_t log_floor; /* txns with zxid <= log_floor may have been purged */
    int64_t log_bytes; /* gauge */
    int64_t log_txns;  /* gauge */
};

struct mem_sync {
    struct mem_sync *prev, *next;
    struct mem_state *st;
    zkp_sync_cb cb;
    void *arg;
    int64_t zxid;
};

struct zkp_snapshot_writer {
    struct zkp_snapshot_writer *prev, *next;
    struct mem_state *st;
    int64_t zxid;
    uint8_t *buf;
    size_t len, cap;
};

struct mem_state {
    const struct zkp_host *host;
    struct mem_store *store;
    struct mem_sync *syncs;             /* posted, not yet run */
    struct zkp_snapshot_writer *writers; /* open */
    int64_t syncs_done;                  /* counter */
};

/* Process-wide, loop thread only. */
static struct mem_store *mem_stores;

static struct mem_store *mem_store_get(const char *data_dir)
{
    for (struct mem_store *s = mem_stores; s; s = s->next)
        if (strcmp(s->data_dir, data_dir) == 0)
            return s;
    struct mem_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->data_dir = strdup(data_dir);
    if (s->data_dir == NULL) {
        free(s);
        return NULL;
    }
    s->next = mem_stores;
    mem_stores = s;
    return s;
}

/* ------------------------------------------------------------------------- */
/* Log                                                                        */

static int mem_restore(void *state, const struct zkp_restore_sink *sink, void *arg,
                       int64_t *last_zxid, char *err, size_t errlen)
{
    struct mem_state *st = state;
    struct mem_store *s = st->store;
    if (sink == NULL ||
        sink->size < offsetof(struct zkp_restore_sink, txn) + sizeof sink->txn ||
        sink->snapshot == NULL || sink->txn == NULL) {
        snprintf(err, errlen, "restore: incomplete restore sink");
        return -EINVAL;
    }
    int64_t last = 0, from = 0;
    if (s->nsnaps > 0) {
        const struct mem_snapshot *snap = &s->snaps[s->nsnaps - 1];
        int rc = sink->snapshot(arg, snap->zxid, snap->body, snap->len);
        if (rc != 0) {
            snprintf(err, errlen, "restore: snapshot 0x%" PRIx64 " refused by the core (%d)",
                     snap->zxid, rc);
            return rc < 0 ? rc : -EIO;
        }
        last = from = snap->zxid;
    }
    for (size_t i = 0; i < s->ntxns; i++) {
        const struct mem_txn *t = &s->txns[i];
        if (t->zxid <= from)
            continue;
        int rc = sink->txn(arg, t->zxid, t->data, t->len);
        if (rc != 0) {
            snprintf(err, errlen, "restore: txn 0x%" PRIx64 " refused by the core (%d)", t->zxid,
                     rc);
            return rc < 0 ? rc : -EIO;
        }
        if (t->zxid > last)
            last = t->zxid;
    }
    *last_zxid = last;
    return 0;
}

static int mem_append(void *state, int64_t zxid, const uint8_t *txn, size_t len, char *err,
                      size_t errlen)
{
    struct mem_state *st = state;
    struct mem_store *s = st->store;
    if (zxid <= s->last_zxid) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 " is not above the last logged 0x%" PRIx64,
                 zxid, s->last_zxid);
        return -EINVAL;
    }
    if (len > 0 && txn == NULL) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 ": no txn bytes", zxid);
        return -EINVAL;
    }
    if (s->ntxns == s->txn_cap) {
        size_t cap = s->txn_cap ? s->txn_cap * 2 : 256;
        struct mem_txn *t = realloc(s->txns, cap * sizeof *t);
        if (t == NULL)
            goto oom;
        s->txns = t;
        s->txn_cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        goto oom;
    if (len)
        memcpy(copy, txn, len);
    s->txns[s->ntxns++] = (struct mem_txn){.zxid = zxid, .len = len, .data = copy};
    s->last_zxid = zxid;
    s->log_bytes += (int64_t)len;
    s->log_txns++;
    return 0;
oom:
    snprintf(err, errlen, "append: zxid 0x%" PRIx64 ": out of memory for %zu bytes", zxid, len);
    return -ENOMEM;
}

static void mem_sync_unlink(struct mem_sync *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->st->syncs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void mem_sync_run(void *arg)
{
    struct mem_sync *r = arg;
    zkp_sync_cb cb = r->cb;
    void *cb_arg = r->arg;
    int64_t zxid = r->zxid;
    r->st->syncs_done++;
    mem_sync_unlink(r);
    free(r);
    cb(cb_arg, 0, zxid);
}

static int mem_sync(void *state, zkp_sync_cb cb, void *arg)
{
    struct mem_state *st = state;
    if (cb == NULL)
        return -EINVAL;
    struct mem_sync *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    *r = (struct mem_sync){.st = st, .cb = cb, .arg = arg, .zxid = st->store->last_zxid};
    r->next = st->syncs;
    if (st->syncs)
        st->syncs->prev = r;
    st->syncs = r;
    int rc = st->host->post(st->host, mem_sync_run, r);
    if (rc < 0) {
        mem_sync_unlink(r);
        free(r);
        return rc;
    }
    return 0;
}

static void mem_txn_drop(struct mem_store *s, size_t i)
{
    s->log_bytes -= (int64_t)s->txns[i].len;
    s->log_txns--;
    free(s->txns[i].data);
}

static int mem_truncate(void *state, int64_t zxid, char *err, size_t errlen)
{
    struct mem_state *st = state;
    struct mem_store *s = st->store;
    if (zxid < s->log_floor) {
        snprintf(err, errlen,
                 "truncate to 0x%" PRIx64 ": txns up to 0x%" PRIx64 " were purged, no snapshot "
                 "at or below it remains",
                 zxid, s->log_floor);
        return -EINVAL;
    }
    while (s->ntxns > 0 && s->txns[s->ntxns - 1].zxid > zxid)
        mem_txn_drop(s, --s->ntxns);
    /* Snapshots newer than the truncation point describe txns now gone. */
    while (s->nsnaps > 0 && s->snaps[s->nsnaps - 1].zxid > zxid)
        free(s->snaps[--s->nsnaps].body);
    if (s->last_zxid > zxid)
        s->last_zxid = zxid;
    return 0;
}

static int mem_purge(void *state, int retain, char *err, size_t errlen)
{
    struct mem_state *st = state;
    struct mem_store *s = st->store;
    if (retain < 1) {
        snprintf(err, errlen, "purge: must retain at least 1 snapshot, asked for %d", retain);
        return -EINVAL;
    }
    if (s->nsnaps == 0)
        return 0; /* without a snapshot every txn is needed */
    size_t drop = s->nsnaps > (size_t)retain ? s->nsnaps - (size_t)retain : 0;
    for (size_t i = 0; i < drop; i++)
        free(s->snaps[i].body);
    memmove(s->snaps, s->snaps + drop, (s->nsnaps - drop) * sizeof *s->snaps);
    s->nsnaps -= drop;
    /* Txns at or below the oldest retained snapshot are in it already. */
    int64_t floor = s->snaps[0].zxid;
    size_t n = 0;
    while (n < s->ntxns && s->txns[n].zxid <= floor)
        mem_txn_drop(s, n++);
    memmove(s->txns, s->txns + n, (s->ntxns - n) * sizeof *s->txns);
    s->ntxns -= n;
    if (floor > s->log_floor)
        s->log_floor = floor;
    return 0;
}

static int mem_read_log(void *state, int64_t from_zxid,
                        int (*cb)(void *arg, int64_t zxid, const uint8_t *txn, size_t len),
                        void *arg)
{
    struct mem_state *st = state;
    struct mem_store *s = st->store;
    if (cb == NULL)
        return -EINVAL;
    if (from_zxid < s->log_floor)
        return -ENOENT;
    /* By index: cb may append (which may move the array). */
    for (size_t i = 0; i < s->ntxns; i++) {
        if (s->txns[i].zxid <= from_zxid)
            continue;
        if (cb(arg, s->txns[i].zxid, s->txns[i].data, s->txns[i].len) != 0)
            break;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Snapshots                                                                  */

static void mem_writer_free(struct zkp_snapshot_writer *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->st->writers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->buf);
    free(w);
}

static int mem_snapshot_open(void *state, int64_t zxid, zkp_snapshot_writer **out, char *err,
                             size_t errlen)
{
    struct mem_state *st = state;
    *out = NULL;
    if (zxid < 0) {
        snprintf(err, errlen, "snapshot: negative zxid 0x%" PRIx64, zxid);
        return -EINVAL;
    }
    struct zkp_snapshot_writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "snapshot 0x%" PRIx64 ": out of memory", zxid);
        return -ENOMEM;
    }
    w->st = st;
    w->zxid = zxid;
    w->next = st->writers;
    if (st->writers)
        st->writers->prev = w;
    st->writers = w;
    *out = w;
    return 0;
}

static int mem_snapshot_write(zkp_snapshot_writer *w, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (w->cap - w->len < len) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < len) {
            if (cap > SIZE_MAX / 2)
                return -ENOMEM;
            cap *= 2;
        }
        uint8_t *b = realloc(w->buf, cap);
        if (b == NULL)
            return -ENOMEM;
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
    return 0;
}

/* Takes the writer in every case. */
static int mem_snapshot_commit(zkp_snapshot_writer *w, char *err, size_t errlen)
{
    struct mem_store *s = w->st->store;
    struct mem_snapshot *snaps = realloc(s->snaps, (s->nsnaps + 1) * sizeof *snaps);
    if (snaps == NULL) {
        snprintf(err, errlen, "snapshot 0x%" PRIx64 ": out of memory", w->zxid);
        mem_writer_free(w);
        return -ENOMEM;
    }
    s->snaps = snaps;
    /* Keep zxid order; the same zxid again replaces the older body. */
    size_t i = s->nsnaps;
    while (i > 0 && s->snaps[i - 1].zxid > w->zxid)
        i--;
    if (i > 0 && s->snaps[i - 1].zxid == w->zxid) {
        free(s->snaps[i - 1].body);
        i--;
    } else {
        memmove(&s->snaps[i + 1], &s->snaps[i], (s->nsnaps - i) * sizeof *s->snaps);
        s->nsnaps++;
    }
    s->snaps[i] = (struct mem_snapshot){.zxid = w->zxid, .len = w->len, .body = w->buf};
    w->buf = NULL;
    mem_writer_free(w);
    return 0;
}

static void mem_snapshot_abort(zkp_snapshot_writer *w)
{
    if (w != NULL)
        mem_writer_free(w);
}

static const struct zkp_storage_ops mem_ops = {
    .size = sizeof(struct zkp_storage_ops),
    .restore = mem_restore,
    .append = mem_append,
    .sync = mem_sync,
    .snapshot_open = mem_snapshot_open,
    .snapshot_write = mem_snapshot_write,
    .snapshot_commit = mem_snapshot_commit,
    .snapshot_abort = mem_snapshot_abort,
    .truncate = mem_truncate,
    .purge = mem_purge,
    .read_log = mem_read_log,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                  */

static int mem_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    const char *dir = "";
    if (host->config_string(host, "dataDir", "", &dir) < 0) {
        snprintf(err, errlen, "dataDir: invalid value");
        return -EINVAL;
    }
    struct mem_store *s = mem_store_get(dir ? dir : "");
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (s->in_use) {
        snprintf(err, errlen, "dataDir '%s' is already used by another mem storage instance",
                 s->data_dir);
        return -EBUSY;
    }
    struct mem_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->host = host;
    st->store = s;
    int rc = host->metric_register(host, "mem_log_txns", ZKP_METRIC_GAUGE, &s->log_txns);
    if (rc == 0)
        rc = host->metric_register(host, "mem_log_bytes", ZKP_METRIC_GAUGE, &s->log_bytes);
    if (rc == 0)
        rc = host->metric_register(host, "mem_syncs", ZKP_METRIC_COUNTER, &st->syncs_done);
    if (rc < 0) {
        snprintf(err, errlen, "cannot register metrics: %s", strerror(-rc));
        free(st);
        return rc;
    }
    s->in_use = 1;
    *state = st;
    return 0;
}

static int mem_start(void *state, char *err, size_t errlen) { return 0; }

static void mem_stop(void *state) {}

static void mem_fini(void *state)
{
    struct mem_state *st = state;
    /* The host dropped whatever was still posted: free the records. */
    while (st->syncs) {
        struct mem_sync *r = st->syncs;
        st->syncs = r->next;
        free(r);
    }
    while (st->writers)
        mem_writer_free(st->writers);
    st->store->in_use = 0;
    free(st);
}

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_STORAGE,
    .name = "mem",
    .version = "1.0",
    .description = "in-memory txn log and snapshots (standalone runs, tests)",
    .init = mem_init,
    .start = mem_start,
    .stop = mem_stop,
    .fini = mem_fini,
    .ops = &mem_ops,
};
