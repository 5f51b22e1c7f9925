"""The OpenTelemetry Collector configuration that derives, in OTTL, what the Python
processors derive: cost, error category and severity, and the quality sample."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Sequence

from otel_agentmon.collector import _categories, _prices
from otel_agentmon.collector import _ottl as o
from otel_agentmon.collector._prices import (
    CACHE_READ,
    STATUS,
    CACHE_WRITE,
    INPUT,
    LOOKUP_PROVIDER,
    MODEL,
    NOT_IN_CONFIG,
    OUTPUT,
    PRICE,
    PRICES_PROVIDER,
    PROVIDER,
    REASONING,
)
from otel_agentmon.collector._yaml import Comment, Commented, dump
from otel_agentmon.processors._enricher import DEFAULT_QUALITY_SAMPLE_RATE
from otel_agentmon.processors._prices_file import load_prices_file
from otel_agentmon.processors._quality import RANDOM_BITS, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

COMMAND = "otel-agentmon collector-config"
TRANSFORM = "transform/agentmon"
JAEGER = "otlp_grpc/jaeger"
SPANMETRICS = "span_metrics"
SIGNALTOMETRICS = "signal_to_metrics"
PROMETHEUS = "prometheus"

# The cost lookup's state between its groups (a map attribute, removed by the last group).
COST_STATE = _categories.TMP_PREFIX + "cost"

# Instrumentation scopes of otel-agentmon's own instrumentors and integrations: the SDK
# records agentmon.cost and agentmon.errors for their model calls itself and sends them over
# OTLP, so the collector's metrics leave those spans out (no double counting).
OWN_SCOPES = r"^otel_agentmon[.]"

# Listen addresses and the Jaeger endpoint, from the environment (with defaults).
ENV_DEFAULTS = {
    "OTLP_GRPC_LISTEN": "0.0.0.0:4317",
    "OTLP_HTTP_LISTEN": "0.0.0.0:4318",
    "JAEGER_OTLP_ENDPOINT": "localhost:14317",
    "PROMETHEUS_LISTEN": "0.0.0.0:8889",
    "HEALTH_CHECK_LISTEN": "0.0.0.0:13133",
}


def _env(name: str) -> str:
    return f"${{env:{name}:-{ENV_DEFAULTS[name]}}}"


def _inference() -> str:
    """processors/_usage.py is_inference: the operation names a model call; without an
    operation, the deprecated llm.request.type does; without either, a provider and a model."""
    op, legacy = o.attr(ga.OPERATION_NAME), o.attr(ga.DEPRECATED_LLM_REQUEST_TYPE)
    def non_empty(name: str) -> str:
        return f"(IsString({o.attr(name)}) and {o.attr(name)} != \"\")"

    provider = o.or_(non_empty(n) for n in (ga.PROVIDER_NAME, ga.DEPRECATED_SYSTEM))
    model = o.or_(non_empty(n) for n in (ga.RESPONSE_MODEL, ga.REQUEST_MODEL))
    legacy_types = o.string(o.any_of(sorted(ga.DEPRECATED_LLM_INFERENCE_REQUEST_TYPES)))
    return o.or_([
        f"(IsString({op}) and IsMatch({op}, {o.string(o.any_of(sorted(ga.INFERENCE_OPERATIONS)))}))",
        f"(not IsString({op}) and IsMatch({legacy}, {legacy_types}))",
        f"(not IsString({op}) and {legacy} == nil and {provider} and {model})",
    ])


def _quality_groups(rate: float) -> list:
    threshold = sample_threshold(rate)
    digits = RANDOM_BITS // 4
    sampled = f"set({o.attr(am.QUALITY_SAMPLED)}, true)"
    if threshold == 0:
        return [Comment("quality sample: rate 0, no trace is sampled")]
    if threshold >= 1 << RANDOM_BITS:
        statement = sampled
    else:
        random_part = f"Substring(span.trace_id.string, {32 - digits}, {digits})"
        statement = o.where(sampled, f"{random_part} < {o.string(format(threshold, f'0{digits}x'))}")
    return [
        Comment("quality sample: the rightmost 14 hex digits of the trace id below floor(rate * 2^56)"),
        {"context": "span", "statements": [statement]},
    ]


def _cost_groups(table: _prices.PriceTable) -> list:
    """The cost derivation in stages: one group reads the span (model, token counts, provider)
    and keeps what it found in a temporary map attribute; one group per provider looks the
    model up (only the span's own provider's group runs); a last group computes the amount,
    sets the status and removes the temporary attribute. Conditions test the span's cache
    first: attribute lookups and function calls are what an OTTL statement costs."""
    c, a = o.cache, o.attr
    state = a(COST_STATE)
    pending = f"{c(STATUS)} == nil"
    s: list = [Comment("the model: the response model (exact version) when known, else the request model")]
    for name, first in ((ga.RESPONSE_MODEL, True), (ga.REQUEST_MODEL, False)):
        s.append(o.where(f"set({c(MODEL)}, ToLowerCase({a(name)}))", "" if first else f"{c(MODEL)} == nil",
                         f"IsString({a(name)})", f"{a(name)} != \"\""))
    s.append(o.where(f"set({c(STATUS)}, {o.string(am.CostStatus.UNPRICED)})", f"{c(MODEL)} == nil"))
    s.append(Comment("token counts: current names first, then the deprecated ones; input includes cache reads\n"
                     "and writes, output includes reasoning"))
    sources = {
        INPUT: (ga.USAGE_INPUT_TOKENS, ga.DEPRECATED_USAGE_PROMPT_TOKENS),
        OUTPUT: (ga.USAGE_OUTPUT_TOKENS, ga.DEPRECATED_USAGE_COMPLETION_TOKENS),
        CACHE_READ: (ga.USAGE_CACHE_READ_INPUT_TOKENS,),
        CACHE_WRITE: (ga.USAGE_CACHE_WRITE_INPUT_TOKENS, ga.DEPRECATED_USAGE_CACHE_CREATION_INPUT_TOKENS),
        REASONING: (ga.USAGE_REASONING_OUTPUT_TOKENS, ga.DEPRECATED_USAGE_REASONING_TOKENS),
    }
    for key, names in sources.items():
        for i, name in enumerate(names):
            s.append(o.where(f"set({c(key)}, {a(name)})", pending, "" if i == 0 else f"{c(key)} == nil",
                             f"{a(name)} != nil"))
    s.append(o.where(f"set({c(STATUS)}, {o.string(am.CostStatus.MISSING_USAGE)})", pending,
                     f"{c(INPUT)} == nil", f"{c(OUTPUT)} == nil"))
    invalid = []
    for key in sources:
        v = c(key)
        invalid.append(f"({v} != nil and ({v} < 0 or (not IsInt({v}) and (not IsDouble({v})"
                       f" or Double(Int({v})) != {v}))))")
    s.append(Comment("counts that are not whole non-negative numbers"))
    s.append(o.where(f"set({c(STATUS)}, {o.string(am.CostStatus.INVALID_USAGE)})", pending, o.or_(invalid)))
    for key in sources:
        s.append(o.where(f"set({c(key)}, Int({c(key)}))", pending, f"{c(key)} != nil"))
        s.append(o.where(f"set({c(key)}, 0)", pending, f"{c(key)} == nil"))
    s.append(o.where(f"set({c(INPUT)}, {c(INPUT)} + {c(CACHE_READ)} + {c(CACHE_WRITE)})", pending,
                     f"{c(CACHE_READ)} + {c(CACHE_WRITE)} > {c(INPUT)}"))
    s.append(o.where(f"set({c(OUTPUT)}, {c(OUTPUT)} + {c(REASONING)})", pending, f"{c(REASONING)} > {c(OUTPUT)}"))

    s.append(Comment("the provider, as genai-prices names it"))
    for name, first in ((ga.PROVIDER_NAME, True), (ga.DEPRECATED_SYSTEM, False)):
        s.append(o.where(f"set({c(PROVIDER)}, ToLowerCase({a(name)}))", pending,
                         "" if first else f"{c(PROVIDER)} == nil", f"IsString({a(name)})", f"{a(name)} != \"\""))
    by_id: dict[str, list[str]] = {}
    for name, pid in _prices.semconv_provider_ids().items():
        by_id.setdefault(pid, []).append(name)
    for pid, names in by_id.items():
        s.append(o.where(f"set({c(PROVIDER)}, {o.string(pid)})",
                         o.or_(f"{c(PROVIDER)} == {o.string(n)}" for n in names)))

    if table.custom:
        s.append(Comment("custom prices (AGENTMON_PRICES_FILE) come first"))
        for key, condition in table.custom:
            s.append(o.where(f"set({c(PRICE)}, {o.string(key)})", pending, f"{c(PRICE)} == nil", condition))

    s.append(Comment('genai-prices\' provider: its id, else its provider-matching rules in table order;\n'
                     'provider "litellm" with a "provider/model" name takes the provider from the name;\n'
                     'without a provider, the providers\' model-matching rules; "" means a provider\n'
                     'without a model in this config'))
    litellm = f"{c(PROVIDER)} == \"litellm\""
    lookup, prices_provider = c(LOOKUP_PROVIDER), c(PRICES_PROVIDER)
    open_ = (pending, f"{c(PRICE)} == nil")
    s += [
        o.where(f"set({lookup}, {c(PROVIDER)})", *open_, f"{c(PROVIDER)} != nil"),
        o.where(f"set({lookup}, ExtractPatterns({c(MODEL)}, \"^(?P<provider>[^/]+)/\")[\"provider\"])",
                *open_, litellm, f"IsMatch({c(MODEL)}, \"^[^/]+/\")"),
        o.where(f"replace_pattern({lookup}, \"^\\\\s+|\\\\s+$\", \"\")", f"{lookup} != nil"),
        o.where(f"set({prices_provider}, {lookup})", f"{lookup} != nil",
                f"IsMatch({lookup}, {o.string(table.exact_ids)})"),
    ]
    for pid, condition in table.provider_rules:
        s.append(o.where(f"set({prices_provider}, {o.string(pid)})", f"{prices_provider} == nil",
                         f"{lookup} != nil", condition))
    s += [
        o.where(f"set({c(MODEL)}, ExtractPatterns({c(MODEL)}, \"^[^/]+/(?P<model>.*)$\")[\"model\"])",
                f"{prices_provider} != nil", litellm, f"IsMatch({c(MODEL)}, \"^[^/]+/\")"),
        o.where(f"set({prices_provider}, \"\")", *open_, f"{prices_provider} == nil", f"{c(PROVIDER)} != nil",
                f"not {litellm}"),
    ]
    for pid, condition in table.model_rules:
        s.append(o.where(f"set({prices_provider}, {o.string(pid)})", *open_, f"{prices_provider} == nil", condition))
    s += [
        o.where(f"set({a(am.COST_STATUS)}, {c(STATUS)})", f"{c(STATUS)} != nil"),
        Comment("the rest of the lookup runs in the groups below, from this"),
        o.where(f"set({state}, span.cache)", pending),
    ]
    condition = " and ".join([_categories.genai(), f"{a(am.COST_AMOUNT)} == nil", f"{a(am.COST_STATUS)} == nil",
                              _inference()])
    groups: list = [
        Comment("cost of inference spans that carry none yet: model, token counts, provider"),
        {"context": "span", "conditions": [condition], "statements": s},
        Comment('per provider: the first model of the provider (then of its fallback providers) whose\n'
                'rule matches; "" marks a model of the table kept out of this config'),
    ]
    restore = f"merge_maps(span.cache, {state}, \"upsert\")"
    by_provider: dict[str, list] = {}
    for entry in table.lookups:
        by_provider.setdefault(entry.provider, []).append(entry)
    for provider, entries in by_provider.items():
        statements: list = [restore]
        run: list[str] = []

        def flush() -> None:
            if run:
                statements.append(o.where(f"set({c(PRICE)}, \"\")", f"{c(PRICE)} == nil", o.or_(run)))
                run.clear()

        for entry in entries:
            if entry.key == NOT_IN_CONFIG:
                run.append(entry.condition)
                continue
            flush()
            statements.append(o.where(f"set({c(PRICE)}, {o.string(entry.key)})", f"{c(PRICE)} == nil",
                                      entry.condition))
        flush()
        statements.append(o.where(f"set({state}[{o.string(PRICE)}], {c(PRICE)})", f"{c(PRICE)} != nil"))
        groups.append({
            "context": "span",
            "conditions": [f"{state} != nil and {state}[{o.string(PRICES_PROVIDER)}] == {o.string(provider)}"
                           f" and {state}[{o.string(PRICE)}] == nil"],
            "statements": statements,
        })

    s = [restore, Comment("the amount: the Python processors' float operations, in their order")]
    for model in table.models:
        for note in model.notes:
            s.append(Comment(note))
        for segment in model.segments:
            s.append(o.where(f"set({a(am.COST_AMOUNT)}, {o.render(segment.expr)})",
                             f"{c(PRICE)} == {o.string(model.key)}", segment.condition()))
    priced = (f"{a(am.COST_AMOUNT)} != nil", f"{a(am.COST_STATUS)} == nil")
    s += [
        o.where(f"set({a(am.COST_CURRENCY)}, {o.string(am.CURRENCY_USD)})", *priced),
        o.where(f"set({a(am.COST_SOURCE)}, {o.string(am.CostSource.LOCAL)})", *priced),
        o.where(f"set({a(am.COST_STATUS)}, {o.string(am.CostStatus.PRICED)})", *priced),
        o.where(f"set({a(am.COST_STATUS)}, {o.string(am.CostStatus.UNPRICED)})", f"{a(am.COST_STATUS)} == nil"),
        f"delete_key(span.attributes, {o.string(COST_STATE)})",
    ]
    groups += [
        Comment("the amount and the status"),
        {"context": "span", "conditions": [f"{state} != nil"], "statements": s},
    ]
    return groups


def _metrics_connectors() -> dict:
    def attributes(names: Sequence[str], required: Sequence[str] = ()) -> list:
        return [{"key": n} if n in required else {"key": n, "optional": True} for n in names]

    cost_attributes = (ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.REQUEST_MODEL, ga.RESPONSE_MODEL, ga.SERVER_ADDRESS,
                       ga.SERVER_PORT, am.APPLICATION, am.DEPARTMENT)
    own = f"IsMatch(instrumentation_scope.name, {o.string(OWN_SCOPES)})"
    inference_op = f"IsMatch({o.attr(ga.OPERATION_NAME)}, {o.string(o.any_of(sorted(ga.INFERENCE_OPERATIONS)))})"
    buckets = [f"{round(b * 1000)}ms" for b in m.DURATION_BUCKETS]
    return {
        SPANMETRICS: Commented(
            "RED metrics of every span (calls and duration by service, span name, kind and status, plus the\n"
            "GenAI dimensions below), with the GenAI duration buckets; Prometheus names\n"
            "traces_span_metrics_calls_total and traces_span_metrics_duration_seconds_*",
            {
                "namespace": "traces.span.metrics",
                "histogram": {"unit": "s", "explicit": {"buckets": buckets}},
                "dimensions": [{"name": n} for n in (ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.REQUEST_MODEL,
                                                     am.ERROR_CATEGORY)],
                "aggregation_cardinality_limit": 10000,
                "metrics_flush_interval": "15s",
            },
        ),
        SIGNALTOMETRICS: Commented(
            "agentmon.cost and agentmon.errors from the spans, named like the SDK's metrics (Prometheus:\n"
            "agentmon_cost_USD_total, agentmon_errors_total); spans of otel-agentmon's own instrumentation\n"
            "are left out because the SDK records these metrics for them itself. Delta sums: see\n"
            "deltatocumulative.",
            {
                "error_mode": "ignore",
                "spans": [
                    {
                        "name": m.COST,
                        "description": "Cost of model calls (inference operations only), priced in USD.",
                        "unit": m.UNIT_USD,
                        "conditions": [f"IsDouble({o.attr(am.COST_AMOUNT)}) and not {own}"],
                        "attributes": attributes(cost_attributes),
                        "sum": {"value": o.attr(am.COST_AMOUNT), "monotonic": True},
                    },
                    {
                        "name": m.ERRORS,
                        "description": "Failed GenAI operations by error category and severity.",
                        "unit": m.UNIT_ERRORS,
                        "conditions": [f"{o.attr(am.ERROR_CATEGORY)} != nil and not ({own} and {inference_op})"],
                        "attributes": attributes((am.ERROR_CATEGORY, am.ERROR_SEVERITY, ga.PROVIDER_NAME,
                                                  ga.OPERATION_NAME), required=(am.ERROR_CATEGORY,)),
                        "sum": {"value": "1", "monotonic": True},
                    },
                ],
            },
        ),
    }


def _header(rate: float, table: _prices.PriceTable, prices_file: str | None, default_models: bool) -> str:
    lines = [
        "OpenTelemetry Collector configuration for otel-agentmon: the derivations of the Python processors",
        "(cost, error category and severity, quality sample) for spans from any language, RED, cost and",
        "error metrics for Prometheus, and traces for Jaeger.",
        "",
        f"GENERATED by `{COMMAND}`; do not edit. Regenerate with",
        f"  {COMMAND} --output collector-config.yaml",
        "from the same price table (genai-prices " + version("genai-prices") + "), the error rules of",
        "otel_agentmon.processors and the quality-sample rule as the Python processors.",
        f"Quality sample rate: {rate!r}. Models priced: "
        + ("the default list" if default_models else "those given with --models")
        + f" ({len(table.chosen)}); custom prices: "
        + (f"{len(table.custom)} from {prices_file}" if prices_file else "none") + ".",
        "Prices are those in effect when the file was generated; for prices that change on a date:",
    ]
    lines += [f"  {note}" for note in table.notes] or ["  (none)"]
    lines += [
        "",
        "Runs on otelcol-agentmon (deploy/collector/builder-config.yaml) or otelcol-contrib 0.155 or later.",
        "Environment (defaults):",
    ]
    lines += [f"  {k}  [{v}]" for k, v in ENV_DEFAULTS.items()]
    return "\n".join(lines)


def collector_config(
    models: Sequence[str] | None = None,
    *,
    sample_rate: float = DEFAULT_QUALITY_SAMPLE_RATE,
    prices_file: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
) -> str:
    """The collector configuration as YAML text.

    ``models``: genai-prices models to price ("provider/model" or a model name; default
    ``DEFAULT_MODELS``); ``sample_rate``: the quality sample rate (as AGENTMON_QUALITY_SAMPLE_RATE);
    ``prices_file``: custom prices (as AGENTMON_PRICES_FILE), priced before genai-prices.
    Raises ValueError (PriceTableError, PricesFileError) for what cannot be generated.
    """
    sample_threshold(sample_rate)  # validates the rate
    custom = load_prices_file(prices_file) if prices_file is not None else ()
    chosen = list(_prices.DEFAULT_MODELS if models is None else models)
    table = _prices.build(chosen, custom, now or datetime.now(tz=timezone.utc))
    transform = {
        "error_mode": "ignore",
        "trace_statements": [
            *_quality_groups(sample_rate),
            *_cost_groups(table),
            Comment("what exception events say, for the error category (kept on the span until the next group)"),
            _categories.event_group(),
            Comment("error category and severity of GenAI spans that record an error or a filtered reply"),
            _categories.span_group(),
        ],
    }
    config = {
        "extensions": {"health_check": {"endpoint": _env("HEALTH_CHECK_LISTEN")}},
        "receivers": {
            "otlp": {"protocols": {"grpc": {"endpoint": _env("OTLP_GRPC_LISTEN")},
                                   "http": {"endpoint": _env("OTLP_HTTP_LISTEN")}}},
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            TRANSFORM: transform,
            "batch": {"send_batch_size": 8192, "timeout": "200ms"},
            "deltatocumulative": Commented(
                "the connectors' sums are deltas; Prometheus needs cumulative series",
                {"max_stale": "5m", "max_streams": 10000},
            ),
        },
        "connectors": _metrics_connectors(),
        "exporters": {
            JAEGER: {"endpoint": _env("JAEGER_OTLP_ENDPOINT"), "tls": {"insecure": True}},
            PROMETHEUS: {"endpoint": _env("PROMETHEUS_LISTEN")},
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", TRANSFORM, "batch"],
                    "exporters": [JAEGER, SPANMETRICS, SIGNALTOMETRICS],
                },
                "metrics": Commented(
                    "metrics the SDKs send over OTLP, and those the connectors make from the spans",
                    {
                        "receivers": ["otlp", SPANMETRICS, SIGNALTOMETRICS],
                        "processors": ["memory_limiter", "deltatocumulative", "batch"],
                        "exporters": [PROMETHEUS],
                    },
                ),
            },
        },
    }
    header = _header(sample_rate, table, os.fspath(prices_file) if prices_file is not None else None, models is None)
    return dump(config, header)
