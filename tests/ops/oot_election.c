/*
 * An election plugin built outside zkplug's source tree from the installed
 * SDK alone (pkg-config --cflags zkplug): the out-of-tree build test compiles
 * it and loads it with `zkplug -t election:rotating`. It decides a single-peer
 * election at once (this peer leads), which is enough to exercise the ABI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zkplug/plugin.h>

struct rotating {
    const struct zkp_host *host;
    struct zkp_vote current;
    enum zkp_peer_state state;
};

static int rotating_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    struct rotating *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->host = host;
    *state = r;
    return 0;
}

static int rotating_start(void *state, char *err, size_t errlen)
{
    (void)state;
    (void)err;
    (void)errlen;
    return 0;
}

static void rotating_stop(void *state) { (void)state; }
static void rotating_fini(void *state) { free(state); }

static int rotating_look(void *state, const struct zkp_vote *own, zkp_election_done_cb done_cb, void *arg)
{
    struct rotating *r = state;
    r->current = *own;
    done_cb(arg, ZKP_PEER_LEADING, &r->current);
    return 0;
}

static void rotating_cancel(void *state) { (void)state; }

static void rotating_set_current_vote(void *state, enum zkp_peer_state st, const struct zkp_vote *vote)
{
    struct rotating *r = state;
    r->state = st;
    r->current = *vote;
}

static const struct zkp_election_ops rotating_ops = {
    .size = sizeof(struct zkp_election_ops),
    .look_for_leader = rotating_look,
    .cancel = rotating_cancel,
    .set_current_vote = rotating_set_current_vote,
};

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_ELECTION,
    .name = "rotating",
    .version = "1.0",
    .description = "example election plugin built out of tree",
    .init = rotating_init,
    .start = rotating_start,
    .stop = rotating_stop,
    .fini = rotating_fini,
    .ops = &rotating_ops,
};
