#!/usr/bin/python3
# Ensemble scenarios (leader failover under load, observer, DIFF/SNAP/TRUNC
# catch-up, read-only mode) against real ZooKeeper 3.8.0 or zkplug servers.
"""Ensemble scenarios, one per run, named on the command line:

  three     3 participants, 4 writer threads; the leader is killed (-9) and
            restarted 3 times; acknowledged writes survive, trees identical
  five      the same with 5 participants
  observer  3 participants + 1 observer: writes through the observer and
            a participant, observer converges, killing it does not stop writes
  diff      a follower is stopped, 200 znodes written, it restarts and
            catches up (DIFF)
  snap      snapCount=20, a follower is killed, 2000 znodes written, its
            dataDir is emptied (myid kept), it restarts and catches up (SNAP)
  trunc     the leader logs proposals no follower ever receives, dies, the
            others elect a new leader and move on; the old leader restarts
            and must drop its uncommitted tail (TRUNC)
  readonly  readonlymode.enabled: 2 of 3 killed, the survivor turns read-only
            (reads served, writes refused), the 2 return, writes work again
  stepdown  both followers stopped (SIGSTOP): the leader stops serving within
            syncLimit ticks and acknowledges nothing; they resume, it recovers
  mixed     (zkplug) server 3 runs Apache ZooKeeper, 1 and 2 zkplug: the
            `three` failover rounds across the two kinds
  reconfig  reconfigEnabled: 3 -> 4 servers, the leader removed, a follower
            turned observer and back, under write load
  sessionmoved  a session taken over through another server: the old
            connection's write gets SessionMoved
  luahooks  (zkplug) Lua state_change / leader_elected events and zk.server()'s
            peers on ensemble members, across a leader change
  preferred (zkplug) the example election plugin leads an ensemble with its
            preferred server, fails over and rejoins

  test_ensemble.py --server zk SCENARIO
  test_ensemble.py --server zkplug --bin build/core/zkplug --plugins build/plugins SCENARIO

Every process is started by this script and stopped by its PID; every wait
and every loop is bounded; each scenario has a hard time limit. Exit status
0 = passed; a violation prints a FAIL line and exits 1. Temporary
directories are removed on success; --keep (or a failure) keeps them.
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
import ensemble  # noqa: E402
from ensemble import Ensemble, Failure, check, close_client, four_letter, log_text  # noqa: E402

from kazoo.exceptions import (ConnectionLoss, SessionExpiredError, ConnectionClosedError,  # noqa: E402
                              SessionMovedError, NotReadOnlyCallError, OperationTimeoutError,
                              KazooException)
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

# Outcomes that leave a write's fate unknown (neither acknowledged nor failed).
UNKNOWN = (ConnectionLoss, SessionExpiredError, ConnectionClosedError, SessionMovedError,
           OperationTimeoutError, KazooTimeoutError)

SHARED = ["/ens/s0", "/ens/s1", "/ens/s2"]


def say(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------ writers

class Op:
    __slots__ = ("kind", "path", "data", "t_sent", "t_ack", "result")

    def __init__(self, kind, path, data):
        self.kind = kind      # "create" or "set"
        self.path = path      # create: the sequential prefix; set: the znode
        self.data = data
        self.t_sent = time.monotonic()
        self.t_ack = None     # set when acknowledged
        self.result = None    # create: the created path; set: the new version


class Writer(threading.Thread):
    """One kazoo session over `servers`, creating sequential znodes under
    /ens/c and setting data on the shared znodes, one request at a time.
    Every request is recorded before it is sent."""

    MAX_OPS = 200000

    def __init__(self, ens, w, servers=None, prefix="/ens/c/w"):
        super().__init__(daemon=True, name="writer-%d" % w)
        self.ens = ens
        self.w = w
        self.servers = servers
        self.prefix = "%s%d-" % (prefix, w)
        self.stop_ev = threading.Event()
        self.ops = []
        self.errors = []
        self.unknown = 0
        self.rng = random.Random(w)

    def acked(self):
        return [op for op in self.ops if op.t_ack is not None]

    def first_ack_after(self, t):
        best = None
        for op in reversed(self.ops):
            if op.t_sent < t:
                break
            if op.t_ack is not None and (best is None or op.t_ack < best):
                best = op.t_ack
        return best

    def acks_after(self, t):
        n = 0
        for op in reversed(self.ops):
            if op.t_sent < t:
                break
            n += op.t_ack is not None
        return n

    def run(self):
        c = None
        deadline = time.monotonic() + 60
        while c is None and not self.stop_ev.is_set():
            try:
                c = self.ens.client(self.servers, timeout=10)
            except Exception as e:  # noqa: BLE001
                if time.monotonic() > deadline:
                    self.errors.append("writer %d: no session within 60 s: %s" % (self.w, e))
                    return
        n = 0
        while not self.stop_ev.is_set() and n < self.MAX_OPS:
            n += 1
            if n % 3:
                op = Op("create", self.prefix, b"w%d n%d" % (self.w, n))
                self.ops.append(op)
                fut = c.create_async(op.path, op.data, sequence=True)
            else:
                op = Op("set", self.rng.choice(SHARED), b"w%d n%d" % (self.w, n))
                self.ops.append(op)
                fut = c.set_async(op.path, op.data)
            try:
                res = fut.get(timeout=15)
            except UNKNOWN:
                self.unknown += 1
                time.sleep(0.02)
                continue
            except KazooException as e:
                self.errors.append("writer %d: %s %s failed: %s" % (self.w, op.kind, op.path,
                                                                     type(e).__name__))
                return
            op.result = res if op.kind == "create" else res.version
            op.t_ack = time.monotonic()
        self.ens.release(c)


class Load:
    def __init__(self, ens, n, servers=None):
        self.writers = [Writer(ens, w, servers) for w in range(n)]

    def start(self):
        for wr in self.writers:
            wr.start()

    def stop(self):
        for wr in self.writers:
            wr.stop_ev.set()
        for wr in self.writers:
            wr.join(30)
            check(not wr.is_alive(), "writer %d did not stop within 30 s" % wr.w)
        for wr in self.writers:
            check(not wr.errors, "; ".join(wr.errors))

    def first_ack_after(self, t):
        times = [x for x in (wr.first_ack_after(t) for wr in self.writers) if x is not None]
        return min(times) if times else None

    def acks_after(self, t):
        return sum(wr.acks_after(t) for wr in self.writers)

    def check_errors(self):
        for wr in self.writers:
            check(not wr.errors, "; ".join(wr.errors))

    def verify(self, trees):
        """Every acknowledged create on every tree with its data; every
        shared znode at least at its highest acknowledged version; every
        child of /ens/c is a write that was sent, and none appears twice."""
        sent = {}
        max_ver = {p: 0 for p in SHARED}
        sent_set = {p: {b"initial"} for p in SHARED}
        creates = sets = 0
        for wr in self.writers:
            for op in wr.ops:
                if op.kind == "create":
                    sent[op.data] = op
                else:
                    sent_set[op.path].add(op.data)
                if op.t_ack is None:
                    continue
                if op.kind == "create":
                    creates += 1
                else:
                    sets += 1
                    max_ver[op.path] = max(max_ver[op.path], op.result)
        for sid, tree in trees.items():
            for wr in self.writers:
                for op in wr.ops:
                    if op.t_ack is not None and op.kind == "create":
                        check(op.result in tree, "server %d: acknowledged create %s is missing"
                              % (sid, op.result))
                        check(tree[op.result][0] == op.data, "server %d: %s holds %r, acknowledged %r"
                              % (sid, op.result, tree[op.result][0], op.data))
            for p in SHARED:
                check(p in tree, "server %d: %s is missing" % (sid, p))
                ver = tree[p][1][3]
                check(ver >= max_ver[p], "server %d: %s at version %d, acknowledged version %d"
                      % (sid, p, ver, max_ver[p]))
                check(tree[p][0] in sent_set[p], "server %d: %s holds %r, never sent"
                      % (sid, p, tree[p][0]))
            seen = set()
            for path, (data, _) in tree.items():
                if path.startswith("/ens/c/"):
                    check(data in sent, "server %d: %s holds %r, never sent" % (sid, path, data))
                    check(data not in seen, "server %d: write %r applied twice" % (sid, data))
                    seen.add(data)
        unknown = sum(wr.unknown for wr in self.writers)
        return creates, sets, unknown


def setup_tree(ens):
    c = ens.client()
    try:
        c.ensure_path("/ens/c")
        for p in SHARED:
            c.create(p, b"initial")
    finally:
        ens.release(c)


# ------------------------------------------------------------------ helpers

def write_batch(ens, servers, prefix, count, data_size=16, timeout=60):
    """Creates prefix0..prefix<count-1> through a client on `servers`, 50
    requests in flight; returns {path: data} of the acknowledged ones
    (all of them, or Failure)."""
    c = ens.client(servers)
    out = {}
    deadline = time.monotonic() + timeout
    try:
        i = 0
        while i < count:
            check(time.monotonic() < deadline, "writing %d znodes took over %d s" % (count, timeout))
            batch = []
            for j in range(i, min(count, i + 50)):
                data = (b"%s%d " % (prefix.encode(), j)) * (data_size // 8 + 1)
                batch.append(("%s%d" % (prefix, j), data[:data_size],
                              c.create_async("%s%d" % (prefix, j), data[:data_size])))
            for path, data, fut in batch:
                fut.get(timeout=30)
                out[path] = data
            i += len(batch)
    finally:
        ens.release(c)
    return out


def verify_present(trees, expected):
    for sid, tree in trees.items():
        for path, data in expected.items():
            check(path in tree, "server %d: acknowledged %s is missing" % (sid, path))
            check(tree[path][0] == data, "server %d: %s holds %r, acknowledged %r"
                  % (sid, path, tree[path][0][:40], data[:40]))


def sync_kind(server):
    """The way a learner caught up, from its log lines (ZooKeeper's wording
    and zkplug's)."""
    text = log_text(server.log_path)
    text = text[text.rfind("---- start"):]
    kinds = []
    for pat, name in (("Getting a diff from the leader", "DIFF"),
                      ("Getting a snapshot from leader", "SNAP"),
                      ("Truncating log to get in sync with the leader", "TRUNC"),
                      ("getting a DIFF from the leader", "DIFF"),
                      ("getting a snapshot from the leader", "SNAP"),
                      ("leader asks to truncate the log", "TRUNC")):
        if pat in text and name not in kinds:
            kinds.append(name)
    return "+".join(kinds) or "unknown"


def snapshot_files(server):
    d = os.path.join(server.data_dir, "version-2")
    try:
        return len([f for f in os.listdir(d) if f.startswith("snapshot.")])
    except OSError:
        return 0


# ------------------------------------------------------------------ scenarios

def failover(args, base, n):
    ens = Ensemble(args, base, n)
    args.ens = ens
    ens.start_all()
    t0 = time.monotonic()
    leader = ens.wait_roles(60)
    say("  %d servers up in %.1f s, leader %d, modes %s" % (n, time.monotonic() - t0, leader.sid,
                                                          ens.modes()))
    setup_tree(ens)
    load = Load(ens, 4)
    load.start()
    elect, write = [], []
    for rnd in range(1, 4):
        time.sleep(1.5)
        load.check_errors()
        leader = ens.wait_roles(30)
        before = load.acks_after(0)
        check(before > 0, "round %d: no write acknowledged before the kill" % rnd)
        t_kill = time.monotonic()
        leader.kill()
        # Writes sent once the old leader is reaped (all its threads gone,
        # its sockets closed) can only be served by a new leader; their
        # delay is still counted from the kill.
        t_dead = time.monotonic()
        survivors = [s for s in ens.all() if s is not leader]
        t_elect = t_write = None
        deadline = t_kill + 30
        while (t_elect is None or t_write is None) and time.monotonic() < deadline:
            if t_elect is None and any(s.mode() == "leader" for s in survivors):
                t_elect = time.monotonic()
            if t_write is None:
                t_write = load.first_ack_after(t_dead)
            time.sleep(0.02)
        check(t_elect is not None, "round %d: no new leader within 30 s: %s"
              % (rnd, ens.modes(survivors)))
        check(t_write is not None, "round %d: no write served within 30 s of killing leader %d"
              % (rnd, leader.sid))
        new = [s.sid for s in survivors if s.mode() == "leader"]
        elect.append(t_elect - t_kill)
        write.append(t_write - t_kill)
        t_restart = time.monotonic()
        leader.start()
        ens.wait_roles(60)
        say("  round %d: killed leader %d; new leader %s reported after %.2f s, first write "
            "served after %.2f s; old leader back as %s after %.1f s"
            % (rnd, leader.sid, new, elect[-1], write[-1], leader.mode(),
               time.monotonic() - t_restart))
    time.sleep(1.0)
    load.stop()
    trees, count, took = ens.wait_converged(60)
    creates, sets, unknown = load.verify(trees)
    say("  writes acknowledged: %d creates, %d setData; %d with unknown outcome (connection "
        "lost)" % (creates, sets, unknown))
    say("  converged: %d servers, %d znodes, identical trees (after %.1f s, %d walk(s))"
        % (len(trees), count, took, ens.converge_attempts))
    say("  max time to new leader: %.2f s (srvr), max time to first write served: %.2f s"
        % (max(elect), max(write)))


def scenario_three(args, base):
    failover(args, base, 3)


def scenario_mixed(args, base):
    # zkplug and Apache ZooKeeper 3.8.0 in one ensemble: server 3 runs
    # ZooKeeper, 1 and 2 run zkplug. Server 3 (highest id, same data) leads
    # first, with zkplug followers; the failover rounds then move leadership
    # to zkplug with ZooKeeper following, and back; write load and the
    # checks of `three` throughout.
    if args.server != "zkplug":
        say("  mixed: needs --server zkplug (server 3 runs ZooKeeper)")
        return
    missing = ensemble.java_ok()
    if missing:
        raise Failure("mixed: %s" % missing)
    args.zk_ids = (3,)
    failover(args, base, 3)


def scenario_five(args, base):
    failover(args, base, 5)


def scenario_observer(args, base):
    ens = Ensemble(args, base, 3, observers=1)
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    obs = ens[4]
    check(obs.mode() == "observer", "observer's Mode is %s" % obs.mode())
    say("  modes %s (leader %d)" % (ens.modes(), leader.sid))
    setup_tree(ens)
    follower = [s for s in ens.participants() if s is not leader][0]
    via_obs = write_batch(ens, [obs], "/ens/obs-", 100)
    via_part = write_batch(ens, [follower], "/ens/part-", 100)
    say("  100 creates acknowledged through the observer, 100 through follower %d"
        % follower.sid)
    trees, count, took = ens.wait_converged(30)
    verify_present(trees, dict(via_obs, **via_part))
    say("  converged: 4 servers (observer included), %d znodes (%.1f s)" % (count, took))
    load = Load(ens, 2)
    load.start()
    time.sleep(1.5)
    load.check_errors()
    t_kill = time.monotonic()
    obs.kill()
    deadline = t_kill + 20
    while load.acks_after(t_kill) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = load.acks_after(t_kill)
    check(after >= 50, "only %d writes acknowledged in 20 s after killing the observer" % after)
    say("  observer killed: %d writes acknowledged in the next %.1f s, first after %.2f s"
        % (after, time.monotonic() - t_kill, load.first_ack_after(t_kill) - t_kill))
    check(leader.mode() == "leader", "leader %d is %s after the observer died"
          % (leader.sid, leader.mode()))
    obs.start()
    ens.wait_roles(60)
    time.sleep(1.0)
    load.stop()
    trees, count, took = ens.wait_converged(60)
    creates, sets, unknown = load.verify(trees)
    say("  observer restarted as %s; writes acknowledged: %d creates, %d setData, %d unknown"
        % (obs.mode(), creates, sets, unknown))
    say("  converged: 4 servers, %d znodes, identical trees (%.1f s)" % (count, took))


def catch_up(args, base, count, snap_count, wipe, expect):
    ens = Ensemble(args, base, 3, snap_count=snap_count)
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    setup_tree(ens)
    early = write_batch(ens, None, "/ens/early-", 20)
    follower = [s for s in ens.participants() if s is not leader][-1]
    others = [s for s in ens.all() if s is not follower]
    if wipe:
        follower.kill()
    else:
        follower.stop()
    say("  leader %d; follower %d %s" % (leader.sid, follower.sid,
                                         "killed (-9)" if wipe else "stopped (SIGTERM)"))
    t0 = time.monotonic()
    written = write_batch(ens, others, "/ens/n-", count, data_size=64, timeout=120)
    c = ens.client(others)
    try:
        for i, p in enumerate(SHARED):
            for _ in range(i + 1):
                c.set(p, b"while down")
    finally:
        ens.release(c)
    say("  %d creates acknowledged while it was down (%.1f s)" % (len(written), time.monotonic() - t0))
    if snap_count:
        snaps = snapshot_files(leader)
        say("  leader %d holds %d snapshot files (snapCount=%d)" % (leader.sid, snaps, snap_count))
    if wipe:
        follower.wipe_data()
        say("  follower %d dataDir emptied (myid kept)" % follower.sid)
    t0 = time.monotonic()
    follower.start()
    ens.wait_roles(60)
    back = time.monotonic() - t0
    trees, n, took = ens.wait_converged(60)
    verify_present(trees, dict(early, **written))
    for sid, tree in trees.items():
        for i, p in enumerate(SHARED):
            check(tree[p][1][3] == i + 1 and tree[p][0] == b"while down",
                  "server %d: %s at version %d, expected %d" % (sid, p, tree[p][1][3], i + 1))
    kind = sync_kind(follower)
    say("  follower %d back as %s after %.1f s, synced by %s; converged: %d znodes, identical "
        "trees (%.1f s)" % (follower.sid, follower.mode(), back, kind, n, took))
    check(kind == expect, "follower %d synced by %s, expected %s" % (follower.sid, kind, expect))


def scenario_diff(args, base):
    catch_up(args, base, 200, 0, wipe=False, expect="DIFF")


def scenario_snap(args, base):
    catch_up(args, base, 2000, 20, wipe=True, expect="SNAP")


def standalone_children(args, base, data_dir, path):
    """Starts a standalone server (same kind) on a copy of data_dir and
    lists `path`: what that server's log holds, committed or not."""
    copy = os.path.join(base, "tail-copy")
    shutil.copytree(data_dir, copy)
    port, admin = ensemble.free_ports(2)
    cfg = os.path.join(base, "tail-copy.cfg")
    lines = ["tickTime=500", "dataDir=" + copy, "clientPort=%d" % port,
             "clientPortAddress=127.0.0.1", "admin.enableServer=false",
             "admin.serverPort=%d" % admin, "4lw.commands.whitelist=*"]
    if args.server == "zkplug":
        lines += ["metrics.enabled=false", "metrics.bus.enabled=false"]
        argv = [args.bin, "-c", cfg, "-p", args.plugins]
    else:
        argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", ensemble.ZK_CLASSPATH, "-Dzookeeper.admin.enableServer=false",
                "org.apache.zookeeper.server.ZooKeeperServerMain", cfg]
    with open(cfg, "w") as f:
        f.write("# standalone server on a copy of the old leader's dataDir\n")
        f.write("\n".join(lines) + "\n")
    log = open(os.path.join(base, "tail-copy.log"), "ab")
    proc = ensemble.spawn(argv, log)
    log.close()
    args.ens.started.append(proc)
    try:
        from kazoo.client import KazooClient
        c = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10)
        try:
            c.start(timeout=30)
            return c.get_children(path)
        finally:
            ensemble.close_client(c)
    finally:
        proc.kill()
        proc.wait(10)
        shutil.rmtree(copy, ignore_errors=True)


