"""The error-category derivation as OTTL, from the rule tables of processors/_error_rules.py,
in the order processors/_errors.py applies them.

The Python side reads texts (``error.type``, the status description of a failed span, the
message of each exception event) and names (the last dotted part of ``error.type`` and of
each event's ``exception.type``). The collector reads the same: a span-event group first
notes, on the span, the first category a provider code gives in an event's message, the
first HTTP status code an event's message names and the first category an event's
exception class gives; the span group then applies the rules in order.
"""

from __future__ import annotations

from itertools import groupby
from typing import Iterable

from otel_agentmon.collector import _ottl as o
from otel_agentmon.processors import _error_rules as rules
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import SEVERITY_OF, ErrorCategory, ErrorSeverity

_MAX_MESSAGE_SCAN = 4096  # processors/_errors.py scans the first 4096 characters of a message

# Span attributes the span-event group leaves for the span group (removed there).
TMP_PREFIX = "agentmon.collector.tmp."
EVENT_CODE_CATEGORY = TMP_PREFIX + "event_code_category"
EVENT_STATUS = TMP_PREFIX + "event_status"
EVENT_NAME_CATEGORY = TMP_PREFIX + "event_name_category"
TEMPORARY = (EVENT_CODE_CATEGORY, EVENT_STATUS, EVENT_NAME_CATEGORY)

# span cache keys of the error group
ERROR_TYPE, FAILED, CATEGORY, STATUS, CODE, NAME = "error_type", "failed", "category", "status", "code", "name"
TEXT_ERROR_TYPE, TEXT_STATUS = "text_error_type", "text_status"

_STATUS_PATTERN = rules.STATUS_CODE_IN_MESSAGE.replace("(", "(?P<code>", 1)


def genai(prefix: str = "span") -> str:
    """processors/_enricher.py derives cost and errors only for spans with a GenAI marker."""
    names = (ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.DEPRECATED_SYSTEM)
    return "(" + " or ".join(f"{prefix}.attributes[{o.string(n)}] != nil" for n in names) + ")"


def _code_groups() -> list[tuple[ErrorCategory, list[str]]]:
    """Provider-code fragments grouped by category, first fragment first (one regex per run
    keeps the order: a text's first matching fragment in table order wins)."""
    return [(category, [fragment for fragment, _ in run])
            for category, run in groupby(rules.PROVIDER_CODE_RULES, key=lambda rule: rule[1])]


def _name_groups() -> list[tuple[ErrorCategory, list[str]]]:
    by_category: dict[ErrorCategory, list[str]] = {}
    for name, category in rules.EXCEPTION_TYPE_RULES.items():
        by_category.setdefault(category, []).append(name)
    return list(by_category.items())


def _status_groups() -> list[tuple[ErrorCategory, list[int]]]:
    by_category: dict[ErrorCategory, list[int]] = {}
    for code, category in rules.HTTP_STATUS_RULES.items():
        by_category.setdefault(category, []).append(code)
    return list(by_category.items())


def _codes_regex(fragments: Iterable[str]) -> str:
    return "|".join(o.quote_meta(f) for f in fragments)


