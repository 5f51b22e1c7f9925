"""The HTML report: one self-contained page (inline CSS and SVG, no script, no font, style or
image from elsewhere), readable offline, in a mail attachment or on paper.

``render_html(data)`` only lays out an already aggregated `HtmlReportData`; the same data gives
the same page, byte for byte.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import escape

from . import _svg
from ._html_data import HtmlReportData

__all__ = ["render_html"]

_NUMERIC = re.compile(r"^[-+−]?[$€£]?\d[\d,.]*\s*(%|k|M|B|µs|ms|s|min|h|d|x)?$")

_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f1f3f4;color:#202124;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
header.report-header{background:#1f2a44;color:#ffffff;padding:22px 32px 20px}
header.report-header h1{margin:0 0 6px;font-size:24px;font-weight:650;letter-spacing:.2px}
header.report-header .period{margin:0;font-size:14px;color:#d2d8e6}
header.report-header .period time{font-variant-numeric:tabular-nums;color:#ffffff}
header.report-header .meta{margin:4px 0 0;font-size:12px;color:#aab4c8}
main{max-width:1320px;margin:0 auto;padding:20px 32px 32px}
h2{font-size:16px;font-weight:650;margin:28px 0 10px;color:#202124}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin:0;padding:0;list-style:none}
.card{background:#ffffff;border:1px solid #dadce0;border-radius:8px;padding:12px 16px}
.card .label{display:block;font-size:12px;color:#5f6368;text-transform:uppercase;letter-spacing:.5px}
.card .value{display:block;font-size:22px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums;
  overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;margin-top:20px}
figure.chart-figure{margin:0;background:#ffffff;border:1px solid #dadce0;border-radius:8px;padding:14px 16px 10px;
  break-inside:avoid;page-break-inside:avoid}
figure.chart-figure figcaption{margin:0 0 8px}
figure.chart-figure figcaption strong{display:block;font-size:15px;font-weight:650}
figure.chart-figure figcaption span{display:block;font-size:12px;color:#5f6368}
svg.chart{display:block;width:100%;height:auto;overflow:visible}
table{border-collapse:collapse;width:100%;background:#ffffff;border:1px solid #dadce0;border-radius:8px;
  overflow:hidden;font-variant-numeric:tabular-nums}
th,td{padding:7px 12px;text-align:left;border-bottom:1px solid #eceff1;vertical-align:top;overflow-wrap:anywhere}
th{background:#f8f9fa;font-size:12px;color:#5f6368;font-weight:650;text-transform:uppercase;letter-spacing:.4px}
tbody tr:nth-child(even) td{background:#fbfbfc}
tbody tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right;white-space:nowrap}
p.empty{margin:0;padding:14px 16px;background:#ffffff;border:1px solid #dadce0;border-radius:8px;color:#5f6368}
footer{max-width:1320px;margin:0 auto;padding:0 32px 28px;font-size:12px;color:#80868b}
@media (max-width:900px){.charts{grid-template-columns:minmax(0,1fr)}main,header.report-header{padding-left:16px;padding-right:16px}}
@media print{body{background:#ffffff}header.report-header{background:#ffffff;color:#202124;border-bottom:2px solid #202124}
  header.report-header .period,header.report-header .period time,header.report-header .meta{color:#202124}
  .card,figure.chart-figure,table{border-color:#bdc1c6}section.table-section{break-inside:avoid}}
"""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds >= 2 * 86400:
        return _svg._trim(seconds / 86400, 1) + " days"
    if seconds >= 3600:
        return _svg._trim(seconds / 3600, 1) + " h"
    if seconds >= 60:
        return _svg._trim(seconds / 60, 1) + " min"
    return _svg._trim(seconds, 1) + " s"


def _time(ts: float) -> str:
    iso = _iso(ts)
    return f'<time datetime="{iso}">{iso}</time>'


def _figure(chart_id: str, title: str, note: str, svg: str) -> str:
    return (
        f'<figure class="chart-figure" id="{chart_id}">'
        f"<figcaption><strong>{escape(title)}</strong><span>{escape(note)}</span></figcaption>"
        f"{svg}</figure>"
    )


