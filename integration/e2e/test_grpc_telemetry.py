#!/usr/bin/python3
"""End-to-end: telemetry in over gRPC, recommendation out, checked against
`afd-sizer solve --json` on the same inputs.

The test generates (fixed seed) finished requests and step samples whose
stage times lie exactly on the paper-v1-fit profile, so calibration keeps the
profile's values and the CLI can solve with --profile paper-v1-fit. theta and
sigma are computed here from the requests sent (model.md section 3, no
forgetting: the config sets workload_half_life 0), B is the batch the
instances report, y the FFN instances that reported.

Deployment "single" has one Attention instance, so the barrier spread is
sqrt(B)*sigma as in the CLI and every number is compared. Deployment "fleet"
has four Attention instances with different loads, so the daemon uses the
measured spread (sd of their last loads): the mean-field numbers are compared
with the CLI and the barrier numbers with Sizer.Solve given the spread this
test computed. current_regime (the regime at the current x/y) is computed
here from the profile's stage lines: "fleet" sits below r* (attention-bound)
and deployment "ffn-bound", fourteen Attention instances on one FFN, past r*
(ffn-bound).

usage: test_grpc_telemetry.py BIN_DIR
"""
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402

CONFIG = json.dumps({"recompute_interval_ms": 200,
                     "default_deployment": {"workload_half_life": 0}})
REGIMES = {1: "attention", 2: "communication", 3: "ffn"}


def between(x, target, optimum):
    """The daemon's target: the nearest count to x within the optimum's
    0.5% band (recommend.c), so on the way from x to the optimum, past x."""
    return (x < target <= optimum or optimum <= target < x or
            target == optimum == x)


def make_requests(rng, n):
    out = []
    for _ in range(n):
        p = float(rng.randint(20, 600))
        d = float(1 + int(rng.expovariate(1 / 300.0)))
        out.append((p, d))
    return out


def theta_sigma(reqs):
    """Renewal-reward theta and sigma of (prompt, decode) pairs."""
    sd = sum(d for _, d in reqs)
    th = sum(d * p + d * (d - 1) / 2 for p, d in reqs) / sd
    m2 = sum(d * p * p + p * d * (d - 1) + d * (d - 1) * (2 * d - 1) / 6
             for p, d in reqs) / sd
    return th, math.sqrt(m2 - th * th)


def steps_for(pb, prof, rng, att_loads, n_ffn, batch, n_steps):
    """Step samples on the profile's lines; instance i's load is always
    att_loads[i], so the live mean the daemon tracks is known exactly
    whenever it looks (the tracker smooths over time and holds after the
    instance count changes: estimator/load_tracker.h)."""
    now = int(time.time() * 1000)
    out = []
    for k in range(n_steps):
        for i, final in enumerate(att_loads):
            t = final
            out.append(pb.StepSample(
                instance_id="att-%d" % i, role=pb.ROLE_ATTENTION, step=k,
                batch_size=batch, token_load=t,
                attention_ms=prof.aA * t + prof.bA,
                comm_ms=prof.aC * batch + prof.bC, timestamp_ms=now))
        for j in range(n_ffn):
            n = rng.uniform(50, 2000)
            out.append(pb.StepSample(
                instance_id="ffn-%d" % j, role=pb.ROLE_FFN, step=k,
                ffn_tokens=n, ffn_ms=prof.aF * n + prof.bF,
                timestamp_ms=now))
    return out


def regime_at(prof, batch, theta, r):
    """The stage that sets the mean-field step time at ratio r (model.md:
    t_A(B*theta), t_C(B) per instance, t_F(r*B)); on a tie the flat line
    (attention before communication) wins, as the solver's tie rule."""
    assert prof.comm_mode in ("", "per_instance"), prof.comm_mode
    t = {"attention": prof.aA * batch * theta + prof.bA,
         "communication": prof.aC * batch + prof.bC,
         "ffn": prof.aF * r * batch + prof.bF}
    return max(t, key=t.get)  # first of the maxima, in the order above


def report(stubs, ch, deployment, steps, reqs, per_batch=40):
    pb = stubs.afd_sizer_pb2
    items = [("s", s) for s in steps] + [("r", r) for r in reqs]

    def gen():
        for i in range(0, len(items), per_batch):
            b = pb.TelemetryBatch(deployment=deployment)
            for kind, it in items[i:i + per_batch]:
                if kind == "s":
                    b.steps.append(it)
                else:
                    b.requests.append(pb.FinishedRequest(
                        prompt_tokens=it[0], decode_tokens=it[1]))
            yield b
    stub = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    return stub.Report(gen(), timeout=e2e.RPC_TIMEOUT)


