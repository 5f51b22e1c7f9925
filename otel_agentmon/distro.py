"""Entry points for ``opentelemetry-instrument``: the distro sets OTLP defaults, the
configurator builds the SDK with every span exported through an EnrichingSpanExporter."""

from __future__ import annotations

import logging
import os

from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_PROTOCOL

from otel_agentmon._configure import enriching_span_processor
from otel_agentmon._settings import ConfigurationError, build_enricher, settings_from_env

_logger = logging.getLogger("otel_agentmon")


class AgentmonDistro(BaseDistro):
    """OTLP for every signal unless the OTEL_* variables say otherwise (gRPC by default)."""

    def _configure(self, **kwargs: object) -> None:
        # With another distro's configurator installed too (opentelemetry-distro), entry-point
        # order would decide which one runs; ours must, or spans leave without derivations.
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, "agentmon")
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")


class AgentmonConfigurator(_OTelSDKConfigurator):
    """The SDK's own configurator, with each span exporter wrapped to enrich spans."""

    def _configure(self, **kwargs: object) -> None:
        try:
            enricher = build_enricher(settings_from_env())
        except ConfigurationError as exc:
            # Monitoring must not stop the application: say exactly what is wrong, once, and
            # leave telemetry unconfigured rather than export wrong figures.
            _logger.error("otel-agentmon: %s (telemetry is not set up for this process)", exc)
            return
        kwargs.setdefault("export_span_processor", lambda exporter: enriching_span_processor(exporter, enricher))
        super()._configure(**kwargs)
