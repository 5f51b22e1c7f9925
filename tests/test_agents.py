"""The agent, tool and workflow API: spans, nesting with real model calls, metrics, errors,
timeouts and bad input, for sync, async, generator and async-generator functions."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentmon
from _global_telemetry import install, uninstall
from otel_agentmon import AgentTimeoutError
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

GPT = "gpt-4o-mini"
USER = [{"role": "user", "content": "Plan a trip to Lisbon"}]


@pytest.fixture
def telemetry(monkeypatch):
    telemetry = install(monkeypatch)
    yield telemetry
    uninstall()


def by_name(telemetry) -> dict:
    spans = {}
    for span in telemetry.finished():
        spans.setdefault(span.name, []).append(span)
    return spans


def one(telemetry, name: str):
    spans = by_name(telemetry).get(name, [])
    assert len(spans) == 1, (name, [s.name for s in telemetry.finished()])
    return spans[0]


def parent_of(span) -> int | None:
    return span.parent.span_id if span.parent else None


def current_span_id() -> int:
    return trace.get_current_span().get_span_context().span_id


# --- span shape ---------------------------------------------------------------------------


def test_spans_follow_the_genai_conventions_from_their_start(telemetry):
    @otel_agentmon.agent("planner", description="Plans trips")
    def plan():
        with otel_agentmon.tool("get_weather", description="Weather for a city"):
            pass

    with otel_agentmon.workflow("trip"):
        plan()

    agent, tool, flow = one(telemetry, "invoke_agent planner"), one(telemetry, "execute_tool get_weather"), \
        one(telemetry, "invoke_workflow trip")
    assert {agent.kind, tool.kind, flow.kind} == {SpanKind.INTERNAL}
    starts = telemetry.starts.at_start
    assert starts[agent.context.span_id][ga.OPERATION_NAME] == ga.Operation.INVOKE_AGENT
    assert starts[agent.context.span_id][ga.AGENT_NAME] == "planner"
    assert starts[agent.context.span_id][ga.AGENT_DESCRIPTION] == "Plans trips"
    assert starts[tool.context.span_id][ga.OPERATION_NAME] == ga.Operation.EXECUTE_TOOL
    assert starts[tool.context.span_id][ga.TOOL_NAME] == "get_weather"
    assert starts[tool.context.span_id][ga.TOOL_DESCRIPTION] == "Weather for a city"
    assert starts[tool.context.span_id][ga.TOOL_TYPE] == "function"
    assert starts[flow.context.span_id][ga.OPERATION_NAME] == ga.Operation.INVOKE_WORKFLOW
    assert starts[flow.context.span_id][ga.WORKFLOW_NAME] == "trip"
    assert parent_of(tool) == agent.context.span_id and parent_of(agent) == flow.context.span_id
    for span in (agent, tool, flow):
        assert span.status.status_code is StatusCode.UNSET
        assert am.COST_AMOUNT not in span.attributes and am.COST_STATUS not in span.attributes  # never priced


def test_description_is_left_out_when_not_given(telemetry):
    otel_agentmon.agent("a")(lambda: None)()
    otel_agentmon.tool("t")(lambda: None)()
    assert ga.AGENT_DESCRIPTION not in one(telemetry, "invoke_agent a").attributes
    assert ga.TOOL_DESCRIPTION not in one(telemetry, "execute_tool t").attributes


# --- the four kinds of function, as decorators ---------------------------------------------


def test_sync_function(telemetry):
    seen = {}

    @otel_agentmon.agent("sync-agent")
    def run(x, *, y):
        """Docstring kept."""
        seen["current"] = current_span_id()
        return x + y

    assert run(1, y=2) == 3
    assert run.__name__ == "run" and run.__doc__ == "Docstring kept."
    assert not inspect.iscoroutinefunction(run)
    assert seen["current"] == one(telemetry, "invoke_agent sync-agent").context.span_id


def test_async_function(telemetry):
    seen = {}

    @otel_agentmon.agent("async-agent")
    async def run(x):
        await asyncio.sleep(0)
        seen["current"] = current_span_id()
        return x * 2

    assert inspect.iscoroutinefunction(run)
    assert asyncio.run(run(21)) == 42
    assert seen["current"] == one(telemetry, "invoke_agent async-agent").context.span_id


def test_generator_span_covers_the_whole_iteration_and_is_current_only_inside(telemetry):
    inside, outside = [], []

    @otel_agentmon.agent("gen-agent")
    def steps(n):
        for i in range(n):
            inside.append(current_span_id())
            yield i
        return "done"

    assert inspect.isgeneratorfunction(steps)
    with otel_agentmon.workflow("outer") as outer:
        gen = steps(3)
        assert telemetry.finished() == []  # nothing runs (no span) before the first next()
        for _ in gen:
            outside.append(current_span_id())
            assert [s.name for s in telemetry.finished()] == []  # not ended while iterating
    span = one(telemetry, "invoke_agent gen-agent")
    assert set(inside) == {span.context.span_id}
    assert set(outside) == {outer.get_span_context().span_id}  # the consumer keeps its own context
    assert parent_of(span) == outer.get_span_context().span_id


def test_generator_return_value_send_and_throw_are_passed_through(telemetry):
    @otel_agentmon.tool("echo")
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield "caught"
        return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.send("b") == 2
    assert gen.throw(KeyError("k")) == "caught"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == ["a", "b"]
    assert one(telemetry, "execute_tool echo").status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("how", ["break", "close", "garbage-collected"])
def test_generator_left_early_ends_the_span_once(telemetry, how):
    closed = []

    @otel_agentmon.agent("early")
    def numbers():
        try:
            yield from range(100)
        finally:
            closed.append(current_span_id())  # the function's own cleanup still runs in the span

    gen = numbers()
    if how == "break":
        for i in gen:
            if i == 2:
                break
        gen.close()
    elif how == "close":
        next(gen)
        gen.close()
    else:
        next(gen)
        del gen
        gc.collect()
    span = one(telemetry, "invoke_agent early")
    assert span.status.status_code is StatusCode.UNSET
    assert closed == [span.context.span_id]


def test_generator_failing_midway(telemetry):
    @otel_agentmon.tool("flaky")
    def flaky():
        yield 1
        raise LookupError("gone")

    gen = flaky()
    assert next(gen) == 1
    with pytest.raises(LookupError, match="gone"):
        next(gen)
    span = one(telemetry, "execute_tool flaky")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ga.ERROR_TYPE] == "LookupError"
    assert span.attributes[am.ERROR_CATEGORY] == "tool_error"


def test_async_generator(telemetry):
    inside = []

    @otel_agentmon.agent("agen-agent")
    async def chunks(n):
        for i in range(n):
            await asyncio.sleep(0)
            inside.append(current_span_id())
            yield i

    assert inspect.isasyncgenfunction(chunks)

    async def main():
        return [i async for i in chunks(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    span = one(telemetry, "invoke_agent agen-agent")
    assert set(inside) == {span.context.span_id}


def test_async_generator_asend_athrow_and_early_close(telemetry):
    finalized = []

    @otel_agentmon.tool("aecho")
    async def aecho():
        try:
            value = yield "ready"
            while True:
                try:
                    value = yield f"got {value}"
                except KeyError:
                    value = "recovered"
        finally:
            finalized.append(True)

    async def main():
        gen = aecho()
        assert await gen.asend(None) == "ready"
        assert await gen.asend("x") == "got x"
        assert await gen.athrow(KeyError("k")) == "got recovered"
        await gen.aclose()

    asyncio.run(main())
    assert finalized == [True]
    assert one(telemetry, "execute_tool aecho").status.status_code is StatusCode.UNSET


def test_async_generator_failing_midway(telemetry):
    @otel_agentmon.agent("afail")
    async def afail():
        yield 1
        raise ValueError("bad chunk")

    async def main():
        async for _ in afail():
            pass

    with pytest.raises(ValueError, match="bad chunk"):
        asyncio.run(main())
    span = one(telemetry, "invoke_agent afail")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ga.ERROR_TYPE] == "ValueError"


def test_methods_and_callable_objects(telemetry):
    class TripPlanner:
        @otel_agentmon.agent("method-agent")
        def answer(self, q):
            return f"{q}!"

    class AsyncTool:
        async def __call__(self, x):
            return x + 1

    assert TripPlanner().answer("hi") == "hi!"
    wrapped = otel_agentmon.tool("callable-object")(AsyncTool())
    assert inspect.iscoroutinefunction(wrapped)
    assert asyncio.run(wrapped(1)) == 2
    one(telemetry, "invoke_agent method-agent")
    one(telemetry, "execute_tool callable-object")


# --- context managers ---------------------------------------------------------------------


def test_with_and_async_with(telemetry):
    with otel_agentmon.agent("cm-agent") as span:
        assert trace.get_current_span() is span
        span.set_attribute(ga.CONVERSATION_ID, "conv-1")  # the span is the user's to add to

    async def main():
        async with otel_agentmon.agent("acm-agent") as aspan:
            assert trace.get_current_span() is aspan
            await asyncio.sleep(0)

    asyncio.run(main())
    assert one(telemetry, "invoke_agent cm-agent").attributes[ga.CONVERSATION_ID] == "conv-1"
    one(telemetry, "invoke_agent acm-agent")
    assert trace.get_current_span() is trace.INVALID_SPAN  # everything detached again


def test_one_object_used_by_many_threads_and_tasks_at_once(telemetry):
    planner, lookup = otel_agentmon.agent("shared"), otel_agentmon.tool("shared-tool")
    barrier = threading.Barrier(8)

    def in_thread(i):
        with planner as agent_span:
            barrier.wait()  # all eight inside the same object's block at once
            with lookup:
                pass
        return agent_span.get_span_context().span_id

    with ThreadPoolExecutor(8) as pool:
        agent_ids = set(pool.map(in_thread, range(8)))

    async def in_task():
        async with planner as agent_span:
            await asyncio.sleep(0.01)
            async with lookup:
                await asyncio.sleep(0)
        return agent_span.get_span_context().span_id

    async def main():
        return set(await asyncio.gather(*(in_task() for _ in range(20))))

    agent_ids |= asyncio.run(main())
    spans = by_name(telemetry)
    assert len(spans["invoke_agent shared"]) == 28 and len(agent_ids) == 28
    tools = spans["execute_tool shared-tool"]
    assert len(tools) == 28
    assert {parent_of(t) for t in tools} == agent_ids  # each tool under its own entry's agent


# --- nesting with real model calls ---------------------------------------------------------


def test_model_and_tool_spans_nest_under_the_agent(telemetry, client):
    @otel_agentmon.tool("get_weather")
    def get_weather(city):
        return json.dumps({"city": city, "forecast": "sunny"})

    @otel_agentmon.agent("trip-planner")
    def plan():
        first = client.chat.completions.create(model=GPT, messages=USER)
        weather = get_weather("Lisbon")
        second = client.chat.completions.create(model=GPT, messages=USER + [{"role": "user", "content": weather}])
        return first.choices[0].message.content, second.choices[0].message.content

    with otel_agentmon.workflow("trip"):
        plan()
    spans = by_name(telemetry)
    agent = one(telemetry, "invoke_agent trip-planner")
    chats = spans[f"chat {GPT}"]
    assert len(chats) == 2
    assert {parent_of(c) for c in chats} == {agent.context.span_id}
    assert parent_of(one(telemetry, "execute_tool get_weather")) == agent.context.span_id
    assert parent_of(agent) == one(telemetry, "invoke_workflow trip").context.span_id
    assert len({s.context.trace_id for s in telemetry.finished()}) == 1
    for chat in chats:
        assert chat.attributes[am.COST_STATUS] == "priced"  # cost stays on the model spans


def test_async_agent_streaming_model_call_in_an_async_generator(telemetry, aclient):
    @otel_agentmon.agent("streamer")
    async def stream_answer():
        stream = await aclient.chat.completions.create(model=GPT, messages=USER, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    async def main():
        return "".join([piece async for piece in stream_answer()])

    assert asyncio.run(main())
    agent = one(telemetry, "invoke_agent streamer")
    chat = one(telemetry, f"chat {GPT}")
    assert parent_of(chat) == agent.context.span_id
    assert chat.end_time <= agent.end_time


def test_a_failed_model_call_inside_a_tool(telemetry, client):
    @otel_agentmon.tool("summarize")
    def summarize():
        return client.chat.completions.create(model=GPT, messages=USER,
                                              extra_headers={"x-agentmon-fault": "rate_limit"})

    with pytest.raises(openai.RateLimitError) as raised:
        summarize()
    tool = one(telemetry, "execute_tool summarize")
    chat = one(telemetry, f"chat {GPT}")
    assert chat.attributes[am.ERROR_CATEGORY] == "rate_limit"  # the model call says what happened
    assert tool.attributes[am.ERROR_CATEGORY] == "tool_error"  # the tool failed because of it
    assert raised.value.status_code == 429


# --- metrics ------------------------------------------------------------------------------


def test_duration_metrics_with_the_conventions_buckets(telemetry):
    @otel_agentmon.tool("calc")
    def calc(fail=False):
        if fail:
            raise ArithmeticError("overflow")
        return 1

    @otel_agentmon.agent("math")
    def math_agent():
        calc()
        with pytest.raises(ArithmeticError):
            calc(fail=True)

    with otel_agentmon.workflow("homework"):
        math_agent()
    calc()  # a tool outside any agent

    (agent_point,) = telemetry.metric_points(m.INVOKE_AGENT_DURATION)
    assert tuple(agent_point.explicit_bounds) == m.INVOKE_AGENT_DURATION_BUCKETS
    assert dict(agent_point.attributes) == {ga.AGENT_NAME: "math"}
    assert agent_point.count == 1
    agent_span = one(telemetry, "invoke_agent math")
    span_seconds = (agent_span.end_time - agent_span.start_time) / 1e9
    assert abs(agent_point.sum - span_seconds) < 0.005  # the metric measures what the span does

    tools = {tuple(sorted(p.attributes.items())): p for p in telemetry.metric_points(m.EXECUTE_TOOL_DURATION)}
    base = {ga.TOOL_NAME: "calc", ga.TOOL_TYPE: "function"}
    ok_in_agent = tools[tuple(sorted({**base, ga.AGENT_NAME: "math"}.items()))]
    failed = tools[tuple(sorted({**base, ga.AGENT_NAME: "math", ga.ERROR_TYPE: "ArithmeticError"}.items()))]
    outside = tools[tuple(sorted(base.items()))]
    assert ok_in_agent.count == failed.count == outside.count == 1
    assert tuple(ok_in_agent.explicit_bounds) == m.DURATION_BUCKETS

    (flow_point,) = telemetry.metric_points(m.WORKFLOW_DURATION)
    assert tuple(flow_point.explicit_bounds) == m.WORKFLOW_DURATION_BUCKETS
    assert dict(flow_point.attributes) == {ga.WORKFLOW_NAME: "homework"}


# --- errors -------------------------------------------------------------------------------


class QuotaError(Exception):
    pass


@pytest.mark.parametrize("factory, name", [(otel_agentmon.tool, "execute_tool t"),
                                           (otel_agentmon.agent, "invoke_agent t"),
                                           (otel_agentmon.workflow, "invoke_workflow t")])
def test_a_raised_exception_is_recorded_and_reraised_unchanged(telemetry, factory, name):
    error = QuotaError("quota of 3 exceeded")

    @factory("t")
    def failing():
        raise error

    with pytest.raises(QuotaError) as raised:
        failing()
    assert raised.value is error
    assert raised.traceback[-1].name == "failing"  # the traceback still ends where it was raised
    span = one(telemetry, name)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "quota of 3 exceeded"
    assert span.attributes[ga.ERROR_TYPE] == "test_agents.QuotaError"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.message"] == "quota of 3 exceeded"
    expected = "tool_error" if factory is otel_agentmon.tool else "unknown_error"
    assert span.attributes[am.ERROR_CATEGORY] == expected


def test_a_raised_exception_in_a_with_block(telemetry):
    with pytest.raises(KeyError):
        with otel_agentmon.tool("lookup"):
            raise KeyError("missing")
    span = one(telemetry, "execute_tool lookup")
    assert span.attributes[am.ERROR_CATEGORY] == "tool_error"
    assert span.attributes[ga.ERROR_TYPE] == "KeyError"


def test_cancellation_is_not_a_failure(telemetry):
    @otel_agentmon.agent("cancelled")
    async def slow():
        await asyncio.sleep(10)

    async def main():
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = one(telemetry, "invoke_agent cancelled")
    assert span.status.status_code is StatusCode.UNSET and ga.ERROR_TYPE not in span.attributes


def test_broken_telemetry_never_breaks_the_function(monkeypatch, caplog):
    class BrokenProvider:
        def get_tracer(self, *args, **kwargs):
            raise RuntimeError("provider exploded")

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", BrokenProvider())

    @otel_agentmon.agent("resilient")
    def work(x):
        return x * 3

    @otel_agentmon.agent("resilient-gen")
    def gen():
        yield from (1, 2)

    assert work(2) == 6
    assert list(gen()) == [1, 2]
    with otel_agentmon.tool("resilient-tool") as span:
        assert not span.is_recording()
    assert "fault in the agent API" in caplog.text


def test_no_sdk_installed_still_runs():
    # nothing set the global providers in this test: the API's no-op spans, same results
    @otel_agentmon.agent("noop")
    async def work():
        return "ok"

    assert asyncio.run(work()) == "ok"


# --- timeouts -----------------------------------------------------------------------------


def _timeout_span(telemetry, name):
    span = one(telemetry, f"invoke_agent {name}")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ga.ERROR_TYPE] == "otel_agentmon.AgentTimeoutError"
    assert span.attributes[am.ERROR_CATEGORY] == "agent_timeout"
    return span


def test_async_agent_is_cancelled_at_its_deadline(telemetry):
    cancelled = []

    @otel_agentmon.agent("slow", timeout=0.05)
    async def slow():
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    started = time.perf_counter()
    with pytest.raises(AgentTimeoutError) as raised:
        asyncio.run(slow())
    assert time.perf_counter() - started < 1
    assert cancelled == [True]
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.agent_name == "slow" and raised.value.timeout == 0.05
    span = _timeout_span(telemetry, "slow")
    assert 0.04 < (span.end_time - span.start_time) / 1e9 < 1
    (point,) = telemetry.metric_points(m.INVOKE_AGENT_DURATION)
    assert point.attributes[ga.ERROR_TYPE] == "otel_agentmon.AgentTimeoutError"


def test_async_with_agent_is_cancelled_at_its_deadline(telemetry):
    async def main():
        async with otel_agentmon.agent("slow-block", timeout=0.05):
            await asyncio.sleep(5)

    started = time.perf_counter()
    with pytest.raises(AgentTimeoutError):
        asyncio.run(main())
    assert time.perf_counter() - started < 1
    _timeout_span(telemetry, "slow-block")


def test_async_generator_agent_deadline_covers_the_whole_iteration(telemetry):
    @otel_agentmon.agent("slow-stream", timeout=0.1)
    async def chunks():
        for i in range(100):
            await asyncio.sleep(0.03)
            yield i

    received = []

    async def main():
        async for chunk in chunks():
            received.append(chunk)

    with pytest.raises(AgentTimeoutError):
        asyncio.run(main())
    assert 1 <= len(received) < 5
    _timeout_span(telemetry, "slow-stream")


def test_sync_agent_returning_late_has_its_result_discarded(telemetry):
    # A sync function cannot be interrupted: it runs to the end, then the overrun is raised.
    finished = []

    @otel_agentmon.agent("sync-slow", timeout=0.02)
    def slow():
        time.sleep(0.06)
        finished.append(True)
        return "late answer"

    with pytest.raises(AgentTimeoutError):
        slow()
    assert finished == [True]
    _timeout_span(telemetry, "sync-slow")


def test_sync_with_block_and_generator_past_the_deadline(telemetry):
    with pytest.raises(AgentTimeoutError):
        with otel_agentmon.agent("sync-block", timeout=0.02):
            time.sleep(0.05)
    _timeout_span(telemetry, "sync-block")

    closed = []

    @otel_agentmon.agent("sync-gen", timeout=0.05)
    def gen():
        try:
            for i in range(100):
                time.sleep(0.02)
                yield i
        finally:
            closed.append(True)

    received = []
    with pytest.raises(AgentTimeoutError):
        for item in gen():
            received.append(item)
    assert 1 <= len(received) < 5 and closed == [True]
    _timeout_span(telemetry, "sync-gen")


def test_work_within_the_deadline_and_the_agents_own_timeouts(telemetry):
    @otel_agentmon.agent("quick", timeout=5)
    async def quick():
        return "fast"

    @otel_agentmon.agent("own-timeout", timeout=5)
    async def own():
        raise TimeoutError("the agent's own HTTP call timed out")

    assert asyncio.run(quick()) == "fast"
    with pytest.raises(TimeoutError) as raised:
        asyncio.run(own())
    assert type(raised.value) is TimeoutError  # not turned into AgentTimeoutError
    assert one(telemetry, "invoke_agent own-timeout").attributes[am.ERROR_CATEGORY] == "timeout"


def test_async_agent_under_another_event_loop_is_checked_as_it_ends(telemetry):
    # asyncio's cancellation needs an asyncio task; driven by anything else (trio, or by hand
    # as here) the agent still runs, and an overrun is reported as it returns
    @otel_agentmon.agent("elsewhere", timeout=0.02)
    async def elsewhere():
        time.sleep(0.05)
        return "late"

    @otel_agentmon.agent("elsewhere-quick", timeout=5)
    async def quick():
        return "in time"

    def drive(coroutine):
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("the coroutine did not finish")

    assert drive(quick()) == "in time"
    with pytest.raises(AgentTimeoutError):
        drive(elsewhere())
    _timeout_span(telemetry, "elsewhere")


def test_agent_timeout_error_pickles():
    error = pickle.loads(pickle.dumps(AgentTimeoutError("planner", 2.5)))
    assert (error.agent_name, error.timeout, str(error)) == ("planner", 2.5, "agent 'planner' exceeded its timeout of 2.5 s")


# --- bad input, at definition time -----------------------------------------------------------


@pytest.mark.parametrize("make, error, message", [
    (lambda: otel_agentmon.agent("x")(42), TypeError, r"agent\('x'\) decorates a function; got int"),
    (lambda: otel_agentmon.tool("x")("not a function"), TypeError, r"tool\('x'\) decorates a function"),
    (lambda: otel_agentmon.agent(None), TypeError, r"agent\(\): name must be a str, not NoneType"),
    (lambda: otel_agentmon.tool(b"bytes"), TypeError, r"tool\(\): name must be a str, not bytes"),
    (lambda: otel_agentmon.workflow(""), ValueError, r"workflow\(\): name must not be empty"),
    (lambda: otel_agentmon.agent("a" * 257), ValueError, r"agent\(\): name is 257 characters long"),
    (lambda: otel_agentmon.agent("plan\ner"), ValueError, r"non-printable character \(U\+000A at position 4\)"),
    (lambda: otel_agentmon.agent("x", timeout=-1), ValueError, r"agent\(\): timeout must be a positive number"),
    (lambda: otel_agentmon.agent("x", timeout=0), ValueError, r"agent\(\): timeout must be a positive number"),
    (lambda: otel_agentmon.agent("x", timeout=float("nan")), ValueError, r"agent\(\): timeout"),
    (lambda: otel_agentmon.agent("x", timeout="30"), TypeError, r"agent\(\): timeout must be a number of seconds"),
    (lambda: otel_agentmon.agent("x", timeout=True), TypeError, r"agent\(\): timeout must be a number of seconds"),
    (lambda: otel_agentmon.agent("x", description=3), TypeError, r"agent\(\): description must be a str"),
    (lambda: otel_agentmon.tool("x", description=""), ValueError, r"tool\(\): description must not be empty"),
])
def test_bad_input_is_reported_where_it_is_written(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_decorator_without_its_name_is_explained():
    with pytest.raises(TypeError, match=r'write @otel_agentmon.agent\("name"\), not @otel_agentmon.agent'):
        @otel_agentmon.agent
        def planner():
            pass


def test_timeout_accepts_a_timedelta():
    import datetime

    assert otel_agentmon.agent("x", timeout=datetime.timedelta(seconds=90))._spec.timeout == 90.0
