"""An OTLP backend (gRPC and HTTP/protobuf) that can be down, refusing, slow or restarting.

The port stays the same across stops and starts, so an exporter pointed at it sees what it
would see of a real collector being redeployed: connection refused while it is down, then
the same endpoint answering again.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from otlp_receiver import flatten

OK, REFUSE, SLOW = "ok", "refuse", "slow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FaultyBackend:
    """Receives spans while ``mode`` is ``OK``; answers UNAVAILABLE (HTTP 503) while it is
    ``REFUSE``; takes ``slow_seconds`` per export while it is ``SLOW``. ``stop()`` closes the
    port (down), ``start()`` opens it again."""

    def __init__(self, protocol: str = "grpc") -> None:
        self.protocol = protocol
        self.port = free_port()
        self.mode = OK
        self.slow_seconds = 1.0
        self.attempts = 0  # export requests that reached the backend, refused ones included
        self._span_ids: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: grpc.Server | ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/v1/traces" if self.protocol == "http" else "")

    # --- what arrived ---------------------------------------------------------------------
    @property
    def span_ids(self) -> list[str]:
        with self._lock:
            return list(self._span_ids)

    def wait_for_count(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._span_ids) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s with {len(self._span_ids)} of {count} spans")
                self._changed.wait(remaining)
            return list(self._span_ids)

    def _receive(self, request: trace_service_pb2.ExportTraceServiceRequest) -> str:
        """Apply the mode to one export; returns the mode it was handled in."""
        with self._lock:
            self.attempts += 1
            mode = self.mode
        if mode == SLOW:
            time.sleep(self.slow_seconds)
        if mode == REFUSE:
            return REFUSE
        ids = [span["span_id"] for span in flatten(request)]
        with self._changed:
            self._span_ids.extend(ids)
            self._changed.notify_all()
        return mode

    # --- up and down --------------------------------------------------------------------
    def start(self) -> "FaultyBackend":
        if self.protocol == "grpc":
            self._server = self._grpc_server()
            self._server.start()
        else:
            self._server = self._http_server()
            threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if isinstance(server, ThreadingHTTPServer):
            server.shutdown()
            server.server_close()
        elif server is not None:
            server.stop(grace=None).wait()

    def restart_after(self, down_seconds: float) -> threading.Thread:
        """Stop now, start again after ``down_seconds`` (in the background)."""
        self.stop()
        thread = threading.Timer(down_seconds, self.start)
        thread.start()
        return thread

    def _grpc_server(self) -> grpc.Server:
        backend = self

        class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):  # noqa: N802 (gRPC method name)
                if backend._receive(request) == REFUSE:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "backend refusing (test)")
                return trace_service_pb2.ExportTraceServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
        bound = server.add_insecure_port(f"127.0.0.1:{self.port}")
        assert bound == self.port, f"port {self.port} was taken"
        return server

    def _http_server(self) -> ThreadingHTTPServer:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                refused = backend._receive(request) == REFUSE
                reply = b"" if refused else trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(503 if refused else 200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        return server


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
