"""Budgets per user and per department, daily and monthly (UTC), in USD of derived cost.

Read from the YAML file named by AGENTMON_BUDGETS_FILE (or given to ``configure_budgets``)::

    mode: enforce            # or observe (the default): warn and alert only
    state_file: ~/.local/state/otel-agentmon/budgets.json   # optional
    budgets:
      - department: research      # exactly one of user / department
        daily: 50.00              # USD; at least one of daily / monthly
        monthly: 1000
      - user: alice@example.com
        daily: 5

At 80% and at 100% of a budget in a period, one warning and one critical event (an
OpenTelemetry log record, a count on ``agentmon.budget.events`` and a Python log line). In
enforce mode ``check_budget`` raises ``BudgetExceededError`` before a model call whose user or
department has used up a budget. Totals survive restarts and are shared by the processes of
a machine through the state file.
"""

from otel_agentmon.budgets._config import MODE_ENFORCE, MODE_OBSERVE, Budget, BudgetsConfig, BudgetsFileError
from otel_agentmon.budgets._file import load_budgets, parse_budgets
from otel_agentmon.budgets._global import (
    tracking,
    AGENTMON_BUDGETS_FILE,
    budget_status,
    check_budget,
    configure_budgets,
    flush_budgets,
    record_spend,
    validate_budgets_env,
)
from otel_agentmon.budgets._tracker import BudgetExceededError, BudgetStatus, BudgetTracker

__all__ = [
    "tracking",
    "AGENTMON_BUDGETS_FILE",
    "MODE_ENFORCE",
    "MODE_OBSERVE",
    "Budget",
    "BudgetExceededError",
    "BudgetStatus",
    "BudgetTracker",
    "BudgetsConfig",
    "BudgetsFileError",
    "budget_status",
    "check_budget",
    "configure_budgets",
    "flush_budgets",
    "load_budgets",
    "parse_budgets",
    "record_spend",
    "validate_budgets_env",
]
