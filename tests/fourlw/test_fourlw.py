#!/usr/bin/python3
"""Four-letter words against a running zkplug.

Starts zkplug (argv[1], plugins from argv[2]) on a free 127.0.0.1 port with a
temporary dataDir, creates sessions, watches and an ephemeral node with kazoo,
then checks every command's output against ZooKeeper 3.8's formats: line
layout, key sets, fixed key order, the whitelist refusal and the telnet close
sequence. Two more servers check the whitelist parsing and its default.
"""
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

from kazoo.client import KazooClient

ZKPLUG = None
PLUGIN_DIR = None

TELNET_CLOSE = b"\xff\xf4\xff\xfd"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fourlw(port, word, timeout=5.0):
    """Send a word, return everything the server writes before closing."""
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
    def __init__(self, whitelist):
        self.dir = tempfile.mkdtemp(prefix="zkplug-4lw-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=2000\n")
            f.write("dataDir=%s\n" % self.data_dir)
            f.write("clientPort=%d\n" % self.port)
            f.write("clientPortAddress=127.0.0.1\n")
            if whitelist is not None:
                f.write("4lw.commands.whitelist=%s\n" % whitelist)
        self.log = open(os.path.join(self.dir, "zkplug.log"), "w")
        self.proc = subprocess.Popen([ZKPLUG, "-c", cfg, "-p", PLUGIN_DIR],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while True:
            try:
                fourlw(self.port, "srvr", timeout=1.0)
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("zkplug did not start; log in %s" % self.dir)
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


BRIEF = r" /127\.0\.0\.1:\d+\[[0-9a-f]+\]\(queued=\d+,recved=\d+,sent=\d+\)"
FULL = (BRIEF[:-2] + r",sid=0x[0-9a-f]+,lop=[A-Z0-9]+,est=\d+,to=\d+(,lcxid=0x[0-9a-f]+)?"
        r",lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)")
VERSION = r"3\.8\.0-\S+, built on .+"
JAVA_DATE = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}"
SERVER_STATS = [
    r"Latency min/avg/max: \d+/\d+\.\d+(E\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: standalone",
    r"Node count: \d+",
]


def sid_hex(client):
    return "0x%x" % client._session_id


