"""What a rating is about: a span context, given as one or as a W3C ``traceparent`` string."""

from __future__ import annotations

import re

from opentelemetry.trace import SpanContext, TraceFlags

TRACEPARENT_FORMAT = "'00-<32 hex digits trace id>-<16 hex digits span id>-<2 hex digits flags>'"
# W3C Trace Context: version 00 has exactly these four fields; ids of all zeros are invalid.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def parse_traceparent(text: str) -> SpanContext:
    """The span context a ``traceparent`` string names, or ValueError naming the format."""
    match = _TRACEPARENT.fullmatch(text.strip().lower())
    if match is not None:
        trace_id, span_id, flags = (int(group, 16) for group in match.groups())
        if trace_id and span_id:
            return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise ValueError(f"feedback(): span_context {shown!r} is not a W3C traceparent; expected {TRACEPARENT_FORMAT} "
                     "with non-zero ids, as feedback_context() returns")


def format_traceparent(context: SpanContext) -> str:
    """The W3C ``traceparent`` string of a valid span context."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def span_context_of(value: object) -> SpanContext | None:
    """``span_context`` as given to ``feedback()``: a SpanContext or a traceparent string.

    A SpanContext that is not valid (what a process without tracing hands out) means no span;
    any other type is a TypeError.
    """
    if isinstance(value, SpanContext):
        return value if value.is_valid else None
    if isinstance(value, str):
        return parse_traceparent(value)
    raise TypeError(f"feedback(): span_context must be an opentelemetry.trace.SpanContext or a traceparent string "
                    f"{TRACEPARENT_FORMAT}, not {type(value).__name__}")
