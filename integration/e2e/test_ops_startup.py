#!/usr/bin/python3
"""End-to-end: start-up failure modes.
- a corrupt snapshot: the daemon starts fresh, keeps the bad file as
  PATH.corrupt, says so on stderr, serves, and saves a good snapshot at
  shutdown that the next start restores;
- a broken config file (bad value, unknown key, bad JSON): exit status 2,
  the message names the field (or line), and no port is bound (no
  "listening" line; the requested fixed ports stay free).

usage: test_ops_startup.py BIN_DIR
"""
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402
import ops_common as ops  # noqa: E402

GARBAGE = b"\x08\x01\x12\x05hello, this is not a snapshot\xff\xfe"

BROKEN = [
    ("bad value", json.dumps({"limits": {"max_instances": -5}}),
     "limits.max_instances"),
    ("unknown key", json.dumps({"deployments": [{"name": "a",
                                                 "ffn_instancs": 2}]}),
     "deployments[0].ffn_instancs"),
    ("bad profile field", json.dumps({"deployments": [{"name": "a",
     "profile": {"name": "p", "aA": 1, "bA": 1, "aC": 0, "bC": 0,
                 "aF": "x", "bF": 1, "comm_mode": "aggregate"}}]}),
     "deployments[0].profile.aF"),
    ("bad JSON", '{\n  "grpc_listen": "127.0.0.1:0",\n  oops\n}\n',
     "afd.json:3:"),
]


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def check_corrupt(c, bin_dir, stubs, tmp):
    snap = os.path.join(tmp, "afd.snap")
    with open(snap, "wb") as f:
        f.write(GARBAGE)
    d = e2e.Daemon(bin_dir, tmp).start()
    try:
        err = d.stderr()
        c.check("corrupt snapshot reported on stderr",
                "corrupt" in err and snap + ".corrupt" in err, err)
        moved = os.path.join(tmp, "afd.snap.corrupt")
        c.check("bad file kept as .corrupt", os.path.exists(moved) and
                open(moved, "rb").read() == GARBAGE)
        m = ops.parse_metrics(ops.http(d.http_addr, "/metrics")[2])
        c.check("daemon started fresh (no deployments)",
                ops.metric(m, "afd_deployments") == 0)
        with d.channel() as ch:
            summ = ops.telemetry(stubs, ch, "after-corrupt", n_steps=5)
            c.check("daemon serves telemetry after a corrupt snapshot",
                    summ.accepted_steps == 25, str(summ))
            rec = ops.recommendation(stubs, ch, "after-corrupt")
    finally:
        rc = d.stop()
    c.check("exits 0 after a corrupt-snapshot start", rc == 0, d.stderr())
    d = e2e.Daemon(bin_dir, tmp).start()
    try:
        with d.channel() as ch:
            again = ops.recommendation(stubs, ch, "after-corrupt")
        c.check("the snapshot saved at shutdown restores",
                again.valid == rec.valid and
                again.requests == rec.requests and
                e2e.close(again.r_star, rec.r_star, 1e-12),
                "%r vs %r" % (again.r_star, rec.r_star))
    finally:
        rc = d.stop()
    c.check("exits 0 after restoring", rc == 0, d.stderr())


def check_broken(c, bin_dir, tmp):
    exe = os.path.join(bin_dir, "afd-sizer")
    path = os.path.join(tmp, "afd.json")
    for what, text, needle in BROKEN:
        gp, hp = ops.free_port(), ops.free_port()
        with open(path, "w") as f:
            f.write(text)
        try:
            r = subprocess.run(
                [exe, "serve", "--config", path, "--grpc-listen",
                 "127.0.0.1:%d" % gp, "--http-listen", "127.0.0.1:%d" % hp],
                capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            c.check("%s: daemon exits" % what, False, "timed out")
            continue
        c.check("%s: exit status 2" % what, r.returncode == 2,
                "%r %r" % (r.returncode, r.stderr))
        c.check("%s: message names %s" % (what, needle), needle in r.stderr,
                r.stderr)
        c.check("%s: nothing listened" % what,
                "listening" not in r.stdout and port_free(gp) and
                port_free(hp), r.stdout)


def main(bin_dir):
    c = e2e.Checks("test_ops_startup")
    tmp = tempfile.mkdtemp(prefix="test_ops_startup-")
    try:
        stubs = e2e.load_stubs(tmp)
        check_corrupt(c, bin_dir, stubs, tmp)
        check_broken(c, bin_dir, tmp)
    except Exception as e:
        e2e.report_exception(c, e)
    return e2e.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
