"""What the instrumented anthropic methods record: messages.create and messages.stream()."""

from __future__ import annotations

from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Tracer

from otel_agentmon.budgets import check_budget
from otel_agentmon.evaluation._capture import ANTHROPIC_MESSAGES, EVALUATION
from otel_agentmon.instrumentation import _content
from otel_agentmon.instrumentation._attributes import non_negative_int, request_attributes, stop_sequences
from otel_agentmon.instrumentation._calls import report_fault, server_of
from otel_agentmon.instrumentation._invocation import Inference
from otel_agentmon.instrumentation._peers import peer_active
from otel_agentmon.instrumentation._stream import AsyncStream, SyncStream
from otel_agentmon.instrumentation._telemetry import Instruments
from otel_agentmon.semconv import gen_ai as ga

PROVIDER = ga.Provider.ANTHROPIC

_PARAMETERS = (
    ("max_tokens", ga.REQUEST_MAX_TOKENS),
    ("temperature", ga.REQUEST_TEMPERATURE),
    ("top_p", ga.REQUEST_TOP_P),
    ("top_k", ga.REQUEST_TOP_K),
)

# Anthropic's stop reasons in the vocabulary the GenAI conventions and OpenAI use, so one
# dashboard groups every provider alike.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def usage_attributes(usage: Any, attributes: dict[str, Any]) -> None:
    """Anthropic's input_tokens excludes cache reads and writes; the conventions' total includes them."""
    if usage is None:
        return
    input_tokens = non_negative_int(getattr(usage, "input_tokens", None))
    cache_read = non_negative_int(getattr(usage, "cache_read_input_tokens", None)) or 0
    cache_write = non_negative_int(getattr(usage, "cache_creation_input_tokens", None)) or 0
    if input_tokens is not None:
        attributes[ga.USAGE_INPUT_TOKENS] = input_tokens + cache_read + cache_write
    if cache_read:
        attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cache_write:
        attributes[ga.USAGE_CACHE_WRITE_INPUT_TOKENS] = cache_write
    output_tokens = non_negative_int(getattr(usage, "output_tokens", None))
    if output_tokens is not None:
        attributes[ga.USAGE_OUTPUT_TOKENS] = output_tokens


