"""Soak: 1,000,000 instrumented model calls in one process; resident memory must stay flat.

Run: ``python bench/bench_soak.py`` (``--calls 20000`` for a quick check, ``--markdown`` for the
curve as a Markdown table). Prints resident memory (VmRSS) as the calls go, then the growth
after warm-up, and exits 1 when it exceeds the threshold (below) or when the receiver did not
get every span the workload made.

What runs where:

- this process: the workload, through the real openai and anthropic SDKs, instrumented by
  otel-agentmon and set up with ``otel_agentmon.configure(span_exporters=[OTLPSpanExporter],
  metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter)])``, so spans are enriched
  and exported over OTLP/gRPC, and metrics collected and exported every ``--metric-interval``
  seconds (60, the SDK's default), as in production. Six threads, one openai and one anthropic
  client each, reused.
- a child process: the local provider server (``python -m otel_agentmon.provider_server``).
- another child process: ``bench/_otlp_sink.py``, an OTLP/gRPC receiver that counts spans.

The measured RSS is therefore the instrumented application's alone.

The workload, per call (drawn from a seeded generator per thread): openai chat, non-streamed or
streamed with usage (asked by the caller, or added by the instrumentation); anthropic messages,
non-streamed or streamed (``stream=True`` and the ``messages.stream()`` helper); some streams left
early; some calls inside an ``agent(...)`` span with a ``tool(...)`` before the model call and a
unique ``gen_ai.conversation.id`` (the model SDK calls take none, so it goes on the agent span);
about 4% provider faults (``x-agentmon-fault``: rate limits, server errors, bad requests, reset
connections) caught as an application would; a rotating ``attribution(...)`` over 5,000 users
in 150 departments and 4 applications, and 2% of openai calls to a department's own fine-tuned
model (150 names), above the metric label caps (1,000 users on ``agentmon.cost`` with
``AGENTMON_METRICS_USER_ID=true``, which this bench turns on; 100 departments; 100 models) on
purpose, and with far more label combinations than the cardinality limit of each metric
(``AGENTMON_METRICS_CARDINALITY_LIMIT``, 2,000 attribute sets), which is what bounds them.

Threshold: growth after warm-up (RSS at the end minus RSS at the end of warm-up) of at most
10 MB or 5% of the warm-up RSS, whichever is larger. Over the 900,000 calls after warm-up of the
full run, 10 MB is about 11 bytes per call: a per-call leak of even one small object (a dict
entry, a span reference, a label set) is several times that, while RSS moves by a few MB from
row to row as the allocator and the export queues fill and drain. Memory that is bounded but
still filling after warm-up counts as growth too: the summary says what it was (metric series by
metric, objects tracked by the GC by type, ``--tracemalloc`` for allocation sites). Runs much
shorter than the default end inside the warm-up itself (the feedback index keeps the last 10,000
calls; metric series keep appearing for the first 100,000 calls or more), so their memory
verdict means little: they check the pipeline and the span count.

Rate: the process under test is CPU-bound on one core (the GIL) and most of that is the SDKs'
own client work (about 3 ms of CPU per call here, streams more; ``--bare`` measures it), so a
1,000,000-call run takes about an hour on a 2-core machine; the provider server and the sink
use a small share of the other core (the summary prints CPU per call for each process and for
each kind of thread).
"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

# user.id becomes a label of agentmon.cost, so that 5,000 users exceed its cap of 1,000 (read at
# the first call, so set before anything of otel_agentmon runs).
os.environ["AGENTMON_METRICS_USER_ID"] = "true"

import anthropic  # noqa: E402
import openai  # noqa: E402
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import metrics  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider  # noqa: E402

import otel_agentmon  # noqa: E402
from otel_agentmon.instrumentation import flush_metrics  # noqa: E402
from otel_agentmon.instrumentation.anthropic import AnthropicInstrumentor  # noqa: E402
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from otel_agentmon.semconv import gen_ai as ga  # noqa: E402

SINK = Path(__file__).with_name("_otlp_sink.py")
THRESHOLD_MB = 10.0
THRESHOLD_FRACTION = 0.05

USERS = 5_000  # above the cap of 1,000 users on agentmon.cost
DEPARTMENTS = 150  # above the cap of 100 per label; also 150 fine-tuned models, one per department
APPLICATIONS = ("helpdesk", "trip-planner", "research-assistant", "reports")
AGENTS = ("planner", "researcher", "writer")
QUESTIONS = (  # short, as the provider server streams one chunk per word of its answer
    "Capital of France?", "Reset my password?", "Summarize this ticket.", "Weather in Lisbon?",
    "Best hotel nearby?", "Translate to German.",
)
CLIENT_TIMEOUT = 10.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds() -> dict[int, float]:
    """CPU time of each thread of this process so far, by native thread id."""
    result = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        result[int(task)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return result


def cpu_by_thread_kind(before: dict[int, float], after: dict[int, float], requests: float,
                       request_threads: set[int]) -> dict[str, float]:
    """CPU seconds between two readings, grouped by what the threads do; the request threads
    report theirs (``requests``: they may be gone from /proc by then)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    kinds: collections.Counter[str] = collections.Counter({"request threads": requests})
    for tid, seconds in after.items():
        if tid in request_threads:
            continue
        name = names.get(tid, "")
        if "BatchSpan" in name:
            kind = "span export"
        elif "PeriodicExportingMetricReader" in name:
            kind = "metric collection and export"
        elif name == "otel-agentmon-metrics":
            kind = "metrics recorder"
        else:
            kind = "other (gRPC, GC, main)"
        kinds[kind] += seconds - before.get(tid, 0.0)
    return dict(kinds.most_common())


