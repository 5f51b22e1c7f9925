"""Small readers shared by the SDK instrumentors: request parameters and SDK objects."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from otel_agentmon.semconv import gen_ai as ga


def is_given(value: Any) -> bool:
    """False for None and for the SDKs' NotGiven / Omit sentinels."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def request_attributes(kwargs: Mapping[str, Any], names: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Request parameters present in ``kwargs`` as span attributes, for (parameter, attribute)."""
    attributes: dict[str, Any] = {}
    for parameter, attribute in names:
        value = kwargs.get(parameter)
        if value is None or not is_given(value):
            continue
        if isinstance(value, (bool, int, float, str)):
            attributes[attribute] = value
        elif attribute == ga.REQUEST_STOP_SEQUENCES and isinstance(value, (list, tuple)):
            attributes[attribute] = tuple(str(v) for v in value)
    return attributes


def stop_sequences(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and value:
        return tuple(str(v) for v in value)
    return None


def non_negative_int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None
