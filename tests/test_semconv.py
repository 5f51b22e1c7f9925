"""The semconv registry, the constants, the generated docs and the code agree with each other.

``semconv/registry.yaml`` describes every name otel-agentmon adds; ``semconv/agentmon.py``,
``semconv/errors.py`` and ``semconv/metrics.py`` spell them for code; ``docs/semconv.md`` is
rendered from the registry. These tests fail as soon as one of them drifts from the others,
and when code outside ``semconv/`` spells one of our names as a literal.
"""

from __future__ import annotations

import ast
import enum
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import otel_agentmon.semconv as semconv_package
from otel_agentmon.semconv import _registry, agentmon, gen_ai, metrics
from otel_agentmon.semconv.errors import SEVERITY_OF, ErrorCategory, ErrorSeverity

REPO = Path(__file__).resolve().parents[1]
DOCS_PAGE = REPO / "docs" / "semconv.md"
SCANNED_DIRS = (REPO / "otel_agentmon", REPO / "processors")

ATTRIBUTE_TYPES = {"string", "boolean", "int", "double", "string[]", "int[]", "double[]"}
STABILITY = "development"


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> dict:
    return _registry.load_registry()


def public_str_constants(module: ModuleType, prefix: str) -> dict[str, str]:
    """UPPERCASE str constants of ``module`` and of the classes it defines, by dotted name."""
    found: dict[str, str] = {}
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if name.isupper() and isinstance(value, str):
            found[f"{prefix}.{name}"] = str(value)
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for inner, inner_value in vars(value).items():
                if not inner.startswith("_") and inner.isupper() and isinstance(inner_value, str):
                    found[f"{prefix}.{name}.{inner}"] = str(inner_value)
    return found


def resolve(path: str) -> Any:
    """A ``constant:`` entry of the registry (relative to otel_agentmon.semconv) to its value."""
    obj: Any = semconv_package
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj.value if isinstance(obj, enum.Enum) else obj


def registry_constants(registry: dict) -> dict[str, str]:
    """Every ``constant:`` of an attribute or enum member, with the name or value it spells."""
    found: dict[str, str] = {}
    for attr in _registry.iter_attributes(registry):
        found[attr["constant"]] = attr["id"]
        for member in _registry.enum_members(attr):
            found[member["constant"]] = member["value"]
    return found


def attribute(registry: dict, attribute_id: str) -> dict:
    matches = [a for a in _registry.iter_attributes(registry) if a["id"] == attribute_id]
    assert len(matches) == 1, f"registry.yaml: expected one attribute {attribute_id!r}"
    return matches[0]


def member_values(registry: dict, attribute_id: str) -> set[str]:
    return {m["value"] for m in _registry.enum_members(attribute(registry, attribute_id))}


# --- (a) registry <-> semconv.agentmon, name by name ---------------------------------------


def test_registry_is_well_formed(registry):
    ids = [a["id"] for a in _registry.iter_attributes(registry)]
    assert len(ids) == len(set(ids)), "registry.yaml: duplicate attribute ids"
    for attr in _registry.iter_attributes(registry):
        where = f"registry.yaml: attribute {attr.get('id')!r}"
        for key in ("id", "constant", "type", "brief", "stability", "examples"):
            assert attr.get(key) not in (None, ""), f"{where}: missing {key}"
        assert attr["stability"] == STABILITY, where
        members = _registry.enum_members(attr)
        if not members:
            assert attr["type"] in ATTRIBUTE_TYPES, f"{where}: unknown type {attr['type']!r}"
        values = [m.get("value") for m in members]
        assert len(values) == len(set(values)), f"{where}: duplicate enum values"
        for member in members:
            for key in ("id", "constant", "value", "brief", "stability"):
                assert member.get(key) not in (None, ""), f"{where}: member missing {key}"
            assert member["stability"] == STABILITY, where


def test_every_agentmon_constant_is_in_registry(registry):
    in_registry = registry_constants(registry)
    in_code = public_str_constants(agentmon, "agentmon")
    assert in_code, "found no constants in semconv.agentmon"
    missing = sorted(name for name in in_code if name not in in_registry)
    assert not missing, f"constants not described in semconv/registry.yaml: {missing}"
    wrong = {
        name: (value, in_registry[name])
        for name, value in in_code.items()
        if in_registry[name] != value
    }
    assert not wrong, f"constant value != registry (code, registry): {wrong}"


def test_every_registry_entry_matches_a_constant(registry):
    in_registry = registry_constants(registry)
    for name, expected in in_registry.items():
        try:
            actual = resolve(name)
        except AttributeError:
            pytest.fail(f"registry.yaml names constant {name!r}, which semconv does not define")
        assert actual == expected, f"{name} is {actual!r} in code, {expected!r} in registry.yaml"
    # Agentmon entries are exactly the module's constants (nothing extra in the registry).
    agentmon_entries = {n for n in in_registry if n.startswith("agentmon.")}
    assert agentmon_entries == set(public_str_constants(agentmon, "agentmon"))


