"""The store's SQLite schema, and opening it for writing (exporters, prune) or reading (reports).

One file, WAL journal: readers never wait for the writer, and writer processes take turns
under a busy timeout. Every export batch is one transaction that adds the raw rows and
updates the rollups, so the rollups always add up to what was stored.

Tables (``PRAGMA user_version`` = ``SCHEMA_VERSION``; a writer brings an older store up to
date as it opens it, see ``MIGRATIONS``):

``spans``
    one row per GenAI span (inference, invoke_agent, execute_tool, invoke_workflow).
``evaluations``
    one row per ``gen_ai.evaluation.result`` event.
``usage_rollup``
    calls, errors, tokens, cost and duration by time bucket, service, operation, provider,
    model, agent, tool and error category/severity: every span kind.
``owner_rollup``
    the same measures for model calls only, by time bucket, service, application,
    department and user: chargeback, budgets, cost anomalies.
``latency_rollup``
    span counts by time bucket, kind (model, agent, tool), name and log-scale duration
    bucket: percentiles.
``evaluation_rollup``
    evaluation count and score sum by time bucket, service and evaluation name.
``rating_rollup``
    user feedback ratings (evaluations named ``user_feedback``) counted by time bucket, service
    and rating (the score rounded to a whole star, 1 to 5): the distribution over pruned days.
``meta``
    key/value: ``pruned_before`` (unix seconds; raw rows before it were pruned).

Every rollup row has ``bucket_seconds`` (3600 or 86400) and ``bucket_start`` (unix seconds,
a multiple of the width, UTC). Hourly and daily rows are written together at ingest; prune
deletes the hourly rows of days before its cutoff, the daily rows keep those days' figures.
Missing dimensions are stored as '' in rollups (SQLite never matches NULLs in a key), as
NULL in raw rows.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final, Mapping, Sequence

from otel_agentmon._settings import AGENTMON_STORE_PATH
from otel_agentmon.semconv import metrics as sm

SCHEMA_VERSION: Final = 2
APPLICATION_ID: Final = 0x41474D4E  # "AGMN": marks the file as an otel-agentmon store

HOUR: Final = 3600
DAY: Final = 86400
BUCKET_WIDTHS: Final = (HOUR, DAY)

_DEFAULT_RELATIVE = (".local", "share", "otel-agentmon", "agentmon.db")

WRITE_BUSY_TIMEOUT_S: Final = 10.0  # writer processes take turns; one batch holds the lock for milliseconds
READ_BUSY_TIMEOUT_S: Final = 2.0  # WAL readers wait only for a file locked exclusively (or recovery)

META_PRUNED_BEFORE: Final = "pruned_before"

# Measures summed in usage_rollup and owner_rollup, in column order.
MEASURES: Final = (
    "calls", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "priced_calls", "unpriced_calls", "duration_s",
)
# The position of each measure in MEASURES, and so in the lists summed from them.
(CALLS, ERRORS, INPUT_TOKENS, OUTPUT_TOKENS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, REASONING_TOKENS, COST_USD,
 PRICED_CALLS, UNPRICED_CALLS, DURATION_S) = range(len(MEASURES))
USAGE_DIMENSIONS: Final = (
    "service", "operation", "provider", "model", "agent", "tool", "error_category", "error_severity",
)
OWNER_DIMENSIONS: Final = ("service", "application", "department", "user_id")
LATENCY_DIMENSIONS: Final = ("kind", "name", "bucket")
EVALUATION_DIMENSIONS: Final = ("service", "name")
EVALUATION_MEASURES: Final = ("count", "score_sum")
RATING_DIMENSIONS: Final = ("service", "rating")
FEEDBACK_NAME: Final = sm.FEEDBACK_EVALUATION_NAME  # the evaluations rating_rollup counts
RATINGS: Final = (1, 2, 3, 4, 5)
# A rating's whole star in SQL, as _rows.whole_star does it in Python: SQLite's ROUND rounds
# halves away from zero; clamped to the scale.
WHOLE_STAR_SQL: Final = "MIN(5, MAX(1, CAST(ROUND(score) AS INTEGER)))"

SPAN_COLUMNS: Final = (
    "trace_id", "span_id", "parent_span_id", "name", "operation", "start_ns", "end_ns", "duration_s",
    "provider", "request_model", "response_model", "agent_name", "tool_name", "workflow_name",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_usd", "cost_status", "error_type", "error_category", "error_severity",
    "user_id", "department", "application", "service_name", "quality_sampled", "response_id",
    "conversation_id", "latency_bucket",
)
EVALUATION_COLUMNS: Final = (
    "time_ns", "trace_id", "span_id", "service_name", "name", "score", "label", "request_model", "provider",
    "application", "agent_name", "user_id", "response_id",
)
# Columns added to evaluations by schema version 2: whom a rating is about even when the rated
# span is not in the store (another process's, or pruned). NULL in rows stored before.
EVALUATION_COLUMNS_V2: Final = ("application", "agent_name", "user_id", "response_id")


def _measure_columns(measures: tuple[str, ...]) -> str:
    return ",\n    ".join(f"{m} {'REAL' if m in ('cost_usd', 'duration_s', 'score_sum') else 'INTEGER'} NOT NULL"
                          for m in measures)


def _rollup_ddl(table: str, dimensions: tuple[str, ...], measures: tuple[str, ...]) -> str:
    dims = ",\n    ".join(f"{d} {'INTEGER' if d in ('bucket', 'rating') else 'TEXT'} NOT NULL" for d in dimensions)
    key = ", ".join(("bucket_seconds", "bucket_start", *dimensions))
    return (f"CREATE TABLE IF NOT EXISTS {table} (\n    bucket_seconds INTEGER NOT NULL,\n"
            f"    bucket_start INTEGER NOT NULL,\n    {dims},\n    {_measure_columns(measures)},\n"
            f"    PRIMARY KEY ({key})\n) WITHOUT ROWID")


_SPANS_DDL = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,            -- 32 lowercase hex digits
    span_id TEXT NOT NULL,             -- 16 lowercase hex digits
    parent_span_id TEXT,
    name TEXT NOT NULL,
    operation TEXT NOT NULL,           -- gen_ai.operation.name
    start_ns INTEGER NOT NULL,         -- unix nanoseconds
    end_ns INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    provider TEXT,
    request_model TEXT,
    response_model TEXT,
    agent_name TEXT,
    tool_name TEXT,
    workflow_name TEXT,
    input_tokens INTEGER,              -- GenAI semconv: includes cache reads and writes
    output_tokens INTEGER,             -- includes reasoning tokens
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    cost_usd REAL,                     -- NULL unless cost_status is 'priced'
    cost_status TEXT,                  -- priced | unpriced | missing_usage | invalid_usage
    error_type TEXT,
    error_category TEXT,
    error_severity TEXT,
    user_id TEXT,
    department TEXT,
    application TEXT,                  -- agentmon.application, else the service name
    service_name TEXT,                 -- the resource's service.name
    quality_sampled INTEGER NOT NULL,  -- 0 or 1
    response_id TEXT,
    conversation_id TEXT,
    latency_bucket INTEGER NOT NULL    -- log-scale duration bucket (see _rows.latency_bucket)
)"""

