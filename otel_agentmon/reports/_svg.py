"""Small chart primitives for the HTML report: each returns one inline ``<svg>`` string.

Static SVG only (no script, no external resource), so a report opens anywhere, prints well and
can be mailed as one file. Output is deterministic: the same data gives the same text (fixed
number formats, fixed palette, no generated ids). Every chart carries ``data-points``, the
number of marks it drew (points of the series, bars), and an empty chart is an SVG with a
"no data in this period" message of the same size, so the page layout does not jump.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from html import escape
from typing import Iterable, Sequence

from ._html_data import Series

# Series colors, in order: distinct hues that stay apart for common color-vision deficiencies
# and on paper. A ninth series reuses a color with a dashed line.
PALETTE: tuple[str, ...] = (
    "#3366cc",  # blue
    "#e8710a",  # orange
    "#0f9d58",  # green
    "#9334e6",  # purple
    "#d01884",  # magenta
    "#12a4af",  # teal
    "#a0522d",  # sienna
    "#5f6368",  # gray
)
SEVERITY_COLORS: dict[str, str] = {
    "critical": "#d93025",  # red
    "warning": "#f9ab00",   # amber
    "medium": "#4285f4",    # blue
}
SEVERITY_ORDER: tuple[str, ...] = ("critical", "warning", "medium")
UNKNOWN_SEVERITY_COLOR = "#9aa0a6"
LATENCY_COLOR = "#5c6bc0"

TEXT_COLOR = "#3c4043"
MUTED_COLOR = "#5f6368"
GRID_COLOR = "#e8eaed"
AXIS_COLOR = "#bdc1c6"

WIDTH = 600
HEIGHT = 300
FONT_SIZE = 12
CHAR_WIDTH = 0.6  # of the font size: a safe average advance for sans-serif fonts

NO_DATA = "No data in this period"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME_STEPS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 365 * 86400,
)


# ---------------------------------------------------------------------------------------------
# formatting


def _num(value: float) -> str:
    """A coordinate: one decimal, no trailing zero, no negative zero."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _trim(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_duration(seconds: float) -> str:
    """A latency for people: ``10 ms``, ``2.5 ms``, ``1.28 s``, ``1.5 min``."""
    if math.isinf(seconds):
        return "∞"
    if seconds < 1:
        ms = seconds * 1000
        if ms < 1:
            return f"{_trim(ms * 1000, 0)} µs"
        return f"{_trim(ms, 1 if ms < 10 else 0)} ms"
    if seconds < 120:
        return f"{_trim(seconds, 2)} s"
    if seconds < 3600:
        return f"{_trim(seconds / 60, 1)} min"
    return f"{_trim(seconds / 3600, 1)} h"


def format_interval(seconds: float) -> str:
    """A bucket width: ``1 min``, ``5 min``, ``1 h``, ``1 d``."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return format_duration(seconds)


def format_value(value: float, unit: str, step: float | None = None) -> str:
    """A humanized number: ``$1.25``, ``$3.4k``, ``12k``, ``1.5M``. ``step`` (the tick step)
    decides the decimals so that the ticks of one axis read alike."""
    if value == 0 and step is not None:
        return "$0" if unit == "usd" else "0"
    magnitude = abs(value) if step is None else max(abs(value), step)
    divisor, suffix = 1.0, ""
    for threshold, name in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            divisor, suffix = threshold, name
            break
    scaled = value / divisor
    if step is not None and step > 0:
        # enough decimals to tell neighbouring ticks apart (a step of 2.5 needs one more)
        exponent = math.floor(math.log10(step / divisor) + 1e-9)
        decimals = max(0, -exponent)
        if abs(step / divisor / 10**exponent - 2.5) < 1e-6:
            decimals += 1
        text = _trim(scaled, min(decimals, 6))
    elif unit == "usd" and not suffix:
        # cents for amounts from a cent up, four decimals below (a single cheap call)
        text = f"{scaled:.2f}" if abs(scaled) >= 0.01 or scaled == 0 else _trim(scaled, 4)
    else:
        text = _trim(scaled, 1 if suffix or abs(scaled) < 10 else 0)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    if unit == "usd":
        return f"{sign}${text}{suffix}"
    return f"{sign}{text}{suffix}"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _date_label(ts: float) -> str:
    moment = _utc(ts)
    return f"{_MONTHS[moment.month - 1]} {moment.day}"


def _time_label(ts: float, step: float) -> str:
    moment = _utc(ts)
    if step < 60:
        return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], float]:
    """Ticks at 1, 2, 2.5 or 5 times a power of ten covering [low, high]: (ticks, step)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = power * 10
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power * (1 + 1e-9):
            step = factor * power
            break
    start = math.floor(low / step + 1e-9) * step
    ticks: list[float] = []
    value = start
    index = 0
    while value < high - step * 1e-9:
        value = start + index * step
        ticks.append(round(value, 12))
        index += 1
    if len(ticks) < 2:
        ticks.append(round(start + step, 12))
    return ticks, step


