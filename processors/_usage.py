"""Token usage read from a span's attributes, whichever GenAI instrumentor wrote it."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

# Current name first, then the deprecated names older instrumentors (OpenLLMetry) still emit.
_INPUT_KEYS = (ga.USAGE_INPUT_TOKENS, ga.DEPRECATED_USAGE_PROMPT_TOKENS)
_OUTPUT_KEYS = (ga.USAGE_OUTPUT_TOKENS, ga.DEPRECATED_USAGE_COMPLETION_TOKENS)
_REASONING_KEYS = (ga.USAGE_REASONING_OUTPUT_TOKENS, ga.DEPRECATED_USAGE_REASONING_TOKENS)
_CACHE_WRITE_KEYS = (ga.USAGE_CACHE_WRITE_INPUT_TOKENS, ga.DEPRECATED_USAGE_CACHE_CREATION_INPUT_TOKENS)


class TokenUsage(NamedTuple):
    """Token counts in GenAI-semconv terms: input includes cache reads and writes, output
    includes reasoning tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class InvalidUsage(ValueError):
    """A span's token counts cannot be priced; the message says which and why."""


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


# Counts travel as int64 attributes; anything larger is garbage, and would overflow the float
# arithmetic of pricing (or the int-to-str limit in an error message).
MAX_TOKEN_COUNT = 2**63 - 1


def _count(name: str, value: Any) -> int:
    if type(value) is int and 0 <= value <= MAX_TOKEN_COUNT:  # the common case, first and fast
        return value
    if value is None:
        return 0
    # bool is an int subclass; a True token count is a bug upstream, not one token.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidUsage(f"{name} is {type(value).__name__}, not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidUsage(f"{name} is not a whole number: {value!r}")
        value = int(value)
    if value < 0:
        raise InvalidUsage(f"{name} is negative" if value < -MAX_TOKEN_COUNT else f"{name} is negative: {value}")
    if value > MAX_TOKEN_COUNT:
        raise InvalidUsage(f"{name} is out of range (more than 2**63 - 1)")
    return value


def read_usage(attributes: Mapping[str, Any]) -> TokenUsage | None:
    """The span's token usage, or None when it carries no token counts at all.

    Raises InvalidUsage for counts that are negative, fractional or not numbers. Counts that
    exclude cache or reasoning tokens (some instrumentors report Anthropic's raw
    ``input_tokens``, which excludes cache reads and writes) are normalized to the semconv
    meaning, where totals include them.
    """
    raw_input = _first(attributes, _INPUT_KEYS)
    raw_output = _first(attributes, _OUTPUT_KEYS)
    if raw_input is None and raw_output is None:
        return None
    input_tokens = _count("input tokens", raw_input)
    output_tokens = _count("output tokens", raw_output)
    cache_read = _count("cache read tokens", attributes.get(ga.USAGE_CACHE_READ_INPUT_TOKENS))
    cache_write = _count("cache write tokens", _first(attributes, _CACHE_WRITE_KEYS))
    reasoning = _count("reasoning tokens", _first(attributes, _REASONING_KEYS))
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if reasoning > output_tokens:
        output_tokens += reasoning
    return TokenUsage(input_tokens, output_tokens, cache_read, cache_write, reasoning)


def priced_model(attributes: Mapping[str, Any]) -> str | None:
    """The model to price: the response model (exact version) when known, else the request model."""
    model = attributes.get(ga.RESPONSE_MODEL) or attributes.get(ga.REQUEST_MODEL)
    return model if isinstance(model, str) and model else None


def provider_name(attributes: Mapping[str, Any]) -> str | None:
    provider = attributes.get(ga.PROVIDER_NAME) or attributes.get(ga.DEPRECATED_SYSTEM)
    return provider if isinstance(provider, str) and provider else None


def operation_name(attributes: Mapping[str, Any]) -> str | None:
    operation = attributes.get(ga.OPERATION_NAME)
    return operation if isinstance(operation, str) else None


def is_inference(attributes: Mapping[str, Any]) -> bool:
    """True for spans of a model call (chat, completion, embeddings), the only spans priced."""
    operation = operation_name(attributes)
    if operation is not None:
        return operation in ga.INFERENCE_OPERATIONS
    legacy = attributes.get(ga.DEPRECATED_LLM_REQUEST_TYPE)
    if legacy is not None:  # a str, when well formed (a list would not hash)
        return isinstance(legacy, str) and legacy in ga.DEPRECATED_LLM_INFERENCE_REQUEST_TYPES
    # An instrumentor that names no operation: a model call still names a provider and model.
    return provider_name(attributes) is not None and priced_model(attributes) is not None


def has_cost(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(am.COST_AMOUNT) is not None
