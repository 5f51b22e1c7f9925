"""Derive cost, error category and quality sample for a finished span, as new attributes."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agentmon.processors._cost import CostCalculator
from otel_agentmon.processors._errors import categorize, error_attributes
from otel_agentmon.processors._quality import RANDOM_BITS, sample_threshold
from otel_agentmon.processors._usage import is_inference
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

DEFAULT_QUALITY_SAMPLE_RATE = 0.05

# Bound once: this runs for every exported span.
_RANDOM_MASK = (1 << RANDOM_BITS) - 1
_QUALITY_SAMPLED = am.QUALITY_SAMPLED
_COST_AMOUNT = am.COST_AMOUNT
_COST_STATUS = am.COST_STATUS
_ERROR_CATEGORY = am.ERROR_CATEGORY
_ERROR_TYPE = ga.ERROR_TYPE
_GENAI_MARKERS = (ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.DEPRECATED_SYSTEM)


def _is_genai(attributes: Mapping[str, Any]) -> bool:
    for marker in _GENAI_MARKERS:
        if marker in attributes:
            return True
    return False


class SpanEnricher:
    """Computes the attributes otel-agentmon derives for a span.

    Pure with respect to the span: it reads, never writes. Use ``derive`` for the new
    attributes or ``enrich`` for an enriched copy of a ReadableSpan (what the exporter does).
    Attributes already present on the span (a cost the provider reported, a category set by
    the instrumentor) are kept, never overwritten.
    """

    def __init__(
        self,
        cost_calculator: CostCalculator | None = None,
        quality_sample_rate: float = DEFAULT_QUALITY_SAMPLE_RATE,
    ) -> None:
        self.cost_calculator = cost_calculator or CostCalculator()
        self.quality_sample_rate = quality_sample_rate
        self._threshold = sample_threshold(quality_sample_rate)

    def derive(
        self,
        attributes: Mapping[str, Any],
        trace_id: int | None,
        failed: bool = False,
        exceptions: Sequence[tuple[str | None, str | None]] = (),
        start_time_ns: int | None = None,
    ) -> dict[str, Any]:
        """New attributes for a span with these attributes; empty when nothing applies."""
        derived: dict[str, Any] = {}
        if trace_id is not None and (trace_id & _RANDOM_MASK) < self._threshold:
            derived[_QUALITY_SAMPLED] = True
        if not _is_genai(attributes):
            return derived
        if _COST_AMOUNT not in attributes and _COST_STATUS not in attributes and is_inference(attributes):
            derived.update(self.cost_calculator.span_cost_attributes(attributes, start_time_ns))
        if _ERROR_CATEGORY not in attributes:
            category = categorize(attributes, failed, exceptions)
            if category is not None:
                derived.update(error_attributes(category))
        return derived

    def enrich(self, span: ReadableSpan) -> ReadableSpan:
        """The span with derived attributes added, or the same span when nothing applies."""
        attributes = _attribute_dict(span)
        status = span.status
        failed = status is not None and status.status_code is StatusCode.ERROR
        exceptions: list[tuple[str | None, str | None]] = []
        if failed or _ERROR_TYPE in attributes:
            if failed and status.description:
                # Instrumentors built on opentelemetry-util-genai put the exception message
                # (with the provider's error code) in the status description, not in an event.
                exceptions.append((None, status.description))
            for event in span.events:
                if event.name == ga.EXCEPTION_EVENT and event.attributes:
                    exceptions.append(
                        (event.attributes.get(ga.EXCEPTION_TYPE), event.attributes.get(ga.EXCEPTION_MESSAGE))
                    )
        context = span.context
        derived = self.derive(
            attributes,
            context.trace_id if context is not None else None,
            failed,
            exceptions,
            span.start_time,
        )
        if not derived:
            return span
        return EnrichedSpan(span, derived)


def _attribute_dict(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping, read-only.

    The SDK keeps them in a BoundedAttributes whose Mapping protocol is pure Python (about
    0.3 µs a key); its inner dict is read directly when present, the public mapping otherwise.
    """
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if isinstance(inner, dict):
        return inner
    return span.attributes or {}


class EnrichedSpan(ReadableSpan):
    """A finished span with derived attributes added; everything else is the original's.

    Built by copying the original's fields rather than through ReadableSpan's constructor:
    the constructor path reads a dozen properties and costs several microseconds a span.
    """

    def __init__(self, span: ReadableSpan, derived: Mapping[str, Any]) -> None:  # noqa: D107
        self.__dict__.update(vars(span))
        attributes = dict(_attribute_dict(span))
        attributes.update(derived)
        self._original_dropped_attributes = span.dropped_attributes
        self._attributes = attributes

    @property
    def dropped_attributes(self) -> int:
        return self._original_dropped_attributes
