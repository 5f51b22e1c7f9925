"""The LangChain/LangGraph integration, with the real langchain-core, langchain-openai and
langgraph packages running against the local provider server: agent, workflow and tool spans
from the callback system, model spans exactly once (from our openai instrumentor when it is
on, from the integration when it is not), tool failures categorized on export."""

from __future__ import annotations

import asyncio
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import openai
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_openai")
pytest.importorskip("langgraph")

from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.tools import ToolException, tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from langgraph.graph import START, MessagesState, StateGraph  # noqa: E402
from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from langgraph.prebuilt import ToolNode  # noqa: E402
from langgraph.prebuilt import create_react_agent as _create_react_agent  # noqa: E402


def create_react_agent(*args: Any, **kwargs: Any) -> Any:
    # moved to the langchain package's create_agent in LangGraph 1.0 (not installed here), still shipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _create_react_agent(*args, **kwargs)

import _instrumented  # noqa: E402
from otel_agentmon.integrations import langchain as integration  # noqa: E402
from otel_agentmon.integrations.langchain import AgentmonCallbackHandler  # noqa: E402
from otel_agentmon.processors import EnrichingSpanExporter  # noqa: E402
from otel_agentmon.provider_server import Fault, Reply  # noqa: E402
from otel_agentmon.semconv import agentmon as am  # noqa: E402
from otel_agentmon.semconv import gen_ai as ga  # noqa: E402
from otel_agentmon.semconv import metrics as m  # noqa: E402

INSTRUMENTOR_SCOPE = "otel_agentmon.instrumentation"
INTEGRATION_SCOPE = "otel_agentmon.integrations.langchain"
MODEL = "gpt-4o-mini"
QUESTION = {"messages": [("user", "Weather in Lisbon?")]}


@dataclass
class Pipeline:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    starts: _instrumented.StartRecorder

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.finished()]
        return found[0]

    def parent_name(self, span: ReadableSpan) -> str | None:
        by_id = {s.context.span_id: s for s in self.finished()}
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        return parent.name if parent is not None else None

    def histogram(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        return [point for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                for metric in sm.metrics if metric.name == name for point in metric.data.data_points]


def _bare_pipeline() -> Pipeline:
    spans, reader, starts = InMemorySpanExporter(), InMemoryMetricReader(), _instrumented.StartRecorder()
    provider = TracerProvider()
    provider.add_span_processor(starts)
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(spans)))
    return Pipeline(spans, reader, provider, MeterProvider(metric_readers=[reader]), starts)


@contextmanager
def _integration(with_instrumentor: bool, **options: Any) -> Iterator[Pipeline]:
    """The handler for every run, on an enriching in-memory pipeline, with our openai
    instrumentor on or off."""
    if with_instrumentor:
        telemetry = _instrumented.instrument()
        pipe = Pipeline(telemetry.spans, telemetry.metrics, telemetry.tracer_provider, telemetry.meter_provider,
                        telemetry.starts)
    else:
        pipe = _bare_pipeline()
    integration.instrument_langchain(tracer_provider=pipe.tracer_provider, meter_provider=pipe.meter_provider,
                                     **options)
    try:
        yield pipe
    finally:
        integration.uninstrument_langchain()
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
def _offline(provider_server, monkeypatch) -> Iterator[None]:
    for variable in ("LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING", "LANGSMITH_TRACING_V2"):
        monkeypatch.delenv(variable, raising=False)  # LangSmith's tracer would try the internet
    provider_server.clear()
    yield
    provider_server.clear()


def get_weather(city: str) -> str:
    """The weather in a city."""
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"sunny in {city}"


WEATHER_TOOL = tool(get_weather)


def _llm(server, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=server.openai_base_url, api_key="sk-test", max_retries=0, **options)


def _tool_then_answer(server, city: str = "Lisbon") -> None:
    server.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": city}, "id": "call_w1"}]),
                   Reply(text="It is sunny."))


def _within(inner: ReadableSpan, outer: ReadableSpan) -> bool:
    return outer.start_time <= inner.start_time and inner.end_time <= outer.end_time


