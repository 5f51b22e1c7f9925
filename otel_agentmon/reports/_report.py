"""``otel-agentmon report``: what the agents did over a period, from the store's rollups.

Figures over a period are sums over the spans that started in it. The period's bounds are
exact where raw spans are kept (within the retention), and widened to whole hours or UTC days
where ``otel-agentmon prune`` removed them (see ``otel_agentmon.store._reader``).

Definitions:

- *model calls*: inference spans (chat, text_completion, generate_content, embeddings).
  *Errors* and the *error rate* are those of model calls, not counting calls refused by a
  budget in enforce mode (a policy decision, like the AgentmonHighErrorRate rule);
  *errors by category* counts every GenAI span with a category (failed tools too).
- *rate*: model calls divided by the period's length: from ``--since`` (else the first
  stored span) to ``--until`` (else now when ``--since`` is given, else the last stored span).
- *latency percentiles*: from log-scale histograms (buckets 5% wide), each within 2.5% of the
  exact nearest-rank percentile.
- *tokens* and *cost*: of model calls only (agent and tool spans never carry a cost). Calls of
  a model nobody priced are counted as unpriced, never as $0.
- *quality*: per evaluation, the mean score; *drift* is the mean of the period's second half
  minus that of its first half (halves of the span window; negative means quality fell).
  User feedback is not a quality evaluation (ratings 1 to 5, not scores 0 to 1).
- *feedback*: users' ratings (``otel_agentmon.feedback``): distribution, mean, its trend over
  the same halves, and the low-rated interactions with their traces (see ``_feedback``).
- *budgets*: with AGENTMON_BUDGETS_FILE set, each budget's spend in the UTC day and month of
  the period's end (now, or ``--until``), from the stored cost.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from otel_agentmon.budgets import BudgetsConfig
from otel_agentmon.reports import _feedback
from otel_agentmon.reports import _format as fmt
from otel_agentmon.reports._feedback import Feedback
from otel_agentmon.reports._halves import evaluation_halves
from otel_agentmon.reports._time import day_start, iso, month_start
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import ErrorCategory
from otel_agentmon.store._reader import LATENCY, OWNER, USAGE, StoreReader
from otel_agentmon.store._rows import KIND_AGENT, KIND_MODEL, KIND_TOOL, bucket_value
from otel_agentmon.store._schema import (
    CACHE_READ_TOKENS as _CACHE_READ,
    CACHE_WRITE_TOKENS as _CACHE_WRITE,
    CALLS as _CALLS,
    COST_USD as _COST,
    DURATION_S as _DURATION,
    ERRORS as _ERRORS,
    INPUT_TOKENS as _IN,
    OUTPUT_TOKENS as _OUT,
    PRICED_CALLS as _PRICED,
    REASONING_TOKENS as _REASONING,
    UNPRICED_CALLS as _UNPRICED,
    add_measures,
)

TOP_N = 10
BUDGET_WARNING_FRACTION = 0.8  # like the budgets' own warning event
_BUDGET_EXCEEDED = ErrorCategory.BUDGET_EXCEEDED.value
_AGENT_TIMEOUT = ErrorCategory.AGENT_TIMEOUT.value
_INFERENCE = ga.INFERENCE_OPERATIONS
_USAGE_DIMENSIONS = ("operation", "provider", "model", "agent", "tool", "error_category", "error_severity")
# positions of the measures (store._schema.MEASURES)


@dataclass(frozen=True)
class ErrorCount:
    category: str
    severity: str
    count: int


@dataclass(frozen=True)
class Latency:
    name: str
    count: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class ModelCost:
    provider: str | None
    model: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when no call of the model was priced
    priced_calls: int
    unpriced_calls: int


@dataclass(frozen=True)
class OwnerCost:
    owner: str | None  # None: spans without this attribute
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int
    share: float | None  # of the period's total cost


@dataclass(frozen=True)
class OwnerCosts:
    owners: int  # distinct owners in the period
    top: tuple[OwnerCost, ...]
    others: OwnerCost | None  # the owners beyond the top, summed


@dataclass(frozen=True)
class Cost:
    total_usd: float
    priced_calls: int
    unpriced_calls: int
    by_model: tuple[ModelCost, ...]
    by_user: OwnerCosts
    by_department: OwnerCosts
    by_application: OwnerCosts


@dataclass(frozen=True)
class ToolStats:
    tool: str
    calls: int
    failures: int
    failure_rate: float | None
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class Quality:
    evaluation: str
    count: int
    mean: float | None
    first_half_count: int
    first_half_mean: float | None
    second_half_count: int
    second_half_mean: float | None
    drift: float | None  # second half mean minus first half mean


@dataclass(frozen=True)
class BudgetLine:
    scope: str  # user | department
    owner: str
    period: str  # daily | monthly
    period_start: str  # 2026-11-20 or 2026-11
    spent_usd: float
    limit_usd: float
    fraction: float
    status: str  # ok | warning | exceeded


@dataclass(frozen=True)
class AlertCondition:
    alert: str  # the alert's name in deploy/prometheus/alerts.yaml
    severity: str
    holds: bool | None  # None: cannot be evaluated on this data
    value: float | None
    figure: str  # the value, formatted, with what it is of
    threshold: str
    scope: str | None  # where it holds, or the worst place when it does not


@dataclass(frozen=True)
class Report:
    store: str
    generated_at: float
    since: float | None  # as asked; None: from the first stored span
    until: float | None  # as asked; None: up to now
    covered_since: float | None  # the bounds actually covered (widened where raw rows were pruned)
    covered_until: float | None
    first_span: float | None
    last_span: float | None
    window_seconds: float
    model_calls: int
    agent_runs: int
    tool_calls: int
    workflow_runs: int
    rate_per_second: float
    rate_per_minute: float
    errors: int
    error_rate: float | None
    budget_refusals: int
    errors_by_category: tuple[ErrorCount, ...]
    latency_by_model: tuple[Latency, ...]
    latency_by_agent: tuple[Latency, ...]
    tokens: Tokens
    cost: Cost
    tools: tuple[ToolStats, ...]
    quality: tuple[Quality, ...]
    feedback: Feedback | None  # None: no user feedback in the period
    budgets: tuple[BudgetLine, ...] | None  # None: no budgets file
    alerts_evaluated_at: float | None
    alerts: tuple[AlertCondition, ...]


# --- percentiles -----------------------------------------------------------------------------

def percentiles(histogram: Mapping[int, int], quantiles: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles of a latency histogram {bucket: count}, as bucket middles."""
    total = sum(histogram.values())
    if total <= 0:
        return [None for _ in quantiles]
    ordered = sorted(histogram.items())
    out: list[float | None] = []
    for q in quantiles:
        rank = max(1, math.ceil(q * total))
        seen = 0
        for bucket, n in ordered:
            seen += n
            if seen >= rank:
                out.append(bucket_value(bucket))
                break
    return out


