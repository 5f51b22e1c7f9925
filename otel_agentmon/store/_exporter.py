"""Exporters that keep GenAI spans and evaluation results in the local store."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
from typing import Any, Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

try:  # the SDK renamed these in 1.39; keep working on either name
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # pragma: no cover - older SDKs
    from opentelemetry.sdk._logs.export import LogExporter as LogRecordExporter  # type: ignore[no-redef]
    from opentelemetry.sdk._logs.export import LogExportResult as LogRecordExportResult  # type: ignore[no-redef]

from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store import _rows
from otel_agentmon.store._schema import (
    EVALUATION_COLUMNS,
    EVALUATION_DIMENSIONS,
    EVALUATION_MEASURES,
    LATENCY_DIMENSIONS,
    MEASURES,
    OWNER_DIMENSIONS,
    RATING_DIMENSIONS,
    SPAN_COLUMNS,
    USAGE_DIMENSIONS,
    StoreError,
    describe,
    open_writer,
    resolve_path,
)

_logger = logging.getLogger("otel_agentmon")

_SERVICE_NAME = ga.SERVICE_NAME


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _upsert(table: str, dimensions: Sequence[str], measures: Sequence[str]) -> str:
    columns = ("bucket_seconds", "bucket_start", *dimensions, *measures)
    key = ", ".join(("bucket_seconds", "bucket_start", *dimensions))
    updates = ", ".join(f"{m} = {m} + excluded.{m}" for m in measures)
    return f"{_insert(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}"


_INSERT_SPAN = _insert("spans", SPAN_COLUMNS)
_INSERT_EVALUATION = _insert("evaluations", EVALUATION_COLUMNS)
_UPSERT_USAGE = _upsert("usage_rollup", USAGE_DIMENSIONS, MEASURES)
_UPSERT_OWNER = _upsert("owner_rollup", OWNER_DIMENSIONS, MEASURES)
_UPSERT_LATENCY = _upsert("latency_rollup", LATENCY_DIMENSIONS, ("count",))
_UPSERT_EVALUATION = _upsert("evaluation_rollup", EVALUATION_DIMENSIONS, EVALUATION_MEASURES)
_UPSERT_RATING = _upsert("rating_rollup", RATING_DIMENSIONS, ("count",))


class _Writer:
    """One connection per exporter and process, opened at the first export; every write is one
    transaction. Faults are logged (once per kind of problem) and reported as False."""

    def __init__(self, path: str | os.PathLike[str] | None, what: str) -> None:
        self.path = resolve_path(path)
        self._what = what
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._closed = False
        self._logged: set[str] = set()

    def _log_once(self, message: str) -> None:
        key = message.split(" (", 1)[0]
        if key not in self._logged:
            self._logged.add(key)
            _logger.error("otel-agentmon: %s; %s are not stored", message, self._what)

    def write(self, work: Callable[[sqlite3.Connection], None]) -> bool:
        with self._lock:
            if self._closed:
                return False
            try:
                connection = self._connect()
                connection.execute("BEGIN IMMEDIATE")
                try:
                    work(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
                return True
            except StoreError as exc:
                self._log_once(str(exc))
            except sqlite3.Error as exc:
                self._log_once(str(describe(self.path, exc)))
            except Exception as exc:  # never raise into the SDK's export thread
                self._log_once(f"store {self.path}: {type(exc).__name__}: {exc}")
            return False

    def _connect(self) -> sqlite3.Connection:
        pid = os.getpid()
        if self._connection is not None and self._pid != pid:
            self._connection = None  # inherited across fork(): never reuse the parent's connection
        if self._connection is None:
            self._connection = open_writer(self.path)
            self._pid = pid
        return self._connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None and self._pid == os.getpid():
                try:
                    self._connection.close()
                except sqlite3.Error:
                    pass
            self._connection = None


class StoreSpanExporter(SpanExporter):
    """Keeps GenAI spans (model calls, agent runs, tool calls, workflows) with their derived
    cost, error category and quality flag in the local store; other spans are ignored.

    ``path`` defaults to ``AGENTMON_STORE_PATH``, else ``~/.local/share/otel-agentmon/agentmon.db``;
    the file and its folders are created at the first export. Use it beside OTLP or alone:
    ``OTEL_TRACES_EXPORTER=otlp,agentmon_store`` under ``opentelemetry-instrument`` (the
    configurator enriches spans before any exporter sees them), or by hand under the SDK's
    BatchSpanProcessor, wrapped like any exporter::

        provider.add_span_processor(BatchSpanProcessor(EnrichingSpanExporter(StoreSpanExporter())))

    A span that reaches it without derivations (a model call with no cost status, a failure
    with no category) is enriched here with the process-wide settings, so the store never
    holds a model call without its cost status. Each ``export`` is one transaction; several
    processes may write to the same file. Faults (a file that cannot be created, a disk that
    is full) are logged once and reported as FAILURE, never raised.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._writer = _Writer(path, "spans")
        self._services: dict[int, tuple[Any, str | None]] = {}

    @property
    def path(self) -> str:
        return self._writer.path

    def _service(self, span: ReadableSpan) -> str | None:
        resource = span.resource
        if resource is None:
            return None
        cached = self._services.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        value = resource.attributes.get(_SERVICE_NAME)
        service = value if isinstance(value, str) and value else None
        if len(self._services) > 64:
            self._services.clear()
        self._services[id(resource)] = (resource, service)
        return service

    def rows(self, spans: Sequence[ReadableSpan]) -> list[tuple]:
        """The ``spans`` rows of the GenAI spans among ``spans`` (the others are skipped)."""
        rows = []
        enricher = None
        for span in spans:
            attributes = _rows.attribute_dict(span)
            operation = _rows.operation_of(attributes)
            if operation is None:
                continue
            if _rows.needs_enrichment(attributes, operation, _rows.is_failed(span)):
                if enricher is None:
                    from otel_agentmon._runtime import current_enricher

                    enricher = current_enricher()
                span = enricher.enrich(span)
                attributes = _rows.attribute_dict(span)
            rows.append(_rows.span_row(span, attributes, operation, self._service(span)))
        return rows

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            rows = self.rows(spans)
        except Exception as exc:  # a span shaped in a way nobody foresaw: never raise into the SDK
            self._writer._log_once(f"could not read spans for the store ({type(exc).__name__}: {exc})")
            return SpanExportResult.FAILURE
        if not rows:
            return SpanExportResult.SUCCESS
        rollups = _rows.Rollups()
        rollups.add_spans(rows)

        def work(connection: sqlite3.Connection) -> None:
            connection.executemany(_INSERT_SPAN, rows)
            connection.executemany(_UPSERT_USAGE, rollups.rows("usage"))
            connection.executemany(_UPSERT_OWNER, rollups.rows("owner"))
            connection.executemany(_UPSERT_LATENCY, rollups.rows("latency"))

        return SpanExportResult.SUCCESS if self._writer.write(work) else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is committed before it returns