# --- (b) error categories and severities --------------------------------------------------


def test_error_enums_match_registry(registry):
    assert member_values(registry, agentmon.ERROR_CATEGORY) == {c.value for c in ErrorCategory}
    assert member_values(registry, agentmon.ERROR_SEVERITY) == {s.value for s in ErrorSeverity}
    for attr_id, enum_type in (
        (agentmon.ERROR_CATEGORY, ErrorCategory),
        (agentmon.ERROR_SEVERITY, ErrorSeverity),
    ):
        for member in _registry.enum_members(attribute(registry, attr_id)):
            assert member["constant"] == f"errors.{enum_type.__name__}.{enum_type(member['value']).name}"


def test_default_severities_agree(registry):
    assert set(SEVERITY_OF) == set(ErrorCategory), "SEVERITY_OF must cover every category"
    assert all(isinstance(s, ErrorSeverity) for s in SEVERITY_OF.values())
    in_registry = {
        m["value"]: m.get("default_severity")
        for m in _registry.enum_members(attribute(registry, agentmon.ERROR_CATEGORY))
    }
    in_code = {category.value: severity.value for category, severity in SEVERITY_OF.items()}
    assert in_registry == in_code


# --- (c) metrics ----------------------------------------------------------------------------


def test_metric_names_match(registry):
    entries = registry["metrics"]
    names = [m["metric_name"] for m in entries]
    ours_in_code = {
        value
        for value in public_str_constants(metrics, "metrics").values()
        if value.startswith("agentmon.")
    }
    ours = {metrics.COST, metrics.ERRORS, metrics.BUDGET_EVENTS, metrics.QUALITY_SCORE, metrics.QUALITY_DRIFT,
            metrics.EVALUATIONS_DROPPED, metrics.EVALUATION_ERRORS, metrics.SPANS_DROPPED, metrics.FEEDBACK_RATING}
    assert sorted(names) == sorted(ours) == sorted(ours_in_code)
    for entry in entries:
        assert resolve(entry["constant"]) == entry["metric_name"]
        assert entry["stability"] == STABILITY


def test_metric_definitions(registry):
    by_name = {m["metric_name"]: m for m in registry["metrics"]}
    expected = {
        metrics.COST: (
            "counter", metrics.UNIT_USD,
            {gen_ai.OPERATION_NAME, gen_ai.PROVIDER_NAME, gen_ai.REQUEST_MODEL, gen_ai.RESPONSE_MODEL,
             gen_ai.SERVER_ADDRESS, gen_ai.SERVER_PORT, agentmon.APPLICATION, agentmon.DEPARTMENT,
             gen_ai.USER_ID},
        ),
        metrics.ERRORS: (
            "counter", metrics.UNIT_ERRORS,
            {agentmon.ERROR_CATEGORY, agentmon.ERROR_SEVERITY,
             gen_ai.PROVIDER_NAME, gen_ai.OPERATION_NAME},
        ),
        metrics.BUDGET_EVENTS: (
            "counter", metrics.UNIT_EVENTS,
            {agentmon.BUDGET_SCOPE, agentmon.BUDGET_PERIOD, agentmon.BUDGET_LEVEL},
        ),
        metrics.QUALITY_SCORE: (
            "histogram", metrics.UNIT_SCORE,
            {gen_ai.EVALUATION_NAME, gen_ai.PROVIDER_NAME, gen_ai.REQUEST_MODEL, agentmon.APPLICATION},
        ),
        metrics.FEEDBACK_RATING: ("histogram", metrics.UNIT_RATING, {agentmon.APPLICATION, gen_ai.AGENT_NAME}),
        metrics.QUALITY_DRIFT: ("gauge", metrics.UNIT_SCORE, {gen_ai.EVALUATION_NAME}),
        metrics.EVALUATIONS_DROPPED: ("counter", metrics.UNIT_EVALUATIONS, set()),
        metrics.EVALUATION_ERRORS: ("counter", metrics.UNIT_ERRORS, {gen_ai.EVALUATION_NAME}),
        metrics.SPANS_DROPPED: ("counter", metrics.UNIT_SPANS, {gen_ai.ERROR_TYPE}),
    }
    known = {a["id"] for a in _registry.iter_attributes(registry)}
    known |= set(public_str_constants(gen_ai, "gen_ai").values())
    for name, (instrument, unit, attributes) in expected.items():
        entry = by_name[name]
        assert entry["instrument"] == instrument, name
        assert entry["unit"] == unit, name
        refs = [a["ref"] for a in entry["attributes"]]
        assert set(refs) == attributes, name
        assert set(refs) <= known, f"{name}: unknown attributes {set(refs) - known}"


