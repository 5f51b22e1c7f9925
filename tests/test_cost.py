"""Cost derivation: equal to genai-prices' own figure, custom prices, and the statuses."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from genai_prices import Usage, calc_price, data_snapshot

from otel_agentmon.processors import CostCalculator, TokenUsage, parse_prices
from otel_agentmon.processors._genai_prices import resolve
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

USAGES = [
    TokenUsage(1000, 500),
    TokenUsage(1000, 500, cache_read_tokens=200, cache_write_tokens=100, reasoning_tokens=50),
    TokenUsage(300_000, 2000, cache_read_tokens=100_000, reasoning_tokens=1000),  # crosses 200k tiers
    TokenUsage(12, 0),
]


def _library_figure(provider: str | None, model: str, usage: TokenUsage) -> float:
    result = calc_price(
        Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_reasoning_tokens=usage.reasoning_tokens,
        ),
        model,
        provider_id=provider,
    )
    return float(result.total_price)


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "google", "mistral", "deepseek", "x-ai"])
def test_every_model_of_a_provider_costs_what_genai_prices_says(provider_id):
    snapshot = data_snapshot.get_snapshot()
    provider = next(p for p in snapshot.providers if p.id == provider_id)
    calculator = CostCalculator()
    checked = 0
    for model in provider.models:
        if resolve(provider_id, model.id) is None:
            continue  # ids genai-prices itself does not match by name
        for usage in USAGES:
            ours = calculator.price(provider_id, model.id, usage).amount
            theirs = _library_figure(provider_id, model.id, usage)
            assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-15), (model.id, usage, ours, theirs)
            checked += 1
    assert checked >= 20


def test_semconv_provider_names_map_to_genai_prices_providers():
    calculator = CostCalculator()
    usage = TokenUsage(1000, 1000)
    assert calculator.price(ga.Provider.AZURE_OPENAI, "gpt-4o", usage).status == am.CostStatus.PRICED
    assert calculator.price(ga.Provider.GCP_VERTEX_AI, "gemini-2.5-pro", usage).status == am.CostStatus.PRICED
    assert calculator.price(ga.Provider.AWS_BEDROCK, "anthropic.claude-sonnet-4-20250514-v1:0", usage).status == am.CostStatus.PRICED


def test_span_cost_reads_semconv_attributes_and_matches_library():
    attributes = {
        ga.OPERATION_NAME: "chat",
        ga.PROVIDER_NAME: "openai",
        ga.REQUEST_MODEL: "gpt-4o",
        ga.RESPONSE_MODEL: "gpt-4o-2024-08-06",
        ga.USAGE_INPUT_TOKENS: 1200,
        ga.USAGE_OUTPUT_TOKENS: 300,
        ga.USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        ga.USAGE_REASONING_OUTPUT_TOKENS: 0,
    }
    result = CostCalculator().span_cost(attributes)
    assert result.status == am.CostStatus.PRICED
    assert math.isclose(result.amount, _library_figure("openai", "gpt-4o-2024-08-06", TokenUsage(1200, 300, 1000)))
    assert result.attributes() == {
        am.COST_AMOUNT: result.amount,
        am.COST_CURRENCY: "USD",
        am.COST_SOURCE: "local",
        am.COST_STATUS: "priced",
    }


def test_deprecated_usage_names_from_older_instrumentors_are_read():
    attributes = {
        ga.DEPRECATED_SYSTEM: "openai",
        ga.REQUEST_MODEL: "gpt-4o-mini",
        ga.DEPRECATED_USAGE_PROMPT_TOKENS: 100,
        ga.DEPRECATED_USAGE_COMPLETION_TOKENS: 20,
    }
    result = CostCalculator().span_cost(attributes)
    assert math.isclose(result.amount, _library_figure("openai", "gpt-4o-mini", TokenUsage(100, 20)))


def test_anthropic_raw_input_tokens_excluding_cache_are_normalized():
    # Anthropic reports input_tokens without cache reads/writes; semconv totals include them.
    raw = {
        ga.PROVIDER_NAME: "anthropic",
        ga.REQUEST_MODEL: "claude-sonnet-4-5",
        ga.USAGE_INPUT_TOKENS: 20,
        ga.USAGE_CACHE_READ_INPUT_TOKENS: 3000,
        ga.USAGE_CACHE_WRITE_INPUT_TOKENS: 500,
        ga.USAGE_OUTPUT_TOKENS: 100,
    }
    expected = _library_figure("anthropic", "claude-sonnet-4-5", TokenUsage(3520, 100, 3000, 500))
    assert math.isclose(CostCalculator().span_cost(raw).amount, expected)
    # the older attribute name for cache writes is read too
    older = {**raw}
    older[ga.DEPRECATED_USAGE_CACHE_CREATION_INPUT_TOKENS] = older.pop(ga.USAGE_CACHE_WRITE_INPUT_TOKENS)
    assert math.isclose(CostCalculator().span_cost(older).amount, expected)


def test_unknown_model_is_unpriced_never_zero():
    result = CostCalculator().span_cost(
        {ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "acme-internal-7b", ga.USAGE_INPUT_TOKENS: 10, ga.USAGE_OUTPUT_TOKENS: 5}
    )
    assert result.status == am.CostStatus.UNPRICED
    assert result.amount is None
    assert result.attributes() == {am.COST_STATUS: "unpriced"}


def test_provider_named_limits_the_lookup_to_that_provider():
    # A model served by an unknown self-hosted provider is not priced by a vendor's name alike.
    result = CostCalculator().price("acme-gateway", "gpt-4o", TokenUsage(10, 10))
    assert result.status == am.CostStatus.UNPRICED


@pytest.mark.parametrize(
    "usage_attributes, status",
    [
        ({}, am.CostStatus.MISSING_USAGE),
        ({ga.USAGE_INPUT_TOKENS: -5, ga.USAGE_OUTPUT_TOKENS: 3}, am.CostStatus.INVALID_USAGE),
        ({ga.USAGE_INPUT_TOKENS: "12", ga.USAGE_OUTPUT_TOKENS: 3}, am.CostStatus.INVALID_USAGE),
        ({ga.USAGE_INPUT_TOKENS: 1.5, ga.USAGE_OUTPUT_TOKENS: 3}, am.CostStatus.INVALID_USAGE),
        ({ga.USAGE_INPUT_TOKENS: True, ga.USAGE_OUTPUT_TOKENS: 3}, am.CostStatus.INVALID_USAGE),
        ({ga.USAGE_INPUT_TOKENS: 10, ga.USAGE_OUTPUT_TOKENS: 3, ga.USAGE_CACHE_READ_INPUT_TOKENS: -1}, am.CostStatus.INVALID_USAGE),
    ],
)
def test_bad_or_missing_token_counts_get_a_status_and_no_amount(usage_attributes, status):
    attributes = {ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "gpt-4o", **usage_attributes}
    result = CostCalculator().span_cost(attributes)
    assert result.status == status
    assert result.amount is None
    assert result.reason


def test_embeddings_with_input_tokens_only_are_priced():
    attributes = {ga.PROVIDER_NAME: "openai", ga.REQUEST_MODEL: "text-embedding-3-small", ga.USAGE_INPUT_TOKENS: 1000}
    result = CostCalculator().span_cost(attributes)
    assert math.isclose(result.amount, _library_figure("openai", "text-embedding-3-small", TokenUsage(1000, 0)))


def test_custom_prices_win_over_genai_prices_and_price_every_token_type():
    custom = parse_prices(
        """
