"""Numbers, money, durations and aligned plain-text tables for the report commands."""

from __future__ import annotations

import datetime as dt
from typing import Sequence


def count(value: int | float) -> str:
    """1,234 below a hundred thousand; 123k, 1.23M, 4.5B above."""
    value = int(value)
    if abs(value) < 100_000:
        return f"{value:,}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            text = f"{scaled:.3g}" if abs(scaled) < 1000 else f"{scaled:,.0f}"
            return f"{text}{suffix}"
    return str(value)  # pragma: no cover


def exact(value: int | float) -> str:
    return f"{int(value):,}"


def usd(value: float | None) -> str:
    """Cents from a dollar up; four significant figures below (small calls cost fractions of a cent)."""
    if value is None:
        return "-"
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    text = f"{value:.4g}"
    if "e" in text:
        text = f"{value:.10f}".rstrip("0")
    if len(text.partition(".")[2]) < 2:  # $0.30, not $0.3
        text = f"{value:.2f}"
    return f"${text}"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.{digits}f}%"


def seconds(value: float | None) -> str:
    """412ms, 1.20s, 3.5min."""
    if value is None:
        return "-"
    if value < 0.001:
        return f"{value * 1e6:.0f}µs"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.2f}s"
    if value < 7200:
        return f"{value / 60:.1f}min"
    return f"{value / 3600:.1f}h"


def duration(value: float) -> str:
    """A period's length: 1m 2s, 3h 5m, 30d 4h."""
    value = max(0, int(round(value)))
    days, rest = divmod(value, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.3g}"


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def when(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ",
          right: Sequence[bool] | None = None) -> list[str]:
    """Aligned columns; numeric-looking columns (all but the first, unless ``right`` says) to the right."""
    if right is None:
        right = [False] + [True] * (len(header) - 1)
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i]) for i, cell in enumerate(cells)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header)] + [line(row) for row in rows]
