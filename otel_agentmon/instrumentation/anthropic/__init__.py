"""otel-agentmon's instrumentor for the anthropic SDK (messages.create, sync and async,
streamed and not, and the messages.stream() helper)."""

from __future__ import annotations

import os
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_agentmon.instrumentation._options import InstrumentationOptions
from otel_agentmon.instrumentation._wrapping import Patch, apply_patches, async_wrapper, remove_patches


def _patches() -> tuple[Patch, ...]:
    from otel_agentmon.instrumentation.anthropic._specs import async_stream_wrapper, sync_stream_wrapper

    module = "anthropic.resources.messages"
    return (
        Patch(module, "Messages.create", "messages"),
        Patch(module, "AsyncMessages.create", "messages", async_wrapper),
        Patch(module, "Messages.stream", "messages", sync_stream_wrapper),
        Patch(module, "AsyncMessages.stream", "messages", async_stream_wrapper),
    )


# The anthropic SDK (2.x) emits a span of its own per API call ("anthropic.messages.create")
# unless this variable is "false"; read when a client is constructed.
SDK_TRACES_VARIABLE = "ANTHROPIC_OPEN_TELEMETRY"


class AnthropicInstrumentor(BaseInstrumentor):
    """Instruments ``anthropic``: ``AnthropicInstrumentor().instrument()`` / ``.uninstrument()``.

    Options (keyword arguments of ``instrument``): ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (default: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).

    One model span per call: the SDK's own call spans are turned off (ANTHROPIC_OPEN_TELEMETRY
    =false, unless you set that variable yourself) for clients constructed after ``instrument()``;
    a client constructed before keeps them unless given ``open_telemetry=False``.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.40",)

    def _instrument(self, **kwargs: Any) -> None:
        import anthropic  # noqa: F401  (absent library: ModuleNotFoundError, which the loader skips quietly)

        from otel_agentmon.instrumentation.anthropic import _specs

        options = InstrumentationOptions.from_kwargs(kwargs)
        self._set_sdk_traces = SDK_TRACES_VARIABLE not in os.environ
        if self._set_sdk_traces:
            os.environ[SDK_TRACES_VARIABLE] = "false"
        self._applied = apply_patches(_patches(), {"messages": _specs.Messages(options.capture_content)},
                                      options.tracer, options.instruments)

    def _uninstrument(self, **kwargs: Any) -> None:
        remove_patches(getattr(self, "_applied", ()))
        self._applied = ()
        if getattr(self, "_set_sdk_traces", False) and os.environ.get(SDK_TRACES_VARIABLE) == "false":
            del os.environ[SDK_TRACES_VARIABLE]
        self._set_sdk_traces = False
