"""GenAI metrics recorded off the request thread.

Recording one measurement in the OpenTelemetry SDK costs about as much as creating a span
(attribute-set hashing, aggregation lookup, a lock); a model call records four or five. The
request thread only appends the call's figures to a bounded buffer; a daemon thread records
them every 100 ms, prices the call and categorizes its error with the same enricher the
export path uses. Buffered figures are recorded on ``flush()`` and at interpreter exit.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
from typing import Any

from otel_agentmon._attribution import Attribution
from otel_agentmon._runtime import current_enricher
from otel_agentmon.budgets import record_spend
from otel_agentmon.instrumentation._telemetry import Instruments
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")

MAX_PENDING = 65_536  # about 50 MB at worst; beyond it new figures are dropped and counted
INTERVAL_SECONDS = 0.1

_TOKEN_INPUT = {ga.TOKEN_TYPE: ga.TokenType.INPUT}
_TOKEN_OUTPUT = {ga.TOKEN_TYPE: ga.TokenType.OUTPUT}


class CallFigures:
    """What one model call hands to the recorder; built on the request thread, read later."""

    __slots__ = ("instruments", "duration", "time_to_first_chunk", "attributes", "metric_attributes", "exceptions",
                 "who", "cost_user")

    def __init__(self, instruments: Instruments, duration: float, time_to_first_chunk: float | None,
                 attributes: dict[str, Any], metric_attributes: dict[str, Any],
                 exceptions: tuple[tuple[str | None, str | None], ...], who: Attribution | None = None,
                 cost_user: dict[str, str] | None = None) -> None:
        self.instruments = instruments
        self.duration = duration
        self.time_to_first_chunk = time_to_first_chunk
        self.attributes = attributes
        self.metric_attributes = metric_attributes
        self.exceptions = exceptions
        self.who = who  # set when budgets are configured: the call's spend goes to them
        self.cost_user = cost_user  # user.id label of agentmon.cost (AGENTMON_METRICS_USER_ID)

    def record(self) -> None:
        instruments = self.instruments
        attributes = self.attributes
        metric_attributes = self.metric_attributes
        instruments.operation_duration.record(self.duration, metric_attributes)
        metric_attributes.pop(ga.ERROR_TYPE, None)  # token, cost and error counts carry no error.type
        input_tokens = attributes.get(ga.USAGE_INPUT_TOKENS)
        if type(input_tokens) is int:
            instruments.token_usage.record(input_tokens, {**metric_attributes, **_TOKEN_INPUT})
        output_tokens = attributes.get(ga.USAGE_OUTPUT_TOKENS)
        if type(output_tokens) is int:
            instruments.token_usage.record(output_tokens, {**metric_attributes, **_TOKEN_OUTPUT})
        if self.time_to_first_chunk is not None:
            instruments.time_to_first_chunk.record(self.time_to_first_chunk, metric_attributes)
        failed = ga.ERROR_TYPE in attributes
        derived = current_enricher().derive(attributes, None, failed, self.exceptions)
        amount = derived.get(am.COST_AMOUNT, attributes.get(am.COST_AMOUNT))
        if amount is not None:
            cost_user = self.cost_user
            instruments.cost.add(amount, {**metric_attributes, **cost_user} if cost_user else metric_attributes)
            if self.who is not None:
                record_spend(self.who, amount)
        category = derived.get(am.ERROR_CATEGORY)
        if category is not None:
            instruments.errors.add(1, {
                am.ERROR_CATEGORY: category,
                am.ERROR_SEVERITY: derived.get(am.ERROR_SEVERITY),
                ga.OPERATION_NAME: metric_attributes.get(ga.OPERATION_NAME),
                ga.PROVIDER_NAME: metric_attributes.get(ga.PROVIDER_NAME),
            })


class MetricsRecorder:
    def __init__(self) -> None:
        self._pending: collections.deque[CallFigures] = collections.deque()
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def submit(self, figures: CallFigures) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            if self.dropped == 1:
                _logger.warning("otel-agentmon: metric buffer full (%d calls); dropping figures", MAX_PENDING)
            return
        self._pending.append(figures)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._drain_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="otel-agentmon-metrics", daemon=True)
            self._thread.start()

    def after_fork(self) -> None:
        """In a forked child the thread is gone: start afresh (figures buffered before the fork
        belong to the parent, which records them)."""
        self._pending = collections.deque()
        self._drain_lock = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait(INTERVAL_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Record everything buffered so far (safe from any thread)."""
        with self._drain_lock:
            pending = self._pending
            while pending:
                try:
                    figures = pending.popleft()
                except IndexError:
                    return
                try:
                    figures.record()
                except Exception:
                    _logger.debug("otel-agentmon: could not record a call's metrics", exc_info=True)


RECORDER = MetricsRecorder()
atexit.register(RECORDER.flush)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=RECORDER.after_fork)


def flush_metrics() -> None:
    """Record the GenAI metrics still buffered (before reading an in-memory reader, say)."""
    RECORDER.flush()
