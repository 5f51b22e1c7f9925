"""The process-wide budgets: configured from code, or read from AGENTMON_BUDGETS_FILE at
first use (a bad file is then logged once and budgets stay off)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from typing import TYPE_CHECKING, Mapping

from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider

from otel_agentmon.budgets._config import BudgetsConfig, BudgetsFileError
from otel_agentmon.budgets._file import load_budgets
from otel_agentmon.budgets._tracker import BudgetStatus, BudgetTracker

if TYPE_CHECKING:
    from otel_agentmon._attribution import Attribution

AGENTMON_BUDGETS_FILE = "AGENTMON_BUDGETS_FILE"

_logger = logging.getLogger("otel_agentmon")
_lock = threading.Lock()
_loaded = False  # True once _tracker says what the process uses (None: no budgets)
_tracker: BudgetTracker | None = None


def validate_budgets_env(environ: Mapping[str, str] | None = None) -> BudgetsConfig | None:
    """The budgets AGENTMON_BUDGETS_FILE names (None when unset); raises ConfigurationError
    naming the variable, the file and the line when the file is missing or malformed."""
    from otel_agentmon._settings import ConfigurationError

    env = os.environ if environ is None else environ
    path = env.get(AGENTMON_BUDGETS_FILE, "").strip()
    if not path:
        return None
    try:
        return load_budgets(path)
    except BudgetsFileError as exc:
        raise ConfigurationError(f"{AGENTMON_BUDGETS_FILE}: {exc}") from None


def configure_budgets(
    budgets: BudgetsConfig | str | os.PathLike[str] | None = None,
    *,
    meter_provider: MeterProvider | None = None,
    logger_provider: LoggerProvider | None = None,
) -> BudgetTracker | None:
    """Set the process-wide budgets: a BudgetsConfig, a budgets file, or (None) the file
    AGENTMON_BUDGETS_FILE names. Returns the tracker, or None when there are no budgets.

    Raises BudgetsFileError for a bad file given by path, ConfigurationError for a bad
    AGENTMON_BUDGETS_FILE. The tracker configured before, if any, is flushed and closed.
    """
    if budgets is None:
        config = validate_budgets_env()
    elif isinstance(budgets, BudgetsConfig):
        config = budgets
    else:
        config = load_budgets(budgets)
    tracker = None
    if config is not None and config.budgets:
        tracker = BudgetTracker(config, meter_provider=meter_provider, logger_provider=logger_provider)
    _install(tracker)
    return tracker


def _install(tracker: BudgetTracker | None) -> None:
    global _loaded, _tracker
    with _lock:
        previous, _tracker = _tracker, tracker
        _loaded = True
    if previous is not None and previous is not tracker:
        previous.close()


def current_tracker() -> BudgetTracker | None:
    """The process-wide tracker, read from AGENTMON_BUDGETS_FILE on first use."""
    global _loaded, _tracker
    if _loaded:
        return _tracker
    with _lock:
        if not _loaded:
            try:
                config = validate_budgets_env()
                if config is not None and config.budgets:
                    _tracker = BudgetTracker(config)
            except ValueError as exc:  # ConfigurationError
                _logger.error("otel-agentmon: %s (budgets are off)", exc)
            except Exception:
                _logger.error("otel-agentmon: could not set up budgets (budgets are off)", exc_info=True)
            _loaded = True
        return _tracker


def tracking() -> bool:
    """True when budgets are configured for this process (cheap: the instrumentors ask per call)."""
    return (_tracker if _loaded else current_tracker()) is not None


def check_budget(attribution: Attribution) -> None:
    """Before a model call, on the request thread: in enforce mode, raise BudgetExceededError
    when the user's or the department's daily or monthly budget is used up. No I/O."""
    tracker = _tracker if _loaded else current_tracker()
    if tracker is not None:
        tracker.check(attribution)


def record_spend(attribution: Attribution, amount_usd: float, when: dt.datetime | None = None) -> None:
    """After a call was priced, off the request thread: add ``amount_usd`` to the budgets of
    its user and department (``when`` defaults to now; a naive datetime is UTC)."""
    tracker = _tracker if _loaded else current_tracker()
    if tracker is not None:
        tracker.record(attribution, amount_usd, when)


def budget_status() -> list[BudgetStatus]:
    """Spent, limit and fraction of every budget in the current day and month."""
    tracker = current_tracker()
    return tracker.status() if tracker is not None else []


def flush_budgets() -> None:
    """Write the spend recorded so far to the state file now (it is also written every second
    and at exit)."""
    tracker = current_tracker()
    if tracker is not None:
        tracker.sync()
