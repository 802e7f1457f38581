#!/usr/bin/python3
"""The metrics bus against a running standalone zkplug.

Starts zkplug (argv[1], plugins from argv[2]) on free 127.0.0.1 ports with the
bus and the Prometheus endpoint enabled, then, with real kazoo clients:
- nngcat subscribed to the Connections prefix sees the connection bean
  registered (with the session's ephemeral node) and unregistered;
- zkplug-metrics watch (argv[3]) sees the server bean's packet counters grow
  after client operations, and --json gives versioned JSON lines;
- zkplug-metrics list/get/set/invoke work, and errors are answered;
- /metrics parses as Prometheus text and carries ZooKeeper's metric names,
  with the same figures mntr shows;
- the per-namespace summary sets (read/write_per_namespace) count what
  ZooKeeper counts, in mntr and as /metrics families labelled by key;
- METRICSDISABLE turns the bus off.
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

ZKPLUG = PLUGIN_DIR = CLI = None
SERVER_PREFIX = "org.apache.ZooKeeperService:name0=StandaloneServer_port"

# ZooKeeper 3.8.0's Prometheus names (ServerMetrics counters and summaries,
# ZooKeeperServer gauges) that a standalone server exports.
ZK_PROMETHEUS_NAMES = [
    "packets_received", "packets_sent", "num_alive_connections", "outstanding_requests",
    "uptime", "znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
    "global_sessions", "local_sessions", "open_file_descriptor_count",
    "max_file_descriptor_count", "connection_drop_probability", "last_client_response_size",
    "max_client_response_size", "min_client_response_size", "outstanding_tls_handshake",
    "auth_failed_count", "non_mtls_remote_conn_count", "non_mtls_local_conn_count",
    "avg_latency", "max_latency", "min_latency", "looking_count", "diff_count", "snap_count",
    "commit_count", "connection_request_count", "connection_rejected", "bytes_received_count",
    "unrecoverable_error_count", "dead_watchers_queued", "stale_requests", "proposal_count",
    "large_requests_rejected", "digest_mismatches_count", "response_bytes", "watch_bytes",
    "fsynctime", "snapshottime", "dbinittime", "readlatency", "updatelatency",
    "propagation_latency", "election_time", "prep_process_time", "jvm_pause_time_ms",
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fourlw(port, word):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(word.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode()


class Server:
    def __init__(self, extra=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="zkplug-metrics-")
        os.mkdir(os.path.join(self.dir, "data"))
        self.port, self.pub, self.rep, self.http = (free_port() for _ in range(4))
        self.pub_url = "tcp://127.0.0.1:%d" % self.pub
        self.rep_url = "tcp://127.0.0.1:%d" % self.rep
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=2000\ndataDir=%s/data\nclientPort=%d\n" % (self.dir, self.port))
            f.write("clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n")
            f.write("metrics.bus.publishAddress=%s\nmetrics.bus.queryAddress=%s\n" % (self.pub_url, self.rep_url))
            f.write("metrics.bus.interval=100\nmetricsProvider.httpPort=%d\n" % self.http)
            for line in extra:
                f.write(line + "\n")
        self.bean = SERVER_PREFIX + str(self.port)
        self.log = open(os.path.join(self.dir, "zkplug.log"), "w")
        full_env = dict(os.environ)
        full_env.pop("METRICSDISABLE", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen([ZKPLUG, "-c", cfg, "-p", PLUGIN_DIR], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=full_env)
        deadline = time.time() + 15
        while True:
            try:
                fourlw(self.port, "srvr")
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("zkplug did not start; log in %s" % self.dir)
                time.sleep(0.05)

    def cli(self, *args, check=True):
        r = subprocess.run([CLI, "-q", self.rep_url, "-s", self.pub_url, *args], capture_output=True,
                           text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("zkplug-metrics %s: %d %s %s" % (args, r.returncode, r.stdout, r.stderr))
        return r

    def client(self):
        zk = KazooClient(hosts="127.0.0.1:%d" % self.port, timeout=10)
        zk.start()
        return zk

    def stop(self):
        """Stop the server; raise when it did not exit cleanly (a sanitizer
        report or a crash), with its log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        with open(os.path.join(self.dir, "zkplug.log")) as f:
            log = f.read()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.proc.returncode != 0 or "Sanitizer" in log or "runtime error" in log:
            raise AssertionError("zkplug exited with %d:\n%s" % (self.proc.returncode, log[-4000:]))


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def parse_prometheus(text):
    """A strict reader of the text format: returns {name: {labels: value}} and
    the declared types; raises on any line it does not understand."""
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? '
                        r'(NaN|[+-]Inf|[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)$')
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "summary", "untyped", "histogram"), line
            types[name] = kind
            continue
        m = sample.match(line)
        assert m, "not Prometheus text: %r" % line
        samples.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(4))
    return types, samples


class MetricsBusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_nngcat_sees_connection_bean_registered_and_unregistered(self):
        srv = self.srv
        prefix = srv.bean + ",name1=Connections,"
        out = open(os.path.join(srv.dir, "nngcat.out"), "w+")
        self.addCleanup(out.close)
        cat = subprocess.Popen(["nngcat", "--sub", "--dial", srv.pub_url, "--subscribe", prefix, "--ascii"],
                               stdout=out, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)  # let the subscription reach the publisher
            zk = srv.client()
            zk.create("/eph", b"x", ephemeral=True)
            session = "0x%x" % zk.client_id[0]
            time.sleep(0.5)
            zk.stop()
            zk.close()

            def lines():
                # nngcat --ascii writes messages back to back: split them
                # where a JSON body ends and the next topic begins.
                out.flush()
                out.seek(0)
                text = out.read().replace("\n", "")
                return [l for l in re.split(r"(?<=\})(?=org\.apache\.ZooKeeperService:)", text) if l]
            got = wait_for(lambda: [l for l in lines() if '"kind":"unregistered"' in l])
            self.assertTrue(got, "no unregistration seen: %r" % lines())
        finally:
            cat.terminate()
            cat.wait()
        all_lines = lines()
        for l in all_lines:
            self.assertTrue(l.startswith(prefix), l)  # only the subscribed prefix arrives
        reg = [json.loads(l.split(" ", 1)[1]) for l in all_lines if '"kind":"registered"' in l]
        self.assertTrue(reg)
        bean = reg[0]
        self.assertEqual(bean["v"], 1)
        self.assertEqual(bean["type"], "ConnectionMXBean")
        self.assertTrue(bean["bean"].endswith(",name2=127.0.0.1,name3=" + session), bean["bean"])
        self.assertEqual(bean["attributes"]["SessionId"], session)
        # The ephemeral node shows in a later update or the registration.
        ephemerals = [json.loads(l.split(" ", 1)[1])["attributes"].get("EphemeralNodes")
                      for l in all_lines if '"attributes"' in l]
        self.assertIn(["/eph"], ephemerals)

    def test_watch_sees_packet_counters_grow_after_operations(self):
        srv = self.srv
        out = open(os.path.join(srv.dir, "watch.out"), "w+")
        self.addCleanup(out.close)
        w = subprocess.Popen([CLI, "-s", srv.pub_url, "watch", srv.bean + " ", "--json", "--timeout", "20000"],
                             stdout=out, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            zk = srv.client()
            for i in range(30):
                zk.create("/w%d" % i, b"v")
            received = int(srv.cli("get", srv.bean, "PacketsReceived").stdout.split(": ")[1])
            self.assertGreaterEqual(received, 31)

            def updates():
                out.flush()
                out.seek(0)
                return [json.loads(l) for l in out.read().splitlines() if l.startswith("{")]
            got = wait_for(lambda: [u for u in updates() if u["kind"] == "update"
                                    and u["attributes"]["PacketsReceived"] >= received])
            self.assertTrue(got, "no update with PacketsReceived >= %d: %r" % (received, updates()))
            zk.stop()
            zk.close()
        finally:
            w.terminate()
            w.wait()
        for u in updates():
            self.assertEqual(u["v"], 1)
            self.assertEqual(u["bean"], srv.bean)  # the trailing space selects one bean exactly
        seqs = [u["seq"] for u in updates()]
        self.assertEqual(seqs, sorted(seqs))

    def test_watch_human_lines(self):
        srv = self.srv
        r = subprocess.run([CLI, "-s", srv.pub_url, "watch", srv.bean + ",name1=Metrics", "--count", "2",
                            "--timeout", "10000"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2)  # uptime changes every interval
        for l in lines:
            self.assertRegex(l, r"^\d+ update " + re.escape(srv.bean + ",name1=Metrics") + " .*uptime=\d+")

    def test_query_list_get_set_invoke(self):
        srv = self.srv
        names = srv.cli("list").stdout.split()
        for suffix in ("", ",name1=InMemoryDataTree", ",name1=Metrics", ",name1=RequestLatency"):
            self.assertIn(srv.bean + suffix, names)
        detail = json.loads(srv.cli("--json", "list", srv.bean + ",name1=InMemoryDataTree", "--detail").stdout)
        ops = [o["name"] for o in detail["beans"][0]["operations"]]
        self.assertEqual(ops, ["approximateDataSize", "countEphemerals"])

        zk = srv.client()
        zk.ensure_path("/q")
        for _ in range(10):
            zk.get("/q")
        tree = json.loads(srv.cli("--json", "get", srv.bean + ",name1=InMemoryDataTree").stdout)
        mntr = dict(l.split("\t", 1) for l in fourlw(srv.port, "mntr").splitlines())
        self.assertEqual(tree["attributes"]["NodeCount"], int(mntr["zk_znode_count"]))
        lat = json.loads(srv.cli("--json", "get", srv.bean + ",name1=RequestLatency", "getData").stdout)
        self.assertGreaterEqual(lat["attributes"]["getData"]["count"], 10)
        self.assertIn("p999", lat["attributes"]["getData"])

        r = srv.cli("set", srv.bean, "MaxSessionTimeout", "50000")
        self.assertEqual(r.stdout.strip(), "MaxSessionTimeout = 50000")
        self.assertIn("maxSessionTimeout=50000", fourlw(srv.port, "conf"))
        r = srv.cli("set", srv.bean, "MaxSessionTimeout", "1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid", r.stderr)
        r = srv.cli("set", srv.bean, "PacketsReceived", "0", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("read_only", r.stderr)

        self.assertEqual(srv.cli("invoke", srv.bean + ",name1=InMemoryDataTree", "countEphemerals").stdout.strip(),
                         "0")
        self.assertGreater(int(srv.cli("get", srv.bean, "PacketsSent").stdout.split(": ")[1]), 0)
        srv.cli("invoke", srv.bean, "resetStatistics")
        after = int(srv.cli("get", srv.bean, "PacketsSent").stdout.split(": ")[1])
        self.assertLessEqual(after, 2)  # only what arrived since the reset
        self.assertIn("zk_packets_sent\t", fourlw(srv.port, "mntr"))

        # terminateSession closes the client's session from the bus.
        session = "0x%x" % zk.client_id[0]
        conn = wait_for(lambda: [n for n in srv.cli("list", srv.bean + ",name1=Connections,").stdout.split()
                                 if n.endswith(session)])
        self.assertTrue(conn)
        srv.cli("invoke", conn[0], "terminateSession")
        self.assertTrue(wait_for(lambda: session not in srv.cli("list").stdout))
        zk.stop()
        zk.close()

        r = srv.cli("get", "org.apache.ZooKeeperService:name0=Nope", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)
        r = srv.cli("invoke", srv.bean, "explode", check=False)
        self.assertEqual(r.returncode, 1)
        # A malformed request is answered, and the bus keeps serving.
        # nngcat may give up before a loaded machine answers: a few tries.
        for _ in range(3):
            raw = subprocess.run(["nngcat", "--req", "--dial", srv.rep_url, "--data", "{oops", "--ascii",
                                  "--count", "1", "--recv-timeout", "10"], capture_output=True, text=True,
                                 timeout=30)
            if raw.stdout:
                break
        self.assertIn("bad_request", raw.stdout)
        self.assertIn(srv.bean, srv.cli("list").stdout)

    def test_per_namespace_summaries_in_mntr_and_prometheus(self):
        # ZooKeeper's DataTree counts: a write is len(path) + len(data)
        # (delete: 0), a read len(path) + bytes + 68 (getData: the data,
        # exists: 0, getChildren: the names); "/" has no namespace.
        srv = self.srv
        zk = srv.client()
        try:
            zk.create("/a", b"hello")              # 7
            zk.set("/a", b"abc")                   # 5
            zk.create("/a/c", b"")                 # 4
            zk.get("/a")                           # 2 + 3 + 68 = 73
            zk.exists("/a")                        # 70
            zk.get_children("/a")                  # 2 + 1 + 68 = 71
            zk.delete("/a/c")                      # 4
            t = zk.transaction()
            t.create("/b", b"12")                  # 4
            t.set_data("/b", b"1234")              # 6
            t.check("/b", 1)                       # not a write
            t.commit()
            t = zk.transaction()                   # fails: nothing applied, nothing counted
            t.create("/b/x", b"")
            t.create("/b", b"dup")
            t.commit()
            zk.exists("/b/none")                   # no node: not counted
            zk.get("/b")                           # 2 + 4 + 68 = 74
            zk.get("/")
            zk.get_children("/")
        finally:
            zk.stop()
            zk.close()
        mntr = dict(l.split("\t", 1) for l in fourlw(srv.port, "mntr").splitlines())
        want = {
            "a_write": ("4", "20", "4", "7", "5.0"), "a_read": ("3", "214", "70", "73", "71.3333"),
            "b_write": ("2", "10", "4", "6", "5.0"), "b_read": ("1", "74", "74", "74", "74.0"),
        }
        for key, (cnt, total, lo, hi, avg) in want.items():
            name = key + "_per_namespace"
            got = tuple(mntr.get("zk_%s_%s" % (p, name)) for p in ("cnt", "sum", "min", "max", "avg"))
            self.assertEqual(got, (cnt, total, lo, hi, avg), name)
            self.assertNotIn("zk_p50_" + name, mntr)  # BASIC: no percentiles
        self.assertFalse([k for k in mntr if k.startswith("zk_cnt__")], "the root has no namespace")
        self.assertEqual(mntr["zk_requests_not_forwarded_to_commit_processor"], "0")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http, timeout=10) as r:
            types, samples = parse_prometheus(r.read().decode())
        self.assertEqual(types["write_per_namespace"], "summary")
        self.assertEqual(types["read_per_namespace"], "summary")
        self.assertEqual(samples["write_per_namespace_count"]['{key="a",}'], 4)
        self.assertEqual(samples["write_per_namespace_sum"]['{key="a",}'], 20)
        self.assertEqual(samples["read_per_namespace_sum"]['{key="b",}'], 74)
        self.assertIn('{key="b",quantile="0.5",}', samples["write_per_namespace"])
        self.assertEqual(samples["requests_not_forwarded_to_commit_processor"][""], 0)

    def test_prometheus_endpoint_has_zookeeper_names(self):
        srv = self.srv
        zk = srv.client()
        zk.ensure_path("/p")
        zk.get("/p")
        zk.stop()
        zk.close()
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http, timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            text = r.read().decode()
        types, samples = parse_prometheus(text)
        for name in ZK_PROMETHEUS_NAMES:
            self.assertIn(name, types, name)
        self.assertEqual(types["readlatency"], "summary")
        self.assertEqual(set(samples["readlatency"]), {'{quantile="0.5",}', '{quantile="0.9",}',
                                                      '{quantile="0.99",}'})
        self.assertGreaterEqual(samples["readlatency_count"][""], 1)
        self.assertEqual(set(samples["fsynctime"]), {'{quantile="0.5",}'})
        mntr = dict(l.split("\t", 1) for l in fourlw(srv.port, "mntr").splitlines())
        self.assertEqual(samples["znode_count"][""], float(mntr["zk_znode_count"]))
        # Every scalar mntr key that Prometheus can carry is there too.
        for key, value in mntr.items():
            name = key[3:]
            if re.match(r"^-?[0-9.]+$", value) and not re.match(r"^(avg|min|max|cnt|sum|p50|p95|p99|p999)_", name):
                self.assertIn(name, types, key)
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen("http://127.0.0.1:%d/nope" % srv.http, timeout=10)


class MetricsDisabledTest(unittest.TestCase):
    def test_metricsdisable_turns_the_bus_off(self):
        srv = Server(env={"METRICSDISABLE": "true"})
        try:
            r = srv.cli("--timeout", "1000", "list", check=False)
            self.assertEqual(r.returncode, 3)
            self.assertIn("zk_znode_count", fourlw(srv.port, "mntr"))  # mntr is independent of the bus
        finally:
            srv.stop()

    def test_bad_key_is_refused_with_its_line(self):
        srv_dir = tempfile.mkdtemp(prefix="zkplug-metrics-bad-")
        try:
            os.mkdir(os.path.join(srv_dir, "data"))
            cfg = os.path.join(srv_dir, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write("dataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n" % (srv_dir, free_port()))
                f.write("admin.enableServer=false\nmetrics.bus.interval=soon\n")
            r = subprocess.run([ZKPLUG, "-c", cfg, "-p", PLUGIN_DIR], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("metrics.bus.interval", r.stdout + r.stderr)
        finally:
            shutil.rmtree(srv_dir, ignore_errors=True)


if __name__ == "__main__":
    ZKPLUG, PLUGIN_DIR, CLI = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0], "-v"])
