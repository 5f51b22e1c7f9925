"""``otel-agentmon report``: exact figures over a known store, the alert conditions of
deploy/prometheus/alerts.yaml, budgets, the HTML report's input, and the command's errors."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from _store_data import Call, export
from otel_agentmon.budgets import Budget, BudgetsConfig
from otel_agentmon.processors import CostCalculator, TokenUsage
from otel_agentmon.reports import _alerts
from otel_agentmon.reports._report import build_report, render_json, render_table
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store import StoreLogExporter, StoreSpanExporter

REPO = Path(__file__).resolve().parents[1]
DAY = 86400
T0 = 1_790_000_000 // DAY * DAY
NOW = T0 + 10 * DAY + 1800
CLI = [sys.executable, "-m", "otel_agentmon.cli"]
MINI = CostCalculator().price("openai", "gpt-4o-mini", TokenUsage(1000, 100)).amount


def alert(report, name):
    (row,) = [a for a in report.alerts if a.alert == name]
    return row


def run_cli(*args, env=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def one_line_error(result, fragment):
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otel-agentmon: ")
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# --- a store with known figures ----------------------------------------------------------------

def known_calls() -> list[Call]:
    t = T0 + 2 * 3600 + 17.5
    calls = []
    for i in range(10):
        calls.append(Call(t + i, duration=0.1 * (i + 1), input_tokens=1000, output_tokens=100))
    for i in range(5):
        calls.append(Call(t + 20 + i, provider="acme", model="acme-private-1", input_tokens=50, output_tokens=10,
                          user="bob", department="support", application="planner"))
    for i in range(3):
        calls.append(Call(t + 30 + i, model="gpt-4o", error="RateLimitError", status_code=429, user="bob",
                          department="support", application="planner"))
    calls.append(Call(t + 40, model="gpt-4o", error="otel_agentmon.BudgetExceededError", user="bob",
                      department="support", application="planner"))
    for i, agent in enumerate(["planner", "planner", "planner", "reviewer"]):
        calls.append(Call(t + 50 + i, duration=2.0 + i, operation=ga.Operation.INVOKE_AGENT, agent=agent))
    for i, (tool, failed) in enumerate([("search", False), ("search", True), ("search", False), ("search", False),
                                        ("book", True), ("book", True)]):
        calls.append(Call(t + 60 + i, duration=0.01, operation=ga.Operation.EXECUTE_TOOL, tool=tool,
                          error="RuntimeError" if failed else None))
    calls.append(Call(t + 70, duration=5.0, operation=ga.Operation.INVOKE_WORKFLOW, workflow="triage"))
    return calls


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    path = tmp_path_factory.mktemp("known") / "store.db"
    exporter = StoreSpanExporter(path)
    export(exporter, known_calls())
    exporter.shutdown()
    return str(path)


def test_report_figures_are_exact(known):
    r = build_report(known, now=NOW, budgets=None)
    assert (r.model_calls, r.agent_runs, r.tool_calls, r.workflow_runs) == (19, 4, 6, 1)
    assert r.errors == 3 and r.budget_refusals == 1
    assert r.error_rate == pytest.approx(3 / 18)
    assert [(e.category, e.severity, e.count) for e in r.errors_by_category] == [
        ("rate_limit", "warning", 3), ("tool_error", "medium", 3), ("budget_exceeded", "critical", 1)]
    assert r.first_span == pytest.approx(T0 + 2 * 3600 + 17.5)
    assert r.last_span == pytest.approx(T0 + 2 * 3600 + 17.5 + 70)
    assert r.window_seconds == pytest.approx(70)
    assert r.rate_per_second == pytest.approx(19 / 70) and r.rate_per_minute == pytest.approx(19 * 60 / 70)
    assert (r.tokens.input, r.tokens.output, r.tokens.cache_read) == (10 * 1000 + 5 * 50, 10 * 100 + 5 * 10, 0)

    assert r.cost.total_usd == pytest.approx(10 * MINI, rel=1e-12)
    assert (r.cost.priced_calls, r.cost.unpriced_calls) == (10, 5)
    by_model = {m.model: m for m in r.cost.by_model}
    assert by_model["gpt-4o-mini"].cost_usd == pytest.approx(10 * MINI)
    assert by_model["acme-private-1"].cost_usd is None and by_model["acme-private-1"].unpriced_calls == 5
    assert by_model["gpt-4o"].cost_usd is None and by_model["gpt-4o"].errors == 4
    users = {o.owner: o for o in r.cost.by_user.top}
    assert users["alice"].cost_usd == pytest.approx(10 * MINI) and users["alice"].share == pytest.approx(1.0)
    assert users["bob"].cost_usd == 0 and users["bob"].unpriced_calls == 5 and users["bob"].calls == 9
    assert {o.owner for o in r.cost.by_department.top} == {"research", "support"}
    assert {o.owner: o.calls for o in r.cost.by_application.top} == {"helpdesk": 10, "planner": 9}

    tools = {t.tool: t for t in r.tools}
    assert (tools["search"].calls, tools["search"].failures, tools["search"].failure_rate) == (4, 1, 0.25)
    assert (tools["book"].calls, tools["book"].failures, tools["book"].failure_rate) == (2, 2, 1.0)
    agents = {a.name: a for a in r.latency_by_agent}
    assert agents["planner"].count == 3 and agents["reviewer"].count == 1
    assert agents["planner"].p50 == pytest.approx(3.0, rel=0.025)
    (mini,) = [m for m in r.latency_by_model if m.name == "gpt-4o-mini"]
    assert mini.count == 10
    assert mini.p50 == pytest.approx(0.5, rel=0.025) and mini.p99 == pytest.approx(1.0, rel=0.025)


def test_a_period_counts_the_spans_that_started_in_it(known):
    t = T0 + 2 * 3600 + 17.5
    r = build_report(known, t + 5, t + 25, now=NOW, budgets=None)  # 5 mini calls, 5 unpriced
    assert r.model_calls == 10 and r.cost.unpriced_calls == 5
    assert r.cost.total_usd == pytest.approx(5 * MINI)
    assert r.window_seconds == 20
    empty = build_report(known, T0 + 5 * DAY, T0 + 6 * DAY, now=NOW, budgets=None)
    assert empty.model_calls == 0 and empty.first_span is None
    assert "no GenAI spans stored in this period" in render_table(empty)


def test_table_shows_every_section_and_never_prices_unpriced_calls_at_zero(known):
    text = render_table(build_report(known, now=NOW, budgets=None))
    for section in ("Requests", "Errors by category", "Latency by model", "Latency by agent", "Tokens", "Cost",
                    "Cost by user", "Cost by department", "Cost by application", "Tools", "Alert conditions"):
        assert f"\n{section}" in text, section
    (line,) = [x for x in text.splitlines() if x.split()[:2] == ["acme-private-1", "acme"]]  # the cost table
    assert "unpriced" in line and "$0" not in line
    assert "5 unpriced calls not in the total" in text
    assert "15.79% of model calls" not in text and "16.67% of model calls" in text


def test_json_has_stable_keys(known):
    data = json.loads(render_json(build_report(known, now=NOW, budgets=None)))
    assert list(data) == [
        "store", "generated_at", "since", "until", "covered_since", "covered_until", "first_span", "last_span",
        "window_seconds", "model_calls", "agent_runs", "tool_calls", "workflow_runs", "rate_per_second",
        "rate_per_minute", "errors", "error_rate", "budget_refusals", "errors_by_category", "latency_by_model",
        "latency_by_agent", "tokens", "cost", "tools", "quality", "feedback", "budgets", "alerts_evaluated_at",
        "alerts"]
    assert list(data["cost"]) == ["total_usd", "priced_calls", "unpriced_calls", "by_model", "by_user",
                                  "by_department", "by_application"]
    assert data["first_span"].endswith("Z") and data["budgets"] is None
    assert [a["alert"] for a in data["alerts"]] == [a.alert for a in build_report(known, now=NOW, budgets=None).alerts]


# --- budgets -----------------------------------------------------------------------------------

def test_an_error_is_counted_once_where_it_happened(tmp_path):
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [
        Call(T0, error="RateLimitError", status_code=429),  # the failed model call...
        Call(T0, operation=ga.Operation.INVOKE_AGENT, agent="planner", error="RateLimitError"),  # ...passed up
        Call(T0, operation=ga.Operation.EXECUTE_TOOL, tool="lookup", error="ConnectionError"),
        Call(T0, operation=ga.Operation.INVOKE_AGENT, agent="slow", error="AgentTimeoutError"),
    ])
    r = build_report(str(path), now=T0 + 60, budgets=None)
    assert {(e.category, e.count) for e in r.errors_by_category} == {
        ("rate_limit", 1), ("tool_error", 1), ("agent_timeout", 1)}


def test_budget_status_from_the_stored_cost(tmp_path):
    path = tmp_path / "s.db"
    now = T0 + 3 * DAY + 5000
    export(StoreSpanExporter(path), [
        Call(T0 + 3 * DAY + 100, input_tokens=1000, output_tokens=100),  # today
        Call(T0 + 3 * DAY + 200, input_tokens=1000, output_tokens=100, user="bob", department="support"),
        Call(T0 + DAY, input_tokens=1000, output_tokens=100),  # earlier this month (T0 is the 21st)
    ])
    budgets = BudgetsConfig((Budget("user", "alice", daily=MINI * 0.5, monthly=1.0),
                             Budget("department", "support", daily=MINI * 1.2)))
    r = build_report(str(path), now=now, budgets=budgets)
    lines = {(b.scope, b.owner, b.period): b for b in r.budgets}
    alice_day = lines[("user", "alice", "daily")]
    assert alice_day.spent_usd == pytest.approx(MINI) and alice_day.status == "exceeded"
    assert lines[("user", "alice", "monthly")].spent_usd == pytest.approx(2 * MINI)
    assert lines[("department", "support", "daily")].status == "warning"  # 83%
    held = alert(r, _alerts.DAILY_BUDGET_EXCEEDED)
    assert held.holds is True and held.scope == "user alice"
    assert alert(build_report(str(path), now=now, budgets=None), _alerts.DAILY_BUDGET_EXCEEDED).holds is None


def test_budgets_come_from_the_budgets_file(tmp_path, monkeypatch, known):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("budgets:\n  - user: alice\n    daily: 1000\n")
    monkeypatch.setenv("AGENTMON_BUDGETS_FILE", str(budgets))
    r = build_report(known, now=T0 + 2 * 3600 + 100)
    assert [(b.owner, b.status) for b in r.budgets] == [("alice", "ok")]


# --- alert conditions --------------------------------------------------------------------------

def alert_names_in_rules() -> set[str]:
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def test_every_alert_of_the_rules_is_evaluated_under_its_name(known):
    in_rules = alert_names_in_rules()
    used = {value for name, value in vars(_alerts).items() if name.isupper() and isinstance(value, str)
            and value.startswith("Agentmon")}
    assert used == in_rules
    assert set(_alerts.SEVERITY) == in_rules
    r = build_report(known, now=NOW, budgets=None)
    assert [a.alert for a in r.alerts] == [
        "AgentmonHighErrorRate", "AgentmonHighLatencyP95", "AgentmonRateLimitStorm", "AgentmonCostAnomaly",
        "AgentmonDailyBudgetExceeded", "AgentmonTokenUsageSpike", "AgentmonNoRequests", "AgentmonQualityScoreLow",
        "AgentmonQualityDrift", "AgentmonLowRatingRate", "AgentmonSpansDropped"]


def test_thresholds_are_those_of_the_rules():
    rules = {rule["alert"]: rule["expr"] for group in yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())["groups"]
        for rule in group["rules"] if "alert" in rule}
    assert "> 0.05" in rules[_alerts.HIGH_ERROR_RATE] and ">= 20" in rules[_alerts.HIGH_ERROR_RATE]
    assert _alerts.ERROR_RATE_THRESHOLD == 0.05 and _alerts.ERROR_RATE_MIN_CALLS == 20
    assert ") > 10" in rules[_alerts.HIGH_LATENCY_P95] and _alerts.LATENCY_P95_THRESHOLD_S == 10
    assert "> 0.1" in rules[_alerts.RATE_LIMIT_STORM] and "> 0.2" in rules[_alerts.RATE_LIMIT_STORM]
    assert "1.5 *" in rules[_alerts.COST_ANOMALY] and "> 1" in rules[_alerts.COST_ANOMALY]
    assert "3 *" in rules[_alerts.TOKEN_USAGE_SPIKE] and "> 20" in rules[_alerts.TOKEN_USAGE_SPIKE]
    assert "< 0.6" in rules[_alerts.QUALITY_SCORE_LOW] and _alerts.QUALITY_LOW_THRESHOLD == 0.6
    assert "< -0.1" in rules[_alerts.QUALITY_DRIFT] and _alerts.DRIFT_THRESHOLD == -0.1


def test_nothing_holds_on_a_quiet_store(known):
    r = build_report(known, now=NOW, budgets=None)
    assert not any(a.holds for a in r.alerts if a.alert != _alerts.NO_REQUESTS), r.alerts
    assert alert(r, _alerts.NO_REQUESTS).holds is None or not alert(r, _alerts.NO_REQUESTS).holds


def test_error_rate_and_latency_of_the_last_five_minutes(tmp_path):
    path = tmp_path / "s.db"
    end = T0 + 5 * DAY
    calls = [Call(end - 200 + i, application="helpdesk") for i in range(27)]
    calls += [Call(end - 100 + i, error="InternalServerError", status_code=500, application="helpdesk")
              for i in range(3)]  # 3 of 30: 10%
    calls += [Call(end - 290 + i, model="claude-haiku-4-5", provider="anthropic", duration=12.0,
                   application="slow-app") for i in range(20)]
    calls += [Call(end - 3000 + i, error="InternalServerError", status_code=500, application="old")
              for i in range(30)]  # long before the window
    export(StoreSpanExporter(path), calls)
    r = build_report(str(path), now=end + 5, budgets=None)
    assert r.alerts_evaluated_at == pytest.approx(end - 98)  # the last span
    error_rate = alert(r, _alerts.HIGH_ERROR_RATE)
    assert error_rate.holds is True and error_rate.scope == "svc/helpdesk"
    assert error_rate.value == pytest.approx(0.1)
    latency = alert(r, _alerts.HIGH_LATENCY_P95)
    assert latency.holds is True and latency.scope == "svc/anthropic/claude-haiku-4-5"
    assert latency.value == pytest.approx(12.0)
    assert alert(r, _alerts.RATE_LIMIT_STORM).holds is False


def test_rate_limit_storm(tmp_path):
    path = tmp_path / "s.db"
    end = T0 + 5 * DAY
    calls = [Call(end - 299 + i * 5, model="gpt-4o", error="RateLimitError", status_code=429) for i in range(40)]
    calls += [Call(end - 250 + i, provider="anthropic", model="claude-haiku-4-5") for i in range(30)]
    export(StoreSpanExporter(path), calls)
    storm = alert(build_report(str(path), now=end, budgets=None), _alerts.RATE_LIMIT_STORM)
    assert storm.holds is True and storm.value == pytest.approx(40 / 300) and storm.scope == "svc/openai"
    calm = tmp_path / "calm.db"  # 5 of 21 calls (24%) in five minutes: the share alone
    export(StoreSpanExporter(calm), [Call(end - 200 + i, error="RateLimitError", status_code=429) for i in range(5)]
           + [Call(end - 150 + i) for i in range(16)])
    share = alert(build_report(str(calm), now=end, budgets=None), _alerts.RATE_LIMIT_STORM)
    assert share.holds is True and share.value == pytest.approx(5 / 300)


def test_too_few_calls_for_the_error_rate(tmp_path):
    path = tmp_path / "s.db"
    calls = [Call(T0 + i) for i in range(14)] + [Call(T0 + 20 + i, error="X", status_code=500) for i in range(5)]
    export(StoreSpanExporter(path), calls)
    row = alert(build_report(str(path), now=T0 + 60, budgets=None), _alerts.HIGH_ERROR_RATE)
    assert row.holds is False and row.value == pytest.approx(5 / 19)


def test_cost_anomaly_and_token_spike(tmp_path):
    path = tmp_path / "s.db"
    end = T0 + 9 * DAY
    calls = [Call(end - 8 * DAY + h * 3600, input_tokens=2000, output_tokens=100, application="app")
             for h in range(8 * 24 - 2)]  # a quiet week: one small call an hour
    calls += [Call(end - 600 + i, model="gpt-4o", input_tokens=100_000, output_tokens=1000, application="app")
              for i in range(10)]  # $2.60 in ten minutes, 1M tokens
    export(StoreSpanExporter(path), calls)
    r = build_report(str(path), now=end, budgets=None)
    cost = alert(r, _alerts.COST_ANOMALY)
    assert cost.holds is True and cost.scope == "svc/app", cost
    spike = alert(r, _alerts.TOKEN_USAGE_SPIKE)
    assert spike.holds is True and spike.scope == "svc/app", spike
    # the same burst in a service with no history: no baseline of a day, no cost anomaly
    young = tmp_path / "young.db"
    export(StoreSpanExporter(young), calls[-10:])
    assert alert(build_report(str(young), now=end, budgets=None), _alerts.COST_ANOMALY).holds is False


def test_no_requests_only_for_a_period_that_ends_now(tmp_path):
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(T0 + i * 60) for i in range(30)])
    idle = build_report(str(path), now=T0 + 3600, budgets=None)
    assert alert(idle, _alerts.NO_REQUESTS).holds is True
    busy = build_report(str(path), now=T0 + 30 * 60, budgets=None)
    assert alert(busy, _alerts.NO_REQUESTS).holds is False
    past = build_report(str(path), T0, T0 + 1800, now=T0 + 3600, budgets=None)
    assert alert(past, _alerts.NO_REQUESTS).holds is None


def store_evaluations(path, evaluations, service="svc"):
    logs = LoggerProvider(resource=Resource.create({ga.SERVICE_NAME: service}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    logger = logs.get_logger("test")
    for when, name, score in evaluations:
        logger.emit(timestamp=int(when * 1e9), event_name=ga.EVALUATION_RESULT_EVENT,
                    attributes={ga.EVALUATION_NAME: name, ga.EVALUATION_SCORE_VALUE: score})
    logs.shutdown()


def test_quality_score_drift_and_their_alerts(tmp_path):
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(T0), Call(T0 + 3600)])
    store_evaluations(path, [(T0 + i * 10, "relevance", 0.9) for i in range(25)]
                      + [(T0 + 1800 + i * 60, "relevance", 0.4) for i in range(30)]
                      + [(T0 + 100, "coherence", 1.0), (T0 + 3000, "coherence", 0.5)])
    r = build_report(str(path), now=T0 + 3700, budgets=None)
    quality = {q.evaluation: q for q in r.quality}
    relevance = quality["relevance"]
    assert relevance.count == 55 and relevance.mean == pytest.approx((25 * 0.9 + 30 * 0.4) / 55)
    assert (relevance.first_half_count, relevance.second_half_count) == (25, 30)
    assert relevance.drift == pytest.approx(0.4 - 0.9)
    assert quality["coherence"].drift == pytest.approx(-0.5)
    low = alert(r, _alerts.QUALITY_SCORE_LOW)
    assert low.holds is True and low.scope == "svc/relevance"
    drift = alert(r, _alerts.QUALITY_DRIFT)
    assert drift.holds is True and drift.scope == "relevance"  # coherence: too few evaluations
    assert "Quality" in render_table(r)


# --- the HTML report's input -------------------------------------------------------------------

def test_html_data_of_a_one_minute_run(tmp_path):
    from otel_agentmon.reports._html_input import build_html_data

    path = tmp_path / "s.db"
    calls = [Call(T0 + i * 0.5, duration=0.2 + (i % 7) * 0.3, input_tokens=100 + i, output_tokens=10,
                  model="gpt-4o" if i % 3 else "gpt-4o-mini") for i in range(120)]
    calls += [Call(T0 + 30 + i, error="RateLimitError", status_code=429) for i in range(4)]
    export(StoreSpanExporter(path), calls)
    report = build_report(str(path), now=T0 + 90, budgets=None)
    data = build_html_data(report)
    assert data.period == (report.first_span, report.last_span)
    assert 30 <= len(data.cost_over_time[0].points) <= 61
    assert data.bucket_seconds == 2
    times = [t for t, _ in data.cost_over_time[0].points]
    assert times == sorted(times) and all(t % data.bucket_seconds == 0 for t in times)
    assert {s.name for s in data.cost_over_time} == {"gpt-4o", "gpt-4o-mini"}
    assert math.fsum(v for s in data.cost_over_time for _, v in s.points) == pytest.approx(report.cost.total_usd)
    tokens = {s.name: s for s in data.tokens_over_time}
    assert sum(v for _, v in tokens["input"].points) == report.tokens.input
    assert sum(v for _, v in tokens["output"].points) == report.tokens.output
    bounds = [b for b, _ in data.latency_buckets]
    assert bounds == sorted(bounds) and sum(n for _, n in data.latency_buckets) == 124
    assert data.errors_by_category == (("rate_limit", "warning", 4),)
    assert {m for m, *_ in data.latency_percentiles} == {"gpt-4o", "gpt-4o-mini"}
    titles = [t for t, _, _ in data.tables]
    for expected in ("Cost by user", "Cost by department", "Cost by application", "Tools", "Alert conditions"):
        assert expected in titles
    for _, header, rows in data.tables:
        assert all(len(row) == len(header) for row in rows)


def test_html_data_of_a_month_uses_daily_buckets(tmp_path):
    from otel_agentmon.reports._html_input import build_html_data

    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(T0 + d * DAY + 999, input_tokens=1000, output_tokens=100)
                                     for d in range(30)])
    data = build_html_data(build_report(str(path), now=T0 + 31 * DAY, budgets=None))
    assert data.bucket_seconds == DAY
    (series,) = data.cost_over_time
    assert len(series.points) == 30 and all(v == pytest.approx(MINI) for _, v in series.points)


# --- the command --------------------------------------------------------------------------------

def test_report_command_table_json_and_html(known, tmp_path):
    result = run_cli("report", "--store", known)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("otel-agentmon report") and "Cost by user" in result.stdout
    result = run_cli("report", "--store", known, "--format", "json", "--since", "2026-01-01", "--until", "2100-01-01")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model_calls"] == 19
    page = tmp_path / "report.html"
    result = run_cli("report", "--store", known, "--html", page)
    assert result.returncode == 0, result.stderr
    assert page.read_text().lstrip().lower().startswith("<!doctype html")
    assert not [p for p in tmp_path.iterdir() if p.name != "report.html"]  # no temporary file left
    result = run_cli("report", "--store", known, "--html", tmp_path / "missing-folder" / "r.html")
    one_line_error(result, "cannot write")


def test_store_from_the_environment(known):
    result = run_cli("report", "--format", "json", env={"AGENTMON_STORE_PATH": known})
    assert result.returncode == 0 and json.loads(result.stdout)["store"] == known


@pytest.mark.parametrize("make, fragment, commands", [
    (lambda p: None, "does not exist", ["report", "prune"]),
    (lambda p: p.write_text("this is a text file\n" * 50), "is not an otel-agentmon store (file is not a database)",
     ["report", "chargeback", "optimize", "prune"]),
    (lambda p: p.write_bytes(b""), "is not an otel-agentmon store", ["report", "prune"]),
])
def test_unusable_store_is_one_line(tmp_path, make, fragment, commands):
    path = tmp_path / "store.db"
    make(path)
    content = path.read_bytes() if path.exists() else None
    options = {"chargeback": ["--month", "2026-11"], "prune": ["--older-than", "90d"]}
    for command in commands:
        one_line_error(run_cli(command, *options.get(command, []), "--store", path), fragment)
    assert (path.read_bytes() if path.exists() else None) == content  # left as it was


def test_locked_store_is_one_line(known, tmp_path):
    path = tmp_path / "locked.db"
    path.write_bytes(Path(known).read_bytes())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        one_line_error(run_cli("report", "--store", path), "is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("args, fragment, status", [
    (["--format", "xml"], "argument --format: invalid choice: 'xml'", 2),
    (["--since", "yesterday"], "--since yesterday is not a time", 1),
    (["--since", "2026-11-02", "--until", "2026-11-01"], "--since 2026-11-02 is not before --until 2026-11-01", 1),
    (["--until", "2026-02-30"], "--until 2026-02-30 is not a time", 1),
])
def test_bad_options_are_one_line(known, args, fragment, status):
    result = run_cli("report", "--store", known, *args)
    one_line_error(result, fragment)
    assert result.returncode == status


def test_time_options():
    from otel_agentmon.reports._time import parse_duration, parse_time

    now = 1_800_000_000.0
    assert parse_time("24h", now, "--since") == now - 86400
    assert parse_time("7d", now, "--since") == now - 7 * 86400
    assert parse_time("30m", now, "--since") == now - 1800
    assert parse_time("now", now, "--until") == now
    assert parse_time("2026-11-01", now, "--since") == 1_793_491_200
    assert parse_time("2026-11-01T09:30", now, "--since") == 1_793_491_200 + 9.5 * 3600
    assert parse_time("2026-11-01T09:30:00+01:00", now, "--since") == 1_793_491_200 + 8.5 * 3600
    assert parse_time("2026-11-01T09:30:00Z", now, "--since") == 1_793_491_200 + 9.5 * 3600
    assert (parse_duration("90d"), parse_duration("12h"), parse_duration("1.5h"), parse_duration("90x")) == (
        90 * 86400, 12 * 3600, 5400, None)


def test_prune_command(known, tmp_path):
    path = tmp_path / "copy.db"
    path.write_bytes(Path(known).read_bytes())
    before = build_report(known, now=NOW, budgets=None)
    result = run_cli("prune", "--store", path, "--older-than", "1d")
    assert result.returncode == 0, result.stderr
    assert "30 spans and 0 evaluations" in result.stdout
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM spans").fetchone() == (0,)
    after = build_report(str(path), now=NOW, budgets=None)
    assert (after.model_calls, after.errors, after.tokens, after.tools, after.errors_by_category) == (
        before.model_calls, before.errors, before.tokens, before.tools, before.errors_by_category)
    assert after.latency_by_model == before.latency_by_model
    assert after.cost.total_usd == pytest.approx(before.cost.total_usd)
    one_line_error(run_cli("prune", "--store", path, "--older-than", "ninety"), "--older-than ninety is not a duration")


# --- zero-code ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_zero_code_fills_the_store(provider_server, tmp_path):
    import shutil

    instrument = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))
    script = tmp_path / "agent.py"
    script.write_text(
        "import os, openai, otel_agentmon\n"
        "c = openai.OpenAI(base_url=os.environ['PROVIDER_BASE_URL'], api_key='k', max_retries=0)\n"
        "@otel_agentmon.tool('lookup')\n"
        "def lookup(q):\n"
        "    return q\n"
        "@otel_agentmon.agent('helper')\n"
        "def helper():\n"
        "    lookup('x')\n"
        "    c.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "    c.chat.completions.create(model='acme-private-1', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "    try:\n"
        "        c.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': 'hi'}],\n"
        "                                  extra_headers={'x-agentmon-fault': 'rate_limit'})\n"
        "    except openai.RateLimitError:\n"
        "        pass\n"
        "with otel_agentmon.attribution(user_id='alice', department='research'):\n"
        "    helper()\n"
    )
    store = tmp_path / "zero" / "code.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update({"PROVIDER_BASE_URL": provider_server.openai_base_url, "OTEL_TRACES_EXPORTER": "agentmon_store",
                "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "zero-code",
                "AGENTMON_STORE_PATH": str(store)})
    result = subprocess.run([instrument, sys.executable, str(script)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    connection = sqlite3.connect(store)
    stored = {name: (status, cost, category, user, application, service) for name, status, cost, category, user,
              application, service in connection.execute(
                  "SELECT name, cost_status, cost_usd, error_category, user_id, application, service_name FROM spans")}
    connection.close()
    assert stored["chat gpt-4o-mini"][0] == "priced" and stored["chat gpt-4o-mini"][1] > 0
    assert stored["chat acme-private-1"][:2] == ("unpriced", None)
    assert stored["chat gpt-4o"][2] == "rate_limit"
    assert stored["invoke_agent helper"][3:] == ("alice", "zero-code", "zero-code")
    assert "execute_tool lookup" in stored
    report = run_cli("report", "--store", store, "--format", "json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert (data["model_calls"], data["errors"], data["cost"]["unpriced_calls"]) == (3, 1, 1)
    assert data["errors_by_category"][0]["category"] == "rate_limit"
