"""``otel-agentmon chargeback`` (a month's spend per owner, equal to the report's figures) and
``otel-agentmon optimize`` (recommendations whose savings are checked by hand)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys

import pytest

from _store_data import Call, export, random_calls
from otel_agentmon.processors import CostCalculator, TokenUsage
from otel_agentmon.reports._chargeback import build_chargeback, render_csv, render_json, render_table
from otel_agentmon.reports._optimize import (
    CHEAPER_MODELS,
    LARGE_PROMPT_TOKENS,
    LARGE_PROMPTS,
    LOW_CACHE_HITS,
    SMALL_MODEL,
    build_optimization,
    cheaper_model,
)
from otel_agentmon.reports._optimize import render_json as optimize_json
from otel_agentmon.reports._optimize import render_table as optimize_table
from otel_agentmon.reports._report import build_report
from otel_agentmon.reports._time import InputError, parse_month
from otel_agentmon.store import StoreSpanExporter

DAY = 86400
SEPTEMBER = (1_788_220_800, 1_790_812_800)  # 2026-09-01 .. 2026-10-01, UTC
CLI = [sys.executable, "-m", "otel_agentmon.cli"]


def run_cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=60, env=dict(os.environ))


@pytest.fixture(scope="module")
def month_store(tmp_path_factory):
    """Spans from the last days of August to the first days of October."""
    path = tmp_path_factory.mktemp("chargeback") / "store.db"
    calls = random_calls(3000, SEPTEMBER[0] - 3 * DAY - 1234, SEPTEMBER[1] + 2 * DAY + 77, seed=11)
    calls += [Call(SEPTEMBER[0] + 5 * DAY, department=None, user=None, input_tokens=1000, output_tokens=100)]
    exporter = StoreSpanExporter(path)
    export(exporter, calls)
    exporter.shutdown()
    return str(path), calls


# --- chargeback --------------------------------------------------------------------------------

def test_month_bounds():
    assert parse_month("2026-09") == SEPTEMBER
    assert parse_month("2026-12") == (1_796_083_200, 1_798_761_600)
    for bad in ("2026-13", "2026-00", "2026-1", "26-01", "September", "2026-09-01", ""):
        with pytest.raises(InputError, match=r"^--month .* is not a month \(expected YYYY-MM\)$"):
            parse_month(bad)


@pytest.mark.parametrize("by", ["department", "user", "application"])
def test_chargeback_totals_equal_the_reports(month_store, by):
    path, _ = month_store
    chargeback = build_chargeback(path, "2026-09", by)
    report = build_report(path, *SEPTEMBER, budgets=None)
    total = chargeback.total
    assert total.requests == report.model_calls
    assert total.cost_usd == pytest.approx(report.cost.total_usd, rel=1e-12)
    assert (total.input_tokens, total.output_tokens) == (report.tokens.input, report.tokens.output)
    assert total.unpriced_calls == report.cost.unpriced_calls > 0
    assert sum(x.requests for x in chargeback.lines) == total.requests
    assert math.fsum(x.cost_usd for x in chargeback.lines) == pytest.approx(total.cost_usd, rel=1e-12)
    assert math.fsum(x.share for x in chargeback.lines) == pytest.approx(1.0)
    assert [x.cost_usd for x in chargeback.lines] == sorted((x.cost_usd for x in chargeback.lines), reverse=True)
    owners = {getattr(o, "owner") for o in getattr(report.cost, f"by_{by}").top}
    assert {x.owner for x in chargeback.lines} == owners


def test_chargeback_counts_only_the_month(month_store):
    path, calls = month_store
    inside = [c for c in calls if SEPTEMBER[0] <= c.start < SEPTEMBER[1] and c.operation in ("chat", "embeddings")]
    assert build_chargeback(path, "2026-09").total.requests == len(inside)
    empty = build_chargeback(path, "2026-03")
    assert empty.lines == () and empty.total.requests == 0 and empty.total.share is None
    assert "no model calls stored in this month" in render_table(empty)


def test_chargeback_formats(month_store):
    path, _ = month_store
    chargeback = build_chargeback(path, "2026-09", "department")
    table = render_table(chargeback)
    assert "(none)" in table  # the call without a department
    (total,) = [line for line in table.splitlines() if line.split()[:1] == ["TOTAL"]]
    assert total.split()[1] == f"{chargeback.total.requests:,}"
    assert "calls of models without a known price are not in the cost" in table
    rows = list(csv.reader(io.StringIO(render_csv(chargeback))))
    assert rows[0] == ["month", "department", "requests", "input_tokens", "output_tokens", "cost_usd", "share",
                       "unpriced_calls"]
    assert rows[-1][1] == "TOTAL" and int(rows[-1][2]) == chargeback.total.requests
    assert math.fsum(float(r[5]) for r in rows[1:-1]) == pytest.approx(float(rows[-1][5]), rel=1e-9)
    assert {r[1] for r in rows[1:-1]} >= {"", "dept0", "dept1", "dept2"}
    data = json.loads(render_json(chargeback))
    assert list(data) == ["store", "month", "by", "period_start", "period_end", "generated_at", "lines", "total"]
    assert data["period_start"] == "2026-09-01T00:00:00Z" and data["total"]["owner"] == "TOTAL"


def test_chargeback_command(month_store):
    path, _ = month_store
    result = run_cli("chargeback", "--store", path, "--month", "2026-09", "--by", "user", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("month,user,requests")


@pytest.mark.parametrize("args, message, status", [
    (["--month", "2026-13"], "otel-agentmon: --month 2026-13 is not a month (expected YYYY-MM)", 1),
    (["--month", "2026-1"], "otel-agentmon: --month 2026-1 is not a month (expected YYYY-MM)", 1),
    (["--month", "2026-09", "--format", "xlsx"], "argument --format: invalid choice: 'xlsx'", 2),
    (["--month", "2026-09", "--by", "team"], "argument --by: invalid choice: 'team'", 2),
    ([], "the following arguments are required: --month", 2),
])
def test_chargeback_bad_input_is_one_line(month_store, args, message, status):
    path, _ = month_store
    result = run_cli("chargeback", "--store", path, *args)
    assert result.returncode == status
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("otel-agentmon: ") and message in line


# --- optimize ----------------------------------------------------------------------------------

def test_cheaper_models_table():
    assert cheaper_model("openai", "gpt-4o") == "gpt-4o-mini"
    assert cheaper_model("openai", "gpt-4o-2024-08-06") == "gpt-4o-mini"
    assert cheaper_model("openai", "gpt-4o-mini") is None
    assert cheaper_model("openai", "gpt-4.1") == "gpt-4.1-mini"
    assert cheaper_model("anthropic", "claude-sonnet-4-5") == "claude-haiku-4-5"
    assert cheaper_model("anthropic", "claude-opus-4-1") == "claude-haiku-4-5"
    assert cheaper_model("anthropic", "claude-3-5-sonnet-20241022") == "claude-haiku-4-5"
    assert cheaper_model("anthropic", "claude-haiku-4-5") is None
    assert cheaper_model("acme", "gpt-4o") is None  # another provider's model of the same name
    calculator = CostCalculator()
    for _, _, cheaper in CHEAPER_MODELS:
        if cheaper is not None:
            provider = "anthropic" if "claude" in cheaper else "gcp.gemini" if "gemini" in cheaper else "openai"
            assert calculator.price(provider, cheaper, TokenUsage(1000, 100)).amount, cheaper


NOW = SEPTEMBER[0] + 20 * DAY


@pytest.fixture(scope="module")
def optimize_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("optimize") / "store.db"
    first, last = NOW - 3 * DAY, NOW - DAY  # two days of data
    calls = [Call(first + i * 600, model="gpt-4o", input_tokens=500, output_tokens=100, application="classifier")
             for i in range(25)]
    calls += [Call(first + i * 600 + 1, model="gpt-4o", input_tokens=5000, output_tokens=400,
                   application="classifier") for i in range(5)]
    calls += [Call(first + i * 600 + 2, model="gpt-4o-mini", input_tokens=20_000, output_tokens=100,
                   application="rag") for i in range(25)]
    calls += [Call(first + i * 600 + 3, provider="anthropic", model="claude-haiku-4-5", input_tokens=5000,
                   cache_read=3000, output_tokens=100, application="cached") for i in range(24)]
    calls += [Call(last, provider="anthropic", model="claude-haiku-4-5", input_tokens=5000, cache_read=3000,
                   output_tokens=100, application="cached")]
    calls += [Call(NOW - 40 * DAY, model="gpt-4o", input_tokens=500, output_tokens=100, application="old")
              for _ in range(30)]  # before the period
    exporter = StoreSpanExporter(path)
    export(exporter, calls)
    exporter.shutdown()
    return str(path)


def test_optimize_savings_computed_by_hand(optimize_store):
    calculator = CostCalculator()
    result = build_optimization(optimize_store, now=NOW)
    assert result.days_of_data == pytest.approx(2.0)
    found = {(r.kind, r.application or r.model): r for r in result.recommendations}
    assert set(found) == {(SMALL_MODEL, "classifier"), (LARGE_PROMPTS, "rag"), (LOW_CACHE_HITS, "rag")}

    small = found[(SMALL_MODEL, "classifier")]
    usage = TokenUsage(500, 100)
    by_hand = 25 * (calculator.price("openai", "gpt-4o", usage).amount
                    - calculator.price("openai", "gpt-4o-mini", usage).amount)
    assert small.saving_usd == pytest.approx(by_hand, rel=1e-9)
    assert small.monthly_saving_usd == pytest.approx(by_hand * 30 / 2, rel=1e-9)
    assert small.model == "gpt-4o" and "25 of 30 calls to gpt-4o" in dict(small.evidence)["small calls"]

    large = found[(LARGE_PROMPTS, "rag")]
    input_rate = calculator.price("openai", "gpt-4o-mini", TokenUsage(1_000_000, 0)).amount / 1e6
    assert large.saving_usd == pytest.approx(25 * (20_000 - LARGE_PROMPT_TOKENS) * input_rate, rel=1e-9)
    assert "p90 20,000" in dict(large.evidence)["prompt size"]

    cache = found[(LOW_CACHE_HITS, "rag")]
    cache_rate = (calculator.price("openai", "gpt-4o-mini", TokenUsage(1_000_000, 0, 1_000_000)).amount / 1e6)
    assert cache.saving_usd == pytest.approx(0.5 * 25 * 20_000 * (input_rate - cache_rate), rel=1e-9)
    assert [r.monthly_saving_usd for r in result.recommendations] == sorted(
        (r.monthly_saving_usd for r in result.recommendations), reverse=True)
    assert result.monthly_saving_usd == pytest.approx(sum(r.monthly_saving_usd for r in result.recommendations))


def test_optimize_output(optimize_store):
    result = build_optimization(optimize_store, now=NOW)
    text = optimize_table(result)
    assert "3 recommendations" in text and "Small requests on gpt-4o" in text and "action" in text
    data = json.loads(optimize_json(result))
    assert list(data) == ["store", "since", "until", "generated_at", "days_of_data", "calls_considered",
                          "recommendations", "monthly_saving_usd"]
    assert list(data["recommendations"][0]) == ["kind", "title", "application", "provider", "model", "action",
                                                "evidence", "saving_usd", "monthly_saving_usd"]


def test_optimize_with_nothing_to_say(tmp_path):
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(NOW - DAY + i) for i in range(30)])  # small calls on the small model
    result = build_optimization(str(path), now=NOW)
    assert result.recommendations == ()
    assert "no recommendation" in optimize_table(result)


def test_optimize_command(optimize_store):
    result = run_cli("optimize", "--store", optimize_store, "--since", "2026-09-01", "--until", "2026-09-30",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["recommendations"]) == 3
    bad = run_cli("optimize", "--store", optimize_store, "--format", "yaml")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
