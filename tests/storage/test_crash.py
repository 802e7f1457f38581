#!/usr/bin/python3
"""Crash durability: kill -9 zkplug under concurrent writes, restart it on the
same dataDir and check that nothing acknowledged was lost.

Several writer threads, each with its own session, keep a few pipelined
requests outstanding, alternating creates of unique znodes
(/crash/c<w>/<cycle>-<n>, unique data of 0 to 3000 bytes) and setData of
unique values on their own znode /crash/s<w>. Every request is recorded
before it is sent; a reply marks it acknowledged. At a random moment the
server gets SIGKILL; whatever was sent and not answered is "in flight". The
server is restarted on the same dataDir and the checks are:

  - every acknowledged create exists with its data; every znode seen after an
    earlier restart still exists;
  - no znode appears that was never sent (the children of /crash/c<w> are
    acknowledged or in-flight names);
  - /crash/s<w> has the latest acknowledged value at the version the reply
    reported, or a later in-flight value of the same writer at the version it
    must have (one more per setData);
  - per writer, the in-flight requests that took effect are a prefix of those
    sent (a session's requests apply in order);
  - setData replies report consecutive versions; no request fails.

At the end every znode ever acknowledged is read back once more. The counts
(cycles, acknowledged writes checked, in-flight writes found / not found) are
printed. Exit status 0 only when all checks passed and at least --min-cycles
kill/restart cycles ran within --time-limit seconds.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkstore  # noqa: E402
from zkstore import RawClient, ConnLost, OP_CREATE, OP_SETDATA, p_str, p_buf, p_int  # noqa: E402


class Op:
    __slots__ = ("kind", "path", "value", "version", "acked")

    def __init__(self, kind, path, value, version=None):
        self.kind = kind        # "create" or "set"
        self.path = path
        self.value = value
        self.version = version  # for "set": the version it must produce
        self.acked = False


class Writer(threading.Thread):
    def __init__(self, test, w, cycle, set_version, rng):
        super().__init__(daemon=True)
        self.t = test
        self.w = w
        self.cycle = cycle
        self.next_version = set_version + 1
        self.rng = rng
        self.ops = []           # in send order
        self.errors = []
        self.no_session = False
        self.n = 0

    def next_op(self):
        self.n += 1
        if self.n % 2:
            path = "/crash/c%d/%d-%d" % (self.w, self.cycle, self.n)
            size = self.rng.choice((0, 1, 16, 100, 700, 3000))
            head = ("w%d c%d n%d " % (self.w, self.cycle, self.n)).encode()
            value = (head * (size // len(head) + 1))[:size] if size else b""
            return Op("create", path, value)
        op = Op("set", "/crash/s%d" % self.w, ("w%d c%d n%d" % (self.w, self.cycle, self.n)).encode(),
                self.next_version)
        self.next_version += 1
        return op

    def run(self):
        try:
            c = RawClient(self.t.port, timeout_ms=6000, sock_timeout=10.0)
        except (ConnLost, OSError):
            # The kill can come before this writer's handshake finished (a
            # loaded machine starts threads late): nothing was sent, nothing
            # can be lost. Counted; the run still needs enough acknowledged
            # writes overall.
            self.no_session = True
            return
        pending = {}
        order = []
        deadline = time.monotonic() + self.t.args.max_cycle_s
        try:
            while time.monotonic() < deadline:
                while len(pending) < self.t.args.outstanding:
                    op = self.next_op()
                    self.ops.append(op)  # recorded before a byte is sent
                    if op.kind == "create":
                        xid = c.send(OP_CREATE, c.create_body(op.path, op.value, flags=0))
                    else:
                        xid = c.send(OP_SETDATA, p_str(op.path) + p_buf(op.value) + p_int(-1))
                    pending[xid] = op
                    order.append(xid)
                xid, zxid, err, r = c.recv()
                if xid != order[0]:
                    self.errors.append("writer %d: reply %d out of order (expected %d)" % (self.w, xid, order[0]))
                    return
                order.pop(0)
                op = pending.pop(xid)
                if err != 0:
                    self.errors.append("writer %d: %s %s failed with error %d" % (self.w, op.kind, op.path, err))
                    return
                if op.kind == "set":
                    stat = r.stat()
                    if stat["version"] != op.version:
                        self.errors.append("writer %d: setData %s replied version %d, expected %d"
                                           % (self.w, op.path, stat["version"], op.version))
                        return
                op.acked = True
            self.errors.append("writer %d: the server was not killed within %.0f s" % (self.w, self.t.args.max_cycle_s))
        except ConnLost:
            pass
        finally:
            c.close_socket()


class CrashTest:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.base = tempfile.mkdtemp(prefix="zkplug-storage-crash-")
        self.port = zkstore.free_port()
        settings = {"tickTime": "2000"}
        if args.snap_count:
            settings["snapCount"] = str(args.snap_count)
        for kv in args.setting:
            k, _, v = kv.partition("=")
            settings[k] = v
        self.server = zkstore.Server("zkplug", self.base, self.port, zkplug=args.zkplug,
                                     plugin_dir=args.plugins, settings=settings,
                                     compression=args.compression)
        self.durable = [dict() for _ in range(args.writers)]   # create path -> data
        self.set_state = [None] * args.writers                 # (value, version)
        self.failures = []
        self.count = dict(cycles=0, no_session=0, acked_creates=0, acked_sets=0, inflight_found=0,
                          inflight_lost=0, znodes_checked=0)

    def fail(self, msg):
        if len(self.failures) < 50:
            print("FAIL: " + msg)
        self.failures.append(msg)

    def setup(self):
        c = RawClient(self.port)
        c.create("/crash", b"")
        for w in range(self.args.writers):
            c.create("/crash/c%d" % w, b"")
            c.create("/crash/s%d" % w, b"initial")
            self.set_state[w] = (b"initial", 0)
        c.close()

    def cycle(self, cycle):
        writers = [Writer(self, w, cycle, self.set_state[w][1], random.Random(self.rng.random()))
                   for w in range(self.args.writers)]
        for wr in writers:
            wr.start()
        time.sleep(self.rng.uniform(self.args.min_kill_s, self.args.max_kill_s))
        self.server.kill()
        for wr in writers:
            wr.join(30)
            if wr.is_alive():
                self.fail("writer %d did not stop after the kill" % wr.w)
                return False
            for e in wr.errors:
                self.fail("cycle %d: %s" % (cycle, e))
            if wr.no_session:
                self.count["no_session"] += 1
        try:
            t = self.server.start(timeout_s=30)
        except RuntimeError as e:
            self.fail("cycle %d: restart after kill -9 failed: %s" % (cycle, e))
            return False
        self.restart_times.append(t)
        self.verify_cycle(cycle, writers)
        return True

    def verify_cycle(self, cycle, writers):
        c = RawClient(self.port, sock_timeout=30.0)
        for wr in writers:
            w = wr.w
            acked = [op for op in wr.ops if op.acked]
            inflight = [op for op in wr.ops if not op.acked]
            self.count["acked_creates"] += sum(1 for op in acked if op.kind == "create")
            self.count["acked_sets"] += sum(1 for op in acked if op.kind == "set")
            for op in acked:
                if op.kind == "create":
                    self.durable[w][op.path] = op.value
            parent = "/crash/c%d" % w
            try:
                children = set(parent + "/" + ch for ch in c.get_children(parent))
            except zkstore.ZkError as e:
                self.fail("cycle %d: acknowledged %s cannot be listed (error %d)" % (cycle, parent, e.code))
                children = set()
            inflight_creates = dict((op.path, op) for op in inflight if op.kind == "create")
            for path in self.durable[w]:
                if path not in children:
                    self.fail("cycle %d: writer %d: acknowledged %s is missing" % (cycle, w, path))
            for path in children:
                if path not in self.durable[w] and path not in inflight_creates:
                    self.fail("cycle %d: writer %d: %s appeared but was never sent" % (cycle, w, path))
            applied = {}
            for path, op in inflight_creates.items():
                applied[id(op)] = path in children
            # data of everything acknowledged or found this cycle
            check = [op.path for op in acked if op.kind == "create"] + \
                    [p for p in inflight_creates if p in children]
            got = c.get_many(check)
            for path in check:
                want = self.durable[w].get(path, inflight_creates[path].value if path in inflight_creates else None)
                g = got.get(path)
                if g is None:
                    continue  # reported above as missing
                if g[0] != want:
                    self.fail("cycle %d: %s has data %r, expected %r" % (cycle, path, g[0][:60], want[:60]))
                self.count["znodes_checked"] += 1
            for path in inflight_creates:
                if path in children:
                    self.durable[w][path] = inflight_creates[path].value
            # the setData znode
            sets = [op for op in wr.ops if op.kind == "set"]
            last_acked = None
            for op in sets:
                if op.acked:
                    last_acked = op
            base = (last_acked.value, last_acked.version) if last_acked else self.set_state[w]
            later = [op for op in sets if not op.acked]
            got = c.get_data("/crash/s%d" % w)
            if got is None:
                self.fail("cycle %d: /crash/s%d is missing" % (cycle, w))
                continue
            data, stat = got
            matched = None
            if (data, stat["version"]) == base:
                matched = -1
            else:
                for i, op in enumerate(later):
                    if (data, stat["version"]) == (op.value, op.version):
                        matched = i
                        break
            if matched is None:
                self.fail("cycle %d: /crash/s%d is %r at version %d; acknowledged %r at version %d, "
                          "in flight %s" % (cycle, w, data, stat["version"], base[0], base[1],
                                            [(op.value, op.version) for op in later]))
            else:
                for i, op in enumerate(later):
                    applied[id(op)] = i <= matched
            self.set_state[w] = (data, stat["version"])
            # session order: the in-flight requests that took effect are a prefix
            flags = [applied[id(op)] for op in inflight]
            if any(b and not a for a, b in zip(flags, flags[1:])):
                self.fail("cycle %d: writer %d: in-flight requests applied out of order: %s"
                          % (cycle, w, ["%s:%s" % (op.kind, "yes" if applied[id(op)] else "no")
                                        for op in inflight]))
            found = sum(1 for f in flags if f)
            self.count["inflight_found"] += found
            self.count["inflight_lost"] += len(flags) - found
        c.close()

    def final_check(self):
        c = RawClient(self.port, sock_timeout=30.0)
        total = 0
        for w in range(self.args.writers):
            got = c.get_many(list(self.durable[w]))
            for path, want in self.durable[w].items():
                g = got.get(path)
                if g is None:
                    self.fail("final: %s is missing" % path)
                elif g[0] != want:
                    self.fail("final: %s has the wrong data" % path)
                total += 1
            data, stat = c.get_data("/crash/s%d" % w)
            if (data, stat["version"]) != self.set_state[w]:
                self.fail("final: /crash/s%d changed without a write" % w)
        c.close()
        return total

    def run(self):
        t0 = time.monotonic()
        self.restart_times = []
        self.server.start(timeout_s=30)
        self.setup()
        cycle = 0
        while cycle < self.args.cycles and time.monotonic() - t0 < self.args.time_limit:
            cycle += 1
            if not self.cycle(cycle):
                break
            self.count["cycles"] = cycle
            if self.failures:
                break
        if not self.failures and self.server.alive():
            total = self.final_check()
            print("final check: %d created znodes read back" % total)
        self.server.stop()
        elapsed = time.monotonic() - t0
        n = self.count
        print("cycles %d in %.1f s; acknowledged writes checked: %d creates, %d setData; "
              "in-flight writes found after restart: %d, not found: %d; znodes data-checked: %d; "
              "writers killed before their handshake: %d"
              % (n["cycles"], elapsed, n["acked_creates"], n["acked_sets"], n["inflight_found"],
                 n["inflight_lost"], n["znodes_checked"], n["no_session"]))
        if self.restart_times:
            print("restart after kill -9: median %.0f ms, max %.0f ms" % (
                sorted(self.restart_times)[len(self.restart_times) // 2] * 1000,
                max(self.restart_times) * 1000))
        if not self.failures and n["cycles"] < self.args.min_cycles:
            self.fail("only %d kill/restart cycles within %d s (want %d)"
                      % (n["cycles"], self.args.time_limit, self.args.min_cycles))
        if not self.failures and n["acked_creates"] + n["acked_sets"] < 50 * n["cycles"]:
            self.fail("too few acknowledged writes (%d) for a meaningful check"
                      % (n["acked_creates"] + n["acked_sets"]))
        if self.failures:
            print("---- zkplug log tail ----\n" + self.server.log_tail(40))

    def cleanup(self):
        self.server.kill()
        if os.environ.get("ZKPLUG_TEST_KEEP"):
            print("kept %s" % self.base)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkplug", required=True)
    ap.add_argument("--plugins", required=True)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--outstanding", type=int, default=4)
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--min-cycles", type=int, default=20)
    ap.add_argument("--time-limit", type=int, default=150)
    ap.add_argument("--min-kill-s", type=float, default=0.05)
    ap.add_argument("--max-kill-s", type=float, default=1.5)
    ap.add_argument("--max-cycle-s", type=float, default=20.0)
    ap.add_argument("--snap-count", type=int, default=0)
    ap.add_argument("--compression", default=None, choices=[None, "gz"])
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra zoo.cfg line (repeatable)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    print("crash test: %d writers x %d outstanding, snapCount=%s, compression=%s, seed %d" % (
        args.writers, args.outstanding, args.snap_count or "default", args.compression or "none", args.seed))
    t = CrashTest(args)
    try:
        t.run()
    except (RuntimeError, ConnLost, zkstore.ZkError, OSError) as e:
        t.fail("%s: %s" % (type(e).__name__, e))
    finally:
        t.cleanup()
    if t.failures:
        print("%d failure(s)" % len(t.failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
