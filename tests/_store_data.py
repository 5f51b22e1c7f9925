"""Spans for the store and report tests: finished ReadableSpans with GenAI attributes, enriched
by the real SpanEnricher (cost, category), at chosen times and durations."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Iterable

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_agentmon.processors import SpanEnricher
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

ENRICHER = SpanEnricher(quality_sample_rate=0.0)
_ids = itertools.count(1)
_resources: dict[str, Resource] = {}


def resource(service: str) -> Resource:
    if service not in _resources:
        _resources[service] = Resource.create({ga.SERVICE_NAME: service})
    return _resources[service]


@dataclass
class Call:
    """One span to build; times in unix seconds."""

    start: float
    duration: float = 0.5
    operation: str = ga.Operation.CHAT
    provider: str | None = "openai"
    model: str | None = "gpt-4o-mini"
    input_tokens: int | None = 100
    output_tokens: int | None = 20
    cache_read: int | None = None
    error: str | None = None  # error.type
    status_code: int | None = None  # http.response.status_code of a failure
    user: str | None = "alice"
    department: str | None = "research"
    application: str | None = "helpdesk"
    service: str = "svc"
    agent: str | None = None
    tool: str | None = None
    workflow: str | None = None
    trace_id: int | None = None
    parent_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, Any]:
        a: dict[str, Any] = {ga.OPERATION_NAME: self.operation}
        if self.operation in ga.INFERENCE_OPERATIONS:
            if self.provider:
                a[ga.PROVIDER_NAME] = self.provider
            if self.model:
                a[ga.REQUEST_MODEL] = self.model
            if self.error is None:
                if self.input_tokens is not None:
                    a[ga.USAGE_INPUT_TOKENS] = self.input_tokens
                if self.output_tokens is not None:
                    a[ga.USAGE_OUTPUT_TOKENS] = self.output_tokens
                if self.cache_read:
                    a[ga.USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read
        for key, value in ((ga.AGENT_NAME, self.agent), (ga.TOOL_NAME, self.tool), (ga.WORKFLOW_NAME, self.workflow),
                           (ga.USER_ID, self.user), (am.DEPARTMENT, self.department),
                           (am.APPLICATION, self.application)):
            if value is not None:
                a[key] = value
        if self.error is not None:
            a[ga.ERROR_TYPE] = self.error
            if self.status_code is not None:
                a[ga.HTTP_RESPONSE_STATUS_CODE] = self.status_code
        a.update(self.extra)
        return a

    def name(self) -> str:
        target = {ga.Operation.INVOKE_AGENT: self.agent, ga.Operation.EXECUTE_TOOL: self.tool,
                  ga.Operation.INVOKE_WORKFLOW: self.workflow}.get(self.operation, self.model)
        return ga.span_name(self.operation, target)


def span(call: Call, enrich: bool = True) -> ReadableSpan:
    trace_id = call.trace_id or (next(_ids) << 64 | 0xABCDEF)
    span_id = next(_ids)
    start = int(round(call.start * 1e9))
    end = start + int(round(call.duration * 1e9))
    attributes = call.attributes()
    failed = call.error is not None
    if enrich:
        attributes.update(ENRICHER.derive(attributes, trace_id, failed, (), start))
    parent = SpanContext(trace_id, call.parent_id, False, TraceFlags(1)) if call.parent_id else None
    return ReadableSpan(
        name=call.name(), context=SpanContext(trace_id, span_id, False, TraceFlags(1)), parent=parent,
        resource=resource(call.service), attributes=attributes, kind=SpanKind.CLIENT, start_time=start, end_time=end,
        status=Status(StatusCode.ERROR, call.error) if failed else Status(StatusCode.UNSET),
    )


def spans(calls: Iterable[Call], enrich: bool = True) -> list[ReadableSpan]:
    return [span(call, enrich) for call in calls]


def export(exporter: Any, calls: Iterable[Call], batch: int = 512) -> list[ReadableSpan]:
    made = spans(calls)
    for i in range(0, len(made), batch):
        assert exporter.export(made[i:i + batch]).name == "SUCCESS"
    return made


def random_calls(n: int, start: float, end: float, seed: int = 7) -> list[Call]:
    """A mix over [start, end): model calls of several models (one unpriced), failures, agents, tools."""
    rnd = random.Random(seed)
    models = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"),
              ("acme", "acme-private-1")]
    calls = []
    for _ in range(n):
        t = rnd.uniform(start, end)
        kind = rnd.random()
        user = f"user{rnd.randrange(6)}"
        common = dict(user=user, department=f"dept{int(user[-1]) % 3}", application=rnd.choice(["helpdesk", "planner"]),
                      service=rnd.choice(["svc-a", "svc-b"]))
        if kind < 0.7:
            provider, model = rnd.choice(models)
            error = None
            status = None
            if rnd.random() < 0.1:
                error, status = rnd.choice([("RateLimitError", 429), ("InternalServerError", 500),
                                            ("APITimeoutError", None)])
            calls.append(Call(t, rnd.lognormvariate(-0.5, 0.8), provider=provider, model=model,
                              input_tokens=rnd.randint(10, 3000), output_tokens=rnd.randint(1, 400),
                              cache_read=rnd.choice([None, 0, 8]), error=error, status_code=status, **common))
        elif kind < 0.85:
            calls.append(Call(t, rnd.lognormvariate(0.5, 0.5), operation=ga.Operation.INVOKE_AGENT,
                              agent=rnd.choice(["planner", "reviewer"]), **common))
        elif kind < 0.97:
            failed = rnd.random() < 0.2
            calls.append(Call(t, rnd.lognormvariate(-3, 1), operation=ga.Operation.EXECUTE_TOOL,
                              tool=rnd.choice(["search", "book"]), error="RuntimeError" if failed else None, **common))
        else:
            calls.append(Call(t, 2.0, operation=ga.Operation.INVOKE_WORKFLOW, workflow="triage", **common))
    return calls


def as_schema_1(path) -> None:
    """Turn a store into one as schema version 1 wrote it: evaluations without the columns
    version 2 added, and no rating_rollup."""
    import sqlite3

    from otel_agentmon.store._schema import EVALUATION_COLUMNS_V2

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for column in EVALUATION_COLUMNS_V2:
            connection.execute(f"ALTER TABLE evaluations DROP COLUMN {column}")
        connection.execute("DROP TABLE rating_rollup")
        connection.execute("PRAGMA user_version = 1")
    finally:
        connection.close()
