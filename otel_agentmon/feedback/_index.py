"""Which span answered with which ``gen_ai.response.id``, for ``feedback(response_id=...)``.

A span processor notes, as each span with a response id ends, its span context, agent,
application and user in a bounded LRU map (one per process, shared by every provider). Agent
names come from the nearest ``invoke_agent`` span above the call: the processor remembers the
agent of each running span inside an agent, and forgets it when the span ends.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, get_current_span

from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")

DEFAULT_CAPACITY = 10_000
# Response ids are provider tokens of a few dozen characters; anything longer is not kept.
MAX_RESPONSE_ID_LENGTH = 256
# Spans inside agents that started and have not ended; past this many (spans that are never
# ended), further ones are not tracked and their calls carry no agent name.
MAX_RUNNING = 10_000

_RESPONSE_ID = ga.RESPONSE_ID
_RESPONSE_ID_KEYS = frozenset({_RESPONSE_ID})
_AGENT_NAME = ga.AGENT_NAME
_OPERATION = ga.OPERATION_NAME
_INVOKE_AGENT = ga.Operation.INVOKE_AGENT
_APPLICATION = am.APPLICATION
_USER = ga.USER_ID


class RatedCall(NamedTuple):
    """What is known about a model call that feedback may rate."""

    span_context: SpanContext
    agent_name: str | None
    application: str | None
    user_id: str | None


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


class ResponseIndex:
    """A bounded LRU map from response id to a RatedCall, also found by (trace id, span id)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._calls: OrderedDict[str, RatedCall] = OrderedDict()
        self._by_span: dict[tuple[int, int], str] = {}  # always the keys of _calls' calls
        self._lock = threading.Lock()

    def add(self, response_id: str, call: RatedCall) -> None:
        span_key = (call.span_context.trace_id, call.span_context.span_id)
        calls = self._calls
        with self._lock:
            calls[response_id] = call
            calls.move_to_end(response_id)
            self._by_span[span_key] = response_id
            while len(calls) > self.capacity:
                _, old = calls.popitem(last=False)
                old_key = (old.span_context.trace_id, old.span_context.span_id)
                if self._by_span.get(old_key) not in calls:
                    self._by_span.pop(old_key, None)

    def by_response_id(self, response_id: str) -> RatedCall | None:
        with self._lock:
            call = self._calls.get(response_id)
            if call is not None:
                self._calls.move_to_end(response_id)
            return call

    def by_span(self, context: SpanContext) -> RatedCall | None:
        with self._lock:
            response_id = self._by_span.get((context.trace_id, context.span_id))
            call = self._calls.get(response_id) if response_id is not None else None
            if call is not None:
                self._calls.move_to_end(response_id)  # type: ignore[arg-type]
            return call

    def __len__(self) -> int:
        """How many calls are kept."""
        return len(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._by_span.clear()


# One per process: feedback() looks up calls whichever provider traced them.
INDEX = ResponseIndex()
# span id -> agent name, for spans inside an agent that have not ended yet.
RUNNING_AGENTS: dict[int, str] = {}


def running_agent(span_id: int) -> str | None:
    """The agent a span that has not ended yet runs inside, if the processor saw it start."""
    return RUNNING_AGENTS.get(span_id)


class FeedbackSpanProcessor(SpanProcessor):
    """Remembers which span answered with which ``gen_ai.response.id`` (the last 10,000 calls),
    so that ``otel_agentmon.feedback(rating, response_id=...)`` can tie a rating to its span.

    ``configure()`` and the ``agentmon`` configurator add it; add it yourself to a
    TracerProvider you build. Costs a name check as a span starts and a dict insert as a span
    with a response id ends.
    """

    def __init__(self) -> None:
        self._faulted = False

    def _fault(self) -> None:
        if not self._faulted:  # never break span creation; say so once
            self._faulted = True
            _logger.warning("otel-agentmon: could not note a span for feedback", exc_info=True)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            running = RUNNING_AGENTS
            if span.name.startswith(_INVOKE_AGENT):
                attributes = span.attributes
                name = _text(attributes.get(_AGENT_NAME))
                if name is not None and attributes.get(_OPERATION) == _INVOKE_AGENT:
                    if len(running) < MAX_RUNNING:
                        running[span.context.span_id] = name
                    return
            if not running:  # no agent running in this process: nothing to inherit
                return
            name = running.get(get_current_span(parent_context).get_span_context().span_id)
            if name is not None and len(running) < MAX_RUNNING:
                running[span.context.span_id] = name
        except Exception:
            self._fault()

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span.context
            agent = RUNNING_AGENTS.pop(context.span_id, None) if RUNNING_AGENTS else None
            attributes = span.attributes
            if _RESPONSE_ID_KEYS.isdisjoint(attributes):  # no KeyError raised inside for the common miss
                return
            response_id = _text(attributes.get(_RESPONSE_ID))
            if response_id is None or len(response_id) > MAX_RESPONSE_ID_LENGTH or context is None:
                return
            if agent is None:
                agent = _text(attributes.get(_AGENT_NAME))
            INDEX.add(response_id, RatedCall(context, agent, _text(attributes.get(_APPLICATION)),
                                             _text(attributes.get(_USER))))
        except Exception:
            self._fault()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
