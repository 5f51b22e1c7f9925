"""Structured call logs: one ``agentmon.call`` log record per model call, tool call and agent
run, with the real openai and anthropic SDKs against the local provider server.

In-process tests put the call log pipeline beside the usual enriched span pipeline, with an
in-memory LoggerProvider standing in for the OTLP one, and compare each record with the span
the backend gets. ``configure()`` cases run in a fresh interpreter (global providers are set
once per process); the end-to-end cases run a script under ``opentelemetry-instrument``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import anthropic
import openai
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

import otel_agentmon
from _global_telemetry import install, uninstall
from otel_agentmon import ConfigurationError
from otel_agentmon._settings import AGENTMON_CALL_LOG_FILE, AGENTMON_CALL_LOGS, settings_from_env
from otel_agentmon.call_logs import (
    CONTENT_FIELDS,
    FIELDS,
    JsonLinesLogExporter,
    call_log_processor,
    check_log_file,
    file_logger_provider,
    logs_have_a_destination,
)
from otel_agentmon.processors import SpanEnricher
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import call_logs as cl
from otel_agentmon.semconv import gen_ai as ga

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMAIL = "jane.doe@example.com"
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
INSTRUMENT = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))


def reply(**fields) -> dict:
    return {"x-agentmon-reply": json.dumps(fields)}


class CallLogs:
    """The global span pipeline of the agent API (enriched, in memory) plus the call log
    pipeline into an in-memory LoggerProvider."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capture: bool) -> None:
        monkeypatch.setenv(CAPTURE, "true" if capture else "false")
        self.telemetry = install(monkeypatch)
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider(resource=Resource.create({"service.name": "agents-under-test"}))
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.processor = call_log_processor(SpanEnricher(), logger_provider=self.logger_provider, capture_content=capture)
        self.telemetry.tracer_provider.add_span_processor(self.processor)

    def records(self) -> list:
        self.telemetry.tracer_provider.force_flush()
        self.logger_provider.force_flush()
        return [r.log_record for r in self.logs.get_finished_logs() if r.log_record.event_name == cl.CALL_LOG_EVENT]

    def by_span_id(self) -> dict[int, object]:
        return {record.span_id: record for record in self.records()}

    def spans(self) -> dict[int, object]:
        return {span.context.span_id: span for span in self.telemetry.finished()}


@pytest.fixture
def calls(monkeypatch):
    calls = CallLogs(monkeypatch, capture=False)
    yield calls
    calls.processor.shutdown()
    uninstall()


@pytest.fixture
def calls_with_content(monkeypatch):
    calls = CallLogs(monkeypatch, capture=True)
    yield calls
    calls.processor.shutdown()
    uninstall()


@pytest.fixture
def openai_client(provider_server):
    provider_server.clear()
    return openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=5)


@pytest.fixture
def anthropic_client(provider_server):
    return anthropic.Anthropic(base_url=provider_server.anthropic_base_url, api_key="sk-ant-test", max_retries=0,
                               timeout=5)


# --- one record per call, tied to its span, carrying what the span carries ------------------


def run_agent(openai_client, anthropic_client) -> None:
    with otel_agentmon.attribution(user_id="alice", department="research", application="helpdesk"):
        with otel_agentmon.workflow("triage"):  # a workflow gets no record
            with otel_agentmon.agent("planner"):
                with otel_agentmon.tool("lookup"):
                    pass
                openai_client.chat.completions.create(
                    model=GPT, messages=[{"role": "user", "content": "Capital of France?"}],
                    extra_headers=reply(text="Paris.", input_tokens=1200, output_tokens=300, cached_tokens=1000,
                                        reasoning_tokens=100))
                anthropic_client.messages.create(
                    model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "Capital of Spain?"}],
                    extra_headers=reply(text="Madrid.", input_tokens=40, output_tokens=9))
                with trace.get_tracer("app").start_as_current_span("http GET"):  # not GenAI: no record
                    pass


