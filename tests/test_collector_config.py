"""collector-config.yaml: the Python processors' derivations in the real OpenTelemetry Collector.

- the committed file is what ``otel-agentmon collector-config`` generates now;
- ``otelcol-agentmon validate`` accepts it, and rejects a config broken on purpose with its
  own message;
- parity: every span of tests/collector_vectors.yaml goes through the real collector (OTLP in,
  file exporter out) and through the Python processors, and the derived attributes are the
  same, value for value (costs as the same double);
- its Prometheus exporter shows agentmon_cost_USD_total and agentmon_errors_total for them.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from _collector_stack import Collector
from _monitoring_stack import wait_until
from _tools import tool

from otel_agentmon.cli import main as cli_main
from otel_agentmon.collector import DEFAULT_MODELS, PriceTableError, collector_config
from otel_agentmon.collector._yaml import Comment, Commented, dump, plain
from otel_agentmon.processors import CostCalculator, SpanEnricher, load_prices_file
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "collector-config.yaml"
VECTORS = Path(__file__).with_name("collector_vectors.yaml")
REGENERATE = "otel-agentmon collector-config --output collector-config.yaml"
SCOPE = "agentmon.collector.vectors"  # not an otel-agentmon instrumentation scope: counted in metrics

DERIVED = (am.COST_AMOUNT, am.COST_CURRENCY, am.COST_SOURCE, am.COST_STATUS, am.ERROR_CATEGORY,
           am.ERROR_SEVERITY, am.QUALITY_SAMPLED)

# vector field -> span attribute
FIELDS = {
    "operation": ga.OPERATION_NAME,
    "provider": ga.PROVIDER_NAME,
    "request_model": ga.REQUEST_MODEL,
    "response_model": ga.RESPONSE_MODEL,
    "input_tokens": ga.USAGE_INPUT_TOKENS,
    "output_tokens": ga.USAGE_OUTPUT_TOKENS,
    "cache_read_tokens": ga.USAGE_CACHE_READ_INPUT_TOKENS,
    "cache_write_tokens": ga.USAGE_CACHE_WRITE_INPUT_TOKENS,
    "reasoning_tokens": ga.USAGE_REASONING_OUTPUT_TOKENS,
    "error_type": ga.ERROR_TYPE,
    "http_status": ga.HTTP_RESPONSE_STATUS_CODE,
    "finish_reasons": ga.RESPONSE_FINISH_REASONS,
}
# vector "expect" key -> derived attribute
EXPECT = {
    "cost": am.COST_AMOUNT,
    "cost_status": am.COST_STATUS,
    "category": am.ERROR_CATEGORY,
    "severity": am.ERROR_SEVERITY,
    "sampled": am.QUALITY_SAMPLED,
}


# --- vectors and the Python side -------------------------------------------------------------


def load_vectors() -> list[dict[str, Any]]:
    return yaml.safe_load(VECTORS.read_text())["spans"]


def vector_attributes(vector: dict[str, Any]) -> dict[str, Any]:
    attributes = {FIELDS[k]: v for k, v in vector.items() if k in FIELDS}
    attributes.update(vector.get("attributes") or {})
    return attributes


class _VectorIds(IdGenerator):
    """Trace ids from the vectors, in order; span ids counted."""

    def __init__(self) -> None:
        self.trace_ids: list[int] = []
        self._span = 0x1000

    def generate_trace_id(self) -> int:
        return self.trace_ids.pop(0)

    def generate_span_id(self) -> int:
        self._span += 1
        return self._span


def make_spans(vectors: list[dict[str, Any]], *processors) -> list[ReadableSpan]:
    """The vectors as finished SDK spans (each its own trace, with the vector's trace id)."""
    ids = _VectorIds()
    provider = TracerProvider(resource=Resource.create({ga.SERVICE_NAME: "collector-vectors"}), id_generator=ids)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for processor in processors:
        provider.add_span_processor(processor)
    tracer = provider.get_tracer(SCOPE)
    for vector in vectors:
        ids.trace_ids.append(int(vector["trace_id"], 16))
        attributes = vector_attributes(vector)
        inference = attributes.get(ga.OPERATION_NAME) in ga.INFERENCE_OPERATIONS
        span = tracer.start_span(vector["name"], kind=SpanKind.CLIENT if inference else SpanKind.INTERNAL,
                                 attributes=attributes)
        for event in vector.get("events") or ():
            span.add_event(ga.EXCEPTION_EVENT,
                           {ga.EXCEPTION_TYPE: event["type"], ga.EXCEPTION_MESSAGE: event["message"]})
        if vector.get("status") == "error":
            span.set_status(Status(StatusCode.ERROR, vector.get("status_message")))
        span.end()
    provider.force_flush()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def python_derived(span: ReadableSpan, enricher: SpanEnricher) -> dict[str, Any]:
    """What the Python processors add to the span (the exporter's own path: enrich())."""
    original = dict(span.attributes or {})
    enriched = dict(enricher.enrich(span).attributes or {})
    return {k: v for k, v in enriched.items() if k not in original or original[k] != v}


def for_collector(vector: dict[str, Any], python: dict[str, Any]) -> dict[str, Any]:
    """The Python processors' attributes with the vector's stated collector differences."""
    result = dict(python)
    for key, value in (vector.get("collector") or {}).items():
        result[EXPECT[key]] = value
    if result.get(am.COST_STATUS) != am.CostStatus.PRICED:
        for key in (am.COST_AMOUNT, am.COST_CURRENCY, am.COST_SOURCE):
            result.pop(key, None)
    return result


def _sample_name(clause: Any) -> str | None:
    """A model name a genai-prices match rule accepts (for the generated cases)."""
    for attribute in ("equals", "starts_with", "contains"):
        if isinstance(getattr(clause, attribute, None), str):
            return getattr(clause, attribute)
    for child in getattr(clause, "or_", None) or getattr(clause, "and_", None) or ():
        name = _sample_name(child)
        if name is not None and clause.is_match(name.lower()):
            return name
    return None


def model_cases(seed: int = 56) -> list[dict[str, Any]]:
    """Three spans with random token counts (across price tiers) for every model of the
    default list, under its own provider: parity for every formula, not only the vectors'."""
    from genai_prices import data_snapshot

    rng = random.Random(seed)
    providers = {p.id: p for p in data_snapshot.get_snapshot().providers}
    cases = []
    for spec in DEFAULT_MODELS:
        provider_id, model_id = spec.split("/", 1)
        info = next(m for m in providers[provider_id].models if m.id == model_id)
        name = _sample_name(info.match)
        assert name is not None, spec
        for i in range(3):
            total_input = rng.choice((rng.randint(0, 5000), rng.randint(0, 400_000)))
            cache_read = rng.randint(0, total_input)
            output = rng.randint(0, 60_000)
            cases.append({
                "name": f"{spec} #{i + 1}", "operation": "chat", "provider": provider_id,
                "request_model": name.upper() if i == 2 else name,
                "input_tokens": total_input, "output_tokens": output, "cache_read_tokens": cache_read,
                "cache_write_tokens": rng.randint(0, total_input - cache_read),
                "reasoning_tokens": rng.randint(0, output),
                "trace_id": format(rng.getrandbits(128), "032x"),
            })
    return cases


def expected(vector: dict[str, Any]) -> dict[str, Any]:
    want = {EXPECT[k]: v for k, v in (vector.get("expect") or {}).items()}
    if am.COST_AMOUNT in want:
        want[am.COST_CURRENCY] = am.CURRENCY_USD
        want[am.COST_SOURCE] = am.CostSource.LOCAL
    return want


# --- the collector -------------------------------------------------------------------------


def any_value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as Python."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return tuple(any_value(v) for v in value["arrayValue"].get("values", ()))
    return None


def read_file_exporter(path: Path) -> dict[str, dict[str, Any]]:
    """span id (hex) -> attributes, from the file exporter's JSON lines."""
    spans: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return spans
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", ()):
            for scope_spans in resource_spans.get("scopeSpans", ()):
                for span in scope_spans.get("spans", ()):
                    spans[span["spanId"]] = {a["key"]: any_value(a["value"]) for a in span.get("attributes", ())}
    return spans


def config_for_test(generated: str, spans_file: Path) -> dict:
    """The generated config with the traces written to a file instead of Jaeger, the
    connectors flushing every second and the collector's own telemetry off."""
    config = yaml.safe_load(generated)
    config["exporters"] = {
        "file/vectors": {"path": str(spans_file), "format": "json", "flush_interval": "100ms"},
        "prometheus": config["exporters"]["prometheus"],
    }
    traces = config["service"]["pipelines"]["traces"]
    traces["exporters"] = ["file/vectors" if e.startswith("otlp") else e for e in traces["exporters"]]
    config["connectors"]["span_metrics"]["metrics_flush_interval"] = "1s"
    config["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return config


def start_collector(directory: Path, config: dict) -> Collector:
    path = directory / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Collector(directory, config=path)


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)


def validate(path: Path) -> subprocess.CompletedProcess:
    return run(tool("otelcol-agentmon"), "validate", "--config", str(path))


# --- (1) the committed file is the generated one -------------------------------------------


def test_committed_config_is_generated():
    committed = CONFIG.read_text() if CONFIG.exists() else ""
    fresh = collector_config()
    assert committed == fresh, (
        f"collector-config.yaml is stale: regenerate it with `{REGENERATE}` "
        "(AGENTMON_PRICES_FILE and AGENTMON_QUALITY_SAMPLE_RATE unset)"
    )


def test_generation_is_deterministic_and_reads_back():
    first = collector_config()
    assert first == collector_config()
    data = yaml.safe_load(first)
    assert first.startswith("# ") and REGENERATE in first
    transform = data["processors"]["transform/agentmon"]["trace_statements"]
    contexts = [group["context"] for group in transform]
    assert contexts[-2:] == ["spanevent", "span"] and set(contexts[:-2]) == {"span"}
    # nothing temporary stays on a span: what the cost and error groups park there is removed
    statements = "\n".join(s for group in transform for s in group["statements"])
    for key in set(re.findall(r'"(agentmon\.collector\.tmp\.[a-z_]+)"', statements)):
        assert f'delete_key(span.attributes, "{key}")' in statements, key
    # every component is one the collector was built with
    used = {kind: {name.split("/")[0] for name in data.get(kind, {})}
            for kind in ("receivers", "processors", "connectors", "exporters", "extensions")}
    built = {
        "receivers": {"otlp"},
        "processors": {"batch", "memory_limiter", "transform", "filter", "deltatocumulative"},
        "connectors": {"span_metrics", "count", "signal_to_metrics"},
        "exporters": {"otlp_grpc", "otlp_http", "debug", "prometheus", "file"},
        "extensions": {"health_check"},
    }
    for kind, names in used.items():
        assert names <= built[kind], f"{kind} not in deploy/collector/builder-config.yaml: {names - built[kind]}"


def test_yaml_writer_reads_back_as_written():
    data = {
        "a": Commented("a comment\nover two lines", {"b": ["x", Comment("between items"), "it's \"quoted\"", {}]}),
        "c": [{"k": "${env:X:-0.0.0.0:1}", "n": 3, "f": 0.5, "t": True, "e": []}, "yes", "10ms"],
    }
    text = dump(data, "header")
    assert text.startswith("# header\n") and "# between items" in text and "# a comment" in text
    assert yaml.safe_load(text) == plain(data)


def test_cli_prints_and_writes_the_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AGENTMON_PRICES_FILE", raising=False)
    monkeypatch.delenv("AGENTMON_QUALITY_SAMPLE_RATE", raising=False)
    assert cli_main(["collector-config"]) == 0
    assert capsys.readouterr().out == collector_config()
    out = tmp_path / "c.yaml"
    assert cli_main(["collector-config", "--models", "openai/gpt-4o", "gpt-4o-mini", "--sample-rate", "0.25",
                     "--output", str(out)]) == 0
    text = out.read_text()
    assert text == collector_config(["openai/gpt-4o", "gpt-4o-mini"], sample_rate=0.25)
    assert '"openai/gpt-4o-mini"' in text and '"openai/gpt-5"' not in text
    assert "< \"40000000000000\"" in text  # floor(0.25 * 2^56) as 14 hex digits


def test_cli_rejects_bad_input_clearly(capsys, tmp_path):
    assert cli_main(["collector-config", "--models", "no-such-model-xyz"]) == 1
    assert "no-such-model-xyz" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli_main(["collector-config", "--sample-rate", "1.5"])
    assert exit_.value.code == 2
    prices = tmp_path / "prices.yaml"
    prices.write_text("prices:\n  - model: acme\n    input_mtok: -1\n    output_mtok: 1\n")
    assert cli_main(["collector-config", "--prices-file", str(prices)]) == 1
    assert f"{prices}:3: input_mtok must be a finite, non-negative number" in capsys.readouterr().err


def test_time_of_day_prices_are_refused():
    with pytest.raises(PriceTableError, match="time of day"):
        collector_config(["deepseek/deepseek-chat"])


def test_default_models_are_all_priced():
    """Every model of the default list is looked up and has a cost statement."""
    groups = yaml.safe_load(collector_config())["processors"]["transform/agentmon"]["trace_statements"]
    statements = [s for group in groups for s in group["statements"]]
    for spec in DEFAULT_MODELS:
        assert any(s.startswith(f'set(span.cache["price"], "{spec}")') for s in statements), spec
        assert any(s.startswith(f'set(span.attributes["{am.COST_AMOUNT}"]') and f'span.cache["price"] == "{spec}"' in s
                   for s in statements), spec


# --- the vectors and the Python processors ------------------------------------------------


def test_vectors_match_the_python_processors():
    """The vectors' expected values are the Python processors' (a failure prints the actual
    values: update the vectors when prices or rules change on purpose)."""
    vectors = load_vectors()
    spans = make_spans(vectors)
    enricher = SpanEnricher()
    wrong = []
    for vector, span in zip(vectors, spans):
        got = python_derived(span, enricher)
        if got != expected(vector):
            actual = {k: got[v] for k, v in EXPECT.items() if v in got}
            wrong.append(f"{vector['name']}: expect {actual}")
    assert not wrong, "vectors out of date:\n" + "\n".join(wrong)


def test_vectors_cover_every_case():
    vectors = load_vectors()
    assert len({v["name"] for v in vectors}) == len(vectors)
    assert len({v["trace_id"] for v in vectors}) == len(vectors)
    categories = {v["expect"].get("category") for v in vectors}
    from otel_agentmon.semconv.errors import ErrorCategory

    assert {c.value for c in ErrorCategory} <= categories
    statuses = {v["expect"].get("cost_status") for v in vectors}
    assert {am.CostStatus.PRICED, am.CostStatus.UNPRICED, am.CostStatus.MISSING_USAGE,
            am.CostStatus.INVALID_USAGE} <= statuses
    assert {True, None} == {v["expect"].get("sampled") for v in vectors}


# --- (2) validate -----------------------------------------------------------------------------


@pytest.mark.slow
def test_collector_validates_the_committed_config():
    result = validate(CONFIG)
    assert result.returncode == 0, f"otelcol-agentmon validate rejected collector-config.yaml:\n{result.stderr}"


@pytest.mark.slow
def test_collector_validates_other_options(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("prices:\n  - model: acme-llama-70b\n    provider: openai\n    input_mtok: 0.2\n"
                      "    output_mtok: 0.8\n    cache_read_mtok: 0.1\n  - model_prefix: acme-\n"
                      "    input_mtok: 0\n    output_mtok: 0\n")
    for name, text in {
        "rate-0": collector_config(sample_rate=0.0),
        "rate-1": collector_config(["openai/gpt-4o"], sample_rate=1.0),
        "custom-prices": collector_config(prices_file=prices),
        "everything-of-openai": collector_config(["openai/" + m for m in ("o1", "gpt-4-turbo", "gpt-4o-2024-05-13")]),
    }.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        result = validate(path)
        assert result.returncode == 0, f"{name}: otelcol-agentmon validate says:\n{result.stderr}"


def _bad_statement(source: str) -> str:
    assert "set(span.attributes[" in source
    return source.replace("set(span.attributes[", "sett(span.attributes[", 1)


def _bad_regex(source: str) -> str:
    old = 'IsMatch(span.cache["model"], "claude")'
    assert old in source
    return source.replace(old, 'IsMatch(span.cache["model"], "(?!claude)")', 1)


def _unknown_component(source: str) -> str:
    data = yaml.safe_load(source)
    data["service"]["pipelines"]["metrics"]["exporters"].append("kafka")
    return yaml.safe_dump(data, sort_keys=False, width=1 << 20)


@pytest.mark.slow
@pytest.mark.parametrize("breakage, message", [
    (_bad_statement, 'undefined function "sett"'),
    (_bad_regex, "is not a valid pattern"),
    (_unknown_component, "kafka"),
], ids=["ottl-function", "ottl-regex", "unknown-component"])
def test_collector_rejects_a_broken_config_with_its_own_message(tmp_path, breakage, message):
    path = tmp_path / "broken.yaml"
    path.write_text(breakage(collector_config()))
    result = validate(path)
    assert result.returncode != 0, "the collector accepted a broken config"
    assert message in result.stderr, f"the collector's own message:\n{result.stderr}"


# --- (3) parity and (4) Prometheus -------------------------------------------------------------


def send(collector: Collector, vectors: list[dict[str, Any]], spans_file: Path):
    """The vectors as spans, over OTLP gRPC to the collector; its file exporter's output once
    every span is there."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=collector.otlp_endpoint, insecure=True)
    spans = make_spans(vectors, SimpleSpanProcessor(exporter))
    ids = {format(span.context.span_id, "016x") for span in spans}

    def arrived():
        got = read_file_exporter(spans_file)
        return got if ids <= got.keys() else None

    return spans, wait_until(arrived, 30, "every span in the file exporter's output", interval=0.2)


@pytest.fixture(scope="module")
def collector_run(tmp_path_factory):
    """The vectors sent to the real collector; its outputs, once all arrived."""
    directory = tmp_path_factory.mktemp("collector")
    spans_file = directory / "spans.jsonl"
    collector = start_collector(directory, config_for_test(collector_config(), spans_file))
    try:
        vectors = load_vectors() + model_cases()
        spans, received = send(collector, vectors, spans_file)
        yield vectors, spans, received, collector
    finally:
        collector.stop()


@pytest.mark.slow
def test_collector_derives_what_the_python_processors_derive(collector_run):
    """Value for value, for every vector and for random token counts on every default model:
    the same keys and the same values; costs are compared as doubles with ==, not approximately
    (the generator writes the Python float operations in their order)."""
    vectors, spans, received, _ = collector_run
    assert_same_derivations(vectors, spans, received, SpanEnricher())


@pytest.mark.slow
def test_custom_prices_and_another_sample_rate_agree_too(tmp_path):
    """A prices file (a private model, a prefix, an override of a genai-prices model) and a
    sample rate of one half, in both: the same derived attributes."""
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n"
        "  - model: ft:gpt-4o-mini-2024-07-18:acme::b8xz\n    provider: openai\n    input_mtok: 0.3\n"
        "    output_mtok: 1.2\n    cache_read_mtok: 0.15\n"
        "  - model_prefix: acme-llama-\n    input_mtok: 0.05\n    output_mtok: 0.1\n"
        "  - model: gpt-4o\n    provider: azure.ai.openai\n    input_mtok: 2.75\n    output_mtok: 11\n"
        "    output_reasoning_mtok: 12.5\n"
    )
    spans_file = tmp_path / "spans.jsonl"
    collector = start_collector(tmp_path, config_for_test(collector_config(sample_rate=0.5, prices_file=prices),
                                                          spans_file))
    rng = random.Random(7)
    chat = {"operation": "chat"}
    vectors = [
        {"name": "fine-tuned", **chat, "provider": "openai", "request_model": "FT:gpt-4o-mini-2024-07-18:acme::B8xz",
         "input_tokens": 12345, "output_tokens": 678, "cache_read_tokens": 10000},
        {"name": "fine-tuned, other provider", **chat, "provider": "anthropic",
         "request_model": "ft:gpt-4o-mini-2024-07-18:acme::b8xz", "input_tokens": 1, "output_tokens": 1},
        {"name": "prefix", **chat, "provider": "ollama", "request_model": "acme-llama-70b",
         "input_tokens": 999, "output_tokens": 111},
        {"name": "override on azure", **chat, "provider": "azure.ai.openai", "request_model": "gpt-4o",
         "input_tokens": 3333, "output_tokens": 4444, "reasoning_tokens": 4000},
        {"name": "no override on openai", **chat, "provider": "openai", "request_model": "gpt-4o",
         "input_tokens": 3333, "output_tokens": 4444},
    ]
    vectors += [{"name": f"sample {i}", "operation": "execute_tool", "trace_id": format(rng.getrandbits(128), "032x")}
                for i in range(40)]
    for vector in vectors[:5]:
        vector["trace_id"] = format(rng.getrandbits(128), "032x")
    try:
        spans, received = send(collector, vectors, spans_file)
    finally:
        collector.stop()
    enricher = SpanEnricher(CostCalculator(load_prices_file(prices)), quality_sample_rate=0.5)
    assert_same_derivations(vectors, spans, received, enricher)
    derived = [python_derived(span, enricher) for span in spans]
    assert [d.get(am.COST_STATUS) for d in derived[:5]] == ["priced", "unpriced", "priced", "priced", "priced"]
    assert 5 < sum(am.QUALITY_SAMPLED in d for d in derived) < 40


def assert_same_derivations(vectors, spans, received, enricher: SpanEnricher) -> None:
    mismatches = []
    for vector, span in zip(vectors, spans):
        original = dict(span.attributes or {})
        from_collector = received[format(span.context.span_id, "016x")]
        collector_derived = {k: v for k, v in from_collector.items()
                             if k not in original or _normalized(original[k]) != v}
        lost = set(original) - set(from_collector)
        python = for_collector(vector, {k: _normalized(v) for k, v in python_derived(span, enricher).items()})
        if collector_derived != python or lost:
            mismatches.append(f"{vector['name']}:\n  collector {collector_derived}\n  python    {python}"
                              + (f"\n  lost {sorted(lost)}" if lost else ""))
        for key, value in collector_derived.items():
            assert key in DERIVED, f"{vector['name']}: the collector left {key}={value!r} on the span"
    assert not mismatches, "collector and Python processors differ:\n" + "\n".join(mismatches)


def _normalized(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            found.append((labels, float(match.group(2))))
    return found


@pytest.mark.slow
def test_prometheus_exporter_shows_cost_and_errors(collector_run):
    vectors, spans, _, collector = collector_run
    enricher = SpanEnricher()
    # what the spans carry after the collector: their own attributes and the derived ones (a cost
    # the provider reported, a category the instrumentor set, count as well)
    final = [{**dict(span.attributes or {}), **for_collector(vector, python_derived(span, enricher))}
             for vector, span in zip(vectors, spans)]
    total = math.fsum(f[am.COST_AMOUNT] for f in final if isinstance(f.get(am.COST_AMOUNT), float))
    errors = Counter((f[am.ERROR_CATEGORY], f[am.ERROR_SEVERITY]) for f in final if am.ERROR_CATEGORY in f)

    def figures():
        text = collector.metrics()
        cost = _samples(text, "agentmon_cost_USD_total")
        by_category = Counter()
        for labels, value in _samples(text, "agentmon_errors_total"):
            by_category[(labels["agentmon_error_category"], labels["agentmon_error_severity"])] += int(value)
        calls = _samples(text, "traces_span_metrics_calls_total")
        operations = {labels.get("gen_ai_operation_name") for labels, _ in calls}
        done = (math.isclose(math.fsum(v for _, v in cost), total, rel_tol=1e-12) and by_category == errors
                and operations >= {"chat", "embeddings", "execute_tool", "invoke_agent"})
        return (text, cost, by_category) if done else None

    try:
        text, cost, by_category = wait_until(figures, 30, "the cost, error and span metrics of every vector")
    except AssertionError:
        shown = [line for line in collector.metrics().splitlines()
                 if line.startswith(("agentmon_", "traces_span_metrics_calls"))]
        raise AssertionError(f"expected cost {total!r}, errors {dict(errors)} and span metrics of every "
                             "operation; /metrics shows:\n" + "\n".join(shown)) from None
    # labels the alert rules group by: job (the service) and provider
    assert {labels.get("job") for labels, _ in cost} == {"collector-vectors"}
    assert all(labels.get("job") == "collector-vectors" for labels, _ in _samples(text, "agentmon_errors_total"))
    assert any("gen_ai_provider_name" in labels for labels, _ in _samples(text, "agentmon_errors_total"))
