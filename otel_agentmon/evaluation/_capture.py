"""What the instrumentors hand to evaluation, and how it becomes an EvaluationInput.

On the request thread, for a call of a sampled trace with evaluation on, and only then: at
span start ``EVALUATION.begin`` keeps references to the request's messages (a shallow copy of
the lists, so that the application appending to its conversation afterwards changes nothing);
when the span ends the response (or the stream's observer) is attached and the capture is
put on the evaluation queue. Everything else (turning messages into text, running the
evaluators) happens on the evaluation thread.
"""

from __future__ import annotations

import logging
import os
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from opentelemetry.trace import Span, SpanContext

from otel_agentmon._runtime import current_enricher
from otel_agentmon._settings import AGENTMON_EVALUATORS
from otel_agentmon.evaluation._types import EvaluationInput
from otel_agentmon.instrumentation import _content
from otel_agentmon.processors import is_sampled, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

if TYPE_CHECKING:
    from otel_agentmon.evaluation._worker import EvaluationEngine

_logger = logging.getLogger("otel_agentmon")

# Kinds of request: which converters read the request and the response.
OPENAI_CHAT = "openai.chat"
OPENAI_RESPONSES = "openai.responses"
ANTHROPIC_MESSAGES = "anthropic.messages"

_FINISH_REASONS = ga.RESPONSE_FINISH_REASONS


