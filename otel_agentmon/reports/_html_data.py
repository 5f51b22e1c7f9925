"""What the HTML report shows, already aggregated: the renderer (`_html.render_html`) only lays it
out. Everything is plain numbers and strings, so a report can be built from the store, from a
fixture, or by hand in a test."""

from __future__ import annotations
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One line of a chart over time."""

    name: str                                   # legend label: a model, a token type
    points: tuple[tuple[float, float], ...]     # (unix seconds, value), ascending time


@dataclass(frozen=True)
class HtmlReportData:
    """Everything one report page shows."""

    title: str
    period: tuple[float, float]                 # since, until (unix seconds)
    generated_at: float                         # unix seconds
    bucket_seconds: float                       # width of the time buckets of the series
    summary: tuple[tuple[str, str], ...]        # headline figures: (label, formatted value)
    latency_buckets: tuple[tuple[float, int], ...]   # model call latency distribution: (upper bound s, count), ascending
    latency_percentiles: tuple[tuple[str, float, float, float], ...]  # (model, p50, p95, p99) in seconds
    cost_over_time: tuple[Series, ...]          # USD per bucket, one series per model
    tokens_over_time: tuple[Series, ...]        # tokens per bucket, one series per token type
    errors_by_category: tuple[tuple[str, str, int], ...]  # (category, severity, count), descending count
    tables: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]], ...]  # (title, header, rows)
