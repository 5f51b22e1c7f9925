"""configure(): never replaces providers the app set; bad settings are clear errors at start.

Global providers can be set once per process, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from otel_agentmon import ConfigurationError
from otel_agentmon._settings import settings_from_env


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_configure_sets_providers_when_none_are_set():
    result = run_python(
        """
        from opentelemetry import trace, metrics
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import otel_agentmon
        memory = InMemorySpanExporter()
        provider = otel_agentmon.configure(service_name="svc", span_exporters=[memory], metric_readers=[InMemoryMetricReader()],
                                           quality_sample_rate=1.0)
        assert trace.get_tracer_provider() is provider
        assert type(metrics.get_meter_provider()).__name__ == "MeterProvider"
        with trace.get_tracer("t").start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 5}):
            pass
        provider.force_flush()
        (span,) = memory.get_finished_spans()
        assert span.attributes["gen_ai.usage.cost.amount"] > 0
        assert span.attributes["agentmon.quality.sampled"] is True
        assert span.resource.attributes["service.name"] == "svc"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_existing_tracer_provider_is_kept_and_added_to():
    result = run_python(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_agentmon
        app_exporter, ours = InMemorySpanExporter(), InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
        trace.set_tracer_provider(app_provider)
        returned = otel_agentmon.configure(span_exporters=[ours], metric_readers=[])
        assert returned is app_provider and trace.get_tracer_provider() is app_provider
        with trace.get_tracer("t").start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 5}):
            pass
        app_provider.force_flush()
        assert len(app_exporter.get_finished_spans()) == 1
        assert "gen_ai.usage.cost.amount" in ours.get_finished_spans()[0].attributes
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr


def test_existing_provider_without_exporters_given_says_why_nothing_was_added():
    result = run_python(
        """
        from opentelemetry import trace, metrics
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.metrics import MeterProvider
        import otel_agentmon
        app, meters = TracerProvider(), MeterProvider()
        trace.set_tracer_provider(app)
        metrics.set_meter_provider(meters)
        assert otel_agentmon.configure() is None
        assert trace.get_tracer_provider() is app and metrics.get_meter_provider() is meters
        """
    )
    assert result.returncode == 0, result.stderr
    assert "already set a TracerProvider" in result.stderr
    assert "EnrichingSpanExporter" in result.stderr


def test_non_sdk_provider_is_reported():
    result = run_python(
        """
        from opentelemetry import trace
        import otel_agentmon
        trace.set_tracer_provider(trace.NoOpTracerProvider())
        assert otel_agentmon.configure(metric_readers=[]) is None
        """
    )
    assert result.returncode == 0, result.stderr
    assert "NoOpTracerProvider" in result.stderr


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan"])
def test_bad_sample_rate_names_the_variable(value):
    with pytest.raises(ConfigurationError, match="AGENTMON_QUALITY_SAMPLE_RATE"):
        settings_from_env({"AGENTMON_QUALITY_SAMPLE_RATE": value})


def test_bad_sample_rate_argument_is_named():
    import otel_agentmon

    with pytest.raises(ConfigurationError, match="quality_sample_rate"):
        otel_agentmon.configure(quality_sample_rate=2)


def test_bad_prices_file_from_configure_names_file_and_line(tmp_path):
    import otel_agentmon

    path = tmp_path / "prices.yaml"
    path.write_text("prices:\n  - model: x\n    input_mtok: -2\n    output_mtok: 1\n")
    with pytest.raises(ConfigurationError, match=rf"AGENTMON_PRICES_FILE: {path}:3: input_mtok"):
        otel_agentmon.configure(prices_file=path)


def test_defaults():
    settings = settings_from_env({})
    assert settings.quality_sample_rate == 0.05
    assert settings.prices_file is None
    assert settings.capture_message_content is False


# --- log records: feedback, evaluation results, budget events, call logs ----------------------

# indented as the code around it in the tests below
_RATE_A_SPAN = """
        from opentelemetry import trace
        import otel_agentmon
        with trace.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
            otel_agentmon.feedback(1)
            rated = span.get_span_context()
"""


def test_log_exporters_given_receive_feedback_events_tied_to_the_span():
    result = run_python(
        """
        from opentelemetry._logs import get_logger_provider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_agentmon
        logs = InMemoryLogRecordExporter()
        otel_agentmon.configure(service_name="svc", span_exporters=[InMemorySpanExporter()], metric_readers=[],
                                log_exporters=[logs])
        assert type(get_logger_provider()).__name__ == "LoggerProvider"
        """ + _RATE_A_SPAN + """
        get_logger_provider().force_flush()
        (record,) = logs.get_finished_logs()
        assert record.log_record.event_name == "gen_ai.evaluation.result"
        assert record.log_record.attributes["gen_ai.evaluation.name"] == "user_feedback"
        assert (record.log_record.trace_id, record.log_record.span_id) == (rated.trace_id, rated.span_id)
        assert record.resource.attributes["service.name"] == "svc"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "before telemetry was set up" not in result.stderr


def test_with_an_otlp_endpoint_feedback_events_are_exported_over_otlp(otlp_receiver):
    otlp_receiver.clear()
    result = run_python(
        """
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_agentmon
        otel_agentmon.configure(service_name="rated-svc", span_exporters=[InMemorySpanExporter()], metric_readers=[])
        """ + _RATE_A_SPAN + """
        print(format(rated.trace_id, "032x"), format(rated.span_id, "016x"))
        """,  # exported at exit: the LoggerProvider configure() set flushes then
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint},
    )
    assert result.returncode == 0, result.stderr
    trace_id, span_id = result.stdout.split()
    logs = otlp_receiver.wait_for_logs(lambda r: any(x["resource"].get("service.name") == "rated-svc" for x in r))
    (record,) = [r for r in logs if r["resource"].get("service.name") == "rated-svc"]
    assert record["event_name"] == "gen_ai.evaluation.result"
    assert (record["trace_id"], record["span_id"]) == (trace_id, span_id)
    assert "before telemetry was set up" not in result.stderr


def test_without_an_endpoint_or_log_exporters_no_logger_provider_is_set():
    # OTLP would only retry localhost for every batch: nothing is set, and feedback says so once
    result = run_python(
        """
        from opentelemetry._logs import get_logger_provider
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_agentmon
        otel_agentmon.configure(span_exporters=[InMemorySpanExporter()], metric_readers=[])
        assert type(get_logger_provider()).__name__ == "ProxyLoggerProvider"
        """ + _RATE_A_SPAN + """
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert result.stderr.count("before telemetry was set up") == 1


def test_a_logger_provider_the_app_set_is_kept():
    result = run_python(
        """
        import logging
        from opentelemetry._logs import get_logger_provider, set_logger_provider
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_agentmon
        logging.basicConfig()
        app_logs, ours = InMemoryLogRecordExporter(), InMemoryLogRecordExporter()
        app_provider = LoggerProvider()
        app_provider.add_log_record_processor(SimpleLogRecordProcessor(app_logs))
        set_logger_provider(app_provider)
        otel_agentmon.configure(span_exporters=[InMemorySpanExporter()], metric_readers=[], log_exporters=[ours])
        assert get_logger_provider() is app_provider
        """ + _RATE_A_SPAN + """
        assert len(app_logs.get_finished_logs()) == 1 and not ours.get_finished_logs()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "already set a LoggerProvider; the given log_exporters are not used" in result.stderr
