"""Quality evaluation end to end: the real openai and anthropic SDKs against the local provider
server, our instrumentors, evaluation results read back as OpenTelemetry log records and
metrics from in-memory readers."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import anthropic
import openai
import opentelemetry._logs._internal as logs_internal
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from _instrumented import instrument, uninstrument
from otel_agentmon import _runtime
from otel_agentmon.evaluation import (
    EvaluationInput,
    configure_evaluation,
    flush_evaluation,
    llm_judge,
    shutdown_evaluation,
)
from otel_agentmon.evaluation import _capture
from otel_agentmon.processors import SpanEnricher, is_sampled, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."


def reply(**fields) -> dict:
    return {"x-agentmon-reply": json.dumps(fields)}


class Recorder:
    """An evaluator that keeps what it was given and scores 1."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.items: list[EvaluationInput] = []

    def __call__(self, item: EvaluationInput) -> float:
        self.items.append(item)
        return 1.0


class Evaluated:
    def __init__(self, telemetry) -> None:
        self.telemetry = telemetry
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def configure(self, evaluators, **options) -> None:
        configure_evaluation(evaluators, meter_provider=self.telemetry.meter_provider,
                             logger_provider=self.logger_provider, **options)

    def records(self):
        assert flush_evaluation(10)
        return [r.log_record for r in self.logs.get_finished_logs()]

    def results(self) -> dict[tuple[int, str], dict]:
        """Event attributes by (span id, evaluation name)."""
        return {(r.span_id, r.attributes[ga.EVALUATION_NAME]): dict(r.attributes) for r in self.records()}

    def points(self, name: str):
        assert flush_evaluation(10)
        return self.telemetry.metric_points(name)


def sample_rate(monkeypatch, rate: float) -> None:
    monkeypatch.setattr(_runtime, "_enricher", SpanEnricher(quality_sample_rate=rate))


@pytest.fixture
def evaluated(monkeypatch):
    sample_rate(monkeypatch, 1.0)
    telemetry = instrument()
    yield Evaluated(telemetry)
    shutdown_evaluation(10)
    uninstrument()


@pytest.fixture
def content_evaluated(monkeypatch):
    sample_rate(monkeypatch, 1.0)
    telemetry = instrument(capture_content=True)
    yield Evaluated(telemetry)
    shutdown_evaluation(10)
    uninstrument()


@pytest.fixture
def claude(provider_server):
    return anthropic.Anthropic(base_url=provider_server.anthropic_base_url, api_key="sk-ant-test", max_retries=0,
                               timeout=5)


def chat(client, question: str = QUESTION, answer: str = ANSWER, **kwargs):
    return client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": question}],
                                          extra_headers=reply(text=answer), **kwargs)


# --- results, tied to the span ---------------------------------------------------------------


