"""Under load, through the real openai and anthropic SDKs and the real export pipeline: 64
threads of agent requests, then 1,000 asyncio streams open at once, in a process set up with
``otel_agentmon.configure`` and exporting over OTLP/gRPC to a real receiver
(tests/scenarios/load_workload.py). Every span arrives exactly once, in the right trace under
the right parent, with its own task's attribution; cost totals on spans and in the
``agentmon.cost`` metric agree with each other and with the scripted token counts; every task
got its own replies.

The test writes the plan (users, departments, applications, scripted replies and token counts
per call); the workload runs it and reports what the application saw, so every expectation
here comes from the plan, not from the telemetry under test.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from otel_agentmon._attribution import MAX_LABEL_VALUES, MAX_USER_LABEL_VALUES, OTHER_LABEL
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

pytestmark = pytest.mark.slow

WORKLOAD = Path(__file__).parent / "scenarios" / "load_workload.py"

THREADS = 64
REQUESTS_PER_THREAD = 4
STREAMS = 1000
DEPARTMENTS = tuple(f"dept-{n}" for n in range(8))
APPLICATIONS = ("helpdesk", "trip-planner", "reports")
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku"}  # both priced by genai-prices
SERVICE = "load-test"

# Spans per unit of work, by construction: a thread request is an agent, its tool, the chat call
# inside the tool, a streamed chat call and a messages call; a stream task is an agent, its tool
# and the stream.
THREAD_REQUEST_SPANS = 5
STREAM_TASK_SPANS = 3
EXPECTED_SPANS = THREADS * REQUESTS_PER_THREAD * THREAD_REQUEST_SPANS + STREAMS * STREAM_TASK_SPANS

# The SDK's own processor metric (OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED): spans that left the
# BatchSpanProcessor's queue, with error.type on those it dropped.
SDK_PROCESSED = "otel.sdk.processor.span.processed"

# Which parent each model call of a thread request has, and its provider.
THREAD_CALLS = {"chat": ("tool", "openai"), "stream": ("agent", "openai"), "messages": ("agent", "anthropic")}


@dataclass
class Call:
    kind: str
    provider: str
    parent: str  # "agent" or "tool": the span of the same task it must hang under
    reply: dict[str, Any]

    @property
    def model(self) -> str:
        return MODELS[self.provider]

    def cost(self) -> float:
        usage = Usage(input_tokens=self.reply["input_tokens"], output_tokens=self.reply["output_tokens"])
        return float(calc_price(usage, self.model, provider_id=self.provider).total_price)


@dataclass
class Task:
    """One agent run: whom it is for and the model calls it makes."""

    key: str
    user_id: str
    department: str
    application: str
    calls: list[Call] = field(default_factory=list)

    @property
    def attribution(self) -> dict[str, str]:
        return {ga.USER_ID: self.user_id, am.DEPARTMENT: self.department, am.APPLICATION: self.application}


def scripted_reply(key: str, kind: str, n: int) -> dict[str, Any]:
    """A reply only this call gets, with token counts that differ from call to call."""
    return {"text": f"{key} {kind} answer for you", "input_tokens": 40 + n * 37 % 400,
            "output_tokens": 5 + n * 11 % 90}


def build_plan() -> tuple[dict[str, Any], list[Task]]:
    """The workload's plan (JSON for the subprocess) and the tasks it makes, as the test expects them."""
    tasks: list[Task] = []
    threads = []
    n = 0
    for t in range(THREADS):
        who = {"user_id": f"thread-user-{t}", "department": DEPARTMENTS[t % len(DEPARTMENTS)],
               "application": APPLICATIONS[t % len(APPLICATIONS)]}
        requests = []
        for r in range(REQUESTS_PER_THREAD):
            task = Task(f"t{t}-r{r}", **who)
            for kind, (parent, provider) in THREAD_CALLS.items():
                task.calls.append(Call(kind, provider, parent, scripted_reply(task.key, kind, n)))
                n += 1
            tasks.append(task)
            requests.append({"key": task.key, "calls": {call.kind: call.reply for call in task.calls}})
        threads.append({**who, "requests": requests})
    streams = []
    for s in range(STREAMS):
        provider = "openai" if s % 2 == 0 else "anthropic"
        task = Task(f"s{s}", f"stream-user-{s}", DEPARTMENTS[s % len(DEPARTMENTS)],
                    APPLICATIONS[s % len(APPLICATIONS)])
        task.calls.append(Call("stream", provider, "agent", scripted_reply(task.key, "stream", n)))
        n += 1
        tasks.append(task)
        streams.append({"key": task.key, "user_id": task.user_id, "department": task.department,
                        "application": task.application, "provider": provider, "reply": task.calls[0].reply})
    return {"service_name": SERVICE, "models": MODELS, "threads": threads, "streams": streams}, tasks


