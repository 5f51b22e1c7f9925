"""Derivations applied to finished spans before export: cost, error category, quality sample.

Pure functions over span data, usable on spans from any GenAI-semconv instrumentor (ours, the
official opentelemetry-instrumentation-genai-*, OpenLLMetry). The usual entry point is
``EnrichingSpanExporter``, which wraps any SpanExporter under the SDK's BatchSpanProcessor.
"""

from otel_agentmon.processors._cost import CostCalculator, CostResult
from otel_agentmon.processors._enricher import DEFAULT_QUALITY_SAMPLE_RATE, EnrichedSpan, SpanEnricher
from otel_agentmon.processors._errors import categorize
from otel_agentmon.processors._exporter import EnrichingSpanExporter
from otel_agentmon.processors._prices_file import CustomPrice, PricesFileError, load_prices_file, parse_prices
from otel_agentmon.processors._quality import is_sampled, sample_threshold
from otel_agentmon.processors._usage import InvalidUsage, TokenUsage, read_usage

__all__ = [
    "CostCalculator",
    "CostResult",
    "CustomPrice",
    "DEFAULT_QUALITY_SAMPLE_RATE",
    "EnrichedSpan",
    "EnrichingSpanExporter",
    "InvalidUsage",
    "PricesFileError",
    "SpanEnricher",
    "TokenUsage",
    "categorize",
    "is_sampled",
    "load_prices_file",
    "parse_prices",
    "read_usage",
    "sample_threshold",
]
