"""Scripted replies, injected faults, control headers and deterministic token counts.

Everything in this module is independent of HTTP: it describes *what* the
provider server answers, while ``_server`` decides *how* it goes on the wire
and ``_openai`` / ``_anthropic`` shape the provider-specific payloads.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

__all__ = [
    "Call",
    "FAULTS",
    "FAULT_HEADER",
    "REPLY_HEADER",
    "Fault",
    "JSONResult",
    "Plan",
    "Reply",
    "ScriptQueue",
    "StreamResult",
    "ToolCall",
    "Usage",
    "count_tokens",
    "default_text",
    "new_id",
    "parse_fault_header",
    "parse_reply_header",
    "request_text",
    "resolve_usage",
    "split_stream_text",
]

#: Request header that selects a fault for that single request.
FAULT_HEADER = "x-agentmon-fault"
#: Request header carrying a JSON object of :class:`Reply` fields for that single request.
REPLY_HEADER = "x-agentmon-reply"

#: Names of the faults the server can inject, in documentation order.
FAULTS: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "service_unavailable",
    "overloaded",
    "auth",
    "context_length_exceeded",
    "bad_request",
    "content_filter",
    "timeout",
    "connection_reset",
    "malformed_sse",
)

#: Faults answered with an HTTP error status and a provider-shaped error body.
STATUS_FAULTS = frozenset(
    {
        "rate_limit",
        "server_error",
        "service_unavailable",
        "overloaded",
        "auth",
        "context_length_exceeded",
        "bad_request",
    }
)

_DEFAULT_TIMEOUT_DELAY = 5.0
_DEFAULT_MALFORMED_AFTER = 2


@dataclass(frozen=True)
class Reply:
    """A scripted successful answer.

    Every field is optional; anything left as ``None`` is derived
    deterministically from the request.

    Token fields are reported verbatim in the provider's own usage fields:
    ``input_tokens`` becomes OpenAI ``prompt_tokens`` / ``input_tokens`` and
    Anthropic ``input_tokens`` (which, as on the real API, does not include
    cache reads or writes). OpenAI prompt counts do include cached tokens, so
    there they are raised to at least ``cached_tokens``.

    Attributes:
        text: assistant text. Default: ``"Answer to: <first 60 chars of the last
            user message>"``, or no text at all when ``tool_calls`` is set.
        input_tokens: prompt token count. Default: words of all request
            messages times 1.3, rounded (at least 1).
        output_tokens: completion token count. Default: the same count over the
            reply text and tool-call arguments, plus ``reasoning_tokens``.
        cached_tokens: OpenAI ``prompt_tokens_details.cached_tokens`` /
            ``input_tokens_details.cached_tokens``; Anthropic
            ``cache_read_input_tokens``.
        cache_write_tokens: Anthropic ``cache_creation_input_tokens`` (also
            reported as OpenAI ``cache_write_tokens`` where the schema has it).
        reasoning_tokens: OpenAI ``completion_tokens_details.reasoning_tokens``
            / ``output_tokens_details.reasoning_tokens``.
        tool_calls: list of ``{"name": str, "arguments": dict | str}`` (an
            optional ``"id"`` fixes the call id). Produces OpenAI ``tool_calls``
            / Responses ``function_call`` items / Anthropic ``tool_use`` blocks.
        finish_reason: overrides the finish/stop reason. OpenAI and Anthropic
            spellings are translated for the other provider (``"length"`` <->
            ``"max_tokens"``, ``"stop"`` <-> ``"end_turn"``, ``"tool_calls"``
            <-> ``"tool_use"``, ``"content_filter"`` <-> ``"refusal"``).
        model: overrides the response model (default: echo the request model).
        delay: seconds to wait before responding.
        chunk_delay: seconds to wait between streamed events.
    """

    text: Optional[str] = None
    input_tokens: Optional[int] = None
    output_tokens: Optional[int] = None
    cached_tokens: Optional[int] = None
    cache_write_tokens: Optional[int] = None
    reasoning_tokens: Optional[int] = None
    tool_calls: Optional[Sequence[Mapping[str, Any]]] = None
    finish_reason: Optional[str] = None
    model: Optional[str] = None
    delay: Optional[float] = None
    chunk_delay: Optional[float] = None

    def __post_init__(self) -> None:
        if self.text is not None and not isinstance(self.text, str):
            raise TypeError("Reply.text must be a string")
        for name in ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"Reply.{name} must be a non-negative integer")
        for name in ("delay", "chunk_delay"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"Reply.{name} must be a non-negative number of seconds")
        for name in ("finish_reason", "model"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Reply.{name} must be a string")
        if self.tool_calls is not None:
            if isinstance(self.tool_calls, (str, bytes, Mapping)):
                raise TypeError("Reply.tool_calls must be a list of {'name': ..., 'arguments': {...}} mappings")
            for call in self.tool_calls:
                if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                    raise ValueError("each tool call needs a string 'name'")
                arguments = call.get("arguments", {})
                if not isinstance(arguments, (Mapping, str)):
                    raise ValueError("tool call 'arguments' must be a mapping or a JSON string")


@dataclass(frozen=True)
class Fault:
    """An injected failure, answered the way the real provider fails.

    Attributes:
        name: one of :data:`FAULTS`.
        delay: seconds to wait before failing. For ``"timeout"`` this is how long
            the server stalls before answering normally (default 5).
        retry_after: seconds announced in ``retry-after`` / ``retry-after-ms``
            on ``"rate_limit"`` (and the other retryable statuses).
        after: for streamed requests, how many events are sent before
            ``"malformed_sse"`` breaks the stream (default 2) or
            ``"connection_reset"`` drops the connection (default: before any
            response at all).
        message: overrides the error message of status faults.
    """

    name: str
    delay: Optional[float] = None
    retry_after: float = 1.0
    after: Optional[int] = None
    message: Optional[str] = None

    def __post_init__(self) -> None:
        if self.name not in FAULTS:
            raise ValueError(f"unknown fault {self.name!r}; expected one of {', '.join(FAULTS)}")
        if self.delay is not None and (not isinstance(self.delay, (int, float)) or self.delay < 0):
            raise ValueError("Fault.delay must be a non-negative number of seconds")
        if not isinstance(self.retry_after, (int, float)) or self.retry_after < 0:
            raise ValueError("Fault.retry_after must be a non-negative number of seconds")
        after = self.after
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError("Fault.after must be a non-negative integer")

    @property
    def is_status(self) -> bool:
        """True when the fault is answered with an HTTP error status."""
        return self.name in STATUS_FAULTS

    @property
    def timeout_delay(self) -> float:
        return _DEFAULT_TIMEOUT_DELAY if self.delay is None else float(self.delay)

    @property
    def malformed_after(self) -> int:
        return _DEFAULT_MALFORMED_AFTER if self.after is None else self.after


Item = Union[Reply, Fault]


@dataclass
class Plan:
    """What one request is going to get: a reply, possibly altered by a fault."""

    reply: Reply = field(default_factory=Reply)
    fault: Optional[Fault] = None

    @property
    def content_filter(self) -> bool:
        return self.fault is not None and self.fault.name == "content_filter"


# --------------------------------------------------------------------------- headers


def _parse_number(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{FAULT_HEADER}: {key} must be a number, got {raw!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{FAULT_HEADER}: {key} must be finite")
    return value


def parse_fault_header(value: str) -> Fault:
    """Parse ``"<name>[;delay=S][;retry_after=S][;after=N]"`` into a :class:`Fault`."""
    parts = [part.strip() for part in value.split(";")]
    name = parts[0].lower().replace("-", "_")
    kwargs: dict[str, Any] = {}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        raw = raw.strip()
        if not sep:
            raise ValueError(f"{FAULT_HEADER}: expected key=value, got {part!r}")
        if key in ("delay", "retry_after"):
            kwargs[key] = _parse_number(key, raw)
        elif key == "after":
            try:
                kwargs["after"] = int(raw)
            except ValueError:
                raise ValueError(f"{FAULT_HEADER}: after must be an integer, got {raw!r}") from None
        elif key == "message":
            kwargs["message"] = raw
        else:
            raise ValueError(f"{FAULT_HEADER}: unknown parameter {key!r}")
    return Fault(name, **kwargs)


_REPLY_FIELDS = frozenset(f.name for f in fields(Reply))


def parse_reply_header(value: str) -> Reply:
    """Parse the JSON object of the reply header into a :class:`Reply`."""
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ValueError(f"{REPLY_HEADER} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{REPLY_HEADER} must be a JSON object")
    unknown = set(data) - _REPLY_FIELDS
    if unknown:
        raise ValueError(f"{REPLY_HEADER}: unknown field(s) {', '.join(sorted(unknown))}")
    return Reply(**data)


# --------------------------------------------------------------------------- text and tokens


def count_tokens(text: str) -> int:
    """Deterministic token estimate: whitespace-separated words times 1.3, rounded half up."""
    words = len(text.split())
    return int(words * 1.3 + 0.5)


# Keys whose values are identifiers or media rather than prose; they are not counted.
_SKIP_KEYS = frozenset(
    {
        "type",
        "role",
        "id",
        "tool_call_id",
        "tool_use_id",
        "call_id",
        "cache_control",
        "image_url",
        "source",
        "media_type",
        "url",
        "detail",
        "format",
        "status",
        "signature",
        "file_id",
    }
)


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key in _SKIP_KEYS:
                continue
            if key in ("input", "arguments") and isinstance(value, Mapping):
                # Structured tool input: count it as its JSON text.
                yield json.dumps(value, sort_keys=True)
                continue
            yield from _texts(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _texts(item)


def request_text(*parts: Any) -> str:
    """All prose in the given request fragments (messages, system, input, ...), space-joined."""
    return " ".join(text for part in parts if part is not None for text in _texts(part))


def _last_user_item(items: Iterable[Any]) -> Any:
    last = None
    for item in items:
        if isinstance(item, str):
            last = item
        elif isinstance(item, Mapping):
            if item.get("role") in ("user", "tool") or item.get("type") == "function_call_output":
                last = item
    return last


def last_user_text(messages: Any) -> str:
    """Text of the last user (or tool-result) message of a message list or Responses ``input``."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, (list, tuple)):
        return ""
    item = _last_user_item(messages)
    if item is None:
        return ""
    if isinstance(item, str):
        return item
    return request_text(item.get("content"), item.get("output"))