@dataclass
class Load:
    tasks: list[Task]
    seen: dict[str, dict[str, Any]]  # task key -> what the application saw
    result: dict[str, Any]
    spans: list[dict[str, Any]]
    seconds: float


def _seen_by_task(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    seen = {}
    for requests in result["threads"]:
        for request in requests:
            seen[request["key"]] = request
    for stream in result["streams"]:
        key = stream["key"]
        seen[key] = {**stream, "calls": {"stream": {"response_id": stream["response_id"], "text": stream["text"]}}}
    return seen


@pytest.fixture(scope="module")
def load(provider_server, _otlp_receiver_session, tmp_path_factory) -> Load:
    receiver = _otlp_receiver_session
    receiver.clear()
    provider_server.clear()
    plan, tasks = build_plan()
    folder = tmp_path_factory.mktemp("load")
    (folder / "plan.json").write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update({
        "LOAD_PLAN": str(folder / "plan.json"),
        "LOAD_RESULT": str(folder / "result.json"),
        "OTLP_ENDPOINT": receiver.grpc_endpoint,
        "PROVIDER_OPENAI_URL": provider_server.openai_base_url,
        "PROVIDER_ANTHROPIC_URL": provider_server.anthropic_base_url,
        # user.id on agentmon.cost, so that per-user totals (and the cap's _OTHER) are checked too
        "AGENTMON_METRICS_USER_ID": "true",
        # the SDK counts the spans leaving its BatchSpanProcessor's queue, dropped ones by reason
        # (the queue keeps its default size, OTEL_BSP_MAX_QUEUE_SIZE 2048)
        "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "true",
    })
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(WORKLOAD)], env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads((folder / "result.json").read_text())
    # The workload flushed and shut its exporter down before exiting: everything sent has
    # arrived. (Only this workload's spans: the receiver is shared by the session.)
    spans = [span for span in receiver.spans if span["resource"].get(ga.SERVICE_NAME) == SERVICE]
    print(f"\nload: {len(spans)} spans, peak {result['peak_open_streams']} open streams, workload "
          f"{seconds:.1f} s (threads {result['seconds']['threads']:.1f} s, streams "
          f"{result['seconds']['streams']:.1f} s, flush {result['seconds']['flush']:.1f} s)")
    return Load(tasks, _seen_by_task(result), result, spans, seconds)


@dataclass
class TaskSpans:
    agent: dict[str, Any]
    tool: dict[str, Any]
    calls: dict[str, dict[str, Any]]  # call kind -> model span

    def all(self) -> list[dict[str, Any]]:
        return [self.agent, self.tool, *self.calls.values()]


