"""Metrics to alerts, end to end on the real programs.

An agent workload runs under ``opentelemetry-instrument`` with the Prometheus exporter; the
real Prometheus (Debian's 2.42) scrapes it and evaluates the shipped alert rules; the real
Alertmanager (0.25) routes with the shipped config to a local webhook receiver standing in
for PagerDuty and Slack. Every query of the shipped Grafana dashboard is run against that
Prometheus and must return data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from _monitoring_stack import (
    DASHBOARD,
    Alertmanager,
    Prometheus,
    WebhookReceiver,
    free_port,
    http_ok,
    wait_until,
)

pytestmark = pytest.mark.slow

WORKLOAD = Path(__file__).parent / "scenarios" / "monitored_workload.py"
INSTRUMENT = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))
SERVICE = "trip-agents"


class Workload:
    """The workload process; stays alive (serving /metrics) until stopped."""

    def __init__(self, provider_server, directory: Path) -> None:
        self.metrics_port = free_port()
        budgets = directory / "budgets.yaml"
        budgets.write_text(
            f"mode: observe\nstate_file: {directory / 'budget-state.json'}\n"
            "budgets:\n  - department: research\n    daily: 0.0001\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
        env.update({
            "OTEL_SERVICE_NAME": SERVICE,
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(self.metrics_port),
            "AGENTMON_METRICS_USER_ID": "true",
            "AGENTMON_QUALITY_SAMPLE_RATE": "1",
            "AGENTMON_EVALUATORS": "all",
            "AGENTMON_BUDGETS_FILE": str(budgets),
            "PROVIDER_OPENAI_URL": provider_server.openai_base_url,
            "PROVIDER_ANTHROPIC_URL": provider_server.anthropic_base_url,
        })
        self.process = subprocess.Popen([INSTRUMENT, sys.executable, str(WORKLOAD)], env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stdout.extend(self.process.stdout), daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        self.target = f"127.0.0.1:{self.metrics_port}"

    def wait_ready(self, timeout: float = 120) -> None:
        wait_until(lambda: "ready\n" in self.stdout or self.process.poll() is not None, timeout,
                   "the workload to finish its traffic", interval=0.1)
        assert "ready\n" in self.stdout, (
            f"workload ended early ({self.process.returncode}):\n{''.join(self.stdout)}{''.join(self.stderr)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def stack(provider_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("monitoring")
    receiver = WebhookReceiver()
    alertmanager = Alertmanager(directory, receiver)
    workload = Workload(provider_server, directory)
    prometheus = Prometheus(directory, [workload.target], alertmanager.url)
    try:
        workload.wait_ready()
        yield prometheus, alertmanager, receiver, workload
    finally:
        workload.stop()
        prometheus.stop()
        alertmanager.stop()
        receiver.stop()


def test_prometheus_scrapes_the_instrumented_process(stack):
    prometheus, _, _, workload = stack
    assert http_ok(f"http://{workload.target}/metrics")
    wait_until(lambda: prometheus.query(f'up{{instance="{workload.target}"}} == 1'), 30, "the scrape to succeed")
    rounds, rate_limited = 80, 60
    expected_calls = {"gpt-4o-mini": rounds + rate_limited, "gpt-4o": rounds, "claude-haiku-4-5": rounds}

    def calls_by_model() -> dict[str, float]:
        calls = prometheus.query("sum by (gen_ai_request_model) (gen_ai_client_operation_duration_seconds_count)")
        return {series["metric"]["gen_ai_request_model"]: float(series["value"][1]) for series in calls}

    wait_until(lambda: calls_by_model() == expected_calls, 30, f"call counts {expected_calls}")
    errors = prometheus.query("sum by (agentmon_error_category) (agentmon_errors_total)")
    assert {s["metric"]["agentmon_error_category"]: float(s["value"][1]) for s in errors} == {"rate_limit": rate_limited}
    assert prometheus.query('sum(agentmon_cost_USD_total{user_id="bob@example.com"}) > 0')


def _delivered(receiver: WebhookReceiver, path: str, alertname: str) -> list[dict]:
    return [p for p in receiver.payloads(path) if alertname in json.dumps(p)]


def test_error_burst_pages_pagerduty_and_warns_slack(stack):
    prometheus, _, receiver, _ = stack
    wait_until(lambda: {"AgentmonHighErrorRate", "AgentmonRateLimitStorm"} <= prometheus.firing_alerts(), 60,
               "Prometheus to fire the error-rate and rate-limit alerts")
    pages = wait_until(lambda: _delivered(receiver, "/pagerduty", "AgentmonHighErrorRate"), 60,
                       "Alertmanager to page PagerDuty")
    page = pages[0]
    assert page["routing_key"] == "test-routing-key"
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert "AgentmonHighErrorRate" in page["payload"]["summary"] or "error" in page["payload"]["summary"].lower()
    assert page["dedup_key"]
    messages = wait_until(lambda: _delivered(receiver, "/slack", "AgentmonRateLimitStorm"), 60,
                          "Alertmanager to post to Slack")
    text = json.dumps(messages[0])
    assert "docs/runbooks.md#" in text, "the Slack message links the runbook"
    # warnings never page, criticals never go to the warning channel
    assert not _delivered(receiver, "/pagerduty", "AgentmonRateLimitStorm")
    assert not _delivered(receiver, "/slack", "AgentmonHighErrorRate")


def test_daily_budget_exceeded_pages(stack):
    prometheus, _, receiver, _ = stack
    wait_until(lambda: "AgentmonDailyBudgetExceeded" in prometheus.firing_alerts(), 60,
               "the budget alert to fire")
    wait_until(lambda: _delivered(receiver, "/pagerduty", "AgentmonDailyBudgetExceeded"), 60,
               "the budget page")


# --- the Grafana dashboard ---------------------------------------------------------------------

def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            queries.append((f"{panel['title']} [{target['refId']}]", target["expr"]))
    return queries


def _variables() -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {v["name"]: v.get("allValue", ".*") for v in dashboard["templating"]["list"] if v["type"] == "query"}


def as_prometheus_query(expression: str) -> str:
    """A panel query as Grafana sends it, with 'All' chosen for every variable."""
    expression = expression.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    expression = expression.replace("$__range", "1h")
    for name, all_value in _variables().items():
        expression = re.sub(r"\$\{" + name + r"(:[a-z]+)?\}|\$" + name + r"\b", all_value, expression)
    assert "$" not in expression, f"unknown variable in {expression}"
    return expression


@pytest.mark.parametrize("title,expression", _dashboard_queries(), ids=[t for t, _ in _dashboard_queries()])
def test_dashboard_panel_returns_data(stack, title, expression):
    prometheus = stack[0]
    query = as_prometheus_query(expression)
    wait_until(lambda: prometheus.query(query), 60, f"data for panel {title}: {query}")
