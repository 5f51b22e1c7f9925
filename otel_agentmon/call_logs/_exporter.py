"""CallLogExporter: a SpanExporter that writes one log record per model call, tool call and
agent run, from the enriched span (so the record carries exactly the span's cost, error
category and attribution)."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Sequence

from opentelemetry import trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger, get_logger_provider
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import NonRecordingSpan, StatusCode

from otel_agentmon import __version__
from otel_agentmon.instrumentation._content import DEFAULT_MAX_BYTES, bounded_json, capture_enabled
from otel_agentmon.processors._usage import is_inference
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import call_logs as cl
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")

# The span attributes a record carries, when the span has them (body and record attributes).
FIELDS: tuple[str, ...] = (
    ga.OPERATION_NAME,
    ga.PROVIDER_NAME,
    ga.REQUEST_MODEL,
    ga.RESPONSE_MODEL,
    ga.RESPONSE_ID,
    ga.USAGE_INPUT_TOKENS,
    ga.USAGE_OUTPUT_TOKENS,
    ga.USAGE_CACHE_READ_INPUT_TOKENS,
    ga.USAGE_REASONING_OUTPUT_TOKENS,
    am.COST_AMOUNT,
    am.COST_CURRENCY,
    am.COST_STATUS,
    ga.AGENT_NAME,
    ga.TOOL_NAME,
    ga.CONVERSATION_ID,
    ga.ERROR_TYPE,
    am.ERROR_CATEGORY,
    am.ERROR_SEVERITY,
    ga.USER_ID,
    am.DEPARTMENT,
    am.APPLICATION,
    ga.SERVER_ADDRESS,
)

# Message content: in the body only, and only while content capture is on.
CONTENT_FIELDS: tuple[str, ...] = (
    ga.INPUT_MESSAGES,
    ga.OUTPUT_MESSAGES,
    ga.SYSTEM_INSTRUCTIONS,
    ga.TOOL_CALL_ARGUMENTS,
    ga.TOOL_CALL_RESULT,
)

_AGENT = ga.Operation.INVOKE_AGENT
_TOOL = ga.Operation.EXECUTE_TOOL


def call_kind(attributes: Mapping[str, Any]) -> str | None:
    """``model``, ``tool`` or ``agent`` for the spans that get a record; None for the others."""
    operation = attributes.get(ga.OPERATION_NAME)
    if operation == _AGENT:
        return cl.CallKind.AGENT
    if operation == _TOOL:
        return cl.CallKind.TOOL
    # the same test as pricing: spans of other instrumentors (legacy names too) count alike
    if is_inference(attributes):
        return cl.CallKind.MODEL
    return None


def _content(value: Any) -> Any:
    """Captured content, redacted and bounded again: spans of other instrumentors may carry it
    raw, and ours are already redacted (redaction leaves its own marks as they are)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)  # the conventions' JSON string: keep its structure
        except ValueError:
            pass
    bounded = bounded_json(value, DEFAULT_MAX_BYTES)
    return None if bounded is None else json.loads(bounded)


def _plain(value: Any) -> Any:
    # Attribute sequences are tuples; a log body is a plain JSON-like value.
    return list(value) if isinstance(value, tuple) else value


class CallLogExporter(SpanExporter):
    """Emits one ``agentmon.call`` log record per finished model, tool and agent span.

    Put it under an EnrichingSpanExporter (``call_log_processor`` does) so records carry the
    derived cost and error category. Records go to ``logger_provider`` (the global one when
    None), tied to the span (trace id, span id, flags). ``capture_content`` (default: what
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says) adds the span's message content,
    redacted and at most 16 KiB a field. A span that cannot be turned into a record is
    skipped, logged once; export never fails.
    """

    def __init__(
        self,
        logger_provider: LoggerProvider | None = None,
        *,
        capture_content: bool | None = None,
        owns_logger_provider: bool = False,
    ) -> None:
        self.logger_provider = logger_provider
        self.capture_content = capture_enabled() if capture_content is None else capture_content
        # a provider made for this exporter alone (the JSON-lines file) is shut down with it
        self._owns_provider = owns_logger_provider and logger_provider is not None
        self._logger = get_logger(cl.INSTRUMENTATION_SCOPE, __version__, logger_provider=logger_provider)
        self._warned = False

    def record(self, span: ReadableSpan) -> tuple[dict[str, Any], dict[str, Any], bool] | None:
        """(body, attributes, failed) of the record for ``span``; None when it gets none."""
        attributes = span.attributes or {}
        kind = call_kind(attributes)
        if kind is None:
            return None
        status = span.status
        failed = (status is not None and status.status_code is StatusCode.ERROR) or ga.ERROR_TYPE in attributes
        duration = None
        if span.start_time is not None and span.end_time is not None:
            duration = round(max(0, span.end_time - span.start_time) / 1e9, 6)
        body: dict[str, Any] = {
            cl.KIND: kind,
            cl.NAME: span.name,
            cl.DURATION: duration,
            cl.STATUS: cl.CallStatus.ERROR if failed else cl.CallStatus.OK,
        }
        fields: dict[str, Any] = {}
        for key in FIELDS:
            value = attributes.get(key)
            if value is not None:
                fields[key] = _plain(value)
        body.update(fields)
        if self.capture_content:
            for key in CONTENT_FIELDS:
                value = attributes.get(key)
                if value is not None:
                    content = _content(value)
                    if content is not None:
                        body[key] = content
        return body, fields, failed

    def _emit(self, span: ReadableSpan) -> None:
        record = self.record(span)
        if record is None:
            return
        body, fields, failed = record
        context = None
        span_context = span.context
        if span_context is not None and span_context.is_valid:
            context = trace.set_span_in_context(NonRecordingSpan(span_context), Context())
        self._logger.emit(
            timestamp=span.end_time,
            context=context,
            severity_number=SeverityNumber.WARN if failed else SeverityNumber.INFO,
            severity_text="WARN" if failed else "INFO",
            event_name=cl.CALL_LOG_EVENT,
            body=body,
            # the same fields as attributes, for backends that filter on attributes only;
            # content stays in the body (nobody filters on it, and it is the bulk)
            attributes=fields,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            try:
                self._emit(span)
            except Exception:  # one odd span must not cost the others their records
                if not self._warned:
                    self._warned = True
                    _logger.exception("otel-agentmon: could not write the call log record of span %r", span.name)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the LoggerProvider the records go to (the API's own providers have no flush)."""
        provider = self.logger_provider if self.logger_provider is not None else get_logger_provider()
        flush = getattr(provider, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True

    def shutdown(self) -> None:
        if self._owns_provider:
            shutdown = getattr(self.logger_provider, "shutdown", None)
            if shutdown is not None:
                shutdown()