def test_env_section(registry):
    env = {v["name"]: v for v in registry["env"]}
    from otel_agentmon import _settings

    assert set(env) == {
        _settings.AGENTMON_PRICES_FILE,
        _settings.AGENTMON_QUALITY_SAMPLE_RATE,
        _settings.AGENTMON_OPENAI_STREAM_USAGE,
        "AGENTMON_BUDGETS_FILE",
        _settings.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
        _settings.AGENTMON_EVALUATORS,
        _settings.AGENTMON_EVALUATION_QUEUE_SIZE,
        _settings.AGENTMON_METRICS_USER_ID,
        _settings.AGENTMON_METRICS_CARDINALITY_LIMIT,
        _settings.AGENTMON_STORE_PATH,
        _settings.AGENTMON_REDACT,
        _settings.AGENTMON_REDACT_ALLOW,
        _settings.AGENTMON_REDACT_DENY,
        _settings.AGENTMON_CALL_LOGS,
        _settings.AGENTMON_CALL_LOG_FILE,
    }
    assert env[_settings.AGENTMON_OPENAI_STREAM_USAGE]["default"] is True
    assert env["AGENTMON_PRICES_FILE"]["default"] is None
    assert env["AGENTMON_QUALITY_SAMPLE_RATE"]["default"] == 0.05
    assert env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"]["default"] is False
    assert env[_settings.AGENTMON_METRICS_CARDINALITY_LIMIT]["default"] == _settings._cardinality.DEFAULT_CARDINALITY_LIMIT
    assert all(v.get("brief") and v.get("type") for v in env.values())


# --- (d) generated docs ---------------------------------------------------------------------


def test_docs_page_is_up_to_date(registry):
    expected = _registry.render_markdown(registry)
    assert DOCS_PAGE.is_file(), f"docs/semconv.md is missing; generate it: {_registry.REGENERATE_COMMAND}"
    assert DOCS_PAGE.read_text(encoding="utf-8") == expected, (
        "docs/semconv.md is out of date with semconv/registry.yaml; regenerate it with: "
        + _registry.REGENERATE_COMMAND
    )


def test_rendering_is_deterministic_and_complete(registry):
    page = _registry.render_markdown(registry)
    assert page == _registry.render_markdown(_registry.load_registry())
    for attr in _registry.iter_attributes(registry):
        assert f"`{attr['id']}`" in page
        for member in _registry.enum_members(attr):
            assert f'`"{member["value"]}"`' in page
    for metric in registry["metrics"]:
        assert f"`{metric['metric_name']}`" in page
    for var in registry["env"]:
        assert f"`{var['name']}`" in page


def test_check_command(tmp_path, capsys):
    assert _registry.main(["--check", str(DOCS_PAGE)]) == 0
    stale = tmp_path / "semconv.md"
    stale.write_text(DOCS_PAGE.read_text(encoding="utf-8") + "\nhand edit\n", encoding="utf-8")
    assert _registry.main(["--check", str(stale)]) == 1
    assert "regenerate" in capsys.readouterr().err
    assert _registry.main(["--check", str(tmp_path / "absent.md")]) == 1


# --- (e) names come from semconv, never literals -------------------------------------------


def _docstring_nodes(tree: ast.AST) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                nodes.add(id(body[0].value))
    return nodes


def find_literals(source: str, names: set[str], filename: str = "<string>") -> list[str]:
    """``file:line: 'name'`` for every string constant in ``source`` that is one of ``names``."""
    tree = ast.parse(source, filename=filename)
    docstrings = _docstring_nodes(tree)
    return [
        f"{filename}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in names
        and id(node) not in docstrings
    ]


def test_literal_scanner():
    source = (
        '"""Module docstring naming agentmon.error.category is fine."""\n'
        "def f():\n"
        '    """agentmon.error.category"""\n'
        '    return {"agentmon.error.category": 1}\n'
    )
    assert find_literals(source, {agentmon.ERROR_CATEGORY}) == [
        "<string>:4: 'agentmon.error.category'"
    ]


def test_no_registry_name_is_spelled_outside_semconv(registry):
    names = {a["id"] for a in _registry.iter_attributes(registry)}
    names |= {m["metric_name"] for m in registry["metrics"]}
    offenders: list[str] = []
    for folder in SCANNED_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            offenders += find_literals(source, names, str(path.relative_to(REPO)))
    assert not offenders, (
        "import these names from otel_agentmon.semconv instead of spelling them:\n"
        + "\n".join(offenders)
    )
