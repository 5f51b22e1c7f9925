"""A small YAML writer that keeps comments: mappings, lists and scalars, block style, one
statement per line (PyYAML's dumper drops comments and folds long lines)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


@dataclass(frozen=True)
class Comment:
    """A comment line: before a key (as a mapping value's wrapper) or as a list item."""

    text: str


@dataclass(frozen=True)
class Commented:
    """A mapping value with comment lines written above its key."""

    comment: str
    value: Any


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {value!r} as YAML")
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return "'" + value.replace("'", "''") + "'"


def _comment_lines(text: str, pad: str) -> list[str]:
    return [f"{pad}# {line}".rstrip() for line in text.splitlines()]


def _is_block(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)


def _empty(value: Any) -> str:
    return "{}" if isinstance(value, dict) else "[]"


def _mapping(data: dict, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, Commented):
            lines += _comment_lines(value.comment, pad)
            value = value.value
        head = f"{pad}{scalar(key)}:"
        if _is_block(value):
            lines.append(head)
            lines += _block(value, indent + 2)
        elif isinstance(value, (dict, list)):
            lines.append(f"{head} {_empty(value)}")
        else:
            lines.append(f"{head} {scalar(value)}")
    return lines


def _sequence(items: list, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, Comment):
            lines += _comment_lines(item.text, pad)
        elif isinstance(item, dict) and item:
            inner = _mapping(item, indent + 2)
            first = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
            lines += inner[:first]
            lines.append(f"{pad}- {inner[first][indent + 2:]}")
            lines += inner[first + 1:]
        elif _is_block(item):
            raise TypeError("lists of lists are not written")
        elif isinstance(item, (dict, list)):
            lines.append(f"{pad}- {_empty(item)}")
        else:
            lines.append(f"{pad}- {scalar(item)}")
    return lines


def _block(value: Any, indent: int) -> list[str]:
    return _mapping(value, indent) if isinstance(value, dict) else _sequence(value, indent)


def dump(data: dict, header: str = "") -> str:
    lines = _comment_lines(header, "") if header else []
    if lines:
        lines.append("")
    for i, (key, value) in enumerate(data.items()):
        if i:
            lines.append("")
        lines += _mapping({key: value}, 0)
    return "\n".join(lines) + "\n"


def plain(value: Any) -> Any:
    """The data without comments (what a YAML loader reads back)."""
    if isinstance(value, Commented):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value if not isinstance(v, Comment)]
    return value
