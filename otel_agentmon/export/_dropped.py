"""Spans that will never reach the backend: counted in a metric, logged once per episode."""

from __future__ import annotations

import logging
import threading

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider

from otel_agentmon.semconv import gen_ai
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")
SCOPE = "otel_agentmon.export"

_WHY = {
    m.DROPPED_QUEUE_FULL: "the export queue is full because the exporter is failing or slower than the application",
    m.DROPPED_EXPORT_FAILED: "the exporter kept failing for the whole retry period",
    m.DROPPED_SHUTDOWN: "shutdown or a flush ran out of time while the exporter was failing",
}


class DroppedSpans:
    """Counts dropped spans in ``agentmon.spans.dropped`` (by ``error.type``).

    An outage drops spans by the thousand; the log says so once when the first one goes and
    once when exporting is healthy again, never a line per span.
    """

    def __init__(self, exporter_name: str, meter_provider: MeterProvider | None = None) -> None:
        from otel_agentmon import __version__

        self._exporter_name = exporter_name
        self._counter = metrics.get_meter(SCOPE, __version__, meter_provider).create_counter(
            m.SPANS_DROPPED, unit=m.UNIT_SPANS, description="Finished spans that were never exported, by reason."
        )
        self._lock = threading.Lock()
        self._in_episode = 0  # dropped since the episode began; 0 when exporting is healthy
        self.total = 0

    def add(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self._counter.add(count, {gen_ai.ERROR_TYPE: reason})
        with self._lock:
            first = self._in_episode == 0
            self._in_episode += count
            self.total += count
        if first:
            _logger.warning(
                "otel-agentmon: dropping spans for %s: %s; they are counted in %s{%s=%r} "
                "(logged once until export recovers)",
                self._exporter_name, _WHY.get(reason, reason), m.SPANS_DROPPED, gen_ai.ERROR_TYPE, reason,
            )

    def recovered(self) -> None:
        """Exporting is healthy again: end the episode, saying how many spans it cost."""
        if not self._in_episode:  # the common case, without the lock
            return
        with self._lock:
            dropped, self._in_episode = self._in_episode, 0
        if dropped:
            _logger.info("otel-agentmon: exporting to %s recovered; %d spans were dropped meanwhile",
                         self._exporter_name, dropped)
