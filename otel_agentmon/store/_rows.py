"""Finished spans and evaluation events as store rows, and the rollups of a batch of rows."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agentmon.processors import InvalidUsage, read_usage
from otel_agentmon.processors._usage import is_inference, priced_model, provider_name
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store._schema import (
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    CALLS,
    COST_USD,
    DAY,
    DURATION_S,
    ERRORS,
    FEEDBACK_NAME,
    HOUR,
    INPUT_TOKENS,
    MEASURES,
    OUTPUT_TOKENS,
    PRICED_CALLS,
    RATINGS,
    REASONING_TOKENS,
    UNPRICED_CALLS,
    add_measures,
)

# --- latency buckets ------------------------------------------------------------------------
# Bucket b holds durations in (RATIO**(b-1), RATIO**b] seconds; its representative value is
# RATIO**(b-0.5), within sqrt(RATIO) - 1 = 2.5% of anything in the bucket.
LATENCY_RATIO = 1.05
_LOG_RATIO = math.log(LATENCY_RATIO)
MIN_LATENCY_S = 1e-6  # durations at or below a microsecond share the lowest bucket
MIN_LATENCY_BUCKET = math.ceil(math.log(MIN_LATENCY_S) / _LOG_RATIO)


def latency_bucket(duration_s: float) -> int:
    if duration_s <= MIN_LATENCY_S:
        return MIN_LATENCY_BUCKET
    return math.ceil(math.log(duration_s) / _LOG_RATIO)


def bucket_value(bucket: int) -> float:
    """The representative duration of a bucket, in seconds (its geometric middle)."""
    return LATENCY_RATIO ** (bucket - 0.5)


def bucket_upper_bound(bucket: int) -> float:
    return LATENCY_RATIO ** bucket


# Latency histogram kinds.
KIND_MODEL = "model"
KIND_AGENT = "agent"
KIND_TOOL = "tool"

# --- which spans are kept --------------------------------------------------------------------
_INVOKE_AGENT = ga.Operation.INVOKE_AGENT
_EXECUTE_TOOL = ga.Operation.EXECUTE_TOOL
_INVOKE_WORKFLOW = ga.Operation.INVOKE_WORKFLOW
INFERENCE_OPERATIONS = tuple(sorted(ga.INFERENCE_OPERATIONS))
KEPT_OPERATIONS = frozenset((*INFERENCE_OPERATIONS, _INVOKE_AGENT, _EXECUTE_TOOL, _INVOKE_WORKFLOW))
# llm.request.type of older instrumentors (OpenLLMetry) to the operation it means.
_LEGACY_OPERATIONS = {"chat": ga.Operation.CHAT, "completion": ga.Operation.TEXT_COMPLETION,
                      "embedding": ga.Operation.EMBEDDINGS}

_PRICED = am.CostStatus.PRICED
_UNPRICED = am.CostStatus.UNPRICED
_ERROR = StatusCode.ERROR


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return str(value)


def operation_of(attributes: Mapping[str, Any]) -> str | None:
    """The GenAI operation of a span, or None when the store does not keep it."""
    operation = attributes.get(ga.OPERATION_NAME)
    if isinstance(operation, str):
        return operation if operation in KEPT_OPERATIONS else None
    legacy = attributes.get(ga.DEPRECATED_LLM_REQUEST_TYPE)
    if isinstance(legacy, str):
        return _LEGACY_OPERATIONS.get(legacy)
    if is_inference(attributes):  # a provider and a model, no operation named
        return ga.Operation.CHAT
    return None


def needs_enrichment(attributes: Mapping[str, Any], operation: str, failed: bool) -> bool:
    """True for a span that evidently did not pass through an EnrichingSpanExporter: a model
    call without a cost status, or a failure without a category."""
    if operation in ga.INFERENCE_OPERATIONS and am.COST_STATUS not in attributes and am.COST_AMOUNT not in attributes:
        return True
    return (failed or ga.ERROR_TYPE in attributes) and am.ERROR_CATEGORY not in attributes


def attribute_dict(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping (the SDK's inner dict when there is one)."""
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if isinstance(inner, dict):
        return inner
    if isinstance(bounded, dict):
        return bounded
    return span.attributes or {}


