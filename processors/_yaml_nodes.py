"""Reading YAML as nodes, so every error in a configuration file can name its line (shared
by the prices file and the budgets file)."""

from __future__ import annotations

import yaml


def where(path: str, node: yaml.Node) -> str:
    """``path:line`` of a node, for error messages."""
    return f"{path}:{node.start_mark.line + 1}"


def scalar(node: yaml.Node, path: str, what: str, error: type[ValueError]) -> object:
    """The Python value of a scalar node; ``error`` (naming path and line) for anything else."""
    if not isinstance(node, yaml.ScalarNode):
        raise error(f"{where(path, node)}: {what} must be a single value")
    return yaml.SafeLoader("").construct_object(node, deep=True)


def compose(text: str, path: str, error: type[ValueError]) -> yaml.Node | None:
    """The root node of ``text``; ``error`` with the line of the problem when it is not YAML."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}{line}: not valid YAML: {problem}") from None
