"""Attribution: user.id, agentmon.department and agentmon.application on every span below
``otel_agentmon.attribution(...)``, whichever instrumentation made it; across threads, asyncio
tasks and (W3C Baggage) processes; no cross-talk between concurrent requests."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as OfficialOpenAIInstrumentor
from opentelemetry.instrumentation.threading import ThreadingInstrumentor

import otel_agentmon
from _global_telemetry import SERVICE, install, uninstall
from otel_agentmon import Attribution, attribution, current_attribution
from otel_agentmon._attribution import MAX_LABEL_VALUES, OTHER_LABEL, _LabelValues
from otel_agentmon._configure import _instrument_threading
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

GPT = "gpt-4o-mini"
USER = [{"role": "user", "content": "Where is my order?"}]
ATTRIBUTES = (ga.USER_ID, am.DEPARTMENT, am.APPLICATION)


@pytest.fixture(scope="module", autouse=True)
def threads_carry_context():
    # what configure() (and opentelemetry-instrument, by entry point) does
    already = ThreadingInstrumentor().is_instrumented_by_opentelemetry
    _instrument_threading()
    yield
    if not already:
        ThreadingInstrumentor().uninstrument()


@pytest.fixture
def telemetry(monkeypatch):
    telemetry = install(monkeypatch)
    yield telemetry
    uninstall()


@pytest.fixture
def aclient(provider_server):
    return openai.AsyncOpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=10)


def attribution_of(span) -> tuple:
    return tuple(span.attributes.get(key) for key in ATTRIBUTES)


# --- the API ------------------------------------------------------------------------------


def test_current_attribution_inside_nested_and_outside():
    assert current_attribution() == Attribution()
    with attribution(user_id="u-1", department="support", application="triage") as outer:
        assert outer == Attribution("u-1", "support", "triage") == current_attribution()
        with attribution(user_id="u-2") as inner:  # overrides only what it gives
            assert inner == Attribution("u-2", "support", "triage")
            with attribution(department=None, application="escalations"):
                assert current_attribution() == Attribution("u-2", "support", "escalations")
        assert current_attribution() == outer
    assert current_attribution() == Attribution()


def test_values_live_in_baggage_under_the_attribute_names():
    with attribution(user_id="u-1", department="support"):
        assert baggage.get_all() == {ga.USER_ID: "u-1", am.DEPARTMENT: "support"}
        ctx = otel_context.get_current()
    assert current_attribution(ctx) == Attribution("u-1", "support", None)  # an explicit context


def test_one_attribution_object_entered_by_many_threads():
    support = attribution(department="support")
    seen = []
    barrier = threading.Barrier(6)

    def work(i):
        with support, attribution(user_id=f"u-{i}"):
            barrier.wait()
            seen.append((i, current_attribution()))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == [(i, Attribution(f"u-{i}", "support", None)) for i in range(6)]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"user_id": 42}, TypeError, r"attribution\(\): user_id must be a str, not int"),
    ({"department": b"support"}, TypeError, r"attribution\(\): department must be a str, not bytes"),
    ({"application": ["app"]}, TypeError, r"attribution\(\): application must be a str, not list"),
    ({"user_id": ""}, ValueError, r"attribution\(\): user_id must not be empty"),
    ({"department": "d" * 257}, ValueError, r"attribution\(\): department is 257 characters long; at most 256"),
    ({"user_id": "u-1\r\nX-Admin: yes"}, ValueError, r"attribution\(\): user_id contains a non-printable character"),
    ({"application": "app\x00"}, ValueError, r"application contains a non-printable character \(U\+0000"),
])
def test_bad_values_raise_at_the_call_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        attribution(**kwargs)  # no `with` needed: the call itself refuses


def test_limits_allow_real_identifiers():
    with attribution(user_id="josé.garcía@example.com", department="R&D / München", application="a" * 256):
        assert current_attribution().department == "R&D / München"


def test_bad_values_arriving_in_baggage_are_dropped_never_raised(telemetry):
    # Baggage from another process is not ours to refuse loudly: the request must go on.
    ctx = baggage.set_baggage(ga.USER_ID, "evil\nvalue")
    ctx = baggage.set_baggage(am.DEPARTMENT, "x" * 5000, ctx)
    ctx = baggage.set_baggage(am.APPLICATION, 12345, ctx)
    token = otel_context.attach(ctx)
    try:
        assert current_attribution() == Attribution()
        with otel_agentmon.tool("t"):
            pass
    finally:
        otel_context.detach(token)
    span = telemetry.only_span()
    assert ga.USER_ID not in span.attributes and am.DEPARTMENT not in span.attributes
    assert span.attributes[am.APPLICATION] == SERVICE  # the default, not the bad value


# --- every span below it ------------------------------------------------------------------


def test_every_span_carries_the_attribution_from_its_start(telemetry, client):
    other_library = trace.get_tracer("some.other.library")

    @otel_agentmon.tool("lookup_order")
    def lookup_order():
        with other_library.start_as_current_span("SELECT orders"):
            pass
        return "shipped"

    @otel_agentmon.agent("support-bot")
    def bot():
        client.chat.completions.create(model=GPT, messages=USER)
        lookup_order()
        client.embeddings.create(model="text-embedding-3-small", input="order")

    with attribution(user_id="u-7", department="support", application="helpdesk"):
        bot()
    spans = telemetry.finished()
    assert {s.name for s in spans} == {"invoke_agent support-bot", f"chat {GPT}", "execute_tool lookup_order",
                                       "SELECT orders", "embeddings text-embedding-3-small"}
    for span in spans:
        assert attribution_of(span) == ("u-7", "support", "helpdesk"), span.name
        # set as the span starts, so samplers and on_start processors see it too
        at_start = telemetry.starts.at_start[span.context.span_id]
        assert tuple(at_start.get(k) for k in ATTRIBUTES) == ("u-7", "support", "helpdesk"), span.name


def test_spans_of_the_official_genai_instrumentation_carry_it(monkeypatch, client):
    telemetry = install(monkeypatch, instrument_models=False)
    official = OfficialOpenAIInstrumentor()
    official.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        with attribution(user_id="u-8", department="research"):
            client.chat.completions.create(model=GPT, messages=USER)
    finally:
        official.uninstrument()
    span = telemetry.only_span()
    assert span.instrumentation_scope.name.startswith("opentelemetry.instrumentation.genai.openai")
    assert attribution_of(span) == ("u-8", "research", SERVICE)


def test_application_defaults_to_service_name_and_spans_outside_get_no_user(telemetry):
    with otel_agentmon.tool("unattributed"):
        pass
    span = telemetry.only_span()
    assert attribution_of(span) == (None, None, SERVICE)


def test_attributes_the_span_already_has_are_kept(telemetry):
    tracer = trace.get_tracer("framework")
    with attribution(user_id="from-context", application="from-context"):
        with tracer.start_as_current_span("framework span", attributes={ga.USER_ID: "set-by-framework"}):
            pass
    assert attribution_of(telemetry.only_span()) == ("set-by-framework", None, "from-context")


# --- metrics ------------------------------------------------------------------------------


def test_cost_metric_by_department_and_application_never_by_user(telemetry, client):
    for user, department in (("u-1", "support"), ("u-2", "support"), ("u-3", "research")):
        with attribution(user_id=user, department=department, application="helpdesk"):
            client.chat.completions.create(model=GPT, messages=USER)
    client.chat.completions.create(model=GPT, messages=USER)  # no attribution
    costs = {(p.attributes.get(am.DEPARTMENT), p.attributes.get(am.APPLICATION)): p.value
             for p in telemetry.metric_points(m.COST)}
    assert set(costs) == {("support", "helpdesk"), ("research", "helpdesk"), (None, SERVICE)}
    assert costs[("support", "helpdesk")] == pytest.approx(2 * costs[("research", "helpdesk")])
    for name in (m.COST, m.CLIENT_OPERATION_DURATION, m.CLIENT_TOKEN_USAGE):
        for point in telemetry.metric_points(name):
            assert ga.USER_ID not in point.attributes


def test_cost_metric_by_user_only_when_asked_for_and_capped(telemetry, client, monkeypatch):
    from otel_agentmon import _attribution

    monkeypatch.setattr(_attribution, "_user_labels", _LabelValues(2))  # the cap of 1000, made small
    _attribution.set_metrics_user_id(True)
    try:
        for user in ("u-1", "u-2", "u-1", "u-3", "u-4"):
            with attribution(user_id=user, department="support"):
                client.chat.completions.create(model=GPT, messages=USER)
        client.chat.completions.create(model=GPT, messages=USER)  # no user: no user.id label
    finally:
        _attribution.set_metrics_user_id(None)
    costs = {p.attributes.get(ga.USER_ID): p.value for p in telemetry.metric_points(m.COST)}
    assert set(costs) == {"u-1", "u-2", OTHER_LABEL, None}
    assert costs["u-1"] == pytest.approx(2 * costs["u-2"]) == pytest.approx(costs[OTHER_LABEL])
    for name in (m.CLIENT_OPERATION_DURATION, m.CLIENT_TOKEN_USAGE):  # the cost metric only
        for point in telemetry.metric_points(name):
            assert ga.USER_ID not in point.attributes


@pytest.mark.parametrize("value,enabled", [("true", True), ("0", False), ("", False)])
def test_metrics_user_id_setting(value, enabled):
    from otel_agentmon._settings import metrics_user_id_from_env

    assert metrics_user_id_from_env({"AGENTMON_METRICS_USER_ID": value}) is enabled


def test_bad_metrics_user_id_setting_names_the_variable():
    from otel_agentmon._settings import ConfigurationError, settings_from_env

    with pytest.raises(ConfigurationError, match="AGENTMON_METRICS_USER_ID='maybe'"):
        settings_from_env({"AGENTMON_METRICS_USER_ID": "maybe"})


def test_metric_label_values_are_capped():
    labels = _LabelValues()
    values = [labels.bounded(f"dept-{i}") for i in range(MAX_LABEL_VALUES + 50)]
    assert values[:MAX_LABEL_VALUES] == [f"dept-{i}" for i in range(MAX_LABEL_VALUES)]
    assert set(values[MAX_LABEL_VALUES:]) == {OTHER_LABEL}
    assert labels.bounded("dept-3") == "dept-3"  # values seen before keep their own series


# --- threads and asyncio tasks ------------------------------------------------------------


def test_threads_pools_timers_and_tasks_inherit_it(telemetry):
    tracer = trace.get_tracer("worker")

    def work(name):
        with tracer.start_as_current_span(name):
            pass

    async def in_tasks():
        await asyncio.gather(asyncio.create_task(asyncio.to_thread(work, "to_thread")),
                             asyncio.get_running_loop().run_in_executor(None, work, "run_in_executor"))
        await asyncio.create_task(asyncio.sleep(0))
        await asyncio.create_task(_async_work(tracer, "task"))

    with attribution(user_id="u-9", department="ops", application="batch"):
        with otel_agentmon.agent("coordinator"):
            thread = threading.Thread(target=work, args=("thread",))
            thread.start()
            thread.join()
            with ThreadPoolExecutor(2) as pool:
                pool.submit(work, "pool.submit").result()
                list(pool.map(work, ["pool.map"]))
            timer = threading.Timer(0.001, work, args=("timer",))
            timer.start()
            timer.join()
            asyncio.run(in_tasks())
    spans = {s.name: s for s in telemetry.finished()}
    assert set(spans) == {"invoke_agent coordinator", "thread", "pool.submit", "pool.map", "timer", "to_thread",
                          "run_in_executor", "task"}
    root = spans["invoke_agent coordinator"]
    for name, span in spans.items():
        assert attribution_of(span) == ("u-9", "ops", "batch"), name
        assert span.context.trace_id == root.context.trace_id, name  # and the trace continues there


async def _async_work(tracer, name):
    await asyncio.sleep(0)
    with tracer.start_as_current_span(name):
        await asyncio.sleep(0)


def _assert_each_trace_has_its_own_user(spans, user_of_trace):
    assert user_of_trace
    checked = 0
    for span in spans:
        expected = user_of_trace[span.context.trace_id]
        assert span.attributes.get(ga.USER_ID) == expected, (span.name, expected)
        assert span.attributes.get(am.DEPARTMENT) == f"dept-of-{expected}"
        checked += 1
    return checked


def test_no_cross_talk_between_32_concurrent_threads(telemetry, client):
    user_of_trace = {}
    start = threading.Barrier(32)
    tracer = trace.get_tracer("worker")

    @otel_agentmon.tool("fetch")
    def fetch(i):
        time.sleep(random.random() / 200)
        return i

    def request(i):
        user = f"user-{i}"
        start.wait()  # all requests in flight together
        with attribution(user_id=user, department=f"dept-of-{user}"):
            with otel_agentmon.agent("handler") as span:
                user_of_trace[span.get_span_context().trace_id] = user
                client.chat.completions.create(model=GPT, messages=USER)
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(fetch, range(3)))
                helper = threading.Thread(target=lambda: tracer.start_span("helper").end())
                helper.start()
                helper.join()

    threads = [threading.Thread(target=request, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = telemetry.finished()
    assert len(user_of_trace) == 32
    assert _assert_each_trace_has_its_own_user(spans, user_of_trace) == 32 * 6


def test_no_cross_talk_between_200_concurrent_tasks(telemetry, aclient):
    user_of_trace = {}

    @otel_agentmon.tool("afetch")
    async def afetch():
        await asyncio.sleep(random.random() / 100)

    @otel_agentmon.agent("ahandler")
    async def handle(i, user):
        user_of_trace[trace.get_current_span().get_span_context().trace_id] = user
        await asyncio.sleep(random.random() / 100)  # interleave with the other requests
        await asyncio.gather(afetch(), afetch())
        if i % 20 == 0:
            await aclient.chat.completions.create(model=GPT, messages=USER)

    async def request(i):
        user = f"user-{i}"
        with attribution(user_id=user, department=f"dept-of-{user}"):
            await handle(i, user)

    async def main():
        await asyncio.gather(*(request(i) for i in range(200)))

    asyncio.run(main())
    assert len(user_of_trace) == 200
    assert _assert_each_trace_has_its_own_user(telemetry.finished(), user_of_trace) == 200 * 3 + 10


# --- configuration wires the processor in -------------------------------------------------


def _run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True,
                          text=True, timeout=60)


def test_configure_adds_the_processor_once_to_a_provider_it_creates_or_extends():
    result = _run_python(
        """
        import threading
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import otel_agentmon

        app_memory, ours = InMemorySpanExporter(), InMemorySpanExporter()
        app = TracerProvider()
        app.add_span_processor(SimpleSpanProcessor(app_memory))
        trace.set_tracer_provider(app)
        otel_agentmon.configure(span_exporters=[ours], metric_readers=[InMemoryMetricReader()])
        otel_agentmon.configure(span_exporters=[], metric_readers=[InMemoryMetricReader()])  # again: no second one
        processors = app._active_span_processor._span_processors
        assert sum(type(p).__name__ == "AttributionSpanProcessor" for p in processors) == 1, processors
        with otel_agentmon.attribution(user_id="u-1"):
            t = threading.Thread(target=lambda: trace.get_tracer("t").start_span("in a thread").end())
            t.start(); t.join()   # configure() instrumented threading
        app.force_flush()
        (span,) = ours.get_finished_spans()
        assert span.attributes["user.id"] == "u-1", dict(span.attributes)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


