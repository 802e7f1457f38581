#!/usr/bin/python3
"""The AdminServer's JSON against Apache ZooKeeper 3.8.0's AdminServer, live.

Starts zkplug (argv[1], plugins from argv[2]) and ZooKeeper 3.8.0 standalone
from the same zoo.cfg lines, runs the same kazoo workload on both (two
sessions, znodes, an ephemeral, data and child watches), then fetches every
command both list on GET /commands and compares the answers recursively:
HTTP status and content type, the same members in the same order at every
object level, the same JSON types, and the values that are not volatile
(the workload fixes counts, zxids, watches; ids, ports, times, sizes and
latencies are masked). Any difference fails the test unless ALLOWED below
explains it.

ZooKeeper's AdminServer needs javax.servlet, which zookeeper.jar's manifest
Class-Path does not name (it names the jetty9 jars): servlet-api.jar is
added to the classpath. Servers listen on 127.0.0.1 only (free ports) and
are stopped by PID.
"""
import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from kazoo.client import KazooClient

ZKPLUG = None
PLUGIN_DIR = None
ZK_CLASSPATH = os.environ.get(
    "ZKPLUG_ZK_CLASSPATH",
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/servlet-api.jar")

# Differences that are by design: (command, path pattern, kind) -> reason.
# kind is one of: only (a command one side lists), envelope (where
# "command"/"error" sit), missing / extra (a member zkplug lacks / adds),
# order, type, value, length, listing (the GET /commands page).
ALLOWED = {
    ("lua_reload", "", "only"):
        "zkplug only: reloads the Lua scripts (lrld); ZooKeeper has no scripts",
    ("environment", "java.*", "value"):
        "no JVM: zkplug answers \"<NA>\", ZooKeeper's text for a property it cannot read",
    ("environment", "os.memory.*", "value"):
        "the process's memory, not a Java heap: different figures, same \"NMB\" form",
    ("system_properties", "*", "missing"):
        "no JVM, so no Java system properties (java.*, sun.*, zookeeper.* -D flags)",
    ("system_properties", "*", "extra"):
        "zkplug lists instead its envi properties that have a value, sorted as ZooKeeper's are",
    ("system_properties", "*", "value"):
        "no JVM: the same names (user.*, os.*) have the values of a different process",
    ("monitor", "*", "extra"):
        "zkplug's own metrics (tcp_*, the storage plugin's disk_*/mem_*, per-opcode "
        "*_latency_us), see docs/metrics.md",
    ("monitor", "", "order"):
        "after version and server_state (checked apart), ZooKeeper 3.8's order is the "
        "iteration order of its metrics provider's hash maps, which changes with the set "
        "of names and the server mode; zkplug lists the core keys in mntr's classic order, "
        "then its registry's",
}

# Known differences that lua/fourlw.lua cannot fix (they need the C side);
# same form as ALLOWED, kept apart so that they stay visible.
KNOWN_C_GAPS = {
}

# Values not compared (the type still is): fnmatch patterns on
# "command/member/member", "[]" for an array element, "*" for a map entry.
VOLATILE = [
    "dirs/*",
    "connections/connections/[]/*", "stats/connections/[]/*",
    "server_stats/server_stats/*", "stats/server_stats/*",
    "server_stats/client_response/*", "stats/client_response/*",
    "server_stats/server_stats/client_response_stats/*", "stats/server_stats/client_response_stats/*",
    "dump/*/*/[]", "watches_by_path/*/*/[]",
    "environment/*", "system_properties/*",
    "last_snapshot/timestamp",
    "monitor/*",
]
# ... except these, which the workload fixes.
FIXED = [
    "connections/connections/[]/interest_ops", "connections/connections/[]/outstanding_requests",
    "connections/connections/[]/session_timeout",
    "stats/connections/[]/interest_ops", "stats/connections/[]/outstanding_requests",
    "*/server_stats/server_state", "*/server_stats/last_processed_zxid",
    "*/server_stats/outstanding_requests", "*/server_stats/num_alive_client_connections",
    "*/server_stats/provider_null", "*/server_stats/fsync_threshold_exceed_count",
    "*/server_stats/auth_failed_count", "*/server_stats/non_mtls*",
    "environment/zookeeper.version", "environment/java.*", "environment/os.memory.*",
    "environment/os.name", "environment/os.arch", "environment/user.name", "environment/user.home",
    "environment/user.dir", "environment/java.io.tmpdir",
    "system_properties/user.dir", "system_properties/user.name", "system_properties/zookeeper.version",
    "monitor/version", "monitor/server_state", "monitor/ephemerals_count",
    "monitor/num_alive_connections", "monitor/outstanding_requests", "monitor/znode_count",
    "monitor/global_sessions", "monitor/local_sessions", "monitor/watch_count",
    "monitor/approximate_data_size", "monitor/auth_failed_count", "monitor/non_mtls_*",
    "monitor/outstanding_tls_handshake", "monitor/connection_drop_probability",
]
# Objects whose member names are data: "ids" (session ids or times: the
# values are compared as a multiset), "paths" (znode paths: compared by
# name), "expiry" (time buckets: only the items, all buckets together).
MAPS = {
    "dump/expiry_time_to_session_ids": "expiry",
    "dump/session_id_to_ephemeral_paths": "ids",
    "watches/session_id_to_watched_paths": "ids",
    "watches_by_path/path_to_session_ids": "paths",
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fourlw(port, word, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(word.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()
    finally:
        s.close()


class Server:
    """zkplug (java=False) or Apache ZooKeeper 3.8.0 (java=True), same zoo.cfg."""

    def __init__(self, java):
        self.java = java
        self.dir = tempfile.mkdtemp(prefix="zkplug-admincmp-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.port = free_port()
        self.admin_port = free_port()
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write("\n".join([
                "tickTime=2000", "dataDir=%s" % self.data_dir, "clientPort=%d" % self.port,
                "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=*", "admin.enableServer=true",
                "admin.serverAddress=127.0.0.1", "admin.serverPort=%d" % self.admin_port]) + "\n")
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "w")
        if java:
            cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", ZK_CLASSPATH,
                   "org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg]
        else:
            cmd = [ZKPLUG, "-c", self.cfg, "-p", PLUGIN_DIR]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + (40 if java else 15)
        while True:
            try:
                if (fourlw(self.port, "srvr", timeout=1.0).startswith("Zookeeper version: ")
                        and self.get("ruok")[0] == 200):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop(keep=True)
                raise RuntimeError("server did not start; log in %s" % self.log_path)
            time.sleep(0.1)

    def get(self, path):
        """(status, content type, body) of GET /commands/PATH."""
        url = "http://127.0.0.1:%d/commands/%s" % (self.admin_port, path)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def normalize(self, v):
        """This server's own folders and ports as placeholders."""
        if isinstance(v, str):
            v = v.replace(self.dir, "$DIR")
            v = re.sub(r"\b%d\b" % self.admin_port, "$ADMINPORT", v)
            return re.sub(r"\b%d\b" % self.port, "$PORT", v)
        if isinstance(v, int) and not isinstance(v, bool) and v in (self.port, self.admin_port):
            return "$PORT" if v == self.port else "$ADMINPORT"
        return v

    def stop(self, keep=False):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_workload(port):
    """The same operations on either server; returns the clients (kept open)."""
    hosts = "127.0.0.1:%d" % port
    a = KazooClient(hosts=hosts, timeout=10)
    b = KazooClient(hosts=hosts, timeout=10)
    a.start(timeout=15)
    b.start(timeout=15)
    a.ensure_path("/w/none")
    a.create("/w/eph", b"x", ephemeral=True)
    a.set("/w", b"data")
    a.exists("/w/none", watch=lambda e: None)
    a.get("/w", watch=lambda e: None)
    b.get("/w", watch=lambda e: None)
    b.get_children("/w", watch=lambda e: None)
    return [a, b]


# ------------------------------------------------------------ comparing

class Obj(list):
    """A JSON object as its (name, value) pairs, in order."""

    def keys(self):
        return [k for k, _ in self]

    def get(self, key):
        for k, v in self:
            if k == key:
                return v
        return None


def parse(text):
    return json.loads(text, object_pairs_hook=Obj)


def jtype(v):
    if v is None:
        return "null"
    for t, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string"),
                    (Obj, "object"), (list, "array")):
        if isinstance(v, t):
            return name
    return type(v).__name__


def matches(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def volatile(path):
    return matches(path, VOLATILE) and not matches(path, FIXED)


class Comparer:
    def __init__(self, zk, zp):
        self.zk, self.zp = zk, zp
        self.diffs = []  # (command, path, kind, message)

    def note(self, cmd, path, kind, msg):
        self.diffs.append((cmd, path, kind, msg))

    def value(self, srv, path, v):
        v = srv.normalize(v)
        if isinstance(v, str) and (path.endswith("/version") or path.endswith("/zookeeper.version")):
            return v.split("-")[0] + "-..."  # "3.8.0-<build>, built on <date>"
        return v

    def canon(self, srv, path, v):
        """v with volatile values masked, maps and arrays in a fixed order."""
        if isinstance(v, Obj):
            kind = MAPS.get(path)
            if kind == "paths":
                return sorted((k, self.canon(srv, path + "/*", x)) for k, x in v)
            if kind == "ids":
                return sorted((self.canon(srv, path + "/*", x) for _, x in v), key=repr)
            if kind == "expiry":
                return sorted((self.canon(srv, path + "/*/[]", i) for _, x in v for i in x), key=repr)
            return [(k, self.canon(srv, path + "/" + k, x)) for k, x in v]
        if isinstance(v, list):
            return sorted((self.canon(srv, path + "/[]", x) for x in v), key=repr)
        if volatile(path):
            return "<%s>" % jtype(v)
        return (jtype(v), self.value(srv, path, v))

    def compare(self, cmd, path, a, b):
        """a from ZooKeeper, b from zkplug; path is "command/member/..."."""
        rel = path[len(cmd) + 1:]
        ta, tb = jtype(a), jtype(b)
        if ta != tb:
            self.note(cmd, rel, "type", "%s: ZooKeeper %s %r, zkplug %s %r" % (path, ta, a, tb, b))
            return
        if ta == "object":
            kind = MAPS.get(path)
            if kind is not None:
                ca, cb = self.canon(self.zk, path, a), self.canon(self.zp, path, b)
                if ca != cb:
                    self.note(cmd, rel, "value", "%s: ZooKeeper %s, zkplug %s" % (path, ca, cb))
                return
            ka, kb = a.keys(), b.keys()
            if ka != kb:
                missing = [k for k in ka if k not in kb]
                extra = [k for k in kb if k not in ka]
                sub = rel + "/" if rel else ""
                for k in missing:
                    self.note(cmd, sub + k, "missing", "%s: zkplug lacks %s" % (path, k))
                for k in extra:
                    self.note(cmd, sub + k, "extra", "%s: zkplug has extra %s" % (path, k))
                common_a = [k for k in ka if k in kb]
                common_b = [k for k in kb if k in ka]
                if common_a != common_b:
                    self.note(cmd, rel, "order", "%s: ZooKeeper %s, zkplug %s" % (path, common_a, common_b))
            for k in ka:
                if k in kb:
                    self.compare(cmd, path + "/" + k, a.get(k), b.get(k))
            return
        if ta == "array":
            if len(a) != len(b):
                self.note(cmd, rel, "length", "%s: ZooKeeper %d items, zkplug %d" % (path, len(a), len(b)))
                return
            # Order within arrays (connections, ids) is each server's own.
            key_a = sorted(a, key=lambda x: repr(self.canon(self.zk, path + "/[]", x)))
            key_b = sorted(b, key=lambda x: repr(self.canon(self.zp, path + "/[]", x)))
            for x, y in zip(key_a, key_b):
                self.compare(cmd, path + "/[]", x, y)
            return
        if volatile(path):
            return
        va, vb = self.value(self.zk, path, a), self.value(self.zp, path, b)
        if va != vb:
            self.note(cmd, rel, "value", "%s: ZooKeeper %r, zkplug %r" % (path, va, vb))

    def compare_answer(self, cmd, zk_answer, zp_answer):
        """Two (status, content type, body) answers to the same request."""
        (sa, ca, ta), (sb, cb, tb) = zk_answer, zp_answer
        if (sa, ca) != (sb, cb):
            self.note(cmd, "", "http", "%s: ZooKeeper %s %s, zkplug %s %s" % (cmd, sa, ca, sb, cb))
        a, b = parse(ta), parse(tb)
        for k in ("command", "error"):
            if k not in b.keys() or jtype(a.get(k)) != jtype(b.get(k)) or a.get(k) != b.get(k):
                self.note(cmd, k, "value", "%s: %s ZooKeeper %r, zkplug %r" % (cmd, k, a.get(k), b.get(k)))
        # The data members, then where the envelope ("command", "error") sits.
        data_a = Obj((k, v) for k, v in a if k not in ("command", "error"))
        data_b = Obj((k, v) for k, v in b if k not in ("command", "error"))
        self.compare(cmd, cmd, data_a, data_b)
        if data_a.keys() == data_b.keys() and a.keys() != b.keys():
            self.note(cmd, "", "envelope", "%s: ZooKeeper %s, zkplug %s" % (cmd, a.keys(), b.keys()))

    def unexplained(self):
        out, used = [], set()
        for cmd, path, kind, msg in self.diffs:
            why = None
            for table in (ALLOWED, KNOWN_C_GAPS):
                for (c, p, k), reason in table.items():
                    if k == kind and fnmatch.fnmatchcase(cmd, c) and fnmatch.fnmatchcase(path, p):
                        why = reason
                        used.add((c, p, k))
                        break
                if why:
                    break
            if why is None:
                out.append(msg)
            elif os.environ.get("ZKPLUG_ADMINCMP_VERBOSE"):
                print("allowed difference: " + msg, file=sys.stderr)
        return out, used


def command_list(srv):
    status, _, body = srv.get("")
    assert status == 200, status
    return re.findall(r'<a href="/commands/([^"]+)">\1</a>', body), body


class CompareAdminServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.zk = cls.zp = None
        cls.clients = []
        try:
            cls.zk = Server(java=True)
            cls.zp = Server(java=False)
            for srv in (cls.zk, cls.zp):
                cls.clients += run_workload(srv.port)
        except Exception:
            cls.tearDownClass()
            raise
        time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for srv in (cls.zk, cls.zp):
            if srv is not None:
                srv.stop()

    def test_every_command_answers_as_zookeeper(self):
        cmp = Comparer(self.zk, self.zp)
        zk_names, zk_page = command_list(self.zk)
        zp_names, zp_page = command_list(self.zp)
        self.assertGreaterEqual(len(zk_names), 26, zk_page)
        for name in sorted(set(zk_names) - set(zp_names)):
            cmp.note(name, "", "only", "%s: listed by ZooKeeper only" % name)
        for name in sorted(set(zp_names) - set(zk_names)):
            cmp.note(name, "", "only", "%s: listed by zkplug only" % name)
        if zk_names != [n for n in zp_names if n in zk_names]:
            cmp.note("", "", "order", "command list order: ZooKeeper %s, zkplug %s" % (zk_names, zp_names))
        # lua_reload is zkplug's own command (allowed above): its link aside.
        zp_page = zp_page.replace('<a href="/commands/lua_reload">lua_reload</a>\n<br/>\n', "")
        html = [re.sub(r"/commands/[^\"<]+|>[a-z_]+<", "", l) for l in (zk_page, zp_page)]
        if html[0].replace("\n", "") != html[1].replace("\n", "") or zk_page.count("\n") != zp_page.count("\n"):
            cmp.note("", "", "listing", "command list page: ZooKeeper %r..., zkplug %r..."
                     % (zk_page[:80], zp_page[:80]))
        # State-changing requests last; error answers as well.
        changing = ["set_trace_mask", "connection_stat_reset", "stat_reset", "observer_connection_stat_reset"]
        common = [n for n in zk_names if n in zp_names and n not in changing]
        requests = common + ["nosuch", "set_trace_mask", "set_trace_mask?traceMask=abc",
                             "set_trace_mask?traceMask=306"] + [n for n in changing[1:] if n in zp_names]
        answers = {}
        for req in requests:
            cmd = req.split("?")[0]
            answers[req] = (self.zk.get(req), self.zp.get(req))
            cmp.compare_answer(cmd, *answers[req])
        # The part of monitor's order that is not a hash map's.
        for answer in answers["monitor"]:
            keys = [k for k in parse(answer[2]).keys() if k not in ("command", "error")]
            self.assertEqual(keys[:2], ["version", "server_state"])

        bad, used = cmp.unexplained()
        for table, title in ((ALLOWED, "by design"), (KNOWN_C_GAPS, "known, needs C")):
            for key, reason in table.items():
                if key in used:
                    print("allowed (%s) %s: %s" % (title, "/".join(k for k in key if k), reason),
                          file=sys.stderr)
        self.assertEqual(bad, [], "unexplained differences:\n  " + "\n  ".join(bad))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_admin_compare.py ZKPLUG PLUGIN_DIR")
    ZKPLUG, PLUGIN_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
