"""Budget totals shared by the processes of one machine: a JSON state file under a lock.

Every process keeps its own increments and, about once a second, adds them to the stored
totals in one read-modify-write under an exclusive ``flock`` on ``<state file>.lock``; the
new file is written beside the old one and moved over it (``os.replace``), so a reader never
sees half a file and a crash never leaves one. The file also records which threshold events
were emitted, so that each is emitted once however many processes share the budget.

    {"format": 1,
     "totals": [["user", "alice@example.com", "daily", "2026-11-03", 4200000000], ...],
     "alerts": [["user", "alice@example.com", "daily", "2026-11-03", "warning"], ...]}

Amounts are integer nano-USD. Periods that have ended are pruned on every update.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not on POSIX: totals are shared between threads, not processes
    fcntl = None  # type: ignore[assignment]

from otel_agentmon.budgets._periods import PERIODS
from otel_agentmon.semconv import agentmon as am

_logger = logging.getLogger("otel_agentmon")

FORMAT = 1
TotalKey = tuple[str, str, str, str]  # scope, owner, period, period instance
AlertKey = tuple[str, str, str, str, str]  # ... and level
_LEVELS = (am.BudgetLevel.WARNING, am.BudgetLevel.CRITICAL)


class State:
    """Totals per (scope, owner, period, instance) and the threshold events already emitted."""

    __slots__ = ("totals", "alerts")

    def __init__(self, totals: dict[TotalKey, int] | None = None, alerts: set[AlertKey] | None = None) -> None:
        self.totals: dict[TotalKey, int] = totals if totals is not None else {}
        self.alerts: set[AlertKey] = alerts if alerts is not None else set()

    def copy(self) -> State:
        return State(dict(self.totals), set(self.alerts))

    def prune(self, day: str, month: str) -> bool:
        """Drop periods that ended before ``day`` / ``month``; True when something was dropped."""
        current = {am.BudgetPeriod.DAILY: day, am.BudgetPeriod.MONTHLY: month}

        def live(period: str, instance: str) -> bool:
            return period in current and instance >= current[period]

        stale = [key for key in self.totals if not live(key[2], key[3])]
        for key in stale:
            del self.totals[key]
        stale_alerts = {key for key in self.alerts if not live(key[2], key[3])}
        self.alerts -= stale_alerts
        return bool(stale or stale_alerts)

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT,
            "totals": [[*key, nanos] for key, nanos in sorted(self.totals.items())],
            "alerts": [list(key) for key in sorted(self.alerts)],
        }, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str) -> State:
        """Parse a state file; rows that do not have the expected shape are skipped."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{where}: not an otel-agentmon budget state file (format {FORMAT})")
        state = cls()
        for row in data.get("totals") or ():
            if (isinstance(row, list) and len(row) == 5 and all(isinstance(v, str) for v in row[:4])
                    and row[2] in PERIODS and type(row[4]) is int and row[4] >= 0):
                key = (row[0], row[1], row[2], row[3])
                state.totals[key] = state.totals.get(key, 0) + row[4]
        for row in data.get("alerts") or ():
            if isinstance(row, list) and len(row) == 5 and all(isinstance(v, str) for v in row) and row[4] in _LEVELS:
                state.alerts.add((row[0], row[1], row[2], row[3], row[4]))
        return state


Update = Callable[[State], bool]  # changes the state in place; True when it changed it


class MemoryStore:
    """State for one process only (no state file)."""

    def __init__(self) -> None:
        self._state = State()
        self._lock = threading.Lock()

    def update(self, change: Update) -> State:
        with self._lock:
            change(self._state)
            return self._state.copy()

    def changed_elsewhere(self) -> bool:
        return False

    def after_fork(self) -> None:
        self._lock = threading.Lock()


class FileStore:
    """State in a JSON file shared by every process that names it."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.lock_path = self.path + ".lock"
        self._signature: tuple[int, int, int] | None = None  # of the file as we last read or wrote it
        self._warned: set[str] = set()

    def update(self, change: Update) -> State:
        """Read, change and write the state under the inter-process lock; raises OSError."""
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with self._locked():
            state = self._read()
            if change(state):
                self._write(state)
            self._signature = self._stat()
            return state

    def changed_elsewhere(self) -> bool:
        """Whether another process wrote the file since we last read or wrote it."""
        return self._stat() != self._signature

    def after_fork(self) -> None:
        pass

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    # Unlock explicitly: a child forked meanwhile holds a copy of fd, and the
                    # lock would otherwise last until that copy is closed too.
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> State:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return State()
        try:
            return State.from_json(text, self.path)
        except ValueError as exc:
            self._warn_once("corrupt", "otel-agentmon: budget state %s; starting from zero spend", exc)
            return State()

    def _write(self, state: State) -> None:
        directory, name = os.path.split(self.path)
        fd, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(state.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_path, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_path)
            raise

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            _logger.warning(message, *args)