def make_tail(args, base, ens, rnd):
    """Gives the current leader a logged but uncommitted tail (see
    scenario_trunc); returns (old leader, its two followers)."""
    leader = ens.wait_roles(60)
    followers = [s for s in ens.all() if s is not leader]
    c = ens.client([leader])
    for f in followers:
        f.pause()
    say("  round %d: leader %d; followers %s stopped (SIGSTOP)"
        % (rnd, leader.sid, [f.sid for f in followers]))
    futs = [c.create_async("/ens/tail/r%d-%d" % (rnd, i), b"uncommitted %d" % i)
            for i in range(30)]
    time.sleep(0.8)
    acked = [i for i, f in enumerate(futs) if f.ready() and f.successful()]
    check(not acked, "creates %s acknowledged while both followers were stopped" % acked)
    leader.kill()
    for f in followers:
        f.kill()
    ens.release(c)
    tail = standalone_children(args, base, leader.data_dir, "/ens/tail")
    tail = [t for t in tail if t.startswith("r%d-" % rnd)]
    say("  round %d: all three killed (-9); the old leader's log holds %d of 30 "
        "unacknowledged creates" % (rnd, len(tail)))
    check(len(tail) > 0, "no uncommitted tail was produced (the leader logged none of the "
          "30 creates within 0.8 s)")
    return leader, followers