# --- across processes, through W3C Baggage -------------------------------------------------

SERVER = """
import json, sys, threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind
import otel_agentmon

provider = otel_agentmon.configure(service_name="orders-service")
tracer = trace.get_tracer("orders.http")

@otel_agentmon.tool("lookup_order")
def lookup_order(order_id):
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: tracer.start_span("SELECT order").end()).result()
    return {"id": order_id, "status": "shipped"}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        # what HTTP server instrumentations do: continue the caller's context, Baggage included
        token = context.attach(propagate.extract(self.headers))  # a case-insensitive carrier
        try:
            with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER):
                order = lookup_order(self.path.rsplit("/", 1)[-1])
                seen = otel_agentmon.current_attribution()
                helper = threading.Thread(target=lambda: tracer.start_span("audit log").end())
                helper.start(); helper.join()
        finally:
            context.detach(token)
        body = json.dumps({"order": order, "seen": [seen.user_id, seen.department, seen.application]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()  # runs until the test closes stdin
server.shutdown()
provider.shutdown()
"""

CLIENT = """
import json, os, sys, threading, urllib.request
from opentelemetry import propagate, trace
import otel_agentmon

base = sys.argv[1]
results = {}

def call(path, headers=None):
    headers = dict(headers or {})
    propagate.inject(headers)   # traceparent and baggage, by the SDK's default propagators
    with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=10) as reply:
        return json.loads(reply.read())

def request(user, department):
    with otel_agentmon.attribution(user_id=user, department=department, application="webshop"):
        with otel_agentmon.agent("order-helper") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            results[trace_id] = {"user": user, "reply": call("/orders/" + user)}

threads = [threading.Thread(target=request, args=(f"user-{i}", "sales" if i % 2 else "support")) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
with otel_agentmon.agent("anonymous") as span:
    results[format(span.get_span_context().trace_id, "032x")] = {"user": None, "reply": call("/orders/anon")}
print(json.dumps(results))
"""


