"""The OpenAI Agents SDK integration, with the real ``openai-agents`` package running agents
against the local provider server: workflow, agent and tool spans from the SDK's tracing
processor interface, model spans exactly once (from our openai instrumentor when it is on,
from the integration when it is not), tool failures categorized on export, and nothing sent
to the OpenAI trace ingest (the SDK's default exporter is replaced; the sandbox has no
network, and a hung export would only show up as slow tests)."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

agents = pytest.importorskip("agents")

from openai import AsyncOpenAI  # noqa: E402
from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

import _instrumented  # noqa: E402
from otel_agentmon.integrations import openai_agents as integration  # noqa: E402
from otel_agentmon.processors import EnrichingSpanExporter  # noqa: E402
from otel_agentmon.provider_server import Fault, Reply  # noqa: E402
from otel_agentmon.semconv import agentmon as am  # noqa: E402
from otel_agentmon.semconv import gen_ai as ga  # noqa: E402
from otel_agentmon.semconv import metrics as m  # noqa: E402

INSTRUMENTOR_SCOPE = "otel_agentmon.instrumentation"
INTEGRATION_SCOPE = "otel_agentmon.integrations.openai_agents"
MODEL = "gpt-4o-mini"


@dataclass
class Pipeline:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    starts: _instrumented.StartRecorder

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.finished()]
        return found[0]

    def histogram(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        return [point for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                for metric in sm.metrics if metric.name == name for point in metric.data.data_points]


def _pipeline_without_instrumentors() -> Pipeline:
    spans, reader, starts = InMemorySpanExporter(), InMemoryMetricReader(), _instrumented.StartRecorder()
    provider = TracerProvider()
    provider.add_span_processor(starts)
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(spans)))
    return Pipeline(spans, reader, provider, starts)


@contextmanager
def _integration(with_instrumentor: bool) -> Iterator[Pipeline]:
    """The integration on an enriching in-memory pipeline, with our openai instrumentor on or off."""
    if with_instrumentor:
        telemetry = _instrumented.instrument()
        pipe = Pipeline(telemetry.spans, telemetry.metrics, telemetry.tracer_provider, telemetry.starts)
        meter_provider = telemetry.meter_provider
    else:
        pipe = _pipeline_without_instrumentors()
        meter_provider = MeterProvider(metric_readers=[pipe.metrics])
    integration.instrument_openai_agents(replace_default=True, tracer_provider=pipe.tracer_provider,
                                         meter_provider=meter_provider)
    try:
        yield pipe
    finally:
        integration.uninstrument_openai_agents()
        if with_instrumentor:
            _instrumented.uninstrument()


@pytest.fixture(params=[True, False], ids=["with-openai-instrumentor", "integration-only"])
def pipeline(request) -> Iterator[tuple[Pipeline, bool]]:
    with _integration(request.param) as pipe:
        yield pipe, request.param


@pytest.fixture
def instrumented() -> Iterator[Pipeline]:
    with _integration(True) as pipe:
        yield pipe


@pytest.fixture
def bare() -> Iterator[Pipeline]:
    with _integration(False) as pipe:
        yield pipe


@pytest.fixture(autouse=True)
def _offline(provider_server) -> Iterator[None]:
    provider_server.clear()  # a reply a test scripted but its run never asked for must not leak
    yield
    provider_server.clear()
    # nothing may be queued for the OpenAI trace ingest (no network here; it would hang exports)
    registered = integration._registered(agents.tracing.get_trace_provider()) or ()
    assert not any(integration._is_openai_exporter(p) for p in registered)


def _model(server, api: str) -> Any:
    client = AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    if api == "chat":
        return agents.OpenAIChatCompletionsModel(MODEL, client)
    return agents.OpenAIResponsesModel(MODEL, client)


def get_weather(city: str) -> str:
    """The weather in a city."""
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"sunny in {city}"


WEATHER_TOOL = agents.function_tool(get_weather)


def _weather_agent(server, api: str = "chat", **tool_options: Any) -> Any:
    tool = agents.function_tool(get_weather, **tool_options) if tool_options else WEATHER_TOOL
    return agents.Agent(name="weather", instructions="Be brief.", tools=[tool], model=_model(server, api))


def _tool_then_answer(server, city: str = "Lisbon") -> None:
    server.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": city}, "id": "call_w1"}]),
                   Reply(text="It is sunny."))


def _run(agent: Any, prompt: str = "Weather in Lisbon?", **kwargs: Any) -> Any:
    return asyncio.run(agents.Runner.run(agent, prompt, **kwargs))


def _parent_name(pipe: Pipeline, span: ReadableSpan) -> str | None:
    by_id = {s.context.span_id: s for s in pipe.finished()}
    parent = by_id.get(span.parent.span_id) if span.parent is not None else None
    return parent.name if parent is not None else None


def _within(inner: ReadableSpan, outer: ReadableSpan) -> bool:
    return outer.start_time <= inner.start_time and inner.end_time <= outer.end_time


# --- structure ---------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_workflow_agent_tool_and_one_model_span_per_call(pipeline, provider_server, api):
    pipe, instrumented = pipeline
    _tool_then_answer(provider_server)

    result = _run(_weather_agent(provider_server, api))

    assert result.final_output == "It is sunny."
    workflow = pipe.one("invoke_workflow Agent workflow")
    agent = pipe.one("invoke_agent weather")
    tool = pipe.one("execute_tool get_weather")
    models = pipe.named(f"chat {MODEL}")
    assert len(models) == 2  # two model calls, one span each
    assert workflow.parent is None
    assert agent.attributes[ga.OPERATION_NAME] == ga.Operation.INVOKE_AGENT
    assert agent.attributes[ga.AGENT_NAME] == "weather"
    assert tool.attributes[ga.OPERATION_NAME] == ga.Operation.EXECUTE_TOOL
    assert tool.attributes[ga.TOOL_NAME] == "get_weather"
    assert tool.attributes[ga.TOOL_CALL_ID] == "call_w1"  # from the model response that asked for it
    assert tool.status.status_code is StatusCode.UNSET
    assert _parent_name(pipe, agent) == workflow.name
    assert _parent_name(pipe, tool) == agent.name
    for model in models:
        assert _parent_name(pipe, model) == agent.name
        assert _within(model, agent)
        expected_scope = INSTRUMENTOR_SCOPE if instrumented else INTEGRATION_SCOPE
        assert model.instrumentation_scope.name == expected_scope
        assert model.attributes[ga.PROVIDER_NAME] == ga.Provider.OPENAI
        assert model.attributes[am.COST_STATUS] == am.CostStatus.PRICED
    assert _within(tool, agent) and _within(agent, workflow)
    assert {s.context.trace_id for s in pipe.finished()} == {workflow.context.trace_id}
    # operation and name are there at start, for samplers
    assert pipe.starts.at_start[agent.context.span_id][ga.AGENT_NAME] == "weather"
    assert pipe.starts.at_start[tool.context.span_id][ga.TOOL_NAME] == "get_weather"


def test_streamed_run_has_the_same_structure(instrumented, provider_server):
    _tool_then_answer(provider_server)

    async def run() -> str:
        result = agents.Runner.run_streamed(_weather_agent(provider_server), "Weather in Lisbon?")
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert asyncio.run(run()) == "It is sunny."
    agent = instrumented.one("invoke_agent weather")
    tool = instrumented.one("execute_tool get_weather")
    assert _parent_name(instrumented, tool) == agent.name
    assert tool.attributes[ga.TOOL_CALL_ID] == "call_w1"
    models = instrumented.named(f"chat {MODEL}")
    assert len(models) == 2
    assert all(_parent_name(instrumented, model) == agent.name for model in models)


def test_parallel_calls_of_one_tool_get_their_own_call_ids(instrumented, provider_server):
    provider_server.enqueue(
        Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Lisbon"}, "id": "call_a"},
                          {"name": "get_weather", "arguments": {"city": "Porto"}, "id": "call_b"}]),
        Reply(text="Sunny in both."))

    _run(_weather_agent(provider_server))

    tools = sorted(instrumented.named("execute_tool get_weather"), key=lambda span: span.start_time)
    assert [tool.attributes[ga.TOOL_CALL_ID] for tool in tools] == ["call_a", "call_b"]
    assert {_parent_name(instrumented, tool) for tool in tools} == {"invoke_agent weather"}


def test_handoff_gives_each_agent_its_span(instrumented, provider_server):
    specialist = agents.Agent(name="specialist", instructions="Answer.", model=_model(provider_server, "chat"))
    triage = agents.Agent(name="triage", instructions="Route.", handoffs=[specialist],
                          model=_model(provider_server, "chat"))
    provider_server.enqueue(Reply(tool_calls=[{"name": "transfer_to_specialist", "arguments": {}}]),
                            Reply(text="Specialist here."))

    assert _run(triage).final_output == "Specialist here."

    workflow = instrumented.one("invoke_workflow Agent workflow")
    first, second = instrumented.one("invoke_agent triage"), instrumented.one("invoke_agent specialist")
    assert _parent_name(instrumented, first) == workflow.name
    assert _parent_name(instrumented, second) == workflow.name
    assert first.end_time <= second.start_time
    models = instrumented.named(f"chat {MODEL}")  # one call by each agent, under that agent
    assert sorted(_parent_name(instrumented, model) for model in models) == sorted([first.name, second.name])


def test_a_trace_around_runs_is_one_workflow_with_the_conversation_id(instrumented, provider_server):
    agent = agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "chat"))

    async def two_runs() -> None:
        with agents.trace("trip planning", group_id="conversation-7"):
            await agents.Runner.run(agent, "Day one?")
            await agents.Runner.run(agent, "Day two?")

    asyncio.run(two_runs())

    workflow = instrumented.one("invoke_workflow trip planning")
    assert workflow.attributes[ga.WORKFLOW_NAME] == "trip planning"
    assert workflow.attributes[ga.CONVERSATION_ID] == "conversation-7"
    runs = instrumented.named("invoke_agent planner")
    assert len(runs) == 2
    for run in runs:
        assert _parent_name(instrumented, run) == workflow.name
        assert run.attributes[ga.CONVERSATION_ID] == "conversation-7"


def test_custom_span_is_a_plain_span(instrumented, provider_server):
    agent = agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "chat"))

    async def run() -> None:
        with agents.trace("custom"):
            with agents.custom_span("load-profile", {"user": "u-1"}):
                await agents.Runner.run(agent, "Hello?")

    asyncio.run(run())

    custom = instrumented.one("load-profile")
    assert ga.OPERATION_NAME not in custom.attributes
    assert "user" not in custom.attributes  # the span's data may be content: not copied
    assert _parent_name(instrumented, custom) == "invoke_workflow custom"
    assert _parent_name(instrumented, instrumented.one("invoke_agent planner")) == custom.name


def test_spans_nest_under_the_applications_current_span(instrumented, provider_server):
    tracer = instrumented.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request"):
        _run(agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "chat")))
    assert _parent_name(instrumented, instrumented.one("invoke_workflow Agent workflow")) == "handle request"
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN  # nothing left attached


# --- failures ----------------------------------------------------------------------------


def test_tool_error_handled_by_the_sdk_is_a_failed_tool_span(instrumented, provider_server):
    _tool_then_answer(provider_server, city="Atlantis")

    assert _run(_weather_agent(provider_server)).final_output == "It is sunny."  # the SDK told the model

    tool = instrumented.one("execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[ga.ERROR_TYPE] == "_OTHER"  # the SDK keeps only a message
    assert tool.attributes[am.ERROR_CATEGORY] == "tool_error"  # derived on export
    assert tool.attributes[am.ERROR_SEVERITY] == "medium"
    assert instrumented.one("invoke_agent weather").status.status_code is StatusCode.UNSET


def test_tool_error_that_stops_the_run(instrumented, provider_server):
    _tool_then_answer(provider_server, city="Atlantis")
    agent = _weather_agent(provider_server, failure_error_function=None)

    with pytest.raises(agents.exceptions.UserError):
        _run(agent)

    tool = instrumented.one("execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[ga.ERROR_TYPE] == "ValueError"  # the tool's own exception, not the SDK's wrapper
    assert tool.attributes[am.ERROR_CATEGORY] == "tool_error"
    assert [event.name for event in tool.events] == [ga.EXCEPTION_EVENT]
    agent = instrumented.one("invoke_agent weather")
    assert agent.status.status_code is StatusCode.ERROR
    assert len(instrumented.named("invoke_agent weather")) == 1  # ended once


def test_model_error_without_instrumentor_is_on_the_integrations_model_span(bare, provider_server):
    pipe = bare
    provider_server.enqueue(Fault("auth"))

    with pytest.raises(Exception) as raised:
        _run(_weather_agent(provider_server))

    model = pipe.one(f"chat {MODEL}")
    assert type(raised.value).__name__ == "AuthenticationError"
    assert model.instrumentation_scope.name == INTEGRATION_SCOPE
    assert model.status.status_code is StatusCode.ERROR
    assert model.attributes[am.ERROR_CATEGORY] == "auth_error"
    assert pipe.one("invoke_agent weather").status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(("model", "config", "reported"), [
    ("anthropic/claude-haiku-4-5", {"model_impl": "litellm"}, ga.Provider.ANTHROPIC),  # LiteLLM's own HTTP
    ("openai/gpt-4o-mini", {"model_impl": "litellm"}, None),  # LiteLLM calls the openai SDK: traced there
    ("claude-haiku-4-5", {"model_impl": "any-llm", "provider": "anthropic"}, None),  # the anthropic SDK
    ("mistral-small", {"model_impl": "any-llm", "provider": "mistral"}, ga.Provider.MISTRAL_AI),
])
def test_extension_models_are_reported_unless_an_instrumented_sdk_carries_them(instrumented, model, config,
                                                                               reported):
    with agents.trace("extension"):
        with agents.generation_span(model=model, model_config=config) as generation:
            generation.span_data.usage = {"input_tokens": 10, "output_tokens": 2}

    spans = instrumented.named(f"chat {model}")
    if reported is None:
        assert spans == []
    else:
        assert len(spans) == 1
        assert spans[0].attributes[ga.PROVIDER_NAME] == reported
        assert spans[0].attributes[ga.USAGE_INPUT_TOKENS] == 10
        assert _parent_name(instrumented, spans[0]) == "invoke_workflow extension"


# --- usage, metrics, setup ---------------------------------------------------------------


def test_integration_model_spans_carry_usage(bare, provider_server):
    pipe = bare
    provider_server.enqueue(Reply(text="Hi.", input_tokens=120, output_tokens=8, cached_tokens=100))

    _run(agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "responses")))

    model = pipe.one(f"chat {MODEL}")
    assert model.attributes[ga.USAGE_INPUT_TOKENS] == 120
    assert model.attributes[ga.USAGE_OUTPUT_TOKENS] == 8
    assert model.attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert model.attributes[ga.RESPONSE_MODEL] == MODEL
    assert model.attributes[am.COST_AMOUNT] > 0


def test_agent_and_tool_durations_are_recorded(pipeline, provider_server):
    pipe, _ = pipeline
    _tool_then_answer(provider_server)

    _run(_weather_agent(provider_server))

    agent_points = pipe.histogram(m.INVOKE_AGENT_DURATION)
    tool_points = pipe.histogram(m.EXECUTE_TOOL_DURATION)
    assert [dict(p.attributes) for p in agent_points] == [
        {ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: "weather"}]
    assert [dict(p.attributes) for p in tool_points] == [
        {ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL, ga.TOOL_NAME: "get_weather"}]
    assert agent_points[0].count == 1 and tool_points[0].count == 1


def test_instrumenting_is_idempotent_and_drops_only_the_openai_exporter(bare):
    provider = agents.tracing.get_trace_provider()
    other = agents.tracing.processors.BatchTraceProcessor(agents.tracing.processors.ConsoleSpanExporter())
    agents.add_trace_processor(other)
    agents.add_trace_processor(agents.tracing.processors.default_processor())
    try:
        first = integration.instrument_openai_agents(replace_default=True)
        second = integration.instrument_openai_agents(replace_default=True)
        registered = integration._registered(provider)
        assert first is second
        assert registered is not None and registered.count(first) == 1
        assert other in registered  # the application's own processors stay
        assert not any(integration._is_openai_exporter(p) for p in registered)  # nothing goes to OpenAI
    finally:
        agents.set_trace_processors([p for p in integration._registered(provider) or () if p is not other])


def test_entry_point_instrumentor(provider_server):
    pipe = _pipeline_without_instrumentors()
    instrumentor = integration.OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=pipe.tracer_provider, replace_default=True)
    try:
        _run(agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "chat")))
        assert pipe.named("invoke_agent planner")
    finally:
        instrumentor.uninstrument()
    pipe.spans.clear()
    _run(agents.Agent(name="planner", instructions="Plan.", model=_model(provider_server, "chat")))
    assert pipe.finished() == []
    assert integration._processor is None
