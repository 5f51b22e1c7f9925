"""``otel-agentmon optimize``: where model spend could go down, from the stored model calls.

Three checks over the raw spans of a period (default: the last 30 days), each finding with its
evidence and an estimated saving, in the period and per month at the period's rate (the
saving divided by the days the period's data covers, at least one, times 30):

1. **Small requests on an expensive model.** Calls with at most ``SMALL_INPUT_TOKENS`` input
   and ``SMALL_OUTPUT_TOKENS`` output tokens to a model for which ``CHEAPER_MODELS`` names a
   cheaper model of the same provider, when those calls would cost at most 1/``MIN_PRICE_RATIO``
   as much there. Saving: their cost minus the same calls priced at the cheaper model
   (``CostCalculator``, custom prices included).
2. **Very large prompts.** Applications whose 90th percentile of input tokens per model call
   is above ``LARGE_PROMPT_TOKENS``. Saving: the input tokens above that size, priced at the
   model's uncached input rate (what trimming every prompt to that size would save).
3. **Low cache-hit ratio.** An application's calls to one model with prompts of at least
   ``CACHE_MIN_PROMPT_TOKENS`` (the size providers start caching at), at least
   ``MIN_CALLS`` of them (prompts that size sent that often share long prefixes: system
   prompts, tool definitions, documents), whose cache reads are under ``LOW_CACHE_HIT_RATIO``
   of their input tokens. Saving: half their input tokens read from the cache instead
   (input rate minus cache-read rate), for models whose cache reads are cheaper.

Only calls whose cost was derived (status ``priced``) are considered; embeddings are not.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from otel_agentmon.processors import CostCalculator, TokenUsage
from otel_agentmon.reports import _format as fmt
from otel_agentmon.reports._time import iso
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store._reader import StoreReader

DEFAULT_PERIOD_S = 30 * 86400
MONTH_DAYS = 30

SMALL_INPUT_TOKENS = 1_000
SMALL_OUTPUT_TOKENS = 250
MIN_PRICE_RATIO = 2.0  # the model must cost at least twice as much as the cheaper one for those calls
MIN_CALLS = 20  # fewer calls are no pattern
LARGE_PROMPT_TOKENS = 8_000
CACHE_MIN_PROMPT_TOKENS = 1_024
LOW_CACHE_HIT_RATIO = 0.10
CACHE_TARGET_RATIO = 0.5

_OPENAI = (ga.Provider.OPENAI, ga.Provider.AZURE_OPENAI)
_ANTHROPIC = (ga.Provider.ANTHROPIC, ga.Provider.AWS_BEDROCK)
_GOOGLE = (ga.Provider.GCP_GEMINI, ga.Provider.GCP_VERTEX_AI, ga.Provider.GCP_GEN_AI)

# (providers, model name pattern (full match, lower case), the cheaper model of that provider;
# None: already the cheap one). First match wins.
CHEAPER_MODELS: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (_OPENAI, r"gpt-4o-mini.*", None),
    (_OPENAI, r"gpt-4o.*|chatgpt-4o.*|gpt-4-turbo.*|gpt-4", "gpt-4o-mini"),
    (_OPENAI, r"gpt-4\.1-(mini|nano).*", None),
    (_OPENAI, r"gpt-4\.1.*", "gpt-4.1-mini"),
    (_OPENAI, r"gpt-5(\.\d+)?-(mini|nano).*", None),
    (_OPENAI, r"gpt-5.*", "gpt-5-mini"),
    (_ANTHROPIC, r".*haiku.*", None),
    (_ANTHROPIC, r".*(opus|sonnet).*", "claude-haiku-4-5"),
    (_GOOGLE, r"gemini-[\d.]+-flash.*", None),
    (_GOOGLE, r"gemini-[\d.]+-pro.*", "gemini-2.5-flash"),
)
_COMPILED = tuple((providers, re.compile(pattern), cheaper) for providers, pattern, cheaper in CHEAPER_MODELS)

_CHAT_OPERATIONS = tuple(sorted(ga.INFERENCE_OPERATIONS - {ga.Operation.EMBEDDINGS}))
_CHAT_SQL = ", ".join(f"'{op}'" for op in _CHAT_OPERATIONS)
_MODEL = "COALESCE(request_model, response_model, '')"
_PRICED_CHAT = f"operation IN ({_CHAT_SQL}) AND cost_status = '{am.CostStatus.PRICED}'"

SMALL_MODEL = "small_requests_on_expensive_model"
LARGE_PROMPTS = "large_prompts"
LOW_CACHE_HITS = "low_cache_hit_ratio"


def cheaper_model(provider: str | None, model: str) -> str | None:
    """The cheaper model ``CHEAPER_MODELS`` names for this one, or None."""
    name = model.lower()
    for providers, pattern, cheaper in _COMPILED:
        if provider in providers and pattern.fullmatch(name):
            return cheaper
    return None


@dataclass(frozen=True)
class Recommendation:
    kind: str  # small_requests_on_expensive_model | large_prompts | low_cache_hit_ratio
    title: str
    application: str | None
    provider: str | None
    model: str | None
    action: str
    evidence: tuple[tuple[str, str], ...]  # (what, figure)
    saving_usd: float  # in the period
    monthly_saving_usd: float  # at the period's rate


@dataclass(frozen=True)
class Optimization:
    store: str
    since: float
    until: float
    generated_at: float
    days_of_data: float
    calls_considered: int
    recommendations: tuple[Recommendation, ...]  # largest saving first

    @property
    def monthly_saving_usd(self) -> float:
        return sum(r.monthly_saving_usd for r in self.recommendations)


class _Rates:
    """Per-token prices of a model, read off the CostCalculator at sizes below any price tier
    (small calls are priced linearly there)."""

    PROBE = 1_000

    def __init__(self, calculator: CostCalculator, provider: str | None, model: str) -> None:
        k = self.PROBE
        base = calculator.price(provider, model, TokenUsage())
        self.priced = base.amount is not None
        if not self.priced:
            return
        self.base = base.amount

        def per_token(usage: TokenUsage) -> float:
            return (calculator.price(provider, model, usage).amount - self.base) / k

        self.input = per_token(TokenUsage(input_tokens=k))
        self.cache_read = per_token(TokenUsage(input_tokens=k, cache_read_tokens=k))
        self.cache_write = per_token(TokenUsage(input_tokens=k, cache_write_tokens=k))
        self.output = per_token(TokenUsage(output_tokens=k))
        self.reasoning = per_token(TokenUsage(output_tokens=k, reasoning_tokens=k))

    def cost(self, calls: int, input_leaf: float, cache_read: float, cache_write: float, output_leaf: float,
             reasoning: float) -> float:
        return (calls * self.base + input_leaf * self.input + cache_read * self.cache_read
                + cache_write * self.cache_write + output_leaf * self.output + reasoning * self.reasoning)


def default_calculator() -> CostCalculator:
    """genai-prices plus AGENTMON_PRICES_FILE (a bad file raises ConfigurationError)."""
    from otel_agentmon._settings import AGENTMON_PRICES_FILE, Settings, build_enricher

    path = os.environ.get(AGENTMON_PRICES_FILE, "").strip() or None
    return build_enricher(Settings(prices_file=path)).cost_calculator


def build_optimization(
    store_path: str | None = None,
    since: float | None = None,
    until: float | None = None,
    *,
    now: float | None = None,
    calculator: CostCalculator | None = None,
) -> Optimization:
    """Recommendations from the model calls that started in [since, until) (default: the last 30 days)."""
    now = time.time() if now is None else now
    until = now if until is None else until
    since = until - DEFAULT_PERIOD_S if since is None else since
    calculator = calculator or default_calculator()
    rates: dict[tuple[str | None, str], _Rates] = {}

    def rates_of(provider: str | None, model: str) -> _Rates:
        key = (provider, model)
        if key not in rates:
            rates[key] = _Rates(calculator, provider, model)
        return rates[key]

    with StoreReader(store_path) as reader:
        since = max(since, reader.pruned_before)
        groups = _scan(reader, since, until)
        calls = sum(g.calls for g in groups)
        days = 1.0
        if calls:
            first = min(g.first_ns for g in groups)
            last = max(g.last_ns for g in groups)
            days = max(1.0, (last - first) / 1e9 / 86400)
        scale = MONTH_DAYS / days
        found = _small_requests(groups, rates_of, scale)
        found += _large_prompts(reader, since, until, groups, rates_of, scale)
        found += _low_cache_hits(groups, rates_of, scale)
        path = reader.path
    found.sort(key=lambda r: (-r.monthly_saving_usd, r.kind, r.application or "", r.model or ""))
    return Optimization(path, since, until, now, days, int(calls), tuple(found))


@dataclass
class _Group:
    """What the three checks need of the priced chat calls of one (application, provider, model)."""

    application: str | None
    provider: str | None
    model: str
    calls: int
    first_ns: int
    last_ns: int
    input_tokens: int
    # calls with at most SMALL_INPUT_TOKENS in and SMALL_OUTPUT_TOKENS out
    small_calls: int
    small_cost: float
    small_input: int
    small_output: int
    small_leaves: tuple[int, int, int, int, int]  # uncached input, cache read, cache write, non-reasoning output, reasoning
    # calls with more than LARGE_PROMPT_TOKENS in
    large_calls: int
    large_excess: int  # their input tokens beyond LARGE_PROMPT_TOKENS
    # calls with at least CACHE_MIN_PROMPT_TOKENS in
    cacheable_calls: int
    cacheable_input: int
    cacheable_cached: int


def _scan(reader: StoreReader, since: float, until: float) -> list[_Group]:
    """One pass over the period's priced chat calls."""
    small = "(COALESCE(input_tokens, 0) <= :small_input AND COALESCE(output_tokens, 0) <= :small_output)"
    large = "(input_tokens > :large)"
    cacheable = "(input_tokens >= :cacheable)"
    columns = (
        "application", "provider", _MODEL, "COUNT(*)", "MIN(start_ns)", "MAX(start_ns)",
        "SUM(COALESCE(input_tokens, 0))",
        f"SUM({small})", f"SUM(CASE WHEN {small} THEN cost_usd ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(input_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(output_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(input_tokens, 0) - COALESCE(cache_read_tokens, 0) "
        "- COALESCE(cache_write_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(cache_read_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(cache_write_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(output_tokens, 0) - COALESCE(reasoning_tokens, 0) ELSE 0 END)",
        f"SUM(CASE WHEN {small} THEN COALESCE(reasoning_tokens, 0) ELSE 0 END)",
        f"SUM({large})", f"SUM(CASE WHEN {large} THEN input_tokens - :large ELSE 0 END)",
        f"SUM({cacheable})", f"SUM(CASE WHEN {cacheable} THEN input_tokens ELSE 0 END)",
        f"SUM(CASE WHEN {cacheable} THEN COALESCE(cache_read_tokens, 0) ELSE 0 END)",
    )
    parameters = {"small_input": SMALL_INPUT_TOKENS, "small_output": SMALL_OUTPUT_TOKENS, "large": LARGE_PROMPT_TOKENS,
                  "cacheable": CACHE_MIN_PROMPT_TOKENS, "since": int(round(since * 1e9)), "until": int(round(until * 1e9))}
    # A period of weeks covers most rows: a full scan beats the time index there.
    sql = (f"SELECT {', '.join(columns)} FROM spans WHERE +start_ns >= :since AND +start_ns < :until "
           f"AND {_PRICED_CHAT} GROUP BY application, provider, {_MODEL}")
    rows = reader.query(sql, parameters)
    groups = []
    for row in rows:
        (application, provider, model, calls, first, last, input_tokens, small_calls, small_cost, small_input,
         small_output, leaf_in, leaf_cr, leaf_cw, leaf_out, leaf_rs, large_calls, large_excess, cacheable_calls,
         cacheable_input, cacheable_cached) = row
        groups.append(_Group(application, provider, model, calls, first, last, input_tokens, small_calls or 0,
                             small_cost or 0.0, small_input or 0, small_output or 0,
                             (leaf_in or 0, leaf_cr or 0, leaf_cw or 0, leaf_out or 0, leaf_rs or 0),
                             large_calls or 0, large_excess or 0, cacheable_calls or 0, cacheable_input or 0,
                             cacheable_cached or 0))
    return groups


