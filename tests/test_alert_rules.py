"""The Prometheus rules (deploy/prometheus/alerts.yaml), checked by the real promtool.

``promtool check rules`` validates every expression and template, ``promtool test rules`` runs
the unit tests of deploy/prometheus/alerts.test.yaml (each alert firing and staying quiet on
borderline data). The checks below make sure those tests cover every alert, that every alert
carries what Alertmanager and the on-call engineer need, and that every metric and label name
in the rules is one otel-agentmon exports (a typo in a metric name makes an alert that
never fires, silently).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from _tools import tool
from otel_agentmon.semconv import _registry, agentmon, gen_ai, metrics
from otel_agentmon.semconv.agentmon import BudgetLevel, BudgetPeriod, BudgetScope
from otel_agentmon.semconv.errors import ErrorCategory, ErrorSeverity

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "alerts.yaml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "alerts.test.yaml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_URL = "https://github.com/otel-agentmon/otel-agentmon/blob/main/docs/runbooks.md#"

# Labels every series has from the scrape, and the histogram bucket label.
SCRAPE_LABELS = {"job", "instance", "le"}


# --- helpers ------------------------------------------------------------------------------


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@functools.cache
def load_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in load_rules() if "alert" in rule]


def recording_rules() -> set[str]:
    return {rule["record"] for rule in load_rules() if "record" in rule}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lowercase, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", RUNBOOKS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {github_anchor(heading) for heading in headings}


@functools.cache
def prometheus_metric_names() -> set[str]:
    """Every series name otel-agentmon's instruments produce in Prometheus.

    Derived from the semconv names the way the OpenTelemetry Prometheus exporters write them:
    dots to underscores, the unit as a suffix (annotations such as ``{token}`` are dropped),
    ``_total`` for counters, ``_bucket`` / ``_count`` / ``_sum`` for histograms.
    """
    unit_suffix = {"s": "_seconds", "USD": "_USD"}
    instruments = {
        metrics.CLIENT_OPERATION_DURATION: ("histogram", metrics.UNIT_SECONDS),
        metrics.CLIENT_TOKEN_USAGE: ("histogram", metrics.UNIT_TOKENS),
        metrics.CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: ("histogram", metrics.UNIT_SECONDS),
        metrics.INVOKE_AGENT_DURATION: ("histogram", metrics.UNIT_SECONDS),
        metrics.EXECUTE_TOOL_DURATION: ("histogram", metrics.UNIT_SECONDS),
        metrics.WORKFLOW_DURATION: ("histogram", metrics.UNIT_SECONDS),
    }
    for entry in _registry.load_registry()["metrics"]:
        instruments[entry["metric_name"]] = (entry["instrument"], entry["unit"])
    names = set()
    for name, (instrument, unit) in instruments.items():
        if unit.startswith("{"):
            suffix = ""
        else:
            assert unit in unit_suffix, f"no Prometheus suffix known for unit {unit!r} of {name}"
            suffix = unit_suffix[unit]
        base = name.replace(".", "_") + suffix
        if instrument == "counter":
            names.add(base + "_total")
        elif instrument == "histogram":
            names |= {base + "_bucket", base + "_count", base + "_sum"}
        else:
            names.add(base)
    return names


@functools.cache
def prometheus_label_names() -> set[str]:
    """Attribute names of the semconv modules as Prometheus labels, plus the scrape labels."""
    names = {value.replace(".", "_") for module in (gen_ai, agentmon) for key, value in vars(module).items()
             if key.isupper() and isinstance(value, str) and "." in value}
    return names | SCRAPE_LABELS


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_OUR_METRIC = re.compile(r"\b(gen_ai_\w+|agentmon_\w+|agentmon:[\w:]+)")


def metric_names_in(expr: str) -> set[str]:
    """Series names an expression selects (label names in matchers and in by/on lists left out)."""
    stripped = _LABEL_LISTS.sub("()", _MATCHERS.sub("", expr))
    stripped = _STRING.sub('""', stripped)
    return set(_OUR_METRIC.findall(stripped))


def matcher_label_names(expr: str) -> set[str]:
    names = set()
    for matchers in _MATCHERS.findall(expr):
        names |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", _STRING.sub('""', matchers)))
    return names


def label_names_in(expr: str) -> set[str]:
    """Label names in matchers and in by / without / on / ignoring / group_* lists."""
    names = matcher_label_names(expr)
    for label_list in _LABEL_LISTS.findall(expr):
        names |= {label.strip() for label in label_list.split(",") if label.strip()}
    return names


def label_values_in(expr: str, label: str) -> set[str]:
    values = set()
    for value in re.findall(label + r'\s*(?:=|!=)\s*"([^"]*)"', expr):
        values.add(value)
    for pattern in re.findall(label + r'\s*(?:=~|!~)\s*"([^"]*)"', expr):
        values |= set(pattern.split("|"))
    return values


# --- promtool -----------------------------------------------------------------------------


def test_promtool_check_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_promtool_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_promtool_reports_invalid_promql(tmp_path):
    """A broken expression fails the unit tests with promtool's own parse error."""
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    rules = yaml.safe_load(RULES.read_text())
    rule = next(r for group in rules["groups"] for r in group["rules"] if r.get("alert") == "AgentmonHighErrorRate")
    rule["expr"] = "sum by (job) (rate(gen_ai_client_operation_duration_seconds_count[5m]) > 0.05"
    (tmp_path / RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0, output(result)
    text = result.stdout + result.stderr
    assert "parse error" in text or "unexpected" in text, output(result)
    assert "AgentmonHighErrorRate" in text, output(result)


def test_promtool_reports_a_wrong_expectation(tmp_path):
    """The unit tests do check what fires: expecting the wrong severity fails them."""
    shutil.copy(RULES, tmp_path / RULES.name)
    tests = yaml.safe_load(RULE_TESTS.read_text())
    group = next(g for g in tests["tests"] if any(c["alertname"] == "AgentmonHighErrorRate" and c["exp_alerts"]
                                                  for c in g.get("alert_rule_test", ())))
    for case in group["alert_rule_test"]:
        for expected in case["exp_alerts"]:
            expected["exp_labels"]["severity"] = "warning"
    tests["tests"] = [group]
    (tmp_path / RULE_TESTS.name).write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0, output(result)
    assert "FAILED" in result.stdout + result.stderr, output(result)


# --- coverage of the unit tests -----------------------------------------------------------


@functools.cache
def alert_test_cases() -> list[dict]:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    return [case for group in tests["tests"] for case in group.get("alert_rule_test", ())]


def test_unit_tests_load_the_shipped_rules():
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]


