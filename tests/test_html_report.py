"""The HTML report renderer: fast checks of the page text, and a slow test that opens the page in
headless Chromium, takes a screenshot and checks, pixel by pixel, that every chart was drawn."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import tempfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

import _png
from _tools import tool

from otel_agentmon.reports import _svg
from otel_agentmon.reports._html import render_html
from otel_agentmon.reports._html_data import HtmlReportData, Series

START = 1_795_219_200.0  # 2026-11-21T00:00:00Z
BUCKET = 300.0
CHART_IDS = ("chart-latency", "chart-cost", "chart-errors", "chart-tokens")
# the OpenTelemetry GenAI bucket bounds of gen_ai.client.operation.duration, and the overflow
LATENCY_BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, math.inf)
SCREENSHOTS = Path(os.environ.get("AGENTMON_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "otel-agentmon-report"))


def minimal_data(**changes) -> HtmlReportData:
    data = HtmlReportData(
        title="Agent fleet report",
        period=(START, START + 3600),
        generated_at=START + 3700,
        bucket_seconds=BUCKET,
        summary=(("Model calls", "12"), ("Cost", "$0.42")),
        latency_buckets=((0.1, 3), (1.0, 7), (10.0, 2)),
        latency_percentiles=(("gpt-4o", 0.4, 0.9, 1.2),),
        cost_over_time=(Series("gpt-4o", ((START, 0.1), (START + BUCKET, 0.32))),),
        tokens_over_time=(Series("input", ((START, 1200.0), (START + BUCKET, 800.0))),),
        errors_by_category=(("rate_limit", "warning", 2),),
        tables=(("Top agents", ("Agent", "Runs", "Cost"), (("support-bot", "10", "$0.40"),)),),
    )
    return replace(data, **changes)


def realistic_data() -> HtmlReportData:
    """Five hours of a fleet in 5-minute buckets: 3 models, 4 token types, 8 error categories."""
    rng = random.Random(20261121)
    buckets = [START + i * BUCKET for i in range(60)]

    def wave(i: int, base: float, swing: float, phase: float) -> float:
        return max(0.0, base * (1 + swing * math.sin(i / 9 + phase)) * rng.uniform(0.85, 1.15))

    models = (("gpt-4o", 0.9, 0.0), ("claude-sonnet-4-5", 0.6, 1.7), ("gpt-4o-mini", 0.12, 3.1))
    cost = tuple(
        Series(name, tuple((t, round(wave(i, base, 0.45, phase), 4)) for i, t in enumerate(buckets)))
        for name, base, phase in models
    )
    token_types = (("input", 182_000, 0.0), ("output", 41_000, 0.5), ("cache_read", 96_000, 2.0),
                   ("reasoning", 18_000, 4.0))
    tokens = tuple(
        Series(name, tuple((t, float(round(wave(i, base, 0.35, phase)))) for i, t in enumerate(buckets)))
        for name, base, phase in token_types
    )
    latency_counts = (0, 4, 31, 118, 402, 1210, 2388, 1974, 866, 301, 97, 28, 9, 2, 1)
    errors = (
        ("rate_limit", "warning", 142), ("timeout", "warning", 63), ("context_length_exceeded", "medium", 41),
        ("tool_error", "medium", 27), ("provider_error", "warning", 19), ("auth_error", "critical", 12),
        ("budget_exceeded", "critical", 7), ("content_filter", "medium", 3),
    )
    total_cost = sum(v for s in cost for _, v in s.points)
    total_tokens = sum(v for s in tokens for _, v in s.points)
    return HtmlReportData(
        title="Agent fleet report: production",
        period=(START, START + 60 * BUCKET),
        generated_at=START + 60 * BUCKET + 42,
        bucket_seconds=BUCKET,
        summary=(
            ("Agent runs", "1,482"), ("Model calls", "7,431"), ("Cost", f"${total_cost:,.2f}"),
            ("Tokens", f"{total_tokens / 1e6:.1f}M"), ("Error rate", "4.2%"), ("P95 latency", "2.4 s"),
        ),
        latency_buckets=tuple(zip(LATENCY_BOUNDS, latency_counts)),
        latency_percentiles=(
            ("gpt-4o", 0.71, 2.31, 4.9), ("claude-sonnet-4-5", 0.94, 2.88, 6.2), ("gpt-4o-mini", 0.33, 0.97, 1.6),
        ),
        cost_over_time=cost,
        tokens_over_time=tokens,
        errors_by_category=errors,
        tables=(
            ("Cost by model", ("Model", "Calls", "Input tokens", "Output tokens", "Cost"), (
                ("gpt-4o", "3,120", "10.2M", "1.9M", "$48.61"),
                ("claude-sonnet-4-5", "2,011", "7.4M", "1.1M", "$33.02"),
                ("gpt-4o-mini", "2,300", "3.3M", "0.6M", "$6.74"),
            )),
            ("Agents", ("Agent", "Runs", "Errors", "Cost"), (
                ("support-triage", "812", "31", "$41.20"),
                ("research-assistant", "402", "22", "$35.87"),
                ("invoice-extractor", "268", "9", "$11.30"),
            )),
        ),
    )


# ---------------------------------------------------------------------------------------------
# helpers


class _Figures(HTMLParser):
    """The figures of a page: id -> attributes of the first <svg> inside, and its <figcaption> text."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict] = {}
        self._current: str | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "figure":
            self._current = attributes.get("id") or ""
            self.figures[self._current] = {"svg": None, "caption": ""}
        elif tag == "figcaption" and self._current is not None:
            self._in_caption = True
        elif tag == "svg" and self._current is not None and self.figures[self._current]["svg"] is None:
            self.figures[self._current]["svg"] = attributes

    def handle_endtag(self, tag):
        if tag == "figure":
            self._current = None
        elif tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        if self._in_caption and self._current is not None:
            self.figures[self._current]["caption"] += data