def test_one_record_per_model_call_tool_call_and_agent_run(calls, openai_client, anthropic_client):
    run_agent(openai_client, anthropic_client)
    records = calls.by_span_id()
    spans = calls.spans()
    kinds = {spans[span_id].name: record.body[cl.KIND] for span_id, record in records.items()}
    assert kinds == {f"chat {GPT}": "model", f"chat {CLAUDE}": "model", "execute_tool lookup": "tool",
                     "invoke_agent planner": "agent"}
    assert len(calls.records()) == 4  # exactly one each
    for span_id, record in records.items():
        span = spans[span_id]  # the span as the backend gets it (enriched on export)
        assert record.trace_id == span.context.trace_id
        assert record.span_id == span.context.span_id
        assert record.trace_flags == span.context.trace_flags
        assert record.timestamp == span.end_time
        assert record.severity_number is SeverityNumber.INFO and record.severity_text == "INFO"
        body = record.body
        assert body[cl.NAME] == span.name
        assert body[cl.STATUS] == "ok"
        assert math.isclose(body[cl.DURATION], (span.end_time - span.start_time) / 1e9, abs_tol=1e-6)
        for key in FIELDS:  # every listed field the span has, with the span's value, and no other
            if key in span.attributes:
                expected = span.attributes[key]
                assert body[key] == (list(expected) if isinstance(expected, tuple) else expected), key
            else:
                assert key not in body, key
        assert body[ga.USER_ID] == "alice"
        assert body[am.DEPARTMENT] == "research"
        assert body[am.APPLICATION] == "helpdesk"
        # the same fields as record attributes, for backends that filter on attributes
        assert dict(record.attributes) == {k: v for k, v in body.items() if k in FIELDS}
        assert not set(body) & set(CONTENT_FIELDS)


def test_model_record_has_tokens_cost_and_model(calls, openai_client, anthropic_client):
    run_agent(openai_client, anthropic_client)
    spans = calls.spans()
    by_name = {spans[span_id].name: (spans[span_id], record) for span_id, record in calls.by_span_id().items()}
    span, record = by_name[f"chat {GPT}"]
    body = record.body
    assert body[ga.PROVIDER_NAME] == "openai"
    assert body[ga.REQUEST_MODEL] == GPT
    assert body[ga.RESPONSE_ID] == span.attributes[ga.RESPONSE_ID]
    assert body[ga.USAGE_INPUT_TOKENS] == 1200
    assert body[ga.USAGE_OUTPUT_TOKENS] == 300
    assert body[ga.USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert body[ga.USAGE_REASONING_OUTPUT_TOKENS] == 100
    assert body[am.COST_STATUS] == "priced"
    assert body[am.COST_AMOUNT] == span.attributes[am.COST_AMOUNT] > 0  # the exported span's figure, exactly
    assert body[am.COST_CURRENCY] == "USD"
    assert body[ga.SERVER_ADDRESS] == "127.0.0.1"
    span, record = by_name[f"chat {CLAUDE}"]
    assert record.body[ga.PROVIDER_NAME] == "anthropic"
    assert record.body[ga.USAGE_INPUT_TOKENS] == 40
    assert record.body[am.COST_AMOUNT] == span.attributes[am.COST_AMOUNT] > 0
    _, record = by_name["execute_tool lookup"]
    assert record.body[ga.TOOL_NAME] == "lookup"
    assert am.COST_AMOUNT not in record.body  # cost only on model calls: never counted twice
    _, record = by_name["invoke_agent planner"]
    assert record.body[ga.AGENT_NAME] == "planner"


def test_failed_call_has_error_category_and_warn_severity(calls, openai_client):
    with pytest.raises(openai.RateLimitError):
        openai_client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "hi"}],
                                              extra_headers={"x-agentmon-fault": "rate_limit"})
    (record,) = calls.records()
    (span,) = calls.telemetry.finished()
    assert record.span_id == span.context.span_id
    assert record.severity_number is SeverityNumber.WARN and record.severity_text == "WARN"
    assert record.body[cl.STATUS] == "error"
    assert record.body[am.ERROR_CATEGORY] == "rate_limit" == span.attributes[am.ERROR_CATEGORY]
    assert record.body[am.ERROR_SEVERITY] == span.attributes[am.ERROR_SEVERITY]
    assert record.body[ga.ERROR_TYPE] == span.attributes[ga.ERROR_TYPE]
    assert record.attributes[am.ERROR_CATEGORY] == "rate_limit"


def test_failed_tool_is_categorized(calls):
    with pytest.raises(KeyError):
        with otel_agentmon.tool("lookup"):
            raise KeyError("missing")
    (record,) = calls.records()
    assert record.body[cl.STATUS] == "error"
    assert record.body[am.ERROR_CATEGORY] == "tool_error"
    assert record.body[ga.ERROR_TYPE] == "KeyError"


# --- content: never unless capture is on, and then redacted --------------------------------


