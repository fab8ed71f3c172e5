#!/usr/bin/python3
"""A serving worker streaming telemetry to afd-sizer (a readable example).

What a real Attention-FFN disaggregated deployment would send, simulated:
`--attention` Attention instances, each with `--batch` decode slots, and
`--ffn` FFN instances. Every slot decodes one request; a slot's token load is
the request's prompt plus the tokens decoded so far, and a finished request
is replaced by a new one at once. Stage times follow a linear latency profile
(the daemon's default paper-v1-fit numbers, plus 3% noise), so what you see is
what the daemon would learn from a fleet with that hardware.

The worker opens one Telemetry.Report stream, sends a TelemetryBatch of
`--steps-per-batch` decode steps every `--interval` seconds for `--seconds`,
half-closes the stream, prints the ReportSummary, then asks
Sizer.GetRecommendation and prints the answer. Pointed at a follower of an
HA group, it follows the leader the follower names.

Python stubs are generated at run time from proto/ with grpc_tools.protoc
into a temporary folder (unless afd_sizer_pb2 is importable already).

Run with Debian's /usr/bin/python3 (packages python3-grpcio and
python3-grpc-tools):

    /usr/bin/python3 integration/examples/worker.py \
        --target 127.0.0.1:50051 --deployment llama-prod --seconds 10
"""
import argparse
import re
import importlib
import os
import random
import sys
import tempfile
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")

# Latency profile used to make up stage times (ms, tokens): t_A = aA*T + bA,
# t_C = aC*B + bC, t_F = aF*n + bF.
PROFILE = {"aA": 5.075e-5, "bA": 2.549, "aC": 1.0e-3, "bC": 0.30,
           "aF": 2.2444e-3, "bF": 5.0}


def load_stubs(proto_dir):
    """Returns (afd_sizer_pb2, afd_sizer_pb2_grpc), generated if needed."""
    try:
        return (importlib.import_module("afd_sizer_pb2"),
                importlib.import_module("afd_sizer_pb2_grpc"))
    except ImportError:
        pass
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="afd-stubs-")
    args = ["protoc", "-I" + proto_dir, "--python_out=" + out,
            "--grpc_python_out=" + out,
            os.path.join(proto_dir, "afd_sizer.proto")]
    if protoc.main(args) != 0:
        sys.exit("worker: protoc failed on %s/afd_sizer.proto" % proto_dir)
    sys.path.insert(0, out)
    return (importlib.import_module("afd_sizer_pb2"),
            importlib.import_module("afd_sizer_pb2_grpc"))


class Request:
    """One request in a decode slot."""

    def __init__(self, rng, started=False):
        self.prompt = float(rng.randint(100, 1000))
        self.decode = 1 + int(rng.expovariate(1 / 200.0))
        # Slots start part-way through so the fleet starts in steady state.
        self.done = rng.randint(0, self.decode - 1) if started else 0

    def load(self):
        return self.prompt + self.done


class Fleet:
    """x Attention instances with B slots each, y FFN instances."""

    def __init__(self, pb, args):
        self.pb = pb
        self.rng = random.Random(args.seed)
        self.batch = args.batch
        self.n_ffn = args.ffn
        self.slots = [[Request(self.rng, started=True)
                       for _ in range(args.batch)]
                      for _ in range(args.attention)]
        self.step_no = 0
        self.clock_ms = time.time() * 1000.0

    def noisy(self, ms):
        return ms * self.rng.uniform(0.97, 1.03)

    def step(self, steps, finished):
        """Decodes one token on every slot; appends samples and requests."""
        pb, p = self.pb, PROFILE
        ffn_tokens = len(self.slots) * self.batch / self.n_ffn
        step_ms = 0.0
        for i, slots in enumerate(self.slots):
            load = sum(r.load() for r in slots)
            att = self.noisy(p["aA"] * load + p["bA"])
            comm = self.noisy(p["aC"] * self.batch + p["bC"])
            step_ms = max(step_ms, att + comm)
            steps.append(pb.StepSample(
                instance_id="attn-%d" % i, role=pb.ROLE_ATTENTION,
                step=self.step_no, batch_size=self.batch, token_load=load,
                attention_ms=att, comm_ms=comm,
                timestamp_ms=int(self.clock_ms)))
            for k, r in enumerate(slots):
                r.done += 1
                if r.done >= r.decode:
                    finished.append(pb.FinishedRequest(
                        prompt_tokens=r.prompt, decode_tokens=r.decode))
                    slots[k] = Request(self.rng)
        for j in range(self.n_ffn):
            ffn = self.noisy(p["aF"] * ffn_tokens + p["bF"])
            step_ms = max(step_ms, ffn)
            steps.append(pb.StepSample(
                instance_id="ffn-%d" % j, role=pb.ROLE_FFN, step=self.step_no,
                ffn_tokens=ffn_tokens, ffn_ms=ffn,
                timestamp_ms=int(self.clock_ms)))
        self.step_no += 1
        self.clock_ms += step_ms