def _latencies(histograms: Mapping[str, Mapping[int, int]]) -> tuple[Latency, ...]:
    rows = []
    for name, histogram in histograms.items():
        p50, p95, p99 = percentiles(histogram, (0.5, 0.95, 0.99))
        rows.append(Latency(name, sum(histogram.values()), p50, p95, p99))
    rows.sort(key=lambda r: (-r.count, r.name))
    return tuple(rows)


def latency_histograms(reader: StoreReader, plan: Any) -> dict[str, dict[str, dict[int, int]]]:
    """{kind: {name: {bucket: count}}} over a plan."""
    out: dict[str, dict[str, dict[int, int]]] = {KIND_MODEL: {}, KIND_AGENT: {}, KIND_TOOL: {}}
    for (kind, name, bucket), (count,) in reader.totals(LATENCY, ("kind", "name", "bucket"), plan).items():
        histogram = out.setdefault(kind, {}).setdefault(name, {})
        histogram[bucket] = histogram.get(bucket, 0) + count
    return out


# --- owners ----------------------------------------------------------------------------------

def owner_costs(totals: Mapping[str | None, list], total_cost: float, top: int) -> OwnerCosts:
    def row(owner: str | None, m: list) -> OwnerCost:
        return OwnerCost(owner, int(m[_CALLS]), int(m[_IN]), int(m[_OUT]), float(m[_COST]), int(m[_UNPRICED]),
                         (m[_COST] / total_cost) if total_cost > 0 else None)

    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][_COST], -kv[1][_CALLS], kv[0] or ""))
    shown = [row(owner, m) for owner, m in ordered[:top]]
    rest = ordered[top:]
    others = None
    if rest:
        summed = [sum(m[i] for _, m in rest) for i in range(len(rest[0][1]))]
        others = row(f"({len(rest)} others)", summed)
    return OwnerCosts(len(totals), tuple(shown), others)