def test_chat_call_results_are_events_of_its_span(evaluated, client):
    recorder = Recorder()
    evaluated.configure(["relevance", "coherence", "refusal", "format", recorder])
    messages = [{"role": "system", "content": "You answer geography questions."},
                {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
                {"role": "user", "content": QUESTION}]
    completion = client.chat.completions.create(model=GPT, messages=messages, temperature=0.1,
                                                extra_headers=reply(text=ANSWER))
    messages.append({"role": "assistant", "content": "changed afterwards"})  # the app goes on with its conversation
    assert completion.choices[0].message.content == ANSWER
    span = evaluated.telemetry.only_span()
    records = evaluated.records()
    # relevance, coherence, refusal and the recorder (format has nothing to check here)
    assert sorted(r.attributes[ga.EVALUATION_NAME] for r in records) == ["coherence", "recorder", "refusal",
                                                                        "relevance"]
    for record in records:
        assert record.event_name == ga.EVALUATION_RESULT_EVENT
        assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
        assert record.attributes[ga.REQUEST_MODEL] == GPT
        assert record.attributes[ga.PROVIDER_NAME] == "openai"
        assert record.attributes[ga.RESPONSE_ID] == completion.id
        assert ga.EVALUATION_EXPLANATION not in record.attributes  # content capture is off
    relevance = next(r for r in records if r.attributes[ga.EVALUATION_NAME] == "relevance")
    assert relevance.attributes[ga.EVALUATION_SCORE_VALUE] == 1.0
    assert relevance.attributes[ga.EVALUATION_SCORE_LABEL] == "relevant"
    (item,) = recorder.items
    assert item.question == QUESTION and item.answer == ANSWER
    assert item.system_instructions == "You answer geography questions."
    assert (item.model, item.provider, item.operation) == (GPT, "openai", "chat")
    assert item.finish_reasons == ("stop",)
    assert item.span_context == span.context
    assert [message["role"] for message in item.input_messages] == ["user", "assistant", "user"]
    assert item.attributes[ga.REQUEST_TEMPERATURE] == 0.1
    # and the spans carry no content: evaluation reads it in memory only
    assert ga.INPUT_MESSAGES not in span.attributes and ga.OUTPUT_MESSAGES not in span.attributes


def test_quality_score_histogram(evaluated, client):
    evaluated.configure(["relevance", "refusal"])
    chat(client)
    chat(client, answer="The stock market closed higher today.")
    chat(client, answer="I'm sorry, but I can't help with that.")
    points = {p.attributes[ga.EVALUATION_NAME]: p for p in evaluated.points(m.QUALITY_SCORE)}
    assert set(points) == {"relevance", "refusal"}
    assert points["relevance"].count == 3
    assert points["refusal"].count == 3 and points["refusal"].sum == 2.0
    for point in points.values():
        assert point.attributes[ga.PROVIDER_NAME] == "openai" and point.attributes[ga.REQUEST_MODEL] == GPT
        assert am.APPLICATION in point.attributes
        assert tuple(point.explicit_bounds) == m.QUALITY_SCORE_BUCKETS


def test_drift_gauge(evaluated, client):
    evaluated.configure(["refusal"], window=2, baseline_size=2)
    for answer in (ANSWER, ANSWER, "I cannot assist with that.", "I cannot assist with that."):
        chat(client, answer=answer)
    (point,) = evaluated.points(m.QUALITY_DRIFT)
    assert dict(point.attributes) == {ga.EVALUATION_NAME: "refusal"}
    assert point.value == pytest.approx(-1.0)  # baseline 1.0 (answered), window 0.0 (refused)


def test_given_baseline(evaluated, client):
    evaluated.configure(["refusal"], window=2, baseline={"refusal": 0.5})
    chat(client)
    chat(client)
    (point,) = evaluated.points(m.QUALITY_DRIFT)
    assert point.value == pytest.approx(0.5)


def test_explanations_with_content_capture(content_evaluated, client):
    content_evaluated.configure(["relevance"])
    chat(client, answer="The stock market closed higher today.")
    (record,) = content_evaluated.records()
    assert record.attributes[ga.EVALUATION_EXPLANATION] == "0 of 2 question terms in the answer; missing: capital, france"
    assert record.attributes[ga.EVALUATION_SCORE_LABEL] == "off_topic"


def test_json_format_requested_by_response_format(evaluated, client):
    evaluated.configure(["format"])
    chat(client, answer='{"capital": "Paris"}', response_format={"type": "json_object"})
    chat(client, answer="Paris", response_format={"type": "json_object"})
    scores = [r.attributes[ga.EVALUATION_SCORE_VALUE] for r in evaluated.records()]
    assert scores == [1.0, 0.0]


def test_results_through_the_global_logger_provider(monkeypatch, evaluated, client):
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", evaluated.logger_provider)
    configure_evaluation(["refusal"], meter_provider=evaluated.telemetry.meter_provider)
    chat(client)
    (record,) = evaluated.records()
    assert record.span_id == evaluated.telemetry.only_span().context.span_id


# --- every kind of call ---------------------------------------------------------------------


def test_streamed_chat_is_evaluated_with_the_whole_text(evaluated, client):
    recorder = Recorder()
    evaluated.configure([recorder, "coherence"])
    long_answer = "Paris is the capital of France. It lies on the Seine, and it has been the capital for centuries."
    stream = client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}], stream=True,
                                            extra_headers=reply(text=long_answer))
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == long_answer
    assert all(c.choices for c in chunks)  # the usage chunk we asked for is still hidden
    span = evaluated.telemetry.only_span()
    assert flush_evaluation(10)
    (item,) = recorder.items
    assert item.answer == long_answer and item.question == QUESTION
    assert item.span_context == span.context
    assert ga.OUTPUT_MESSAGES not in span.attributes  # collected for evaluation, not put on the span


