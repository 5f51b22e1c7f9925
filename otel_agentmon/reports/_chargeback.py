"""``otel-agentmon chargeback``: a month's model spend per department, user or application.

Model calls that started in the UTC calendar month, from the rollups (exact for any month:
month bounds are day bounds). Cost is the derived cost of priced calls; calls of a model
nobody priced are counted apart (``unpriced calls``), never as $0. Calls without the
attribute (no department set, say) are grouped under an empty owner, shown as ``(none)``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from dataclasses import dataclass
from typing import Any

from otel_agentmon.reports import _format as fmt
from otel_agentmon.reports._time import iso, parse_month
from otel_agentmon.store._reader import OWNER, StoreReader
from otel_agentmon.store._schema import (
    CACHE_READ_TOKENS as _CACHE_READ,
    CACHE_WRITE_TOKENS as _CACHE_WRITE,
    CALLS as _CALLS,
    COST_USD as _COST,
    DURATION_S as _DURATION,
    ERRORS as _ERRORS,
    INPUT_TOKENS as _IN,
    OUTPUT_TOKENS as _OUT,
    PRICED_CALLS as _PRICED,
    REASONING_TOKENS as _REASONING,
    UNPRICED_CALLS as _UNPRICED,
)

BY_CHOICES = ("department", "user", "application")
_DIMENSION = {"department": "department", "user": "user_id", "application": "application"}


@dataclass(frozen=True)
class ChargebackLine:
    owner: str | None  # None: calls without the attribute
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    share: float | None  # of the month's total cost; None when the total is 0
    unpriced_calls: int


@dataclass(frozen=True)
class Chargeback:
    store: str
    month: str
    by: str
    period_start: float
    period_end: float
    generated_at: float
    lines: tuple[ChargebackLine, ...]  # by cost, highest first
    total: ChargebackLine


def build_chargeback(store_path: str | None, month: str, by: str = "department", *, now: float | None = None) -> Chargeback:
    """The chargeback of ``month`` (``YYYY-MM``) by ``by``. Raises InputError (bad month or
    dimension) or StoreError."""
    start, end = parse_month(month)
    if by not in _DIMENSION:
        from otel_agentmon.reports._time import InputError

        raise InputError(f"--by {by} is not one of {', '.join(BY_CHOICES)}")
    with StoreReader(store_path) as reader:
        totals = reader.totals(OWNER, (_DIMENSION[by],), reader.plan(start, end))
        path = reader.path
    total_cost = sum(m[_COST] for m in totals.values())

    def line(owner: str | None, m: list) -> ChargebackLine:
        return ChargebackLine(owner, int(m[_CALLS]), int(m[_IN]), int(m[_OUT]), float(m[_COST]),
                              m[_COST] / total_cost if total_cost > 0 else None, int(m[_UNPRICED]))

    lines = [line(key[0] or None, m) for key, m in totals.items()]
    lines.sort(key=lambda x: (-x.cost_usd, -x.requests, x.owner or ""))
    summed = [sum(m[i] for m in totals.values()) for i in range(11)] if totals else [0] * 7 + [0.0] + [0] * 3
    total = line("TOTAL", summed)
    return Chargeback(path, month.strip(), by, start, end, time.time() if now is None else now, tuple(lines), total)


def to_json_dict(chargeback: Chargeback) -> dict[str, Any]:
    data = dataclasses.asdict(chargeback)
    for key in ("period_start", "period_end", "generated_at"):
        data[key] = iso(data[key])
    return data


def render_json(chargeback: Chargeback) -> str:
    return json.dumps(to_json_dict(chargeback), indent=2) + "\n"


_CSV_HEADER = ("requests", "input_tokens", "output_tokens", "cost_usd", "share", "unpriced_calls")


def render_csv(chargeback: Chargeback) -> str:
    """One row per owner and a TOTAL row; cost in full precision, share as a fraction."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("month", chargeback.by, *_CSV_HEADER))
    for x in (*chargeback.lines, chargeback.total):
        writer.writerow((chargeback.month, x.owner or "", x.requests, x.input_tokens, x.output_tokens,
                         f"{x.cost_usd:.10f}".rstrip("0").rstrip(".") if x.cost_usd else "0",
                         "" if x.share is None else f"{x.share:.6f}", x.unpriced_calls))
    return out.getvalue()


def render_table(chargeback: Chargeback) -> str:
    c = chargeback
    out = [f"otel-agentmon chargeback  {c.month} by {c.by}  {c.store}",
           f"model calls from {fmt.when(c.period_start)} to {fmt.when(c.period_end)} UTC", ""]
    if not c.lines:
        out.append("  no model calls stored in this month")
        return "\n".join(out) + "\n"
    rows = [[x.owner or "(none)", fmt.exact(x.requests), fmt.exact(x.input_tokens), fmt.exact(x.output_tokens),
             fmt.usd(x.cost_usd), fmt.percent(x.share), fmt.exact(x.unpriced_calls) if x.unpriced_calls else ""]
            for x in c.lines]
    t = c.total
    rows.append([t.owner or "", fmt.exact(t.requests), fmt.exact(t.input_tokens), fmt.exact(t.output_tokens),
                 fmt.usd(t.cost_usd), fmt.percent(t.share), fmt.exact(t.unpriced_calls) if t.unpriced_calls else ""])
    lines = fmt.table([c.by, "requests", "tokens in", "tokens out", "cost", "share", "unpriced calls"], rows)
    width = max(len(line) for line in lines)
    out += lines[:-1] + ["  " + "-" * (width - 2), lines[-1]]
    if t.unpriced_calls:
        out += ["", f"  {fmt.exact(t.unpriced_calls)} calls of models without a known price are not in the cost; "
                    "add their prices to AGENTMON_PRICES_FILE"]
    return "\n".join(out) + "\n"
