"""JsonLinesLogExporter: OpenTelemetry log records appended to a local file, one JSON object
a line, for a process with no OTLP endpoint to send them to."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from datetime import datetime, timezone
from typing import IO, Any, Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from otel_agentmon._settings import AGENTMON_CALL_LOG_FILE, DEFAULT_CALL_LOG_FILE, ConfigurationError
from otel_agentmon.semconv import call_logs as cl
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")


def check_log_file(path: str | os.PathLike[str], source: str = AGENTMON_CALL_LOG_FILE) -> str:
    """The absolute path of a JSON-lines file that can be appended to; ConfigurationError
    naming ``source`` and the path otherwise. Nothing is created."""
    text = os.fspath(path)
    if not text.strip():
        raise ConfigurationError(f"{source} is empty; expected the path of a file such as {DEFAULT_CALL_LOG_FILE}")
    absolute = os.path.abspath(os.path.expanduser(text))
    if os.path.isdir(absolute):
        raise ConfigurationError(f"{source}={text!r} is a directory; expected the path of a file")
    folder = os.path.dirname(absolute)
    if not os.path.isdir(folder):
        raise ConfigurationError(f"{source}={text!r}: the folder {folder!r} does not exist")
    if os.path.exists(absolute):
        if not os.access(absolute, os.W_OK):
            raise ConfigurationError(f"{source}={text!r}: the file is not writable")
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{source}={text!r}: cannot create a file in {folder!r} (permission denied)")
    return absolute


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{(ns % 1_000_000_000) // 1000:06d}Z"


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity: such a number is written as null rather than breaking the line.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def to_line(record: ReadableLogRecord) -> str:
    """One log record as one line of JSON: timestamp, trace and span id, severity, event name,
    then the body's fields (a body that is not a map goes under ``body``) and any attribute
    the body does not already hold."""
    log = record.log_record
    line: dict[str, Any] = {cl.LINE_TIMESTAMP: _iso(log.timestamp if log.timestamp is not None else log.observed_timestamp)}
    if log.trace_id:
        line[cl.LINE_TRACE_ID] = format_trace_id(log.trace_id)
    if log.span_id:
        line[cl.LINE_SPAN_ID] = format_span_id(log.span_id)
    line[cl.LINE_SEVERITY] = log.severity_text or (log.severity_number.name if log.severity_number else None)
    if log.event_name:
        line[cl.LINE_EVENT_NAME] = log.event_name
    service = record.resource.attributes.get(ga.SERVICE_NAME) if record.resource is not None else None
    if service is not None:
        line[ga.SERVICE_NAME] = service
    body = log.body
    if isinstance(body, dict):
        for key, value in body.items():
            line.setdefault(key, value)
    elif body is not None:
        line[cl.LINE_BODY] = body
    for key, value in (log.attributes or {}).items():
        line.setdefault(key, value)
    try:
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(line), ensure_ascii=False, separators=(",", ":"), default=str)


class JsonLinesLogExporter(LogRecordExporter):
    """Appends each log record to ``path`` as one JSON object a line (see ``to_line``).

    ``path`` defaults to AGENTMON_CALL_LOG_FILE, else ``agentmon-calls.jsonl`` in the working
    directory at construction. A path that cannot be written raises ConfigurationError here;
    the file itself is opened at the first export, in append mode, and each batch is written
    with one write under a lock, so threads (and processes sharing the file) do not interleave
    lines. Use it under a BatchLogRecordProcessor: writes then happen on its worker thread.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            source, path = AGENTMON_CALL_LOG_FILE, os.environ.get(AGENTMON_CALL_LOG_FILE, "").strip() or DEFAULT_CALL_LOG_FILE
        else:
            source = "path"
        self.path = check_log_file(path, source)
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._closed = False
        self._warned = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if not batch:
            return LogRecordExportResult.SUCCESS
        text = "".join(to_line(record) + "\n" for record in batch)
        with self._lock:
            if self._closed:
                return LogRecordExportResult.FAILURE
            try:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open between batches
                self._file.write(text)
                self._file.flush()
            except OSError as exc:
                if not self._warned:  # a full disk must not fill the application's log either
                    self._warned = True
                    _logger.error("otel-agentmon: cannot write call log records to %s: %s", self.path, exc)
                return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is flushed to the file as it is written

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    pass
                self._file = None
