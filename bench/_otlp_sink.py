"""An OTLP/gRPC receiver that only counts what it is sent: spans and metric exports.

Run as its own process (``python bench/_otlp_sink.py``) so that what it costs in memory and CPU
is not charged to the process under measurement. It prints its endpoint (``127.0.0.1:PORT``)
on one line, then answers each ``count`` line on stdin with one JSON line of its counters
(``spans``, ``span_requests``, ``metric_requests``, and ``points``: the data points of the last
metric export, which under cumulative temporality is the number of series the exporting
process holds; ``series`` gives them by metric name). It exits when stdin closes,
so it never outlives the process that started it.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans = 0
        self.span_requests = 0
        self.metric_requests = 0
        self.points = 0
        self.series: dict[str, int] = {}

    def add_spans(self, count: int) -> None:
        with self._lock:
            self.spans += count
            self.span_requests += 1

    def add_metrics(self, series: dict[str, int]) -> None:
        with self._lock:
            self.points = sum(series.values())
            self.series = series
            self.metric_requests += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"spans": self.spans, "span_requests": self.span_requests,
                    "metric_requests": self.metric_requests, "points": self.points,
                    "series": dict(self.series)}


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any  # noqa: N802
               ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._counters.add_spans(sum(len(scope.spans) for resource in request.resource_spans
                                     for scope in resource.scope_spans))
        return trace_service_pb2.ExportTraceServiceResponse()


def _points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def Export(self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: Any  # noqa: N802
               ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        series: dict[str, int] = {}
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    series[metric.name] = series.get(metric.name, 0) + _points(metric)
        self._counters.add_metrics(series)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def serve(counters: Counters, host: str = "127.0.0.1") -> tuple[grpc.Server, str]:
    # OTLP exports of the SDK's batch processor can exceed gRPC's default 4 MB message limit.
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(counters), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(counters), server)
    port = server.add_insecure_port(f"{host}:0")
    server.start()
    return server, f"{host}:{port}"


def main() -> int:
    counters = Counters()
    server, endpoint = serve(counters)
    print(endpoint, flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps(counters.snapshot()), flush=True)
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