def secret_prompt() -> list[dict]:
    return [{"role": "user", "content": f"Mail {EMAIL} the key {KEY} please"}]


def test_no_content_when_capture_is_off(calls, openai_client):
    openai_client.chat.completions.create(model=GPT, messages=secret_prompt())
    # a span of another instrumentation that captured content anyway: still none in the record
    with trace.get_tracer("other").start_as_current_span("chat other", attributes={
            ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: GPT,
            ga.INPUT_MESSAGES: json.dumps(secret_prompt())}):
        pass
    records = calls.records()
    assert len(records) == 2
    for record in records:
        assert not set(record.body) & set(CONTENT_FIELDS)
        text = json.dumps(record.body)
        assert EMAIL not in text and KEY not in text and "Mail" not in text


def test_redacted_content_when_capture_is_on(calls_with_content, openai_client):
    openai_client.chat.completions.create(model=GPT, messages=secret_prompt(), extra_headers=reply(text="Done."))
    # another instrumentation's span carrying raw content: the record redacts it all the same
    raw = [{"role": "user", "parts": [{"type": "text", "content": f"Mail {EMAIL} the key {KEY} please"}]}]
    with trace.get_tracer("other").start_as_current_span("chat other", attributes={
            ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: GPT,
            ga.INPUT_MESSAGES: json.dumps(raw), ga.SYSTEM_INSTRUCTIONS: "x" * 100_000}):
        pass
    records = calls_with_content.records()
    assert len(records) == 2
    for record in records:
        messages = record.body[ga.INPUT_MESSAGES]
        assert messages[0]["role"] == "user"  # the conventions' structure, not a JSON string
        text = messages[0]["parts"][0]["content"]
        assert "please" in text and "[REDACTED" in text
        dumped = json.dumps(record.body)
        assert EMAIL not in dumped and KEY not in dumped
        assert not set(record.attributes) & set(CONTENT_FIELDS)  # content stays in the body
    ours = next(r for r in records if r.body[cl.NAME] == f"chat {GPT}")
    assert ours.body[ga.OUTPUT_MESSAGES][0]["parts"][0]["content"] == "Done."
    other = next(r for r in records if r.body[cl.NAME] == "chat other")
    assert len(json.dumps(other.body[ga.SYSTEM_INSTRUCTIONS]).encode()) <= 16 * 1024  # bounded like capture


# --- the switch -----------------------------------------------------------------------------


def test_switch_is_off_by_default_and_parsed_like_other_booleans():
    assert settings_from_env({}).call_logs is False
    assert settings_from_env({AGENTMON_CALL_LOGS: "on"}).call_logs is True
    assert settings_from_env({AGENTMON_CALL_LOGS: "0"}).call_logs is False
    assert settings_from_env({}).call_log_file == "agentmon-calls.jsonl"
    with pytest.raises(ConfigurationError, match=AGENTMON_CALL_LOGS + "='maybe' is not a boolean"):
        settings_from_env({AGENTMON_CALL_LOGS: "maybe"})
    with pytest.raises(ConfigurationError, match="call_logs='yes' is not a boolean"):
        otel_agentmon.configure(call_logs="yes")  # type: ignore[arg-type]


def test_file_is_used_only_when_logs_have_nowhere_to_go():
    assert not logs_have_a_destination({})
    assert not logs_have_a_destination({"OTEL_LOGS_EXPORTER": "otlp"})
    assert not logs_have_a_destination({"OTEL_LOGS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert logs_have_a_destination({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert logs_have_a_destination({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:4317/v1/logs"})
    assert logs_have_a_destination({"OTEL_LOGS_EXPORTER": "agentmon_store"})
    assert logs_have_a_destination({"OTEL_LOGS_EXPORTER": "console"})


def test_bad_file_path_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match=AGENTMON_CALL_LOG_FILE + ".*does not exist"):
        check_log_file(tmp_path / "absent" / "calls.jsonl")
    with pytest.raises(ConfigurationError, match=AGENTMON_CALL_LOG_FILE + ".*is a directory"):
        check_log_file(tmp_path)
    assert check_log_file(tmp_path / "calls.jsonl") == str(tmp_path / "calls.jsonl")
    assert not (tmp_path / "calls.jsonl").exists()  # checked, not created


# --- the JSON-lines file ----------------------------------------------------------------------


