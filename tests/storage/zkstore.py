"""Shared code for the storage tests and benchmarks: a minimal blocking
ZooKeeper wire-protocol client and start/stop control of a zkplug or Apache
ZooKeeper 3.8 server on a given dataDir.

The raw client exists because the tests need exact control that a full client
library hides: a request counts as "in flight" once its bytes were handed to
the socket, a session can be left open without closing it, a session can be
resumed by id and password, and a null data buffer can be sent.

Run as a script (used by scripts/bench-throughput.sh):
  zkstore.py wait-ready PORT TIMEOUT_S   prints the milliseconds until a
      session handshake succeeded (exit 1 on timeout);
  zkstore.py launch PORT TIMEOUT_S LOG -- CMD...   starts a server, waits
      for a handshake, prints "PID MS" and leaves it running.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

# ------------------------------------------------------------------ jute

OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_GETACL, OP_GETCHILDREN, OP_PING, OP_AUTH, OP_CLOSE = 6, 8, 11, 100, -11
OP_CREATE_CONTAINER, OP_CREATE_TTL = 19, 21

PERM_READ, PERM_WRITE, PERM_CREATE, PERM_DELETE, PERM_ADMIN = 1, 2, 4, 8, 16
PERM_ALL = 31
OPEN_ACL = [(PERM_ALL, "world", "anyone")]

ERR_NONODE, ERR_NODEEXISTS, ERR_CONNLOSS = -101, -110, -4

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
               "aversion", "ephemeralOwner", "dataLength", "numChildren", "pzxid")


def p_int(v):
    return struct.pack(">i", v)


def p_long(v):
    return struct.pack(">q", v)


def p_bool(v):
    return b"\x01" if v else b"\x00"


def p_buf(b):
    if b is None:
        return p_int(-1)
    return p_int(len(b)) + b


def p_str(s):
    return p_buf(s.encode())


def p_acl(acl):
    out = p_int(len(acl))
    for perms, scheme, ident in acl:
        out += p_int(perms) + p_str(scheme) + p_str(ident)
    return out


class Reader:
    """Decodes jute fields from a reply body."""

    def __init__(self, data, off=0):
        self.d = data
        self.o = off

    def int(self):
        v = struct.unpack_from(">i", self.d, self.o)[0]
        self.o += 4
        return v

    def long(self):
        v = struct.unpack_from(">q", self.d, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        v = self.d[self.o] != 0
        self.o += 1
        return v

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = bytes(self.d[self.o:self.o + n])
        self.o += n
        return v

    def str(self):
        b = self.buf()
        return None if b is None else b.decode()

    def stat(self):
        return dict((f, self.int() if f in ("version", "cversion", "aversion",
                                             "dataLength", "numChildren") else self.long())
                    for f in STAT_FIELDS)

    def acl(self):
        return [(self.int(), self.str(), self.str()) for _ in range(self.int())]

    def strings(self):
        return [self.str() for _ in range(self.int())]


class ZkError(Exception):
    def __init__(self, code, what=""):
        super().__init__("ZooKeeper error %d %s" % (code, what))
        self.code = code


class ConnLost(Exception):
    """The connection broke; requests sent and not answered are in flight."""


class RawClient:
    """One session over one blocking socket. Requests may be pipelined with
    send()/recv(); the call() methods do one round trip."""

    def __init__(self, port, timeout_ms=30000, session_id=0, passwd=b"\0" * 16,
                 sock_timeout=10.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=sock_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.xid = 0
        self.rbuf = b""
        req = p_int(0) + p_long(0) + p_int(timeout_ms) + p_long(session_id) + p_buf(passwd) + p_bool(False)
        self._send_frame(req)
        r = Reader(self._recv_frame())
        r.int()  # protocol version
        self.timeout_ms = r.int()
        self.session_id = r.long()
        self.passwd = r.buf()

    # framing
    def _send_frame(self, body):
        try:
            self.sock.sendall(p_int(len(body)) + body)
        except OSError as e:
            raise ConnLost(str(e))

    def _recv_exact(self, n):
        while len(self.rbuf) < n:
            try:
                chunk = self.sock.recv(max(65536, n - len(self.rbuf)))
            except OSError as e:
                raise ConnLost(str(e))
            if not chunk:
                raise ConnLost("connection closed by the server")
            self.rbuf += chunk
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def _recv_frame(self):
        n = struct.unpack(">i", self._recv_exact(4))[0]
        if n < 0 or n > 64 << 20:
            raise ConnLost("bad frame length %d" % n)
        return self._recv_exact(n)

    def close_socket(self):
        """Drops the TCP connection without closing the session."""
        try:
            self.sock.close()
        except OSError:
            pass

    # requests
    def send(self, op, body, xid=None):
        """Sends one request; returns its xid. Raises ConnLost."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send_frame(p_int(xid) + p_int(op) + body)
        return xid

    def recv(self):
        """(xid, zxid, err, Reader over the body). Skips watch events."""
        while True:
            frame = self._recv_frame()
            r = Reader(frame)
            xid, zxid, err = r.int(), r.long(), r.int()
            if xid == -1:
                continue
            return xid, zxid, err, r

    def call(self, op, body, ok=(0,)):
        xid = self.send(op, body)
        rx, zxid, err, r = self.recv()
        if rx != xid:
            raise ConnLost("reply xid %d for request %d" % (rx, xid))
        if err not in ok:
            raise ZkError(err, "op %d" % op)
        return err, r

    @staticmethod
    def create_body(path, data, acl=OPEN_ACL, flags=0):
        return p_str(path) + p_buf(data) + p_acl(acl) + p_int(flags)

    def create(self, path, data=b"", acl=OPEN_ACL, flags=0):
        return self.call(OP_CREATE, self.create_body(path, data, acl, flags))[1].str()

    def create_container(self, path, data=b"", acl=OPEN_ACL):
        """createContainer (flags 4); returns (path, stat)."""
        r = self.call(OP_CREATE_CONTAINER, self.create_body(path, data, acl, 4))[1]
        return r.str(), r.stat()

    def create_ttl(self, path, data, ttl_ms, acl=OPEN_ACL, sequential=False):
        """createTTL (flags 5, or 6 when sequential); returns (path, stat)."""
        body = self.create_body(path, data, acl, 6 if sequential else 5) + p_long(ttl_ms)
        r = self.call(OP_CREATE_TTL, body)[1]
        return r.str(), r.stat()

    def delete(self, path, version=-1):
        self.call(OP_DELETE, p_str(path) + p_int(version))

    def set_data(self, path, data, version=-1):
        return self.call(OP_SETDATA, p_str(path) + p_buf(data) + p_int(version))[1].stat()

    def get_data(self, path):
        """(data, stat) or None when the node does not exist."""
        err, r = self.call(OP_GETDATA, p_str(path) + p_bool(False), ok=(0, ERR_NONODE))
        if err == ERR_NONODE:
            return None
        data = r.buf()
        return data, r.stat()

    def get_many(self, paths, batch=256):
        """Pipelined getData: {path: (data, stat) or None}."""
        out = {}
        paths = list(paths)
        for i in range(0, len(paths), batch):
            chunk = paths[i:i + batch]
            xids = {}
            for p in chunk:
                xids[self.send(OP_GETDATA, p_str(p) + p_bool(False))] = p
            for _ in chunk:
                xid, _, err, r = self.recv()
                p = xids.pop(xid)
                if err == ERR_NONODE:
                    out[p] = None
                elif err != 0:
                    raise ZkError(err, p)
                else:
                    data = r.buf()
                    out[p] = (data, r.stat())
        return out

    def get_children(self, path):
        return self.call(OP_GETCHILDREN, p_str(path) + p_bool(False))[1].strings()

    def get_acl(self, path):
        r = self.call(OP_GETACL, p_str(path))[1]
        acl = r.acl()
        return acl, r.stat()

    def add_auth(self, scheme, auth):
        self.send(OP_AUTH, p_int(0) + p_str(scheme) + p_buf(auth), xid=-4)
        xid, _, err, _ = self.recv()
        if err != 0:
            raise ZkError(err, "auth")

    def ping(self):
        self.send(OP_PING, b"", xid=-2)
        self.recv()

    def close(self):
        try:
            self.call(OP_CLOSE, b"")
        except (ConnLost, ZkError):
            pass
        self.close_socket()


