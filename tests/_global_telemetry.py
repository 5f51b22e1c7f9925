"""In-memory span and metric readers installed as the GLOBAL providers for one test.

The agent API (like any application code) uses the global providers, which the API lets a
process set only once; tests install theirs by assigning the module globals the getters read
(pytest's monkeypatch puts the previous ones back afterwards), the way OpenTelemetry's own
test utilities do. Our model instrumentors are pointed at the same providers, so agent, tool
and model spans land in one exporter.
"""

from __future__ import annotations

import opentelemetry.metrics._internal as metrics_internal
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from _instrumented import StartRecorder, Telemetry
from otel_agentmon import AttributionSpanProcessor
from otel_agentmon.instrumentation.anthropic import AnthropicInstrumentor
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor
from otel_agentmon.processors import EnrichingSpanExporter

SERVICE = "agents-under-test"


def install(monkeypatch: pytest.MonkeyPatch, *, instrument_models: bool = True) -> Telemetry:
    spans, reader, starts = InMemorySpanExporter(), InMemoryMetricReader(), StartRecorder()
    resource = Resource.create({"service.name": SERVICE})
    tracer_provider = TracerProvider(resource=resource)
    # as configure() and the agentmon configurator set it up: attribution first, then the
    # rest (StartRecorder sees what samplers and exporters see), spans enriched on export
    tracer_provider.add_span_processor(AttributionSpanProcessor())
    tracer_provider.add_span_processor(starts)
    tracer_provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(spans)))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", meter_provider)
    if instrument_models:
        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        AnthropicInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return Telemetry(spans, reader, starts, tracer_provider, meter_provider)


def uninstall() -> None:
    OpenAIInstrumentor().uninstrument()
    AnthropicInstrumentor().uninstrument()