def event_group() -> dict:
    """Statements for each exception event of a failed GenAI span not yet categorized."""
    message, name = o.event_cache("message"), o.event_cache("name")
    code_attr, status_attr, name_attr = (f"span.attributes[{o.string(k)}]" for k in TEMPORARY)
    statements = [
        o.where(f"set({message}, {o.event_attr(ga.EXCEPTION_MESSAGE)})",
                f"IsString({o.event_attr(ga.EXCEPTION_MESSAGE)})"),
        f"truncate_all(spanevent.cache, {_MAX_MESSAGE_SCAN})",
        o.where(f"set({message}, ToLowerCase({message}))", f"{message} != nil"),
    ]
    for category, fragments in _code_groups():
        statements.append(o.where(f"set({code_attr}, {o.string(category.value)})",
                                  f"{code_attr} == nil", f"IsMatch({message}, {o.string(_codes_regex(fragments))})"))
    statements.append(o.where(
        f"set({status_attr}, Int(ExtractPatterns({message}, {o.string(_STATUS_PATTERN)})[\"code\"]))",
        f"{status_attr} == nil", f"IsMatch({message}, {o.string(rules.STATUS_CODE_IN_MESSAGE)})"))
    statements += [
        o.where(f"set({name}, {o.event_attr(ga.EXCEPTION_TYPE)})", f"IsString({o.event_attr(ga.EXCEPTION_TYPE)})"),
        o.where(f"replace_pattern({name}, {o.string('^(?s).*[.]')}, \"\")", f"{name} != nil"),
    ]
    for category, names in _name_groups():
        statements.append(o.where(f"set({name_attr}, {o.string(category.value)})",
                                  f"{name_attr} == nil", f"IsMatch({name}, {o.string(o.any_of(names))})"))
    condition = " and ".join([
        f"spanevent.name == {o.string(ga.EXCEPTION_EVENT)}",
        genai(),
        f"span.attributes[{o.string(am.ERROR_CATEGORY)}] == nil",
        f"(span.status.code == STATUS_CODE_ERROR or span.attributes[{o.string(ga.ERROR_TYPE)}] != nil)",
    ])
    return {"context": "spanevent", "conditions": [condition], "statements": statements}


