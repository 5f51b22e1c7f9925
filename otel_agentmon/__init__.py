"""otel-agentmon: production monitoring for LLM agent systems, as an OpenTelemetry distribution.

Zero-code: ``opentelemetry-instrument python my_agent.py``. From code: ``otel_agentmon.configure()``.
"""

from importlib.metadata import PackageNotFoundError, version

from otel_agentmon._configure import configure, enriching_span_processor
from otel_agentmon._settings import ConfigurationError

try:
    __version__ = version("otel-agentmon")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["ConfigurationError", "configure", "enriching_span_processor", "__version__"]
