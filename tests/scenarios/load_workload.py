"""The load test's workload (tests/test_load.py), in a process of its own.

Set up from code the way an application does (``otel_agentmon.configure`` with an OTLP/gRPC
span exporter and an in-memory metric reader, our openai and anthropic instrumentors), then
run the plan the test wrote (JSON at ``LOAD_PLAN``):

1. one thread per entry of ``threads``, all released together by a barrier, each under its own
   attribution, running ``planner`` agent requests: a ``lookup`` tool making an openai chat
   call, then a streamed openai chat call (with usage) and an anthropic messages call;
2. one asyncio task per entry of ``streams``, each under its own attribution and ``writer``
   agent, running a ``fetch_notes`` tool and one streamed call (AsyncOpenAI or
   AsyncAnthropic); every task waits after its first chunk until all the streams are open.

Every reply is scripted per call with the ``x-agentmon-reply`` header. What the application
saw (span ids of its agents and tools, response ids, reply texts, the attribution in effect,
the peak number of open streams) and the metrics it recorded are written as JSON to
``LOAD_RESULT``; the spans go to the OTLP receiver at ``OTLP_ENDPOINT``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import otel_agentmon
from otel_agentmon.instrumentation import flush_metrics
from otel_agentmon.instrumentation.anthropic import AnthropicInstrumentor
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor
from otel_agentmon.provider_server._script import REPLY_HEADER

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text(encoding="utf-8"))
GPT = PLAN["models"]["openai"]
CLAUDE = PLAN["models"]["anthropic"]
BARRIER_TIMEOUT = 60.0  # a stream that never opens fails the run instead of hanging it

reader = InMemoryMetricReader()
tracer_provider = otel_agentmon.configure(
    service_name=PLAN["service_name"],
    span_exporters=[OTLPSpanExporter(endpoint=os.environ["OTLP_ENDPOINT"], insecure=True)],
    metric_readers=[reader],
)
assert tracer_provider is not None
OpenAIInstrumentor().instrument()
AnthropicInstrumentor().instrument()

# Clients after instrumenting (the anthropic SDK's own spans stay off for them).
openai_client = openai.OpenAI(base_url=os.environ["PROVIDER_OPENAI_URL"], api_key="sk-test", max_retries=0,
                              timeout=30)
anthropic_client = anthropic.Anthropic(base_url=os.environ["PROVIDER_ANTHROPIC_URL"], api_key="sk-ant-test",
                                       max_retries=0, timeout=30)


def span_ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def attribution_now() -> dict[str, str | None]:
    current = otel_agentmon.current_attribution()
    return {"user_id": current.user_id, "department": current.department, "application": current.application}


def reply_header(reply: dict[str, Any]) -> dict[str, str]:
    return {REPLY_HEADER: json.dumps(reply)}


def question(key: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Request {key}: plan a day in Lisbon."}]


# -- threads -------------------------------------------------------------------------------

planner = otel_agentmon.agent("planner", description="Plans a day")
lookup = otel_agentmon.tool("lookup", description="Looks up what the planner needs")


@lookup
def look_up(key: str, reply: dict[str, Any]) -> dict[str, Any]:
    completion = openai_client.chat.completions.create(model=GPT, messages=question(key),
                                                       extra_headers=reply_header(reply))
    return {"span": span_ids(), "response_id": completion.id, "text": completion.choices[0].message.content}


@planner
def plan(request: dict[str, Any]) -> dict[str, Any]:
    key, calls = request["key"], request["calls"]
    seen: dict[str, Any] = {"key": key, "agent": span_ids(), "attribution": attribution_now()}
    tool = look_up(key, calls["chat"])
    seen["tool"] = tool.pop("span")
    seen["calls"] = {"chat": tool}

    stream = openai_client.chat.completions.create(model=GPT, messages=question(key), stream=True,
                                                   stream_options={"include_usage": True},
                                                   extra_headers=reply_header(calls["stream"]))
    parts, response_id = [], None
    for chunk in stream:
        response_id = chunk.id
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    seen["calls"]["stream"] = {"response_id": response_id, "text": "".join(parts)}

    message = anthropic_client.messages.create(model=CLAUDE, max_tokens=256, messages=question(key),
                                               extra_headers=reply_header(calls["messages"]))
    seen["calls"]["messages"] = {"response_id": message.id, "text": message.content[0].text}
    return seen


def run_thread(spec: dict[str, Any], barrier: threading.Barrier) -> list[dict[str, Any]]:
    barrier.wait(BARRIER_TIMEOUT)
    with otel_agentmon.attribution(user_id=spec["user_id"], department=spec["department"],
                                   application=spec["application"]):
        return [plan(request) for request in spec["requests"]]


def run_threads(threads: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    barrier = threading.Barrier(len(threads))
    with ThreadPoolExecutor(max_workers=len(threads)) as pool:
        futures = [pool.submit(run_thread, spec, barrier) for spec in threads]
        return [future.result() for future in futures]


# -- asyncio streams -----------------------------------------------------------------------

writer = otel_agentmon.agent("writer", description="Streams an answer")


@otel_agentmon.tool("fetch_notes", description="Fetches the notes for an answer")
async def fetch_notes(key: str) -> dict[str, str]:
    await asyncio.sleep(0)  # let other tasks run while this tool span is current
    return span_ids()


class OpenStreams:
    """How many streams are open (response started, not yet exhausted), and the most at once."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0

    def opened(self) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)

    def closed(self) -> None:
        self.open -= 1


