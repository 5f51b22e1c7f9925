"""Where the real programs the end-to-end tests run are: `scripts/install-tools.sh` puts them
under ~/.cache/otel-agentmon/tools/bin (``make test`` runs it first); PATH is the fallback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TOOLS_BIN = Path(os.environ.get("AGENTMON_TOOLS_DIR", Path.home() / ".cache" / "otel-agentmon" / "tools")) / "bin"


def tool(name: str) -> str:
    """The path of program ``name``; fails (never skips) when it is not installed."""
    candidate = TOOLS_BIN / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run scripts/install-tools.sh (make test does)")
    return found
