"""Exporters chosen the way every OpenTelemetry SDK chooses them: from OTEL_* variables."""

from __future__ import annotations

import os

from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
)
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.util._importlib_metadata import entry_points

from otel_agentmon._settings import ConfigurationError

_GRPC = "grpc"
_HTTP = "http/protobuf"


def _protocol(signal_variable: str) -> str:
    protocol = (os.environ.get(signal_variable) or os.environ.get(OTEL_EXPORTER_OTLP_PROTOCOL) or _GRPC).strip()
    if protocol not in (_GRPC, _HTTP):
        raise ConfigurationError(f"{OTEL_EXPORTER_OTLP_PROTOCOL}={protocol!r} is not supported; use grpc or http/protobuf")
    return protocol


def _names(variable: str) -> list[str]:
    raw = os.environ.get(variable, "otlp")
    return [name.strip() for name in raw.split(",") if name.strip() and name.strip().lower() != "none"]


def _entry_point(group: str, name: str) -> type:
    for entry_point in entry_points(group=group, name=name):
        return entry_point.load()
    raise ConfigurationError(f"no exporter named {name!r} is installed (entry point group {group})")


def span_exporters() -> list[SpanExporter]:
    """Span exporters named by OTEL_TRACES_EXPORTER (default otlp, over OTEL_EXPORTER_OTLP_PROTOCOL)."""
    exporters: list[SpanExporter] = []
    for name in _names(OTEL_TRACES_EXPORTER):
        if name == "otlp":
            name = "otlp_proto_grpc" if _protocol(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) == _GRPC else "otlp_proto_http"
        exporters.append(_entry_point("opentelemetry_traces_exporter", name)())
    return exporters


def metric_readers() -> list[MetricReader]:
    """Metric readers named by OTEL_METRICS_EXPORTER (default otlp)."""
    readers: list[MetricReader] = []
    for name in _names(OTEL_METRICS_EXPORTER):
        if name == "otlp":
            name = "otlp_proto_grpc" if _protocol(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) == _GRPC else "otlp_proto_http"
        exporter_or_reader = _entry_point("opentelemetry_metrics_exporter", name)
        if isinstance(exporter_or_reader, type) and issubclass(exporter_or_reader, MetricReader):
            readers.append(exporter_or_reader())
        else:
            readers.append(PeriodicExportingMetricReader(exporter_or_reader()))
    return readers


def log_exporters() -> list[LogRecordExporter]:
    """Log record exporters named by OTEL_LOGS_EXPORTER (default otlp)."""
    exporters: list[LogRecordExporter] = []
    for name in _names(OTEL_LOGS_EXPORTER):
        if name == "otlp":
            name = "otlp_proto_grpc" if _protocol(OTEL_EXPORTER_OTLP_LOGS_PROTOCOL) == _GRPC else "otlp_proto_http"
        exporters.append(_entry_point("opentelemetry_logs_exporter", name)())
    return exporters
