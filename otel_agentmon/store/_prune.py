"""Retention: raw rows older than a cutoff are deleted; their figures stay in the rollups."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

from otel_agentmon.store._schema import (
    DAY,
    HOUR,
    META_PRUNED_BEFORE,
    StoreError,
    describe,
    meta_value,
    open_reader,
    open_writer,
    resolve_path,
)

_ROLLUPS = ("usage_rollup", "owner_rollup", "latency_rollup", "evaluation_rollup", "rating_rollup")


@dataclass(frozen=True)
class PruneResult:
    """What ``prune`` removed. ``cutoff``: raw rows before it are gone; ``hourly_cutoff``:
    hourly rollup rows before it (the cutoff's UTC day) are gone, daily rows hold those days."""

    path: str
    cutoff: float
    hourly_cutoff: float
    spans_deleted: int
    evaluations_deleted: int
    hourly_rows_deleted: int


def prune(path: str | os.PathLike[str] | None, older_than_seconds: float, now: float | None = None) -> PruneResult:
    """Delete raw spans and evaluations that started more than ``older_than_seconds`` ago, and
    the hourly rollup rows of the UTC days before the cutoff's day, in one transaction.

    Reports over old periods keep working: the daily rollup rows, written at ingest beside
    the hourly ones, hold every figure of those days (counts, tokens, cost, latency
    histograms, quality scores); they are only coarser in time. Raises StoreError.
    """
    resolved = resolve_path(path)
    if not os.path.exists(resolved):
        raise StoreError(f"store {resolved} does not exist")
    if older_than_seconds < 0:
        raise ValueError("older_than_seconds must not be negative")
    open_reader(resolved).close()  # an existing otel-agentmon store, never a file prune would turn into one
    now = time.time() if now is None else now
    cutoff = now - older_than_seconds
    hourly_cutoff = cutoff // DAY * DAY
    connection = open_writer(resolved)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            cutoff_ns = int(cutoff * 1_000_000_000)
            spans = connection.execute("DELETE FROM spans WHERE start_ns < ?", (cutoff_ns,)).rowcount
            evaluations = connection.execute("DELETE FROM evaluations WHERE time_ns < ?", (cutoff_ns,)).rowcount
            hourly = 0
            for table in _ROLLUPS:
                hourly += connection.execute(f"DELETE FROM {table} WHERE bucket_seconds = ? AND bucket_start < ?",
                                             (HOUR, int(hourly_cutoff))).rowcount
            previous = meta_value(connection, META_PRUNED_BEFORE)
            if previous is None or float(previous) < cutoff:
                connection.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                                   "value = excluded.value", (META_PRUNED_BEFORE, repr(float(cutoff))))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        try:  # hand the WAL's pages back; freed pages in the file are reused by later writes
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
    except sqlite3.Error as exc:
        raise describe(resolved, exc) from None
    finally:
        connection.close()
    return PruneResult(resolved, cutoff, float(hourly_cutoff), spans, evaluations, hourly)
