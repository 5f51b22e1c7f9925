"""OpenAI wire format: Chat Completions, Responses, Embeddings, Models and errors."""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from typing import Any, Optional

from ._script import (
    Call,
    Fault,
    JSONResult,
    Result,
    StreamResult,
    ToolCall,
    Usage,
    count_tokens,
    last_user_text,
    new_id,
    openai_finish_reason,
    reply_text,
    request_text,
    resolve_usage,
    split_json_arguments,
    split_stream_text,
    tool_calls_of,
)

CONTEXT_WINDOW = 128_000
EMBEDDING_DIMENSIONS = 8
SYSTEM_FINGERPRINT = "fp_agentmon"

MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
)


# --------------------------------------------------------------------------- errors


def _error(status: int, message: str, type_: str, code: Optional[str] = None, param: Optional[str] = None,
           headers: Optional[dict[str, str]] = None) -> JSONResult:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResult(body=body, status=status, headers=dict(headers or {}))


def _masked_key(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    key = auth[7:] if auth.lower().startswith("bearer ") else auth
    if len(key) <= 8:
        return "sk-****"
    return f"{key[:3]}****{key[-4:]}"


def error_result(fault: Fault, call: Call, path: str) -> JSONResult:
    """The error OpenAI answers for a status fault on ``path``."""
    name = fault.name
    model = call.model
    if name == "rate_limit":
        seconds = fault.retry_after
        message = fault.message or (
            f"Rate limit reached for {model} in organization org-agentmon on requests per min (RPM): "
            f"Limit 60, Used 60, Requested 1. Please try again in {seconds:g}s."
        )
        headers = {
            "retry-after": f"{seconds:g}",
            "retry-after-ms": str(int(seconds * 1000)),
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{seconds:g}s",
        }
        return _error(429, message, "requests", "rate_limit_exceeded", headers=headers)
    if name == "server_error":
        message = fault.message or "The server had an error while processing your request. Sorry about that!"
        return _error(500, message, "server_error")
    if name == "service_unavailable":
        message = fault.message or "The server is overloaded or not ready yet."
        return _error(503, message, "server_error", "service_unavailable")
    if name == "overloaded":
        message = fault.message or "The engine is currently overloaded, please try again later."
        return _error(529, message, "server_error", "overloaded")
    if name == "auth":
        message = fault.message or (
            f"Incorrect API key provided: {_masked_key(call.headers)}. "
            "You can find your API key in your account settings."
        )
        return _error(401, message, "invalid_request_error", "invalid_api_key")
    if name == "context_length_exceeded":
        if path.endswith("/responses"):
            message = fault.message or (
                "Your input exceeds the context window of this model. Please adjust your input and try again."
            )
            return _error(400, message, "invalid_request_error", "context_length_exceeded", "input")
        tokens = CONTEXT_WINDOW + max(1, count_tokens(request_text(call.body.get("messages"), call.body.get("input"))))
        message = fault.message or (
            f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, your messages resulted "
            f"in {tokens} tokens. Please reduce the length of the messages."
        )
        return _error(400, message, "invalid_request_error", "context_length_exceeded", "messages")
    if name == "bad_request":
        message = fault.message or "Invalid request: one or more parameters are not valid for this model."
        return _error(400, message, "invalid_request_error")
    raise ValueError(f"{name} is not a status fault")


def not_found(method: str, path: str) -> JSONResult:
    return _error(404, f"Invalid URL ({method} {path})", "invalid_request_error")


def method_not_allowed(method: str, path: str) -> JSONResult:
    return _error(405, f"Method {method} is not allowed for {path}", "invalid_request_error")


def invalid_request(message: str) -> JSONResult:
    return _error(400, message, "invalid_request_error")


# --------------------------------------------------------------------------- usage shapes


def _completion_usage(usage: Usage) -> dict[str, Any]:
    prompt = max(usage.input_tokens, usage.cached_tokens)
    prompt_details: dict[str, Any] = {"audio_tokens": 0, "cached_tokens": usage.cached_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _response_usage(usage: Usage) -> dict[str, Any]:
    prompt = max(usage.input_tokens, usage.cached_tokens)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": prompt + usage.output_tokens,
    }


# --------------------------------------------------------------------------- chat completions


def _chat_tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id or new_id("call_"),
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_json},
    }


