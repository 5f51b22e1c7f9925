"""Small builders for OTTL text: literals, paths, regexes, and arithmetic that can also be
evaluated in Python with the same float operations (to check a generated cost formula)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Union

from genai_prices.types import (
    ClauseAnd,
    ClauseContains,
    ClauseEndsWith,
    ClauseEquals,
    ClauseOr,
    ClauseRegex,
    ClauseStartsWith,
)


class UnsupportedMatch(ValueError):
    """A model-matching rule that OTTL (RE2 regular expressions) cannot express."""


# --- literals and paths ---------------------------------------------------------------------


def string(value: str) -> str:
    """An OTTL string literal (OTTL unquotes strings the way Go does)."""
    return json.dumps(value, ensure_ascii=False)


def number(value: float) -> str:
    """An OTTL float literal that parses back to exactly ``value``.

    Python's repr is the shortest decimal that round-trips, and Go's ParseFloat rounds
    correctly, so both sides get the same double. OTTL's float token needs a dot."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite price: {value!r}")
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + ("e" + exponent if exponent else "")


def attr(name: str) -> str:
    return f"span.attributes[{string(name)}]"


def event_attr(name: str) -> str:
    return f"spanevent.attributes[{string(name)}]"


def cache(key: str) -> str:
    return f"span.cache[{string(key)}]"


def event_cache(key: str) -> str:
    return f"spanevent.cache[{string(key)}]"


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta: a regex matching ``text`` literally."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def any_of(values: Iterable[str]) -> str:
    """A regex matching exactly one of ``values``."""
    return "^(?:" + "|".join(quote_meta(v) for v in values) + ")$"


def or_(terms: Iterable[str]) -> str:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")"


def and_(terms: Iterable[str]) -> str:
    terms = [t for t in terms if t]
    return terms[0] if len(terms) == 1 else " and ".join(terms)


def where(statement: str, *conditions: str) -> str:
    conditions = tuple(c for c in conditions if c)
    return f"{statement} where {' and '.join(conditions)}" if conditions else statement


# --- genai-prices match rules ---------------------------------------------------------------

_LOOKAROUND = re.compile(r"\(\?<?[=!]")


