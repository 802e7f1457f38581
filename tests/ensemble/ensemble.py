# Ensemble test library: starts a quorum of Apache ZooKeeper 3.8.0 or zkplug
# servers on 127.0.0.1, reads their 4lw answers, runs kazoo clients against
# them and compares the data trees of all servers (used by test_ensemble.py).
"""Ensemble harness shared by the scenarios of test_ensemble.py.

Every server process is started here (in its own session) and signalled only
by its PID; every wait is bounded. Both kinds read the same zoo.cfg; the few
settings ZooKeeper reads only as JVM properties (readonlymode.enabled,
zookeeper.snapCount) are also passed with -D to the JVM.
"""
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

ZK_CLASSPATH = os.environ.get("ZKPLUG_ZK_CLASSPATH") or \
    "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:" \
    "/usr/share/java/slf4j-simple.jar"

# The serving modes srvr prints; anything else (or no answer) is "not serving".
SERVING = ("leader", "follower", "observer", "standalone", "read-only")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def four_letter(port, word, timeout=2.0):
    """The answer to a four-letter word, or None when the port does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            data = b""
            while len(data) < 1 << 20:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")
    except OSError:
        return None


def log_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def last_line(path):
    lines = [l for l in log_text(path).splitlines() if l.strip()]
    return lines[-1][:300] if lines else "(empty)"


def setup_logging(base):
    """kazoo's connection warnings go to a file, not the test's output."""
    log = logging.getLogger("kazoo")
    log.propagate = False
    log.setLevel(logging.INFO)
    h = logging.FileHandler(os.path.join(base, "kazoo.log"))
    h.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(levelname)s %(message)s"))
    log.addHandler(h)


_libc = None


def _die_with_parent():
    # In the child before exec: SIGKILL when the harness dies, so that no
    # server outlives a harness killed by a timeout (PR_SET_PDEATHSIG = 1).
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def spawn(argv, log, extra_env=None):
    """Starts a server process in its own session, output to the open file
    `log`, with extra_env added to the environment. Call from the main
    thread only (the parent-death signal follows the thread that forked)."""
    global _libc
    if _libc is None:
        try:
            import ctypes
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = None
    env = dict(os.environ, **extra_env) if extra_env else None
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent, env=env)


class Server:
    """One quorum member (participant or observer), sid 1..n."""

    def __init__(self, ens, sid, observer=False):
        self.ens = ens
        self.sid = sid
        self.observer = observer
        # "zk" or "zkplug"; a mixed ensemble (--mixed) runs both.
        self.kind = ens.kinds.get(sid, ens.kind)
        self.quorum_port, self.election_port, self.client_port, self.admin_port, \
            self.pub_port, self.query_port = free_ports(6)
        self.dir = os.path.join(ens.base, "server-%d" % sid)
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        os.makedirs(self.data_dir, exist_ok=True)
        self.write_myid()

    def __repr__(self):
        return "server %d" % self.sid

    def write_myid(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.sid)

    def member_spec(self, observer=None):
        """This server as a reconfig joining spec: server.N=host:q:e:role;host:client."""
        obs = self.observer if observer is None else observer
        return "server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d" % (
            self.sid, self.quorum_port, self.election_port, "observer" if obs else "participant",
            self.client_port)

    def server_line(self):
        return "server.%d=127.0.0.1:%d:%d%s" % (self.sid, self.quorum_port, self.election_port,
                                                ":observer" if self.observer else "")

    def cfg_lines(self):
        e = self.ens
        lines = ["tickTime=%d" % e.tick_ms, "initLimit=%d" % e.init_limit,
                 "syncLimit=%d" % e.sync_limit, "dataDir=" + self.data_dir,
                 "clientPort=%d" % self.client_port, "clientPortAddress=127.0.0.1",
                 "maxClientCnxns=0",
                 "admin.enableServer=false", "admin.serverAddress=127.0.0.1",
                 "admin.serverPort=%d" % self.admin_port,
                 "4lw.commands.whitelist=*"]
        if e.snap_count:
            lines.append("snapCount=%d" % e.snap_count)
        if e.readonly:
            # ZooKeeper ignores it here (it reads the JVM property, see argv);
            # zkplug reads it from zoo.cfg.
            lines.append("readonlymode.enabled=true")
        if self.observer:
            lines.append("peerType=observer")
        if self.kind == "zkplug":
            # Several zkplug servers on one host: no metrics bus (its default
            # ports 7181/7182 would clash); distinct addresses all the same
            # in case a build ignores metrics.bus.enabled.
            lines += ["metrics.enabled=false", "metrics.bus.enabled=false",
                      "metrics.bus.publishAddress=tcp://127.0.0.1:%d" % self.pub_port,
                      "metrics.bus.queryAddress=tcp://127.0.0.1:%d" % self.query_port]
        lines += list(e.extra_cfg)
        # Servers that join later by reconfig list the current members and
        # themselves; the members do not list them.
        listed = [s for s in e.all() if e.members is None or s.sid in e.members or s is self]
        lines += [s.server_line() for s in listed]
        return lines

    def argv(self):
        e = self.ens
        if self.kind == "zkplug":
            return [e.bin, "-c", self.cfg_path, "-p", e.plugins]
        argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", ZK_CLASSPATH, "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dzookeeper.jmx.log4j.disable=true", "-Dzookeeper.admin.enableServer=false"]
        if e.readonly:
            argv.append("-Dreadonlymode.enabled=true")
        if e.snap_count:
            argv.append("-Dzookeeper.snapCount=%d" % e.snap_count)
        return argv + ["org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg_path]

    def start(self, keep_cfg=False):
        """keep_cfg: start on the zoo.cfg as the server left it (after a
        reconfig rewrote it), instead of writing it afresh."""
        check(self.proc is None or self.proc.poll() is not None, "%s started twice" % self)
        if not keep_cfg:
            with open(self.cfg_path, "w") as f:
                f.write("# zoo.cfg of ensemble %s %s\n" % (self, self.kind))
                f.write("\n".join(self.cfg_lines()) + "\n")
        log = open(self.log_path, "ab")
        log.write(("---- start %s\n" % time.strftime("%H:%M:%S")).encode())
        log.flush()
        self.proc = spawn(self.argv(), log, getattr(self, "env", None))
        log.close()
        self.ens.started.append(self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill(self):
        """kill -9 by PID and reap."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def pause(self):
        """SIGSTOP; returns once every thread of the process is stopped."""
        self.signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            try:
                for t in os.listdir("/proc/%d/task" % self.proc.pid):
                    with open("/proc/%d/task/%s/stat" % (self.proc.pid, t)) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
            if states and all(s in ("T", "t") for s in states):
                return
            time.sleep(0.01)
        raise Failure("%s did not stop on SIGSTOP" % self)

    def resume(self):
        self.signal(signal.SIGCONT)

    def wipe_data(self):
        """Deletes the data directory but keeps myid."""
        shutil.rmtree(self.data_dir)
        self.write_myid()

    def srvr(self):
        return four_letter(self.client_port, "srvr")

    def mode(self):
        text = self.srvr()
        if not text:
            return None
        m = re.search(r"Mode: ([\w-]+)", text)
        return m.group(1) if m else None

    def zxid(self):
        m = re.search(r"Zxid: (0x[0-9a-fA-F]+)", self.srvr() or "")
        return int(m.group(1), 16) if m else None

    def hostport(self):
        return "127.0.0.1:%d" % self.client_port


