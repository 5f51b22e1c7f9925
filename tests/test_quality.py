"""The quality-sample rule on trace ids (shared with the collector)."""

from __future__ import annotations

import random

import pytest

from otel_agentmon.processors import is_sampled, sample_threshold


def test_threshold_is_floor_of_rate_times_2_pow_56():
    assert sample_threshold(0.0) == 0
    assert sample_threshold(1.0) == 2**56
    assert sample_threshold(0.05) == int(0.05 * 2**56)
    assert sample_threshold(0.5) == 2**55


def test_only_the_rightmost_14_hex_digits_count():
    threshold = sample_threshold(0.5)
    low = int("ffffffffffffffffff" + "00000000000000", 16)
    high = int("000000000000000000" + "80000000000000", 16)
    assert is_sampled(low, threshold)
    assert not is_sampled(high, threshold)
    assert is_sampled(int("7fffffffffffff", 16), threshold)


def test_rate_zero_samples_nothing_and_one_samples_everything():
    ids = [random.getrandbits(128) for _ in range(1000)]
    assert not any(is_sampled(t, sample_threshold(0.0)) for t in ids)
    assert all(is_sampled(t, sample_threshold(1.0)) for t in ids)


def test_rate_is_honoured_statistically():
    rng = random.Random(7)
    threshold = sample_threshold(0.05)
    hits = sum(is_sampled(rng.getrandbits(128), threshold) for _ in range(100_000))
    assert 4500 < hits < 5500


@pytest.mark.parametrize("rate", [-0.1, 1.01, float("nan"), "0.5", None, True])
def test_bad_rate_is_rejected(rate):
    with pytest.raises(ValueError, match="quality sample rate"):
        sample_threshold(rate)
