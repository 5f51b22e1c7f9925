"""The collector (otelcol-agentmon, with the shipped collector-config.yaml) and Jaeger v2 (with
the shipped deploy/jaeger/jaeger-config.yaml) on free loopback ports."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from _monitoring_stack import Program, free_port, http_json, http_ok, wait_until
from _tools import tool

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR_CONFIG = ROOT / "collector-config.yaml"
JAEGER_CONFIG = ROOT / "deploy" / "jaeger" / "jaeger-config.yaml"


class Jaeger:
    def __init__(self, directory: Path) -> None:
        self.otlp_port, self.query_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.query_port}"
        self.program = Program([
            tool("jaeger"), f"--config={JAEGER_CONFIG}",
            f"--set=receivers.otlp.protocols.grpc.endpoint=127.0.0.1:{self.otlp_port}",
            f"--set=receivers.otlp.protocols.http.endpoint=127.0.0.1:{free_port()}",
            f"--set=extensions.jaeger_query.http.endpoint=127.0.0.1:{self.query_port}",
            f"--set=extensions.jaeger_query.grpc.endpoint=127.0.0.1:{free_port()}",
        ], directory / "jaeger.log")
        wait_until(lambda: self._answers(), 30, "Jaeger's query API", interval=0.2)

    def _answers(self) -> bool:
        if self.program.process.poll() is not None:
            raise AssertionError(f"jaeger exited:\n{self.program.output()}")
        try:
            http_json(f"{self.url}/api/v3/services")
            return True
        except (OSError, ValueError):
            return False

    def spans(self, service: str, start: datetime, end: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Every span of ``service``'s traces in the window, attributes flattened."""
        query = urllib.parse.urlencode({
            "query.service_name": service,
            "query.start_time_min": start.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "query.start_time_max": end.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "query.num_traces": str(limit),
        })
        try:
            answer = http_json(f"{self.url}/api/v3/traces?{query}")
        except urllib.error.HTTPError as error:
            if error.code == 404:  # no traces (yet)
                return []
            raise
        spans = []
        for resource_spans in answer["result"]["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    attributes = {a["key"]: _value(a["value"]) for a in span.get("attributes", ())}
                    spans.append({"name": span["name"], "trace_id": span["traceId"], "attributes": attributes,
                                  "status": span.get("status", {})})
        return spans

    def stop(self) -> None:
        self.program.stop()


def _value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", ())]
    return json.dumps(value)


class Collector:
    """otelcol-agentmon on free loopback ports (the config's endpoints come from env vars)."""

    def __init__(self, directory: Path, jaeger_otlp: str = "127.0.0.1:1", config: Path = COLLECTOR_CONFIG) -> None:
        self.grpc_port, self.prometheus_port, health = free_port(), free_port(), free_port()
        self.otlp_endpoint = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"http://127.0.0.1:{self.prometheus_port}/metrics"
        env = {
            "OTLP_GRPC_LISTEN": self.otlp_endpoint,
            "OTLP_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
            "JAEGER_OTLP_ENDPOINT": jaeger_otlp,
            "PROMETHEUS_LISTEN": f"127.0.0.1:{self.prometheus_port}",
            "HEALTH_CHECK_LISTEN": f"127.0.0.1:{health}",
        }
        self.program = Program([tool("otelcol-agentmon"), f"--config={config}"], directory / "collector.log",
                               env=env)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{health}/") or self.program.process.poll() is not None, 60,
                   "the collector's health check")
        if self.program.process.poll() is not None:
            raise RuntimeError(f"the collector exited:\n{self.program.output()}")

    def metrics(self) -> str:
        """The collector's Prometheus exporter page."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return response.read().decode()

    def stop(self) -> None:
        self.program.stop()
