"""The embedded store: ingest rate, and report time over 1,000,000 stored spans.

Run: ``python bench/bench_store.py`` (``--spans N`` for another size). Prints figures.

1. Ingest: ``StoreSpanExporter.export`` in batches of 512 enriched spans of a realistic mix
   (per agent run: one invoke_agent span, one or two execute_tool spans, two model calls;
   5 models of 3 providers, some failed calls and tools), into a fresh file; one process, then
   two processes writing to the same file at once. Goal: well above the demo's few hundred
   spans per second.
2. Report: a store of 1,000,000 such spans spread over 30 days (50 users in 5 departments,
   4 applications, 3 agents, 4 tools), built once through the exporter and kept under
   ``~/.cache/otel-agentmon/bench`` (rebuilt when the generator changes). Times
   ``build_report`` + rendering over everything, over the last 7 days (unaligned bounds:
   raw rows at the edges), the chargeback of a month, ``optimize`` (raw rows of 30 days),
   and the ``otel-agentmon report`` command end to end. Goal: the report under 2 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_agentmon.processors import SpanEnricher
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store import StoreSpanExporter

GENERATOR_VERSION = "2"  # bump when the generated data changes: the cached 1M store is rebuilt
BATCH = 512
DAYS = 30
CACHE = Path.home() / ".cache" / "otel-agentmon" / "bench"

MODELS = (  # (provider, model, weight, input tokens median, output tokens median)
    ("openai", "gpt-4o-mini", 40, 900, 150),
    ("openai", "gpt-4o", 20, 2500, 300),
    ("anthropic", "claude-haiku-4-5", 20, 1200, 200),
    ("anthropic", "claude-sonnet-4-5", 15, 6000, 500),
    ("openai", "text-embedding-3-small", 5, 300, 0),
)
AGENTS = ("planner", "researcher", "reviewer")
TOOLS = ("search", "get_weather", "book_hotel", "sql_query")
APPLICATIONS = ("helpdesk", "trip-planner", "reports", "research-assistant")
DEPARTMENTS = ("support", "research", "finance", "sales", "engineering")
USERS = tuple(f"user{i:02d}@example.com" for i in range(50))
FAULTS = (("RateLimitError", 429), ("APITimeoutError", None), ("InternalServerError", 500))


def _span(name: str, trace_id: int, span_id: int, parent: int | None, start: int, end: int, attributes: dict,
          resource: Resource, failed: bool, enricher: SpanEnricher, exceptions=()) -> ReadableSpan:
    attributes.update(enricher.derive(attributes, trace_id, failed, exceptions, start))
    context = SpanContext(trace_id, span_id, False, TraceFlags(1))
    parent_context = SpanContext(trace_id, parent, False, TraceFlags(1)) if parent else None
    status = Status(StatusCode.ERROR, "failed") if failed else Status(StatusCode.UNSET)
    return ReadableSpan(name=name, context=context, parent=parent_context, resource=resource, attributes=attributes,
                        kind=SpanKind.CLIENT, start_time=start, end_time=end, status=status)


def workload(spans: int, start_s: float, end_s: float, seed: int = 1) -> Iterator[list[ReadableSpan]]:
    """Batches of enriched spans, about ``spans`` in all, agent runs spread over [start_s, end_s)."""
    rnd = random.Random(seed)
    enricher = SpanEnricher(quality_sample_rate=0.05)
    resources = [Resource.create({ga.SERVICE_NAME: app}) for app in APPLICATIONS]
    weights = [m[2] for m in MODELS]
    runs = max(1, int(spans / 4.5) + 1)  # 4.5 spans a run on average
    step = (end_s - start_s) / runs
    batch: list[ReadableSpan] = []
    made = 0
    run = -1
    while made < spans:
        run = (run + 1) % runs
        t = int((start_s + run * step + rnd.random() * step) * 1e9)
        user_index = rnd.randrange(len(USERS))
        user = USERS[user_index]
        department = DEPARTMENTS[user_index % len(DEPARTMENTS)]
        app_index = rnd.randrange(len(APPLICATIONS))
        common = {ga.USER_ID: user, am.DEPARTMENT: department, am.APPLICATION: APPLICATIONS[app_index]}
        resource = resources[app_index]
        agent = AGENTS[rnd.randrange(len(AGENTS))]
        trace_id = rnd.getrandbits(128) or 1
        root = rnd.getrandbits(64) or 1
        clock = t + int(rnd.uniform(1e6, 5e6))
        children = []
        for _ in range(rnd.choice((1, 2))):
            tool = TOOLS[rnd.randrange(len(TOOLS))]
            duration = int(rnd.lognormvariate(-2.5, 1.0) * 1e9)
            failed = rnd.random() < 0.03
            attributes = {ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL, ga.TOOL_NAME: tool, ga.TOOL_TYPE: ga.ToolType.FUNCTION,
                          ga.AGENT_NAME: agent, **common}
            if failed:
                attributes[ga.ERROR_TYPE] = "RuntimeError"
            children.append(_span(f"execute_tool {tool}", trace_id, rnd.getrandbits(64) or 1, root, clock,
                                  clock + duration, attributes, resource, failed, enricher))
            clock += duration + int(1e6)
        for _ in range(2):
            provider, model, _, tokens_in, tokens_out = rnd.choices(MODELS, weights)[0]
            embeddings = tokens_out == 0
            operation = ga.Operation.EMBEDDINGS if embeddings else ga.Operation.CHAT
            duration = int(rnd.lognormvariate(-0.5 if not embeddings else -2.5, 0.6) * 1e9)
            attributes = {ga.OPERATION_NAME: operation, ga.PROVIDER_NAME: provider, ga.REQUEST_MODEL: model,
                          ga.SERVER_ADDRESS: "api.example.com", ga.SERVER_PORT: 443, **common}
            failed = rnd.random() < 0.05
            exceptions = ()
            if failed:
                error_type, status = FAULTS[rnd.randrange(len(FAULTS))]
                attributes[ga.ERROR_TYPE] = error_type
                if status:
                    attributes[ga.HTTP_RESPONSE_STATUS_CODE] = status
                exceptions = ((error_type, f"Error code: {status}" if status else "timed out"),)
            else:
                count_in = max(1, int(rnd.lognormvariate(0, 0.5) * tokens_in))
                attributes.update({
                    ga.RESPONSE_MODEL: model, ga.RESPONSE_ID: f"resp-{trace_id & 0xFFFFFFFF:08x}",
                    ga.USAGE_INPUT_TOKENS: count_in,
                    ga.USAGE_OUTPUT_TOKENS: 0 if embeddings else max(1, int(rnd.lognormvariate(0, 0.5) * tokens_out)),
                    ga.RESPONSE_FINISH_REASONS: () if embeddings else ("stop",),
                })
                if not embeddings and rnd.random() < 0.3:
                    attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] = count_in // 2
            children.append(_span(f"{operation} {model}", trace_id, rnd.getrandbits(64) or 1, root, clock,
                                  clock + duration, attributes, resource, failed, enricher, exceptions))
            clock += duration + int(1e6)
        agent_attributes = {ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: agent, **common}
        run_spans = [*children, _span(f"invoke_agent {agent}", trace_id, root, None, t, clock, agent_attributes,
                                      resource, False, enricher)][: spans - made]
        batch.extend(run_spans)
        made += len(run_spans)
        if len(batch) >= BATCH:
            yield batch[:BATCH]
            batch = batch[BATCH:]
    if batch:
        yield batch


def _ingest(path: str, batches: list[list[ReadableSpan]]) -> float:
    exporter = StoreSpanExporter(path)
    started = time.perf_counter()
    for batch in batches:
        exporter.export(batch)
    elapsed = time.perf_counter() - started
    exporter.shutdown()
    return elapsed


def _ingest_worker(path: str, spans: int, seed: int, queue: "multiprocessing.Queue[tuple[int, float, float]]") -> None:
    now = time.time()
    batches = list(workload(spans, now - 3600, now, seed))
    exporter = StoreSpanExporter(path)
    exporter.export(batches[0][:1])  # open the file outside the timed part, like a running process
    started = time.time()
    for batch in batches:
        exporter.export(batch)
    queue.put((sum(len(b) for b in batches), started, time.time()))


def bench_ingest(spans: int = 51_200) -> None:
    now = time.time()
    batches = list(workload(spans, now - 3600, now))
    count = sum(len(b) for b in batches)
    rates = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as folder:
            elapsed = _ingest(os.path.join(folder, "store.db"), batches)
            rates.append(count / elapsed)
    print(f"ingest, 1 process:   {statistics.median(rates):9,.0f} spans/s "
          f"(median of 3 runs of {count:,} spans in batches of {BATCH}; {min(rates):,.0f} to {max(rates):,.0f})")
    for processes in (2, 4):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "store.db")
            StoreSpanExporter(path).export(batches[0][:1])  # create the file once
            queue: multiprocessing.Queue = multiprocessing.Queue()
            workers = [multiprocessing.Process(target=_ingest_worker, args=(path, spans // processes, seed, queue))
                       for seed in range(processes)]
            for worker in workers:
                worker.start()
            results = [queue.get() for _ in workers]
            for worker in workers:
                worker.join()
            total = sum(r[0] for r in results)
            elapsed = max(r[2] for r in results) - min(r[1] for r in results)
            print(f"ingest, {processes} processes: {total / elapsed:9,.0f} spans/s together "
                  f"({total:,} spans into one file at once)")


def build_large_store(spans: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"store-{spans}-v{GENERATOR_VERSION}.db"
    if path.exists():
        print(f"store of {spans:,} spans: {path} (cached; delete it to rebuild)")
        return path
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    end = time.time() // 3600 * 3600 - 3600
    exporter = StoreSpanExporter(partial)
    started = time.perf_counter()
    exported = 0
    export_time = 0.0
    for batch in workload(spans, end - DAYS * 86400, end, seed=42):
        t = time.perf_counter()
        exporter.export(batch)
        export_time += time.perf_counter() - t
        exported += len(batch)
        if exported % 102_400 < BATCH:
            print(f"  {exported:,} spans stored ({time.perf_counter() - started:.0f} s)", flush=True)
    exporter.shutdown()
    os.replace(partial, path)
    print(f"store of {exported:,} spans built in {time.perf_counter() - started:.0f} s "
          f"(export {export_time:.0f} s: {exported / export_time:,.0f} spans/s into a growing file); "
          f"{path.stat().st_size / 1e6:.0f} MB")
    return path


def _timed(label: str, function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    best = min(times)
    print(f"{label:48s} {statistics.median(times):6.3f} s (median of {repeat}; best {best:.3f} s)")
    return statistics.median(times)


def bench_report(path: Path) -> None:
    from otel_agentmon.reports._chargeback import build_chargeback, render_table as render_chargeback
    from otel_agentmon.reports._optimize import build_optimization
    from otel_agentmon.reports._report import build_report, render_table

    store = str(path)
    now = time.time()
    month = time.strftime("%Y-%m", time.gmtime(now - 86400))
    _timed("report, everything (1M spans, 30 days)", lambda: render_table(build_report(store, budgets=None)))
    _timed("report, --since 7d (edges from raw rows)",
           lambda: render_table(build_report(store, now - 7 * 86400 - 1234, None, budgets=None)))
    _timed("report, --since 24h", lambda: render_table(build_report(store, now - 86400 - 1234, None, budgets=None)))
    _timed(f"chargeback --month {month} --by user", lambda: render_chargeback(build_chargeback(store, month, "user")))
    _timed("optimize (raw rows of 30 days)", lambda: build_optimization(store), repeat=1)
    command = [str(Path(sys.executable).with_name("otel-agentmon")), "report", "--store", store]
    if Path(command[0]).exists():
        def run() -> None:
            result = subprocess.run(command, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
        _timed("otel-agentmon report (the command, end to end)", run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans in the large store (default 1,000,000)")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, sqlite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} CPUs")
    if not args.skip_ingest:
        bench_ingest()
    bench_report(build_large_store(args.spans))


if __name__ == "__main__":
    main()
