"""Quality evaluation, unit level: the heuristics' scores, evaluator output checks, the queue
and its worker (drops, errors), drift arithmetic, settings and the LLM judge's parsing."""

from __future__ import annotations

import logging
import math
import threading
import time

import pytest
from opentelemetry.trace import SpanContext, TraceFlags

from _instrumented import LogsAndMetrics

from otel_agentmon import ConfigurationError
from otel_agentmon._settings import AGENTMON_EVALUATION_QUEUE_SIZE, AGENTMON_EVALUATORS, settings_from_env
from otel_agentmon.evaluation import (
    EvaluationInput,
    EvaluationResult,
    coherence,
    configure_evaluation,
    format_check,
    parse_rating,
    refusal,
    relevance,
    shutdown_evaluation,
)
from otel_agentmon.evaluation._drift import DriftTracker
from otel_agentmon.evaluation._events import SCOPE
from otel_agentmon.evaluation._settings import EvaluationSettings, evaluation_settings_from_env
from otel_agentmon.evaluation._types import InvalidResult, normalize
from otel_agentmon.evaluation._worker import EvaluationEngine
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m


def ask(question: str, answer: str, **fields) -> EvaluationInput:
    return EvaluationInput(question=question, answer=answer, **fields)


# --- relevance ------------------------------------------------------------------------------

BREAD = "How do I bake sourdough bread at home?"  # content terms: bake, sourdough, bread, home


def test_relevance_full_coverage():
    result = relevance(ask("What is the capital of France?", "The capital of France is Paris."))
    assert result == EvaluationResult("relevance", 1.0, "relevant", "2 of 2 question terms in the answer")


def test_relevance_partial_coverage_is_the_square_root_of_the_share():
    result = relevance(ask(BREAD, "Mix flour, water and a starter, then bake the bread."))
    assert math.isclose(result.score, math.sqrt(2 / 4))
    assert result.label == "relevant"
    assert result.explanation == "2 of 4 question terms in the answer; missing: home, sourdough"
    # one of four terms: exactly the threshold
    assert relevance(ask(BREAD, "Preheat your oven before you bake.")).score == 0.5


def test_relevance_off_topic():
    result = relevance(ask(BREAD, "The stock market closed higher today."))
    assert (result.score, result.label) == (0.0, "off_topic")
    assert result.explanation.endswith("missing: bake, bread, home, sourdough")


def test_relevance_folds_plurals_and_suffixes():
    result = relevance(ask("Which cities have the most bridges?", "The city with the most bridge crossings is Hamburg."))
    assert result.score == 1.0


def test_relevance_not_applicable_without_content_words():
    assert relevance(ask("What is it?", "It is a cat.")) is None
    assert relevance(ask("", "Hello")) is None


# --- coherence ------------------------------------------------------------------------------


def test_coherence_of_plain_text():
    assert coherence(ask("q", "Paris is the capital of France.")) == EvaluationResult(
        "coherence", 1.0, "coherent", "no repetition, truncation or symbol soup")
    assert coherence(ask("q", "42")).score == 1.0


def test_coherence_empty_answer():
    assert coherence(ask("q", "  \n")) == EvaluationResult("coherence", 0.0, "incoherent", "empty answer")


def test_coherence_repeated_sentences():
    result = coherence(ask("q", "Paris is nice. Paris is nice. Paris is nice. Paris is nice."))
    assert math.isclose(result.score, 0.25)  # 3 of 4 sentences repeat
    assert result.label == "incoherent" and result.explanation == "75% repeated"


def test_coherence_repeated_words():
    result = coherence(ask("q", "the the the the the the"))  # 4 trigrams, 1 distinct
    assert math.isclose(result.score, 0.25) and result.label == "incoherent"


def test_coherence_symbol_soup():
    result = coherence(ask("q", "#$%^&*()_+{}|:<>?~!@,./;'[]"))
    assert math.isclose(result.score, 0.4)
    assert result.label == "incoherent" and result.explanation == "only 0% letters and digits"