def _owner(value: str | None) -> str:
    return value or "(none)"


def _small_requests(groups: list[_Group], rates_of: Any, scale: float) -> list[Recommendation]:
    totals: dict[tuple[str | None, str], int] = {}
    for g in groups:
        totals[(g.provider, g.model)] = totals.get((g.provider, g.model), 0) + g.calls
    by_model: dict[tuple[str | None, str], dict[str, Any]] = {}
    for g in groups:
        if not g.small_calls:
            continue
        cheaper = cheaper_model(g.provider, g.model)
        if cheaper is None:
            continue
        target = rates_of(g.provider, cheaper)
        if not target.priced:
            continue
        repriced = target.cost(g.small_calls, *g.small_leaves)
        entry = by_model.setdefault((g.provider, g.model), {"cheaper": cheaper, "calls": 0, "cost": 0.0,
                                                            "repriced": 0.0, "input": 0, "output": 0, "apps": {}})
        entry["calls"] += g.small_calls
        entry["cost"] += g.small_cost
        entry["repriced"] += repriced
        entry["input"] += g.small_input
        entry["output"] += g.small_output
        entry["apps"][g.application] = entry["apps"].get(g.application, 0) + g.small_calls
    found = []
    for (provider, model), e in by_model.items():
        saving = e["cost"] - e["repriced"]
        if e["calls"] < MIN_CALLS or saving <= 0 or e["cost"] < MIN_PRICE_RATIO * e["repriced"]:
            continue
        apps = sorted(e["apps"].items(), key=lambda kv: (-kv[1], kv[0] or ""))
        total = totals[(provider, model)]
        evidence = (
            ("small calls", f"{fmt.exact(e['calls'])} of {fmt.exact(total)} calls to {model} "
                            f"(<= {fmt.exact(SMALL_INPUT_TOKENS)} tokens in, <= {fmt.exact(SMALL_OUTPUT_TOKENS)} out)"),
            ("average size", f"{e['input'] / e['calls']:.0f} tokens in, {e['output'] / e['calls']:.0f} out"),
            ("their cost", f"{fmt.usd(e['cost'])} on {model}, {fmt.usd(e['repriced'])} on {e['cheaper']}"),
            ("applications", ", ".join(f"{_owner(a)} ({fmt.exact(n)})" for a, n in apps[:5])),
        )
        found.append(Recommendation(
            SMALL_MODEL, f"Small requests on {model}", apps[0][0] if len(apps) == 1 else None, provider, model,
            f"route requests this small to {e['cheaper']} (or try it on them first)", evidence, saving,
            saving * scale))
    return found


