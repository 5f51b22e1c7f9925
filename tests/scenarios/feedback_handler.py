"""Process B of the feedback test, run under ``opentelemetry-instrument`` after process A has
exited: a web handler receiving the user's thumbs down (with the traceparent A handed out) and,
from an older client, a rating that only names A's response id. Reads A's JSON on stdin.
"""

from __future__ import annotations

import json
import sys

from opentelemetry import trace

import otel_agentmon

tracer = trace.get_tracer("feedback-web")


def handle_post(body: dict) -> None:
    """POST /feedback, as a web framework would run it: inside its own request span."""
    with tracer.start_as_current_span("POST /feedback"):
        otel_agentmon.feedback(body["rating"], body.get("comment"), response_id=body.get("response_id"),
                               span_context=body.get("traceparent"), user_id=body.get("user_id"))


given = json.loads(sys.stdin.read())
handle_post({"rating": "down", "comment": "wrong city", "traceparent": given["traceparent"], "user_id": "u-42"})
handle_post({"rating": 3, "response_id": given["response_id"]})
print("ok")
