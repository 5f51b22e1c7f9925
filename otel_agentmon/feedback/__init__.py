"""User feedback tied to the traced interaction: ``feedback(rating, comment, response_id=...)``.

A rating (1 to 5, or a thumbs up / down) becomes a ``gen_ai.evaluation.result`` log record
(``gen_ai.evaluation.name`` "user_feedback") tied to the span of the model call it rates, and a
point of the ``agentmon.feedback.rating`` histogram. The call is found by the response id the
application received (in this process, through ``FeedbackSpanProcessor``) or by the traceparent
``feedback_context()`` handed out with the answer (in any process).
"""

from otel_agentmon.feedback._api import feedback, feedback_context
from otel_agentmon.feedback._index import FeedbackSpanProcessor

__all__ = ["FeedbackSpanProcessor", "feedback", "feedback_context"]