def rss_mb() -> float:
    """Resident set size of this process now, in MB (VmRSS)."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# ----------------------------------------------------------------------------- child processes


def start_provider_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "otel_agentmon.provider_server", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


class Sink:
    """The counting OTLP receiver, in its own process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.process = subprocess.Popen([sys.executable, str(SINK)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.endpoint = self.process.stdout.readline().strip()
        if not self.endpoint:
            raise RuntimeError("the OTLP sink did not start")

    def counts(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:  # asked from the worker threads too
            self.process.stdin.write("count\n")
            self.process.stdin.flush()
            return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ----------------------------------------------------------------------------- counting


class SpanCounter(SpanProcessor):
    """Counts the spans the workload ended, to compare with what the receiver got."""

    def __init__(self) -> None:
        self._ended = itertools.count()  # next() on a count is atomic under the GIL
        self._value = 0

    def on_start(self, span: Span, parent_context: Optional[otel_context.Context] = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self._value = next(self._ended) + 1

    @property
    def ended(self) -> int:
        return self._value


class WarningCounter(logging.Handler):
    """Counts the warnings and errors of the OpenTelemetry SDK and of otel-agentmon (queue full,
    failed exports, instrumentation faults) and keeps the first of each kind, to print once."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name}: {str(record.msg)[:80]}"
        self.counts[key] += 1
        if key not in self.first:
            self.first[key] = record.getMessage()[:300]


# ----------------------------------------------------------------------------- workload


@dataclass
class Mark:
    calls: int
    elapsed: float
    rss: float


@dataclass
class Progress:
    total: int
    every: int
    warmup: int
    markdown: bool
    started: float = 0.0
    marks: list[Mark] = field(default_factory=list)
    _done: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    on_mark: list[Callable[[int], None]] = field(default_factory=list)
    series: Optional[Callable[[], dict[str, int]]] = None  # metric series last exported, by metric
    series_at_warmup: dict[str, int] = field(default_factory=dict)

    def header(self) -> None:
        if self.markdown:
            print("| calls | elapsed s | calls/s | RSS MB | metric series |")
            print("| ---: | ---: | ---: | ---: | ---: |")
        else:
            print(f"{'calls':>10s} {'elapsed s':>10s} {'calls/s':>8s} {'RSS MB':>8s} {'metric series':>14s}")
        sys.stdout.flush()

    def mark(self, calls: int) -> None:
        rss = rss_mb()
        elapsed = time.perf_counter() - self.started if calls else 0.0
        with self._lock:
            previous = self.marks[-1] if self.marks else None
            self.marks.append(Mark(calls, elapsed, rss))
        # calls/s over the interval since the previous row: the rate now, not an average
        rate = (calls - previous.calls) / (elapsed - previous.elapsed) if previous and elapsed > previous.elapsed else 0.0
        by_metric = self.series() if self.series is not None else {}
        series = sum(by_metric.values())
        if calls == self.warmup:
            self.series_at_warmup = by_metric
        note = "end of warm-up" if calls == self.warmup else ""
        if self.markdown:
            print(f"| {calls:,} | {elapsed:.0f} | {rate:,.0f} | {rss:.1f} | {series:,} |{note and ' ' + note}")
        else:
            print(f"{calls:10,d} {elapsed:10.1f} {rate:8,.0f} {rss:8.1f} {series:14,d}{note and '  ' + note}")
        sys.stdout.flush()
        for hook in self.on_mark:
            hook(calls)

    def call_done(self) -> None:
        done = next(self._done) + 1
        if done % self.every == 0 or done == self.warmup or done == self.total:
            self.mark(done)


class Workload:
    """One thread's share of the calls, with that thread's own clients, as a real app keeps them."""

    def __init__(self, openai_url: str, anthropic_url: str, seed: int) -> None:
        self.openai = openai.OpenAI(base_url=openai_url, api_key="sk-soak", max_retries=0, timeout=CLIENT_TIMEOUT)
        self.anthropic = anthropic.Anthropic(base_url=anthropic_url, api_key="sk-ant-soak", max_retries=0,
                                             timeout=CLIENT_TIMEOUT)
        self.rng = random.Random(seed)
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.cpu = 0.0  # CPU seconds of its thread over the run

    # -- what the provider does with this call
    def fault_headers(self, streamed: bool, provider: str) -> Optional[dict[str, str]]:
        draw = self.rng.random()
        if draw < 0.025:
            fault = "rate_limit"
        elif draw < 0.032:
            fault = "overloaded" if provider == "anthropic" else "server_error"
        elif draw < 0.036:
            fault = "bad_request"
        elif draw < 0.038:
            fault = "service_unavailable"
        elif draw < 0.039:
            fault = "connection_reset;after=2" if streamed else "connection_reset"
        elif draw < 0.040 and streamed:
            fault = "malformed_sse;after=2"
        else:
            return None
        return {"x-agentmon-fault": fault}

    # -- the four kinds of model call
    def openai_chat(self, model: str, question: str, streamed: bool) -> None:
        messages = [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": question}]
        headers = self.fault_headers(streamed, "openai")
        if not streamed:
            completion = self.openai.chat.completions.create(model=model, messages=messages, extra_headers=headers)
            _ = completion.choices[0].message.content
            return
        options: dict[str, Any] = {}
        if self.rng.random() < 0.5:  # the caller asks for usage; otherwise the instrumentation does
            options["stream_options"] = {"include_usage": True}
        with self.openai.chat.completions.create(model=model, messages=messages, stream=True,
                                                 extra_headers=headers, **options) as stream:
            leave_early = self.rng.random() < 0.03
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content and leave_early:
                    break

    def anthropic_messages(self, model: str, question: str, streamed: bool) -> None:
        messages = [{"role": "user", "content": question}]
        headers = self.fault_headers(streamed, "anthropic")
        system = "You are a helpful assistant."
        if not streamed:
            message = self.anthropic.messages.create(model=model, max_tokens=256, system=system, messages=messages,
                                                     extra_headers=headers)
            _ = [block.text for block in message.content if block.type == "text"]
            return
        leave_early = self.rng.random() < 0.03
        if self.rng.random() < 0.5:
            with self.anthropic.messages.stream(model=model, max_tokens=256, system=system, messages=messages,
                                                extra_headers=headers) as events:
                for _ in events.text_stream:
                    if leave_early:
                        break
        else:
            with self.anthropic.messages.create(model=model, max_tokens=256, system=system, messages=messages,
                                                stream=True, extra_headers=headers) as events:
                for _ in events:
                    if leave_early:
                        break

    def model_call(self, number: int, department: int) -> None:
        draw = self.rng.random()
        question = QUESTIONS[number % len(QUESTIONS)]
        if draw < 0.60:
            if self.rng.random() < 0.02:  # each department has its own fine-tuned model
                model = f"ft:gpt-4o-mini-2024-07-18:acme:dept-{department:03d}"
            else:
                model = "gpt-4o" if self.rng.random() < 0.25 else "gpt-4o-mini"
            self.openai_chat(model, question, streamed=draw >= 0.35)
        else:
            model = "claude-sonnet-4-6" if self.rng.random() < 0.3 else "claude-haiku-4-5"
            self.anthropic_messages(model, question, streamed=draw >= 0.85)

    def call(self, number: int) -> None:
        # users rotate; a user's department and application are the user's own, as in a real org
        user = number % USERS
        department = user % DEPARTMENTS
        who = otel_agentmon.attribution(user_id=f"user-{user:05d}", department=f"dept-{department:03d}",
                                        application=APPLICATIONS[user % len(APPLICATIONS)])
        try:
            with who:
                if self.rng.random() < 0.30:
                    with AGENT_OPERATIONS[number % len(AGENTS)] as span:
                        span.set_attribute(ga.CONVERSATION_ID, f"conv-{number:08d}-{self.rng.getrandbits(32):08x}")
                        try:
                            lookup(number, fail=self.rng.random() < 0.03)
                        except LookupError:
                            self.outcomes["tool LookupError"] += 1
                        self.model_call(number, department)
                else:
                    self.model_call(number, department)
            self.outcomes["ok"] += 1
        except Exception as error:  # noqa: BLE001 - an application catches provider faults and goes on
            self.outcomes[type(error).__name__] += 1


AGENT_OPERATIONS = tuple(otel_agentmon.agent(name, description=f"The {name} agent") for name in AGENTS)


@otel_agentmon.tool("lookup_document", description="Finds a document for the question")
def lookup(number: int, fail: bool) -> str:
    if fail:
        raise LookupError(f"no document for request {number}")
    return f"doc-{number % 1000}"


# ----------------------------------------------------------------------------- what grew


class ObjectCensus:
    """Objects the garbage collector tracks (containers and class instances), by type, at the
    end of warm-up and at the end: a leak of Python objects shows as a type whose count grows.
    Cheap enough to run always (two passes over the heap)."""

    def __init__(self, warmup: int, total: int) -> None:
        self.points = (warmup, total)
        self.counts: list[collections.Counter[str]] = []

    def on_mark(self, calls: int) -> None:
        if calls in self.points:
            self.counts.append(collections.Counter(
                f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()))

    def growth(self, top: int = 8) -> list[tuple[str, int, int]]:
        """(type, count at the end, growth) of the types that grew most."""
        if len(self.counts) < 2:
            return []
        before, after = self.counts
        grown = sorted(((after[t] - before[t], t) for t in after), reverse=True)[:top]
        return [(name, after[name], delta) for delta, name in grown if delta > 0]




class HeapProbe:
    """With --tracemalloc: tracing starts at the end of warm-up; snapshots are taken half way
    through the rest and at the end, and their difference says what grew in between."""

    def __init__(self, warmup: int, total: int, frames: int) -> None:
        self.warmup = warmup
        self.middle = warmup + (total - warmup) // 2
        self.frames = frames
        self.snapshots: list[tracemalloc.Snapshot] = []

    def on_mark(self, calls: int) -> None:
        if calls == self.warmup:
            tracemalloc.start(self.frames)
        elif calls == self.middle:
            self.snapshots.append(tracemalloc.take_snapshot())

    def report(self, end_calls: int) -> None:
        if not self.snapshots:
            print("tracemalloc: no snapshot half way (the run was too short)")
            return
        end = tracemalloc.take_snapshot()
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        before = self.snapshots[0].filter_traces(ignore)
        after = end.filter_traces(ignore)
        print(f"\ntracemalloc: allocations alive at {end_calls:,} calls minus those alive at {self.middle:,} calls "
              f"(traced since {self.warmup:,}); top 15 by size")
        for stat in after.compare_to(before, "lineno")[:15]:
            print(f"  {stat.size_diff / 1024:+9.1f} KB {stat.count_diff:+8d} blocks  {stat.traceback[0]}")
        print("  largest growth, by traceback:")
        for stat in after.compare_to(before, "traceback")[:3]:
            print(f"  {stat.size_diff / 1024:+9.1f} KB {stat.count_diff:+8d} blocks")
            for line in stat.traceback.format()[-2 * self.frames:]:
                print(f"      {line}")
        tracemalloc.stop()


# ----------------------------------------------------------------------------- main


def slope_kb_per_100k(marks: list[Mark]) -> float:
    """Least-squares slope of RSS over calls, in KB per 100,000 calls."""
    n = len(marks)
    if n < 2:
        return 0.0
    mean_x = sum(m.calls for m in marks) / n
    mean_y = sum(m.rss for m in marks) / n
    sxx = sum((m.calls - mean_x) ** 2 for m in marks)
    sxy = sum((m.calls - mean_x) * (m.rss - mean_y) for m in marks)
    return sxy / sxx * 1024 * 100_000 if sxx else 0.0


def instrument(args: argparse.Namespace, sink: Sink) -> tuple[TracerProvider, SpanCounter]:
    """otel-agentmon as an application sets it up from code, exporting to the sink over OTLP/gRPC."""
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=sink.endpoint, insecure=True),
                                           export_interval_millis=args.metric_interval * 1000)
    provider = otel_agentmon.configure(service_name="agentmon-soak",
                                       span_exporters=[OTLPSpanExporter(endpoint=sink.endpoint, insecure=True)],
                                       metric_readers=[reader])
    if provider is None:
        raise SystemExit("configure() set up no TracerProvider (was one set already?)")
    counter = SpanCounter()
    provider.add_span_processor(counter)
    OpenAIInstrumentor().instrument()
    AnthropicInstrumentor().instrument()  # before the clients exist: see the README
    return provider, counter


def run(args: argparse.Namespace, server: subprocess.Popen, url: str, sink: Optional[Sink]) -> int:
    warnings = WarningCounter()
    for name in ("opentelemetry", "otel_agentmon", "grpc"):
        logging.getLogger(name).addHandler(warnings)
    provider, counter = instrument(args, sink) if sink is not None else (None, None)

    progress = Progress(total=args.calls, every=args.every, warmup=args.warmup, markdown=args.markdown,
                        series=(lambda: sink.counts()["series"]) if sink is not None else None)
    probe = HeapProbe(args.warmup, args.calls, args.tracemalloc) if args.tracemalloc else None
    census = ObjectCensus(args.warmup, args.calls)
    progress.on_mark.append(census.on_mark)
    if probe is not None:
        progress.on_mark.append(probe.on_mark)

    numbers = itertools.count()
    processes = {"this process": os.getpid(), "provider server": server.pid}
    if sink is not None:
        processes["OTLP sink"] = sink.process.pid
    workloads: list[Workload] = []
    ready = threading.Barrier(args.threads + 1)

    def worker(seed: int) -> None:
        workload = Workload(f"{url}/v1", url, seed)
        workloads.append(workload)
        ready.wait()
        started = time.thread_time()
        while True:
            number = next(numbers)
            if number >= args.calls:
                break
            workload.call(number)
            progress.call_done()
        workload.cpu = time.thread_time() - started

    threads = [threading.Thread(target=worker, args=(seed,), name=f"soak-{seed}") for seed in range(args.threads)]
    for thread in threads:
        thread.start()
    peak_after_warmup = 0.0
    stop_sampling = threading.Event()

    def sample() -> None:
        # between rows too: the highest RSS after warm-up, sampled every second
        nonlocal peak_after_warmup
        while not stop_sampling.wait(1.0):
            if progress.marks and progress.marks[-1].calls >= args.warmup:
                peak_after_warmup = max(peak_after_warmup, rss_mb())

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()

    print(f"soak: {args.calls:,} model calls, {args.threads} threads, warm-up {args.warmup:,} calls"
          f"{', BARE (no otel-agentmon set up)' if sink is None else ''}; python {sys.version.split()[0]}, "
          f"openai {openai.__version__}, anthropic {anthropic.__version__}, {os.cpu_count()} CPUs")
    progress.header()
    ready.wait()  # clients built, connections not yet opened
    progress.started = time.perf_counter()
    cpu_start = {name: cpu_seconds(pid) for name, pid in processes.items()}
    threads_start = thread_cpu_seconds()
    progress.mark(0)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - progress.started
    cpu = {name: cpu_seconds(pid) - cpu_start[name] for name, pid in processes.items()}
    cpu_threads = cpu_by_thread_kind(threads_start, thread_cpu_seconds(), sum(w.cpu for w in workloads),
                                     {thread.native_id for thread in threads if thread.native_id is not None})
    stop_sampling.set()
    sampler.join()
    end_rss = progress.marks[-1].rss
    if probe is not None:
        probe.report(args.calls)

    after = [m for m in progress.marks if m.calls >= args.warmup]
    warm = after[0].rss
    peak = max([peak_after_warmup, *(m.rss for m in after)])
    growth = end_rss - warm
    limit = max(THRESHOLD_MB, THRESHOLD_FRACTION * warm)
    outcomes: collections.Counter[str] = collections.Counter()
    for workload in workloads:
        outcomes.update(workload.outcomes)
    bullet = "- " if args.markdown else "  "
    print()
    print(f"{bullet}calls: {args.calls:,} in {elapsed:,.0f} s, {args.calls / elapsed:,.0f} calls/s; RSS at start "
          f"{progress.marks[0].rss:.1f} MB")
    print(f"{bullet}RSS at end of warm-up ({args.warmup:,} calls): {warm:.1f} MB; at the end: {end_rss:.1f} MB; "
          f"max after warm-up: {peak:.1f} MB (rows and 1 s samples)")
    print(f"{bullet}growth after warm-up: {growth:+.1f} MB ({growth / warm:+.1%}); limit {limit:.1f} MB; "
          f"least-squares slope after warm-up: {slope_kb_per_100k(after):+,.0f} KB per 100k calls")
    print(f"{bullet}CPU during the calls: " + ", ".join(
        f"{name} {seconds:,.0f} s ({seconds / elapsed:.0%} of a core, {seconds / args.calls * 1e3:.2f} ms a call)"
        for name, seconds in cpu.items()))
    print(f"{bullet}CPU of this process by thread, per call: " + ", ".join(
        f"{kind} {seconds / args.calls * 1e3:.2f} ms" for kind, seconds in cpu_threads.items()))
    print(f"{bullet}outcomes: " + ", ".join(f"{name} {count:,}" for name, count in outcomes.most_common()))
    grown = census.growth()
    print(f"{bullet}objects tracked by the GC: {sum(census.counts[-1].values()):,} at the end, "
          f"{sum(census.counts[-1].values()) - sum(census.counts[0].values()):+,} after warm-up; most grown: "
          + (", ".join(f"{name} {delta:+,} (to {count:,})" for name, count, delta in grown) or "none"))

    failed = []
    if growth > limit:
        failed.append(f"RSS grew {growth:.1f} MB after warm-up (limit {limit:.1f} MB)")
    if provider is not None and counter is not None and sink is not None:
        # every span and metric out before counting what arrived
        flushed = provider.force_flush(60_000)
        flush_metrics()
        metrics_flushed = metrics.get_meter_provider().force_flush(60_000)
        received = sink.counts()
        created = counter.ended
        print(f"{bullet}spans: {created:,} created, {received['spans']:,} received by the OTLP sink in "
              f"{received['span_requests']:,} exports; dropped or lost: {created - received['spans']:,} "
              f"(force_flush {'ok' if flushed else 'TIMED OUT'}); metric exports received: "
              f"{received['metric_requests']:,} (force_flush {'ok' if metrics_flushed else 'TIMED OUT'})")
        # cumulative temporality: each series lives as long as the process, so new label
        # combinations after warm-up are memory that stays
        before = progress.series_at_warmup
        series_growth = received["points"] - sum(before.values())
        print(f"{bullet}metric series: {sum(before.values()):,} at end of warm-up (last export before it), "
              f"{received['points']:,} at the end ({series_growth:+,}); by metric: " + ", ".join(
                  f"{name} {before.get(name, 0):,} -> {count:,}"
                  for name, count in sorted(received["series"].items(), key=lambda i: -i[1])))
        if growth > limit:
            failed[0] += f", while metric series grew by {series_growth:,}"
        if received["spans"] != created:
            failed.append(f"the receiver got {received['spans']:,} of {created:,} spans")
        provider.shutdown()
        metrics.get_meter_provider().shutdown()
    if warnings.counts:
        print(f"{bullet}warnings and errors logged by the SDK, the exporters or otel-agentmon:")
        for key, count in warnings.counts.most_common():
            print(f"    {count:,} x {warnings.first[key]}")
    for reason in failed:
        print(f"FAILED: {reason}")
    if not failed:
        print("OK: memory flat after warm-up" + (", every span received" if sink is not None else ""))
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="model calls in all (default 1,000,000)")
    parser.add_argument("--warmup", type=int, help="calls before memory must be flat (default: a tenth of --calls)")
    parser.add_argument("--every", type=int, help="calls between rows (default: a twentieth of --calls)")
    parser.add_argument("--threads", type=int, default=6, help="threads making calls (default 6)")
    parser.add_argument("--metric-interval", type=float, default=60.0, metavar="SECONDS",
                        help="metric collection and export interval (default 60, the SDK's default)")
    parser.add_argument("--markdown", action="store_true", help="print the curve and summary as Markdown")
    parser.add_argument("--bare", action="store_true",
                        help="the same workload without otel-agentmon set up: the SDKs' own memory and rate")
    parser.add_argument("--tracemalloc", type=int, metavar="FRAMES", default=0,
                        help="trace allocations after warm-up (FRAMES deep) and print what grew between half "
                             "way and the end; slows the run several times and adds its own memory to RSS")
    args = parser.parse_args()
    if args.calls < 20:
        parser.error("--calls must be at least 20")
    args.warmup = args.warmup if args.warmup is not None else args.calls // 10
    args.every = args.every if args.every is not None else max(1, args.calls // 20)
    if not 0 < args.warmup < args.calls:
        parser.error("--warmup must be between 0 and --calls")

    server, url = start_provider_server()
    sink = None if args.bare else Sink()
    try:
        return run(args, server, url, sink)
    finally:
        if sink is not None:
            sink.stop()
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
