"""A SpanExporter that enriches spans on the export thread, then hands them to another.

The SDK freezes a span when it ends, so derivation cannot happen in ``on_end`` without
writing private fields. Under a BatchSpanProcessor, ``export`` runs on the processor's worker
thread: enriching there keeps all derivation off the application's request thread, and works
for spans any instrumentor made.
"""

from __future__ import annotations

import logging
from typing import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agentmon.processors._enricher import SpanEnricher

_logger = logging.getLogger(__name__)


class EnrichingSpanExporter(SpanExporter):
    """Wraps ``exporter``: every exported span passes through ``enricher`` first.

    Use it under the SDK's BatchSpanProcessor::

        provider.add_span_processor(BatchSpanProcessor(EnrichingSpanExporter(OTLPSpanExporter())))

    A failure to enrich one span is logged once and that span is exported as it was.
    """

    def __init__(self, exporter: SpanExporter, enricher: SpanEnricher | None = None) -> None:
        self.exporter = exporter
        self.enricher = enricher or SpanEnricher()
        self._warned = False

    def _enrich(self, span: ReadableSpan) -> ReadableSpan:
        try:
            return self.enricher.enrich(span)
        except Exception:  # never lose a span to a derivation fault
            if not self._warned:
                self._warned = True
                _logger.exception("otel-agentmon: could not enrich span %r; exporting it unchanged", span.name)
            return span

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([self._enrich(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)
