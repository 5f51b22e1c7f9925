"""Export: the SDK's BatchSpanProcessor with failed exports retried and dropped spans counted.

``RetryingBatchSpanProcessor`` is what ``opentelemetry-instrument`` and ``configure()`` put in
front of every span exporter (inside it, each span is enriched on the export thread). A
failed export is retried with backoff (``RetryPolicy``) while newer spans wait in the bounded
queue; a span that cannot be kept is counted in ``agentmon.spans.dropped`` by reason
(``error.type``: queue_full, export_failed, shutdown) and the episode is logged once.
"""

from otel_agentmon.export._processor import RetryingBatchSpanProcessor
from otel_agentmon.export._retry import RetryingSpanExporter, RetryPolicy

__all__ = ["RetryPolicy", "RetryingBatchSpanProcessor", "RetryingSpanExporter"]
