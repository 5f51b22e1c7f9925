"""Overhead of the agent API: an ``agent`` calling a ``tool`` (two spans, two duration
metrics) against the same two functions undecorated, in the same run; and, for scale, the
SDK's floor: the same two spans, same attributes, written by hand with
``start_as_current_span``.

Run: ``python bench/bench_agent_api.py`` (``make bench`` runs it too). Figures are the CPU time
of the calling thread per agent call (``time.thread_time``), median over alternating blocks,
with the production pipeline: AttributionSpanProcessor, then a BatchSpanProcessor exporting
through the EnrichingSpanExporter (to a null exporter), under an active ``attribution``.
Metrics are recorded on the recorder thread, so their cost is not in the figures; the export
worker's is not either.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any, Callable, Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_agentmon
from otel_agentmon.instrumentation import flush_metrics
from otel_agentmon.processors import EnrichingSpanExporter
from otel_agentmon.semconv import gen_ai as ga


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


RESOURCE = Resource.create({"service.name": "bench-agent"})


def pipeline(attribution: bool) -> TracerProvider:
    provider = TracerProvider(resource=RESOURCE)
    if attribution:
        provider.add_span_processor(otel_agentmon.AttributionSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(EnrichingSpanExporter(NullExporter()), max_queue_size=1 << 16))
    return provider


def setup() -> tuple[trace.Tracer, trace.Tracer]:
    """The global providers (what the agent API uses), a tracer on them for the hand-written
    floor, and one on the same pipeline without attribution (to show its share)."""
    trace.set_tracer_provider(pipeline(attribution=True))
    metrics.set_meter_provider(MeterProvider(resource=RESOURCE, metric_readers=[InMemoryMetricReader()]))
    return trace.get_tracer("hand-written"), pipeline(attribution=False).get_tracer("hand-written")


# --- the functions: the same work, bare, with the agent API, and by hand -----------------

def lookup(x: int) -> int:
    return x + 1


def planner(x: int) -> int:
    return lookup(x) * 2


traced_lookup = otel_agentmon.tool("lookup", description="Looks a thing up")(lookup)


@otel_agentmon.agent("planner", description="Plans")
def traced_planner(x: int) -> int:
    return traced_lookup(x) * 2


AGENT_ATTRIBUTES = {ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: "planner",
                    ga.AGENT_DESCRIPTION: "Plans"}
TOOL_ATTRIBUTES = {ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL, ga.TOOL_NAME: "lookup",
                   ga.TOOL_TYPE: "function", ga.TOOL_DESCRIPTION: "Looks a thing up"}


def floor_planner(tracer: trace.Tracer) -> Callable[[int], int]:
    def run(x: int) -> int:
        with tracer.start_as_current_span("invoke_agent planner", attributes=AGENT_ATTRIBUTES):
            with tracer.start_as_current_span("execute_tool lookup", attributes=TOOL_ATTRIBUTES):
                y = lookup(x)
            return y * 2
    return run


async def alookup(x: int) -> int:
    return x + 1


async def aplanner(x: int) -> int:
    return await alookup(x) * 2


traced_alookup = otel_agentmon.tool("lookup", description="Looks a thing up")(alookup)


@otel_agentmon.agent("planner", description="Plans")
async def traced_aplanner(x: int) -> int:
    return await traced_alookup(x) * 2


# --- measuring ----------------------------------------------------------------------------

def block(call: Callable[[int], Any], calls: int) -> float:
    """CPU µs of this thread per call, over one block of calls."""
    start = time.thread_time()
    for i in range(calls):
        call(i)
    return (time.thread_time() - start) / calls * 1e6


def async_block(call: Callable[[int], Any], calls: int) -> float:
    async def run() -> float:
        start = time.thread_time()
        for i in range(calls):
            await call(i)
        return (time.thread_time() - start) / calls * 1e6
    return asyncio.run(run())


def measure(variants: dict[str, Callable[[int], Any]], calls: int, rounds: int,
            runner: Callable[[Callable[[int], Any], int], float]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up
        runner(fn, calls)
    for _ in range(rounds):  # alternate, so that noise hits every variant alike
        for name, fn in variants.items():
            samples[name].append(runner(fn, calls))
        flush_metrics()  # keep the recorder's buffer small, as its thread would
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per block")
    parser.add_argument("--rounds", type=int, default=40, help="alternating blocks per variant")
    args = parser.parse_args()

    tracer, unattributed = setup()
    with otel_agentmon.attribution(user_id="u-42", department="support", application="bench"):
        sync = measure({"bare": planner, "agent API": traced_planner, "floor": floor_planner(tracer),
                        "floor without attribution": floor_planner(unattributed)},
                       args.calls, args.rounds, block)
        asynchronous = measure({"bare": aplanner, "agent API": traced_aplanner}, args.calls, args.rounds,
                               async_block)

    print("otel-agentmon agent API benchmark: one agent calling one tool (two spans, two metrics)")
    print(f"  CPU of the calling thread per agent call, median of {args.rounds} alternating blocks of "
          f"{args.calls} calls")
    bare, ours, floor = sync["bare"], sync["agent API"], sync["floor"]
    added, floor_added = ours - bare, floor - bare
    print(f"    bare functions (sync)                 {bare:8.2f} us")
    print(f"    agent + tool decorators               {ours:8.2f} us   ratio to bare {ours / bare:8.1f}x")
    print(f"      added by the pair                   {added:8.2f} us")
    print(f"    SDK floor: the same two spans by hand {floor:8.2f} us   (added {floor_added:.2f} us)")
    print(f"      agent API / floor (added)           {added / floor_added:8.2f}x")
    attribution_share = (floor - sync["floor without attribution"]) / 2
    print(f"      of which AttributionSpanProcessor   {attribution_share:8.2f} us a span (3 attributes set at start)")
    abare, aours = asynchronous["bare"], asynchronous["agent API"]
    print(f"    bare functions (async)                {abare:8.2f} us")
    print(f"    agent + tool decorators (async)       {aours:8.2f} us   ratio to bare {aours / abare:8.1f}x"
          f"   (added {aours - abare:.2f} us)")
    print(f"  per 1 ms of agent work, the pair adds {added / 10:.2f}% (sync)")


if __name__ == "__main__":
    main()
