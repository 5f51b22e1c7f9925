"""The otel-agentmon derivations for the OpenTelemetry Collector: ``collector_config()`` writes
the Collector configuration (OTTL in the transform processor, connectors for metrics) from the
same price table, error rules and sampling rule the Python processors use."""

from otel_agentmon.collector._generate import collector_config
from otel_agentmon.collector._prices import DEFAULT_MODELS, PriceTableError

__all__ = ["DEFAULT_MODELS", "PriceTableError", "collector_config"]
