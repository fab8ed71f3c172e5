"""A stand-in for NVIDIA Dynamo's planner, written from the design proposal
"Dynamo Planner Plugin Architecture" (revision v11): the PluginRegistry
(Register / Heartbeat / Unregister) with its documented rules, and the
PROPOSE stage call of one tick. Used by test_grpc_dynamo.py and
test_dynamo_loop.py.

Rules implemented (the proposal's "Heartbeat and lifecycle", "Authn",
"Protocol versioning"):
  * Register needs auth_token equal to the static shared secret, else
    accepted=false, reject_reason "unauthenticated: ...";
  * protocol_version outside [1.0, 1.x] -> "protocol_version_unsupported:
    requested=X, supported=[1.0,1.x]";
  * a plugin whose last heartbeat is older than 2 x heartbeat_timeout (two
    missed windows) is evicted; a Heartbeat of a plugin not in the active
    set answers ok=false;
  * Unregister removes the plugin at once;
  * Propose is called with the plugin's request_timeout_seconds as the
    deadline (the proposal's asyncio.wait_for); exceeding it is a timeout.
`drop` makes every registry call fail with UNAVAILABLE (a partition).

The closed loop (tick, drive): one planner tick is the proposal's
pipeline for one component: OBSERVE (the PipelineContext observations
afd-sim writes, integration/sim/live_planner.h) -> PROPOSE (every
registered propose plugin, in parallel in the proposal, here in priority
order) -> RECONCILE (builtin-reconcile: the type-aware merge, baseline the
ready count) -> CONSTRAIN (every constrain plugin with context.proposal;
only AT_LEAST / AT_MOST count, SET is dropped and counted, final ignored)
-> EXECUTE (the decision line back to afd-sim, which resizes after the
scenario's actuation delay). A plugin that fails or exceeds its
request_timeout_seconds counts as ACCEPT, as in the proposal.
"""
import json
import math
import subprocess
import threading
import time
from concurrent import futures

import grpc


