"""LangChain and LangGraph: agent, tool and workflow spans from LangChain's callback system.

Zero-code: ``opentelemetry-instrument`` loads the ``agentmon_langchain`` entry point. By hand,
for every run in the process::

    from otel_agentmon.integrations.langchain import instrument_langchain

    instrument_langchain()

or for chosen runs only: ``graph.invoke(inputs, config={"callbacks": [AgentmonCallbackHandler()]})``.
Which runs become which spans is described in ``_langchain_handler``. This module imports
LangChain only when instrumenting, so it can be imported without it.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_agentmon.integrations._on_import import DeferredInstrumentation

if TYPE_CHECKING:
    from otel_agentmon.integrations._langchain_handler import AgentmonCallbackHandler

__all__ = ["AgentmonCallbackHandler", "LangChainInstrumentor", "instrument_langchain", "uninstrument_langchain"]

_lock = threading.Lock()
_handler: "AgentmonCallbackHandler | None" = None


def __getattr__(name: str) -> Any:
    # the handler subclasses LangChain's BaseCallbackHandler: import LangChain on first use only
    if name == "AgentmonCallbackHandler":
        from otel_agentmon.integrations._langchain_handler import AgentmonCallbackHandler

        return AgentmonCallbackHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def instrument_langchain(*, tracer_provider: Any = None, meter_provider: Any = None, model_spans: bool | None = None,
                         agent_names: Collection[str] = (),
                         workflow_names: Collection[str] = ()) -> "AgentmonCallbackHandler":
    """Add otel-agentmon's callback handler to every LangChain run in the process; returns it.

    Uses LangChain's configure hook: every callback manager LangChain builds gets the handler
    (inherited by child runs), in every thread and task, unless the run already has an
    ``AgentmonCallbackHandler`` of its own. Calling again updates the options.
    """
    from langchain_core.tracers.context import register_configure_hook

    from otel_agentmon.integrations._langchain_handler import AgentmonCallbackHandler

    global _handler
    options = dict(tracer_provider=tracer_provider, meter_provider=meter_provider, model_spans=model_spans,
                   agent_names=agent_names, workflow_names=workflow_names)
    with _lock:
        if _handler is None:
            handler = AgentmonCallbackHandler(**options)
            # The hook reads the variable in whatever context a run starts in; a value set() here
            # would be seen only by this thread, a default is seen by all. Hooks cannot be removed,
            # so this handler stays registered for the life of the process (disabled when
            # uninstrumented) and is reconfigured by later calls.
            variable: ContextVar[Any] = ContextVar("otel_agentmon_langchain_handler", default=handler)
            register_configure_hook(variable, True, AgentmonCallbackHandler)
            _handler = handler
        else:
            _handler.configure(**options)
        _handler.enabled = True
        return _handler


def uninstrument_langchain() -> None:
    """Stop producing spans (runs already started still end their spans)."""
    with _lock:
        if _handler is not None:
            _handler.enabled = False


class LangChainInstrumentor(BaseInstrumentor):
    """``LangChainInstrumentor().instrument()`` / ``.uninstrument()``; the ``agentmon_langchain``
    entry point. Options: ``tracer_provider``, ``meter_provider``, ``model_spans``,
    ``agent_names``, ``workflow_names``. The handler is registered when the application
    imports ``langchain_core`` (at once if it already has)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("langchain-core >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        _DEFERRED.request({
            "tracer_provider": kwargs.get("tracer_provider"),
            "meter_provider": kwargs.get("meter_provider"),
            "model_spans": kwargs.get("model_spans"),
            "agent_names": kwargs.get("agent_names", ()),
            "workflow_names": kwargs.get("workflow_names", ()),
        })

    def _uninstrument(self, **kwargs: Any) -> None:
        _DEFERRED.cancel()
        uninstrument_langchain()


_DEFERRED = DeferredInstrumentation("langchain-core", "langchain_core", instrument_langchain)
