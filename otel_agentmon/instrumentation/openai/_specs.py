"""What each instrumented openai method records: chat completions, responses, embeddings."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from otel_agentmon.evaluation._capture import EVALUATION, OPENAI_CHAT, OPENAI_RESPONSES
from otel_agentmon.instrumentation import _content
from otel_agentmon.instrumentation._attributes import is_given, non_negative_int, request_attributes, stop_sequences
from otel_agentmon.instrumentation._calls import server_of
from otel_agentmon.instrumentation._invocation import Inference
from otel_agentmon.instrumentation._telemetry import Instruments
from otel_agentmon.semconv import gen_ai as ga

PROVIDER = ga.Provider.OPENAI

_CHAT_PARAMETERS = (
    ("max_tokens", ga.REQUEST_MAX_TOKENS),
    ("max_completion_tokens", ga.REQUEST_MAX_TOKENS),
    ("temperature", ga.REQUEST_TEMPERATURE),
    ("top_p", ga.REQUEST_TOP_P),
    ("seed", ga.REQUEST_SEED),
    ("frequency_penalty", ga.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", ga.REQUEST_PRESENCE_PENALTY),
)
_RESPONSES_PARAMETERS = (
    ("max_output_tokens", ga.REQUEST_MAX_TOKENS),
    ("temperature", ga.REQUEST_TEMPERATURE),
    ("top_p", ga.REQUEST_TOP_P),
)


def _usage(usage: Any, attributes: dict[str, Any], input_field: str, output_field: str,
           input_details: str, output_details: str) -> None:
    """Token usage of chat completions (prompt/completion tokens) and of the Responses API
    (input/output tokens): the same shape under different field names."""
    if usage is None:
        return
    input_tokens = non_negative_int(getattr(usage, input_field, None))
    if input_tokens is not None:
        attributes[ga.USAGE_INPUT_TOKENS] = input_tokens
    output_tokens = non_negative_int(getattr(usage, output_field, None))
    if output_tokens is not None:
        attributes[ga.USAGE_OUTPUT_TOKENS] = output_tokens
    cached = non_negative_int(getattr(getattr(usage, input_details, None), "cached_tokens", None))
    if cached:
        attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = non_negative_int(getattr(getattr(usage, output_details, None), "reasoning_tokens", None))
    if reasoning:
        attributes[ga.USAGE_REASONING_OUTPUT_TOKENS] = reasoning


def _chat_usage(usage: Any, attributes: dict[str, Any]) -> None:
    _usage(usage, attributes, "prompt_tokens", "completion_tokens", "prompt_tokens_details",
           "completion_tokens_details")


def _responses_usage(usage: Any, attributes: dict[str, Any]) -> None:
    _usage(usage, attributes, "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def _openai_extras(result: Any, attributes: dict[str, Any]) -> None:
    tier = getattr(result, "service_tier", None)
    if isinstance(tier, str):
        attributes[ga.OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = getattr(result, "system_fingerprint", None)
    if isinstance(fingerprint, str):
        attributes[ga.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


def _start(tracer: Tracer, instruments: Instruments, instance: Any, operation: str, kwargs: dict[str, Any],
           request: dict[str, Any]) -> Inference:
    model = kwargs.get("model")
    host, port = server_of(instance)
    return Inference(tracer, instruments, operation, PROVIDER, model if isinstance(model, str) else None,
                     host, port, request)


# --- chat.completions.create -----------------------------------------------------------------

class ChatStreamObserver:
    """Reads chat completion chunks: id, model, finish reasons, the final usage chunk, content
    (collected with content capture, or for quality evaluation: ``collect``)."""

    __slots__ = ("hide_usage_chunk", "capture", "collect", "attributes", "finish_reasons", "usage", "choices")

    def __init__(self, hide_usage_chunk: bool, capture: bool, collect: bool = False) -> None:
        self.hide_usage_chunk = hide_usage_chunk
        self.capture = capture
        self.collect = capture or collect
        self.attributes: dict[str, Any] = {}
        self.finish_reasons: dict[int, str] = {}
        self.usage: Any = None
        self.choices: dict[int, dict[str, Any]] = {}

    def observe(self, chunk: Any) -> bool:
        attributes = self.attributes
        if not attributes:
            chunk_id = getattr(chunk, "id", None)
            if chunk_id:
                attributes[ga.RESPONSE_ID] = chunk_id
            model = getattr(chunk, "model", None)
            if model:
                attributes[ga.RESPONSE_MODEL] = model
            _openai_extras(chunk, attributes)
        choices = getattr(chunk, "choices", None)
        if choices:
            for choice in choices:
                reason = choice.finish_reason
                if reason:
                    self.finish_reasons[choice.index] = reason
                if self.collect:
                    self._accumulate(choice)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
            return self.hide_usage_chunk and not choices
        return False

    def _accumulate(self, choice: Any) -> None:
        message = self.choices.setdefault(choice.index, {"role": "assistant", "content": "", "tool_calls": {}})
        delta = choice.delta
        if delta is None:
            return
        if delta.content:
            message["content"] += delta.content
        for call in delta.tool_calls or ():
            entry = message["tool_calls"].setdefault(call.index, {"id": None, "name": "", "arguments": ""})
            if call.id:
                entry["id"] = call.id
            function = call.function
            if function is not None:
                entry["name"] += function.name or ""
                entry["arguments"] += function.arguments or ""
        if choice.finish_reason:
            message["finish_reason"] = choice.finish_reason

    def response_attributes(self) -> dict[str, Any]:
        attributes = dict(self.attributes)
        if self.finish_reasons:
            attributes[ga.RESPONSE_FINISH_REASONS] = tuple(self.finish_reasons[i] for i in sorted(self.finish_reasons))
        _chat_usage(self.usage, attributes)
        if self.capture and self.choices:
            attributes.update(_content.content_attributes(None, None, self.output_messages()))
        return attributes

    def output_messages(self) -> list[dict[str, Any]] | None:
        if not self.choices:
            return None
        output = [
            {**message, "tool_calls": [message["tool_calls"][i] for i in sorted(message["tool_calls"])]}
            for _, message in sorted(self.choices.items())
        ]
        return _content.openai_chat_output(output)


class ChatCompletions:
    name = "openai chat.completions.create"
    library = "openai"

    def __init__(self, capture_content: bool, stream_usage: bool) -> None:
        self.capture = capture_content
        self.stream_usage = stream_usage

    def start(self, tracer: Tracer, instruments: Instruments, instance: Any, kwargs: dict[str, Any]):
        request = request_attributes(kwargs, _CHAT_PARAMETERS)
        stop = stop_sequences(kwargs.get("stop"))
        if stop:
            request[ga.REQUEST_STOP_SEQUENCES] = stop
        n = kwargs.get("n")
        if type(n) is int and n != 1:
            request[ga.REQUEST_CHOICE_COUNT] = n
        stream = kwargs.get("stream") is True
        if stream:
            request[ga.REQUEST_STREAM] = True
        if self.capture:
            input_messages, system = _content.openai_chat_input(kwargs.get("messages"))
            request.update(_content.content_attributes(input_messages, system, None))
        inference = _start(tracer, instruments, instance, ga.Operation.CHAT, kwargs, request)
        if EVALUATION.enabled:
            inference.evaluation = EVALUATION.begin(OPENAI_CHAT, inference.span, kwargs, self.capture)
        if not stream:
            return inference, kwargs, None
        call_kwargs = kwargs
        hide = False
        if self.stream_usage:
            options = kwargs.get("stream_options")
            if not is_given(options):
                options = {}
            if isinstance(options, dict) and options.get("include_usage") is not True:
                call_kwargs = {**kwargs, "stream_options": {**options, "include_usage": True}}
                hide = True
        return inference, call_kwargs, ChatStreamObserver(hide, self.capture, inference.evaluation is not None)

    def response_attributes(self, result: Any) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        choices = getattr(result, "choices", None)
        if choices is None:
            return attributes  # not a ChatCompletion (a raw response, for instance)
        response_id = getattr(result, "id", None)
        if response_id:
            attributes[ga.RESPONSE_ID] = response_id
        model = getattr(result, "model", None)
        if model:
            attributes[ga.RESPONSE_MODEL] = model
        reasons = tuple(c.finish_reason for c in choices if getattr(c, "finish_reason", None))
        if reasons:
            attributes[ga.RESPONSE_FINISH_REASONS] = reasons
        _chat_usage(getattr(result, "usage", None), attributes)
        _openai_extras(result, attributes)
        if self.capture:
            attributes.update(_content.content_attributes(None, None, _content.openai_chat_output(choices)))
        return attributes


# --- responses.create ------------------------------------------------------------------------

def _responses_finish_reasons(response: Any) -> tuple[str, ...]:
    status = getattr(response, "status", None)
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        return (reason if reason in ("content_filter",) else "length",) if reason else ("length",)
    if status in ("failed", "cancelled"):
        return ("error",)
    if status != "completed":
        return ()
    output = getattr(response, "output", None) or ()
    if any(getattr(item, "type", None) == "function_call" for item in output):
        return ("tool_calls",)
    return ("stop",)


class ResponsesStreamObserver:
    """Reads Responses API events: the created response, then the completed one with usage."""

    __slots__ = ("capture", "created", "final")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.created: Any = None
        self.final: Any = None

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = getattr(event, "response", None)
        elif kind == "response.created":
            self.created = getattr(event, "response", None)
        return False

    def response_attributes(self) -> dict[str, Any]:
        response = self.final if self.final is not None else self.created
        if response is None:
            return {}
        return Responses.read(response, self.capture and self.final is not None)

    def output_messages(self) -> list[dict[str, Any]] | None:
        return None if self.final is None else _content.openai_responses_output(self.final)


class Responses:
    name = "openai responses.create"
    library = "openai"

    def __init__(self, capture_content: bool) -> None:
        self.capture = capture_content

    def start(self, tracer: Tracer, instruments: Instruments, instance: Any, kwargs: dict[str, Any]):
        request = request_attributes(kwargs, _RESPONSES_PARAMETERS)
        stream = kwargs.get("stream") is True
        if stream:
            request[ga.REQUEST_STREAM] = True
        if self.capture:
            input_messages, system = _content.openai_responses_input(kwargs.get("input"), kwargs.get("instructions"))
            request.update(_content.content_attributes(input_messages, system, None))
        inference = _start(tracer, instruments, instance, ga.Operation.CHAT, kwargs, request)
        if EVALUATION.enabled:
            inference.evaluation = EVALUATION.begin(OPENAI_RESPONSES, inference.span, kwargs, self.capture)
        return inference, kwargs, ResponsesStreamObserver(self.capture) if stream else None

    @staticmethod
    def read(response: Any, capture: bool) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if getattr(response, "output", None) is None and getattr(response, "status", None) is None:
            return attributes
        response_id = getattr(response, "id", None)
        if response_id:
            attributes[ga.RESPONSE_ID] = response_id
        model = getattr(response, "model", None)
        if model:
            attributes[ga.RESPONSE_MODEL] = model
        reasons = _responses_finish_reasons(response)
        if reasons:
            attributes[ga.RESPONSE_FINISH_REASONS] = reasons
        _responses_usage(getattr(response, "usage", None), attributes)
        tier = getattr(response, "service_tier", None)
        if isinstance(tier, str):
            attributes[ga.OPENAI_RESPONSE_SERVICE_TIER] = tier
        if capture:
            attributes.update(_content.content_attributes(None, None, _content.openai_responses_output(response)))
        return attributes

    def response_attributes(self, result: Any) -> dict[str, Any]:
        return self.read(result, self.capture)


# --- embeddings.create -----------------------------------------------------------------------

class Embeddings:
    name = "openai embeddings.create"
    library = "openai"

    def __init__(self, capture_content: bool) -> None:
        self.capture = capture_content

    def start(self, tracer: Tracer, instruments: Instruments, instance: Any, kwargs: dict[str, Any]):
        request: dict[str, Any] = {}
        encoding = kwargs.get("encoding_format")
        if isinstance(encoding, str):
            request[ga.REQUEST_ENCODING_FORMATS] = (encoding,)
        dimensions = kwargs.get("dimensions")
        if type(dimensions) is int:
            request[ga.EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return _start(tracer, instruments, instance, ga.Operation.EMBEDDINGS, kwargs, request), kwargs, None

    def response_attributes(self, result: Any) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        data = getattr(result, "data", None)
        if data is None:
            return attributes
        model = getattr(result, "model", None)
        if model:
            attributes[ga.RESPONSE_MODEL] = model
        usage = getattr(result, "usage", None)
        prompt = non_negative_int(getattr(usage, "prompt_tokens", None))
        if prompt is not None:
            attributes[ga.USAGE_INPUT_TOKENS] = prompt
        if data:
            vector = getattr(data[0], "embedding", None)
            if isinstance(vector, list):
                attributes[ga.EMBEDDINGS_DIMENSION_COUNT] = len(vector)
        return attributes