@pytest.mark.slow
def test_attribution_crosses_processes_in_w3c_baggage(tmp_path, otlp_receiver):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "client.py").write_text(CLIENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint, "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    server = subprocess.Popen([sys.executable, str(tmp_path / "server.py")], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        # the client runs under opentelemetry-instrument: the agentmon distro and configurator
        instrument = str(Path(sys.executable).with_name("opentelemetry-instrument"))
        client = subprocess.run([instrument, sys.executable, str(tmp_path / "client.py"), f"http://127.0.0.1:{port}"],
                                env={**env, "OTEL_SERVICE_NAME": "shop-frontend"}, capture_output=True, text=True,
                                timeout=120)
        assert client.returncode == 0, client.stderr[-3000:]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    assert server.returncode == 0, server.stderr.read()[-3000:]
    results = json.loads(client.stdout.strip().splitlines()[-1])
    assert len(results) == 9

    # 9 requests: the client's agent span, and on the server GET, tool, SELECT and audit spans
    spans = otlp_receiver.wait_for_spans(lambda s: len(s) >= 9 * 5)
    by_trace: dict[str, list] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    assert set(by_trace) == set(results), [(s["name"], s["scope"], s["resource"].get("service.name")) for s in spans if s["trace_id"] not in results][:10]
    for trace_id, expected in results.items():
        user = expected["user"]
        server_spans = [s for s in by_trace[trace_id] if s["resource"]["service.name"] == "orders-service"]
        client_spans = [s for s in by_trace[trace_id] if s["resource"]["service.name"] == "shop-frontend"]
        assert sorted(s["name"] for s in server_spans) == ["GET /orders", "SELECT order", "audit log",
                                                           "execute_tool lookup_order"]
        assert len(client_spans) == 1
        for span in server_spans + client_spans:
            attributes = span["attributes"]
            if user is None:  # nothing set: no user, and each process's own service name
                assert ga.USER_ID not in attributes and am.DEPARTMENT not in attributes
                assert attributes[am.APPLICATION] == span["resource"]["service.name"]
            else:
                department = "sales" if int(user.split("-")[1]) % 2 else "support"
                assert attributes[ga.USER_ID] == user, (span["name"], attributes)
                assert attributes[am.DEPARTMENT] == department
                assert attributes[am.APPLICATION] == "webshop"  # the caller's, carried over
        if user is not None:
            assert expected["reply"]["seen"][0] == user  # current_attribution() on the server side