def _evaluation_row(record: Any) -> tuple | None:
    log_record = getattr(record, "log_record", record)
    if getattr(log_record, "event_name", None) != ga.EVALUATION_RESULT_EVENT:
        return None
    attributes = log_record.attributes or {}
    name = attributes.get(ga.EVALUATION_NAME)
    score = attributes.get(ga.EVALUATION_SCORE_VALUE)
    if not isinstance(name, str) or not name:
        return None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return None
    when = log_record.timestamp or log_record.observed_timestamp or 0
    trace_id = log_record.trace_id
    span_id = log_record.span_id
    resource = getattr(record, "resource", None)
    service = resource.attributes.get(_SERVICE_NAME) if resource is not None else None
    label = attributes.get(ga.EVALUATION_SCORE_LABEL)
    model = attributes.get(ga.REQUEST_MODEL)
    provider = attributes.get(ga.PROVIDER_NAME)
    application = attributes.get(am.APPLICATION)
    agent = attributes.get(ga.AGENT_NAME)
    user = attributes.get(ga.USER_ID)
    response_id = attributes.get(ga.RESPONSE_ID)
    return (
        int(when),
        format(trace_id, "032x") if trace_id else None,
        format(span_id, "016x") if span_id else None,
        service if isinstance(service, str) and service else None,
        name,
        float(score),
        label if isinstance(label, str) else None,
        model if isinstance(model, str) else None,
        provider if isinstance(provider, str) else None,
        application if isinstance(application, str) else None,
        agent if isinstance(agent, str) else None,
        user if isinstance(user, str) else None,
        response_id if isinstance(response_id, str) else None,
    )


class StoreLogExporter(LogRecordExporter):
    """Keeps ``gen_ai.evaluation.result`` events (quality scores) in the local store; other log
    records are ignored. ``path`` as for StoreSpanExporter:
    ``OTEL_LOGS_EXPORTER=otlp,agentmon_store``, or by hand under a BatchLogRecordProcessor."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._writer = _Writer(path, "evaluation results")

    @property
    def path(self) -> str:
        return self._writer.path

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        try:
            rows = [row for row in map(_evaluation_row, batch) if row is not None]
        except Exception as exc:
            self._writer._log_once(f"could not read log records for the store ({type(exc).__name__}: {exc})")
            return LogRecordExportResult.FAILURE
        if not rows:
            return LogRecordExportResult.SUCCESS
        rollup = _rows.evaluation_rollup_rows(rows)
        ratings = _rows.rating_rollup_rows(rows)

        def work(connection: sqlite3.Connection) -> None:
            connection.executemany(_INSERT_EVALUATION, rows)
            connection.executemany(_UPSERT_EVALUATION, rollup)
            connection.executemany(_UPSERT_RATING, ratings)

        return LogRecordExportResult.SUCCESS if self._writer.write(work) else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