def test_json_lines_file_holds_one_object_per_call(monkeypatch, tmp_path, openai_client):
    path = tmp_path / "calls.jsonl"
    telemetry = install(monkeypatch)
    try:
        provider = file_logger_provider(path, Resource.create({"service.name": "svc"}))
        processor = call_log_processor(SpanEnricher(), logger_provider=provider, capture_content=False,
                                       owns_logger_provider=True)
        telemetry.tracer_provider.add_span_processor(processor)
        with otel_agentmon.agent("planner"):
            openai_client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "hi"}],
                                                  extra_headers=reply(input_tokens=10, output_tokens=2))
        assert not path.exists()  # opened lazily, by the export thread
        processor.shutdown()  # flushes the spans, then shuts the file's LoggerProvider down
    finally:
        uninstall()
    spans = {span.name: span for span in telemetry.finished()}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["model", "agent"]
    model, agent = lines
    span = spans[f"chat {GPT}"]
    assert model[cl.LINE_TRACE_ID] == f"{span.context.trace_id:032x}"
    assert model[cl.LINE_SPAN_ID] == f"{span.context.span_id:016x}"
    assert model[cl.LINE_SEVERITY] == "INFO"
    assert model[cl.LINE_EVENT_NAME] == "agentmon.call"
    assert model[ga.SERVICE_NAME] == "svc"
    assert model[cl.LINE_TIMESTAMP].endswith("Z") and model[cl.LINE_TIMESTAMP].startswith("20")
    assert model[ga.USAGE_INPUT_TOKENS] == 10
    assert model[am.COST_AMOUNT] == span.attributes[am.COST_AMOUNT]
    assert agent[cl.LINE_SPAN_ID] == f"{spans['invoke_agent planner'].context.span_id:016x}"


def test_json_lines_appends_are_thread_safe(tmp_path):
    path = tmp_path / "calls.jsonl"
    exporter = JsonLinesLogExporter(path)
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))  # writes on each caller's thread
    logger = provider.get_logger("t")
    body = {"kind": "model", "text": "x" * 5000}

    def emit() -> None:
        for _ in range(200):
            logger.emit(event_name=cl.CALL_LOG_EVENT, body=body, severity_text="INFO")

    threads = [threading.Thread(target=emit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    provider.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 8 * 200
    assert all(json.loads(line)["text"] == body["text"] for line in lines)


def test_non_finite_numbers_do_not_break_a_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(JsonLinesLogExporter(path)))
    provider.get_logger("t").emit(body={"x": float("nan"), "y": [1.5, float("inf")]}, attributes={"z": "s"})
    provider.shutdown()
    (line,) = path.read_text().splitlines()
    assert json.loads(line) | {"timestamp": None} == {"timestamp": None, "severity": None, "x": None,
                                                      "y": [1.5, None], "z": "s",
                                                      "service.name": "unknown_service:python"}


# --- configure(): the switch, where records go, nothing when off ------------------------------


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    full_env.update({"PYTHONPATH": str(Path(__file__).parent)}, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=90)


CONFIGURED_CALL = """
    import json, sys, openai
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import otel_agentmon
    from otel_agentmon.instrumentation.openai import OpenAIInstrumentor
    {setup}
    provider = otel_agentmon.configure(span_exporters=[InMemorySpanExporter()], metric_readers=[], {arguments})
    OpenAIInstrumentor().instrument()

    def innermost(exporter):
        while hasattr(exporter, "exporter"):  # RetryingSpanExporter, EnrichingSpanExporter
            exporter = exporter.exporter
        return type(exporter).__name__
    client = openai.OpenAI(base_url=sys.argv[1] if len(sys.argv) > 1 else "{base_url}", api_key="k", max_retries=0)
    with otel_agentmon.agent("planner") as span:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
    processors = provider._active_span_processor._span_processors
    print(json.dumps({{"trace_id": format(span.get_span_context().trace_id, "032x"),
                      "exporters": [innermost(p.span_exporter) for p in processors if hasattr(p, "span_exporter")]}}))
    {after}
"""


def configured(provider_server, tmp_path, *, setup="", arguments="", after="", env=None):
    code = CONFIGURED_CALL.format(setup=setup, arguments=arguments, after=after,
                                  base_url=provider_server.openai_base_url)
    result = run_python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[0]), result


def test_off_by_default_adds_nothing_and_writes_nothing(provider_server, tmp_path):
    seen, _ = configured(provider_server, tmp_path)
    assert seen["exporters"] == ["InMemorySpanExporter"]  # no call log pipeline at all
    assert list(tmp_path.iterdir()) == []  # no file


