#!/usr/bin/env python3
"""Operations integration tests: scripts/zkplug.sh against the built server
(start, status, refusing a second start, stop, restart, clear errors for a
missing config, an unwritable dataDir and a port in use, the log file and its
rotation), a graceful SIGTERM under write load that must keep every
acknowledged write, the installed tree (cmake --install, zkplug.sh from
the install, an election plugin built out of tree with pkg-config), and
zkplug.sh on ensemble members made from conf/zoo-ensemble.cfg (start,
status with leader/follower/observer/read-only, failover, stop) with
status's client address search and output checked against zkServer.sh 3.8
(when /usr/share/zookeeper/bin/zkServer.sh and java are there).

Each test uses its own temp folder and a free 127.0.0.1 port, and stops only
the server it started, by pid.

  test_ops.py --src SRC --build BUILD [unittest names...]
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ARGS = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port, word, timeout=3.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            b = s.recv(4096)
            if not b:
                return b"".join(chunks).decode(errors="replace")
            chunks.append(b)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ServerDir:
    """A temp folder with conf/zoo.cfg, data/ and logs/, and the
    environment that points zkplug.sh at them."""

    def __init__(self, script, extra_cfg="", env=None):
        self.root = tempfile.mkdtemp(prefix="zkplug-ops-")
        self.port = free_port()
        self.conf = os.path.join(self.root, "conf")
        self.data = os.path.join(self.root, "data")
        self.logs = os.path.join(self.root, "logs")
        os.makedirs(self.conf)
        self.script = script
        self.write_cfg(extra_cfg)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["ZOO_LOG_DIR"] = self.logs
        self.env["ZKPLUG_START_TIMEOUT"] = "30"
        self.env["ZKPLUG_STOP_TIMEOUT"] = "30"
        for k in ("ZOOCFGDIR", "ZOOCFG", "ZOOPIDFILE", "ZOO_LOG_FILE", "METRICSDISABLE"):
            self.env.pop(k, None)
        self.started_pids = set()

    def write_cfg(self, extra=""):
        with open(os.path.join(self.conf, "zoo.cfg"), "w") as f:
            f.write("# test server\ntickTime=2000\n"
                    f"dataDir={self.data}\nclientPort={self.port}\nclientPortAddress=127.0.0.1\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=*\n"
                    "metrics.bus.enabled=false\n" + extra)

    @property
    def pidfile(self):
        return os.path.join(self.data, "zookeeper_server.pid")

    def run(self, *verb, timeout=90):
        p = subprocess.run([self.script, "--config", self.conf, *verb], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)
        if os.path.exists(self.pidfile):
            try:
                self.started_pids.add(int(open(self.pidfile).read().strip()))
            except ValueError:
                pass
        return p

    def log_text(self):
        out = []
        if os.path.isdir(self.logs):
            for name in sorted(os.listdir(self.logs)):
                if name.endswith(".log"):
                    with open(os.path.join(self.logs, name), errors="replace") as f:
                        out.append(f.read())
        return "".join(out)

    def cleanup(self):
        for pid in self.started_pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def source_env():
    return {"ZKPLUG_BUILD_DIR": ARGS.build}


class Scripts(unittest.TestCase):
    def setUp(self):
        self.script = os.path.join(ARGS.src, "scripts", "zkplug.sh")
        self.d = ServerDir(self.script, env=source_env())

    def tearDown(self):
        self.d.cleanup()

    def test_start_status_twice_stop_restart(self):
        d = self.d
        p = d.run("start")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("STARTED", p.stdout)
        self.assertIn("Using config: " + os.path.join(d.conf, "zoo.cfg"), p.stderr)
        pid = int(open(d.pidfile).read())
        self.assertTrue(pid_alive(pid))
        self.assertEqual(os.path.basename(os.readlink(f"/proc/{pid}/exe")), "zkplug")
        self.assertEqual(four_letter(d.port, "ruok"), "imok")

        p = d.run("status")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"Client port found: {d.port}. Client address: 127.0.0.1.", p.stdout)
        self.assertIn("Mode: standalone", p.stdout)

        p = d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"already running as process {pid}.", p.stdout)
        self.assertTrue(pid_alive(pid))

        # The server itself refuses a second copy on the same pid file.
        build_bin = os.path.join(ARGS.build, "core", "zkplug")
        q = subprocess.run([build_bin, "-c", os.path.join(d.conf, "zoo.cfg"), "-p",
                            os.path.join(ARGS.build, "plugins"), "-P", d.pidfile],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(q.returncode, 1)
        self.assertIn(f"already running as process {pid}", q.stderr)

        log = d.log_text()
        self.assertRegex(log, r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO  \[standalone\] zkplug .* serving on port %d" % d.port)

        p = d.run("restart")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("STOPPED", p.stdout)
        self.assertIn("STARTED", p.stdout)
        pid2 = int(open(d.pidfile).read())
        self.assertNotEqual(pid, pid2)
        self.assertFalse(pid_alive(pid))
        self.assertEqual(four_letter(d.port, "ruok"), "imok")

        p = d.run("stop")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("STOPPED", p.stdout)
        self.assertFalse(pid_alive(pid2))
        self.assertFalse(os.path.exists(d.pidfile), "the pid file is released at exit")
        self.assertIn("zkplug exited with status 0", d.log_text())

        p = d.run("status")
        self.assertEqual(p.returncode, 1)
        self.assertIn("Error contacting service. It is probably not running.", p.stdout)
        p = d.run("stop")
        self.assertEqual(p.returncode, 0)
        self.assertIn("no zkplug to stop", p.stdout)

    def test_stale_pid_file_does_not_block_start(self):
        d = self.d
        os.makedirs(d.data)
        child = subprocess.Popen(["true"])
        child.wait()
        with open(d.pidfile, "w") as f:
            f.write(str(child.pid))
        p = d.run("start")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(d.run("stop").returncode, 0)

    def test_missing_config(self):
        os.unlink(os.path.join(self.d.conf, "zoo.cfg"))
        for verb in ("start", "status", "stop"):
            p = self.d.run(verb)
            self.assertEqual(p.returncode, 1, verb)
            self.assertIn("configuration file " + os.path.join(self.d.conf, "zoo.cfg") + " not found", p.stderr)

    def test_config_error_is_shown(self):
        self.d.write_cfg("tickTime=abc\n")
        p = self.d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAILED TO START", p.stdout)
        self.assertIn("key 'tickTime': not an integer", p.stderr)
        self.assertFalse(os.path.exists(self.d.pidfile))

    def test_unwritable_data_dir(self):
        blocker = os.path.join(self.d.root, "a-file")
        open(blocker, "w").close()
        self.d.data = os.path.join(blocker, "data")
        self.d.write_cfg()
        p = self.d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot create dataDir " + self.d.data, p.stderr)
        # An existing folder on a read-only mount cannot be simulated without
        # privileges everywhere; a folder that is really a file is refused too.
        self.d.data = blocker
        self.d.write_cfg()
        p = self.d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn("dataDir " + blocker, p.stderr)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.d.port))
            s.listen(5)
            p = self.d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAILED TO START", p.stdout)
        self.assertIn(f"client port {self.d.port} on 127.0.0.1 is already in use", p.stderr)

    def test_port_in_use_found_by_the_server(self):
        # A socket bound but not listening: the script's probe cannot see it,
        # the server's bind fails and the script shows why.
        with socket.socket() as s:
            s.bind(("127.0.0.1", self.d.port))
            p = self.d.run("start")
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAILED TO START", p.stdout)
        self.assertIn("Address already in use", p.stderr)

    def test_print_cmd_and_version(self):
        p = self.d.run("print-cmd")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(os.path.join(ARGS.build, "core", "zkplug") + " -c " + os.path.join(self.d.conf, "zoo.cfg"),
                      p.stdout)
        self.assertIn(" -P " + self.d.pidfile, p.stdout)
        p = self.d.run("version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^zkplug \d+\.\d+\.\d+ \(ZooKeeper 3\.8\.\d+ protocol\)")
        p = self.d.run("frobnicate")
        self.assertEqual(p.returncode, 1)
        self.assertIn("Usage:", p.stderr)

    def test_log_rotation_is_followed(self):
        d = self.d
        self.assertEqual(d.run("start").returncode, 0)
        logs = [n for n in os.listdir(d.logs) if n.endswith(".log")]
        self.assertEqual(len(logs), 1)
        path = os.path.join(d.logs, logs[0])
        os.rename(path, path + ".1")
        time.sleep(1.3)
        four_letter(d.port, "srvr")
        deadline = time.time() + 10
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(os.path.exists(path), "a new log file after rotation")
        self.assertIn("Processing srvr command", open(path).read())
        self.assertEqual(d.run("stop").returncode, 0)


class Shutdown(unittest.TestCase):
    """SIGTERM (zkplug.sh stop) under write load: stops accepting, syncs,
    writes the audit stop event, releases the pid file, and every write a
    client saw acknowledged is there after a restart."""

    def setUp(self):
        self.script = os.path.join(ARGS.src, "scripts", "zkplug.sh")
        self.d = ServerDir(self.script, env=source_env())
        self.audit = os.path.join(self.d.root, "audit.log")
        self.d.write_cfg(f"audit.enable=true\naudit.logFile={self.audit}\n")

    def tearDown(self):
        self.d.cleanup()

    def test_sigterm_under_write_load_keeps_acknowledged_writes(self):
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry
        d = self.d
        self.assertEqual(d.run("start").returncode, 0)
        pid = int(open(d.pidfile).read())
        zk = KazooClient(hosts=f"127.0.0.1:{d.port}", timeout=10,
                         connection_retry=KazooRetry(max_tries=0))
        zk.start(timeout=15)
        zk.ensure_path("/load")
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(tag):
            i = 0
            while not stop.is_set():
                batch = []
                for _ in range(50):
                    path = f"/load/{tag}-{i}"
                    data = f"{tag}:{i}".encode()
                    batch.append((path, data, zk.create_async(path, data)))
                    i += 1
                for path, data, res in batch:
                    try:
                        res.get(timeout=15)
                    except Exception:
                        stop.set()
                        continue
                    with lock:
                        acked[path] = data

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while len(acked) < 2000 and time.time() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(len(acked), 2000, "write load got going")
        p = d.run("stop")
        stop.set()
        for t in threads:
            t.join(timeout=30)
        zk.stop()
        zk.close()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("STOPPED", p.stdout)
        self.assertFalse(pid_alive(pid))
        self.assertFalse(os.path.exists(d.pidfile))
        log = d.log_text()
        self.assertIn("shutting down", log)
        self.assertIn("zkplug exited with status 0", log)
        with open(self.audit) as f:
            audit = f.read()
        self.assertIn("operation=serverStop", audit)

        self.assertEqual(d.run("start").returncode, 0)
        zk = KazooClient(hosts=f"127.0.0.1:{d.port}", timeout=10)
        zk.start(timeout=15)
        try:
            present = set(zk.get_children("/load"))
            missing = [p for p in acked if p.rsplit("/", 1)[1] not in present]
            self.assertEqual(missing, [], f"{len(missing)} of {len(acked)} acknowledged writes lost")
            for path in list(acked)[:: max(1, len(acked) // 200)]:
                self.assertEqual(zk.get(path)[0], acked[path])
        finally:
            zk.stop()
            zk.close()
        self.assertEqual(d.run("stop").returncode, 0)


ZKSERVER_SH = "/usr/share/zookeeper/bin/zkServer.sh"


def zkserver_sh_available():
    return os.access(ZKSERVER_SH, os.X_OK) and shutil.which("java") is not None


def free_ports(n):
    """n distinct free 127.0.0.1 ports (all held open while choosing)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def script_env(extra=None):
    env = dict(os.environ)
    for k in ("ZOOCFGDIR", "ZOOCFG", "ZOOPIDFILE", "ZOO_LOG_FILE", "METRICSDISABLE", "ZOO_LOG_DIR"):
        env.pop(k, None)
    env.update(source_env())
    env["ZKPLUG_START_TIMEOUT"] = "30"
    env["ZKPLUG_STOP_TIMEOUT"] = "30"
    env.update(extra or {})
    return env


