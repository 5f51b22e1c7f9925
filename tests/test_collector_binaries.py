"""The two Go programs of the collector work, as scripts/install-tools.sh builds them.

otelcol-agentmon (ocb, deploy/collector/builder-config.yaml) must hold exactly the components
of its manifest and validate configs; Jaeger v2 must start with deploy/jaeger/jaeger-config.yaml
(ports moved to free ones), take a span on its OTLP port and return it through query API v3.
A missing program fails these tests: it is never a reason to skip them.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from _monitoring_stack import Program, free_port, http_json, wait_until
from _tools import tool

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "deploy" / "collector" / "builder-config.yaml"
JAEGER_CONFIG = ROOT / "deploy" / "jaeger" / "jaeger-config.yaml"

KINDS = ("receivers", "processors", "connectors", "exporters", "extensions")

# The names collector configs use for the manifest's components in this release (otlp,
# otlphttp, spanmetrics and signaltometrics are deprecated aliases of four of them).
COMPONENT_NAMES = {
    "receivers": {"otlp"},
    "processors": {"batch", "memory_limiter", "transform", "deltatocumulative"},
    "connectors": {"span_metrics", "signal_to_metrics"},
    "exporters": {"otlp_grpc", "otlp_http", "debug", "prometheus", "file"},
    "extensions": {"health_check"},
}

# The ports the shipped Jaeger config promises: none of them is one of the collector's.
JAEGER_ENDPOINTS = {
    "otlp_grpc": "127.0.0.1:14317",
    "otlp_http": "127.0.0.1:14318",
    "query_http": "127.0.0.1:16686",
    "query_grpc": "127.0.0.1:16685",
}

MINIMAL_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def manifest_modules() -> dict[str, set[str]]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    return {kind: {entry["gomod"] for entry in manifest.get(kind, ())} for kind in KINDS}


# --- otelcol-agentmon -----------------------------------------------------------------------


def test_collector_holds_exactly_the_manifest_components() -> None:
    result = run(tool("otelcol-agentmon"), "components")
    assert result.returncode == 0, output(result)
    listed = yaml.safe_load(result.stdout)
    assert listed["buildinfo"]["command"] == "otelcol-agentmon"
    modules = {kind: {entry["module"] for entry in listed.get(kind) or ()} for kind in KINDS}
    names = {kind: {entry["name"] for entry in listed.get(kind) or ()} for kind in KINDS}
    assert modules == manifest_modules()
    assert names == COMPONENT_NAMES


def test_manifest_uses_one_release_line() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    versions = {entry["gomod"].split()[1] for kind in KINDS for entry in manifest.get(kind, ())}
    versions.add(manifest["telemetry"]["gomod"].split()[1])
    assert len(versions) == 1, versions
    # ocb is installed at the release of the components it builds
    script = (ROOT / "scripts" / "install-tools.sh").read_text()
    assert f"OCB_VERSION={versions.pop()}\n" in script


def test_collector_validates_a_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MINIMAL_CONFIG.format(port=free_port()))
    result = run(tool("otelcol-agentmon"), "validate", f"--config={config}")
    assert result.returncode == 0, output(result)


def test_collector_rejects_an_unknown_component(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MINIMAL_CONFIG.format(port=free_port()).replace("debug", "nosuchexporter"))
    result = run(tool("otelcol-agentmon"), "validate", f"--config={config}")
    assert result.returncode != 0, output(result)
    assert 'unknown type: "nosuchexporter"' in result.stderr, output(result)


# --- Jaeger v2 ------------------------------------------------------------------------------


def test_shipped_jaeger_config_keeps_off_the_collector_ports() -> None:
    config = yaml.safe_load(JAEGER_CONFIG.read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    query = config["extensions"]["jaeger_query"]
    assert protocols["grpc"]["endpoint"] == JAEGER_ENDPOINTS["otlp_grpc"]
    assert protocols["http"]["endpoint"] == JAEGER_ENDPOINTS["otlp_http"]
    assert query["http"]["endpoint"] == JAEGER_ENDPOINTS["query_http"]
    assert query["grpc"]["endpoint"] == JAEGER_ENDPOINTS["query_grpc"]
    # its own tracing would export to localhost:4317, i.e. into the collector
    assert query["enable_tracing"] is False
    assert config["service"]["telemetry"]["metrics"]["level"] == "none"


def test_jaeger_is_the_pinned_v2_release() -> None:
    result = run(tool("jaeger"), "version")
    assert result.returncode == 0, output(result)
    info = json.loads(result.stdout.strip().splitlines()[-1])
    script = (ROOT / "scripts" / "install-tools.sh").read_text()
    assert info["gitVersion"].startswith("v2."), info
    assert f"JAEGER_VERSION={info['gitVersion']}\n" in script, info


@pytest.fixture
def jaeger(tmp_path: Path):
    """Jaeger v2 on the shipped config, every port moved to a free one."""
    text = JAEGER_CONFIG.read_text()
    ports = {}
    for what, endpoint in JAEGER_ENDPOINTS.items():
        assert endpoint in text, f"{endpoint} not in {JAEGER_CONFIG}"
        ports[what] = free_port()
        text = text.replace(endpoint, f"127.0.0.1:{ports[what]}")
    config = tmp_path / "jaeger-config.yaml"
    config.write_text(text)
    program = Program([tool("jaeger"), f"--config={config}"], tmp_path / "jaeger.log")
    url = f"http://127.0.0.1:{ports['query_http']}"

    def services_answer() -> bool:
        if program.process.poll() is not None:
            raise AssertionError(f"jaeger exited:\n{program.output()}")
        try:
            http_json(f"{url}/api/v3/services")
        except (OSError, ValueError):
            return False
        return True

    try:
        wait_until(services_answer, 30, "Jaeger's query API", interval=0.2)
        yield {"url": url, "otlp_grpc": f"127.0.0.1:{ports['otlp_grpc']}", "program": program}
    finally:
        program.stop()


def find_traces(url: str, service: str, start: datetime, end: datetime) -> dict | None:
    query = urllib.parse.urlencode({
        "query.service_name": service,
        "query.start_time_min": start.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "query.start_time_max": end.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        # required with the in-memory storage of this release (0 is refused)
        "query.num_traces": "20",
    })
    try:
        return http_json(f"{url}/api/v3/traces?{query}")
    except urllib.error.HTTPError as error:
        if error.code == 404:  # "No traces found" (yet)
            return None
        raise AssertionError(f"{error.code}: {error.read().decode(errors='replace')}") from error


def test_jaeger_returns_a_span_sent_over_otlp(jaeger) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    assert http_json(f"{jaeger['url']}/api/v3/services").get("services", []) == []

    service = f"agentmon-smoke-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=jaeger["otlp_grpc"], insecure=True)))
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    with provider.get_tracer("smoke").start_as_current_span("invoke_agent triage") as span:
        span.set_attribute("gen_ai.agent.name", "triage")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    end = datetime.now(timezone.utc) + timedelta(minutes=1)

    answer = wait_until(lambda: find_traces(jaeger["url"], service, start, end), 10,
                        f"the span of {service} in Jaeger", interval=0.2)
    spans = [
        span
        for resource_spans in answer["result"]["resourceSpans"]
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]
    assert [span["name"] for span in spans] == ["invoke_agent triage"], json.dumps(answer)[:2000]
    assert spans[0]["traceId"] == trace_id
    assert {"key": "gen_ai.agent.name", "value": {"stringValue": "triage"}} in spans[0]["attributes"]
    assert service in http_json(f"{jaeger['url']}/api/v3/services")["services"]
