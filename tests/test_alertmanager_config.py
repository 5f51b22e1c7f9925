"""The Alertmanager configuration (deploy/alertmanager/alertmanager.yaml), checked by the real amtool.

``amtool check-config`` validates it as Alertmanager loads it; ``amtool config routes test``
resolves the receiver of a label set through the real routing tree; ``amtool template
render`` renders the notification templates with Alertmanager's own template engine.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from _tools import tool

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yaml"
RULES = REPO / "deploy" / "prometheus" / "alerts.yaml"

PAGERDUTY_KEY_FILE = "/etc/alertmanager/secrets/pagerduty-routing-key"
SLACK_URL_FILE = "/etc/alertmanager/secrets/slack-webhook-url"


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("amtool"), *args], capture_output=True, text=True, timeout=60)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def receiver(name: str) -> dict:
    return next(r for r in config()["receivers"] if r["name"] == name)


def route_receiver(config_file: Path, *labels: str) -> str:
    result = amtool("config", "routes", "test", f"--config.file={config_file}", *labels)
    assert result.returncode == 0, output(result)
    return result.stdout.strip()


# --- amtool check-config ------------------------------------------------------------------


def test_check_config():
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_check_config_rejects_an_unknown_receiver(tmp_path):
    broken = config()
    broken["route"]["routes"][0]["receiver"] = "pagerduty-missing"
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    result = amtool("check-config", str(path))
    assert result.returncode != 0, output(result)
    assert 'undefined receiver "pagerduty-missing" used in route' in result.stdout + result.stderr, output(result)


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("labels,expected", [
    (("severity=critical", "alertname=AgentmonHighErrorRate", "job=trip-agents"), "pagerduty-critical"),
    (("severity=critical", "alertname=AgentmonDailyBudgetExceeded"), "pagerduty-critical"),
    (("severity=warning", "alertname=AgentmonRateLimitStorm", "job=trip-agents"), "slack-warning"),
    (("alertname=AgentmonSomethingNew",), "slack-warning"),  # no severity: the default receiver
    (("severity=info", "alertname=Watchdog"), "slack-warning"),
])
def test_routes(labels, expected):
    assert route_receiver(CONFIG, *labels) == expected
    verified = amtool("config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={expected}", *labels)
    assert verified.returncode == 0, output(verified)


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_shipped_alert_reaches_its_receiver(rule):
    severity = rule["labels"]["severity"]
    expected = {"critical": "pagerduty-critical", "warning": "slack-warning"}[severity]
    assert route_receiver(CONFIG, f"alertname={rule['alert']}", f"severity={severity}", "job=trip-agents") == expected


def test_grouping_and_timing():
    route = config()["route"]
    assert route["receiver"] == "slack-warning"
    assert {"alertname", "job"} <= set(route["group_by"])
    assert route["group_wait"] == "30s"
    assert route["group_interval"] == "5m"
    assert route["repeat_interval"] == "4h"


# --- receivers ----------------------------------------------------------------------------


def test_one_pagerduty_and_one_slack_config_with_secrets_from_files():
    receivers = config()["receivers"]
    assert {r["name"] for r in receivers} == {"pagerduty-critical", "slack-warning"}
    pagerduty = [c for r in receivers for c in r.get("pagerduty_configs", ())]
    slack = [c for r in receivers for c in r.get("slack_configs", ())]
    assert len(pagerduty) == 1 and len(slack) == 1
    assert pagerduty[0]["routing_key_file"] == PAGERDUTY_KEY_FILE
    assert "routing_key" not in pagerduty[0] and "service_key" not in pagerduty[0]
    assert pagerduty[0]["url"] == "https://events.pagerduty.com/v2/enqueue"
    assert slack[0]["api_url_file"] == SLACK_URL_FILE
    assert "api_url" not in slack[0]
    assert slack[0]["channel"] == "#agent-alerts"
    assert slack[0]["send_resolved"] is True
    assert "global" not in config() or not {"slack_api_url", "pagerduty_url"} & config()["global"].keys()


def template_data(rule: dict, status: str = "firing") -> dict:
    """Notification data for one alert of ``rule``, its annotations as Prometheus renders them."""
    labels = {"alertname": rule["alert"], "job": "trip-agents", **rule["labels"]}
    annotations = {
        "summary": f"summary of {rule['alert']}",
        "description": f"description of {rule['alert']} with 6% failed",
        "runbook_url": rule["annotations"]["runbook_url"],
    }
    alert = {
        "status": status, "labels": labels, "annotations": annotations,
        "startsAt": "2026-11-23T06:00:00Z",
        "endsAt": "2026-11-23T06:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph", "fingerprint": "c0ffee",
    }
    return {
        "receiver": "r", "status": status, "alerts": [alert],
        "groupLabels": {"alertname": rule["alert"], "job": "trip-agents"},
        "commonLabels": labels, "commonAnnotations": annotations, "externalURL": "http://alertmanager:9093",
    }


def render(template: str, data: dict, tmp_path: Path) -> str:
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = amtool("template", "render", "--template.glob=/dev/null", f"--template.data={data_file}",
                    f"--template.text={template}")
    assert result.returncode == 0, f"{template!r}\n{output(result)}"
    return result.stdout


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_notification_templates_render(rule, tmp_path):
    data = template_data(rule)
    url = rule["annotations"]["runbook_url"]
    if rule["labels"]["severity"] == "critical":
        pagerduty = receiver("pagerduty-critical")["pagerduty_configs"][0]
        description = render(pagerduty["description"], data, tmp_path)
        assert description.startswith(f"{rule['alert']}: summary of {rule['alert']}")
        assert render(pagerduty["severity"], data, tmp_path) == "critical"
        assert render(pagerduty["links"][0]["href"], data, tmp_path) == url
        for value in pagerduty["details"].values():
            render(value, data, tmp_path)
    else:
        slack = receiver("slack-warning")["slack_configs"][0]
        title = render(slack["title"], data, tmp_path)
        assert title.startswith("[FIRING:1]") and rule["alert"] in title
        text = render(slack["text"], data, tmp_path)
        assert f"summary of {rule['alert']}" in text
        assert f"description of {rule['alert']} with 6% failed" in text
        assert f"Runbook: {url}" in text
        assert render(slack["title_link"], data, tmp_path) == url
        assert render(slack["color"], data, tmp_path) == "warning"
        resolved = template_data(rule, "resolved")
        assert render(slack["title"], resolved, tmp_path).startswith("[RESOLVED]")
        assert "(resolved)" in render(slack["text"], resolved, tmp_path)


# --- inhibition ---------------------------------------------------------------------------


def matches(matcher: str, labels: dict[str, str]) -> bool:
    """Whether an Alertmanager matcher string (name op "value") matches ``labels``."""
    name, op, value = re.fullmatch(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*', matcher).groups()
    actual = labels.get(name, "")
    if op in ("=~", "!~"):
        found = re.fullmatch(value, actual) is not None  # Alertmanager anchors regular expressions
        return found if op == "=~" else not found
    return (actual == value) if op == "=" else (actual != value)


def inhibited_by(source: dict[str, str], target: dict[str, str]) -> bool:
    for rule in config()["inhibit_rules"]:
        if (all(matches(m, source) for m in rule["source_matchers"])
                and all(matches(m, target) for m in rule["target_matchers"])
                and all(source.get(label, "") == target.get(label, "") for label in rule.get("equal", ()))):
            return True
    return False


def alert_labels(name: str, **extra: str) -> dict[str, str]:
    rule = next(r for r in alerts() if r["alert"] == name)
    return {"alertname": name, "job": "trip-agents", **rule["labels"], **extra}


def test_no_requests_inhibits_the_traffic_alerts_of_the_same_service():
    outage = alert_labels("AgentmonNoRequests")
    for rule in alerts():
        name = rule["alert"]
        expected = name not in {"AgentmonNoRequests", "AgentmonDailyBudgetExceeded"}
        assert inhibited_by(outage, alert_labels(name)) is expected, name
        assert not inhibited_by(outage, alert_labels(name, job="helpdesk")), f"{name} of another service"


def test_error_rate_and_rate_limit_alerts_are_both_delivered():
    """A rate-limit storm pages (error rate) and posts its cause to Slack: neither hides the other."""
    page = alert_labels("AgentmonHighErrorRate", agentmon_application="trip-planner")
    storm = alert_labels("AgentmonRateLimitStorm", gen_ai_provider_name="openai")
    assert not inhibited_by(page, storm)
    assert not inhibited_by(storm, page)


def test_critical_inhibits_the_warning_of_the_same_alert():
    assert inhibited_by({"alertname": "AgentmonX", "job": "a", "severity": "critical"},
                        {"alertname": "AgentmonX", "job": "a", "severity": "warning"})
    assert not inhibited_by({"alertname": "AgentmonX", "job": "a", "severity": "critical"},
                            {"alertname": "AgentmonY", "job": "a", "severity": "warning"})


def test_low_quality_score_inhibits_drift_of_the_same_evaluation():
    low = alert_labels("AgentmonQualityScoreLow", gen_ai_evaluation_name="relevance")
    assert inhibited_by(low, alert_labels("AgentmonQualityDrift", gen_ai_evaluation_name="relevance"))
    assert not inhibited_by(low, alert_labels("AgentmonQualityDrift", gen_ai_evaluation_name="coherence"))