def test_stream_iterated_straight_from_the_call(evaluated, client, aclient):
    """``for chunk in client...create(stream=True)`` keeps only the iterator, not the stream
    object: the span (and the text evaluated) still covers the whole stream."""
    recorder = Recorder()
    evaluated.configure([recorder])
    for _ in client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}], stream=True,
                                            extra_headers=reply(text="sync in full")):
        pass

    async def run():
        async for _ in await aclient.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                                             stream=True, extra_headers=reply(text="async in full")):
            pass

    asyncio.run(run())
    assert flush_evaluation(10)
    assert sorted(item.answer for item in recorder.items) == ["async in full", "sync in full"]
    for span in evaluated.telemetry.finished():
        assert span.attributes[ga.RESPONSE_FINISH_REASONS] == ("stop",)
        assert ga.USAGE_OUTPUT_TOKENS in span.attributes


def test_async_chat_and_async_stream(evaluated, aclient):
    recorder = Recorder()
    evaluated.configure([recorder])

    async def run():
        await aclient.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                              extra_headers=reply(text="one"))
        stream = await aclient.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                                       stream=True, extra_headers=reply(text="two words"))
        async for _ in stream:
            pass

    asyncio.run(run())
    assert flush_evaluation(10)
    assert sorted(item.answer for item in recorder.items) == ["one", "two words"]


def test_responses_api(evaluated, client):
    recorder = Recorder()
    evaluated.configure([recorder])
    client.responses.create(model=GPT, input=QUESTION, instructions="Be brief.", extra_headers=reply(text=ANSWER),
                            text={"format": {"type": "json_object"}})
    stream = client.responses.create(model=GPT, input=[{"role": "user", "content": "Streamed?"}], stream=True,
                                     extra_headers=reply(text="Yes, streamed."))
    for _ in stream:
        pass
    assert flush_evaluation(10)
    by_question = {item.question: item for item in recorder.items}
    plain, streamed = by_question[QUESTION], by_question["Streamed?"]
    assert (plain.question, plain.answer, plain.system_instructions) == (QUESTION, ANSWER, "Be brief.")
    assert plain.response_format == "json_object"
    assert (streamed.question, streamed.answer) == ("Streamed?", "Yes, streamed.")


def test_anthropic_messages_create_stream_and_helper(evaluated, claude):
    recorder = Recorder()
    evaluated.configure([recorder, "refusal"])
    claude.messages.create(model=CLAUDE, max_tokens=50, system="Answer briefly.",
                           messages=[{"role": "user", "content": QUESTION}], extra_headers=reply(text=ANSWER))
    for _ in claude.messages.create(model=CLAUDE, max_tokens=50, stream=True,
                                    messages=[{"role": "user", "content": "Raw stream?"}],
                                    extra_headers=reply(text="Yes, a raw stream of events.")):
        pass
    with claude.messages.stream(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "Helper?"}],
                                extra_headers=reply(text="Yes, the helper streams too.")) as stream:
        assert stream.get_final_text() == "Yes, the helper streams too."
    assert flush_evaluation(10)
    spans = {s.context.span_id: s for s in evaluated.telemetry.finished()}
    answers = {item.question: (item.answer, item.system_instructions, item.provider, item.span_context.span_id)
               for item in recorder.items}
    assert {q: a[:3] for q, a in answers.items()} == {
        QUESTION: (ANSWER, "Answer briefly.", "anthropic"),
        "Raw stream?": ("Yes, a raw stream of events.", None, "anthropic"),
        "Helper?": ("Yes, the helper streams too.", None, "anthropic"),
    }
    assert {a[3] for a in answers.values()} == set(spans)
    refusals = [r for r in evaluated.records() if r.attributes[ga.EVALUATION_NAME] == "refusal"]
    assert {r.span_id for r in refusals} == set(spans)


def test_anthropic_refusal_stop_reason(evaluated, claude):
    evaluated.configure(["refusal"])
    claude.messages.create(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": QUESTION}],
                           extra_headers=reply(text="", finish_reason="refusal"))
    (record,) = evaluated.records()
    assert record.attributes[ga.EVALUATION_SCORE_LABEL] == "refusal"


# --- what is not evaluated --------------------------------------------------------------------