def scenario_trunc(args, base):
    # How the uncommitted tail is made, reliably on loopback: both followers
    # get SIGSTOP (checked in /proc: every thread stopped), so the leader
    # stays leader for syncLimit ticks but no follower reads anything. The
    # leader receives creates, logs them as proposals and sends them into
    # the followers' socket buffers; nothing can be acknowledged. Then all
    # three get SIGKILL: the followers never read what was in their buffers,
    # only the old leader's log has the tail. A standalone server on a copy
    # of that dataDir shows the tail is really there. The two followers
    # restart and elect a new leader (a new epoch).
    # Round 1: the old leader rejoins before anything is committed in the
    # new epoch; its last zxid is beyond the new leader's, and ZooKeeper
    # answers with TRUNC (to the new leader's last zxid).
    # Round 2: the new leader first commits writes in the new epoch; the old
    # leader's tail is then from an older epoch and ZooKeeper 3.8 says
    # "Cannot send TRUNC to peer sid: N peer zxid is from different epoch"
    # and falls back to SNAP. Either way every tree must end identical and
    # without the tail.
    ens = Ensemble(args, base, 3)
    args.ens = ens
    ens.start_all()
    ens.wait_roles(60)
    setup_tree(ens)
    expected = write_batch(ens, None, "/ens/early-", 50)
    c = ens.client()
    c.ensure_path("/ens/tail")
    ens.release(c)
    for rnd in (1, 2):
        old, followers = make_tail(args, base, ens, rnd)
        for f in followers:
            f.start()
        new_leader = ens.wait_roles(60, servers=followers)
        if rnd == 2:
            expected.update(write_batch(ens, followers, "/ens/r2-before-", 50))
            say("  round 2: followers restarted, leader %d; 50 creates acknowledged in the "
                "new epoch before the old leader returns" % new_leader.sid)
        else:
            say("  round 1: followers restarted, leader %d; old leader restarted at once"
                % new_leader.sid)
        t0 = time.monotonic()
        old.start()
        ens.wait_roles(60)
        back = time.monotonic() - t0
        expected.update(write_batch(ens, None, "/ens/r%d-after-" % rnd, 50))
        trees, n, took = ens.wait_converged(60)
        verify_present(trees, expected)
        for sid, tree in trees.items():
            left = [p for p in tree if p.startswith("/ens/tail/")]
            check(not left, "server %d still holds uncommitted znodes %s" % (sid, left[:5]))
        kind = sync_kind(old)
        say("  round %d: old leader %d back as %s after %.1f s, synced by %s; no server holds "
            "the tail; converged: %d znodes, identical trees (%.1f s)"
            % (rnd, old.sid, old.mode(), back, kind, n, took))
        # Round 1: the tail is beyond the new leader's last zxid (TRUNC).
        # Round 2: the new epoch has txns; the tail is from an older epoch,
        # so both ZooKeeper and zkplug send the whole database (SNAP).
        check(kind == ("TRUNC" if rnd == 1 else "SNAP"),
              "round %d: old leader synced by %s" % (rnd, kind))


