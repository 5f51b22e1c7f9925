"""The enriching exporter under the SDK's BatchSpanProcessor, on spans made by a real tracer."""

from __future__ import annotations

import logging
import math

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_agentmon.processors import CostCalculator, EnrichingSpanExporter, SpanEnricher, TokenUsage, is_sampled, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga


def _pipeline(rate: float = 1.0):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(EnrichingSpanExporter(memory, SpanEnricher(quality_sample_rate=rate))))
    return provider, memory


def test_inference_span_gets_cost_and_keeps_everything_else():
    provider, memory = _pipeline()
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
        ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o-mini",
    }) as span:
        span.set_attribute(ga.USAGE_INPUT_TOKENS, 2000)
        span.set_attribute(ga.USAGE_OUTPUT_TOKENS, 100)
        span.add_event("note", {"k": "v"})
    provider.force_flush()
    (exported,) = memory.get_finished_spans()
    expected = CostCalculator().price("openai", "gpt-4o-mini", TokenUsage(2000, 100)).amount
    assert math.isclose(exported.attributes[am.COST_AMOUNT], expected)
    assert exported.attributes[am.COST_CURRENCY] == "USD"
    assert exported.attributes[ga.USAGE_INPUT_TOKENS] == 2000
    assert exported.attributes[am.QUALITY_SAMPLED] is True
    assert exported.name == "chat gpt-4o-mini"
    assert [e.name for e in exported.events] == ["note"]
    assert exported.context.span_id == span.get_span_context().span_id


def test_failed_span_gets_category_from_recorded_exception():
    provider, memory = _pipeline(rate=0.0)
    tracer = provider.get_tracer("test")
    try:
        with tracer.start_as_current_span("chat gpt-4o", attributes={ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai"}):
            raise ConnectionResetError("peer reset")
    except ConnectionResetError:
        pass
    provider.force_flush()
    (exported,) = memory.get_finished_spans()
    assert exported.attributes[am.ERROR_CATEGORY] == "network_error"
    assert exported.attributes[am.ERROR_SEVERITY] == "warning"
    assert am.QUALITY_SAMPLED not in exported.attributes


def test_non_genai_span_passes_through_untouched_unless_sampled():
    provider, memory = _pipeline(rate=0.0)
    with provider.get_tracer("test").start_as_current_span("GET /health") as span:
        span.set_status(Status(StatusCode.ERROR))
    provider.force_flush()
    (exported,) = memory.get_finished_spans()
    assert dict(exported.attributes) == {}


def test_every_span_of_a_sampled_trace_is_flagged():
    provider, memory = _pipeline(rate=0.3)
    tracer = provider.get_tracer("test")
    for _ in range(60):
        with tracer.start_as_current_span("invoke_agent planner", attributes={ga.OPERATION_NAME: "invoke_agent"}):
            with tracer.start_as_current_span("execute_tool search", attributes={ga.OPERATION_NAME: "execute_tool"}):
                pass
            with tracer.start_as_current_span("http"):
                pass
    provider.force_flush()
    spans = memory.get_finished_spans()
    threshold = sample_threshold(0.3)
    flagged_traces = set()
    for span in spans:
        expected = is_sampled(span.context.trace_id, threshold)
        assert span.attributes.get(am.QUALITY_SAMPLED, False) is expected
        if expected:
            flagged_traces.add(span.context.trace_id)
    assert 0 < len(flagged_traces) < 60


def test_existing_derived_attributes_are_not_overwritten():
    provider, memory = _pipeline(rate=0.0)
    with provider.get_tracer("test").start_as_current_span("chat m", attributes={
        ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o",
        ga.USAGE_INPUT_TOKENS: 10, ga.USAGE_OUTPUT_TOKENS: 10,
        am.COST_AMOUNT: 0.5, am.COST_CURRENCY: "USD", am.COST_SOURCE: "provider",
    }):
        pass
    provider.force_flush()
    (exported,) = memory.get_finished_spans()
    assert exported.attributes[am.COST_AMOUNT] == 0.5
    assert exported.attributes[am.COST_SOURCE] == "provider"


class _Broken(SpanEnricher):
    def derive(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_a_failing_derivation_exports_the_span_unchanged_and_logs_once(caplog):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(memory, _Broken())))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            with provider.get_tracer("t").start_as_current_span("chat x", attributes={ga.OPERATION_NAME: "chat"}):
                pass
    assert len(memory.get_finished_spans()) == 3
    assert len([r for r in caplog.records if "could not enrich" in r.getMessage()]) == 1


class _Recorder(SpanExporter):
    def __init__(self):
        self.flushed = self.shut = False

    def export(self, spans):
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis=30000):
        self.flushed = True
        return True

    def shutdown(self):
        self.shut = True


def test_flush_and_shutdown_reach_the_wrapped_exporter():
    inner = _Recorder()
    exporter = EnrichingSpanExporter(inner)
    assert exporter.force_flush()
    exporter.shutdown()
    assert inner.flushed and inner.shut


def test_status_description_is_read_for_provider_codes():
    # opentelemetry-util-genai puts the exception message in the status description
    provider, memory = _pipeline(rate=0.0)
    with provider.get_tracer("t").start_as_current_span("chat m", attributes={ga.OPERATION_NAME: "chat"}) as span:
        span.set_attribute(ga.ERROR_TYPE, "openai.BadRequestError")
        span.set_status(Status(StatusCode.ERROR, "Error code: 400 - {'error': {'code': 'context_length_exceeded'}}"))
    provider.force_flush()
    (exported,) = memory.get_finished_spans()
    assert exported.attributes[am.ERROR_CATEGORY] == "context_length_exceeded"
