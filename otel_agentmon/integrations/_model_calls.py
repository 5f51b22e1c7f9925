"""Whether a model SDK's calls are already traced, so a framework integration adds no second
span for the same call (the "one model span per call" rule, seen from the framework side)."""

from __future__ import annotations

from typing import Any

from otel_agentmon.instrumentation._peers import PEERS, _peer_instrumenting
from otel_agentmon.instrumentation.anthropic import AnthropicInstrumentor
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

_OURS: dict[str, Any] = {"openai": OpenAIInstrumentor, "anthropic": AnthropicInstrumentor}


def sdk_traced(library: str | None) -> bool:
    """True while otel-agentmon's instrumentor, or a peer GenAI instrumentor, traces calls made
    through ``library`` (``"openai"``, ``"anthropic"``); checked per call, so instrumenting or
    uninstrumenting later takes effect at once."""
    if library is None:
        return False
    ours = _OURS.get(library)
    # BaseInstrumentor is a singleton: this reads the one instance's state
    if ours is not None and ours().is_instrumented_by_opentelemetry:
        return True
    return library in PEERS and _peer_instrumenting(library) is not None


def should_report(model_spans: bool | None, library: str | None) -> bool:
    """``model_spans``: None = only when no instrumentor traces the SDK call, True = always,
    False = never."""
    if model_spans is None:
        return not sdk_traced(library)
    return model_spans
