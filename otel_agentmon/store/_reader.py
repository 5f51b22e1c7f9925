"""Reading the store: figures over any period, from the cheapest rows that answer exactly.

A period [since, until) is split into whole UTC days (daily rollup rows), whole hours at
its edges (hourly rollup rows) and the partial hours at its very ends (raw rows). So a report
over a month reads about 30 x (daily rows) + 48 x (hourly rows) rows, whatever the number of
spans, and its figures equal a sum over the raw spans of the period. Data older than the
last prune has no raw rows (and, before the prune cutoff's day, no hourly rows): there a
period is widened outward to whole hours, or whole days.
"""

from __future__ import annotations

import math
import os
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.store._rows import INFERENCE_OPERATIONS, KIND_AGENT, KIND_MODEL, KIND_TOOL
from otel_agentmon.store._schema import (
    DAY,
    EVALUATION_COLUMNS_V2,
    EVALUATION_MEASURES,
    FEEDBACK_NAME,
    HOUR,
    MEASURES,
    META_PRUNED_BEFORE,
    RATING_ROLLUP_OF_RAW_ROWS,
    WHOLE_STAR_SQL,
    StoreError,
    add_measures,
    describe,
    meta_value,
    open_reader,
    resolve_path,
)

NS = 1_000_000_000
FAR_FUTURE = 4_102_444_800  # 2100-01-01T00:00:00Z, a day boundary: "until" left open
RAW = 0  # source width of raw rows

_INFERENCE_SQL = ", ".join(f"'{op}'" for op in INFERENCE_OPERATIONS)
_PRICED = am.CostStatus.PRICED
_UNPRICED = am.CostStatus.UNPRICED

# The measures of one raw span, as the rollups sum them.
_MEASURES = f"""1 AS calls, (error_type IS NOT NULL OR error_category IS NOT NULL) AS errors,
        COALESCE(input_tokens, 0) AS input_tokens, COALESCE(output_tokens, 0) AS output_tokens,
        COALESCE(cache_read_tokens, 0) AS cache_read_tokens, COALESCE(cache_write_tokens, 0) AS cache_write_tokens,
        COALESCE(reasoning_tokens, 0) AS reasoning_tokens,
        CASE WHEN cost_status = '{_PRICED}' THEN COALESCE(cost_usd, 0.0) ELSE 0.0 END AS cost_usd,
        (cost_status = '{_PRICED}') AS priced_calls, (cost_status = '{_UNPRICED}') AS unpriced_calls,
        duration_s"""

# Raw rows in the shape of the rollups (temporary views of the reading connection).
_RAW_VIEWS = (
    f"""CREATE TEMP VIEW raw_usage AS SELECT start_ns AS t,
        COALESCE(service_name, '') AS service, operation,
        COALESCE(provider, '') AS provider, COALESCE(request_model, response_model, '') AS model,
        COALESCE(agent_name, '') AS agent, COALESCE(tool_name, '') AS tool,
        COALESCE(error_category, '') AS error_category, COALESCE(error_severity, '') AS error_severity,
        {_MEASURES}
    FROM spans""",
    f"""CREATE TEMP VIEW raw_owner AS SELECT t, service, application, department, user_id,
        calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
        cost_usd, priced_calls, unpriced_calls, duration_s
    FROM (SELECT start_ns AS t, operation,
        COALESCE(service_name, '') AS service, COALESCE(application, '') AS application,
        COALESCE(department, '') AS department, COALESCE(user_id, '') AS user_id,
        {_MEASURES}
      FROM spans WHERE operation IN ({_INFERENCE_SQL}))""",
    f"""CREATE TEMP VIEW raw_latency AS SELECT t, kind, name, bucket, 1 AS count FROM (
      SELECT start_ns AS t,
        CASE WHEN operation IN ({_INFERENCE_SQL}) THEN '{KIND_MODEL}'
             WHEN operation = '{ga.Operation.INVOKE_AGENT}' THEN '{KIND_AGENT}'
             WHEN operation = '{ga.Operation.EXECUTE_TOOL}' THEN '{KIND_TOOL}' END AS kind,
        CASE WHEN operation IN ({_INFERENCE_SQL}) THEN COALESCE(request_model, response_model, '')
             WHEN operation = '{ga.Operation.INVOKE_AGENT}' THEN COALESCE(agent_name, '')
             ELSE COALESCE(tool_name, '') END AS name,
        latency_bucket AS bucket
      FROM spans) WHERE kind IS NOT NULL""",
    """CREATE TEMP VIEW raw_evaluation AS SELECT time_ns AS t, COALESCE(service_name, '') AS service,
        name, 1 AS count, score AS score_sum FROM evaluations""",
    f"""CREATE TEMP VIEW raw_rating AS SELECT time_ns AS t, COALESCE(service_name, '') AS service,
        {WHOLE_STAR_SQL} AS rating, 1 AS count FROM evaluations WHERE name = '{FEEDBACK_NAME}'""",
)


