#!/usr/bin/python3
"""The Lua host against a running zkplug (argv[1], plugins from argv[2]).

- Every four-letter word is compared with Apache ZooKeeper 3.8.0's answer
  after the same sequence of operations (kazoo): same lines and keys, with
  volatile values (ids, ports, counters, dates, paths, versions) masked.
- Each audited operation writes ZooKeeper's audit line.
- The config hook rejecting a bad value stops start-up with the key.
- An operator script dropped into lua.scriptsDir adds a command (4lw and
  AdminServer), is reloaded (lrld, SIGHUP), then broken and reloaded: the
  old one stays.
- The AdminServer answers ZooKeeper's JSON shapes.
Servers listen on 127.0.0.1 only and are stopped by PID.
"""
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
import urllib.request

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

ZKPLUG = None
PLUGIN_DIR = None
ZK_CLASSPATH = os.environ.get("ZKPLUG_ZK_CLASSPATH",
                              "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fourlw(port, word, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(word if isinstance(word, bytes) else word.encode())
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
    """zkplug (java=False) or Apache ZooKeeper 3.8.0 (java=True)."""

    def __init__(self, extra=(), java=False, scripts_dir=None, expect_start=True, env=None):
        self.dir = tempfile.mkdtemp(prefix="zkplug-lua-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.port = free_port()
        self.admin_port = free_port()
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        lines = ["tickTime=2000", "dataDir=%s" % self.data_dir, "clientPort=%d" % self.port,
                 "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=*",
                 "admin.serverAddress=127.0.0.1", "admin.serverPort=%d" % self.admin_port]
        if java:
            lines.append("admin.enableServer=false")
        else:
            lines.append("plugin.storage=mem")
            if scripts_dir:
                lines.append("lua.scriptsDir=%s" % scripts_dir)
        lines += list(extra)
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "w")
        if java:
            cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", ZK_CLASSPATH,
                   "-Dzookeeper.4lw.commands.whitelist=*",
                   "org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg]
        else:
            cmd = [ZKPLUG, "-c", self.cfg, "-p", PLUGIN_DIR]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir,
                                     env=dict(os.environ, **(env or {})))
        if not expect_start:
            self.proc.wait(timeout=20)
            self.log.close()
            return
        deadline = time.time() + (40 if java else 15)
        while True:
            try:
                if fourlw(self.port, "srvr", timeout=1.0).startswith("Zookeeper version: "):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop(keep=True)
                raise RuntimeError("server did not start; log in %s" % self.log_path)
            time.sleep(0.1)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

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

    def admin(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d/commands/%s" % (self.admin_port, path),
                                    timeout=5) as r:
            self.assert_status = r.status
            return r.read().decode()


def run_workload(port):
    """The same operations on either server; returns the clients (kept
    open) and their session ids."""
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
    return a, b


# ------------------------------------------------------------ masking

def mask(text):
    text = re.sub(r"3\.8\.0-\S+, built on [^\n\t]+", "VERSION", text)
    text = re.sub(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}", "DATE", text)
    text = re.sub(r"/127\.0\.0\.1:\d+", "/ADDR", text)
    text = re.sub(r"0x[0-9a-f]+", "0xHEX", text)
    text = re.sub(r"/[^\s=]*?/version-2", "DIR/version-2", text)
    text = re.sub(r"\d+(\.\d+)?(E\d+)?", "N", text)
    return text


def keys_of(text, sep):
    return [l.split(sep, 1)[0] for l in text.split("\n") if l]


