"""The process-wide SpanEnricher, shared by the export path and our instrumentors, so a cost
or category computed for a metric and for a span comes from the same prices and rules."""

from __future__ import annotations

import logging
import threading

from otel_agentmon.processors import SpanEnricher

_logger = logging.getLogger("otel_agentmon")
_lock = threading.Lock()
_enricher: SpanEnricher | None = None


def set_enricher(enricher: SpanEnricher) -> None:
    global _enricher
    with _lock:
        _enricher = enricher


def current_enricher() -> SpanEnricher:
    """The configured enricher; built from the environment when nothing configured one."""
    global _enricher
    enricher = _enricher
    if enricher is not None:
        return enricher
    from otel_agentmon._settings import ConfigurationError, build_enricher, settings_from_env

    with _lock:
        if _enricher is None:
            try:
                _enricher = build_enricher(settings_from_env())
            except ConfigurationError as exc:
                _logger.error("otel-agentmon: %s (using default prices and sample rate)", exc)
                _enricher = SpanEnricher()
        return _enricher
