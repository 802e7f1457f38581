#!/usr/bin/python3
"""dataDir interoperability between zkplug and Apache ZooKeeper 3.8.

A chain of servers runs one after the other on the same dataDir and port,
e.g. --chain zookeeper,zkplug,zookeeper:

  hop 0   the first server starts on an empty dataDir; a varied tree is built
          through kazoo and a raw client (persistent, sequential, ephemeral
          and ephemeral-sequential nodes of a session left open, a container,
          TTL nodes, digest / auth / ip / world ACLs, setACL, empty, null and
          up to 100 KB of data, setData so versions > 0, deletes so cversion
          and pzxid move, a multi); every znode's data, full Stat, ACL and
          child list is recorded; the server is stopped with SIGTERM.
  hop i   the next server starts on that dataDir and must report exactly the
          recorded tree (every Stat field, data byte for byte, ACLs, child
          lists), the open sessions must still exist (resume by id and
          password succeeds, a wrong password is refused), a new znode must
          get a zxid above every recorded one and the sequential counters
          must continue; unless it is the last hop, it changes the tree
          further (creates, setData, deletes, setACL, a new ephemeral
          session), records it and stops.

At the end the first open session is closed and its ephemerals must vanish.
--compression gz writes gzip snapshots on both servers; --snap-count N makes
both take snapshots every ~N txns, so a restart reads snapshots and logs.
Exit status 0 only when every hop matched.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkstore  # noqa: E402
from zkstore import RawClient  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl, make_acl, OPEN_ACL_UNSAFE  # noqa: E402

USER1, USER2 = ("alice", "alice-secret"), ("bob", "bob-secret")
SESSION_TIMEOUT_MS = 40000  # the largest the default tickTime=2000 allows
TTL_MS = 3600 * 1000


def rnd_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


class Interop:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.base = tempfile.mkdtemp(prefix="zkplug-storage-interop-")
        self.port = zkstore.free_port()
        self.sessions = []       # (session_id, passwd, [ephemeral paths]) left open
        self.expected = None     # path -> (data, stat, acl, children)
        self.failures = []
        self.seq_prefixes = []   # parents of sequential children: (parent, prefix)

    # ------------------------------------------------------------ servers
    def server(self, kind):
        settings = {}
        if self.args.snap_count:
            settings["snapCount"] = str(self.args.snap_count)
        return zkstore.Server(kind, self.base, self.port, zkplug=self.args.zkplug,
                              plugin_dir=self.args.plugins, settings=settings,
                              compression=self.args.compression,
                              properties={"zookeeper.extendedTypesEnabled": "true"})

    def snapshots(self):
        d = os.path.join(self.base, "data", "version-2")
        if not os.path.isdir(d):
            return set()
        return set(f for f in os.listdir(d) if f.startswith("snapshot."))

    def logs(self):
        d = os.path.join(self.base, "data", "version-2")
        if not os.path.isdir(d):
            return set()
        return set(f for f in os.listdir(d) if f.startswith("log."))

    def fail(self, msg):
        print("FAIL: " + msg)
        self.failures.append(msg)

    # ------------------------------------------------------------ reading
    def walk(self):
        """Every znode: path -> (data, stat, acl, sorted children)."""
        c = RawClient(self.port)
        c.add_auth("digest", ("%s:%s" % USER1).encode())
        c.add_auth("digest", ("%s:%s" % USER2).encode())
        out = {}
        todo = ["/"]
        while todo:
            path = todo.pop()
            got = c.get_data(path)
            if got is None:
                continue  # deleted meanwhile (cannot happen: no other writer)
            data, stat = got
            acl, acl_stat = c.get_acl(path)
            if acl_stat != stat:
                self.fail("%s: getACL stat %s differs from getData stat %s" % (path, acl_stat, stat))
            children = sorted(c.get_children(path))
            out[path] = (data, stat, sorted(acl), children)
            for ch in children:
                todo.append(("/" if path == "/" else path + "/") + ch)
        c.close()
        return out

    def compare(self, hop, kind, got):
        exp = self.expected
        diffs = []
        for path in sorted(set(exp) | set(got)):
            if path not in got:
                diffs.append("%s: missing" % path)
                continue
            if path not in exp:
                diffs.append("%s: unexpected znode %r" % (path, got[path][1]))
                continue
            (ed, es, ea, ec), (gd, gs, ga, gc) = exp[path], got[path]
            if ed != gd:
                diffs.append("%s: data %r... (%s bytes) != expected %r... (%s bytes)" % (
                    path, (gd or b"")[:40], None if gd is None else len(gd),
                    (ed or b"")[:40], None if ed is None else len(ed)))
            for f in zkstore.STAT_FIELDS:
                if es[f] != gs[f]:
                    diffs.append("%s: stat.%s %#x != expected %#x" % (path, f, gs[f], es[f]))
            if ea != ga:
                diffs.append("%s: acl %s != expected %s" % (path, ga, ea))
            if ec != gc:
                diffs.append("%s: children %s != expected %s" % (path, gc, ec))
        if diffs:
            self.fail("hop %d (%s): %d difference(s) from the tree recorded before the restart:\n  %s"
                      % (hop, kind, len(diffs), "\n  ".join(diffs[:40])))
        else:
            print("hop %d (%s): %d znodes identical (data, Stat, ACL, children)" % (hop, kind, len(got)))

    @staticmethod
    def max_zxid(tree):
        return max(max(s["czxid"], s["mzxid"], s["pzxid"]) for (_, s, _, _) in tree.values())

    # ------------------------------------------------------------ writing
    def kazoo(self):
        zk = KazooClient(hosts="127.0.0.1:%d" % self.port, timeout=15.0)
        zk.start(timeout=15)
        zk.add_auth("digest", "%s:%s" % USER1)
        return zk

    def open_session_with_ephemerals(self, tag):
        """A raw session with ephemeral nodes, left open (socket dropped,
        session not closed) so that it must survive the restart."""
        c = RawClient(self.port, timeout_ms=SESSION_TIMEOUT_MS)
        paths = [c.create("/app/eph-%s" % tag, b"owned by " + tag.encode(), flags=1),
                 c.create("/app/seq/eph-%s-" % tag, b"", flags=3),
                 c.create("/app/seq/eph-%s-" % tag, None, flags=3)]
        c.ping()
        self.sessions.append((c.session_id, c.passwd, paths))
        c.close_socket()
        return paths

    def build(self):
        rng = self.rng
        zk = self.kazoo()
        u1 = make_digest_acl(USER1[0], USER1[1], all=True)
        u2r = make_digest_acl(USER2[0], USER2[1], read=True, write=True)
        zk.create("/app", b"app-root")
        zk.create("/app/config")
        for i, n in enumerate([0, 1, 2, 100, 1023, 4096, 65536, 100000]):
            zk.create("/app/config/size-%d" % n, rnd_bytes(rng, n))
        zk.create("/app/config/v", b"v0")
        for i in range(1, 6):
            zk.set("/app/config/v", ("v%d" % i).encode(), version=i - 1)
        zk.set("/app/config/size-0", b"", version=0)  # version 1, still empty
        zk.create("/app/seq")
        for i in range(10):
            zk.create("/app/seq/item-", str(i).encode(), sequence=True)
        self.seq_prefixes.append(("/app/seq", "item-"))
        zk.create("/app/churn")
        for i in range(12):
            zk.create("/app/churn/x%d" % i, b"x" * i)
        for i in range(0, 12, 2):
            zk.delete("/app/churn/x%d" % i)
        zk.create("/app/churn/gone")
        zk.delete("/app/churn/gone")
        zk.create("/app/deep/a/b/c/d/e", b"leaf", makepath=True)
        # ACLs
        zk.create("/secure", b"s", acl=[u1])
        zk.create("/secure/shared", b"both", acl=[u1, u2r])
        zk.create("/secure/auth", b"auth scheme", acl=[make_acl("auth", "", all=True)])
        zk.create("/secure/world-read", b"wr", acl=[make_acl("world", "anyone", read=True),
                                                     make_digest_acl(USER1[0], USER1[1], admin=True, write=True)])
        zk.create("/secure/ip", b"ip", acl=[make_acl("ip", "127.0.0.1", all=True)])
        zk.create("/secure/ipnet", b"ipnet", acl=[make_acl("ip", "127.0.0.0/8", read=True, create=True),
                                                   u1])
        zk.create("/secure/acl-changed", b"a", acl=OPEN_ACL_UNSAFE)
        zk.set_acls("/secure/acl-changed", [u1, make_acl("world", "anyone", read=True)], version=0)
        zk.set_acls("/secure/acl-changed", [u1, u2r], version=1)
        # a multi: several txns at one zxid
        t = zk.transaction()
        t.create("/multi", b"m")
        t.create("/multi/one", b"1")
        t.create("/multi/two", b"2")
        t.set_data("/app/config/v", b"v6")
        t.delete("/app/churn/x1")
        res = t.commit()
        if any(isinstance(r, Exception) for r in res):
            raise RuntimeError("multi failed: %r" % res)
        zk.stop()
        zk.close()
        # raw client: null data, a container, TTL nodes
        c = RawClient(self.port)
        c.add_auth("digest", ("%s:%s" % USER1).encode())
        c.create("/app/null", None)
        c.create("/app/empty", b"")
        c.create_container("/app/container", b"c")
        c.create("/app/container/child", b"keeps the container")
        c.create_ttl("/app/ttl", b"t", TTL_MS)
        c.create_ttl("/app/ttl-seq-", b"ts", TTL_MS, sequential=True)
        c.close()
        self.open_session_with_ephemerals("s0")

    def change(self, hop):
        """Further changes made by the server of hop `hop` (>= 1)."""
        zk = self.kazoo()
        base = "/hop%d" % hop
        zk.create(base, ("hop %d" % hop).encode())
        for k in range(30):
            p = "%s/k%d" % (base, k)
            zk.create(p, rnd_bytes(self.rng, k * 7))
            zk.set(p, ("updated %d" % k).encode())
        v = zk.get("/app/config/v")[1].version
        zk.set("/app/config/v", ("v-hop%d" % hop).encode(), version=v)
        left = sorted(zk.get_children("/app/churn"))
        zk.delete("/app/churn/" + left[0])
        zk.create("/app/churn/hop%d" % hop, b"")
        for i in range(3):
            zk.create("/app/seq/item-", ("hop%d-%d" % (hop, i)).encode(), sequence=True)
        st = zk.get_acls("/secure/acl-changed")[1]
        zk.set_acls("/secure/acl-changed", [make_digest_acl(USER1[0], USER1[1], all=True),
                                            make_acl("world", "anyone", read=True)], version=st.aversion)
        # delete one ephemeral of the first session from another session
        first = self.sessions[0][2]
        victim = first[1]
        if zk.exists(victim):
            zk.delete(victim)
        zk.stop()
        zk.close()
        self.open_session_with_ephemerals("s%d" % hop)

    # ------------------------------------------------------------ checks
    def check_sessions(self, hop, kind):
        for sid, pwd, paths in self.sessions:
            if zkstore.session_alive(self.port, sid, b"\x01" * 16, SESSION_TIMEOUT_MS):
                self.fail("hop %d (%s): session %#x resumed with a wrong password" % (hop, kind, sid))
            if zkstore.session_alive(self.port, sid, pwd, SESSION_TIMEOUT_MS):
                print("hop %d (%s): open session %#x resumed with its id and password" % (hop, kind, sid))
            else:
                self.fail("hop %d (%s): open session %#x does not exist after the restart" % (hop, kind, sid))

    def check_new_zxid(self, hop, kind):
        top = self.max_zxid(self.expected)
        c = RawClient(self.port)
        c.create("/zxid-probe-%d" % hop, b"")
        stat = c.get_data("/zxid-probe-%d" % hop)[1]
        # sequential numbering continues from the parent's cversion
        name = c.create("/app/seq/item-", b"probe", flags=2)
        c.close()
        if stat["czxid"] <= top:
            self.fail("hop %d (%s): new znode got zxid %#x, not above the recorded %#x"
                      % (hop, kind, stat["czxid"], top))
        # ZooKeeper counts creates in the stored cversion and reports
        # 2 * creates - numChildren; the suffix is the number of creates.
        exp_parent = self.expected["/app/seq"][1]
        want = "/app/seq/item-%010d" % ((exp_parent["cversion"] + exp_parent["numChildren"]) // 2)
        if name != want:
            self.fail("hop %d (%s): sequential create got %s, expected %s" % (hop, kind, name, want))

    def check_snapshot_files(self, hop, kind, before):
        new = sorted(self.snapshots() - before)
        want_gz = self.args.compression == "gz"
        for f in new:
            if f.endswith(".gz") != want_gz or f.endswith(".snappy"):
                self.fail("hop %d (%s): wrote %s with compression=%s" % (hop, kind, f, self.args.compression))
        if self.args.snap_count and not new:
            self.fail("hop %d (%s): no snapshot written with snapCount=%d" % (hop, kind, self.args.snap_count))
        print("hop %d (%s): new snapshots %s; logs now %s" % (hop, kind, new or "none", sorted(self.logs())))

    def close_first_session(self, kind):
        sid, pwd, paths = self.sessions[0]
        c = RawClient(self.port, timeout_ms=SESSION_TIMEOUT_MS, session_id=sid, passwd=pwd)
        c.close()
        c = RawClient(self.port)
        left = [p for p in paths if c.get_data(p) is not None]
        c.close()
        if left:
            self.fail("(%s) closing session %#x left its ephemerals %s" % (kind, sid, left))
        else:
            print("(%s) closing session %#x removed its ephemerals" % (kind, sid))

    # ------------------------------------------------------------ main
    def run(self):
        chain = self.args.chain.split(",")
        for hop, kind in enumerate(chain):
            srv = self.server(kind)
            snaps_before = self.snapshots()
            try:
                t = srv.start(timeout_s=90)
            except RuntimeError as e:
                self.fail("hop %d: %s" % (hop, e))
                return
            print("hop %d (%s): started in %.2f s on %s" % (hop, kind, t, sorted(snaps_before) or "no snapshot"))
            try:
                if hop == 0:
                    self.build()
                else:
                    self.compare(hop, kind, self.walk())
                    self.check_sessions(hop, kind)
                    self.check_new_zxid(hop, kind)
                    if hop + 1 < len(chain):
                        self.change(hop)
                    else:
                        self.close_first_session(kind)
                self.expected = self.walk()
            except Exception as e:  # a protocol error is a failure of this hop
                traceback.print_exc()
                self.fail("hop %d (%s): %s: %s" % (hop, kind, type(e).__name__, e))
                print(srv.log_tail(30))
                srv.stop()
                return
            rc = srv.stop()
            if rc not in (0, 143, -15):
                self.fail("hop %d (%s): exit status %s after SIGTERM" % (hop, kind, rc))
            self.check_snapshot_files(hop, kind, snaps_before)
            if self.failures:
                print("---- %s log tail ----\n%s" % (kind, srv.log_tail(30)))
                return

    def cleanup(self):
        if os.environ.get("ZKPLUG_TEST_KEEP"):
            print("kept %s" % self.base)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkplug", required=True)
    ap.add_argument("--plugins", required=True)
    ap.add_argument("--chain", default="zookeeper,zkplug,zookeeper")
    ap.add_argument("--compression", default=None, choices=[None, "gz"])
    ap.add_argument("--snap-count", type=int, default=0)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    if "zookeeper" in args.chain:
        ok, why = zkstore.java_available()
        if not ok:
            print("FAIL: Apache ZooKeeper cannot run here: %s" % why)
            return 1
    print("chain %s, compression=%s, snapCount=%s, seed %d" % (
        args.chain, args.compression or "none", args.snap_count or "default", args.seed))
    t = Interop(args)
    try:
        t.run()
    finally:
        t.cleanup()
    if t.failures:
        print("%d failure(s)" % len(t.failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
