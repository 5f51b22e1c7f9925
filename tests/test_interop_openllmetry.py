"""Interop: spans made by OpenLLMetry's opentelemetry-instrumentation-openai (older attribute
names: gen_ai.system, llm.request.type, prompt/completion tokens) are enriched the same way."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from _venvs import side_venv
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parent / "scenarios" / "openai_workload.py"


@pytest.fixture(scope="module")
def openllmetry_run(provider_server, _otlp_receiver_session, tmp_path_factory):
    venv = side_venv("openllmetry", ["opentelemetry-instrumentation-openai", "openai"])
    receiver = _otlp_receiver_session
    receiver.clear()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_", "VIRTUAL_ENV"))}
    env.update({
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "AGENTMON_QUALITY_SAMPLE_RATE": "1.0",
        "SCENARIO_TRACES": "2",
        "TRACELOOP_TELEMETRY": "false",
        # ours would win; this test is about enriching OpenLLMetry's spans
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agentmon_openai",
    })
    result = subprocess.run([str(venv / "bin" / "opentelemetry-instrument"), str(venv / "bin" / "python"), str(SCENARIO)],
                            env=env, capture_output=True, text=True, timeout=180,
                            # opentelemetry-instrument puts the working directory on PYTHONPATH: run
                            # outside the source tree so the installed package is the one imported
                            cwd=tmp_path_factory.mktemp("openllmetry"))
    assert result.returncode == 0, result.stderr[-3000:]
    # anthropic is not installed in this environment: our instrumentor for it stays quiet
    assert "anthropic" not in result.stderr.lower(), result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.wait_for_spans(lambda s: len(s) >= 15 + 2 * 3)
    parents = {s["span_id"]: s["name"][len("case "):] for s in spans if s["name"].startswith("case ")}
    cases = {parents[s["parent_span_id"]]: s for s in spans if s["parent_span_id"] in parents}
    return outcomes, cases, spans


def test_spans_are_openllmetry_ones(openllmetry_run):
    _, cases, _ = openllmetry_run
    chat = cases["chat"]
    assert chat["scope"].startswith("opentelemetry.instrumentation.openai")
    provider = chat["attributes"].get(ga.PROVIDER_NAME) or chat["attributes"].get(ga.DEPRECATED_SYSTEM)
    assert provider.lower() == "openai"
    # OpenLLMetry reports reasoning under its own older name; it is read and priced.
    assert chat["attributes"].get(ga.DEPRECATED_USAGE_REASONING_TOKENS) == 100


def test_cost_from_openllmetry_attributes_equals_genai_prices(openllmetry_run):
    _, cases, _ = openllmetry_run
    for name in ("chat", "stream", "embeddings"):
        attributes = cases[name]["attributes"]
        assert attributes[am.COST_STATUS] == "priced", (name, attributes)
        input_tokens = attributes.get(ga.USAGE_INPUT_TOKENS, attributes.get(ga.DEPRECATED_USAGE_PROMPT_TOKENS))
        output_tokens = attributes.get(ga.USAGE_OUTPUT_TOKENS, attributes.get(ga.DEPRECATED_USAGE_COMPLETION_TOKENS, 0))
        cache_read = attributes.get(ga.USAGE_CACHE_READ_INPUT_TOKENS, 0)
        reasoning = attributes.get(ga.USAGE_REASONING_OUTPUT_TOKENS, attributes.get(ga.DEPRECATED_USAGE_REASONING_TOKENS, 0))
        model = attributes.get(ga.RESPONSE_MODEL) or attributes[ga.REQUEST_MODEL]
        expected = float(calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens or 0,
                                          cache_read_tokens=cache_read, output_reasoning_tokens=reasoning),
                                    model, provider_id="openai").total_price)
        assert math.isclose(attributes[am.COST_AMOUNT], expected, rel_tol=1e-9), name


def test_unknown_model_unpriced(openllmetry_run):
    _, cases, _ = openllmetry_run
    assert cases["unpriced"]["attributes"][am.COST_STATUS] == "unpriced"
    assert am.COST_AMOUNT not in cases["unpriced"]["attributes"]


@pytest.mark.parametrize(
    "fault, category",
    [("rate_limit", "rate_limit"), ("auth", "auth_error"), ("context_length_exceeded", "context_length_exceeded"),
     ("server_error", "provider_error"), ("service_unavailable", "service_unavailable"), ("timeout", "timeout"),
     ("connection_reset", "network_error"), ("bad_request", "bad_request"), ("content_filter", "content_filter")],
)
def test_faults_are_categorized(openllmetry_run, fault, category):
    outcomes, cases, _ = openllmetry_run
    attributes = cases[f"fault:{fault}"]["attributes"]
    assert attributes.get(am.ERROR_CATEGORY) == category, (outcomes[f"fault:{fault}"], attributes, cases[f"fault:{fault}"]["events"])


def test_every_span_is_flagged_at_rate_one(openllmetry_run):
    _, _, spans = openllmetry_run
    assert all(s["attributes"].get(am.QUALITY_SAMPLED) is True for s in spans)