@pytest.mark.parametrize("alert", [a["alert"] for a in alerts()])
def test_every_alert_has_a_firing_and_a_quiet_case(alert):
    cases = [case for case in alert_test_cases() if case["alertname"] == alert]
    assert any(case.get("exp_alerts") for case in cases), f"no test case where {alert} fires"
    assert any(not case.get("exp_alerts") for case in cases), f"no test case where {alert} stays quiet"


@pytest.mark.parametrize("alert", [a["alert"] for a in alerts()])
def test_firing_cases_check_labels_and_annotations(alert):
    for case in alert_test_cases():
        if case["alertname"] != alert:
            continue
        for expected in case.get("exp_alerts") or ():
            labels = expected.get("exp_labels", {})
            annotations = expected.get("exp_annotations", {})
            assert {"severity", "job"} <= labels.keys(), f"{alert} at {case['eval_time']}: {labels}"
            assert {"summary", "description", "runbook_url"} <= annotations.keys(), (
                f"{alert} at {case['eval_time']}: {annotations}")


def test_recording_rules_are_tested():
    tests = yaml.safe_load(RULE_TESTS.read_text())
    exprs = " ".join(case["expr"] for group in tests["tests"] for case in group.get("promql_expr_test", ()))
    assert {"agentmon:cost_usd:increase1h", "agentmon:token_usage:rate15m"} <= metric_names_in(exprs)


# --- what every alert carries -------------------------------------------------------------


def test_alert_names_are_unique_and_prefixed():
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names))
    assert all(name.startswith("Agentmon") for name in names), names
    assert {
        "AgentmonHighErrorRate", "AgentmonHighLatencyP95", "AgentmonRateLimitStorm", "AgentmonCostAnomaly",
        "AgentmonDailyBudgetExceeded", "AgentmonTokenUsageSpike", "AgentmonNoRequests",
        "AgentmonQualityScoreLow", "AgentmonQualityDrift", "AgentmonSpansDropped", "AgentmonLowRatingRate",
    } <= set(names)


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alert_labels_and_annotations(rule):
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert "{{" in annotations["description"], "the description shows the alert's values"
    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_URL), url
    anchor = url[len(RUNBOOK_URL):]
    assert anchor in runbook_anchors(), f"docs/runbooks.md has no heading with anchor #{anchor}"


