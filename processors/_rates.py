"""Per-token prices of one model, and the arithmetic that turns token usage into USD."""

from __future__ import annotations

from dataclasses import dataclass, field

from otel_agentmon.processors._usage import TokenUsage


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per token. ``tiers`` are (threshold, rate) pairs: once the request's total input
    tokens exceed a threshold, that rate applies to all tokens (the providers' cliff model)."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, total_input_tokens: int) -> float:
        rate = self.base
        for start, tier_rate in self.tiers:
            if total_input_tokens > start:
                rate = tier_rate
        return rate


@dataclass(frozen=True, slots=True)
class ModelRates:
    """A model's prices. A missing cache or reasoning rate means those tokens are billed in
    their parent bucket (input or output), the way providers and genai-prices bill them."""

    input: Rate | None = None
    output: Rate | None = None
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    reasoning: Rate | None = None
    per_request: float = 0.0
    _flat: tuple[float | None, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rates = (self.input, self.output, self.cache_read, self.cache_write, self.reasoning)
        if all(rate is None or not rate.tiers for rate in rates):
            object.__setattr__(self, "_flat", tuple(None if rate is None else rate.base for rate in rates))

    def cost(self, usage: TokenUsage) -> float:
        flat = self._flat
        if flat is not None:  # no tiers: plain multiplications (the common case)
            input_rate, output_rate, read_rate, write_rate, reasoning_rate = flat
            input_leaf = usage.input_tokens
            amount = self.per_request
            if read_rate is not None:
                input_leaf -= usage.cache_read_tokens
                amount += usage.cache_read_tokens * read_rate
            if write_rate is not None:
                input_leaf -= usage.cache_write_tokens
                amount += usage.cache_write_tokens * write_rate
            if input_rate is not None:
                amount += input_leaf * input_rate
            output_leaf = usage.output_tokens
            if reasoning_rate is not None:
                output_leaf -= usage.reasoning_tokens
                amount += usage.reasoning_tokens * reasoning_rate
            if output_rate is not None:
                amount += output_leaf * output_rate
            return amount
        total_input = usage.input_tokens
        input_leaf = total_input
        amount = self.per_request
        if self.cache_read is not None:
            input_leaf -= usage.cache_read_tokens
            amount += usage.cache_read_tokens * self.cache_read.at(total_input)
        if self.cache_write is not None:
            input_leaf -= usage.cache_write_tokens
            amount += usage.cache_write_tokens * self.cache_write.at(total_input)
        if self.input is not None:
            amount += input_leaf * self.input.at(total_input)
        output_leaf = usage.output_tokens
        if self.reasoning is not None:
            output_leaf -= usage.reasoning_tokens
            amount += usage.reasoning_tokens * self.reasoning.at(total_input)
        if self.output is not None:
            amount += output_leaf * self.output.at(total_input)
        return amount
