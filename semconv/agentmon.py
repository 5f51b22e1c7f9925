"""otel-agentmon's additions to the GenAI conventions.

Each name here is described in ``registry.yaml`` beside this file (type, brief, examples,
stability); ``docs/semconv.md`` is generated from that registry, and a test keeps the two in
step.
"""

from typing import Final

# --- cost (the shape proposed upstream in semantic-conventions-genai PR 443) -----------
COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
COST_SOURCE: Final = "gen_ai.usage.cost.source"
COST_STATUS: Final = "agentmon.cost.status"


class CostSource:
    """Values of ``gen_ai.usage.cost.source``."""

    LOCAL: Final = "local"
    PROVIDER: Final = "provider"


class CostStatus:
    """Values of ``agentmon.cost.status``: why a span has, or has not, a cost amount."""

    PRICED: Final = "priced"
    UNPRICED: Final = "unpriced"  # no price known for this (provider, model): never a silent $0
    MISSING_USAGE: Final = "missing_usage"  # no token counts on the span
    INVALID_USAGE: Final = "invalid_usage"  # token counts negative, non-integer or inconsistent


CURRENCY_USD: Final = "USD"

# --- errors -----------------------------------------------------------------------------
ERROR_CATEGORY: Final = "agentmon.error.category"
ERROR_SEVERITY: Final = "agentmon.error.severity"

# --- quality sample ---------------------------------------------------------------------
QUALITY_SAMPLED: Final = "agentmon.quality.sampled"

# --- attribution (user.id is the general OpenTelemetry attribute) -----------------------
DEPARTMENT: Final = "agentmon.department"
APPLICATION: Final = "agentmon.application"

# --- budgets (events when a user's or a department's spend nears or reaches its budget) -
BUDGET_SCOPE: Final = "agentmon.budget.scope"
BUDGET_OWNER: Final = "agentmon.budget.owner"
BUDGET_PERIOD: Final = "agentmon.budget.period"
BUDGET_LEVEL: Final = "agentmon.budget.level"
BUDGET_SPENT: Final = "agentmon.budget.spent"
BUDGET_LIMIT: Final = "agentmon.budget.limit"


class BudgetScope:
    """Values of ``agentmon.budget.scope``: whom a budget is for."""

    USER: Final = "user"
    DEPARTMENT: Final = "department"


class BudgetPeriod:
    """Values of ``agentmon.budget.period``: UTC calendar day or calendar month."""

    DAILY: Final = "daily"
    MONTHLY: Final = "monthly"


class BudgetLevel:
    """Values of ``agentmon.budget.level``: 80% of the budget spent, or all of it."""

    WARNING: Final = "warning"
    CRITICAL: Final = "critical"
