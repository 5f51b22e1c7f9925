"""Cost of an inference span: custom prices first, then genai-prices, resolved once per model."""

from __future__ import annotations

import threading
from typing import Any, Mapping, NamedTuple, Sequence

from otel_agentmon.processors import _genai_prices
from otel_agentmon.processors._prices_file import CustomPrice, find_custom
from otel_agentmon.processors._rates import ModelRates
from otel_agentmon.processors._usage import InvalidUsage, TokenUsage, priced_model, provider_name, read_usage
from otel_agentmon.semconv import agentmon as am

_INF = float("inf")
_MAX_CACHED_MODELS = 4096  # bounds memory when model names are unbounded (per-tenant fine-tunes)


class CostResult(NamedTuple):
    """The outcome for one span: a status, and an amount in USD only when priced."""

    status: str
    amount: float | None = None
    reason: str | None = None

    def attributes(self) -> dict[str, Any]:
        """The span attributes for this result (no amount, and so no currency, when unpriced)."""
        if self.amount is None:
            return {am.COST_STATUS: self.status}
        return {**_PRICED_CONSTANTS, am.COST_AMOUNT: self.amount}


_PRICED_CONSTANTS = {
    am.COST_CURRENCY: am.CURRENCY_USD,
    am.COST_SOURCE: am.CostSource.LOCAL,
    am.COST_STATUS: am.CostStatus.PRICED,
}


class _Custom:
    __slots__ = ("rates",)

    def __init__(self, rates: ModelRates) -> None:
        self.rates = rates

    def cost(self, usage: TokenUsage, start_time_ns: int | None) -> float:
        return self.rates.cost(usage)


_UNPRICED = object()


class CostCalculator:
    """Prices token usage. Thread-safe; each (provider, model) is looked up once."""

    def __init__(self, custom_prices: Sequence[CustomPrice] = ()) -> None:
        self._custom = tuple(custom_prices)
        self._resolved: dict[tuple[str | None, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def custom_prices(self) -> tuple[CustomPrice, ...]:
        return self._custom

    def _resolve(self, provider: str | None, model: str) -> Any:
        key = (provider, model)
        found = self._resolved.get(key)
        if found is not None:
            return found
        custom = find_custom(self._custom, provider, model)
        if custom is not None:
            found = _Custom(custom.rates)
        else:
            found = _genai_prices.resolve(provider, model) or _UNPRICED
        with self._lock:
            if len(self._resolved) >= _MAX_CACHED_MODELS:
                self._resolved.clear()
            self._resolved[key] = found
        return found

    def price(self, provider: str | None, model: str, usage: TokenUsage, start_time_ns: int | None = None) -> CostResult:
        resolved = self._resolve(provider, model)
        if resolved is _UNPRICED:
            return CostResult(am.CostStatus.UNPRICED, reason=f"no price for {provider or '?'}/{model}")
        try:
            amount = resolved.cost(usage, start_time_ns)
        except (ArithmeticError, ValueError, OSError):  # counts or start time out of range
            return CostResult(am.CostStatus.INVALID_USAGE, reason="token counts or start time out of range")
        if not 0.0 <= amount < _INF:  # inconsistent counts (cache reads above the input total)
            return CostResult(am.CostStatus.INVALID_USAGE, reason=f"token counts give a cost of {amount!r}")
        return CostResult(am.CostStatus.PRICED, amount)

    def span_cost_attributes(self, attributes: Mapping[str, Any], start_time_ns: int | None = None) -> dict[str, Any]:
        """``span_cost(...).attributes()``, without the intermediate result on the priced path
        (this runs for every exported inference span)."""
        model = priced_model(attributes)
        if model is not None:
            try:
                usage = read_usage(attributes)
            except InvalidUsage:
                return {am.COST_STATUS: am.CostStatus.INVALID_USAGE}
            if usage is not None:
                resolved = self._resolve(provider_name(attributes), model)
                if resolved is not _UNPRICED:
                    try:
                        amount = resolved.cost(usage, start_time_ns)
                    except (ArithmeticError, ValueError, OSError):
                        amount = -1.0  # span_cost says why
                    if 0.0 <= amount < _INF:
                        return {**_PRICED_CONSTANTS, am.COST_AMOUNT: amount}
        return self.span_cost(attributes, start_time_ns).attributes()

    def span_cost(self, attributes: Mapping[str, Any], start_time_ns: int | None = None) -> CostResult:
        """The cost of an inference span from its attributes (model, provider, token usage)."""
        model = priced_model(attributes)
        if model is None:
            return CostResult(am.CostStatus.UNPRICED, reason="span names no model")
        try:
            usage = read_usage(attributes)
        except InvalidUsage as exc:
            return CostResult(am.CostStatus.INVALID_USAGE, reason=str(exc))
        if usage is None:
            return CostResult(am.CostStatus.MISSING_USAGE, reason="span carries no token counts")
        return self.price(provider_name(attributes), model, usage, start_time_ns)
