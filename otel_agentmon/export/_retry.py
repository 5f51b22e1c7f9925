"""Retry a failed export with backoff, instead of losing the batch at the first failure.

The OTLP exporters retry transient errors only until their own timeout (10 s by default) and
then drop the batch, so a backend restarting for half a minute would lose spans even with
room left in the queue. Here a failed batch is tried again, with exponential backoff, for
up to ``RetryPolicy.max_elapsed`` seconds (as the Collector's ``retry_on_failure`` does).
The export worker waits meanwhile and newer spans wait in the BatchSpanProcessor's bounded
queue, so nothing is lost while the backend is back before that queue fills.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agentmon.export._dropped import DroppedSpans
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a failed export is tried again (seconds).

    The defaults are the Collector's ``retry_on_failure`` (max elapsed 300 s, interval up to
    30 s), with a shorter first interval: a restarting backend is usually back within seconds.
    """

    initial_interval: float = 1.0
    max_interval: float = 30.0
    max_elapsed: float = 300.0
    jitter: float = 0.2  # +/- this fraction on every interval, so many processes do not retry in step

    def __post_init__(self) -> None:
        for name in ("initial_interval", "max_interval", "max_elapsed"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"RetryPolicy.{name} must be a number of seconds >= 0, not {value!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"RetryPolicy.jitter must be in [0, 1), not {self.jitter!r}")


class RetryingSpanExporter(SpanExporter):
    """Wraps ``exporter``: a failed (or raising) export is retried until it succeeds, the
    retry period ends, or a deadline set by flush/shutdown passes; then the batch is dropped
    and counted in ``dropped``.

    ``on_taken(n)`` is called when a batch of ``n`` spans arrives (it has left the queue).
    Exports are not concurrent: the BatchSpanProcessor calls ``export`` under its export lock.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        dropped: DroppedSpans,
        policy: RetryPolicy | None = None,
        on_taken: Callable[[int], None] | None = None,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        self.exporter = exporter
        self._dropped = dropped
        self._policy = policy or RetryPolicy()
        self._on_taken = on_taken
        self._on_success = on_success
        self._stopped = threading.Event()  # set by shutdown: wakes a waiting retry, no more attempts
        self._give_up_at: float | None = None  # monotonic deadline from a flush or shutdown
        self._give_up_reason = m.DROPPED_SHUTDOWN
        self._failing = False  # the last attempt failed
        self._warned_exception = False

    def give_up_at(self, deadline: float | None) -> None:
        """Stop retrying at ``deadline`` (``time.monotonic()``); None lifts it."""
        self._give_up_at = deadline

    def _attempt(self, spans: Sequence[ReadableSpan]) -> bool:
        try:
            return self.exporter.export(spans) is SpanExportResult.SUCCESS
        except Exception:  # an exporter bug must not kill the export worker thread
            if not self._warned_exception:
                self._warned_exception = True
                _logger.exception("otel-agentmon: %s raised while exporting; retrying", type(self.exporter).__name__)
            return False

    def _deadline(self, started: float) -> tuple[float, str]:
        deadline, reason = started + self._policy.max_elapsed, m.DROPPED_EXPORT_FAILED
        give_up_at = self._give_up_at
        if give_up_at is not None and give_up_at < deadline:
            deadline, reason = give_up_at, self._give_up_reason
        return deadline, reason

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._on_taken is not None:
            self._on_taken(len(spans))
        started = time.monotonic()
        interval = self._policy.initial_interval
        while True:
            deadline, reason = self._deadline(started)
            # Past a flush or shutdown deadline with the backend already failing, one more
            # attempt would only hold the caller for another exporter timeout.
            hopeless = self._stopped.is_set() or (self._failing and time.monotonic() >= deadline)
            if not hopeless:
                if self._attempt(spans):
                    self._failing = False
                    if self._on_success is not None:
                        self._on_success()
                    return SpanExportResult.SUCCESS
                self._failing = True
            remaining = deadline - time.monotonic()
            if self._stopped.is_set() or remaining <= 0:
                self._dropped.add(len(spans), m.DROPPED_SHUTDOWN if self._stopped.is_set() else reason)
                return SpanExportResult.FAILURE
            pause = interval * random.uniform(1 - self._policy.jitter, 1 + self._policy.jitter)
            self._stopped.wait(min(pause, remaining))
            interval = min(interval * 2, self._policy.max_interval)

    def shutdown(self) -> None:
        self._stopped.set()
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)
