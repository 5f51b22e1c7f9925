"""Times and durations as the commands take them: ISO dates and times, or ``24h`` / ``7d`` ago."""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

TIME_HELP = "an ISO date or time (2026-11-01, 2026-11-01T09:30, UTC unless it says otherwise) or a duration ago (24h, 7d)"


class InputError(ValueError):
    """A bad command-line value; the message is the one line to show."""


def parse_duration(text: str) -> float | None:
    """Seconds for ``90d``, ``12h``, ``30m``, ``45s``, ``2w``; None when ``text`` is not one."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def parse_time(text: str, now: float, option: str) -> float:
    """Unix seconds for an option value: ``now``, a duration ago, or an ISO date or time."""
    value = text.strip()
    if value.lower() == "now":
        return now
    seconds = parse_duration(value)
    if seconds is not None:
        return now - seconds
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} {text} is not a time (expected {TIME_HELP})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def parse_month(text: str) -> tuple[float, float]:
    """[start, end) in unix seconds of a ``YYYY-MM`` month (UTC)."""
    match = _MONTH.match(text.strip())
    month = int(match.group(2)) if match else 0
    if match is None or not 1 <= month <= 12:
        raise InputError(f"--month {text} is not a month (expected YYYY-MM)")
    year = int(match.group(1))
    start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return start.timestamp(), end.timestamp()


def iso(seconds: float | None, precision: str = "seconds") -> str | None:
    """``2026-11-20T09:13:05Z`` (UTC), or None."""
    if seconds is None:
        return None
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.isoformat(timespec=precision).replace("+00:00", "Z")


def day_start(seconds: float) -> float:
    return seconds // 86400 * 86400


def month_start(seconds: float) -> float:
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.timezone.utc).timestamp()
