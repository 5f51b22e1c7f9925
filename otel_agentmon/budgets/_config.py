"""What a budgets file says, once validated: the mode, the state file and the budgets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final, Mapping

from otel_agentmon.semconv import agentmon as am

MODE_OBSERVE: Final = "observe"  # warn and alert only (the default)
MODE_ENFORCE: Final = "enforce"  # also refuse model calls once a budget is used up
MODES: Final = (MODE_OBSERVE, MODE_ENFORCE)

SCOPES: Final = (am.BudgetScope.USER, am.BudgetScope.DEPARTMENT)

_STATE_DIR_NAME = "otel-agentmon"
_STATE_FILE_NAME = "budgets.json"


class BudgetsFileError(ValueError):
    """A budgets file that cannot be used; the message starts with ``path:line:``."""


@dataclass(frozen=True)
class Budget:
    """The limits, in USD, of one user or one department; ``None`` means no limit."""

    scope: str  # agentmon.BudgetScope.USER or .DEPARTMENT
    owner: str  # the user id or the department name
    daily: float | None = None
    monthly: float | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"budget scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if not isinstance(self.owner, str) or not self.owner:
            raise ValueError(f"a {self.scope} budget needs a non-empty name, got {self.owner!r}")
        if self.daily is None and self.monthly is None:
            raise ValueError(f"the budget of {self.scope} {self.owner!r} sets neither daily nor monthly")
        for period, amount in (("daily", self.daily), ("monthly", self.monthly)):
            if amount is not None and not _positive_number(amount):
                raise ValueError(f"the {period} budget of {self.scope} {self.owner!r} must be a positive "
                                 f"number of USD, got {amount!r}")


@dataclass(frozen=True)
class BudgetsConfig:
    """A validated budgets file; ``state_file`` None means the default location."""

    budgets: tuple[Budget, ...] = ()
    mode: str = MODE_OBSERVE
    state_file: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"budgets mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        seen: set[tuple[str, str]] = set()
        for budget in self.budgets:
            key = (budget.scope, budget.owner)
            if key in seen:
                raise ValueError(f"two budgets for {budget.scope} {budget.owner!r}")
            seen.add(key)

    @property
    def enforce(self) -> bool:
        return self.mode == MODE_ENFORCE


def _positive_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value > 0 and value != float("inf")  # NaN fails the first comparison


def default_state_file(environ: Mapping[str, str] | None = None) -> str:
    """``$XDG_STATE_HOME/otel-agentmon/budgets.json``, else under ``~/.local/state``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "").strip()
    if not base or not os.path.isabs(base):  # the XDG spec says to ignore relative paths
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, _STATE_DIR_NAME, _STATE_FILE_NAME)
