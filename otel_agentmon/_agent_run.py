"""One agent, tool or workflow run: its span, its deadline and its duration metric, ended once."""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_agentmon._agent_telemetry import TELEMETRY
from otel_agentmon._cardinality import CappedHistogram
from otel_agentmon.instrumentation._errors import error_type
from otel_agentmon.instrumentation._recorder import RECORDER
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")

_MAX_STATUS_DESCRIPTION = 1024
_ERROR_TYPE = ga.ERROR_TYPE
_AGENT_NAME = ga.AGENT_NAME
_EXECUTE_TOOL = ga.Operation.EXECUTE_TOOL


class AgentTimeoutError(TimeoutError):
    """An agent ran past the ``timeout`` given to ``otel_agentmon.agent``.

    Categorized ``agent_timeout``. Async agents are cancelled at the deadline; sync agents
    cannot be interrupted, so their late result is discarded and this is raised when they
    return (see ``otel_agentmon.agent``).
    """

    def __init__(self, agent_name: str, timeout: float) -> None:
        super().__init__(f"agent {agent_name!r} exceeded its timeout of {timeout:g} s")
        self.agent_name = agent_name
        self.timeout = timeout

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes despite the signature
        return (type(self), (self.agent_name, self.timeout))


class RunSpec:
    """What every run of one ``agent(...)``, ``tool(...)`` or ``workflow(...)`` shares."""

    __slots__ = ("operation", "name", "span_name", "attributes", "metric_attributes", "timeout")

    def __init__(self, operation: str, name: str, attributes: Mapping[str, Any],
                 metric_attributes: Mapping[str, Any], timeout: float | None = None) -> None:
        self.operation = operation
        self.name = name
        self.span_name = ga.span_name(operation, name)
        self.attributes = dict(attributes)
        self.metric_attributes = dict(metric_attributes)
        self.timeout = timeout


class _Duration:
    """A duration handed to the metrics recorder thread (the same one model calls use)."""

    __slots__ = ("histogram", "value", "attributes")

    def __init__(self, histogram: CappedHistogram, value: float, attributes: Mapping[str, Any]) -> None:
        self.histogram = histogram
        self.value = value
        self.attributes = attributes

    def record(self) -> None:
        self.histogram.record(self.value, self.attributes)


_faults: set[str] = set()


def _fault(where: str) -> None:
    """Telemetry must never break the application: log once per place, carry on."""
    if where not in _faults:
        _faults.add(where)
        _logger.warning("otel-agentmon: fault in the agent API (%s); the function runs untouched", where,
                        exc_info=True)


class Run:
    """Started when the agent, tool or workflow starts; ``end`` records the outcome once."""

    __slots__ = ("spec", "span", "_context", "_started", "deadline", "_metric_attributes", "_ended")

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        metric_attributes = spec.metric_attributes
        if spec.operation == _EXECUTE_TOOL:
            # the tool metric names the agent that ran the tool, when the tool runs in one
            parent = getattr(trace.get_current_span(), "attributes", None)
            agent_name = parent.get(_AGENT_NAME) if parent else None
            if isinstance(agent_name, str):
                metric_attributes = {**metric_attributes, _AGENT_NAME: agent_name}
        self._metric_attributes = metric_attributes
        self.span: Span = TELEMETRY.tracer().start_span(spec.span_name, kind=SpanKind.INTERNAL,
                                                        attributes=spec.attributes)
        self._context = trace.set_span_in_context(self.span)
        self._started = time.perf_counter()
        self.deadline = self._started + spec.timeout if spec.timeout is not None else None
        self._ended = False

    # -- the function runs with the span current, so model and tool spans nest under it
    def attach(self) -> object:
        return otel_context.attach(self._context)

    def detach(self, token: object) -> None:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative); None without a timeout."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def late(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def timeout_error(self) -> AgentTimeoutError:
        return AgentTimeoutError(self.spec.name, self.spec.timeout or 0.0)

    def end(self, error: BaseException | None = None) -> None:
        """End the span and record the duration; later calls do nothing.

        Only Exceptions are failures: cancellation, GeneratorExit, KeyboardInterrupt and
        SystemExit end the span without an error, as the work did not fail, it was stopped.
        """
        if self._ended:
            return
        self._ended = True
        try:
            duration = time.perf_counter() - self._started
            span = self.span
            attributes = self._metric_attributes
            if isinstance(error, Exception):
                kind = error_type(error)
                attributes = {**attributes, _ERROR_TYPE: kind}
                span.set_attribute(_ERROR_TYPE, kind)
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(error)[:_MAX_STATUS_DESCRIPTION]))
            span.end()
            RECORDER.submit(_Duration(TELEMETRY.histogram(self.spec.operation), duration, attributes))  # type: ignore[arg-type]
        except Exception:
            _fault(f"ending {self.spec.span_name}")


class NullRun:
    """Stands in when a span could not be started: the function runs, nothing is recorded."""

    __slots__ = ()
    span: Span = trace.INVALID_SPAN
    deadline = None

    def attach(self) -> object:
        return None

    def detach(self, token: object) -> None:
        pass

    def remaining(self) -> float | None:
        return None

    def late(self) -> bool:
        return False

    def end(self, error: BaseException | None = None) -> None:
        pass


_NULL_RUN = NullRun()


def begin(spec: RunSpec) -> Run | NullRun:
    """Start a run; never raises (a fault gives a run that records nothing)."""
    try:
        return Run(spec)
    except Exception:
        _fault(f"starting {spec.span_name}")
        return _NULL_RUN
