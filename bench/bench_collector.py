"""Spans per second per core through the collector with our derivations, against the same
collector without them, in the same run; and the Python processors' spans per second per core.

The collector (otelcol-agentmon, built by scripts/install-tools.sh) runs collector-config.yaml
with its exporters swapped for the debug exporter (no Jaeger or Prometheus needed), once as
shipped, once without the transform processor, and once without the transform processor and
the metrics connectors. A client sends the same pre-encoded OTLP requests (a realistic mix of
model, agent and tool spans, some failed) to each; the figure is spans divided by the
collector's own CPU seconds (from /proc), so it reads per core whatever else the machine does.

    python bench/bench_collector.py [--spans 200000]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR = Path(os.environ.get("AGENTMON_TOOLS_DIR", Path.home() / ".cache" / "otel-agentmon" / "tools")) / "bin" / "otelcol-agentmon"
BATCH = 500
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kv(key: str, value: object) -> common_pb2.KeyValue:
    if isinstance(value, bool):
        any_value = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        any_value = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        any_value = common_pb2.AnyValue(double_value=value)
    else:
        any_value = common_pb2.AnyValue(string_value=str(value))
    return common_pb2.KeyValue(key=key, value=any_value)


def span_mix(rng: random.Random) -> list[tuple[str, dict, bool]]:
    """(name, attributes, failed) of one agent request: agent, tool, two model calls."""
    model = rng.choice(["gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "claude-sonnet-4-5", "acme-private-1"])
    provider = "anthropic" if model.startswith("claude") else "openai"
    chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": rng.randint(50, 5000), "gen_ai.usage.output_tokens": rng.randint(10, 800)}
    failed_chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
                   "error.type": rng.choice(["RateLimitError", "APITimeoutError", "InternalServerError"]),
                   "http.response.status_code": 429}
    tool_failed = rng.random() < 0.1
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
    if tool_failed:
        tool["error.type"] = "ConnectionError"
    return [
        ("invoke_agent planner", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}, False),
        ("execute_tool lookup", tool, tool_failed),
        (f"chat {model}", chat, False),
        (f"chat {model}", failed_chat if rng.random() < 0.05 else dict(chat), False),
    ]


def encoded_requests(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    resource = resource_pb2.Resource(attributes=[_kv("service.name", "bench-agents")])
    requests = []
    now = time.time_ns()
    for _ in range(count):
        spans = []
        while len(spans) < BATCH:
            trace_id = rng.getrandbits(128).to_bytes(16, "big")
            for name, attributes, failed in span_mix(rng):
                failed = failed or "error.type" in attributes
                spans.append(trace_pb2.Span(
                    trace_id=trace_id, span_id=rng.getrandbits(64).to_bytes(8, "big"), name=name,
                    kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=now, end_time_unix_nano=now + 250_000_000,
                    attributes=[_kv(k, v) for k, v in attributes.items()],
                    status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR if failed else 0)))
        request = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans[:BATCH])])])
        requests.append(request.SerializeToString())
    return requests


def config_variant(directory: Path, name: str, transform: bool, connectors: bool) -> Path:
    config = yaml.safe_load((ROOT / "collector-config.yaml").read_text())
    config["exporters"] = {"debug": {"verbosity": "basic"}}
    pipelines = config["service"]["pipelines"]
    traces = pipelines["traces"]
    if not transform:
        traces["processors"] = [p for p in traces["processors"] if not p.startswith("transform")]
    traces["exporters"] = ["debug"] + ([e for e in traces["exporters"] if e in config.get("connectors", {})]
                                       if connectors else [])
    if connectors:
        pipelines["metrics"]["exporters"] = ["debug"]
    else:
        config.pop("connectors", None)
        pipelines.pop("metrics", None)
        config["processors"].pop("deltatocumulative", None)
    for pipeline in list(pipelines.values()):
        pipeline["receivers"] = [r for r in pipeline["receivers"] if r == "otlp" or r in config.get("connectors", {})]
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(config: Path, requests: list[bytes], directory: Path) -> float:
    grpc_port, health = free_port(), free_port()
    env = {**os.environ, "OTLP_GRPC_LISTEN": f"127.0.0.1:{grpc_port}", "OTLP_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
           "HEALTH_CHECK_LISTEN": f"127.0.0.1:{health}", "PROMETHEUS_LISTEN": f"127.0.0.1:{free_port()}",
           "JAEGER_OTLP_ENDPOINT": "127.0.0.1:1"}
    log = (directory / f"{config.stem}.log").open("wb")
    process = subprocess.Popen([str(COLLECTOR), f"--config={config}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{health}/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"collector did not start: {(directory / f'{config.stem}.log').read_text()}")
                time.sleep(0.2)
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        export = channel.unary_unary(EXPORT, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for request in requests[:4]:  # warm-up
            export(request, timeout=30)
        time.sleep(1.0)
        before = cpu_seconds(process.pid)
        for request in requests:
            export(request, timeout=30)
        previous = cpu_seconds(process.pid)
        while True:  # until the collector has drained its batches and gone idle
            time.sleep(0.5)
            current = cpu_seconds(process.pid)
            if current - previous < 0.02:
                break
            previous = current
        channel.close()
        return len(requests) * BATCH / (current - before)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def python_processors_rate(requests: int, seed: int = 7) -> float:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, Status, StatusCode

    from otel_agentmon.processors import SpanEnricher

    rng = random.Random(seed)
    enricher = SpanEnricher()
    spans = []
    while len(spans) < 20_000:
        trace_id = rng.getrandbits(128)
        for name, attributes, failed in span_mix(rng):
            failed = failed or "error.type" in attributes
            spans.append(ReadableSpan(name=name, context=SpanContext(trace_id, rng.getrandbits(64), False),
                                      attributes=attributes, status=Status(StatusCode.ERROR if failed else StatusCode.UNSET),
                                      start_time=1, end_time=2))
    for span in spans[:2000]:
        enricher.enrich(span)
    started = time.process_time()
    for span in spans:
        enricher.enrich(span)
    return len(spans) / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000)
    args = parser.parse_args()
    if not COLLECTOR.exists():
        print(f"{COLLECTOR} is missing: run scripts/install-tools.sh", file=sys.stderr)
        return 1
    requests = encoded_requests(max(1, args.spans // BATCH))
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        directory = Path(tmp)
        variants = [("shipped", True, True), ("no transform", False, True), ("no transform, no connectors", False, False)]
        rates = {}
        for round_number in range(2):  # alternate, so drift in the machine hits every variant alike
            for name, transform, connectors in variants:
                config = config_variant(directory, name.replace(" ", "-").replace(",", ""), transform, connectors)
                rates.setdefault(name, []).append(measure(config, requests, directory))
    python_rate = python_processors_rate(len(requests) * BATCH)
    print(f"collector otelcol-agentmon, {len(requests) * BATCH:,} spans per run, best of 2 alternating runs; "
          "spans per CPU second of the collector process")
    base = max(rates["no transform"])
    for name, _, _ in variants:
        best = max(rates[name])
        print(f"  {name:<30} {best:>12,.0f} spans/s per core   x{best / base:.2f} of 'no transform'")
    print(f"python processors (SpanEnricher.enrich, same span mix)  {python_rate:>12,.0f} spans/s per core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
