"""``otel-agentmon doctor``: each check on what is set up, and a failing exit on problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "otel_agentmon.cli"]


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTMON_"))}
    base.update(env)
    return subprocess.run(CLI + ["doctor"], env=base, capture_output=True, text=True, timeout=60)


def line(result: subprocess.CompletedProcess, topic: str) -> str:
    found = [text for text in result.stdout.splitlines() if text[8:33].strip() == topic]
    assert found, result.stdout
    return found[0]


def test_all_good_with_a_reachable_endpoint(otlp_receiver, tmp_path):
    result = doctor({
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint,
        "AGENTMON_STORE_PATH": str(tmp_path / "none.db"),
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert line(result, "traces exporter").split()[0] == "ok"
    assert "reachable" in line(result, "traces exporter")
    assert "off" in line(result, "content capture")
    assert line(result, "prices").split()[0] == "ok" and "genai-prices" in line(result, "prices")
    assert line(result, "agentmon_openai").split()[0] == "ok"
    assert result.stdout.rstrip().endswith("all checks passed")


def test_unreachable_endpoint_fails_naming_it(tmp_path):
    result = doctor({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_METRICS_EXPORTER": "none",
                     "OTEL_LOGS_EXPORTER": "none", "AGENTMON_STORE_PATH": str(tmp_path / "none.db")})
    assert result.returncode == 1
    assert line(result, "traces exporter").startswith("  FAIL") and "127.0.0.1:9" in line(result, "traces exporter")
    assert line(result, "metrics exporter").split()[0] == "--"


def test_bad_configuration_fails_naming_the_variable(tmp_path):
    result = doctor({"AGENTMON_QUALITY_SAMPLE_RATE": "2", "OTEL_TRACES_EXPORTER": "none",
                     "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                     "AGENTMON_STORE_PATH": str(tmp_path / "none.db")})
    assert result.returncode == 1
    assert "AGENTMON_QUALITY_SAMPLE_RATE" in line(result, "configuration")
    assert "Traceback" not in result.stdout + result.stderr


def test_settings_in_effect_are_shown(tmp_path):
    result = doctor({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true", "AGENTMON_EVALUATORS": "refusal",
                     "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "prometheus",
                     "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agentmon_anthropic",
                     "AGENTMON_STORE_PATH": str(tmp_path / "none.db")})
    assert result.returncode == 0, result.stdout
    assert "on:" in line(result, "content capture")
    assert "refusal" in line(result, "quality evaluation")
    assert "prometheus scrape endpoint" in line(result, "metrics exporter")
    assert "disabled" in line(result, "agentmon_anthropic")


def test_store_missing_is_a_failure_only_when_it_is_the_exporter(tmp_path):
    missing = str(tmp_path / "missing.db")
    quiet = {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "AGENTMON_STORE_PATH": missing}
    assert line(doctor({**quiet, "OTEL_TRACES_EXPORTER": "none"}), "store").split()[0] == "--"
    result = doctor({**quiet, "OTEL_TRACES_EXPORTER": "agentmon_store"})
    assert line(result, "store").split()[0] == "FAIL" and result.returncode == 1


def test_corrupt_store_is_reported_not_raised(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_text("this is not a database\n" * 100)
    result = doctor({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                     "AGENTMON_STORE_PATH": str(corrupt)})
    assert result.returncode == 1
    assert line(result, "store").split()[0] == "FAIL" and "not a database" in line(result, "store")
    assert "Traceback" not in result.stdout + result.stderr
