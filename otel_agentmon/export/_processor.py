"""The SDK's BatchSpanProcessor, with failed exports retried and every dropped span counted.

The SDK's queue drops the oldest span silently when it is full (its own count needs
OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED). Here the spans waiting for export are counted on
the way in and out, so a span that would overflow the queue is refused and counted instead,
and the queue itself never overflows.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.environment_variables import OTEL_BSP_MAX_QUEUE_SIZE
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_agentmon.export._dropped import DroppedSpans
from otel_agentmon.export._retry import RetryingSpanExporter, RetryPolicy
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")
_DEFAULT_MAX_QUEUE_SIZE = 2048  # the SDK's default
# How long shutdown keeps retrying a failing backend before it drops what is left: an
# application exiting while its backend is down should not hang for the full retry period.
SHUTDOWN_RETRY_SECONDS = 5.0


def _max_queue_size_from_env() -> int:
    raw = os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE, "")
    try:
        value = int(raw) if raw.strip() else _DEFAULT_MAX_QUEUE_SIZE
    except ValueError:
        value = 0
    if value <= 0:
        _logger.error("otel-agentmon: %s=%r is not a positive integer; using %d",
                      OTEL_BSP_MAX_QUEUE_SIZE, raw, _DEFAULT_MAX_QUEUE_SIZE)
        return _DEFAULT_MAX_QUEUE_SIZE
    return value


class RetryingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor whose exports are retried with backoff (``retry``) and whose
    dropped spans are counted in ``agentmon.spans.dropped`` and logged once per episode.

    Arguments are the SDK's (unset ones read the OTEL_BSP_* variables). Memory stays bounded:
    at most ``max_queue_size`` spans wait, plus the one batch being exported.
    """

    def __init__(
        self,
        span_exporter: SpanExporter,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
        *,
        retry: RetryPolicy | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._capacity = max_queue_size if max_queue_size is not None else _max_queue_size_from_env()
        self._lock = threading.Lock()
        self._waiting = 0  # spans handed to the queue and not yet taken by an export
        self._closed = False
        # Name the exporter that talks to the backend, not our wrappers around it.
        inner = getattr(span_exporter, "exporter", span_exporter)
        self.dropped = DroppedSpans(type(inner).__name__, meter_provider)
        self._retrying = RetryingSpanExporter(
            span_exporter, self.dropped, retry, on_taken=self._taken, on_success=self._exported
        )
        super().__init__(
            self._retrying,
            max_queue_size=self._capacity,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=max_export_batch_size,
            export_timeout_millis=export_timeout_millis,
            meter_provider=meter_provider,
        )

    @property
    def waiting(self) -> int:
        """Spans queued for export and not yet handed to the exporter."""
        return self._waiting

    def _taken(self, count: int) -> None:
        with self._lock:
            self._waiting = max(0, self._waiting - count)

    def _exported(self) -> None:
        # An episode of drops ends when exports succeed and the queue has room again, so a
        # backend that is merely slow does not log a line for every batch.
        if self._waiting <= self._capacity // 2:
            self.dropped.recovered()

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed or not (span.context and span.context.trace_flags.sampled):
            return
        with self._lock:
            full = self._waiting >= self._capacity
            if not full:
                self._waiting += 1
        if full:
            self.dropped.add(1, m.DROPPED_QUEUE_FULL)
            return
        super().on_end(span)

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Export everything queued; a failing backend is retried for ``timeout_millis``
        (default 30 s), then what could not be sent is dropped and counted."""
        timeout = (30000 if timeout_millis is None else timeout_millis) / 1000
        self._retrying.give_up_at(time.monotonic() + timeout)
        try:
            return super().force_flush(timeout_millis)
        finally:
            if not self._closed:
                self._retrying.give_up_at(None)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._retrying.give_up_at(time.monotonic() + SHUTDOWN_RETRY_SECONDS)
        super().shutdown()
        # Whatever never reached the exporter is lost now; count it.
        with self._lock:
            lost, self._waiting = self._waiting, 0
        self.dropped.add(lost, m.DROPPED_SHUTDOWN)
