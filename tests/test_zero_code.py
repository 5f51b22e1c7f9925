"""Zero-code: ``opentelemetry-instrument python agent.py`` against the local provider server,
exporting to a real OTLP receiver. Most of this module is the permanent interop test with the
official GenAI instrumentations (ours disabled so theirs run); the last part runs ours."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from otel_agentmon.processors import is_sampled, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parent / "scenarios" / "openai_workload.py"
ANTHROPIC_SCENARIO = Path(__file__).parent / "scenarios" / "anthropic_workload.py"
INSTRUMENT = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))

# What each injected fault must be categorized as.
EXPECTED_CATEGORY = {
    "rate_limit": "rate_limit",
    "server_error": "provider_error",
    "service_unavailable": "service_unavailable",
    "overloaded": "service_unavailable",
    "auth": "auth_error",
    "context_length_exceeded": "context_length_exceeded",
    "bad_request": "bad_request",
    "content_filter": "content_filter",
    "timeout": "timeout",
    "connection_reset": "network_error",
    "malformed_sse": "validation_error",
}


# With ours enabled the official instrumentations are not loaded (one model span per call).
OFFICIAL_ONLY = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agentmon_openai,agentmon_anthropic"}


def run_instrumented(script: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    base.update({"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "200"})
    base.update(env)
    return subprocess.run([INSTRUMENT, sys.executable, str(script)], env=base, capture_output=True, text=True,
                          timeout=timeout)


def one_call_script(tmp_path: Path) -> Path:
    script = tmp_path / "one_call.py"
    script.write_text(
        "import os, openai\n"
        "c = openai.OpenAI(base_url=os.environ['PROVIDER_BASE_URL'], api_key='k', max_retries=0)\n"
        "c.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])\n"
    )
    return script


def _by_case(spans):
    """Model spans keyed by the name of the ``case <name>`` span above them."""
    parents = {s["span_id"]: s["name"][len("case "):] for s in spans if s["name"].startswith("case ")}
    return {parents[s["parent_span_id"]]: s for s in spans
            if s["parent_span_id"] in parents and ga.OPERATION_NAME in s["attributes"]}


def _library_cost(attributes) -> float:
    usage = Usage(
        input_tokens=attributes[ga.USAGE_INPUT_TOKENS],
        output_tokens=attributes.get(ga.USAGE_OUTPUT_TOKENS, 0),
        cache_read_tokens=attributes.get(ga.USAGE_CACHE_READ_INPUT_TOKENS, 0),
        output_reasoning_tokens=attributes.get(ga.USAGE_REASONING_OUTPUT_TOKENS, 0),
    )
    model = attributes.get(ga.RESPONSE_MODEL) or attributes[ga.REQUEST_MODEL]
    return float(calc_price(usage, model, provider_id="openai").total_price)


@pytest.fixture(scope="module")
def grpc_run(provider_server, _otlp_receiver_session):
    receiver = _otlp_receiver_session
    receiver.clear()
    result = run_instrumented(SCENARIO, {
        **OFFICIAL_ONLY,
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        "OTEL_SERVICE_NAME": "scenario-agent",
        "AGENTMON_QUALITY_SAMPLE_RATE": "0.3",
        "SCENARIO_TRACES": "30",
    })
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.wait_for_spans(lambda s: len(s) >= 15 + 30 * 3)
    return outcomes, spans


def test_model_spans_come_from_the_official_instrumentation(grpc_run):
    _, spans = grpc_run
    chat = _by_case(spans)["chat"]
    assert chat["scope"].startswith("opentelemetry.instrumentation.genai.openai")
    assert chat["resource"]["service.name"] == "scenario-agent"
    assert chat["attributes"][ga.PROVIDER_NAME] == "openai"


def test_cost_equals_genai_prices_figure(grpc_run):
    _, spans = grpc_run
    cases = _by_case(spans)
    for name in ("chat", "stream", "embeddings"):
        attributes = cases[name]["attributes"]
        assert attributes[am.COST_STATUS] == "priced", (name, attributes)
        assert attributes[am.COST_CURRENCY] == "USD"
        assert attributes[am.COST_SOURCE] == "local"
        assert math.isclose(attributes[am.COST_AMOUNT], _library_cost(attributes), rel_tol=1e-9), name
    chat = cases["chat"]["attributes"]
    assert chat[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 1000  # the cache-read discount is in the figure


def test_unknown_model_is_unpriced_without_amount(grpc_run):
    _, spans = grpc_run
    attributes = _by_case(spans)["unpriced"]["attributes"]
    assert attributes[am.COST_STATUS] == "unpriced"
    assert am.COST_AMOUNT not in attributes


@pytest.mark.parametrize("fault", sorted(EXPECTED_CATEGORY))
def test_each_injected_fault_gets_its_category(grpc_run, fault):
    outcomes, spans = grpc_run
    span = _by_case(spans)[f"fault:{fault}"]
    attributes = span["attributes"]
    assert attributes.get(am.ERROR_CATEGORY) == EXPECTED_CATEGORY[fault], (outcomes[f"fault:{fault}"], attributes)
    assert attributes[am.ERROR_SEVERITY] in ("critical", "warning", "medium")


def test_successful_calls_have_no_category(grpc_run):
    _, spans = grpc_run
    for name in ("chat", "stream", "embeddings"):
        assert am.ERROR_CATEGORY not in _by_case(spans)[name]["attributes"]


def test_sample_flag_follows_the_trace_id_rule_on_every_span(grpc_run):
    _, spans = grpc_run
    threshold = sample_threshold(0.3)
    traces: dict[str, list] = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
        assert span["attributes"].get(am.QUALITY_SAMPLED, False) is is_sampled(int(span["trace_id"], 16), threshold)
    sampled = [t for t, members in traces.items() if members[0]["attributes"].get(am.QUALITY_SAMPLED)]
    assert 0 < len(sampled) < len(traces)


def test_http_protobuf_when_the_protocol_says_so(provider_server, otlp_receiver, tmp_path):
    script = one_call_script(tmp_path)
    result = run_instrumented(script, {
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.http_endpoint,
    })
    assert result.returncode == 0, result.stderr[-3000:]
    (span,) = otlp_receiver.wait_for_spans(lambda s: len(s) >= 1)
    assert span["attributes"][am.COST_STATUS] == "priced"


def test_custom_prices_file_prices_a_private_model(provider_server, otlp_receiver, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("prices:\n  - model: acme-private-1\n    input_mtok: 1.0\n    output_mtok: 2.0\n")
    script = tmp_path / "private.py"
    script.write_text(
        "import os, openai\n"
        "c = openai.OpenAI(base_url=os.environ['PROVIDER_BASE_URL'], api_key='k', max_retries=0)\n"
        "c.chat.completions.create(model='acme-private-1', messages=[{'role': 'user', 'content': 'hi'}],\n"
        "    extra_headers={'x-agentmon-reply': '{\"input_tokens\": 1000, \"output_tokens\": 500}'})\n"
    )
    result = run_instrumented(script, {
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint,
        "AGENTMON_PRICES_FILE": str(prices),
    })
    assert result.returncode == 0, result.stderr[-3000:]
    (span,) = otlp_receiver.wait_for_spans(lambda s: len(s) >= 1)
    assert math.isclose(span["attributes"][am.COST_AMOUNT], 1000 * 1e-6 + 500 * 2e-6)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"AGENTMON_QUALITY_SAMPLE_RATE": "lots"}, "AGENTMON_QUALITY_SAMPLE_RATE='lots' is not a number"),
        ({"AGENTMON_PRICES_FILE": "/nonexistent/prices.yaml"}, "/nonexistent/prices.yaml: cannot read prices file"),
    ],
)
def test_bad_configuration_is_one_clear_line_and_the_app_runs(provider_server, tmp_path, env, fragment):
    script = tmp_path / "app.py"
    script.write_text("print('app ran')\n")
    result = run_instrumented(script, env)
    assert result.returncode == 0
    assert "app ran" in result.stdout
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_leaves_the_app_unaffected(provider_server, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        "import os, time, openai\n"
        "c = openai.OpenAI(base_url=os.environ['PROVIDER_BASE_URL'], api_key='k', max_retries=0)\n"
        "start = time.perf_counter()\n"
        "for _ in range(20):\n"
        "    r = c.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "print('calls', time.perf_counter() - start, r.choices[0].message.content)\n"
    )
    started = time.monotonic()
    result = run_instrumented(script, {
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",  # nothing listens on the discard port
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    })
    assert result.returncode == 0, result.stderr[-3000:]
    assert "calls" in result.stdout
    calls_seconds = float(result.stdout.split()[1])
    assert calls_seconds < 10, calls_seconds  # the export failures never block the calls
    assert time.monotonic() - started < 90


# --- Anthropic, through the official opentelemetry-instrumentation-genai-anthropic ----------

ANTHROPIC_EXPECTED_CATEGORY = {**{k: v for k, v in EXPECTED_CATEGORY.items() if k != "malformed_sse"}}


@pytest.fixture(scope="module")
def anthropic_run(provider_server, _otlp_receiver_session):
    receiver = _otlp_receiver_session
    receiver.clear()
    result = run_instrumented(ANTHROPIC_SCENARIO, {
        **OFFICIAL_ONLY,
        "PROVIDER_ANTHROPIC_URL": provider_server.anthropic_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
    })
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.wait_for_spans(lambda s: len(s) >= 2 * (2 + len(ANTHROPIC_EXPECTED_CATEGORY)))
    return outcomes, _by_case(spans)


def test_anthropic_cost_prices_cache_reads_and_writes(anthropic_run):
    _, cases = anthropic_run
    attributes = cases["messages"]["attributes"]
    assert cases["messages"]["scope"].startswith("opentelemetry.instrumentation.genai.anthropic")
    assert attributes[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 3000
    assert attributes[ga.USAGE_CACHE_WRITE_INPUT_TOKENS] == 500
    usage = Usage(input_tokens=attributes[ga.USAGE_INPUT_TOKENS], output_tokens=attributes[ga.USAGE_OUTPUT_TOKENS],
                  cache_read_tokens=3000, cache_write_tokens=500)
    model = attributes.get(ga.RESPONSE_MODEL) or attributes[ga.REQUEST_MODEL]
    expected = float(calc_price(usage, model, provider_id="anthropic").total_price)
    assert math.isclose(attributes[am.COST_AMOUNT], expected, rel_tol=1e-9)
    assert cases["stream"]["attributes"][am.COST_STATUS] == "priced"


@pytest.mark.parametrize("fault", sorted(ANTHROPIC_EXPECTED_CATEGORY))
def test_anthropic_faults_get_their_category(anthropic_run, fault):
    outcomes, cases = anthropic_run
    attributes = cases[f"fault:{fault}"]["attributes"]
    assert attributes.get(am.ERROR_CATEGORY) == ANTHROPIC_EXPECTED_CATEGORY[fault], (outcomes[f"fault:{fault}"], attributes)


# --- otel-agentmon's own instrumentors (the default) ----------------------------------------

@pytest.fixture(scope="module")
def ours_run(provider_server, _otlp_receiver_session):
    receiver = _otlp_receiver_session
    receiver.clear()
    env = {
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        "AGENTMON_QUALITY_SAMPLE_RATE": "0.3",
        "SCENARIO_TRACES": "20",
    }
    result = run_instrumented(SCENARIO, env)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.wait_for_spans(lambda s: len(s) >= 15 + 20 * 3)
    time.sleep(0.5)  # a duplicate would arrive in the same batches
    return outcomes, receiver.spans


def test_ours_win_with_the_official_installed_one_model_span_per_call(ours_run):
    _, spans = ours_run
    parents = {s["span_id"] for s in spans if s["name"].startswith("case ")}
    model_spans = [s for s in spans if ga.OPERATION_NAME in s["attributes"]
                   and s["attributes"][ga.OPERATION_NAME] in ("chat", "embeddings")]
    assert {s["scope"] for s in model_spans} == {"otel_agentmon.instrumentation"}
    children = [s for s in model_spans if s["parent_span_id"] in parents]
    assert len(children) == len(parents) == 15  # exactly one model span under each case
    assert len(model_spans) == 15 + 20 * 2


def test_ours_zero_code_derivations(ours_run):
    outcomes, spans = ours_run
    cases = _by_case(spans)
    chat = cases["chat"]["attributes"]
    assert math.isclose(chat[am.COST_AMOUNT], _library_cost(chat), rel_tol=1e-9)
    assert cases["stream"]["attributes"][am.COST_STATUS] == "priced"  # usage requested on the stream
    assert cases["unpriced"]["attributes"][am.COST_STATUS] == "unpriced"
    for fault, category in EXPECTED_CATEGORY.items():
        assert cases[f"fault:{fault}"]["attributes"].get(am.ERROR_CATEGORY) == category, (fault, outcomes)
    threshold = sample_threshold(0.3)
    for span in spans:
        assert span["attributes"].get(am.QUALITY_SAMPLED, False) is is_sampled(int(span["trace_id"], 16), threshold)


def test_disabling_ours_hands_the_calls_to_the_official_one(provider_server, otlp_receiver, tmp_path):
    script = one_call_script(tmp_path)
    result = run_instrumented(script, {
        "PROVIDER_BASE_URL": provider_server.openai_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint,
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agentmon_openai",
    })
    assert result.returncode == 0, result.stderr[-3000:]
    spans = otlp_receiver.wait_for_spans(lambda s: len(s) >= 1)
    time.sleep(0.5)
    (span,) = otlp_receiver.spans
    assert span["scope"].startswith("opentelemetry.instrumentation.genai.openai")
    assert span["attributes"][am.COST_STATUS] == "priced"


def test_ours_for_anthropic_one_model_span_per_call(provider_server, otlp_receiver):
    # the anthropic SDK traces its own calls by default; with ours active, ours is the one span
    result = run_instrumented(ANTHROPIC_SCENARIO, {
        "PROVIDER_ANTHROPIC_URL": provider_server.anthropic_base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint,
    })
    assert result.returncode == 0, result.stderr[-3000:]
    expected_cases = 2 + len(ANTHROPIC_EXPECTED_CATEGORY)
    spans = otlp_receiver.wait_for_spans(lambda s: len(s) >= 2 * expected_cases)
    time.sleep(0.5)
    spans = otlp_receiver.spans
    model_spans = [s for s in spans if not s["name"].startswith("case ")]
    assert {s["scope"] for s in model_spans} == {"otel_agentmon.instrumentation"}, {s["name"] for s in model_spans}
    assert len(model_spans) == expected_cases
    cases = _by_case(spans)
    assert cases["messages"]["attributes"][ga.USAGE_CACHE_WRITE_INPUT_TOKENS] == 500
    for fault, category in ANTHROPIC_EXPECTED_CATEGORY.items():
        assert cases[f"fault:{fault}"]["attributes"].get(am.ERROR_CATEGORY) == category, fault