class Ensemble:
    def __init__(self, args, base, participants, observers=0, readonly=False, snap_count=0,
                 tick_ms=500, extra_cfg=()):
        self.kind = args.server
        # --mixed: Apache ZooKeeper on these server ids, zkplug on the others.
        self.kinds = {sid: "zk" for sid in getattr(args, "zk_ids", ())}
        self.members = None  # sids the config files list (None: all)
        self.bin = args.bin
        self.plugins = args.plugins
        self.base = base
        self.readonly = readonly
        self.snap_count = snap_count
        self.tick_ms = tick_ms
        self.init_limit = 10
        self.sync_limit = 5
        self.extra_cfg = list(extra_cfg)
        self.started = []  # every Popen ever started, for the final cleanup
        self.clients = []
        n = participants + observers
        self.servers = {sid: Server(self, sid, observer=sid > participants)
                        for sid in range(1, n + 1)}

    # ------------------------------------------------------------ servers
    def all(self):
        return [self.servers[s] for s in sorted(self.servers)]

    def participants(self):
        return [s for s in self.all() if not s.observer]

    def __getitem__(self, sid):
        return self.servers[sid]

    def start_all(self):
        for s in self.all():
            s.start()

    def shutdown(self):
        for c in list(self.clients):
            close_client(c)
        self.clients = []
        for s in self.all():
            s.resume()
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - cleanup continues
                pass
        for p in self.started:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)

    def modes(self, servers=None):
        return {s.sid: s.mode() for s in (servers or self.all())}

    def wait_roles(self, timeout, servers=None):
        """Waits until the given servers (default: all) are serving with
        exactly one leader among them, participants as leader/follower and
        observers as observer; returns the leader's Server."""
        servers = servers or self.all()
        deadline = time.monotonic() + timeout
        seen = {}
        while time.monotonic() < deadline:
            for s in servers:
                check(s.alive(), "%s exited (log %s): %s" % (s, s.log_path, last_line(s.log_path)))
            seen = self.modes(servers)
            leaders = [sid for sid, m in seen.items() if m == "leader"]
            ok = len(leaders) == 1 and all(
                (m == "observer") if self[sid].observer else (m in ("leader", "follower"))
                for sid, m in seen.items())
            if ok:
                return self[leaders[0]]
            time.sleep(0.1)
        raise Failure("no stable roles within %.0f s: %s" % (timeout, seen))

    def wait_mode(self, server, modes, timeout):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = server.mode()
            if seen in modes:
                return seen
            time.sleep(0.1)
        raise Failure("%s: Mode %s after %.0f s, expected %s" % (server, seen, timeout, "/".join(modes)))

    def wait_not_serving(self, server, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.mode() not in SERVING:
                return
            time.sleep(0.05)
        raise Failure("%s still serving after %.0f s" % (server, timeout))

    # ------------------------------------------------------------ clients
    def hosts(self, servers=None):
        return ",".join(s.hostport() for s in (servers or self.all()))

    def client(self, servers=None, timeout=15.0, session_timeout=10.0, read_only=False):
        """A started kazoo client; `servers` defaults to all of them."""
        c = KazooClient(hosts=self.hosts(servers), timeout=session_timeout, read_only=read_only,
                        connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5,
                                                    max_delay=0.5),
                        command_retry=None)
        try:
            c.start(timeout=timeout)
        except Exception:
            close_client(c)
            raise
        self.clients.append(c)
        return c

    def release(self, c):
        if c in self.clients:
            self.clients.remove(c)
        close_client(c)

    # ------------------------------------------------------------ trees
    def tree(self, server, timeout=30.0):
        """{path: (data, stat tuple)} of every znode, read through `server`'s
        own client port only (after a sync, so a follower has applied what
        the leader committed when the walk started)."""
        c = self.client([server], timeout=timeout, read_only=(self.readonly or False))
        try:
            c.sync("/")
            out = {}
            level = ["/"]
            deadline = time.monotonic() + timeout
            while level:
                check(time.monotonic() < deadline, "walking %s took over %.0f s" % (server, timeout))
                gets = [(p, c.get_async(p), c.get_children_async(p)) for p in level]
                nxt = []
                for p, g, ch in gets:
                    data, st = g.get(timeout=timeout)
                    kids = ch.get(timeout=timeout)
                    out[p] = (data, (st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                                     st.aversion, st.ephemeralOwner, st.numChildren,
                                     st.dataLength))
                    for k in kids:
                        nxt.append(("/" if p == "/" else p + "/") + k)
                level = nxt
            return out
        finally:
            self.release(c)

    @staticmethod
    def digest(tree):
        h = hashlib.sha256()
        for p in sorted(tree):
            data, st = tree[p]
            if p in STAT_EXEMPT:
                st = ("stat-exempt",)
            h.update(repr((p, data, st)).encode())
        return h.hexdigest()[:16]

    def wait_converged(self, timeout, servers=None):
        """Waits until every server's tree is identical; returns
        (trees by sid, znode count, seconds taken)."""
        servers = servers or self.all()
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = None
        self.converge_attempts = 0
        while True:
            self.converge_attempts += 1
            trees, digests, errors = {}, {}, {}
            for s in servers:
                try:
                    trees[s.sid] = self.tree(s)
                    digests[s.sid] = self.digest(trees[s.sid])
                except Exception as e:  # noqa: BLE001 - retried until the deadline
                    errors[s.sid] = "%s: %s" % (type(e).__name__, e)
            if not errors and len(set(digests.values())) == 1:
                n = len(next(iter(trees.values())))
                return trees, n, time.monotonic() - t0
            last = (trees, digests, errors)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        trees, digests, errors = last
        raise Failure("trees did not converge within %.0f s: digests %s errors %s; %s"
                      % (timeout, digests, errors, describe_difference(trees)))


