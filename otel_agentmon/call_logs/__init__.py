"""Structured call logs: one OpenTelemetry log record per model call, tool call and agent run.

Off by default; ``AGENTMON_CALL_LOGS=true`` (or ``configure(call_logs=True)``) adds one more
span pipeline, ``RetryingBatchSpanProcessor(EnrichingSpanExporter(CallLogExporter(...)))``:
on its export thread each finished model, tool and agent span, enriched like every exported
span, becomes an ``agentmon.call`` log record tied to the span (trace id, span id), with its
model, tokens, cost, duration, error category and attribution; message content only while
content capture is on, redacted. Records go through the logs signal (OTLP under
``opentelemetry-instrument``), or, when no OTLP endpoint is set, to a JSON-lines file
(``JsonLinesLogExporter``; AGENTMON_CALL_LOG_FILE, default ``agentmon-calls.jsonl``).
"""

from otel_agentmon.call_logs._exporter import CONTENT_FIELDS, FIELDS, CallLogExporter, call_kind
from otel_agentmon.call_logs._jsonl import JsonLinesLogExporter, check_log_file, to_line
from otel_agentmon.call_logs._setup import (
    CallLogPlan,
    add_call_logs,
    call_log_processor,
    file_logger_provider,
    logs_have_a_destination,
    plan_call_logs,
)

__all__ = [
    "CONTENT_FIELDS",
    "FIELDS",
    "CallLogExporter",
    "CallLogPlan",
    "JsonLinesLogExporter",
    "add_call_logs",
    "call_kind",
    "call_log_processor",
    "check_log_file",
    "file_logger_provider",
    "logs_have_a_destination",
    "plan_call_logs",
    "to_line",
]