def is_failed(span: ReadableSpan) -> bool:
    status = span.status
    return status is not None and status.status_code is _ERROR


def _tokens(attributes: Mapping[str, Any]) -> tuple[int | None, int | None, int | None, int | None, int | None]:
    try:
        usage = read_usage(attributes)
    except InvalidUsage:
        usage = None
    if usage is None:
        return None, None, None, None, None
    return usage


def span_row(span: ReadableSpan, attributes: Mapping[str, Any], operation: str, service: str | None) -> tuple:
    """The ``spans`` row of a span (columns in ``SPAN_COLUMNS`` order)."""
    context = span.context
    parent = span.parent
    start = span.start_time or 0
    end = span.end_time or start
    duration = max(0, end - start) / 1e9
    get = attributes.get
    input_tokens, output_tokens, cache_read, cache_write, reasoning = _tokens(attributes)
    cost = get(am.COST_AMOUNT)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost):
        cost = None
    status = _text(get(am.COST_STATUS))
    if status is None and cost is not None:
        status = _PRICED
    if status != _PRICED:
        cost = None
    error_type = _text(get(ga.ERROR_TYPE))
    request_model = _text(get(ga.REQUEST_MODEL))
    response_model = _text(get(ga.RESPONSE_MODEL))
    if request_model is None and operation in ga.INFERENCE_OPERATIONS:
        request_model = priced_model(attributes)
    return (
        format(context.trace_id, "032x") if context is not None else "0" * 32,
        format(context.span_id, "016x") if context is not None else "0" * 16,
        format(parent.span_id, "016x") if parent is not None else None,
        span.name or operation,
        operation,
        start,
        end,
        duration,
        provider_name(attributes),
        request_model,
        response_model,
        _text(get(ga.AGENT_NAME)),
        _text(get(ga.TOOL_NAME)),
        _text(get(ga.WORKFLOW_NAME)),
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        reasoning,
        float(cost) if cost is not None else None,
        status,
        error_type,
        _text(get(am.ERROR_CATEGORY)),
        _text(get(am.ERROR_SEVERITY)),
        _text(get(ga.USER_ID)),
        _text(get(am.DEPARTMENT)),
        _text(get(am.APPLICATION)) or service,
        service,
        1 if get(am.QUALITY_SAMPLED) is True else 0,
        _text(get(ga.RESPONSE_ID)),
        _text(get(ga.CONVERSATION_ID)),
        latency_bucket(duration),
    )


# Positions in a span row (SPAN_COLUMNS order).
(_TRACE, _SPAN, _PARENT, _NAME, _OP, _START, _END, _DURATION, _PROVIDER, _REQUEST_MODEL, _RESPONSE_MODEL,
 _AGENT, _TOOL, _WORKFLOW, _IN, _OUT, _CACHE_READ, _CACHE_WRITE, _REASONING, _COST, _COST_STATUS,
 _ERROR_TYPE, _CATEGORY, _SEVERITY, _USER, _DEPARTMENT, _APPLICATION, _SERVICE, _SAMPLED, _RESPONSE_ID,
 _CONVERSATION, _LATENCY_BUCKET) = range(32)

_NS_PER_HOUR = HOUR * 1_000_000_000
_N_MEASURES = len(MEASURES)


def _add(table: dict, key: tuple, row: Sequence[Any]) -> None:
    measures = table.get(key)
    if measures is None:
        measures = table[key] = [0] * _N_MEASURES
        measures[COST_USD] = 0.0
        measures[DURATION_S] = 0.0
    measures[CALLS] += 1
    if row[_ERROR_TYPE] is not None or row[_CATEGORY] is not None:
        measures[ERRORS] += 1
    measures[INPUT_TOKENS] += row[_IN] or 0
    measures[OUTPUT_TOKENS] += row[_OUT] or 0
    measures[CACHE_READ_TOKENS] += row[_CACHE_READ] or 0
    measures[CACHE_WRITE_TOKENS] += row[_CACHE_WRITE] or 0
    measures[REASONING_TOKENS] += row[_REASONING] or 0
    status = row[_COST_STATUS]
    if status == _PRICED:
        measures[COST_USD] += row[_COST]
        measures[PRICED_CALLS] += 1
    elif status == _UNPRICED:
        measures[UNPRICED_CALLS] += 1
    measures[DURATION_S] += row[_DURATION]