_EVALUATIONS_DDL = """
CREATE TABLE IF NOT EXISTS evaluations (
    time_ns INTEGER NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    service_name TEXT,
    name TEXT NOT NULL,                -- gen_ai.evaluation.name
    score REAL NOT NULL,               -- gen_ai.evaluation.score.value
    label TEXT,                        -- gen_ai.evaluation.score.label
    request_model TEXT,
    provider TEXT,
    application TEXT,                  -- agentmon.application, as the event carries it
    agent_name TEXT,                   -- gen_ai.agent.name
    user_id TEXT,                      -- user.id
    response_id TEXT                   -- gen_ai.response.id
)"""

SCHEMA: Final = (
    _SPANS_DDL,
    "CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id)",
    _EVALUATIONS_DDL,
    "CREATE INDEX IF NOT EXISTS evaluations_by_time ON evaluations (time_ns)",
    _rollup_ddl("usage_rollup", USAGE_DIMENSIONS, MEASURES),
    _rollup_ddl("owner_rollup", OWNER_DIMENSIONS, MEASURES),
    _rollup_ddl("latency_rollup", LATENCY_DIMENSIONS, ("count",)),
    _rollup_ddl("evaluation_rollup", EVALUATION_DIMENSIONS, EVALUATION_MEASURES),
    _rollup_ddl("rating_rollup", RATING_DIMENSIONS, ("count",)),
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)
# rating_rollup's rows computed from the raw evaluations (the table named ``evaluations``).
RATING_ROLLUP_OF_RAW_ROWS: Final = (
    "SELECT w.width AS bucket_seconds, time_ns / 1000000000 / w.width * w.width AS bucket_start, "
    f"COALESCE(service_name, '') AS service, {WHOLE_STAR_SQL} AS rating, COUNT(*) AS count "
    f"FROM {{evaluations}}, (SELECT {HOUR} AS width UNION ALL SELECT {DAY}) AS w "
    f"WHERE name = '{FEEDBACK_NAME}' GROUP BY 1, 2, 3, 4"
)
# Statements that bring a store of version N - 1 to version N, by N.
MIGRATIONS: Final = {
    2: (
        *(f"ALTER TABLE evaluations ADD COLUMN {column} TEXT" for column in EVALUATION_COLUMNS_V2),
        _rollup_ddl("rating_rollup", RATING_DIMENSIONS, ("count",)),
        # the ratings still stored raw; those pruned before are in no distribution
        "INSERT INTO rating_rollup (bucket_seconds, bucket_start, service, rating, count) "
        + RATING_ROLLUP_OF_RAW_ROWS.format(evaluations="evaluations"),
    ),
}
TABLES: Final = ("spans", "evaluations", "usage_rollup", "owner_rollup", "latency_rollup", "evaluation_rollup",
                 "rating_rollup", "meta")


