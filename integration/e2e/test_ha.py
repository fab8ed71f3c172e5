#!/usr/bin/python3
"""HA end to end: 3 etcd members, 3 daemon replicas, one actuator.

Starts a 3-member etcd cluster on loopback (Debian's etcd-server) and three
`afd-sizer serve --etcd-endpoints` replicas on the telemetry clock (lease
TTL 3 s). A Python deployment drives the closed loop through whichever
replica leads: each simulated second it reports its x Attention instances
(the load alternates every 20 s between theta 100, optimum x = 3, and
theta 600, optimum x = 9, so the controller has moves to make), applies
each ScaleCommand once (by id) and acks it. On FAILED_PRECONDITION it
follows the "leader=HOST:PORT" the follower names; on UNAVAILABLE or a dead
peer it asks every replica's /readyz.
  kill 1:  SIGKILL the leader in the middle of a phase: a new leader within
           TTL + 1 s; the killed replica restarts and rejoins as follower;
  kill 2:  SIGKILL the leader while a command is applied but not acked: the
           new leader offers the same id again under its own, higher epoch,
           and its ack is accepted;
  agree:   after an ack, KEDA GetMetrics from every live replica agrees
           within 1 s;
  etcd:    SIGSTOP all etcd members: the leader stops commanding
           (afd_leader 0, telemetry refused) within the TTL; SIGCONT: one
           leader again;
  tls:     a one-member etcd serving TLS with --client-cert-auth (a
           throw-away CA from openssl): a replica with --etcd-tls-ca/-cert/
           -key becomes leader; one without a client certificate cannot
           and says "etcd unreachable" in /readyz.
Throughout: command ids strictly increase, never two in flight, every id
accepted exactly once. Every wait is bounded; everything is stopped.

Usage: /usr/bin/python3 test_ha.py BIN_DIR
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
import grpc_e2e_common as common  # noqa: E402
import peers  # noqa: E402

ETCD = "/usr/bin/etcd"
DEP = "ha"
T0 = 1700000000000
B = 256
TTL_MS = 3000
CONFIG = """{
  "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                 "gain_threshold": 0.02, "dwell_s": 2, "cooldown_s": 4,
                 "max_step": 16, "min_attention_instances": 1,
                 "max_attention_instances": 64, "ack_timeout_s": 120,
                 "backoff_s": 10},
  "liveness_window_s": 30
}"""


class EtcdCluster:
    """Three etcd members on loopback, data in tmp."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.members = [{"name": "e%d" % i, "proc": None} for i in range(3)]
        self.pick_ports()

    def pick_ports(self):
        for m in self.members:
            m["client"], m["peer"] = peers.free_port(), peers.free_port()
        self.initial = ",".join("%s=http://127.0.0.1:%d" % (m["name"],
                                                              m["peer"])
                                for m in self.members)

    def endpoints(self):
        return ",".join("127.0.0.1:%d" % m["client"] for m in self.members)

    def start(self):
        """True once all three are healthy. A member that exits at once
        lost its port to a test running beside this one (taken between
        free_port() and its bind): the cluster starts again, fresh ports
        and data, up to three times."""
        for _ in range(3):
            self.launch()
            state = peers.wait_for(
                lambda: "up" if self.healthy() else
                "died" if self.died() else None, 30, 0.2)
            if state == "up":
                return True
            self.stop()
            if state != "died":
                return False
            for m in self.members:
                shutil.rmtree(os.path.join(self.tmp, m["name"]),
                              ignore_errors=True)
            self.pick_ports()
        return False

    def died(self):
        return any(m["proc"].poll() is not None for m in self.members)

    def launch(self):
        for m in self.members:
            log = open(os.path.join(self.tmp, m["name"] + ".log"), "ab")
            m["proc"] = subprocess.Popen([
                ETCD, "--name", m["name"],
                "--data-dir", os.path.join(self.tmp, m["name"]),
                "--listen-client-urls", "http://127.0.0.1:%d" % m["client"],
                "--advertise-client-urls", "http://127.0.0.1:%d" % m["client"],
                "--listen-peer-urls", "http://127.0.0.1:%d" % m["peer"],
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:%d" % m["peer"],
                "--initial-cluster", self.initial,
                "--initial-cluster-state", "new"],
                stdout=log, stderr=log)

    def healthy(self):
        for m in self.members:
            try:
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/health" % m["client"],
                        timeout=1) as r:
                    if b"true" not in r.read():
                        return False
            except OSError:
                return False
        return True

    def signal(self, sig):
        for m in self.members:
            if m["proc"] and m["proc"].poll() is None:
                m["proc"].send_signal(sig)

    def stop(self):
        self.signal(signal.SIGCONT)
        for m in self.members:
            if m["proc"] and m["proc"].poll() is None:
                m["proc"].kill()
                m["proc"].wait(timeout=10)