class Rollups:
    """The rollup rows of a batch of span rows, hourly and daily, ready to upsert."""

    def __init__(self) -> None:
        self.usage: dict[tuple, list] = {}
        self.owner: dict[tuple, list] = {}
        self.latency: dict[tuple, int] = {}

    def add_spans(self, rows: Iterable[Sequence[Any]]) -> None:
        usage, owner, latency = self.usage, self.owner, self.latency
        inference = ga.INFERENCE_OPERATIONS
        for row in rows:
            hour = row[_START] // _NS_PER_HOUR * HOUR
            operation = row[_OP]
            service = row[_SERVICE] or ""
            model = row[_REQUEST_MODEL] or row[_RESPONSE_MODEL] or ""
            if operation in inference:
                _add(owner, (hour, service, row[_APPLICATION] or "", row[_DEPARTMENT] or "", row[_USER] or ""), row)
                latency_key = (hour, KIND_MODEL, model, row[_LATENCY_BUCKET])
            else:
                if operation == _INVOKE_AGENT:
                    latency_key = (hour, KIND_AGENT, row[_AGENT] or "", row[_LATENCY_BUCKET])
                elif operation == _EXECUTE_TOOL:
                    latency_key = (hour, KIND_TOOL, row[_TOOL] or "", row[_LATENCY_BUCKET])
                else:
                    latency_key = None
            _add(usage, (hour, service, operation, row[_PROVIDER] or "", model, row[_AGENT] or "",
                         row[_TOOL] or "", row[_CATEGORY] or "", row[_SEVERITY] or ""), row)
            if latency_key is not None:
                latency[latency_key] = latency.get(latency_key, 0) + 1

    def rows(self, table: str) -> list[tuple]:
        """Rows (bucket_seconds, bucket_start, *dimensions, *measures) of ``table``, hourly then daily."""
        source: dict = getattr(self, table)
        hourly = []
        daily: dict[tuple, Any] = {}
        scalar = table == "latency"
        for key, value in source.items():
            hourly.append((HOUR, *key, value) if scalar else (HOUR, *key, *value))
            day_key = (key[0] // DAY * DAY, *key[1:])
            if scalar:
                daily[day_key] = daily.get(day_key, 0) + value
            else:
                add_measures(daily, day_key, value)
        day_rows = [(DAY, *key, value) if scalar else (DAY, *key, *value) for key, value in daily.items()]
        return hourly + day_rows


def evaluation_rollup_rows(rows: Iterable[Sequence[Any]]) -> list[tuple]:
    """evaluation_rollup rows for evaluation rows (EVALUATION_COLUMNS order), hourly and daily."""
    totals: dict[tuple, list] = {}
    for row in rows:
        seconds = row[0] // 1_000_000_000
        for width in (HOUR, DAY):
            key = (width, seconds // width * width, row[3] or "", row[4])
            total = totals.get(key)
            if total is None:
                totals[key] = [1, row[5]]
            else:
                total[0] += 1
                total[1] += row[5]
    return [(*key, *value) for key, value in totals.items()]


def whole_star(score: float) -> int:
    """A rating's whole star, 1 to 5: halves round up, as SQLite's ROUND does (WHOLE_STAR_SQL)."""
    return min(RATINGS[-1], max(RATINGS[0], math.floor(score + 0.5)))


def rating_rollup_rows(rows: Iterable[Sequence[Any]]) -> list[tuple]:
    """rating_rollup rows for the user feedback among evaluation rows (EVALUATION_COLUMNS order)."""
    totals: dict[tuple, int] = {}
    for row in rows:
        if row[4] != FEEDBACK_NAME:
            continue
        seconds = row[0] // 1_000_000_000
        star = whole_star(row[5])
        for width in (HOUR, DAY):
            key = (width, seconds // width * width, row[3] or "", star)
            totals[key] = totals.get(key, 0) + 1
    return [(*key, count) for key, count in totals.items()]