class StoreError(Exception):
    """A store that cannot be used; the message is one line naming the file and the problem."""


def default_store_path(environ: Mapping[str, str] | None = None) -> str:
    """``AGENTMON_STORE_PATH``, else ``~/.local/share/otel-agentmon/agentmon.db``."""
    env = os.environ if environ is None else environ
    configured = env.get(AGENTMON_STORE_PATH, "").strip()
    if configured:
        return os.path.expanduser(configured)
    return os.path.join(os.path.expanduser("~"), *_DEFAULT_RELATIVE)


def resolve_path(path: str | os.PathLike[str] | None) -> str:
    return default_store_path() if path is None else os.path.expanduser(os.fspath(path))


def describe(path: str, exc: BaseException) -> StoreError:
    """A one-line StoreError for an sqlite3 error met while using the store at ``path``."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in text:
        return StoreError(f"store {path} is locked by another process")
    if name == "SQLITE_NOTADB" or "not a database" in text:
        return StoreError(f"store {path} is not an otel-agentmon store (file is not a database)")
    if name == "SQLITE_CORRUPT" or "malformed" in text:
        return StoreError(f"store {path} is damaged ({text})")
    if name == "SQLITE_CANTOPEN" or "unable to open" in text:
        return StoreError(f"store {path} cannot be opened ({text})")
    if name in ("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH") or "readonly" in text:
        return StoreError(f"store {path} cannot be written ({text})")
    if name == "SQLITE_FULL" or "disk is full" in text:
        return StoreError(f"store {path}: the disk is full")
    return StoreError(f"store {path}: {text}")


def _check_schema(connection: sqlite3.Connection, path: str) -> None:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id != APPLICATION_ID:
        raise StoreError(f"store {path} is not an otel-agentmon store (no otel-agentmon tables)")
    if version > SCHEMA_VERSION:
        raise StoreError(f"store {path} has schema version {version}, newer than this otel-agentmon "
                         f"understands ({SCHEMA_VERSION}); upgrade otel-agentmon")


def open_writer(path: str) -> sqlite3.Connection:
    """A read-write connection, creating the file, its folders and the schema on first use.

    Safe against other processes doing the same at the same moment. Raises StoreError.
    """
    try:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"store {path} cannot be created ({exc.strerror or exc})") from None
    deadline = time.monotonic() + WRITE_BUSY_TIMEOUT_S
    while True:
        connection = None
        try:
            connection = sqlite3.connect(path, timeout=WRITE_BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
            _prepare_writer(connection, path)
            return connection
        except sqlite3.OperationalError as exc:
            if connection is not None:
                connection.close()
            # Switching a new file to WAL takes a lock the busy handler does not wait for.
            if "locked" in str(exc) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise describe(path, exc) from None
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise describe(path, exc) from None
        except StoreError:
            if connection is not None:
                connection.close()
            raise


def _prepare_writer(connection: sqlite3.Connection, path: str) -> None:
    if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("BEGIN IMMEDIATE")
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if application_id == 0 and version == 0:
            tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"store {path} is not an otel-agentmon store (it holds other tables)")
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        else:
            _check_schema(connection, path)
            for target in range(version + 1, SCHEMA_VERSION + 1):  # in the same transaction: all or nothing
                for statement in MIGRATIONS[target]:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={target}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def open_reader(path: str) -> sqlite3.Connection:
    """A read-only connection to an existing store. Raises StoreError (missing, locked, not a store)."""
    if not os.path.exists(path):
        raise StoreError(f"store {path} does not exist")
    if os.path.isdir(path):
        raise StoreError(f"store {path} is a directory, not a store file")
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=READ_BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
    except sqlite3.Error as exc:
        raise describe(path, exc) from None
    try:
        _check_schema(connection, path)
    except sqlite3.Error as exc:
        connection.close()
        raise describe(path, exc) from None
    except StoreError:
        connection.close()
        raise
    return connection


def meta_value(connection: sqlite3.Connection, key: str) -> str | None:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def add_measures(totals: dict, key: Any, values: Sequence[Any]) -> None:
    """Add ``values`` element by element into ``totals[key]`` (None counts as 0)."""
    total = totals.get(key)
    if total is None:
        totals[key] = [v or 0 for v in values]
    else:
        for i, v in enumerate(values):
            total[i] += v or 0