def test_sample_rate_zero_evaluates_nothing_and_reads_no_content(monkeypatch, evaluated, client, claude):
    sample_rate(monkeypatch, 0.0)
    recorder = Recorder()
    evaluated.configure([recorder])
    snapshots = []
    real_snapshot = _capture._snapshot
    monkeypatch.setattr(_capture, "_snapshot", lambda *a: snapshots.append(a) or real_snapshot(*a))
    chat(client)
    for _ in client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}], stream=True):
        pass
    claude.messages.create(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": QUESTION}])
    assert len(evaluated.telemetry.finished()) == 3
    assert flush_evaluation(10)
    assert recorder.items == [] and snapshots == [] and evaluated.records() == []


def test_only_calls_of_sampled_traces_are_evaluated(monkeypatch, evaluated, client):
    sample_rate(monkeypatch, 0.5)
    recorder = Recorder()
    evaluated.configure([recorder])
    for _ in range(24):
        chat(client)
    assert flush_evaluation(10)
    threshold = sample_threshold(0.5)
    sampled = {s.context.span_id for s in evaluated.telemetry.finished() if is_sampled(s.context.trace_id, threshold)}
    assert {item.span_context.span_id for item in recorder.items} == sampled
    assert 0 < len(sampled) < 24


def test_evaluation_off_leaves_the_request_path_alone(monkeypatch, evaluated, client, claude):
    shutdown_evaluation()
    assert _capture.EVALUATION.enabled is False

    def never(*args, **kwargs):
        raise AssertionError("evaluation was consulted while off")

    monkeypatch.setattr(_capture.EvaluationGate, "begin", never)
    monkeypatch.setattr(_capture, "_snapshot", never)
    completion = chat(client)
    stream = client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}], stream=True,
                                            extra_headers=reply(text=ANSWER))
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == ANSWER
    with claude.messages.stream(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": QUESTION}]) as s:
        s.get_final_text()
    assert completion.choices[0].message.content == ANSWER
    spans = evaluated.telemetry.finished()
    assert len(spans) == 3 and all(ga.RESPONSE_FINISH_REASONS in s.attributes for s in spans)
    assert evaluated.logs.get_finished_logs() == ()


def test_embeddings_and_failed_calls_are_not_evaluated(evaluated, client):
    recorder = Recorder()
    evaluated.configure([recorder])
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                       extra_headers={"x-agentmon-fault": "rate_limit"})
    with pytest.raises(ValueError):  # the SDK's JSONDecodeError on a broken stream event
        for _ in client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                                stream=True, extra_headers={"x-agentmon-fault": "malformed_sse"}):
            pass
    assert flush_evaluation(10)
    assert recorder.items == []


def test_stream_left_early_and_tool_calls_are_not_evaluated(evaluated, client):
    recorder = Recorder()
    evaluated.configure([recorder])
    stream = client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}], stream=True,
                                            extra_headers=reply(text="a long answer in many chunks " * 5))
    next(iter(stream))
    stream.close()
    client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": QUESTION}],
                                   extra_headers=reply(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}]))
    assert len(evaluated.telemetry.finished()) == 2
    assert flush_evaluation(10)
    assert recorder.items == []


# --- faults stay inside --------------------------------------------------------------------------


