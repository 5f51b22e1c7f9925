"""``otel-agentmon doctor``: what is configured, and whether it works, in this environment.

Each check prints one line, ``ok``, ``--`` (not in use) or ``FAIL`` with what to do; the
exit status is 1 when any check fails, so deploy pipelines can run it.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO
from urllib.parse import urlparse

OK, OFF, FAIL = "ok", "--", "FAIL"

_OUR_INSTRUMENTORS = "agentmon_"  # the prefix of our opentelemetry_instrumentor entry points
_PRICE_DATE = re.compile(r"date\((\d{4}), (\d{1,2}), (\d{1,2})\)")


@dataclass(frozen=True)
class Check:
    state: str
    topic: str
    detail: str


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_configuration() -> list[Check]:
    from otel_agentmon._settings import ConfigurationError, build_enricher, settings_from_env
    from otel_agentmon.budgets import validate_budgets_env

    try:
        settings = settings_from_env()
        enricher = build_enricher(settings)
        budgets = validate_budgets_env()
    except ConfigurationError as exc:
        return [Check(FAIL, "configuration", str(exc))]
    custom = len(enricher.cost_calculator.custom_prices)
    checks = [
        Check(OK, "configuration", "AGENTMON_* settings are valid"),
        Check(OK, "quality sample", f"rate {settings.quality_sample_rate}"),
        Check(OK if settings.prices_file else OFF, "custom prices",
              f"{settings.prices_file} ({custom} entries)" if settings.prices_file else "none (AGENTMON_PRICES_FILE)"),
        Check(OK, "content capture", "on: prompts and replies are recorded, redacted" if settings.capture_message_content
              else "off (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)"),
        Check(OK if settings.evaluation else OFF, "quality evaluation",
              ", ".join(settings.evaluation.names) if settings.evaluation else "off (AGENTMON_EVALUATORS)"),
        Check(OK if budgets else OFF, "budgets",
              f"{len(budgets.budgets)} in {budgets.mode} mode" if budgets else "none (AGENTMON_BUDGETS_FILE)"),
    ]
    return checks


def check_instrumentors() -> list[Check]:
    """Our instrumentor entry points, judged as opentelemetry-instrument judges them: disabled by
    name, or skipped when the library they declare is missing or of another version."""
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
    from opentelemetry.util._importlib_metadata import entry_points
    from packaging.requirements import Requirement

    disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    checks = []
    ours = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name.startswith(_OUR_INSTRUMENTORS)]
    for entry_point in sorted(ours, key=lambda ep: ep.name):
        if entry_point.name in disabled:
            checks.append(Check(OFF, entry_point.name, "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"))
            continue
        dependencies = tuple(entry_point.load()().instrumentation_dependencies())
        conflict = get_dependency_conflicts(dependencies)
        if conflict is not None:
            checks.append(Check(OFF, entry_point.name, str(conflict)))
            continue
        libraries = ", ".join(f"{name} {_version(name)}" for name in (Requirement(d).name for d in dependencies))
        checks.append(Check(OK, entry_point.name, f"{libraries}: instrumented under opentelemetry-instrument"))
    return checks


def _otlp_endpoint(signal: str) -> str:
    protocol = (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "grpc").strip()
    default = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    return (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or default).strip()


def reachable(endpoint: str, timeout: float = 1.0) -> str | None:
    """None when a TCP connection to the endpoint's host and port succeeds, else why not."""
    parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_exporters() -> list[Check]:
    checks = []
    for signal, variable in (("TRACES", "OTEL_TRACES_EXPORTER"), ("METRICS", "OTEL_METRICS_EXPORTER"),
                             ("LOGS", "OTEL_LOGS_EXPORTER")):
        names = [n.strip() for n in os.environ.get(variable, "otlp").split(",") if n.strip()]
        topic = f"{signal.lower()} exporter"
        if not names or names == ["none"]:
            checks.append(Check(OFF, topic, f"none ({variable})"))
            continue
        for name in names:
            if name == "otlp":
                endpoint = _otlp_endpoint(signal)
                problem = reachable(endpoint)
                checks.append(Check(OK, topic, f"otlp to {endpoint}: reachable") if problem is None else
                              Check(FAIL, topic, f"otlp to {endpoint}: not reachable ({problem}); start the "
                                                 "collector or set OTEL_EXPORTER_OTLP_ENDPOINT"))
            elif name == "prometheus":
                host = os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "localhost")
                port = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464")
                checks.append(Check(OK, topic, f"prometheus scrape endpoint on {host}:{port}"))
            else:
                checks.append(Check(OK, topic, name))
    return checks


def check_prices(today: dt.date | None = None) -> list[Check]:
    version = _version("genai-prices")
    spec = importlib.util.find_spec("genai_prices.data")
    if version is None or spec is None or spec.origin is None:
        return [Check(FAIL, "prices", "genai-prices is not installed: every model would be unpriced")]
    today = today or dt.datetime.now(dt.timezone.utc).date()
    dates = [dt.date(int(y), int(m), int(d)) for y, m, d in _PRICE_DATE.findall(Path(spec.origin).read_text())]
    known = [date for date in dates if date <= today]
    if not known:
        return [Check(OK, "prices", f"genai-prices {version}")]
    newest = max(known)
    age = (today - newest).days
    state = OK if age <= 90 else FAIL
    advice = "" if state == OK else "; upgrade genai-prices for current prices"
    return [Check(state, "prices", f"genai-prices {version}, newest price change {newest} ({age} days ago){advice}")]


def check_store() -> list[Check]:
    traces = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    used = "agentmon_store" in traces
    from otel_agentmon.store import StoreError, StoreReader, default_store_path

    path = Path(default_store_path())
    if not path.exists():
        state = FAIL if used else OFF
        return [Check(state, "store", f"{path} does not exist yet"
                      + (" (it is created at the first export)" if used else
                         " (add agentmon_store to OTEL_TRACES_EXPORTER to keep spans locally)"))]
    size = path.stat().st_size + sum(Path(str(path) + s).stat().st_size for s in ("-wal",)
                                     if Path(str(path) + s).exists())
    try:
        with StoreReader(path) as reader:
            spans = reader.query("SELECT count(*) FROM spans")[0][0]
    except StoreError as exc:  # locked, damaged, not a store: one line that says which
        return [Check(FAIL, "store", str(exc))]
    note = "" if used else " (not written by this environment: OTEL_TRACES_EXPORTER has no agentmon_store)"
    return [Check(OK, "store", f"{path}: {spans} spans, {size / 1e6:.1f} MB{note}")]


CHECKS: tuple[Callable[[], list[Check]], ...] = (
    check_configuration, check_instrumentors, check_exporters, check_prices, check_store,
)


def run_doctor(out: TextIO = sys.stdout) -> int:
    from otel_agentmon import __version__

    out.write(f"otel-agentmon {__version__} on Python {sys.version.split()[0]}\n")
    failed = False
    for check in CHECKS:
        try:
            results = check()
        except Exception as exc:  # a broken check is a finding, not a crash
            results = [Check(FAIL, check.__name__.removeprefix("check_"), f"{type(exc).__name__}: {exc}")]
        for result in results:
            failed |= result.state == FAIL
            out.write(f"  {result.state:<4}  {result.topic:<24} {result.detail}\n")
    out.write("some checks failed\n" if failed else "all checks passed\n")
    return 1 if failed else 0