def http_get(addr, path):
    try:
        with urllib.request.urlopen("http://%s%s" % (addr, path),
                                    timeout=1) as r:
            return r.read().decode()
    except OSError as e:
        if hasattr(e, "read"):
            return e.read().decode()
        return ""


def metric(addr, name):
    m = re.search(r"^%s (\S+)$" % name, http_get(addr, "/metrics"), re.M)
    return float(m.group(1)) if m else None


def window(pb, sec, x):
    """Window sec: theta 100 (optimum x = 3) and theta 600 (x = 9) in turn,
    20 s each."""
    load = 25600.0 if (sec // 20) % 2 == 0 else 153600.0
    return common.attention_window(pb, DEP, sec, load, x, T0, B)


class Replicas:
    """Three `afd-sizer serve` replicas of one HA group (key prefix), each
    in its own folder under tmp; start(i) also restarts replica i there."""

    def __init__(self, bin_dir, tmp, etcd, config=None, prefix="/afd-sizer"):
        self.bin_dir, self.tmp, self.etcd = bin_dir, tmp, etcd
        self.config = CONFIG if config is None else config
        self.prefix = prefix
        self.daemons = [None, None, None]

    def start(self, i):
        d_tmp = os.path.join(self.tmp, "%s-r%d" % (self.prefix.strip("/")
                                                   .replace("/", "-"), i))
        os.makedirs(d_tmp, exist_ok=True)
        self.daemons[i] = common.Daemon(
            self.bin_dir, d_tmp, config=self.config,
            extra_args=["--etcd-endpoints", self.etcd.endpoints(),
                        "--ha-ttl-ms", str(TTL_MS),
                        "--ha-prefix", self.prefix]).start()

    def live(self):
        return [d for d in self.daemons if d and d.proc and
                d.proc.poll() is None]

    def leaders(self):
        return [d for d in self.live()
                if "ha: leader" in http_get(d.http_addr, "/readyz")]

    def leader(self, timeout=10.0):
        ls = peers.wait_for(lambda: self.leaders(), timeout, 0.05)
        return ls[0] if len(ls) == 1 else None

    def by_grpc(self, addr):
        for d in self.live():
            if d.grpc_addr == addr:
                return d
        return None


class Loop:
    """The deployment: x instances, commands applied once by id, acked."""

    def __init__(self, c, reps, stubs):
        self.c, self.reps, self.stubs = c, reps, stubs
        self.pb = stubs.afd_sizer_pb2
        self.x = 3
        self.sec = 0
        self.applied = []        # ids in the order applied
        self.accepted = {}       # id -> accepted acks
        self.unacked = None      # (id) applied, ack pending
        self.hold_ack = False    # kill 2: keep the next command un-acked
        self.max_epoch = 0
        self.violations = []
        self.leader = None
        self.watch = None
        self.follows = 0         # FAILED_PRECONDITION redirects followed

    def connect(self, d):
        if self.watch:
            self.watch.call.cancel()
        self.leader = d
        ch = grpc.insecure_channel(d.grpc_addr)
        self.tel = self.stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
        self.sizer = self.stubs.afd_sizer_pb2_grpc.SizerStub(ch)
        self.watch = common.StreamReader(self.sizer.WatchCommands(
            self.pb.WatchCommandsRequest(deployment=DEP)))

    def rediscover(self, details):
        m = re.search(r"leader=(\S+)", details or "")
        d = self.reps.by_grpc(m.group(1)) if m else None
        if d:
            self.follows += 1
        else:
            d = self.reps.leader()
        if d is None:
            raise RuntimeError("no leader found")
        self.connect(d)

    def rpc(self, fn, *args):
        for _ in range(50):
            try:
                return fn(*args)
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.FAILED_PRECONDITION,
                                grpc.StatusCode.UNAVAILABLE,
                                grpc.StatusCode.DEADLINE_EXCEEDED):
                    time.sleep(0.1)
                    self.rediscover(e.details())
                    continue
                raise
        raise RuntimeError("no replica took the call")

    def ack(self, cid):
        r = self.rpc(lambda: self.sizer.AckCommand(self.pb.AckCommandRequest(
            deployment=DEP, command_id=cid, success=True),
            timeout=common.RPC_TIMEOUT))
        if r.accepted:
            self.accepted[cid] = self.accepted.get(cid, 0) + 1
            if self.unacked == cid:
                self.unacked = None
        return r

    def handle(self, m):
        if m.advisory:
            return
        if m.leader_epoch < self.max_epoch:
            self.violations.append("epoch %d below %d (id %d)" %
                                   (m.leader_epoch, self.max_epoch, m.id))
            return
        self.max_epoch = m.leader_epoch
        if m.id in self.applied:  # offered again by a new leader
            if self.accepted.get(m.id, 0) == 0:
                self.ack(m.id)
            return
        if self.applied and m.id <= self.applied[-1]:
            self.violations.append("id %d not above %d" %
                                   (m.id, self.applied[-1]))
        if self.unacked is not None:
            self.violations.append("command %d while %d in flight" %
                                   (m.id, self.unacked))
        self.applied.append(m.id)
        self.x = m.target_attention_instances
        self.unacked = m.id
        if self.hold_ack:
            self.hold_ack = False
            return
        self.ack(m.id)

    def drain(self, wait=0.0):
        deadline = time.monotonic() + wait
        while True:
            try:
                m = self.watch.q.get(timeout=max(0.0, deadline -
                                                 time.monotonic()))
            except Exception:
                return
            if isinstance(m, grpc.RpcError):
                return  # stream ended (leader gone); the next call finds one
            self.handle(m)

    def step(self):
        s = self.rpc(lambda: self.tel.Report(
            iter([window(self.pb, self.sec, self.x)]),
            timeout=common.RPC_TIMEOUT))
        self.sec += 1
        # The summary names the newest id; wait for its stream message.
        last = self.applied[-1] if self.applied else 0
        self.drain(2.0 if s.last_command_id > last else 0.02)
        return s

    def run_until(self, sec):
        while self.sec < sec:
            self.step()


