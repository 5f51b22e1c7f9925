"""``configure()``: otel-agentmon from code, without taking over what the app already set."""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Sequence

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_agentmon import _exporters
from otel_agentmon._attribution import AttributionSpanProcessor
from otel_agentmon.feedback import FeedbackSpanProcessor
from otel_agentmon._runtime import set_enricher
from otel_agentmon.export import RetryingBatchSpanProcessor
from otel_agentmon.budgets import configure_budgets, validate_budgets_env
from otel_agentmon._settings import ConfigurationError, Settings, build_enricher, parse_sample_rate, settings_from_env
from otel_agentmon.processors import EnrichingSpanExporter, SpanEnricher

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExporter

    from otel_agentmon.call_logs import CallLogPlan
    from otel_agentmon.evaluation import Evaluator

_logger = logging.getLogger("otel_agentmon")


def enriching_span_processor(exporter: SpanExporter, enricher: SpanEnricher) -> BatchSpanProcessor:
    """The SDK's BatchSpanProcessor (retrying failed exports, counting dropped spans),
    exporting through an EnrichingSpanExporter."""
    return RetryingBatchSpanProcessor(EnrichingSpanExporter(exporter, enricher))


# Providers that already have an AttributionSpanProcessor from us (configure() may run twice).
_attributed: "weakref.WeakSet[TracerProvider]" = weakref.WeakSet()


def _add_attribution(provider: TracerProvider) -> None:
    # Added before the exporting pipelines, so that every span carries user.id, department and
    # application by the time anything else sees it.
    if provider not in _attributed:
        provider.add_span_processor(AttributionSpanProcessor())
        # notes which span answered with which response id, for feedback(response_id=...)
        provider.add_span_processor(FeedbackSpanProcessor())
        _attributed.add(provider)


def _instrument_threading() -> None:
    """Carry the context (span and attribution) into threads the application starts.

    opentelemetry-instrument loads the threading instrumentor itself (an entry point);
    configure() does the same unless OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names it.
    """
    disabled = {name.strip() for name in os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")}
    if "threading" in disabled:
        return
    try:
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor
    except ImportError:  # a dependency, but an application may have pruned it
        _logger.warning("otel-agentmon: opentelemetry-instrumentation-threading is not installed; spans "
                        "started in new threads do not join their parent's trace or attribution")
        return
    instrumentor = ThreadingInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def _unset(provider: object) -> bool:
    # The API's proxies stand in until an application sets a real provider.
    return type(provider).__name__ in ("ProxyTracerProvider", "_ProxyMeterProvider")


def configure(
    *,
    service_name: str | None = None,
    span_exporters: Sequence[SpanExporter] | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
    quality_sample_rate: float | None = None,
    prices_file: str | os.PathLike[str] | None = None,
    evaluators: Iterable[str | Evaluator] | None = None,
    call_logs: bool | None = None,
    log_exporters: "Sequence[LogRecordExporter] | None" = None,
) -> TracerProvider | None:
    """Set up otel-agentmon from code; the same result as running under ``opentelemetry-instrument``.

    Exporters default to what the OTEL_* variables say (OTLP over gRPC unless
    OTEL_EXPORTER_OTLP_PROTOCOL says otherwise); ``quality_sample_rate`` and ``prices_file``
    override AGENTMON_QUALITY_SAMPLE_RATE and AGENTMON_PRICES_FILE; budgets come from
    AGENTMON_BUDGETS_FILE (or ``otel_agentmon.budgets.configure_budgets``). ``evaluators``
    (names such as ``"relevance"``, ``"module:callable"`` strings, callables) overrides
    AGENTMON_EVALUATORS: the quality evaluators run on model calls of sampled traces (see
    ``otel_agentmon.evaluation``). ``call_logs`` overrides AGENTMON_CALL_LOGS: one
    ``agentmon.call`` log record per model call, tool call and agent run (see
    ``otel_agentmon.call_logs``), through the LoggerProvider below, or, when there is none,
    into the JSON-lines file AGENTMON_CALL_LOG_FILE. Bad values raise ConfigurationError naming
    the variable, the argument, or the file and line.

    Log records (user feedback, evaluation results, budget events, call logs) go to a
    LoggerProvider the application set; else ``log_exporters`` get one of their own; without
    them, one exporting as OTEL_LOGS_EXPORTER says is set when that has somewhere to send to
    (an OTLP endpoint set, or another exporter named), and none otherwise.

    A TracerProvider or MeterProvider the application already set is never replaced: with
    ``span_exporters`` given, an enriched export pipeline is added to the existing SDK
    TracerProvider; without, nothing is added (its own exporters would export the same spans
    twice) and a warning says how to enrich them. Returns the TracerProvider that exports
    enriched spans, or None when none could be set up.
    """
    settings = settings_from_env()
    if quality_sample_rate is not None:
        settings = replace(settings, quality_sample_rate=parse_sample_rate(quality_sample_rate, "quality_sample_rate"))
    if prices_file is not None:
        settings = replace(settings, prices_file=os.fspath(prices_file))
    enricher = build_enricher(settings)
    budgets = validate_budgets_env()
    if evaluators is not None:
        from otel_agentmon.evaluation._settings import resolve_evaluators

        evaluators = list(evaluators)
        resolve_evaluators(evaluators, "evaluators")  # bad names fail here, before anything is set up
    if call_logs is not None:
        if not isinstance(call_logs, bool):
            raise ConfigurationError(f"call_logs={call_logs!r} is not a boolean; expected True or False")
        settings = replace(settings, call_logs=call_logs)
    logs_setup = _plan_logs(log_exporters)
    call_log_setup = _plan_call_logs(settings, logs_planned=logs_setup is not None)  # a bad file path fails here too
    set_enricher(enricher)
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})

    tracer_provider = _configure_tracing(enricher, resource, span_exporters)
    _configure_metrics(resource, metric_readers)
    if logs_setup is not None:
        _configure_logs(resource, logs_setup)
    if call_log_setup is not None:
        _configure_call_logs(enricher, *call_log_setup)
    if budgets is not None:
        configure_budgets(budgets)
    _configure_evaluation(settings, evaluators)
    _instrument_threading()
    return tracer_provider


