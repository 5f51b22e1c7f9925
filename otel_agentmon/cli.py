"""The ``otel-agentmon`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from otel_agentmon import __version__


def _provider_server(args: argparse.Namespace) -> int:
    from otel_agentmon.provider_server.__main__ import main as serve

    argv = ["--host", args.host, "--port", str(args.port)] + (["--log-requests"] if args.log_requests else [])
    return serve(argv)


def _check_config(args: argparse.Namespace) -> int:
    from otel_agentmon._settings import ConfigurationError, build_enricher, settings_from_env

    from otel_agentmon.budgets import validate_budgets_env

    try:
        settings = settings_from_env()
        enricher = build_enricher(settings)
        budgets = validate_budgets_env()
    except ConfigurationError as exc:
        print(f"otel-agentmon: {exc}", file=sys.stderr)
        return 1
    custom = len(enricher.cost_calculator.custom_prices)
    print(f"quality sample rate: {settings.quality_sample_rate}")
    print(f"prices file: {settings.prices_file or '(none)'} ({custom} custom prices)")
    print(f"message content capture: {'on' if settings.capture_message_content else 'off'}")
    if settings.evaluation is None:
        print("quality evaluation: off")
    else:
        print(f"quality evaluation: {', '.join(settings.evaluation.names)} "
              f"(queue of {settings.evaluation.queue_size})")
    if budgets is None:
        print("budgets: (none)")
    else:
        print(f"budgets: {len(budgets.budgets)} in {budgets.mode} mode")
    print("configuration OK")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from otel_agentmon.demo import DemoError, DemoOptions, run_demo

    options = DemoOptions(store=args.store, runs=args.runs, users=args.users, duration=args.duration,
                          concurrency=args.concurrency, seed=args.seed, report=not args.no_report)
    try:
        return run_demo(options)
    except DemoError as exc:
        print(f"otel-agentmon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("otel-agentmon: demo interrupted; no store was written", file=sys.stderr)
        return 130


def _doctor(args: argparse.Namespace) -> int:
    from otel_agentmon._doctor import run_doctor

    return run_doctor()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 86400 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-agentmon", description="Production monitoring for LLM agent systems.")
    parser.add_argument("--version", action="version", version=f"otel-agentmon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("provider-server", help="serve OpenAI- and Anthropic-compatible endpoints locally")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--log-requests", action="store_true")
    serve.set_defaults(run=_provider_server)

    check = commands.add_parser("check-config", help="validate AGENTMON_* settings (prices and budgets files, "
                                                     "evaluators), then exit")
    check.set_defaults(run=_check_config)

    from otel_agentmon.demo._runner import DEFAULT_STORE

    demo = commands.add_parser("demo", help="run an instrumented multi-agent workload against the local provider "
                                            "server (no API key), store it and report on it")
    demo.add_argument("--runs", type=_positive_int, default=300, help="agent requests to make (default 300)")
    demo.add_argument("--users", type=_positive_int, default=12, help="distinct users (default 12)")
    demo.add_argument("--duration", type=_seconds, default=0.0,
                      help="spread the requests over this many seconds (default: as fast as they go)")
    demo.add_argument("--concurrency", type=_positive_int, default=8, help="requests in flight (default 8)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the workload (default 7)")
    demo.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"store file to write (default {DEFAULT_STORE})")
    demo.add_argument("--no-report", action="store_true", help="do not print the report at the end")
    demo.set_defaults(run=_demo)

    doctor = commands.add_parser("doctor", help="check what is configured and whether it works")
    doctor.set_defaults(run=_doctor)

    from otel_agentmon.reports._cli import register as register_store_commands  # report, chargeback, optimize, prune
    register_store_commands(commands)

    from otel_agentmon.collector._cli import register as register_collector_config
    register_collector_config(commands)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
