"""Metric attribute sets stay bounded whatever the callers and the provider send: the label keys
are the documented ones, caller- or provider-controlled values are capped per label, with the
overflow recorded as "_OTHER" (spans keep the real value), and the combinations of labels are
capped per instrument (AGENTMON_METRICS_CARDINALITY_LIMIT), past which measurements go to the
one otel.metric.overflow=true series."""

from __future__ import annotations

import logging
import random
import threading

import anthropic
import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from _instrumented import instrument, uninstrument
from otel_agentmon import _attribution, _cardinality, attribution
from otel_agentmon._settings import ConfigurationError, settings_from_env
from otel_agentmon._attribution import MAX_LABEL_VALUES, OTHER_LABEL, _LabelValues
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m
from otel_agentmon.semconv.errors import ErrorCategory

USER = [{"role": "user", "content": "Where is my order?"}]
DISTINCT = 500

_CALL = {ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.REQUEST_MODEL, ga.RESPONSE_MODEL, ga.SERVER_ADDRESS,
         ga.SERVER_PORT, am.APPLICATION, am.DEPARTMENT}
# The documented keys of each metric (semconv/registry.yaml; gen_ai.client.* as upstream defines
# them, plus our attribution labels). Keys a point may lack (no department set, a failed call
# with no response model) are fine; a key outside the set is not.
DOCUMENTED = {
    m.COST: _CALL,  # + user.id only when AGENTMON_METRICS_USER_ID is on
    m.ERRORS: {am.ERROR_CATEGORY, am.ERROR_SEVERITY, ga.PROVIDER_NAME, ga.OPERATION_NAME},
    m.CLIENT_OPERATION_DURATION: _CALL | {ga.ERROR_TYPE},
    m.CLIENT_TOKEN_USAGE: _CALL | {ga.TOKEN_TYPE},
}
LABELS = (am.DEPARTMENT, am.APPLICATION, ga.REQUEST_MODEL, ga.RESPONSE_MODEL, ga.USER_ID)


@pytest.fixture
def telemetry(monkeypatch):
    # fresh label sets at the real caps, so values other tests recorded do not count here
    for name in ("_department_labels", "_application_labels", "_request_model_labels", "_response_model_labels"):
        monkeypatch.setattr(_attribution, name, _LabelValues())
    telemetry = instrument()
    yield telemetry
    uninstrument()


@pytest.fixture
def client(provider_server):
    provider_server.clear()
    return openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=5)


def points(telemetry) -> dict[str, list]:
    return {name: telemetry.metric_points(name) for name in DOCUMENTED}


def values_of(all_points: dict[str, list], key: str) -> set:
    return {p.attributes[key] for pts in all_points.values() for p in pts if key in p.attributes}


OVERFLOW = {m.METRIC_OVERFLOW: True}


def check_bounded(all_points, cap: int = MAX_LABEL_VALUES, user_cap: int | None = None) -> None:
    for name, pts in all_points.items():
        assert pts, name
        for point in pts:
            if dict(point.attributes) == OVERFLOW:
                continue
            extra = set(point.attributes) - DOCUMENTED[name] - ({ga.USER_ID} if user_cap and name == m.COST else set())
            assert not extra, (name, extra)
    for key in LABELS:
        values = values_of(all_points, key)
        limit = user_cap if key == ga.USER_ID else cap
        if limit is None:
            assert not values, key
        else:
            assert len(values - {OTHER_LABEL}) <= limit, (key, len(values))


def test_departments_applications_and_models_from_callers_are_capped(telemetry, client):
    for i in range(DISTINCT):
        with attribution(user_id=f"u-{i}", department=f"dept-{i}", application=f"app-{i}"):
            # a new request model each call; the reply names a priced model, so the call has a cost
            client.chat.completions.create(model=f"gpt-4o-mini-ft-{i}", messages=USER,
                                           extra_headers={"x-agentmon-reply": '{"model": "gpt-4o-mini"}'})
    all_points = points(telemetry)
    all_points.pop(m.ERRORS)  # no errors here
    check_bounded(all_points)
    for key in (am.DEPARTMENT, am.APPLICATION, ga.REQUEST_MODEL):
        values = values_of(all_points, key)
        assert len(values) == MAX_LABEL_VALUES + 1 and OTHER_LABEL in values, key
    assert ga.USER_ID not in {k for pts in all_points.values() for p in pts for k in p.attributes}