def message_attributes(message: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if getattr(message, "content", None) is None:
        return attributes  # not a Message (a raw response, for instance)
    message_id = getattr(message, "id", None)
    if message_id:
        attributes[ga.RESPONSE_ID] = message_id
    model = getattr(message, "model", None)
    if model:
        attributes[ga.RESPONSE_MODEL] = model
    reason = getattr(message, "stop_reason", None)
    if reason:
        attributes[ga.RESPONSE_FINISH_REASONS] = (FINISH_REASONS.get(reason, reason),)
    usage_attributes(getattr(message, "usage", None), attributes)
    if capture:
        attributes.update(_content.content_attributes(None, None, _content.anthropic_output(message)))
    return attributes


class MessageStreamObserver:
    """Reads raw message stream events: message_start (id, model, input usage), message_delta
    (stop reason, output usage); with content capture (or for quality evaluation:
    ``collect``), the content blocks."""

    __slots__ = ("capture", "collect", "attributes", "usage", "output_tokens", "stop_reason", "blocks")

    def __init__(self, capture: bool, collect: bool = False) -> None:
        self.capture = capture
        self.collect = capture or collect
        self.attributes: dict[str, Any] = {}
        self.usage: Any = None
        self.output_tokens: int | None = None
        self.stop_reason: str | None = None
        self.blocks: dict[int, dict[str, Any]] = {}

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = event.message
            if message.id:
                self.attributes[ga.RESPONSE_ID] = message.id
            if message.model:
                self.attributes[ga.RESPONSE_MODEL] = message.model
            self.usage = message.usage
        elif kind == "message_delta":
            reason = getattr(event.delta, "stop_reason", None)
            if reason:
                self.stop_reason = reason
            usage = getattr(event, "usage", None)
            output = non_negative_int(getattr(usage, "output_tokens", None))
            if output is not None:
                self.output_tokens = output
        elif self.collect and kind in ("content_block_start", "content_block_delta"):
            self._accumulate(kind, event)
        return False

    def _accumulate(self, kind: str, event: Any) -> None:
        if kind == "content_block_start":
            block = event.content_block
            self.blocks[event.index] = {"type": block.type, "text": getattr(block, "text", "") or "",
                                        "id": getattr(block, "id", None), "name": getattr(block, "name", None),
                                        "input": "", "thinking": ""}
            return
        block = self.blocks.get(event.index)
        if block is None:
            return
        delta = event.delta
        delta_type = getattr(delta, "type", None)
        if delta_type == "text_delta":
            block["text"] += delta.text
        elif delta_type == "input_json_delta":
            block["input"] += delta.partial_json
        elif delta_type == "thinking_delta":
            block["thinking"] += delta.thinking

    def response_attributes(self) -> dict[str, Any]:
        attributes = dict(self.attributes)
        usage_attributes(self.usage, attributes)
        if self.output_tokens is not None:
            attributes[ga.USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.stop_reason:
            attributes[ga.RESPONSE_FINISH_REASONS] = (FINISH_REASONS.get(self.stop_reason, self.stop_reason),)
        if self.capture and self.blocks:
            attributes.update(_content.content_attributes(None, None, self.output_messages()))
        return attributes

    def output_messages(self) -> list[dict[str, Any]] | None:
        if not self.blocks:
            return None
        content = []
        for _, block in sorted(self.blocks.items()):
            if block["type"] == "tool_use":
                content.append({"type": "tool_use", "id": block["id"], "name": block["name"],
                                "input": block["input"] or "{}"})
            elif block["type"] == "thinking":
                content.append({"type": "thinking", "thinking": block["thinking"]})
            else:
                content.append({"type": "text", "text": block["text"]})
        message = {"role": "assistant", "content": content, "stop_reason": self.stop_reason}
        return _content.anthropic_output(message)


class Messages:
    name = "anthropic messages.create"
    library = "anthropic"

    def __init__(self, capture_content: bool) -> None:
        self.capture = capture_content

    def start_inference(self, tracer: Tracer, instruments: Instruments, instance: Any, kwargs: dict[str, Any],
                        stream: bool) -> Inference:
        request = request_attributes(kwargs, _PARAMETERS)
        stop = stop_sequences(kwargs.get("stop_sequences"))
        if stop:
            request[ga.REQUEST_STOP_SEQUENCES] = stop
        if stream:
            request[ga.REQUEST_STREAM] = True
        if self.capture:
            input_messages, system = _content.anthropic_input(kwargs.get("messages"), kwargs.get("system"))
            request.update(_content.content_attributes(input_messages, system, None))
        model = kwargs.get("model")
        host, port = server_of(instance)
        inference = Inference(tracer, instruments, ga.Operation.CHAT, PROVIDER,
                              model if isinstance(model, str) else None, host, port, request)
        if EVALUATION.enabled:
            inference.evaluation = EVALUATION.begin(ANTHROPIC_MESSAGES, inference.span, kwargs, self.capture)
        return inference

    def start(self, tracer: Tracer, instruments: Instruments, instance: Any, kwargs: dict[str, Any]):
        stream = kwargs.get("stream") is True
        inference = self.start_inference(tracer, instruments, instance, kwargs, stream)
        observer = MessageStreamObserver(self.capture, inference.evaluation is not None) if stream else None
        return inference, kwargs, observer

    def response_attributes(self, result: Any) -> dict[str, Any]:
        return message_attributes(result, self.capture)


class MessageStreamManager(wrapt.ObjectProxy):
    """Proxy for the manager ``messages.stream()`` returns: the span starts when the request is
    made (``__enter__``) and follows the raw event stream the helper reads."""

    def __init__(self, wrapped: Any, spec: Messages, tracer: Tracer, instruments: Instruments, instance: Any,
                 kwargs: dict[str, Any], is_async: bool) -> None:
        super().__init__(wrapped)
        self._self_start = (spec, tracer, instruments, instance, kwargs)
        self._self_inference: Inference | None = None
        self._self_message_stream: Any = None
        self._self_is_async = is_async

    def _begin(self) -> Inference | None:
        spec, tracer, instruments, instance, kwargs = self._self_start
        try:
            inference = spec.start_inference(tracer, instruments, instance, kwargs, True)
        except Exception:
            report_fault(f"{spec.name} (messages.stream)")
            return None
        inference.activate()
        self._self_inference = inference
        return inference

    def _attach(self, inference: Inference | None, message_stream: Any) -> None:
        if inference is None:
            return
        inference.deactivate()
        spec = self._self_start[0]
        raw = getattr(message_stream, "_raw_stream", None)
        if raw is None:
            return  # this SDK version reads events elsewhere: the span ends at __exit__
        try:
            proxy = AsyncStream if self._self_is_async else SyncStream
            observer = MessageStreamObserver(spec.capture, inference.evaluation is not None)
            message_stream._raw_stream = proxy(raw, inference, observer)
        except Exception:
            report_fault(f"{spec.name} (messages.stream events)")

    def _failed(self, inference: Inference | None, error: BaseException) -> None:
        if inference is not None:
            inference.deactivate()
            inference.end(None, error)

    def _end_if_open(self, message_stream: Any, error: BaseException | None) -> None:
        inference = self._self_inference
        if inference is None:
            return
        try:
            snapshot = getattr(message_stream, "current_message_snapshot", None) if message_stream else None
            attributes = message_attributes(snapshot, self._self_start[0].capture) if snapshot is not None else {}
            if inference.evaluation is not None and inference.evaluation.observer is None:
                inference.evaluation.result = snapshot
        except Exception:
            attributes = {}
        inference.end(attributes, error)  # no-op when the event stream already ended the span

    def __enter__(self) -> Any:
        inference = self._begin()
        try:
            if inference is not None and inference.who is not None:
                check_budget(inference.who)
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            self._failed(inference, exc)
            raise
        self._self_message_stream = message_stream
        self._attach(inference, message_stream)
        return message_stream

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, traceback)
        finally:
            self._end_if_open(self._self_message_stream, exc)

    async def __aenter__(self) -> Any:
        inference = self._begin()
        try:
            if inference is not None and inference.who is not None:
                check_budget(inference.who)
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            self._failed(inference, exc)
            raise
        self._self_message_stream = message_stream
        self._attach(inference, message_stream)
        return message_stream

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, traceback)
        finally:
            self._end_if_open(self._self_message_stream, exc)


def _stream_wrapper(spec: Messages, tracer: Tracer, instruments: Instruments, is_async: bool):
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_enabled() or peer_active(spec.library):
            return manager
        try:
            return MessageStreamManager(manager, spec, tracer, instruments, instance, kwargs, is_async)
        except Exception:
            report_fault(f"{spec.name} (messages.stream)")
            return manager

    return wrapper


def sync_stream_wrapper(spec: Messages, tracer: Tracer, instruments: Instruments):
    return _stream_wrapper(spec, tracer, instruments, is_async=False)


def async_stream_wrapper(spec: Messages, tracer: Tracer, instruments: Instruments):
    return _stream_wrapper(spec, tracer, instruments, is_async=True)