class CompareWithZooKeeper(unittest.TestCase):
    """Each 4lw's output against Apache ZooKeeper 3.8.0 after the same operations."""

    @classmethod
    def setUpClass(cls):
        cls.zk = Server(java=True)
        cls.zp = Server()
        cls.clients = []
        for srv in (cls.zk, cls.zp):
            cls.clients += run_workload(srv.port)
        time.sleep(0.3)

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        cls.zk.stop()
        cls.zp.stop()

    def both(self, word):
        return fourlw(self.zk.port, word), fourlw(self.zp.port, word)

    def test_same_masked_text(self):
        # Commands whose masked output must be identical, line for line.
        for word in ("ruok", "srvr", "conf", "wchs", "gtmk", "isro", "dirs", "hash"):
            zk, zp = self.both(word)
            self.assertEqual(mask(zp), mask(zk), word)

    def test_same_lines_unordered(self):
        # Connection and watch listings: the same lines, in whatever order
        # each server keeps its connections.
        for word in ("stat", "cons", "wchc", "wchp"):
            zk, zp = self.both(word)
            self.assertEqual(sorted(mask(zp).split("\n")), sorted(mask(zk).split("\n")), word)

    def test_dump(self):
        zk, zp = self.both("dump")

        def shape(text):
            # Bucket boundaries depend on timing; the sections and the
            # entries do not.
            lines = mask(text).split("\n")
            return sorted(l for l in lines if not l.startswith("N expire at")
                          and "Sets (" not in l)
        self.assertEqual(shape(zp), shape(zk))
        for t in (zk, zp):
            self.assertRegex(t, r"Session Sets \(\d+\)/\(2\):")
            self.assertRegex(t, r"Connections Sets \(\d+\)/\(3\):")

    def test_envi_same_keys(self):
        zk, zp = self.both("envi")
        self.assertEqual(keys_of(zp, "="), keys_of(zk, "="))

    def test_mntr_keys(self):
        zk, zp = self.both("mntr")
        zk_keys, zp_keys = set(keys_of(zk, "\t")), set(keys_of(zp, "\t"))
        core = {"zk_version", "zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections",
                "zk_avg_latency", "zk_min_latency", "zk_max_latency", "zk_outstanding_requests",
                "zk_znode_count", "zk_global_sessions", "zk_local_sessions", "zk_watch_count",
                "zk_approximate_data_size", "zk_open_file_descriptor_count",
                "zk_max_file_descriptor_count", "zk_uptime", "zk_packets_sent", "zk_packets_received",
                "zk_last_client_response_size", "zk_min_client_response_size",
                "zk_max_client_response_size", "zk_auth_failed_count", "zk_non_mtls_remote_conn_count",
                "zk_non_mtls_local_conn_count", "zk_outstanding_tls_handshake",
                "zk_connection_drop_probability"}
        self.assertTrue(core <= zk_keys, core - zk_keys)
        self.assertTrue(core <= zp_keys, core - zp_keys)
        zkv = dict(l.split("\t", 1) for l in zk.split("\n") if l)
        zpv = dict(l.split("\t", 1) for l in zp.split("\n") if l)
        for k in ("zk_server_state", "zk_ephemerals_count", "zk_global_sessions", "zk_local_sessions",
                  "zk_watch_count", "zk_znode_count", "zk_num_alive_connections"):
            self.assertEqual(zpv[k], zkv[k], k)

    def test_trace_mask_and_whitelist_refusal(self):
        for payload in (b"stmk" + (0x1ff).to_bytes(8, "big"), b"gtmk", b"stmk" + (306).to_bytes(8, "big")):
            zk, zp = self.both(payload)
            self.assertEqual(zp, zk)

    def test_zz_resets(self):
        for word in ("crst", "srst"):
            zk, zp = self.both(word)
            self.assertEqual(zp, zk)


class Whitelist(unittest.TestCase):
    def test_default_whitelist_refusal_matches_zookeeper(self):
        zp = Server(extra=["4lw.commands.whitelist=srvr"])
        try:
            self.assertEqual(fourlw(zp.port, "stat"), "stat is not executed because it is not in the whitelist.\n")
            self.assertTrue(fourlw(zp.port, "srvr").startswith("Zookeeper version: 3.8.0-zkplug-"))
        finally:
            zp.stop()