def figures(page: str) -> dict[str, dict]:
    parser = _Figures()
    parser.feed(page)
    return parser.figures


def points_of(page: str) -> dict[str, int]:
    return {ident: int(fig["svg"]["data-points"]) for ident, fig in figures(page).items()}


def assert_self_contained(page: str) -> None:
    lowered = page.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert not re.search(r"\ssrc\s*=", lowered)
    assert not re.search(r"\shref\s*=", lowered)
    assert "@import" not in lowered
    assert "url(" not in lowered
    assert "<script" not in lowered
    assert "<link" not in lowered


# ---------------------------------------------------------------------------------------------
# fast: the page text


def test_page_has_every_section_and_chart():
    page = render_html(realistic_data())
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "<title>Agent fleet report: production</title>" in page
    assert "2026-11-21T00:00:00Z" in page and "2026-11-21T05:00:00Z" in page
    for label in ("Agent runs", "Model calls", "Error rate", "P95 latency"):
        assert f'<span class="label">{label}</span>' in page
    found = figures(page)
    assert set(CHART_IDS) <= set(found)
    for ident in CHART_IDS:
        assert found[ident]["svg"] is not None, ident
        assert found[ident]["caption"].strip(), ident
    assert points_of(page) == {"chart-latency": 14, "chart-cost": 180, "chart-errors": 8, "chart-tokens": 240}
    assert 'id="latency-percentiles"' in page
    for text in ("Cost by model", "support-triage", "$41.20", "claude-sonnet-4-5"):
        assert text in page
    # percentiles are humanized durations
    assert "<td>gpt-4o-mini</td><td class=\"num\">330 ms</td>" in page


def test_page_is_self_contained():
    assert_self_contained(render_html(realistic_data()))
    assert_self_contained(render_html(minimal_data()))


def test_output_is_deterministic():
    assert render_html(realistic_data()) == render_html(realistic_data())
    data = minimal_data()
    assert render_html(data) == render_html(data)


def test_hostile_names_are_escaped():
    hostile = '<script>alert("x")</script>'
    attribute = '" onload="alert(1)'
    data = minimal_data(
        title=hostile,
        summary=((hostile, attribute),),
        latency_percentiles=((hostile, 0.1, 0.2, 0.3),),
        cost_over_time=(Series(hostile, ((START, 1.0), (START + BUCKET, 2.0))),),
        tokens_over_time=(Series(attribute, ((START, 1.0), (START + BUCKET, 2.0))),),
        errors_by_category=((hostile, attribute, 3),),
        tables=((hostile, (hostile, attribute), ((hostile, attribute),)),),
    )
    page = render_html(data)
    assert "<script" not in page.lower()
    assert 'onload="' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&quot; onload=&quot;alert(1)" in page
    # the page still parses into its four charts
    assert set(CHART_IDS) <= set(figures(page))
    assert_self_contained(page)