def test_runbook_links_resolve():
    links = re.findall(r"\]\(#([^)]+)\)", RUNBOOKS.read_text(encoding="utf-8"))
    assert links
    assert set(links) <= runbook_anchors(), sorted(set(links) - runbook_anchors())


def test_runbook_anchor_rule():
    assert github_anchor("AgentmonHighErrorRate") == "agentmonhigherrorrate"
    assert github_anchor("High error rate (model calls)") == "high-error-rate-model-calls"


def test_group_intervals():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        assert group.get("interval") in {"30s", "1m"}, group["name"]


def test_recording_rule_names():
    for name in recording_rules():
        assert re.fullmatch(r"agentmon:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_no_job_is_hard_coded():
    for rule in load_rules():
        assert not {"job", "instance"} & matcher_label_names(rule["expr"]), (
            f"{rule.get('alert') or rule.get('record')} selects a job or instance")


# --- names: every metric and label is one otel-agentmon exports ----------------------------


def test_prometheus_names_derived_from_semconv():
    names = prometheus_metric_names()
    assert {
        "gen_ai_client_operation_duration_seconds_bucket", "gen_ai_client_operation_duration_seconds_count",
        "gen_ai_client_token_usage_sum", "agentmon_cost_USD_total", "agentmon_errors_total",
        "agentmon_budget_events_total", "agentmon_quality_score_sum", "agentmon_quality_drift",
        "agentmon_evaluation_dropped_total", "agentmon_spans_dropped_total", "agentmon_feedback_rating_bucket",
        "agentmon_feedback_rating_count",
    } <= names


def test_name_extraction():
    expr = ('sum by (job, agentmon_application) (rate(gen_ai_client_operation_duraton_seconds_count'
            '{error_type!="", agentmon_error_category=~"rate_limit|timeout"}[5m])) / on (job) agentmon:cost_usd:x')
    assert metric_names_in(expr) == {"gen_ai_client_operation_duraton_seconds_count", "agentmon:cost_usd:x"}
    assert label_names_in(expr) == {"job", "agentmon_application", "error_type", "agentmon_error_category"}
    assert label_values_in(expr, "agentmon_error_category") == {"rate_limit", "timeout"}


@pytest.mark.parametrize("rule", load_rules(), ids=lambda rule: rule.get("alert") or rule["record"])
def test_metric_names_are_known(rule):
    known = prometheus_metric_names() | recording_rules()
    used = metric_names_in(rule["expr"])
    assert used, "an otel-agentmon rule selects otel-agentmon series"
    assert used <= known, f"unknown metric names {sorted(used - known)}"
    # the other series a rule may select: the scrape's `up`
    others = set(re.findall(r"\b([a-zA-Z_:][\w:]*)\s*[{\[]", _MATCHERS.sub("{}", rule["expr"]))) - known
    assert others <= {"up"}, f"unknown series {sorted(others)}"
    for annotation in rule.get("annotations", {}).values():
        for query in re.findall(r'printf\s+"((?:[^"\\]|\\.)*)"[^}]*\|\s*query', annotation):
            assert metric_names_in(query) <= recording_rules(), f"a template queries {query}"


@pytest.mark.parametrize("rule", load_rules(), ids=lambda rule: rule.get("alert") or rule["record"])
def test_label_names_and_values_are_known(rule):
    expr = rule["expr"]
    unknown = label_names_in(expr) - prometheus_label_names()
    assert not unknown, f"unknown label names {sorted(unknown)}"
    checks = {
        "agentmon_error_category": {c.value for c in ErrorCategory},
        "agentmon_error_severity": {s.value for s in ErrorSeverity},
        "agentmon_budget_scope": {BudgetScope.USER, BudgetScope.DEPARTMENT},
        "agentmon_budget_period": {BudgetPeriod.DAILY, BudgetPeriod.MONTHLY},
        "agentmon_budget_level": {BudgetLevel.WARNING, BudgetLevel.CRITICAL},
    }
    for label, allowed in checks.items():
        assert label_values_in(expr, label) <= allowed, f"{label}: {sorted(label_values_in(expr, label) - allowed)}"
