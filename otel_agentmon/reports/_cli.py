"""The store's commands: ``report``, ``chargeback``, ``optimize`` and ``prune``.

``register(subcommands)`` adds them to the ``otel-agentmon`` parser. Every problem (a
missing, locked or foreign store file, a bad option value) is one line on stderr,
``otel-agentmon: ...``, and exit status 1 (2 for options argparse rejects), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

from otel_agentmon.reports._time import TIME_HELP, InputError, parse_duration, parse_time

REPORT_FORMATS = ("table", "json")
CHARGEBACK_FORMATS = ("table", "csv", "json")


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """argparse's errors as one line (no usage block), exit status 2."""

    def error(message: str) -> None:
        sys.stderr.write(f"otel-agentmon: {parser.prog.split(' ', 1)[-1]}: {message}\n")
        sys.exit(2)

    parser.error = error  # type: ignore[method-assign]


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="the store file (default: AGENTMON_STORE_PATH, else "
                             "~/.local/share/otel-agentmon/agentmon.db)")


def _add_period(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--since", metavar="TIME", help=f"start of the period: {TIME_HELP} (default: {default})")
    parser.add_argument("--until", metavar="TIME", help="end of the period, excluded (default: now)")


def _period(args: argparse.Namespace, now: float) -> tuple[float | None, float | None]:
    since = parse_time(args.since, now, "--since") if args.since is not None else None
    until = parse_time(args.until, now, "--until") if args.until is not None else None
    if since is not None and until is not None and since >= until:
        raise InputError(f"--since {args.since} is not before --until {args.until}")
    return since, until


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from otel_agentmon._settings import ConfigurationError
        from otel_agentmon.store import StoreError

        try:
            return command(args)
        except (StoreError, InputError, ConfigurationError) as exc:
            print(f"otel-agentmon: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # `otel-agentmon report | head`
            sys.stderr.close()
            return 0

    return run


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _report(args: argparse.Namespace) -> int:
    from otel_agentmon.reports._report import build_report, render_json, render_table

    now = time.time()
    since, until = _period(args, now)
    report = build_report(args.store, since, until, now=now)
    if args.html is not None:
        from otel_agentmon.reports._html_input import write_html

        try:
            write_html(report, args.html)
        except OSError as exc:
            raise InputError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        _write(f"wrote {args.html}\n")
        return 0
    _write(render_json(report) if args.format == "json" else render_table(report))
    return 0


def _chargeback(args: argparse.Namespace) -> int:
    from otel_agentmon.reports._chargeback import build_chargeback, render_csv, render_json, render_table

    chargeback = build_chargeback(args.store, args.month, args.by)
    render = {"table": render_table, "csv": render_csv, "json": render_json}[args.format]
    _write(render(chargeback))
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from otel_agentmon.reports._optimize import build_optimization, render_json, render_table

    now = time.time()
    since, until = _period(args, now)
    optimization = build_optimization(args.store, since, until, now=now)
    _write(render_json(optimization) if args.format == "json" else render_table(optimization))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from otel_agentmon.reports import _format as fmt
    from otel_agentmon.store import prune

    seconds = parse_duration(args.older_than)
    if seconds is None:
        raise InputError(f"--older-than {args.older_than} is not a duration (expected days or hours such as 90d or 12h)")
    result = prune(args.store, seconds)
    _write(f"pruned {result.path}: what started before {fmt.when(result.cutoff)} UTC\n"
           f"  deleted {fmt.exact(result.spans_deleted)} spans and {fmt.exact(result.evaluations_deleted)} evaluations\n"
           f"  dropped {fmt.exact(result.hourly_rows_deleted)} hourly rollup rows of the days before "
           f"{fmt.when(result.hourly_cutoff)[:10]} (the daily rollups keep those days)\n")
    return 0


def register(subcommands: Any) -> None:
    """Add ``report``, ``chargeback``, ``optimize`` and ``prune`` to the ``otel-agentmon`` parser."""
    report = subcommands.add_parser(
        "report", help="what the agents did over a period: requests, errors, latency, tokens, cost, tools, quality, "
                       "budgets, alert conditions (from the store)",
        description="A report over the stored GenAI spans. Periods are exact within the retention; where spans were "
                    "pruned they are widened to whole hours or UTC days.")
    _add_store(report)
    _add_period(report, "the first stored span")
    report.add_argument("--format", choices=REPORT_FORMATS, default="table", help="table (default) or json")
    report.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page with charts")
    report.set_defaults(run=_guarded(_report))
    _one_line_errors(report)

    chargeback = subcommands.add_parser(
        "chargeback", help="a month's model spend per department, user or application (from the store)")
    _add_store(chargeback)
    chargeback.add_argument("--month", required=True, metavar="YYYY-MM", help="the UTC calendar month")
    chargeback.add_argument("--by", choices=("department", "user", "application"), default="department",
                            help="whom to charge (default department)")
    chargeback.add_argument("--format", choices=CHARGEBACK_FORMATS, default="table", help="table (default), csv or json")
    chargeback.set_defaults(run=_guarded(_chargeback))
    _one_line_errors(chargeback)

    optimize = subcommands.add_parser(
        "optimize", help="where model spend could go down, with evidence and estimated savings (from the store)")
    _add_store(optimize)
    _add_period(optimize, "30 days before --until")
    optimize.add_argument("--format", choices=REPORT_FORMATS, default="table", help="table (default) or json")
    optimize.set_defaults(run=_guarded(_optimize))
    _one_line_errors(optimize)

    prune_ = subcommands.add_parser(
        "prune", help="delete stored spans older than a duration; reports over old periods keep working")
    _add_store(prune_)
    prune_.add_argument("--older-than", required=True, metavar="DURATION",
                        help="how old a span must be to go, such as 90d or 12h")
    prune_.set_defaults(run=_guarded(_prune))
    _one_line_errors(prune_)