def run_status(script, cfg, env, timeout=90):
    p = subprocess.run([script, "status", cfg], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class StatusAddress(unittest.TestCase):
    """zkplug.sh status finds the client address as zkServer.sh 3.8 does
    (clientPort; else this server's server.N line picked by dataDir/myid,
    static file then dynamicConfigFile; else secureClientPort) and prints
    its messages. Nothing listens on the port here: each ends with "Error
    contacting service" (exit 1) or "Terminating." (exit 1)."""

    def setUp(self):
        self.script = os.path.join(ARGS.src, "scripts", "zkplug.sh")
        self.root = tempfile.mkdtemp(prefix="zkplug-ops-status-")
        self.data = os.path.join(self.root, "data")
        os.makedirs(self.data)
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write("2\n")
        self.port = free_port()
        self.env = script_env({"ZOO_LOG_DIR": os.path.join(self.root, "logs")})

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def status(self, body, name="zoo.cfg"):
        cfg = os.path.join(self.root, name)
        with open(cfg, "w") as f:
            f.write("# status test\ntickTime=2000\n" + body)
        rc, out, err = run_status(self.script, cfg, self.env)
        self.assertIn("Using config: " + cfg, err)
        if zkserver_sh_available():
            zrc, zout, _ = run_status(ZKSERVER_SH, cfg, self.env)
            self.assertEqual(rc, zrc, f"zkplug.sh:\n{out}\nzkServer.sh:\n{zout}")
            if "Client SSL: true" in out:
                # The note after a failed TLS attempt names zkplug's reason.
                self.assertEqual(out.splitlines()[:2], zout.splitlines()[:2])
                self.assertEqual(out.splitlines()[-1], zout.splitlines()[-1])
            else:
                self.assertEqual(out, zout)
        return rc, out.splitlines()

    def found(self, port, host):
        return f"Client port found: {port}. Client address: {host}. Client SSL: false."

    NOT_RUNNING = "Error contacting service. It is probably not running."

    def test_client_port(self):
        rc, out = self.status(f"dataDir={self.data}\nclientPort={self.port}\nclientPortAddress=127.0.0.1\n"
                              f"server.2=127.0.0.1:1:2;127.0.0.1:1\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "127.0.0.1"), self.NOT_RUNNING]))
        rc, out = self.status(f"dataDir={self.data}\nclientPort={self.port}\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "localhost"), self.NOT_RUNNING]))
        rc, out = self.status(f"dataDir={self.data}\nclientPort={self.port}\nclientPortAddress=0.0.0.0\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "0.0.0.0"), self.NOT_RUNNING]))

    def test_server_line_by_myid(self):
        rc, out = self.status(f"dataDir={self.data}\nserver.1=127.0.0.1:1:2;127.0.0.1:1\n"
                              f"server.2=127.0.0.1:3:4;127.0.0.2:{self.port}\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "127.0.0.2"), self.NOT_RUNNING]))
        rc, out = self.status(f"dataDir={self.data}\nserver.2=127.0.0.1:3:4:participant;[::1]:{self.port}\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "::1"), self.NOT_RUNNING]))
        # Only a port: the address is clientPortAddress, else localhost.
        rc, out = self.status(f"dataDir={self.data}\nserver.2=127.0.0.1:3:4;{self.port}\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "localhost"), self.NOT_RUNNING]))
        rc, out = self.status(f"dataDir={self.data}\nclientPortAddress=127.0.0.3\n"
                              f"server.2=127.0.0.1:3:4;{self.port}\n")
        self.assertEqual((rc, out), (1, [self.found(self.port, "127.0.0.3"), self.NOT_RUNNING]))

    def test_dynamic_config_file(self):
        dyn = os.path.join(self.root, "zoo.cfg.dynamic")
        with open(dyn, "w") as f:
            f.write(f"server.1=127.0.0.1:1:2;127.0.0.1:1\nserver.2=127.0.0.1:3:4;127.0.0.1:{self.port}\n")
        rc, out = self.status(f"dataDir={self.data}\ndynamicConfigFile={dyn}\n")
        self.assertEqual((rc, out), (1, ["Client port not found in static config file. Looking in dynamic config file.",
                                         self.found(self.port, "127.0.0.1"), self.NOT_RUNNING]))

    def test_nothing_found(self):
        lookup_secure = "Client port not found. Looking for secureClientPort in the static config."
        terminating = "Unable to find either secure or unsecure client port in any configs. Terminating."
        os.unlink(os.path.join(self.data, "myid"))
        rc, out = self.status(f"dataDir={self.data}\nserver.2=127.0.0.1:3:4;127.0.0.1:{self.port}\n")
        self.assertEqual((rc, out), (1, ["myid could not be determined, will not able to locate clientPort "
                                         "in the server configs.", lookup_secure, terminating]))
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write("2\n")
        rc, out = self.status(f"dataDir={self.data}\nserver.2=127.0.0.1:3:4\n")
        self.assertEqual((rc, out), (1, ["Client port not found in static config file. Looking in dynamic config file.",
                                         "Client port not found in the server configs", lookup_secure, terminating]))

    def test_secure_client_port(self):
        rc, out = self.status(f"dataDir={self.data}\nsecureClientPort={self.port}\n"
                              "secureClientPortAddress=127.0.0.1\nserver.2=127.0.0.1:3:4\n")
        self.assertEqual(rc, 1)
        self.assertEqual(out[3], f"Client port found: {self.port}. Client address: 127.0.0.1. Client SSL: true.")
        self.assertEqual(out[-1], self.NOT_RUNNING)


class Ensemble(unittest.TestCase):
    """zkplug.sh on the members of an ensemble built from the shipped
    conf/zoo-ensemble.cfg: three participants and an observer on 127.0.0.1,
    each with its own copy (free ports for quorum, election, client,
    AdminServer and metrics bus), dataDir, myid and log folder. status of
    member 3 reads a copy of its file without clientPort and
    clientPortAddress, so zkplug.sh finds the client address in its
    server.3 line through dataDir/myid. (The server itself is started from
    the full file: one without clientPort fails in lua/config.lua's config
    hook, tonumber(nil).)"""

    N = 4          # members; the last one is an observer
    SETTLE = 30.0  # seconds for roles to settle after a change

    def setUp(self):
        self.script = os.path.join(ARGS.src, "scripts", "zkplug.sh")
        self.root = tempfile.mkdtemp(prefix="zkplug-ops-ens-")
        self.started_pids = set()
        names = ("quorum", "election", "client", "admin", "publish", "query")
        ports = free_ports(len(names) * self.N)
        self.ports = {i: dict(zip(names, ports[(i - 1) * len(names):i * len(names)]))
                      for i in range(1, self.N + 1)}
        with open(os.path.join(ARGS.src, "conf", "zoo-ensemble.cfg")) as f:
            sample = f.read()
        self.cfg = {}
        self.status_cfg = {}
        self.data = {}
        self.env = {}
        for i in range(1, self.N + 1):
            home = os.path.join(self.root, f"ens{i}")
            self.data[i] = os.path.join(home, "data")
            os.makedirs(self.data[i])
            with open(os.path.join(self.data[i], "myid"), "w") as f:
                f.write(f"{i}\n")
            self.cfg[i] = os.path.join(home, f"ens{i}.cfg")
            text = self.member_cfg(sample, i)
            with open(self.cfg[i], "w") as f:
                f.write(text)
            self.status_cfg[i] = self.cfg[i]
            if i == 3:
                self.status_cfg[i] = os.path.join(home, f"ens{i}-no-client-port.cfg")
                with open(self.status_cfg[i], "w") as f:
                    stripped = re.sub(r"^clientPort(Address)?=.*\n", "", text, flags=re.M)
                    self.assertNotRegex(stripped, r"(?m)^clientPort")
                    f.write(stripped)
            self.env[i] = script_env({"ZOO_LOG_DIR": os.path.join(home, "logs")})

    def member_cfg(self, text, i):
        """The sample with server i's values (see its comments)."""
        p = self.ports[i]

        def sub(pattern, repl):
            nonlocal text
            text, n = re.subn(pattern, repl, text, flags=re.M)
            self.assertEqual(n, 1, f"conf/zoo-ensemble.cfg: one line matching {pattern!r}")

        sub(r"^dataDir=.*$", f"dataDir={self.data[i]}")
        sub(r"^clientPort=.*$", f"clientPort={p['client']}")
        sub(r"^admin\.serverPort=.*$", f"admin.serverPort={p['admin']}")
        sub(r"^metrics\.bus\.publishAddress=.*$", f"metrics.bus.publishAddress=tcp://127.0.0.1:{p['publish']}")
        sub(r"^metrics\.bus\.queryAddress=.*$", f"metrics.bus.queryAddress=tcp://127.0.0.1:{p['query']}")
        for j in range(1, 4):
            q = self.ports[j]
            sub(rf"^server\.{j}=.*$", f"server.{j}=127.0.0.1:{q['quorum']}:{q['election']};"
                                      f"127.0.0.1:{q['client']}")
        o = self.ports[4]
        sub(r"^(server\.3=.*)$", rf"\1\nserver.4=127.0.0.1:{o['quorum']}:{o['election']}:observer;"
                                 f"127.0.0.1:{o['client']}")
        if i == 4:
            text += "peerType=observer\n"
        return text

    def tearDown(self):
        for pid in self.started_pids:
            try:
                if os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("zkplug"):
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def pidfile(self, i):
        return os.path.join(self.data[i], "zookeeper_server.pid")

    def pid(self, i):
        with open(self.pidfile(i)) as f:
            return int(f.read().strip())

    def run_script(self, i, verb):
        p = subprocess.run([self.script, verb, self.cfg[i]], env=self.env[i], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=90)
        if verb == "start" and os.path.exists(self.pidfile(i)):
            try:
                self.started_pids.add(self.pid(i))
            except ValueError:
                pass
        return p

    def start(self, i):
        p = self.run_script(i, "start")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "Starting zkplug ... STARTED\n")
        self.assertTrue(pid_alive(self.pid(i)))

    def stop(self, i):
        pid = self.pid(i)
        p = self.run_script(i, "stop")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "Stopping zkplug ... STOPPED\n")
        self.assertFalse(pid_alive(pid))

    def status(self, i):
        """(exit code, stdout lines) of zkplug.sh status; the first line is
        always the client address."""
        rc, out, err = run_status(self.script, self.status_cfg[i], self.env[i])
        self.assertIn("Using config: " + self.status_cfg[i], err)
        lines = out.splitlines()
        port = self.ports[i]["client"]
        self.assertEqual(lines[0], f"Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.",
                         out)
        self.assertEqual(len(lines), 2, out)
        if rc == 0:
            self.assertRegex(lines[1], r"^Mode: (leader|follower|observer|read-only)$")
        else:
            self.assertEqual((rc, lines[1]), (1, "Error contacting service. It is probably not running."))
        return rc, lines

    def modes(self, members):
        out = {}
        for i in members:
            rc, lines = self.status(i)
            out[i] = lines[1][len("Mode: "):] if rc == 0 else None
        return out

    def wait_roles(self, participants, observers=()):
        """Waits until zkplug.sh status shows one leader and followers among
        participants and observers as observer; returns the leader."""
        deadline = time.monotonic() + self.SETTLE
        seen = None
        while time.monotonic() < deadline:
            seen = self.modes(list(participants) + list(observers))
            leaders = [i for i in participants if seen[i] == "leader"]
            if (len(leaders) == 1 and all(seen[i] == "follower" for i in participants if i != leaders[0])
                    and all(seen[i] == "observer" for i in observers)):
                return leaders[0]
            time.sleep(0.3)
        self.fail(f"roles did not settle in {self.SETTLE} s: {seen}")

    def wait_status(self, i, want_rc, want_line):
        deadline = time.monotonic() + self.SETTLE
        lines = None
        while time.monotonic() < deadline:
            rc, lines = self.status(i)
            if rc == want_rc and lines[1] == want_line:
                return
            time.sleep(0.3)
        self.fail(f"status of {i} did not become {want_line!r} in {self.SETTLE} s: {lines}")

    def same_as_zkserver_sh(self, i):
        if not zkserver_sh_available():
            return
        rc, out, _ = run_status(self.script, self.status_cfg[i], self.env[i])
        zrc, zout, _ = run_status(ZKSERVER_SH, self.status_cfg[i], self.env[i])
        self.assertEqual((rc, out), (zrc, zout), f"member {i}: zkplug.sh vs zkServer.sh")

    def test_start_status_failover_stop(self):
        from kazoo.client import KazooClient
        participants = (1, 2, 3)
        observer = 4
        # An ensemble member alone runs but does not serve: start does not wait
        # for a quorum, and status says what zkServer.sh says then.
        self.start(1)
        rc, _ = self.status(1)
        self.assertEqual(rc, 1)
        self.assertTrue(pid_alive(self.pid(1)))
        for i in (2, 3, observer):
            self.start(i)

        pid1 = self.pid(1)
        p = self.run_script(1, "start")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, f"Starting zkplug ... zkplug already running as process {pid1}.\n")
        self.assertEqual(self.pid(1), pid1)
        self.assertTrue(pid_alive(pid1))

        leader = self.wait_roles(participants, [observer])
        modes = self.modes(participants)
        self.assertEqual(sorted(modes.values()), ["follower", "follower", "leader"], modes)
        for i in range(1, self.N + 1):
            self.same_as_zkserver_sh(i)

        # A write through one member is read back through the others.
        first = participants[0]
        clients = {}
        try:
            for i in (first, 3, observer):
                clients[i] = KazooClient(hosts=f"127.0.0.1:{self.ports[i]['client']}", timeout=10)
                clients[i].start(timeout=20)
            clients[first].create("/ops-ensemble", b"written through 1")
            for i in (3, observer):
                clients[i].sync("/ops-ensemble")
                self.assertEqual(clients[i].get("/ops-ensemble")[0], b"written through 1")
        finally:
            for c in clients.values():
                c.stop()
                c.close()

        # The leader goes: the two others elect a new one.
        self.stop(leader)
        rest = [i for i in participants if i != leader]
        new_leader = self.wait_roles(rest, [observer])
        self.assertIn(new_leader, rest)
        zk = KazooClient(hosts=f"127.0.0.1:{self.ports[new_leader]['client']}", timeout=10)
        zk.start(timeout=20)
        try:
            self.assertEqual(zk.get("/ops-ensemble")[0], b"written through 1")
        finally:
            zk.stop()
            zk.close()

        # The last participant alone: running, not serving.
        last = rest[0]
        for i in (rest[1], observer):
            self.stop(i)
        self.wait_status(last, 1, "Error contacting service. It is probably not running.")
        self.assertTrue(pid_alive(self.pid(last)))
        # With readonlymode.enabled=true it serves reads alone: Mode: read-only.
        self.stop(last)
        with open(self.cfg[last], "a") as f:
            f.write("readonlymode.enabled=true\n")
        self.start(last)
        self.wait_status(last, 0, "Mode: read-only")
        self.same_as_zkserver_sh(last)
        self.stop(last)

        for i in range(1, self.N + 1):
            rc, lines = self.status(i)
            self.assertEqual((rc, lines[1]), (1, "Error contacting service. It is probably not running."))
            self.same_as_zkserver_sh(i)
            self.assertFalse(os.path.exists(self.pidfile(i)))
            p = self.run_script(i, "stop")
            self.assertEqual(p.returncode, 0)
            self.assertIn("no zkplug to stop", p.stdout)


class Install(unittest.TestCase):
    """cmake --install into a temp prefix, then run from there."""

    @classmethod
    def setUpClass(cls):
        cls.prefix = tempfile.mkdtemp(prefix="zkplug-install-")
        p = subprocess.run(["cmake", "--install", ARGS.build, "--prefix", cls.prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + p.stdout)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def find(self, *parts):
        for lib in ("lib", "lib64"):
            path = os.path.join(self.prefix, lib, *parts)
            if os.path.exists(path):
                return path
        for root, dirs, _ in os.walk(os.path.join(self.prefix, "lib")):
            path = os.path.join(root, *parts)
            if os.path.exists(path):
                return path
        self.fail(f"{os.path.join(*parts)} not installed under {self.prefix}")

    def test_tree_layout(self):
        for rel in ("bin/zkplug", "bin/zkplug.sh", "bin/zkplug-cleanup.sh", "libexec/zkplug-env.sh",
                    "include/zkplug/plugin.h", "share/zkplug/lua/fourlw.lua", "etc/zkplug/zoo.cfg",
                    "etc/zkplug/zoo-ensemble.cfg", "lib/systemd/system/zkplug.service",
                    "share/doc/zkplug/operations.md"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        for plugin in ("tcp.so", "disk.so", "mem.so"):
            self.find("zkplug", "plugins", plugin)
        unit = open(os.path.join(self.prefix, "lib/systemd/system/zkplug.service")).read()
        self.assertNotIn("@", unit)
        self.assertIn("ExecStart=" + os.path.join(self.prefix, "bin", "zkplug.sh") + " start-foreground", unit)

    def test_scripts_from_the_install(self):
        script = os.path.join(self.prefix, "bin", "zkplug.sh")
        # Nothing from the source or build tree: the source lua/ is hidden
        # from the installed binary by pointing the environment elsewhere.
        d = ServerDir(script, env={"ZKPLUG_BUILD_DIR": "/nonexistent"})
        try:
            p = d.run("print-cmd")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(os.path.join(self.prefix, "bin", "zkplug") + " ", p.stdout)
            self.assertIn("-s " + os.path.join(self.prefix, "share", "zkplug", "lua"), p.stdout)
            self.assertIn("zkplug/plugins", p.stdout)
            self.assertNotIn(ARGS.build, p.stdout)
            p = d.run("start")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            p = d.run("status")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("Mode: standalone", p.stdout)
            self.assertIn("lua: scripts loaded from " + os.path.join(self.prefix, "share", "zkplug", "lua"),
                          d.log_text())
            p = d.run("start")
            self.assertEqual(p.returncode, 1)
            p = d.run("stop")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("STOPPED", p.stdout)
            # zkplug-cleanup.sh runs the installed purge tool on the dataDir.
            p = subprocess.run([os.path.join(self.prefix, "bin", "zkplug-cleanup.sh"), "--config", d.conf,
                                "-n", "3"], env=d.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            d.cleanup()

    def test_default_config_folder_of_the_install(self):
        env = dict(os.environ)
        for k in ("ZOOCFGDIR", "ZOOCFG"):
            env.pop(k, None)
        p = subprocess.run([os.path.join(self.prefix, "bin", "zkplug.sh"), "print-cmd"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("-c " + os.path.join(self.prefix, "etc", "zkplug", "zoo.cfg"), p.stdout)

    def test_out_of_tree_election_plugin(self):
        pcdir = os.path.dirname(self.find("pkgconfig", "zkplug.pc"))
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        cflags = subprocess.run(["pkg-config", "--cflags", "zkplug"], env=env, stdout=subprocess.PIPE,
                                text=True, check=True).stdout.split()
        self.assertIn("-I" + os.path.join(os.path.realpath(self.prefix), "include"),
                      [("-I" + os.path.realpath(f[2:])) if f.startswith("-I") else f for f in cflags])
        plugindir = subprocess.run(["pkg-config", "--variable=plugindir", "zkplug"], env=env,
                                   stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        self.assertEqual(os.path.realpath(plugindir), os.path.realpath(self.find("zkplug", "plugins")))
        work = tempfile.mkdtemp(prefix="zkplug-oot-")
        try:
            # Only the installed header: the source is copied away from the tree.
            src = os.path.join(work, "rotating_election.c")
            shutil.copy(os.path.join(ARGS.src, "tests", "ops", "oot_election.c"), src)
            so = os.path.join(work, "rotating.so")
            p = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                                "-fvisibility=hidden", *cflags, src, "-o", so],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout)
            zkplug = os.path.join(self.prefix, "bin", "zkplug")
            p = subprocess.run([zkplug, "-p", work, "-t", "election:rotating"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("election plugin rotating 1.0", p.stdout)
            # The loader checks the kind: the same file is not a transport.
            p = subprocess.run([zkplug, "-p", work, "-t", "transport:rotating"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 1)
            self.assertIn("rotating.so", p.stderr)
            # And an installed plugin passes the same check.
            p = subprocess.run([zkplug, "-p", plugindir, "-t", "storage:disk"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("tests", nargs="*")
    ARGS = ap.parse_args()
    ARGS.src = os.path.abspath(ARGS.src)
    ARGS.build = os.path.abspath(ARGS.build)
    names = ARGS.tests or ["Scripts", "Shutdown", "Install", "StatusAddress", "Ensemble"]
    suite = unittest.TestLoader().loadTestsFromNames(names, sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
