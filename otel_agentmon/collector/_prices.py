"""The cost derivation as OTTL: the Python CostCalculator's model lookup and arithmetic, for
the models of a chosen list, written so that the collector computes the same double.

How the Python side prices a span (processors/_cost.py, _genai_prices.py, _rates.py):

1. custom prices (AGENTMON_PRICES_FILE) first, in file order, on the lower-cased model and
   the span's provider as genai-prices names it;
2. else genai-prices: the span's provider resolved to a genai-prices provider (its id, else
   the providers' own provider-matching rules, in table order; without a provider, the
   providers' model-matching rules), then the first model of that provider, then of its
   fallback providers, whose matching rule accepts the lower-cased model name;
3. the price in effect, turned into float per-token rates and summed in a fixed order
   (``ModelRates.cost``), or, for prices with units a span cannot carry, genai-prices' own
   Decimal arithmetic rounded once to a float.

The collector repeats steps 1 and 2 with the same rules, restricted to the chosen models: a
model of the table that comes before a chosen one and may match the same names is kept as a
"known but not in this config" entry, so the collector never gives a span a price the
Python side would not. Step 3 becomes one expression per model (and per price tier): the
same float operations in the same order for rates, and for Decimal prices an exact integer
numerator divided once by a power of ten, which IEEE division rounds exactly as Python's
``float(Decimal)`` does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Sequence

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, Provider, StartDateConstraint, TieredPrices

from otel_agentmon.collector import _ottl as o
from otel_agentmon.processors._genai_prices import _PROVIDER_IDS, exact_cost, genai_prices_usage
from otel_agentmon.processors._genai_prices import provider_id as semconv_provider_id
from otel_agentmon.processors._genai_prices import rates_from_model_price
from otel_agentmon.processors._prices_file import CustomPrice
from otel_agentmon.processors._rates import ModelRates
from otel_agentmon.processors._usage import TokenUsage

# The models priced by default: the current models of the main providers' own APIs that
# teams run most, as genai-prices names them ("provider/model id"). Azure OpenAI gets the
# OpenAI models through genai-prices' fallback, plus its own entries listed here.
DEFAULT_MODELS: tuple[str, ...] = (
    # OpenAI
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-4.1",
    "openai/gpt-4.1-mini",
    "openai/gpt-4.1-nano",
    "openai/gpt-5",
    "openai/gpt-5-mini",
    "openai/gpt-5-nano",
    "openai/gpt-5.1",
    "openai/gpt-5.2",
    "openai/gpt-5.4",
    "openai/gpt-5.4-mini",
    "openai/gpt-5.5",
    "openai/o3",
    "openai/o3-mini",
    "openai/o4-mini",
    "openai/text-embedding-3-small",
    "openai/text-embedding-3-large",
    # Azure OpenAI's own price entries
    "azure/o3-mini",
    "azure/o4-mini",
    "azure/text-embedding-3-small",
    "azure/text-embedding-3-large",
    # Anthropic
    "anthropic/claude-opus-4-1",
    "anthropic/claude-opus-4-5",
    "anthropic/claude-opus-4-6",
    "anthropic/claude-opus-4-7",
    "anthropic/claude-sonnet-4-0",
    "anthropic/claude-sonnet-4-5",
    "anthropic/claude-sonnet-4-6",
    "anthropic/claude-haiku-4-5",
    "anthropic/claude-3-7-sonnet-latest",
    "anthropic/claude-3-5-haiku-latest",
    # Google (Gemini API and Vertex AI)
    "google/gemini-2.5-pro",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-flash-lite",
    "google/gemini-3-pro-preview",
    "google/gemini-3-flash-preview",
    "google/gemini-3.1-pro-preview",
    "google/gemini-3.5-flash",
    "google/gemini-embedding-001",
    "google/claude-sonnet-4-5",  # Claude on Vertex AI: Google's own price entries
    "google/claude-haiku-4-5",
    "google/claude-opus-4-5",
    # Mistral
    "mistral/mistral-large",
    "mistral/mistral-large-2512",
    "mistral/mistral-medium-3-1",
    "mistral/mistral-small-latest",
    "mistral/codestral",
    "mistral/mistral-embed",
    # xAI
    "x-ai/grok-4-0709",
    "x-ai/grok-4-1-fast-reasoning",
    "x-ai/grok-4-1-fast-non-reasoning",
    "x-ai/grok-3",
    "x-ai/grok-3-mini",
    "x-ai/grok-code-fast-1",
    # Cohere
    "cohere/command-a",
    "cohere/command-r-plus",
    "cohere/command-r",
    "cohere/embed-v4.0",
)

# Span cache keys of the cost group (token counts are int64 there).
INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING = "in", "out", "cache_read", "cache_write", "reasoning"
MODEL, PROVIDER, LOOKUP_PROVIDER, PRICES_PROVIDER, PRICE = "model", "provider", "lookup", "prices_provider", "price"
STATUS = "status"
NOT_IN_CONFIG = ""  # cache PRICE / PRICES_PROVIDER value: known to genai-prices, not priced here


class PriceTableError(ValueError):
    """A model that cannot be priced in the collector, or a model name genai-prices lacks."""


@dataclass(frozen=True)
class Segment:
    """The cost expression for spans whose total input tokens are in (above, up_to]."""

    above: int | None
    up_to: int | None
    expr: o.Expr

    def condition(self) -> str:
        terms = []
        if self.above is not None:
            terms.append(f"{o.cache(INPUT)} > {self.above}")
        if self.up_to is not None:
            terms.append(f"{o.cache(INPUT)} <= {self.up_to}")
        return " and ".join(terms)


@dataclass(frozen=True)
class PricedModel:
    key: str  # value of the cache PRICE key
    segments: tuple[Segment, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lookup:
    """One lookup statement: for spans whose prices provider is ``provider``, the first entry
    that matches sets PRICE to ``key`` (NOT_IN_CONFIG for models kept only to block)."""

    provider: str
    key: str
    condition: str


@dataclass
class PriceTable:
    models: list[PricedModel] = field(default_factory=list)
    custom: list[tuple[str, str]] = field(default_factory=list)  # (key, condition)
    lookups: list[Lookup] = field(default_factory=list)
    exact_ids: str = ""  # regex of every genai-prices provider id
    provider_rules: list[tuple[str, str]] = field(default_factory=list)  # (provider or "", condition)
    model_rules: list[tuple[str, str]] = field(default_factory=list)  # (provider or "", condition)
    notes: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)


# --- which models ---------------------------------------------------------------------------


def _providers() -> list[Provider]:
    return list(data_snapshot.get_snapshot().providers)


def _by_id(providers: Sequence[Provider], pid: str) -> Provider | None:
    return next((p for p in providers if p.id == pid), None)


def _chain(provider: Provider, providers: Sequence[Provider]) -> list[tuple[Provider, ModelInfo]]:
    """The models genai-prices tries for a span of ``provider``, in order (one fallback step)."""
    found = [(provider, model) for model in provider.models]
    for fallback_id in provider.fallback_model_providers or ():
        fallback = _by_id(providers, fallback_id)
        if fallback is not None:
            found += [(fallback, model) for model in fallback.models]
    return found


def resolve_model(spec: str, providers: Sequence[Provider]) -> tuple[str, str]:
    """``provider/model`` or ``model`` → (owner provider id, model id) in genai-prices."""
    spec = spec.strip()
    provider: Provider | None = None
    ref = spec
    if "/" in spec:
        head, rest = spec.split("/", 1)
        candidate = _by_id(providers, semconv_provider_id(head) or "")
        if candidate is not None:
            provider, ref = candidate, rest
    ref = ref.lower()
    if provider is not None:
        own = next((m for m in provider.models if m.id.lower() == ref), None)
        if own is not None:
            return provider.id, own.id
        for owner, model in _chain(provider, providers):
            if model.is_match(ref):
                return owner.id, model.id
        raise PriceTableError(f"genai-prices has no model {ref!r} for provider {provider.id!r}")
    try:
        owner, model = data_snapshot.get_snapshot().find_provider_model(ref, None, None, None)
    except LookupError:
        raise PriceTableError(
            f"genai-prices knows no model {spec!r}; name it as provider/model (for instance openai/gpt-4o)"
        ) from None
    return owner.id, model.id


# --- arithmetic -----------------------------------------------------------------------------

_VARS = (INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING)


def _thresholds(values: Iterable[object]) -> list[int]:
    found: set[int] = set()
    for value in values:
        if isinstance(value, TieredPrices):
            found.update(tier.start for tier in value.tiers)
        elif value is not None and getattr(value, "tiers", None):
            found.update(start for start, _ in value.tiers)
    return sorted(found)


def _segments_of(thresholds: list[int]) -> list[tuple[int | None, int | None]]:
    bounds: list[int | None] = [None, *thresholds]
    return [(bounds[i], thresholds[i] if i < len(thresholds) else None) for i in range(len(bounds))]


def _rates_expr(rates: ModelRates, total_input: int) -> o.Expr:
    """ModelRates.cost as an expression: the same operations in the same order."""

    def rate(value) -> float | None:
        return None if value is None else value.at(total_input)

    read, write, inp = rate(rates.cache_read), rate(rates.cache_write), rate(rates.input)
    reasoning, out = rate(rates.reasoning), rate(rates.output)
    # amount = per_request, then += each term; 0.0 + x is x exactly, so a zero start is left out
    amount: o.Expr | None = None if rates.per_request == 0.0 else o.Float(rates.per_request)
    input_leaf: o.Expr = o.Var(INPUT)
    if read is not None:
        input_leaf = o.Op("-", input_leaf, o.Var(CACHE_READ))
        amount = o.add(amount, o.Op("*", o.ToDouble(o.Var(CACHE_READ)), o.Float(read)))
    if write is not None:
        input_leaf = o.Op("-", input_leaf, o.Var(CACHE_WRITE))
        amount = o.add(amount, o.Op("*", o.ToDouble(o.Var(CACHE_WRITE)), o.Float(write)))
    if inp is not None:
        amount = o.add(amount, o.Op("*", o.ToDouble(input_leaf), o.Float(inp)))
    output_leaf: o.Expr = o.Var(OUTPUT)
    if reasoning is not None:
        output_leaf = o.Op("-", output_leaf, o.Var(REASONING))
        amount = o.add(amount, o.Op("*", o.ToDouble(o.Var(REASONING)), o.Float(reasoning)))
    if out is not None:
        amount = o.add(amount, o.Op("*", o.ToDouble(output_leaf), o.Float(out)))
    return amount if amount is not None else o.Float(0.0)


def _usage(values: dict[str, int]) -> TokenUsage:
    return TokenUsage(values[INPUT], values[OUTPUT], values[CACHE_READ], values[CACHE_WRITE], values[REASONING])


def _decimal_total(price: ModelPrice, values: dict[str, int]) -> Decimal:
    return price.calc_price(genai_prices_usage(_usage(values)))["total_price"]


def _exact_expr(price: ModelPrice, above: int | None, up_to: int | None, label: str) -> o.Expr:
    """genai-prices' Decimal total within one tier: a linear function of the token counts with
    Decimal coefficients, found by probing and checked; as an exact int64 numerator over a
    power of ten, divided once (IEEE division rounds like float(Decimal))."""
    low = 0 if above is None else above
    if up_to is not None and up_to - low < 100:
        raise PriceTableError(f"{label}: price tier ({above}, {up_to}] too narrow to express")
    base = {INPUT: low + 50, OUTPUT: 1000, CACHE_READ: 10, CACHE_WRITE: 10, REASONING: 10}
    start = _decimal_total(price, base)
    coefficients = {}
    for var in _VARS:
        bumped = dict(base)
        bumped[var] += 1
        coefficients[var] = _decimal_total(price, bumped) - start
    constant = start - sum(coefficients[v] * base[v] for v in _VARS)
    rng = random.Random(label)
    for _ in range(40):
        inp = rng.randint(low + 1, low + 2_000_000 if up_to is None else min(up_to, low + 2_000_000))
        cache_read = rng.randint(0, inp // 2)
        values = {INPUT: inp, OUTPUT: rng.randint(0, 200_000), CACHE_READ: cache_read,
                  CACHE_WRITE: rng.randint(0, inp - cache_read), REASONING: 0}
        values[REASONING] = rng.randint(0, values[OUTPUT])
        expected = _decimal_total(price, values)
        if constant + sum(coefficients[v] * values[v] for v in _VARS) != expected:
            raise PriceTableError(f"{label}: genai-prices' arithmetic for this price is not linear in token counts")
    scale = o.decimal_scale([constant, *coefficients.values()])
    if scale > 22:
        raise PriceTableError(f"{label}: prices with more than 22 decimal places cannot be divided exactly")
    numerator: o.Expr | None = None
    if constant:
        numerator = o.Int(int(constant.scaleb(scale)))
    for var in _VARS:
        factor = int(coefficients[var].scaleb(scale))
        if factor == 0:
            continue
        term = o.Var(var) if abs(factor) == 1 else o.Op("*", o.Int(abs(factor)), o.Var(var))
        if numerator is None:
            numerator = term if factor > 0 else o.Op("-", o.Int(0), term)
        else:
            numerator = o.Op("+" if factor > 0 else "-", numerator, term)
    if numerator is None:
        return o.Float(0.0)
    return o.Op("/", o.ToDouble(numerator), o.Float(float(10**scale)))


def _check(label: str, segment: Segment, reference) -> None:
    """Evaluate the expression as OTTL will, against the Python processors' own figure."""
    rng = random.Random(label + str(segment.above))
    low = 0 if segment.above is None else segment.above + 1
    high = low + 3_000_000 if segment.up_to is None else segment.up_to
    for _ in range(60):
        inp = rng.randint(low, high)
        cache_read = rng.randint(0, inp)
        values = {INPUT: inp, OUTPUT: rng.randint(0, 300_000), CACHE_READ: cache_read,
                  CACHE_WRITE: rng.randint(0, inp - cache_read), REASONING: 0}
        values[REASONING] = rng.randint(0, values[OUTPUT])
        got = o.evaluate(segment.expr, values)
        want = reference(_usage(values))
        if got != want:
            raise PriceTableError(f"{label}: generated formula gives {got!r}, the Python processors {want!r}")