def session_alive(port, session_id, passwd, timeout_ms=30000):
    """Resumes a session by id and password on a fresh connection; True when
    the server accepted it (same id, a non-zero timeout). The connection is
    then dropped without closing the session."""
    try:
        c = RawClient(port, timeout_ms=timeout_ms, session_id=session_id, passwd=passwd)
    except (ConnLost, OSError):
        return False
    ok = c.timeout_ms > 0 and c.session_id == session_id
    if ok:
        try:
            c.ping()
        except ConnLost:
            ok = False
    c.close_socket()
    return ok


def wait_ready(port, timeout_s, proc=None):
    """Waits until a session handshake succeeds (the session is closed
    again). Returns True, or False on timeout or when proc exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            c = RawClient(port, timeout_ms=10000, sock_timeout=2.0)
            c.close()
            return True
        except (ConnLost, OSError, struct.error):
            time.sleep(0.01)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

# --------------------------------------------------------------- servers

ZK_CLASSPATH = os.environ.get("ZKPLUG_ZK_CLASSPATH") or \
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


class Server:
    """A zkplug or Apache ZooKeeper process on dir/data (zoo.cfg and
    server-<kind>.log beside it). settings: zoo.cfg lines for both; the
    snapshot compression goes to zoo.cfg for zkplug and to a JVM property for
    ZooKeeper. Stop with stop() (SIGTERM) or kill() (SIGKILL); only this
    process and its process group are ever signalled."""

    def __init__(self, kind, base_dir, port, zkplug=None, plugin_dir=None,
                 settings=None, compression=None, jvm_opts=None, properties=None):
        assert kind in ("zkplug", "zookeeper")
        self.kind = kind
        self.base = base_dir
        self.data_dir = os.path.join(base_dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = port
        self.zkplug = zkplug
        self.plugin_dir = plugin_dir
        self.settings = dict(settings or {})
        self.compression = compression
        # JVM system properties of ZooKeeper ("zookeeper.x"); zkplug reads
        # the same settings from zoo.cfg without the "zookeeper." prefix.
        self.properties = dict(properties or {})
        self.jvm_opts = jvm_opts or ["-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
        self.proc = None
        self.log_path = os.path.join(base_dir, "server-%s.log" % kind)
        self.cfg_path = os.path.join(base_dir, "zoo-%s.cfg" % kind)

    def _write_cfg(self):
        lines = {"tickTime": "2000", "dataDir": self.data_dir, "clientPort": str(self.port),
                 "clientPortAddress": "127.0.0.1", "maxClientCnxns": "0",
                 "admin.enableServer": "false", "4lw.commands.whitelist": "*"}
        lines.update(self.settings)
        if self.kind == "zkplug":
            if self.compression:
                lines["snapshot.compression.method"] = self.compression
            for k, v in self.properties.items():
                lines[k[len("zookeeper."):] if k.startswith("zookeeper.") else k] = v
        with open(self.cfg_path, "w") as f:
            for k, v in lines.items():
                f.write("%s=%s\n" % (k, v))

    def argv(self):
        if self.kind == "zkplug":
            if not self.zkplug:
                raise RuntimeError("no zkplug binary given")
            return [self.zkplug, "-c", self.cfg_path, "-p", self.plugin_dir]
        argv = ["java"] + list(self.jvm_opts) + ["-cp", ZK_CLASSPATH,
                                                 "-Dorg.slf4j.simpleLogger.showDateTime=true"]
        if self.compression:
            argv.append("-Dzookeeper.snapshot.compression.method=%s" % self.compression)
        if "snapCount" in self.settings:
            argv.append("-Dzookeeper.snapCount=%s" % self.settings["snapCount"])
        for k, v in self.properties.items():
            argv.append("-D%s=%s" % (k, v))
        argv += ["org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg_path]
        return argv

    def spawn(self):
        """Starts the process without waiting; returns the start time."""
        self._write_cfg()
        log = open(self.log_path, "ab")
        self.log_offset = log.tell()
        log.write(("---- start %s %s\n" % (self.kind, time.strftime("%H:%M:%S"))).encode())
        log.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return t0

    # ZooKeeper keeps its JVM running when it cannot load the database.
    FATAL = ("Unable to load database", "Something is broken", "exiting abnormally")

    def _fatal_in_log(self):
        if self.kind != "zookeeper":
            return False
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return False
        return any(m in text for m in self.FATAL)

    def start(self, timeout_s=60):
        """Starts and waits for a session handshake; returns seconds taken."""
        t0 = self.spawn()
        deadline = t0 + timeout_s
        ready = False
        while not ready and time.monotonic() < deadline and self.alive():
            ready = wait_ready(self.port, min(1.0, max(0.01, deadline - time.monotonic())), self.proc)
            if not ready and self._fatal_in_log():
                break
        if not ready:
            tail = self.log_tail()
            self.kill()
            raise RuntimeError("%s did not start on port %d:\n%s" % (self.kind, self.port, tail))
        return time.monotonic() - t0

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid if self.proc else None

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return None

    def _kill_group(self):
        # The server runs in its own process group (start_new_session), so
        # this reaches it and anything it forked (a snapshot writer), and
        # nothing else.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout_s=20):
        """SIGTERM, SIGKILL after timeout_s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.proc.wait()
        rc = self.proc.returncode
        self._kill_group()  # leftovers of the group, none normally
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL to the server's process group (a crash)."""
        if self.proc is None:
            return
        self._kill_group()
        self.proc.wait()
        self.proc = None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 65536))
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def java_available():
    """(ok, reason): java and the ZooKeeper jars are present."""
    from shutil import which
    if which("java") is None:
        return False, "java is not installed"
    for jar in ZK_CLASSPATH.split(":"):
        if not os.path.exists(jar):
            return False, "%s is missing" % jar
    return True, ""


def launch(port, timeout_s, log_path, argv):
    """Starts argv in its own session with output appended to log_path and
    waits for a session handshake on port. Prints "PID MS" (MS from spawn to
    the first successful handshake) and leaves the server running; on
    timeout or exit kills it and returns 1."""
    with open(log_path, "ab") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    ok = wait_ready(port, timeout_s, proc)
    ms = (time.monotonic() - t0) * 1000
    if not ok:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        print("%d -1" % proc.pid)
        return 1
    print("%d %.0f" % (proc.pid, ms))
    return 0


USAGE = """usage: zkstore.py wait-ready PORT TIMEOUT_S
       zkstore.py launch PORT TIMEOUT_S LOGFILE -- COMMAND...
"""

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "wait-ready":
        t0 = time.monotonic()
        ok = wait_ready(int(sys.argv[2]), float(sys.argv[3]))
        print("%.0f" % ((time.monotonic() - t0) * 1000))
        sys.exit(0 if ok else 1)
    if len(sys.argv) > 6 and sys.argv[1] == "launch" and sys.argv[5] == "--":
        sys.exit(launch(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[6:]))
    sys.stderr.write(USAGE)
    sys.exit(2)
