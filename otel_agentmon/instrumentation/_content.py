"""Message content for GenAI spans: opt-in capture, secret redaction, bounded JSON, converters.

Content is off by default. When ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` turns it
on, an instrumentor converts the request and the response of a model call into the message
shape of the GenAI semantic conventions and sets three span attributes, each a JSON string:
the input messages, the output messages and the system instructions (see
``otel_agentmon.semconv.gen_ai``)::

    input / output messages  [{"role": "user", "parts": [{"type": "text", "content": "..."}]}, ...]
                             (output messages also carry "finish_reason")
    system instructions      [{"type": "text", "content": "..."}, ...]

Parts are ``text``, ``tool_call`` (id, name, arguments), ``tool_call_response`` (id, response),
``reasoning``, ``server_tool_call`` / ``server_tool_call_response`` (tools the provider runs),
and, for media, ``blob`` / ``uri`` / ``file`` parts that name the modality and MIME type but
never carry the bytes (inline data becomes ``"[omitted]"``).

Every function here is pure and never raises: on input it does not understand it returns
``None`` (a converter skips items it does not understand), and the caller leaves the attribute
out. ``bounded_json`` redacts secrets and personal data from every string (message text, tool
call arguments, tool results; see ``otel_agentmon.instrumentation._redaction``) and keeps the
result valid JSON within a byte budget; converters return plain Python structures and leave
redaction to it.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Callable

from otel_agentmon._settings import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, parse_capture_content
from otel_agentmon.instrumentation._redaction import REDACTED, is_secret_key, might_redact, redact
from otel_agentmon.semconv import gen_ai

__all__ = [
    "DEFAULT_MAX_BYTES",
    "REDACTED",
    "anthropic_input",
    "anthropic_output",
    "bounded_json",
    "capture_enabled",
    "content_attributes",
    "openai_chat_input",
    "openai_chat_output",
    "openai_responses_input",
    "openai_responses_output",
    "redact",
]

DEFAULT_MAX_BYTES = 16 * 1024
"""Default byte budget of one content attribute (UTF-8 size of the JSON string)."""

_OMITTED = "[omitted]"

# Finish reasons of the GenAI semantic conventions.
_STOP = "stop"
_LENGTH = "length"
_CONTENT_FILTER = "content_filter"
_TOOL_CALL = "tool_call"
_ERROR = "error"

_USER = "user"
_ASSISTANT = "assistant"
_TOOL = "tool"


# --- capture switch -----------------------------------------------------------------------


def capture_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether message content is captured, from ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.

    True for ``true``/``1``/``yes``/``on`` and for the official capture modes that write
    span content (``SPAN_ONLY``, ``SPAN_AND_EVENT``); false for anything else, unset included.
    """
    try:
        env = os.environ if environ is None else environ
        value = env.get(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
        if not isinstance(value, str):
            return False
        return parse_capture_content(value)
    except Exception:  # an unknown value (or a broken mapping) means: no content
        return False


# --- bounded JSON -------------------------------------------------------------------------

_MAX_DEPTH = 48
# Long strings are cut before they are redacted, so that redaction work follows the budget and
# not the size of the conversation: each string to a little more than it can keep in the result
# (estimated from the raw sizes). A secret cut in two at that point sits at the very end of the
# redacted text, so a string cut this way never shows its last _REDACTION_MARGIN characters;
# longer secrets (PEM blocks, JWTs) are matched without their end.
_REDACTION_MARGIN = 1024
# Strings are first cut no shorter than this; only if dropping messages is not enough either
# are they cut further.
_MIN_KEEP_CHARS = 128
# Short strings under these keys describe the structure and are never cut.
_STRUCTURAL_KEYS = frozenset({"type", "role", "finish_reason", "modality", "mime_type", "id", "name"})
_STRUCTURAL_MAX_CHARS = 256
# Keys of the message shape itself; never secret names.
_SCHEMA_KEYS = frozenset(
    {"role", "parts", "type", "content", "id", "name", "arguments", "response", "finish_reason"}
    | {"modality", "mime_type", "uri", "file_id", "server_tool_call", "server_tool_call_response"}
)


class _Leaf:
    """A string in the sanitized tree that may be cut: where it is and what it was."""

    __slots__ = ("container", "key", "body", "extra", "keep_max", "_serialized")

    def __init__(self, container: Any, key: Any, raw: str) -> None:
        self.container = container
        self.key = key
        self.body = raw  # the text; redacted by ``redact_to``
        self.extra = 0  # characters cut off before redaction
        self.keep_max = len(raw)  # the most characters of ``body`` the result may show
        self._serialized = -1

    def redact_to(self, cut: int) -> None:
        """Cut the raw text to ``cut`` characters (if longer), redact it and put it in place."""
        raw = self.body
        if len(raw) > cut:
            self.extra = len(raw) - cut
            raw = raw[:cut]
        body = redact(raw)
        self.body = REDACTED if body is None else body
        self.keep_max = max(0, len(self.body) - _REDACTION_MARGIN) if self.extra else len(self.body)
        self.set_limit(None)

    @property
    def serialized(self) -> int:
        """Bytes of the whole body as a JSON string (computed only when cutting)."""
        if self._serialized < 0:
            self._serialized = _json_size(self.body)
        return self._serialized

    def set_limit(self, limit: int | None) -> None:
        keep = self.keep_max if limit is None else min(limit, self.keep_max)
        if keep >= len(self.body):
            self.container[self.key] = self.body
        else:
            self.container[self.key] = _cut(self.body, keep, self.extra)


def _cut(body: str, keep: int, extra: int) -> str:
    return f"{body[:keep]}…[truncated {len(body) - keep + extra} chars]"


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _byte_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _clean_text(text: str) -> str:
    """Text that encodes as UTF-8 (lone surrogates replaced)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return _clean_text(key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return _clean_text(str(key))


class _Sanitizer:
    """Copies a value into plain JSON types and redacts its strings.

    Short structural strings are redacted on the way; the others become leaves, redacted
    together by ``redact_leaves`` once their total size tells how much of each can be kept.
    """

    def __init__(self) -> None:
        self.leaves: list[_Leaf] = []

    def string(self, text: str, container: Any, key: Any, structural: bool) -> str:
        """The text in place: short structural strings redacted now, others by ``redact_leaves``."""
        text = _clean_text(text)
        if structural and len(text) <= _STRUCTURAL_MAX_CHARS:
            body = redact(text)
            return REDACTED if body is None else body
        self.leaves.append(_Leaf(container, key, text))
        return text

    def redact_leaves(self, max_bytes: int) -> None:
        """Redact every leaf, each first cut to a little more than it can keep within the budget."""
        cut = max_bytes + _REDACTION_MARGIN
        lengths = [len(leaf.body) for leaf in self.leaves]
        excess = sum(lengths) + 3 * len(lengths) - max_bytes  # at least this much must go
        if excess > 0 and lengths:
            cut = min(cut, 2 * _raw_level(lengths, excess) + _REDACTION_MARGIN)
        for leaf in self.leaves:
            leaf.redact_to(cut)

    def value(self, obj: Any, container: Any, key: Any, depth: int) -> Any:
        kind = type(obj)
        if kind is str:
            return self.string(obj, container, key, key in _STRUCTURAL_KEYS)
        if kind is dict:
            return self.mapping(obj, depth)
        if kind is list:
            return self.sequence(obj, depth)
        if obj is None or kind is bool or kind is int:
            return obj
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, str):
            return self.string(str.__str__(obj), container, key, key in _STRUCTURAL_KEYS)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else str(obj)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return _OMITTED
        if isinstance(obj, Mapping):
            return self.mapping(obj, depth)
        if isinstance(obj, (list, tuple)):
            return self.sequence(obj, depth)
        if depth < _MAX_DEPTH:
            dump = getattr(obj, "model_dump", None)
            if callable(dump):
                try:
                    return self.value(dump(mode="json"), container, key, depth + 1)
                except Exception:
                    pass
            if isinstance(obj, (set, frozenset)):
                return self.sequence(list(obj), depth)
        try:
            text = str(obj)
        except Exception:
            return _OMITTED
        return self.string(text, container, key, False)

    def mapping(self, obj: Mapping[Any, Any], depth: int) -> Any:
        if depth >= _MAX_DEPTH:
            return _OMITTED
        out: dict[str, Any] = {}
        for k, v in list(obj.items()):
            name = k if type(k) is str and k.isascii() else _json_key(k)
            if name not in _SCHEMA_KEYS and type(v) in (str, int, float) and is_secret_key(name, v):
                out[name] = REDACTED
            else:
                out[name] = self.value(v, out, name, depth + 1)
        return out

    def sequence(self, obj: Any, depth: int) -> Any:
        if depth >= _MAX_DEPTH:
            return _OMITTED
        items: list[Any] = [None] * len(obj)
        for i, v in enumerate(obj):
            items[i] = self.value(v, items, i, depth + 1)
        return items


def _raw_level(lengths: list[int], excess: int) -> int:
    """Roughly the length every longer string is cut to when ``excess`` characters must go."""
    ordered = sorted(lengths, reverse=True)
    removed = 0
    for i, length in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else 0
        # Cutting the i+1 longest strings down to ``following`` removes this much more:
        step = (length - following) * (i + 1)
        if removed + step >= excess:
            return max(_MIN_KEEP_CHARS, length - (excess - removed) // (i + 1))
        removed += step
    return _MIN_KEEP_CHARS


def _truncate_strings(holder: list[Any], leaves: list[_Leaf], max_bytes: int, floor: int) -> bool:
    """Cut the longest strings (evenly, longest first) until ``holder[0]`` fits; True if it does."""
    if not leaves:
        return _byte_size(_dumps(holder[0])) <= max_bytes
    if sum(min(leaf.keep_max, floor) for leaf in leaves) > max_bytes:
        for leaf in leaves:  # cannot fit even at the floor: cut to it and leave the rest to dropping
            leaf.set_limit(floor)
        return False
    for leaf in leaves:
        leaf.set_limit(None)
    full_size = _byte_size(_dumps(holder[0]))
    if full_size <= max_bytes:
        return True
    target = full_size - max_bytes  # bytes to shed
    previous: int | None = None
    for _ in range(16):
        limit = _water_level(leaves, target, floor)
        if previous is not None and limit >= previous:
            limit = max(floor, previous - max(1, previous // 4))
        for leaf in leaves:
            leaf.set_limit(limit)
        size = _byte_size(_dumps(holder[0]))
        if size <= max_bytes:
            return True
        if limit <= floor:
            return False
        target += size - max_bytes
        previous = limit
    return False


def _suffix_bytes(leaf: _Leaf, limit: int) -> int:
    return 20 + len(str(len(leaf.body) - limit + leaf.extra))


def _savings(leaf: _Leaf, limit: int) -> float:
    """Estimated bytes saved by cutting ``leaf`` to ``limit`` characters (<= 0: do not cut)."""
    length = leaf.keep_max
    if limit >= length:
        return 0.0
    per_char = leaf.serialized / max(1, len(leaf.body) + 2)
    return (length - limit) * per_char - _suffix_bytes(leaf, limit)


def _water_level(leaves: list[_Leaf], target: int, floor: int) -> int:
    """The largest cut length whose estimated savings reach ``target`` (at least ``floor``)."""
    longest = max(leaf.keep_max for leaf in leaves)

    def saved(limit: int) -> float:
        return sum(s for s in (_savings(leaf, limit) for leaf in leaves) if s > 0)

    if saved(floor) < target:
        return floor
    low, high = floor, longest
    while low < high:
        mid = (low + high + 1) // 2
        if saved(mid) >= target:
            low = mid
        else:
            high = mid - 1
    return low


def _marker(text: str) -> dict[str, str]:
    return {"type": "text", "content": text}


def _is_message_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("parts"), list) for m in value)
    )


def _plural(n: int, word: str) -> str:
    return f"{n} more {word}s"  # one fixed form, easy to match: "[truncated: 1 more messages]"


def _drop_tail(value: list[Any], max_bytes: int, min_units: int, already: tuple[int, int] = (0, 0)) -> str | None:
    """Keep a prefix of the messages (or parts) of ``value`` plus a marker part; None if none fits.

    ``already`` counts the (parts, messages) that were dropped before ``value`` was sanitized.
    """
    if _is_message_list(value):
        units = [(mi, pi) for mi, m in enumerate(value) for pi in range(max(1, len(m["parts"])))]

        def build(keep: int) -> list[Any]:
            if keep == 0:
                last_msg, last_part = 0, 0
            else:
                mi, pi = units[keep - 1]
                last_msg, last_part = mi, pi + 1
            kept: list[Any] = [dict(m) for m in value[: last_msg + 1]]
            tail = kept[-1]
            parts = value[last_msg]["parts"]
            tail["parts"] = list(parts[:last_part])
            dropped_parts = len(parts) - len(tail["parts"])
            if last_msg == len(value) - 1:  # parts cut from it before sanitizing
                dropped_parts += already[0]
            dropped_msgs = len(value) - len(kept) + already[1]
            notes = []
            if dropped_parts:
                notes.append(_plural(dropped_parts, "part"))
            if dropped_msgs:
                notes.append(_plural(dropped_msgs, "message"))
            if notes:
                tail["parts"].append(_marker(f"[truncated: {', '.join(notes)}]"))
            return kept

    else:
        units = list(range(len(value)))

        def build(keep: int) -> list[Any]:
            kept = list(value[:keep])
            dropped = len(value) - keep + already[0]
            if dropped:
                kept.append(_marker(f"[truncated: {_plural(dropped, 'part')}]"))
            return kept

    def encoded(keep: int) -> str | None:
        text = _dumps(build(keep))
        return text if _byte_size(text) <= max_bytes else None

    low, high = min_units, len(units)
    best = encoded(low)
    if best is None:
        return None
    while low < high:  # largest prefix that fits (size grows with the prefix)
        mid = (low + high + 1) // 2
        text = encoded(mid)
        if text is not None:
            low, best = mid, text
        else:
            high = mid - 1
    # The marker is shorter when the cut falls between messages, so a little further may fit.
    for keep in range(low + 1, min(len(units), low + 8) + 1):
        text = encoded(keep)
        if text is not None:
            best = text
    return best


# The fewest bytes a message ({"parts":[]} and a comma) and a part ({} and a comma) or any
# list item take: what lies beyond max_bytes of them cannot fit, and is counted, not sanitized.
_MIN_MESSAGE_BYTES = 13
_MIN_ITEM_BYTES = 3


def _prefix(value: Any, max_bytes: int) -> tuple[Any, tuple[int, int]]:
    """``value`` cut to the messages (or items) that could possibly fit, and (parts, messages) cut."""
    if not isinstance(value, (list, tuple)):
        return value, (0, 0)
    if value and all(isinstance(m, Mapping) and isinstance(m.get("parts"), (list, tuple)) for m in value):
        room = max_bytes
        for index, message in enumerate(value):
            parts = message["parts"]
            room -= _MIN_MESSAGE_BYTES
            fitting = max(0, room // _MIN_ITEM_BYTES)
            if len(parts) > fitting + 1:
                cut = dict(message)
                cut["parts"] = list(parts[: fitting + 1])
                return [*value[:index], cut], (len(parts) - fitting - 1, len(value) - index - 1)
            room -= _MIN_ITEM_BYTES * len(parts)
            if room < 0 and index + 1 < len(value):
                return list(value[: index + 1]), (0, len(value) - index - 1)
        return value, (0, 0)
    room = max_bytes // _MIN_ITEM_BYTES + 1
    if len(value) > room:
        return list(value[:room]), (len(value) - room, 0)
    return value, (0, 0)


def _text_exceeds(value: Any, limit: int) -> bool:
    """True when the strings in ``value`` alone are longer than ``limit`` (stops early)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            total += len(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
            total += len(item)
        if total > limit:
            return True
    return False


def _plain_json(value: Any, max_bytes: int) -> str | None:
    """The JSON of ``value`` when it is plain JSON data that fits and has nothing to redact.

    No detector (nor secret key name) can match without one of the trigger substrings, an "@"
    or a run of digits, and escaping never breaks one up, so a dump without any is the final
    answer.
    """
    if _text_exceeds(value, max_bytes):
        return None
    try:
        text = _dumps(value)
        if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
            return None
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        return None  # not plain JSON data (bytes, SDK objects, NaN, cycles, lone surrogates)
    return None if might_redact(text) else text


def bounded_json(value: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """``value`` as compact JSON, secrets redacted, at most ``max_bytes`` UTF-8 bytes.

    When the JSON is too large, the longest strings are cut (ending ``…[truncated N chars]``);
    if that is not enough, trailing messages (or parts) are dropped and a text part
    ``[truncated: N more messages]`` takes their place. The result is always valid JSON within
    the budget; ``None`` when ``value`` cannot be serialized or the budget cannot hold ``[]``.
    """
    try:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 2:
            return None
        fast = _plain_json(value, max_bytes)
        if fast is not None:
            return fast
        value, already = _prefix(value, max_bytes)
        complete = already == (0, 0)  # when not, the result needs a marker for what was cut
        sanitizer = _Sanitizer()
        holder: list[Any] = [None]  # the sanitized value; a top-level string is cut in place here
        holder[0] = sanitizer.value(value, holder, 0, 0)
        sanitizer.redact_leaves(max_bytes)
        leaves = sanitizer.leaves
        if complete and sum(leaf.keep_max for leaf in leaves) <= max_bytes:  # else it cannot fit
            text = _dumps(holder[0])
            if _byte_size(text) <= max_bytes:
                return text
        if _truncate_strings(holder, leaves, max_bytes, _MIN_KEEP_CHARS) and complete:
            return _dumps(holder[0])
        root = holder[0]
        if isinstance(root, list):
            result = _drop_tail(root, max_bytes, 1, already)
            if result is not None:
                return result
        if _truncate_strings(holder, leaves, max_bytes, 0) and complete:
            return _dumps(holder[0])
        if isinstance(root, list):
            result = _drop_tail(root, max_bytes, 0, already)
            if result is not None:
                return result
            return "[]"
        for fallback in (_dumps("[truncated]"), "{}" if isinstance(root, dict) else ""):
            if fallback and _byte_size(fallback) <= max_bytes:
                return fallback
        return None
    except Exception:
        return None


# --- accessors ----------------------------------------------------------------------------

# What an input converter returns: (input messages, system instruction parts or None).
_Converted = tuple[list[dict[str, Any]], list[dict[str, Any]] | None]


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for SDK objects; ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    try:
        return getattr(obj, key, default)
    except Exception:
        return default


def _items(obj: Any) -> list[Any] | None:
    """A list of the items of ``obj``; None for non-sequences and one-shot iterators.

    An iterator is never consumed: the SDK call still needs it.
    """
    if obj is None or isinstance(obj, (str, bytes, bytearray, Mapping)):
        return None
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, Iterator) or not isinstance(obj, Iterable):
        return None
    if callable(getattr(obj, "model_dump", None)):  # a pydantic model iterates over its fields
        return None
    try:
        return list(obj)
    except Exception:
        return None


def _text_part(text: Any) -> dict[str, Any] | None:
    return {"type": "text", "content": text} if isinstance(text, str) else None


def _reasoning_part(text: Any) -> dict[str, Any] | None:
    return {"type": "reasoning", "content": text} if isinstance(text, str) else None


def _parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments: the parsed object when they are a JSON object string, else as given."""
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
        return parsed if isinstance(parsed, (dict, list)) else arguments
    return arguments


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": call_id if isinstance(call_id, str) else None,
        "name": name if isinstance(name, str) else "",
        "arguments": _parse_arguments(arguments),
    }


def _tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id if isinstance(call_id, str) else None, "response": response}


_DATA_URI = re.compile(r"data:([\w.+\-]+/[\w.+\-]+)?[^,]*,", re.ASCII)


def _modality_of(mime_type: str | None, default: str) -> str:
    if isinstance(mime_type, str):
        major = mime_type.split("/", 1)[0].lower()
        if major in ("image", "audio", "video"):
            return major
        if major in ("application", "text"):
            return "document"
    return default


def _guess_mime(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return mimetypes.guess_type(name.split("?", 1)[0].split("#", 1)[0], strict=False)[0]
    except Exception:
        return None


def _blob_part(mime_type: Any, modality: str) -> dict[str, Any]:
    mime = mime_type if isinstance(mime_type, str) else None
    return {"type": "blob", "modality": _modality_of(mime, modality), "mime_type": mime, "content": _OMITTED}


def _file_part(file_id: Any, mime_type: Any, modality: str) -> dict[str, Any] | None:
    if not isinstance(file_id, str):
        return None
    mime = mime_type if isinstance(mime_type, str) else None
    return {"type": "file", "modality": _modality_of(mime, modality), "mime_type": mime, "file_id": file_id}


def _safe_uri(uri: str) -> str:
    """The URI without its query and fragment: signed URLs carry credentials there."""
    cut = len(uri)
    for sep in ("?", "#"):
        at = uri.find(sep)
        if at != -1:
            cut = min(cut, at)
    return uri if cut == len(uri) else uri[:cut] + "?" + REDACTED


def _media_part(url: Any, modality: str, mime_type: Any = None) -> dict[str, Any] | None:
    """A blob part (inline ``data:`` URI, bytes omitted) or a uri part for ``url``."""
    if not isinstance(url, str):
        return None
    if url[:5].lower() == "data:":
        match = _DATA_URI.match(url[:256])
        mime = mime_type if isinstance(mime_type, str) else (match.group(1) if match else None)
        return _blob_part(mime, modality)
    mime = mime_type if isinstance(mime_type, str) else _guess_mime(url)
    return {"type": "uri", "modality": _modality_of(mime, modality), "mime_type": mime, "uri": _safe_uri(url)}


def _joined_text(parts: list[dict[str, Any]]) -> str | None:
    """The text of ``parts`` when every part is text."""
    if parts and all(p.get("type") == "text" for p in parts):
        return "\n".join(p["content"] for p in parts)
    return None


def _convert_each(items: Any, convert: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """Converted parts of ``items``; an item that does not convert (or fails) is skipped."""
    out: list[dict[str, Any]] = []
    for item in _items(items) or ():
        try:
            converted = convert(item)
        except Exception:
            continue
        if isinstance(converted, dict):
            out.append(converted)
        elif isinstance(converted, list):
            out.extend(p for p in converted if isinstance(p, dict))
    return out


# --- finish reasons -----------------------------------------------------------------------

_FINISH_REASONS = {
    "stop": _STOP,
    "end_turn": _STOP,
    "stop_sequence": _STOP,
    "completed": _STOP,
    "length": _LENGTH,
    "max_tokens": _LENGTH,
    "max_output_tokens": _LENGTH,
    "model_context_window_exceeded": _LENGTH,
    "content_filter": _CONTENT_FILTER,
    "refusal": _CONTENT_FILTER,
    "tool_calls": _TOOL_CALL,
    "function_call": _TOOL_CALL,
    "tool_use": _TOOL_CALL,
    "tool_call": _TOOL_CALL,
    "error": _ERROR,
}


def _finish_reason(reason: Any) -> str:
    """A provider's finish/stop reason as a semconv value; unknown ones pass through.

    A missing reason (a stream that ended early) is reported as ``error``.
    """
    if not isinstance(reason, str) or not reason:
        return _ERROR
    return _FINISH_REASONS.get(reason, reason)


# --- OpenAI Chat Completions --------------------------------------------------------------

_AUDIO_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "opus": "audio/opus",
    "pcm16": "audio/pcm",
}


def _openai_chat_part(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return _text_part(part)
    kind = _get(part, "type")
    if kind == "text":
        return _text_part(_get(part, "text"))
    if kind == "refusal":
        return _text_part(_get(part, "refusal"))
    if kind == "image_url":
        image = _get(part, "image_url")
        return _media_part(image if isinstance(image, str) else _get(image, "url"), "image")
    if kind == "input_audio":
        audio = _get(part, "input_audio")
        fmt = _get(audio, "format")
        return _blob_part(_AUDIO_MIME.get(fmt) if isinstance(fmt, str) else None, "audio")
    if kind == "file":
        file = _get(part, "file")
        mime = _guess_mime(_get(file, "filename"))
        file_id = _get(file, "file_id")
        if isinstance(file_id, str):
            return _file_part(file_id, mime, "document")
        data = _get(file, "file_data")
        if isinstance(data, str) and data[:5].lower() == "data:":
            return _media_part(data, "document", mime)
        return _blob_part(mime, "document")
    return None


def _openai_chat_content(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]  # type: ignore[list-item]
    return _convert_each(content, _openai_chat_part)


def _openai_chat_tool_call(call: Any) -> dict[str, Any] | None:
    function = _get(call, "function")
    custom = _get(call, "custom")
    if function is not None:
        return _tool_call_part(_get(call, "id"), _get(function, "name"), _get(function, "arguments"))
    if custom is not None:
        return _tool_call_part(_get(call, "id"), _get(custom, "name"), _get(custom, "input"))
    name = _get(call, "name")  # accumulated stream form: {"id", "name", "arguments"}
    if isinstance(name, str):
        return _tool_call_part(_get(call, "id"), name, _get(call, "arguments"))
    return None


def _openai_assistant_parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for field in ("reasoning_content", "reasoning"):  # OpenAI-compatible servers add these
        reasoning = _reasoning_part(_get(message, field))
        if reasoning is not None:
            parts.append(reasoning)
            break
    parts.extend(_openai_chat_content(_get(message, "content")))
    refusal = _text_part(_get(message, "refusal"))
    if refusal is not None:
        parts.append(refusal)
    audio = _get(message, "audio")
    if audio is not None:
        transcript = _text_part(_get(audio, "transcript"))
        if transcript is not None:
            parts.append(transcript)
    parts.extend(_convert_each(_get(message, "tool_calls"), _openai_chat_tool_call))
    function_call = _get(message, "function_call")
    if function_call is not None:
        parts.append(_tool_call_part(None, _get(function_call, "name"), _get(function_call, "arguments")))
    return parts


def openai_chat_input(messages: Any) -> _Converted | None:
    """Chat Completions ``messages`` as (input messages, system instruction parts or None).

    System and developer messages become system instructions; user, assistant (tool calls
    included), tool and legacy function messages become input messages. Items may be dicts
    or SDK objects (a ``ChatCompletionMessage`` appended back into the conversation).
    """
    try:
        items = _items(messages)
        if items is None:
            return None
        inputs: list[dict[str, Any]] = []
        system: list[dict[str, Any]] = []
        for message in items:
            try:
                role = _get(message, "role")
                if not isinstance(role, str):
                    continue
                content = _get(message, "content")
                if role in ("system", "developer"):
                    system.extend(_openai_chat_content(content))
                elif role == _ASSISTANT:
                    inputs.append({"role": role, "parts": _openai_assistant_parts(message)})
                elif role in (_TOOL, "function"):
                    parts = _openai_chat_content(content)
                    response = content if isinstance(content, str) else _joined_text(parts)
                    call_id = _get(message, "tool_call_id")
                    part = _tool_response_part(call_id, response if response is not None else parts)
                    inputs.append({"role": _TOOL, "parts": [part]})
                else:
                    inputs.append({"role": role, "parts": _openai_chat_content(content)})
            except Exception:
                continue
        return inputs, (system or None)
    except Exception:
        return None


def openai_chat_output(choices: Any) -> list[dict[str, Any]] | None:
    """Output messages from ``ChatCompletion.choices`` or accumulated stream choices.

    The stream form is a list of dicts ``{"role", "content", "tool_calls": [{"id", "name",
    "arguments"}], "finish_reason"}``.
    """
    try:
        items = _items(choices)
        if items is None:
            return None
        out: list[dict[str, Any]] = []
        for choice in items:
            try:
                if choice is None or isinstance(choice, (str, bytes, int, float, list, tuple)):
                    continue
                message = _get(choice, "message")
                if message is None:
                    if not isinstance(choice, Mapping):
                        continue  # neither a Choice nor the accumulated stream form
                    message = choice
                role = _get(message, "role")
                out.append(
                    {
                        "role": role if isinstance(role, str) and role else _ASSISTANT,
                        "parts": _openai_assistant_parts(message),
                        "finish_reason": _finish_reason(_get(choice, "finish_reason")),
                    }
                )
            except Exception:
                continue
        return out
    except Exception:
        return None


# --- OpenAI Responses ---------------------------------------------------------------------


def _responses_part(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return _text_part(part)
    kind = _get(part, "type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return _text_part(_get(part, "text"))
    if kind == "refusal":
        return _text_part(_get(part, "refusal"))
    if kind == "input_image":
        url = _get(part, "image_url")
        if isinstance(url, str):
            return _media_part(url, "image")
        return _file_part(_get(part, "file_id"), None, "image")
    if kind == "input_file":
        mime = _guess_mime(_get(part, "filename"))
        file_id = _get(part, "file_id")
        if isinstance(file_id, str):
            return _file_part(file_id, mime, "document")
        url = _get(part, "file_url")
        if isinstance(url, str):
            return _media_part(url, "document", mime)
        data = _get(part, "file_data")
        if isinstance(data, str) and data[:5].lower() == "data:":
            return _media_part(data, "document", mime)
        return _blob_part(mime, "document")
    if kind == "input_audio":
        audio = _get(part, "input_audio")
        fmt = _get(audio, "format")
        return _blob_part(_AUDIO_MIME.get(fmt) if isinstance(fmt, str) else None, "audio")
    return None


def _responses_content(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]  # type: ignore[list-item]
    return _convert_each(content, _responses_part)


def _responses_reasoning(item: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for entry in (_items(_get(item, "summary")) or []) + (_items(_get(item, "content")) or []):
        part = _reasoning_part(_get(entry, "text"))
        if part is not None:
            parts.append(part)
    return parts


def _responses_tool_output(output: Any) -> Any:
    if isinstance(output, str) or output is None:
        return output
    parts = _responses_content(output)
    text = _joined_text(parts)
    return text if text is not None else parts


def openai_responses_input(
    input: Any, instructions: Any = None  # noqa: A002  (the SDK's parameter name)
) -> _Converted | None:
    """Responses API ``input`` and ``instructions`` as (input messages, system instruction parts or None).

    ``input`` is a string or a list of items: messages (content parts ``input_text``,
    ``input_image``, ``input_file``, ...), ``function_call`` / ``function_call_output``,
    ``custom_tool_call`` / ``custom_tool_call_output`` and ``reasoning`` items.
    """
    try:
        system: list[dict[str, Any]] = []
        if isinstance(instructions, str):
            if instructions:
                system.append({"type": "text", "content": instructions})
        elif instructions is not None:
            converted = openai_responses_input(instructions)
            if converted is not None:
                for message in converted[0]:
                    system.extend(message["parts"])
                system.extend(converted[1] or [])
        if input is None:
            return [], (system or None)
        if isinstance(input, str):
            return [{"role": _USER, "parts": [{"type": "text", "content": input}]}], (system or None)
        items = _items(input)
        if items is None:
            return None
        inputs: list[dict[str, Any]] = []

        def assistant_parts() -> list[dict[str, Any]]:
            # Tool calls and reasoning of one turn join the assistant message before them.
            if inputs and inputs[-1]["role"] == _ASSISTANT:
                return inputs[-1]["parts"]
            message: dict[str, Any] = {"role": _ASSISTANT, "parts": []}
            inputs.append(message)
            return message["parts"]

        for item in items:
            try:
                kind = _get(item, "type")
                role = _get(item, "role")
                if kind in (None, "message") and isinstance(role, str):
                    parts = _responses_content(_get(item, "content"))
                    if role in ("system", "developer"):
                        system.extend(parts)
                    elif role == _ASSISTANT:
                        assistant_parts().extend(parts)
                    else:
                        inputs.append({"role": role, "parts": parts})
                elif kind == "function_call":
                    assistant_parts().append(
                        _tool_call_part(_get(item, "call_id"), _get(item, "name"), _get(item, "arguments"))
                    )
                elif kind == "custom_tool_call":
                    assistant_parts().append(
                        _tool_call_part(_get(item, "call_id"), _get(item, "name"), _get(item, "input"))
                    )
                elif kind in ("function_call_output", "custom_tool_call_output"):
                    response = _responses_tool_output(_get(item, "output"))
                    inputs.append({"role": _TOOL, "parts": [_tool_response_part(_get(item, "call_id"), response)]})
                elif kind == "reasoning":
                    reasoning = _responses_reasoning(item)
                    if reasoning:
                        assistant_parts().extend(reasoning)
            except Exception:
                continue
        return inputs, (system or None)
    except Exception:
        return None


def _responses_finish_reason(response: Any, called_tool: bool) -> str:
    status = _get(response, "status")
    if status in ("failed", "cancelled"):
        return _ERROR
    if status == "incomplete":
        reason = _get(_get(response, "incomplete_details"), "reason")
        return _finish_reason(reason) if isinstance(reason, str) else _LENGTH
    return _TOOL_CALL if called_tool else _STOP


def openai_responses_output(response: Any) -> list[dict[str, Any]] | None:
    """Output messages from a Responses API ``Response`` (or its dict form).

    All output items form one assistant message: ``message`` text, ``function_call`` and
    ``custom_tool_call`` items and ``reasoning`` summaries. The finish reason is
    ``tool_call`` when a function was called, ``stop`` otherwise, or what
    ``status``/``incomplete_details`` say (``length``, ``content_filter``, ``error``).
    """
    try:
        if response is None or isinstance(response, (str, bytes, int, float, list, tuple)):
            return None
        output = _get(response, "output")
        items = _items(output)
        if items is None:
            return None
        parts: list[dict[str, Any]] = []
        called_tool = False
        for item in items:
            try:
                kind = _get(item, "type")
                if kind == "message":
                    parts.extend(_responses_content(_get(item, "content")))
                elif kind == "function_call":
                    called_tool = True
                    parts.append(_tool_call_part(_get(item, "call_id"), _get(item, "name"), _get(item, "arguments")))
                elif kind == "custom_tool_call":
                    called_tool = True
                    parts.append(_tool_call_part(_get(item, "call_id"), _get(item, "name"), _get(item, "input")))
                elif kind == "reasoning":
                    parts.extend(_responses_reasoning(item))
            except Exception:
                continue
        if not parts:
            return []
        return [{"role": _ASSISTANT, "parts": parts, "finish_reason": _responses_finish_reason(response, called_tool)}]
    except Exception:
        return None


# --- Anthropic Messages -------------------------------------------------------------------


def _anthropic_source(source: Any, modality: str) -> list[dict[str, Any]]:
    kind = _get(source, "type")
    mime = _get(source, "media_type")
    if kind == "base64":
        return [_blob_part(mime, modality)]
    if kind == "url":
        part = _media_part(_get(source, "url"), modality, mime)
        return [part] if part else []
    if kind == "file":
        part = _file_part(_get(source, "file_id"), mime, modality)
        return [part] if part else []
    if kind == "text":  # plain-text document: the text is the content
        part = _text_part(_get(source, "data"))
        return [part] if part else []
    if kind == "content":
        content = _get(source, "content")
        if isinstance(content, str):
            return [{"type": "text", "content": content}]
        return _convert_each(content, _anthropic_block)
    return []


def _anthropic_block(block: Any) -> dict[str, Any] | list[dict[str, Any]] | None:
    if isinstance(block, str):
        return _text_part(block)
    kind = _get(block, "type")
    if kind == "text":
        return _text_part(_get(block, "text"))
    if kind == "thinking":
        return _reasoning_part(_get(block, "thinking"))
    if kind == "redacted_thinking":
        return {"type": "reasoning", "content": _OMITTED}
    if kind == "tool_use":
        return _tool_call_part(_get(block, "id"), _get(block, "name"), _get(block, "input"))
    if kind == "tool_result":
        content = _get(block, "content")
        if isinstance(content, str) or content is None:
            response: Any = content
        else:
            parts = _convert_each(content, _anthropic_block)
            text = _joined_text(parts)
            response = text if text is not None else parts
        return _tool_response_part(_get(block, "tool_use_id"), response)
    if kind == "image":
        return _anthropic_source(_get(block, "source"), "image")
    if kind == "document":
        return _anthropic_source(_get(block, "source"), "document")
    if kind == "search_result":
        return _convert_each(_get(block, "content"), _anthropic_block)
    if kind in ("server_tool_use", "mcp_tool_use"):
        name = _get(block, "name")
        return {
            "type": "server_tool_call",
            "id": _get(block, "id") if isinstance(_get(block, "id"), str) else None,
            "name": name if isinstance(name, str) else "",
            "server_tool_call": {"type": name if isinstance(name, str) else kind, "input": _get(block, "input")},
        }
    if isinstance(kind, str) and kind.endswith("_tool_result"):
        tool_use_id = _get(block, "tool_use_id")
        return {
            "type": "server_tool_call_response",
            "id": tool_use_id if isinstance(tool_use_id, str) else None,
            "server_tool_call_response": {"type": kind, "content": _get(block, "content")},
        }
    return None


def _anthropic_content(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return _convert_each(content, _anthropic_block)


def anthropic_input(messages: Any, system: Any = None) -> _Converted | None:
    """Anthropic ``messages`` and ``system`` as (input messages, system instruction parts or None).

    ``system`` is a string or a list of text blocks. Message content is a string or blocks
    (text, image, document, tool_use, tool_result, thinking, ...), as dicts or SDK objects.
    Roles stay as Anthropic sends them (tool results travel in user messages).
    """
    try:
        items = _items(messages)
        if items is None:
            return None
        if isinstance(system, str):
            system_parts = [{"type": "text", "content": system}] if system else []
        else:
            system_parts = _convert_each(system, _anthropic_block) if system is not None else []
        inputs: list[dict[str, Any]] = []
        for message in items:
            try:
                role = _get(message, "role")
                if not isinstance(role, str):
                    continue
                parts = _anthropic_content(_get(message, "content"))
                if role == "system":
                    system_parts.extend(parts)
                else:
                    inputs.append({"role": role, "parts": parts})
            except Exception:
                continue
        return inputs, (system_parts or None)
    except Exception:
        return None


_ANTHROPIC_STOP_REASONS = {
    "end_turn": _STOP,
    "stop_sequence": _STOP,
    "max_tokens": _LENGTH,
    "model_context_window_exceeded": _LENGTH,
    "tool_use": _TOOL_CALL,
    "refusal": _CONTENT_FILTER,
}


def anthropic_output(message: Any) -> list[dict[str, Any]] | None:
    """Output messages from an Anthropic ``Message`` (or its dict form).

    ``stop_reason``: end_turn/stop_sequence -> stop, max_tokens -> length, tool_use ->
    tool_call, refusal -> content_filter; other reasons pass through; none -> error.
    """
    try:
        if message is None or isinstance(message, (str, bytes, int, float, list, tuple)):
            return None
        content = _get(message, "content")
        if content is None and _get(message, "stop_reason") is None:
            return None
        if content is not None and not isinstance(content, str) and _items(content) is None:
            return None
        role = _get(message, "role")
        stop_reason = _get(message, "stop_reason")
        if isinstance(stop_reason, str) and stop_reason:
            finish = _ANTHROPIC_STOP_REASONS.get(stop_reason, stop_reason)
        else:
            finish = _ERROR
        return [
            {
                "role": role if isinstance(role, str) and role else _ASSISTANT,
                "parts": _anthropic_content(content),
                "finish_reason": finish,
            }
        ]
    except Exception:
        return None


# --- span attributes ----------------------------------------------------------------------


def content_attributes(
    input_messages: Any,
    system_parts: Any,
    output_messages: Any,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, str]:
    """The content attributes to set on a span: each given, non-empty list as bounded JSON.

    A ``None`` or empty argument (or one that does not serialize) leaves its attribute out.
    """
    attributes: dict[str, str] = {}
    try:
        for name, value in (
            (gen_ai.INPUT_MESSAGES, input_messages),
            (gen_ai.SYSTEM_INSTRUCTIONS, system_parts),
            (gen_ai.OUTPUT_MESSAGES, output_messages),
        ):
            if not isinstance(value, (list, tuple)) or not value:
                continue
            encoded = bounded_json(list(value), max_bytes)
            if encoded is not None:
                attributes[name] = encoded
    except Exception:
        return attributes
    return attributes