def _shallow(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _snapshot(kind: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields evaluation reads, with lists copied (the items are not)."""
    if kind == OPENAI_CHAT:
        return {"messages": _shallow(kwargs.get("messages")), "response_format": kwargs.get("response_format")}
    if kind == OPENAI_RESPONSES:
        return {"input": _shallow(kwargs.get("input")), "instructions": _shallow(kwargs.get("instructions")),
                "text": kwargs.get("text")}
    return {"messages": _shallow(kwargs.get("messages")), "system": _shallow(kwargs.get("system")),
            "output_config": kwargs.get("output_config")}


def _field(obj: Any, key: str) -> Any:
    """``obj[key]`` of a mapping; None for anything else (the SDKs' omit sentinels included)."""
    return obj.get(key) if isinstance(obj, Mapping) else None


class Capture:
    """One sampled call on its way to the evaluators."""

    __slots__ = ("engine", "kind", "request", "capture_content", "result", "observer", "span_context",
                 "attributes", "application")

    def __init__(self, engine: "EvaluationEngine", kind: str, request: dict[str, Any], capture_content: bool) -> None:
        self.engine = engine
        self.kind = kind
        self.request = request
        self.capture_content = capture_content  # whether the call's span carries content (explanations may)
        self.result: Any = None  # the SDK's response object (non-streamed calls)
        self.observer: Any = None  # the stream observer (streamed calls), read once the stream is done
        self.span_context: SpanContext | None = None
        self.attributes: Mapping[str, Any] = {}
        self.application: str | None = None

    def submit(self, span: Span, attributes: Mapping[str, Any], metric_attributes: Mapping[str, Any]) -> None:
        """When the span ends without error (request thread): queue the call, if the reply is
        complete (it says how it finished; a stream left early does not)."""
        try:
            if _FINISH_REASONS not in attributes:
                return
            self.span_context = span.get_span_context()
            self.attributes = attributes
            self.application = metric_attributes.get(am.APPLICATION)
            self.engine.submit(self)
        except Exception:  # never in the way of the call
            _logger.debug("otel-agentmon: could not queue a call for evaluation", exc_info=True)

    # --- on the evaluation thread ---------------------------------------------------------

    def _input_messages(self) -> Any:
        request = self.request
        if self.kind == OPENAI_CHAT:
            return _content.openai_chat_input(request["messages"])
        if self.kind == OPENAI_RESPONSES:
            return _content.openai_responses_input(request["input"], request["instructions"])
        return _content.anthropic_input(request["messages"], request["system"])

    def _output_messages(self) -> Any:
        if self.observer is not None:
            return self.observer.output_messages()
        result = self.result
        if result is None:
            return None
        if self.kind == OPENAI_CHAT:
            return _content.openai_chat_output(getattr(result, "choices", None))
        if self.kind == OPENAI_RESPONSES:
            return _content.openai_responses_output(result)
        return _content.anthropic_output(result)

    def _response_format(self) -> str | None:
        request = self.request
        if self.kind == OPENAI_CHAT:
            wanted = request["response_format"]  # {"type": "json_object" | "json_schema" | "text", ...}
        elif self.kind == OPENAI_RESPONSES:
            wanted = _field(request["text"], "format")  # text={"format": {"type": ...}}
        else:
            wanted = _field(request["output_config"], "format")  # output_config={"format": {"type": "json_schema"}}
        kind = _field(wanted, "type")
        return kind if isinstance(kind, str) else None

    def to_input(self) -> EvaluationInput | None:
        """The EvaluationInput, or None when the reply has no text to judge (tool calls only)."""
        converted = self._input_messages()
        input_messages, system_parts = converted if converted is not None else ([], None)
        output = self._output_messages() or []
        reply = output[0] if output else None
        parts = reply.get("parts", []) if isinstance(reply, Mapping) else []
        texts = [p["content"] for p in parts if p.get("type") == "text" and isinstance(p.get("content"), str)]
        if not texts and any(p.get("type") == "tool_call" for p in parts):
            return None
        question = ""
        for message in reversed(input_messages):
            if message.get("role") == "user":
                question = "\n".join(p["content"] for p in message.get("parts", ())
                                     if p.get("type") == "text" and isinstance(p.get("content"), str))
                if question:
                    break
        system = [p["content"] for p in system_parts or () if p.get("type") == "text"
                  and isinstance(p.get("content"), str)]
        attributes = self.attributes
        reasons = attributes.get(_FINISH_REASONS) or ()
        model = attributes.get(ga.REQUEST_MODEL)
        return EvaluationInput(
            question=question,
            answer="\n".join(texts),
            system_instructions="\n".join(system) if system else None,
            model=model if isinstance(model, str) else None,
            provider=attributes.get(ga.PROVIDER_NAME),
            operation=attributes.get(ga.OPERATION_NAME),
            finish_reasons=tuple(r for r in reasons if isinstance(r, str)),
            response_format=self._response_format(),
            input_messages=tuple(input_messages),
            output_messages=tuple(output),
            attributes=MappingProxyType(dict(attributes)),
            span_context=self.span_context,
        )


class EvaluationGate:
    """What the instrumentors ask per call: ``if EVALUATION.enabled`` (one attribute read);
    only then ``begin`` (a sample check on the trace id, then a Capture for sampled calls)."""

    __slots__ = ("enabled", "engine", "_configured", "_lock", "_threshold")

    def __init__(self) -> None:
        # evaluation from the environment is set up on the first call, when configure() and
        # the agentmon configurator did not do it (instrumentors set up by hand)
        self.enabled = bool(os.environ.get(AGENTMON_EVALUATORS, "").strip())
        self.engine: EvaluationEngine | None = None
        self._configured = False
        self._lock = threading.Lock()
        self._threshold: tuple[object, int] = (None, 0)  # (enricher, its sample threshold)

    def install(self, engine: "EvaluationEngine | None") -> "EvaluationEngine | None":
        """Make ``engine`` the one calls are evaluated by (None: off); returns the previous."""
        with self._lock:
            previous, self.engine = self.engine, engine
            self._configured = True
            self.enabled = engine is not None
        return previous

    def _from_env(self) -> None:
        from otel_agentmon.evaluation._settings import evaluation_settings_from_env
        from otel_agentmon.evaluation._worker import EvaluationEngine

        with self._lock:
            if self._configured:
                return
            self._configured = True
            try:
                settings = evaluation_settings_from_env()
            except ValueError as exc:  # ConfigurationError
                _logger.error("otel-agentmon: %s (quality evaluation is off)", exc)
                settings = None
            self.engine = EvaluationEngine(settings) if settings is not None else None
            self.enabled = self.engine is not None

    def begin(self, kind: str, span: Span, kwargs: Mapping[str, Any], capture_content: bool) -> Capture | None:
        """A Capture when this call is to be evaluated (its trace is quality-sampled), else None."""
        try:
            if not self._configured:
                self._from_env()
            engine = self.engine
            if engine is None:
                return None
            trace_id = span.get_span_context().trace_id
            if not trace_id:
                return None
            enricher = current_enricher()
            cached_for, threshold = self._threshold
            if cached_for is not enricher:
                threshold = sample_threshold(enricher.quality_sample_rate)
                self._threshold = (enricher, threshold)
            if not is_sampled(trace_id, threshold):
                return None
            return Capture(engine, kind, _snapshot(kind, kwargs), capture_content)
        except Exception:  # never in the way of the call
            _logger.debug("otel-agentmon: could not prepare a call for evaluation", exc_info=True)
            return None


EVALUATION = EvaluationGate()