def spans_by_task(load: Load) -> dict[str, TaskSpans]:
    """Each task's spans, found by what the application saw: the span ids of its agent and tool,
    and the response ids of its model calls. Fails on a span that belongs to no task."""
    by_span_id = {span["span_id"]: span for span in load.spans}
    by_response_id = {span["attributes"][ga.RESPONSE_ID]: span for span in load.spans
                      if ga.RESPONSE_ID in span["attributes"]}
    found: dict[str, TaskSpans] = {}
    claimed: set[str] = set()
    for task in load.tasks:
        seen = load.seen[task.key]
        agent = by_span_id.get(seen["agent"]["span_id"])
        tool = by_span_id.get(seen["tool"]["span_id"])
        calls = {call.kind: by_response_id.get(seen["calls"][call.kind]["response_id"]) for call in task.calls}
        assert agent is not None and tool is not None and None not in calls.values(), (task.key, agent, tool, calls)
        found[task.key] = TaskSpans(agent, tool, calls)  # type: ignore[arg-type]
        claimed.update(span["span_id"] for span in found[task.key].all())
    unclaimed = [span for span in load.spans if span["span_id"] not in claimed]
    assert not unclaimed, [(span["name"], span["attributes"]) for span in unclaimed[:5]]
    return found


def test_every_span_is_exported_exactly_once(load):
    span_ids = Counter(span["span_id"] for span in load.spans)
    twice = [span_id for span_id, count in span_ids.items() if count > 1]
    assert not twice, f"{len(twice)} span ids received more than once"
    metrics = load.result["metrics"]
    # Dropped spans, as the pipeline counts them: ours (agentmon.spans.dropped, by reason) and the
    # SDK's (processed with an error.type). They say why, should the count below come up short.
    dropped: Counter[str] = Counter()
    for point in metrics.get(m.SPANS_DROPPED, []):
        dropped[f"agentmon: {point['attributes'].get(ga.ERROR_TYPE)}"] += point["value"]
    for point in metrics.get(SDK_PROCESSED, []):
        if ga.ERROR_TYPE in point["attributes"]:
            dropped[f"sdk: {point['attributes'][ga.ERROR_TYPE]}"] += point["value"]
    assert not +dropped, f"spans dropped under load with the default queue: {dict(dropped)}"
    # the SDK's count is live: it saw every span leave the queue
    assert sum(point["value"] for point in metrics[SDK_PROCESSED]) == EXPECTED_SPANS
    assert load.result["flushed"]
    assert len(load.spans) == EXPECTED_SPANS
    by_task = spans_by_task(load)  # every span belongs to exactly one task
    assert sum(len(spans.all()) for spans in by_task.values()) == EXPECTED_SPANS


def test_every_span_hangs_under_its_own_task(load):
    by_task = spans_by_task(load)
    span_ids = {span["span_id"] for span in load.spans}
    orphans = [span["name"] for span in load.spans if span["parent_span_id"] and span["parent_span_id"] not in span_ids]
    assert not orphans
    traces = Counter(spans.agent["trace_id"] for spans in by_task.values())
    assert max(traces.values()) == 1, "two tasks share a trace"
    for task in load.tasks:
        spans = by_task[task.key]
        seen = load.seen[task.key]
        agent, tool = spans.agent, spans.tool
        assert agent["parent_span_id"] == "", task.key  # each agent run is a trace of its own
        assert agent["trace_id"] == seen["agent"]["trace_id"], task.key
        assert agent["attributes"][ga.OPERATION_NAME] == ga.Operation.INVOKE_AGENT
        assert tool["attributes"][ga.OPERATION_NAME] == ga.Operation.EXECUTE_TOOL
        assert tool["parent_span_id"] == agent["span_id"], task.key
        assert tool["trace_id"] == agent["trace_id"], task.key
        for call in task.calls:
            span = spans.calls[call.kind]
            parent = agent if call.parent == "agent" else tool
            assert span["parent_span_id"] == parent["span_id"], (task.key, call.kind)
            assert span["trace_id"] == agent["trace_id"], (task.key, call.kind)
            assert span["attributes"][ga.PROVIDER_NAME] == call.provider
            assert span["attributes"][ga.REQUEST_MODEL] == call.model


