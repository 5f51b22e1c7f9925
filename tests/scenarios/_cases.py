"""Run workload cases under a ``case <name>`` parent span and record what the app saw."""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry import trace

tracer = trace.get_tracer("scenario")
outcomes: dict[str, str] = {}


def case(name: str, call: Callable[[], Any]) -> None:
    with tracer.start_as_current_span(f"case {name}"):
        try:
            result = call()
            if hasattr(result, "__iter__") and not hasattr(result, "model_dump"):
                for _ in result:  # a stream: consume it as the app would
                    pass
            outcomes[name] = "ok"
        except Exception as exc:  # the workload reports what the app saw
            outcomes[name] = type(exc).__name__