def _by(totals: Mapping[tuple, list], index: int) -> dict[str | None, list]:
    out: dict[str | None, list] = {}
    for key, measures in totals.items():
        add_measures(out, key[index] or None, measures)
    return out


# --- budgets ---------------------------------------------------------------------------------

def budget_lines(reader: StoreReader, budgets: BudgetsConfig, end: float, until_open: bool) -> tuple[BudgetLine, ...]:
    """Each budget's spend in the UTC day and month holding ``end``, from the stored cost."""
    stop = None if until_open else end
    day = day_start(end)
    month = month_start(end)
    spend: dict[str, dict[tuple[str, str], float]] = {}
    for period, start in ((am.BudgetPeriod.DAILY, day), (am.BudgetPeriod.MONTHLY, month)):
        totals = reader.totals(OWNER, ("department", "user_id"), reader.plan(start, stop))
        by_owner: dict[tuple[str, str], float] = {}
        for (department, user), measures in totals.items():
            for key in ((am.BudgetScope.DEPARTMENT, department), (am.BudgetScope.USER, user)):
                if key[1]:
                    by_owner[key] = by_owner.get(key, 0.0) + measures[_COST]
        spend[period] = by_owner
    lines = []
    for budget in budgets.budgets:
        for period, limit, start in ((am.BudgetPeriod.DAILY, budget.daily, iso(day)[:10]),
                                     (am.BudgetPeriod.MONTHLY, budget.monthly, iso(month)[:7])):
            if limit is None:
                continue
            spent = spend[period].get((budget.scope, budget.owner), 0.0)
            fraction = spent / limit
            status = "exceeded" if fraction >= 1 else "warning" if fraction >= BUDGET_WARNING_FRACTION else "ok"
            lines.append(BudgetLine(budget.scope, budget.owner, period, start, spent, float(limit), fraction, status))
    return tuple(lines)


# --- quality ---------------------------------------------------------------------------------

def _quality(reader: StoreReader, start: float, middle: float, stop: float | None) -> tuple[Quality, ...]:
    where, parameters = _feedback.not_feedback_condition()
    halves = evaluation_halves(reader, ("name",), start, middle, stop, where, parameters)
    return tuple(
        Quality(name, h.count, h.mean, h.first_count, h.first_mean, h.second_count, h.second_mean, h.change)
        for (name,), h in sorted(halves.items())
    )


# --- the report ------------------------------------------------------------------------------

def build_report(
    store_path: str | None = None,
    since: float | None = None,
    until: float | None = None,
    *,
    now: float | None = None,
    top: int = TOP_N,
    budgets: BudgetsConfig | None | bool = True,
) -> Report:
    """The report over [since, until) (unix seconds; None: from the first span / up to now).

    ``budgets``: a BudgetsConfig, None for none, or True (default) for AGENTMON_BUDGETS_FILE
    (a bad file raises ConfigurationError). Raises StoreError for a missing, locked or
    foreign store file.
    """
    now = time.time() if now is None else now
    if budgets is True:
        from otel_agentmon.budgets import validate_budgets_env

        budgets = validate_budgets_env()
    with StoreReader(store_path) as reader:
        return _build(reader, since, until, now, top, budgets or None)


