"""Our openai instrumentor with the real openai SDK against the local provider server."""

from __future__ import annotations

import asyncio
import gc
import json
import math

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentmon
from _instrumented import instrument, uninstrument
from otel_agentmon.processors import CostCalculator, TokenUsage
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

GPT = "gpt-4o-mini"
USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def telemetry():
    telemetry = instrument()
    yield telemetry
    uninstrument()


def reply(**fields) -> dict:
    return {"x-agentmon-reply": json.dumps(fields)}


def fault(name: str) -> dict:
    return {"x-agentmon-fault": name}


def test_chat_span_attributes_set_at_start_and_end(telemetry, client, provider_server):
    result = client.chat.completions.create(
        model=GPT, messages=USER, temperature=0.2, max_tokens=50,
        extra_headers=reply(text="Paris.", input_tokens=1200, output_tokens=300, cached_tokens=1000,
                            reasoning_tokens=100),
    )
    span = telemetry.only_span()
    assert span.name == f"chat {GPT}"
    assert span.kind is SpanKind.CLIENT
    at_start = telemetry.starts.at_start[span.context.span_id]
    assert at_start[ga.OPERATION_NAME] == "chat"
    assert at_start[ga.PROVIDER_NAME] == "openai"
    assert at_start[ga.REQUEST_MODEL] == GPT
    assert at_start[ga.SERVER_ADDRESS] == "127.0.0.1"
    assert at_start[ga.SERVER_PORT] == provider_server.port
    attributes = span.attributes
    assert attributes[ga.REQUEST_TEMPERATURE] == 0.2
    assert attributes[ga.REQUEST_MAX_TOKENS] == 50
    assert attributes[ga.RESPONSE_ID] == result.id
    assert attributes[ga.RESPONSE_MODEL] == result.model
    assert attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[ga.USAGE_INPUT_TOKENS] == 1200
    assert attributes[ga.USAGE_OUTPUT_TOKENS] == 300
    assert attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[ga.USAGE_REASONING_OUTPUT_TOKENS] == 100
    expected = CostCalculator().price("openai", result.model, TokenUsage(1200, 300, 1000, 0, 100)).amount
    assert math.isclose(attributes[am.COST_AMOUNT], expected)
    assert ga.INPUT_MESSAGES not in attributes and ga.OUTPUT_MESSAGES not in attributes  # content off by default
    assert span.status.status_code is StatusCode.UNSET