def test_coherence_truncated():
    result = coherence(ask("q", "The answer is that the", finish_reasons=("length",)))
    assert math.isclose(result.score, 0.7)
    assert result.label == "coherent" and result.explanation == "cut off at the token limit"
    both = coherence(ask("q", "Paris is nice. Paris is nice.", finish_reasons=("length",)))
    assert math.isclose(both.score, 0.2)  # half repeated, and cut off


# --- refusal --------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "I'm sorry, but I can't help with that.",
    "I can't help with making weapons.",
    "I cannot assist with that request.",
    "I can\u2019t help with that",
    "As an AI language model, I have no opinions.",
    "Sorry, but I cannot provide that information.",
    "I am unable to help with this.",
    "I must decline this request.",
])
def test_refusals(answer):
    result = refusal(ask("q", answer))
    assert (result.score, result.label) == (0.0, "refusal")
    assert result.explanation.startswith("refusal phrase: ")


def test_refusal_by_finish_reason():
    assert refusal(ask("q", "", finish_reasons=("content_filter",))) == EvaluationResult(
        "refusal", 0.0, "refusal", "finish reason content_filter")


@pytest.mark.parametrize("answer", [
    "Paris is the capital of France.",
    "I can help with that: preheat the oven to 250 C.",
    "x" * 300 + " As an AI researcher once said, data beats opinions.",  # past the opening
])
def test_answers(answer):
    assert refusal(ask("q", answer)) == EvaluationResult("refusal", 1.0, "answered", "no refusal")


# --- format ---------------------------------------------------------------------------------


def test_format_json_requested_by_response_format():
    valid = format_check(ask("q", '{"city": "Paris"}', response_format="json_object"))
    assert valid == EvaluationResult("format", 1.0, "valid", "JSON expected; parses")
    fenced = format_check(ask("q", '```json\n{"city": "Paris"}\n```', response_format="json_schema"))
    assert fenced.score == 1.0
    prose = format_check(ask("q", 'Sure! {"city": "Paris"}', response_format="json_object"))
    assert prose == EvaluationResult("format", 0.0, "invalid", "JSON expected; does not parse at line 1 column 1")


def test_format_json_requested_in_words():
    assert format_check(ask("Where is Paris?", "In France.", system_instructions="Reply in JSON.")).score == 0.0
    assert format_check(ask("Return a JSON object with the city", '{"city": "Paris"}')).score == 1.0
    # mentioning JSON is not asking for it
    assert format_check(ask("What is JSON?", "A text format for data.")) is None


def test_format_code_fences():
    closed = format_check(ask("q", "Run:\n```python\nprint(1)\n```\nand\n```sh\nls\n```"))
    assert closed == EvaluationResult("format", 1.0, "valid", "2 code blocks, all closed")
    unclosed = format_check(ask("q", "Run:\n```python\nprint(1)\n"))
    assert unclosed == EvaluationResult("format", 0.0, "invalid", "1 code fence: a code block is not closed")
    assert format_check(ask("q", "Paris.")) is None


def test_heuristics_are_fast():
    item = ask(BREAD, "Mix flour, water and a starter, then bake the bread. " * 40, finish_reasons=("stop",))
    started = time.perf_counter()
    for _ in range(100):
        for evaluator in (relevance, coherence, refusal, format_check):
            evaluator(item)
    assert (time.perf_counter() - started) / 100 < 0.005  # well under 5 ms for all four on a 2 KB reply


# --- what an evaluator may return -----------------------------------------------------------


def test_normalize_accepts_results_scores_none_and_iterables():
    assert normalize("mine", None) == []
    assert normalize("mine", 0.25) == [EvaluationResult("mine", 0.25)]
    assert normalize("mine", 1) == [EvaluationResult("mine", 1.0)]
    results = [EvaluationResult("a", 0.0, "bad"), EvaluationResult("b", 1.0)]
    assert normalize("mine", iter(results)) == results
    assert normalize("mine", (r for r in results)) == results


