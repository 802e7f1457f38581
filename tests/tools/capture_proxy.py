#!/usr/bin/env python3
"""Capture real ZooKeeper client/server bytes for the protocol unit tests.

The byte arrays in tests/unit/test_proto.c were taken with this tool from a
real ZooKeeper 3.8.0 server on 127.0.0.1:

  proxy     a logging TCP proxy: every framed packet in either direction is
            appended to a JSON-lines log as hex, with the request/reply
            header decoded so packets can be found again. SIGUSR1 drops all
            client connections, which makes clients reconnect and resend
            their watches (setWatches, xid -8).
  kazoo     drives the scenario the tests need through the proxy with kazoo
            (run it with the system python, /usr/bin/python3).
  raw       sends hand-built requests that no installed client produces
            (an old 44-byte ConnectRequest, createContainer, createTTL), so
            the server's replies and txns for them can be captured too.
  txnlog    prints every entry of a txn log file (version-2/log.*) as hex:
            header fields, then the TxnHeader + body bytes.

Typical run (ZooKeeper on 21981, proxy on 21982):
  capture_proxy.py proxy --listen 21982 --upstream 21981 --log cap.jsonl &
  /usr/bin/python3 capture_proxy.py kazoo --port 21982
  capture_proxy.py raw --port 21982
  kill -USR1 <proxy pid> (with zkCli.sh connected and a watch set)
  capture_proxy.py txnlog DATADIR/version-2/log.1
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import zlib


# ------------------------------------------------------------------ proxy

class Proxy:
    def __init__(self, listen, upstream, log_path):
        self.listen = listen
        self.upstream = upstream
        self.log = open(log_path, "a", buffering=1)
        self.lock = threading.Lock()
        self.conns = []
        self.next_id = 0

    def record(self, conn_id, direction, index, payload):
        entry = {"conn": conn_id, "dir": direction, "n": index,
                 "len": len(payload), "hex": payload.hex()}
        # Decode the header so the log can be searched: the first packet
        # each way is the ConnectRequest/Response, which has no header.
        if index > 0 and direction == "c2s" and len(payload) >= 8:
            entry["xid"], entry["type"] = struct.unpack(">ii", payload[:8])
        elif index > 0 and direction == "s2c" and len(payload) >= 16:
            entry["xid"], entry["zxid"], entry["err"] = \
                struct.unpack(">iqi", payload[:16])
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")

    def pump(self, conn_id, direction, src, dst):
        buf = b""
        index = 0
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 4:
                    (n,) = struct.unpack(">i", buf[:4])
                    # Four-letter words and garbage: pass through unlogged.
                    if n < 0 or n > 16 << 20:
                        dst.sendall(buf)
                        buf = b""
                        break
                    if len(buf) < 4 + n:
                        break
                    self.record(conn_id, direction, index, buf[4:4 + n])
                    index += 1
                    dst.sendall(buf[:4 + n])
                    buf = buf[4 + n:]
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop_all(self, *_):
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self):
        signal.signal(signal.SIGUSR1, self.drop_all)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.listen))
        ls.listen(16)
        while True:
            try:
                client, _ = ls.accept()
            except InterruptedError:
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                conn_id = self.next_id
                self.next_id += 1
                self.conns.append(client)
            for d, a, b in (("c2s", client, server), ("s2c", server, client)):
                threading.Thread(target=self.pump, args=(conn_id, d, a, b),
                                 daemon=True).start()


# ------------------------------------------------------------------ kazoo

def run_kazoo(port):
    from kazoo.client import KazooClient
    from kazoo.security import make_acl, make_digest_acl_credential

    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=4.0)
    zk.start()
    zk.add_auth("digest", "u:p")
    acl = [make_acl("world", "anyone", read=True),
           make_acl("digest", make_digest_acl_credential("u", "p"), all=True)]
    zk.create("/a", b"hello", acl=acl)
    zk.create("/b", b"xy", include_data=True)
    zk.get("/a")
    zk.set("/a", b"world")
    zk.create("/b/c", b"")
    zk.get_children("/b", include_data=True)
    zk.exists("/nope")
    zk.get_acls("/a")
    zk.set_acls("/a", [make_acl("world", "anyone", all=True)], version=0)
    t = zk.transaction()
    t.create("/m1", b"1")
    t.set_data("/a", b"multi")
    t.check("/b", 0)
    t.commit()
    t = zk.transaction()
    t.create("/f1", b"")
    t.delete("/nonexist")
    t.create("/f2", b"")
    t.commit()
    fired = threading.Event()
    zk.create("/w", b"0")
    zk.get("/w", watch=lambda ev: fired.set())
    zk.set("/w", b"1")
    fired.wait(5)
    try:
        zk.create("/a", b"again")  # NodeExists: an error txn
    except Exception:
        pass
    zk.delete("/b/c")
    zk.create("/e", b"", ephemeral=True)
    time.sleep(3)  # long enough for kazoo to ping
    zk.stop()  # closeSession listing /e
    zk.close()


# ------------------------------------------------------------------ raw

def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def jstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">i", len(b)) + b


def recv_frame(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    (n,) = struct.unpack(">i", hdr)
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return body


def run_raw(port):
    # An old client: ConnectRequest without the trailing readOnly byte.
    s = socket.create_connection(("127.0.0.1", port))
    connect = struct.pack(">iqiq", 0, 0, 30000, 0) + jstr(b"\0" * 16)
    s.sendall(frame(connect))
    print("old connect reply", recv_frame(s).hex())
    open_acl = struct.pack(">ii", 1, 31) + jstr("world") + jstr("anyone")
    # createContainer (19) with CreateRequest, flags 4.
    req = struct.pack(">ii", 1, 19) + jstr("/ctr") + jstr(b"c") + open_acl \
        + struct.pack(">i", 4)
    s.sendall(frame(req))
    print("createContainer reply", recv_frame(s).hex())
    # createTTL (21) with CreateTTLRequest, flags 5, ttl 3600000.
    req = struct.pack(">ii", 2, 21) + jstr("/ttl") + jstr(b"t") + open_acl \
        + struct.pack(">iq", 5, 3600000)
    s.sendall(frame(req))
    print("createTTL reply", recv_frame(s).hex())
    s.sendall(frame(struct.pack(">ii", 3, -11)))
    print("close reply", recv_frame(s).hex())
    s.close()


# ------------------------------------------------------------------ txnlog

def dump_txnlog(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, version, dbid = struct.unpack(">iiq", data[:16])
    print("header magic=%08x version=%d dbid=%d" % (magic, version, dbid))
    pos = 16
    while pos + 12 <= len(data):
        crc, n = struct.unpack(">qi", data[pos:pos + 12])
        if n == 0:
            break
        payload = data[pos + 12:pos + 12 + n]
        ok = zlib.adler32(payload) == crc
        client, cxid, zxid, t, typ = struct.unpack(">qiqqi", payload[:32])
        print(json.dumps({"zxid": zxid, "type": typ, "client": "%x" % client,
                          "cxid": cxid, "crc_ok": ok, "len": n,
                          "hex": payload.hex()}))
        pos += 12 + n + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--log", required=True)
    p = sub.add_parser("kazoo")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("raw")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("txnlog")
    p.add_argument("file")
    a = ap.parse_args()
    if a.cmd == "proxy":
        Proxy(a.listen, a.upstream, a.log).serve()
    elif a.cmd == "kazoo":
        run_kazoo(a.port)
    elif a.cmd == "raw":
        run_raw(a.port)
    else:
        dump_txnlog(a.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
