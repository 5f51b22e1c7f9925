"""The OpenAI Agents SDK (``openai-agents``): agent, tool and workflow spans from its traces.

Zero-code: ``opentelemetry-instrument`` loads the ``agentmon_openai_agents`` entry point. By
hand::

    from otel_agentmon.integrations.openai_agents import instrument_openai_agents

    instrument_openai_agents()                       # beside the SDK's own trace export
    instrument_openai_agents(replace_default=True)   # and stop sending traces to OpenAI

What each SDK span becomes is described in ``_openai_agents_processor``. This module imports
the SDK only when instrumenting, so it can be imported (and its entry point loaded) without it.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_agentmon.integrations._on_import import DeferredInstrumentation

if TYPE_CHECKING:
    from otel_agentmon.integrations._openai_agents_processor import AgentmonTracingProcessor

__all__ = ["AgentmonTracingProcessor", "OpenAIAgentsInstrumentor", "instrument_openai_agents",
           "uninstrument_openai_agents"]

_lock = threading.Lock()
_processor: "AgentmonTracingProcessor | None" = None


def __getattr__(name: str) -> Any:
    # the processor class subclasses the SDK's TracingProcessor: import the SDK on first use only
    if name == "AgentmonTracingProcessor":
        from otel_agentmon.integrations._openai_agents_processor import AgentmonTracingProcessor

        return AgentmonTracingProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registered(provider: Any) -> list[Any] | None:
    """The SDK's current processors. It has no public way to list them: read the default
    provider's list when it has one, else None (a custom TraceProvider)."""
    processors = getattr(getattr(provider, "_multi_processor", None), "_processors", None)
    return list(processors) if isinstance(processors, (tuple, list)) else None


def _is_openai_exporter(processor: Any) -> bool:
    """The SDK's default processor, which sends traces to the OpenAI platform."""
    from agents.tracing import processors as sdk_processors

    default = getattr(sdk_processors, "_global_processor", None)
    if default is not None:
        return processor is default
    exporter = getattr(processor, "_exporter", None)
    return isinstance(processor, sdk_processors.BatchTraceProcessor) and isinstance(
        exporter, sdk_processors.BackendSpanExporter)


def instrument_openai_agents(*, replace_default: bool = False, tracer_provider: Any = None,
                             meter_provider: Any = None, model_spans: bool | None = None,
                             workflow_spans: bool = True) -> "AgentmonTracingProcessor":
    """Register otel-agentmon's tracing processor with the Agents SDK; returns it.

    Idempotent: a second call returns the processor already registered (its options stay
    those of the first call; ``replace_default=True`` is still honoured). With
    ``replace_default=True`` the SDK's default processor, which exports traces to the OpenAI
    platform, is removed (other processors stay), so nothing leaves the process but OTLP.
    ``model_spans`` and ``workflow_spans``: see ``AgentmonTracingProcessor``.
    """
    from agents import tracing

    from otel_agentmon.integrations._openai_agents_processor import AgentmonTracingProcessor

    global _processor
    with _lock:
        if _processor is None:
            _processor = AgentmonTracingProcessor(tracer_provider=tracer_provider, meter_provider=meter_provider,
                                                  model_spans=model_spans, workflow_spans=workflow_spans)
        processor = _processor
        processor.enabled = True
        provider = tracing.get_trace_provider()
        current = _registered(provider)
        if replace_default:
            kept = [p for p in current or () if p is not processor and not _is_openai_exporter(p)]
            # without a readable list, replacing every processor is the only way to drop the default
            tracing.set_trace_processors([*kept, processor])
        elif current is None or processor not in current:
            tracing.add_trace_processor(processor)
        return processor


def uninstrument_openai_agents() -> None:
    """Stop producing spans and remove the processor (the SDK's default one is not restored)."""
    global _processor
    with _lock:
        processor, _processor = _processor, None
        if processor is None:
            return
        processor.enabled = False  # also covers a provider whose processor list is unreadable
        from agents import tracing

        current = _registered(tracing.get_trace_provider())
        if current is not None and processor in current:
            tracing.set_trace_processors([p for p in current if p is not processor])


class OpenAIAgentsInstrumentor(BaseInstrumentor):
    """``OpenAIAgentsInstrumentor().instrument()`` / ``.uninstrument()``; the ``agentmon_openai_agents``
    entry point. Options: ``tracer_provider``, ``meter_provider``, ``replace_default``
    (default False: the SDK's own export to OpenAI stays as the application configured it),
    ``model_spans``, ``workflow_spans``. The processor is registered when the application
    imports ``agents`` (at once if it already has)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai-agents >= 0.24",)

    def _instrument(self, **kwargs: Any) -> None:
        _DEFERRED.request({
            "replace_default": bool(kwargs.get("replace_default", False)),
            "tracer_provider": kwargs.get("tracer_provider"),
            "meter_provider": kwargs.get("meter_provider"),
            "model_spans": kwargs.get("model_spans"),
            "workflow_spans": kwargs.get("workflow_spans", True),
        })

    def _uninstrument(self, **kwargs: Any) -> None:
        _DEFERRED.cancel()
        if "agents" in sys.modules:
            uninstrument_openai_agents()


_DEFERRED = DeferredInstrumentation("openai-agents", "agents", instrument_openai_agents)