def price_expressions(label: str, key: str, price: ModelPrice | None, rates: ModelRates | None,
                      notes: Sequence[str] = ()) -> PricedModel:
    if rates is not None:
        cuts = _thresholds((rates.input, rates.output, rates.cache_read, rates.cache_write, rates.reasoning))
        segments = tuple(Segment(a, b, _rates_expr(rates, 0 if a is None else a + 1)) for a, b in _segments_of(cuts))
        reference = rates.cost
    else:
        assert price is not None
        cuts = _thresholds(value for key_, value in price.__dict__.items() if not key_.startswith("_"))
        segments = tuple(Segment(a, b, _exact_expr(price, a, b, label)) for a, b in _segments_of(cuts))

        def reference(usage: TokenUsage) -> float:
            return exact_cost(price, usage)

    model = PricedModel(key, segments, tuple(notes))
    for segment in segments:
        _check(label, segment, reference)
    return model


def _price_in_effect(info: ModelInfo, label: str, now: datetime) -> tuple[ModelPrice, list[str]]:
    if isinstance(info.prices, ModelPrice):
        return info.prices, []
    notes = []
    starts = []
    for conditional in info.prices:
        constraint = conditional.constraint
        if constraint is None:
            continue
        if not isinstance(constraint, StartDateConstraint):
            raise PriceTableError(
                f"{label}: its price depends on the time of day ({type(constraint).__name__}), which this "
                f"config does not model"
            )
        starts.append(constraint.start_date)
    price = info.get_prices(now)
    active = [d for d in starts if d <= now.date()]
    if active:
        notes.append(f"{label}: price in effect since {max(active).isoformat()}")
    upcoming = [d for d in starts if d > now.date()]
    if upcoming:
        notes.append(f"{label}: price changes on {min(upcoming).isoformat()}; regenerate then")
    return price, notes


