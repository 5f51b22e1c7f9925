"""``feedback()`` and ``feedback_context()``."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext

from otel_agentmon._attribution import _service_name, current_attribution
from otel_agentmon._validation import check_optional_text
from otel_agentmon.feedback import _index, _telemetry
from otel_agentmon.feedback._index import RatedCall
from otel_agentmon.feedback._rating import parse_rating, score_label
from otel_agentmon.feedback._target import format_traceparent, span_context_of
from otel_agentmon.instrumentation._content import capture_enabled, redact
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

# Comments are bounded like evaluation explanations; a longer one is cut before redaction
# too, so a huge comment costs no more than a long one.
MAX_COMMENT_CHARS = 1024


def _comment(text: str) -> str:
    text = redact(text[: 4 * MAX_COMMENT_CHARS]) or ""
    return text if len(text) <= MAX_COMMENT_CHARS else text[: MAX_COMMENT_CHARS - 1] + "\u2026"


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _default_application() -> str | None:
    """The metric label when the rated call's application is not known: service.name, as on
    every other agentmon metric."""
    resource = getattr(trace.get_tracer_provider(), "resource", None)
    return _service_name(resource) if resource is not None else None


def _running_call(span: Span, context: SpanContext) -> RatedCall:
    """What the current span itself says (it has not ended, so it is not in the index)."""
    attributes = getattr(span, "attributes", None) or {}
    agent = _text(attributes.get(ga.AGENT_NAME)) or _index.running_agent(context.span_id)
    return RatedCall(context, agent, _text(attributes.get(am.APPLICATION)), _text(attributes.get(ga.USER_ID)))


def feedback(rating: int | bool | str, comment: str | None = None, *, response_id: str | None = None,
             span_context: SpanContext | str | None = None, user_id: str | None = None) -> None:
    """Record a user's rating of an answer, tied to the model call (span) that produced it.

    ``rating``: an int from 1 (bad) to 5 (good), or a thumbs: ``True``, ``"up"``,
    ``"thumbs_up"``, ``"+1"`` are 5; ``False``, ``"down"``, ``"thumbs_down"``, ``"-1"`` are 1.
    What is rated: ``response_id``, the ``.id`` of the openai / anthropic response (found among
    this process's last 10,000 calls), or ``span_context``, an ``opentelemetry.trace.SpanContext``
    or the W3C traceparent string ``feedback_context()`` returned (from any process); with
    neither, the current span. ``comment`` is recorded only when message content capture is on
    (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT), redacted and cut to 1,024 characters.
    ``user_id`` defaults to the rated call's user.

    Emits a ``gen_ai.evaluation.result`` log record (``gen_ai.evaluation.name`` "user_feedback",
    score = the rating, label low / neutral / high) with the rated span's trace and span ids,
    and a point of the ``agentmon.feedback.rating`` histogram.

    A bad rating, a malformed traceparent, or a ``response_id`` / ``user_id`` that is not a
    non-empty printable str of at most 256 characters raise ValueError or TypeError. Anything
    else never raises: an unknown response id is recorded without a span link (logged once),
    and telemetry faults are logged once.
    """
    value = parse_rating(rating)
    if comment is not None and not isinstance(comment, str):
        raise TypeError(f"feedback(): comment must be a str or None, not {type(comment).__name__}")
    response_id = check_optional_text(response_id, "feedback(): response_id")
    user_id = check_optional_text(user_id, "feedback(): user_id")
    target = span_context_of(span_context) if span_context is not None else None
    try:
        call = _index.INDEX.by_response_id(response_id) if response_id is not None else None
        if target is not None:
            call = call or _index.INDEX.by_span(target)
        elif call is not None:
            target = call.span_context
        elif response_id is not None:
            if span_context is None:
                _telemetry.warn_once(
                    "unknown_response_id",
                    "otel-agentmon: feedback for response id %r, which this process has not seen (made in another "
                    "process, or one of more than the last 10,000 calls): recorded with gen_ai.response.id but not "
                    "tied to its span. Pass span_context= (the traceparent feedback_context() returned when the "
                    "answer was given) instead", response_id)
        elif span_context is None:
            span = trace.get_current_span()
            current = span.get_span_context()
            if current.is_valid:
                target = current
                call = _index.INDEX.by_span(current) or _running_call(span, current)
        attribution = current_attribution()
        attributes: dict[str, Any] = {
            ga.EVALUATION_NAME: m.FEEDBACK_EVALUATION_NAME,
            ga.EVALUATION_SCORE_VALUE: float(value),
            ga.EVALUATION_SCORE_LABEL: score_label(value),
        }
        if comment and capture_enabled():
            attributes[ga.EVALUATION_EXPLANATION] = _comment(comment)
        if response_id is not None:
            attributes[ga.RESPONSE_ID] = response_id
        user = user_id or (call.user_id if call else None) or attribution.user_id
        if user is not None:
            attributes[ga.USER_ID] = user
        application = (call.application if call else None) or attribution.application
        if application is not None:
            attributes[am.APPLICATION] = application
        agent = call.agent_name if call else None
        if agent is not None:
            attributes[ga.AGENT_NAME] = agent
        if application is None:
            application = _default_application()
    except Exception:
        _telemetry.warn_once("fault", "otel-agentmon: could not record feedback", exc_info=True)
        return
    _telemetry.record(value, target, attributes, application, agent)


def feedback_context(response_id: str | None = None) -> str | None:
    """The W3C traceparent string to hand to ``feedback(span_context=...)`` later, in any process.

    With ``response_id`` (the ``.id`` of a response this process received): the span of that
    model call; otherwise, or when the id is not known here, the current span. None when there
    is neither (no tracing set up). Keep it with the answer (send it to the frontend) and pass
    it back with the user's rating. Never raises.
    """
    try:
        if isinstance(response_id, str):
            call = _index.INDEX.by_response_id(response_id)
            if call is not None:
                return format_traceparent(call.span_context)
        context = trace.get_current_span().get_span_context()
        return format_traceparent(context) if context.is_valid else None
    except Exception:
        _telemetry.warn_once("context_fault", "otel-agentmon: could not read the span for feedback_context()",
                             exc_info=True)
        return None
