#!/usr/bin/python3
"""End-to-end: SIGTERM saves the snapshot and exits 0; a restart with the
same snapshot path gives the same recommendation and calibration as before
(liveness window long enough that the instances are still live), and the
periodic snapshot timer writes the file while running.

usage: test_ops_restart.py BIN_DIR
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402
import ops_common as ops  # noqa: E402

CONFIG = json.dumps({"recompute_interval_ms": 200, "liveness_window_s": 600,
                     "snapshot": {"interval_s": 0.5}})


def fields(rec):
    """What must survive a restart."""
    return {
        "valid": rec.valid, "r_star": rec.r_star,
        "r_star_barrier": rec.r_star_barrier, "regime": rec.regime,
        "theta": rec.theta, "sigma": rec.sigma,
        "theta_source": rec.theta_source, "requests": rec.requests,
        "batch": rec.batch, "x": rec.attention_instances,
        "y": rec.ffn_instances, "target": rec.target_attention_instances,
        "gain": rec.expected_gain, "spread": rec.load_spread,
        "coef": [(k.name, k.value, k.calibrated) for k in rec.coefficients],
        "samples": list(rec.calibration_samples),
    }


def same(a, b):
    """Exact for counts and flags, 1e-12 relative for doubles."""
    for k in a:
        x, y = a[k], b[k]
        if k == "coef":
            if len(x) != len(y) or any(
                    p[0] != q[0] or p[2] != q[2] or
                    not e2e.close(p[1], q[1], 1e-12) for p, q in zip(x, y)):
                return False, k
        elif isinstance(x, float):
            if not e2e.close(x, y, 1e-12):
                return False, k
        elif x != y:
            return False, k
    return True, None


def main(bin_dir):
    c = e2e.Checks("test_ops_restart")
    tmp = tempfile.mkdtemp(prefix="test_ops_restart-")
    d = None
    try:
        stubs = e2e.load_stubs(tmp)
        d = e2e.Daemon(bin_dir, tmp, config=CONFIG).start()
        with d.channel() as ch:
            ops.telemetry(stubs, ch, "keep-a", seed=3, n_steps=300)
            ops.telemetry(stubs, ch, "keep-b", seed=4, n_att=5, n_ffn=1,
                          batch=64.0)
            before = {n: fields(ops.recommendation(stubs, ch, n))
                      for n in ("keep-a", "keep-b")}
        c.check("recommendations valid before the restart",
                before["keep-a"]["valid"] and before["keep-b"]["valid"])
        c.check("some coefficient calibrated before the restart",
                any(k[2] for k in before["keep-a"]["coef"]),
                str(before["keep-a"]["coef"]))
        c.check("periodic snapshot written while running",
                ops.wait_for(lambda: os.path.exists(d.snapshot), 10))
        rc = d.stop()
        c.check("SIGTERM exits 0", rc == 0, d.stderr())
        c.check("snapshot present after shutdown",
                os.path.getsize(d.snapshot) > 0)
        c.check("no temporary file left", not os.path.exists(
            d.snapshot + ".tmp"))
        time.sleep(0.3)
        d = e2e.Daemon(bin_dir, tmp, config=CONFIG).start()
        with d.channel() as ch:
            for n in ("keep-a", "keep-b"):
                after = fields(ops.recommendation(stubs, ch, n))
                ok, k = same(before[n], after)
                c.check("%s: same recommendation and calibration after "
                        "restart" % n, ok,
                        "field %s: %r vs %r" % (k, before[n].get(k),
                                                after.get(k)))
        m = ops.parse_metrics(ops.http(d.http_addr, "/metrics")[2])
        v = ops.metric(m, "afd_r_star", deployment="keep-a")
        c.check("/metrics shows the restored r_star",
                v is not None and e2e.close(v, before["keep-a"]["r_star"],
                                            1e-12), str(v))
        rc = d.stop()
        c.check("second SIGTERM exits 0", rc == 0, d.stderr())
        d = None
    except Exception as e:
        e2e.report_exception(c, e)
    finally:
        if d is not None:
            print(d.stderr())
            d.kill()
    return e2e.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