def test_attribution_never_crosses_tasks(load):
    by_task = spans_by_task(load)
    keys = (ga.USER_ID, am.DEPARTMENT, am.APPLICATION)
    crossed = []
    for task in load.tasks:
        for span in by_task[task.key].all():
            carried = {key: span["attributes"].get(key) for key in keys}
            if carried != task.attribution:
                crossed.append((task.key, span["name"], carried))
        # and the application itself saw its own attribution inside the agent
        assert load.seen[task.key]["attribution"] == {"user_id": task.user_id, "department": task.department,
                                                      "application": task.application}, task.key
    assert not crossed, f"{len(crossed)} spans carry another task's attribution: {crossed[:5]}"
    assert len({task.user_id for task in load.tasks}) == THREADS + STREAMS


def _metric_totals(points: list[dict[str, Any]], label: str) -> dict[str, float]:
    totals: dict[str, list[float]] = defaultdict(list)
    for point in points:
        totals[point["attributes"][label]].append(point["value"])
    return {value: math.fsum(amounts) for value, amounts in totals.items()}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def test_cost_totals_equal_the_sum_of_the_parts(load):
    by_task = spans_by_task(load)
    expected_by: dict[str, dict[str, list[float]]] = {label: defaultdict(list)
                                                      for label in (ga.USER_ID, am.DEPARTMENT, am.APPLICATION)}
    span_by: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label in expected_by}
    expected_all, span_all = [], []
    for task in load.tasks:
        spans = by_task[task.key]
        for span in (spans.agent, spans.tool):  # cost on inference spans only, never summed twice
            assert am.COST_AMOUNT not in span["attributes"], span["name"]
        for call in task.calls:
            attributes = spans.calls[call.kind]["attributes"]
            assert attributes[ga.USAGE_INPUT_TOKENS] == call.reply["input_tokens"], (task.key, call.kind)
            assert attributes[ga.USAGE_OUTPUT_TOKENS] == call.reply["output_tokens"], (task.key, call.kind)
            assert attributes[am.COST_STATUS] == am.CostStatus.PRICED
            expected, amount = call.cost(), attributes[am.COST_AMOUNT]
            assert _close(amount, expected), (task.key, call.kind, amount, expected)
            expected_all.append(expected)
            span_all.append(amount)
            for label, value in task.attribution.items():
                expected_by[label][value].append(expected)
                span_by[label][value].append(amount)

    points = load.result["metrics"][m.COST]
    metric_total = math.fsum(point["value"] for point in points)
    assert _close(math.fsum(span_all), math.fsum(expected_all))
    assert _close(metric_total, math.fsum(span_all)), (metric_total, math.fsum(span_all))

    for label in (am.DEPARTMENT, am.APPLICATION):  # few values: under the cap, each its own series
        metric = _metric_totals(points, label)
        assert len(metric) <= MAX_LABEL_VALUES and OTHER_LABEL not in metric
        assert metric.keys() == span_by[label].keys(), label
        for value, amounts in span_by[label].items():
            assert _close(metric[value], math.fsum(amounts)), (label, value)
            assert _close(metric[value], math.fsum(expected_by[label][value])), (label, value)

    # More users than the user.id cap: the first MAX_USER_LABEL_VALUES keep their own series,
    # the rest are summed under _OTHER; either way nothing is lost or counted twice.
    metric = _metric_totals(points, ga.USER_ID)
    named = metric.keys() - {OTHER_LABEL}
    assert len(named) == MAX_USER_LABEL_VALUES < THREADS + STREAMS
    for user in named:
        assert _close(metric[user], math.fsum(span_by[ga.USER_ID][user])), user
    overflow = math.fsum(amount for user, amounts in span_by[ga.USER_ID].items() if user not in named
                         for amount in amounts)
    assert _close(metric[OTHER_LABEL], overflow)


def test_each_task_got_its_own_replies(load):
    response_ids = []
    for task in load.tasks:
        seen = load.seen[task.key]["calls"]
        for call in task.calls:
            assert seen[call.kind]["text"] == call.reply["text"], (task.key, call.kind, seen[call.kind])
            response_ids.append(seen[call.kind]["response_id"])
    assert None not in response_ids
    assert len(set(response_ids)) == len(response_ids)


def test_all_streams_were_open_at_once(load):
    assert load.result["peak_open_streams"] == STREAMS