def test_user_id_only_when_enabled_and_then_capped(telemetry, client, monkeypatch):
    monkeypatch.setattr(_attribution, "_user_labels", _LabelValues(5))  # the cap of 1000, made small
    _attribution.set_metrics_user_id(True)
    try:
        for i in range(40):
            with attribution(user_id=f"user-{i}"):
                client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        _attribution.set_metrics_user_id(None)
    all_points = points(telemetry)
    all_points.pop(m.ERRORS)
    check_bounded(all_points, user_cap=5)
    users = {p.attributes.get(ga.USER_ID) for p in all_points[m.COST]}
    assert users == {f"user-{i}" for i in range(5)} | {OTHER_LABEL}
    for name in (m.CLIENT_OPERATION_DURATION, m.CLIENT_TOKEN_USAGE):  # agentmon.cost only
        assert all(ga.USER_ID not in p.attributes for p in all_points[name])


FAULTS = ["rate_limit", "server_error", "service_unavailable", "overloaded", "auth", "context_length_exceeded",
          "bad_request", "content_filter", "connection_reset"]


def test_error_type_stays_bounded_whatever_the_error_messages(telemetry, client):
    rng = random.Random(7)
    for i in range(120):
        fault = FAULTS[i % len(FAULTS)]
        message = f"request req_{rng.getrandbits(64):x} failed for user {i}: {rng.random()}"
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_headers={
                "x-agentmon-fault": f"{fault};message={message}"})
        except openai.OpenAIError:
            pass
    all_points = points(telemetry)
    check_bounded(all_points)
    error_types = values_of(all_points, ga.ERROR_TYPE)
    # exception class names and provider error codes: one per fault at most, no message text
    assert 0 < len(error_types) <= len(FAULTS), error_types
    assert not any("req_" in value or "user" in value for value in error_types), error_types
    assert values_of(all_points, am.ERROR_CATEGORY) <= {category.value for category in ErrorCategory}


def test_response_models_from_the_provider_are_capped(telemetry, client):
    for i in range(DISTINCT // 2):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER,
                                       extra_headers={"x-agentmon-reply": f'{{"model": "gpt-4o-mini-{i}"}}'})
    all_points = points(telemetry)
    all_points.pop(m.ERRORS)
    all_points.pop(m.COST)  # unpriced names: no cost
    check_bounded(all_points)
    values = values_of(all_points, ga.RESPONSE_MODEL)
    assert len(values) == MAX_LABEL_VALUES + 1 and OTHER_LABEL in values


# --- combinations: the per-instrument cap ---------------------------------------------------


def test_label_combinations_are_capped_per_instrument_with_one_overflow_series(monkeypatch, provider_server, caplog):
    """Department x model pairs, each label far under its own cap, still stop at the limit."""
    monkeypatch.setenv(_cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT, "20")
    for name in ("_department_labels", "_application_labels", "_request_model_labels", "_response_model_labels"):
        monkeypatch.setattr(_attribution, name, _LabelValues())
    telemetry = instrument()  # the instruments read the limit as they are created
    try:
        provider_server.clear()
        client = openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=5)
        calls = 0
        with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
            for department in range(8):
                for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"):
                    with attribution(department=f"dept-{department}"):
                        client.chat.completions.create(model=model, messages=USER)
                    calls += 1
        all_points = points(telemetry)
        all_points.pop(m.ERRORS)
        check_bounded(all_points)
        spans = telemetry.finished()
    finally:
        uninstrument()
    durations = all_points[m.CLIENT_OPERATION_DURATION]
    assert len(durations) == 20  # 19 attribute sets of their own and the overflow series
    overflow = [p for p in durations if dict(p.attributes) == OVERFLOW]
    assert len(overflow) == 1 and overflow[0].count == calls - 19
    assert sum(p.count for p in durations) == calls  # no measurement lost, only its breakdown
    # token usage: input and output make two sets per call, so the limit is met sooner
    tokens = all_points[m.CLIENT_TOKEN_USAGE]
    assert len(tokens) == 20 and sum(p.count for p in tokens) == 2 * calls
    # cost: the total stays equal to the sum of the spans' costs
    costs = all_points[m.COST]
    assert len(costs) == 20
    span_total = sum(s.attributes.get(am.COST_AMOUNT, 0.0) for s in spans)
    assert span_total > 0 and sum(p.value for p in costs) == pytest.approx(span_total)
    warnings = [r.getMessage() for r in caplog.records if m.METRIC_OVERFLOW in r.getMessage()]
    assert len(warnings) == 3, warnings  # once per instrument that overflowed
    assert all("AGENTMON_METRICS_CARDINALITY_LIMIT" in w for w in warnings)


