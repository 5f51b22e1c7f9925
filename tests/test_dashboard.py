"""The shipped Grafana dashboard is well formed; test_alerting_e2e runs every query of it
against the real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "agentmon.json"

REQUIRED_PANELS = {
    "Request rate", "Error rate", "Errors by category",
    "Model call latency P50 / P95 / P99 by model", "Agent latency P50 / P95 / P99 by agent",
    "Tokens per minute", "Cost per hour by model",
    "Top users by cost", "Top departments by cost", "Top applications by cost",
    "Tool success rate", "Quality score", "Quality drift from baseline", "Firing alerts",
}


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_required_panels_are_there():
    titles = {panel["title"] for panel in load()["panels"] if panel["type"] != "row"}
    assert REQUIRED_PANELS <= titles, REQUIRED_PANELS - titles


def test_panels_are_complete_and_do_not_overlap():
    dashboard = load()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"].strip(), panel["title"]


def test_latency_panels_show_p50_p95_p99():
    for panel in load()["panels"]:
        if "P50 / P95 / P99" in panel["title"]:
            quantiles = sorted(t["expr"].split("(", 1)[1].split(",", 1)[0] for t in panel["targets"])
            assert quantiles == ["0.5", "0.95", "0.99"], panel["title"]


def test_variables_default_to_all_and_match_every_value():
    variables = [v for v in load()["templating"]["list"] if v["type"] == "query"]
    assert {v["name"] for v in variables} == {"job", "application", "model"}
    for variable in variables:
        assert variable["includeAll"] and variable["allValue"] == ".*"
        assert variable["current"]["value"] == ["$__all"]