@dataclass(frozen=True)
class Fact:
    """A rollup table and the raw view with the same columns."""

    table: str
    raw_view: str
    measures: tuple[str, ...]


USAGE = Fact("usage_rollup", "raw_usage", MEASURES)
OWNER = Fact("owner_rollup", "raw_owner", MEASURES)
LATENCY = Fact("latency_rollup", "raw_latency", ("count",))
EVALUATION = Fact("evaluation_rollup", "raw_evaluation", EVALUATION_MEASURES)
RATING = Fact("rating_rollup", "raw_rating", ("count",))


@dataclass(frozen=True)
class Segment:
    """[start, end) in unix seconds, read from raw rows (width RAW) or rollups of ``width``."""

    width: int
    start: float
    end: float


def _floor(t: float, width: int) -> int:
    return int(math.floor(t / width)) * width


def _ceil(t: float, width: int) -> int:
    return int(math.ceil(t / width)) * width


@dataclass(frozen=True)
class Plan:
    """The segments that cover a period, and the period they cover exactly."""

    since: float
    until: float
    segments: tuple[Segment, ...]


def plan_period(since: float | None, until: float | None, pruned_before: float = 0.0) -> Plan:
    """Segments covering [since, until): raw rows for partial hours, hourly rows for partial
    days, daily rows for whole days. Where raw rows (before ``pruned_before``) or hourly rows
    (before that day) are gone, the bounds are widened to whole hours or days."""
    s = 0.0 if since is None else max(0.0, float(since))
    u = float(FAR_FUTURE) if until is None else min(float(FAR_FUTURE), float(until))
    if u <= s:
        return Plan(s, s, ())
    hourly_from = _floor(pruned_before, DAY)
    if s < pruned_before:  # no raw rows there
        s = float(_floor(s, HOUR) if _floor(s, HOUR) >= hourly_from else _floor(s, DAY))
    if _floor(u, HOUR) < pruned_before and u != _floor(u, HOUR):
        u = float(_ceil(u, HOUR) if _floor(u, HOUR) >= hourly_from else _ceil(u, DAY))
    elif u < hourly_from and u != _floor(u, DAY):
        u = float(_ceil(u, DAY))
    segments: list[Segment] = []
    h0, h1 = _ceil(s, HOUR), _floor(u, HOUR)
    if h0 >= h1:  # within one hour
        segments.append(Segment(RAW, s, u))
        return Plan(s, u, tuple(segments))
    if s < h0:
        segments.append(Segment(RAW, s, h0))
    d0, d1 = _ceil(h0, DAY), _floor(h1, DAY)
    if d0 < d1:
        if h0 < d0:
            segments.append(Segment(HOUR, h0, d0))
        segments.append(Segment(DAY, d0, d1))
        if d1 < h1:
            segments.append(Segment(HOUR, d1, h1))
    else:
        segments.append(Segment(HOUR, h0, h1))
    if h1 < u:
        segments.append(Segment(RAW, h1, u))
    return Plan(s, u, tuple(segments))


