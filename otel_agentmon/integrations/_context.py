"""Making a framework's current step the current OpenTelemetry span, and undoing it.

Frameworks report a step's start and end through callbacks; the model SDK calls inside the
step must see the step's span as current so that our (or any) instrumentor nests its spans
under it. The callbacks normally run in the context that runs the step, but not always (a
generator finalized by the garbage collector, a callback run in another task): undoing an
attachment from another context must then be a quiet no-op, not an error log per call.
"""

from __future__ import annotations

import contextvars
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span


def attach(span: Span, base: Context | None = None) -> object:
    """Make ``span`` current (over ``base``, or the current context); returns the token."""
    return otel_context.attach(trace.set_span_in_context(span, base))


def detach(token: Any) -> None:
    """Undo :func:`attach` when called from the context that attached; else do nothing."""
    if isinstance(token, contextvars.Token):
        # The default runtime context hands out contextvars tokens; resetting one from another
        # context raises ValueError (and a token used twice, RuntimeError): the attachment then
        # ends with the context that holds it, so there is nothing left to undo here.
        try:
            token.var.reset(token)
        except (ValueError, RuntimeError):
            pass
        return
    otel_context.detach(token)  # another runtime context implementation: its own rules
