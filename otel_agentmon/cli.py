"""The ``otel-agentmon`` command."""

from __future__ import annotations

import argparse
import sys
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

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
