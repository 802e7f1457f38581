#!/usr/bin/env python3
"""Election integration tests: zkplug peers (fle_driver processes, one per
server id) and, for the compatibility scenarios, real Apache ZooKeeper 3.8.0
servers, all on 127.0.0.1 with ports picked at start.

Scenarios (one per run, named on the command line):
  three      3 zkplug peers, different zxids: all agree on the best vote
  five       5 zkplug peers started in a shuffled order (within 30 ms) with
             different epochs and zxids: all agree (epoch, then zxid, then sid)
  rejoin     3 peers elect and keep answering; one is restarted with a
             better zxid and still follows the sitting leader, learnt from
             FOLLOWING/LEADING notifications
  preferred  3 peers with the preferred plugin: equal votes, the highest
             priority wins instead of the highest sid
  wire       one zkplug peer against a hand-written peer speaking the
             protocol byte by byte: initial message, re-sent last vote,
             adopting a better vote, answering while not looking (legacy
             header and 40-byte notification), a bad frame closing the
             connection, a smaller sid being called back
  mixed      ZooKeeper server 3 and zkplug peer 2 elect 3 (2 of 3 votes, so
             zkplug's vote is needed); ZooKeeper server 1 then joins the
             running leader through both notifications; srvr shows 3 leading
             and 1 following
  mixed-leader  ZooKeeper servers 1 and 3 (empty dataDirs) and zkplug peer 2
             with a newer zxid: both ZooKeeper servers elect zkplug's peer 2

Every process is started by this script and stopped by its PID (SIGTERM,
then SIGKILL after 5 s); every wait is bounded. Exit status 0 = passed.
"""
import argparse
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ZK_CLASSPATH = os.environ.get("ZKPLUG_ZK_CLASSPATH") or \
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


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


class Ensemble:
    """Ports and server lines for server ids 1..n."""

    def __init__(self, n):
        ports = free_ports(3 * n)
        self.ids = list(range(1, n + 1))
        self.quorum = {i: ports[3 * (i - 1)] for i in self.ids}
        self.election = {i: ports[3 * (i - 1) + 1] for i in self.ids}
        self.client = {i: ports[3 * (i - 1) + 2] for i in self.ids}

    def lines(self):
        return ["server.%d=127.0.0.1:%d:%d" % (i, self.quorum[i], self.election[i])
                for i in self.ids]


class Process:
    def __init__(self, name, argv, log_path, capture_stdout=False):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else self.log,
            stderr=self.log, start_new_session=True)
        self.buf = b""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()

    def read_line(self, timeout):
        """One stdout line within timeout seconds, or None."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


class Run:
    def __init__(self, args):
        self.args = args
        self.base = tempfile.mkdtemp(prefix="zkplug-election-")
        self.procs = []

    def cleanup(self, ok):
        for p in self.procs:
            p.stop()
        # A sanitizer build reports into the drivers' stderr files.
        for p in self.procs:
            if p.name.startswith("zkplug-"):
                text = log_text(p.log_path)
                for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                    if marker in text:
                        print("FAIL: %s: %s report in %s" % (p.name, marker, p.log_path))
                        ok = False
        if ok and not self.args.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            print("logs kept in %s" % self.base)
        return ok

    def write_cfg(self, ens, sid, extra=(), kind="zkplug"):
        data = os.path.join(self.base, "%s-data-%d" % (kind, sid))
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("%d\n" % sid)
        path = os.path.join(self.base, "%s-%d.cfg" % (kind, sid))
        lines = ["tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=" + data,
                 "clientPort=%d" % ens.client[sid], "clientPortAddress=127.0.0.1",
                 "admin.enableServer=false", "4lw.commands.whitelist=*"]
        lines += ens.lines() + list(extra)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def peer(self, ens, sid, zxid=0, epoch=0, stay_ms=0, extra=(), plugin=None):
        cfg = self.write_cfg(ens, sid, extra)
        log = os.path.join(self.base, "zkplug-%d.log" % sid)
        argv = [self.args.driver, "-c", cfg, "-p", self.args.plugins, "-i", str(sid),
                "-z", hex(zxid), "-e", str(epoch), "-t", "30000", "-s", str(stay_ms),
                "-l", log]
        if plugin:
            argv += ["-E", plugin]
        p = Process("zkplug-%d" % sid, argv, os.path.join(self.base, "zkplug-%d.err" % sid),
                    capture_stdout=True)
        p.sid = sid
        p.driver_log = log
        self.procs.append(p)
        return p

    def zookeeper(self, ens, sid):
        cfg = self.write_cfg(ens, sid, kind="zk")
        argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", ZK_CLASSPATH, "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dzookeeper.jmx.log4j.disable=true",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg]
        p = Process("zookeeper-%d" % sid, argv, os.path.join(self.base, "zk-%d.log" % sid))
        p.sid = sid
        self.procs.append(p)
        return p


def parse_result(line, who):
    check(line is not None, "%s printed no result in time" % who)
    check(line.startswith("RESULT "), "%s: %s" % (who, line))
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def results(peers, timeout=40):
    out = {}
    for p in peers:
        out[p.sid] = parse_result(p.read_line(timeout), p.name)
        print("  %s" % " ".join("%s=%s" % kv for kv in out[p.sid].items()))
    return out


def expect_leader(res, leader, zxid=None):
    for sid, r in res.items():
        check(int(r["leader"]) == leader,
              "server %d elected %s, expected %d" % (sid, r["leader"], leader))
        want = "LEADING" if sid == leader else "FOLLOWING"
        check(r["state"] == want, "server %d is %s, expected %s" % (sid, r["state"], want))
        if zxid is not None:
            check(int(r["zxid"], 16) == zxid, "server %d agreed on zxid %s, expected %#x"
                  % (sid, r["zxid"], zxid))
    rounds = {r["round"] for r in res.values()}
    check(len(rounds) == 1, "servers disagree on the round: %s" % rounds)


def best(votes):
    """votes: {sid: (zxid, epoch)} -> the sid ZooKeeper's order picks."""
    return max(votes, key=lambda s: (votes[s][1], votes[s][0], s))