def keda_value(stubs, d):
    ks = stubs.externalscaler_pb2
    keda = stubs.externalscaler_pb2_grpc.ExternalScalerStub(
        grpc.insecure_channel(d.grpc_addr))
    ref = ks.ScaledObjectRef(name="attn", namespace="llm",
                             scalerMetadata={"deployment": DEP})
    try:
        r = keda.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref,
                                                 metricName="x"),
                            timeout=common.RPC_TIMEOUT)
        return r.metricValues[0].metricValue
    except grpc.RpcError:
        return None


def agree(stubs, reps):
    vals = [keda_value(stubs, d) for d in reps.live()]
    return vals if vals and None not in vals and len(set(vals)) == 1 else None


def kill_leader(c, reps, what):
    old = reps.leader()
    t0 = time.monotonic()
    old.kill()
    new = peers.wait_for(lambda: reps.leader(timeout=0.05), 15, 0.05)
    dt = time.monotonic() - t0
    c.check("%s: a new leader within TTL + 1 s" % what,
            new is not None and dt <= TTL_MS / 1000.0 + 1.0,
            "%.2f s" % dt)
    print("%s: new leader after %.2f s" % (what, dt))
    return old


def body(c, tmp, bin_dir, stubs):
    etcd = EtcdCluster(tmp)
    reps = None
    try:
        c.check("3-member etcd cluster healthy", etcd.start())
        reps = Replicas(bin_dir, tmp, etcd)
        for i in range(3):
            reps.start(i)
        lead = reps.leader()
        c.check("exactly one leader among 3 replicas", lead is not None)
        follower = [d for d in reps.live() if d is not lead][0]
        code, det = common.rpc_code(
            stubs.afd_sizer_pb2_grpc.TelemetryStub(
                grpc.insecure_channel(follower.grpc_addr)).Report,
            iter([window(stubs.afd_sizer_pb2, 0, 3)]),
            timeout=common.RPC_TIMEOUT)
        c.check("a follower refuses telemetry naming the leader",
                code == grpc.StatusCode.FAILED_PRECONDITION and
                ("leader=%s" % lead.grpc_addr) in (det or ""),
                "%s %s" % (code, det))
        hp = stubs.health_pb2

        def leader_health(d):
            h = stubs.health_pb2_grpc.HealthStub(
                grpc.insecure_channel(d.grpc_addr))
            return h.Check(hp.HealthCheckRequest(
                service="afd.sizer.v1.Leader"),
                timeout=common.RPC_TIMEOUT).status
        c.check("health afd.sizer.v1.Leader: SERVING on the leader only",
                leader_health(lead) == hp.HealthCheckResponse.SERVING and
                leader_health(follower) ==
                hp.HealthCheckResponse.NOT_SERVING)
        c.check("followers say so in /readyz",
                "ha: follower (leader %s)" % lead.grpc_addr
                in http_get(follower.http_addr, "/readyz"))

        wp = subprocess.run(
            ["/usr/bin/python3", os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                "worker.py"), "--target", follower.grpc_addr,
             "--deployment", "worker", "--seconds", "0.5"],
            capture_output=True, text=True, timeout=120)
        c.check("the worker example follows the leader a follower names",
                wp.returncode == 0 and "following the leader at %s" %
                lead.grpc_addr in wp.stdout, wp.stdout + wp.stderr)

        loop = Loop(c, reps, stubs)
        loop.connect(follower)  # learns the leader from the refusal
        loop.run_until(30)
        c.check("the loop followed a follower's redirect", loop.follows >= 1)
        c.check("commands before the kills", len(loop.applied) >= 1,
                str(loop.applied))

        # after the last ack: every live replica's KEDA answer agrees
        t0 = time.monotonic()
        vals = peers.wait_for(lambda: agree(stubs, reps), 5, 0.05)
        c.check("KEDA answers of all replicas agree within 1 s",
                vals is not None and time.monotonic() - t0 <= 1.0,
                "%r after %.2f s" % (vals, time.monotonic() - t0))

        # kill 1: mid-phase
        loop.run_until(50)
        old = kill_leader(c, reps, "kill 1 (mid-phase)")
        reps.start(reps.daemons.index(old))
        loop.run_until(62)

        # kill 2: a command applied, its ack held back
        loop.hold_ack = True
        n = len(loop.applied)
        for _ in range(40):
            loop.step()
            if len(loop.applied) > n:
                break
        held = loop.unacked
        c.check("kill 2: a command is in flight", held is not None)
        kill_leader(c, reps, "kill 2 (command in flight)")
        epoch_before = loop.max_epoch
        loop.connect(reps.leader())
        loop.drain(3.0)
        c.check("kill 2: the new leader offers the same id again, "
                "under a higher epoch, and accepts its ack once",
                held is not None and loop.accepted.get(held) == 1 and
                loop.max_epoch > epoch_before,
                "held %r accepted %r epoch %d -> %d" %
                (held, loop.accepted.get(held), epoch_before,
                 loop.max_epoch))
        loop.run_until(loop.sec + 45)

        c.check("command ids strictly increase, never two in flight, "
                "epochs never go back", not loop.violations,
                "; ".join(loop.violations))
        c.check("every command accepted exactly once",
                loop.applied and
                all(loop.accepted.get(i) == 1 for i in loop.applied),
                "applied %r accepted %r" % (loop.applied, loop.accepted))
        print("commands %r, %d followed redirects" %
              (loop.applied, loop.follows))

        # etcd gone: the leader stops commanding within the TTL
        lead = reps.leader()
        t0 = time.monotonic()
        etcd.signal(signal.SIGSTOP)
        stopped = peers.wait_for(
            lambda: metric(lead.http_addr, "afd_leader") == 0, 10, 0.05)
        dt = time.monotonic() - t0
        c.check("etcd frozen: the leader stops commanding within the TTL",
                stopped and dt <= TTL_MS / 1000.0, "%.2f s" % dt)
        code, _ = common.rpc_code(
            stubs.afd_sizer_pb2_grpc.TelemetryStub(
                grpc.insecure_channel(lead.grpc_addr)).Report,
            iter([window(stubs.afd_sizer_pb2, loop.sec, loop.x)]),
            timeout=common.RPC_TIMEOUT)
        c.check("etcd frozen: telemetry refused (read-only)",
                code in (grpc.StatusCode.UNAVAILABLE,
                         grpc.StatusCode.FAILED_PRECONDITION), str(code))
        c.check("etcd frozen: reads still served",
                keda_value(stubs, lead) is not None)
        etcd.signal(signal.SIGCONT)
        back = peers.wait_for(lambda: len(reps.leaders()) == 1, 20, 0.1)
        c.check("etcd back: one leader again", back,
                "%d leaders" % len(reps.leaders()))
    finally:
        if reps:
            rcs = [d.stop() for d in reps.live()]
            c.check("live replicas exit 0 on SIGTERM", rcs and
                    all(rc == 0 for rc in rcs),
                    "%r; stderr:\n%s" % (rcs, "\n".join(
                        d.stderr()[-2000:] for d in reps.daemons if d)))
        etcd.stop()