def default_text(user_text: str) -> str:
    """The deterministic default answer for a request whose last user message is ``user_text``."""
    snippet = " ".join(user_text.split())[:60]
    if not snippet:
        return "Hello from the local provider."
    return f"Answer to: {snippet}"


# --------------------------------------------------------------------------- ids and tool calls


def new_id(prefix: str, length: int = 24) -> str:
    """A fresh random id such as ``chatcmpl-<hex>`` / ``call_<hex>``."""
    return prefix + uuid.uuid4().hex[:length]


@dataclass(frozen=True)
class ToolCall:
    """A normalised scripted tool call."""

    name: str
    arguments: dict[str, Any]
    arguments_json: str
    id: Optional[str] = None

    @classmethod
    def from_mapping(cls, call: Mapping[str, Any]) -> "ToolCall":
        raw = call.get("arguments", {})
        if isinstance(raw, str):
            arguments_json = raw
            try:
                parsed = json.loads(raw) if raw.strip() else {}
            except ValueError:
                parsed = {}
            arguments = parsed if isinstance(parsed, dict) else {}
        else:
            arguments = dict(raw)
            arguments_json = json.dumps(arguments, separators=(",", ":"))
        call_id = call.get("id")
        return cls(name=str(call["name"]), arguments=arguments, arguments_json=arguments_json, id=call_id)


