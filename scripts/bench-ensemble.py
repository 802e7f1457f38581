#!/usr/bin/python3
# Benchmarks a 3-server zkplug ensemble against a 3-server Apache ZooKeeper
# 3.8 ensemble on this machine (loopback, forceSync=yes, the same zoo.cfg
# settings), one ensemble at a time, and prints every figure with the
# zkplug/ZooKeeper ratio: zkbench write / create through the leader, write /
# read through a follower (writes forwarded to the leader), 8 sessions x 32
# outstanding; then the resident memory of the three servers. Not a test: it
# prints figures. Every server it starts is stopped by PID on exit. See
# docs/benchmarks.md.
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "ensemble"))
sys.dont_write_bytecode = True
import ensemble  # noqa: E402


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def zkbench(zkbench_bin, port, kind, seconds, sessions=8, outstanding=32):
    out = subprocess.run([zkbench_bin, "-p", str(port), "-s", str(sessions), "-o", str(outstanding),
                          "-w", kind, "-t", str(seconds), "-n", "100000000"],
                         capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"ops/s=([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("zkbench %s on port %d: %s %s" % (kind, port, out.stdout, out.stderr))
    return float(m.group(1)), out.stdout.strip()


def run_kind(kind, args, base):
    a = argparse.Namespace(server=kind, bin=args.bin, plugins=args.plugins, keep=False)
    ens = ensemble.Ensemble(a, os.path.join(base, kind), 3)
    figures = {}
    try:
        ens.start_all()
        leader = ens.wait_roles(120)
        follower = [s for s in ens.all() if s is not leader][0]
        time.sleep(1.0)
        figures["RSS of 3 servers idle (MiB)"] = sum(rss_kib(s.proc.pid) for s in ens.all()) / 1024.0
        runs = [("write via leader", leader, "write"), ("create via leader", leader, "create"),
                ("write via follower", follower, "write"), ("read via follower", follower, "read")]
        for name, server, wk in runs:
            ops, line = zkbench(args.zkbench, server.client_port, wk, args.seconds)
            figures[name] = ops
            print("  %-7s %-20s %s" % (kind, name, line), flush=True)
        # Memory per znode after the runs (each kind created a different
        # number of znodes): the three servers' RSS growth over the idle
        # figure, per znode held.
        rss = sum(rss_kib(s.proc.pid) for s in ens.all()) / 1024.0
        count = int(re.search(r"Node count: (\d+)", ensemble.four_letter(leader.client_port, "srvr") or
                              "Node count: 0").group(1))
        print("  %-7s RSS of 3 servers %.0f MiB holding %d znodes each" % (kind, rss, count), flush=True)
        figures["RSS of 3 servers (MiB)"] = rss
        figures["RSS growth per znode (B)"] = (rss - figures["RSS of 3 servers idle (MiB)"]) * 1048576.0 / max(
            count, 1) / 3
    finally:
        ens.shutdown()
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "core", "zkplug"))
    ap.add_argument("--plugins", default=os.path.join(ROOT, "build", "plugins"))
    ap.add_argument("--zkbench", default=os.path.join(ROOT, "build", "tests", "zkbench"))
    ap.add_argument("-t", "--seconds", type=float, default=8.0, help="length of each zkbench run")
    args = ap.parse_args()
    for path in (args.bin, args.zkbench):
        if not os.access(path, os.X_OK):
            sys.exit("%s is missing: build first (cmake --build build)" % path)
    missing = ensemble.java_ok()
    if missing:
        sys.exit("Apache ZooKeeper cannot run: %s" % missing)
    base = tempfile.mkdtemp(prefix="zkplug-bench-ensemble-")
    try:
        zp = run_kind("zkplug", args, base)
        zk = run_kind("zk", args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n%-26s %12s %12s %8s" % ("3-server ensemble", "zkplug", "ZooKeeper", "ratio"))
    for name in zp:
        ratio = zp[name] / zk[name] if zk[name] else float("nan")
        print("%-26s %12.0f %12.0f %8.2f" % (name, zp[name], zk[name], ratio))


if __name__ == "__main__":
    main()
