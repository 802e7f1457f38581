#!/usr/bin/python3
"""The quorum beans and metrics of a 3-server zkplug ensemble.

Starts three zkplug servers (argv[1], plugins from argv[2]) on free 127.0.0.1
ports, each with its own metrics bus, using tests/ensemble/ensemble.py; then
with zkplug-metrics (argv[3]):
- the leader lists ReplicatedServer_id<N>, replica.<N> for every configured
  member (LocalPeer for itself, RemotePeer for the others), name2=Leader
  with InMemoryDataTree under it, and no StandaloneServer bean; a follower
  lists name2=Follower;
- the leader's mntr has ZooKeeper's quorum keys (zk_quorum_size 3,
  zk_synced_followers 2, zk_learners 2, zk_peer_state "leading - broadcast",
  zk_server_state leader); a follower's has quorum_size and peer_state but
  none of the leader-only keys;
- a client's connection bean sits under the role bean;
- after kill -9 of the leader, a new leader shows name2=Leader and no longer
  name2=Follower; the surviving follower still lists the dead server's
  RemotePeer bean (ZooKeeper keeps one per configured member), and the bus
  announced the state change and the new leader;
- every server, leader and followers, counts a write in write_per_namespace
  (each applies the txn, as ZooKeeper's DataTree does), a multi included;
  only the server that answered a read counts it in read_per_namespace.
"""
import json
import os
import subprocess
import sys
import tempfile
import shutil
import time
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ensemble"))
from ensemble import Ensemble, Server, four_letter  # noqa: E402

ZKPLUG = PLUGIN_DIR = CLI = None
DOMAIN = "org.apache.ZooKeeperService:"


def quorum_bean(sid):
    return DOMAIN + "name0=ReplicatedServer_id%d" % sid


def replica_bean(sid):
    return quorum_bean(sid) + ",name1=replica.%d" % sid


def with_bus(server):
    """The ensemble's zoo.cfg lines, with this server's metrics bus on."""
    def cfg_lines():
        lines = [l for l in Server.cfg_lines(server)
                 if not l.startswith("metrics.enabled=") and not l.startswith("metrics.bus.enabled=")]
        return lines + ["metrics.bus.interval=100"]
    return cfg_lines