def tls_check(c, tmp, bin_dir):
    from test_security import make_pki
    pki_dir = os.path.join(tmp, "pki")
    os.makedirs(pki_dir)
    make_pki(pki_dir)
    port, peer = peers.free_port(), peers.free_port()
    f = lambda n: os.path.join(pki_dir, n)  # noqa: E731
    log = open(os.path.join(tmp, "etcd-tls.log"), "wb")
    etcd = subprocess.Popen([
        ETCD, "--name", "t0", "--data-dir", os.path.join(tmp, "t0"),
        "--listen-client-urls", "https://127.0.0.1:%d" % port,
        "--advertise-client-urls", "https://127.0.0.1:%d" % port,
        "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
        "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
        "--initial-cluster", "t0=http://127.0.0.1:%d" % peer,
        "--cert-file", f("server.pem"), "--key-file", f("server.key"),
        "--trusted-ca-file", f("ca.pem"), "--client-cert-auth"],
        stdout=log, stderr=log)
    daemons = []
    try:
        base = ["--etcd-endpoints", "127.0.0.1:%d" % port, "--ha-ttl-ms",
                str(TTL_MS), "--etcd-tls-ca", f("ca.pem")]
        for i, extra in enumerate((["--etcd-tls-cert", f("client.pem"),
                                    "--etcd-tls-key", f("client.key")], [])):
            d_tmp = os.path.join(tmp, "tls%d" % i)
            os.makedirs(d_tmp)
            daemons.append(common.Daemon(bin_dir, d_tmp, config=CONFIG,
                                         extra_args=base + extra).start())
        ok = peers.wait_for(lambda: "ha: leader" in http_get(
            daemons[0].http_addr, "/readyz"), 15, 0.1)
        c.check("tls: the replica with a client certificate leads over "
                "etcd's TLS", ok, http_get(daemons[0].http_addr, "/readyz"))
        # Its first failed attempt at etcd may come after the leader's
        # election (slower under ASan): wait for it, then check the text.
        peers.wait_for(lambda: "ha: etcd unreachable" in http_get(
            daemons[1].http_addr, "/readyz"), 15, 0.1)
        ro = http_get(daemons[1].http_addr, "/readyz")
        c.check("tls: without a client certificate: not leader, etcd "
                "unreachable", "ha: etcd unreachable" in ro, ro)
    finally:
        for d in daemons:
            d.stop()
        etcd.kill()
        etcd.wait(timeout=10)


def main():
    bin_dir = sys.argv[1]
    c = common.Checks("test_ha")
    tmp = tempfile.mkdtemp(prefix="test_ha-")
    try:
        if not os.path.exists(ETCD):
            c.check("etcd-server installed (%s)" % ETCD, False)
        else:
            body(c, tmp, bin_dir, common.load_stubs(tmp))
            tls_check(c, tmp, bin_dir)
    except Exception as e:
        common.report_exception(c, e)
    return common.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main())
