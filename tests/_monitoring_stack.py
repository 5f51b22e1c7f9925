"""The real monitoring programs on loopback: Prometheus, Alertmanager and a webhook receiver
standing in for PagerDuty and Slack. Configs are the shipped files of deploy/, with only what
a test must change: targets, ports, secrets, and shorter waits (``for:``, group_wait)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import yaml

from _tools import tool

ROOT = Path(__file__).resolve().parent.parent
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "agentmon.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class WebhookReceiver:
    """Records every POST by path (``/pagerduty``, ``/slack``) with its JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"_raw": body.decode("utf-8", "replace")}
                receiver.received.append((self.path, payload))
                answer = b'{"status":"success","message":"Event processed","dedup_key":"x"}'
                self.send_response(202 if self.path.startswith("/pagerduty") else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def payloads(self, path: str) -> list[dict]:
        return [payload for where, payload in list(self.received) if where == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def shorten_for(rules: dict, duration: str = "1s") -> dict:
    """The shipped rules with every ``for:`` shortened; expressions and labels unchanged."""
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = duration
    return rules


def alertmanager_config_for_test(directory: Path, receiver: WebhookReceiver) -> Path:
    """The shipped Alertmanager config, sending to ``receiver`` instead of PagerDuty and Slack.

    Only URLs, secret files and the waits change: routes, receivers, templates and inhibit
    rules are the shipped ones.
    """
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    routing_key = directory / "pagerduty-routing-key"
    routing_key.write_text("test-routing-key\n")
    slack_url = directory / "slack-webhook-url"
    slack_url.write_text(f"{receiver.url}/slack\n")
    for entry in config["receivers"]:
        for pagerduty in entry.get("pagerduty_configs", ()):
            pagerduty["url"] = f"{receiver.url}/pagerduty"
            pagerduty.pop("routing_key", None)
            pagerduty["routing_key_file"] = str(routing_key)
        for slack in entry.get("slack_configs", ()):
            slack.pop("api_url", None)
            slack["api_url_file"] = str(slack_url)

    def speed_up(route: dict) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", ()):
            speed_up(child)

    speed_up(config["route"])
    config["route"]["group_wait"] = "1s"
    config["route"]["group_interval"] = "1s"
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Program:
    """A started program with its output in a log file, stopped on ``stop()``."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_file = log.open("wb")
        environment = None if env is None else {**os.environ, **env}
        self.process = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT, env=environment)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def http_json(url: str, data: dict | None = None, timeout: float = 5) -> Any:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    with urllib.request.urlopen(url, data=body, timeout=timeout) as response:
        return json.loads(response.read())


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Alertmanager:
    def __init__(self, directory: Path, receiver: WebhookReceiver) -> None:
        config = alertmanager_config_for_test(directory, receiver)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.program = Program([
            tool("alertmanager"), f"--config.file={config}", f"--storage.path={directory / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
        ], directory / "alertmanager.log")
        wait_until(lambda: http_ok(f"{self.url}/-/ready") or self.program.process.poll() is not None, 30,
                   "Alertmanager to start")
        if self.program.process.poll() is not None:
            raise RuntimeError(f"alertmanager exited:\n{self.program.output()}")

    def stop(self) -> None:
        self.program.stop()


class Prometheus:
    def __init__(self, directory: Path, scrape_targets: list[str], alertmanager_url: str | None) -> None:
        rules = directory / "alerts.yaml"
        rules.write_text(yaml.safe_dump(shorten_for(yaml.safe_load(ALERT_RULES.read_text())), sort_keys=False))
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "agent-workload", "static_configs": [{"targets": scrape_targets}]}],
        }
        if alertmanager_url is not None:
            config["alerting"] = {"alertmanagers": [
                {"static_configs": [{"targets": [urllib.parse.urlparse(alertmanager_url).netloc]}]}]}
        config_path = directory / "prometheus.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.program = Program([
            tool("prometheus"), f"--config.file={config_path}", f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ], directory / "prometheus.log")
        wait_until(lambda: http_ok(f"{self.url}/-/ready") or self.program.process.poll() is not None, 30,
                   "Prometheus to start")
        if self.program.process.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{self.program.output()}")

    def query(self, expression: str) -> list[dict]:
        answer = http_json(f"{self.url}/api/v1/query", {"query": expression})
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def firing_alerts(self) -> set[str]:
        alerts = http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}

    def stop(self) -> None:
        self.program.stop()
