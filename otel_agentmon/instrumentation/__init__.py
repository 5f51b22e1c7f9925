"""otel-agentmon's instrumentors for model SDKs (openai, anthropic).

Each is an ``opentelemetry_instrumentor`` entry point (``agentmon_openai``,
``agentmon_anthropic``) and a BaseInstrumentor: ``OpenAIInstrumentor().instrument()`` and
``.uninstrument()``. Spans follow the GenAI conventions; metrics are the GenAI client metrics
plus otel-agentmon's cost and error counters.
"""

from otel_agentmon.instrumentation._recorder import flush_metrics

__all__ = ["flush_metrics"]
