"""The host application never notices the instrumentation: every scripted reply and fault,
through every instrumented method, gives the same return values (and stream items) and the
same exceptions with and without it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

import anthropic
import openai
import pytest

pytestmark = pytest.mark.slow

from _instrumented import instrument, uninstrument

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
USER = [{"role": "user", "content": "Plan a day in Lisbon"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]

REPLIES = {
    "default": None,
    "scripted": {"text": "Go to Belem.", "input_tokens": 120, "output_tokens": 30},
    "cache_and_reasoning": {"input_tokens": 2000, "output_tokens": 50, "cached_tokens": 1500, "reasoning_tokens": 20,
                            "cache_write_tokens": 100},
    "tool_call": {"tool_calls": [{"name": "lookup", "arguments": {"q": "Lisbon"}}]},
}
FAULTS = ["rate_limit", "server_error", "service_unavailable", "overloaded", "auth", "context_length_exceeded",
          "bad_request", "content_filter", "timeout;delay=1", "connection_reset", "malformed_sse",
          "connection_reset;after=2"]

# Fields the server makes up per request: ids and timestamps differ between any two calls.
_VOLATILE = {"id", "created", "created_at", "completed_at", "system_fingerprint", "call_id", "item_id",
             "x-request-id", "request_id"}


def normalize(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in _VOLATILE else normalize(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, bytes):
        return value
    return value


def outcome(call: Callable[[], Any]) -> tuple:
    try:
        result = call()
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        return ("raised", type(exc), status, normalize(getattr(exc, "body", None)))
    return ("returned", type(result).__name__, normalize(result))


def _consume(stream) -> list:
    return [normalize(item) for item in stream]


def _openai(server, headers, timeout: float = 0.5):
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0, timeout=timeout,
                         default_headers=headers)


def _anthropic(server, headers, timeout: float = 0.5):
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0,
                               timeout=timeout, default_headers=headers)


def _run_async(make: Callable[[], Any]) -> Any:
    return asyncio.run(make())


CALLS: dict[str, Callable[[Any, dict], Callable[[], Any]]] = {
    "chat": lambda s, h: lambda: _openai(s, h).chat.completions.create(model=GPT, messages=USER, tools=TOOLS),
    "chat_stream": lambda s, h: lambda: _consume(_openai(s, h).chat.completions.create(
        model=GPT, messages=USER, stream=True)),
    "chat_stream_with_usage": lambda s, h: lambda: _consume(_openai(s, h).chat.completions.create(
        model=GPT, messages=USER, stream=True, stream_options={"include_usage": True})),
    "chat_async": lambda s, h: lambda: _run_async(lambda: openai.AsyncOpenAI(
        base_url=s.openai_base_url, api_key="k", max_retries=0, timeout=0.5, default_headers=h
    ).chat.completions.create(model=GPT, messages=USER)),
    "responses": lambda s, h: lambda: _openai(s, h).responses.create(model=GPT, input="Plan a day"),
    "responses_stream": lambda s, h: lambda: _consume(_openai(s, h).responses.create(
        model=GPT, input="Plan a day", stream=True)),
    "embeddings": lambda s, h: lambda: _openai(s, h).embeddings.create(model="text-embedding-3-small", input="x"),
    "messages": lambda s, h: lambda: _anthropic(s, h).messages.create(model=CLAUDE, max_tokens=64, messages=USER),
    "messages_stream": lambda s, h: lambda: _consume(_anthropic(s, h).messages.create(
        model=CLAUDE, max_tokens=64, messages=USER, stream=True)),
    "messages_stream_helper": lambda s, h: lambda: _helper(_anthropic(s, h)),
}


def _helper(client) -> tuple:
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        text = "".join(stream.text_stream)
        return text, normalize(stream.get_final_message())


def _headers(case: str) -> dict:
    if case.startswith("fault:"):
        return {"x-agentmon-fault": case[len("fault:"):]}
    reply = REPLIES[case]
    return {"x-agentmon-reply": json.dumps(reply)} if reply else {}


CASES = list(REPLIES) + [f"fault:{name}" for name in FAULTS]


@pytest.mark.parametrize("call_name", sorted(CALLS))
def test_same_results_and_exceptions_with_and_without_instrumentation(provider_server, call_name):
    differences = []
    for case in CASES:
        call = CALLS[call_name](provider_server, _headers(case))
        plain = outcome(call)
        instrument(capture_content=True)
        try:
            instrumented = outcome(call)
        finally:
            uninstrument()
        if plain != instrumented:
            differences.append((case, plain, instrumented))
    assert not differences, differences[0]