# Nothing is exempt from the comparison, /zookeeper/config and
# /zookeeper/quota included: in ZooKeeper 3.8 they are identical on every
# server. /zookeeper/config holds the server lines ("server.N=host:qp:ep:
# participant|observer" ... "version=0"), written into each server's tree
# with a local, non-transactional setData (ZKDatabase.initConfigInZKDatabase,
# at start and whenever the server joins a leader) whose stat is always the
# same: czxid=mzxid=pzxid=0, version=-1, aversion=-1, and its data is the
# same static text everywhere. /zookeeper/quota is never written. Observed
# root stats, for zkplug to match: "/" cversion -1, "/zookeeper" cversion -2.
# A path listed here would be compared by data only.
STAT_EXEMPT = set()


def describe_difference(trees):
    sids = sorted(trees)
    if len(sids) < 2:
        return "fewer than two trees read"
    ref = sids[0]
    out = []
    for sid in sids[1:]:
        a, b = trees[ref], trees[sid]
        only_a = sorted(set(a) - set(b))
        only_b = sorted(set(b) - set(a))
        diff = [p for p in sorted(set(a) & set(b))
                if (a[p][0], a[p][1] if p not in STAT_EXEMPT else 0) !=
                (b[p][0], b[p][1] if p not in STAT_EXEMPT else 0)]
        out.append("server %d vs %d: %d znodes vs %d, only on %d: %s, only on %d: %s, differing: %s"
                   % (ref, sid, len(a), len(b), ref, only_a[:3], sid, only_b[:3],
                      [(p, a[p], b[p]) for p in diff[:2]]))
    return "; ".join(out)


