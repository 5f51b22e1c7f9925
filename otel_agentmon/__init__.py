"""otel-agentmon: production monitoring for LLM agent systems, as an OpenTelemetry distribution.

Zero-code: ``opentelemetry-instrument python my_agent.py``. From code: ``otel_agentmon.configure()``.
Hand-written agents: ``otel_agentmon.agent``, ``tool`` and ``workflow``; whom the work is for:
``otel_agentmon.attribution``; users' ratings of answers: ``otel_agentmon.feedback``.
"""

from importlib.metadata import PackageNotFoundError, version

from otel_agentmon._agents import AgentTimeoutError, agent, tool, workflow
from otel_agentmon._attribution import Attribution, AttributionSpanProcessor, attribution, current_attribution
from otel_agentmon._configure import configure, enriching_span_processor
from otel_agentmon.feedback import feedback, feedback_context
from otel_agentmon._settings import ConfigurationError
from otel_agentmon.budgets import BudgetExceededError

try:
    __version__ = version("otel-agentmon")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AgentTimeoutError",
    "Attribution",
    "AttributionSpanProcessor",
    "BudgetExceededError",
    "ConfigurationError",
    "agent",
    "attribution",
    "configure",
    "current_attribution",
    "enriching_span_processor",
    "feedback",
    "feedback_context",
    "tool",
    "workflow",
    "__version__",
]
