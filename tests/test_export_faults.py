"""Backend faults: the OTLP endpoint down, refusing, slow or restarting in the middle of a run.

Spans go through the pipeline opentelemetry-instrument builds (RetryingBatchSpanProcessor,
EnrichingSpanExporter, the real OTLP exporters) to a real OTLP backend on loopback that the
test takes down and brings back. What must hold: nothing is lost when the backend is back
before the queue fills; what the queue cannot hold is counted in agentmon.spans.dropped and
logged once; memory stays bounded (the queue never holds more than its size).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from _faulty_backend import OK, REFUSE, SLOW, FaultyBackend, wait_until
from otel_agentmon.export import RetryingBatchSpanProcessor, RetryPolicy
from otel_agentmon.processors import EnrichingSpanExporter
from otel_agentmon.semconv import gen_ai
from otel_agentmon.semconv import metrics as m

FAST_RETRY = RetryPolicy(initial_interval=0.1, max_interval=0.5, max_elapsed=60)


class Pipeline:
    def __init__(self, backend: FaultyBackend, *, max_queue_size: int = 2048, batch: int = 64,
                 retry: RetryPolicy = FAST_RETRY) -> None:
        if backend.protocol == "grpc":
            exporter = GrpcSpanExporter(endpoint=backend.endpoint, insecure=True, timeout=2)
        else:
            exporter = HttpSpanExporter(endpoint=backend.endpoint, timeout=2)
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.processor = RetryingBatchSpanProcessor(
            EnrichingSpanExporter(exporter), max_queue_size=max_queue_size, schedule_delay_millis=50,
            max_export_batch_size=batch, retry=retry, meter_provider=self.meter_provider,
        )
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("fault-test")
        self.emitted: list[str] = []
        self.most_waiting = 0

    def emit(self, count: int, pause: float = 0.0) -> None:
        for _ in range(count):
            with self.tracer.start_as_current_span("chat gpt-4o-mini") as span:
                self.emitted.append(format(span.get_span_context().span_id, "016x"))
            self.most_waiting = max(self.most_waiting, self.processor.waiting)
            if pause:
                time.sleep(pause)

    def dropped(self) -> dict[str, int]:
        data = self.reader.get_metrics_data()
        totals: dict[str, int] = {}
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == m.SPANS_DROPPED:
                        for point in metric.data.data_points:
                            totals[point.attributes[gen_ai.ERROR_TYPE]] = point.value
        return totals


@pytest.fixture
def grpc_backend():
    backend = FaultyBackend("grpc").start()
    yield backend
    backend.stop()


@pytest.fixture
def agentmon_log(caplog):
    caplog.set_level(logging.INFO, logger="otel_agentmon")
    return caplog


def _lines(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otel_agentmon" and r.levelno == level]


def _assert_all_exactly_once(pipeline: Pipeline, backend: FaultyBackend) -> None:
    received = backend.wait_for_count(len(pipeline.emitted), timeout=30)
    assert sorted(set(received)) == sorted(pipeline.emitted)


@pytest.mark.slow
def test_backend_down_at_start_then_up_loses_nothing(agentmon_log):
    backend = FaultyBackend("grpc")  # port chosen, nothing listening yet: connection refused
    pipeline = Pipeline(backend)
    try:
        pipeline.emit(300)
        wait_until(lambda: pipeline.processor.waiting < 300, 5, "the first batch to be taken")  # retrying
        time.sleep(1.5)
        backend.start()
        _assert_all_exactly_once(pipeline, backend)
    finally:
        pipeline.provider.shutdown()
        backend.stop()
    assert pipeline.dropped() == {}
    assert _lines(agentmon_log, logging.WARNING) == []


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_refusing_backend_then_accepting_loses_nothing(protocol, agentmon_log):
    backend = FaultyBackend(protocol).start()
    backend.mode = REFUSE
    pipeline = Pipeline(backend)
    try:
        pipeline.emit(400)
        wait_until(lambda: backend.attempts >= 3, 10, "refused attempts")
        backend.mode = OK
        _assert_all_exactly_once(pipeline, backend)
    finally:
        pipeline.provider.shutdown()
        backend.stop()
    assert pipeline.dropped() == {}
    assert _lines(agentmon_log, logging.WARNING) == []


@pytest.mark.slow
def test_backend_restarting_in_the_middle_of_a_run_loses_nothing(grpc_backend, agentmon_log):
    pipeline = Pipeline(grpc_backend)
    try:
        pipeline.emit(200, pause=0.002)
        restart = grpc_backend.restart_after(2.0)  # down for 2 s while spans keep coming
        pipeline.emit(600, pause=0.004)
        restart.join()
        pipeline.emit(200, pause=0.002)
        received = grpc_backend.wait_for_count(len(pipeline.emitted), timeout=30)
    finally:
        pipeline.provider.shutdown()
    assert set(received) == set(pipeline.emitted)
    assert len(received) - len(set(received)) <= 64  # at most a batch the backend took as it went down
    assert pipeline.dropped() == {}
    assert _lines(agentmon_log, logging.WARNING) == []


@pytest.mark.slow
def test_slow_backend_loses_nothing_while_the_queue_has_room(grpc_backend, agentmon_log):
    grpc_backend.mode, grpc_backend.slow_seconds = SLOW, 1.0
    pipeline = Pipeline(grpc_backend, batch=512)
    try:
        pipeline.emit(1500)  # about three slow exports' worth
        _assert_all_exactly_once(pipeline, grpc_backend)
    finally:
        pipeline.provider.shutdown()
    assert pipeline.dropped() == {}
    assert pipeline.most_waiting <= 2048


@pytest.mark.slow
def test_queue_full_drops_are_counted_logged_once_and_the_rest_arrives(agentmon_log):
    backend = FaultyBackend("grpc")  # down
    pipeline = Pipeline(backend, max_queue_size=200, batch=50)
    try:
        pipeline.emit(50)
        wait_until(lambda: pipeline.processor.waiting == 0, 5, "the first batch to be taken")
        pipeline.emit(450)  # 200 fit in the queue, 250 cannot
        assert pipeline.most_waiting == 200  # bounded: never more than the queue size waits
        assert pipeline.dropped() == {m.DROPPED_QUEUE_FULL: 250}
        warnings = _lines(agentmon_log, logging.WARNING)
        assert len(warnings) == 1 and m.SPANS_DROPPED in warnings[0] and m.DROPPED_QUEUE_FULL in warnings[0]
        backend.start()
        received = backend.wait_for_count(250, timeout=30)
        wait_until(lambda: any("recovered" in line for line in _lines(agentmon_log, logging.INFO)), 10,
                   "the recovery line")
    finally:
        pipeline.provider.shutdown()
        backend.stop()
    assert len(received) == len(set(received)) == 250
    assert set(received) <= set(pipeline.emitted)
    recovered = [line for line in _lines(agentmon_log, logging.INFO) if "recovered" in line]
    assert len(recovered) == 1 and "250 spans were dropped" in recovered[0]
    assert len(_lines(agentmon_log, logging.WARNING)) == 1  # still one line for the whole episode


@pytest.mark.slow
def test_a_batch_failing_past_the_retry_period_is_dropped_and_counted(grpc_backend, agentmon_log):
    grpc_backend.mode = REFUSE
    pipeline = Pipeline(grpc_backend, batch=20, retry=RetryPolicy(initial_interval=0.1, max_interval=0.2,
                                                                   max_elapsed=1.0))
    try:
        pipeline.emit(20)
        wait_until(lambda: pipeline.dropped().get(m.DROPPED_EXPORT_FAILED) == 20, 15, "the batch to be dropped")
        grpc_backend.mode = OK
        later = len(pipeline.emitted)
        pipeline.emit(30)
        received = grpc_backend.wait_for_count(30, timeout=20)
    finally:
        pipeline.provider.shutdown()
    assert set(received) == set(pipeline.emitted[later:])
    assert len(_lines(agentmon_log, logging.WARNING)) == 1


@pytest.mark.slow
def test_shutdown_and_flush_with_the_backend_down_are_bounded_and_count_what_is_lost(agentmon_log):
    backend = FaultyBackend("grpc")  # down for good
    pipeline = Pipeline(backend, batch=100)
    pipeline.emit(250)
    started = time.monotonic()
    assert pipeline.processor.force_flush(timeout_millis=1000) is True
    flushed_in = time.monotonic() - started
    pipeline.emit(50)
    started = time.monotonic()
    pipeline.provider.shutdown()
    shut_down_in = time.monotonic() - started
    # A flush gives up at its timeout plus at most one exporter attempt (2 s here); shutdown
    # keeps retrying SHUTDOWN_RETRY_SECONDS (5 s), plus one attempt.
    assert flushed_in < 1 + 2 + 1.5, flushed_in
    assert shut_down_in < 5 + 2 + 2, shut_down_in
    dropped = pipeline.dropped()
    assert sum(dropped.values()) == 300 and set(dropped) <= {m.DROPPED_SHUTDOWN}
    assert len(_lines(agentmon_log, logging.WARNING)) == 1


def test_retry_policy_rejects_bad_values():
    with pytest.raises(ValueError, match="max_elapsed"):
        RetryPolicy(max_elapsed=-1)
    with pytest.raises(ValueError, match="initial_interval"):
        RetryPolicy(initial_interval=float("nan"))
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)


def test_an_exporter_that_raises_is_retried_not_fatal(agentmon_log):
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Flaky(SpanExporter):
        def __init__(self) -> None:
            self.calls, self.spans = 0, []

        def export(self, spans):
            self.calls += 1
            if self.calls <= 2:
                raise RuntimeError("exporter bug")
            self.spans.extend(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    flaky = Flaky()
    processor = RetryingBatchSpanProcessor(flaky, schedule_delay_millis=20, retry=FAST_RETRY)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    for _ in range(10):
        provider.get_tracer("t").start_span("x").end()
    provider.force_flush()
    provider.shutdown()
    assert len(flaky.spans) == 10 and flaky.calls == 3
    errors = _lines(agentmon_log, logging.ERROR)
    assert len(errors) == 1 and "raised while exporting" in errors[0]


def test_bad_queue_size_variable_is_reported_and_the_default_used(monkeypatch, agentmon_log):
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    processor = RetryingBatchSpanProcessor(ConsoleSpanExporter())
    try:
        assert processor._capacity == 2048
    finally:
        processor.shutdown()
    errors = _lines(agentmon_log, logging.ERROR)
    assert len(errors) == 1 and "OTEL_BSP_MAX_QUEUE_SIZE='lots'" in errors[0]


_ZERO_CODE_APP = """
from opentelemetry import trace
tracer = trace.get_tracer("app")
for index in range(500):
    with tracer.start_as_current_span(f"step {index}"):
        pass
print("app done")
"""


@pytest.mark.slow
def test_under_opentelemetry_instrument_a_dead_backend_costs_one_log_line_and_a_bounded_exit(tmp_path):
    backend = FaultyBackend("grpc")  # never started
    app = tmp_path / "app.py"
    app.write_text(_ZERO_CODE_APP)
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{backend.port}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_LOG_LEVEL": "info",
    }
    started = time.monotonic()
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument"), sys.executable, str(app)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "app done" in result.stdout
    ours = [line for line in result.stderr.splitlines() if "otel-agentmon: dropping spans" in line]
    assert len(ours) == 1, result.stderr
    assert m.DROPPED_QUEUE_FULL in ours[0]
    assert took < 30, took
