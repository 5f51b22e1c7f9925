"""A real OTLP receiver for tests: gRPC (grpcio + the OTLP protobufs) and HTTP/protobuf.

Spans and log records arrive as protobuf and are flattened to plain dicts so tests can assert
on attribute values exactly as a backend would see them.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attributes(key_values) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in key_values}


def flatten(request: trace_service_pb2.ExportTraceServiceRequest) -> list[dict[str, Any]]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": _attributes(span.attributes),
                        "events": [(e.name, _attributes(e.attributes)) for e in span.events],
                        "status_code": span.status.code,
                        "scope": scope_spans.scope.name,
                        "resource": resource,
                        "start_time_unix_nano": span.start_time_unix_nano,
                    }
                )
    return spans


def flatten_logs(request: logs_service_pb2.ExportLogsServiceRequest) -> list[dict[str, Any]]:
    records = []
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append(
                    {
                        "event_name": record.event_name,
                        "trace_id": record.trace_id.hex(),
                        "span_id": record.span_id.hex(),
                        "attributes": _attributes(record.attributes),
                        "body": any_value(record.body),
                        "severity_number": record.severity_number,
                        "time_unix_nano": record.time_unix_nano,
                        "scope": scope_logs.scope.name,
                        "resource": resource,
                    }
                )
    return records


class _Store:
    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.metric_requests = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        flat = flatten(request)
        with self.changed:
            self.spans.extend(flat)
            self.changed.notify_all()

    def add_logs(self, request: logs_service_pb2.ExportLogsServiceRequest) -> None:
        flat = flatten_logs(request)
        with self.changed:
            self.logs.extend(flat)
            self.changed.notify_all()

    def wait_for_logs(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.logs):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s; received {len(self.logs)} log records: "
                                         f"{[r['event_name'] for r in self.logs]}")
                self.changed.wait(remaining)
            return list(self.logs)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.spans):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s; received {len(self.spans)} spans: "
                                         f"{[s['name'] for s in self.spans]}")
                self.changed.wait(remaining)
            return list(self.spans)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, store: _Store) -> None:
        self.store = store

    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        self.store.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, store: _Store) -> None:
        self.store = store

    def Export(self, request, context):  # noqa: N802
        self.store.add_logs(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, store: _Store) -> None:
        self.store = store

    def Export(self, request, context):  # noqa: N802
        with self.store.lock:
            self.store.metric_requests += 1
        return metrics_service_pb2.ExportMetricsServiceResponse()


class OTLPReceiver:
    """OTLP/gRPC on ``grpc_endpoint`` and OTLP/HTTP on ``http_endpoint``, both on loopback."""

    def __init__(self) -> None:
        self._store = _Store()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self._store), self._grpc)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self._store), self._grpc)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(self._store), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        store = self._store

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces":
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    store.add(request)
                    reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/logs":
                    request = logs_service_pb2.ExportLogsServiceRequest()
                    request.ParseFromString(body)
                    store.add_logs(request)
                    reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                else:
                    reply = b""
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._store.lock:
            return list(self._store.spans)

    @property
    def logs(self) -> list[dict[str, Any]]:
        with self._store.lock:
            return list(self._store.logs)

    @property
    def metric_requests(self) -> int:
        with self._store.lock:
            return self._store.metric_requests

    def wait_for_spans(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0):
        return self._store.wait_for(predicate, timeout)

    def wait_for_logs(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0):
        return self._store.wait_for_logs(predicate, timeout)

    def clear(self) -> None:
        with self._store.lock:
            self._store.spans.clear()
            self._store.logs.clear()

    def start(self) -> "OTLPReceiver":
        self._grpc.start()
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()