def span_group() -> dict:
    """Category and severity of a GenAI span that records an error or a filtered reply."""
    c = o.cache
    error_type, failed, category = c(ERROR_TYPE), c(FAILED), c(CATEGORY)
    status, code, name = c(STATUS), c(CODE), c(NAME)
    texts = (c(TEXT_ERROR_TYPE), c(TEXT_STATUS))
    finish = o.attr(ga.RESPONSE_FINISH_REASONS)
    open_ = f"{failed} == true and {category} == nil"
    et = o.attr(ga.ERROR_TYPE)
    has_error_type = (f"IsString({et})", f"{et} != \"\"")
    reasons = sorted(rules.CONTENT_FILTER_FINISH_REASONS)
    statements = [
        # the texts: error.type and the description of a failed status, their first 4096
        # characters in lower case
        o.where(f"set({texts[0]}, {et})", *has_error_type),
        o.where(f"set({texts[1]}, span.status.message)",
                "span.status.code == STATUS_CODE_ERROR", "span.status.message != \"\""),
        f"truncate_all(span.cache, {_MAX_MESSAGE_SCAN})",
    ]
    statements += [o.where(f"set({t}, ToLowerCase({t}))", f"{t} != nil") for t in texts]
    statements += [
        # error.type counts when it is a non-empty string; the span failed if its status says
        # so or it has one
        o.where(f"set({error_type}, {et})", *has_error_type),
        o.where(f"set({failed}, true)", f"(span.status.code == STATUS_CODE_ERROR or {error_type} != nil)"),
        # a reply stopped by a content filter, with no error
        o.where(f"set({category}, {o.string(ErrorCategory.CONTENT_FILTER.value)})", f"{failed} == nil",
                o.or_([f"{finish} == {o.string(r)}" for r in reasons]
                      + [f"(IsList({finish}) and " + o.or_(f"ContainsValue({finish}, {o.string(r)})" for r in reasons)
                         + ")"])),
    ]
    # 1. provider codes in the texts, in order: error.type, status description, events
    for text in texts:
        for cat, fragments in _code_groups():
            statements.append(o.where(f"set({category}, {o.string(cat.value)})", open_,
                                      f"IsMatch({text}, {o.string(_codes_regex(fragments))})"))
    tmp_code, tmp_status, tmp_name = (o.attr(k) for k in TEMPORARY)
    statements.append(o.where(f"set({category}, {tmp_code})", open_, f"{tmp_code} != nil"))
    # 2. the HTTP status code: attribute, deprecated attribute, "Error code: NNN" in a text,
    #    else error.type itself (some instrumentors put the code there)
    http, http_old = o.attr(ga.HTTP_RESPONSE_STATUS_CODE), o.attr(ga.DEPRECATED_HTTP_STATUS_CODE)
    statements += [
        o.where(f"set({status}, {http})", open_, f"{http} != nil"),
        o.where(f"set({status}, {http_old})", open_, f"{status} == nil", f"{http_old} != nil"),
    ]
    for text in texts:
        statements.append(o.where(
            f"set({status}, Int(ExtractPatterns({text}, {o.string(_STATUS_PATTERN)})[\"code\"]))",
            open_, f"{status} == nil", f"IsMatch({text}, {o.string(rules.STATUS_CODE_IN_MESSAGE)})"))
    statements += [
        o.where(f"set({status}, {tmp_status})", open_, f"{status} == nil", f"{tmp_status} != nil"),
        o.where(f"set({status}, {error_type})", open_, f"{status} == nil", f"{error_type} != nil"),
        # an int, or a string of digits
        o.where(f"set({code}, {status})", open_, f"IsInt({status})"),
        o.where(f"set({code}, Int({status}))", open_, f"IsString({status})",
                f"IsMatch({status}, \"^[0-9]+$\")"),
    ]
    for cat, codes in _status_groups():
        statements.append(o.where(f"set({category}, {o.string(cat.value)})", open_,
                                  o.or_(f"{code} == {n}" for n in codes)))
    statements += [
        o.where(f"set({category}, {o.string(rules.HTTP_5XX_DEFAULT.value)})", open_, f"{code} >= 500",
                f"{code} <= 599"),
        o.where(f"set({category}, {o.string(rules.HTTP_4XX_DEFAULT.value)})", open_, f"{code} >= 400",
                f"{code} <= 499"),
        # 3. the exception class: last dotted part of error.type, then of the events' types
        o.where(f"set({name}, {error_type})", open_, f"{error_type} != nil"),
        o.where(f"replace_pattern({name}, {o.string('^(?s).*[.]')}, \"\")", open_, f"{name} != nil"),
    ]
    for cat, names in _name_groups():
        statements.append(o.where(f"set({category}, {o.string(cat.value)})", open_,
                                  f"IsMatch({name}, {o.string(o.any_of(names))})"))
    statements += [
        o.where(f"set({category}, {tmp_name})", open_, f"{tmp_name} != nil"),
        # 4. nothing known
        o.where(f"set({category}, {o.string(ErrorCategory.UNKNOWN_ERROR.value)})", open_),
        # a failed tool is a tool error, unless the category says more
        o.where(f"set({category}, {o.string(ErrorCategory.TOOL_ERROR.value)})", f"{failed} == true",
                f"{o.attr(ga.OPERATION_NAME)} == {o.string(ga.Operation.EXECUTE_TOOL)}",
                *(f"{category} != {o.string(k.value)}" for k in sorted(rules.TOOL_ERROR_KEEPS, key=str))),
        o.where(f"set({o.attr(am.ERROR_CATEGORY)}, {category})", f"{category} != nil"),
    ]
    for severity in ErrorSeverity:
        categories = [k.value for k in ErrorCategory if SEVERITY_OF[k] is severity]
        statements.append(o.where(f"set({o.attr(am.ERROR_SEVERITY)}, {o.string(severity.value)})",
                                  f"{category} != nil", f"IsMatch({category}, {o.string(o.any_of(categories))})"))
    statements += [o.where(f"delete_key(span.attributes, {o.string(k)})", f"{o.attr(k)} != nil") for k in TEMPORARY]
    condition = " and ".join([
        genai(),
        f"{o.attr(am.ERROR_CATEGORY)} == nil",
        f"(span.status.code == STATUS_CODE_ERROR or {et} != nil or {finish} != nil)",
    ])
    return {"context": "span", "conditions": [condition], "statements": statements}
