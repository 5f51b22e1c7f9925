"""The wheel installs otel_agentmon with semconv and processors under it, and the entry points
opentelemetry-instrument looks for."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_wheel_layout(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("otel_agentmon-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "otel_agentmon/__init__.py",
        "otel_agentmon/distro.py",
        "otel_agentmon/provider_server/__init__.py",
        "otel_agentmon/semconv/__init__.py",
        "otel_agentmon/semconv/registry.yaml",
        "otel_agentmon/processors/__init__.py",
        "otel_agentmon/processors/_cost.py",
    ):
        assert expected in names, expected
    # every source package is in the wheel (the package list in pyproject.toml is explicit)
    for folder, package in (("otel_agentmon", "otel_agentmon"), ("semconv", "otel_agentmon/semconv"),
                            ("processors", "otel_agentmon/processors")):
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.relative_to(REPO / folder).as_posix()
            assert f"{package}/{relative}" in names, f"{package}/{relative} missing from the wheel"
    top_level = {name.split("/")[0] for name in names}
    assert top_level <= {"otel_agentmon", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, top_level
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[opentelemetry_distro]\nagentmon = otel_agentmon.distro:AgentmonDistro" in text
    assert "[opentelemetry_configurator]\nagentmon = otel_agentmon.distro:AgentmonConfigurator" in text
    assert "otel-agentmon = otel_agentmon.cli:main" in text


def test_example_from_the_readme_prints_enriched_spans():
    result = subprocess.run([sys.executable, str(REPO / "examples" / "run_example.py")], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    assert "rate_limit (warning)" in result.stdout
    assert "unpriced" in result.stdout
    assert "invoke_agent trip-planner" in result.stdout
    assert "$0.0000" in result.stdout
