"""Ratings: what ``feedback()`` accepts, and the score label of each."""

from __future__ import annotations

import math

from otel_agentmon.semconv import metrics as m

_THUMBS_UP = 5
_THUMBS_DOWN = 1
_LOWEST, _HIGHEST = m.FEEDBACK_RATING_BUCKETS[0], m.FEEDBACK_RATING_BUCKETS[-1]
_WORDS = {
    "up": _THUMBS_UP, "thumbs_up": _THUMBS_UP, "+1": _THUMBS_UP,
    "down": _THUMBS_DOWN, "thumbs_down": _THUMBS_DOWN, "-1": _THUMBS_DOWN,
}
ACCEPTED = (f"an int from {_LOWEST} to {_HIGHEST}, True or 'up' / 'thumbs_up' / '+1' (= {_THUMBS_UP}), "
            f"False or 'down' / 'thumbs_down' / '-1' (= {_THUMBS_DOWN})")


def parse_rating(value: object) -> int:
    """``value`` as a rating from 1 to 5, or ValueError naming the accepted values."""
    if value is True:
        return _THUMBS_UP
    if value is False:
        return _THUMBS_DOWN
    rating: int | None = None
    if isinstance(value, int):
        rating = int(value)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        rating = int(value)  # 4.0 from a JSON body is the rating 4
    elif isinstance(value, str):
        rating = _WORDS.get(value.strip().lower())
    if rating is None or not _LOWEST <= rating <= _HIGHEST:
        raise ValueError(f"feedback(): rating must be {ACCEPTED}; got {value!r}")
    return rating


def score_label(rating: int) -> str:
    """``gen_ai.evaluation.score.label`` of a rating: low, neutral or high."""
    if rating <= m.LOW_RATING_MAX:
        return m.FeedbackLabel.LOW
    if rating == m.LOW_RATING_MAX + 1:
        return m.FeedbackLabel.NEUTRAL
    return m.FeedbackLabel.HIGH