@pytest.mark.parametrize("outcome", [
    float("nan"), 1.5, -0.1, True, "0.5", {"score": 0.5}, [0.5], [EvaluationResult("a", 0.5), 0.5],
    EvaluationResult("", 0.5), EvaluationResult("a\nb", 0.5), EvaluationResult("a", 0.5, label=3),
    EvaluationResult("a", 0.5, label=""), EvaluationResult("a", 0.5, explanation=b"x"), EvaluationResult("a", "0.5"),
    object(),
])
def test_normalize_refuses_what_is_not_a_score(outcome):
    with pytest.raises(InvalidResult):
        normalize("mine", outcome)


# --- the worker -----------------------------------------------------------------------------


class FakeCapture:
    """What the engine reads of a Capture."""

    def __init__(self, item: EvaluationInput | None = None, capture_content: bool = False) -> None:
        self.item = item if item is not None else ask("What is the capital of France?", "Paris is the capital of France.")
        self.attributes = {ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o-mini", ga.OPERATION_NAME: "chat",
                           ga.RESPONSE_ID: "chatcmpl-1"}
        self.application = "helpdesk"
        self.span_context = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
        self.capture_content = capture_content

    def to_input(self) -> EvaluationInput:
        return self.item


class Telemetry(LogsAndMetrics):

    def engine(self, *evaluators, queue_size: int = 1000, **options) -> EvaluationEngine:
        from otel_agentmon.evaluation._settings import resolve_evaluators

        settings = EvaluationSettings(resolve_evaluators(evaluators, "evaluators"), queue_size)
        return EvaluationEngine(settings, meter_provider=self.meter_provider, logger_provider=self.logger_provider,
                                **options)

    def records(self):
        return [r.log_record for r in self.logs.get_finished_logs()]

    def points(self, name: str):
        data = self.reader.get_metrics_data()
        return [point for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                for metric in sm.metrics if metric.name == name for point in metric.data.data_points]


@pytest.fixture
def telemetry():
    return Telemetry()


def test_results_become_events_tied_to_the_span_and_scores(telemetry):
    engine = telemetry.engine("relevance", "refusal")
    engine.submit(FakeCapture())
    assert engine.flush(5)
    records = telemetry.records()
    assert [r.event_name for r in records] == [ga.EVALUATION_RESULT_EVENT] * 2
    assert {(r.trace_id, r.span_id) for r in records} == {(0x1234, 0x5678)}
    relevance_record = records[0]
    assert dict(relevance_record.attributes) == {
        ga.EVALUATION_NAME: "relevance", ga.EVALUATION_SCORE_VALUE: 1.0, ga.EVALUATION_SCORE_LABEL: "relevant",
        ga.REQUEST_MODEL: "gpt-4o-mini", ga.PROVIDER_NAME: "openai", ga.OPERATION_NAME: "chat",
        ga.RESPONSE_ID: "chatcmpl-1",
    }  # no explanation: content capture is off for this call
    assert telemetry.logs.get_finished_logs()[0].instrumentation_scope.name == SCOPE
    points = {p.attributes[ga.EVALUATION_NAME]: p for p in telemetry.points(m.QUALITY_SCORE)}
    assert set(points) == {"relevance", "refusal"}
    assert dict(points["relevance"].attributes) == {
        ga.EVALUATION_NAME: "relevance", ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o-mini",
        am.APPLICATION: "helpdesk"}
    assert points["relevance"].count == 1 and points["relevance"].sum == 1.0
    assert tuple(points["relevance"].explicit_bounds) == m.QUALITY_SCORE_BUCKETS
    engine.close(5)