def test_the_openai_and_anthropic_instrumentors_share_one_cap_per_metric(monkeypatch, provider_server):
    monkeypatch.setenv(_cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT, "10")
    telemetry = instrument()
    try:
        provider_server.clear()
        openai_client = openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0,
                                      timeout=5)
        anthropic_client = anthropic.Anthropic(base_url=provider_server.anthropic_base_url, api_key="sk-test",
                                               max_retries=0, timeout=5)
        for i in range(8):
            with attribution(department=f"dept-{i}"):
                openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
                anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=USER)
        durations = telemetry.metric_points(m.CLIENT_OPERATION_DURATION)
    finally:
        uninstrument()
    own = [p for p in durations if dict(p.attributes) != OVERFLOW]
    overflow = [p for p in durations if dict(p.attributes) == OVERFLOW]
    assert len(own) == 9  # limit - 1 sets between the two instrumentation scopes
    assert {p.attributes[ga.PROVIDER_NAME] for p in own} == {"openai", "anthropic"}
    assert 1 <= len(overflow) <= 2  # one overflow series per scope that overflowed
    assert sum(p.count for p in durations) == 16


def test_the_cap_is_exact_under_concurrent_recording(caplog):
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    counter = _cardinality.CappedCounter(meter.create_counter("t.count"), _cardinality.AttributeSets("t.count", 50))
    barrier = threading.Barrier(8)

    def record(worker: int) -> None:
        barrier.wait()
        for i in range(500):
            counter.add(1, {"worker": worker, "i": i})

    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        threads = [threading.Thread(target=record, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    data = reader.get_metrics_data()
    metric_points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m_ in sm.metrics
                     for p in m_.data.data_points]
    assert len(metric_points) == 50
    assert sum(p.value for p in metric_points) == 8 * 500
    assert [dict(p.attributes) for p in metric_points].count(OVERFLOW) == 1
    assert len([r for r in caplog.records if "t.count" in r.getMessage()]) == 1


def test_a_set_seen_before_the_limit_keeps_its_own_series():
    sets = _cardinality.AttributeSets("t", 3)
    assert sets.bounded({"a": 1}) == {"a": 1}
    assert sets.bounded({"a": 2}) == {"a": 2}
    assert sets.bounded({"a": 3}) == OVERFLOW
    assert sets.bounded({"a": 1}) == {"a": 1}  # still its own series
    assert sets.bounded(None) == OVERFLOW  # no attributes is a set like any other


@pytest.mark.parametrize("value, problem", [("lots", "not a whole number"), ("1", "below 2"), ("-5", "below 2"),
                                            ("2.5", "not a whole number")])
def test_a_bad_limit_is_reported_at_start_naming_the_variable(value, problem):
    with pytest.raises(ConfigurationError) as raised:
        settings_from_env({_cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT: value})
    assert _cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT in str(raised.value) and problem in str(raised.value)


def test_the_default_limit_is_the_specifications():
    assert _cardinality.cardinality_limit_from_env({}) == 2000
    assert _cardinality.cardinality_limit_from_env({_cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT: " 500 "}) == 500