# --- the table ------------------------------------------------------------------------------


def build(models: Sequence[str], custom_prices: Sequence[CustomPrice], now: datetime | None = None) -> PriceTable:
    now = now or datetime.now(tz=timezone.utc)
    providers = _providers()
    table = PriceTable()

    # custom prices: flat per-token rates, matched before genai-prices
    for index, custom in enumerate(custom_prices):
        key = f"custom/{index + 1}"
        if custom.model is not None:
            condition = f"{o.cache(MODEL)} == {o.string(custom.model)}"
            label = custom.model
        else:
            condition = f"HasPrefix({o.cache(MODEL)}, {o.string(custom.model_prefix or '')})"
            label = f"{custom.model_prefix}*"
        if custom.provider is not None:
            condition = f"{o.cache(PROVIDER)} == {o.string(custom.provider)} and {condition}"
            label = f"{custom.provider}/{label}"
        table.custom.append((key, condition))
        table.models.append(price_expressions(f"custom price {index + 1} ({label})", key, None, custom.rates))

    chosen: dict[tuple[str, str], str] = {}
    for spec in models:
        owner, model_id = resolve_model(spec, providers)
        chosen.setdefault((owner, model_id), f"{owner}/{model_id}")
    table.chosen = list(chosen.values())

    for (owner_id, model_id), key in chosen.items():
        owner = _by_id(providers, owner_id)
        assert owner is not None
        info = next(m for m in owner.models if m.id == model_id)
        price, notes = _price_in_effect(info, key, now)
        rates = rates_from_model_price(price)
        table.models.append(price_expressions(key, key, price if rates is None else None, rates, notes))
        table.notes += notes

    # for which span providers the chosen models are reachable, and through which entries
    relevant: list[Provider] = []
    for provider in providers:
        chain = _chain(provider, providers)
        positions = [i for i, (owner, model) in enumerate(chain) if (owner.id, model.id) in chosen]
        if not positions:
            continue
        relevant.append(provider)
        for i, (owner, model) in enumerate(chain[: positions[-1] + 1]):
            key = chosen.get((owner.id, model.id))
            if key is not None:
                table.lookups.append(Lookup(provider.id, key, o.match_condition(model.match, o.cache(MODEL))))
                continue
            later = [chain[j][1] for j in positions if j > i]
            if any(o.may_overlap(model.match, other.match) for other in later):
                table.lookups.append(Lookup(provider.id, NOT_IN_CONFIG,
                                            o.match_condition(model.match, o.cache(MODEL))))
    relevant_ids = {p.id for p in relevant}

    table.exact_ids = o.any_of(p.id for p in providers)
    # a provider the rules resolve is final, so the rules after the last relevant provider still
    # count (a "litellm" name's provider part must not fall through to the model rules)
    table.provider_rules = _rules(providers, relevant_ids, "provider_match", LOOKUP_PROVIDER, keep_tail=True)
    table.model_rules = _rules(providers, relevant_ids, "model_match", MODEL, keep_tail=False)
    return table


