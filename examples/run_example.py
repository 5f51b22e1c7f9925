"""Run ``agent.py`` under ``opentelemetry-instrument`` against the local provider server and
print the spans it exported, enriched by otel-agentmon (no API key, nothing to start).

    python examples/run_example.py          # a table of the enriched spans
    python examples/run_example.py --raw    # the spans as the console exporter wrote them
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from otel_agentmon.provider_server import ProviderServer
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

HERE = Path(__file__).resolve().parent


def _spans(console_output: str) -> list[dict]:
    """The JSON objects the console span exporter printed, in order."""
    decoder, spans, index = json.JSONDecoder(), [], 0
    while (start := console_output.find("{", index)) != -1:
        try:
            span, index = decoder.raw_decode(console_output, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(span, dict) and "context" in span:
            spans.append(span)
    return spans


def _row(span: dict) -> str:
    attributes = span.get("attributes", {})
    cost = attributes.get(am.COST_AMOUNT)
    cost_text = f"${cost:.8f}" if cost is not None else attributes.get(am.COST_STATUS, "")
    tokens = ""
    if ga.USAGE_INPUT_TOKENS in attributes:
        tokens = f"{attributes[ga.USAGE_INPUT_TOKENS]}/{attributes.get(ga.USAGE_OUTPUT_TOKENS, 0)}"
    error = attributes.get(am.ERROR_CATEGORY, "")
    if error:
        error = f"{error} ({attributes.get(am.ERROR_SEVERITY)})"
    sampled = "yes" if attributes.get(am.QUALITY_SAMPLED) else ""
    return f"  {span['name'][:44]:44s} {tokens:>10s} {cost_text:>12s}  {error:28s} {sampled}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", action="store_true", help="print the exported spans as JSON")
    args = parser.parse_args()
    instrument = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable)) or "opentelemetry-instrument"
    with ProviderServer() as server:
        env = dict(os.environ)
        env.update({
            "OPENAI_BASE_URL": server.openai_base_url,
            "OPENAI_API_KEY": "local-provider-server",
            "ANTHROPIC_BASE_URL": server.anthropic_base_url,
            "ANTHROPIC_API_KEY": "local-provider-server",
            "OTEL_SERVICE_NAME": "trip-planner",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "AGENTMON_QUALITY_SAMPLE_RATE": env.get("AGENTMON_QUALITY_SAMPLE_RATE", "0.5"),
        })
        result = subprocess.run([instrument, sys.executable, str(HERE / "agent.py")], env=env,
                                capture_output=True, text=True, timeout=120)
    sys.stderr.write(result.stderr)
    spans = _spans(result.stdout)
    app_output = [line for line in result.stdout.splitlines() if line.startswith(("answer:", "rate limited:"))]
    print("\n".join(app_output))
    if args.raw:
        print(json.dumps(spans, indent=2))
    else:
        print(f"\n{len(spans)} spans exported by otel-agentmon (sample rate {env['AGENTMON_QUALITY_SAMPLE_RATE']}):")
        print(f"  {'span':44s} {'tokens in/out':>10s} {'cost':>12s}  {'error category':28s} sampled")
        for span in spans:
            print(_row(span))
    if result.returncode != 0 or not spans:
        print("the example agent failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
