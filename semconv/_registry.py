"""Load ``registry.yaml`` and render it as the reference page ``docs/semconv.md``.

Usage::

    python -m otel_agentmon.semconv._registry                      # print the page
    python -m otel_agentmon.semconv._registry -o docs/semconv.md   # write it
    python -m otel_agentmon.semconv._registry --check docs/semconv.md

``--check`` exits with status 1 when the file differs from what would be generated.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

REGISTRY_FILE = "registry.yaml"
REGENERATE_COMMAND = "python -m otel_agentmon.semconv._registry -o docs/semconv.md"

_PACKAGE = __name__.rpartition(".")[0] or "otel_agentmon.semconv"


def load_registry() -> dict:
    """The parsed registry: ``groups`` of attributes, ``metrics`` and ``env``."""
    text = resources.files(_PACKAGE).joinpath(REGISTRY_FILE).read_text(encoding="utf-8")
    registry = yaml.safe_load(text)
    if not isinstance(registry, dict):
        raise ValueError(f"{REGISTRY_FILE}: expected a mapping at the top level")
    return registry


def iter_attributes(registry: dict) -> Iterable[dict]:
    """Every attribute of every group, in registry order."""
    for group in registry.get("groups") or ():
        yield from group.get("attributes") or ()


def enum_members(attribute: dict) -> list[dict]:
    """The members of an enum attribute; empty for any other type."""
    kind = attribute.get("type")
    if isinstance(kind, dict):
        return list(kind.get("members") or ())
    return []


def type_name(attribute: dict) -> str:
    """The attribute's type as shown in the docs (enums are strings with known values)."""
    kind = attribute.get("type")
    if isinstance(kind, dict):
        return "string (enum)"
    return str(kind)


# --- rendering ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    """One table cell or paragraph: whitespace collapsed, pipes escaped."""
    if value is None:
        return ""
    return " ".join(str(value).split()).replace("|", "\\|")


def _literal(value: Any) -> str:
    """A value as it appears in telemetry or in the environment, in code style."""
    if value is None:
        return ""
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str):
        shown = f'"{value}"'
    else:
        shown = repr(value)
    return f"`{_text(shown)}`"


def _examples(item: dict) -> str:
    examples = item.get("examples")
    if examples is None:
        return ""
    if not isinstance(examples, list):
        examples = [examples]
    return "; ".join(_literal(example) for example in examples)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


class _Notes:
    """Numbered notes below a table, referenced from the description cell."""

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []

    def brief(self, item: dict, name: str) -> str:
        brief = _text(item.get("brief"))
        note = _text(item.get("note"))
        if not note:
            return brief
        self._items.append((name, note))
        return f"{brief} [{len(self._items)}]"

    def lines(self) -> list[str]:
        out: list[str] = []
        for number, (name, note) in enumerate(self._items, start=1):
            out += ["", f"**[{number}] `{name}`:** {note}"]
        return out


def _paragraphs(item: dict) -> list[str]:
    out = []
    for key in ("brief", "note"):
        if item.get(key):
            out += [_text(item[key]), ""]
    return out


def _render_group(group: dict) -> list[str]:
    lines = [f"## {_text(group.get('display_name') or group['id'])}", ""]
    lines += _paragraphs(group)
    notes = _Notes()
    rows = [
        [
            f"`{attr['id']}`",
            _text(type_name(attr)),
            notes.brief(attr, attr["id"]),
            _examples(attr),
            _text(attr.get("stability")),
        ]
        for attr in group.get("attributes") or ()
    ]
    lines += _table(["Attribute", "Type", "Description", "Examples", "Stability"], rows)
    lines += notes.lines()
    for attr in group.get("attributes") or ():
        members = enum_members(attr)
        if members:
            lines += ["", f"### `{attr['id']}` values", ""]
            lines += _render_members(members)
    lines.append("")
    return lines


def _render_members(members: list[dict]) -> list[str]:
    with_severity = any("default_severity" in member for member in members)
    header = ["Value", "Description"]
    if with_severity:
        header.append("Default severity")
    header.append("Stability")
    rows = []
    for member in members:
        row = [_literal(member["value"]), _text(member.get("brief"))]
        if with_severity:
            severity = member.get("default_severity")
            row.append(f"`{_text(severity)}`" if severity else "")
        row.append(_text(member.get("stability")))
        rows.append(row)
    return _table(header, rows)


def _render_metrics(metrics: list[dict]) -> list[str]:
    lines = [
        "## Metrics",
        "",
        "Our metrics, beside the upstream `gen_ai.client.*`, `gen_ai.invoke_agent.*` and "
        "`gen_ai.execute_tool.*` metrics.",
        "",
    ]
    notes = _Notes()
    rows = [
        [
            f"`{metric['metric_name']}`",
            _text(metric.get("instrument")),
            f"`{_text(metric.get('unit'))}`",
            notes.brief(metric, metric["metric_name"]),
            ", ".join(f"`{ref['ref']}`" for ref in metric.get("attributes") or ()),
            _text(metric.get("stability")),
        ]
        for metric in metrics
    ]
    lines += _table(["Metric", "Instrument", "Unit", "Description", "Attributes", "Stability"], rows)
    lines += notes.lines()
    lines.append("")
    return lines


def _render_env(variables: list[dict]) -> list[str]:
    lines = [
        "## Environment variables",
        "",
        "Read at start-up, besides the usual `OTEL_*` variables.",
        "",
    ]
    notes = _Notes()
    rows = [
        [
            f"`{var['name']}`",
            _text(var.get("type")),
            _literal(var.get("default")) or "unset",
            notes.brief(var, var["name"]),
        ]
        for var in variables
    ]
    lines += _table(["Variable", "Type", "Default", "Description"], rows)
    lines += notes.lines()
    lines.append("")
    return lines


def render_markdown(registry: dict) -> str:
    """The reference page for ``registry``; the same registry always gives the same text."""
    lines = [
        "<!-- Generated from semconv/registry.yaml; do not edit. "
        f"Regenerate with: {REGENERATE_COMMAND} -->",
        "",
        "# otel-agentmon semantic conventions",
        "",
        "The attributes, metrics and environment variables otel-agentmon adds to the "
        "[OpenTelemetry GenAI semantic conventions]"
        "(https://github.com/open-telemetry/semantic-conventions-genai). "
        "Upstream names (`gen_ai.*`, `error.type`, `server.*`, `user.id`) are used as "
        "upstream defines them and are not repeated here. In code, every name comes from "
        "`otel_agentmon.semconv`.",
        "",
    ]
    for group in registry.get("groups") or ():
        lines += _render_group(group)
    if registry.get("metrics"):
        lines += _render_metrics(registry["metrics"])
    if registry.get("env"):
        lines += _render_env(registry["env"])
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


# --- command line -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m otel_agentmon.semconv._registry",
        description="Render semconv/registry.yaml as Markdown.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-o", "--output", metavar="PATH", help="write the page to PATH")
    action.add_argument(
        "--check", metavar="PATH", help="exit 1 if PATH differs from the generated page"
    )
    args = parser.parse_args(argv)

    page = render_markdown(load_registry())
    if args.check:
        path = Path(args.check)
        try:
            current = path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"{path}: cannot read ({exc}); regenerate with: {REGENERATE_COMMAND}",
                  file=sys.stderr)
            return 1
        if current != page:
            print(f"{path} is out of date with semconv/registry.yaml; "
                  f"regenerate with: {REGENERATE_COMMAND}", file=sys.stderr)
            return 1
        return 0
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        return 0
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