def _closing_paren(pattern: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at ``start``."""
    depth = 0
    in_class = False
    i = start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise UnsupportedMatch(f"unbalanced parentheses in {pattern!r}")


def _re2_checked(pattern: str, whole: str) -> str:
    if _LOOKAROUND.search(pattern) or "\\Z" in pattern or "(?#" in pattern:
        raise UnsupportedMatch(f"regex {whole!r} uses syntax RE2 does not have")
    return pattern


def regex_condition(target: str, pattern: str) -> str:
    """``re.search(pattern, target)`` in OTTL (RE2). A leading negative lookahead
    ``^(?!A)B``, the one lookaround the price table uses, becomes ``not ^A and ^B``."""
    if pattern.startswith("^(?!"):
        close = _closing_paren(pattern, 1)
        ahead = _re2_checked(pattern[4:close], pattern)
        rest = _re2_checked(pattern[close + 1 :], pattern)
        terms = [f"not IsMatch({target}, {string('^(?:' + ahead + ')')})"]
        if rest:
            terms.append(f"IsMatch({target}, {string('^(?:' + rest + ')')})")
        return "(" + " and ".join(terms) + ")"
    return f"IsMatch({target}, {string(_re2_checked(pattern, pattern))})"


def match_condition(clause: object, target: str) -> str:
    """A genai-prices match rule as an OTTL condition on ``target`` (a lower-case string, as
    genai-prices lower-cases a model reference before matching)."""
    if isinstance(clause, ClauseEquals):
        return f"{target} == {string(clause.equals.lower())}"
    if isinstance(clause, ClauseStartsWith):
        return f"HasPrefix({target}, {string(clause.starts_with.lower())})"
    if isinstance(clause, ClauseEndsWith):
        return f"HasSuffix({target}, {string(clause.ends_with.lower())})"
    if isinstance(clause, ClauseContains):
        return f"IsMatch({target}, {string(quote_meta(clause.contains.lower()))})"
    if isinstance(clause, ClauseRegex):
        return regex_condition(target, clause.regex)
    if isinstance(clause, ClauseOr):
        return or_(match_condition(c, target) for c in clause.or_)
    if isinstance(clause, ClauseAnd):
        return "(" + " and ".join(match_condition(c, target) for c in clause.and_) + ")"
    raise UnsupportedMatch(f"unknown match rule {clause!r}")


def may_overlap(a: object, b: object) -> bool:
    """False only when no model name can match both rules (conservative: True when unsure)."""
    if isinstance(a, ClauseOr):
        return any(may_overlap(x, b) for x in a.or_)
    if isinstance(b, ClauseOr):
        return any(may_overlap(a, x) for x in b.or_)
    if isinstance(a, ClauseAnd):
        return all(may_overlap(x, b) for x in a.and_)
    if isinstance(b, ClauseAnd):
        return all(may_overlap(a, x) for x in b.and_)
    if isinstance(a, ClauseEquals):
        return bool(b.is_match(a.equals.lower()))  # type: ignore[attr-defined]
    if isinstance(b, ClauseEquals):
        return bool(a.is_match(b.equals.lower()))  # type: ignore[attr-defined]
    if isinstance(a, ClauseStartsWith) and isinstance(b, ClauseStartsWith):
        x, y = a.starts_with.lower(), b.starts_with.lower()
        return x.startswith(y) or y.startswith(x)
    if isinstance(a, ClauseEndsWith) and isinstance(b, ClauseEndsWith):
        x, y = a.ends_with.lower(), b.ends_with.lower()
        return x.endswith(y) or y.endswith(x)
    return True


# --- arithmetic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """An int64 value held in the span's cache (a token count)."""

    key: str


@dataclass(frozen=True)
class Int:
    value: int


@dataclass(frozen=True)
class Float:
    value: float


@dataclass(frozen=True)
class Op:
    op: str  # + - * /
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class ToDouble:
    """OTTL's Double(): an int64 to float64 (exact below 2^53)."""

    value: "Expr"


Expr = Union[Var, Int, Float, Op, ToDouble]


def add(left: Expr | None, right: Expr) -> Expr:
    return right if left is None else Op("+", left, right)


def render(expr: Expr) -> str:
    """OTTL text. Operators of one precedence level run left to right, as in Python; the
    tree's own grouping is kept with parentheses where precedence would change it."""
    if isinstance(expr, Var):
        return cache(expr.key)
    if isinstance(expr, Int):
        return str(expr.value) if expr.value >= 0 else f"({expr.value})"
    if isinstance(expr, Float):
        return number(expr.value)
    if isinstance(expr, ToDouble):
        return f"Double({render(expr.value)})"
    left = render(expr.left)
    right = render(expr.right)
    if isinstance(expr.right, Op) and not _binds_tighter(expr.right.op, expr.op):
        right = f"({right})"  # a + (b + c) is not (a + b) + c in floating point
    if isinstance(expr.left, Op) and _binds_tighter(expr.op, expr.left.op):
        left = f"({left})"
    return f"{left} {expr.op} {right}"


def _binds_tighter(op: str, than: str) -> bool:
    return op in "*/" and than in "+-"


def evaluate(expr: Expr, values: Mapping[str, int]) -> Union[int, float]:
    """The value OTTL computes: int64 arithmetic on ints, IEEE doubles on floats."""
    if isinstance(expr, Var):
        return values[expr.key]
    if isinstance(expr, Int):
        return expr.value
    if isinstance(expr, Float):
        return expr.value
    if isinstance(expr, ToDouble):
        value = evaluate(expr.value, values)
        assert isinstance(value, int)
        return float(value)
    left = evaluate(expr.left, values)
    right = evaluate(expr.right, values)
    if type(left) is not type(right):
        raise TypeError("OTTL does not mix int64 and float64 in arithmetic")
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if isinstance(left, int):
        raise TypeError("integer division is not used")
    return left / right


def decimal_scale(values: Iterable[Decimal]) -> int:
    """The power of ten that makes every value an integer."""
    scale = 0
    for value in values:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale:
            scale = -exponent
    return scale
