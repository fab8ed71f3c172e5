#!/usr/bin/python3
"""Regime alerts delivered to a real Alertmanager (plugin/daemon/alertmanager.c).

Starts Debian's prometheus-alertmanager on loopback (one null receiver, no
gossip, storage in a temporary folder) and drives bin/am-probe, which runs
the delivery module on a libevent loop, from its stdin:
  1. a raised alert arrives with its labels and annotations (GET
     /api/v2/alerts and `amtool alert query -o json`), and is re-sent while
     active;
  2. its resolution removes it from the active alerts;
  3. with Alertmanager stopped a new alert is retried with backoff while the
     probe's loop keeps answering `ping`; after a restart on the same port
     it arrives;
  4. `quit` exits 0 (no leak reports under ASan).
Every wait is bounded; everything started is killed at the end.

Usage: /usr/bin/python3 test_alertmanager.py BIN_DIR
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

AMTOOL = "/usr/bin/amtool"
REPLY_TIMEOUT = 10.0

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s" % what)
    sys.stdout.flush()


class Alertmanager(peers.Alertmanager):
    """The shared peer, plus its alerts as amtool sees them."""

    def amtool_alerts(self):
        out = subprocess.run(
            [AMTOOL, "--alertmanager.url=" + self.url, "alert", "query",
             "-o", "json"], capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            print("amtool: %s" % out.stderr.strip())
            return None
        return json.loads(out.stdout or "[]")


class Probe:
    """bin/am-probe with a reader thread, so every reply wait is bounded."""

    def __init__(self, bin_dir, url):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "am-probe"), "--url", url,
             "--resend-ms", "500", "--timeout-ms", "2000",
             "--backoff-ms", "100", "--backoff-max-ms", "400"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout=REPLY_TIMEOUT):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def ask(self, cmd, n=1, timeout=REPLY_TIMEOUT):
        """Sends cmd and returns its n reply lines (None when late)."""
        self.send(cmd)
        return [self.line(timeout) for _ in range(n)]


def stats_of(line):
    """{key: value} of a probe stats line."""
    out = {}
    if not line or not line.startswith("stats "):
        return out
    for tok in line.split(" ")[1:]:
        if "=" in tok and not tok.startswith("last_error"):
            k, v = tok.split("=", 1)
            out[k] = int(v)
    out["last_error"] = line.split('last_error="', 1)[-1].rstrip('"')
    return out


def find(alerts, deployment):
    for a in alerts or []:
        if a["labels"].get("deployment") == deployment:
            return a
    return None


wait_for = peers.wait_for


def scenario(bin_dir, tmp):
    am = Alertmanager(tmp, peers.free_port())
    probe = None
    try:
        check(am.start(), "alertmanager starts on %s" % am.url)
        probe = Probe(bin_dir, am.url)
        check(probe.line() == "ready", "probe starts")

        # 1. raised alert arrives with labels and annotations.
        check(probe.ask("raise prod ffn") == ["ok raise"], "raise accepted")
        reply = probe.ask("wait-delivered 10000", n=2)
        check(reply[0] == "delivered", "raised alert delivered: %s" % reply)
        a = find(am.active_alerts(), "prod")
        check(a is not None, "GET /api/v2/alerts lists the alert")
        a = a or {"labels": {}, "annotations": {}}
        check(a["labels"] == {"alertname": "AfdSizingRegimeChanged",
                              "deployment": "prod", "regime": "ffn",
                              "severity": "warning"},
              "labels are alertname, deployment, regime, severity: %s"
              % a["labels"])
        an = a["annotations"]
        check(an.get("r_star") == "2.25" and an.get("current_ratio") == "1.5",
              "annotations r_star and current_ratio: %s" % an)
        check(an.get("explanation") ==
              "bottleneck moved from attention to ffn (probe)",
              "annotation explanation is the one-line explanation")
        check(an.get("summary") == "prod: the optimum is now set by the ffn "
              "term (was attention)" and "description" in an and
              an.get("runbook", "").startswith("re-plan capacity"),
              "summary, runbook and description")
        t = am.amtool_alerts()
        ta = find(t, "prod")
        check(ta is not None and ta["labels"]["regime"] == "ffn" and
              ta["annotations"].get("r_star") == "2.25",
              "amtool alert query shows the alert")
        time.sleep(1.3)  # resend interval 500 ms
        st = stats_of(probe.ask("stats")[0])
        check(st.get("resends", 0) >= 2 and st.get("sent", 0) >= 3,
              "active alert re-sent while active: %s" % st)

        # 2. resolution removes it from the active alerts.
        check(probe.ask("resolve prod") == ["ok resolve"], "resolve accepted")
        reply = probe.ask("wait-delivered 10000", n=2)
        check(reply[0] == "delivered", "resolution delivered")
        gone = wait_for(lambda: find(am.active_alerts(), "prod") is None, 5)
        check(gone, "resolved alert no longer active")
        t = am.amtool_alerts()
        check(t is not None and find(t, "prod") is None,
              "amtool no longer lists it")
        st = stats_of(reply[1])
        check(st.get("active") == 0, "probe has no active alert")
        delivered_before = st.get("delivered")

        # 3. Alertmanager down: retried with backoff, loop responsive.
        am.stop()
        check(probe.ask("raise canary attention") == ["ok raise"],
              "raise while alertmanager is down")
        time.sleep(1.5)
        t0 = time.monotonic()
        pong = probe.ask("ping", timeout=2)
        check(pong == ["pong"] and time.monotonic() - t0 < 1.0,
              "probe loop answers ping while alertmanager is down")
        st = stats_of(probe.ask("stats")[0])
        check(st.get("failures", 0) >= 2 and st.get("pending", 0) >= 1 and
              st.get("delivered") == delivered_before,
              "failures counted, alert still pending: %s" % st)
        check("alertmanager post to http://127.0.0.1:%d" % am.port
              in st.get("last_error", ""), "last_error names the url")
        reply = probe.ask("wait-delivered 300", n=2)
        check(reply[0] == "timeout", "wait times out while down")

        check(am.start(), "alertmanager restarts on the same port")
        reply = probe.ask("wait-delivered 15000", n=2, timeout=20)
        check(reply[0] == "delivered", "pending alert delivered after "
              "restart: %s" % reply)
        a = wait_for(lambda: find(am.active_alerts(), "canary"), 5)
        check(a is not None and a["labels"]["regime"] == "attention",
              "restarted alertmanager shows the alert")

        # 4. clean exit.
        probe.send("quit")
        try:
            rc = probe.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "probe exits 0 on quit (rc %s)" % rc)
    finally:
        if probe and probe.proc.poll() is None:
            probe.proc.kill()
            probe.proc.wait(timeout=10)
        am.stop()


def main():
    if len(sys.argv) != 2:
        print("usage: test_alertmanager.py BIN_DIR")
        return 2
    for tool in (peers.AM_BIN, AMTOOL):
        if not os.access(tool, os.X_OK):
            print("test_alertmanager: %s missing (apt-get install "
                  "prometheus-alertmanager)" % tool)
            return 1
    tmp = tempfile.mkdtemp(prefix="afd-am-")
    try:
        scenario(sys.argv[1], tmp)
    except Exception as e:  # a crash is a failure, with cleanup done
        check(False, "scenario raised %r" % e)
    finally:
        if failed:
            log = os.path.join(tmp, "am.log")
            if os.path.exists(log):
                print("--- alertmanager log (tail) ---")
                print(open(log).read()[-2000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_alertmanager: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
