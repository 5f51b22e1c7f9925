"""Our anthropic instrumentor with the real anthropic SDK against the local provider server."""

from __future__ import annotations

import asyncio
import gc
import json
import math

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from _instrumented import instrument, uninstrument
from otel_agentmon.processors import CostCalculator, TokenUsage
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

CLAUDE = "claude-haiku-4-5"
USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def telemetry():
    telemetry = instrument()
    yield telemetry
    uninstrument()


@pytest.fixture
def client(provider_server):
    return anthropic.Anthropic(base_url=provider_server.anthropic_base_url, api_key="sk-ant-test", max_retries=0,
                               timeout=5)


@pytest.fixture
def aclient(provider_server):
    return anthropic.AsyncAnthropic(base_url=provider_server.anthropic_base_url, api_key="sk-ant-test",
                                    max_retries=0, timeout=5)


def reply(**fields) -> dict:
    return {"x-agentmon-reply": json.dumps(fields)}


def test_message_with_cache_tokens(telemetry, client, provider_server):
    message = client.messages.create(
        model=CLAUDE, max_tokens=100, messages=USER, stop_sequences=["###"],
        extra_headers=reply(text="Paris.", input_tokens=20, output_tokens=100, cached_tokens=3000,
                            cache_write_tokens=500),
    )
    span = telemetry.only_span()
    assert span.name == f"chat {CLAUDE}"
    at_start = telemetry.starts.at_start[span.context.span_id]
    assert at_start[ga.PROVIDER_NAME] == "anthropic"
    assert at_start[ga.REQUEST_MODEL] == CLAUDE
    assert at_start[ga.SERVER_PORT] == provider_server.port
    attributes = span.attributes
    assert attributes[ga.REQUEST_MAX_TOKENS] == 100 and attributes[ga.REQUEST_STOP_SEQUENCES] == ("###",)
    assert attributes[ga.RESPONSE_ID] == message.id
    assert attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    # Anthropic's input_tokens excludes the cache; the conventions' total includes it
    assert attributes[ga.USAGE_INPUT_TOKENS] == 3520
    assert attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 3000
    assert attributes[ga.USAGE_CACHE_WRITE_INPUT_TOKENS] == 500
    expected = CostCalculator().price("anthropic", message.model, TokenUsage(3520, 100, 3000, 500)).amount
    assert math.isclose(attributes[am.COST_AMOUNT], expected)
    tokens = {p.attributes[ga.TOKEN_TYPE]: p.sum for p in telemetry.metric_points(m.CLIENT_TOKEN_USAGE)}
    assert tokens == {"input": 3520, "output": 100}


def test_async_message(telemetry, aclient):
    message = asyncio.run(aclient.messages.create(model=CLAUDE, max_tokens=50, messages=USER))
    assert telemetry.only_span().attributes[ga.RESPONSE_ID] == message.id


def test_tool_use(telemetry, client):
    message = client.messages.create(model=CLAUDE, max_tokens=50, messages=USER,
                                     extra_headers=reply(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}]))
    assert message.stop_reason == "tool_use"
    assert telemetry.only_span().attributes[ga.RESPONSE_FINISH_REASONS] == ("tool_calls",)


