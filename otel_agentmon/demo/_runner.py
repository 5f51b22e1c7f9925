"""``otel-agentmon demo``: the demo workload under ``opentelemetry-instrument``, into a store.

The workload runs in a child process instrumented exactly as a user's agent would be (the
``agentmon`` distro, our instrumentors, the embedded store as its span and log exporter, and
OTLP too when OTEL_EXPORTER_OTLP_ENDPOINT is set); the local provider server runs here. The
store is written under a temporary name and renamed into place only when the workload
finished, so an interrupted or failed demo never leaves a half-written store.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from otel_agentmon.demo._progress import ProgressBar

DEFAULT_STORE = Path.home() / ".local" / "share" / "otel-agentmon" / "demo.db"
SERVICE_NAME = "agentmon-demo"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

# Demo budgets, in observe mode: the report shows a department within its budget and a user over hers.
_BUDGETS = """\
mode: observe
state_file: {state}
budgets:
  - department: research
    daily: 5.00
  - user: alice@example.com
    daily: 0.02
"""


@dataclass(frozen=True)
class DemoOptions:
    store: Path = DEFAULT_STORE
    runs: int = 300
    users: int = 12
    duration: float = 0.0
    concurrency: int = 8
    seed: int = 7
    report: bool = True


class DemoError(Exception):
    """The demo could not run; the message is one line for the user."""


def _instrument_command() -> list[str]:
    script = Path(sys.executable).with_name("opentelemetry-instrument")
    found = str(script) if script.exists() else shutil.which("opentelemetry-instrument")
    if found is None:
        raise DemoError("opentelemetry-instrument is not installed (it comes with opentelemetry-instrumentation)")
    return [found, sys.executable, "-m", "otel_agentmon.demo._workload"]


def _child_environment(options: DemoOptions, partial: Path, workdir: Path, server: object) -> dict[str, str]:
    env = dict(os.environ)
    otlp = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    also = ",otlp" if otlp else ""
    budgets = budgets_file(options.store)
    budgets.write_text(_BUDGETS.format(state=workdir / "budget-state.json"))
    env.update({
        "OTEL_SERVICE_NAME": SERVICE_NAME,
        "OTEL_TRACES_EXPORTER": "agentmon_store" + also,
        "OTEL_LOGS_EXPORTER": "agentmon_store" + also,
        "OTEL_METRICS_EXPORTER": "otlp" if otlp else "none",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "AGENTMON_STORE_PATH": str(partial),
        "AGENTMON_QUALITY_SAMPLE_RATE": env.get("AGENTMON_QUALITY_SAMPLE_RATE") or "0.25",
        "AGENTMON_EVALUATORS": env.get("AGENTMON_EVALUATORS") or "all",
        "AGENTMON_BUDGETS_FILE": str(budgets),
        "DEMO_OPENAI_URL": server.openai_base_url,  # type: ignore[attr-defined]
        "DEMO_ANTHROPIC_URL": server.anthropic_base_url,  # type: ignore[attr-defined]
        "DEMO_RUNS": str(options.runs),
        "DEMO_USERS": str(options.users),
        "DEMO_DURATION": str(options.duration),
        "DEMO_CONCURRENCY": str(options.concurrency),
        "DEMO_SEED": str(options.seed),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    return env


def budgets_file(store: Path) -> Path:
    """The demo's budgets, kept beside its store so that later reports can show their status."""
    store = store.expanduser()
    return store.with_name(store.stem + ".budgets.yaml")


def _remove_database(path: Path) -> None:
    for suffix in ("",) + _SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


def _publish(partial: Path, store: Path) -> None:
    """Fold the write-ahead log into the file, then move it into place in one rename."""
    connection = sqlite3.connect(partial)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        connection.close()
    for suffix in _SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            Path(str(store) + suffix).unlink()
    os.replace(partial, store)  # a later writer (the store's exporter) turns WAL on again itself


def _stored_spans(store: Path) -> int:
    from otel_agentmon.store import StoreError, StoreReader

    try:
        with StoreReader(store) as reader:
            return reader.query("SELECT count(*) FROM spans")[0][0]
    except StoreError:
        return 0


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; returns the exit status. Raises DemoError for a one-line failure."""
    missing = [name for name in ("openai", "anthropic") if importlib.util.find_spec(name) is None]
    if missing:
        raise DemoError(f"the demo needs the {' and '.join(missing)} package(s): "
                        "pip install 'otel-agentmon[demo]'")
    from otel_agentmon.provider_server import ProviderServer

    store = options.store.expanduser()
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(store.name + ".partial")
    _remove_database(partial)
    started = time.monotonic()
    out.write(f"otel-agentmon demo: {options.runs} agent requests from {options.users} users, against the "
              "local provider server\n")
    out.flush()
    with tempfile.TemporaryDirectory(prefix="agentmon-demo-") as workdir, ProviderServer() as server:
        env = _child_environment(options, partial, Path(workdir), server)
        child = subprocess.Popen(_instrument_command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.extend(child.stderr), daemon=True)  # type: ignore[arg-type]
        drain.start()
        bar = ProgressBar(options.runs, out, "agent requests")
        try:
            for line in child.stdout:  # type: ignore[union-attr]
                if line.startswith("progress "):
                    bar.update(int(line.split()[1]))
            status = child.wait()
        except BaseException:
            child.kill()
            child.wait()
            _remove_database(partial)
            raise
        finally:
            bar.close()
        drain.join(5)
        if status != 0:
            _remove_database(partial)
            detail = next((line.strip() for line in reversed(errors) if line.strip()), "no output")
            raise DemoError(f"the demo workload failed (exit status {status}): {detail}")
    if not partial.exists():
        raise DemoError("the demo workload stored no spans (is the agentmon_store exporter installed?)")
    _publish(partial, store)
    elapsed = time.monotonic() - started
    out.write(f"stored {_stored_spans(store)} spans in {store} ({elapsed:.1f} s)\n\n")
    out.flush()
    if not options.report:
        return 0
    from otel_agentmon.cli import main as cli

    os.environ["AGENTMON_BUDGETS_FILE"] = str(budgets_file(store))  # the report shows the demo's budgets
    status = cli(["report", "--store", str(store)])
    month = time.strftime("%Y-%m", time.gmtime())
    out.write(f"\nexplore it: AGENTMON_BUDGETS_FILE={budgets_file(store)} \\\n"
              f"            otel-agentmon report --store {store} --html report.html\n"
              f"            otel-agentmon chargeback --month {month} --by user --store {store}\n"
              f"            otel-agentmon optimize --store {store}\n")
    return status