def test_chat_metrics(telemetry, client):
    with otel_agentmon.attribution(user_id="u-1", department="support", application="triage"):
        client.chat.completions.create(model=GPT, messages=USER, extra_headers=reply(input_tokens=40, output_tokens=7))
    (duration,) = telemetry.metric_points(m.CLIENT_OPERATION_DURATION)
    assert tuple(duration.explicit_bounds) == m.DURATION_BUCKETS
    assert duration.count == 1
    assert duration.attributes[ga.OPERATION_NAME] == "chat"
    assert duration.attributes[ga.PROVIDER_NAME] == "openai"
    assert duration.attributes[ga.REQUEST_MODEL] == GPT
    assert duration.attributes[ga.RESPONSE_MODEL] == GPT
    tokens = {p.attributes[ga.TOKEN_TYPE]: p for p in telemetry.metric_points(m.CLIENT_TOKEN_USAGE)}
    assert tuple(tokens["input"].explicit_bounds) == m.TOKEN_USAGE_BUCKETS
    assert tokens["input"].sum == 40 and tokens["output"].sum == 7
    (cost,) = telemetry.metric_points(m.COST)
    assert math.isclose(cost.value, telemetry.only_span().attributes[am.COST_AMOUNT])
    assert set(cost.attributes) == {ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.REQUEST_MODEL, ga.RESPONSE_MODEL,
                                    ga.SERVER_ADDRESS, ga.SERVER_PORT,
                                    am.APPLICATION, am.DEPARTMENT}  # as registry.yaml documents
    assert cost.attributes[am.APPLICATION] == "triage" and cost.attributes[am.DEPARTMENT] == "support"
    assert ga.USER_ID not in cost.attributes  # never a label: one series per user would be unbounded
    assert telemetry.metric_points(m.CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == []


def test_async_chat(telemetry, aclient):
    result = asyncio.run(aclient.chat.completions.create(model=GPT, messages=USER))
    span = telemetry.only_span()
    assert span.attributes[ga.RESPONSE_ID] == result.id
    assert span.attributes[ga.USAGE_INPUT_TOKENS] == result.usage.prompt_tokens


def test_tool_calls(telemetry, client):
    script = reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    result = client.chat.completions.create(model=GPT, messages=USER, extra_headers=script,
                                            tools=[{"type": "function", "function": {"name": "get_weather",
                                                                                     "parameters": {"type": "object"}}}])
    assert result.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert telemetry.only_span().attributes[ga.RESPONSE_FINISH_REASONS] == ("tool_calls",)


def _chunks(stream) -> list:
    return [chunk for chunk in stream]


def test_stream_usage_is_requested_and_the_extra_chunk_hidden(telemetry, client, provider_server):
    chunks = _chunks(client.chat.completions.create(model=GPT, messages=USER, stream=True,
                                                     extra_headers=reply(input_tokens=11, output_tokens=5)))
    assert provider_server.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks), "the caller must not see the usage-only chunk"
    assert all(chunk.usage is None for chunk in chunks)
    span = telemetry.only_span()
    assert span.attributes[ga.REQUEST_STREAM] is True
    assert span.attributes[ga.USAGE_INPUT_TOKENS] == 11
    assert span.attributes[ga.USAGE_OUTPUT_TOKENS] == 5
    assert span.attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[ga.RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert span.attributes[am.COST_STATUS] == "priced"
    (ttfc,) = telemetry.metric_points(m.CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1


def test_stream_caller_who_asked_for_usage_gets_it(telemetry, client):
    chunks = _chunks(client.chat.completions.create(model=GPT, messages=USER, stream=True,
                                                     stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert telemetry.only_span().attributes[ga.USAGE_INPUT_TOKENS] == chunks[-1].usage.prompt_tokens


def test_stream_usage_option_off(provider_server, client):
    telemetry = instrument(stream_usage=False)
    try:
        _chunks(client.chat.completions.create(model=GPT, messages=USER, stream=True))
        assert "stream_options" not in provider_server.requests[-1]["json"]
        assert ga.USAGE_INPUT_TOKENS not in telemetry.only_span().attributes
        assert telemetry.only_span().attributes[am.COST_STATUS] == "missing_usage"
    finally:
        uninstrument()


def test_stream_break_and_garbage_collection_end_the_span_once(telemetry, client):
    stream = client.chat.completions.create(model=GPT, messages=USER, stream=True,
                                            extra_headers=reply(text="one two three four five six"))
    for _ in stream:
        break
    assert telemetry.finished() == []  # still open: the caller may come back to it
    del stream
    gc.collect()
    span = telemetry.only_span()
    assert span.status.status_code is StatusCode.UNSET


def test_stream_close_ends_the_span_once(telemetry, client):
    stream = client.chat.completions.create(model=GPT, messages=USER, stream=True)
    next(stream)
    stream.close()
    stream.close()
    del stream
    gc.collect()
    assert len(telemetry.finished()) == 1


def test_stream_context_manager(telemetry, client):
    with client.chat.completions.create(model=GPT, messages=USER, stream=True) as stream:
        chunks = [chunk for chunk in stream]
    assert chunks and len(telemetry.finished()) == 1
    assert telemetry.only_span().attributes[ga.USAGE_OUTPUT_TOKENS] > 0


@pytest.mark.parametrize("name, error", [("malformed_sse", json.JSONDecodeError),
                                         ("connection_reset;after=2", openai.APIConnectionError)])
def test_stream_error_midway_ends_the_span_with_the_error(telemetry, client, name, error):
    stream = client.chat.completions.create(model=GPT, messages=USER, stream=True, extra_headers=fault(name))
    with pytest.raises(error):
        for _ in stream:
            pass
    span = telemetry.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ga.ERROR_TYPE]
    assert span.attributes[am.ERROR_CATEGORY] in ("validation_error", "network_error")


def test_async_stream(telemetry, aclient):
    async def run():
        stream = await aclient.chat.completions.create(model=GPT, messages=USER, stream=True)
        return [chunk async for chunk in stream]

    chunks = asyncio.run(run())
    assert all(chunk.choices for chunk in chunks)
    assert telemetry.only_span().attributes[ga.USAGE_OUTPUT_TOKENS] > 0


def test_stream_helper(telemetry, client):
    with client.chat.completions.stream(model=GPT, messages=USER) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    span = telemetry.only_span()
    assert span.attributes[ga.RESPONSE_ID] == final.id


def test_responses_non_stream_and_stream(telemetry, client):
    response = client.responses.create(model=GPT, input="Hello", instructions="Be brief",
                                       extra_headers=reply(input_tokens=30, output_tokens=9, reasoning_tokens=4))
    events = list(client.responses.create(model=GPT, input="Hello", stream=True))
    first, second = telemetry.finished()
    assert first.name == f"chat {GPT}"
    assert first.attributes[ga.RESPONSE_ID] == response.id
    assert first.attributes[ga.USAGE_INPUT_TOKENS] == 30
    assert first.attributes[ga.USAGE_REASONING_OUTPUT_TOKENS] == 4
    assert first.attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    completed = events[-1].response
    assert second.attributes[ga.RESPONSE_ID] == completed.id
    assert second.attributes[ga.USAGE_OUTPUT_TOKENS] == completed.usage.output_tokens
    assert second.attributes[ga.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_async_responses(telemetry, aclient):
    response = asyncio.run(aclient.responses.create(model=GPT, input="Hello"))
    assert telemetry.only_span().attributes[ga.RESPONSE_ID] == response.id


def test_embeddings(telemetry, client, aclient):
    result = client.embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format="float")
    asyncio.run(aclient.embeddings.create(model="text-embedding-3-small", input="hi"))
    span = telemetry.finished()[0]
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[ga.OPERATION_NAME] == "embeddings"
    assert span.attributes[ga.USAGE_INPUT_TOKENS] == result.usage.prompt_tokens
    assert span.attributes[ga.EMBEDDINGS_DIMENSION_COUNT] == len(result.data[0].embedding)
    assert span.attributes[am.COST_STATUS] == "priced"
    assert len(telemetry.finished()) == 2


@pytest.mark.parametrize(
    "name, error, error_type, category",
    [
        ("rate_limit", openai.RateLimitError, "rate_limit_exceeded", "rate_limit"),
        ("server_error", openai.InternalServerError, "openai.InternalServerError", "provider_error"),
        ("service_unavailable", openai.InternalServerError, None, "service_unavailable"),
        ("overloaded", openai.InternalServerError, None, "service_unavailable"),
        ("auth", openai.AuthenticationError, "invalid_api_key", "auth_error"),
        ("context_length_exceeded", openai.BadRequestError, "context_length_exceeded", "context_length_exceeded"),
        ("bad_request", openai.BadRequestError, None, "bad_request"),
        ("timeout;delay=3", openai.APITimeoutError, "openai.APITimeoutError", "timeout"),
        ("connection_reset", openai.APIConnectionError, "openai.APIConnectionError", "network_error"),
    ],
)
def test_faults_keep_the_exception_and_get_error_type_and_category(telemetry, client, name, error, error_type, category):
    with pytest.raises(error):
        client.chat.completions.create(model=GPT, messages=USER, timeout=1.0, extra_headers=fault(name))
    span = telemetry.only_span()
    assert span.status.status_code is StatusCode.ERROR
    if error_type is not None:
        assert span.attributes[ga.ERROR_TYPE] == error_type
    assert span.attributes[am.ERROR_CATEGORY] == category
    (errors,) = telemetry.metric_points(m.ERRORS)
    assert errors.value == 1 and errors.attributes[am.ERROR_CATEGORY] == category
    (duration,) = telemetry.metric_points(m.CLIENT_OPERATION_DURATION)
    assert duration.attributes[ga.ERROR_TYPE] == span.attributes[ga.ERROR_TYPE]


def test_content_filter_reply(telemetry, client):
    client.chat.completions.create(model=GPT, messages=USER, extra_headers=fault("content_filter"))
    assert telemetry.only_span().attributes[am.ERROR_CATEGORY] == "content_filter"


def test_content_capture_when_enabled(provider_server, client):
    telemetry = instrument(capture_content=True)
    try:
        secret_messages = [{"role": "system", "content": "You are terse."},
                           {"role": "user", "content": "my key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"}]
        client.chat.completions.create(model=GPT, messages=secret_messages, extra_headers=reply(text="Noted."))
        attributes = telemetry.only_span().attributes
        inputs = json.loads(attributes[ga.INPUT_MESSAGES])
        outputs = json.loads(attributes[ga.OUTPUT_MESSAGES])
        system = json.loads(attributes[ga.SYSTEM_INSTRUCTIONS])
        assert inputs[0]["role"] == "user" and "sk-proj-abc" not in attributes[ga.INPUT_MESSAGES]
        assert "[REDACTED]" in inputs[0]["parts"][0]["content"]
        assert outputs[0]["parts"][0]["content"] == "Noted." and outputs[0]["finish_reason"] == "stop"
        assert system[0]["content"] == "You are terse."
    finally:
        uninstrument()


def test_streamed_content_capture(provider_server, client):
    telemetry = instrument(capture_content=True)
    try:
        _chunks(client.chat.completions.create(model=GPT, messages=USER, stream=True,
                                               extra_headers=reply(text="Paris is the capital.")))
        outputs = json.loads(telemetry.only_span().attributes[ga.OUTPUT_MESSAGES])
        assert outputs[0]["parts"][0]["content"] == "Paris is the capital."
    finally:
        uninstrument()


def test_uninstrument_restores_the_originals(client):
    original = openai.resources.chat.completions.Completions.create
    telemetry = instrument()
    assert openai.resources.chat.completions.Completions.create is not original
    uninstrument()
    assert openai.resources.chat.completions.Completions.create is original
    client.chat.completions.create(model=GPT, messages=USER)
    assert telemetry.finished() == []


def test_raw_responses_are_read_through_parse(telemetry, client):
    raw = client.chat.completions.with_raw_response.create(model=GPT, messages=USER,
                                                           extra_headers=reply(input_tokens=21, output_tokens=4))
    assert raw.http_response.status_code == 200
    parsed = raw.parse()
    assert parsed is raw.parse()
    assert telemetry.only_span().attributes[ga.USAGE_INPUT_TOKENS] == 21
    raw_stream = client.chat.completions.with_raw_response.create(model=GPT, messages=USER, stream=True)
    chunks = [chunk for chunk in raw_stream.parse()]
    assert chunks and all(chunk.choices for chunk in chunks)
    second = telemetry.finished()[1]
    assert second.attributes[ga.USAGE_OUTPUT_TOKENS] > 0


def test_async_responses_stream(telemetry, aclient):
    async def run():
        stream = await aclient.responses.create(model=GPT, input="Hello", stream=True)
        return [event async for event in stream]

    events = asyncio.run(run())
    assert telemetry.only_span().attributes[ga.RESPONSE_ID] == events[-1].response.id