class Planner:
    def __init__(self, pb, pbg, token, heartbeat_timeout, port=0, tls=None):
        """tls: None (plaintext) or (cert_pem, key_pem, client_ca_pem or
        None): serve TLS, and require a client certificate signed by
        client_ca_pem when given (mTLS)."""
        self.pb, self.pbg = pb, pbg
        self.token = token
        self.heartbeat_timeout = heartbeat_timeout
        self.lock = threading.RLock()
        self.active = {}      # plugin_id -> (RegisterRequest, last beat)
        self.registers = []   # every RegisterRequest, in order
        self.rejects = []     # reject reasons sent
        self.unregisters = []
        self.evictions = []
        self.heartbeats = 0
        self.drop = False
        self.stopping = False
        self.channels = {}    # plugin endpoint -> kept channel (ticks)
        self.n_ticks = 0
        self.log = []         # one entry per tick
        self.failures = []    # (plugin_id, kind, grpc code)
        self.set_dropped = 0  # SET targets a constrain plugin sent
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pbg.add_PluginRegistryServicer_to_server(self._Servicer(self),
                                                 self.server)
        if tls:
            creds = grpc.ssl_server_credentials(
                [(tls[1], tls[0])], root_certificates=tls[2],
                require_client_auth=tls[2] is not None)
            self.port = self.server.add_secure_port("127.0.0.1:%d" % port,
                                                    creds)
        else:
            self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)
        self.server.start()
        self.monitor = threading.Thread(target=self._evict_loop, daemon=True)
        self.monitor.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    class _Servicer:
        def __init__(self, p):
            self.p = p

        def _check_drop(self, context):
            if self.p.drop:
                context.abort(grpc.StatusCode.UNAVAILABLE, "partitioned")

        def Register(self, req, context):
            self._check_drop(context)
            p, pb = self.p, self.p.pb
            with p.lock:
                p.registers.append(req)
                if req.auth_token != p.token:
                    why = "unauthenticated: auth_token matches no trusted source"
                elif not req.protocol_version.startswith("1."):
                    why = ("protocol_version_unsupported: requested=%s, "
                           "supported=[1.0,1.x]" % req.protocol_version)
                else:
                    why = None
                if why:
                    p.rejects.append(why)
                    return pb.RegisterResponse(accepted=False,
                                               reject_reason=why)
                p.active[req.plugin_id] = (req, time.monotonic())
            return pb.RegisterResponse(accepted=True,
                                       negotiated_protocol_version="1.0")

        def Heartbeat(self, req, context):
            self._check_drop(context)
            p = self.p
            with p.lock:
                if req.plugin_id not in p.active:
                    return p.pb.HeartbeatResponse(ok=False)
                p.active[req.plugin_id] = (p.active[req.plugin_id][0],
                                           time.monotonic())
                p.heartbeats += 1
            return p.pb.HeartbeatResponse(ok=True)

        def Unregister(self, req, context):
            self._check_drop(context)
            p = self.p
            with p.lock:
                p.unregisters.append((req.plugin_id, req.reason))
                p.active.pop(req.plugin_id, None)
            return p.pb.UnregisterResponse(ok=True)

    def _evict_loop(self):
        while not self.stopping:
            time.sleep(self.heartbeat_timeout / 4)
            now = time.monotonic()
            with self.lock:
                for pid, (_, beat) in list(self.active.items()):
                    if now - beat > 2 * self.heartbeat_timeout:
                        del self.active[pid]
                        self.evictions.append(pid)

    def registered(self, plugin_id):
        with self.lock:
            return self.active.get(plugin_id, (None,))[0]

    def wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if cond(self):
                    return True
            time.sleep(0.02)
        with self.lock:
            return cond(self)

    def propose(self, plugin_id, workers=None, traffic=None,
                kind="propose"):
        """One PROPOSE (or CONSTRAIN) call to a registered plugin:
        (response, seconds) or (grpc.StatusCode, seconds) on failure, under
        its timeout."""
        req = self.registered(plugin_id)
        if req is None:
            raise RuntimeError("plugin %s not registered" % plugin_id)
        pb = self.pb
        obs = pb.ObservationData()
        if workers:
            obs.workers.CopyFrom(pb.WorkerState(**workers))
        if traffic:
            obs.traffic.CopyFrom(pb.TrafficMetrics(**traffic))
        ctx = pb.PipelineContext(request_id="tick-%d" % time.monotonic_ns(),
                                 observations=obs)
        target = req.endpoint[len("grpc://"):]
        timeout = req.request_timeout_seconds or 5.0
        with grpc.insecure_channel(target) as ch:
            t0 = time.monotonic()
            try:
                if kind == "propose":
                    r = self.pbg.ProposePluginStub(ch).Propose(
                        pb.ProposeStageRequest(context=ctx), timeout=timeout)
                else:
                    r = self.pbg.ConstrainPluginStub(ch).Constrain(
                        pb.ConstrainStageRequest(context=ctx),
                        timeout=timeout)
            except grpc.RpcError as e:
                return e.code(), time.monotonic() - t0
            return r, time.monotonic() - t0

    def plugins(self, kind):
        """Registered plugins of plugin_type kind, by priority."""
        with self.lock:
            reqs = [r for r, _ in self.active.values()
                    if r.plugin_type == kind]
        return sorted(reqs, key=lambda r: (r.priority, r.plugin_id))

    def _call(self, req, kind, ctx):
        """Propose / Constrain on one plugin over a kept channel; None on
        failure or timeout (ACCEPT)."""
        ch = self.channels.get(req.endpoint)
        if ch is None:
            ch = grpc.insecure_channel(req.endpoint[len("grpc://"):])
            self.channels[req.endpoint] = ch
        timeout = req.request_timeout_seconds or 5.0
        try:
            if kind == "propose":
                return self.pbg.ProposePluginStub(ch).Propose(
                    self.pb.ProposeStageRequest(context=ctx), timeout=timeout)
            return self.pbg.ConstrainPluginStub(ch).Constrain(
                self.pb.ConstrainStageRequest(context=ctx), timeout=timeout)
        except grpc.RpcError as e:
            self.failures.append((req.plugin_id, kind, e.code()))
            return None

    def merge(self, results, baseline, constrain=False):
        """The proposal's type-aware merge of [(priority, response)]:
        REJECT short-circuits (None); a final=true override wins whole
        (not in CONSTRAIN); else per (sub_component_type, component_name)
        clamp(SET of the smallest priority number, or the baseline, to
        [max AT_LEAST, min AT_MOST]). Returns {key: replicas}."""
        pb = self.pb
        if any(r.WhichOneof("result") == "reject" for _, r in results):
            return None
        over = [(p, r) for p, r in results
                if r.WhichOneof("result") == "override"]
        finals = [(p, r) for p, r in over if r.final and not constrain]
        if finals:
            _, w = min(finals, key=lambda pr: pr[0])
            return {(t.sub_component_type, t.component_name): t.replicas
                    for t in w.override.targets if t.HasField("replicas")}
        floors, ceils, sets = {}, {}, {}
        for p, r in over:
            for t in r.override.targets:
                if not t.HasField("replicas"):
                    continue
                k = (t.sub_component_type, t.component_name)
                if t.type == pb.AT_LEAST:
                    floors[k] = max(floors.get(k, 0), t.replicas)
                elif t.type == pb.AT_MOST:
                    ceils[k] = min(ceils.get(k, math.inf), t.replicas)
                elif constrain:
                    self.set_dropped += 1  # plugin_constrain_set_dropped
                else:
                    sets.setdefault(k, []).append((p, t.replicas))
        out = {}
        for k in set(baseline) | set(sets):
            rec = min(sets[k])[1] if k in sets else baseline[k]
            out[k] = max(floors.get(k, 0), min(ceils.get(k, math.inf), rec))
        return out

    def tick(self, observe, key):
        """One pipeline tick for component key from an afd-sim observation
        (dict); returns (replicas or None, reason). Logs the tick."""
        pb = self.pb
        w, tr = observe["workers"], observe["traffic"]
        self.n_ticks += 1
        ctx = pb.PipelineContext(
            request_id="tick-%d" % self.n_ticks,
            observations=pb.ObservationData(
                workers=pb.WorkerState(
                    ready_decode=w["ready_decode"],
                    expected_decode=w["expected_decode"]),
                traffic=pb.TrafficMetrics(
                    duration_s=tr["duration_s"], num_req=tr["num_req"],
                    isl=tr["isl"], osl=tr["osl"])))
        baseline = {key: w["ready_decode"]}
        props = [(r.priority, self._call(r, "propose", ctx))
                 for r in self.plugins("propose")]
        props = [(p, r) for p, r in props if r is not None]
        proposal = self.merge(props, baseline)
        reason = "; ".join(r.override.reason for _, r in props
                           if r.WhichOneof("result") == "override")
        entry = {"t_s": observe["t_s"], "propose": props,
                 "proposal": proposal, "constrain": []}
        self.log.append(entry)
        if proposal is None:
            return None, "rejected"
        ctx.decision_id = "decision-%d" % self.n_ticks
        ctx.proposal.CopyFrom(pb.ScalingProposal(
            targets=[pb.ComponentTarget(sub_component_type=k[0],
                                        component_name=k[1], replicas=v)
                     for k, v in sorted(proposal.items())],
            reason=reason, source="builtin-reconcile"))
        cons = [(r.priority, self._call(r, "constrain", ctx))
                for r in self.plugins("constrain")]
        cons = [(p, r) for p, r in cons if r is not None]
        entry["constrain"] = cons
        final = self.merge(cons, proposal, constrain=True) or proposal
        entry["final"] = final
        return final.get(key), reason

    def drive(self, argv, key, stderr_path, timeout):
        """Runs afd-sim (argv, with --actuator planner) as the deployment
        this planner actuates: answers each observation line with the
        tick's decision. Returns (result dict or None, exit status)."""
        with open(stderr_path, "ab") as err:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=err,
                                 text=True)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        result = None
        try:
            for line in p.stdout:
                msg = json.loads(line)
                if "observe" not in msg:
                    result = msg
                    continue
                n, why = self.tick(msg["observe"], key)
                ans = {"replicas": n, "reason": why} if n else {}
                try:
                    p.stdin.write(json.dumps(ans) + "\n")
                    p.stdin.flush()
                except BrokenPipeError:  # it failed: its status says why
                    break
        finally:
            timer.cancel()
            p.stdin.close()
            rc = p.wait()
        return result, rc

    def stop(self):
        self.stopping = True
        for ch in self.channels.values():
            ch.close()
        self.server.stop(0).wait()