def scenario_readonly(args, base):
    # localSessionsEnabled=true is required: ZooKeeper 3.8.0's read-only
    # server lets a createSession through only for a local session
    # (ReadOnlyRequestProcessor); with the default (false) it answers a
    # read-only client's connect request with a bare reply header (xid 0,
    # its zxid, err -119 NOTREADONLY) instead of a connect response, which
    # no client can parse. With it, the connect response is the usual one
    # whose last byte (readOnly) is 1.
    ens = Ensemble(args, base, 3, readonly=True,
                   extra_cfg=["localSessionsEnabled=true", "localSessionsUpgradingEnabled=true"])
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    setup_tree(ens)
    c = ens.client()
    c.create("/ens/ro", b"before")
    ens.release(c)
    survivor = [s for s in ens.all() if s is not leader][0]
    isro = (four_letter(survivor.client_port, "isro") or "").strip()
    check(isro == "rw", "isro of follower %d says %r, expected rw" % (survivor.sid, isro))
    killed = [s for s in ens.all() if s is not survivor]
    t0 = time.monotonic()
    for s in killed:
        s.kill()
    mode = ens.wait_mode(survivor, ["read-only"], 30)
    t_ro = time.monotonic() - t0
    isro = (four_letter(survivor.client_port, "isro") or "").strip()
    check(isro == "ro", "isro of read-only server %d says %r, expected ro" % (survivor.sid, isro))
    say("  killed %s (-9); server %d: srvr Mode: %s after %.1f s, isro: %s"
        % ([s.sid for s in killed], survivor.sid, mode, t_ro, isro))
    # A client that does not allow read-only mode gets no session.
    try:
        rw = ens.client([survivor], timeout=4)
    except KazooTimeoutError:
        rw = None
    check(rw is None, "a client without read_only=True got a session from a read-only server")
    ro = ens.client([survivor], read_only=True)
    check(ro.client_state == "CONNECTED_RO", "read-only client state %s" % ro.client_state)
    data, st = ro.get("/ens/ro")
    check(data == b"before", "read-only read of /ens/ro: %r" % data)
    check(len(ro.get_children("/ens")) >= 2, "read-only get_children failed")
    for what, call in (("create", lambda: ro.create("/ens/ro-write", b"x")),
                       ("setData", lambda: ro.set("/ens/ro", b"x")),
                       ("delete", lambda: ro.delete("/ens/ro"))):
        try:
            call()
            raise Failure("%s on a read-only server succeeded" % what)
        except NotReadOnlyCallError:
            pass
    say("  read-only client: state %s, reads served, create/setData/delete -> "
        "NotReadOnlyCallError; a client without read_only=True gets no session" % ro.client_state)
    t0 = time.monotonic()
    for s in killed:
        s.start()
    ens.wait_roles(60)
    back = time.monotonic() - t0
    isro = (four_letter(survivor.client_port, "isro") or "").strip()
    check(isro == "rw", "isro of server %d after the quorum returned: %r" % (survivor.sid, isro))
    c = ens.client()
    c.create("/ens/after", b"after")
    c.set("/ens/ro", b"after")
    ens.release(c)
    # The read-only client moves to a read-write server by itself.
    deadline = time.monotonic() + 30
    while ro.client_state != "CONNECTED" and time.monotonic() < deadline:
        time.sleep(0.1)
    check(ro.client_state == "CONNECTED",
          "the read-only client did not reconnect read-write within 30 s (%s)" % ro.client_state)
    ro.create("/ens/ro-client-after", b"x")
    ens.release(ro)
    say("  quorum back after %.1f s: server %d is %s, isro %s; writes work (also through the "
        "formerly read-only client)" % (back, survivor.sid, survivor.mode(), isro))
    trees, n, took = ens.wait_converged(60)
    for sid, tree in trees.items():
        check(tree["/ens/ro"][0] == b"after" and "/ens/after" in tree, "server %d lacks the "
              "writes made after the quorum returned" % sid)
        check("/ens/ro-write" not in tree, "server %d holds a write made in read-only mode" % sid)
    say("  converged: %d znodes, identical trees (%.1f s)" % (n, took))


