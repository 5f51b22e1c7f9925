"""The input of the HTML report (``HtmlReportData``), from a Report and the store's time series.

Charts get about ``TARGET_POINTS`` time buckets of a round width: under an hour wide (periods
up to about two days) they are counted from the raw spans, so a one-minute run still draws
a line of 30-60 points; wider buckets come from the hourly or daily rollups.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

from otel_agentmon.reports import _feedback
from otel_agentmon.reports import _format as fmt
from otel_agentmon.reports._html_data import HtmlReportData, Series
from otel_agentmon.reports._report import Report, latency_histograms, model_cost_text
from otel_agentmon.store._reader import RAW, USAGE, Plan, Segment, StoreReader, inference_condition
from otel_agentmon.store._rows import KIND_MODEL, bucket_upper_bound
from otel_agentmon.store._schema import DAY, HOUR

TARGET_POINTS = 48
MAX_MODEL_SERIES = 8  # more models are summed as "other models"
NICE_WIDTHS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 604800)
_COST, _IN, _OUT, _CACHE_READ = 7, 2, 3, 4


def bucket_width(seconds: float) -> float:
    """The smallest round width giving at most TARGET_POINTS buckets over ``seconds``."""
    for width in NICE_WIDTHS:
        if seconds / width <= TARGET_POINTS:
            return width
    return NICE_WIDTHS[-1]


def _series_plan(reader: StoreReader, start: float, end: float) -> tuple[Plan, float]:
    width = bucket_width(max(1.0, end - start))
    hourly_from = reader.pruned_before // DAY * DAY
    if width < HOUR and start < reader.pruned_before:
        width = HOUR
    if width < HOUR:
        return Plan(start, end, (Segment(RAW, start, end),)), width
    if width < DAY:
        low = start // HOUR * HOUR
        if low >= hourly_from:
            high = -(-end // HOUR) * HOUR
            return Plan(low, high, (Segment(HOUR, low, high),)), width
        width = DAY
    low = start // DAY * DAY
    high = -(-end // DAY) * DAY
    return Plan(low, high, (Segment(DAY, low, high),)), width


def _points(values: dict[int, float], first: int, last: int, width: float) -> tuple[tuple[float, float], ...]:
    """(bucket start, value) for every bucket index from first to last, 0 where nothing happened."""
    return tuple((round(index * width, 6), float(values.get(index, 0.0))) for index in range(first, last + 1))


def _period(report: Report) -> tuple[float, float]:
    start = report.since if report.since is not None else report.first_span
    if report.until is not None:
        end = min(report.until, report.generated_at)
    elif report.since is not None:
        end = report.generated_at
    else:
        end = report.last_span
    if start is None or end is None:
        return (report.generated_at, report.generated_at)
    return (start, max(start, end))


def latency_distribution(histogram: dict[int, int]) -> tuple[tuple[float, int], ...]:
    """Fine log buckets regrouped into doubling buckets from 10 ms (the GenAI conventions'
    duration boundaries), up to the first bound above the slowest call."""
    if not histogram:
        return ()
    bounds = [0.01]
    slowest = bucket_upper_bound(max(histogram))
    while bounds[-1] < slowest:
        bounds.append(round(bounds[-1] * 2, 6))
    counts = [0] * len(bounds)
    for bucket, n in histogram.items():
        upper = bucket_upper_bound(bucket) / 1.0000001  # a fine bucket ending on a bound belongs below it
        index = next((i for i, b in enumerate(bounds) if upper <= b), len(bounds) - 1)
        counts[index] += n
    return tuple(zip(bounds, counts))


def build_html_data(report: Report, *, title: str | None = None) -> HtmlReportData:
    """The HTML report's input for a report (reads the report's store again for the series)."""
    start, end = _period(report)
    with StoreReader(report.store) as reader:
        plan, width = _series_plan(reader, start, end + 1e-3)
        condition = inference_condition()
        by_model = reader.series(USAGE, ("model",), plan, width, condition)
        totals = reader.series(USAGE, (), plan, width, condition)
        report_plan = reader.plan(report.since, report.until)
        model_latency = latency_histograms(reader, report_plan).get(KIND_MODEL, {})
    first = math.floor(start / width)
    last = math.floor(max(start, end) / width)

    cost_by_model: dict[str, dict[int, float]] = {}
    model_totals: dict[str, float] = {}
    for (bucket, model), measures in by_model.items():
        cost_by_model.setdefault(model, {})[bucket] = measures[_COST]
        model_totals[model] = model_totals.get(model, 0.0) + measures[_COST]
    ranked = sorted(model_totals, key=lambda m: (-model_totals[m], m))
    shown = [m for m in ranked if model_totals[m] > 0][:MAX_MODEL_SERIES]
    cost_series = [Series(m or "(unknown)", _points(cost_by_model[m], first, last, width)) for m in shown]
    rest = [m for m in ranked if m not in shown and model_totals[m] > 0]
    if rest:
        other: dict[int, float] = {}
        for m in rest:
            for b, v in cost_by_model[m].items():
                other[b] = other.get(b, 0.0) + v
        cost_series.append(Series(f"{len(rest)} other models", _points(other, first, last, width)))

    token_series = []
    for name, index in (("input", _IN), ("cache read", _CACHE_READ), ("output", _OUT)):
        values = {bucket: measures[index] for (bucket,), measures in totals.items()}
        if any(values.values()) or name != "cache read":
            token_series.append(Series(name, _points(values, first, last, width)))

    merged: dict[int, int] = {}
    for histogram in model_latency.values():
        for bucket, n in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + n

    return HtmlReportData(
        title=title or "otel-agentmon report",
        period=(start, end),
        generated_at=report.generated_at,
        bucket_seconds=float(width),
        summary=summary(report),
        latency_buckets=latency_distribution(merged),
        latency_percentiles=tuple((x.name or "(unknown)", x.p50, x.p95, x.p99) for x in report.latency_by_model
                                  if x.p50 is not None),
        cost_over_time=tuple(cost_series),
        tokens_over_time=tuple(token_series),
        errors_by_category=tuple((e.category, e.severity, e.count) for e in report.errors_by_category),
        tables=tables(report),
    )


def summary(report: Report) -> tuple[tuple[str, str], ...]:
    r = report
    p95 = max((x.p95 for x in r.latency_by_model if x.p95 is not None), default=None)
    holding = [a.alert for a in r.alerts if a.holds]
    rows = [
        ("Model calls", fmt.count(r.model_calls)),
        ("Rate", f"{fmt.rate(r.rate_per_minute)}/min"),
        ("Error rate", fmt.percent(r.error_rate, 2)),
        ("Slowest model p95", fmt.seconds(p95)),
        ("Tokens", f"{fmt.count(r.tokens.input)} in / {fmt.count(r.tokens.output)} out"),
        ("Cost", fmt.usd(r.cost.total_usd)),
    ]
    if r.cost.unpriced_calls:
        rows.append(("Unpriced calls", fmt.count(r.cost.unpriced_calls)))
    rows += [("Agent runs", fmt.count(r.agent_runs)), ("Tool calls", fmt.count(r.tool_calls))]
    if r.feedback is not None:
        rows.append(("User rating", f"{_feedback.rating(r.feedback.mean)} of 5 ({fmt.count(r.feedback.count)})"))
    rows.append(("Alerts holding", ", ".join(holding) if holding else "none"))
    return tuple(rows)


def _owner_rows(owners: Any) -> tuple[tuple[str, ...], ...]:
    rows = [(o.owner or "(none)", fmt.count(o.calls), fmt.usd(o.cost_usd), fmt.percent(o.share),
             fmt.count(o.unpriced_calls)) for o in owners.top]
    if owners.others is not None:
        o = owners.others
        rows.append((o.owner or "", fmt.count(o.calls), fmt.usd(o.cost_usd), fmt.percent(o.share),
                     fmt.count(o.unpriced_calls)))
    return tuple(rows)


def tables(report: Report) -> tuple[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]], ...]:
    r = report
    owner_header = ("calls", "cost", "share", "unpriced calls")
    out: list[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]] = [
        ("Cost by model", ("model", "provider", "calls", "errors", "tokens in", "tokens out", "cost", "unpriced calls"),
         tuple((m.model, m.provider or "", fmt.count(m.calls), fmt.count(m.errors), fmt.count(m.input_tokens),
                fmt.count(m.output_tokens), model_cost_text(m),
                fmt.count(m.unpriced_calls)) for m in r.cost.by_model)),
        ("Cost by user", ("user", *owner_header), _owner_rows(r.cost.by_user)),
        ("Cost by department", ("department", *owner_header), _owner_rows(r.cost.by_department)),
        ("Cost by application", ("application", *owner_header), _owner_rows(r.cost.by_application)),
        ("Latency by agent", ("agent", "runs", "p50", "p95", "p99"),
         tuple((x.name or "(unknown)", fmt.count(x.count), fmt.seconds(x.p50), fmt.seconds(x.p95), fmt.seconds(x.p99))
               for x in r.latency_by_agent)),
        ("Tools", ("tool", "calls", "failures", "failure rate", "p50", "p95"),
         tuple((x.tool, fmt.count(x.calls), fmt.count(x.failures), fmt.percent(x.failure_rate), fmt.seconds(x.p50),
                fmt.seconds(x.p95)) for x in r.tools)),
    ]
    if r.quality:
        out.append(("Quality", ("evaluation", "evaluations", "mean", "first half", "second half", "drift"),
                    tuple((q.evaluation, fmt.count(q.count), fmt.score(q.mean), fmt.score(q.first_half_mean),
                           fmt.score(q.second_half_mean), fmt.signed(q.drift)) for q in r.quality)))
    out.extend(_feedback.html_tables(r.feedback))
    out.append(("Alert conditions", ("alert", "severity", "holds", "value", "threshold", "where"),
                tuple((a.alert, a.severity, "yes" if a.holds else "no" if a.holds is not None else "n/a", a.figure,
                       a.threshold, a.scope or "") for a in r.alerts)))
    if r.budgets is not None:
        out.append(("Budgets", ("budget", "period", "spent", "limit", "used", "status"),
                    tuple((f"{b.scope} {b.owner}", f"{b.period} {b.period_start}", fmt.usd(b.spent_usd),
                           fmt.usd(b.limit_usd), fmt.percent(b.fraction), b.status) for b in r.budgets)))
    return tuple(out)


def write_html(report: Report, path: str) -> None:
    """Render the report's page and write it to ``path`` atomically (a temporary file renamed)."""
    from otel_agentmon.reports._html import render_html

    page = render_html(build_html_data(report))
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
