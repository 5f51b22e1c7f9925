"""Mean scores over a period and over its two halves: the quality drift and the rating trend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from otel_agentmon.store._reader import EVALUATION, StoreReader


def _mean(count: float, total: float) -> float | None:
    return total / count if count else None


@dataclass(frozen=True)
class Halves:
    count: int
    mean: float | None
    first_count: int
    first_mean: float | None
    second_count: int
    second_mean: float | None
    change: float | None  # second half mean minus first half mean


def evaluation_halves(reader: StoreReader, dimensions: Sequence[str], start: float, middle: float,
                      stop: float | None, where: str, parameters: tuple) -> dict[tuple, Halves]:
    """Evaluation count and mean score per ``dimensions`` over [start, stop) and over its halves
    split at ``middle``, from the evaluation rollups (so pruned days count)."""
    whole = reader.totals(EVALUATION, tuple(dimensions), reader.plan(start, stop), where, parameters)
    first = reader.totals(EVALUATION, tuple(dimensions), reader.plan(start, middle), where, parameters)
    second = reader.totals(EVALUATION, tuple(dimensions), reader.plan(middle, stop), where, parameters)
    out = {}
    for key, (count, total) in whole.items():
        n1, s1 = first.get(key, (0, 0.0))
        n2, s2 = second.get(key, (0, 0.0))
        mean1, mean2 = _mean(n1, s1), _mean(n2, s2)
        out[key] = Halves(int(count), _mean(count, total), int(n1), mean1, int(n2), mean2,
                          mean2 - mean1 if mean1 is not None and mean2 is not None else None)
    return out
