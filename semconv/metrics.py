"""Metric names, units and bucket boundaries (GenAI conventions plus ours)."""

from typing import Final

# --- upstream GenAI client metrics ------------------------------------------------------
CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # s
CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # {token}
CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"  # s
INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"  # s
EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"  # s
WORKFLOW_DURATION: Final = "gen_ai.workflow.duration"  # s

# --- ours ---------------------------------------------------------------------------------
COST: Final = "agentmon.cost"  # counter, USD, on inference operations only
ERRORS: Final = "agentmon.errors"  # counter, {error}, by category and severity
BUDGET_EVENTS: Final = "agentmon.budget.events"  # counter, {event}, by budget scope, period and level
QUALITY_SCORE: Final = "agentmon.quality.score"  # histogram, {score} in [0, 1], by evaluation name
QUALITY_DRIFT: Final = "agentmon.quality.drift"  # gauge, {score}: rolling-window mean minus baseline mean
EVALUATIONS_DROPPED: Final = "agentmon.evaluation.dropped"  # counter, {evaluation}: queue full
EVALUATION_ERRORS: Final = "agentmon.evaluation.errors"  # counter, {error}: an evaluator raised
SPANS_DROPPED: Final = "agentmon.spans.dropped"  # counter, {span}: never exported, by error.type
FEEDBACK_RATING: Final = "agentmon.feedback.rating"  # histogram, {rating} 1..5: users' ratings of answers

# The attribute of the overflow series: measurements whose attribute set came after an
# instrument's cardinality limit (AGENTMON_METRICS_CARDINALITY_LIMIT) was reached carry only it.
METRIC_OVERFLOW: Final = "otel.metric.overflow"

UNIT_SECONDS: Final = "s"
UNIT_TOKENS: Final = "{token}"
UNIT_USD: Final = "USD"
UNIT_ERRORS: Final = "{error}"
UNIT_EVENTS: Final = "{event}"
UNIT_SCORE: Final = "{score}"
UNIT_EVALUATIONS: Final = "{evaluation}"
UNIT_SPANS: Final = "{span}"
UNIT_RATING: Final = "{rating}"

# error.type values of agentmon.spans.dropped: why a finished span was never exported.
DROPPED_QUEUE_FULL: Final = "queue_full"  # the export queue was full when the span ended
DROPPED_EXPORT_FAILED: Final = "export_failed"  # the exporter kept failing past the retry limit
DROPPED_SHUTDOWN: Final = "shutdown"  # still unsent when shutdown (or a flush) ran out of time

# Explicit bucket boundaries the GenAI conventions advise.
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
INVOKE_AGENT_DURATION_BUCKETS: Final = (
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
)
WORKFLOW_DURATION_BUCKETS: Final = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
TOKEN_USAGE_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
# Quality scores are in [0, 1]; tenths are fine enough for a threshold or a trend.
QUALITY_SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# User ratings are whole numbers from 1 to 5 (thumbs down = 1, thumbs up = 5): one bucket each.
FEEDBACK_RATING_BUCKETS: Final = (1, 2, 3, 4, 5)
LOW_RATING_MAX: Final = 2  # ratings up to this one are "low" (what the feedback alert counts)

# User feedback is a gen_ai.evaluation.result event (upstream attributes) with these values:
# the gen_ai.evaluation.name, and the gen_ai.evaluation.score.label by rating.
FEEDBACK_EVALUATION_NAME: Final = "user_feedback"


class FeedbackLabel:
    """Values of ``gen_ai.evaluation.score.label`` on user feedback."""

    LOW: Final = "low"  # rating <= LOW_RATING_MAX
    NEUTRAL: Final = "neutral"  # rating 3
    HIGH: Final = "high"  # rating >= 4
