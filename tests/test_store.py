"""The embedded store: what the exporters keep, rollups that add up, several writer processes,
retention, and one-line errors for a store that cannot be used."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from _store_data import Call, as_schema_1, export, random_calls, spans
from otel_agentmon.processors import CostCalculator, EnrichingSpanExporter, TokenUsage
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store import (
    AGENTMON_STORE_PATH,
    SCHEMA_VERSION,
    StoreError,
    StoreLogExporter,
    StoreReader,
    StoreSpanExporter,
    default_store_path,
    prune,
)
from otel_agentmon.store._reader import LATENCY, OWNER, USAGE, plan_period
from otel_agentmon.store._rows import LATENCY_RATIO, latency_bucket

DAY = 86400
T0 = 1_790_000_000 // DAY * DAY  # a UTC midnight in 2026


def rows(path, sql, parameters=()):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def column_rows(path, where="1"):
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in connection.execute(f"SELECT * FROM spans WHERE {where} ORDER BY start_ns")]
    finally:
        connection.close()


# --- the real pipeline ------------------------------------------------------------------------

@pytest.fixture
def pipeline(tmp_path):
    path = tmp_path / "deep" / "folder" / "store.db"
    provider = TracerProvider(resource=Resource.create({ga.SERVICE_NAME: "trip-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(StoreSpanExporter(path))))
    yield provider.get_tracer("test"), path
    provider.shutdown()


def test_genai_spans_are_stored_with_their_derivations(pipeline):
    tracer, path = pipeline
    common = {ga.USER_ID: "alice", am.DEPARTMENT: "research", am.APPLICATION: "planner"}
    with tracer.start_as_current_span("invoke_workflow triage", attributes={
            ga.OPERATION_NAME: ga.Operation.INVOKE_WORKFLOW, ga.WORKFLOW_NAME: "triage", **common}):
        with tracer.start_as_current_span("invoke_agent planner", attributes={
                ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: "planner",
                ga.CONVERSATION_ID: "conv-1", **common}) as agent:
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                    ga.OPERATION_NAME: ga.Operation.CHAT, ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o-mini",
                    ga.RESPONSE_MODEL: "gpt-4o-mini-2024-07-18", ga.RESPONSE_ID: "chatcmpl-1",
                    ga.USAGE_INPUT_TOKENS: 1200, ga.USAGE_OUTPUT_TOKENS: 80,
                    ga.USAGE_CACHE_READ_INPUT_TOKENS: 1000, **common}):
                pass
            with tracer.start_as_current_span("chat acme-private-1", attributes={
                    ga.OPERATION_NAME: ga.Operation.CHAT, ga.PROVIDER_NAME: "acme", ga.REQUEST_MODEL: "acme-private-1",
                    ga.USAGE_INPUT_TOKENS: 5, ga.USAGE_OUTPUT_TOKENS: 5, **common}):
                pass
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                    ga.OPERATION_NAME: ga.Operation.CHAT, ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o",
                    **common}) as failed:
                failed.set_attribute(ga.ERROR_TYPE, "RateLimitError")
                failed.set_attribute(ga.HTTP_RESPONSE_STATUS_CODE, 429)
                failed.set_status(StatusCode.ERROR, "Error code: 429")
            with tracer.start_as_current_span("execute_tool book", attributes={
                    ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL, ga.TOOL_NAME: "book", **common}) as tool:
                tool.set_attribute(ga.ERROR_TYPE, "RuntimeError")
                tool.set_status(StatusCode.ERROR, "backend down")
        with tracer.start_as_current_span("GET /weather"):  # not GenAI: not stored
            pass
    stored = {r["name"]: r for r in column_rows(path)}
    assert set(stored) == {"invoke_workflow triage", "invoke_agent planner", "chat gpt-4o-mini", "chat acme-private-1",
                           "chat gpt-4o", "execute_tool book"}

    chat = stored["chat gpt-4o-mini"]
    expected = CostCalculator().price("openai", "gpt-4o-mini-2024-07-18", TokenUsage(1200, 80, 1000)).amount
    assert chat["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert chat["cost_status"] == "priced"
    assert (chat["operation"], chat["provider"], chat["request_model"], chat["response_model"]) == (
        "chat", "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (chat["input_tokens"], chat["output_tokens"], chat["cache_read_tokens"]) == (1200, 80, 1000)
    assert (chat["user_id"], chat["department"], chat["application"], chat["service_name"]) == (
        "alice", "research", "planner", "trip-svc")
    assert chat["response_id"] == "chatcmpl-1"
    assert chat["parent_span_id"] == format(agent.get_span_context().span_id, "016x")
    assert chat["trace_id"] == format(agent.get_span_context().trace_id, "032x")
    assert chat["duration_s"] == pytest.approx((chat["end_ns"] - chat["start_ns"]) / 1e9)
    assert chat["error_category"] is None

    unpriced = stored["chat acme-private-1"]
    assert unpriced["cost_status"] == "unpriced" and unpriced["cost_usd"] is None

    rate_limited = stored["chat gpt-4o"]
    assert (rate_limited["error_type"], rate_limited["error_category"], rate_limited["error_severity"]) == (
        "RateLimitError", "rate_limit", "warning")
    assert rate_limited["cost_status"] == "missing_usage" and rate_limited["cost_usd"] is None

    assert stored["execute_tool book"]["error_category"] == "tool_error"
    assert stored["execute_tool book"]["tool_name"] == "book"
    assert stored["invoke_agent planner"]["conversation_id"] == "conv-1"
    assert stored["invoke_agent planner"]["agent_name"] == "planner"
    assert stored["invoke_workflow triage"]["workflow_name"] == "triage"
    assert stored["invoke_agent planner"]["cost_usd"] is None  # never a cost on agent spans


def test_schema_is_versioned_and_in_wal_mode(pipeline):
    tracer, path = pipeline
    with tracer.start_as_current_span("invoke_agent a", attributes={ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT}):
        pass
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]


def test_spans_that_were_not_enriched_are_enriched_on_the_way_in(tmp_path):
    exporter = StoreSpanExporter(tmp_path / "s.db")
    exporter.export(spans([Call(T0, model="gpt-4o-mini", input_tokens=1000, output_tokens=100),
                           Call(T0, error="RateLimitError", status_code=429)], enrich=False))
    priced, failed = column_rows(tmp_path / "s.db")
    assert priced["cost_status"] == "priced"
    assert priced["cost_usd"] == pytest.approx(
        CostCalculator().price("openai", "gpt-4o-mini", TokenUsage(1000, 100)).amount)
    assert failed["error_category"] == "rate_limit"


def test_quality_sampled_flag_is_kept(tmp_path):
    made = spans([Call(T0, extra={am.QUALITY_SAMPLED: True}), Call(T0 + 1)])
    StoreSpanExporter(tmp_path / "s.db").export(made)
    assert [r["quality_sampled"] for r in column_rows(tmp_path / "s.db")] == [1, 0]


def test_store_path_from_the_environment_and_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv(AGENTMON_STORE_PATH, str(tmp_path / "env" / "x.db"))
    exporter = StoreSpanExporter()
    assert exporter.path == str(tmp_path / "env" / "x.db")
    assert not (tmp_path / "env").exists()  # nothing is created before the first export
    exporter.export(spans([Call(T0)]))
    assert (tmp_path / "env" / "x.db").is_file()
    monkeypatch.delenv(AGENTMON_STORE_PATH)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_path() == str(tmp_path / "home" / ".local" / "share" / "otel-agentmon" / "agentmon.db")


def test_entry_points_name_the_exporters():
    from importlib.metadata import entry_points

    (traces,) = entry_points(group="opentelemetry_traces_exporter", name="agentmon_store")
    (logs,) = entry_points(group="opentelemetry_logs_exporter", name="agentmon_store")
    assert traces.load() is StoreSpanExporter
    assert logs.load() is StoreLogExporter


def test_the_exporter_never_raises_and_logs_once(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    exporter = StoreSpanExporter(blocker / "store.db")
    with caplog.at_level(logging.ERROR, logger="otel_agentmon"):
        assert exporter.export(spans([Call(T0)])).name == "FAILURE"
        assert exporter.export(spans([Call(T0)])).name == "FAILURE"
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert "cannot be created" in messages[0] and "spans are not stored" in messages[0]


def test_a_foreign_file_is_left_alone_by_the_exporter(tmp_path, caplog):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n" * 100)
    with caplog.at_level(logging.ERROR, logger="otel_agentmon"):
        assert StoreSpanExporter(path).export(spans([Call(T0)])).name == "FAILURE"
    assert path.read_text() == "shopping list\n" * 100
    assert "file is not a database" in caplog.text


# --- evaluations ------------------------------------------------------------------------------

def test_log_exporter_keeps_evaluation_results(tmp_path):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanContext, TraceFlags

    from otel_agentmon.evaluation._drift import DriftTracker
    from otel_agentmon.evaluation._events import EvaluationTelemetry
    from otel_agentmon.evaluation._types import EvaluationResult

    path = tmp_path / "s.db"
    logs = LoggerProvider(resource=Resource.create({ga.SERVICE_NAME: "judge-svc"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    telemetry = EvaluationTelemetry(MeterProvider())
    telemetry.drift = DriftTracker()
    telemetry.logger_provider = logs
    context = SpanContext(0x1234, 0x99, False, TraceFlags(1))
    telemetry.record(EvaluationResult("relevance", 0.75, "relevant"), context,
                     {ga.REQUEST_MODEL: "gpt-4o-mini", ga.PROVIDER_NAME: "openai"}, {}, False)
    telemetry.record(EvaluationResult("coherence", 0.5), context, {}, {}, False)
    logs.get_logger("app").emit(body="an application log line", severity_number=SeverityNumber.INFO)
    logs.shutdown()
    stored = rows(path, "SELECT name, score, label, trace_id, span_id, service_name, request_model, provider "
                        "FROM evaluations ORDER BY name")
    assert stored == [
        ("coherence", 0.5, None, format(0x1234, "032x"), format(0x99, "016x"), "judge-svc", None, None),
        ("relevance", 0.75, "relevant", format(0x1234, "032x"), format(0x99, "016x"), "judge-svc", "gpt-4o-mini",
         "openai"),
    ]
    assert rows(path, "SELECT name, SUM(count), SUM(score_sum) FROM evaluation_rollup WHERE bucket_seconds = 3600 "
                      "GROUP BY name ORDER BY name") == [("coherence", 1, 0.5), ("relevance", 1, 0.75)]


def _rating(logs: LoggerProvider, score: float, **attributes) -> None:
    logs.get_logger("app").emit(timestamp=(T0 + 60) * 1_000_000_000, event_name=ga.EVALUATION_RESULT_EVENT,
                                attributes={ga.EVALUATION_NAME: "user_feedback", ga.EVALUATION_SCORE_VALUE: score,
                                            **attributes})


def _store_of_version_1(path: Path) -> None:
    """A store as version 1 wrote it: evaluations without the columns version 2 added, and no
    rating_rollup."""
    StoreSpanExporter(path).export(spans([Call(T0)]))
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    _rating(logs, 2.0)
    logs.shutdown()
    as_schema_1(path)


def test_ratings_keep_whom_they_are_about(tmp_path):
    path = tmp_path / "s.db"
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    _rating(logs, 1.0, **{am.APPLICATION: "trips", ga.AGENT_NAME: "planner", ga.USER_ID: "u-1",
                          ga.RESPONSE_ID: "chatcmpl-1"})
    _rating(logs, 5.0, **{am.APPLICATION: 7})  # not a string: left out
    logs.shutdown()
    assert rows(path, "SELECT score, application, agent_name, user_id, response_id FROM evaluations ORDER BY score") \
        == [(1.0, "trips", "planner", "u-1", "chatcmpl-1"), (5.0, None, None, None, None)]


def test_a_version_1_store_is_read_as_it_is_and_brought_up_to_date_by_a_writer(tmp_path):
    path = tmp_path / "s.db"
    _store_of_version_1(path)
    # a reader may not change the file: the newer columns read as NULL
    with StoreReader(path) as reader:
        assert reader.query("SELECT score, application, user_id FROM evaluations") == [(2.0, None, None)]
        assert reader.query("SELECT bucket_seconds, rating, count FROM rating_rollup ORDER BY 1") == [
            (3600, 2, 1), (86400, 2, 1)]  # computed from the raw rows
    assert rows(path, "PRAGMA user_version") == [(1,)]
    # a writer migrates it as it opens it, keeping every row
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    _rating(logs, 4.0, **{ga.USER_ID: "u-2", am.APPLICATION: "helpdesk"})
    logs.shutdown()
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(2,)]
    assert rows(path, "SELECT score, application, user_id FROM evaluations ORDER BY score") == [
        (2.0, None, None), (4.0, "helpdesk", "u-2")]
    assert rows(path, "SELECT COUNT(*) FROM spans") == [(1,)]
    assert rows(path, "SELECT SUM(count) FROM evaluation_rollup WHERE bucket_seconds = 3600") == [(2,)]
    # the rating already stored raw is counted by star, with the new one
    assert rows(path, "SELECT bucket_seconds, rating, count FROM rating_rollup ORDER BY 1, 2") == [
        (3600, 2, 1), (3600, 4, 1), (86400, 2, 1), (86400, 4, 1)]
    with StoreReader(path) as reader:
        assert reader.query("SELECT COUNT(*) FROM evaluations WHERE user_id = 'u-2'") == [(1,)]


# --- rollups ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """2,000 spans over 3 days and a bit, unaligned."""
    path = tmp_path_factory.mktemp("filled") / "store.db"
    calls = random_calls(2000, T0 - 5000, T0 + 3 * DAY + 7777)
    made = export(StoreSpanExporter(path), calls, batch=97)
    return path, calls, made


def raw_totals(path, since=None, until=None):
    condition = "1"
    parameters: tuple = ()
    if since is not None:
        condition = "start_ns >= ? AND start_ns < ?"
        parameters = (int(round(since * 1e9)), int(round(until * 1e9)))
    (calls, errors, tokens_in, cost, unpriced), = rows(path, f"""
        SELECT COUNT(*), SUM(error_type IS NOT NULL OR error_category IS NOT NULL), SUM(COALESCE(input_tokens, 0)),
               SUM(COALESCE(cost_usd, 0)), SUM(cost_status = 'unpriced') FROM spans WHERE {condition}""", parameters)
    return calls, errors or 0, tokens_in or 0, cost or 0.0, unpriced or 0


def test_rollups_add_up_to_the_raw_rows(filled):
    path, calls, made = filled
    with StoreReader(path) as reader:
        (everything,) = reader.totals(USAGE, (), reader.plan(None, None)).values()
        owners = reader.totals(OWNER, (), reader.plan(None, None))
        latency = reader.totals(LATENCY, (), reader.plan(None, None))
    n, errors, tokens_in, cost, unpriced = raw_totals(path)
    assert n == len(made) == everything[0]
    assert everything[1] == errors and everything[2] == tokens_in and everything[9] == unpriced
    span_costs = math.fsum(s.attributes.get(am.COST_AMOUNT, 0.0) for s in made)
    assert everything[7] == pytest.approx(span_costs, rel=1e-12)
    assert everything[7] == pytest.approx(cost, rel=1e-12)
    (owner_total,) = owners.values()
    inference = [c for c in calls if c.operation in ga.INFERENCE_OPERATIONS]
    assert owner_total[0] == len(inference)
    assert owner_total[7] == pytest.approx(span_costs, rel=1e-12)
    (latency_total,) = latency.values()
    assert latency_total[0] == len([c for c in calls if c.operation != ga.Operation.INVOKE_WORKFLOW])
    # hourly and daily rows hold the same figures
    assert rows(path, "SELECT SUM(calls), SUM(input_tokens) FROM usage_rollup WHERE bucket_seconds = 3600") == \
        rows(path, "SELECT SUM(calls), SUM(input_tokens) FROM usage_rollup WHERE bucket_seconds = 86400")


@pytest.mark.parametrize("since, until", [
    (T0 - 4000.5, T0 + 2 * DAY + 1234.25),  # raw edges, hourly edges, whole days
    (T0 + 100, T0 + 3000),  # within an hour
    (T0 + 3600, T0 + 3 * 3600),  # whole hours
    (T0 + 1800, T0 + DAY + 600),  # no whole day
    (T0, T0 + 2 * DAY),  # whole days
])
def test_any_period_is_exact_within_the_retention(filled, since, until):
    path, _, _ = filled
    with StoreReader(path) as reader:
        plan = reader.plan(since, until)
        totals = reader.totals(USAGE, (), plan)
    (measures,) = totals.values() or [[0] * 11]
    n, errors, tokens_in, cost, _ = raw_totals(path, since, until)
    assert (plan.since, plan.until) == (since, until)
    assert measures[0] == n and measures[1] == errors and measures[2] == tokens_in
    assert measures[7] == pytest.approx(cost, rel=1e-12, abs=1e-15)


def test_plan_widens_only_where_rows_were_pruned():
    cut = T0 + 5 * DAY + 7200.5
    plan = plan_period(T0 + 100, T0 + 10 * DAY + 50, pruned_before=cut)
    assert plan.since == T0  # raw and hourly rows of that day are gone: whole day
    assert plan.until == T0 + 10 * DAY + 50  # recent end: exact
    plan = plan_period(cut - 1800 + 5, None, pruned_before=cut)
    assert plan.since == (cut - 1795) // 3600 * 3600  # hourly rows kept on the cutoff's day: whole hour
    widths = [s.width for s in plan_period(T0 + 100, T0 + 3 * DAY + 3700, pruned_before=0).segments]
    assert widths == [0, 3600, 86400, 3600, 0]


def test_latency_percentiles_are_within_bucket_error(tmp_path):
    from otel_agentmon.reports._report import percentiles

    durations = [0.05 * 1.013 ** i for i in range(700)]  # 50 ms to ~0.4 s ... ~460 s
    path = tmp_path / "s.db"
    export(StoreSpanExporter(path), [Call(T0 + i, duration=d) for i, d in enumerate(durations)])
    with StoreReader(path) as reader:
        histogram = {bucket: count for (bucket,), (count,) in
                     reader.totals(LATENCY, ("bucket",), reader.plan(None, None)).items()}
    ordered = sorted(durations)
    for q, estimate in zip((0.5, 0.95, 0.99), percentiles(histogram, (0.5, 0.95, 0.99))):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(estimate / exact - 1) <= math.sqrt(LATENCY_RATIO) - 1 + 1e-9, (q, estimate, exact)
    assert latency_bucket(0.0) == latency_bucket(1e-9)


# --- several processes ------------------------------------------------------------------------

def _writer_process(path: str, worker: int, batches: int, per_batch: int) -> None:
    exporter = StoreSpanExporter(path)
    for b in range(batches):
        calls = [Call(T0 + worker * 1000 + b + i / per_batch, user=f"w{worker}") for i in range(per_batch)]
        result = exporter.export(spans(calls))
        assert result.name == "SUCCESS"


def test_four_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")  # no state shared with this process
    workers = [context.Process(target=_writer_process, args=(path, w, 40, 50)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert rows(path, "SELECT user_id, COUNT(*) FROM spans GROUP BY user_id ORDER BY user_id") == [
        (f"w{w}", 2000) for w in range(4)]
    assert rows(path, "SELECT SUM(calls) FROM usage_rollup WHERE bucket_seconds = 86400") == [(8000,)]
    assert rows(path, "SELECT user_id, SUM(calls) FROM owner_rollup WHERE bucket_seconds = 3600 GROUP BY user_id "
                      "ORDER BY user_id") == [(f"w{w}", 2000) for w in range(4)]


def test_fork_does_not_reuse_the_parents_connection(tmp_path):
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    path = tmp_path / "s.db"
    exporter = StoreSpanExporter(path)
    exporter.export(spans([Call(T0, user="parent")]))
    context = multiprocessing.get_context("fork")
    child = context.Process(target=lambda: os._exit(0 if exporter.export(spans([Call(T0, user="child")])).name
                                                    == "SUCCESS" else 1))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    exporter.export(spans([Call(T0, user="parent")]))
    assert rows(path, "SELECT user_id, COUNT(*) FROM spans GROUP BY user_id") == [("child", 1), ("parent", 2)]


# --- retention --------------------------------------------------------------------------------

def test_prune_deletes_old_rows_and_reports_keep_their_totals(tmp_path):
    from otel_agentmon.reports._report import build_report

    path = tmp_path / "s.db"
    now = T0 + 10 * DAY + 4321
    export(StoreSpanExporter(path), random_calls(3000, T0 + 77, now - 60, seed=3))
    old_period = (T0 + DAY, T0 + 3 * DAY)  # whole days, before the cutoff
    before = build_report(str(path), now=now, budgets=None)
    before_old = build_report(str(path), *old_period, now=now, budgets=None)
    result = prune(path, 4 * DAY + 600, now=now)
    cutoff = now - 4 * DAY - 600
    assert result.cutoff == cutoff and result.hourly_cutoff == cutoff // DAY * DAY
    assert result.spans_deleted > 0 and result.hourly_rows_deleted > 0
    assert rows(path, "SELECT COUNT(*) FROM spans WHERE start_ns < ?", (int(cutoff * 1e9),)) == [(0,)]
    assert rows(path, "SELECT COUNT(*) FROM usage_rollup WHERE bucket_seconds = 3600 AND bucket_start < ?",
                (result.hourly_cutoff,)) == [(0,)]
    after = build_report(str(path), now=now, budgets=None)
    after_old = build_report(str(path), *old_period, now=now, budgets=None)
    for a, b in ((before, after), (before_old, after_old)):
        assert (a.model_calls, a.errors, a.agent_runs, a.tool_calls, a.tokens) == (
            b.model_calls, b.errors, b.agent_runs, b.tool_calls, b.tokens)
        assert b.cost.total_usd == pytest.approx(a.cost.total_usd, rel=1e-12)
        assert a.errors_by_category == b.errors_by_category
        assert a.latency_by_model == b.latency_by_model  # same histograms: same percentiles
        assert a.cost.by_user == b.cost.by_user
    assert (after.first_span // DAY, after.last_span) == (before.first_span // DAY, before.last_span)
    # a period that starts in a pruned day is widened to the whole day, and says so
    widened = build_report(str(path), T0 + DAY + 5000, T0 + 3 * DAY, now=now, budgets=None)
    assert widened.covered_since == T0 + DAY
    assert widened.model_calls == before_old.model_calls


# --- a store that cannot be used ---------------------------------------------------------------

def test_reader_errors_are_one_clear_line(tmp_path):
    with pytest.raises(StoreError, match=r"^store .*missing\.db does not exist$"):
        StoreReader(tmp_path / "missing.db")
    text = tmp_path / "text.db"
    text.write_text("hello\n" * 200)
    with pytest.raises(StoreError, match=r"text\.db is not an otel-agentmon store \(file is not a database\)$"):
        StoreReader(text)
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="is not an otel-agentmon store"):
        StoreReader(other)


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "s.db"
    StoreSpanExporter(path).export(spans([Call(T0)]))
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer than this otel-agentmon understands"):
        StoreReader(path)


def test_a_locked_store_is_reported_as_locked(tmp_path):
    path = tmp_path / "s.db"
    exporter = StoreSpanExporter(path)
    exporter.export(spans([Call(T0)]))
    exporter.shutdown()  # closes its connection (sqlite3 connections are only freed by the cycle collector)
    holder = sqlite3.connect(path, isolation_level=None)
    # In WAL mode readers never wait for a writer; only a connection holding the file in
    # exclusive locking mode shuts them out.
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"s\.db is locked by another process$"):
            StoreReader(path)
        assert time.monotonic() - started < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_prune_of_a_missing_store(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        prune(tmp_path / "nothing.db", DAY)
    assert not (tmp_path / "nothing.db").exists()


def test_reading_creates_nothing(tmp_path):
    path = tmp_path / "s.db"
    with pytest.raises(StoreError):
        StoreReader(path)
    assert list(Path(tmp_path).iterdir()) == []
