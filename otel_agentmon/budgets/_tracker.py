"""Budget totals in memory, checked before each model call and shared through a store.

``check`` runs on the request thread: in the common case (enforce off, or nothing over
budget) it is two attribute reads; otherwise a few dict lookups. ``record`` runs off the
request thread (the metrics recorder's): it adds to the totals under a lock and, when a level
is reached, syncs with the store at once so the event goes out without waiting. A daemon
thread syncs about once a second (our increments out, other processes' in) and at exit.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import numbers
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider

from otel_agentmon.budgets._config import BudgetsConfig, default_state_file
from otel_agentmon.budgets._events import EventEmitter, ThresholdEvent
from otel_agentmon.budgets._periods import PeriodClock, format_usd, instances_of, to_nanos, to_usd
from otel_agentmon.budgets._store import AlertKey, FileStore, MemoryStore, State, TotalKey
from otel_agentmon.semconv import agentmon as am

if TYPE_CHECKING:
    from otel_agentmon._attribution import Attribution

_logger = logging.getLogger("otel_agentmon")

_USER = am.BudgetScope.USER
_DEPARTMENT = am.BudgetScope.DEPARTMENT
_DAILY = am.BudgetPeriod.DAILY
_MONTHLY = am.BudgetPeriod.MONTHLY
_WARNING = am.BudgetLevel.WARNING
_CRITICAL = am.BudgetLevel.CRITICAL

DEFAULT_FLUSH_INTERVAL = 1.0
_REFRESH_EVERY = 10  # intervals: re-read the store even when nothing seems to have changed

Limits = tuple[int | None, int | None]  # daily, monthly, in nano-USD


class BudgetExceededError(Exception):
    """A model call refused before it was made: its user's or department's budget is used up."""

    def __init__(self, scope: str, owner: str, period: str, period_start: str,
                 spent_usd: float, limit_usd: float) -> None:
        self.scope = scope
        self.owner = owner
        self.period = period
        self.period_start = period_start
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        super().__init__(
            f"{scope} {owner!r} has used up its {period} budget for {period_start} (UTC): spent "
            f"{format_usd(spent_usd)} of {format_usd(limit_usd)}; the model call was not made"
        )

    def __reduce__(self):  # picklable, for process pools
        return (type(self), (self.scope, self.owner, self.period, self.period_start, self.spent_usd, self.limit_usd))


@dataclass(frozen=True)
class BudgetStatus:
    """One budget in its current period: spent and limit in USD, ``fraction`` = spent / limit."""

    scope: str
    owner: str
    period: str
    period_start: str  # "2026-11-03" for a day, "2026-11" for a month (UTC)
    spent_usd: float
    limit_usd: float
    fraction: float


def _levels_reached(total: int, limit: int) -> tuple[str, ...]:
    if total >= limit:
        return (_WARNING, _CRITICAL)
    if total * 5 >= limit * 4:  # 80%, in integers
        return (_WARNING,)
    return ()


class BudgetTracker:
    """The budgets of one configuration, with totals shared through a state file.

    ``persist=False`` keeps totals in this process only. ``clock`` (seconds since the epoch)
    decides the current day and month.
    """

    def __init__(self, config: BudgetsConfig, *, persist: bool = True,
                 meter_provider: MeterProvider | None = None, logger_provider: LoggerProvider | None = None,
                 clock: Callable[[], float] = time.time, flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        self.config = config
        self._enforce = config.enforce
        self._limits: dict[tuple[str, str], Limits] = {
            (b.scope, b.owner): (
                None if b.daily is None else to_nanos(b.daily),
                None if b.monthly is None else to_nanos(b.monthly),
            )
            for b in config.budgets
        }
        self._users = {owner: limits for (scope, owner), limits in self._limits.items() if scope == _USER}
        self._departments = {owner: limits for (scope, owner), limits in self._limits.items() if scope == _DEPARTMENT}
        self.state_file = (config.state_file or default_state_file()) if persist else None
        self._store: FileStore | MemoryStore = FileStore(self.state_file) if self.state_file else MemoryStore()
        self._emitter = EventEmitter(self._enforce, meter_provider, logger_provider)
        self._periods = PeriodClock(clock)
        self._interval = flush_interval
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._totals: dict[TotalKey, int] = {}
        self._pending: dict[TotalKey, int] = {}  # not yet added to the store
        self._claimed: set[AlertKey] = set()  # levels emitted, or about to be by a sync
        self._stored_alerts: set[AlertKey] = set()  # as the store last said
        self._unstored_alerts: set[AlertKey] = set()  # emitted while the store could not be written
        # (scope, owner, period, instance) -> (spent, limit) for budgets at or over 100%
        self._over: dict[TotalKey, tuple[int, int]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._warned: set[str] = set()
        _TRACKERS.add(self)
        self.sync()  # totals stored before a restart, and other processes' spend

    # --- request thread -----------------------------------------------------------------

    def check(self, attribution: Attribution) -> None:
        """Raise BudgetExceededError in enforce mode when a budget of the call's user or
        department is at or over 100% in the current day or month."""
        if not self._enforce:
            return
        if self._thread is None:
            self._start()
        over = self._over
        if not over:
            return
        day, month = self._periods.now()
        for scope, owner in ((_USER, attribution.user_id), (_DEPARTMENT, attribution.department)):
            if owner is None:
                continue
            for period, instance in ((_MONTHLY, month), (_DAILY, day)):
                hit = over.get((scope, owner, period, instance))
                if hit is not None:
                    raise BudgetExceededError(scope, owner, period, instance, to_usd(hit[0]), to_usd(hit[1]))

    # --- recording thread ---------------------------------------------------------------

    def record(self, attribution: Attribution, amount_usd: float, when: dt.datetime | None = None) -> None:
        """Add a priced call's cost to its user's and department's budgets."""
        try:
            if isinstance(amount_usd, bool) or not isinstance(amount_usd, numbers.Real):
                raise TypeError(amount_usd)
            nanos = to_nanos(float(amount_usd))
        except (TypeError, ValueError):
            self._warn_once("amount", "otel-agentmon: ignoring a budget spend that is not a finite number: %r",
                            amount_usd)
            return
        if nanos <= 0:
            if nanos < 0:
                self._warn_once("amount", "otel-agentmon: ignoring a negative budget spend: %r", amount_usd)
            return
        targets = []
        if attribution.user_id is not None and attribution.user_id in self._users:
            targets.append((_USER, attribution.user_id, self._users[attribution.user_id]))
        if attribution.department is not None and attribution.department in self._departments:
            targets.append((_DEPARTMENT, attribution.department, self._departments[attribution.department]))
        if not targets:
            return
        day, month = instances_of(when) if when is not None else self._periods.now()
        reached = False
        with self._lock:
            for scope, owner, (daily, monthly) in targets:
                for period, instance, limit in ((_DAILY, day, daily), (_MONTHLY, month, monthly)):
                    if limit is None:
                        continue
                    key = (scope, owner, period, instance)
                    total = self._totals.get(key, 0) + nanos
                    self._totals[key] = total
                    self._pending[key] = self._pending.get(key, 0) + nanos
                    for level in _levels_reached(total, limit):
                        if level == _CRITICAL:
                            self._over[key] = (total, limit)
                        alert = (*key, level)
                        if alert not in self._claimed:
                            self._claimed.add(alert)
                            reached = True
        if self._thread is None:
            self._start()
        if reached:
            self.sync()

    # --- sync with the store ------------------------------------------------------------

    def sync(self) -> bool:
        """Add our increments to the store, read everyone's totals, emit the threshold events
        not emitted yet. Returns False when the store could not be written (retried later)."""
        with self._sync_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                unstored = set(self._unstored_alerts)
            day, month = self._periods.now()
            events: list[ThresholdEvent] = []

            def change(state: State) -> bool:
                changed = bool(pending) or not unstored <= state.alerts
                state.alerts |= unstored
                for key, nanos in pending.items():
                    state.totals[key] = state.totals.get(key, 0) + nanos
                changed |= state.prune(day, month)  # also drops late spend for a period that has ended
                for key, total in state.totals.items():
                    limit = self._limit(key)
                    if limit is None:
                        continue
                    for level in _levels_reached(total, limit):
                        if (*key, level) not in state.alerts:
                            state.alerts.add((*key, level))
                            events.append(ThresholdEvent(*key, level, to_usd(total), to_usd(limit)))
                            changed = True
                return changed

            try:
                state = self._store.update(change)
            except OSError as exc:
                self._warn_once("store", "otel-agentmon: cannot update the budget state file %s (%s); "
                                "totals are kept in memory and written when it works again",
                                self.state_file, exc.strerror or exc)
                events = self._keep_for_later(pending)
                stored = False
            else:
                self._apply(state, unstored)
                stored = True
        for event in events:
            self._emitter.emit(event)
        return stored

    def _keep_for_later(self, pending: dict[TotalKey, int]) -> list[ThresholdEvent]:
        """The store failed: keep the increments for the next sync, and decide the events
        from this process's totals (recorded as emitted when the store works again)."""
        events = []
        with self._lock:
            for key, nanos in pending.items():
                self._pending[key] = self._pending.get(key, 0) + nanos
            for key, total in self._totals.items():
                limit = self._limit(key)
                if limit is None:
                    continue
                for level in _levels_reached(total, limit):
                    alert = (*key, level)
                    if alert not in self._stored_alerts and alert not in self._unstored_alerts:
                        self._unstored_alerts.add(alert)
                        events.append(ThresholdEvent(*key, level, to_usd(total), to_usd(limit)))
        return events

    def _apply(self, state: State, unstored: set[AlertKey]) -> None:
        with self._lock:
            self._stored_alerts = set(state.alerts)
            self._unstored_alerts -= unstored
            totals = {key: nanos for key, nanos in state.totals.items() if self._limit(key) is not None}
            for key, nanos in self._pending.items():  # recorded while the store was being updated
                totals[key] = totals.get(key, 0) + nanos
            over: dict[TotalKey, tuple[int, int]] = {}
            for key, total in totals.items():
                limit = self._limit(key)
                if limit is not None and total >= limit:
                    over[key] = (total, limit)
            self._totals = totals
            self._over = over
            self._claimed = set(state.alerts) | {a for a in self._claimed if a[:4] in self._pending}

    def _limit(self, key: TotalKey) -> int | None:
        limits = self._limits.get((key[0], key[1]))
        if limits is None:
            return None
        return limits[0] if key[2] == _DAILY else limits[1] if key[2] == _MONTHLY else None

    # --- reports ------------------------------------------------------------------------

    def status(self) -> list[BudgetStatus]:
        """Every budget in the current day and month, after a sync with the store."""
        self.sync()
        day, month = self._periods.now()
        with self._lock:
            totals = dict(self._totals)
        report = []
        for budget in self.config.budgets:
            for period, instance, limit in ((_DAILY, day, budget.daily), (_MONTHLY, month, budget.monthly)):
                if limit is None:
                    continue
                spent = to_usd(totals.get((budget.scope, budget.owner, period, instance), 0))
                report.append(BudgetStatus(budget.scope, budget.owner, period, instance, spent, limit, spent / limit))
        return report

    # --- background thread, exit and fork -----------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="otel-agentmon-budgets", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self._interval):
            ticks += 1
            try:
                if self._pending or ticks % _REFRESH_EVERY == 0 or self._store.changed_elsewhere():
                    self.sync()
            except Exception:
                _logger.debug("otel-agentmon: budget sync failed", exc_info=True)

    def close(self) -> None:
        """Stop the background thread and write what is pending."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if self._pending:
            self.sync()
        _TRACKERS.discard(self)

    def _after_fork_in_child(self) -> None:
        # Increments pending before the fork are the parent's to write.
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._pending = {}
        self._thread = None
        self._store.after_fork()

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            _logger.warning(message, *args)


_TRACKERS: weakref.WeakSet[BudgetTracker] = weakref.WeakSet()


def _sync_all_at_exit() -> None:
    for tracker in list(_TRACKERS):
        if tracker._pending:
            try:
                tracker.sync()
            except Exception:
                _logger.debug("otel-agentmon: budget sync at exit failed", exc_info=True)


def _after_fork_in_child() -> None:
    for tracker in list(_TRACKERS):
        tracker._after_fork_in_child()


atexit.register(_sync_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
