"""Fixtures for instrumentation tests: our instrumentors on in-memory span and metric readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agentmon.instrumentation import flush_metrics
from otel_agentmon.instrumentation.anthropic import AnthropicInstrumentor
from otel_agentmon.processors import EnrichingSpanExporter
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor


class LogsAndMetrics:
    """An in-memory LoggerProvider and MeterProvider, for code that emits log records and metrics."""

    def __init__(self) -> None:
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])


class StartRecorder(SpanProcessor):
    """Keeps the attributes each span had when it started (what samplers and processors see)."""

    def __init__(self) -> None:
        self.at_start: dict[int, dict[str, Any]] = {}

    def on_start(self, span, parent_context=None) -> None:
        self.at_start[span.context.span_id] = dict(span.attributes or {})


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    starts: StartRecorder
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def only_span(self) -> ReadableSpan:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metric_points(self, name: str) -> list[Any]:
        flush_metrics()
        data = self.metrics.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


def instrument(**options: Any) -> Telemetry:
    spans, reader, starts = InMemorySpanExporter(), InMemoryMetricReader(), StartRecorder()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(starts)
    # the real pipeline: spans are enriched (cost, category, sample) on export
    tracer_provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(spans)))
    meter_provider = MeterProvider(metric_readers=[reader])
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **options)
    AnthropicInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **options)
    return Telemetry(spans, reader, starts, tracer_provider, meter_provider)


def uninstrument() -> None:
    OpenAIInstrumentor().uninstrument()
    AnthropicInstrumentor().uninstrument()
