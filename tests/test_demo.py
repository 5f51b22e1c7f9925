"""``otel-agentmon demo``: the main job, as a newcomer runs it (a subprocess, no API key)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "otel_agentmon.cli"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, env=env or environment(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = tmp_path_factory.mktemp("demo") / "demo.db"
    started = time.monotonic()
    result = run(["demo", "--runs", "60", "--store", str(store)])
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    return store, result, elapsed


def report_json(store: Path, env: dict[str, str] | None = None) -> dict:
    result = run(["report", "--store", str(store), "--format", "json"], env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_demo_prints_progress_and_the_report(demo):
    store, result, elapsed = demo
    output = result.stdout
    assert "60/60 agent requests" in output
    assert f"spans in {store}" in output
    for section in ("Errors by category", "Latency by model", "Latency by agent", "Cost by user",
                    "Cost by department", "Cost by application", "Tools", "Quality", "Budgets",
                    "Alert conditions"):
        assert section in output, section
    assert "Traceback" not in result.stderr
    assert elapsed < 60


def test_the_store_holds_what_the_workload_did(demo):
    store, _, _ = demo
    report = report_json(store)
    # a planner per request, a writer when the planning call succeeded
    assert [row["name"] for row in report["latency_by_agent"]] == ["planner", "writer"]
    planner = report["latency_by_agent"][0]
    assert planner["count"] == 60
    assert {tool["tool"] for tool in report["tools"]} == {"search_knowledge_base", "lookup_account"}
    models = {row["model"] for row in report["cost"]["by_model"]}
    assert models == {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5"}
    # every injected fault kind is there with its category (the workload forces each once)
    categories = {row["category"] for row in report["errors_by_category"]}
    assert {"rate_limit", "timeout", "provider_error", "bad_request"} <= categories
    # several users, departments and applications; the parts add up to the total
    cost = report["cost"]
    for by in ("by_user", "by_department", "by_application"):
        rows = cost[by]["top"] + ([cost[by]["others"]] if cost[by]["others"] else [])
        assert sum(row["cost_usd"] for row in rows) == pytest.approx(cost["total_usd"], rel=1e-9), by
    assert cost["by_department"]["owners"] == 4 and cost["by_application"]["owners"] == 3
    assert sum(row["cost_usd"] for row in cost["by_model"]) == pytest.approx(cost["total_usd"], rel=1e-9)
    # quality evaluators ran on the sampled calls
    assert {row["evaluation"] for row in report["quality"]} >= {"relevance", "coherence", "refusal"}


def test_the_store_is_complete_and_self_contained(demo):
    store, _, _ = demo
    assert not Path(str(store) + ".partial").exists()
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {row[0] for row in connection.execute("SELECT name FROM spans")}
    finally:
        connection.close()
    assert {"invoke_agent planner", "execute_tool lookup_account", "chat gpt-4o"} <= names


def test_html_chargeback_and_optimize_work_on_the_demo_store(demo, tmp_path):
    store, _, _ = demo
    page = tmp_path / "report.html"
    assert run(["report", "--store", str(store), "--html", str(page)]).returncode == 0
    assert "chart-cost" in page.read_text()
    month = time.strftime("%Y-%m", time.gmtime())
    chargeback = run(["chargeback", "--month", month, "--by", "department", "--store", str(store)])
    assert chargeback.returncode == 0 and "research" in chargeback.stdout, chargeback.stderr
    optimize = run(["optimize", "--store", str(store)])
    assert optimize.returncode == 0, optimize.stderr


def test_an_interrupted_demo_leaves_the_previous_store_untouched(tmp_path):
    store = tmp_path / "demo.db"
    store.write_bytes(b"the previous demo's store")
    partial = Path(str(store) + ".partial")
    child = subprocess.Popen(CLI + ["demo", "--runs", "400", "--duration", "60", "--store", str(store)],
                             env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not partial.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert partial.exists(), "the workload never started writing"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130
    assert stderr.strip().splitlines()[-1] == "otel-agentmon: demo interrupted; no store was written"
    assert "Traceback" not in stderr
    assert store.read_bytes() == b"the previous demo's store"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("demo.db.partial")]


def test_the_demo_also_exports_over_otlp_when_an_endpoint_is_set(tmp_path, otlp_receiver):
    store = tmp_path / "demo.db"
    result = run(["demo", "--runs", "5", "--no-report", "--store", str(store)],
                 env=environment(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.grpc_endpoint))
    assert result.returncode == 0, result.stderr
    spans = otlp_receiver.wait_for_spans(lambda spans: any(s["name"] == "invoke_agent planner" for s in spans))
    priced = [s for s in spans if s["attributes"].get("gen_ai.usage.cost.amount") is not None]
    assert priced, "model spans arrive enriched"
    assert report_json(store)["latency_by_agent"][0]["count"] == 5


@pytest.mark.parametrize("args,message", [
    (["--runs", "0"], "'0' is not a positive number"),
    (["--duration", "soon"], "'soon' is not a number of seconds"),
])
def test_bad_options_are_one_clear_error(args, message, tmp_path):
    result = run(["demo", "--store", str(tmp_path / "d.db")] + args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