def _rules(providers: Sequence[Provider], relevant: set[str], attribute: str, target: str,
           keep_tail: bool) -> list[tuple[str, str]]:
    """Each provider's matching rule in table order; runs of providers without chosen models
    are merged (they all mean "not priced here"), and dropped at the end unless ``keep_tail``."""
    rules: list[tuple[str, str]] = []
    for provider in providers:
        clause = getattr(provider, attribute)
        if clause is None:
            continue
        pid = provider.id if provider.id in relevant else NOT_IN_CONFIG
        condition = o.match_condition(clause, o.cache(target))
        if rules and rules[-1][0] == NOT_IN_CONFIG and pid == NOT_IN_CONFIG:
            rules[-1] = (NOT_IN_CONFIG, _merge(rules[-1][1], condition))
        else:
            rules.append((pid, condition))
    while not keep_tail and rules and rules[-1][0] == NOT_IN_CONFIG:
        rules.pop()
    return rules


def _merge(a: str, b: str) -> str:
    a = a[1:-1] if a.startswith("(") and a.endswith(")") and " or " in a and _balanced(a[1:-1]) else a
    return f"({a} or {b})"


def _balanced(text: str) -> bool:
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def semconv_provider_ids() -> dict[str, str]:
    """GenAI semconv provider names whose genai-prices id differs (the Python mapping)."""
    return dict(_PROVIDER_IDS)
