"""The application's call latency and memory while the OTLP backend is down, refusing, slow
or restarting, against the same workload uninstrumented and with a healthy backend.

Each run is a fresh process making openai chat calls from several threads against the local
provider server (which answers after ``--delay`` seconds, a fast model), instrumented through
``otel_agentmon.configure()`` with the default exporter settings (OTLP/gRPC, 2048-span queue,
10 s exporter timeout) unless it is the uninstrumented baseline. The backend (tests'
FaultyBackend) runs in this process and is put in each fault mode for the whole run:

  down        nothing listening on the port (connection refused)
  refusing    answers every export UNAVAILABLE
  slow        takes --slow seconds per export
  restarting  down for 2 s of every 4 s

Modes run interleaved, ``--rounds`` times; figures are medians over the rounds. The latency
ratio compares each mode's median call latency with the uninstrumented baseline's; RSS growth
is from the end of warm-up (the first 10% of calls) to the end of the run.

    .venv/bin/python bench/bench_export_faults.py [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

MODES = ("uninstrumented", "healthy", "down", "refusing", "slow", "restarting")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    """One run: calls from threads, latency per call, RSS, spans dropped (printed as JSON)."""
    import openai
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = None
    if args.child != "uninstrumented":
        import otel_agentmon

        from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

        provider = otel_agentmon.configure(service_name="bench-faults", metric_readers=[reader])
        OpenAIInstrumentor().instrument()
    client = openai.OpenAI(base_url=args.base_url, api_key="sk-bench", max_retries=0, timeout=30)
    headers = {"x-agentmon-reply": json.dumps({"delay": args.delay})}
    per_thread = args.calls // args.threads
    warm_up = max(1, per_thread // 10)
    latencies: list[float] = []
    lock = threading.Lock()
    warmed = threading.Barrier(args.threads + 1)
    rss_after_warm_up: list[float] = []

    def work() -> None:
        mine = []
        for index in range(per_thread):
            if index == warm_up:
                warmed.wait()
            started = time.perf_counter()
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers
            )
            if index >= warm_up:
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    warmed.wait()
    rss_after_warm_up.append(_rss_mb())
    peak = rss_after_warm_up[0]
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, _rss_mb())
        time.sleep(0.1)
    rss_end = _rss_mb()
    dropped = 0
    if provider is not None:
        provider.shutdown()  # not timed: with the backend down it gives up after a few seconds
        from otel_agentmon.semconv import metrics as m

        data = reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == m.SPANS_DROPPED:
                        dropped += sum(point.value for point in metric.data.data_points)
    latencies.sort()
    print(json.dumps({
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "rss_growth_mb": rss_end - rss_after_warm_up[0],
        "rss_peak_mb": peak,
        "dropped": dropped,
        "calls": args.calls,
    }))


def _run(mode: str, args: argparse.Namespace, backend: Any, base_url: str) -> dict[str, Any]:
    from _faulty_backend import OK, REFUSE, SLOW

    stop_cycling = threading.Event()
    backend.stop()
    backend.mode = OK
    if mode != "down":
        backend.start()
    if mode == "refusing":
        backend.mode = REFUSE
    elif mode == "slow":
        backend.mode, backend.slow_seconds = SLOW, args.slow

    def cycle() -> None:  # down 2 s of every 4 s
        while not stop_cycling.wait(2.0):
            backend.stop()
            if stop_cycling.wait(2.0):
                break
            backend.start()

    cycler = threading.Thread(target=cycle, daemon=True)
    if mode == "restarting":
        cycler.start()
    before = len(set(backend.span_ids))
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{backend.port}",
           "OTEL_EXPORTER_OTLP_INSECURE": "true"}
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--base-url", base_url, "--calls", str(args.calls),
             "--threads", str(args.threads), "--delay", str(args.delay)],
            env=env, capture_output=True, text=True, check=True, timeout=900,
        ).stdout
    finally:
        stop_cycling.set()
        if cycler.is_alive():
            cycler.join()
    backend.mode = OK
    if mode in ("down", "restarting"):
        backend.stop()
        backend.start()  # so that the next run starts from a known state
    run = json.loads(out.strip().splitlines()[-1])
    run["received"] = len(set(backend.span_ids)) - before
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per run (default 3000, above the queue size)")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--delay", type=float, default=0.05, help="provider reply delay in seconds (default 0.05)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds per export in the slow mode (default 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated modes to run (default all; uninstrumented is always run)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from _faulty_backend import FaultyBackend

    from otel_agentmon.provider_server import ProviderServer

    chosen = {name.strip() for name in args.modes.split(",")} | {"uninstrumented"}
    unknown = chosen - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    modes = [mode for mode in MODES if mode in chosen]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    backend = FaultyBackend("grpc")
    with ProviderServer() as server:
        for round_number in range(args.rounds):
            for mode in modes:
                results[mode].append(_run(mode, args, backend, server.openai_base_url))
                print(f"round {round_number + 1}/{args.rounds} {mode}: {results[mode][-1]}", file=sys.stderr)
    backend.stop()

    def med(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in results[mode])

    base = med("uninstrumented", "median_ms")
    print(f"{args.calls} calls per run from {args.threads} threads, provider delay {args.delay * 1000:.0f} ms, "
          f"slow backend {args.slow:.0f} s per export, {args.rounds} rounds (medians)")
    rows = []
    for mode in modes:
        rows.append((mode, f"{med(mode, 'median_ms'):.2f}", f"{med(mode, 'p95_ms'):.2f}",
                     f"{med(mode, 'median_ms') / base:.3f}", f"{med(mode, 'rss_growth_mb'):+.1f}",
                     f"{med(mode, 'rss_peak_mb'):.0f}", f"{med(mode, 'received'):.0f}",
                     f"{med(mode, 'dropped'):.0f}"))
    header = ("backend", "median call ms", "p95 call ms", "median vs uninstrumented", "RSS growth MB",
              "RSS peak MB", "spans received", "spans dropped (counted)")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        print("  ".join(f"{h:>24}" for h in header))
        for row in rows:
            print("  ".join(f"{c:>24}" for c in row))
    unaccounted = [(mode, run) for mode in modes[1:] for run in results[mode]
                   if run["received"] + run["dropped"] != run["calls"]]
    print(f"runs where received + dropped != spans made: {len(unaccounted)}")
    worst = max(med(mode, "median_ms") / base for mode in modes)
    print(f"worst median latency ratio: {worst:.3f} (goal: within 1.05)")
    if worst > 1.05 or unaccounted:
        sys.exit(1)


if __name__ == "__main__":
    main()
