"""Other GenAI instrumentors for the same libraries, and the rule that keeps one model span
per call: under opentelemetry-instrument the agentmon distro does not load a peer while ours
for that library is enabled; set up by hand, ours steps aside while a peer is active."""

from __future__ import annotations

import logging
import sys
import time

_logger = logging.getLogger("otel_agentmon")

# library -> (module, instrumentor class) of the peers we know
PEERS: dict[str, tuple[tuple[str, str], ...]] = {
    "openai": (
        ("opentelemetry.instrumentation.genai.openai", "OpenAIInstrumentor"),
        ("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor"),
        ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
    ),
    "anthropic": (
        ("opentelemetry.instrumentation.genai.anthropic", "AnthropicInstrumentor"),
        ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"),
    ),
}

_RECHECK_SECONDS = 1.0
_checked_at: dict[str, float] = {}
_active: dict[str, bool] = {}
_announced: set[str] = set()


def _peer_instrumenting(library: str) -> str | None:
    for module_name, class_name in PEERS[library]:
        module = sys.modules.get(module_name)
        instrumentor_class = getattr(module, class_name, None) if module is not None else None
        if instrumentor_class is None:
            continue
        try:
            if instrumentor_class().is_instrumented_by_opentelemetry:
                return module_name
        except Exception:
            continue
    return None


def peer_active(library: str) -> bool:
    """True while another GenAI instrumentor has ``library`` instrumented (checked once a second)."""
    now = time.monotonic()
    if now - _checked_at.get(library, -_RECHECK_SECONDS) < _RECHECK_SECONDS:
        return _active.get(library, False)
    peer = _peer_instrumenting(library)
    _checked_at[library] = now
    _active[library] = peer is not None
    if peer is not None and library not in _announced:
        _announced.add(library)
        _logger.warning(
            "otel-agentmon: %s also instruments %s; otel-agentmon's %s instrumentation steps aside so each "
            "call has one model span (its spans are still enriched on export)", peer, library, library,
        )
    return peer is not None


def superseded_library(entry_point_value: str) -> str | None:
    """For a peer's entry point (``module:Class``), the library ours instruments instead."""
    module = entry_point_value.partition(":")[0]
    for library, peers in PEERS.items():
        if any(module == peer_module for peer_module, _ in peers):
            return library
    return None


def reset() -> None:
    """Forget cached answers (tests instrument and uninstrument peers within one process)."""
    _checked_at.clear()
    _active.clear()
    _announced.clear()
