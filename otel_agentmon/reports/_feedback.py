"""The report's user feedback: ratings from ``otel_agentmon.feedback`` over a period.

A rating is a ``gen_ai.evaluation.result`` event named ``user_feedback`` (score 1 to 5), kept
in the store's ``evaluations`` table beside the quality scores and tied to the rated model
call's span. Definitions:

- *ratings*, *mean* and the *trend* (the mean of the period's second half minus that of its
  first half, the halves of the quality section) come from the evaluation rollups, so they
  cover the whole period, pruned days included.
- the *distribution* (ratings per whole star, 1 to 5) and the *low* ratings (at most
  ``LOW_RATING_MAX``, 2) come from the rating rollups, so they cover pruned days too, except
  ratings pruned before the store kept rating rollups (schema version 2): those are counted in
  ``pruned`` and nowhere else.
- the *low-rated interactions* need raw rows: only those still stored are listed.
- a low-rated interaction's application, user and model are those of the rated span when the
  span is in the store; its agent is that of the nearest ``invoke_agent`` span above it (a
  model call span names no agent). Otherwise (the span is another process's store, or was
  pruned, or the rating is tied to no span) they are those the rating itself carries: the
  process that recorded it knew the call by its response id. The service is the rating's own
  ``service.name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from otel_agentmon.reports import _format as fmt
from otel_agentmon.reports._halves import evaluation_halves
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as sm
from otel_agentmon.store._reader import NS, RATING, StoreReader

FEEDBACK_NAME = sm.FEEDBACK_EVALUATION_NAME
LOW_RATING_MAX = sm.LOW_RATING_MAX
RATINGS = tuple(range(1, 6))
MAX_AGENT_DEPTH = 32  # ancestors looked at for the agent of a rated call
_INVOKE_AGENT = ga.Operation.INVOKE_AGENT


@dataclass(frozen=True)
class RatingCount:
    rating: int  # 1 to 5 (a rating that is not a whole number counts at the nearest one)
    count: int
    share: float | None  # of the ratings in the distribution


@dataclass(frozen=True)
class RatedInteraction:
    """A low rating and the model call it rates."""

    time: float  # when the rating was recorded (unix seconds; ISO 8601 in JSON)
    rating: float
    trace_id: str | None  # None: the rating was not tied to a call
    span_id: str | None
    span_stored: bool  # whether the rated span is in the store (for the fields below)
    service: str | None
    application: str | None
    agent: str | None
    user: str | None
    provider: str | None
    model: str | None


@dataclass(frozen=True)
class Feedback:
    count: int
    mean: float | None
    first_half_count: int
    first_half_mean: float | None
    second_half_count: int
    second_half_mean: float | None
    trend: float | None  # second half mean minus first half mean
    distribution: tuple[RatingCount, ...]  # ratings 1 to 5, from the rating rollups
    low: int  # ratings <= LOW_RATING_MAX, from the rating rollups
    low_share: float | None  # of the ratings in the distribution
    pruned: int  # ratings of the period in no rating rollup (pruned before schema version 2): not in the above
    low_rated: tuple[RatedInteraction, ...]  # the most recent low ratings first, at most ``top``


def is_feedback_condition() -> tuple[str, tuple[str]]:
    """SQL condition on an evaluation's ``name`` (rollup or raw rows): user feedback."""
    return "name = ?", (FEEDBACK_NAME,)


def not_feedback_condition() -> tuple[str, tuple[str]]:
    """SQL condition on an evaluation's ``name``: anything but user feedback (quality scores)."""
    return "name != ?", (FEEDBACK_NAME,)


def build_feedback(reader: StoreReader, start: float, middle: float, stop: float | None, top: int) -> Feedback | None:
    """The feedback over [start, stop) (stop None: open), its halves split at ``middle``; None
    when nobody rated anything in the period."""
    where, parameters = is_feedback_condition()
    halves = evaluation_halves(reader, (), start, middle, stop, where, parameters).get(())
    if halves is None or not halves.count:
        return None
    plan = reader.plan(start, stop)
    bounds = (int(plan.since * NS), int(plan.until * NS))
    stars = {rating: 0 for rating in RATINGS}
    for (star,), (n,) in reader.totals(RATING, ("rating",), plan).items():
        stars[int(star)] += int(n)
    low = sum(n for star, n in stars.items() if star <= LOW_RATING_MAX)
    rated = sum(stars.values())
    return Feedback(
        count=halves.count, mean=halves.mean,
        first_half_count=halves.first_count, first_half_mean=halves.first_mean,
        second_half_count=halves.second_count, second_half_mean=halves.second_mean, trend=halves.change,
        distribution=tuple(RatingCount(r, n, n / rated if rated else None) for r, n in stars.items()),
        low=int(low), low_share=low / rated if rated else None, pruned=max(0, halves.count - rated),
        low_rated=low_rated(reader, bounds, top),
    )


