"""The report's user feedback section: ratings recorded as ``gen_ai.evaluation.result`` log
records (real SDK records through ``StoreLogExporter``), tied to model call spans in the store,
read back as a distribution, a mean and its trend, and the low-rated interactions with their
traces; the AgentmonLowRatingRate condition; quality scores without the ratings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentelemetry._logs._internal as logs_internal
import opentelemetry.metrics._internal as metrics_internal
import pytest
import yaml
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import otel_agentmon
from _store_data import Call, as_schema_1, export
from otel_agentmon.reports import _alerts
from otel_agentmon.reports._html import render_html
from otel_agentmon.reports._html_input import build_html_data
from otel_agentmon.reports._report import Report, build_report, render_json, render_table
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as sm
from otel_agentmon.store import StoreLogExporter, StoreSpanExporter, prune

REPO = Path(__file__).resolve().parents[1]
DAY = 86400
T0 = 1_790_000_000 // DAY * DAY
RUNS_AT = T0 + 2 * 3600  # the first agent run; one every 2 minutes
RUNS = 20
NOW = T0 + 3 * DAY
# The rating of each run's model call: the first ten (first half of the period) mostly good,
# the last ten mostly bad.
RATINGS = (5, 5, 4, 5, 3, 5, 4, 1, 5, 4,
           2, 1, 3, 5, 1, 2, 4, 1, 2, 3)
UNLINKED_AT = RUNS_AT + 2400  # a thumbs down that could not be tied to a call
UNSTORED_AT = RUNS_AT + 2350  # a 2 for a call whose span is not in the store
UNSTORED_TRACE = 0x5EED0000000000000000000000C0FFEE
UNSTORED_SPAN = 0xABCDEF0123456789


def label(rating: float) -> str:
    if rating <= sm.LOW_RATING_MAX:
        return sm.FeedbackLabel.LOW
    return sm.FeedbackLabel.NEUTRAL if rating == 3 else sm.FeedbackLabel.HIGH


class Recorder:
    """``gen_ai.evaluation.result`` records through a real LoggerProvider into the store, as
    ``otel_agentmon.feedback`` and the evaluation worker emit them."""

    def __init__(self, path: Path, service: str = "svc") -> None:
        self.provider = LoggerProvider(resource=Resource.create({ga.SERVICE_NAME: service}))
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
        self.logger = self.provider.get_logger("test")

    def emit(self, when: float, name: str, score: float, context: SpanContext | None = None,
             **attributes: Any) -> None:
        parent = trace.set_span_in_context(NonRecordingSpan(context), Context()) if context is not None else None
        self.logger.emit(timestamp=int(when * 1e9), event_name=ga.EVALUATION_RESULT_EVENT, context=parent,
                         attributes={ga.EVALUATION_NAME: name, ga.EVALUATION_SCORE_VALUE: score, **attributes})

    def rating(self, when: float, rating: int, context: SpanContext | None = None, **attributes: Any) -> None:
        self.emit(when, sm.FEEDBACK_EVALUATION_NAME, float(rating), context,
                  **{ga.EVALUATION_SCORE_LABEL: label(rating), **attributes})

    def close(self) -> None:
        self.provider.shutdown()


@dataclass(frozen=True)
class Run:
    """One agent run of the known store and its rated model call."""

    index: int
    at: float
    chat: ReadableSpan
    agent: str | None
    application: str
    user: str
    model: str

    @property
    def trace_id(self) -> str:
        return format(self.chat.context.trace_id, "032x")


def agent_of(i: int) -> str | None:
    if i == 14:
        return None  # a model call outside any agent
    return "planner" if i % 2 == 0 else "reviewer"


def write_known(path: Path) -> list[Run]:
    """20 runs two minutes apart: an invoke_agent span (run 14: none) over a chat span (every
    fourth run: under an execute_tool span under the agent), a relevance score for each call,
    and the call's rating half a minute after it; then a rating for a call that is not stored
    and one tied to no call."""
    exporter = StoreSpanExporter(path)
    runs = []
    for i in range(RUNS):
        at = RUNS_AT + i * 120
        trace_id = 0xFEED << 64 | i + 1
        application = "helpdesk" if i % 2 == 0 else "trips"
        user = f"user{i % 3}"
        provider, model = ("openai", "gpt-4o-mini") if i % 2 == 0 else ("anthropic", "claude-haiku-4-5")
        common = dict(trace_id=trace_id, application=application, user=user)
        parent = None
        agent = agent_of(i)
        if agent is not None:
            (agent_span,) = export(exporter, [Call(at, duration=20, operation=ga.Operation.INVOKE_AGENT, agent=agent,
                                                   **common)])
            parent = agent_span.context.span_id
            if i % 4 == 3:
                (tool_span,) = export(exporter, [Call(at + 1, duration=5, operation=ga.Operation.EXECUTE_TOOL,
                                                      tool="search", parent_id=parent, **common)])
                parent = tool_span.context.span_id
        (chat,) = export(exporter, [Call(at + 2, provider=provider, model=model, parent_id=parent, **common)])
        runs.append(Run(i, at, chat, agent, application, user, model))
    exporter.shutdown()

    recorder = Recorder(path)
    for run, rating in zip(runs, RATINGS):
        recorder.emit(run.at + 20, "relevance", 0.9, run.chat.context)
        recorder.rating(run.at + 30, rating, run.chat.context,
                        **{ga.RESPONSE_ID: f"chatcmpl-{run.index}", ga.USER_ID: run.user, am.APPLICATION: run.application})
    unstored = SpanContext(UNSTORED_TRACE, UNSTORED_SPAN, False, TraceFlags(1))
    # rated in the process that made the call (it knew the call's application, agent and user),
    # the call's span exported elsewhere
    recorder.rating(UNSTORED_AT, 2, unstored, **{ga.REQUEST_MODEL: "gpt-4o", ga.PROVIDER_NAME: "openai",
                                                 am.APPLICATION: "bookings", ga.AGENT_NAME: "booker",
                                                 ga.USER_ID: "user9"})
    recorder.rating(UNLINKED_AT, 1, None, **{ga.RESPONSE_ID: "chatcmpl-unknown", ga.USER_ID: "user7"})
    recorder.close()
    return runs


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Run]]:
    path = tmp_path_factory.mktemp("feedback") / "store.db"
    runs = write_known(path)
    return str(path), runs


def all_ratings() -> list[int]:
    return [*RATINGS, 2, 1]


# --- the section --------------------------------------------------------------------------------

def test_distribution_mean_and_trend(known: tuple[str, list[Run]]) -> None:
    path, _ = known
    f = build_report(path, now=NOW, budgets=None).feedback
    assert f is not None
    ratings = all_ratings()
    assert f.count == 22 == len(ratings)
    assert [(r.rating, r.count) for r in f.distribution] == [(1, 5), (2, 4), (3, 3), (4, 4), (5, 6)]
    assert [(r.rating, r.count) for r in f.distribution] == sorted(Counter(ratings).items())
    assert sum(r.share for r in f.distribution) == pytest.approx(1.0)
    assert f.distribution[4].share == pytest.approx(6 / 22)
    assert f.mean == pytest.approx(sum(ratings) / 22)
    # halves of the span window (the first run to the last), as for quality drift; the two
    # late ratings come after the last span and count in the second half
    assert (f.first_half_count, f.second_half_count) == (10, 12)
    assert f.first_half_mean == pytest.approx(sum(RATINGS[:10]) / 10) == pytest.approx(4.1)
    assert f.second_half_mean == pytest.approx((sum(RATINGS[10:]) + 3) / 12) == pytest.approx(2.25)
    assert f.trend == pytest.approx(2.25 - 4.1)
    assert (f.low, f.pruned) == (9, 0)
    assert f.low_share == pytest.approx(9 / 22)


def test_low_rated_interactions_carry_their_traces(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    f = build_report(path, now=NOW, budgets=None).feedback
    assert f is not None
    rows = f.low_rated
    assert [x.time for x in rows] == sorted((x.time for x in rows), reverse=True)
    assert len(rows) == 9

    unlinked, unstored, *rated = rows
    assert unlinked.time == pytest.approx(UNLINKED_AT) and unlinked.rating == 1
    assert (unlinked.trace_id, unlinked.span_id, unlinked.span_stored) == (None, None, False)
    assert (unlinked.application, unlinked.agent, unlinked.model) == (None, None, None)
    assert unlinked.user == "user7"  # the user the feedback named
    assert unlinked.service == "svc"

    assert unstored.time == pytest.approx(UNSTORED_AT) and unstored.rating == 2
    assert unstored.trace_id == format(UNSTORED_TRACE, "032x") and unstored.span_id == format(UNSTORED_SPAN, "016x")
    assert unstored.span_stored is False
    # from the rating's own attributes
    assert (unstored.application, unstored.agent, unstored.user) == ("bookings", "booker", "user9")
    assert (unstored.provider, unstored.model) == ("openai", "gpt-4o")

    low_runs = [run for run in reversed(runs) if RATINGS[run.index] <= 2]
    assert [run.index for run in low_runs] == [18, 17, 15, 14, 11, 10, 7]
    for row, run in zip(rated, low_runs, strict=True):
        assert row.time == pytest.approx(run.at + 30)
        assert row.rating == RATINGS[run.index]
        assert row.trace_id == run.trace_id
        assert row.span_id == format(run.chat.context.span_id, "016x")
        assert row.span_stored is True
        assert (row.service, row.application, row.user, row.model) == ("svc", run.application, run.user, run.model)
        assert row.agent == run.agent, run.index  # through an execute_tool span for runs 7, 11, 15
    by_index = {run.index: row for row, run in zip(rated, low_runs)}
    assert by_index[14].agent is None
    assert (by_index[11].agent, by_index[10].agent) == ("reviewer", "planner")
    assert by_index[17].provider == "anthropic" and by_index[18].provider == "openai"


def test_top_limits_the_low_rated_interactions(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    report = build_report(path, now=NOW, budgets=None, top=3)
    f = report.feedback
    assert f is not None and f.low == 9
    assert [x.time for x in f.low_rated] == pytest.approx([UNLINKED_AT, UNSTORED_AT, runs[18].at + 30])
    assert "the 3 most recent of 9" in render_table(report)


def test_a_period_counts_the_ratings_recorded_in_it(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    # runs 10 to 14: their ratings are recorded 30 s after each run
    report = build_report(path, RUNS_AT + 10 * 120, RUNS_AT + 15 * 120, now=NOW, budgets=None)
    f = report.feedback
    assert f is not None
    assert f.count == 5 and f.mean == pytest.approx(sum(RATINGS[10:15]) / 5)
    assert [x.trace_id for x in f.low_rated] == [runs[i].trace_id for i in (14, 11, 10)]
    none = build_report(path, T0 + DAY, T0 + 2 * DAY, now=NOW, budgets=None)
    assert none.feedback is None


def test_quality_leaves_user_feedback_out(known: tuple[str, list[Run]]) -> None:
    path, _ = known
    report = build_report(path, now=NOW, budgets=None)
    assert [q.evaluation for q in report.quality] == ["relevance"]
    (relevance,) = report.quality
    assert relevance.count == RUNS and relevance.mean == pytest.approx(0.9)
    low = next(a for a in report.alerts if a.alert == _alerts.QUALITY_SCORE_LOW)
    assert low.scope == "svc/relevance" and low.holds is False
    quality_table = render_table(report).split("\nQuality")[1].split("\n\n")[0]
    assert "relevance" in quality_table and sm.FEEDBACK_EVALUATION_NAME not in quality_table


def test_ratings_alone_are_no_quality_scores(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    (chat,) = export(StoreSpanExporter(path), [Call(RUNS_AT)])
    recorder = Recorder(path)
    for i in range(30):
        recorder.rating(RUNS_AT + 10 + i, 1, chat.context)
    recorder.close()
    report = build_report(str(path), now=RUNS_AT + 100, budgets=None)
    assert report.quality == ()
    low = next(a for a in report.alerts if a.alert == _alerts.QUALITY_SCORE_LOW)
    assert low.holds is None and low.figure == "no stored evaluations in the period"
    assert report.feedback is not None and report.feedback.count == 30 and report.feedback.low == 30


def test_pruned_ratings_stay_in_the_count_mean_and_distribution(known: tuple[str, list[Run]], tmp_path: Path) -> None:
    source, runs = known
    path = tmp_path / "pruned.db"
    path.write_bytes(Path(source).read_bytes())
    before = build_report(str(path), now=NOW, budgets=None).feedback
    cutoff = RUNS_AT + 10 * 120  # the raw rows of runs 0 to 9 go
    result = prune(path, NOW - cutoff, now=NOW)
    assert result.evaluations_deleted == 20  # 10 ratings, 10 relevance scores
    report = build_report(str(path), now=NOW, budgets=None)
    f = report.feedback
    assert f is not None and before is not None
    assert (f.count, f.mean) == (before.count, pytest.approx(before.mean))
    # the distribution and the low ratings come from the rating rollups: pruned days count
    assert f.pruned == 0 and f.distribution == before.distribution and f.low == before.low == 9
    # the interactions need raw rows: run 7's low rating was pruned
    assert [x.trace_id for x in f.low_rated][2:] == [runs[i].trace_id for i in (18, 17, 15, 14, 11, 10)]
    assert "the 8 most recent of 9" in render_table(report)


def test_ratings_pruned_before_the_rating_rollups_are_said_apart(known: tuple[str, list[Run]], tmp_path: Path) -> None:
    """A store of schema version 1, pruned, then brought up to date: the ratings pruned before
    have no whole star, so the distribution counts the others and says so."""
    import sqlite3

    source, _ = known
    path = tmp_path / "v1.db"
    path.write_bytes(Path(source).read_bytes())
    as_schema_1(path)
    # pruned as version 1 did it: the raw rows before the cutoff go, the rollups keep them
    cutoff = RUNS_AT + 10 * 120
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DELETE FROM evaluations WHERE time_ns < ?", (cutoff * 10**9,))
    connection.execute("INSERT INTO meta (key, value) VALUES ('pruned_before', ?)", (repr(float(cutoff)),))
    connection.close()
    before_migration = build_report(str(path), now=NOW, budgets=None).feedback  # read as it is
    prune(path, NOW - RUNS_AT, now=NOW)  # an earlier cutoff: deletes nothing, brings the store up to date
    report = build_report(str(path), now=NOW, budgets=None)
    f = report.feedback
    assert f is not None and before_migration is not None
    assert f.count == before_migration.count == 22  # from the evaluation rollups
    assert f.pruned == before_migration.pruned == 10
    assert f.distribution == before_migration.distribution
    assert [(r.rating, r.count) for r in f.distribution] == sorted(Counter(all_ratings()[10:]).items())
    assert f.low == 8
    assert "10 ratings were pruned before the store counted ratings by star" in render_table(report)


def test_ratings_from_the_feedback_api_reach_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """otel_agentmon.feedback() -> the global LoggerProvider -> StoreLogExporter -> the report."""
    path = tmp_path / "s.db"
    exporter = StoreSpanExporter(path)
    trace_id = 0xFEED << 64 | 0xBEEF
    started = time.time() - 600  # feedback() records the rating now
    (agent_span,) = export(exporter, [Call(started, duration=20, operation=ga.Operation.INVOKE_AGENT, agent="planner",
                                           trace_id=trace_id, user="carol")])
    (chat,) = export(exporter, [Call(started + 1, trace_id=trace_id, parent_id=agent_span.context.span_id,
                                     user="carol", application="trips", model="gpt-4o")])
    exporter.shutdown()
    logs = LoggerProvider(resource=Resource.create({ga.SERVICE_NAME: "svc"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", logs)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", MeterProvider(metric_readers=[InMemoryMetricReader()]))
    otel_agentmon.feedback("down", span_context=chat.context)
    otel_agentmon.feedback(4, span_context=f"00-{trace_id:032x}-{chat.context.span_id:016x}-01")
    logs.shutdown()

    f = build_report(str(path), now=time.time() + 60, budgets=None).feedback
    assert f is not None
    assert (f.count, f.mean, f.low) == (2, 2.5, 1)
    assert [(r.rating, r.count) for r in f.distribution] == [(1, 1), (2, 0), (3, 0), (4, 1), (5, 0)]
    (row,) = f.low_rated
    assert (row.rating, row.trace_id, row.span_id) == (1.0, f"{trace_id:032x}", f"{chat.context.span_id:016x}")
    assert (row.service, row.application, row.agent, row.user, row.model) == ("svc", "trips", "planner", "carol",
                                                                              "gpt-4o")


# --- output -------------------------------------------------------------------------------------

def feedback_section(text: str) -> str:
    return text.split("\nUser feedback")[1].split("\nAlert conditions")[0]


def test_table_section(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    text = render_table(build_report(path, now=NOW, budgets=None))
    section = feedback_section(text)
    assert "trend: second half of the period minus first half" in section
    lines = section.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["ratings", "mean"])
    assert lines[header + 1].split() == ["22", "3.09", "4.10", "2.25", "-1.85", "9", "(40.9%)"]
    assert [line.split() for line in lines if line.split()[:1] in (["1"], ["5"])] == [
        ["1", "5", "22.7%"], ["5", "6", "27.3%"]]
    assert "Low-rated interactions (rating <= 2: all 9, most recent first)" in section
    (row,) = [line for line in lines if runs[17].trace_id in line]
    assert row.split() == ["2026-09-21", "02:34:30", "1", runs[17].trace_id, "svc", "trips", "reviewer", "user2",
                           "claude-haiku-4-5"]
    (row,) = [line for line in lines if "(not tied to a call)" in line]
    assert row.split()[:3] == ["2026-09-21", "02:40:00", "1"]
    assert "(-: the rated call's span is not in the store)" in section


def test_json_keys(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    data = json.loads(render_json(build_report(path, now=NOW, budgets=None)))
    feedback = data["feedback"]
    assert list(feedback) == ["count", "mean", "first_half_count", "first_half_mean", "second_half_count",
                              "second_half_mean", "trend", "distribution", "low", "low_share", "pruned", "low_rated"]
    assert feedback["distribution"][0] == {"rating": 1, "count": 5, "share": pytest.approx(5 / 22)}
    row = feedback["low_rated"][2]
    assert list(row) == ["time", "rating", "trace_id", "span_id", "span_stored", "service", "application", "agent",
                         "user", "provider", "model"]
    assert row["time"] == "2026-09-21T02:36:30.000Z"
    assert row["trace_id"] == runs[18].trace_id and row["agent"] == "planner"
    assert feedback["low_rated"][0]["trace_id"] is None


def test_no_feedback_no_section(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    (chat, _) = export(StoreSpanExporter(path), [Call(RUNS_AT), Call(RUNS_AT + 60)])
    recorder = Recorder(path)
    recorder.emit(RUNS_AT + 5, "relevance", 0.8, chat.context)
    recorder.close()
    report = build_report(str(path), now=RUNS_AT + 100, budgets=None)
    assert report.feedback is None and [q.evaluation for q in report.quality] == ["relevance"]
    assert "User feedback" not in render_table(report)
    assert json.loads(render_json(report))["feedback"] is None
    data = build_html_data(report)
    assert "User feedback" not in [title for title, _, _ in data.tables]
    assert "User rating" not in dict(data.summary)


def test_html_section(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    report: Report = build_report(path, now=NOW, budgets=None)
    data = build_html_data(report)
    assert dict(data.summary)["User rating"] == "3.09 of 5 (22)"
    tables = {title: (header, rows) for title, header, rows in data.tables}
    header, rows = tables["User feedback"]
    assert rows == (("22", "3.09", "4.10", "2.25", "-1.85", "9 (40.9%)"),)
    header, rows = tables["Ratings"]
    assert header == ("rating", "count", "share") and [row[:2] for row in rows] == [
        ("1", "5"), ("2", "4"), ("3", "3"), ("4", "4"), ("5", "6")]
    header, rows = tables["Low-rated interactions (rating <= 2: all 9, most recent first)"]
    assert header[2] == "trace id" and [row[2] for row in rows[2:]] == [
        runs[i].trace_id for i in (18, 17, 15, 14, 11, 10, 7)]
    titles = [title for title, _, _ in data.tables]
    assert titles.index("Quality") < titles.index("User feedback") < titles.index("Alert conditions")
    page = render_html(data)
    assert "<h2>User feedback</h2>" in page and runs[7].trace_id in page


def test_report_command_shows_the_section(known: tuple[str, list[Run]]) -> None:
    path, runs = known
    result = subprocess.run([sys.executable, "-m", "otel_agentmon.cli", "report", "--store", path],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "\nUser feedback" in result.stdout and runs[10].trace_id in result.stdout


# --- the alert condition ------------------------------------------------------------------------

def rated_store(path: Path, ratings_per_application: dict[str, tuple[int, int]]) -> None:
    """For each application, n model calls over the last 50 minutes before RUNS_AT + 3600, each
    rated once: the first ``low`` of them 1, the others 5."""
    calls = []
    for application, (n, _) in ratings_per_application.items():
        calls += [Call(RUNS_AT + 600 + i * 3000 / n, application=application) for i in range(n)]
    spans = export(StoreSpanExporter(path), calls)
    recorder = Recorder(path)
    i = 0
    for application, (n, low) in ratings_per_application.items():
        for j in range(n):
            recorder.rating(spans[i].start_time / 1e9 + 5, 1 if j < low else 5, spans[i].context)
            i += 1
    recorder.close()


@pytest.mark.parametrize("ratings, holds, figure", [
    ({"trips": (12, 3), "helpdesk": (100, 19)}, True, "25.0% of 12 ratings low"),  # 25% of 12
    ({"helpdesk": (100, 19)}, False, "19.0% of 100 ratings low"),  # 19%
    ({"trips": (9, 9)}, False, "100.0% of 9 ratings low"),  # under the floor of 10 ratings
])
def test_low_rating_rate_condition(tmp_path: Path, ratings: dict[str, tuple[int, int]], holds: bool,
                                   figure: str) -> None:
    path = tmp_path / "s.db"
    rated_store(path, ratings)
    row = next(a for a in build_report(str(path), now=RUNS_AT + 4000, budgets=None).alerts
               if a.alert == _alerts.LOW_RATING_RATE)
    assert (row.holds, row.figure, row.severity) == (holds, figure, "warning")
    assert row.scope == ("svc/trips" if "trips" in ratings else "svc/helpdesk")


def test_low_rating_rate_without_ratings(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(RUNS_AT)])
    row = next(a for a in build_report(str(path), now=RUNS_AT + 60, budgets=None).alerts
               if a.alert == _alerts.LOW_RATING_RATE)
    assert row.holds is None and row.figure == "no stored ratings in the period"


def test_low_rating_thresholds_are_those_of_the_rule() -> None:
    rules = {rule["alert"]: rule for group in yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())["groups"]
        for rule in group["rules"] if "alert" in rule}
    rule = rules[_alerts.LOW_RATING_RATE]
    expr = rule["expr"]
    assert ") > 0.2\n" in expr and _alerts.LOW_RATING_SHARE == 0.2
    assert ">= 10" in expr and _alerts.LOW_RATING_MIN_RATINGS == 10
    assert expr.count("[1h]") == 3 and _alerts.LOW_RATING_WINDOW_S == 3600
    assert f'le=~"{sm.LOW_RATING_MAX}(\\\\.0)?"' in expr
    assert rule["labels"]["severity"] == _alerts.SEVERITY[_alerts.LOW_RATING_RATE]
