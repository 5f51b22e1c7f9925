"""Custom prices for private or fine-tuned models, from a YAML file (AGENTMON_PRICES_FILE).

    # USD per million tokens
    prices:
      - model: ft:gpt-4o-mini-2024-07-18:acme::b8Xz   # exact model name (case-insensitive)
        provider: openai                              # optional: only for this provider
        input_mtok: 0.30
        output_mtok: 1.20
        cache_read_mtok: 0.15                         # optional: else billed as input
        cache_write_mtok: 0.375                       # optional: else billed as input
        output_reasoning_mtok: 1.20                   # optional: else billed as output
      - model_prefix: acme-llama-                     # every model starting with this
        input_mtok: 0
        output_mtok: 0

Errors name the file and line, and are raised when the file is loaded (at start).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import yaml

from otel_agentmon.processors._yaml_nodes import compose, scalar
from otel_agentmon.processors._yaml_nodes import where as _where
from otel_agentmon.processors._genai_prices import provider_id
from otel_agentmon.processors._rates import ModelRates, Rate

_RATE_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "output_reasoning_mtok": "reasoning",
}
_REQUIRED_RATES = ("input_mtok", "output_mtok")
_MATCH_KEYS = ("model", "model_prefix")
_ENTRY_KEYS = frozenset(_RATE_KEYS) | frozenset(_MATCH_KEYS) | {"provider"}


class PricesFileError(ValueError):
    """A prices file that cannot be used; the message starts with ``path:line:``."""


@dataclass(frozen=True, slots=True)
class CustomPrice:
    rates: ModelRates
    model: str | None = None  # lower-cased exact name
    model_prefix: str | None = None  # lower-cased prefix
    provider: str | None = None  # genai-prices provider id, or None for any

    def matches(self, provider: str | None, model: str) -> bool:
        if self.provider is not None and provider_id(provider) != self.provider:
            return False
        if self.model is not None:
            return model == self.model
        return self.model_prefix is not None and model.startswith(self.model_prefix)


def _scalar(node: yaml.Node, path: str, what: str) -> object:
    return scalar(node, path, what, PricesFileError)


def _price(node: yaml.Node, path: str, key: str) -> float:
    value = _scalar(node, path, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PricesFileError(f"{_where(path, node)}: {key} must be a number (USD per million tokens), got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise PricesFileError(f"{_where(path, node)}: {key} must be a finite, non-negative number, got {value!r}")
    return float(value)


def _entry(node: yaml.Node, path: str) -> CustomPrice:
    if not isinstance(node, yaml.MappingNode):
        raise PricesFileError(f"{_where(path, node)}: each price must be a mapping with model and prices")
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, path, "a key")
        if key not in _ENTRY_KEYS:
            known = ", ".join(sorted(_ENTRY_KEYS))
            raise PricesFileError(f"{_where(path, key_node)}: unknown key {key!r} (known: {known})")
        if key in fields:
            raise PricesFileError(f"{_where(path, key_node)}: {key} given twice")
        fields[key] = value_node
    matchers = [k for k in _MATCH_KEYS if k in fields]
    if len(matchers) != 1:
        raise PricesFileError(f"{_where(path, node)}: give exactly one of model or model_prefix")
    missing = [k for k in _REQUIRED_RATES if k not in fields]
    if missing:
        raise PricesFileError(f"{_where(path, node)}: missing {', '.join(missing)}")
    match_value = _scalar(fields[matchers[0]], path, matchers[0])
    if not isinstance(match_value, str) or not match_value:
        raise PricesFileError(f"{_where(path, fields[matchers[0]])}: {matchers[0]} must be a non-empty string")
    provider = None
    if "provider" in fields:
        provider_value = _scalar(fields["provider"], path, "provider")
        if not isinstance(provider_value, str) or not provider_value:
            raise PricesFileError(f"{_where(path, fields['provider'])}: provider must be a non-empty string")
        provider = provider_id(provider_value)
    rates = {
        _RATE_KEYS[key]: Rate(_price(value, path, key) / 1_000_000)
        for key, value in fields.items()
        if key in _RATE_KEYS
    }
    return CustomPrice(
        rates=ModelRates(**rates),
        model=match_value.lower() if matchers[0] == "model" else None,
        model_prefix=match_value.lower() if matchers[0] == "model_prefix" else None,
        provider=provider,
    )


def parse_prices(text: str, path: str = "<prices>") -> tuple[CustomPrice, ...]:
    """Parse the YAML text of a prices file; raises PricesFileError naming path and line."""
    root = compose(text, path, PricesFileError)
    if root is None:
        return ()
    if not isinstance(root, yaml.MappingNode):
        raise PricesFileError(f"{_where(path, root)}: expected a mapping with a 'prices' list")
    entries: list[CustomPrice] = []
    for key_node, value_node in root.value:
        key = _scalar(key_node, path, "a key")
        if key != "prices":
            raise PricesFileError(f"{_where(path, key_node)}: unknown key {key!r} (expected 'prices')")
        if isinstance(value_node, yaml.ScalarNode) and _scalar(value_node, path, "prices") is None:
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise PricesFileError(f"{_where(path, value_node)}: 'prices' must be a list")
        entries.extend(_entry(item, path) for item in value_node.value)
    return tuple(entries)


def load_prices_file(path: str | os.PathLike[str]) -> tuple[CustomPrice, ...]:
    """Read and validate a prices file; raises PricesFileError (file, line, what is wrong)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PricesFileError(f"{path}: cannot read prices file: {exc.strerror or exc}") from None
    return parse_prices(text, path)


def find_custom(prices: Sequence[CustomPrice], provider: str | None, model: str) -> CustomPrice | None:
    model = model.lower()
    for price in prices:
        if price.matches(provider, model):
            return price
    return None