def close_client(c):
    """Stops a kazoo client within a bounded time (in a helper thread)."""
    def run():
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)


class HardLimit:
    """Raises Failure in the main thread after `seconds` (SIGALRM), and on
    SIGTERM, SIGINT or SIGHUP (a ctest or `timeout` kill), so that the
    cleanup still stops every server."""

    SIGNALS = (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def fire(signum, frame):
            if signum == signal.SIGALRM:
                raise Failure("hard time limit of %d s exceeded" % self.seconds)
            raise Failure("stopped by signal %d" % signum)
        self.old = {sig: signal.signal(sig, fire) for sig in self.SIGNALS}
        signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        signal.alarm(0)
        for sig, h in self.old.items():
            signal.signal(sig, h)
        return False


def java_ok():
    if shutil.which("java") is None:
        return "java is not installed"
    for jar in ZK_CLASSPATH.split(":"):
        if not os.path.exists(jar):
            return "%s is missing" % jar
    return None


def fatal_markers(server):
    """Sanitizer reports or fatal ZooKeeper messages in a server's log."""
    text = log_text(server.log_path)
    # (ZooKeeper's "Severe unrecoverable error" from a follower's request
    # or sync thread writing to the socket of a leader that just died is
    # part of its normal failover and is not looked for.)
    return [m for m in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                        "Unable to load database")
            if m in text]


if __name__ == "__main__":
    sys.exit("ensemble.py is a library; run test_ensemble.py")
