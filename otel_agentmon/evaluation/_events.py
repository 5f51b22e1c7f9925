"""Where evaluation results go: gen_ai.evaluation.result log records tied to the evaluated
span, the agentmon.quality.score histogram, the drift gauge, and the dropped / error counters."""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Iterable

from opentelemetry import metrics, trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.trace import NonRecordingSpan, SpanContext

from otel_agentmon import __version__
from otel_agentmon._cardinality import capped_counter, capped_histogram
from otel_agentmon.evaluation._drift import DriftTracker
from otel_agentmon.evaluation._types import EvaluationResult
from otel_agentmon.instrumentation._content import redact
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")

# The logger / meter scope evaluation telemetry is emitted under.
SCOPE = "otel_agentmon.evaluation"
MAX_EXPLANATION_CHARS = 1024

_NAME = ga.EVALUATION_NAME
_SCORE = ga.EVALUATION_SCORE_VALUE
_LABEL = ga.EVALUATION_SCORE_LABEL
_EXPLANATION = ga.EVALUATION_EXPLANATION


def _explanation(text: str) -> str:
    text = redact(text)
    return text if len(text) <= MAX_EXPLANATION_CHARS else text[: MAX_EXPLANATION_CHARS - 1] + "\u2026"


class EvaluationTelemetry:
    """The instruments and the logger, from the given providers or the global ones.

    One per MeterProvider (``for_provider``): instruments are created once, and a new
    configuration swaps in its drift tracker and logger provider.
    """

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        self.drift = DriftTracker()
        self.logger_provider: LoggerProvider | None = None
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.score = capped_histogram(
            meter, m.QUALITY_SCORE, meter_provider, unit=m.UNIT_SCORE,
            description="Quality scores given by the evaluators to sampled model calls, from 0 (bad) to 1 (good).",
            explicit_bucket_boundaries_advisory=list(m.QUALITY_SCORE_BUCKETS),
        )
        self.dropped = meter.create_counter(
            m.EVALUATIONS_DROPPED, unit=m.UNIT_EVALUATIONS,
            description="Evaluations not run because the evaluation queue was full.",
        )
        self.errors = capped_counter(
            meter, m.EVALUATION_ERRORS, meter_provider, unit=m.UNIT_ERRORS,
            description="Evaluator calls that raised or returned something that is not a score.",
        )
        meter.create_observable_gauge(
            m.QUALITY_DRIFT, callbacks=[self._observe_drift], unit=m.UNIT_SCORE,
            description="Rolling-window mean score minus the baseline mean, per evaluation.",
        )

    def _observe_drift(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, {_NAME: name}) for name, value in self.drift.drift().items()]

    def error(self, evaluator: str) -> None:
        self.errors.add(1, {_NAME: evaluator})

    def record(self, result: EvaluationResult, span_context: SpanContext | None, event_attributes: dict[str, Any],
               metric_attributes: dict[str, Any], with_explanation: bool) -> None:
        """The result as a log record tied to the span, a histogram point and a drift sample."""
        attributes = {_NAME: result.name, _SCORE: result.score, **event_attributes}
        if result.label is not None:
            attributes[_LABEL] = result.label
        if with_explanation and result.explanation:
            attributes[_EXPLANATION] = _explanation(result.explanation)
        context = None
        if span_context is not None and span_context.is_valid:
            context = trace.set_span_in_context(NonRecordingSpan(span_context), Context())
        # looked up per result: the application may set its LoggerProvider after evaluation starts
        get_logger(SCOPE, __version__, logger_provider=self.logger_provider).emit(
            event_name=ga.EVALUATION_RESULT_EVENT, context=context, severity_number=SeverityNumber.INFO,
            severity_text="INFO", attributes=attributes,
        )
        self.score.record(result.score, {_NAME: result.name, **metric_attributes})
        self.drift.add(result.name, result.score)


_by_provider: "weakref.WeakKeyDictionary[Any, EvaluationTelemetry]" = weakref.WeakKeyDictionary()
_by_provider_lock = threading.Lock()


def telemetry_for(drift: DriftTracker, meter_provider: MeterProvider | None = None,
                  logger_provider: LoggerProvider | None = None) -> EvaluationTelemetry:
    """The telemetry of ``meter_provider`` (the global one when None), now using ``drift``
    and ``logger_provider``."""
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    with _by_provider_lock:
        telemetry = _by_provider.get(provider)
        if telemetry is None:
            telemetry = _by_provider[provider] = EvaluationTelemetry(provider)
        telemetry.drift = drift
        telemetry.logger_provider = logger_provider
    return telemetry


def event_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Which call it was, for the event: model, provider, operation and response id."""
    out = {}
    for key in (ga.REQUEST_MODEL, ga.PROVIDER_NAME, ga.OPERATION_NAME, ga.RESPONSE_ID, ga.RESPONSE_MODEL):
        value = attributes.get(key)
        if value is not None:
            out[key] = value
    return out


def metric_attributes(attributes: dict[str, Any], application: str | None) -> dict[str, Any]:
    """agentmon.quality.score labels besides the evaluation name: provider, request model and
    application (all bounded: the application label is already capped by attribution)."""
    out = {}
    for key in (ga.PROVIDER_NAME, ga.REQUEST_MODEL):
        value = attributes.get(key)
        if value is not None:
            out[key] = value
    if application is not None:
        out[am.APPLICATION] = application
    return out