def time_ticks(start: float, end: float, max_ticks: int) -> tuple[list[float], float]:
    """UTC-aligned ticks for a time axis: (timestamps, step in seconds)."""
    span = max(end - start, 1.0)
    step = _TIME_STEPS[-1]
    for candidate in _TIME_STEPS:
        if span / candidate <= max_ticks:
            step = candidate
            break
    first = math.ceil(start / step) * step
    ticks = []
    value = first
    while value <= end + 1e-6:
        ticks.append(float(value))
        value += step
    return ticks, float(step)


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    return len(text) * size * CHAR_WIDTH


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg_open(width: float, height: float, label: str, points: int, kind: str) -> str:
    return (
        f'<svg class="chart chart-{kind}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'width="{_num(width)}" height="{_num(height)}" role="img" aria-label="{escape(label)}" '
        f'data-points="{points}" font-size="{FONT_SIZE}" fill="{TEXT_COLOR}">'
    )


def empty_chart(label: str, kind: str, height: float = HEIGHT, message: str = NO_DATA) -> str:
    """The placeholder of a chart without data: same size, a message, ``data-points="0"``."""
    return (
        _svg_open(WIDTH, height, f"{label}: {message}", 0, kind)
        + f'<rect x="0.5" y="0.5" width="{_num(WIDTH - 1)}" height="{_num(height - 1)}" rx="6" '
        f'fill="#f8f9fa" stroke="{GRID_COLOR}"/>'
        + f'<text class="no-data" x="{_num(WIDTH / 2)}" y="{_num(height / 2)}" text-anchor="middle" '
        f'dominant-baseline="middle" font-size="14" fill="{MUTED_COLOR}">{escape(message)}</text>'
        + "</svg>"
    )