class StoreReader:
    """A read-only view of a store. Every method raises StoreError, never sqlite3 errors."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_path(path)
        self._connection = open_reader(self.path)
        try:
            self._stand_in_for_missing_columns()
            for statement in _RAW_VIEWS:
                self._connection.execute(statement)
            pruned = meta_value(self._connection, META_PRUNED_BEFORE)
        except sqlite3.Error as exc:
            self._connection.close()
            raise describe(self.path, exc) from None
        self.pruned_before = float(pruned) if pruned else 0.0

    def _stand_in_for_missing_columns(self) -> None:
        # A store no writer has opened since an upgrade keeps its older schema (a reader may not
        # change it): a temporary view of the same name, which SQLite resolves before the
        # table, shows the newer columns as NULL, so every query reads both versions alike.
        present = {row[1] for row in self._connection.execute("PRAGMA main.table_info(evaluations)")}
        missing = [column for column in EVALUATION_COLUMNS_V2 if column not in present]
        if missing:
            nulls = ", ".join(f"NULL AS {column}" for column in missing)
            self._connection.execute(f"CREATE TEMP VIEW evaluations AS SELECT *, {nulls} FROM main.evaluations")
        tables = {row[0] for row in self._connection.execute("SELECT name FROM main.sqlite_master")}
        if "rating_rollup" not in tables:  # computed from the raw rows, as the migration would
            self._connection.execute("CREATE TEMP VIEW rating_rollup AS "
                                     + RATING_ROLLUP_OF_RAW_ROWS.format(evaluations="main.evaluations"))

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain SQL ---------------------------------------------------------------------------
    def query(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        try:
            return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise describe(self.path, exc) from None

    def iterate(self, sql: str, parameters: Sequence[Any] = ()) -> Iterator[tuple]:
        try:
            yield from self._connection.execute(sql, parameters)
        except sqlite3.Error as exc:
            raise describe(self.path, exc) from None

    # -- periods -----------------------------------------------------------------------------
    def plan(self, since: float | None, until: float | None) -> Plan:
        return plan_period(since, until, self.pruned_before)

    def extent(self, since: float | None = None, until: float | None = None) -> tuple[float, float] | None:
        """(first span start, last span start) in unix seconds within [since, until) (to the
        hour or day where raw rows were pruned), or None when the period holds no span."""
        plan = self.plan(since, until)
        first = last = None
        for segment in plan.segments:
            if segment.width == RAW:
                row = self.query("SELECT MIN(start_ns), MAX(start_ns) FROM spans WHERE start_ns >= ? AND start_ns < ?",
                                 (_ns(segment.start), _ns(segment.end)))[0]
                low = None if row[0] is None else row[0] / NS
                high = None if row[1] is None else row[1] / NS
            else:
                row = self.query("SELECT MIN(bucket_start), MAX(bucket_start) FROM usage_rollup "
                                 "WHERE bucket_seconds = ? AND bucket_start >= ? AND bucket_start < ?",
                                 (segment.width, segment.start, segment.end))[0]
                if row[0] is None:
                    continue
                low, high = self._refine(row[0], row[1] + segment.width, segment.width)
            if low is None:
                continue
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
        return None if first is None else (first, last)

    def _refine(self, start: float, end: float, width: int) -> tuple[float, float]:
        """Exact first/last span times in [start, end) where raw rows exist, else the bucket bounds."""
        low = float(start)
        high = float(end)
        if start >= self.pruned_before:
            row = self.query("SELECT MIN(start_ns) FROM spans WHERE start_ns >= ? AND start_ns < ?",
                             (_ns(start), _ns(start + width)))[0]
            if row[0] is not None:
                low = row[0] / NS
        if end - width >= self.pruned_before:
            row = self.query("SELECT MAX(start_ns) FROM spans WHERE start_ns >= ? AND start_ns < ?",
                             (_ns(end - width), _ns(end)))[0]
            if row[0] is not None:
                high = row[0] / NS
        return low, high

    def totals(self, fact: Fact, dimensions: Sequence[str], plan: Plan, where: str = "",
               parameters: Sequence[Any] = ()) -> dict[tuple, list]:
        """Measures of ``fact`` summed by ``dimensions`` over the plan's period.

        ``where`` is an SQL condition on the fact's columns (dimensions), with ``parameters``.
        Returns {dimension values: [measures in fact.measures order]}.
        """
        dims = ", ".join(dimensions)
        sums = ", ".join(f"SUM({m})" for m in fact.measures)
        select = f"{dims}, {sums}" if dims else sums
        group = f" GROUP BY {dims}" if dims else ""
        condition = f" AND ({where})" if where else ""
        result: dict[tuple, list] = {}
        n = len(dimensions)
        for segment in plan.segments:
            if segment.width == RAW:
                sql = f"SELECT {select} FROM {fact.raw_view} WHERE t >= ? AND t < ?{condition}{group}"
                bounds: tuple = (_ns(segment.start), _ns(segment.end))
            else:
                sql = (f"SELECT {select} FROM {fact.table} WHERE bucket_seconds = ? AND bucket_start >= ? "
                       f"AND bucket_start < ?{condition}{group}")
                bounds = (segment.width, int(segment.start), int(segment.end))
            for row in self.iterate(sql, (*bounds, *parameters)):
                if not dims and row[0] is None:
                    continue  # an aggregate over no rows
                add_measures(result, tuple(row[:n]), row[n:])  # segments can give the same key
        return result

    def series(self, fact: Fact, dimensions: Sequence[str], plan: Plan, bucket_seconds: float, where: str = "",
               parameters: Sequence[Any] = ()) -> dict[tuple, list]:
        """Like ``totals`` with the time bucket's index (``floor(start / bucket_seconds)``) as the
        first dimension. ``bucket_seconds`` may be a fraction of a second over raw rows, and must
        be a multiple of the rollup width over rollup rows (each goes to the bucket of its start)."""
        dims = ", ".join(dimensions)
        sums = ", ".join(f"SUM({m})" for m in fact.measures)
        condition = f" AND ({where})" if where else ""
        by = f"b{', ' + dims if dims else ''}"
        result: dict[tuple, list] = {}
        n = len(dimensions)
        for segment in plan.segments:
            if segment.width == RAW:
                sql = (f"SELECT t / {int(round(bucket_seconds * NS))} AS {by}, {sums} FROM {fact.raw_view} "
                       f"WHERE t >= ? AND t < ?{condition} GROUP BY {by}")
                bounds: tuple = (_ns(segment.start), _ns(segment.end))
            else:
                if bucket_seconds % segment.width:
                    raise ValueError(f"buckets of {bucket_seconds} s cannot be made of {segment.width} s rollups")
                sql = (f"SELECT bucket_start / {int(bucket_seconds)} AS {by}, {sums} FROM {fact.table} "
                       f"WHERE bucket_seconds = ? AND bucket_start >= ? AND bucket_start < ?{condition} GROUP BY {by}")
                bounds = (segment.width, int(segment.start), int(segment.end))
            for row in self.iterate(sql, (*bounds, *parameters)):
                add_measures(result, tuple(row[: n + 1]), row[n + 1:])
        return result

    def raw_spans(self, columns: Iterable[str], since: float, until: float, where: str = "",
                  parameters: Sequence[Any] = (), group_by: str = "") -> list[tuple]:
        """Raw span rows (or aggregates, with ``group_by``) with start in [since, until): only
        where raw rows are kept. ``where`` and ``parameters``: a condition on the spans table."""
        condition = f" AND ({where})" if where else ""
        group = f" GROUP BY {group_by}" if group_by else ""
        return self.query(f"SELECT {', '.join(columns)} FROM spans WHERE start_ns >= ? AND start_ns < ?{condition}{group}",
                          (_ns(since), _ns(until), *parameters))

    def raw_evaluations(self, columns: Iterable[str], since: float, until: float) -> list[tuple]:
        return self.query(f"SELECT {', '.join(columns)} FROM evaluations WHERE time_ns >= ? AND time_ns < ?",
                          (_ns(since), _ns(until)))

    def first_seen(self, fact: Fact, dimensions: Sequence[str]) -> dict[tuple, int]:
        """For each value of ``dimensions``, the start of the first daily bucket that has it."""
        dims = ", ".join(dimensions)
        return {tuple(row[:-1]): row[-1] for row in self.iterate(
            f"SELECT {dims}, MIN(bucket_start) FROM {fact.table} WHERE bucket_seconds = ? GROUP BY {dims}", (DAY,))}


def _ns(seconds: float) -> int:
    return int(round(seconds * NS))


def inference_condition() -> str:
    """SQL: the operation dimension is a model call."""
    return f"operation IN ({_INFERENCE_SQL})"


__all__ = ["StoreReader", "StoreError", "Plan", "Segment", "plan_period", "USAGE", "OWNER", "LATENCY", "EVALUATION", "RATING"]
