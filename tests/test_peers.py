"""One model span per call when the official instrumentation is set up beside ours by hand
(under opentelemetry-instrument, see test_zero_code: ours wins and theirs is not loaded)."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as OfficialOpenAIInstrumentor

from _instrumented import instrument, uninstrument
from otel_agentmon.instrumentation import _peers
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(provider_server):
    return openai.OpenAI(base_url=provider_server.openai_base_url, api_key="k", max_retries=0)


@pytest.mark.parametrize("ours_first", [True, False], ids=["ours-first", "official-first"])
def test_ours_steps_aside_while_the_official_one_is_active(client, caplog, ours_first):
    telemetry = instrument()  # in-memory providers, ours instrumented
    providers = {"tracer_provider": telemetry.tracer_provider, "meter_provider": telemetry.meter_provider}
    official = OfficialOpenAIInstrumentor()
    try:
        if not ours_first:
            OpenAIInstrumentor().uninstrument()
        official.instrument(**providers)
        if not ours_first:
            OpenAIInstrumentor().instrument(**providers)
        _peers.reset()
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        (span,) = telemetry.finished()
        assert span.instrumentation_scope.name.startswith("opentelemetry.instrumentation.genai.openai")
        assert "steps aside" in caplog.text

        if ours_first:
            # (the official uninstrument() unwraps whatever wrapper is outermost, so this hand-over
            # is only defined when theirs was applied last)
            official.uninstrument()
            _peers.reset()
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
            spans = telemetry.finished()
            assert len(spans) == 2
            assert spans[1].instrumentation_scope.name == "otel_agentmon.instrumentation"
    finally:
        uninstrument()  # ours first: it splices itself out wherever it sits; theirs unwraps the top
        if official.is_instrumented_by_opentelemetry:
            official.uninstrument()
        _peers.reset()


def test_our_uninstrument_leaves_the_official_wrapper_in_place(client):
    telemetry = instrument()
    official = OfficialOpenAIInstrumentor()
    official.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        OpenAIInstrumentor().uninstrument()  # ours sits under theirs in the chain
        _peers.reset()
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        (span,) = telemetry.finished()
        assert span.instrumentation_scope.name.startswith("opentelemetry.instrumentation.genai.openai")
    finally:
        uninstrument()
        official.uninstrument()
        _peers.reset()

