"""User feedback: ``otel_agentmon.feedback(...)`` tied to the span of the model call it rates.

The real openai SDK talks to the local provider server through our instrumentor; spans, log
records and metrics go to in-memory exporters installed as the global providers (feedback
emits through the global ones, as an application's would). The last test runs two processes
under ``opentelemetry-instrument``: an agent answering, and a later web handler rating the
answer, exporting over OTLP to a real receiver.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import opentelemetry._logs._internal as logs_internal
import opentelemetry.metrics._internal as metrics_internal
import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanContext, TraceFlags

import otel_agentmon
from _global_telemetry import SERVICE, install, uninstall
from otel_agentmon import _configure
from otel_agentmon._settings import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
from otel_agentmon.feedback import FeedbackSpanProcessor, _index, _telemetry
from otel_agentmon.feedback._index import DEFAULT_CAPACITY, RatedCall, ResponseIndex
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m
from otel_agentmon.store import StoreLogExporter

GPT = "gpt-4o-mini"
SCENARIOS = Path(__file__).parent / "scenarios"
INSTRUMENT = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))
SOME_SPAN = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1))
SOME_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Rated:
    """The global providers of one test, and what feedback sent through them."""

    def __init__(self, telemetry, logs: InMemoryLogRecordExporter) -> None:
        self.telemetry = telemetry
        self.logs = logs

    def records(self):
        return [r.log_record for r in self.logs.get_finished_logs()]

    def only_record(self):
        records = self.records()
        assert len(records) == 1, [dict(r.attributes) for r in records]
        return records[0]

    def points(self):
        return self.telemetry.metric_points(m.FEEDBACK_RATING)

    def model_span(self):
        spans = [s for s in self.telemetry.finished() if s.attributes.get(ga.OPERATION_NAME) == "chat"]
        assert len(spans) == 1, [s.name for s in self.telemetry.finished()]
        return spans[0]


@pytest.fixture
def rated(monkeypatch):
    telemetry = install(monkeypatch)
    telemetry.tracer_provider.add_span_processor(FeedbackSpanProcessor())
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": SERVICE}))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", logger_provider)
    monkeypatch.setattr(_telemetry, "_said", set())  # each test sees its own once-only warnings
    monkeypatch.delenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, raising=False)
    yield Rated(telemetry, logs)
    uninstall()


def ask(client, question: str = "What is the capital of France?"):
    return client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": question}])


def feedback_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otel_agentmon" and r.levelno == logging.WARNING]


# --- what is rated ----------------------------------------------------------------------------


def test_rating_by_response_id_lands_on_the_model_span(rated, client):
    reply = ask(client)
    otel_agentmon.feedback(4, response_id=reply.id)
    span = rated.model_span()
    record = rated.only_record()
    assert span.attributes[ga.RESPONSE_ID] == reply.id
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    assert record.event_name == ga.EVALUATION_RESULT_EVENT
    assert dict(record.attributes) == {
        ga.EVALUATION_NAME: m.FEEDBACK_EVALUATION_NAME,
        ga.EVALUATION_SCORE_VALUE: 4.0,
        ga.EVALUATION_SCORE_LABEL: m.FeedbackLabel.HIGH,
        ga.RESPONSE_ID: reply.id,
        am.APPLICATION: SERVICE,
    }


def test_the_user_of_the_call_and_the_user_given(rated, client):
    with otel_agentmon.attribution(user_id="u-42", application="trip-planner"):
        reply = ask(client)
    otel_agentmon.feedback("up", response_id=reply.id)
    otel_agentmon.feedback("down", response_id=reply.id, user_id="reviewer-7")
    first, second = rated.records()
    assert first.attributes[ga.USER_ID] == "u-42"
    assert first.attributes[am.APPLICATION] == "trip-planner"
    assert second.attributes[ga.USER_ID] == "reviewer-7"


def test_agent_name_of_a_call_inside_an_agent_and_inside_its_tool(rated, client):
    @otel_agentmon.tool("search")
    def search():
        return ask(client, "search this").id

    @otel_agentmon.agent("trip-planner")
    def plan():
        return ask(client).id, search()

    direct, in_tool = plan()
    otel_agentmon.feedback(1, response_id=direct)
    otel_agentmon.feedback(2, response_id=in_tool)
    records = rated.records()
    assert [r.attributes[ga.AGENT_NAME] for r in records] == ["trip-planner", "trip-planner"]
    spans = {s.attributes.get(ga.RESPONSE_ID): s for s in rated.telemetry.finished()}
    assert records[0].span_id == spans[direct].context.span_id
    assert records[1].span_id == spans[in_tool].context.span_id
    (point,) = rated.points()
    assert dict(point.attributes) == {am.APPLICATION: SERVICE, ga.AGENT_NAME: "trip-planner"}
    assert point.count == 2 and point.sum == 3
    # once every span ended, nothing is kept for running spans
    assert _index.RUNNING_AGENTS == {}


def test_rating_by_span_context_and_by_traceparent(rated):
    otel_agentmon.feedback(5, span_context=SOME_SPAN)
    otel_agentmon.feedback(5, span_context=SOME_TRACEPARENT)
    otel_agentmon.feedback(5, span_context=SOME_TRACEPARENT.upper().replace("0X", "0x"))
    for record in rated.records():
        assert (record.trace_id, record.span_id) == (SOME_SPAN.trace_id, SOME_SPAN.span_id)
        assert ga.RESPONSE_ID not in record.attributes
        assert am.APPLICATION not in record.attributes  # the call is not known in this process
    # the metric is labelled like every agentmon metric: the application defaults to service.name
    (point,) = rated.points()
    assert dict(point.attributes) == {am.APPLICATION: SERVICE} and point.count == 3


def test_without_a_target_the_current_span_is_rated(rated):
    with otel_agentmon.agent("helpdesk"):
        agent_span = trace.get_current_span().get_span_context()
        otel_agentmon.feedback(3)
    record = rated.only_record()
    assert (record.trace_id, record.span_id) == (agent_span.trace_id, agent_span.span_id)
    assert record.attributes[ga.AGENT_NAME] == "helpdesk"
    assert record.attributes[ga.EVALUATION_SCORE_LABEL] == m.FeedbackLabel.NEUTRAL


def test_without_a_target_or_a_current_span_the_feedback_is_unlinked(rated):
    otel_agentmon.feedback(5)
    record = rated.only_record()
    assert record.trace_id == 0 and record.span_id == 0
    assert record.attributes[ga.EVALUATION_SCORE_VALUE] == 5.0


def test_feedback_context_names_the_model_call_or_the_current_span(rated, client):
    assert otel_agentmon.feedback_context() is None  # no span: nothing to hand out
    with otel_agentmon.agent("helpdesk"):
        reply = ask(client)
        here = trace.get_current_span().get_span_context()
        current = otel_agentmon.feedback_context()
        of_reply = otel_agentmon.feedback_context(reply.id)
        unknown = otel_agentmon.feedback_context("chatcmpl-not-seen-here")
    model = rated.model_span().context
    assert current == unknown == f"00-{here.trace_id:032x}-{here.span_id:016x}-{int(here.trace_flags):02x}"
    assert of_reply == f"00-{model.trace_id:032x}-{model.span_id:016x}-{int(model.trace_flags):02x}"
    otel_agentmon.feedback("thumbs_down", span_context=of_reply)
    record = rated.only_record()
    assert (record.trace_id, record.span_id) == (model.trace_id, model.span_id)
    # the same process knows the call behind the span: its agent is named
    assert record.attributes[ga.AGENT_NAME] == "helpdesk"


# --- ratings and labels -------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "rating"), [
    (True, 5), ("up", 5), ("thumbs_up", 5), ("+1", 5), ("UP", 5),
    (False, 1), ("down", 1), ("thumbs_down", 1), ("-1", 1), (" Thumbs_Down ", 1),
    (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (4.0, 4),
])
def test_thumbs_and_numbers(rated, given, rating):
    otel_agentmon.feedback(given, span_context=SOME_SPAN)
    record = rated.only_record()
    assert record.attributes[ga.EVALUATION_SCORE_VALUE] == float(rating)
    assert type(record.attributes[ga.EVALUATION_SCORE_VALUE]) is float


def test_labels(rated):
    for rating in (1, 2, 3, 4, 5):
        otel_agentmon.feedback(rating, span_context=SOME_SPAN)
    labels = [r.attributes[ga.EVALUATION_SCORE_LABEL] for r in rated.records()]
    assert labels == ["low", "low", "neutral", "high", "high"]
    assert m.LOW_RATING_MAX == 2


def test_the_histogram_point(rated, client):
    reply = ask(client)
    for rating in (1, 2, 5, 5):
        otel_agentmon.feedback(rating, response_id=reply.id)
    (point,) = rated.points()
    assert dict(point.attributes) == {am.APPLICATION: SERVICE}  # no agent: none named; never user.id
    assert tuple(point.explicit_bounds) == m.FEEDBACK_RATING_BUCKETS == (1, 2, 3, 4, 5)
    assert list(point.bucket_counts) == [1, 1, 0, 0, 2, 0]
    metric = next(metric for rm in rated.telemetry.metrics.get_metrics_data().resource_metrics
                  for sm in rm.scope_metrics if sm.scope.name == "otel_agentmon.feedback"
                  for metric in sm.metrics)
    assert (metric.name, metric.unit) == (m.FEEDBACK_RATING, m.UNIT_RATING)


def test_agent_names_on_the_metric_are_capped(rated, monkeypatch):
    monkeypatch.setattr(_telemetry, "_agent_labels", _telemetry._LabelValues(limit=2))
    for n in range(4):
        call = RatedCall(SpanContext(1, n + 1, False), f"agent-{n}", None, None)
        _index.INDEX.add(f"resp-cap-{n}", call)
        otel_agentmon.feedback(5, response_id=f"resp-cap-{n}")
    agents = sorted(p.attributes[ga.AGENT_NAME] for p in rated.points())
    assert agents == ["_OTHER", "agent-0", "agent-1"]
    # the log records keep the real names
    assert [r.attributes[ga.AGENT_NAME] for r in rated.records()] == [f"agent-{n}" for n in range(4)]


# --- the comment --------------------------------------------------------------------------------


def test_comment_is_left_out_without_content_capture(rated):
    otel_agentmon.feedback(1, "wrong city, write to jane.doe@example.com", span_context=SOME_SPAN)
    assert ga.EVALUATION_EXPLANATION not in rated.only_record().attributes


def test_comment_with_content_capture_is_redacted_and_bounded(rated, monkeypatch):
    monkeypatch.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "true")
    otel_agentmon.feedback(1, "wrong city, write to jane.doe@example.com", span_context=SOME_SPAN)
    otel_agentmon.feedback(2, "too long " * 1000, span_context=SOME_SPAN)
    short, long = (r.attributes[ga.EVALUATION_EXPLANATION] for r in rated.records())
    assert short == "wrong city, write to [REDACTED:email]"
    assert len(long) == 1024 and long.endswith("\u2026")


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, 6, -1, 2.5, math.nan, math.inf, "great", "", "5", None, [5]])
def test_a_rating_off_the_scale_is_a_value_error(rated, bad):
    with pytest.raises(ValueError) as error:
        otel_agentmon.feedback(bad, span_context=SOME_SPAN)
    assert "from 1 to 5" in str(error.value) and "thumbs_up" in str(error.value) and "thumbs_down" in str(error.value)
    assert rated.records() == [] and rated.points() == []


@pytest.mark.parametrize("bad", [
    "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
    "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",
    "",
])
def test_a_malformed_traceparent_is_a_value_error(rated, bad):
    with pytest.raises(ValueError, match=r"not a W3C traceparent; expected '00-<32 hex digits"):
        otel_agentmon.feedback(1, span_context=bad)
    assert rated.records() == []


def test_other_bad_arguments(rated):
    with pytest.raises(TypeError, match="span_context must be an opentelemetry.trace.SpanContext"):
        otel_agentmon.feedback(1, span_context=12345)
    with pytest.raises(TypeError, match="comment must be a str"):
        otel_agentmon.feedback(1, comment=42, span_context=SOME_SPAN)
    with pytest.raises(ValueError, match="response_id must not be empty"):
        otel_agentmon.feedback(1, response_id="")
    with pytest.raises(TypeError, match="user_id must be a str"):
        otel_agentmon.feedback(1, span_context=SOME_SPAN, user_id=7)
    assert rated.records() == []


def test_an_invalid_span_context_is_recorded_unlinked(rated):
    otel_agentmon.feedback(2, span_context=trace.INVALID_SPAN_CONTEXT)
    record = rated.only_record()
    assert record.trace_id == 0 and record.span_id == 0


def test_an_unknown_response_id_is_recorded_unlinked_with_one_warning(rated, caplog):
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        otel_agentmon.feedback(3, response_id="chatcmpl-from-another-process")
        otel_agentmon.feedback(4, response_id="chatcmpl-another-one")
    (warning,) = feedback_warnings(caplog)
    assert "chatcmpl-from-another-process" in warning and "span_context" in warning
    first, second = rated.records()
    for record in (first, second):
        assert record.trace_id == 0 and record.span_id == 0
    assert first.attributes[ga.RESPONSE_ID] == "chatcmpl-from-another-process"
    assert second.attributes[ga.RESPONSE_ID] == "chatcmpl-another-one"
    assert sum(p.count for p in rated.points()) == 2


def test_an_unknown_response_id_inside_a_request_span_does_not_borrow_it(rated, caplog):
    with trace.get_tracer("web").start_as_current_span("POST /feedback"):
        otel_agentmon.feedback(1, response_id="chatcmpl-unknown")
    record = rated.only_record()
    assert record.trace_id == 0 and record.span_id == 0


def test_feedback_before_telemetry_is_set_up_warns_once_and_does_not_raise(monkeypatch, caplog):
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", None)  # the API's stand-ins, as at start
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(_telemetry, "_said", set())
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        otel_agentmon.feedback("up", span_context=SOME_SPAN)
        otel_agentmon.feedback(2)
    (warning,) = feedback_warnings(caplog)
    assert "feedback recorded before telemetry was set up; it is not exported" in warning
    assert "LoggerProvider or MeterProvider" in warning


class FailingProcessor(LogRecordProcessor):
    """A log pipeline that fails on every record (a broken processor or exporter)."""

    def on_emit(self, log_record) -> None:
        raise RuntimeError("log pipeline down")

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_a_failing_log_pipeline_never_reaches_the_caller(rated, monkeypatch, caplog):
    broken = LoggerProvider()
    broken.add_log_record_processor(FailingProcessor())
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", broken)
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        otel_agentmon.feedback(1, span_context=SOME_SPAN)
        otel_agentmon.feedback(1, span_context=SOME_SPAN)
    (warning,) = feedback_warnings(caplog)
    assert "could not record feedback" in warning
    assert sum(p.count for p in rated.points()) == 2  # the metric is still recorded


# --- the response index ---------------------------------------------------------------------------


def test_the_index_is_a_bounded_lru():
    assert _index.INDEX.capacity == DEFAULT_CAPACITY == 10_000
    index = ResponseIndex(capacity=3)
    calls = {f"r{n}": RatedCall(SpanContext(7, n + 1, False), None, None, None) for n in range(5)}
    for response_id in ("r0", "r1", "r2"):
        index.add(response_id, calls[response_id])
    assert index.by_response_id("r0") == calls["r0"]  # used: now the most recent
    index.add("r3", calls["r3"])
    index.add("r4", calls["r4"])
    assert len(index) == 3
    assert index.by_response_id("r1") is None and index.by_response_id("r2") is None
    assert index.by_response_id("r0") == calls["r0"]
    assert index.by_span(calls["r4"].span_context) == calls["r4"]
    assert index.by_span(calls["r1"].span_context) is None
    for n in range(10_000):
        index.add(f"x{n}", RatedCall(SpanContext(8, n + 1, False), None, None, None))
    assert len(index) == 3 and len(index._by_span) == 3


def test_an_evicted_response_id_is_recorded_unlinked(rated, client, monkeypatch, caplog):
    monkeypatch.setattr(_index, "INDEX", ResponseIndex(capacity=2))
    first, second, third = (ask(client).id for _ in range(3))
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        otel_agentmon.feedback(1, response_id=first)
        otel_agentmon.feedback(5, response_id=third)
    unlinked, linked = rated.records()
    assert unlinked.span_id == 0 and unlinked.attributes[ga.RESPONSE_ID] == first
    assert linked.span_id != 0
    assert len(feedback_warnings(caplog)) == 1


def test_configure_adds_the_processor_once():
    provider = TracerProvider()
    _configure._add_attribution(provider)
    _configure._add_attribution(provider)
    kinds = [type(p) for p in provider._active_span_processor._span_processors]
    assert kinds.count(FeedbackSpanProcessor) == 1


# --- the embedded store ----------------------------------------------------------------------------


def test_feedback_lands_in_the_store(rated, client, monkeypatch, tmp_path):
    path = tmp_path / "store.db"
    stored = LoggerProvider(resource=Resource.create({"service.name": SERVICE}))
    stored.add_log_record_processor(SimpleLogRecordProcessor(StoreLogExporter(path)))
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", stored)
    reply = ask(client)
    otel_agentmon.feedback("down", response_id=reply.id)
    stored.shutdown()
    span = rated.model_span().context
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT name, score, label, trace_id, span_id, service_name, time_ns "
                                  "FROM evaluations").fetchall()
    finally:
        connection.close()
    ((name, score, label, trace_id, span_id, service, when),) = rows
    assert (name, score, label) == (m.FEEDBACK_EVALUATION_NAME, 1.0, m.FeedbackLabel.LOW)
    assert (trace_id, span_id) == (format(span.trace_id, "032x"), format(span.span_id, "016x"))
    assert service == SERVICE and when > 0


# --- two processes: the agent answers, a web handler rates the answer later -------------------------


def run_instrumented(script: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    base.update({"OTEL_METRICS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "200",
                 "OTEL_BLRP_SCHEDULE_DELAY": "200"})
    base.update(env)
    return subprocess.run([INSTRUMENT, sys.executable, str(script)], env=base, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_feedback_from_another_process_lands_on_the_model_span(provider_server, otlp_receiver):
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint}
    agent = run_instrumented(SCENARIOS / "feedback_agent.py", {
        **endpoint, "OTEL_SERVICE_NAME": "trip-planner", "PROVIDER_BASE_URL": provider_server.openai_base_url})
    assert agent.returncode == 0, agent.stderr[-3000:]
    handed_out = json.loads(agent.stdout.strip().splitlines()[-1])
    spans = otlp_receiver.wait_for_spans(
        lambda s: any(x["attributes"].get(ga.RESPONSE_ID) == handed_out["response_id"] for x in s))
    (model,) = [s for s in spans if s["attributes"].get(ga.RESPONSE_ID) == handed_out["response_id"]]
    assert model["attributes"][ga.USER_ID] == "u-42"

    handler = run_instrumented(SCENARIOS / "feedback_handler.py", {**endpoint, "OTEL_SERVICE_NAME": "feedback-web"},
                               stdin=json.dumps(handed_out))
    assert handler.returncode == 0, handler.stderr[-3000:]
    assert handler.stdout.strip() == "ok"
    logs = otlp_receiver.wait_for_logs(
        lambda r: sum(x["event_name"] == ga.EVALUATION_RESULT_EVENT for x in r) >= 2)
    thumbs_down, by_id = [r for r in logs if r["event_name"] == ga.EVALUATION_RESULT_EVENT]

    # the thumbs down, given with A's traceparent, is tied to A's model span
    assert (thumbs_down["trace_id"], thumbs_down["span_id"]) == (model["trace_id"], model["span_id"])
    assert thumbs_down["resource"]["service.name"] == "feedback-web"
    assert thumbs_down["scope"] == "otel_agentmon.feedback"
    assert thumbs_down["attributes"] == {
        ga.EVALUATION_NAME: m.FEEDBACK_EVALUATION_NAME,
        ga.EVALUATION_SCORE_VALUE: 1.0,
        ga.EVALUATION_SCORE_LABEL: m.FeedbackLabel.LOW,
        ga.USER_ID: "u-42",
    }  # content capture is off: no comment

    # B never saw A's response id: recorded with it, tied to no span, and said so on stderr
    assert by_id["trace_id"] in ("", "0" * 32) and by_id["span_id"] in ("", "0" * 16)
    assert by_id["attributes"][ga.RESPONSE_ID] == handed_out["response_id"]
    assert by_id["attributes"][ga.EVALUATION_SCORE_LABEL] == m.FeedbackLabel.NEUTRAL
    assert f"feedback for response id {handed_out['response_id']!r}, which this process has not seen" \
        in handler.stderr
    assert "Pass span_context=" in handler.stderr
    assert "before telemetry was set up" not in handler.stderr
