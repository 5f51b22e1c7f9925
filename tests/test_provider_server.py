"""The local provider server against the real openai and anthropic SDKs.

Clients use ``_strict_response_validation=True`` wherever the SDK allows it, so
every payload is checked field by field against the SDK's own types.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import anthropic
import httpx2
import openai
import pytest

from otel_agentmon.provider_server import FAULTS, Fault, ProviderServer, Reply, count_tokens
from otel_agentmon.provider_server._script import parse_fault_header, parse_reply_header

REPO_ROOT = Path(__file__).resolve().parents[1]
CLAUDE = "claude-haiku-4-5"
GPT = "gpt-4o-mini"
USER = [{"role": "user", "content": "What is the weather like in Paris today?"}]
EXPECTED_TEXT = "Answer to: What is the weather like in Paris today?"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: ProviderServer) -> None:
    server.clear()


def _openai(server: ProviderServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("_strict_response_validation", True)
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test-0123456789", **kwargs)


def _async_openai(server: ProviderServer, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("_strict_response_validation", True)
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test-0123456789", **kwargs)


def _anthropic(server: ProviderServer, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("_strict_response_validation", True)
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", **kwargs)


def _async_anthropic(server: ProviderServer, **kwargs: Any) -> anthropic.AsyncAnthropic:
    kwargs.setdefault("_strict_response_validation", True)
    kwargs.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", **kwargs)


@pytest.fixture
def oai(server: ProviderServer) -> Iterator[openai.OpenAI]:
    client = _openai(server)
    yield client
    client.close()


@pytest.fixture
def ant(server: ProviderServer) -> Iterator[anthropic.Anthropic]:
    client = _anthropic(server)
    yield client
    client.close()


def _raw_post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


# --------------------------------------------------------------------------- OpenAI chat completions


def test_chat_completion_default_reply(server: ProviderServer, oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model=GPT, messages=USER)

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == GPT
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == EXPECTED_TEXT
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == count_tokens(USER[0]["content"]) == 10
    assert usage.completion_tokens == count_tokens(EXPECTED_TEXT)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 0

    recorded = server.requests[-1]
    assert recorded["method"] == "POST"
    assert recorded["path"] == "/v1/chat/completions"
    assert recorded["json"]["messages"] == USER
    assert recorded["headers"]["authorization"] == "Bearer sk-test-0123456789"


def test_chat_completion_scripted_reply(server: ProviderServer, oai: openai.OpenAI) -> None:
    server.enqueue(
        Reply(text="Sunny.", input_tokens=120, output_tokens=30, cached_tokens=64, reasoning_tokens=12,
              model="gpt-4o-mini-2024-07-18")
    )
    completion = oai.chat.completions.create(model=GPT, messages=USER)

    assert completion.choices[0].message.content == "Sunny."
    assert completion.model == "gpt-4o-mini-2024-07-18"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 30, 150)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 64
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 12
    assert server.pending == 0


def test_chat_stream_without_usage(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model=GPT, messages=USER, stream=True))

    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == EXPECTED_TEXT


def test_chat_stream_include_usage_ends_with_usage_only_chunk(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=GPT, messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == 10
    assert last.usage.completion_tokens == count_tokens(EXPECTED_TEXT)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_chat_stream_wire_format(server: ProviderServer) -> None:
    status, headers, raw = _raw_post(
        server.openai_base_url + "/chat/completions",
        {"model": GPT, "messages": USER, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    frames = raw.decode().split("\n\n")
    assert frames[-1] == ""
    assert frames[-2] == "data: [DONE]"
    assert all(frame.startswith("data: ") for frame in frames[:-1])
    usage_chunk = json.loads(frames[-3][len("data: "):])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0


def test_chat_tool_calls(server: ProviderServer, oai: openai.OpenAI) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
    ]
    server.enqueue(Reply(tool_calls=calls), Reply(tool_calls=calls))

    completion = oai.chat.completions.create(model=GPT, messages=USER)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    assert [call.function.name for call in choice.message.tool_calls] == ["get_weather", "get_time"]
    assert json.loads(choice.message.tool_calls[0].function.arguments) == calls[0]["arguments"]
    assert all(call.id.startswith("call_") and call.type == "function" for call in choice.message.tool_calls)

    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    finish = None
    for chunk in oai.chat.completions.create(model=GPT, messages=USER, stream=True):
        choice_delta = chunk.choices[0]
        for delta in choice_delta.delta.tool_calls or []:
            if delta.function and delta.function.name:
                names[delta.index] = delta.function.name
            fragment = (delta.function and delta.function.arguments) or ""
            arguments[delta.index] = arguments.get(delta.index, "") + fragment
        finish = choice_delta.finish_reason or finish
    assert finish == "tool_calls"
    assert names == {0: "get_weather", 1: "get_time"}
    assert {i: json.loads(a) for i, a in arguments.items()} == {0: calls[0]["arguments"], 1: calls[1]["arguments"]}


def test_chat_stream_helper(server: ProviderServer, oai: openai.OpenAI) -> None:
    server.enqueue(Reply(text="Helper text.", tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}]))
    with oai.chat.completions.stream(model=GPT, messages=USER, stream_options={"include_usage": True}) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Helper text."
    assert final.choices[0].message.tool_calls is not None
    assert final.choices[0].message.tool_calls[0].function.name == "lookup"
    assert final.usage is not None and final.usage.total_tokens > 0


def test_async_chat(server: ProviderServer) -> None:
    async def main() -> tuple[Any, list[Any]]:
        async with _async_openai(server) as client:
            completion = await client.chat.completions.create(model=GPT, messages=USER)
            stream = await client.chat.completions.create(
                model=GPT, messages=USER, stream=True, stream_options={"include_usage": True}
            )
            chunks = [chunk async for chunk in stream]
            return completion, chunks

    completion, chunks = asyncio.run(main())
    assert completion.choices[0].message.content == EXPECTED_TEXT
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == EXPECTED_TEXT
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


# --------------------------------------------------------------------------- OpenAI responses


def test_responses_non_stream(server: ProviderServer, oai: openai.OpenAI) -> None:
    server.enqueue(Reply(text="Forty-two.", cached_tokens=4, reasoning_tokens=7, input_tokens=20, output_tokens=9))
    response = oai.responses.create(model="gpt-4.1", input="What is the answer?", instructions="Be brief.")

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4.1"
    assert response.output_text == "Forty-two."
    assert response.instructions == "Be brief."
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (20, 9, 29)
    assert usage.input_tokens_details.cached_tokens == 4
    assert usage.output_tokens_details.reasoning_tokens == 7

    default = oai.responses.create(model="gpt-4.1", input=[{"role": "user", "content": "Hello there"}])
    assert default.output_text == "Answer to: Hello there"


def test_responses_stream_events(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="gpt-4.1", input="Stream me", stream=True))
    types = [event.type for event in events]

    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 4,  # "Answer ", "to: ", "Stream ", "me"
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == "Answer to: Stream me"
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.output_text == deltas
    assert completed.usage is not None and completed.usage.output_tokens == count_tokens(deltas)


def test_responses_stream_helper_and_function_call(server: ProviderServer, oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="gpt-4.1", input="Helper") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().output_text == "Answer to: Helper"

    server.enqueue(Reply(tool_calls=[{"name": "search", "arguments": {"query": "otel"}}]))
    with oai.responses.stream(model="gpt-4.1", input="Call a tool") as stream:
        final = stream.get_final_response()
    (item,) = final.output
    assert item.type == "function_call"
    assert item.name == "search"
    assert json.loads(item.arguments) == {"query": "otel"}
    assert item.call_id.startswith("call_")


# --------------------------------------------------------------------------- OpenAI embeddings and models


def test_embeddings_default_base64_and_float(server: ProviderServer) -> None:
    # The SDK asks for base64 unless a format is given; strict validation would reject its own base64 strings.
    client = _openai(server, _strict_response_validation=False)
    implicit = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"])
    assert server.requests[-1]["json"]["encoding_format"] == "base64"

    explicit = _openai(server).embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta gamma"], encoding_format="float"
    )
    assert [e.embedding for e in implicit.data] == [e.embedding for e in explicit.data]
    assert len(explicit.data) == 2 and all(len(e.embedding) == 8 for e in explicit.data)
    assert explicit.data[0].embedding != explicit.data[1].embedding
    norm = sum(v * v for v in explicit.data[0].embedding) ** 0.5
    assert abs(norm - 1.0) < 1e-5
    assert explicit.usage.prompt_tokens == explicit.usage.total_tokens == 1 + 3
    assert explicit.model == "text-embedding-3-small"

    raw = _openai(server, _strict_response_validation=False).embeddings.create(
        model="text-embedding-3-small", input="alpha", encoding_format="base64"
    )
    encoded = raw.data[0].embedding
    assert isinstance(encoded, str)
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == explicit.data[0].embedding

    sized = _openai(server).embeddings.create(
        model="text-embedding-3-large", input="alpha", dimensions=3, encoding_format="float"
    )
    assert len(sized.data[0].embedding) == 3


def test_models_lists(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    assert GPT in [model.id for model in oai.models.list()]
    assert CLAUDE in [model.id for model in ant.models.list()]


# --------------------------------------------------------------------------- Anthropic messages


def test_anthropic_message(server: ProviderServer, ant: anthropic.Anthropic) -> None:
    message = ant.messages.create(model=CLAUDE, max_tokens=256, system="Be nice.", messages=USER)

    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant"
    assert message.model == CLAUDE
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == EXPECTED_TEXT
    assert message.usage.input_tokens == count_tokens("Be nice. " + USER[0]["content"])
    assert message.usage.output_tokens == count_tokens(EXPECTED_TEXT)
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0
    headers = server.requests[-1]["headers"]
    assert "anthropic-version" in headers
    # anthropic 2.x sends the API key as a bearer token rather than x-api-key.
    assert headers.get("x-api-key", headers.get("authorization")) in ("sk-ant-test", "Bearer sk-ant-test")


def test_anthropic_cache_tokens(server: ProviderServer, ant: anthropic.Anthropic) -> None:
    server.enqueue(Reply(text="Cached.", input_tokens=12, output_tokens=4, cached_tokens=900, cache_write_tokens=300))
    usage = ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER).usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 4)
    assert usage.cache_read_input_tokens == 900
    assert usage.cache_creation_input_tokens == 300

    server.enqueue(Reply(text="Cached.", input_tokens=12, output_tokens=4, cached_tokens=900, cache_write_tokens=300))
    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_read_input_tokens == 900
    assert final.usage.cache_creation_input_tokens == 300
    assert final.usage.output_tokens == 4


def test_anthropic_async(server: ProviderServer) -> None:
    async def main() -> tuple[Any, list[str], str]:
        async with _async_anthropic(server) as client:
            message = await client.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
            stream = await client.messages.create(model=CLAUDE, max_tokens=64, messages=USER, stream=True)
            types = [event.type async for event in stream]
            async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as helper:
                text = "".join([piece async for piece in helper.text_stream])
            return message, types, text

    message, types, text = asyncio.run(main())
    assert message.content[0].text == EXPECTED_TEXT
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert text == EXPECTED_TEXT


def test_anthropic_stream_events(ant: anthropic.Anthropic) -> None:
    events = list(ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER, stream=True))
    types = [event.type for event in events]

    assert types[0] == "message_start"
    assert types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}
    start = events[0].message
    assert start.content == [] and start.usage.input_tokens == 10
    text = "".join(event.delta.text for event in events if event.type == "content_block_delta")
    assert text == EXPECTED_TEXT
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == count_tokens(EXPECTED_TEXT)


def test_anthropic_stream_helper(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == EXPECTED_TEXT
    assert final.content[0].type == "text" and final.content[0].text == EXPECTED_TEXT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count_tokens(EXPECTED_TEXT)


def test_anthropic_tool_use(server: ProviderServer, ant: anthropic.Anthropic) -> None:
    call = {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2, 3]}}
    server.enqueue(Reply(text="Let me check.", tool_calls=[call]), Reply(text="Let me check.", tool_calls=[call]))

    message = ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    tool = message.content[1]
    assert tool.id.startswith("toolu_") and tool.name == "get_weather" and tool.input == call["arguments"]

    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[1].type == "tool_use" and final.content[1].input == call["arguments"]


def test_anthropic_count_tokens_does_not_consume_queue(server: ProviderServer, ant: anthropic.Anthropic) -> None:
    server.enqueue(Fault("rate_limit"))
    counted = ant.messages.count_tokens(model=CLAUDE, messages=USER)
    assert counted.input_tokens == 10
    assert server.pending == 1


# --------------------------------------------------------------------------- faults

OPENAI_STATUS_FAULTS = [
    ("rate_limit", openai.RateLimitError, 429),
    ("server_error", openai.InternalServerError, 500),
    ("service_unavailable", openai.InternalServerError, 503),
    ("overloaded", openai.InternalServerError, 529),
    ("auth", openai.AuthenticationError, 401),
    ("context_length_exceeded", openai.BadRequestError, 400),
    ("bad_request", openai.BadRequestError, 400),
]
ANTHROPIC_STATUS_FAULTS = [
    ("rate_limit", anthropic.RateLimitError, 429, "rate_limit_error"),
    ("server_error", anthropic.InternalServerError, 500, "api_error"),
    ("service_unavailable", anthropic.ServiceUnavailableError, 503, "api_error"),
    ("overloaded", anthropic.OverloadedError, 529, "overloaded_error"),
    ("auth", anthropic.AuthenticationError, 401, "authentication_error"),
    ("context_length_exceeded", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("bad_request", anthropic.BadRequestError, 400, "invalid_request_error"),
]


@pytest.mark.parametrize("name, error, status", OPENAI_STATUS_FAULTS)
def test_openai_status_faults(server: ProviderServer, oai: openai.OpenAI, name: str, error: type, status: int) -> None:
    server.enqueue(Fault(name), Fault(name), Fault(name))
    with pytest.raises(error) as chat:
        oai.chat.completions.create(model=GPT, messages=USER)
    with pytest.raises(error) as stream:
        oai.chat.completions.create(model=GPT, messages=USER, stream=True)
    with pytest.raises(error) as responses:
        oai.responses.create(model="gpt-4.1", input="hi")
    for info in (chat, stream, responses):
        assert info.value.status_code == status
        assert info.value.request_id and info.value.request_id.startswith("req_")
    if name == "rate_limit":
        assert chat.value.code == "rate_limit_exceeded"
        assert chat.value.response.headers["retry-after"] == "1"
        assert chat.value.response.headers["retry-after-ms"] == "1000"
    if name == "auth":
        assert chat.value.code == "invalid_api_key"
    if name == "context_length_exceeded":
        assert chat.value.code == responses.value.code == "context_length_exceeded"
        assert chat.value.param == "messages"
        assert "maximum context length is" in chat.value.message
    if name == "overloaded":
        assert type(chat.value) is openai.InternalServerError  # no dedicated 529 class in openai
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == EXPECTED_TEXT


@pytest.mark.parametrize("name, error, status, error_type", ANTHROPIC_STATUS_FAULTS)
def test_anthropic_status_faults(
    server: ProviderServer, ant: anthropic.Anthropic, name: str, error: type, status: int, error_type: str
) -> None:
    server.enqueue(Fault(name), Fault(name))
    with pytest.raises(error) as plain:
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    with pytest.raises(error) as streamed:
        with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
            stream.get_final_message()
    for info in (plain, streamed):
        assert info.value.status_code == status
        assert info.value.type == error_type
        assert info.value.request_id and info.value.request_id.startswith("req_")
    if name == "rate_limit":
        assert plain.value.response.headers["retry-after"] == "1"
    if name == "context_length_exceeded":
        assert plain.value.api_message.startswith("prompt is too long: ")
        assert plain.value.api_message.endswith(" tokens > 200000 maximum")
    assert ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER).content[0].text == EXPECTED_TEXT


def test_content_filter(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    header = {"x-agentmon-fault": "content_filter"}

    completion = oai.chat.completions.create(model=GPT, messages=USER, extra_headers=header)
    assert completion.choices[0].finish_reason == "content_filter"
    assert not completion.choices[0].message.content

    chunks = list(oai.chat.completions.create(model=GPT, messages=USER, stream=True, extra_headers=header))
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert not "".join(c.choices[0].delta.content or "" for c in chunks)

    response = oai.responses.create(model="gpt-4.1", input="hi", extra_headers=header)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "content_filter"
    events = list(oai.responses.create(model="gpt-4.1", input="hi", stream=True, extra_headers=header))
    assert events[-1].type == "response.incomplete"

    message = ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER, extra_headers=header)
    assert message.stop_reason == "refusal"
    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER, extra_headers=header) as stream:
        assert stream.get_final_message().stop_reason == "refusal"


def test_timeout_fault(server: ProviderServer) -> None:
    oai = _openai(server, timeout=0.5)
    ant = _anthropic(server, timeout=0.5)
    server.enqueue(Fault("timeout", delay=1.5), Fault("timeout", delay=1.5))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.chat.completions.create(model=GPT, messages=USER)
    with pytest.raises(anthropic.APITimeoutError):
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    assert time.monotonic() - started < 2.5

    # A patient client just gets the answer late.
    patient = _openai(server, timeout=5)
    started = time.monotonic()
    reply = patient.chat.completions.create(
        model=GPT, messages=USER, extra_headers={"x-agentmon-fault": "timeout;delay=0.3"}
    )
    assert reply.choices[0].message.content == EXPECTED_TEXT
    assert time.monotonic() - started >= 0.3


def test_connection_reset(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    server.enqueue(Fault("connection_reset"), Fault("connection_reset"), Fault("connection_reset"))
    with pytest.raises(openai.APIConnectionError) as chat:
        oai.chat.completions.create(model=GPT, messages=USER)
    assert not isinstance(chat.value, openai.APITimeoutError)
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model=GPT, messages=USER, stream=True)
    with pytest.raises(anthropic.APIConnectionError):
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == EXPECTED_TEXT


def test_connection_reset_mid_stream(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    header = {"x-agentmon-fault": "connection_reset;after=3"}
    received: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(model=GPT, messages=USER, stream=True, extra_headers=header):
            received.append(chunk)
    assert len(received) == 3

    # anthropic does not wrap transport errors raised while a stream is being read.
    events: list[Any] = []
    with pytest.raises(httpx2.TransportError):
        for event in ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER, stream=True, extra_headers=header):
            events.append(event.type)
    assert events[0] == "message_start"


def test_malformed_sse(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    header = {"x-agentmon-fault": "malformed_sse"}
    received: list[Any] = []
    # Neither SDK wraps a bad event: the json.JSONDecodeError of sse.json() escapes as is.
    with pytest.raises(json.JSONDecodeError):
        for chunk in oai.chat.completions.create(model=GPT, messages=USER, stream=True, extra_headers=header):
            received.append(chunk)
    assert len(received) == 2
    with pytest.raises(json.JSONDecodeError):
        list(oai.responses.create(model="gpt-4.1", input="hi", stream=True, extra_headers=header))
    with pytest.raises(json.JSONDecodeError):
        list(ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER, stream=True, extra_headers=header))
    with pytest.raises(json.JSONDecodeError):
        with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER, extra_headers=header) as stream:
            stream.get_final_message()

    # Non-streaming: a 200 whose JSON body is cut short.
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model=GPT, messages=USER, extra_headers=header)
    with pytest.raises(json.JSONDecodeError):
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER, extra_headers=header)


def test_async_faults(server: ProviderServer) -> None:
    async def main() -> list[type]:
        raised: list[type] = []
        async with _async_openai(server, timeout=0.3) as oai, _async_anthropic(server, timeout=0.3) as ant:
            for fault in ("rate_limit", "timeout;delay=1", "connection_reset"):
                try:
                    await oai.chat.completions.create(
                        model=GPT, messages=USER, extra_headers={"x-agentmon-fault": fault}
                    )
                except Exception as error:  # noqa: BLE001 - collecting the types
                    raised.append(type(error))
            for fault in ("overloaded", "timeout;delay=1"):
                try:
                    await ant.messages.create(
                        model=CLAUDE, max_tokens=64, messages=USER, extra_headers={"x-agentmon-fault": fault}
                    )
                except Exception as error:  # noqa: BLE001
                    raised.append(type(error))
        return raised

    assert asyncio.run(main()) == [
        openai.RateLimitError,
        openai.APITimeoutError,
        openai.APIConnectionError,
        anthropic.OverloadedError,
        anthropic.APITimeoutError,
    ]


def test_server_survives_every_fault(server: ProviderServer) -> None:
    oai = _openai(server, timeout=0.3)
    for name in FAULTS:
        fault = "timeout;delay=0.6" if name == "timeout" else name
        for stream in (False, True):
            try:
                result = oai.chat.completions.create(
                    model=GPT, messages=USER, stream=stream, extra_headers={"x-agentmon-fault": fault}
                )
                if stream:
                    list(result)
            except Exception:  # noqa: BLE001 - any failure is fine, the point is what follows
                pass
    assert _openai(server).chat.completions.create(model=GPT, messages=USER).choices[0].message.content == EXPECTED_TEXT


def test_retry_after_is_honoured_by_sdk_retries(server: ProviderServer) -> None:
    client = _openai(server, max_retries=2)
    server.enqueue(Fault("rate_limit", retry_after=0.05), Fault("rate_limit", retry_after=0.05), Reply(text="third"))
    started = time.monotonic()
    completion = client.chat.completions.create(model=GPT, messages=USER)
    assert completion.choices[0].message.content == "third"
    assert len(server.requests) == 3
    assert time.monotonic() - started < 0.5  # waited retry-after-ms, not the SDK's default backoff


# --------------------------------------------------------------------------- scripting and control


def test_queue_is_fifo_across_endpoints(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    server.enqueue(Reply(text="one"), Fault("rate_limit"), Reply(text="three"))
    assert server.pending == 3
    assert ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER).content[0].text == "one"
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="gpt-4.1", input="hi")
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == "three"
    assert server.pending == 0
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == EXPECTED_TEXT

    server.enqueue(Reply(text="dropped"))
    server.clear()
    assert server.pending == 0 and len(server.requests) == 0


def test_headers_win_over_queue(server: ProviderServer, oai: openai.OpenAI) -> None:
    server.enqueue(Reply(text="queued"))
    header = {"x-agentmon-reply": json.dumps({"text": "from header", "output_tokens": 5})}
    by_header = oai.chat.completions.create(model=GPT, messages=USER, extra_headers=header)
    assert by_header.choices[0].message.content == "from header"
    assert by_header.usage is not None and by_header.usage.completion_tokens == 5
    assert server.pending == 1
    with pytest.raises(openai.AuthenticationError):
        oai.chat.completions.create(model=GPT, messages=USER, extra_headers={"x-agentmon-fault": "auth"})
    assert server.pending == 1
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == "queued"


def test_bad_control_headers_are_rejected(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown fault"):
        oai.chat.completions.create(model=GPT, messages=USER, extra_headers={"x-agentmon-fault": "meteor_strike"})
    with pytest.raises(openai.BadRequestError, match="unknown field"):
        oai.chat.completions.create(model=GPT, messages=USER, extra_headers={"x-agentmon-reply": '{"colour": 1}'})
    with pytest.raises(openai.BadRequestError, match="not valid JSON"):
        oai.chat.completions.create(model=GPT, messages=USER, extra_headers={"x-agentmon-reply": "{"})


def test_concurrent_header_control_has_no_cross_talk(server: ProviderServer) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            oai = _openai(server)
            ant = _anthropic(server)
            for round_ in range(6):
                tag = f"w{index}-r{round_}"
                header = {"x-agentmon-reply": json.dumps({"text": tag, "output_tokens": index * 100 + round_,
                                                          "chunk_delay": 0.001})}
                if round_ % 3 == 0:
                    completion = oai.chat.completions.create(model=GPT, messages=USER, extra_headers=header)
                    assert completion.choices[0].message.content == tag
                    assert completion.usage is not None
                    assert completion.usage.completion_tokens == index * 100 + round_
                elif round_ % 3 == 1:
                    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=USER, extra_headers=header) as s:
                        final = s.get_final_message()
                    assert final.content[0].text == tag
                    assert final.usage.output_tokens == index * 100 + round_
                else:
                    fault = ("rate_limit", "overloaded", "auth")[index % 3]
                    expected = (
                        openai.RateLimitError, openai.InternalServerError, openai.AuthenticationError
                    )[index % 3]
                    with pytest.raises(expected):
                        oai.chat.completions.create(model=GPT, messages=USER, extra_headers={"x-agentmon-fault": fault})
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors[:3]
    assert server.pending == 0


def test_reply_delay_and_chunk_delay(server: ProviderServer, oai: openai.OpenAI) -> None:
    server.enqueue(Reply(text="a b c d", delay=0.2, chunk_delay=0.05))
    started = time.monotonic()
    chunks = list(oai.chat.completions.create(model=GPT, messages=USER, stream=True))
    elapsed = time.monotonic() - started
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c d"
    assert elapsed >= 0.2 + 0.05 * (len(chunks))  # one pause between each of the len(chunks) + 1 events


def test_finish_reason_translation(server: ProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    server.enqueue(Reply(finish_reason="max_tokens"), Reply(finish_reason="length"), Reply(finish_reason="length"))
    assert oai.chat.completions.create(model=GPT, messages=USER).choices[0].finish_reason == "length"
    assert ant.messages.create(model=CLAUDE, max_tokens=64, messages=USER).stop_reason == "max_tokens"
    response = oai.responses.create(model="gpt-4.1", input="hi")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"


def test_unknown_path_and_method(server: ProviderServer) -> None:
    status, _, body = _raw_post(server.url + "/v1/nope", {"x": 1})
    assert status == 404
    assert json.loads(body)["error"]["type"] == "invalid_request_error"

    status, _, body = _raw_post(server.url + "/v1/nope", {"x": 1}, {"anthropic-version": "2023-06-01"})
    assert status == 404
    assert json.loads(body)["error"]["type"] == "not_found_error"

    status, _, body = _raw_post(server.openai_base_url + "/models", {})
    assert status == 405

    status, _, body = _raw_post(server.openai_base_url + "/chat/completions", [1, 2])
    assert status == 400 and "JSON object" in json.loads(body)["error"]["message"]


def test_requests_log_is_bounded() -> None:
    with ProviderServer(max_recorded=5) as small:
        client = _openai(small)
        for _ in range(8):
            client.chat.completions.create(model=GPT, messages=USER)
        assert len(small.requests) == 5


def test_stop_wakes_stalled_requests_and_closes_connections() -> None:
    server = ProviderServer().start()
    port = server.port
    sock = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"model": GPT, "messages": USER}).encode()
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"x-agentmon-fault: timeout;delay=30\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.requests, "the request never arrived"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    sock.settimeout(2)
    assert sock.recv(1024) == b""  # closed without an answer
    sock.close()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.url


def test_default_text_follows_last_user_message(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    parts = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": "this   picture"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    ]
    completion = oai.chat.completions.create(model=GPT, messages=parts)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Answer to: Describe this picture"

    history = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "P"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"}]},
    ]
    message = ant.messages.create(model=CLAUDE, max_tokens=64, messages=history)  # type: ignore[arg-type]
    assert message.content[0].text == "Answer to: Sunny, 21C"
    long_question = "word " * 40
    reply = oai.chat.completions.create(model=GPT, messages=[{"role": "user", "content": long_question}])
    assert reply.choices[0].message.content == "Answer to: " + long_question.strip()[:60]


# --------------------------------------------------------------------------- pure helpers


def test_reply_fault_and_header_parsing() -> None:
    assert FAULTS == (
        "rate_limit", "server_error", "service_unavailable", "overloaded", "auth", "context_length_exceeded",
        "bad_request", "content_filter", "timeout", "connection_reset", "malformed_sse",
    )
    assert parse_fault_header("timeout; delay=0.25") == Fault("timeout", delay=0.25)
    assert parse_fault_header("rate_limit;retry_after=0") == Fault("rate_limit", retry_after=0.0)
    assert parse_fault_header("connection_reset;after=4") == Fault("connection_reset", after=4)
    assert parse_reply_header('{"text": "x", "tool_calls": [{"name": "f", "arguments": {}}]}').text == "x"
    with pytest.raises(ValueError):
        Fault("nope")
    with pytest.raises(ValueError):
        parse_fault_header("timeout;delay=soon")
    with pytest.raises(ValueError):
        Reply(input_tokens=-1)
    with pytest.raises(ValueError):
        Reply(tool_calls=[{"arguments": {}}])
    with pytest.raises(TypeError):
        ProviderServer().enqueue("not a reply")  # type: ignore[arg-type]
    assert count_tokens("") == 0
    assert count_tokens("one two three") == 4  # 3 * 1.3 = 3.9
    assert count_tokens("a b c d e f g h i j") == 13


# --------------------------------------------------------------------------- command line


def test_module_entry_point_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with subprocess.Popen(
        [sys.executable, "-m", "otel_agentmon.provider_server", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            assert client.chat.completions.create(model=GPT, messages=USER).choices[0].message.content == EXPECTED_TEXT
            client.close()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
