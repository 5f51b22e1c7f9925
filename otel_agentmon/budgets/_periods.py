"""Budget periods (UTC calendar day and month) and the integer unit spend is summed in.

Spend is kept in integer nano-USD so that totals are exact and do not depend on the order in
which threads and processes add to them (float sums do).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Callable

from otel_agentmon.semconv import agentmon as am

NANOS_PER_USD = 1_000_000_000
_SECONDS_PER_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)

PERIODS = (am.BudgetPeriod.DAILY, am.BudgetPeriod.MONTHLY)


def to_nanos(usd: float) -> int:
    """USD to integer nano-USD (rounded); raises ValueError for NaN and infinities."""
    if not math.isfinite(usd):
        raise ValueError(f"not a finite amount: {usd!r}")
    return round(usd * NANOS_PER_USD)


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def format_usd(usd: float) -> str:
    """Cents for amounts of a dollar or more, four significant figures below."""
    return f"${usd:,.2f}" if abs(usd) >= 1 or usd == 0 else f"${usd:.4g}"


def instances_of(when: dt.datetime) -> tuple[str, str]:
    """(day, month) instances of the periods holding ``when``, e.g. ("2026-11-03", "2026-11").

    A naive datetime is taken to be UTC.
    """
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    day = when.date().isoformat()
    return day, day[:7]


class PeriodClock:
    """The current (day, month) instances, recomputed only when the UTC day changes."""

    __slots__ = ("_time", "_cache")

    def __init__(self, time_source: Callable[[], float]) -> None:
        self._time = time_source  # seconds since the epoch
        self._cache: tuple[int, tuple[str, str]] = (-1, ("", ""))

    def now(self) -> tuple[str, str]:
        day_number = int(self._time() // _SECONDS_PER_DAY)
        cached = self._cache  # one read: another thread may replace it
        if cached[0] == day_number:
            return cached[1]
        day = (_EPOCH + dt.timedelta(days=day_number)).isoformat()
        instances = (day, day[:7])
        self._cache = (day_number, instances)
        return instances
