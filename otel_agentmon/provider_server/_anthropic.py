"""Anthropic wire format: Messages (plain and streamed), token counting, models and errors."""

from __future__ import annotations

import json
from typing import Any, Optional

from ._script import (
    Call,
    Fault,
    JSONResult,
    Result,
    StreamResult,
    Usage,
    anthropic_stop_reason,
    count_tokens,
    last_user_text,
    new_id,
    reply_text,
    request_text,
    resolve_usage,
    split_json_arguments,
    split_stream_text,
    tool_calls_of,
)

CONTEXT_WINDOW = 200_000

MODELS = (
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-haiku-4-5", "Claude Haiku 4.5"),
    ("claude-opus-4-6", "Claude Opus 4.6"),
)


# --------------------------------------------------------------------------- errors


def _error(status: int, type_: str, message: str, request_id: str,
           headers: Optional[dict[str, str]] = None) -> JSONResult:
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}
    return JSONResult(body=body, status=status, headers=dict(headers or {}))


def _prompt_text(body: dict[str, Any]) -> str:
    return request_text(body.get("system"), body.get("messages"))


def error_result(fault: Fault, call: Call, path: str) -> JSONResult:
    """The error Anthropic answers for a status fault."""
    name = fault.name
    rid = call.request_id
    if name == "rate_limit":
        seconds = fault.retry_after
        message = fault.message or (
            "This request would exceed the rate limit for your organization of 50 requests per minute. "
            "Please reduce the prompt length or the maximum tokens requested, or try again later."
        )
        headers = {
            "retry-after": f"{seconds:g}",
            "retry-after-ms": str(int(seconds * 1000)),
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
        }
        return _error(429, "rate_limit_error", message, rid, headers)
    if name == "server_error":
        return _error(500, "api_error", fault.message or "Internal server error", rid)
    if name == "service_unavailable":
        return _error(503, "api_error", fault.message or "Service unavailable", rid)
    if name == "overloaded":
        return _error(529, "overloaded_error", fault.message or "Overloaded", rid)
    if name == "auth":
        return _error(401, "authentication_error", fault.message or "invalid x-api-key", rid)
    if name == "context_length_exceeded":
        tokens = CONTEXT_WINDOW + max(1, count_tokens(_prompt_text(call.body)))
        message = fault.message or f"prompt is too long: {tokens} tokens > {CONTEXT_WINDOW} maximum"
        return _error(400, "invalid_request_error", message, rid)
    if name == "bad_request":
        return _error(400, "invalid_request_error", fault.message or "messages: Input should be a valid list", rid)
    raise ValueError(f"{name} is not a status fault")


def not_found(method: str, path: str, request_id: str) -> JSONResult:
    return _error(404, "not_found_error", f"Not found: {method} {path}", request_id)


def method_not_allowed(method: str, path: str, request_id: str) -> JSONResult:
    return _error(405, "invalid_request_error", f"Method {method} is not allowed for {path}", request_id)


def invalid_request(message: str, request_id: str) -> JSONResult:
    return _error(400, "invalid_request_error", message, request_id)


# --------------------------------------------------------------------------- messages


def _usage(usage: Usage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def messages(call: Call) -> Result:
    body = call.body
    reply = call.plan.reply
    refused = call.plan.content_filter
    history = body.get("messages")
    text = reply_text(reply, last_user_text(history), content_filter=refused)
    tools = [] if refused else tool_calls_of(reply)
    usage = resolve_usage(reply, _prompt_text(body), text, tools)
    stop_reason = anthropic_stop_reason(reply, has_tool_calls=bool(tools), content_filter=refused)
    stop_details = (
        {"type": "refusal", "category": None, "explanation": "The request was declined by the content filter."}
        if stop_reason == "refusal"
        else None
    )
    message_id = new_id("msg_01", 22)
    model = call.response_model

    blocks: list[dict[str, Any]] = []
    if text or not (tools or refused):
        blocks.append({"type": "text", "text": text})
    for tool in tools:
        blocks.append(
            {"type": "tool_use", "id": tool.id or new_id("toolu_01", 22), "name": tool.name, "input": tool.arguments}
        )

    if not call.stream:
        return JSONResult(
            body={
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "stop_details": stop_details,
                "usage": _usage(usage, usage.output_tokens),
            }
        )

    events: list[tuple[Optional[str], Any]] = []

    def emit(event_type: str, **payload: Any) -> None:
        events.append((event_type, {"type": event_type, **payload}))

    emit(
        "message_start",
        message={
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "stop_details": None,
            "usage": _usage(usage, min(1, usage.output_tokens)),
        },
    )
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
            if index == 0:
                emit("ping")
            for piece in split_stream_text(block["text"]):
                emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        else:
            emit("content_block_start", index=index, content_block={**block, "input": {}})
            if index == 0:
                emit("ping")
            arguments = json.dumps(block["input"], separators=(",", ":")) if block["input"] else ""
            emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": ""})
            for fragment in split_json_arguments(arguments):
                if fragment:
                    delta = {"type": "input_json_delta", "partial_json": fragment}
                    emit("content_block_delta", index=index, delta=delta)
        emit("content_block_stop", index=index)
    emit(
        "message_delta",
        delta={"stop_reason": stop_reason, "stop_sequence": None, "stop_details": stop_details},
        usage={
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cached_tokens,
            "output_tokens": usage.output_tokens,
        },
    )
    emit("message_stop")
    return StreamResult(events=events)


def count_message_tokens(call: Call) -> Result:
    reply = call.plan.reply
    tokens = reply.input_tokens if reply.input_tokens is not None else max(1, count_tokens(_prompt_text(call.body)))
    return JSONResult(body={"input_tokens": tokens})


# --------------------------------------------------------------------------- models


def models(call: Call) -> Result:
    data = [
        {
            "type": "model",
            "id": model_id,
            "display_name": name,
            "created_at": "2025-01-01T00:00:00Z",
            "lifecycle": "active",
            "max_input_tokens": CONTEXT_WINDOW,
        }
        for model_id, name in MODELS
    ]
    return JSONResult(body={"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})
