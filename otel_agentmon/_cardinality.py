"""A cap on the distinct attribute sets each metric instrument records.

Each metric label is capped on its own (``_attribution``: 100 departments, 100 models, ...), but
their combinations are not: department x model x error.type, or user x model, keep meeting new
pairs for as long as a process runs, and every new pair is a series held until exit. The
OpenTelemetry metrics specification bounds this with a cardinality limit per metric stream,
which the Python SDK does not implement yet; this module applies it in front of our instruments
with the specification's behaviour: once ``limit - 1`` distinct attribute sets have been
recorded, measurements with any further set go to one overflow series whose only attribute is
``otel.metric.overflow=true``. Sums and counts stay whole; only their breakdown is lost.

The attribute sets are counted per metric name and MeterProvider, shared by the
instrumentation scopes that record the metric (the openai and anthropic instrumentors both
record ``gen_ai.client.operation.duration``): the bound is then one per metric, whichever
instrumentors run, and each scope that overflows has its own overflow series.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Mapping, Optional

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, Meter, MeterProvider
from opentelemetry.util.types import Attributes

from otel_agentmon.semconv import metrics as m

_logger = logging.getLogger("otel_agentmon")

AGENTMON_METRICS_CARDINALITY_LIMIT = "AGENTMON_METRICS_CARDINALITY_LIMIT"
DEFAULT_CARDINALITY_LIMIT = 2000  # the specification's default
MIN_CARDINALITY_LIMIT = 2  # one series of its own, and the overflow series

_OVERFLOW: Mapping[str, Any] = {m.METRIC_OVERFLOW: True}
_NO_ATTRIBUTES: frozenset = frozenset()


def parse_cardinality_limit(value: str, name: str = AGENTMON_METRICS_CARDINALITY_LIMIT) -> int:
    """An attribute-set limit: a whole number >= MIN_CARDINALITY_LIMIT; ValueError naming ``name``."""
    text = value.strip()
    try:
        limit = int(text)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number (expected e.g. {DEFAULT_CARDINALITY_LIMIT})") from None
    if limit < MIN_CARDINALITY_LIMIT:
        raise ValueError(f"{name}={value!r} is below {MIN_CARDINALITY_LIMIT} (one series and the overflow series)")
    return limit


def cardinality_limit_from_env(environ: Mapping[str, str] | None = None) -> int:
    """AGENTMON_METRICS_CARDINALITY_LIMIT, or the default when unset; raises ValueError when invalid."""
    env = os.environ if environ is None else environ
    value = env.get(AGENTMON_METRICS_CARDINALITY_LIMIT, "")
    return parse_cardinality_limit(value) if value.strip() else DEFAULT_CARDINALITY_LIMIT


def _limit_or_default() -> int:
    try:
        return cardinality_limit_from_env()
    except ValueError:  # reported at start by the configurator; never fail a recording
        return DEFAULT_CARDINALITY_LIMIT


class AttributeSets:
    """The distinct attribute sets one metric has recorded, at most ``limit - 1`` of them."""

    __slots__ = ("_seen", "_room", "_lock", "_metric", "_overflowed")

    def __init__(self, metric: str, limit: Optional[int] = None) -> None:
        self._seen: set[frozenset] = set()
        self._room = (limit if limit is not None else _limit_or_default()) - 1
        self._lock = threading.Lock()
        self._metric = metric
        self._overflowed = False

    def bounded(self, attributes: Attributes) -> Attributes:
        """``attributes`` itself while there is room for its set, else the overflow set."""
        key = frozenset(attributes.items()) if attributes else _NO_ATTRIBUTES
        if key in self._seen:  # the common case: a set already seen, no lock
            return attributes
        with self._lock:  # exact: racing threads never take more than the room
            if key in self._seen:
                return attributes
            if len(self._seen) < self._room:
                self._seen.add(key)
                return attributes
            first = not self._overflowed
            self._overflowed = True
        if first:
            _logger.warning(
                "otel-agentmon: metric %s reached its cardinality limit of %d attribute sets; further "
                "sets are recorded with %s=true (raise %s to keep more)",
                self._metric, self._room + 1, m.METRIC_OVERFLOW, AGENTMON_METRICS_CARDINALITY_LIMIT)
        return _OVERFLOW


_shared: "weakref.WeakKeyDictionary[Any, dict[str, AttributeSets]]" = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def shared_attribute_sets(metric: str, meter_provider: MeterProvider | None = None) -> AttributeSets:
    """The AttributeSets of ``metric`` under ``meter_provider`` (None: the global one), made
    (reading AGENTMON_METRICS_CARDINALITY_LIMIT) by the first instrument of that name."""
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    with _shared_lock:
        by_name = _shared.get(provider)
        if by_name is None:
            by_name = _shared[provider] = {}
        sets = by_name.get(metric)
        if sets is None:
            sets = by_name[metric] = AttributeSets(metric)
        return sets


class CappedHistogram:
    """A Histogram whose attribute sets are capped (see the module docstring)."""

    __slots__ = ("_histogram", "_sets")

    def __init__(self, histogram: Histogram, sets: AttributeSets) -> None:
        self._histogram = histogram
        self._sets = sets

    def record(self, amount: float, attributes: Attributes = None, context: Any = None) -> None:
        self._histogram.record(amount, self._sets.bounded(attributes), context)


class CappedCounter:
    """A Counter whose attribute sets are capped (see the module docstring)."""

    __slots__ = ("_counter", "_sets")

    def __init__(self, counter: Counter, sets: AttributeSets) -> None:
        self._counter = counter
        self._sets = sets

    def add(self, amount: float, attributes: Attributes = None, context: Any = None) -> None:
        self._counter.add(amount, self._sets.bounded(attributes), context)


def capped_histogram(meter: Meter, name: str, meter_provider: MeterProvider | None = None,
                     **kwargs: Any) -> CappedHistogram:
    """``meter.create_histogram(name, **kwargs)`` with its attribute sets capped;
    ``meter_provider`` is the one ``meter`` came from (None: the global one)."""
    return CappedHistogram(meter.create_histogram(name, **kwargs), shared_attribute_sets(name, meter_provider))


def capped_counter(meter: Meter, name: str, meter_provider: MeterProvider | None = None,
                   **kwargs: Any) -> CappedCounter:
    """``meter.create_counter(name, **kwargs)`` with its attribute sets capped;
    ``meter_provider`` is the one ``meter`` came from (None: the global one)."""
    return CappedCounter(meter.create_counter(name, **kwargs), shared_attribute_sets(name, meter_provider))