def test_explanation_only_with_content_capture_and_redacted(telemetry):
    def explain(item):
        return EvaluationResult("explained", 0.5, explanation="quoted: password=hunter2 " + "x" * 2000)

    engine = telemetry.engine(explain)
    engine.submit(FakeCapture(capture_content=True))
    engine.submit(FakeCapture(capture_content=False))
    assert engine.flush(5)
    with_content, without = telemetry.records()
    explanation = with_content.attributes[ga.EVALUATION_EXPLANATION]
    assert "hunter2" not in explanation and "[REDACTED]" in explanation
    assert len(explanation) <= 1024
    assert ga.EVALUATION_EXPLANATION not in without.attributes
    engine.close(5)


def test_failing_evaluators_are_counted_logged_and_never_raised(telemetry, caplog):
    calls = []

    def broken(item):
        calls.append(item)
        raise RuntimeError("judge unavailable")

    def nan_score(item):
        return float("nan")

    engine = telemetry.engine(broken, nan_score, "refusal")
    with caplog.at_level(logging.DEBUG, logger="otel_agentmon"):
        for _ in range(3):
            engine.submit(FakeCapture())
        assert engine.flush(5)
    assert len(calls) == 3
    errors = {p.attributes[ga.EVALUATION_NAME]: p.value for p in telemetry.points(m.EVALUATION_ERRORS)}
    assert errors == {"broken": 3, "nan_score": 3}
    # the other evaluators still ran on every call
    assert [r.attributes[ga.EVALUATION_NAME] for r in telemetry.records()] == ["refusal"] * 3
    broken_logs = [r for r in caplog.records if "'broken'" in r.getMessage()]
    assert [r.levelno for r in broken_logs] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert broken_logs[0].exc_info is not None and "judge unavailable" in broken_logs[0].getMessage()
    engine.close(5)


def test_full_queue_drops_and_counts_without_blocking(telemetry, caplog):
    release = threading.Event()
    seen = []

    def slow(item):
        seen.append(item)
        release.wait(10)
        return 1.0

    engine = telemetry.engine(slow, queue_size=2)
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        started = time.perf_counter()
        for _ in range(20):
            engine.submit(FakeCapture())
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    # the queue holds 2 and the worker took at most one off it before blocking
    assert engine.dropped in (17, 18)
    (dropped,) = telemetry.points(m.EVALUATIONS_DROPPED)
    assert dropped.value == engine.dropped and dict(dropped.attributes) == {}
    assert len([r for r in caplog.records if "evaluation queue is full" in r.getMessage()]) == 1
    release.set()
    assert engine.flush(5)
    assert len(seen) == 20 - engine.dropped
    engine.close(5)


def test_evaluators_run_with_instrumentation_suppressed(telemetry):
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    seen = []

    def probe(item):
        seen.append(is_instrumentation_enabled())

    engine = telemetry.engine(probe)
    engine.submit(FakeCapture())
    assert engine.flush(5)
    assert seen == [False]
    engine.close(5)


def test_tool_call_replies_are_not_evaluated(telemetry):
    class NoText(FakeCapture):
        def to_input(self):
            return None

    engine = telemetry.engine("relevance")
    engine.submit(NoText())
    assert engine.flush(5)
    assert telemetry.records() == []
    engine.close(5)


def test_close_stops_the_thread_and_refuses_new_calls(telemetry):
    engine = telemetry.engine("refusal")
    engine.submit(FakeCapture())
    assert engine.close(5)
    assert len(telemetry.records()) == 1
    engine.submit(FakeCapture())
    assert engine.flush(1)
    assert len(telemetry.records()) == 1


# --- drift ----------------------------------------------------------------------------------


