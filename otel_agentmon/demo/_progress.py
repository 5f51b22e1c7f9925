"""A one-line progress bar on a terminal; a line every tenth of the way otherwise."""

from __future__ import annotations

from typing import TextIO

_WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, stream: TextIO, label: str) -> None:
        self._total = max(1, total)
        self._stream = stream
        self._label = label
        self._tty = stream.isatty()
        self._last_tenth = -1

    def update(self, done: int) -> None:
        fraction = min(1.0, done / self._total)
        if self._tty:
            filled = int(fraction * _WIDTH)
            bar = "#" * filled + "." * (_WIDTH - filled)
            self._stream.write(f"\r  [{bar}] {done}/{self._total} {self._label}")
            self._stream.flush()
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self._stream.write(f"  {done}/{self._total} {self._label} ({tenth * 10}%)\n")
            self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
