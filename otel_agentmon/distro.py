"""Entry points for ``opentelemetry-instrument``: the distro sets OTLP defaults, the
configurator builds the SDK with every span exported through an EnrichingSpanExporter."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.instrumentation.environment_variables import (
    OTEL_PYTHON_CONFIGURATOR,
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
)
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_PROTOCOL

from otel_agentmon._attribution import AttributionSpanProcessor
from otel_agentmon._configure import enriching_span_processor
from otel_agentmon.feedback import FeedbackSpanProcessor
from otel_agentmon._runtime import set_enricher
from otel_agentmon.budgets import configure_budgets, validate_budgets_env
from otel_agentmon.instrumentation._peers import superseded_library
from otel_agentmon._settings import ConfigurationError, Settings, build_enricher, settings_from_env
from otel_agentmon.processors import SpanEnricher

if TYPE_CHECKING:
    from otel_agentmon.call_logs import CallLogPlan

_logger = logging.getLogger("otel_agentmon")


# Our instrumentor for each library a peer GenAI instrumentor also covers.
_OURS = {"openai": "agentmon_openai", "anthropic": "agentmon_anthropic"}


def _disabled_instrumentations() -> set[str]:
    raw = os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


class AgentmonDistro(BaseDistro):
    """OTLP for every signal unless the OTEL_* variables say otherwise (gRPC by default).

    One model span per call: while otel-agentmon's instrumentor for a library is enabled, the
    other GenAI instrumentors for that library (the official opentelemetry-instrumentation-
    genai-*, OpenLLMetry) are not loaded. Disable ours (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=
    agentmon_openai) and theirs run instead, still enriched on export.
    """

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        library = superseded_library(getattr(entry_point, "value", ""))
        if library is not None and _OURS[library] not in _disabled_instrumentations():
            _logger.debug("otel-agentmon: %s not loaded; %s instruments %s", entry_point.value, _OURS[library], library)
            return
        super().load_instrumentor(entry_point, **kwargs)

    def _configure(self, **kwargs: object) -> None:
        # With another distro's configurator installed too (opentelemetry-distro), entry-point
        # order would decide which one runs; ours must, or spans leave without derivations.
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, "agentmon")
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")


def _plan_call_logs(settings: Settings) -> CallLogPlan | None:
    if not settings.call_logs:
        return None  # off (the default): nothing is imported, nothing added to the pipeline
    from otel_agentmon.call_logs import plan_call_logs

    return plan_call_logs(settings)


def _add_call_logs(enricher: SpanEnricher, plan: CallLogPlan) -> None:
    """The call log span pipeline, into the global LoggerProvider the SDK just set (OTLP by
    default) or, with no endpoint to send logs to, into the JSON-lines file."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from otel_agentmon.call_logs import add_call_logs

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        add_call_logs(provider, enricher, plan)


class AgentmonConfigurator(_OTelSDKConfigurator):
    """The SDK's own configurator, with each span exporter wrapped to enrich spans and an
    AttributionSpanProcessor ahead of them."""

    def _configure(self, **kwargs: object) -> None:
        try:
            settings = settings_from_env()
            enricher = build_enricher(settings)
            budgets = validate_budgets_env()
            call_log_plan = _plan_call_logs(settings)  # AGENTMON_CALL_LOGS: a bad file path is reported here
        except ConfigurationError as exc:
            # Monitoring must not stop the application: say exactly what is wrong, once, and
            # leave telemetry unconfigured rather than export wrong figures.
            _logger.error("otel-agentmon: %s (telemetry is not set up for this process)", exc)
            return
        set_enricher(enricher)
        kwargs.setdefault("export_span_processor", lambda exporter: enriching_span_processor(exporter, enricher))
        # The SDK adds these before the exporting processors: every span then carries user.id,
        # department and application (from Baggage) before anything exports it.
        span_processors = list(kwargs.get("span_processors") or ())  # type: ignore[call-overload]
        if not any(isinstance(p, AttributionSpanProcessor) for p in span_processors):
            span_processors.insert(0, AttributionSpanProcessor())
        if not any(isinstance(p, FeedbackSpanProcessor) for p in span_processors):
            # notes which span answered with which response id, for feedback(response_id=...)
            span_processors.insert(1, FeedbackSpanProcessor())
        kwargs["span_processors"] = span_processors
        super()._configure(**kwargs)
        if call_log_plan is not None:
            _add_call_logs(enricher, call_log_plan)  # after the SDK: it sets the LoggerProvider they go to
        if budgets is not None:
            configure_budgets(budgets)  # after the SDK: its events go to the providers just set
        if settings.evaluation is not None:
            from otel_agentmon.evaluation import start_from_settings

            start_from_settings(settings.evaluation)  # AGENTMON_EVALUATORS, after the SDK too