# TracerProviders that already have the call log pipeline (configure() may run twice).
_call_logged: "weakref.WeakSet[TracerProvider]" = weakref.WeakSet()


def _logger_provider_set() -> bool:
    from opentelemetry._logs import get_logger_provider

    return type(get_logger_provider()).__name__ not in ("ProxyLoggerProvider", "NoOpLoggerProvider")


def _plan_logs(log_exporters: "Sequence[LogRecordExporter] | None") -> "list[LogRecordExporter] | None":
    """The exporters of the LoggerProvider configure() will set, or None to set none: the
    application set its own, or nothing says where log records should go."""
    if _logger_provider_set():
        if log_exporters:
            _logger.warning("otel-agentmon: the application already set a LoggerProvider; the given "
                            "log_exporters are not used, log records go through the existing one.")
        return None
    if log_exporters is not None:
        return list(log_exporters) or None
    from otel_agentmon.call_logs import logs_have_a_destination

    # Without an endpoint, OTLP would only retry localhost:4317 for every batch
    return _exporters.log_exporters() if logs_have_a_destination() else None


def _configure_logs(resource: Resource, exporters: "list[LogRecordExporter]") -> None:
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = SDKLoggerProvider(resource=resource)
    for exporter in exporters:
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)


def _plan_call_logs(
    settings: Settings, logs_planned: bool = False,
) -> "tuple[CallLogPlan, LoggerProvider | None, list[LogRecordExporter] | None] | None":
    """Where call log records will go, checked before anything is set up: (plan, the
    application's LoggerProvider or None, log exporters of the pipeline's own or None).
    ``logs_planned``: configure() is about to set a LoggerProvider; records go through it."""
    if not settings.call_logs:
        return None  # off (the default): nothing is imported, nothing added to the pipeline
    from opentelemetry._logs import get_logger_provider

    from otel_agentmon.call_logs import plan_call_logs

    # A LoggerProvider the application set wins: its logs already go where it wants them.
    app_set = _logger_provider_set()
    plan = plan_call_logs(settings, logger_provider_set=app_set or logs_planned)
    if plan is None:
        return None
    if app_set:
        return plan, get_logger_provider(), None
    exporters = _exporters.log_exporters() if plan.file is None and not logs_planned else None
    return plan, None, exporters  # None, None: the global one, set by then


def _configure_call_logs(enricher: SpanEnricher, plan: CallLogPlan, logger_provider: LoggerProvider | None,
                         exporters: list[LogRecordExporter] | None) -> None:
    from otel_agentmon.call_logs import add_call_logs

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        _logger.warning("otel-agentmon: call logs need the OpenTelemetry SDK's TracerProvider; the global one is a "
                        "%s, so no call log records are written.", type(provider).__name__)
        return
    if provider in _call_logged:
        return
    add_call_logs(provider, enricher, plan, logger_provider=logger_provider, exporters=exporters)
    _call_logged.add(provider)


def _configure_evaluation(settings: Settings, evaluators: list[str | Evaluator] | None) -> None:
    """Start quality evaluation (after the providers: its telemetry goes to them)."""
    from otel_agentmon.evaluation import configure_evaluation, start_from_settings

    if evaluators is not None:
        configure_evaluation(evaluators)
    else:
        start_from_settings(settings.evaluation)  # AGENTMON_EVALUATORS; unset leaves evaluation as it is


def _configure_tracing(
    enricher: SpanEnricher, resource: Resource, span_exporters: Sequence[SpanExporter] | None
) -> TracerProvider | None:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if not span_exporters:
            _logger.warning(
                "otel-agentmon: the application already set a TracerProvider; its exporters are left "
                "as they are and export spans without cost, error category or quality sample. Pass "
                "span_exporters= to configure() to add an enriched pipeline, or wrap the exporter with "
                "otel_agentmon.processors.EnrichingSpanExporter."
            )
            return None
        _add_attribution(current)
        for exporter in span_exporters:
            current.add_span_processor(enriching_span_processor(exporter, enricher))
        return current
    if not _unset(current):
        _logger.warning(
            "otel-agentmon: the global TracerProvider is a %s, not the OpenTelemetry SDK's; span "
            "processors cannot be added to it, so spans are not enriched.",
            type(current).__name__,
        )
        return None
    provider = TracerProvider(resource=resource)
    _add_attribution(provider)
    exporters = list(span_exporters) if span_exporters is not None else _exporters.span_exporters()
    for exporter in exporters:
        provider.add_span_processor(enriching_span_processor(exporter, enricher))
    trace.set_tracer_provider(provider)
    return provider


def _configure_metrics(resource: Resource, metric_readers: Sequence[MetricReader] | None) -> None:
    current = metrics.get_meter_provider()
    if not _unset(current):
        if metric_readers:
            _logger.warning(
                "otel-agentmon: the application already set a MeterProvider; metric readers cannot be "
                "added to it after creation, so the given metric_readers are not used. otel-agentmon's "
                "metrics are recorded through the existing MeterProvider."
            )
        return
    readers = list(metric_readers) if metric_readers is not None else _exporters.metric_readers()
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


__all__ = ["ConfigurationError", "configure", "enriching_span_processor"]