def log_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def wait_log(path, pattern, timeout):
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        if rx.search(log_text(path)):
            return True
        time.sleep(0.1)
    return False


def srvr_mode(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"srvr")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        m = re.search(r"Mode: (\w+)", data.decode(errors="replace"))
        return m.group(1) if m else None
    except OSError:
        return None


def wait_mode(port, mode, timeout):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = srvr_mode(port)
        if seen == mode:
            return True
        time.sleep(0.2)
    raise Failure("server on client port %d: Mode %s, expected %s" % (port, seen, mode))


# ----------------------------------------------------------------- scenarios

def scenario_three(run):
    ens = Ensemble(3)
    votes = {1: (0x100000009, 1), 2: (0x100000004, 1), 3: (0x100000004, 1)}
    peers = [run.peer(ens, s, *votes[s], stay_ms=3000) for s in ens.ids]
    expect_leader(results(peers), best(votes), votes[best(votes)][0])


def scenario_five(run):
    ens = Ensemble(5)
    votes = {1: (0x200000001, 2), 2: (0x100000050, 1), 3: (0x200000001, 2),
             4: (0x100000099, 1), 5: (0x100000001, 1)}
    order = list(ens.ids)
    random.shuffle(order)
    print("  start order %s" % order)
    peers = []
    for s in order:
        peers.append(run.peer(ens, s, *votes[s], stay_ms=4000))
        # Within the 200 ms finalize wait of each other: a server started
        # much later would rightly join whatever leader the first four chose.
        time.sleep(random.uniform(0, 0.03))
    check(best(votes) == 3, "test data: expected leader 3")
    expect_leader(results(peers), 3, 0x200000001)


def scenario_rejoin(run):
    ens = Ensemble(3)
    peers = {s: run.peer(ens, s, 0x100000002, 1, stay_ms=30000) for s in ens.ids}
    res = results(peers.values())
    expect_leader(res, 3)
    # Restart 1 with a better zxid: the sitting leader must still win.
    old = peers[1]
    old.stop()
    new = run.peer(ens, 1, 0x100000099, 1, stay_ms=1000)
    r = results([new])[1]
    check(r["state"] == "FOLLOWING" and int(r["leader"]) == 3,
          "restarted server 1 is %s of %s, expected FOLLOWING of 3" % (r["state"], r["leader"]))
    check(r["round"] == res[3]["round"], "restarted server 1 round %s, leader's %s"
          % (r["round"], res[3]["round"]))
    text = log_text(new.driver_log)
    check(re.search(r"n\.sid:3, n\.state:LEADING, n\.leader:3", text),
          "server 1 never saw 3's LEADING notification")
    # 2 backs 3 either with its FOLLOWING answer or, when 1 comes back
    # quickly, with its last LOOKING vote re-sent on the new connection.
    check(re.search(r"n\.sid:2, n\.state:(FOLLOWING|LOOKING), n\.leader:3", text),
          "server 1 never saw 2's vote for 3")