def test_drift_arithmetic():
    drift = DriftTracker(window=3, baseline_size=2)
    drift.add("q", 1.0)
    drift.add("q", 0.5)
    assert drift.baseline("q") == 0.75
    assert drift.drift() == {}  # window not full yet
    drift.add("q", 0.0)
    assert drift.drift() == {"q": pytest.approx(0.5 - 0.75)}
    drift.add("q", 0.0)  # window: 0.5, 0, 0
    assert drift.drift() == {"q": pytest.approx(0.5 / 3 - 0.75)}
    assert drift.baseline("q") == 0.75  # the baseline stays


def test_drift_with_given_baseline_and_bounded_names():
    drift = DriftTracker(window=2, baseline_size=100, baselines={"judge": 0.9}, max_names=2)
    drift.add("judge", 0.5)
    assert drift.drift() == {}
    drift.add("judge", 0.7)
    assert drift.drift() == {"judge": pytest.approx(0.6 - 0.9)}
    assert drift.add("other", 1.0)
    assert not drift.add("third", 1.0)  # beyond max_names: not tracked
    assert drift.baseline("third") is None


def test_drift_gauge(telemetry):
    engine = telemetry.engine(lambda item: item.answer == "good" and 1.0 or 0.0, window=2, baseline_size=2)
    for answer in ("good", "good", "bad", "bad"):
        engine.submit(FakeCapture(ask("q", answer)))
    assert engine.flush(5)
    (point,) = telemetry.points(m.QUALITY_DRIFT)
    assert dict(point.attributes) == {ga.EVALUATION_NAME: "<lambda>"}
    assert point.value == pytest.approx(-1.0)  # baseline 1.0, last two 0.0
    engine.close(5)


# --- settings -------------------------------------------------------------------------------


def my_evaluator(item: EvaluationInput) -> float:
    return 1.0


NOT_CALLABLE = 42


def test_settings_off_by_default():
    assert evaluation_settings_from_env({}) is None
    assert evaluation_settings_from_env({AGENTMON_EVALUATORS: " , "}) is None
    assert settings_from_env({}).evaluation is None


def test_settings_names():
    settings = evaluation_settings_from_env({AGENTMON_EVALUATORS: "relevance, Refusal,relevance"})
    assert settings.names == ("relevance", "refusal") and settings.queue_size == 1000
    assert evaluation_settings_from_env({AGENTMON_EVALUATORS: "all"}).names == (
        "relevance", "coherence", "refusal", "format")
    own = evaluation_settings_from_env({AGENTMON_EVALUATORS: "format,test_evaluation:my_evaluator",
                                        AGENTMON_EVALUATION_QUEUE_SIZE: "5"})
    assert own.names == ("format", "my_evaluator") and own.evaluators[1][1] is my_evaluator
    assert own.queue_size == 5
    assert settings_from_env({AGENTMON_EVALUATORS: "coherence"}).evaluation.names == ("coherence",)


@pytest.mark.parametrize(("value", "message"), [
    ("relevancy", "unknown evaluator 'relevancy'"),
    ("relevance,", None),  # a trailing comma is fine
    ("no_such_module_xyz:judge", "cannot import module 'no_such_module_xyz'"),
    ("test_evaluation:missing", "has no attribute 'missing'"),
    ("test_evaluation:NOT_CALLABLE", "not a callable"),
    (":judge", "is not module:callable"),
])
def test_bad_evaluators_name_the_variable(value, message):
    if message is None:
        assert evaluation_settings_from_env({AGENTMON_EVALUATORS: value}).names == ("relevance",)
        return
    with pytest.raises(ConfigurationError, match=AGENTMON_EVALUATORS) as raised:
        settings_from_env({AGENTMON_EVALUATORS: value})
    assert message in str(raised.value)


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5"])
def test_bad_queue_size_names_the_variable(value):
    with pytest.raises(ConfigurationError, match=AGENTMON_EVALUATION_QUEUE_SIZE):
        settings_from_env({AGENTMON_EVALUATORS: "relevance", AGENTMON_EVALUATION_QUEUE_SIZE: value})