class FourLetterWords(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("*")
        hosts = "127.0.0.1:%d" % cls.srv.port
        cls.a = KazooClient(hosts=hosts, timeout=10)
        cls.b = KazooClient(hosts=hosts, timeout=10)
        cls.a.start(timeout=10)
        cls.b.start(timeout=10)
        cls.a.ensure_path("/w/none")
        cls.a.create("/w/eph", b"x", ephemeral=True)
        cls.a.exists("/w/none", watch=lambda e: None)
        cls.a.get("/w", watch=lambda e: None)
        cls.b.get("/w", watch=lambda e: None)
        cls.b.get_children("/w", watch=lambda e: None)  # a child watch: not in wch*

    @classmethod
    def tearDownClass(cls):
        for c in (cls.a, cls.b):
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        cls.srv.stop()

    def cmd(self, word):
        return fourlw(self.srv.port, word)

    def assertLines(self, lines, patterns):
        self.assertEqual(len(lines), len(patterns), lines)
        for line, pat in zip(lines, patterns):
            self.assertRegex(line, "^" + pat + "$")

    def test_ruok(self):
        self.assertEqual(self.cmd("ruok"), "imok")

    def test_srvr(self):
        out = self.cmd("srvr")
        self.assertTrue(out.endswith("\n"))
        lines = out[:-1].split("\n")
        self.assertLines(lines, ["Zookeeper version: " + VERSION] + SERVER_STATS)
        self.assertRegex(out, r"Connections: 3\n")  # a, b and the asker

    def test_stat(self):
        out = self.cmd("stat")
        lines = out[:-1].split("\n")
        self.assertRegex(lines[0], "^Zookeeper version: " + VERSION + "$")
        self.assertEqual(lines[1], "Clients:")
        clients = lines[2:5]
        for line in clients:
            self.assertRegex(line, "^" + BRIEF + "$")
        # The asker itself is listed, no longer reading, with its one packet.
        self.assertTrue(any(re.search(r"\[0\]\(queued=0,recved=1,sent=0\)$", l) for l in clients), clients)
        self.assertEqual(lines[5], "")
        self.assertLines(lines[6:], SERVER_STATS)

    def test_conf(self):
        out = self.cmd("conf")
        keys = [l.split("=", 1) for l in out[:-1].split("\n")]
        self.assertEqual([k for k, _ in keys], [
            "clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir", "dataLogSize",
            "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
            "clientPortListenBacklog", "serverId"])
        conf = dict(keys)
        self.assertEqual(conf["clientPort"], str(self.srv.port))
        self.assertEqual(conf["secureClientPort"], "-1")
        self.assertEqual(conf["dataDir"], self.srv.data_dir + "/version-2")
        self.assertEqual(conf["dataLogDir"], self.srv.data_dir + "/version-2")
        self.assertRegex(conf["dataDirSize"], r"^\d+$")
        self.assertRegex(conf["dataLogSize"], r"^\d+$")
        self.assertEqual(conf["tickTime"], "2000")
        self.assertEqual(conf["maxClientCnxns"], "60")
        self.assertEqual(conf["minSessionTimeout"], "4000")
        self.assertEqual(conf["maxSessionTimeout"], "40000")
        self.assertEqual(conf["clientPortListenBacklog"], "-1")
        self.assertEqual(conf["serverId"], "0")

    def test_cons(self):
        out = self.cmd("cons")
        self.assertTrue(out.endswith("\n\n"))
        lines = out[:-2].split("\n")
        self.assertEqual(len(lines), 3, lines)
        full = [l for l in lines if ",sid=" in l]
        brief = [l for l in lines if ",sid=" not in l]
        self.assertEqual(len(full), 2, lines)
        for line in full:
            self.assertRegex(line, "^" + FULL + "$")
        self.assertEqual({re.search(r"sid=(0x[0-9a-f]+)", l).group(1) for l in full},
                         {sid_hex(self.a), sid_hex(self.b)})
        self.assertEqual(len(brief), 1)
        self.assertRegex(brief[0], "^" + BRIEF + "$")

    def test_envi(self):
        out = self.cmd("envi")
        lines = out[:-1].split("\n")
        self.assertEqual(lines[0], "Environment:")
        pairs = [l.split("=", 1) for l in lines[1:]]
        self.assertEqual([k for k, _ in pairs], [
            "zookeeper.version", "host.name", "java.version", "java.vendor", "java.home",
            "java.class.path", "java.library.path", "java.io.tmpdir", "java.compiler", "os.name",
            "os.arch", "os.version", "user.name", "user.home", "user.dir", "os.memory.free",
            "os.memory.max", "os.memory.total"])
        env = dict(pairs)
        self.assertRegex(env["zookeeper.version"], "^" + VERSION + "$")
        for k in ("os.memory.free", "os.memory.max", "os.memory.total"):
            self.assertRegex(env[k], r"^\d+MB$")
        self.assertEqual(env["os.name"], os.uname().sysname)

    def test_wchs(self):
        self.assertEqual(self.cmd("wchs"), "2 connections watching 2 paths\nTotal watches:3\n")

    def parse_groups(self, out):
        self.assertTrue(out.endswith("\n\n"), repr(out))
        groups, current = {}, None
        for line in out[:-2].split("\n"):
            if line.startswith("\t"):
                self.assertIsNotNone(current)
                groups[current].add(line[1:])
            else:
                current = line
                groups[current] = set()
        return groups

    def test_wchc(self):
        self.assertEqual(self.parse_groups(self.cmd("wchc")),
                         {sid_hex(self.a): {"/w/none", "/w"}, sid_hex(self.b): {"/w"}})

    def test_wchp(self):
        self.assertEqual(self.parse_groups(self.cmd("wchp")),
                         {"/w/none": {sid_hex(self.a)}, "/w": {sid_hex(self.a), sid_hex(self.b)}})

    def test_dump(self):
        lines = self.cmd("dump")[:-1].split("\n")
        self.assertEqual(lines[0], "SessionTracker dump:")
        m = re.match(r"^Session Sets \((\d+)\)/\((\d+)\):$", lines[1])
        self.assertIsNotNone(m, lines[1])
        self.assertEqual(int(m.group(2)), 2)
        i, sessions = 2, set()
        for _ in range(int(m.group(1))):
            b = re.match(r"^(\d+) expire at " + JAVA_DATE + ":$", lines[i])
            self.assertIsNotNone(b, lines[i])
            for j in range(int(b.group(1))):
                self.assertRegex(lines[i + 1 + j], r"^\t0x[0-9a-f]+$")
                sessions.add(lines[i + 1 + j][1:])
            i += 1 + int(b.group(1))
        self.assertEqual(sessions, {sid_hex(self.a), sid_hex(self.b)})
        self.assertEqual(lines[i:i + 4], ["ephemeral nodes dump:", "Sessions with Ephemerals (1):",
                                          sid_hex(self.a) + ":", "\t/w/eph"])
        i += 4
        self.assertEqual(lines[i], "Connections dump:")
        m = re.match(r"^Connections Sets \((\d+)\)/\((\d+)\):$", lines[i + 1])
        self.assertIsNotNone(m, lines[i + 1])
        self.assertEqual(int(m.group(2)), 3)
        i += 2
        conns = []
        for _ in range(int(m.group(1))):
            b = re.match(r"^(\d+) expire at " + JAVA_DATE + ":$", lines[i])
            self.assertIsNotNone(b, lines[i])
            for j in range(int(b.group(1))):
                c = re.match(r"^\tip: /127\.0\.0\.1:\d+ sessionId: (0x[0-9a-f]+)$", lines[i + 1 + j])
                self.assertIsNotNone(c, lines[i + 1 + j])
                conns.append(c.group(1))
            i += 1 + int(b.group(1))
        self.assertEqual(i, len(lines))
        self.assertEqual(sorted(conns), sorted(["0x0", sid_hex(self.a), sid_hex(self.b)]))

    def test_mntr(self):
        out = self.cmd("mntr")
        self.assertTrue(out.endswith("\n"))
        keys = []
        values = {}
        for line in out[:-1].split("\n"):
            m = re.match(r"^zk_([a-z0-9_]+)\t(.*)$", line)
            self.assertIsNotNone(m, line)
            keys.append(m.group(1))
            values[m.group(1)] = m.group(2)
        self.assertEqual(len(keys), len(set(keys)), "duplicate mntr keys")
        for k in ("version", "server_state", "ephemerals_count", "num_alive_connections",
                  "avg_latency", "min_latency", "max_latency", "outstanding_requests", "znode_count",
                  "global_sessions", "local_sessions", "watch_count", "approximate_data_size",
                  "open_file_descriptor_count", "max_file_descriptor_count", "uptime",
                  "packets_sent", "packets_received"):
            self.assertIn(k, values)
        self.assertRegex(values["version"], "^" + VERSION + "$")
        self.assertEqual(values["server_state"], "standalone")
        self.assertEqual(values["ephemerals_count"], "1")
        self.assertEqual(values["global_sessions"], "2")
        self.assertEqual(values["local_sessions"], "0")
        self.assertEqual(values["num_alive_connections"], "3")
        self.assertEqual(values["watch_count"], "4")  # 3 data watches + 1 child watch
        self.assertRegex(values["avg_latency"], r"^\d+\.\d+$")
        self.assertGreater(int(values["open_file_descriptor_count"]), 3)
        self.assertGreater(int(values["max_file_descriptor_count"]), 0)
        node_count = re.search(r"Node count: (\d+)", self.cmd("srvr")).group(1)
        self.assertEqual(values["znode_count"], node_count)

    def test_isro(self):
        self.assertEqual(self.cmd("isro"), "rw")

    def test_trace_mask(self):
        self.assertEqual(self.cmd("gtmk"), "306")
        self.assertEqual(self.cmd(b"stmk" + (0x1ff).to_bytes(8, "big")), "511")
        self.assertEqual(self.cmd("gtmk"), "511")
        self.assertEqual(self.cmd(b"stmk" + (306).to_bytes(8, "big")), "306")

    def test_dirs(self):
        out = self.cmd("dirs")
        m = re.match(r"^datadir_size: (\d+)\nlogdir_size: (\d+)\n$", out)
        self.assertIsNotNone(m, repr(out))
        conf = dict(l.split("=", 1) for l in self.cmd("conf")[:-1].split("\n"))
        self.assertEqual(m.group(1), conf["dataDirSize"])
        self.assertEqual(m.group(2), conf["dataLogSize"])

    def test_hash_is_empty_standalone(self):
        self.assertEqual(self.cmd("hash"), "")

    def test_telnet_close_and_unknown_word_close_silently(self):
        self.assertEqual(self.cmd(TELNET_CLOSE), "")
        self.assertEqual(self.cmd("xxxx"), "")

    def test_zz_resets(self):
        # Named to run last: it clears the counters other tests read.
        self.assertEqual(self.cmd("crst"), "Connection stats reset.\n")
        for line in self.cmd("cons")[:-2].split("\n"):
            m = re.search(r"recved=(\d+),sent=(\d+)", line)
            self.assertLessEqual(int(m.group(1)), 2, line)  # a ping may slip in
        self.assertEqual(self.cmd("srst"), "Server stats reset.\n")
        received = int(re.search(r"Received: (\d+)", self.cmd("srvr")).group(1))
        self.assertLessEqual(received, 3)
        self.assertGreaterEqual(received, 1)  # the srvr itself


class Whitelist(unittest.TestCase):
    def test_listed_words_trimmed(self):
        srv = Server("ruok, srvr ,stat")
        try:
            self.assertEqual(fourlw(srv.port, "ruok"), "imok")
            self.assertTrue(fourlw(srv.port, "stat").startswith("Zookeeper version: "))
            self.assertEqual(fourlw(srv.port, "conf"),
                             "conf is not executed because it is not in the whitelist.\n")
            self.assertEqual(fourlw(srv.port, "mntr"),
                             "mntr is not executed because it is not in the whitelist.\n")
            self.assertEqual(fourlw(srv.port, TELNET_CLOSE),
                             "telnet close is not executed because it is not in the whitelist.\n")
        finally:
            srv.stop()

    def test_default_allows_only_srvr(self):
        srv = Server(None)
        try:
            self.assertTrue(fourlw(srv.port, "srvr").startswith("Zookeeper version: "))
            for word in ("ruok", "isro", "stat", "envi"):
                self.assertEqual(fourlw(srv.port, word),
                                 "%s is not executed because it is not in the whitelist.\n" % word)
        finally:
            srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_fourlw.py ZKPLUG PLUGIN_DIR")
    ZKPLUG, PLUGIN_DIR = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
