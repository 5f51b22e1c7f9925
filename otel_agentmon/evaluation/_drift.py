"""Quality drift: the mean of the most recent scores against a baseline, per evaluation name."""

from __future__ import annotations

import collections
import math
import threading
from typing import Mapping

DEFAULT_WINDOW = 100
DEFAULT_BASELINE_SIZE = 100
MAX_NAMES = 100  # evaluation names tracked; the memory is at most MAX_NAMES * window floats


class _Track:
    __slots__ = ("baseline", "baseline_sum", "baseline_count", "window")

    def __init__(self, window: int, baseline: float | None) -> None:
        self.baseline = baseline
        self.baseline_sum = 0.0
        self.baseline_count = 0
        self.window: collections.deque[float] = collections.deque(maxlen=window)


class DriftTracker:
    """Per evaluation name: the baseline is the mean of the first ``baseline_size`` scores of
    the process (or the mean given in ``baselines``), the window the last ``window`` scores
    (baseline scores included). ``drift()`` reports window mean minus baseline mean for each
    name whose baseline is set and whose window is full; negative means quality fell.

    Thread-safe: scores are added on the evaluation thread, drift is read on the metric
    reader's thread. Memory is bounded: at most ``max_names`` names, one window each.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, baseline_size: int = DEFAULT_BASELINE_SIZE,
                 baselines: Mapping[str, float] | None = None, max_names: int = MAX_NAMES) -> None:
        self.window = window
        self.baseline_size = baseline_size
        self.max_names = max_names
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        for name, mean in (baselines or {}).items():
            self._tracks[name] = _Track(window, float(mean))

    def add(self, name: str, score: float) -> bool:
        """Count one score; False when ``name`` is beyond the names tracked (not counted)."""
        with self._lock:
            track = self._tracks.get(name)
            if track is None:
                if len(self._tracks) >= self.max_names:
                    return False
                track = self._tracks[name] = _Track(self.window, None)
            if track.baseline is None:
                track.baseline_sum += score
                track.baseline_count += 1
                if track.baseline_count >= self.baseline_size:
                    track.baseline = track.baseline_sum / track.baseline_count
            track.window.append(score)
            return True

    def drift(self) -> dict[str, float]:
        """Window mean minus baseline mean, for the names where both are complete."""
        with self._lock:
            out = {}
            for name, track in self._tracks.items():
                if track.baseline is not None and len(track.window) == self.window:
                    out[name] = math.fsum(track.window) / self.window - track.baseline
            return out

    def baseline(self, name: str) -> float | None:
        with self._lock:
            track = self._tracks.get(name)
            return None if track is None else track.baseline
