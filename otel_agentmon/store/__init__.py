"""The embedded store: GenAI spans and evaluation results in one local SQLite file.

For a team that runs its agents on one machine before it runs a collector, Jaeger and
Prometheus. ``StoreSpanExporter`` and ``StoreLogExporter`` are ordinary OpenTelemetry
exporters (beside OTLP or alone)::

    OTEL_TRACES_EXPORTER=otlp,agentmon_store OTEL_LOGS_EXPORTER=otlp,agentmon_store \\
        opentelemetry-instrument python app.py

and ``otel-agentmon report`` / ``chargeback`` / ``optimize`` / ``prune`` read the file.
The file is ``AGENTMON_STORE_PATH``, else ``~/.local/share/otel-agentmon/agentmon.db``.
"""

from otel_agentmon.store._exporter import StoreLogExporter, StoreSpanExporter
from otel_agentmon.store._prune import PruneResult, prune
from otel_agentmon.store._reader import StoreReader
from otel_agentmon.store._schema import AGENTMON_STORE_PATH, SCHEMA_VERSION, StoreError, default_store_path

__all__ = [
    "AGENTMON_STORE_PATH",
    "PruneResult",
    "SCHEMA_VERSION",
    "StoreError",
    "StoreLogExporter",
    "StoreReader",
    "StoreSpanExporter",
    "default_store_path",
    "prune",
]
