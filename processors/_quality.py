"""The deterministic quality sample: a rule on the trace id, identical in the collector.

A trace is sampled when the integer value of the rightmost 14 hex digits of its trace id (the
56 random bits of W3C Trace Context level 2) is below floor(rate * 2^56). Every span of a trace
gets the same answer, in every process and in the collector, with no coordination.
"""

from __future__ import annotations

import math

RANDOM_BITS = 56
_RANDOM_MASK = (1 << RANDOM_BITS) - 1


def sample_threshold(rate: float) -> int:
    """floor(rate * 2^56), for a rate in [0, 1]."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"quality sample rate must be a number in [0, 1], got {rate!r}")
    return math.floor(rate * (1 << RANDOM_BITS))


def is_sampled(trace_id: int, threshold: int) -> bool:
    return (trace_id & _RANDOM_MASK) < threshold