def cli(server, *args, check=True):
    r = subprocess.run([CLI, "-q", "tcp://127.0.0.1:%d" % server.query_port,
                        "-s", "tcp://127.0.0.1:%d" % server.pub_port, *args],
                       capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("zkplug-metrics %s: %d %s %s" % (args, r.returncode, r.stdout, r.stderr))
    return r


def beans(server):
    r = cli(server, "list", check=False)
    return set(r.stdout.split()) if r.returncode == 0 else set()


def attrs(server, bean):
    return json.loads(cli(server, "--json", "get", bean).stdout)["attributes"]


def mntr(server):
    text = four_letter(server.client_port, "mntr") or ""
    return dict(l.split("\t", 1) for l in text.splitlines() if "\t" in l)


def wait_for(pred, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


class QuorumBeansTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="zkplug-metrics-quorum-")
        args = types.SimpleNamespace(server="zkplug", bin=ZKPLUG, plugins=PLUGIN_DIR)
        cls.ens = Ensemble(args, cls.base, 3)
        for s in cls.ens.all():
            s.cfg_lines = with_bus(s)
        try:
            cls.ens.start_all()
            cls.ens.wait_roles(60)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ens.shutdown()
        shutil.rmtree(cls.base, ignore_errors=True)

    def role_bean(self, s, role):
        return replica_bean(s.sid) + ",name2=" + role

    def test_namespace_writes_counted_on_every_server(self):
        # Runs before the failover test (name order), on the whole ensemble.
        ens = self.ens
        leader = ens.wait_roles(30)
        f = [s for s in ens.all() if s is not leader][0]
        c = ens.client([f])
        try:
            c.create("/qa", b"hello")               # 3 + 5
            c.set("/qa", b"abc")                    # 3 + 3
            t = c.transaction()
            t.create("/qa/m", b"xy")                # 5 + 2, applied op by op on the leader
            t.commit()
            c.get("/qa")                            # read on f: 3 + 3 + 68
        finally:
            ens.release(c)
        for s in ens.all():
            m = wait_for(lambda: (lambda d: d if d.get("zk_cnt_qa_write_per_namespace") == "3" else None)(mntr(s)))
            self.assertTrue(m, "server %d: %s" % (s.sid, {k: v for k, v in mntr(s).items() if "namespace" in k}))
            self.assertEqual(m["zk_sum_qa_write_per_namespace"], "21")
            self.assertEqual(m["zk_min_qa_write_per_namespace"], "6")
            self.assertEqual(m["zk_max_qa_write_per_namespace"], "8")
            if s is f:
                self.assertEqual(m["zk_cnt_qa_read_per_namespace"], "1")
                self.assertEqual(m["zk_sum_qa_read_per_namespace"], "74")
            else:
                self.assertNotIn("zk_cnt_qa_read_per_namespace", m)

    def test_quorum_beans_and_failover(self):
        ens = self.ens
        leader = ens.wait_roles(30)
        followers = [s for s in ens.all() if s is not leader]

        # The leader: quorum, local and remote peers, the Leader bean.
        want = {quorum_bean(leader.sid), self.role_bean(leader, "Leader"),
                self.role_bean(leader, "Leader") + ",name3=InMemoryDataTree",
                quorum_bean(leader.sid) + ",name1=Metrics", quorum_bean(leader.sid) + ",name1=RequestLatency"}
        want |= {quorum_bean(leader.sid) + ",name1=replica.%d" % s.sid for s in ens.all()}
        names = wait_for(lambda: (lambda b: b if want <= b else None)(beans(leader)))
        self.assertTrue(names, "leader beans: %s" % sorted(beans(leader)))
        self.assertFalse([n for n in names if "StandaloneServer" in n], names)
        self.assertFalse([n for n in names if "name2=Follower" in n or "name2=LeaderElection" in n], names)

        q = attrs(leader, quorum_bean(leader.sid))
        self.assertEqual(q["Name"], "ReplicatedServer_id%d" % leader.sid)
        self.assertEqual(q["QuorumSize"], 3)
        local = attrs(leader, replica_bean(leader.sid))
        self.assertEqual(local["State"], "leading")
        self.assertTrue(local["Leader"])
        self.assertEqual(local["QuorumAddress"], "127.0.0.1:%d" % leader.quorum_port)
        self.assertEqual(local["LearnerType"], "PARTICIPANT")
        remote = attrs(leader, quorum_bean(leader.sid) + ",name1=replica.%d" % followers[0].sid)
        self.assertEqual(remote["ElectionAddress"], "127.0.0.1:%d" % followers[0].election_port)
        self.assertFalse(remote["Leader"])
        lb = attrs(leader, self.role_bean(leader, "Leader"))
        self.assertEqual(lb["State"], "leader")
        self.assertTrue(lb["CurrentZxid"].startswith("0x"))
        info = cli(leader, "invoke", self.role_bean(leader, "Leader"), "followerInfo").stdout
        self.assertEqual(info.count("LearnerHandler"), 2, info)

        # mntr: ZooKeeper's quorum keys on the leader.
        m = wait_for(lambda: (lambda d: d if d.get("zk_synced_followers") == "2" else None)(mntr(leader)))
        self.assertTrue(m, mntr(leader))
        self.assertEqual(m["zk_server_state"], "leader")
        self.assertEqual(m["zk_peer_state"], "leading - broadcast")
        self.assertEqual(m["zk_quorum_size"], "3")
        self.assertEqual(m["zk_learners"], "2")
        for key in ("zk_synced_non_voting_followers", "zk_synced_observers", "zk_pending_syncs",
                    "zk_leader_uptime"):
            self.assertIn(key, m)

        # A follower: the Follower bean, no leader-only mntr keys.
        f = followers[0]
        fb = self.role_bean(f, "Follower")
        names = wait_for(lambda: (lambda b: b if fb in b else None)(beans(f)))
        self.assertTrue(names, sorted(beans(f)))
        self.assertNotIn(self.role_bean(f, "Leader"), names)
        self.assertEqual(attrs(f, fb)["QuorumAddress"], "127.0.0.1:%d" % leader.quorum_port)
        self.assertTrue(attrs(f, quorum_bean(f.sid) + ",name1=replica.%d" % leader.sid)["Leader"])
        fm = wait_for(lambda: (lambda d: d if "zk_server_state" in d else None)(mntr(f)))
        self.assertTrue(fm, "no mntr from %s" % f)
        self.assertEqual(fm["zk_server_state"], "follower")
        self.assertEqual(fm["zk_peer_state"], "following - broadcast")
        self.assertEqual(fm["zk_quorum_size"], "3")
        for key in ("zk_synced_followers", "zk_learners", "zk_pending_syncs", "zk_leader_uptime"):
            self.assertNotIn(key, fm)

        # A client's connection bean hangs under the role bean.
        c = ens.client([f])
        session = "0x%x" % c.client_id[0]
        prefix = fb + ",name3=Connections,"
        conn = wait_for(lambda: [n for n in beans(f) if n.startswith(prefix) and n.endswith(session)])
        self.assertTrue(conn, sorted(beans(f)))
        ens.release(c)

        # kill -9 the leader: the bus tells the followers' subscribers.
        watchers = []
        for s in followers:
            out = open(os.path.join(self.base, "watch-%d.log" % s.sid), "w+")
            p = subprocess.Popen([CLI, "-s", "tcp://127.0.0.1:%d" % s.pub_port, "--json", "--timeout", "60000",
                                  "watch", quorum_bean(s.sid) + ","], stdout=out, stderr=subprocess.STDOUT)
            watchers.append((s, p, out))
        time.sleep(0.5)  # the subscriptions reach the servers
        try:
            leader.kill()
            new_leader = ens.wait_roles(60, servers=followers)
            survivor = [s for s in followers if s is not new_leader][0]
            nl = self.role_bean(new_leader, "Leader")
            names = wait_for(lambda: (lambda b: b if nl in b and self.role_bean(new_leader, "Follower") not in b
                                      else None)(beans(new_leader)))
            self.assertTrue(names, sorted(beans(new_leader)))
            self.assertIn(nl + ",name3=InMemoryDataTree", names)
            self.assertNotIn(self.role_bean(new_leader, "LeaderElection"), names)

            # RemotePeer beans stay for every configured member, dead or not.
            dead = quorum_bean(survivor.sid) + ",name1=replica.%d" % leader.sid
            names = wait_for(lambda: (lambda b: b if self.role_bean(survivor, "Follower") in b else None)(
                beans(survivor)))
            self.assertTrue(names, sorted(beans(survivor)))
            self.assertIn(dead, names)
            self.assertFalse(attrs(survivor, dead)["Leader"])
            self.assertTrue(attrs(survivor, quorum_bean(survivor.sid) + ",name1=replica.%d" % new_leader.sid)
                            ["Leader"])

            nm = wait_for(lambda: (lambda d: d if d.get("zk_synced_followers") == "1" else None)(
                mntr(new_leader)))
            self.assertTrue(nm, mntr(new_leader))
            self.assertEqual(nm["zk_quorum_size"], "3")
            self.assertEqual(nm["zk_learners"], "1")

            def events(s, out):
                out.seek(0)
                evs = []
                for line in out.read().splitlines():
                    try:
                        evs.append(json.loads(line))
                    except ValueError:
                        pass
                return evs

            for s, p, out in watchers:
                role = "Leader" if s is new_leader else "Follower"
                want_role = self.role_bean(s, role)

                def seen(s=s, out=out, want_role=want_role):
                    evs = events(s, out)
                    kinds = {(e.get("kind"), e.get("bean")) for e in evs}
                    states = [e.get("state") for e in evs if e.get("kind") == "state"]
                    leaders = [e.get("leader") for e in evs if e.get("kind") == "leader_elected"]
                    ok = (("unregistered", self.role_bean(s, "Follower")) in kinds and
                          ("registered", want_role) in kinds and "looking" in states and
                          new_leader.sid in leaders)
                    return ok
                self.assertTrue(wait_for(seen), "%s saw: %s" % (s, events(s, out)[:40]))
        finally:
            for s, p, out in watchers:
                p.kill()
                p.wait(10)
                out.close()


if __name__ == "__main__":
    ZKPLUG, PLUGIN_DIR, CLI = sys.argv[1:4]
    del sys.argv[1:4]
    unittest.main(verbosity=2)
