"""A stand-in for NVIDIA Dynamo's planner, written from the design proposal
"Dynamo Planner Plugin Architecture" (revision v11): the PluginRegistry
(Register / Heartbeat / Unregister) with its documented rules, and the
PROPOSE stage call of one tick. Used by test_grpc_dynamo.py.

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
"""
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

    def propose(self, plugin_id, workers=None, traffic=None):
        """One PROPOSE call to a registered plugin: (response, seconds) or
        (grpc.StatusCode, seconds) on failure, under its timeout."""
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
            stub = self.pbg.ProposePluginStub(ch)
            t0 = time.monotonic()
            try:
                r = stub.Propose(pb.ProposeStageRequest(context=ctx),
                                 timeout=timeout)
            except grpc.RpcError as e:
                return e.code(), time.monotonic() - t0
            return r, time.monotonic() - t0

    def stop(self):
        self.stopping = True
        self.server.stop(0).wait()