# --- structure ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_react_agent_tool_and_one_model_span_per_call(pipeline, provider_server, mode):
    pipe, instrumented = pipeline
    _tool_then_answer(provider_server)
    # langchain-openai caches its default async HTTP client, which is tied to the event loop of
    # its first use: each asyncio.run() here needs a client of its own
    options = {"http_async_client": httpx.AsyncClient()} if mode == "async" else {}
    agent = create_react_agent(_llm(provider_server, **options), [WEATHER_TOOL], name="weather_agent")

    if mode == "sync":
        result = agent.invoke(QUESTION)
    else:
        result = asyncio.run(agent.ainvoke(QUESTION))

    assert result["messages"][-1].content == "It is sunny."
    root = pipe.one("invoke_agent weather_agent")
    tool_span = pipe.one("execute_tool get_weather")
    models = pipe.named(f"chat {MODEL}")
    assert len(models) == 2  # two model calls, one span each
    assert root.parent is None
    assert root.attributes[ga.OPERATION_NAME] == ga.Operation.INVOKE_AGENT
    assert root.attributes[ga.AGENT_NAME] == "weather_agent"
    assert tool_span.attributes[ga.OPERATION_NAME] == ga.Operation.EXECUTE_TOOL
    assert tool_span.attributes[ga.TOOL_NAME] == "get_weather"
    assert tool_span.attributes[ga.TOOL_CALL_ID] == "call_w1"
    assert tool_span.status.status_code is StatusCode.UNSET
    assert pipe.parent_name(tool_span) == root.name and _within(tool_span, root)
    for model in models:
        assert pipe.parent_name(model) == root.name and _within(model, root)
        assert model.instrumentation_scope.name == (INSTRUMENTOR_SCOPE if instrumented else INTEGRATION_SCOPE)
        assert model.attributes[ga.PROVIDER_NAME] == ga.Provider.OPENAI
        assert model.attributes[ga.REQUEST_MODEL] == MODEL
    # graph nodes, sequences and prompts are plumbing: no spans of their own
    assert len(pipe.finished()) == 4
    assert pipe.starts.at_start[root.context.span_id][ga.AGENT_NAME] == "weather_agent"
    assert pipe.starts.at_start[tool_span.context.span_id][ga.TOOL_CALL_ID] == "call_w1"
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN  # nothing left attached


def test_lcel_chain_is_a_workflow(pipeline, provider_server):
    pipe, _ = pipeline
    chain = ChatPromptTemplate.from_messages([("user", "{question}")]) | _llm(provider_server) | StrOutputParser()

    assert chain.invoke({"question": "Hello?"}).startswith("Answer to:")

    workflow = pipe.one("invoke_workflow RunnableSequence")
    assert workflow.attributes[ga.WORKFLOW_NAME] == "RunnableSequence"
    assert pipe.parent_name(pipe.one(f"chat {MODEL}")) == workflow.name
    assert len(pipe.finished()) == 2


def test_named_runs_become_nested_agents_and_workflows(provider_server):
    researcher = create_react_agent(_llm(provider_server), [WEATHER_TOOL], name="researcher")
    graph = StateGraph(MessagesState)
    graph.add_node("researcher", researcher)
    graph.add_edge(START, "researcher")
    app = graph.compile(name="supervisor")
    _tool_then_answer(provider_server)

    with _integration(True, agent_names={"researcher"}, workflow_names={"supervisor"}) as pipe:
        app.invoke(QUESTION)

    workflow = pipe.one("invoke_workflow supervisor")
    agent = pipe.one("invoke_agent researcher")
    assert pipe.parent_name(agent) == workflow.name
    assert pipe.parent_name(pipe.one("execute_tool get_weather")) == agent.name
    assert [pipe.parent_name(model) for model in pipe.named(f"chat {MODEL}")] == [agent.name, agent.name]


def test_a_tool_called_on_its_own(pipeline):
    pipe, _ = pipeline
    assert WEATHER_TOOL.invoke({"city": "Porto"}) == "sunny in Porto"
    tool_span = pipe.one("execute_tool get_weather")
    assert tool_span.parent is None
    assert ga.TOOL_CALL_ID not in tool_span.attributes  # not called by a model


# --- failures ----------------------------------------------------------------------------


def test_tool_error_handled_by_the_tool_node(instrumented, provider_server):
    _tool_then_answer(provider_server, city="Atlantis")
    agent = create_react_agent(_llm(provider_server), ToolNode([WEATHER_TOOL], handle_tool_errors=True),
                               name="weather_agent")

    assert agent.invoke(QUESTION)["messages"][-1].content == "It is sunny."

    tool_span = instrumented.one("execute_tool get_weather")
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[ga.ERROR_TYPE] == "ValueError"
    assert tool_span.attributes[am.ERROR_CATEGORY] == "tool_error"  # derived on export
    assert tool_span.attributes[am.ERROR_SEVERITY] == "medium"
    assert [event.name for event in tool_span.events] == [ga.EXCEPTION_EVENT]
    assert instrumented.one("invoke_agent weather_agent").status.status_code is StatusCode.UNSET


def test_tool_error_that_stops_the_graph(instrumented, provider_server):
    _tool_then_answer(provider_server, city="Atlantis")
    agent = create_react_agent(_llm(provider_server), [WEATHER_TOOL], name="weather_agent")

    with pytest.raises(ValueError, match="no such city"):
        agent.invoke(QUESTION)

    tool_span = instrumented.one("execute_tool get_weather")
    root = instrumented.one("invoke_agent weather_agent")  # ended once
    assert tool_span.attributes[am.ERROR_CATEGORY] == "tool_error"
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes[ga.ERROR_TYPE] == "ValueError"
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN


def test_tool_exception_turned_into_a_message(bare):
    def lookup(city: str) -> str:
        """Look a city up."""
        raise ToolException("unknown city")

    handled = tool(lookup)
    handled.handle_tool_error = True

    # called as a model's tool call: LangChain answers with an error ToolMessage
    message = handled.invoke({"type": "tool_call", "name": "lookup", "args": {"city": "Atlantis"}, "id": "call_x"})

    assert (message.content, message.status) == ("unknown city", "error")
    tool_span = bare.one("execute_tool lookup")
    assert tool_span.attributes[ga.TOOL_CALL_ID] == "call_x"
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[ga.ERROR_TYPE] == "_OTHER"  # LangChain hands over only the message
    assert tool_span.attributes[am.ERROR_CATEGORY] == "tool_error"


# --- model spans without the instrumentor ------------------------------------------------


def test_integration_model_spans_carry_usage(bare, provider_server):
    provider_server.enqueue(Reply(text="Hi.", input_tokens=120, output_tokens=8, cached_tokens=100))

    _llm(provider_server).invoke("Hello?")

    model = bare.one(f"chat {MODEL}")
    assert model.instrumentation_scope.name == INTEGRATION_SCOPE
    assert model.attributes[ga.USAGE_INPUT_TOKENS] == 120
    assert model.attributes[ga.USAGE_OUTPUT_TOKENS] == 8
    assert model.attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert model.attributes[ga.RESPONSE_MODEL] == MODEL
    assert model.attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
    assert model.attributes[am.COST_STATUS] == am.CostStatus.PRICED
    assert bare.starts.at_start[model.context.span_id][ga.REQUEST_MODEL] == MODEL


def test_integration_model_span_of_a_stream(bare, provider_server):
    llm = ChatOpenAI(model=MODEL, base_url=provider_server.openai_base_url, api_key="sk-test", stream_usage=True)
    chunks = list(llm.stream("Hello there?"))

    assert "".join(chunk.content for chunk in chunks) == "Answer to: Hello there?"
    model = bare.one(f"chat {MODEL}")
    assert model.attributes[ga.RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert model.attributes[ga.USAGE_OUTPUT_TOKENS] > 0


def test_model_error_without_instrumentor(bare, provider_server):
    provider_server.enqueue(Fault("rate_limit"))
    with pytest.raises(Exception) as raised:
        _llm(provider_server).invoke("Hello?")

    model = bare.one(f"chat {MODEL}")
    assert isinstance(raised.value, openai.RateLimitError)
    assert model.status.status_code is StatusCode.ERROR
    assert model.attributes[am.ERROR_CATEGORY] == "rate_limit"


def test_instrumentor_model_spans_carry_usage(instrumented, provider_server):
    provider_server.enqueue(Reply(text="Hi.", input_tokens=12, output_tokens=3))
    _llm(provider_server).invoke("Hello?")
    assert instrumented.one(f"chat {MODEL}").attributes[ga.USAGE_INPUT_TOKENS] == 12


# --- metrics and setup -------------------------------------------------------------------


def test_agent_and_tool_durations_are_recorded(pipeline, provider_server):
    pipe, _ = pipeline
    _tool_then_answer(provider_server)

    create_react_agent(_llm(provider_server), [WEATHER_TOOL], name="weather_agent").invoke(QUESTION)

    assert [dict(p.attributes) for p in pipe.histogram(m.INVOKE_AGENT_DURATION)] == [
        {ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: "weather_agent"}]
    assert [dict(p.attributes) for p in pipe.histogram(m.EXECUTE_TOOL_DURATION)] == [
        {ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL, ga.TOOL_NAME: "get_weather"}]


def test_a_handler_of_the_run_replaces_the_global_one(instrumented, provider_server):
    own = _bare_pipeline()
    _tool_then_answer(provider_server)
    agent = create_react_agent(_llm(provider_server), [WEATHER_TOOL], name="weather_agent")

    agent.invoke(QUESTION, config={"callbacks": [AgentmonCallbackHandler(tracer_provider=own.tracer_provider)]})

    assert own.one("invoke_agent weather_agent")
    assert own.one("execute_tool get_weather")
    assert instrumented.named("invoke_agent weather_agent") == []  # not twice


def test_handler_by_hand_and_uninstrumented(provider_server):
    pipe = _bare_pipeline()
    handler = AgentmonCallbackHandler(tracer_provider=pipe.tracer_provider)
    integration.uninstrument_langchain()

    _llm(provider_server).invoke("Hello?", config={"callbacks": [handler]})
    _llm(provider_server).invoke("Hello again?")

    assert len(pipe.named(f"chat {MODEL}")) == 1


def test_entry_point_instrumentor(provider_server):
    pipe = _bare_pipeline()
    instrumentor = integration.LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=pipe.tracer_provider)
    try:
        _llm(provider_server).invoke("Hello?")
        assert pipe.named(f"chat {MODEL}")
    finally:
        instrumentor.uninstrument()
    pipe.spans.clear()
    _llm(provider_server).invoke("Hello?")
    assert pipe.finished() == []