def test_evaluator_failures_never_reach_the_application(evaluated, client, caplog):
    def explodes(item):
        raise ZeroDivisionError("bad evaluator")

    def garbage(item):
        return "excellent"

    evaluated.configure([explodes, garbage, "refusal"])
    for _ in range(2):
        assert chat(client).choices[0].message.content == ANSWER
    records = evaluated.records()
    assert [r.attributes[ga.EVALUATION_NAME] for r in records] == ["refusal", "refusal"]
    errors = {p.attributes[ga.EVALUATION_NAME]: p.value for p in evaluated.points(m.EVALUATION_ERRORS)}
    assert errors == {"explodes": 2, "garbage": 2}
    assert any("evaluator 'explodes' failed" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_a_slow_evaluator_never_slows_the_caller(evaluated, client):
    evaluated.configure(["refusal"])  # warm the path up: connection, imports
    chat(client)
    assert flush_evaluation(10)
    started = time.perf_counter()
    for _ in range(20):
        chat(client)
    baseline = time.perf_counter() - started

    def sleeps(item):
        time.sleep(1.0)
        return 1.0

    evaluated.configure([sleeps], queue_size=2)
    started = time.perf_counter()
    for _ in range(20):
        assert chat(client).choices[0].message.content == ANSWER
    elapsed = time.perf_counter() - started
    assert elapsed < baseline + 0.5, (elapsed, baseline)  # 20 calls; the evaluator alone would take 20 s
    (dropped,) = evaluated.telemetry.metric_points(m.EVALUATIONS_DROPPED)
    assert dropped.value in (17, 18)  # two queued, at most one in the evaluator's hands
    assert flush_evaluation(10)
    sleeps_points = [p for p in evaluated.telemetry.metric_points(m.QUALITY_SCORE)
                     if p.attributes[ga.EVALUATION_NAME] == "sleeps"]
    assert sleeps_points[0].count == 20 - dropped.value


# --- the LLM judge ------------------------------------------------------------------------------


def judge_client(provider_server, text: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-judge", max_retries=0, timeout=5,
                         default_headers=reply(text=text))


def test_llm_judge_against_the_local_server(content_evaluated, client, provider_server):
    judge = llm_judge(judge_client(provider_server, '{"score": 4, "reason": "Correct and brief."}'), GPT,
                      criteria="Is the answer correct?")
    content_evaluated.configure([judge])
    before = len(provider_server.requests)
    chat(client)
    (record,) = content_evaluated.records()
    assert record.attributes[ga.EVALUATION_NAME] == "llm_judge"
    assert record.attributes[ga.EVALUATION_SCORE_VALUE] == 0.75
    assert record.attributes[ga.EVALUATION_SCORE_LABEL] == "pass"
    assert record.attributes[ga.EVALUATION_EXPLANATION] == "Correct and brief."
    # the judge was asked, with the question and the answer, and its own call was not traced
    judged = provider_server.requests[before + 1]["json"]
    assert judged["model"] == GPT and judged["temperature"] == 0
    prompt = judged["messages"][1]["content"]
    assert "Is the answer correct?" in prompt and QUESTION in prompt and ANSWER in prompt
    assert len(content_evaluated.telemetry.finished()) == 1


def test_llm_judge_unparseable_reply_is_an_error(evaluated, client, provider_server):
    evaluated.configure([llm_judge(judge_client(provider_server, "What a lovely answer!"), GPT, name="judge")])
    chat(client)
    assert evaluated.records() == []
    (error,) = evaluated.points(m.EVALUATION_ERRORS)
    assert dict(error.attributes) == {ga.EVALUATION_NAME: "judge"} and error.value == 1


# --- configured by configure() and by opentelemetry-instrument -------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update(extra)
    return env


def test_configure_starts_evaluation(provider_server):
    code = textwrap.dedent(f"""
        import openai
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import otel_agentmon
        from otel_agentmon.evaluation import flush_evaluation
        from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

        logs = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        set_logger_provider(provider)
        spans = InMemorySpanExporter()
        tracer_provider = otel_agentmon.configure(span_exporters=[spans], metric_readers=[InMemoryMetricReader()],
                                                  quality_sample_rate=1.0, evaluators=["refusal", "relevance"])
        OpenAIInstrumentor().instrument()
        client = openai.OpenAI(base_url={provider_server.openai_base_url!r}, api_key="k", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Capital of France?"}}])
        assert flush_evaluation(10)
        tracer_provider.force_flush()
        (span,) = spans.get_finished_spans()
        records = [r.log_record for r in logs.get_finished_logs()]
        assert sorted(r.attributes["gen_ai.evaluation.name"] for r in records) == ["refusal", "relevance"]
        assert {{r.span_id for r in records}} == {{span.context.span_id}}
        try:
            otel_agentmon.configure(evaluators=["refusal", "judgement"])
        except otel_agentmon.ConfigurationError as exc:
            assert "evaluators: unknown evaluator 'judgement'" in str(exc)
        else:
            raise AssertionError("no error")
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


INSTRUMENT = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))


@pytest.mark.slow
def test_zero_code_evaluation_from_the_environment(provider_server, tmp_path):
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(f"""
        import openai
        from opentelemetry import trace
        client = openai.OpenAI(base_url={provider_server.openai_base_url!r}, api_key="k", max_retries=0)
        with trace.get_tracer("app").start_as_current_span("request") as span:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Hi there"}}],
                                           extra_headers={{"x-agentmon-reply": '{{"text": "I cannot assist with that."}}'}})
            print("trace", format(span.get_span_context().trace_id, "032x"))
    """))
    env = _clean_env(AGENTMON_EVALUATORS="refusal,coherence", AGENTMON_QUALITY_SAMPLE_RATE="1",
                     OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="console")
    result = subprocess.run([INSTRUMENT, sys.executable, str(script)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    trace_id = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("trace "))
    # the console exporter prints each log record as JSON; records are flushed at exit
    assert result.stdout.count('"event_name": "gen_ai.evaluation.result"') == 2, result.stdout
    assert f'"trace_id": "0x{trace_id}"' in result.stdout
    assert '"gen_ai.evaluation.score.label": "refusal"' in result.stdout


def test_llm_judge_example_runs():
    example = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "llm_judge.py")
    result = subprocess.run([sys.executable, example], env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "llm_judge  0.75 pass" in result.stdout
    assert "refusal    0.00 refusal" in result.stdout
