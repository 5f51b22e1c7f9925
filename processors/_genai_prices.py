"""Prices from the genai-prices library, resolved once per (provider, model).

genai-prices' own ``calc_price`` takes ~150 µs a call (model matching, Decimal arithmetic,
usage decomposition). We resolve the model once, turn its prices into float per-token rates
and do the arithmetic ourselves; tests check the result equals genai-prices' own figure.
Models whose prices use units we cannot read from a span fall back to the library's exact
calculation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from genai_prices import Usage, data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, TieredPrices

from otel_agentmon.processors._rates import ModelRates, Rate
from otel_agentmon.processors._usage import TokenUsage
from otel_agentmon.semconv import gen_ai as ga

# GenAI semconv provider names whose genai-prices id differs.
_PROVIDER_IDS: dict[str, str] = {
    ga.Provider.AZURE_OPENAI: "azure",
    "azure.ai.inference": "azure",
    ga.Provider.AWS_BEDROCK: "aws",
    ga.Provider.GCP_VERTEX_AI: "google",
    ga.Provider.GCP_GEMINI: "google",
    ga.Provider.GCP_GEN_AI: "google",
    ga.Provider.MISTRAL_AI: "mistral",
    ga.Provider.X_AI: "x-ai",
}

_PER_MILLION = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "output_reasoning_mtok": "reasoning",
}
# Cache-write prices by TTL apply to counts no span reports separately (they are 0).
_UNREPORTED_TOKEN_KEYS = frozenset({"cache_write_5m_mtok", "cache_write_1h_mtok"})


def _rate(value: Decimal | TieredPrices, per: int) -> Rate:
    if isinstance(value, TieredPrices):
        return Rate(float(value.base) / per, tuple((t.start, float(t.price) / per) for t in value.tiers))
    return Rate(float(value) / per)


def rates_from_model_price(price: ModelPrice) -> ModelRates | None:
    """Float rates for a genai-prices ModelPrice, or None when it prices units a span cannot
    carry counts for (audio or image tokens, for instance) and so needs the exact path."""
    fields: dict[str, Any] = {}
    for key, value in price.__dict__.items():
        if value is None or key.startswith("_"):
            continue
        if key in _PER_MILLION:
            fields[_PER_MILLION[key]] = _rate(value, 1_000_000)
        elif key == "requests_kcount":
            if isinstance(value, TieredPrices):
                return None
            fields["per_request"] = float(value) / 1000
        elif key.endswith("_mtok") and key not in _UNREPORTED_TOKEN_KEYS:
            return None  # per-modality token prices: genai-prices splits usage, use its path
        # other units (web searches, pages, hours): no span reports them, their count is 0.
    return ModelRates(**fields)


def provider_id(provider: str | None) -> str | None:
    if provider is None:
        return None
    provider = provider.lower()
    return _PROVIDER_IDS.get(provider, provider)


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model found in genai-prices, ready to price usage quickly."""

    info: ModelInfo
    provider_id: str
    static_rates: ModelRates | None  # set when the price does not change over time

    def cost(self, usage: TokenUsage, start_time_ns: int | None) -> float:
        if self.static_rates is not None:
            return self.static_rates.cost(usage)
        when = _timestamp(start_time_ns)
        price = self.info.get_prices(when)
        rates = _rates_for(price)
        if rates is not None:
            return rates.cost(usage)
        return exact_cost(price, usage)


def _timestamp(start_time_ns: int | None) -> datetime:
    if start_time_ns is None:
        return datetime.now(tz=timezone.utc)
    return datetime.fromtimestamp(start_time_ns / 1e9, tz=timezone.utc)


_rates_cache: dict[int, tuple[ModelPrice, ModelRates | None]] = {}
_rates_lock = threading.Lock()


def _rates_for(price: ModelPrice) -> ModelRates | None:
    cached = _rates_cache.get(id(price))
    if cached is not None and cached[0] is price:
        return cached[1]
    rates = rates_from_model_price(price)
    with _rates_lock:
        _rates_cache[id(price)] = (price, rates)
    return rates


def genai_prices_usage(usage: TokenUsage) -> Usage:
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
    )


def exact_cost(price: ModelPrice, usage: TokenUsage) -> float:
    return float(price.calc_price(genai_prices_usage(usage))["total_price"])


def resolve(provider: str | None, model: str) -> ResolvedModel | None:
    """Find (provider, model) in genai-prices; None when it has no price for it.

    A span that names its provider is priced only with that provider's prices (and the
    fallbacks genai-prices itself declares, such as Azure for OpenAI models): a local model
    served behind an OpenAI-compatible API must not get another vendor's price by name alike.
    """
    snapshot = data_snapshot.get_snapshot()
    pid = provider_id(provider)
    try:
        found_provider, info = snapshot.find_provider_model(model, None, pid, None)
    except LookupError:
        return None
    static: ModelRates | None = None
    if isinstance(info.prices, ModelPrice):
        static = rates_from_model_price(info.prices)
        if static is None:
            # exact path, but still time independent
            return ResolvedModel(info, found_provider.id, None)
    return ResolvedModel(info, found_provider.id, static)
