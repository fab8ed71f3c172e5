"""Helpers for the operations end-to-end tests (integration/e2e/test_ops_*.py):
telemetry generation, plain HTTP, /metrics parsing and a real Prometheus
server started on loopback. Builds on grpc_e2e_common (daemon start/stop,
stubs, checks). Every wait is bounded.

Run with Debian's /usr/bin/python3.
"""
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import json

import grpc_e2e_common as e2e
import peers

HTTP_TIMEOUT = 10.0


free_port = peers.free_port


def http(addr, path, method="GET"):
    """Returns (status, headers dict lower-cased, body str)."""
    req = urllib.request.Request("http://%s%s" % (addr, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return (r.status, {k.lower(): v for k, v in r.headers.items()},
                    r.read().decode())
    except urllib.error.HTTPError as e:
        return (e.code, {k.lower(): v for k, v in e.headers.items()},
                e.read().decode())


def parse_metrics(text):
    """{(name, frozenset(label items)): value} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        if "{" in head:
            name, rest = head.split("{", 1)
            labels = {}
            body = rest[:-1]
            i = 0
            while i < len(body):
                eq = body.index("=", i)
                key = body[i:eq]
                j = eq + 2  # skip ="
                val = ""
                while body[j] != '"':
                    if body[j] == "\\":
                        j += 1
                        val += {"n": "\n"}.get(body[j], body[j])
                    else:
                        val += body[j]
                    j += 1
                labels[key] = val
                i = j + 2 if j + 1 < len(body) and body[j + 1] == "," \
                    else j + 1
        else:
            name, labels = head, {}
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def metric(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def telemetry(stubs, ch, deployment, seed=7, n_att=3, n_ffn=2, batch=128.0,
              n_steps=30, n_requests=80, extra_steps=()):
    """Streams steps whose stage times follow paper-v1-fit-like lines with
    varied loads (so calibration has something to learn) and finished
    requests. Returns the ReportSummary."""
    pb = stubs.afd_sizer_pb2
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    batches = []
    for k in range(n_steps):
        b = pb.TelemetryBatch(deployment=deployment)
        for i in range(n_att):
            t = batch * rng.uniform(300, 700)
            b.steps.append(pb.StepSample(
                instance_id="att-%d" % i, role=pb.ROLE_ATTENTION, step=k,
                batch_size=batch, token_load=t,
                attention_ms=5e-5 * t + 2.0 + rng.uniform(-0.05, 0.05),
                comm_ms=0.6 + rng.uniform(-0.01, 0.01), timestamp_ms=now))
        for j in range(n_ffn):
            n = rng.uniform(100, 900)
            b.steps.append(pb.StepSample(
                instance_id="ffn-%d" % j, role=pb.ROLE_FFN, step=k,
                ffn_tokens=n, ffn_ms=2e-3 * n + 4.0, timestamp_ms=now))
        batches.append(b)
    b = pb.TelemetryBatch(deployment=deployment)
    for _ in range(n_requests):
        b.requests.append(pb.FinishedRequest(
            prompt_tokens=float(rng.randint(10, 500)),
            decode_tokens=float(1 + int(rng.expovariate(1 / 200.0)))))
    for s in extra_steps:
        b.steps.append(s)
    batches.append(b)
    stub = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    return stub.Report(iter(batches), timeout=e2e.RPC_TIMEOUT)


def recommendation(stubs, ch, deployment):
    pb = stubs.afd_sizer_pb2
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    return sizer.GetRecommendation(
        pb.GetRecommendationRequest(deployment=deployment),
        timeout=e2e.RPC_TIMEOUT)


def wait_for(fn, timeout, step=0.2):
    """Calls fn until it returns a true value or timeout s passed."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


class Prometheus:
    """A real prometheus server scraping one target every second."""

    def __init__(self, tmp, target):
        self.tmp = os.path.join(tmp, "prometheus")
        os.makedirs(self.tmp, exist_ok=True)
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: afd\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus",
             "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=" + self.addr],
            stdout=self.log, stderr=self.log)

    def query(self, q):
        """The result list of an instant query, [] on any failure."""
        try:
            st, _, body = http(self.addr, "/api/v1/query?query=" +
                               urllib.parse.quote(q))
            if st != 200:
                return []
            data = json.loads(body)
            return data.get("data", {}).get("result", [])
        except (OSError, ValueError):
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def log_text(self):
        try:
            with open(os.path.join(self.tmp, "prometheus.log"), "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""
