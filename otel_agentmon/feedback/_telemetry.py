"""Where feedback goes: a ``gen_ai.evaluation.result`` log record tied to the rated span and a
point of the ``agentmon.feedback.rating`` histogram, through the global providers."""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import SeverityNumber, get_logger, get_logger_provider
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext

from otel_agentmon._attribution import _LabelValues
from otel_agentmon._cardinality import CappedHistogram, capped_histogram
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")

# The logger / meter scope feedback is emitted under.
SCOPE = "otel_agentmon.feedback"

_once_lock = threading.Lock()
_said: set[str] = set()


def warn_once(key: str, message: str, *args: Any, exc_info: bool = False) -> None:
    """Log ``message`` at WARNING the first time ``key`` comes up in this process."""
    with _once_lock:
        if key in _said:
            return
        _said.add(key)
    _logger.warning(message, *args, exc_info=exc_info)


# Metric labels stay few: agent and application names are capped like other labels.
_agent_labels = _LabelValues()
_application_labels = _LabelValues()

_histograms: "weakref.WeakKeyDictionary[Any, CappedHistogram]" = weakref.WeakKeyDictionary()
_histograms_lock = threading.Lock()


def _version() -> str:
    from otel_agentmon import __version__  # here: the package imports this module before it sets it

    return __version__


def _histogram() -> CappedHistogram:
    provider = metrics.get_meter_provider()
    with _histograms_lock:
        histogram = _histograms.get(provider)
        if histogram is None:
            histogram = _histograms[provider] = capped_histogram(
                metrics.get_meter(SCOPE, _version(), provider), m.FEEDBACK_RATING, provider, unit=m.UNIT_RATING,
                description="Ratings users gave to answers, from 1 (bad) to 5 (good); a thumbs down is 1, a thumbs up 5.",
                explicit_bucket_boundaries_advisory=list(m.FEEDBACK_RATING_BUCKETS),
            )
    return histogram


# The API's stand-ins until an application (or opentelemetry-instrument) sets a provider.
_UNSET_LOGGER_PROVIDERS = ("ProxyLoggerProvider", "NoOpLoggerProvider")
_UNSET_METER_PROVIDERS = ("_ProxyMeterProvider", "NoOpMeterProvider")


def _missing_providers() -> list[str]:
    missing = []
    if type(get_logger_provider()).__name__ in _UNSET_LOGGER_PROVIDERS:
        missing.append("LoggerProvider")
    if type(metrics.get_meter_provider()).__name__ in _UNSET_METER_PROVIDERS:
        missing.append("MeterProvider")
    return missing


def record(rating: int, span_context: SpanContext | None, event_attributes: dict[str, Any],
           application: str | None, agent_name: str | None) -> None:
    """Emit the log record (tied to ``span_context`` when given) and the histogram point.

    Never raises: a telemetry fault is logged once and that signal is lost, not the request.
    """
    try:
        missing = _missing_providers()
        if missing:
            warn_once("unset", "otel-agentmon: feedback recorded before telemetry was set up; it is not exported "
                               "(no %s yet: run under opentelemetry-instrument, or set them up before calling "
                               "otel_agentmon.feedback; configure() sets a LoggerProvider when an OTLP endpoint is "
                               "set or log_exporters= are given)", " or ".join(missing))
        # An explicit empty context when there is no span: the record must not borrow the
        # current span (the web request that delivered the feedback), which is not what is rated.
        span = NonRecordingSpan(span_context) if span_context is not None else trace.INVALID_SPAN
        context = trace.set_span_in_context(span, Context())
        get_logger(SCOPE, _version()).emit(
            event_name=ga.EVALUATION_RESULT_EVENT, context=context, severity_number=SeverityNumber.INFO,
            severity_text="INFO", attributes=event_attributes,
        )
    except Exception:
        warn_once("fault", "otel-agentmon: could not record feedback", exc_info=True)
    try:  # apart: a failing log pipeline must not cost the metric too
        labels: dict[str, str] = {}
        if application is not None:
            labels[am.APPLICATION] = _application_labels.bounded(application)
        if agent_name is not None:
            labels[ga.AGENT_NAME] = _agent_labels.bounded(agent_name)
        _histogram().record(rating, labels)
    except Exception:
        warn_once("fault", "otel-agentmon: could not record feedback", exc_info=True)
