"""Where call log records go, and the span pipeline that makes them."""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Mapping

from opentelemetry._logs import LoggerProvider
from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER
from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_agentmon._settings import Settings
from otel_agentmon.call_logs._exporter import CallLogExporter
from otel_agentmon.call_logs._jsonl import JsonLinesLogExporter, check_log_file
from otel_agentmon.export import RetryingBatchSpanProcessor
from otel_agentmon.processors import EnrichingSpanExporter, SpanEnricher

# Seconds the exit hook gives the call log pipeline to hand its last records to the logs.
_EXIT_FLUSH_MILLIS = 2000


def logs_have_a_destination(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables send log records somewhere: an OTLP logs exporter with an
    endpoint set, or another exporter named in OTEL_LOGS_EXPORTER (console, agentmon_store).
    Without an endpoint, OTLP would only try localhost; the JSON-lines file is used instead."""
    env = os.environ if environ is None else environ
    names = {name.strip().lower() for name in env.get(OTEL_LOGS_EXPORTER, "otlp").split(",") if name.strip()}
    names.discard("none")
    if names - {"otlp"}:
        return True
    endpoint = env.get(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "").strip() or env.get(OTEL_EXPORTER_OTLP_ENDPOINT, "").strip()
    return "otlp" in names and bool(endpoint)


@dataclass(frozen=True)
class CallLogPlan:
    """Call logs as the settings ask for them, checked at start."""

    capture_content: bool
    file: str | None  # absolute path of the JSON-lines file, or None: the logs signal


def plan_call_logs(
    settings: Settings, environ: Mapping[str, str] | None = None, *, logger_provider_set: bool = False
) -> CallLogPlan | None:
    """None when AGENTMON_CALL_LOGS is off; otherwise where records go. Raises
    ConfigurationError (naming AGENTMON_CALL_LOG_FILE) for a file that cannot be written."""
    if not settings.call_logs:
        return None
    use_file = not logger_provider_set and not logs_have_a_destination(environ)
    return CallLogPlan(settings.capture_message_content, check_log_file(settings.call_log_file) if use_file else None)


def file_logger_provider(path: str | os.PathLike[str], resource: Resource | None = None) -> SDKLoggerProvider:
    """A LoggerProvider of its own that appends records to a JSON-lines file.

    Not shut down at exit by itself: the call log pipeline shuts it down after its last
    spans (an exit hook of its own could run first and lose them)."""
    provider = SDKLoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(JsonLinesLogExporter(path)))
    return provider


def exporting_logger_provider(exporters: list[LogRecordExporter], resource: Resource | None = None) -> SDKLoggerProvider:
    """A LoggerProvider of the call log pipeline's own, exporting through ``exporters``."""
    provider = SDKLoggerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in exporters:
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider


# Pipelines to flush at exit, before the LoggerProviders shut down.
_pipelines: "weakref.WeakKeyDictionary[RetryingBatchSpanProcessor, CallLogExporter]" = weakref.WeakKeyDictionary()
_hook_lock = threading.Lock()
_hook_registered = False


def _flush_at_exit() -> None:
    # atexit runs hooks last-registered first: the SDK's LoggerProvider (set up before this
    # pipeline) would shut down before the TracerProvider hands over its last spans, and their
    # records would be lost. This hook is registered later, so it runs earlier.
    for processor, exporter in list(_pipelines.items()):
        try:
            processor.force_flush(_EXIT_FLUSH_MILLIS)
            exporter.force_flush(_EXIT_FLUSH_MILLIS)
        except Exception:  # at exit, nothing to report to
            pass


def _register(processor: RetryingBatchSpanProcessor, exporter: CallLogExporter) -> None:
    global _hook_registered
    with _hook_lock:
        _pipelines[processor] = exporter
        if not _hook_registered:
            _hook_registered = True
            atexit.register(_flush_at_exit)


def call_log_processor(
    enricher: SpanEnricher | None = None,
    *,
    logger_provider: LoggerProvider | None = None,
    capture_content: bool | None = None,
    owns_logger_provider: bool = False,
) -> RetryingBatchSpanProcessor:
    """The call log span pipeline: ``RetryingBatchSpanProcessor(EnrichingSpanExporter(
    CallLogExporter(...), enricher))``. Add it to a TracerProvider; records are made on its
    export thread, never on the request thread. ``owns_logger_provider``: shut
    ``logger_provider`` down with the pipeline."""
    exporter = CallLogExporter(logger_provider, capture_content=capture_content, owns_logger_provider=owns_logger_provider)
    processor = RetryingBatchSpanProcessor(EnrichingSpanExporter(exporter, enricher))
    _register(processor, exporter)
    return processor


def add_call_logs(
    tracer_provider: TracerProvider,
    enricher: SpanEnricher,
    plan: CallLogPlan,
    logger_provider: LoggerProvider | None = None,
    exporters: list[LogRecordExporter] | None = None,
) -> RetryingBatchSpanProcessor:
    """Add the call log pipeline to ``tracer_provider`` as ``plan`` says: into the JSON-lines
    file, into ``logger_provider`` (the global one when None), or into a LoggerProvider of its
    own exporting through ``exporters``."""
    resource: Any = getattr(tracer_provider, "resource", None)
    owns = False
    if plan.file is not None:
        logger_provider, owns = file_logger_provider(plan.file, resource), True
    elif exporters is not None:
        logger_provider, owns = exporting_logger_provider(exporters, resource), True
    processor = call_log_processor(enricher, logger_provider=logger_provider, capture_content=plan.capture_content,
                                   owns_logger_provider=owns)
    tracer_provider.add_span_processor(processor)
    return processor
