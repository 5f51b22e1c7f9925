"""Spans and duration metrics for the steps a framework reports: agents, tools, workflows, and
model calls that no SDK instrumentor sees."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_agentmon import __version__
from otel_agentmon._cardinality import capped_histogram
from otel_agentmon.instrumentation._errors import exception_type_name
from otel_agentmon.instrumentation._invocation import Inference
from otel_agentmon.instrumentation._options import InstrumentationOptions
from otel_agentmon.integrations._context import attach, detach
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")

# error.type when a framework reports a failure without the exception (a tool error it turned
# into a message for the model): the OpenTelemetry error.type fallback value.
OTHER_ERROR = "_OTHER"

_MAX_STATUS_DESCRIPTION = 1024
_Operation = ga.Operation

# the attribute that names the target of each operation (the span name's second word)
_TARGET_ATTRIBUTE = {
    _Operation.INVOKE_AGENT: ga.AGENT_NAME,
    _Operation.EXECUTE_TOOL: ga.TOOL_NAME,
    _Operation.INVOKE_WORKFLOW: ga.WORKFLOW_NAME,
}

F = TypeVar("F", bound=Callable[..., Any])
_reported: set[str] = set()


def guarded(method: F) -> F:
    """Framework callbacks must never fail the application: a fault here is logged once (per
    callback) and swallowed."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            name = method.__qualname__
            if name not in _reported:
                _reported.add(name)
                _logger.warning("otel-agentmon: %s failed; telemetry for this step may be incomplete",
                                name, exc_info=True)
            return None

    return wrapper  # type: ignore[return-value]


