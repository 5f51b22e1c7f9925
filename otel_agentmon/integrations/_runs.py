"""The steps a framework has started and not yet ended, keyed by the framework's own ids.

Bounded: a framework that never reports the end of some steps (a run abandoned mid-way)
must not grow memory without limit; past the bound the oldest open steps are forgotten
(their spans are never exported), and that is logged once.
"""

from __future__ import annotations

import logging
from typing import Generic, Hashable, TypeVar

_logger = logging.getLogger("otel_agentmon")

MAX_OPEN = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OpenRuns(Generic[K, V]):
    def __init__(self, limit: int = MAX_OPEN) -> None:
        self._open: dict[K, V] = {}
        self._limit = limit
        self._warned = False

    def add(self, key: K, value: V) -> None:
        open_runs = self._open
        while len(open_runs) >= self._limit:
            try:
                # dicts keep insertion order: the first key is the oldest open step
                del open_runs[next(iter(open_runs))]
            except (StopIteration, KeyError, RuntimeError):  # another thread got there first
                break
            if not self._warned:
                self._warned = True
                _logger.warning("otel-agentmon: more than %d framework steps open at once; forgetting the "
                                "oldest (steps that never ended?)", self._limit)
        open_runs[key] = value

    def get(self, key: K | None) -> V | None:
        return self._open.get(key) if key is not None else None  # type: ignore[arg-type]

    def pop(self, key: K) -> V | None:
        return self._open.pop(key, None)

    def __len__(self) -> int:
        return len(self._open)