def test_stream_true(telemetry, client):
    events = list(client.messages.create(model=CLAUDE, max_tokens=50, messages=USER, stream=True,
                                         extra_headers=reply(input_tokens=12, output_tokens=6, cached_tokens=100)))
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    span = telemetry.only_span()
    assert span.attributes[ga.REQUEST_STREAM] is True
    assert span.attributes[ga.USAGE_INPUT_TOKENS] == 112
    assert span.attributes[ga.USAGE_OUTPUT_TOKENS] == 6
    assert span.attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[ga.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_async_stream_true(telemetry, aclient):
    async def run():
        stream = await aclient.messages.create(model=CLAUDE, max_tokens=50, messages=USER, stream=True)
        return [event async for event in stream]

    assert asyncio.run(run())[-1].type == "message_stop"
    assert telemetry.only_span().attributes[ga.USAGE_OUTPUT_TOKENS] > 0


def test_stream_helper(telemetry, client):
    with client.messages.stream(model=CLAUDE, max_tokens=50, messages=USER,
                                extra_headers=reply(text="Paris it is.", input_tokens=9, output_tokens=4)) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Paris it is."
    span = telemetry.only_span()
    assert span.attributes[ga.RESPONSE_ID] == final.id
    assert span.attributes[ga.USAGE_INPUT_TOKENS] == 9
    assert span.attributes[ga.USAGE_OUTPUT_TOKENS] == 4
    assert span.attributes[ga.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_stream_helper_left_early_ends_once(telemetry, client):
    with client.messages.stream(model=CLAUDE, max_tokens=50, messages=USER,
                                extra_headers=reply(text="a b c d e f g h")) as stream:
        for _ in stream:
            break
    gc.collect()
    assert len(telemetry.finished()) == 1


def test_async_stream_helper(telemetry, aclient):
    async def run():
        async with aclient.messages.stream(model=CLAUDE, max_tokens=50, messages=USER) as stream:
            return await stream.get_final_message()

    final = asyncio.run(run())
    assert telemetry.only_span().attributes[ga.RESPONSE_ID] == final.id


def test_stream_helper_request_failure(telemetry, client):
    with pytest.raises(anthropic.RateLimitError):
        with client.messages.stream(model=CLAUDE, max_tokens=50, messages=USER,
                                    extra_headers={"x-agentmon-fault": "rate_limit"}):
            pass
    span = telemetry.only_span()
    assert span.attributes[am.ERROR_CATEGORY] == "rate_limit"


@pytest.mark.parametrize(
    "name, error, category",
    [
        ("rate_limit", anthropic.RateLimitError, "rate_limit"),
        ("overloaded", anthropic.OverloadedError, "service_unavailable"),
        ("service_unavailable", anthropic.ServiceUnavailableError, "service_unavailable"),
        ("server_error", anthropic.InternalServerError, "provider_error"),
        ("auth", anthropic.AuthenticationError, "auth_error"),
        ("context_length_exceeded", anthropic.BadRequestError, "context_length_exceeded"),
        ("timeout;delay=3", anthropic.APITimeoutError, "timeout"),
        ("connection_reset", anthropic.APIConnectionError, "network_error"),
    ],
)
def test_faults(telemetry, client, name, error, category):
    with pytest.raises(error):
        client.messages.create(model=CLAUDE, max_tokens=50, messages=USER, timeout=1.0,
                               extra_headers={"x-agentmon-fault": name})
    span = telemetry.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[am.ERROR_CATEGORY] == category


def test_refusal_is_content_filter(telemetry, client):
    client.messages.create(model=CLAUDE, max_tokens=50, messages=USER,
                           extra_headers={"x-agentmon-fault": "content_filter"})
    attributes = telemetry.only_span().attributes
    assert attributes[ga.RESPONSE_FINISH_REASONS] == ("content_filter",)
    assert attributes[am.ERROR_CATEGORY] == "content_filter"


def test_content_capture(provider_server, client):
    telemetry = instrument(capture_content=True)
    try:
        client.messages.create(model=CLAUDE, max_tokens=50, system="Be terse.", messages=USER,
                               extra_headers=reply(text="Paris."))
        with client.messages.stream(model=CLAUDE, max_tokens=50, messages=USER,
                                    extra_headers=reply(text="Lyon.")) as stream:
            stream.until_done()
        first, second = telemetry.finished()
        assert json.loads(first.attributes[ga.SYSTEM_INSTRUCTIONS])[0]["content"] == "Be terse."
        assert json.loads(first.attributes[ga.OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "Paris."
        assert json.loads(second.attributes[ga.OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "Lyon."
    finally:
        uninstrument()


def test_uninstrument_restores_the_originals():
    original = anthropic.resources.messages.Messages.create
    original_stream = anthropic.resources.messages.Messages.stream
    instrument()
    uninstrument()
    assert anthropic.resources.messages.Messages.create is original
    assert anthropic.resources.messages.Messages.stream is original_stream


def test_the_sdks_own_call_spans_are_turned_off_while_ours_is_active(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    instrument()
    try:
        import os

        assert os.environ["ANTHROPIC_OPEN_TELEMETRY"] == "false"
    finally:
        uninstrument()
    import os

    assert "ANTHROPIC_OPEN_TELEMETRY" not in os.environ
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "true")  # the user's own choice is kept
    instrument()
    uninstrument()
    assert os.environ["ANTHROPIC_OPEN_TELEMETRY"] == "true"