def test_empty_data_shows_a_message_instead_of_charts():
    data = minimal_data(
        summary=(),
        latency_buckets=(),
        latency_percentiles=(),
        cost_over_time=(),
        tokens_over_time=(Series("input", ()),),
        errors_by_category=(),
        tables=(("Agents", ("Agent", "Runs"), ()),),
    )
    page = render_html(data)
    assert points_of(page) == dict.fromkeys(CHART_IDS, 0)
    assert page.count(_svg.NO_DATA) >= 4  # latency, cost, tokens, percentiles (+ the empty table)
    assert "No errors in this period" in page
    assert "<polyline" not in page and 'class="bar"' not in page
    assert_self_contained(page)


def test_latency_buckets_of_zero_calls_are_empty():
    page = render_html(minimal_data(latency_buckets=((0.1, 0), (1.0, 0))))
    assert points_of(page)["chart-latency"] == 0


def test_single_point_series_get_markers():
    data = minimal_data(
        period=(START, START),
        cost_over_time=(Series("gpt-4o", ((START, 0.25),)),),
        tokens_over_time=(Series("input", ((START, 900.0),)), Series("output", ((START, 120.0),))),
    )
    page = render_html(data)
    counts = points_of(page)
    assert counts["chart-cost"] == 1 and counts["chart-tokens"] == 2
    cost_svg = page[page.index('id="chart-cost"'):page.index('id="chart-errors"')]
    tokens_svg = page[page.index('id="chart-tokens"'):]
    assert cost_svg.count('class="marker"') == 1
    assert tokens_svg.count('class="marker"') == 2
    assert not re.search(r"\b(nan|inf)\b", page)


def test_many_series_get_distinct_colors_then_dashes():
    series = tuple(
        Series(f"model-{n}", tuple((START + i * BUCKET, float(n + i)) for i in range(10))) for n in range(10)
    )
    page = render_html(minimal_data(cost_over_time=series))
    cost_svg = page[page.index('id="chart-cost"'):page.index('id="chart-errors"')]
    strokes = re.findall(r'<polyline class="series"[^>]*stroke="(#[0-9a-f]{6})"', cost_svg)
    assert len(strokes) == 10
    assert strokes[:8] == list(_svg.PALETTE)
    assert cost_svg.count('stroke-dasharray="6 3"') >= 2
    for n in range(10):
        assert f"model-{n} · " in cost_svg
    assert points_of(page)["chart-cost"] == 100


def test_axes_are_humanized():
    page = render_html(realistic_data())
    cost_svg = page[page.index('id="chart-cost"'):page.index('id="chart-errors"')]
    tokens_svg = page[page.index('id="chart-tokens"'):]
    latency_svg = page[page.index('id="chart-latency"'):page.index('id="chart-cost"')]
    assert re.search(r">\$\d+(\.\d+)?</text>", cost_svg)  # dollar ticks
    assert re.search(r">\d+(\.\d+)?k</text>", tokens_svg)  # thousands of tokens
    for label in (">10 ms<", ">640 ms<", ">1.28 s<", ">81.92 s<"):
        assert label in latency_svg
    assert ">00:00<" in cost_svg and ">Nov 21<" in cost_svg  # UTC time ticks with the date


def test_non_finite_values_are_skipped():
    data = minimal_data(
        cost_over_time=(Series("gpt-4o", ((START, math.nan), (START + BUCKET, 0.5), (START + 2 * BUCKET, math.inf))),),
    )
    page = render_html(data)
    assert points_of(page)["chart-cost"] == 1
    assert not re.search(r"\b(nan|inf)\b", page)


def test_png_decoder_round_trip():
    """The decoder the slow test relies on, against a PNG written here with every filter type."""
    import struct
    import zlib

    width, height = 5, 5
    pixels = [[((x * 40) % 256, (y * 50) % 256, (x * y * 7) % 256, 255) for x in range(width)] for y in range(height)]

    def filtered(kind: int, row: bytes, prev: bytes, bpp: int = 4) -> bytes:
        out = bytearray()
        for i, value in enumerate(row):
            left = row[i - bpp] if i >= bpp else 0
            up = prev[i]
            upper_left = prev[i - bpp] if i >= bpp else 0
            predictor = (0, left, up, (left + up) >> 1, _png._paeth(left, up, upper_left))[kind]
            out.append((value - predictor) & 0xFF)
        return bytes(out)

    raw = bytearray()
    prev = bytes(width * 4)
    for y in range(height):
        row = bytes(v for px in pixels[y] for v in px)
        raw.append(y % 5)
        raw += filtered(y % 5, row, prev)
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    blob = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))
    image = _png.decode(blob)
    assert (image.width, image.height, image.channels) == (5, 5, 4)
    for y in range(height):
        for x in range(width):
            assert image.pixel(x, y) == pixels[y][x][:3]
    assert sum(image.rgb_counts().values()) == 25