def chat_completions(call: Call) -> Result:
    body = call.body
    reply = call.plan.reply
    content_filter = call.plan.content_filter
    messages = body.get("messages")
    text = reply_text(reply, last_user_text(messages), content_filter=content_filter)
    tools = [] if content_filter else tool_calls_of(reply)
    usage = resolve_usage(reply, request_text(messages), text, tools)
    finish_reason = openai_finish_reason(reply, has_tool_calls=bool(tools), content_filter=content_filter)
    completion_id = new_id("chatcmpl-", 29)
    created = int(time.time())
    model = call.response_model
    tool_payloads = [_chat_tool_call(tool) for tool in tools]

    if not call.stream:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if (text or not (tools or content_filter)) else None,
            "refusal": None,
            "annotations": [],
        }
        if tool_payloads:
            message["tool_calls"] = tool_payloads
        return JSONResult(
            body={
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
                "usage": _completion_usage(usage),
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT,
            }
        )

    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True

    def chunk(delta: dict[str, Any], finish: Optional[str] = None) -> tuple[None, dict[str, Any]]:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            payload["usage"] = None
        return (None, payload)

    events: list[tuple[Optional[str], Any]] = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for piece in split_stream_text(text):
        events.append(chunk({"content": piece}))
    for index, tool in enumerate(tool_payloads):
        fragments = split_json_arguments(tool["function"]["arguments"])
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": tool["id"],
                            "type": "function",
                            "function": {"name": tool["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        for fragment in fragments:
            if fragment:
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    events.append(chunk({}, finish_reason))
    if include_usage:
        events.append(
            (
                None,
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "service_tier": "default",
                    "system_fingerprint": SYSTEM_FINGERPRINT,
                    "choices": [],
                    "usage": _completion_usage(usage),
                },
            )
        )
    events.append((None, "[DONE]"))
    return StreamResult(events=events)


# --------------------------------------------------------------------------- responses


def _function_tools(tools: Any) -> list[Any]:
    """Echo request tools the way the Responses API does (function tools completed with defaults)."""
    echoed: list[Any] = []
    if not isinstance(tools, list):
        return echoed
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            echoed.append(
                {
                    "type": "function",
                    "name": tool.get("name", ""),
                    "description": tool.get("description"),
                    "parameters": tool.get("parameters") or {},
                    "strict": tool.get("strict", True),
                }
            )
        else:
            echoed.append(tool)
    return echoed


def responses(call: Call) -> Result:
    body = call.body
    reply = call.plan.reply
    content_filter = call.plan.content_filter
    model_input = body.get("input")
    text = reply_text(reply, last_user_text(model_input), content_filter=content_filter)
    tools = [] if content_filter else tool_calls_of(reply)
    usage = resolve_usage(reply, request_text(body.get("instructions"), model_input), text, tools)
    finish = openai_finish_reason(reply, has_tool_calls=bool(tools), content_filter=content_filter)
    if finish == "content_filter":
        status, incomplete = "incomplete", {"reason": "content_filter"}
    elif finish == "length":
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    else:
        status, incomplete = "completed", None
    item_status = "incomplete" if status == "incomplete" else "completed"

    response_id = new_id("resp_", 32)
    created_at = int(time.time())

    output: list[dict[str, Any]] = []
    if text or not (tools or content_filter):
        output.append(
            {
                "id": new_id("msg_", 32),
                "type": "message",
                "status": item_status,
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        )
    for tool in tools:
        output.append(
            {
                "id": new_id("fc_", 32),
                "type": "function_call",
                "status": "completed",
                "arguments": tool.arguments_json,
                "call_id": tool.id or new_id("call_"),
                "name": tool.name,
            }
        )

    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text_config = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}

    def snapshot(current_status: str, items: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
        done = current_status in ("completed", "incomplete")
        return {
            "id": response_id,
            "object": "response",
            "created_at": created_at,
            "status": current_status,
            "background": False,
            "completed_at": int(time.time()) if current_status == "completed" else None,
            "error": None,
            "incomplete_details": incomplete if done else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": call.response_model,
            "output": items,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": text_config,
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": _function_tools(body.get("tools")),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": _response_usage(usage) if with_usage else None,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    if not call.stream:
        return JSONResult(body=snapshot(status, output, True))

    events: list[tuple[Optional[str], Any]] = []

    def emit(event_type: str, **payload: Any) -> None:
        events.append((event_type, {"type": event_type, "sequence_number": len(events), **payload}))

    emit("response.created", response=snapshot("in_progress", [], False))
    emit("response.in_progress", response=snapshot("in_progress", [], False))
    for index, item in enumerate(output):
        if item["type"] == "message":
            part = item["content"][0]
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part={**part, "text": ""},
            )
            for piece in split_stream_text(part["text"]):
                emit(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=part["text"],
                logprobs=[],
            )
            emit("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            for fragment in split_json_arguments(item["arguments"]):
                if fragment:
                    emit(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=fragment,
                    )
            emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    final_event = "response.completed" if status == "completed" else "response.incomplete"
    emit(final_event, response=snapshot(status, output, True))
    return StreamResult(events=events)


# --------------------------------------------------------------------------- embeddings


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """Deterministic unit vector of ``dimensions`` floats derived from a hash of ``text``."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode("utf-8")).digest()
        for offset in range(0, len(digest), 4):
            if len(values) == dimensions:
                break
            (number,) = struct.unpack_from("<I", digest, offset)
            values.append(number / 0xFFFFFFFF * 2.0 - 1.0)
        counter += 1
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    # Round-trip through float32 so float and base64 encodings carry identical numbers.
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _embedding_inputs(raw: Any) -> list[tuple[str, int]]:
    """``(hash key, token count)`` for each input (string, token array, or a list of either)."""
    if isinstance(raw, str):
        return [(raw, max(1, count_tokens(raw)))]
    if isinstance(raw, list):
        if raw and all(isinstance(x, int) for x in raw):
            return [(repr(raw), len(raw))]
        result = []
        for item in raw:
            if isinstance(item, str):
                result.append((item, max(1, count_tokens(item))))
            elif isinstance(item, list):
                result.append((repr(item), len(item)))
            else:
                result.append((repr(item), 1))
        return result
    return []


def embeddings(call: Call) -> Result:
    body = call.body
    reply = call.plan.reply
    inputs = _embedding_inputs(body.get("input"))
    if not inputs:
        return invalid_request("'input' must be a non-empty string or array")
    dimensions = body.get("dimensions", EMBEDDING_DIMENSIONS)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= 4096:
        return invalid_request("'dimensions' must be an integer between 1 and 4096")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return invalid_request("'encoding_format' must be 'float' or 'base64'")
    data = []
    for index, (key, _) in enumerate(inputs):
        vector = embedding_vector(key, dimensions)
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = reply.input_tokens if reply.input_tokens is not None else sum(n for _, n in inputs)
    return JSONResult(
        body={
            "object": "list",
            "data": data,
            "model": call.response_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


# --------------------------------------------------------------------------- models


def models(call: Call) -> Result:
    return JSONResult(
        body={
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"} for name in MODELS
            ],
        }
    )