def _p90(reader: StoreReader, since: float, until: float, applications: list[str | None]) -> dict[str | None, int]:
    """The nearest-rank 90th percentile of input tokens per model call, for these applications."""
    sizes: dict[str | None, list[tuple[int, int]]] = {}
    named = [a for a in applications if a is not None]
    conditions = []
    if named:
        conditions.append(f"application IN ({', '.join('?' * len(named))})")
    if None in applications:
        conditions.append("application IS NULL")
    for application, size, n in reader.raw_spans(
            ("application", "COALESCE(input_tokens, 0)", "COUNT(*)"), since, until,
            f"{_PRICED_CHAT} AND ({' OR '.join(conditions)})", named,
            group_by="application, COALESCE(input_tokens, 0)"):
        sizes.setdefault(application, []).append((size, n))
    out = {}
    for application, pairs in sizes.items():
        pairs.sort()
        rank = max(1, math.ceil(0.9 * sum(n for _, n in pairs)))
        seen = 0
        for size, n in pairs:
            seen += n
            if seen >= rank:
                out[application] = size
                break
    return out


def _large_prompts(reader: StoreReader, since: float, until: float, groups: list[_Group], rates_of: Any,
                   scale: float) -> list[Recommendation]:
    apps: dict[str | None, dict[str, Any]] = {}
    for g in groups:
        entry = apps.setdefault(g.application, {"calls": 0, "input": 0, "over": 0, "excess": 0, "saving": 0.0,
                                                "models": {}})
        entry["calls"] += g.calls
        entry["input"] += g.input_tokens
        if g.large_calls:
            rates = rates_of(g.provider, g.model)
            entry["over"] += g.large_calls
            entry["excess"] += g.large_excess
            if rates.priced:
                entry["saving"] += g.large_excess * rates.input
            entry["models"][g.model] = entry["models"].get(g.model, 0) + g.large_calls
    # The 90th percentile is above the threshold when fewer than 90% of the calls are at or below it.
    flagged = [a for a, e in apps.items() if e["calls"] >= MIN_CALLS and e["saving"] > 0
               and e["calls"] - e["over"] < math.ceil(0.9 * e["calls"])]
    if not flagged:
        return []
    p90 = _p90(reader, since, until, flagged)
    found = []
    for application in flagged:
        e = apps[application]
        saving = e["saving"]
        evidence = (
            ("prompt size", f"average {fmt.exact(round(e['input'] / e['calls']))} tokens in, "
                            f"p90 {fmt.exact(p90.get(application, 0))} over {fmt.exact(e['calls'])} calls"),
            ("above the threshold", f"{fmt.exact(e['over'])} calls carry {fmt.exact(e['excess'])} input tokens beyond "
                                    f"{fmt.exact(LARGE_PROMPT_TOKENS)}"),
            ("models", ", ".join(f"{m} ({fmt.exact(n)})" for m, n in
                                 sorted(e["models"].items(), key=lambda kv: (-kv[1], kv[0]))[:5])),
        )
        found.append(Recommendation(
            LARGE_PROMPTS, f"Very large prompts in {_owner(application)}", application, None, None,
            f"trim prompts to about {fmt.exact(LARGE_PROMPT_TOKENS)} tokens: retrieve fewer or shorter documents, "
            "summarize history, drop unused tool definitions", evidence, saving, saving * scale))
    return found