@pytest.mark.parametrize(("arguments", "named"), [
    ({"evaluators": "relevance"}, "evaluators"),
    ({"evaluators": ["nope"]}, "evaluators"),
    ({"evaluators": [42]}, "evaluators"),
    ({"evaluators": ["relevance"], "queue_size": 0}, "queue_size"),
    ({"evaluators": ["relevance"], "window": 0}, "window"),
    ({"evaluators": ["relevance"], "baseline_size": -1}, "baseline_size"),
    ({"evaluators": ["relevance"], "baseline": {"relevance": 1.5}}, "baseline"),
    ({"evaluators": ["relevance"], "baseline": [0.5]}, "baseline"),
])
def test_configure_evaluation_refuses_bad_arguments(arguments, named):
    with pytest.raises(ConfigurationError, match=named):
        configure_evaluation(**arguments)


def test_two_evaluators_with_one_name_are_refused():
    def judge(item):
        return 1.0

    def other(item):
        return 0.0

    other.__name__ = "judge"
    with pytest.raises(ConfigurationError, match="two evaluators are named 'judge'"):
        configure_evaluation([judge, other])


def test_check_config_reports_evaluators(monkeypatch, capsys):
    from otel_agentmon.cli import main

    monkeypatch.setenv(AGENTMON_EVALUATORS, "relevance,refusal")
    monkeypatch.setenv(AGENTMON_EVALUATION_QUEUE_SIZE, "50")
    assert main(["check-config"]) == 0
    assert "quality evaluation: relevance, refusal (queue of 50)" in capsys.readouterr().out
    monkeypatch.setenv(AGENTMON_EVALUATORS, "relevance,judgement")
    assert main(["check-config"]) == 1
    assert "AGENTMON_EVALUATORS: unknown evaluator 'judgement'" in capsys.readouterr().err
    monkeypatch.setenv(AGENTMON_EVALUATORS, "relevance")
    monkeypatch.setenv(AGENTMON_EVALUATION_QUEUE_SIZE, "0")
    assert main(["check-config"]) == 1
    assert AGENTMON_EVALUATION_QUEUE_SIZE in capsys.readouterr().err


def test_configurator_reports_bad_evaluators_and_sets_nothing_up(monkeypatch, caplog):
    from otel_agentmon.distro import AgentmonConfigurator

    monkeypatch.setenv(AGENTMON_EVALUATORS, "relevance,judgement")
    with caplog.at_level(logging.ERROR, logger="otel_agentmon"):
        AgentmonConfigurator().configure()
    (record,) = [r for r in caplog.records if AGENTMON_EVALUATORS in r.getMessage()]
    assert "telemetry is not set up" in record.getMessage()


def test_shutdown_turns_evaluation_off():
    from otel_agentmon.evaluation import evaluation_enabled

    configure_evaluation(["refusal"])
    assert evaluation_enabled()
    assert shutdown_evaluation(5)
    assert not evaluation_enabled()


# --- the LLM judge's reply ------------------------------------------------------------------


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"score": 4, "reason": "Mostly right."}', (4.0, "Mostly right.")),
    ('```json\n{"score": 5, "reason": "Exact."}\n```', (5.0, "Exact.")),
    ('Here is my rating: {"rating": "2", "explanation": "Vague."}', (2.0, "Vague.")),
    ("3", (3.0, None)),
    ("4/5", (4.0, None)),
    ("**5**", (5.0, None)),
    ('Score: 1 because it is wrong', (1.0, None)),
    ('{"score": 4.5}', (4.5, None)),
])
def test_parse_rating(reply, expected):
    assert parse_rating(reply) == expected


@pytest.mark.parametrize("reply", ["", None, "A great answer!", '{"score": 7}', '{"score": 0}', "6", '{"reason": "x"}',
                                   '{"score": true}'])
def test_parse_rating_refuses_what_has_no_rating(reply):
    with pytest.raises(ValueError):
        parse_rating(reply)