def cli_solve(bin_dir, batch, theta, sigma, ffn, noise=None):
    extra = ["--noise-cv", ",".join(repr(v) for v in noise)] if noise else []
    out = subprocess.run(
        [os.path.join(bin_dir, "afd-sizer"), "solve", "--profile",
         "paper-v1-fit", "--batch", repr(batch), "--theta", repr(theta),
         "--sigma", repr(sigma), "--ffn-instances", str(ffn), "--json"] +
        extra, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError("afd-sizer solve failed: " + out.stderr)
    return json.loads(out.stdout)


def check_single(c, bin_dir, stubs, ch, prof, rng):
    pb = stubs.afd_sizer_pb2
    batch, n_ffn = 64.0, 2
    reqs = make_requests(rng, 300)
    steps = steps_for(pb, prof, rng, [batch * 450.0], n_ffn, batch, 12)
    summ = report(stubs, ch, "single", steps, reqs)
    c.check("single: summary counts every item",
            summ.accepted_steps == len(steps) and
            summ.accepted_requests == len(reqs) and summ.rejected == 0,
            str(summ))
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    rec = sizer.GetRecommendation(
        pb.GetRecommendationRequest(deployment="single"),
        timeout=e2e.RPC_TIMEOUT)
    _, sg = theta_sigma(reqs)
    th = 450.0  # the live load per slot: theta comes from live loads
    c.check("single: recommendation valid", rec.valid, rec.why_not)
    c.check("single: theta from the live loads sent",
            rec.theta_source == pb.THETA_SOURCE_LIVE_LOADS and
            e2e.close(rec.theta, th, 1e-9), "%r vs %r" % (rec.theta, th))
    c.check("single: sigma from the requests sent",
            rec.has_sigma and e2e.close(rec.sigma, sg, 1e-7),
            "%r vs %r" % (rec.sigma, sg))
    c.check("single: counts x=1 y=2 B=64",
            rec.attention_instances == 1 and rec.ffn_instances == n_ffn and
            rec.batch == batch and rec.requests == len(reqs), str(rec))
    coef_ok = all(e2e.close(k.value, k.prior, 1e-6, 1e-9)
                  for k in rec.coefficients)
    c.check("single: calibration on exact data keeps the profile", coef_ok,
            str(rec.coefficients))
    ref = cli_solve(bin_dir, batch, th, sg, n_ffn)
    c.check("single: r_star matches afd-sizer solve",
            e2e.close(rec.r_star, ref["r_star"], 1e-9),
            "%r vs %r" % (rec.r_star, ref["r_star"]))
    c.check("single: regime matches afd-sizer solve",
            REGIMES.get(rec.regime) == ref["regime"],
            "%r vs %r" % (rec.regime, ref["regime"]))
    want = regime_at(prof, batch, th, 1.0 / n_ffn)
    c.check("single: current_regime is the regime at x/y = 1/2",
            REGIMES.get(rec.current_regime) == want,
            "%r vs %r" % (rec.current_regime, want))
    c.check("single: barrier r_star and optimum match afd-sizer solve, "
            "target between x and it",
            rec.has_barrier and
            e2e.close(rec.r_star_barrier, ref["r_star_barrier"], 1e-9) and
            rec.solution.attention_instances_barrier ==
            ref["attention_instances_barrier"] and
            between(rec.attention_instances, rec.target_attention_instances,
                    ref["attention_instances_barrier"]),
            "%r/%r/%r vs %r/%r" % (rec.r_star_barrier,
                                   rec.solution.attention_instances_barrier,
                                   rec.target_attention_instances,
                                   ref["r_star_barrier"],
                                   ref["attention_instances_barrier"]))
    c.check("single: mean-field integer x matches afd-sizer solve",
            rec.solution.attention_instances == ref["attention_instances"],
            "%r vs %r" % (rec.solution.attention_instances,
                          ref["attention_instances"]))
    c.check("single: expected gain is target over current throughput - 1",
            e2e.close(rec.expected_gain,
                      rec.throughput_target / rec.throughput_current - 1,
                      1e-12), str(rec.expected_gain))


def check_fleet(c, bin_dir, stubs, ch, prof, rng):
    pb = stubs.afd_sizer_pb2
    batch, n_ffn = 256.0, 3
    loads = [batch * v for v in (520.0, 610.0, 580.0, 700.0)]
    reqs = make_requests(rng, 200)
    steps = steps_for(pb, prof, rng, loads, n_ffn, batch, 8)
    report(stubs, ch, "fleet", steps, reqs)
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    rec = sizer.GetRecommendation(
        pb.GetRecommendationRequest(deployment="fleet"),
        timeout=e2e.RPC_TIMEOUT)
    _, sg = theta_sigma(reqs)
    th = statistics.mean(loads) / batch  # live loads, sigma from requests
    spread = statistics.stdev(loads)
    c.check("fleet: counts x=4 y=3",
            rec.valid and rec.attention_instances == 4 and
            rec.ffn_instances == n_ffn, str(rec))
    ci = 1.96 * spread / math.sqrt(len(loads)) / batch
    c.check("fleet: theta's 95% half-width is the mean live load's, "
            "not a forecast's",
            e2e.close(rec.theta_ci95, ci, 1e-9) and not rec.theta_confident,
            "%r vs %r" % (rec.theta_ci95, ci))
    c.check("fleet: barrier uses the measured spread of live loads",
            rec.spread_measured and e2e.close(rec.load_spread, spread, 1e-9),
            "%r vs %r" % (rec.load_spread, spread))
    want = regime_at(prof, batch, th, 4.0 / n_ffn)
    c.check("fleet: current_regime at x/y = 4/3, below r*, is attention",
            REGIMES.get(rec.current_regime) == want == "attention" and
            rec.r_star > 4.0 / n_ffn,
            "%r vs %r" % (rec.current_regime, want))
    ref = cli_solve(bin_dir, batch, th, sg, n_ffn)
    c.check("fleet: mean-field r_star and x match afd-sizer solve",
            e2e.close(rec.r_star, ref["r_star"], 1e-9) and
            rec.solution.attention_instances == ref["attention_instances"],
            "%r vs %r" % (rec.r_star, ref["r_star"]))
    what_if = sizer.Solve(pb.SolveRequest(
        profile_name="paper-v1-fit", batch=batch, theta=th, has_sigma=True,
        sigma=sg, ffn_instances=n_ffn, has_load_spread=True,
        load_spread=spread), timeout=e2e.RPC_TIMEOUT)
    c.check("fleet: barrier optimum matches Solve with the measured spread, "
            "target between x and it",
            rec.solution.attention_instances_barrier ==
            what_if.solution.attention_instances_barrier and
            between(rec.attention_instances, rec.target_attention_instances,
                    what_if.solution.attention_instances_barrier) and
            e2e.close(rec.r_star_barrier, what_if.solution.r_star_barrier,
                      1e-12),
            "%r/%r vs %r" % (rec.solution.attention_instances_barrier,
                             rec.target_attention_instances,
                             what_if.solution.attention_instances_barrier))


def check_ffn_bound(c, stubs, ch, prof, rng):
    """Fourteen Attention instances on one FFN at B = 256: past r* (about
    9.5 for theta about 600), so the FFN stage binds at the current ratio."""
    pb = stubs.afd_sizer_pb2
    batch, n_att = 256.0, 14
    reqs = make_requests(rng, 200)
    steps = steps_for(pb, prof, rng, [batch * 450.0] * n_att, 1, batch, 6)
    report(stubs, ch, "ffn-bound", steps, reqs)
    rec = stubs.afd_sizer_pb2_grpc.SizerStub(ch).GetRecommendation(
        pb.GetRecommendationRequest(deployment="ffn-bound"),
        timeout=e2e.RPC_TIMEOUT)
    th, _ = theta_sigma(reqs)
    want = regime_at(prof, batch, th, float(n_att))
    c.check("ffn-bound: x=14 y=1 past r*",
            rec.valid and rec.attention_instances == n_att and
            rec.ffn_instances == 1 and rec.r_star < n_att, str(rec))
    c.check("ffn-bound: current_regime is the regime at x/y = 14",
            REGIMES.get(rec.current_regime) == want == "ffn",
            "%r vs %r" % (rec.current_regime, want))


def check_noise(c, stubs, ch, prof, rng):
    """Stage times with 15% per-step noise (a mean-1 lognormal factor per
    stage and step, shared by the instances, as afd-sim's scenario
    hardware draws it): GetRecommendation reports it per stage."""
    pb = stubs.afd_sizer_pb2
    batch, loads, now, out = 64.0, [64.0 * 450 + 500 * i for i in range(8)], \
        int(time.time() * 1000), []
    s2 = math.log1p(0.15 ** 2)

    def f():
        return math.exp(rng.gauss(0, math.sqrt(s2)) - s2 / 2)
    for k in range(300):
        fa, fc, ff = f(), f(), f()
        for i, t in enumerate(loads):
            out.append(pb.StepSample(
                instance_id="att-%d" % i, role=pb.ROLE_ATTENTION, step=k,
                batch_size=batch, token_load=t,
                attention_ms=fa * (prof.aA * t + prof.bA),
                comm_ms=fc * (prof.aC * batch + prof.bC), timestamp_ms=now))
        n = batch * len(loads)
        out.append(pb.StepSample(
            instance_id="ffn-0", role=pb.ROLE_FFN, step=k, ffn_tokens=n,
            ffn_ms=ff * (prof.aF * n + prof.bF), timestamp_ms=now))
    report(stubs, ch, "noisy", out, make_requests(rng, 300))
    rec = stubs.afd_sizer_pb2_grpc.SizerStub(ch).GetRecommendation(
        pb.GetRecommendationRequest(deployment="noisy"),
        timeout=e2e.RPC_TIMEOUT)
    got = (rec.attention_noise_cv, rec.comm_noise_cv, rec.ffn_noise_cv)
    c.check("noisy: each stage's per-step noise reported near 15%",
            rec.valid and all(0.10 < v < 0.20 for v in got), str(got))


def check_solve_rpc(c, bin_dir, stubs, ch):
    pb = stubs.afd_sizer_pb2
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    got = sizer.Solve(pb.SolveRequest(profile_name="paper-v1-fit", batch=256,
                                      theta=599, has_sigma=True, sigma=499.5,
                                      ffn_instances=4),
                      timeout=e2e.RPC_TIMEOUT)
    ref = cli_solve(bin_dir, 256.0, 599.0, 499.5, 4)
    s = got.solution
    c.check("Solve equals afd-sizer solve (r*, regime, x, barrier)",
            e2e.close(s.r_star, ref["r_star"], 1e-9) and
            REGIMES.get(s.regime) == ref["regime"] and
            s.attention_instances == ref["attention_instances"] and
            s.attention_instances_barrier ==
            ref["attention_instances_barrier"] and
            e2e.close(s.step_time_barrier_ms, ref["step_time_barrier_ms"],
                      1e-9), "%s vs %s" % (s, ref))
    # per-step stage noise over the wire: the same answer as the CLI's
    got = sizer.Solve(pb.SolveRequest(profile_name="paper-v1-fit", batch=256,
                                      theta=599, has_sigma=True, sigma=499.5,
                                      ffn_instances=1, attention_noise_cv=0.1,
                                      comm_noise_cv=0.05, ffn_noise_cv=0.2),
                      timeout=e2e.RPC_TIMEOUT)
    ref = cli_solve(bin_dir, 256.0, 599.0, 499.5, 1, (0.1, 0.05, 0.2))
    quiet = cli_solve(bin_dir, 256.0, 599.0, 499.5, 1)
    s = got.solution
    c.check("Solve with stage noise equals afd-sizer solve --noise-cv, "
            "below the quiet count",
            s.attention_instances_barrier ==
            ref["attention_instances_barrier"] <
            quiet["attention_instances_barrier"] and
            e2e.close(s.step_time_barrier_ms, ref["step_time_barrier_ms"],
                      1e-9), "%s vs %s" % (s, ref))


def body(c, daemon, stubs, tmp):
    rng = random.Random(20261127)
    ch = daemon.channel()
    pb = stubs.afd_sizer_pb2
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    prof = sizer.Solve(pb.SolveRequest(profile_name="paper-v1-fit", batch=64,
                                       theta=500), timeout=e2e.RPC_TIMEOUT
                       ).profile
    check_single(c, BIN, stubs, ch, prof, rng)
    check_fleet(c, BIN, stubs, ch, prof, rng)
    check_ffn_bound(c, stubs, ch, prof, rng)
    check_noise(c, stubs, ch, prof, rng)
    check_solve_rpc(c, BIN, stubs, ch)
    ch.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    BIN = sys.argv[1]
    sys.exit(e2e.run("test_grpc_telemetry", body, BIN, config=CONFIG))