def _low_cache_hits(groups: list[_Group], rates_of: Any, scale: float) -> list[Recommendation]:
    found = []
    for g in groups:
        n, tokens, cached = g.cacheable_calls, g.cacheable_input, g.cacheable_cached
        if n < MIN_CALLS or not tokens:
            continue
        ratio = cached / tokens
        if ratio >= LOW_CACHE_HIT_RATIO:
            continue
        rates = rates_of(g.provider, g.model)
        if not rates.priced or rates.cache_read >= rates.input:
            continue
        extra = max(0.0, CACHE_TARGET_RATIO * tokens - cached)
        saving = extra * (rates.input - rates.cache_read)
        if saving <= 0:
            continue
        evidence = (
            ("large prompts", f"{fmt.exact(n)} calls to {g.model} with >= {fmt.exact(CACHE_MIN_PROMPT_TOKENS)} "
                              f"input tokens, {fmt.exact(round(tokens / n))} on average"),
            ("cache hits", f"{fmt.percent(ratio)} of their {fmt.exact(tokens)} input tokens read from the cache"),
            ("cache-read price", f"{fmt.usd(rates.cache_read * 1e6)} per million tokens vs "
                                 f"{fmt.usd(rates.input * 1e6)} uncached"),
        )
        found.append(Recommendation(
            LOW_CACHE_HITS, f"Low cache-hit ratio: {_owner(g.application)} on {g.model}", g.application, g.provider,
            g.model, "put the stable part of the prompt (system prompt, tool definitions, documents) first and "
            "unchanged between calls; on Anthropic mark it with cache_control", evidence, saving, saving * scale))
    return found