class Step:
    """One agent, tool or workflow span: current while the step runs, ended once, its duration
    recorded on the operation's histogram."""

    __slots__ = ("span", "_token", "_started", "_histogram", "_metric_attributes", "_ended")

    def __init__(self, span: Span, token: object, histogram: Any, metric_attributes: dict[str, Any]) -> None:
        self.span = span
        self._token = token
        self._histogram = histogram
        self._metric_attributes = metric_attributes
        self._started = time.perf_counter()
        self._ended = False

    def end(self, error_type: str | None = None, description: str | None = None,
            exception: BaseException | None = None, attributes: Mapping[str, Any] | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._started
        span = self.span
        if attributes:
            span.set_attributes(attributes)
        if error_type is not None:
            span.set_attribute(ga.ERROR_TYPE, error_type)
            span.set_status(Status(StatusCode.ERROR, (description or error_type)[:_MAX_STATUS_DESCRIPTION]))
            if exception is not None:
                span.record_exception(exception)
        span.end()
        detach(self._token)
        if self._histogram is not None:
            metric_attributes = self._metric_attributes
            if error_type is not None:
                metric_attributes[ga.ERROR_TYPE] = error_type
            # recorded on the calling thread: a framework's own callback machinery costs far
            # more per step than one histogram update
            self._histogram.record(duration, metric_attributes)


class ModelCall:
    """A model call the integration reports itself (no instrumentor sees the SDK call)."""

    __slots__ = ("inference", "_token")

    def __init__(self, inference: Inference, token: object) -> None:
        self.inference = inference
        self._token = token

    @property
    def span(self) -> Span:
        return self.inference.span

    def first_chunk(self) -> None:
        self.inference.first_chunk()

    def end(self, attributes: Mapping[str, Any] | None = None, error: BaseException | None = None,
            error_type: str | None = None, description: str | None = None) -> None:
        """End with the response attributes; ``error`` is the exception when the framework
        handed it over, ``error_type``/``description`` a failure reported without one."""
        if error is None and error_type is not None:
            span = self.inference.span
            span.set_status(Status(StatusCode.ERROR, (description or error_type)[:_MAX_STATUS_DESCRIPTION]))
            attributes = {**(attributes or {}), ga.ERROR_TYPE: error_type}
        self.inference.end(attributes, error)
        detach(self._token)


class Telemetry:
    """The tracer and instruments of one integration (its own instrumentation scope)."""

    def __init__(self, scope: str, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(scope, __version__, tracer_provider)
        meter = metrics.get_meter(scope, __version__, meter_provider)
        agent_buckets = list(m.INVOKE_AGENT_DURATION_BUCKETS)
        self._histograms = {
            _Operation.INVOKE_AGENT: capped_histogram(
                meter, m.INVOKE_AGENT_DURATION, meter_provider, unit=m.UNIT_SECONDS, description="GenAI agent invocation duration.",
                explicit_bucket_boundaries_advisory=agent_buckets),
            _Operation.EXECUTE_TOOL: capped_histogram(
                meter, m.EXECUTE_TOOL_DURATION, meter_provider, unit=m.UNIT_SECONDS, description="GenAI tool execution duration.",
                explicit_bucket_boundaries_advisory=list(m.DURATION_BUCKETS)),
            _Operation.INVOKE_WORKFLOW: capped_histogram(
                meter, m.WORKFLOW_DURATION, meter_provider, unit=m.UNIT_SECONDS, description="GenAI workflow duration.",
                explicit_bucket_boundaries_advisory=agent_buckets),
        }
        # model calls reported by the integration get the same spans and client metrics as the
        # SDK instrumentors' (content capture stays off: frameworks' message objects vary)
        self._model = InstrumentationOptions.from_kwargs(
            {"tracer_provider": tracer_provider, "meter_provider": meter_provider, "capture_content": False},
            scope=scope,
        )

    def start_step(self, operation: str, target: str | None, parent: Span | None,
                   attributes: Mapping[str, Any] | None = None) -> Step:
        """Start the span under ``parent`` (else the current span), with its operation and name
        attributes set at start, and make it current."""
        base = otel_context.get_current()
        context = trace.set_span_in_context(parent, base) if parent is not None else base
        start_attributes: dict[str, Any] = {ga.OPERATION_NAME: operation}
        metric_attributes = dict(start_attributes)
        target_attribute = _TARGET_ATTRIBUTE.get(operation)
        if target and target_attribute:
            start_attributes[target_attribute] = target
            metric_attributes[target_attribute] = target
        if attributes:
            start_attributes.update(attributes)
        span = self.tracer.start_span(ga.span_name(operation, target), context=context, kind=SpanKind.INTERNAL,
                                      attributes=start_attributes)
        return Step(span, attach(span, base), self._histograms.get(operation), metric_attributes)

    def start_plain(self, name: str, parent: Span | None) -> Step:
        """A span for a step the framework's user named (no GenAI operation, no metric)."""
        base = otel_context.get_current()
        context = trace.set_span_in_context(parent, base) if parent is not None else base
        span = self.tracer.start_span(name, context=context, kind=SpanKind.INTERNAL)
        return Step(span, attach(span, base), None, {})

    def start_model_call(self, operation: str, provider: str, model: str | None, parent: Span | None,
                         server_address: str | None = None, server_port: int | None = None) -> ModelCall:
        options = self._model
        base = otel_context.get_current()
        # Inference starts its span under the current context: make the parent current for that
        parent_token = attach(parent, base) if parent is not None else None
        try:
            inference = Inference(options.tracer, options.instruments, operation, provider, model,
                                  server_address, server_port)
        finally:
            if parent_token is not None:
                detach(parent_token)
        return ModelCall(inference, attach(inference.span, base))


def exception_error_type(exc: BaseException) -> str:
    """``error.type`` of a failed agent or tool step: the exception's class."""
    return exception_type_name(exc)


def usage_attributes(input_tokens: Any, output_tokens: Any, cache_read: Any = None, cache_write: Any = None,
                     reasoning: Any = None) -> dict[str, Any]:
    """Token usage in the GenAI conventions' shape (input includes cache reads and writes,
    output includes reasoning); counts that are not non-negative integers are left out, and
    zero cache and reasoning counts too, as the SDK instrumentors do."""
    attributes: dict[str, Any] = {}
    for key, value, keep_zero in (
        (ga.USAGE_INPUT_TOKENS, input_tokens, True),
        (ga.USAGE_OUTPUT_TOKENS, output_tokens, True),
        (ga.USAGE_CACHE_READ_INPUT_TOKENS, cache_read, False),
        (ga.USAGE_CACHE_WRITE_INPUT_TOKENS, cache_write, False),
        (ga.USAGE_REASONING_OUTPUT_TOKENS, reasoning, False),
    ):
        if type(value) is int and value >= 0 and (keep_zero or value):
            attributes[key] = value
    return attributes


def server_of_url(url: Any) -> tuple[str | None, int | None]:
    """(server.address, server.port) of a base URL, or (None, None)."""
    if not isinstance(url, str) or not url:
        return None, None
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port
    except ValueError:
        return None, None
