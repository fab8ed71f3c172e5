"""Shared harness for the gRPC end-to-end tests (integration/e2e/test_grpc_*.py).

Generates Python stubs from proto/ at test time with grpc_tools.protoc, starts
`afd-sizer serve` on loopback port 0 with a temporary snapshot path, parses the
addresses it prints, and stops it with SIGTERM expecting exit status 0 (under
an ASan build LeakSanitizer turns a leak into a non-zero status). Every wait is
bounded so that a hang fails instead of blocking CI.

Run with Debian's /usr/bin/python3 (it has grpcio and grpc_tools).
"""
import importlib
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc  # noqa: F401  (fail early with a clear ImportError)
from grpc_tools import protoc

SRC_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO_DIR = os.path.join(SRC_ROOT, "proto")
RPC_TIMEOUT = 10.0


def load_stubs(tmp):
    """Compiles the protos into tmp and returns a namespace of modules.

    health.proto and externalscaler.proto are compiled from their own folder
    so that the Python module names (health_pb2, externalscaler_pb2) do not
    clash with the grpc package; the wire names (package grpc.health.v1,
    externalscaler) are unchanged.
    """
    out = os.path.join(tmp, "stubs")
    os.makedirs(out, exist_ok=True)
    jobs = [
        (PROTO_DIR, "afd_sizer.proto"),
        (os.path.join(PROTO_DIR, "grpc", "health", "v1"), "health.proto"),
        (os.path.join(PROTO_DIR, "keda"), "externalscaler.proto"),
    ]
    for root, name in jobs:
        args = ["protoc", "-I" + root, "--python_out=" + out, "--grpc_python_out=" + out,
                 os.path.join(root, name)]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on " + name)
    sys.path.insert(0, out)

    class Stubs:
        pass
    s = Stubs()
    for mod in ("afd_sizer_pb2", "afd_sizer_pb2_grpc", "health_pb2",
                "health_pb2_grpc", "externalscaler_pb2",
                "externalscaler_pb2_grpc"):
        setattr(s, mod, importlib.import_module(mod))
    return s


class Daemon:
    """One `afd-sizer serve` process on loopback ports picked by the kernel."""

    def __init__(self, bin_dir, tmp, config=None, extra_args=()):
        self.exe = os.path.join(bin_dir, "afd-sizer")
        self.tmp = tmp
        self.snapshot = os.path.join(tmp, "afd.snap")
        self.stderr_path = os.path.join(tmp, "daemon.stderr")
        self.config = config
        self.extra_args = list(extra_args)
        self.proc = None
        self.grpc_addr = None
        self.http_addr = None
        self.lines = []
        self.termed = False

    def start(self, timeout=20.0):
        args = [self.exe, "serve", "--grpc-listen", "127.0.0.1:0",
                "--http-listen", "127.0.0.1:0", "--snapshot", self.snapshot]
        if self.config is not None:
            path = os.path.join(self.tmp, "afd.json")
            with open(path, "w") as f:
                f.write(self.config)
            args += ["--config", path]
        args += self.extra_args
        self.err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=self.err)
        deadline = time.monotonic() + timeout
        buf = b""
        while b"afd-sizer: ready\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError("daemon did not get ready; stdout %r, "
                                   "stderr %r" % (buf, self.stderr()))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        self.lines = buf.decode().splitlines()
        for line in self.lines:
            if line.startswith("afd-sizer: grpc listening on "):
                self.grpc_addr = line.split()[-1]
            elif line.startswith("afd-sizer: http listening on "):
                self.http_addr = line.split()[-1]
        if not self.grpc_addr or not self.http_addr:
            raise RuntimeError("no addresses in %r" % self.lines)
        return self

    def channel(self, options=None):
        return grpc.insecure_channel(self.grpc_addr, options=options or [])

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=20.0):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        self.term()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.proc.stdout.close()
        self.err.close()
        self.proc = None
        return rc

    def term(self):
        """Sends SIGTERM once (a second one makes the daemon quit at once)."""
        if not self.termed:
            self.proc.send_signal(signal.SIGTERM)
            self.termed = True

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Checks:
    """Counts named checks and prints '<test>: N passed, M failed'."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail))
        sys.stdout.flush()
        return ok

    def close(self, tmp_keep=None):
        print("%s: %d passed, %d failed" % (self.name, self.passed,
                                             self.failed))
        return 1 if self.failed or not self.passed else 0


def close(a, b, rel=1e-9, abs_tol=1e-12):
    return abs(a - b) <= max(abs_tol, rel * max(abs(a), abs(b)))


def rpc_code(fn, *args, **kw):
    """Calls fn; returns (None, result) or (status code, details)."""
    try:
        return None, fn(*args, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details()


class StreamReader:
    """Drains one server-streaming call into self.q on a daemon thread, so
    every wait on the stream is bounded (q.get(timeout=...)); the RpcError
    that ends the stream, if any, is queued after the messages."""

    def __init__(self, call):
        self.q = queue.Queue()
        self.call = call
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for m in self.call:
                self.q.put(m)
        except grpc.RpcError as e:
            self.q.put(e)


def report_exception(checks, e):
    """Call from an `except Exception as e:` around a test body: prints the
    traceback and records a failed check, so a crash never passes silently."""
    import traceback
    traceback.print_exc()
    checks.check("test body ran without exception", False, repr(e))


def finish(checks, tmp):
    """Closes checks (printing the summary line), removes tmp when every
    check passed and keeps it (saying where) otherwise. Returns the exit
    status."""
    status = checks.close()
    if status == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept %s" % tmp)
    return status


def run(name, body, bin_dir, config=None):
    """Runs body(checks, daemon, stubs, tmp), then stops the daemon and
    checks it exited 0. Returns the process exit status."""
    checks = Checks(name)
    tmp = tempfile.mkdtemp(prefix=name + "-")
    daemon = None
    try:
        stubs = load_stubs(tmp)
        daemon = Daemon(bin_dir, tmp, config=config).start()
        body(checks, daemon, stubs, tmp)
        rc = daemon.stop()
        checks.check("daemon exits 0 on SIGTERM", rc == 0,
                     "exit status %r; stderr:\n%s" % (rc, daemon.stderr()))
    except Exception as e:  # report, never hang or crash silently
        report_exception(checks, e)
        if daemon is not None:
            print(daemon.stderr())
            daemon.kill()
    return finish(checks, tmp)