def tool_calls_of(reply: Reply) -> list[ToolCall]:
    return [ToolCall.from_mapping(call) for call in (reply.tool_calls or ())]


def reply_text(reply: Reply, user_text: str, *, content_filter: bool = False) -> str:
    """The assistant text of ``reply`` ("" when there is none)."""
    if content_filter:
        return ""
    if reply.text is not None:
        return reply.text
    if reply.tool_calls:
        return ""
    return default_text(user_text)


# --------------------------------------------------------------------------- usage


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def resolve_usage(reply: Reply, prompt_text: str, output_text: str, tool_calls: Sequence[ToolCall] = ()) -> Usage:
    """Token usage of one answer: the reply's explicit numbers, else deterministic counts."""
    cached = reply.cached_tokens or 0
    cache_write = reply.cache_write_tokens or 0
    reasoning = reply.reasoning_tokens or 0
    if reply.input_tokens is not None:
        input_tokens = reply.input_tokens
    else:
        input_tokens = max(1, count_tokens(prompt_text))
    if reply.output_tokens is not None:
        output_tokens = reply.output_tokens
    else:
        output_tokens = count_tokens(output_text) + reasoning
        for call in tool_calls:
            output_tokens += count_tokens(call.name + " " + call.arguments_json.replace(",", ", "))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