def batches(pb, fleet, args):
    """Yields one TelemetryBatch per interval until --seconds have passed."""
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        steps, finished = [], []
        for _ in range(args.steps_per_batch):
            fleet.step(steps, finished)
        yield pb.TelemetryBatch(deployment=args.deployment, steps=steps,
                                requests=finished)
        time.sleep(args.interval)


def print_recommendation(pb, rec):
    if not rec.valid:
        print("recommendation for %s: not valid yet (%s)"
              % (rec.deployment, rec.why_not))
        return
    print("recommendation for %s:" % rec.deployment)
    print("  regime        %s" % pb.Regime.Name(rec.regime))
    print("  r*            %.3f (barrier-aware %.3f)"
          % (rec.r_star, rec.r_star_barrier))
    print("  theta         %.1f tokens per slot (%s)"
          % (rec.theta, pb.ThetaSource.Name(rec.theta_source)))
    print("  attention     %d now, %d recommended for %d FFN"
          % (rec.attention_instances, rec.target_attention_instances,
             rec.ffn_instances))
    print("  gain          %+.1f%% model throughput per device"
          % (100.0 * rec.expected_gain))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="127.0.0.1:50051",
                    help="afd-sizer gRPC address HOST:PORT")
    ap.add_argument("--deployment", default="example",
                    help="deployment name reported (and asked about)")
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="how long to stream")
    ap.add_argument("--attention", type=int, default=4,
                    help="Attention instances simulated")
    ap.add_argument("--ffn", type=int, default=1, help="FFN instances")
    ap.add_argument("--batch", type=int, default=64,
                    help="decode slots per Attention instance (B)")
    ap.add_argument("--interval", type=float, default=0.1,
                    help="seconds between batches")
    ap.add_argument("--steps-per-batch", type=int, default=5,
                    help="decode steps per batch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--proto-dir", default=PROTO_DIR)
    args = ap.parse_args()
    if args.attention < 1 or args.ffn < 1 or args.batch < 1:
        ap.error("--attention, --ffn and --batch must be >= 1")

    pb, pb_grpc = load_stubs(args.proto_dir)
    fleet = Fleet(pb, args)
    target = args.target
    for hop in range(4):
        with grpc.insecure_channel(target) as ch:
            try:
                summary = pb_grpc.TelemetryStub(ch).Report(
                    batches(pb, fleet, args), timeout=args.seconds + 30)
                print("streamed %d batches: %d steps and %d requests "
                      "accepted, %d rejected%s" % (
                          summary.batches, summary.accepted_steps,
                          summary.accepted_requests, summary.rejected,
                          (" (first: %s)" % summary.first_rejection)
                          if summary.rejected else ""))
                rec = pb_grpc.SizerStub(ch).GetRecommendation(
                    pb.GetRecommendationRequest(deployment=args.deployment),
                    timeout=10)
            except grpc.RpcError as e:
                # An HA follower refuses telemetry and names the leader.
                m = re.search(r"leader=(\S+)", e.details() or "")
                if (e.code() == grpc.StatusCode.FAILED_PRECONDITION and m
                        and hop < 3):
                    print("worker: %s is a follower; following the leader "
                          "at %s" % (target, m.group(1)))
                    target = m.group(1)
                    continue
                sys.exit("worker: %s: %s: %s" % (target, e.code().name,
                                                 e.details()))
        break
    print_recommendation(pb, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
