"""Every name otel-agentmon writes or reads: attributes, span names, metrics, error categories.

Semantic conventions churn, so these modules are the only place a name is spelled out;
everything else imports it from here. ``gen_ai`` holds the upstream OpenTelemetry GenAI
names we follow (pinned), ``agentmon`` our additions (also described, machine-readably, in
``registry.yaml``), ``errors`` the closed sets of error categories and severities, and
``metrics`` the metric names with their bucket boundaries.
"""

from otel_agentmon.semconv import agentmon, errors, gen_ai, metrics
from otel_agentmon.semconv.errors import ErrorCategory, ErrorSeverity

__all__ = ["agentmon", "errors", "gen_ai", "metrics", "ErrorCategory", "ErrorSeverity"]