# --------------------------------------------------------------------------- streaming helpers


def split_stream_text(text: str) -> list[str]:
    """Split text into stream deltas (one word plus its trailing whitespace each)."""
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for char in text:
        if current and not char.isspace() and current[-1].isspace():
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces


def split_json_arguments(arguments_json: str, size: int = 12) -> list[str]:
    """Split a JSON argument string into fixed-size fragments for streamed tool calls."""
    return [arguments_json[i : i + size] for i in range(0, len(arguments_json), size)] or [""]


_FINISH_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_FINISH_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
}


def openai_finish_reason(reply: Reply, *, has_tool_calls: bool, content_filter: bool) -> str:
    if content_filter:
        return "content_filter"
    if reply.finish_reason:
        return _FINISH_TO_OPENAI.get(reply.finish_reason, reply.finish_reason)
    return "tool_calls" if has_tool_calls else "stop"


def anthropic_stop_reason(reply: Reply, *, has_tool_calls: bool, content_filter: bool) -> str:
    if content_filter:
        return "refusal"
    if reply.finish_reason:
        return _FINISH_TO_ANTHROPIC.get(reply.finish_reason, reply.finish_reason)
    return "tool_use" if has_tool_calls else "end_turn"


# --------------------------------------------------------------------------- queue


class ScriptQueue:
    """Thread-safe FIFO of scripted :class:`Reply` / :class:`Fault` items."""

    def __init__(self) -> None:
        self._items: "deque[Item]" = deque()
        self._lock = threading.Lock()

    def put(self, items: Iterable[Item]) -> None:
        checked = list(items)
        for item in checked:
            if not isinstance(item, (Reply, Fault)):
                raise TypeError(f"expected Reply or Fault, got {type(item).__name__}")
        with self._lock:
            self._items.extend(checked)

    def pop(self) -> Optional[Item]:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# --------------------------------------------------------------------------- endpoint results


@dataclass
class Call:
    """One decoded request as handed to an endpoint function."""

    body: dict[str, Any]
    headers: dict[str, str]
    plan: Plan
    request_id: str

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) and model else "unknown-model"

    @property
    def response_model(self) -> str:
        return self.plan.reply.model or self.model


@dataclass
class JSONResult:
    """A complete JSON answer."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamResult:
    """A server-sent-event answer: ``events`` are ``(event name or None, data)``.

    ``data`` is a JSON-serialisable object or a literal string such as ``"[DONE]"``.
    """

    events: list[tuple[Optional[str], Any]]
    headers: dict[str, str] = field(default_factory=dict)


Result = Union[JSONResult, StreamResult]
