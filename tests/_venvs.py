"""Side environments for interop tests that must not share the main virtualenv (two
instrumentors registering the same entry point name would both patch openai)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("AGENTMON_CACHE", Path.home() / ".cache" / "otel-agentmon")) / "venvs"


def side_venv(name: str, requirements: list[str]) -> Path:
    """A virtualenv with ``requirements`` and this repository installed as a wheel would be
    (``pip install .``). Dependencies are cached across runs; the project is reinstalled every
    time so the test sees the current code."""
    key = hashlib.sha256("\n".join(requirements + [(REPO / "pyproject.toml").read_text()]).encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-{key}"
    python = venv / "bin" / "python"
    marker = venv / ".ready"
    if not marker.exists():
        for stale in CACHE.glob(f"{name}-*"):
            subprocess.run(["rm", "-rf", str(stale)], check=True)  # older dependency sets
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO), *requirements], check=True)
        marker.write_text("ok")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)], check=True
    )
    return venv