def series_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _legend(
    entries: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[list[str], float]:
    """Swatch + label entries, wrapped to the width: (svg parts, height used).
    ``entries`` are (label, color, dash) triples."""
    parts: list[str] = []
    x, y = x0, y0
    row = 18.0
    for label, color, dash in entries:
        shown = _clip(label, 48)
        advance = 14 + 6 + _text_width(shown) + 18
        if x > x0 and x + advance > x0 + width:
            x, y = x0, y + row
        if dash:
            parts.append(
                f'<line x1="{_num(x)}" y1="{_num(y + 6)}" x2="{_num(x + 14)}" y2="{_num(y + 6)}" '
                f'stroke="{color}" stroke-width="3" stroke-dasharray="{dash}"/>'
            )
        else:
            parts.append(
                f'<rect class="swatch" x="{_num(x)}" y="{_num(y)}" width="12" height="12" rx="2" '
                f'fill="{color}"/>'
            )
        parts.append(
            f'<text x="{_num(x + 18)}" y="{_num(y + 10)}">{escape(shown)}'
            + (f"<title>{escape(label)}</title>" if shown != label else "")
            + "</text>"
        )
        x += advance
    return parts, (y - y0) + row if entries else 0.0


def _finite_points(series: Series) -> list[tuple[float, float]]:
    return [
        (float(t), float(v))
        for t, v in series.points
        if isinstance(t, (int, float)) and isinstance(v, (int, float)) and math.isfinite(t) and math.isfinite(v)
    ]


# ---------------------------------------------------------------------------------------------
# time series


def time_series_chart(
    series: Sequence[Series],
    *,
    unit: str,
    label: str,
    kind: str,
    period: tuple[float, float] | None = None,
    bucket_seconds: float = 0.0,
    stacked: bool = False,
    axis_title: str = "",
) -> str:
    """Several series over time: lines, or stacked areas (``stacked``, for parts of a total).
    ``unit`` is ``usd`` or ``tokens`` (or anything else: a plain count). The time axis covers
    ``period`` and every point; series with few points get markers, so one point still shows."""
    prepared = [(s.name, _finite_points(s)) for s in series]
    prepared = [(name, sorted(points)) for name, points in prepared if points]
    total_points = sum(len(points) for _, points in prepared)
    if total_points == 0:
        return empty_chart(label, kind)

    times = [t for _, points in prepared for t, _ in points]
    t_min, t_max = min(times), max(times)
    if period is not None and period[1] > period[0]:
        t_min, t_max = min(t_min, period[0]), max(t_max, period[1])
    if t_max - t_min <= 0:
        pad = bucket_seconds / 2 if bucket_seconds > 0 else 30.0
        t_min, t_max = t_min - pad, t_max + pad

    # the values drawn: per series, the (t, bottom, top) of each point
    drawn: list[tuple[str, list[tuple[float, float, float]]]] = []
    if stacked:
        all_times = sorted(set(times))
        base = {t: 0.0 for t in all_times}
        for name, points in prepared:
            values = dict(points)
            rows = []
            for t in all_times:
                bottom = base[t]
                top = bottom + values.get(t, 0.0)
                base[t] = top
                rows.append((t, bottom, top))
            drawn.append((name, rows))
    else:
        for name, points in prepared:
            drawn.append((name, [(t, 0.0, v) for t, v in points]))

    v_low = min(0.0, min(bottom for _, rows in drawn for _, bottom, _ in rows),
                min(top for _, rows in drawn for _, _, top in rows))
    v_high = max(top for _, rows in drawn for _, _, top in rows)
    if v_high <= v_low:
        v_high = v_low + (1.0 if unit != "usd" else 0.01)
    y_ticks, y_step = nice_ticks(v_low, v_high, 5)
    v_low, v_high = y_ticks[0], y_ticks[-1]

    # legend: the series names with their totals over the period
    entries = []
    for index, (name, points) in enumerate(prepared):
        total = sum(v for _, v in points)
        dash = "6 3" if index >= len(PALETTE) else ""
        entries.append((f"{name} · {format_value(total, unit)}", series_color(index), dash))

    tick_labels = [format_value(v, unit, y_step) for v in y_ticks]
    left = max(44.0, max(_text_width(text) for text in tick_labels) + 14)
    right = 18.0
    legend_parts, legend_height = _legend(entries, left, 8, WIDTH - left - right)
    top = 8 + legend_height + (24 if axis_title else 10)
    bottom = 38.0
    plot_w = WIDTH - left - right
    plot_h = HEIGHT - top - bottom

    def sx(t: float) -> float:
        return left + (t - t_min) / (t_max - t_min) * plot_w

    def sy(v: float) -> float:
        return top + plot_h - (v - v_low) / (v_high - v_low) * plot_h

    parts = [_svg_open(WIDTH, HEIGHT, label, total_points, kind)]
    parts.extend(legend_parts)
    if axis_title:
        parts.append(
            f'<text x="{_num(left - 8)}" y="{_num(top - 12)}" fill="{MUTED_COLOR}">{escape(axis_title)}</text>'
        )
    # value grid and ticks
    for value, text in zip(y_ticks, tick_labels):
        y = sy(value)
        parts.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(left + plot_w)}" y2="{_num(y)}" '
            f'stroke="{GRID_COLOR if value != v_low else AXIS_COLOR}" stroke-width="1" shape-rendering="crispEdges"/>'
        )
        parts.append(
            f'<text x="{_num(left - 6)}" y="{_num(y + 4)}" text-anchor="end" fill="{MUTED_COLOR}">{escape(text)}</text>'
        )
    # time ticks: the date under the first tick and wherever the day changes
    t_ticks, t_step = time_ticks(t_min, t_max, max(2, int(plot_w // 80)))
    previous_date = ""
    for tick in t_ticks:
        x = sx(tick)
        parts.append(
            f'<line x1="{_num(x)}" y1="{_num(top + plot_h)}" x2="{_num(x)}" y2="{_num(top + plot_h + 4)}" '
            f'stroke="{AXIS_COLOR}" shape-rendering="crispEdges"/>'
        )
        if t_step >= 86400:
            parts.append(
                f'<text x="{_num(x)}" y="{_num(top + plot_h + 16)}" text-anchor="middle" '
                f'fill="{MUTED_COLOR}">{_date_label(tick)}</text>'
            )
            continue
        parts.append(
            f'<text x="{_num(x)}" y="{_num(top + plot_h + 16)}" text-anchor="middle" '
            f'fill="{MUTED_COLOR}">{_time_label(tick, t_step)}</text>'
        )
        date = _date_label(tick)
        if date != previous_date:
            parts.append(
                f'<text x="{_num(x)}" y="{_num(top + plot_h + 30)}" text-anchor="middle" '
                f'fill="{MUTED_COLOR}" font-weight="600">{date}</text>'
            )
            previous_date = date

    # areas first, then lines on top of every area, then markers
    if stacked:
        for index, (name, rows) in enumerate(drawn):
            if len(rows) < 2:
                continue
            upper = " ".join(f"{_num(sx(t))},{_num(sy(topv))}" for t, _, topv in rows)
            lower = " ".join(f"{_num(sx(t))},{_num(sy(bottom))}" for t, bottom, _ in reversed(rows))
            parts.append(
                f'<polygon points="{upper} {lower}" fill="{series_color(index)}" fill-opacity="0.22" stroke="none"/>'
            )
    for index, (name, rows) in enumerate(drawn):
        color = series_color(index)
        dash = ' stroke-dasharray="6 3"' if index >= len(PALETTE) else ""
        if len(rows) >= 2:
            line = " ".join(f"{_num(sx(t))},{_num(sy(topv))}" for t, _, topv in rows)
            parts.append(
                f'<polyline class="series" points="{line}" fill="none" stroke="{color}" stroke-width="2.5" '
                f'stroke-linejoin="round" stroke-linecap="round"{dash}><title>{escape(name)}</title></polyline>'
            )
    for index, (name, points) in enumerate(prepared):
        if len(points) > 24:
            continue
        color = series_color(index)
        tops = {t: topv for t, _, topv in drawn[index][1]}
        for t, v in points:
            parts.append(
                f'<circle class="marker" cx="{_num(sx(t))}" cy="{_num(sy(tops[t]))}" r="4" fill="{color}" '
                f'stroke="#ffffff" stroke-width="1.5"><title>{escape(name)}: '
                f"{escape(format_value(v, unit))}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# latency distribution


def latency_histogram(buckets: Sequence[tuple[float, int]], *, label: str, kind: str = "latency") -> str:
    """The latency distribution: one bar per bucket, equal widths (the bounds grow geometrically,
    so the axis reads as a log scale), bounds labelled at the bar edges (``10 ms``, ``1 s``)."""
    rows = [(float(bound), int(count)) for bound, count in buckets if count is not None]
    counts = [max(0, count) for _, count in rows]
    if not rows or sum(counts) == 0:
        return empty_chart(label, kind)
    drawn_bars = sum(1 for count in counts if count > 0)

    y_ticks, y_step = nice_ticks(0, max(counts), 5)
    tick_labels = [format_value(v, "count", y_step) for v in y_ticks]
    left = max(44.0, max(_text_width(text) for text in tick_labels) + 14)
    right = 18.0
    plot_w = WIDTH - left - right
    slot = plot_w / len(rows)
    edge_labels = [format_duration(bound) for bound, _ in rows]
    rotate = max(_text_width(text) for text in edge_labels) > slot - 6
    bottom = 70.0 if rotate else 44.0
    top = 30.0
    plot_h = HEIGHT - top - bottom

    def sy(v: float) -> float:
        return top + plot_h - v / y_ticks[-1] * plot_h

    parts = [_svg_open(WIDTH, HEIGHT, label, drawn_bars, kind)]
    parts.append(f'<text x="{_num(left - 8)}" y="{_num(top - 14)}" fill="{MUTED_COLOR}">model calls</text>')
    for value, text in zip(y_ticks, tick_labels):
        y = sy(value)
        parts.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(left + plot_w)}" y2="{_num(y)}" '
            f'stroke="{GRID_COLOR if value else AXIS_COLOR}" shape-rendering="crispEdges"/>'
        )
        parts.append(
            f'<text x="{_num(left - 6)}" y="{_num(y + 4)}" text-anchor="end" fill="{MUTED_COLOR}">{escape(text)}</text>'
        )
    gap = min(4.0, slot * 0.15)
    previous = 0.0
    for index, ((bound, _), count) in enumerate(zip(rows, counts)):
        x = left + index * slot
        if count > 0:
            y = sy(count)
            span = (
                f"over {format_duration(previous)}" if math.isinf(bound)
                else f"{format_duration(previous)} – {format_duration(bound)}"
            )
            parts.append(
                f'<rect class="bar" x="{_num(x + gap / 2)}" y="{_num(y)}" width="{_num(slot - gap)}" '
                f'height="{_num(top + plot_h - y)}" fill="{LATENCY_COLOR}" shape-rendering="crispEdges">'
                f"<title>{escape(span)}: {count} calls</title></rect>"
            )
        previous = bound
    # bucket bounds at the bars' right edges (the first bar starts at 0)
    label_y = top + plot_h + 16
    for index, text in enumerate(["0"] + edge_labels):
        if index and math.isinf(rows[index - 1][0]):
            continue
        x = left + index * slot
        parts.append(
            f'<line x1="{_num(x)}" y1="{_num(top + plot_h)}" x2="{_num(x)}" y2="{_num(top + plot_h + 4)}" '
            f'stroke="{AXIS_COLOR}" shape-rendering="crispEdges"/>'
        )
        if rotate:
            parts.append(
                f'<text x="{_num(x)}" y="{_num(label_y)}" text-anchor="end" fill="{MUTED_COLOR}" '
                f'transform="rotate(-35 {_num(x)} {_num(label_y)})">{escape(text)}</text>'
            )
        else:
            parts.append(
                f'<text x="{_num(x)}" y="{_num(label_y)}" text-anchor="middle" fill="{MUTED_COLOR}">{escape(text)}</text>'
            )
    parts.append(
        f'<text x="{_num(left + plot_w / 2)}" y="{_num(HEIGHT - 6)}" text-anchor="middle" fill="{MUTED_COLOR}">'
        "latency (bucket bounds, log scale)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# errors


def severity_color(severity: str) -> str:
    return SEVERITY_COLORS.get(severity, UNKNOWN_SEVERITY_COLOR)


def error_bars(rows: Iterable[tuple[str, str, int]], *, label: str, kind: str = "errors") -> str:
    """Horizontal bars, one per error category, colored by severity, with the count at the end."""
    data = [(str(category), str(severity), int(count)) for category, severity, count in rows]
    data = [row for row in data if row[2] > 0]
    if not data:
        return empty_chart(label, kind, message="No errors in this period")

    severities = [s for s in SEVERITY_ORDER if any(row[1] == s for row in data)]
    others = sorted({row[1] for row in data} - set(SEVERITY_ORDER))
    legend_entries = [(s, severity_color(s), "") for s in severities + others]

    names = [_clip(category, 28) for category, _, _ in data]
    left = min(220.0, max(80.0, max(_text_width(name) for name in names) + 20))
    right = 56.0
    legend_parts, legend_height = _legend(legend_entries, left, 8, WIDTH - left - right)
    top = 8 + legend_height + 8
    # rows share the chart's height (a few categories get thicker bars, many get a taller chart)
    row_h = min(34.0, max(24.0, (HEIGHT - top - 30) / len(data)))
    bar_h = round(row_h * 0.66)
    ticks, step = nice_ticks(0, max(row[2] for row in data), 4)
    plot_w = WIDTH - left - right
    plot_h = row_h * len(data)
    height = max(HEIGHT, top + plot_h + 30)

    def sx(v: float) -> float:
        return left + v / ticks[-1] * plot_w

    parts = [_svg_open(WIDTH, height, label, len(data), kind)]
    parts.extend(legend_parts)
    for value in ticks:
        x = sx(value)
        parts.append(
            f'<line x1="{_num(x)}" y1="{_num(top)}" x2="{_num(x)}" y2="{_num(top + plot_h)}" '
            f'stroke="{GRID_COLOR if value else AXIS_COLOR}" shape-rendering="crispEdges"/>'
        )
        parts.append(
            f'<text x="{_num(x)}" y="{_num(top + plot_h + 16)}" text-anchor="middle" fill="{MUTED_COLOR}">'
            f"{escape(format_value(value, 'count', step))}</text>"
        )
    for index, ((category, severity, count), name) in enumerate(zip(data, names)):
        y = top + index * row_h + (row_h - bar_h) / 2
        parts.append(
            f'<text x="{_num(left - 8)}" y="{_num(y + bar_h / 2 + 4)}" text-anchor="end">{escape(name)}'
            + (f"<title>{escape(category)}</title>" if name != category else "")
            + "</text>"
        )
        width = max(1.0, sx(count) - left)
        parts.append(
            f'<rect class="bar" x="{_num(left)}" y="{_num(y)}" width="{_num(width)}" height="{_num(bar_h)}" '
            f'fill="{severity_color(severity)}" shape-rendering="crispEdges">'
            f"<title>{escape(category)} ({escape(severity)}): {count}</title></rect>"
        )
        parts.append(
            f'<text x="{_num(left + width + 6)}" y="{_num(y + bar_h / 2 + 4)}" fill="{TEXT_COLOR}" '
            f'font-weight="600">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
