"""Real peers the end-to-end tests start on loopback: a free port finder and
Debian's prometheus-alertmanager (one null receiver, no gossip, storage in
the test's temporary folder), and the bounded poll used to wait on them.
Every wait is bounded; stop() always reaps.

Run with Debian's /usr/bin/python3.
"""
import json
import os
import socket
import subprocess
import time
import urllib.request

AM_BIN = "/usr/bin/prometheus-alertmanager"
AM_CONFIG = """route:
  receiver: "null"
receivers:
  - name: "null"
"""


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout, step=0.1):
    """Calls fn every step s until it returns a true value or timeout s
    passed; returns its last value (one final call after the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


class Alertmanager:
    """A prometheus-alertmanager process on 127.0.0.1:port; start() may be
    called again after stop() to restart it on the same port and storage."""

    def __init__(self, tmp, port):
        self.tmp = tmp
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.proc = None
        self.config = os.path.join(tmp, "am.yml")
        with open(self.config, "w") as f:
            f.write(AM_CONFIG)

    def start(self):
        """Starts it and waits up to 30 s for /-/ready; False if it died or
        never became ready (its output is in tmp/am.log)."""
        log = open(os.path.join(self.tmp, "am.log"), "ab")
        self.proc = subprocess.Popen(
            [AM_BIN, "--config.file=" + self.config,
             "--storage.path=" + os.path.join(self.tmp, "am-data"),
             "--cluster.listen-address=",
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready",
                                            timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def active_alerts(self):
        """Active alerts from GET /api/v2/alerts (raises OSError when it
        cannot be reached)."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts?active=true",
                                    timeout=5) as r:
            return [a for a in json.loads(r.read().decode())
                    if a["status"]["state"] == "active"]
