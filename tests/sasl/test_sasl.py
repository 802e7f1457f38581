#!/usr/bin/python3
"""SASL (DIGEST-MD5) authentication against a running zkplug.

Starts zkplug (argv[1], plugins from argv[2]) on free 127.0.0.1 ports with a
JAAS file and checks, with kazoo (sasl_options, as kazoo's own test_sasl.py)
and raw sockets, what ZooKeeper 3.8.0 answers in the same cases:

- a good user authenticates; whoami shows ("sasl", NAME);
- a wrong password or an unknown user: the sasl reply is AuthFailed (-115)
  with zxid 0 and a null token, then the connection is closed, and kazoo
  raises AuthFailedError;
- sasl:NAME ACLs: allowed for NAME, NoAuth for anyone else, sasl:super
  passes every sasl ACL, "auth" expands to the sasl id, a malformed Kerberos
  name is InvalidACL, and without authProvider.N=...SASLAuthenticationProvider
  the scheme does not exist (InvalidACL) although SASL login still works;
- superUser=NAME makes that SASL user a super user;
- whoami shows "" as the user of an id whose scheme has no provider;
- sessionRequireClientSASLAuth / enforce.auth.*: requests before
  authentication are answered SessionClosedRequireSaslAuth (-124) and the
  connection closed; a failed SASL exchange then answers -124 too; bad
  enforcement settings stop the server at start-up;
- allowSaslFailedClients keeps the connection after a failure;
- no JAAS section: a sasl request is answered OK with a null token;
- the JAAS path also comes from -Djava.security.auth.login.config in
  SERVER_JVMFLAGS / JVMFLAGS, as zkServer.sh hands it to java.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, InvalidACLError, NoAuthError
from kazoo.protocol.serialization import int_struct, read_string
from kazoo.security import make_acl, make_digest_acl

ZKPLUG = None
PLUGIN_DIR = None

JAAS = """
// the users ZooKeeper's SaslServerCallbackHandler would read
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password"
    user_other="other_password"
    user_admin="admin_password";
};
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="jaasuser" password="jaas_password";
};
"""

SASL_PROVIDER = "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"

OP_PING, OP_GETDATA, OP_AUTH, OP_SASL = 11, 4, 100, 102
AUTHFAILED, SESSIONCLOSEDREQUIRESASLAUTH = -115, -124


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, extra="", jaas=JAAS, jaas_key=True, env=None, expect_start=True):
        self.dir = tempfile.mkdtemp(prefix="zkplug-sasl-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.jaas = os.path.join(self.dir, "jaas.conf")
        if jaas is not None:
            with open(self.jaas, "w") as f:
                f.write(jaas)
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\n" % (self.data_dir, self.port))
            f.write("clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
            if jaas_key:
                f.write("java.security.auth.login.config=%s\n" % self.jaas)
            f.write(extra)
        self.logpath = os.path.join(self.dir, "zkplug.log")
        self.log = open(self.logpath, "w")
        penv = dict(os.environ)
        for k in ("SERVER_JVMFLAGS", "JVMFLAGS"):
            penv.pop(k, None)
        penv.update(env or {})
        self.proc = subprocess.Popen([ZKPLUG, "-c", cfg, "-p", PLUGIN_DIR], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=penv)
        if not expect_start:
            return
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    text = self.log_text()
                    self.stop()
                    raise RuntimeError("zkplug did not start:\n" + text)
                time.sleep(0.05)

    def log_text(self):
        self.log.flush()
        with open(self.logpath) as f:
            return f.read()

    def exit_status(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

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

    def client(self, user=None, password=None, start=True):
        kw = {}
        if user is not None:
            kw["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
        c = KazooClient(hosts="127.0.0.1:%d" % self.port, timeout=10, **kw)
        if start:
            c.start(timeout=10)
        return c


class WhoAmI(object):
    type = 107

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, b, off):
        n = int_struct.unpack_from(b, off)[0]
        off += 4
        out = []
        for _ in range(n):
            scheme, off = read_string(b, off)
            user, off = read_string(b, off)
            out.append((scheme, user))
        return out


def whoami(c):
    a = c.handler.async_result()
    c._call(WhoAmI(), a)
    return sorted(a.get(timeout=10), key=lambda x: (x[0], x[1] or ""))


def stop(*clients):
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


class Raw:
    """A raw client: ConnectRequest, then framed requests."""

    def __init__(self, port):
        deadline = time.time() + 10
        while True:
            self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
            body = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
            self.s.sendall(struct.pack(">i", len(body)) + body)
            if self.frame() is not None:
                break
            self.s.close()  # still starting: it closed the connection
            assert time.time() < deadline, "no ConnectResponse"
            time.sleep(0.1)

    def frame(self):
        def exact(n):
            data = b""
            while len(data) < n:
                d = self.s.recv(n - len(data))
                if not d:
                    return None
                data += d
            return data
        hdr = exact(4)
        if hdr is None:
            return None
        return exact(struct.unpack(">i", hdr)[0])

    def request(self, xid, op, body=b""):
        p = struct.pack(">ii", xid, op) + body
        self.s.sendall(struct.pack(">i", len(p)) + p)
        r = self.frame()
        assert r is not None, "no reply to opcode %d" % op
        rxid, zxid, err = struct.unpack(">iqi", r[:16])
        return rxid, zxid, err, r[16:]

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def buf(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def token(body):
    n = struct.unpack(">i", body[:4])[0]
    return None if n < 0 else body[4:4 + n]


BAD_RESPONSE = (b'username="jaasuser",realm="zk-sasl-md5",nonce="x",cnonce="y",nc=00000001,'
                b'qop=auth,digest-uri="zookeeper/zk-sasl-md5",response=0123456789abcdef0123456789abcdef')


class SaslTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(SASL_PROVIDER)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_success_whoami(self):
        c = self.srv.client("jaasuser", "jaas_password")
        try:
            self.assertEqual(whoami(c), [("ip", "127.0.0.1"), ("sasl", "jaasuser")])
            self.assertIsNotNone(c.exists("/"))
        finally:
            stop(c)
        self.assertIn("adding SASL authorization for authorizationID: jaasuser", self.srv.log_text())

    def test_wrong_password_kazoo(self):
        for user, password in (("jaasuser", "wrong"), ("baduser", "badpassword")):
            c = self.srv.client(user, password)
            try:
                with self.assertRaises(AuthFailedError):
                    c.exists("/")
            finally:
                stop(c)

    def test_wrong_password_wire(self):
        r = Raw(self.srv.port)
        try:
            xid, zxid, err, body = r.request(1, OP_SASL, buf(b""))
            self.assertEqual((xid, zxid, err), (1, 0, 0))
            challenge = token(body)
            self.assertIn(b'realm="zk-sasl-md5"', challenge)
            self.assertIn(b"nonce=", challenge)
            self.assertIn(b"algorithm=md5-sess", challenge)
            xid, zxid, err, body = r.request(2, OP_SASL, buf(BAD_RESPONSE))
            self.assertEqual((xid, zxid, err), (2, 0, AUTHFAILED))
            self.assertEqual(body, struct.pack(">i", -1))  # SetSASLResponse(null)
            self.assertTrue(r.closed())
        finally:
            r.close()

    def test_first_token_ignored(self):
        # Java's DIGEST-MD5 server answers any first token with its challenge.
        r = Raw(self.srv.port)
        try:
            xid, zxid, err, body = r.request(1, OP_SASL, buf(b"hello"))
            self.assertEqual(err, 0)
            self.assertIn(b'realm="zk-sasl-md5"', token(body))
        finally:
            r.close()

    def test_sasl_acl(self):
        owner = self.srv.client("jaasuser", "jaas_password")
        other = self.srv.client("other", "other_password")
        anon = self.srv.client()
        sup = self.srv.client("super", "super_secret")
        try:
            owner.create("/sasl_acl", b"secret", acl=[make_acl("sasl", "jaasuser", all=True)])
            self.assertEqual(owner.get("/sasl_acl")[0], b"secret")
            acls = owner.get_acls("/sasl_acl")[0]
            self.assertEqual([(a.id.scheme, a.id.id, a.perms) for a in acls], [("sasl", "jaasuser", 31)])
            with self.assertRaises(NoAuthError):
                anon.get("/sasl_acl")
            with self.assertRaises(NoAuthError):
                other.get("/sasl_acl")
            with self.assertRaises(NoAuthError):
                other.set("/sasl_acl", b"x")
            # SASLAuthenticationProvider.matches: the sasl id "super" matches any sasl ACL.
            self.assertEqual(sup.get("/sasl_acl")[0], b"secret")
            # "auth" expands to the caller's sasl id.
            owner.create("/sasl_auth", b"a", acl=[make_acl("auth", "", read=True, write=True, delete=True)])
            acls = owner.get_acls("/sasl_auth")[0]
            self.assertEqual([(a.id.scheme, a.id.id, a.perms) for a in acls], [("sasl", "jaasuser", 11)])
            with self.assertRaises(NoAuthError):
                other.get("/sasl_auth")
            # KerberosName syntax: one '@', no '/' in the realm, at most one '/' before it.
            for bad in ("a@b@c", "a/b/c@R", "a@R/x"):
                with self.assertRaises(InvalidACLError):
                    owner.create("/sasl_bad", acl=[make_acl("sasl", bad, all=True)])
            for good in ("svc/host@REALM", "u@R", "plain"):
                owner.create("/sasl_ok", acl=[make_acl("sasl", good, all=True)])
                owner.delete("/sasl_ok") if good == "plain" else sup.delete("/sasl_ok")
            owner.delete("/sasl_auth")
            owner.delete("/sasl_acl")
        finally:
            stop(owner, other, anon, sup)

    def test_no_jaas_section(self):
        srv = Server(SASL_PROVIDER, jaas="Other { x required; };\n")
        try:
            r = Raw(srv.port)
            xid, zxid, err, body = r.request(1, OP_SASL, buf(b""))
            self.assertEqual((xid, zxid, err, body), (1, 0, 0, struct.pack(">i", -1)))
            xid, zxid, err, body = r.request(-2, OP_PING)
            self.assertEqual(err, 0)
            r.close()
        finally:
            srv.stop()


class SaslConfigTest(unittest.TestCase):
    def test_without_provider(self):
        # SASL login works without the provider, but the scheme is unknown.
        srv = Server("")
        try:
            c = srv.client("jaasuser", "jaas_password")
            try:
                self.assertEqual(whoami(c), [("ip", "127.0.0.1"), ("sasl", "")])
                with self.assertRaises(InvalidACLError):
                    c.create("/x", acl=[make_acl("sasl", "jaasuser", all=True)])
                with self.assertRaises(InvalidACLError):
                    c.create("/x", acl=[make_acl("auth", "", all=True)])
            finally:
                stop(c)
        finally:
            srv.stop()

    def test_super_user(self):
        srv = Server(SASL_PROVIDER + "superUser=admin\n")
        try:
            d = srv.client()
            d.add_auth("digest", "u:p")
            d.create("/digest_only", b"d", acl=[make_digest_acl("u", "p", all=True)])
            admin = srv.client("admin", "admin_password")
            other = srv.client("other", "other_password")
            try:
                self.assertEqual(whoami(admin), [("ip", "127.0.0.1"), ("sasl", "admin"), ("super", "")])
                self.assertEqual(admin.get("/digest_only")[0], b"d")
                with self.assertRaises(NoAuthError):
                    other.get("/digest_only")
            finally:
                stop(d, admin, other)
        finally:
            srv.stop()

    def test_let_any_sasl_user(self):
        srv = Server(SASL_PROVIDER + "letAnySaslUserDoX=anybody\n")
        try:
            owner = srv.client("jaasuser", "jaas_password")
            other = srv.client("other", "other_password")
            anon = srv.client()
            try:
                owner.create("/any", b"v", acl=[make_acl("sasl", "anybody", read=True),
                                                make_acl("sasl", "jaasuser", all=True)])
                self.assertEqual(other.get("/any")[0], b"v")
                with self.assertRaises(NoAuthError):
                    other.set("/any", b"w")
                with self.assertRaises(NoAuthError):
                    anon.get("/any")
            finally:
                stop(owner, other, anon)
        finally:
            srv.stop()

    def test_jaas_from_jvmflags(self):
        for var in ("SERVER_JVMFLAGS", "JVMFLAGS"):
            d = tempfile.mkdtemp(prefix="zkplug-sasl-jaas-")
            try:
                jaas = os.path.join(d, "jaas.conf")
                with open(jaas, "w") as f:
                    f.write(JAAS)
                srv = Server(SASL_PROVIDER, jaas=None, jaas_key=False, env={
                    var: "-Xmx512m -Djava.security.auth.login.config=%s -Dfoo=bar" % jaas})
                try:
                    c = srv.client("jaasuser", "jaas_password")
                    try:
                        self.assertIn(("sasl", "jaasuser"), whoami(c))
                    finally:
                        stop(c)
                finally:
                    srv.stop()
            finally:
                shutil.rmtree(d, ignore_errors=True)

    def test_allow_sasl_failed_clients(self):
        srv = Server(SASL_PROVIDER + "allowSaslFailedClients=true\n")
        try:
            r = Raw(srv.port)
            r.request(1, OP_SASL, buf(b""))
            xid, zxid, err, body = r.request(2, OP_SASL, buf(BAD_RESPONSE))
            self.assertEqual((xid, zxid, err, body), (2, 0, 0, struct.pack(">i", -1)))
            xid, zxid, err, body = r.request(3, OP_GETDATA, buf(b"/") + b"\0")
            self.assertEqual(err, 0)
            r.close()
        finally:
            srv.stop()

    def test_start_up_errors(self):
        cases = [
            (SASL_PROVIDER + "enforce.auth.enabled=true\n", "enforce.auth.schemes must be configured"),
            ("enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n", "authentication scheme sasl is not available"),
            ("sessionRequireClientSASLAuth=true\n", "authentication scheme sasl is not available"),
            (SASL_PROVIDER + "enforce.auth.enabled=true\nenforce.auth.schemes=digest,x509\n",
             "authentication scheme x509 is not available"),
        ]
        for extra, message in cases:
            srv = Server(extra, expect_start=False)
            try:
                self.assertNotEqual(srv.exit_status(), 0, extra)
                self.assertIn(message, srv.log_text())
            finally:
                srv.stop()
        srv = Server(SASL_PROVIDER, jaas=None, expect_start=False)
        try:
            self.assertNotEqual(srv.exit_status(), 0)
            self.assertIn("cannot read the JAAS configuration", srv.log_text())
        finally:
            srv.stop()
        srv = Server(SASL_PROVIDER, jaas="Server { Module bogusflag; };\n", expect_start=False)
        try:
            self.assertNotEqual(srv.exit_status(), 0)
            self.assertIn("expected a control flag", srv.log_text())
        finally:
            srv.stop()


class EnforcementTest(unittest.TestCase):
    def refused(self, srv, xid, op, body=b"", auth=None):
        r = Raw(srv.port)
        try:
            if auth is not None:
                self.assertEqual(r.request(-4, OP_AUTH, auth)[2], 0)
            rxid, zxid, err, rest = r.request(xid, op, body)
            self.assertEqual((rxid, zxid, err, rest), (xid, 0, SESSIONCLOSEDREQUIRESASLAUTH, b""))
            self.assertTrue(r.closed())
        finally:
            r.close()

    def test_session_require_client_sasl_auth(self):
        srv = Server(SASL_PROVIDER + "sessionRequireClientSASLAuth=true\n")
        try:
            self.refused(srv, -2, OP_PING)
            self.refused(srv, 3, OP_GETDATA, buf(b"/") + b"\0")
            digest = struct.pack(">i", 0) + buf(b"digest") + buf(b"u:p")
            self.refused(srv, 4, OP_GETDATA, buf(b"/") + b"\0", auth=digest)
            # A failed exchange answers SessionClosedRequireSaslAuth.
            r = Raw(srv.port)
            r.request(1, OP_SASL, buf(b""))
            xid, zxid, err, body = r.request(2, OP_SASL, buf(BAD_RESPONSE))
            self.assertEqual((xid, zxid, err), (2, 0, SESSIONCLOSEDREQUIRESASLAUTH))
            self.assertTrue(r.closed())
            r.close()
            c = srv.client("jaasuser", "jaas_password")
            try:
                c.create("/after_sasl", b"ok")
                self.assertEqual(c.get("/after_sasl")[0], b"ok")
                c.delete("/after_sasl")
            finally:
                stop(c)
        finally:
            srv.stop()

    def test_enforce_digest(self):
        srv = Server(SASL_PROVIDER + "enforce.auth.enabled=true\nenforce.auth.schemes= digest , sasl\n")
        try:
            self.refused(srv, 3, OP_GETDATA, buf(b"/") + b"\0")
            r = Raw(srv.port)
            digest = struct.pack(">i", 0) + buf(b"digest") + buf(b"u:p")
            self.assertEqual(r.request(-4, OP_AUTH, digest)[2], 0)
            self.assertEqual(r.request(3, OP_GETDATA, buf(b"/") + b"\0")[2], 0)
            r.close()
            c = srv.client("other", "other_password")
            try:
                self.assertIsNotNone(c.exists("/"))
            finally:
                stop(c)
        finally:
            srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_sasl.py ZKPLUG PLUGIN_DIR")
    ZKPLUG, PLUGIN_DIR = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