def scenario_stepdown(args, base):
    # A leader that loses its quorum steps down: both followers get SIGSTOP,
    # the leader must stop serving within syncLimit ticks (plus a tick of
    # checking and a margin), and a write sent to it meanwhile must not be
    # acknowledged. Then the followers continue and the ensemble recovers.
    ens = Ensemble(args, base, 3)
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    setup_tree(ens)
    followers = [s for s in ens.participants() if s is not leader]
    c = ens.client(servers=[leader], session_timeout=30.0)
    c.create("/ens/before", b"x")
    t0 = time.monotonic()
    for f in followers:
        f.pause()
    pending = c.create_async("/ens/during", b"x")
    bound = ens.tick_ms * (ens.sync_limit + 2) / 1000.0 + 2.0
    ens.wait_not_serving(leader, bound)
    took = time.monotonic() - t0
    acked = False
    try:
        pending.get(timeout=0.5)
        acked = True
    except Exception:
        pass
    check(not acked, "a create sent to a leader without a quorum was acknowledged")
    close_client(c)
    for f in followers:
        f.resume()
    t1 = time.monotonic()
    ens.wait_roles(60)
    back = time.monotonic() - t1
    written = write_batch(ens, None, "/ens/after-", 50)
    trees, n, _ = ens.wait_converged(60)
    verify_present(trees, written)
    say("  followers stopped: leader %d stopped serving after %.1f s (bound %.1f s); the create "
        "sent meanwhile was not acknowledged; roles back %.1f s after the followers resumed; "
        "converged: %d znodes" % (leader.sid, took, bound, back, n))