async def read_openai(stream: Any, all_open: asyncio.Barrier) -> tuple[str | None, str]:
    parts, response_id, first = [], None, True
    async for chunk in stream:
        if first:
            first = False
            await asyncio.wait_for(all_open.wait(), BARRIER_TIMEOUT)
        response_id = chunk.id
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    return response_id, "".join(parts)


async def read_anthropic(stream: Any, all_open: asyncio.Barrier) -> tuple[str | None, str]:
    parts, response_id, first = [], None, True
    async for event in stream:
        if first:
            first = False
            await asyncio.wait_for(all_open.wait(), BARRIER_TIMEOUT)
        if event.type == "message_start":
            response_id = event.message.id
        elif event.type == "content_block_delta":
            parts.append(event.delta.text)
    return response_id, "".join(parts)


async def stream_task(task: dict[str, Any], aopenai: openai.AsyncOpenAI, aanthropic: anthropic.AsyncAnthropic,
                      all_open: asyncio.Barrier, streams: OpenStreams) -> dict[str, Any]:
    key = task["key"]
    with otel_agentmon.attribution(user_id=task["user_id"], department=task["department"],
                                   application=task["application"]):
        async with writer:
            seen: dict[str, Any] = {"key": key, "agent": span_ids(), "attribution": attribution_now()}
            seen["tool"] = await fetch_notes(key)
            headers = reply_header(task["reply"])
            if task["provider"] == "openai":
                stream = await aopenai.chat.completions.create(
                    model=GPT, messages=question(key), stream=True, stream_options={"include_usage": True},
                    extra_headers=headers)
                read = read_openai
            else:
                stream = await aanthropic.messages.create(model=CLAUDE, max_tokens=256, messages=question(key),
                                                          stream=True, extra_headers=headers)
                read = read_anthropic
            streams.opened()
            try:
                seen["response_id"], seen["text"] = await read(stream, all_open)
            finally:
                streams.closed()
            return seen


async def run_streams(tasks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    all_open = asyncio.Barrier(len(tasks))
    streams = OpenStreams()
    # Every stream is open at once: size the pools to the load rather than rely on the SDKs'
    # default of 1000 connections per client (a pool too small would queue the streams).
    pool = httpx2.Limits(max_connections=len(tasks), max_keepalive_connections=100)
    aopenai = openai.AsyncOpenAI(base_url=os.environ["PROVIDER_OPENAI_URL"], api_key="sk-test", max_retries=0,
                                 timeout=90, http_client=openai.DefaultAsyncHttpxClient(limits=pool))
    aanthropic = anthropic.AsyncAnthropic(base_url=os.environ["PROVIDER_ANTHROPIC_URL"], api_key="sk-ant-test",
                                          max_retries=0, timeout=90,
                                          http_client=anthropic.DefaultAsyncHttpxClient(limits=pool))
    try:
        seen = await asyncio.gather(*(stream_task(task, aopenai, aanthropic, all_open, streams) for task in tasks))
    finally:
        await aopenai.close()
        await aanthropic.close()
    return list(seen), streams.peak


def metric_points() -> dict[str, list[dict[str, Any]]]:
    """Every data point of the recorded metrics that has a value (sums and gauges, not
    histograms), as {name: [{"attributes", "value"}]}."""
    points: dict[str, list[dict[str, Any]]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is not None:
                        points.setdefault(metric.name, []).append(
                            {"attributes": dict(point.attributes), "value": value})
    return points


if __name__ == "__main__":
    started = time.perf_counter()
    thread_results = run_threads(PLAN["threads"])
    threads_done = time.perf_counter()
    stream_results, peak = asyncio.run(run_streams(PLAN["streams"]))
    streams_done = time.perf_counter()
    flush_metrics()
    flushed = tracer_provider.force_flush()
    exported = time.perf_counter()
    result = {
        "threads": thread_results,
        "streams": stream_results,
        "peak_open_streams": peak,
        "flushed": flushed,
        "metrics": metric_points(),
        "seconds": {"threads": threads_done - started, "streams": streams_done - threads_done,
                    "flush": exported - streams_done},
    }
    Path(os.environ["LOAD_RESULT"]).write_text(json.dumps(result), encoding="utf-8")
    tracer_provider.shutdown()
