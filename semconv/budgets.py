"""Names of the budget events (the metric that counts them is ``metrics.BUDGET_EVENTS``).

The attributes these events carry (``agentmon.budget.*``) are in ``agentmon`` beside the
other attributes, described in ``registry.yaml``.
"""

from typing import Final

# The event name of the OpenTelemetry log record emitted when a budget reaches a level.
THRESHOLD_EVENT: Final = "agentmon.budget.threshold"

# Counter of those events, by agentmon.budget.scope, .period and .level (no owner: user ids
# are not metric labels; the owner is on the log record): the metric names live in ``metrics``.

# The logger / meter scope budget telemetry is emitted under.
INSTRUMENTATION_SCOPE: Final = "otel_agentmon.budgets"
