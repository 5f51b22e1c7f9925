"""Checks on the values an application hands to the agent and attribution APIs.

They run where the value is given (``agent("planner")``, ``attribution(user_id=...)``), so a
mistake is reported at that line, naming the argument, and never later inside a request.
"""

from __future__ import annotations

import datetime
import math

# Attribution values travel in W3C Baggage (8 KiB for every entry together) and become span
# attributes and metric labels; names become span names. 256 characters is far more than any
# real identifier needs and keeps a runaway value from bloating every span.
MAX_TEXT_LENGTH = 256


def check_text(value: object, what: str) -> str:
    """``value`` as a plain str, or TypeError/ValueError naming ``what``.

    Accepted: a non-empty string of at most MAX_TEXT_LENGTH printable characters. Control
    characters, line breaks and invisible format characters are refused: they would let a
    value forge lines in logs or hide itself in a dashboard.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"{what} is {len(value)} characters long; at most {MAX_TEXT_LENGTH} are allowed")
    if not value.isprintable():
        position, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        raise ValueError(f"{what} contains a non-printable character (U+{ord(char):04X} at position {position})")
    return str.__str__(value)  # a plain str, also for str subclasses such as StrEnum members


def acceptable_text(value: object) -> bool:
    """The same rule as check_text, as a cheap yes/no for values that arrive from elsewhere
    (Baggage from another process), which are dropped rather than raised about."""
    return type(value) is str and 0 < len(value) <= MAX_TEXT_LENGTH and value.isprintable()


def check_optional_text(value: object, what: str) -> str | None:
    return None if value is None else check_text(value, what)


def check_description(value: object, what: str) -> str | None:
    """Free text (an agent's or a tool's description): any non-empty str, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str or None, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty (leave it out instead)")
    return str.__str__(value)


def check_timeout(value: object, what: str) -> float | None:
    """A positive, finite number of seconds (int, float or timedelta), or None for no limit."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)
