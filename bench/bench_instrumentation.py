"""Per-call overhead of GenAI instrumentation over an uninstrumented call, against the local
provider server (run in its own process), for otel-agentmon's instrumentor (spans enriched on
export), the official opentelemetry-instrumentation-genai-openai and OpenLLMetry's
opentelemetry-instrumentation-openai; and the SDK's floor: creating and ending one span with
the same attributes, around the same call. Non-streaming and streaming calls.

Run with ``make bench`` (it builds a side environment holding the peers). Overhead is the CPU
time of the calling thread per call, instrumented minus bare in the same process, each
instrumentation in fresh processes interleaved with the others (medians): the server's time
and the export worker's are not in it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import openai
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_agentmon.processors import EnrichingSpanExporter

os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")  # every peer without message content
os.environ.setdefault("TRACELOOP_TELEMETRY", "false")

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "gpt-4o-mini"


class NullExporter(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


def _ours() -> Any:
    from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _official() -> Any:
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _openllmetry() -> Any:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


START_ATTRIBUTES = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": MODEL, "server.address": "127.0.0.1", "server.port": 8000}
END_ATTRIBUTES = {"gen_ai.response.id": "chatcmpl-1", "gen_ai.response.model": MODEL,
                  "gen_ai.response.finish_reasons": ("stop",), "gen_ai.usage.input_tokens": 12,
                  "gen_ai.usage.output_tokens": 9, "openai.response.service_tier": "default",
                  "openai.response.system_fingerprint": "fp"}


class FloorInstrumentor:
    """The SDK's floor: a wrapper that only creates and ends one span with the attributes a
    chat span carries, around the same call. Measured like the instrumentations, in the same
    call path, because a span costs more there than in a tight loop (colder caches)."""

    def instrument(self) -> None:
        import wrapt

        tracer = trace.get_tracer("floor")

        def one_span(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            span = tracer.start_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=START_ATTRIBUTES)
            try:
                return wrapped(*args, **kwargs)
            finally:
                span.set_attributes(END_ATTRIBUTES)
                span.end()

        wrapt.wrap_function_wrapper("openai.resources.chat.completions", "Completions.create", one_span)

    def uninstrument(self) -> None:
        from opentelemetry.instrumentation.utils import unwrap

        unwrap(openai.resources.chat.completions.Completions, "create")


OURS = "otel-agentmon (with processors)"
FLOOR = "SDK floor: one span, same attributes"
INSTRUMENTORS: dict[str, Callable[[], Any]] = {
    FLOOR: FloorInstrumentor,
    OURS: _ours,
    "official genai-openai": _official,
    "OpenLLMetry openai": _openllmetry,
}


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "otel_agentmon.provider_server", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    return process, url


def measure(call: Callable[[], Any], calls: int) -> float:
    """CPU µs of this thread per call (garbage collection held off while measuring: its pauses
    land at random and dwarf what is measured)."""
    gc.collect()
    gc.disable()
    try:
        start = time.thread_time()
        for _ in range(calls):
            call()
        return (time.thread_time() - start) / calls * 1e6
    finally:
        gc.enable()




class Toggle:
    """Turns one instrumentation on and off within a process.

    otel-agentmon's and the official instrumentor uninstrument cleanly. OpenLLMetry's
    uninstrument() leaves its chat wrapper in place, still creating spans, so it is
    instrumented once and its "off" blocks run under suppress_instrumentation() (its wrapper's
    own suppression check then counts as bare, which flatters its figure slightly).
    """

    def __init__(self, config: str) -> None:
        self.instrumentor = INSTRUMENTORS[config]()
        self.suppress = config == "OpenLLMetry openai"
        self._suppressed: Any = None
        if self.suppress:
            self.instrumentor.instrument()

    def on(self) -> None:
        if self.suppress:
            self._suppressed.__exit__(None, None, None)
        else:
            self.instrumentor.instrument()

    def off(self) -> None:
        if self.suppress:
            from opentelemetry.instrumentation.utils import suppress_instrumentation

            self._suppressed = suppress_instrumentation()
            self._suppressed.__enter__()
        else:
            self.instrumentor.uninstrument()


def child(configs: list[str], url: str, calls: int, alternations: int) -> dict[str, dict[str, list[float]]]:
    """Overheads measured in one fresh process: blocks of calls alternate between bare and
    instrumented, for each instrumentation in turn, and each pair of blocks gives one sample
    (instrumented minus bare). Instrumentations that toggle cleanly share a process, so the
    floor and ours are compared pair by pair under the same conditions."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(EnrichingSpanExporter(NullExporter()),
                                                          max_queue_size=1 << 16))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-bench", max_retries=0)

    def plain_call():
        client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream_call():
        # the caller asks for usage, as cost-conscious callers do: every instrumentation then sees
        # the same chunks (ours would otherwise ask for it; that cost is measured on its own)
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    def stream_call_without_usage():
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            pass

    kinds = {"non-streaming": plain_call, "streaming": stream_call}
    if OURS in configs:
        kinds["streaming, usage not asked"] = stream_call_without_usage
    toggles = {config: Toggle(config) for config in configs}
    for toggle in toggles.values():
        toggle.off()
    for call in kinds.values():  # warm connections, caches and the adaptive interpreter
        measure(call, 3 * calls)
    for toggle in toggles.values():
        toggle.on()
        for call in kinds.values():
            measure(call, calls // 2)
        toggle.off()
    samples: dict[str, dict[str, list[float]]] = {config: {} for config in configs}
    for _ in range(alternations):
        for kind, call in kinds.items():
            for config, toggle in toggles.items():
                if kind == "streaming, usage not asked" and config != OURS:
                    continue
                bare = measure(call, calls)
                toggle.on()
                instrumented = measure(call, calls)
                toggle.off()
                samples[config].setdefault(f"bare {kind}", []).append(bare)
                samples[config].setdefault(kind, []).append(instrumented - bare)
    tracer_provider.force_flush()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description="GenAI instrumentation overhead per call")
    parser.add_argument("--calls", type=int, default=10, help="calls per block")
    parser.add_argument("--alternations", type=int, default=150, help="bare/instrumented block pairs per process")
    parser.add_argument("--rounds", type=int, default=2, help="fresh processes per group of instrumentations")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child.split("|"), args.url, args.calls, args.alternations)))
        return 0

    available = []
    for name, factory in INSTRUMENTORS.items():  # the floor, ours, then the peers installed here
        try:
            factory()
            available.append(name)
        except ImportError:
            print(f"  ({name} is not installed here; run `make bench` for the full comparison)")

    # the ones that uninstrument cleanly share a process; OpenLLMetry (see Toggle) gets its own
    groups = [[name for name in available if name != "OpenLLMetry openai"]]
    if "OpenLLMetry openai" in available:
        groups.append(["OpenLLMetry openai"])
    server, url = start_server()
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in available}
    try:
        for _ in range(args.rounds):
            for group in groups:
                result = subprocess.run([sys.executable, __file__, "--child", "|".join(group), "--url", url,
                                         "--calls", str(args.calls), "--alternations", str(args.alternations)],
                                        capture_output=True, text=True, check=True)
                for name, figures in json.loads(result.stdout.strip().splitlines()[-1]).items():
                    for key, values in figures.items():
                        samples[name].setdefault(key, []).extend(values)
    finally:
        server.terminate()
        server.wait()

    print("GenAI instrumentation overhead per call: CPU of the calling thread, instrumented minus bare,")
    print(f"median of {args.rounds * args.alternations} alternating block pairs of {args.calls} calls "
          f"({args.rounds} fresh processes; the floor, ours and the official one alternate in the same process)")
    verdicts = []
    floor = None
    for kind in ("non-streaming", "streaming"):
        bare = statistics.median(v for name in available for v in samples[name].get(f"bare {kind}", ()))
        added = {name: statistics.median(samples[name][kind]) for name in available}
        floor = added[FLOOR]
        print(f"\n  {kind} (bare call {bare:.0f} us)")
        print(f"    {'instrumentation':36s} {'added us':>9s} {'x floor':>8s}")
        for name, value in added.items():
            print(f"    {name:36s} {value:9.1f} {value / floor:8.2f}")
        ours = added.get(OURS)
        if ours is not None:
            peers = [v for k, v in added.items() if k not in (OURS, FLOOR)]
            verdicts.append((kind, ours < 2 * floor, all(ours < p for p in peers) if peers else None))
    if OURS in samples and "streaming, usage not asked" in samples[OURS]:
        option = statistics.median(samples[OURS]["streaming, usage not asked"])
        print(f"\n  streaming, caller did not ask for usage: ours adds {option:.1f} us ({option / floor:.2f} x floor),")
        print("    including the usage chunk it asks for (stream_usage option; the SDK parses one more chunk)")
    print()
    for kind, under_floor, under_peers in verdicts:
        peers_text = "n/a (peers not installed)" if under_peers is None else ("yes" if under_peers else "NO")
        print(f"  {kind}: ours under 2x floor: {'yes' if under_floor else 'NO'}; under every peer: {peers_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
