"""Budgets from a YAML file (AGENTMON_BUDGETS_FILE; its shape is in the package docstring).

Errors name the file and line, and are raised when the file is loaded (at start).
"""

from __future__ import annotations

import math
import os

import yaml

from otel_agentmon.budgets._config import MODES, Budget, BudgetsConfig, BudgetsFileError, default_state_file
from otel_agentmon.processors._yaml_nodes import compose, scalar
from otel_agentmon.processors._yaml_nodes import where as _where
from otel_agentmon.semconv import agentmon as am

_TOP_KEYS = ("mode", "state_file", "budgets")
_SCOPE_KEYS = {"user": am.BudgetScope.USER, "department": am.BudgetScope.DEPARTMENT}
_AMOUNT_KEYS = ("daily", "monthly")
_ENTRY_KEYS = (*_SCOPE_KEYS, *_AMOUNT_KEYS)


def _scalar(node: yaml.Node, path: str, what: str) -> object:
    return scalar(node, path, what, BudgetsFileError)


def _fields(node: yaml.MappingNode, path: str, known: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """key -> (key node, value node); unknown and repeated keys are errors."""
    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, path, "a key")
        if key not in known:
            raise BudgetsFileError(f"{_where(path, key_node)}: unknown key {key!r} (known: {', '.join(known)})")
        if key in fields:
            raise BudgetsFileError(f"{_where(path, key_node)}: {key} given twice "
                                   f"(first on line {fields[key][0].start_mark.line + 1})")
        fields[key] = (key_node, value_node)
    return fields


def _amount(node: yaml.Node, path: str, key: str) -> float:
    value = _scalar(node, path, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BudgetsFileError(f"{_where(path, node)}: {key} must be a number of USD such as 50 or 12.5, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise BudgetsFileError(f"{_where(path, node)}: {key} must be a positive number of USD, got {value!r}")
    return float(value)


def _name(node: yaml.Node, path: str, key: str) -> str:
    value = _scalar(node, path, key)
    if not isinstance(value, str) or not value.strip():
        hint = " (quote it)" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        raise BudgetsFileError(f"{_where(path, node)}: {key} must be a non-empty string{hint}, got {value!r}")
    return value


def _entry(node: yaml.Node, path: str) -> Budget:
    if not isinstance(node, yaml.MappingNode):
        raise BudgetsFileError(f"{_where(path, node)}: each budget must be a mapping with user or department "
                               "and daily and/or monthly")
    fields = _fields(node, path, _ENTRY_KEYS)
    scopes = [key for key in _SCOPE_KEYS if key in fields]
    if len(scopes) != 1:
        given = "both user and department" if scopes else "neither user nor department"
        raise BudgetsFileError(f"{_where(path, node)}: a budget names exactly one of user or department; "
                               f"this one has {given}")
    if not any(key in fields for key in _AMOUNT_KEYS):
        raise BudgetsFileError(f"{_where(path, node)}: a budget needs daily and/or monthly (USD)")
    scope_key = scopes[0]
    owner = _name(fields[scope_key][1], path, scope_key)
    amounts = {key: _amount(fields[key][1], path, key) for key in _AMOUNT_KEYS if key in fields}
    return Budget(_SCOPE_KEYS[scope_key], owner, amounts.get("daily"), amounts.get("monthly"))


def _budgets(node: yaml.Node, path: str) -> tuple[Budget, ...]:
    if isinstance(node, yaml.ScalarNode) and _scalar(node, path, "budgets") is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise BudgetsFileError(f"{_where(path, node)}: 'budgets' must be a list")
    budgets: list[Budget] = []
    first_line: dict[tuple[str, str], int] = {}
    for item in node.value:
        budget = _entry(item, path)
        key = (budget.scope, budget.owner)
        if key in first_line:
            raise BudgetsFileError(f"{_where(path, item)}: a second budget for {budget.scope} {budget.owner!r} "
                                   f"(first on line {first_line[key]}); put daily and monthly in one entry")
        first_line[key] = item.start_mark.line + 1
        budgets.append(budget)
    return tuple(budgets)


def _state_file(node: yaml.Node, path: str) -> str:
    value = _name(node, path, "state_file")
    expanded = os.path.expanduser(os.path.expandvars(value))
    if not os.path.isabs(expanded):  # relative to the budgets file, not to the working directory
        expanded = os.path.join(os.path.dirname(os.path.abspath(path)), expanded)
    return os.path.normpath(expanded)


def parse_budgets(text: str, path: str = "<budgets>") -> BudgetsConfig:
    """Parse the YAML text of a budgets file; raises BudgetsFileError naming path and line."""
    root = compose(text, path, BudgetsFileError)
    if root is None:
        return BudgetsConfig(state_file=default_state_file())
    if not isinstance(root, yaml.MappingNode):
        raise BudgetsFileError(f"{_where(path, root)}: expected a mapping with a 'budgets' list")
    fields = _fields(root, path, _TOP_KEYS)
    if "budgets" not in fields:
        raise BudgetsFileError(f"{_where(path, root)}: missing 'budgets' (a list of user or department budgets)")
    mode = MODES[0]
    if "mode" in fields:
        node = fields["mode"][1]
        mode = _scalar(node, path, "mode")  # type: ignore[assignment]
        if mode not in MODES:
            raise BudgetsFileError(f"{_where(path, node)}: mode must be {' or '.join(MODES)}, got {mode!r}")
    state_file = _state_file(fields["state_file"][1], path) if "state_file" in fields else default_state_file()
    return BudgetsConfig(_budgets(fields["budgets"][1], path), str(mode), state_file)


def load_budgets(path: str | os.PathLike[str]) -> BudgetsConfig:
    """Read and validate a budgets file; raises BudgetsFileError (file, line, what is wrong)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise BudgetsFileError(f"{path}: cannot read budgets file: {exc.strerror or exc}") from None
    return parse_budgets(text, path)
