"""``otel-agentmon collector-config``: write the Collector configuration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from otel_agentmon._settings import (
    AGENTMON_PRICES_FILE,
    AGENTMON_QUALITY_SAMPLE_RATE,
    ConfigurationError,
    parse_sample_rate,
)


def _rate(text: str) -> float:
    try:
        return parse_sample_rate(text, "--sample-rate")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from otel_agentmon.collector import DEFAULT_MODELS, collector_config
    from otel_agentmon.processors import PricesFileError

    rate = args.sample_rate
    if rate is None:
        env_rate = os.environ.get(AGENTMON_QUALITY_SAMPLE_RATE, "").strip()
        try:
            rate = parse_sample_rate(env_rate, AGENTMON_QUALITY_SAMPLE_RATE) if env_rate else None
        except ConfigurationError as exc:
            print(f"otel-agentmon: {exc}", file=sys.stderr)
            return 1
    prices_file = args.prices_file
    if prices_file is None:
        prices_file = os.environ.get(AGENTMON_PRICES_FILE, "").strip() or None
    models = None
    if args.models:
        models = [m for spec in args.models for m in (DEFAULT_MODELS if spec == "default" else (spec,))]
    try:
        kwargs = {} if rate is None else {"sample_rate": rate}
        text = collector_config(models, prices_file=prices_file, **kwargs)
    except (PricesFileError, ValueError) as exc:
        print(f"otel-agentmon: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "collector-config",
        help="write the OpenTelemetry Collector config that derives cost, error category and quality "
             "sample in OTTL (same tables as the Python processors)",
    )
    parser.add_argument("--models", nargs="+", metavar="MODEL",
                        help="models to price, as provider/model or a model name genai-prices knows; "
                             "'default' stands for the default list (default: the default list)")
    parser.add_argument("--sample-rate", type=_rate, default=None,
                        help=f"quality sample rate in [0, 1] (default: ${AGENTMON_QUALITY_SAMPLE_RATE}, else 0.05)")
    parser.add_argument("--prices-file", default=None,
                        help=f"custom prices YAML, priced first (default: ${AGENTMON_PRICES_FILE})")
    parser.add_argument("--output", type=Path, default=None, help="write here instead of to stdout")
    parser.set_defaults(run=_run)