# ---------------------------------------------------------------------------------------------
# slow: the page in a real browser

WINDOW = (1280, 2400)
_MEASURE = """<script>
for (const id of %s) {
  const svg = document.querySelector('#' + id + ' svg');
  const box = svg.getBoundingClientRect();
  svg.setAttribute('data-box', [box.left, box.top, box.right, box.bottom].map(Math.round).join(','));
}
</script>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    command = [
        tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    data = realistic_data()
    page = render_html(data)
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")

    # (a) the screenshot of the page as shipped
    png = tmp_path / "report.png"
    shot = _chromium(f"--screenshot={png}", html.as_uri(), profile=tmp_path / "profile-shot")
    assert png.exists(), f"no screenshot: {shot.returncode}\n{shot.stderr[-2000:]}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "report.png").write_bytes(png.read_bytes())
    (SCREENSHOTS / "report.html").write_text(page, encoding="utf-8")

    # (b) the DOM after layout, from a copy that records where each chart landed on the page
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", _MEASURE % list(CHART_IDS) + "</body>"), encoding="utf-8")
    dump = _chromium("--dump-dom", measured.as_uri(), profile=tmp_path / "profile-dom")
    assert dump.returncode == 0, dump.stderr[-2000:]
    found = figures(dump.stdout)
    boxes = {}
    for ident in CHART_IDS:
        svg = found.get(ident, {}).get("svg")
        assert svg is not None, f"{ident} has no <svg> after rendering"
        left, top, right, bottom = (int(v) for v in svg["data-box"].split(","))
        assert right - left > 400 and bottom - top > 150, f"{ident} is too small: {svg['data-box']}"
        assert bottom <= WINDOW[1], f"{ident} is below the screenshot"
        boxes[ident] = (left, top, right, bottom)
    assert points_of(dump.stdout) == {"chart-latency": 14, "chart-cost": 180, "chart-errors": 8, "chart-tokens": 240}

    image = _png.read(png)
    assert (image.width, image.height) == WINDOW

    # not blank: a good share of the page is ink, in many colors, and the header band is there
    everything = image.rgb_counts()
    white = everything.get((255, 255, 255), 0)
    background = everything.get(_hex("#f1f3f4"), 0)
    ink = image.width * image.height - white - background
    assert ink > 0.05 * image.width * image.height, f"the page looks blank: {ink} pixels of ink"
    assert len(everything) > 200, f"only {len(everything)} colors on the page"
    assert everything.get(_hex("#1f2a44"), 0) > 1280 * 60, "the header band is missing"

    # each chart drew its marks in its own colors, inside its own box (legend swatches are 12x12:
    # the minimums are well above what a legend alone paints)
    per_chart = {ident: image.rgb_counts(box) for ident, box in boxes.items()}
    seen: dict[str, dict[str, int]] = {}
    for ident, series in (("chart-cost", data.cost_over_time), ("chart-tokens", data.tokens_over_time)):
        for index, one in enumerate(series):
            count = per_chart[ident].get(_hex(_svg.series_color(index)), 0)
            seen.setdefault(ident, {})[one.name] = count
    seen["chart-latency"] = {"bars": per_chart["chart-latency"].get(_hex(_svg.LATENCY_COLOR), 0)}
    seen["chart-errors"] = {
        severity: per_chart["chart-errors"].get(_hex(color), 0) for severity, color in _svg.SEVERITY_COLORS.items()
    }
    minimums = {"chart-cost": 400, "chart-tokens": 400, "chart-latency": 8000, "chart-errors": 400}
    for ident, counts in seen.items():
        for name, count in counts.items():
            assert count >= minimums[ident], f"{ident}: {name} drew {count} pixels of its color: {seen}"
    # a severity's pixels scale with its bars: warning errors (224) outnumber critical ones (19)
    assert seen["chart-errors"]["warning"] > 3 * seen["chart-errors"]["critical"]
    # and a chart's colors stay in it: no cost series color painted in the latency chart
    for index in range(len(data.cost_over_time)):
        assert per_chart["chart-latency"].get(_hex(_svg.series_color(index)), 0) == 0
