"""The tracer and duration histograms of the agent, tool and workflow API.

Decorators run at import time, usually before the application sets its providers, and a
provider can be replaced later (tests do): so the tracer and the instruments are looked up
from the global providers when a span starts, and rebuilt only when a provider changed.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Tracer

from otel_agentmon._cardinality import CappedHistogram, capped_histogram
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

SCOPE = "otel_agentmon.agents"

try:
    from importlib.metadata import version

    _VERSION = version("otel-agentmon")
except Exception:  # a source tree that is not installed
    _VERSION = "0.0.0"

# operation -> (metric name, description, bucket boundaries)
_HISTOGRAMS = {
    ga.Operation.INVOKE_AGENT: (m.INVOKE_AGENT_DURATION, "Duration of agent invocations.",
                                m.INVOKE_AGENT_DURATION_BUCKETS),
    ga.Operation.EXECUTE_TOOL: (m.EXECUTE_TOOL_DURATION, "Duration of tool executions.", m.DURATION_BUCKETS),
    ga.Operation.INVOKE_WORKFLOW: (m.WORKFLOW_DURATION, "Duration of workflow invocations.",
                                   m.WORKFLOW_DURATION_BUCKETS),
}


def _histograms(provider: Any) -> dict[str, CappedHistogram]:
    meter = provider.get_meter(SCOPE, _VERSION)
    return {
        operation: capped_histogram(meter, name, provider, unit=m.UNIT_SECONDS, description=description,
                                          explicit_bucket_boundaries_advisory=list(buckets))
        for operation, (name, description, buckets) in _HISTOGRAMS.items()
    }


class AgentTelemetry:
    __slots__ = ("_tracing", "_metering")

    def __init__(self) -> None:
        # (provider, what was built from it), swapped as one tuple so that threads racing on a
        # provider change never pair one provider's tracer with another's
        self._tracing: tuple[Any, Tracer | None] = (None, None)
        self._metering: tuple[Any, dict[str, CappedHistogram] | None] = (None, None)

    def tracer(self) -> Tracer:
        provider = trace.get_tracer_provider()
        built_for, tracer = self._tracing
        if provider is not built_for or tracer is None:
            tracer = provider.get_tracer(SCOPE, _VERSION)
            self._tracing = (provider, tracer)
        return tracer

    def histogram(self, operation: str) -> CappedHistogram:
        provider = metrics.get_meter_provider()
        built_for, histograms = self._metering
        if provider is not built_for or histograms is None:
            histograms = _histograms(provider)
            self._metering = (provider, histograms)
        return histograms[operation]


TELEMETRY = AgentTelemetry()
