"""The conditions of deploy/prometheus/alerts.yaml, evaluated over the store at the end of a period.

Same thresholds and windows as the Prometheus rules, computed from stored spans instead of
metrics, at the start time of the last stored span of the period (so a report over a past
run says what held when it ended). The rules' ``for:`` durations are not applied: a row says
whether the condition holds at that moment, not whether the alert would have fired.
Differences, by necessity: latency percentiles are exact (not interpolated from the
metric's buckets); quality drift is the report's drift (the period's second half against
its first half) rather than the evaluation worker's window-against-baseline gauge; quality
scores are grouped by service and evaluation (the stored events do not carry the application);
user ratings are grouped by service and the rated span's application (the service's name when
that span is not stored), at the time of the last stored rating; AgentmonNoRequests is
evaluated only when the period runs up to now; AgentmonSpansDropped cannot be evaluated (the
spans it counts never reached the store).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Sequence

from otel_agentmon.reports import _feedback
from otel_agentmon.reports import _format as fmt
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv.errors import ErrorCategory
from otel_agentmon.store._reader import OWNER, USAGE, StoreReader, inference_condition
from otel_agentmon.store._rows import INFERENCE_OPERATIONS

if TYPE_CHECKING:
    from otel_agentmon.reports._report import AlertCondition, BudgetLine, Quality

# Alert names, as in deploy/prometheus/alerts.yaml (a test checks each one is there).
HIGH_ERROR_RATE = "AgentmonHighErrorRate"
HIGH_LATENCY_P95 = "AgentmonHighLatencyP95"
RATE_LIMIT_STORM = "AgentmonRateLimitStorm"
COST_ANOMALY = "AgentmonCostAnomaly"
DAILY_BUDGET_EXCEEDED = "AgentmonDailyBudgetExceeded"
TOKEN_USAGE_SPIKE = "AgentmonTokenUsageSpike"
NO_REQUESTS = "AgentmonNoRequests"
QUALITY_SCORE_LOW = "AgentmonQualityScoreLow"
QUALITY_DRIFT = "AgentmonQualityDrift"
LOW_RATING_RATE = "AgentmonLowRatingRate"
SPANS_DROPPED = "AgentmonSpansDropped"

SEVERITY = {
    HIGH_ERROR_RATE: "critical", HIGH_LATENCY_P95: "warning", RATE_LIMIT_STORM: "warning",
    COST_ANOMALY: "warning", DAILY_BUDGET_EXCEEDED: "critical", TOKEN_USAGE_SPIKE: "warning",
    NO_REQUESTS: "critical", QUALITY_SCORE_LOW: "warning", QUALITY_DRIFT: "warning",
    LOW_RATING_RATE: "warning", SPANS_DROPPED: "warning",
}

# Thresholds and windows, as in the rules.
ERROR_RATE_THRESHOLD = 0.05
ERROR_RATE_MIN_CALLS = 20
ERROR_RATE_WINDOW_S = 300
LATENCY_P95_THRESHOLD_S = 10.0
LATENCY_WINDOW_S = 300
RATE_LIMIT_PER_SECOND = 0.1
RATE_LIMIT_SHARE = 0.2
RATE_LIMIT_MIN_CALLS = 20
RATE_LIMIT_WINDOW_S = 300
COST_ANOMALY_FACTOR = 1.5
COST_ANOMALY_MIN_USD = 1.0
COST_WINDOW_S = 3600
COST_BASELINE_S = 7 * 86400
BASELINE_MIN_AGE_S = 86400  # the cost baseline must hold data older than a day
TOKEN_SPIKE_FACTOR = 3.0
TOKEN_SPIKE_MIN_PER_S = 20.0
TOKEN_WINDOW_S = 900
TOKEN_BASELINE_S = 86400
NO_REQUESTS_WINDOW_S = 600
NO_REQUESTS_LOOKBACK_S = 86400
QUALITY_LOW_THRESHOLD = 0.6
QUALITY_MIN_EVALUATIONS = 20
QUALITY_WINDOW_S = 1800
DRIFT_THRESHOLD = -0.1
DRIFT_MIN_EVALUATIONS = 20  # in each half of the period
LOW_RATING_SHARE = 0.2  # of the ratings at most _feedback.LOW_RATING_MAX
LOW_RATING_MIN_RATINGS = 10
LOW_RATING_WINDOW_S = 3600

_RATE_LIMIT = ErrorCategory.RATE_LIMIT.value
_BUDGET_EXCEEDED = ErrorCategory.BUDGET_EXCEEDED.value
_EPSILON = 1e-3  # windows end just after the last span's start
_INFERENCE_SQL = ", ".join(f"'{op}'" for op in INFERENCE_OPERATIONS)


def _condition(alert: str, candidates: Sequence[tuple[bool, float, str, str]], threshold: str,
               empty: str = "no data in the window") -> "AlertCondition":
    """The row for ``alert`` from its (holds, value, figure, scope) per group: a group where it
    holds (the highest value), else the group closest to it."""
    from otel_agentmon.reports._report import AlertCondition

    if not candidates:
        return AlertCondition(alert, SEVERITY[alert], False, None, empty, threshold, None)
    holding = [c for c in candidates if c[0]]
    holds, value, figure, scope = max(holding or candidates, key=lambda c: c[1])
    return AlertCondition(alert, SEVERITY[alert], holds, value, figure, threshold, scope)


def _not_evaluated(alert: str, why: str, threshold: str) -> "AlertCondition":
    from otel_agentmon.reports._report import AlertCondition

    return AlertCondition(alert, SEVERITY[alert], None, None, why, threshold, None)


def _scope(*parts: str | None) -> str:
    return "/".join(p or "(none)" for p in parts)


def _nearest_rank(values: list[float], q: float) -> float:
    values.sort()
    return values[max(1, math.ceil(q * len(values))) - 1]


def evaluate_alerts(
    reader: StoreReader,
    *,
    last_span: float | None,
    period_until: float | None,
    now: float,
    quality: Iterable["Quality"],
    budgets: Sequence["BudgetLine"] | None,
) -> tuple[float | None, tuple["AlertCondition", ...]]:
    """(the moment evaluated at, a row per alert of alerts.yaml)."""
    t = last_span
    rows: list[AlertCondition] = []
    raw_ok = t is not None and t - COST_WINDOW_S >= reader.pruned_before
    why = "no spans in the period" if t is None else "raw spans of that time were pruned"

    # -- model calls of the last 5 minutes, from raw rows ------------------------------------
    error_t = f"> {fmt.percent(ERROR_RATE_THRESHOLD, 0)} of >= {ERROR_RATE_MIN_CALLS} calls in 5 min"
    latency_t = f"> {LATENCY_P95_THRESHOLD_S:g}s over 5 min"
    storm_t = f"> {RATE_LIMIT_PER_SECOND:g}/s or > {fmt.percent(RATE_LIMIT_SHARE, 0)} of >= {RATE_LIMIT_MIN_CALLS} calls"
    if not raw_ok:
        rows += [_not_evaluated(HIGH_ERROR_RATE, why, error_t), _not_evaluated(HIGH_LATENCY_P95, why, latency_t),
                 _not_evaluated(RATE_LIMIT_STORM, why, storm_t)]
    else:
        spans = reader.raw_spans(
            ("COALESCE(service_name, '')", "COALESCE(application, '')", "COALESCE(provider, '')",
             "COALESCE(request_model, response_model, '')", "duration_s", "error_category",
             "(error_type IS NOT NULL OR error_category IS NOT NULL)"),
            t - ERROR_RATE_WINDOW_S, t + _EPSILON, f"operation IN ({_INFERENCE_SQL})")
        per_app: dict[tuple[str, str], list[int]] = {}
        per_model: dict[tuple[str, str, str], list[float]] = {}
        per_provider: dict[tuple[str, str], list[int]] = {}
        for service, application, provider, model, duration, category, failed in spans:
            if category != _BUDGET_EXCEEDED:
                counts = per_app.setdefault((service, application), [0, 0])
                counts[0] += 1
                counts[1] += 1 if failed else 0
            per_model.setdefault((service, provider, model), []).append(duration)
            counts = per_provider.setdefault((service, provider), [0, 0])
            counts[0] += 1
            counts[1] += 1 if category == _RATE_LIMIT else 0
        candidates = []
        for (service, application), (calls, failed) in per_app.items():
            share = failed / calls
            candidates.append((share > ERROR_RATE_THRESHOLD and calls >= ERROR_RATE_MIN_CALLS, share,
                               f"{fmt.percent(share)} of {calls} calls", _scope(service, application)))
        rows.append(_condition(HIGH_ERROR_RATE, candidates, error_t))
        candidates = []
        for (service, provider, model), durations in per_model.items():
            p95 = _nearest_rank(durations, 0.95)
            candidates.append((p95 > LATENCY_P95_THRESHOLD_S, p95, f"p95 {fmt.seconds(p95)} of {len(durations)} calls",
                               _scope(service, provider, model)))
        rows.append(_condition(HIGH_LATENCY_P95, candidates, latency_t))
        candidates = []
        for (service, provider), (calls, limited) in per_provider.items():
            per_second = limited / RATE_LIMIT_WINDOW_S
            share = limited / calls
            holds = per_second > RATE_LIMIT_PER_SECOND or (
                limited > 0 and share > RATE_LIMIT_SHARE and calls >= RATE_LIMIT_MIN_CALLS)
            candidates.append((holds, per_second, f"{per_second:.2f}/s ({limited} of {calls} calls)",
                               _scope(service, provider)))
        rows.append(_condition(RATE_LIMIT_STORM, candidates, storm_t))

    # -- spend: cost anomaly and token spike per service and application ---------------------
    cost_t = f"> {COST_ANOMALY_FACTOR:g}x 7-day hourly average, > ${COST_ANOMALY_MIN_USD:g}/h"
    token_t = f"> {TOKEN_SPIKE_FACTOR:g}x the day's average, > {TOKEN_SPIKE_MIN_PER_S:g}/s"
    if not raw_ok:
        rows += [_not_evaluated(COST_ANOMALY, why, cost_t)]
    else:
        rows.append(_cost_anomaly(reader, t, cost_t))

    # -- budgets -----------------------------------------------------------------------------
    budget_t = "daily budget spent 100%"
    if budgets is None:
        rows.append(_not_evaluated(DAILY_BUDGET_EXCEEDED, "no budgets file (AGENTMON_BUDGETS_FILE)", budget_t))
    else:
        daily = [b for b in budgets if b.period == am.BudgetPeriod.DAILY]
        rows.append(_condition(DAILY_BUDGET_EXCEEDED, [
            (b.status == "exceeded", b.fraction, f"{fmt.percent(b.fraction, 0)} of {fmt.usd(b.limit_usd)}",
             f"{b.scope} {b.owner}") for b in daily], budget_t, "no daily budget"))

    if not raw_ok:
        rows.append(_not_evaluated(TOKEN_USAGE_SPIKE, why, token_t))
    else:
        rows.append(_token_spike(reader, t, token_t))

    # -- no requests: only for a period that runs up to now ----------------------------------
    no_requests_t = "no calls for 10 min (after calls in the day)"
    if period_until is not None and period_until < now:
        rows.append(_not_evaluated(NO_REQUESTS, "only for a period that ends now", no_requests_t))
    else:
        condition = inference_condition()
        day = reader.totals(USAGE, ("service",), reader.plan(now - NO_REQUESTS_LOOKBACK_S, None), condition)
        recent = reader.totals(USAGE, ("service",), reader.plan(now - NO_REQUESTS_WINDOW_S, None), condition)
        candidates = []
        for (service,), measures in day.items():
            calls = recent.get((service,), [0])[0]
            idle = calls == 0
            candidates.append((idle, 1.0 if idle else 0.0, f"{calls} calls in 10 min", _scope(service)))
        rows.append(_condition(NO_REQUESTS, candidates, no_requests_t, "no model calls in the last day"))

    # -- quality -----------------------------------------------------------------------------
    quality_t = f"mean < {QUALITY_LOW_THRESHOLD:g} of >= {QUALITY_MIN_EVALUATIONS} in 30 min"
    rows.append(_quality_low(reader, period_until, quality_t))
    drift_t = f"< {DRIFT_THRESHOLD:g} (>= {DRIFT_MIN_EVALUATIONS} per half)"
    candidates = []
    for q in quality:
        if q.drift is None:
            continue
        enough = q.first_half_count >= DRIFT_MIN_EVALUATIONS and q.second_half_count >= DRIFT_MIN_EVALUATIONS
        candidates.append((enough and q.drift < DRIFT_THRESHOLD, -q.drift, f"drift {q.drift:+.3f}", q.evaluation))
    rows.append(_condition(QUALITY_DRIFT, candidates, drift_t, "no evaluations in both halves"))

    # -- user feedback -----------------------------------------------------------------------
    rating_t = (f"> {fmt.percent(LOW_RATING_SHARE, 0)} rated <= {_feedback.LOW_RATING_MAX} "
                f"of >= {LOW_RATING_MIN_RATINGS} in 1 h")
    rows.append(_low_rating_rate(reader, period_until, rating_t))
    rows.append(_not_evaluated(SPANS_DROPPED, "dropped spans never reach the store", "any span dropped in 15 min"))
    return t, tuple(rows)


def _owner_window(reader: StoreReader, start: float, end: float) -> dict[tuple, list]:
    return reader.totals(OWNER, ("service", "application"), reader.plan(start, end))


def _first_seen_hourly(reader: StoreReader, since: float) -> dict[tuple[str, str], float]:
    return {(service, application): float(first) for service, application, first in reader.query(
        "SELECT service, application, MIN(bucket_start) FROM owner_rollup WHERE bucket_seconds = 3600 "
        "AND bucket_start >= ? GROUP BY service, application", (int(since),))}


def _cost_anomaly(reader: StoreReader, t: float, threshold: str) -> "AlertCondition":
    end = t + _EPSILON
    last_hour = _owner_window(reader, t - COST_WINDOW_S, end)
    week = _owner_window(reader, t - COST_BASELINE_S, end)
    first_seen = _first_seen_hourly(reader, t - COST_BASELINE_S - BASELINE_MIN_AGE_S)
    candidates = []
    for key, measures in last_hour.items():
        cost = measures[7]
        seen = first_seen.get(key, t)
        hours = max(1.0, (t - max(t - COST_BASELINE_S, seen)) / 3600)
        average = week.get(key, [0] * 11)[7] / hours
        ratio = cost / average if average > 0 else 0.0
        old_enough = seen <= t - BASELINE_MIN_AGE_S
        holds = old_enough and cost > COST_ANOMALY_FACTOR * average and cost > COST_ANOMALY_MIN_USD
        figure = f"{fmt.usd(cost)} last hour vs {fmt.usd(average)}/h"
        if not old_enough:
            figure += "; history < 1 day"
        candidates.append((holds, ratio, figure, _scope(*key)))
    return _condition(COST_ANOMALY, candidates, threshold)


def _token_spike(reader: StoreReader, t: float, threshold: str) -> "AlertCondition":
    end = t + _EPSILON
    recent = _owner_window(reader, t - TOKEN_WINDOW_S, end)
    day = _owner_window(reader, t - TOKEN_BASELINE_S, end)
    first_seen = _first_seen_hourly(reader, t - TOKEN_BASELINE_S)
    first_span = reader.extent(t - TOKEN_BASELINE_S, end)
    candidates = []
    for key, measures in recent.items():
        per_second = (measures[2] + measures[3]) / TOKEN_WINDOW_S
        seen = max(first_seen.get(key, t), first_span[0] if first_span else t)
        window = max(float(TOKEN_WINDOW_S), t - max(t - TOKEN_BASELINE_S, seen))
        day_measures = day.get(key, [0] * 11)
        average = (day_measures[2] + day_measures[3]) / window
        holds = per_second > TOKEN_SPIKE_FACTOR * average and per_second > TOKEN_SPIKE_MIN_PER_S
        candidates.append((holds, per_second / average if average else 0.0,
                           f"{fmt.rate(per_second)}/s vs {fmt.rate(average)}/s", _scope(*key)))
    return _condition(TOKEN_USAGE_SPIKE, candidates, threshold)


def _latest_evaluation(reader: StoreReader, period_until: float | None, where: str,
                       parameters: tuple[str, ...]) -> float | None:
    """The time of the last stored evaluation matching ``where`` (before ``period_until``)."""
    bound = "" if period_until is None else " AND time_ns < ?"
    bounds = () if period_until is None else (int(period_until * 1e9),)
    # newest first along the time index: stops at the first row that matches
    rows = reader.query(f"SELECT time_ns FROM evaluations WHERE {where}{bound} ORDER BY time_ns DESC LIMIT 1",
                        (*parameters, *bounds))
    return rows[0][0] / 1e9 if rows else None


def _quality_low(reader: StoreReader, period_until: float | None, threshold: str) -> "AlertCondition":
    t = _latest_evaluation(reader, period_until, *_feedback.not_feedback_condition())
    if t is None:
        return _not_evaluated(QUALITY_SCORE_LOW, "no stored evaluations in the period", threshold)
    groups: dict[tuple[str, str], list[float]] = {}
    for service, name, score in reader.raw_evaluations(("COALESCE(service_name, '')", "name", "score"),
                                                       t - QUALITY_WINDOW_S, t + _EPSILON):
        if name == _feedback.FEEDBACK_NAME:
            continue
        total = groups.setdefault((service, name), [0, 0.0])
        total[0] += 1
        total[1] += score
    candidates = []
    for (service, name), (n, total) in groups.items():
        mean = total / n
        candidates.append((mean < QUALITY_LOW_THRESHOLD and n >= QUALITY_MIN_EVALUATIONS, 1 - mean,
                           f"mean {mean:.3f} of {n}", _scope(service, name)))
    return _condition(QUALITY_SCORE_LOW, candidates, threshold)


def _low_rating_rate(reader: StoreReader, period_until: float | None, threshold: str) -> "AlertCondition":
    t = _latest_evaluation(reader, period_until, *_feedback.is_feedback_condition())
    if t is None:
        return _not_evaluated(LOW_RATING_RATE, "no stored ratings in the period", threshold)
    rows = reader.query(
        "SELECT COALESCE(e.service_name, ''), COALESCE((SELECT application FROM spans s WHERE s.trace_id = e.trace_id "
        "AND s.span_id = e.span_id LIMIT 1), e.service_name, ''), COUNT(*), SUM(e.score <= ?) FROM evaluations e "
        "WHERE e.name = ? AND e.time_ns >= ? AND e.time_ns < ? GROUP BY 1, 2",
        (_feedback.LOW_RATING_MAX, _feedback.FEEDBACK_NAME, int((t - LOW_RATING_WINDOW_S) * 1e9),
         int((t + _EPSILON) * 1e9)))
    candidates = []
    for service, application, n, low in rows:
        share = low / n
        candidates.append((share > LOW_RATING_SHARE and n >= LOW_RATING_MIN_RATINGS, share,
                           f"{fmt.percent(share)} of {n} ratings low", _scope(service, application)))
    return _condition(LOW_RATING_RATE, candidates, threshold)