class Audit(unittest.TestCase):
    def test_audited_operations_write_zookeeper_lines(self):
        srv = Server(extra=["audit.enable=true"])
        audit_path = os.path.join(srv.data_dir, "zookeeper_audit.log")
        try:
            c = KazooClient(hosts="127.0.0.1:%d" % srv.port, timeout=10)
            c.start(timeout=10)
            sid = "0x%x" % c._session_id
            c.create("/a", b"1")
            c.set("/a", b"2")
            c.set_acls("/a", [make_digest_acl("u", "p", all=True)])
            try:
                c.delete("/missing")
            except Exception:
                pass
            c.create("/e", b"", ephemeral=True, sequence=True)
            tx = c.transaction()
            tx.create("/m1")
            tx.delete("/nope")
            tx.commit()
            c.stop()
            c.close()
        finally:
            srv.stop(keep=True)
        with open(audit_path) as f:
            lines = f.read().split("\n")[:-1]
        shutil.rmtree(srv.dir, ignore_errors=True)
        prefix = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|ERROR) audit\.Slf4jAuditLogger: "
        for l in lines:
            self.assertRegex(l, prefix)
        msgs = [re.sub(prefix, "", l) for l in lines]
        user = os.environ.get("USER") or __import__("pwd").getpwuid(os.geteuid()).pw_name
        ip = "127.0.0.1"
        base = "session=%s\tuser=%s\tip=%s\t" % (sid, ip, ip)
        expected = [
            "user=%s\toperation=serverStart\tresult=success" % user,
            base + "operation=create\tznode=/a\tznode_type=persistent\tresult=success",
            base + "operation=setData\tznode=/a\tresult=success",
            base + "operation=setAcl\tznode=/a\tacl=digest:%s:cdrwa\tresult=success"
            % make_digest_acl("u", "p", all=True).id.id,
            base + "operation=delete\tznode=/missing\tresult=failure",
            base + "operation=create\tznode=/e0000000001\tznode_type=ephemeral_sequential\tresult=success",
            base + "operation=multiOperation\tresult=failure",
            "session=%s\tuser=%s\toperation=ephemeralZNodeDeletionOnSessionCloseOrExpire\tznode=/e0000000001"
            "\tresult=success" % (sid, user),
            "user=%s\toperation=serverStop\tresult=invoked" % user,
        ]
        self.assertEqual(msgs, expected)
        self.assertTrue(lines[4].split(" ")[2] == "ERROR")


class ConfigHook(unittest.TestCase):
    def test_bad_value_stops_startup_with_key_and_line(self):
        srv = Server(extra=["audit.enable=maybe"], expect_start=False)
        out = srv.output()
        srv.stop()
        self.assertNotEqual(srv.proc.returncode, 0)
        self.assertRegex(out, r"zoo\.cfg:\d+: key 'audit\.enable': must be true or false, not 'maybe' "
                              r"\(rejected by .*config\.lua:\d+\)")

    def test_environment_overrides_a_value(self):
        srv = Server(env={"ZKPLUG_MAXCLIENTCNXNS": "33"})
        try:
            self.assertIn("maxClientCnxns=33\n", fourlw(srv.port, "conf"))
        finally:
            srv.stop()


class OperatorScripts(unittest.TestCase):
    def test_dropped_script_adds_command_reload_and_broken_reload(self):
        scripts = tempfile.mkdtemp(prefix="zkplug-scripts-")
        srv = Server(scripts_dir=scripts)
        try:
            self.assertEqual(fourlw(srv.port, "hell"), "")  # unknown word: closed silently
            with open(os.path.join(scripts, "hello.lua"), "w") as f:
                f.write("zk.command{name='hello', word='hell', aliases={'hi'},\n"
                        "  text=function() return 'hello from lua, zxid ' .. zk.server().zxid .. '\\n' end,\n"
                        "  json=function() return zk.object({{'greeting', 'hello'}}) end}\n")
            self.assertEqual(fourlw(srv.port, "lrld"), "Lua scripts reloaded.\n")
            self.assertEqual(fourlw(srv.port, "hell"), "hello from lua, zxid 0\n")
            body = json.loads(srv.admin("hello"))
            self.assertEqual(body, {"command": "hello", "error": None, "greeting": "hello"})
            self.assertEqual(json.loads(srv.admin("hi"))["command"], "hello")
            # Change it and reload with SIGHUP.
            with open(os.path.join(scripts, "hello.lua"), "w") as f:
                f.write("zk.command{name='hello', word='hell', text=function() return 'v2\\n' end}\n")
            os.kill(srv.proc.pid, signal.SIGHUP)
            deadline = time.time() + 5
            while fourlw(srv.port, "hell") != "v2\n" and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(fourlw(srv.port, "hell"), "v2\n")
            # Break it: the reload fails and v2 stays.
            with open(os.path.join(scripts, "hello.lua"), "w") as f:
                f.write("zk.command{name='hello', word='hell', text=function() return 'v3\\n' end\n")
            out = fourlw(srv.port, "lrld")
            self.assertRegex(out, r"^Lua scripts not reloaded, the previous ones stay: .*hello\.lua:2: ")
            self.assertEqual(fourlw(srv.port, "hell"), "v2\n")
            body = json.loads(srv.admin("lua_reload"))
            self.assertFalse(body["reloaded"])
            self.assertIn("hello.lua:2:", body["error"])
            self.assertEqual(fourlw(srv.port, "ruok"), "imok")
        finally:
            srv.stop()
            shutil.rmtree(scripts, ignore_errors=True)

    def test_failing_script_command_reports_and_server_carries_on(self):
        scripts = tempfile.mkdtemp(prefix="zkplug-scripts-")
        with open(os.path.join(scripts, "bad.lua"), "w") as f:
            f.write("zk.command{name='spin', text=function() while true do end end}\n")
        srv = Server(scripts_dir=scripts, extra=["lua.instructionLimit=100000"])
        try:
            self.assertRegex(fourlw(srv.port, "spin"),
                             r"^Error running spin: .*bad\.lua:1: instruction budget of 100000 exceeded\n$")
            self.assertEqual(fourlw(srv.port, "ruok"), "imok")
        finally:
            log = srv.output()
            srv.stop()
            shutil.rmtree(scripts, ignore_errors=True)
        self.assertIn("stack traceback:", log)


class AdminServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.clients = run_workload(cls.srv.port)

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            c.stop()
            c.close()
        cls.srv.stop()

    def test_pretty_printed_like_jackson(self):
        self.assertEqual(self.srv.admin("ruok"), '{\n  "command" : "ruok",\n  "error" : null\n}')

    def test_unknown_command(self):
        self.assertEqual(json.loads(self.srv.admin("nosuch")),
                         {"command": "nosuch", "error": "Unknown command: nosuch"})

    def test_command_list(self):
        page = self.srv.admin("")
        for name in ("configuration", "connections", "monitor", "server_stats", "watches_by_path"):
            self.assertIn('<a href="/commands/%s">%s</a>\n<br/>' % (name, name), page)

    def test_keys_and_aliases(self):
        expected = {
            "configuration": ["client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns",
                              "min_session_timeout", "max_session_timeout", "server_id",
                              "client_port_listen_backlog"],
            "dirs": ["datadir_size", "logdir_size"],
            "watch_summary": ["num_connections", "num_paths", "num_total_watches"],
            "is_read_only": ["read_only"],
            "get_trace_mask": ["tracemask"],
            "connections": ["connections", "secure_connections"],
            "dump": ["expiry_time_to_session_ids", "session_id_to_ephemeral_paths"],
            "watches": ["session_id_to_watched_paths"],
            "watches_by_path": ["path_to_session_ids"],
            "server_stats": ["version", "read_only", "server_stats", "client_response", "node_count"],
        }
        aliases = {"configuration": "conf", "connections": "cons", "watch_summary": "wchs",
                   "server_stats": "srvr", "is_read_only": "isro", "get_trace_mask": "gtmk"}
        for name, keys in expected.items():
            body = json.loads(self.srv.admin(name), object_pairs_hook=lambda p: p)
            # ZooKeeper's CommandResponse.toMap: data members, then command, error.
            self.assertEqual([k for k, _ in body], keys + ["command", "error"], name)
            if name in aliases:
                again = json.loads(self.srv.admin(aliases[name]))
                self.assertEqual(again["command"], name)
        w = json.loads(self.srv.admin("watch_summary"))
        self.assertEqual((w["num_connections"], w["num_paths"], w["num_total_watches"]), (2, 2, 3))

    def test_set_trace_mask_needs_argument(self):
        self.assertEqual(json.loads(self.srv.admin("set_trace_mask"))["error"],
                         "setTraceMask requires long traceMask argument")
        self.assertEqual(json.loads(self.srv.admin("stmk?traceMask=511"))["tracemask"], 511)
        self.assertEqual(json.loads(self.srv.admin("stmk?traceMask=306"))["tracemask"], 306)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_lua.py ZKPLUG PLUGIN_DIR")
    ZKPLUG, PLUGIN_DIR = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