def low_rated(reader: StoreReader, bounds: tuple[int, int], top: int) -> tuple[RatedInteraction, ...]:
    """The ``top`` most recent low ratings in [bounds) (unix nanoseconds), with their spans."""
    if top <= 0:
        return ()
    rows = reader.query(
        "SELECT e.time_ns, e.score, e.trace_id, e.span_id, e.service_name, s.rowid IS NOT NULL, "
        "COALESCE(s.application, e.application), s.agent_name, COALESCE(s.user_id, e.user_id), "
        "COALESCE(s.provider, e.provider), COALESCE(s.request_model, s.response_model, e.request_model), "
        "s.parent_span_id, e.agent_name "
        "FROM evaluations e LEFT JOIN spans s ON s.rowid = (SELECT rowid FROM spans "
        "WHERE trace_id = e.trace_id AND span_id = e.span_id LIMIT 1) "
        "WHERE e.name = ? AND e.score <= ? AND e.time_ns >= ? AND e.time_ns < ? "
        "ORDER BY e.time_ns DESC LIMIT ?", (FEEDBACK_NAME, LOW_RATING_MAX, *bounds, top))
    out = []
    for (when, score, trace_id, span_id, service, stored, application, agent, user, provider, model,
         parent, rated_agent) in rows:
        if stored and agent is None and parent is not None:
            agent = _agent_above(reader, trace_id, parent)
        if agent is None:
            agent = rated_agent
        out.append(RatedInteraction(when / NS, float(score), trace_id, span_id, bool(stored), service, application,
                                    agent, user, provider, model))
    return tuple(out)


def _agent_above(reader: StoreReader, trace_id: str, parent_span_id: str) -> str | None:
    """The agent name of the nearest ``invoke_agent`` span among a span's stored ancestors."""
    rows = reader.query(
        "WITH RECURSIVE up(span_id, parent, operation, agent, depth) AS ("
        " SELECT span_id, parent_span_id, operation, agent_name, 1 FROM spans WHERE trace_id = ? AND span_id = ?"
        " UNION ALL"
        " SELECT s.span_id, s.parent_span_id, s.operation, s.agent_name, up.depth + 1 FROM spans s JOIN up"
        " ON s.trace_id = ? AND s.span_id = up.parent"
        " WHERE NOT (up.operation = ? AND up.agent IS NOT NULL) AND up.depth < ?)"
        " SELECT agent FROM up WHERE operation = ? AND agent IS NOT NULL ORDER BY depth LIMIT 1",
        (trace_id, parent_span_id, trace_id, _INVOKE_AGENT, MAX_AGENT_DEPTH, _INVOKE_AGENT))
    return rows[0][0] if rows else None


# --- output ----------------------------------------------------------------------------------

def rating(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def signed_rating(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _star(value: float) -> str:
    return f"{value:g}"


SUMMARY_HEADER = ("ratings", "mean", "first half", "second half", "trend", f"low (1-{LOW_RATING_MAX})")
DISTRIBUTION_HEADER = ("rating", "count", "share")
LOW_RATED_HEADER = ("time (UTC)", "rating", "trace id", "service", "application", "agent", "user", "model")


def summary_row(f: Feedback) -> tuple[str, ...]:
    low = f"{fmt.count(f.low)} ({fmt.percent(f.low_share)})" if f.low_share is not None else "-"
    return (fmt.count(f.count), rating(f.mean), rating(f.first_half_mean), rating(f.second_half_mean),
            signed_rating(f.trend), low)


def distribution_rows(f: Feedback) -> tuple[tuple[str, ...], ...]:
    return tuple((str(r.rating), fmt.count(r.count), fmt.percent(r.share)) for r in f.distribution)


def low_rated_rows(f: Feedback) -> tuple[tuple[str, ...], ...]:
    return tuple((fmt.when(x.time), _star(x.rating), x.trace_id or "(not tied to a call)", x.service or "-",
                  x.application or "-", x.agent or "-", x.user or "-", x.model or "-") for x in f.low_rated)


def low_rated_title(f: Feedback) -> str:
    shown = len(f.low_rated)
    which = f"the {shown} most recent of {fmt.count(f.low)}" if shown < f.low else f"all {fmt.count(f.low)}"
    return f"Low-rated interactions (rating <= {LOW_RATING_MAX}: {which}, most recent first)"


def render_lines(f: Feedback | None) -> list[str]:
    """The table report's section (nothing when there was no feedback in the period)."""
    if f is None:
        return []
    out = ["", "User feedback (ratings 1 to 5; trend: second half of the period minus first half)"]
    out += fmt.table(SUMMARY_HEADER, [summary_row(f)], right=[True] * len(SUMMARY_HEADER))
    if f.pruned:
        out.append(f"  {fmt.count(f.pruned)} ratings were pruned before the store counted ratings by star: "
                   f"the figures below count the {fmt.count(f.count - f.pruned)} others")
    out.append("")
    out += fmt.table(DISTRIBUTION_HEADER, distribution_rows(f))
    if f.low_rated:
        out += ["", low_rated_title(f)]
        out += fmt.table(LOW_RATED_HEADER, low_rated_rows(f), right=[False, True] + [False] * 6)
        if any(x.trace_id is not None and not x.span_stored for x in f.low_rated):
            out.append("  (-: the rated call's span is not in the store)")
    return out


def html_tables(f: Feedback | None) -> Sequence[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]]:
    """The HTML report's tables for the section (none when there was no feedback)."""
    if f is None:
        return ()
    tables = [("User feedback", SUMMARY_HEADER, (summary_row(f),)),
              ("Ratings", DISTRIBUTION_HEADER, distribution_rows(f))]
    if f.low_rated:
        tables.append((low_rated_title(f), LOW_RATED_HEADER, low_rated_rows(f)))
    return tuple(tables)
