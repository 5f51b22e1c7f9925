"""``otel-agentmon demo``: a multi-agent workload against the local provider server,
instrumented as a user's would be, stored in the embedded store and reported on."""

from otel_agentmon.demo._runner import DEFAULT_STORE, DemoError, DemoOptions, run_demo

__all__ = ["DEFAULT_STORE", "DemoError", "DemoOptions", "run_demo"]
