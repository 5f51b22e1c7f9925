"""deploy/docker-compose.yaml mounts the files the other tests run against, at the releases they
run against (no Docker engine here: the compose file itself is checked, and each config it
mounts is tested with the real program elsewhere)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from _tools import tool

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def host_paths() -> list[Path]:
    paths = []
    for service in SERVICES.values():
        for volume in service.get("volumes", ()):
            paths.append((DEPLOY / volume.split(":", 1)[0]).resolve())
    return paths


def test_every_mounted_file_is_in_the_repository():
    for path in host_paths():
        assert path.exists(), path
        assert ROOT in path.parents, path


def test_the_tested_files_are_the_ones_mounted():
    mounted = set(host_paths())
    for tested in ("collector-config.yaml", "deploy/jaeger/jaeger-config.yaml", "deploy/prometheus/alerts.yaml",
                   "deploy/alertmanager/alertmanager.yaml", "deploy/grafana/agentmon.json"):
        assert (ROOT / tested).resolve() in mounted, tested


def test_images_are_pinned_to_the_tested_releases():
    images = {name: service["image"] for name, service in SERVICES.items()}
    for image in images.values():
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{image} is not pinned to a release"
    manifest = (DEPLOY / "collector" / "builder-config.yaml").read_text()
    release = re.search(r"collector/receiver/otlpreceiver (v[\d.]+)", manifest).group(1)
    assert images["otel-collector"].endswith(":" + release.lstrip("v"))
    version = subprocess.run([tool("prometheus"), "--version"], capture_output=True, text=True).stdout
    assert images["prometheus"].endswith(":v" + re.search(r"version (\d+\.\d+\.\d+)", version).group(1))
    version = subprocess.run([tool("alertmanager"), "--version"], capture_output=True, text=True).stdout
    assert images["alertmanager"].endswith(":v" + re.search(r"version (\d+\.\d+\.\d+)", version).group(1))


def test_the_collector_gets_every_variable_its_config_reads_without_a_default():
    config = (ROOT / "collector-config.yaml").read_text()
    needed = set(re.findall(r"\$\{env:([A-Z_][A-Z0-9_]*)\}", config))  # no ":-default"
    assert needed <= set(SERVICES["otel-collector"].get("environment", {})), needed


def test_prometheus_config_is_valid_with_the_shipped_rules():
    result = subprocess.run([tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yaml" in result.stdout + result.stderr