def _build(reader: StoreReader, since: float | None, until: float | None, now: float, top: int,
           budgets: BudgetsConfig | None) -> Report:
    from otel_agentmon.reports._alerts import evaluate_alerts

    plan = reader.plan(since, until)
    extent = reader.extent(since, until)
    first, last = extent if extent is not None else (None, None)
    start = since if since is not None else first
    if until is not None:
        end = min(until, now)
    elif since is not None:
        end = now
    else:
        end = last
    window = max(0.0, (end - start)) if start is not None and end is not None else 0.0

    usage = reader.totals(USAGE, _USAGE_DIMENSIONS, plan)
    model_calls = agent_runs = tool_calls = workflow_runs = errors = refusals = 0
    tokens = [0, 0, 0, 0, 0]
    total_cost = 0.0
    priced = unpriced = 0
    categories: dict[tuple[str, str], int] = {}
    models: dict[tuple[str, str], list] = {}
    tools: dict[str, list] = {}
    for (operation, provider, model, agent, tool, category, severity), m in usage.items():
        calls = int(m[_CALLS])
        # An error is counted once, where it happened: a failed model call or tool, or an agent
        # that ran out of time; agent and workflow spans that only passed an error up are not.
        if category and (operation in _INFERENCE or operation == ga.Operation.EXECUTE_TOOL
                         or category == _AGENT_TIMEOUT):
            key = (category, severity)
            categories[key] = categories.get(key, 0) + calls
        if operation in _INFERENCE:
            model_calls += calls
            if category == _BUDGET_EXCEEDED:
                refusals += calls
            else:
                errors += int(m[_ERRORS])
            for i, index in enumerate((_IN, _OUT, _CACHE_READ, _CACHE_WRITE, _REASONING)):
                tokens[i] += int(m[index])
            total_cost += m[_COST]
            priced += int(m[_PRICED])
            unpriced += int(m[_UNPRICED])
            entry = models.setdefault((provider, model), [0] * 7 + [0.0])
            entry[0] += calls
            entry[1] += int(m[_ERRORS])
            entry[2] += int(m[_IN])
            entry[3] += int(m[_OUT])
            entry[4] += int(m[_PRICED])
            entry[5] += int(m[_UNPRICED])
            entry[7] += m[_COST]
        elif operation == ga.Operation.INVOKE_AGENT:
            agent_runs += calls
        elif operation == ga.Operation.EXECUTE_TOOL:
            tool_calls += calls
            entry = tools.setdefault(tool, [0, 0])
            entry[0] += calls
            entry[1] += int(m[_ERRORS])
        elif operation == ga.Operation.INVOKE_WORKFLOW:
            workflow_runs += calls

    histograms = latency_histograms(reader, plan)
    tool_rows = []
    for tool, (calls, failures) in tools.items():
        p50, p95 = percentiles(histograms.get(KIND_TOOL, {}).get(tool, {}), (0.5, 0.95))
        tool_rows.append(ToolStats(tool or "(unnamed)", calls, failures, failures / calls if calls else None, p50, p95))
    tool_rows.sort(key=lambda r: (-r.calls, r.tool))

    model_rows = [
        ModelCost(provider or None, model or "(unknown)", e[0], e[1], e[2], e[3], e[7] if e[4] else None, e[4], e[5])
        for (provider, model), e in models.items()
    ]
    model_rows.sort(key=lambda r: (-(r.cost_usd or 0.0), -r.calls, r.model))

    owners = reader.totals(OWNER, ("application", "department", "user_id"), plan)
    cost = Cost(
        total_cost, priced, unpriced, tuple(model_rows),
        by_user=owner_costs(_by(owners, 2), total_cost, top),
        by_department=owner_costs(_by(owners, 1), total_cost, top),
        by_application=owner_costs(_by(owners, 0), total_cost, top),
    )

    quality: tuple[Quality, ...] = ()
    feedback = None
    if start is not None:
        quality = _quality(reader, start, start + window / 2, until)
        feedback = _feedback.build_feedback(reader, start, start + window / 2, until, top)

    budget_rows = None
    budget_end = min(until, now) if until is not None else now
    if budgets is not None:
        budget_rows = budget_lines(reader, budgets, budget_end, until is None or until >= now)

    evaluated_at, alerts = evaluate_alerts(
        reader, last_span=last, period_until=until, now=now, quality=quality, budgets=budget_rows,
    )

    rate = model_calls / window if window > 0 else 0.0
    counted = model_calls - refusals
    return Report(
        store=reader.path,
        generated_at=now,
        since=since,
        until=until,
        covered_since=plan.since if plan.since > 0 else None,
        covered_until=plan.until if until is not None else None,
        first_span=first,
        last_span=last,
        window_seconds=window,
        model_calls=model_calls,
        agent_runs=agent_runs,
        tool_calls=tool_calls,
        workflow_runs=workflow_runs,
        rate_per_second=rate,
        rate_per_minute=rate * 60,
        errors=errors,
        error_rate=errors / counted if counted else None,
        budget_refusals=refusals,
        errors_by_category=tuple(ErrorCount(c, s, n) for (c, s), n in
                                 sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        latency_by_model=_latencies(histograms.get(KIND_MODEL, {})),
        latency_by_agent=_latencies(histograms.get(KIND_AGENT, {})),
        tokens=Tokens(*tokens),
        cost=cost,
        tools=tuple(tool_rows),
        quality=quality,
        feedback=feedback,
        budgets=budget_rows,
        alerts_evaluated_at=evaluated_at,
        alerts=alerts,
    )


# --- output ----------------------------------------------------------------------------------

_TIME_KEYS = frozenset({"generated_at", "since", "until", "covered_since", "covered_until", "first_span",
                        "last_span", "alerts_evaluated_at"})


def to_json_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: fields in declaration order, times as ISO 8601 UTC."""
    data = dataclasses.asdict(report)
    for key in _TIME_KEYS:
        data[key] = iso(data[key], "milliseconds")
    if data["feedback"] is not None:
        for row in data["feedback"]["low_rated"]:
            row["time"] = iso(row["time"], "milliseconds")
    return data


def model_cost_text(model: ModelCost) -> str:
    """The model's cost; ``unpriced`` when no price is known, ``-`` when no call had usage to price."""
    if model.cost_usd is not None:
        return fmt.usd(model.cost_usd)
    return "unpriced" if model.unpriced_calls else "-"


def render_json(report: Report) -> str:
    return json.dumps(to_json_dict(report), indent=2) + "\n"


def _owner_table(title: str, owners: OwnerCosts) -> list[str]:
    if not owners.owners:
        return []
    rows = [[o.owner or "(none)", fmt.count(o.calls), fmt.usd(o.cost_usd), fmt.percent(o.share),
             fmt.count(o.unpriced_calls) if o.unpriced_calls else ""]
            for o in (*owners.top, *((owners.others,) if owners.others else ()))]
    return ["", f"Cost by {title}"] + fmt.table([title, "calls", "cost", "share", "unpriced calls"], rows)


def render_table(report: Report) -> str:
    r = report
    out: list[str] = []
    period_from = fmt.when(r.since if r.since is not None else r.first_span)
    period_to = fmt.when(r.until if r.until is not None else (r.generated_at if r.since is not None else r.last_span))
    out.append(f"otel-agentmon report  {r.store}")
    if r.first_span is None:
        out.append(f"period   {period_from} to {period_to} UTC: no GenAI spans stored in this period")
    else:
        out.append(f"period   {period_from} to {period_to} UTC ({fmt.duration(r.window_seconds)})")
        if r.covered_since is not None and r.since is not None and abs(r.covered_since - r.since) > 1e-6 or (
                r.covered_until is not None and r.until is not None and abs(r.covered_until - r.until) > 1e-6):
            out.append(f"         covers {fmt.when(r.covered_since)} to {fmt.when(r.covered_until)} UTC "
                       "(older spans were pruned: whole hours or days)")
    out += ["", "Requests"]
    rows = [
        ["model calls", fmt.count(r.model_calls),
         f"{fmt.rate(r.rate_per_second)}/s, {fmt.rate(r.rate_per_minute)}/min" if r.window_seconds else ""],
        ["errors", fmt.count(r.errors), f"{fmt.percent(r.error_rate, 2)} of model calls" if r.error_rate is not None else ""],
    ]
    if r.budget_refusals:
        rows.append(["refused by budget", fmt.count(r.budget_refusals), ""])
    rows += [["agent runs", fmt.count(r.agent_runs), ""], ["tool calls", fmt.count(r.tool_calls), ""],
             ["workflow runs", fmt.count(r.workflow_runs), ""]]
    out += fmt.table(["", "", ""], rows, right=[False, True, False])[1:]

    if r.errors_by_category:
        out += ["", "Errors by category"]
        out += fmt.table(["category", "severity", "count"],
                         [[e.category, e.severity, fmt.count(e.count)] for e in r.errors_by_category],
                         right=[False, False, True])

    for title, rows_ in (("Latency by model", r.latency_by_model), ("Latency by agent", r.latency_by_agent)):
        if rows_:
            out += ["", title]
            out += fmt.table([title.split()[-1], "calls" if rows_ is r.latency_by_model else "runs", "p50", "p95", "p99"],
                             [[x.name or "(unknown)", fmt.count(x.count), fmt.seconds(x.p50), fmt.seconds(x.p95),
                               fmt.seconds(x.p99)] for x in rows_])

    t = r.tokens
    out += ["", "Tokens (model calls)"]
    out += fmt.table(["", ""], [
        ["input", fmt.count(t.input)], ["  cache read", fmt.count(t.cache_read)],
        ["  cache write", fmt.count(t.cache_write)], ["output", fmt.count(t.output)],
        ["  reasoning", fmt.count(t.reasoning)],
    ])[1:]

    c = r.cost
    unpriced = f"; {fmt.count(c.unpriced_calls)} unpriced calls not in the total" if c.unpriced_calls else ""
    out += ["", f"Cost  {fmt.usd(c.total_usd)} ({fmt.count(c.priced_calls)} priced calls{unpriced})"]
    if c.by_model:
        out += fmt.table(["model", "provider", "calls", "errors", "tokens in", "tokens out", "cost", "unpriced calls"], [
            [m.model, m.provider or "", fmt.count(m.calls), fmt.count(m.errors), fmt.count(m.input_tokens),
             fmt.count(m.output_tokens), model_cost_text(m),
             fmt.count(m.unpriced_calls) if m.unpriced_calls else ""] for m in c.by_model
        ], right=[False, False, True, True, True, True, True, True])
    out += _owner_table("user", c.by_user)
    out += _owner_table("department", c.by_department)
    out += _owner_table("application", c.by_application)

    if r.tools:
        out += ["", "Tools"]
        out += fmt.table(["tool", "calls", "failures", "failure rate", "p50", "p95"], [
            [x.tool, fmt.count(x.calls), fmt.count(x.failures), fmt.percent(x.failure_rate), fmt.seconds(x.p50),
             fmt.seconds(x.p95)] for x in r.tools])

    if r.quality:
        out += ["", "Quality (drift: second half of the period minus first half)"]
        out += fmt.table(["evaluation", "evaluations", "mean", "first half", "second half", "drift"], [
            [q.evaluation, fmt.count(q.count), fmt.score(q.mean), fmt.score(q.first_half_mean),
             fmt.score(q.second_half_mean), fmt.signed(q.drift)] for q in r.quality])

    out += _feedback.render_lines(r.feedback)

    if r.budgets is not None:
        out += ["", "Budgets"]
        if r.budgets:
            out += fmt.table(["budget", "period", "spent", "limit", "used", "status"], [
                [f"{b.scope} {b.owner}", f"{b.period} {b.period_start}", fmt.usd(b.spent_usd), fmt.usd(b.limit_usd),
                 fmt.percent(b.fraction), b.status] for b in r.budgets],
                right=[False, False, True, True, True, False])
        else:
            out.append("  (the budgets file sets no budget)")

    out += ["", f"Alert conditions (deploy/prometheus/alerts.yaml) at {fmt.when(r.alerts_evaluated_at)} UTC"
                if r.alerts_evaluated_at is not None else "Alert conditions (deploy/prometheus/alerts.yaml)"]
    out += fmt.table(["alert", "holds", "value", "threshold", "where"], [
        [a.alert, "YES" if a.holds else "no" if a.holds is not None else "n/a", a.figure, a.threshold, a.scope or ""]
        for a in r.alerts], right=[False, False, False, False, False])
    return "\n".join(out) + "\n"
