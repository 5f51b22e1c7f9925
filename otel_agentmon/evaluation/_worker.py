"""The evaluation queue and the thread that runs the evaluators.

The request thread only puts a Capture on a bounded queue (``put_nowait``); when the queue is
full the call is not evaluated and ``agentmon.evaluation.dropped`` counts it. One daemon
thread, started with the first sampled call (and again in a forked child), takes captures
off the queue and runs every evaluator on each, with OpenTelemetry instrumentation suppressed
so that an LLM judge's own model calls are neither traced nor evaluated. Nothing an evaluator
does (raise, return garbage, hang) reaches the application.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider

from otel_agentmon.evaluation._capture import Capture
from otel_agentmon.evaluation._drift import DEFAULT_BASELINE_SIZE, DEFAULT_WINDOW, MAX_NAMES, DriftTracker
from otel_agentmon.evaluation._events import event_attributes, metric_attributes, telemetry_for
from otel_agentmon.evaluation._settings import EvaluationSettings
from otel_agentmon.evaluation._types import InvalidResult, normalize

_logger = logging.getLogger("otel_agentmon")

EXIT_TIMEOUT_SECONDS = 2.0
_STOP = object()


class EvaluationEngine:
    """The evaluators of one configuration, their queue, their thread and their telemetry."""

    def __init__(self, settings: EvaluationSettings, *, window: int = DEFAULT_WINDOW,
                 baseline: Mapping[str, float] | None = None, baseline_size: int = DEFAULT_BASELINE_SIZE,
                 meter_provider: MeterProvider | None = None, logger_provider: LoggerProvider | None = None) -> None:
        self.settings = settings
        self.evaluators = settings.evaluators
        self.drift = DriftTracker(window, baseline_size, baseline)
        self.telemetry = telemetry_for(self.drift, meter_provider, logger_provider)
        self.closed = False
        self.dropped = 0  # also counted by agentmon.evaluation.dropped; kept for tests and status
        self._queue: queue.Queue[Any] = queue.Queue(settings.queue_size)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._warned: set[str] = set()
        self._names: set[str] = set()

    # --- request thread -------------------------------------------------------------------

    def submit(self, capture: Capture) -> None:
        """Queue a call for evaluation: O(1), never blocks, never raises."""
        if self.closed:
            return
        try:
            self._queue.put_nowait(capture)
        except queue.Full:
            self._drop()
            return
        if self._thread is None:
            self._start()

    def _drop(self) -> None:
        self.dropped += 1
        try:
            self.telemetry.dropped.add(1)
        except Exception:
            pass
        if self.dropped == 1:
            _logger.warning("otel-agentmon: the evaluation queue is full (%d calls); sampled calls are not "
                            "evaluated until it drains (counted by the evaluation dropped metric)",
                            self.settings.queue_size)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self.closed:
                return
            thread = threading.Thread(target=self._run, name="otel-agentmon-evaluation", daemon=True)
            thread.start()
            self._thread = thread
        _register_exit_flush()

    # --- evaluation thread ----------------------------------------------------------------

    def _run(self) -> None:
        # A fresh context with instrumentation suppressed: nothing of the request that started
        # this thread leaks in, and an evaluator's own model calls are not traced or evaluated.
        otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True,
                                                   otel_context.Context()))
        jobs = self._queue
        while True:
            capture = jobs.get()
            try:
                if capture is _STOP:
                    return
                self._evaluate(capture)
            except Exception:
                _logger.debug("otel-agentmon: could not evaluate a call", exc_info=True)
            finally:
                jobs.task_done()

    def _evaluate(self, capture: Capture) -> None:
        item = capture.to_input()
        if item is None:
            return
        events = event_attributes(capture.attributes)
        labels = metric_attributes(capture.attributes, capture.application)
        telemetry = self.telemetry
        for name, evaluator in self.evaluators:
            try:
                results = normalize(name, evaluator(item))
            except Exception as exc:
                self._error(name, exc)
                continue
            for result in results:
                if result.name not in self._names:
                    if len(self._names) >= MAX_NAMES:
                        self._error(name, InvalidResult(f"more than {MAX_NAMES} evaluation names; "
                                                        f"{result.name!r} is not recorded"))
                        continue
                    self._names.add(result.name)
                try:
                    telemetry.record(result, capture.span_context, events, labels, capture.capture_content)
                except Exception:
                    _logger.debug("otel-agentmon: could not record an evaluation result", exc_info=True)

    def _error(self, name: str, exc: BaseException) -> None:
        try:
            self.telemetry.error(name)
        except Exception:
            pass
        if name not in self._warned:
            self._warned.add(name)
            _logger.warning("otel-agentmon: evaluator %r failed (%s: %s); counted by the evaluation errors "
                            "metric, further failures are logged at debug level", name, type(exc).__name__, exc,
                            exc_info=exc)
        else:
            _logger.debug("otel-agentmon: evaluator %r failed", name, exc_info=exc)

    # --- any thread -----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued call is evaluated; False when ``timeout`` ran out first."""
        jobs = self._queue
        deadline = None if timeout is None else time.monotonic() + timeout
        with jobs.all_tasks_done:
            while jobs.unfinished_tasks:
                if self._thread is None:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                jobs.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float | None = None, drain: bool = True) -> bool:
        """Stop taking calls and stop the thread once the queued calls are evaluated (or, with
        ``drain=False``, dropped uncounted); False when ``timeout`` ran out first."""
        self.closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._start_lock:
            thread = self._thread
        if thread is None:
            return True
        jobs = self._queue
        if not drain:
            while True:
                try:
                    jobs.get_nowait()
                except queue.Empty:
                    break
                jobs.task_done()
        try:
            jobs.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def after_fork(self) -> None:
        """In a forked child the thread is gone: start afresh (calls queued before the fork
        belong to the parent, which evaluates them)."""
        self._queue = queue.Queue(self.settings.queue_size)
        self._start_lock = threading.Lock()
        self._thread = None


_exit_registered = False


def _register_exit_flush() -> None:
    # Registered when the first evaluation thread starts, after the application set its
    # providers: atexit runs handlers last-in first-out, so this one runs before the
    # providers' own shutdown and the last events are still exported.
    global _exit_registered
    if not _exit_registered:
        _exit_registered = True
        atexit.register(_flush_at_exit)


def _flush_at_exit() -> None:
    from otel_agentmon.evaluation._capture import EVALUATION

    engine = EVALUATION.engine
    if engine is not None:
        engine.flush(EXIT_TIMEOUT_SECONDS)


def _after_fork_in_child() -> None:
    from otel_agentmon.evaluation._capture import EVALUATION

    engine = EVALUATION.engine
    if engine is not None:
        engine.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