def test_configure_without_endpoint_writes_the_file(provider_server, tmp_path):
    seen, _ = configured(provider_server, tmp_path, arguments="call_logs=True")
    assert seen["exporters"] == ["InMemorySpanExporter", "CallLogExporter"]
    lines = [json.loads(line) for line in (tmp_path / "agentmon-calls.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["model", "agent"]
    assert {line["trace_id"] for line in lines} == {seen["trace_id"]}


def test_env_switch_and_file_variable(provider_server, tmp_path):
    seen, _ = configured(provider_server, tmp_path,
                         env={AGENTMON_CALL_LOGS: "true", AGENTMON_CALL_LOG_FILE: str(tmp_path / "mine.jsonl")})
    assert "CallLogExporter" in seen["exporters"]
    assert len((tmp_path / "mine.jsonl").read_text().splitlines()) == 2
    result = run_python("import otel_agentmon; otel_agentmon.configure(metric_readers=[])", tmp_path,
                        {AGENTMON_CALL_LOGS: "true", AGENTMON_CALL_LOG_FILE: str(tmp_path / "no" / "calls.jsonl")})
    assert result.returncode != 0
    assert "ConfigurationError: " + AGENTMON_CALL_LOG_FILE in result.stderr and "does not exist" in result.stderr


def test_configure_uses_the_logger_provider_the_app_set(provider_server, tmp_path):
    setup = """
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    memory = InMemoryLogRecordExporter()
    app_logs = LoggerProvider()
    app_logs.add_log_record_processor(SimpleLogRecordProcessor(memory))
    set_logger_provider(app_logs)
    """
    after = """
    provider.force_flush()
    print(json.dumps([[r.log_record.body["kind"], format(r.log_record.trace_id, "032x")]
                      for r in memory.get_finished_logs()]))
    """
    seen, result = configured(provider_server, tmp_path, setup=setup, arguments="call_logs=True", after=after)
    assert json.loads(result.stdout.strip().splitlines()[1]) == [["model", seen["trace_id"]],
                                                                 ["agent", seen["trace_id"]]]
    assert list(tmp_path.iterdir()) == []  # the app's provider, not the file


# --- end to end under opentelemetry-instrument --------------------------------------------------


SCRIPT = """
import json, os, openai, otel_agentmon
client = openai.OpenAI(base_url=os.environ["PROVIDER_BASE_URL"], api_key="k", max_retries=0)
with otel_agentmon.attribution(user_id="u-7", department="support"):
    with otel_agentmon.agent("planner") as agent_span:
        with otel_agentmon.tool("lookup"):
            pass
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                           extra_headers={"x-agentmon-fault": "rate_limit"})
        except openai.RateLimitError:
            pass
context = agent_span.get_span_context()
print(json.dumps({"trace_id": format(context.trace_id, "032x"), "agent_span_id": format(context.span_id, "016x")}))
"""


def run_under_instrument(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    base.update({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "200",
                 "OTEL_SERVICE_NAME": "e2e-agent"}, **env)
    return subprocess.run([INSTRUMENT, sys.executable, str(script)], env=base, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_end_to_end_json_lines_file_without_endpoint(provider_server, tmp_path):
    result = run_under_instrument(tmp_path, {"PROVIDER_BASE_URL": provider_server.openai_base_url,
                                             AGENTMON_CALL_LOGS: "true", "OTEL_LOGS_EXPORTER": "otlp"})
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    lines = [json.loads(line) for line in (tmp_path / "agentmon-calls.jsonl").read_text().splitlines()]
    assert sorted(line["kind"] for line in lines) == ["agent", "model", "model", "tool"]
    assert {line["trace_id"] for line in lines} == {seen["trace_id"]}  # what the app saw
    agent = next(line for line in lines if line["kind"] == "agent")
    assert agent["span_id"] == seen["agent_span_id"]
    ok, failed = sorted((line for line in lines if line["kind"] == "model"), key=lambda line: line["status"] != "ok")
    assert ok["status"] == "ok" and ok["severity"] == "INFO" and ok[am.COST_AMOUNT] > 0
    assert ok[ga.USAGE_INPUT_TOKENS] > 0 and ok["duration_s"] > 0
    assert failed["status"] == "error" and failed["severity"] == "WARN"
    assert failed[am.ERROR_CATEGORY] == "rate_limit"
    for line in lines:
        assert line["event_name"] == "agentmon.call" and line["service.name"] == "e2e-agent"
        assert line[ga.USER_ID] == "u-7" and line[am.DEPARTMENT] == "support"
        assert line[am.APPLICATION] == "e2e-agent"  # defaults to service.name


@pytest.mark.slow
def test_end_to_end_over_otlp(provider_server, otlp_receiver, tmp_path):
    result = run_under_instrument(tmp_path, {"PROVIDER_BASE_URL": provider_server.openai_base_url,
                                             AGENTMON_CALL_LOGS: "true", "OTEL_LOGS_EXPORTER": "otlp",
                                             "OTEL_TRACES_EXPORTER": "otlp",
                                             "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint})
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    records = otlp_receiver.wait_for_logs(
        lambda logs: sum(r["event_name"] == cl.CALL_LOG_EVENT for r in logs) >= 4)
    records = [r for r in records if r["event_name"] == cl.CALL_LOG_EVENT]
    assert len(records) == 4
    spans = {s["span_id"]: s for s in otlp_receiver.wait_for_spans(lambda spans: len(spans) >= 4)}
    assert {r["trace_id"] for r in records} == {seen["trace_id"]}
    assert not (tmp_path / "agentmon-calls.jsonl").exists()
    for record in records:
        span = spans[record["span_id"]]  # the very span the backend got, enriched alike
        body = record["body"]
        assert record["scope"] == "otel_agentmon.call_logs"
        # timestamp = span end = span start + duration (rounded to the microsecond)
        assert abs(span["start_time_unix_nano"] + body[cl.DURATION] * 1e9 - record["time_unix_nano"]) < 2000
        assert body[cl.NAME] == span["name"]
        for key in FIELDS:
            if key in span["attributes"]:
                assert body[key] == span["attributes"][key] == record["attributes"][key], key
        assert body[ga.USER_ID] == "u-7"
    failed = next(r for r in records if r["body"][cl.STATUS] == "error")
    assert failed["severity_number"] == SeverityNumber.WARN.value
    assert failed["attributes"][am.ERROR_CATEGORY] == "rate_limit"


def console_records(stdout: str) -> list[dict]:
    """The log records the SDK's console exporter printed (indented JSON objects, one after another)."""
    decoder, records, at = json.JSONDecoder(), [], stdout.find("{")
    while at != -1:
        record, end = decoder.raw_decode(stdout, at)
        records.append(record)
        at = stdout.find("{", end)
    return records


@pytest.mark.slow
def test_end_to_end_through_the_global_logger_provider(provider_server, tmp_path):
    # A logs exporter is named: records go through the LoggerProvider the SDK configurator set
    # (OTLP in production; the console exporter here), the last ones too, as the process exits.
    result = run_under_instrument(tmp_path, {"PROVIDER_BASE_URL": provider_server.openai_base_url,
                                             AGENTMON_CALL_LOGS: "true", "OTEL_LOGS_EXPORTER": "console"})
    assert result.returncode == 0, result.stderr[-3000:]
    (seen,) = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"trace_id"')]
    records = [r for r in console_records(result.stdout) if r.get("event_name") == "agentmon.call"]
    assert sorted(r["body"]["kind"] for r in records) == ["agent", "model", "model", "tool"]
    assert {r["trace_id"] for r in records} == {"0x" + seen["trace_id"]}
    failed = next(r for r in records if r["body"]["status"] == "error")
    assert failed["severity_text"] == "WARN" and failed["attributes"][am.ERROR_CATEGORY] == "rate_limit"
    assert not (tmp_path / "agentmon-calls.jsonl").exists()


@pytest.mark.slow
def test_end_to_end_off_by_default_and_bad_switch_reported(provider_server, tmp_path):
    result = run_under_instrument(tmp_path, {"PROVIDER_BASE_URL": provider_server.openai_base_url,
                                             "OTEL_LOGS_EXPORTER": "otlp"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "agentmon-calls.jsonl").exists()
    result = run_under_instrument(tmp_path, {"PROVIDER_BASE_URL": provider_server.openai_base_url,
                                             AGENTMON_CALL_LOGS: "sometimes"})
    assert result.returncode == 0, result.stderr[-3000:]  # the application still runs
    assert f"{AGENTMON_CALL_LOGS}='sometimes' is not a boolean" in result.stderr
    assert not (tmp_path / "agentmon-calls.jsonl").exists()