def scenario_preferred(run):
    ens = Ensemble(3)
    extra = ["preferred.priority.1=10", "preferred.priority.2=50", "preferred.priority.3=20"]
    peers = [run.peer(ens, s, 0x100000004, 1, stay_ms=3000, extra=extra, plugin="preferred")
             for s in ens.ids]
    expect_leader(results(peers), 2, 0x100000004)


def recv_exact(sock, n, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise Failure("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def recv_notification(sock):
    (length,) = struct.unpack(">i", recv_exact(sock, 4))
    body = recv_exact(sock, length)
    state, leader, zxid, rnd, peer_epoch = struct.unpack(">iqqqq", body[:36])
    out = {"state": state, "leader": leader, "zxid": zxid, "round": rnd,
           "peer_epoch": peer_epoch, "len": length}
    if length >= 44:
        out["version"], clen = struct.unpack(">ii", body[36:44])
        out["config"] = body[44:44 + clen].decode()
    return out


def notification(state, leader, zxid, rnd, peer_epoch, config=b"version=0", form=2):
    body = struct.pack(">iqqqq", state, leader, zxid, rnd, peer_epoch)
    if form == 2:
        body += struct.pack(">ii", 2, len(config)) + config
    elif form == 40:
        body += struct.pack(">i", 1)  # present but not read in the 40-byte form
    return struct.pack(">i", len(body)) + body


def initial(sid, addr):
    return struct.pack(">qqi", -65536, sid, len(addr)) + addr.encode()


def scenario_wire(run):
    ens = Ensemble(3)
    drv = run.peer(ens, 1, 0, 0, stay_ms=30000)
    deadline = time.monotonic() + 10
    sock = None
    while sock is None and time.monotonic() < deadline:
        try:
            sock = socket.create_connection(("127.0.0.1", ens.election[1]), timeout=2)
        except OSError:
            time.sleep(0.05)
    check(sock is not None, "zkplug peer 1 is not listening on its election port")
    # As server 3 (larger id: peer 1 keeps this connection).
    sock.sendall(initial(3, "127.0.0.1:%d" % ens.election[3]))
    n = recv_notification(sock)
    check(n["state"] == 0 and n["leader"] == 1 and n["round"] == 1 and n["version"] == 2,
          "first notification from peer 1: %s" % n)
    # The server lines have no client part, so neither has the text (as
    # QuorumServer.toString prints it).
    check(n["config"].startswith("server.1=127.0.0.1:%d:%d:participant\n"
                                 % (ens.quorum[1], ens.election[1]))
          and n["config"].endswith("\nversion=0"), "config text: %r" % n["config"])
    check(n["len"] == 44 + len(n["config"].encode()), "notification length %d" % n["len"])
    # A better vote (same zxid, higher sid): peer 1 adopts it and says so.
    sock.sendall(notification(0, 3, 0, 1, 0))
    n = recv_notification(sock)
    check(n["state"] == 0 and n["leader"] == 3, "peer 1 did not adopt vote 3: %s" % n)
    r = results([drv], timeout=10)[1]
    check(r["state"] == "FOLLOWING" and int(r["leader"]) == 3, "peer 1 result %s" % r)
    # Not looking any more: a looking server (legacy header, 40-byte
    # notification) is answered with the current vote.
    sock2 = socket.create_connection(("127.0.0.1", ens.election[1]), timeout=2)
    sock2.sendall(struct.pack(">q", 3))
    sock2.sendall(notification(0, 3, 0, 2, 0, form=40))
    deadline = time.monotonic() + 10
    n = recv_notification(sock2)
    while n["state"] == 0 and time.monotonic() < deadline:
        n = recv_notification(sock2)  # the re-sent last vote may come first
    check(n["state"] == 1 and n["leader"] == 3 and n["round"] == 1,
          "peer 1 answered %s, expected FOLLOWING 3 of round 1" % n)
    # A bad frame length closes the connection, with a log line.
    sock2.sendall(struct.pack(">i", 0))
    sock2.settimeout(10)
    try:
        while sock2.recv(4096):
            pass
    except ConnectionResetError:
        pass
    check(wait_log(drv.driver_log, r"invalid message length 0 \(must be 1\.\.524288\)", 5),
          "no log line for the bad frame")
    # A smaller sid (0, unknown) is closed and called back at its address.
    back = socket.socket()
    back.bind(("127.0.0.1", 0))
    back.listen(1)
    back.settimeout(10)
    sock3 = socket.create_connection(("127.0.0.1", ens.election[1]), timeout=2)
    sock3.sendall(initial(0, "127.0.0.1:%d" % back.getsockname()[1]))
    conn, _ = back.accept()
    version, sid, alen = struct.unpack(">qqi", recv_exact(conn, 20))
    addr = recv_exact(conn, alen).decode()
    check(version == -65536 and sid == 1 and addr == "127.0.0.1:%d" % ens.election[1],
          "call-back header: %d %d %s" % (version, sid, addr))
    for s in (sock, sock2, sock3, conn, back):
        s.close()


def java_ok():
    if shutil.which("java") is None:
        return "java is not installed"
    for jar in ZK_CLASSPATH.split(":"):
        if not os.path.exists(jar):
            return "%s is missing" % jar
    return None


def scenario_mixed(run):
    ens = Ensemble(3)
    zk3 = run.zookeeper(ens, 3)
    drv = run.peer(ens, 2, 0, 0, stay_ms=60000)
    r = results([drv], timeout=60)[2]
    check(r["state"] == "FOLLOWING" and int(r["leader"]) == 3,
          "zkplug peer 2 is %s of %s, expected FOLLOWING of 3" % (r["state"], r["leader"]))
    check(wait_log(zk3.log_path, r"LEADING", 20), "ZooKeeper server 3 never took LEADING")
    text = log_text(zk3.log_path)
    check(re.search(r"Notification: my state:LOOKING; n\.sid:2, n\.state:LOOKING", text),
          "ZooKeeper server 3 logged no notification from zkplug peer 2")
    # Server 1 joins the running leader: 3 says LEADING, zkplug's 2 says
    # FOLLOWING; the two make its quorum.
    zk1 = run.zookeeper(ens, 1)
    wait_mode(ens.client[3], "leader", 40)
    wait_mode(ens.client[1], "follower", 40)
    text1 = log_text(zk1.log_path)
    check(re.search(r"n\.sid:2, n\.state:FOLLOWING, n\.leader:3", text1),
          "ZooKeeper server 1 logged no FOLLOWING notification from zkplug peer 2")
    print("  ZooKeeper 3: leader, ZooKeeper 1: follower, zkplug 2: FOLLOWING of 3")


def scenario_mixed_leader(run):
    ens = Ensemble(3)
    zks = [run.zookeeper(ens, 1), run.zookeeper(ens, 3)]
    drv = run.peer(ens, 2, 0x100000005, 1, stay_ms=20000)
    r = results([drv], timeout=60)[2]
    check(r["state"] == "LEADING" and int(r["leader"]) == 2,
          "zkplug peer 2 is %s of %s, expected LEADING" % (r["state"], r["leader"]))
    for zk in zks:
        check(wait_log(zk.log_path, r"Peer state changed: following|\bFOLLOWING\b", 20),
              "ZooKeeper server %d never took FOLLOWING" % zk.sid)
        check(re.search(r"n\.sid:2, n\.state:LOOKING, n\.leader:2, n\.round:0x1, "
                        r"n\.peerEpoch:0x1, n\.zxid:0x100000005, message format version:0x2",
                        log_text(zk.log_path)),
              "ZooKeeper server %d did not log zkplug's vote" % zk.sid)
    print("  ZooKeeper 1 and 3 follow zkplug peer 2")


SCENARIOS = {"three": scenario_three, "five": scenario_five, "rejoin": scenario_rejoin,
             "preferred": scenario_preferred, "wire": scenario_wire, "mixed": scenario_mixed,
             "mixed-leader": scenario_mixed_leader}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--plugins", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the logs")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    if args.scenario.startswith("mixed"):
        why = java_ok()
        if why:
            print("cannot run the mixed election: %s" % why)
            return 1
    run = Run(args)
    ok = False
    try:
        print("scenario %s" % args.scenario)
        SCENARIOS[args.scenario](run)
        ok = True
        print("PASS")
    except Failure as e:
        print("FAIL: %s" % e)
    finally:
        ok = run.cleanup(ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
