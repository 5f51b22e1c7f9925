"""Agents -> OTLP -> the collector with collector-config.yaml -> Jaeger v2, read back through
Jaeger's query API (api/v3): the derivations done in Python survive the trip, and for spans
that arrive without them the collector derives the same values the Python processors would."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from _collector_stack import Collector, Jaeger
from _monitoring_stack import wait_until
from otel_agentmon.processors import SpanEnricher, is_sampled, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "otel_agentmon.cli"]
RAW_WORKLOAD = Path(__file__).parent / "scenarios" / "raw_genai_workload.py"
DERIVED = (am.COST_AMOUNT, am.COST_CURRENCY, am.COST_SOURCE, am.COST_STATUS, am.ERROR_CATEGORY, am.ERROR_SEVERITY,
           am.QUALITY_SAMPLED)
COLLECTOR_SAMPLE_RATE = 0.5  # a config generated at this rate, so that some traces are sampled and some not


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("collector")
    config = directory / "collector-config.yaml"
    generated = subprocess.run(CLI + ["collector-config", "--sample-rate", str(COLLECTOR_SAMPLE_RATE),
                                      "--output", str(config)], capture_output=True, text=True, env=environment())
    assert generated.returncode == 0, generated.stderr
    jaeger = Jaeger(directory)
    collector = Collector(directory, f"127.0.0.1:{jaeger.otlp_port}", config)
    try:
        yield jaeger, collector
    finally:
        collector.stop()
        jaeger.stop()


def window() -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(minutes=10), now + timedelta(minutes=10)


def test_the_demo_reaches_jaeger_through_the_collector(stack, tmp_path):
    jaeger, collector = stack
    result = subprocess.run(CLI + ["demo", "--runs", "12", "--no-report", "--store", str(tmp_path / "demo.db")],
                            env=environment(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{collector.otlp_endpoint}",
                                            AGENTMON_QUALITY_SAMPLE_RATE=str(COLLECTOR_SAMPLE_RATE)),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    spans = wait_until(lambda: [s for s in jaeger.spans("agentmon-demo", *window())
                                if s["name"] == "invoke_agent planner"] and jaeger.spans("agentmon-demo", *window()),
                       30, "the demo's traces in Jaeger")
    names = {span["name"] for span in spans}
    assert {"invoke_agent planner", "invoke_agent writer", "execute_tool lookup_account",
            "execute_tool search_knowledge_base"} <= names
    models = [s for s in spans if s["attributes"].get(ga.OPERATION_NAME) == "chat"]
    assert models and any(am.COST_AMOUNT in s["attributes"] for s in models)
    for span in models:
        status = span["attributes"][am.COST_STATUS]
        assert (am.COST_AMOUNT in span["attributes"]) == (status == "priced")
    assert any(am.ERROR_CATEGORY in s["attributes"] for s in spans)  # the demo injects faults
    # the same rate in the SDK and in the collector: both flag exactly the traces of the rule
    threshold = sample_threshold(COLLECTOR_SAMPLE_RATE)
    for span in spans:
        assert bool(span["attributes"].get(am.QUALITY_SAMPLED)) == is_sampled(int(span["trace_id"], 16), threshold)


def test_the_collector_derives_what_the_python_processors_would(stack, provider_server):
    jaeger, collector = stack
    requests = 20
    result = subprocess.run([sys.executable, str(RAW_WORKLOAD)], capture_output=True, text=True, timeout=120,
                            env=environment(COLLECTOR_OTLP=collector.otlp_endpoint,
                                            PROVIDER_OPENAI_URL=provider_server.openai_base_url,
                                            WORKLOAD_REQUESTS=str(requests)))
    assert result.returncode == 0, result.stderr
    spans = wait_until(lambda: (lambda found: found if sum(s["name"].startswith("invoke_agent") for s in found)
                                == requests else None)(jaeger.spans("raw-agents", *window())),
                       30, "the raw workload's traces in Jaeger")
    enricher = SpanEnricher(quality_sample_rate=COLLECTOR_SAMPLE_RATE)
    sampled = set()
    for span in spans:
        attributes = span["attributes"]
        original = {k: v for k, v in attributes.items() if k not in DERIVED}
        failed = span["status"].get("code") in ("STATUS_CODE_ERROR", 2) or ga.ERROR_TYPE in original
        expected = enricher.derive(original, int(span["trace_id"], 16), failed, ())
        got = {k: attributes[k] for k in DERIVED if k in attributes}
        assert got == expected, f"{span['name']}: collector {got} != python {expected}"
        if got.get(am.QUALITY_SAMPLED):
            sampled.add(span["trace_id"])
    chats = [s for s in spans if s["name"].startswith("chat")]
    assert sum(am.COST_AMOUNT in s["attributes"] for s in chats) == requests - requests // 5
    assert sum(s["attributes"].get(am.ERROR_CATEGORY) == "rate_limit" for s in chats) == requests // 5
    assert 0 < len(sampled) < requests, "a rate of 0.5 samples some traces and not others"