def _table(title: str, header: tuple[str, ...], rows: tuple[tuple[str, ...], ...], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    parts = [f'<section class="table-section"{ident}><h2>{escape(title)}</h2>']
    if not rows:
        parts.append(f'<p class="empty">{escape(_svg.NO_DATA)}</p></section>')
        return "".join(parts)
    # a column whose cells are all numbers is right-aligned, its header too
    width = max([len(header)] + [len(row) for row in rows])
    numeric = [
        all(_NUMERIC.match(str(row[i]).strip()) for row in rows if i < len(row) and str(row[i]).strip())
        and any(i < len(row) and str(row[i]).strip() for row in rows)
        for i in range(width)
    ]
    parts.append("<table><thead><tr>")
    for i in range(width):
        text = str(header[i]) if i < len(header) else ""
        cls = ' class="num"' if numeric[i] else ""
        parts.append(f'<th scope="col"{cls}>{escape(text)}</th>')
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>")
        for i in range(width):
            text = str(row[i]) if i < len(row) else ""
            cls = ' class="num"' if numeric[i] else ""
            parts.append(f"<td{cls}>{escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></section>")
    return "".join(parts)


def render_html(data: HtmlReportData) -> str:
    """The report page for ``data``: a complete HTML5 document, nothing loaded from elsewhere."""
    since, until = data.period
    bucket = _svg.format_interval(data.bucket_seconds) if data.bucket_seconds > 0 else ""
    per_bucket = f"per {bucket}" if bucket else "per bucket"

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="otel-agentmon">',
        f"<title>{escape(data.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        '<header class="report-header">',
        f"<h1>{escape(data.title)}</h1>",
        f'<p class="period">{_time(since)} → {_time(until)} <span>({escape(_span(until - since))}'
        + (f", {escape(bucket)} buckets" if bucket else "")
        + ")</span></p>",
        f'<p class="meta">Generated {_time(data.generated_at)} · all times UTC</p>',
        "</header><main>",
    ]

    if data.summary:
        parts.append('<section id="summary" aria-label="Summary"><ul class="cards">')
        for label, value in data.summary:
            parts.append(
                f'<li class="card"><span class="label">{escape(label)}</span>'
                f'<span class="value">{escape(value)}</span></li>'
            )
        parts.append("</ul></section>")

    parts.append('<section class="charts" aria-label="Charts">')
    parts.append(
        _figure(
            "chart-latency",
            "Model call latency",
            "Distribution of model call durations (calls per bucket)",
            _svg.latency_histogram(data.latency_buckets, label="Model call latency distribution"),
        )
    )
    parts.append(
        _figure(
            "chart-cost",
            "Cost over time by model",
            f"USD {per_bucket}, stacked by model; the legend shows each model's total",
            _svg.time_series_chart(
                data.cost_over_time,
                unit="usd",
                label="Cost over time by model",
                kind="cost",
                period=data.period,
                bucket_seconds=data.bucket_seconds,
                stacked=True,
                axis_title=f"USD {per_bucket}",
            ),
        )
    )
    parts.append(
        _figure(
            "chart-errors",
            "Errors by category",
            "Failed calls by error category, colored by severity",
            _svg.error_bars(data.errors_by_category, label="Errors by category"),
        )
    )
    parts.append(
        _figure(
            "chart-tokens",
            "Tokens over time",
            f"Tokens {per_bucket} by token type; the legend shows each total",
            _svg.time_series_chart(
                data.tokens_over_time,
                unit="tokens",
                label="Tokens over time",
                kind="tokens",
                period=data.period,
                bucket_seconds=data.bucket_seconds,
                axis_title=f"tokens {per_bucket}",
            ),
        )
    )
    parts.append("</section>")

    parts.append(
        _table(
            "Latency percentiles by model",
            ("Model", "P50", "P95", "P99"),
            tuple(
                (model, _svg.format_duration(p50), _svg.format_duration(p95), _svg.format_duration(p99))
                for model, p50, p95, p99 in data.latency_percentiles
            ),
            table_id="latency-percentiles",
        )
    )
    for title, header, rows in data.tables:
        parts.append(_table(title, tuple(header), tuple(tuple(str(c) for c in row) for row in rows)))

    parts.append("</main>")
    parts.append(f"<footer>otel-agentmon report · generated {_time(data.generated_at)}</footer>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