# --- output ----------------------------------------------------------------------------------

def to_json_dict(optimization: Optimization) -> dict[str, Any]:
    data = dataclasses.asdict(optimization)
    for key in ("since", "until", "generated_at"):
        data[key] = iso(data[key])
    data["monthly_saving_usd"] = optimization.monthly_saving_usd
    for recommendation in data["recommendations"]:
        recommendation["evidence"] = {what: figure for what, figure in recommendation["evidence"]}
    return data


def render_json(optimization: Optimization) -> str:
    return json.dumps(to_json_dict(optimization), indent=2) + "\n"


def render_table(optimization: Optimization) -> str:
    o = optimization
    out = [f"otel-agentmon optimize  {o.store}",
           f"model calls from {fmt.when(o.since)} to {fmt.when(o.until)} UTC: {fmt.exact(o.calls_considered)} priced "
           f"calls over {o.days_of_data:.1f} days", ""]
    if not o.recommendations:
        out.append("  no recommendation: no small requests on expensive models, no very large prompts, "
                   "no low cache-hit ratios")
        return "\n".join(out) + "\n"
    count = len(o.recommendations)
    out.append(f"  {count} recommendation{'s' if count > 1 else ''}, estimated saving "
               f"{fmt.usd(o.monthly_saving_usd)} a month")
    for i, r in enumerate(o.recommendations, 1):
        out += ["", f"{i}. {r.title}: save about {fmt.usd(r.monthly_saving_usd)} a month "
                    f"({fmt.usd(r.saving_usd)} in the period)"]
        width = max(len(what) for what, _ in r.evidence)
        out += [f"   {what.ljust(width)}  {figure}" for what, figure in r.evidence]
        out.append(f"   {'action'.ljust(width)}  {r.action}")
    return "\n".join(out) + "\n"
