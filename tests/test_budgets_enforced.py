"""Budgets through the instrumentors: spend comes from priced calls; in enforce mode a call
over budget raises BudgetExceededError before the request is sent (no tokens spent)."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.trace import StatusCode

import otel_agentmon
from _instrumented import instrument, uninstrument
from otel_agentmon.budgets import BudgetsConfig, budget_status, configure_budgets, parse_budgets
from otel_agentmon.instrumentation import flush_metrics
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

USER = [{"role": "user", "content": "hi"}]
EXPENSIVE = {"x-agentmon-reply": '{"input_tokens": 1000000, "output_tokens": 0}'}  # $0.15 on gpt-4o-mini


@pytest.fixture
def budgets(tmp_path):
    config = parse_budgets(
        f"mode: enforce\nstate_file: {tmp_path / 'state.json'}\nbudgets:\n  - user: alice\n    daily: 0.25\n",
        "budgets.yaml",
    )
    configure_budgets(config)
    yield
    configure_budgets(BudgetsConfig())


def test_over_budget_call_is_refused_before_it_is_sent(budgets, provider_server):
    telemetry = instrument()
    client = openai.OpenAI(base_url=provider_server.openai_base_url, api_key="k", max_retries=0)
    try:
        with otel_agentmon.attribution(user_id="alice", department="research"):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_headers=EXPENSIVE)
            client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_headers=EXPENSIVE)
            flush_metrics()  # spend is recorded off the request thread
            (status,) = [s for s in budget_status() if s.period == "daily"]
            assert status.spent_usd == pytest.approx(0.30)
            sent = len(provider_server.requests)
            with pytest.raises(otel_agentmon.BudgetExceededError):
                client.chat.completions.create(model="gpt-4o-mini", messages=USER)
            assert len(provider_server.requests) == sent  # refused before the request: no tokens spent
        with otel_agentmon.attribution(user_id="bob"):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # bob has no budget
        refused = telemetry.finished()[2]
        assert refused.status.status_code is StatusCode.ERROR
        assert refused.attributes[am.ERROR_CATEGORY] == "budget_exceeded"
        assert refused.attributes[am.ERROR_SEVERITY] == "critical"
    finally:
        uninstrument()


def test_bad_budgets_file_is_a_start_error(tmp_path, monkeypatch):
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - user: alice\n    daily: -5\n")
    monkeypatch.setenv("AGENTMON_BUDGETS_FILE", str(path))
    with pytest.raises(otel_agentmon.ConfigurationError, match=rf"AGENTMON_BUDGETS_FILE: {path}:3"):
        otel_agentmon.configure(span_exporters=[], metric_readers=[])
