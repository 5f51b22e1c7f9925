"""Names of the structured call log: one OpenTelemetry log record per model call, tool call
and agent run (``otel_agentmon.call_logs``, turned on by AGENTMON_CALL_LOGS).

The record's body is a map: the fields below, then the span's attributes under their own
semantic-convention names (``gen_ai``, ``agentmon``). Those attributes are described in
``registry.yaml``; these names are the record's own, kept apart so that ``agentmon`` holds
attributes only.
"""

from typing import Final

# The event name of the log record.
CALL_LOG_EVENT: Final = "agentmon.call"

# The logger scope the records are emitted under.
INSTRUMENTATION_SCOPE: Final = "otel_agentmon.call_logs"

# Body fields of every record.
KIND: Final = "kind"  # what was called: a model, a tool, an agent (CallKind)
NAME: Final = "name"  # the span name, e.g. "chat gpt-4o-mini"
DURATION: Final = "duration_s"  # span end minus span start, in seconds
STATUS: Final = "status"  # "ok" or "error" (CallStatus)


class CallKind:
    """Values of ``kind``."""

    MODEL: Final = "model"
    TOOL: Final = "tool"
    AGENT: Final = "agent"


class CallStatus:
    """Values of ``status``."""

    OK: Final = "ok"
    ERROR: Final = "error"


# Top-level keys of a line of the JSON-lines file besides the body fields.
LINE_TIMESTAMP: Final = "timestamp"  # ISO-8601 UTC, the span's end
LINE_TRACE_ID: Final = "trace_id"  # 32 lowercase hex digits
LINE_SPAN_ID: Final = "span_id"  # 16 lowercase hex digits
LINE_SEVERITY: Final = "severity"  # INFO, or WARN when the call failed
LINE_EVENT_NAME: Final = "event_name"
LINE_BODY: Final = "body"  # only for records whose body is not a map