prices:
  - model: ft:gpt-4o-mini:acme::abc
    provider: openai
    input_mtok: 0.30
    output_mtok: 1.20
    cache_read_mtok: 0.15
    cache_write_mtok: 0.40
    output_reasoning_mtok: 2.0
  - model_prefix: acme-llama-
    input_mtok: 0
    output_mtok: 0
  - model: gpt-4o
    input_mtok: 1
    output_mtok: 1
"""
    )
    calculator = CostCalculator(custom)
    usage = TokenUsage(1_000_000, 1_000_000, cache_read_tokens=400_000, cache_write_tokens=100_000, reasoning_tokens=250_000)
    amount = calculator.price("openai", "FT:gpt-4o-mini:acme::abc", usage).amount
    expected = 0.5 * 0.30 + 0.4 * 0.15 + 0.1 * 0.40 + 0.75 * 1.20 + 0.25 * 2.0
    assert math.isclose(amount, expected)
    # A custom zero is an explicit, priced zero (self-hosted), not "unpriced".
    free = calculator.price("vllm", "acme-llama-3-70b", TokenUsage(100, 100))
    assert free.status == am.CostStatus.PRICED and free.amount == 0.0
    # Custom entries override the library for known models too.
    assert math.isclose(calculator.price("openai", "gpt-4o", TokenUsage(1_000_000, 0)).amount, 1.0)
    # A provider-restricted entry does not apply to other providers.
    assert calculator.price("anthropic", "ft:gpt-4o-mini:acme::abc", usage).status == am.CostStatus.UNPRICED


def test_custom_prices_without_cache_rates_bill_cache_tokens_as_input():
    custom = parse_prices("prices:\n  - model: m\n    input_mtok: 2\n    output_mtok: 4\n")
    usage = TokenUsage(1_000_000, 1_000_000, cache_read_tokens=500_000, reasoning_tokens=500_000)
    assert math.isclose(CostCalculator(custom).price(None, "m", usage).amount, 6.0)


def _time_dependent_models():
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if isinstance(model.prices, list) and resolve(provider.id, model.id) is not None:
                yield provider.id, model


def test_time_dependent_prices_use_the_span_start_time():
    # Price changes (new list prices from a date, off-peak discounts by time of day): the
    # figure for a span equals genai-prices' for the span's start time.
    models = list(_time_dependent_models())
    assert models, "genai-prices ships time-dependent prices; the table changed shape"
    calculator = CostCalculator()
    usage = TokenUsage(1000, 1000)
    for provider_id, model in models[:25]:
        for when in (datetime(2024, 3, 1, 3, tzinfo=timezone.utc), datetime(2026, 1, 5, 17, 30, tzinfo=timezone.utc)):
            ours = calculator.price(provider_id, model.id, usage, int(when.timestamp() * 1e9)).amount
            theirs = float(
                calc_price(Usage(input_tokens=1000, output_tokens=1000), model.id, provider_id=provider_id,
                           genai_request_timestamp=when).total_price
            )
            assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-15), (provider_id, model.id, when)
