"""otel-agentmon's instrumentor for the openai SDK (chat completions, responses, embeddings;
sync and async; streamed and not)."""

from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_agentmon.instrumentation._options import InstrumentationOptions
from otel_agentmon.instrumentation._wrapping import Patch, apply_patches, async_wrapper, remove_patches

_PATCHES = (
    Patch("openai.resources.chat.completions", "Completions.create", "chat"),
    Patch("openai.resources.chat.completions", "AsyncCompletions.create", "chat", async_wrapper),
    Patch("openai.resources.responses", "Responses.create", "responses"),
    Patch("openai.resources.responses", "AsyncResponses.create", "responses", async_wrapper),
    Patch("openai.resources.embeddings", "Embeddings.create", "embeddings"),
    Patch("openai.resources.embeddings", "AsyncEmbeddings.create", "embeddings", async_wrapper),
)


class OpenAIInstrumentor(BaseInstrumentor):
    """Instruments ``openai``: ``OpenAIInstrumentor().instrument()`` / ``.uninstrument()``.

    Options (keyword arguments of ``instrument``): ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (default: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT) and
    ``stream_usage`` (default: AGENTMON_OPENAI_STREAM_USAGE, true): ask for usage on streams
    (``stream_options.include_usage``) and hide the extra usage chunk from callers who did not.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40",)

    def _instrument(self, **kwargs: Any) -> None:
        import openai  # noqa: F401  (absent library: ModuleNotFoundError, which the loader skips quietly)

        from otel_agentmon.instrumentation.openai import _specs

        options = InstrumentationOptions.from_kwargs(kwargs)
        specs = {
            "chat": _specs.ChatCompletions(options.capture_content, options.stream_usage),
            "responses": _specs.Responses(options.capture_content),
            "embeddings": _specs.Embeddings(options.capture_content),
        }
        self._applied = apply_patches(_PATCHES, specs, options.tracer, options.instruments)

    def _uninstrument(self, **kwargs: Any) -> None:
        remove_patches(getattr(self, "_applied", ()))
        self._applied = ()