def scenario_preferred(args, base):
    # zkplug only: the example election plugin in a real ensemble. With equal
    # data the server with the highest preferred.priority leads, not the
    # highest id; after it is killed another server takes over, and it
    # rejoins as a follower.
    if args.server != "zkplug":
        say("  preferred: a zkplug plugin; nothing to run against ZooKeeper")
        return
    ens = Ensemble(args, base, 3, extra_cfg=["plugin.election=preferred", "preferred.priority.1=10"])
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    check(leader.sid == 1, "leader %d, expected the preferred server 1" % leader.sid)
    written = write_batch(ens, None, "/pref-", 100)
    leader.kill()
    t0 = time.monotonic()
    new_leader = ens.wait_roles(60, servers=[s for s in ens.all() if s is not leader])
    took = time.monotonic() - t0
    written.update(write_batch(ens, [s for s in ens.all() if s is not leader], "/pref2-", 100))
    leader.start()
    ens.wait_roles(60)
    trees, n, _ = ens.wait_converged(60)
    verify_present(trees, written)
    say("  preferred server 1 led; killed, server %d led after %.1f s; server 1 back as %s; "
        "converged: %d znodes" % (new_leader.sid, took, leader.mode(), n))


def scenario_reconfig(args, base):
    # Dynamic reconfiguration under write load (reconfigEnabled=true, a super
    # user): 3 -> 4 servers (the fourth starts outside the config and is
    # added), the leader removed (a new leader takes over, the old one stops
    # serving), a follower turned observer and back. Nothing acknowledged is
    # lost; the remaining members converge; each reply's config text ends in
    # version=<the reconfig's zxid> and every member wrote
    # zoo.cfg.dynamic.<version> and points zoo.cfg at it.
    import base64
    import hashlib
    from kazoo.client import KazooClient
    digest = base64.b64encode(hashlib.sha1(b"super:test").digest()).decode()
    ens = Ensemble(args, base, 4, extra_cfg=["reconfigEnabled=true",
                                             "DigestAuthenticationProvider.superDigest=super:" + digest])
    args.ens = ens
    ens.members = {1, 2, 3}
    first = [ens[1], ens[2], ens[3]]
    for sv in first:
        sv.start()
    leader = ens.wait_roles(60, servers=first)
    setup_tree(ens)
    load = Load(ens, 3, servers=first)
    load.start()
    texts = []

    def reconfig(via, **kw):
        # Through a server that stays (a client of a removed leader loses its
        # connection before the answer).
        admin = KazooClient(hosts=ens.hosts(via), auth_data=[("digest", "super:test")], timeout=10.0,
                            connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
        admin.start(timeout=30)
        t0 = time.monotonic()
        try:
            data, stat = admin.reconfig(kw.get("joining"), kw.get("leaving"), None)
        except ConnectionLoss:
            # When the leader changes, the servers drop their clients (as
            # ZooKeeper does) and the answer may be lost: read the config
            # until the change shows.
            data = None
            deadline = time.monotonic() + 30
            while data is None and time.monotonic() < deadline:
                try:
                    d, st = admin.get("/zookeeper/config")
                    if kw["done"](d.decode()):
                        data, stat = d, st
                except KazooException:
                    pass
                time.sleep(0.1)
            check(data is not None, "the reconfig %s did not take effect within 30 s" % kw)
        finally:
            close_client(admin)
        text = data.decode()
        texts.append(text)
        check(text.split("\n")[-1] == "version=%x" % stat.mzxid,
              "config text ends %r, the reconfig's zxid is 0x%x" % (text.split("\n")[-1], stat.mzxid))
        return text, time.monotonic() - t0

    # 3 -> 4
    ens[4].start()
    ens.wait_mode(ens[4], ["follower"], 60)
    text, took = reconfig([sv for sv in first if sv is not leader], joining=ens[4].member_spec(),
                          done=lambda t: ens[4].member_spec() in t)
    check(ens[4].member_spec() in text, "server 4 missing from %r" % text)
    members = first + [ens[4]]
    leader = ens.wait_roles(60, servers=members)
    say("  3 -> 4: server 4 added in %.2f s; leader %d" % (took, leader.sid))
    time.sleep(1.0)
    # the leader leaves
    text, took = reconfig([sv for sv in members if sv is not leader], leaving=str(leader.sid),
                          done=lambda t: "server.%d=" % leader.sid not in t)
    check("server.%d=" % leader.sid not in text, "the leader is still in %r" % text)
    members = [sv for sv in members if sv is not leader]
    t0 = time.monotonic()
    new_leader = ens.wait_roles(60, servers=members)
    check(new_leader is not leader, "the removed leader still leads")
    # As in ZooKeeper, a server removed from the config keeps following the
    # leader, without a vote.
    ens.wait_mode(leader, ["follower"], 30)
    removed = leader
    say("  leader %d removed in %.2f s; leader %d serving after %.2f s; the old leader follows "
        "without a vote" % (leader.sid, took, new_leader.sid, time.monotonic() - t0))
    time.sleep(1.0)
    # a follower becomes an observer, then a participant again
    f = [sv for sv in members if sv is not new_leader][0]
    text, took = reconfig([sv for sv in members if sv is not f], joining=f.member_spec(observer=True),
                          done=lambda t: f.member_spec(observer=True) in t)
    f.observer = True
    check(f.member_spec(observer=True) in text, "server %d not an observer in %r" % (f.sid, text))
    ens.wait_roles(60, servers=members)
    say("  server %d turned observer in %.2f s: %s" % (f.sid, took, ens.modes(members)))
    time.sleep(1.0)
    text, took = reconfig([sv for sv in members if sv is not f], joining=f.member_spec(observer=False),
                          done=lambda t: f.member_spec(observer=False) in t)
    f.observer = False
    ens.wait_roles(60, servers=members)
    say("  server %d participant again in %.2f s: %s" % (f.sid, took, ens.modes(members)))
    time.sleep(1.0)
    load.stop()
    trees, n, took = ens.wait_converged(60, servers=members + [removed])
    creates, sets, unknown = load.verify(trees)
    say("  writes acknowledged: %d creates, %d setData; %d with unknown outcome" % (creates, sets, unknown))
    version = texts[-1].split("\n")[-1].split("=")[1]
    for sv in members:
        dyn = sv.cfg_path + ".dynamic." + version
        check(os.path.exists(dyn), "%s: %s is missing" % (sv, dyn))
        with open(sv.cfg_path) as fh:
            cfg = fh.read()
        check("dynamicConfigFile=" in cfg and "server." not in cfg,
              "%s: zoo.cfg was not rewritten to point at the dynamic file" % sv)
    say("  converged: %d servers, %d znodes; every member wrote zoo.cfg.dynamic.%s" % (len(members), n, version))
    # A member restarts on its rewritten zoo.cfg and dynamic file.
    sv = [m for m in members if m.mode() != "leader"][0]
    sv.kill()
    sv.start(keep_cfg=True)
    ens.wait_roles(60, servers=members)
    d, _ = ens.client([sv]).get("/zookeeper/config")
    check(d.decode() == texts[-1], "server %d restarted with config %r, expected %r" % (sv.sid, d.decode(), texts[-1]))
    say("  server %d restarted on its rewritten zoo.cfg: %s, same config" % (sv.sid, sv.mode()))
    say("  final config: %s" % texts[-1].replace("\n", " | "))


def scenario_luahooks(args, base):
    # zkplug only: Lua sees the quorum. A script in lua.scriptsDir records
    # state_change and leader_elected events and adds a command that answers
    # with zk.server()'s mode, leader and peers. Killing the leader must
    # show up in a follower's events: looking, then the new state with the
    # new leader's id.
    if args.server != "zkplug":
        say("  luahooks: a zkplug feature; nothing to run against ZooKeeper")
        return
    scripts = os.path.join(base, "lua")
    os.makedirs(scripts, exist_ok=True)
    events = os.path.join(base, "events-%d.log")
    with open(os.path.join(scripts, "quorum.lua"), "w") as f:
        f.write("""-- test script: records quorum events, answers 'qpeers'
local path, out = os.getenv("ZKPLUG_TEST_EVENTS"), nil
local function record(...)
  out = out or zk.appender(path)
  out:write(...)
end
zk.on("state_change", function(ev) record("state ", ev.state, "\\n") end)
zk.on("leader_elected", function(ev) record("leader ", ev.leader, " ", ev.state, "\\n") end)
zk.command { name = "qpeers", word = "qprs", text = function()
  local srv = zk.server()
  local ids = {}
  for _, p in ipairs(srv.peers) do ids[#ids + 1] = p.id .. ":" .. p.type end
  return srv.mode .. " leader=" .. tostring(srv.leader) .. " epoch=" .. srv.epoch ..
         " peers=" .. table.concat(ids, ",") .. "\\n"
end }
""")
    ens = Ensemble(args, base, 3, extra_cfg=["lua.scriptsDir=" + scripts])
    args.ens = ens
    for sv in ens.all():
        sv.env = {"ZKPLUG_TEST_EVENTS": events % sv.sid}
    ens.start_all()
    leader = ens.wait_roles(60)
    for sv in ens.all():
        text = (ensemble.four_letter(sv.client_port, "qprs") or "").strip()
        check(text.startswith(sv.mode() + " leader=%d " % leader.sid) and
              text.endswith("peers=1:participant,2:participant,3:participant"),
              "server %d: qprs says %r" % (sv.sid, text))
    follower = [sv for sv in ens.all() if sv is not leader][0]
    leader.kill()
    new_leader = ens.wait_roles(60, servers=[sv for sv in ens.all() if sv is not leader])
    deadline = time.monotonic() + 10
    want = "leader %d %s" % (new_leader.sid, "leading" if follower is new_leader else "following")
    lines = []
    while time.monotonic() < deadline:
        try:
            with open(events % follower.sid) as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        if want in lines:
            break
        time.sleep(0.1)
    check("leader %d following" % leader.sid in lines, "server %d events %r" % (follower.sid, lines))
    check(want in lines and "state looking" in lines[lines.index("leader %d following" % leader.sid):],
          "server %d events after the kill: %r" % (follower.sid, lines))
    say("  qprs on each member names leader %d and 3 peers; after the kill, server %d's events: %s"
        % (leader.sid, follower.sid, " | ".join(lines)))


def scenario_sessionmoved(args, base):
    # A session taken over by a connection to another server: a write sent
    # on the old connection is refused (ZooKeeper's SessionMovedException
    # tears that connection down: the client sees the connection lost) and
    # not applied; the new connection writes as usual. Once from a follower
    # to another follower, once from the leader to a follower.
    from kazoo.client import KazooClient
    ens = Ensemble(args, base, 3)
    args.ens = ens
    ens.start_all()
    leader = ens.wait_roles(60)
    followers = [sv for sv in ens.all() if sv is not leader]
    retry = KazooRetry(max_tries=0)
    for n, (a, b) in enumerate(((followers[0], followers[1]), (leader, followers[0]))):
        c1 = KazooClient(hosts=a.hostport(), timeout=10.0, connection_retry=retry, command_retry=None)
        c1.start(timeout=30)
        ens.clients.append(c1)
        c1.create("/moved-before-%d" % n, b"1")
        sid = c1.client_id[0]
        c2 = KazooClient(hosts=b.hostport(), client_id=c1.client_id, timeout=10.0, connection_retry=retry,
                         command_retry=None)
        c2.start(timeout=30)
        ens.clients.append(c2)
        check(c2.client_id[0] == sid, "the second connection got another session")
        c2.create("/moved-new-%d" % n, b"2")
        outcome = "acknowledged"
        try:
            c1.create("/moved-old-%d" % n, b"3")
        except KazooException as e:
            outcome = type(e).__name__
        check(outcome in ("ConnectionLoss", "ConnectionClosedError", "SessionMovedError"),
              "a write on the old connection was %s, expected the connection torn down" % outcome)
        c2.sync("/")
        check(c2.exists("/moved-old-%d" % n) is None, "the refused write was applied")
        check(c2.exists("/moved-new-%d" % n) is not None, "the new connection's write is missing")
        say("  session 0x%x moved from %s %d to follower %d: the old connection's write got %s and was "
            "not applied; the new one writes" % (sid, "leader" if a is leader else "follower", a.sid, b.sid,
                                                 outcome))


SCENARIOS = {"three": (scenario_three, 150), "five": (scenario_five, 240),
             "observer": (scenario_observer, 150), "diff": (scenario_diff, 120),
             "snap": (scenario_snap, 150), "trunc": (scenario_trunc, 150),
             "readonly": (scenario_readonly, 150), "stepdown": (scenario_stepdown, 150),
             "preferred": (scenario_preferred, 150), "mixed": (scenario_mixed, 200),
             "reconfig": (scenario_reconfig, 200), "luahooks": (scenario_luahooks, 120),
             "sessionmoved": (scenario_sessionmoved, 120)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", choices=("zk", "zkplug"), required=True)
    ap.add_argument("--bin", help="the zkplug binary (--server zkplug)")
    ap.add_argument("--plugins", help="zkplug's plugin folder (--server zkplug)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--time-limit", type=int, help="hard limit in seconds (default per scenario)")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    if args.server == "zkplug":
        if not args.bin or not args.plugins:
            ap.error("--server zkplug needs --bin and --plugins")
        args.bin = os.path.abspath(args.bin)
        args.plugins = os.path.abspath(args.plugins)
    else:
        why = ensemble.java_ok()
        if why:
            say("FAIL: cannot run ZooKeeper: %s" % why)
            return 1
    func, limit = SCENARIOS[args.scenario]
    limit = args.time_limit or limit
    base = tempfile.mkdtemp(prefix="zkplug-ensemble-%s-" % args.scenario)
    ensemble.setup_logging(base)
    args.ens = None
    say("scenario %s (%s, hard limit %d s)" % (args.scenario, args.server, limit))
    t0 = time.monotonic()
    ok = False
    try:
        with ensemble.HardLimit(limit):
            func(args, base)
        ok = True
    except Failure as e:
        say("FAIL: %s: %s" % (args.scenario, e))
    except Exception as e:  # noqa: BLE001 - an unexpected error is a failure too
        say("FAIL: %s: unexpected %s: %s" % (args.scenario, type(e).__name__, e))
    finally:
        try:
            with ensemble.HardLimit(60):
                if args.ens is not None:
                    args.ens.shutdown()
        except Failure as e:
            say("FAIL: cleanup: %s" % e)
            ok = False
        if args.ens is not None:
            for s in args.ens.all():
                bad = ensemble.fatal_markers(s)
                if bad:
                    say("FAIL: %s: %s in %s" % (s, ", ".join(bad), s.log_path))
                    ok = False
    say("%s %s in %.1f s" % ("PASS" if ok else "FAIL", args.scenario, time.monotonic() - t0))
    if ok and not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        say("logs kept in %s" % base)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
