"""Error category and severity of a finished span (``agentmon.error.*``)."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from otel_agentmon.processors import _error_rules as rules
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import SEVERITY_OF, ErrorCategory

_MAX_MESSAGE_SCAN = 4096  # provider codes sit near the start; never scan a huge message whole
_STATUS_IN_MESSAGE = re.compile(rules.STATUS_CODE_IN_MESSAGE)


def _short_name(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _by_code(text: str) -> ErrorCategory | None:
    text = text[:_MAX_MESSAGE_SCAN].lower()
    for fragment, category in rules.PROVIDER_CODE_RULES:
        if fragment in text:
            return category
    return None


def _by_status(value: Any) -> ErrorCategory | None:
    if isinstance(value, str):
        # ASCII digits only, and few: "²".isdigit() is true yet int() rejects it, and int() of
        # thousands of digits raises too; no status code is longer than a few digits
        value = int(value) if len(value) <= 6 and value.isascii() and value.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    category = rules.HTTP_STATUS_RULES.get(value)
    if category is not None:
        return category
    if 500 <= value <= 599:
        return rules.HTTP_5XX_DEFAULT
    if 400 <= value <= 499:
        return rules.HTTP_4XX_DEFAULT
    return None


def _finish_reasons(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)):
        return (v for v in value if isinstance(v, str))
    return ()


def categorize(
    attributes: Mapping[str, Any],
    failed: bool,
    exceptions: Iterable[tuple[str | None, str | None]] = (),
) -> ErrorCategory | None:
    """The category of a span, or None when it records no error.

    ``failed`` is true for spans whose status is ERROR; a span with ``error.type`` also counts
    as failed. ``exceptions`` are (exception.type, exception.message) pairs from the span's
    exception events. A successful reply stopped by a content filter is categorized too.
    """
    error_type = attributes.get(ga.ERROR_TYPE)
    if not isinstance(error_type, str) or error_type == "":
        error_type = None
    if not failed and error_type is None:
        for reason in _finish_reasons(attributes.get(ga.RESPONSE_FINISH_REASONS)):
            if reason in rules.CONTENT_FILTER_FINISH_REASONS:
                return ErrorCategory.CONTENT_FILTER
        return None

    category = _categorize_failure(attributes, error_type, exceptions)
    if attributes.get(ga.OPERATION_NAME) == ga.Operation.EXECUTE_TOOL and category not in rules.TOOL_ERROR_KEEPS:
        return ErrorCategory.TOOL_ERROR
    return category


def _categorize_failure(
    attributes: Mapping[str, Any],
    error_type: str | None,
    exceptions: Iterable[tuple[str | None, str | None]],
) -> ErrorCategory:
    texts: list[str] = []
    names: list[str] = []
    if error_type is not None:
        texts.append(error_type)
        names.append(_short_name(error_type))
    for exc_type, exc_message in exceptions:
        if isinstance(exc_message, str):
            texts.append(exc_message)
        if isinstance(exc_type, str):
            names.append(_short_name(exc_type))
    for text in texts:
        category = _by_code(text)
        if category is not None:
            return category
    status = attributes.get(ga.HTTP_RESPONSE_STATUS_CODE)
    if status is None:
        status = attributes.get(ga.DEPRECATED_HTTP_STATUS_CODE)
    if status is None:
        for text in texts:
            match = _STATUS_IN_MESSAGE.search(text[:_MAX_MESSAGE_SCAN].lower())
            if match:
                status = int(match.group(1))
                break
    if status is None and error_type is not None:
        status = error_type  # some instrumentors put the HTTP status code in error.type
    category = _by_status(status)
    if category is not None:
        return category
    for name in names:
        category = rules.EXCEPTION_TYPE_RULES.get(name)
        if category is not None:
            return category
    return ErrorCategory.UNKNOWN_ERROR


def error_attributes(category: ErrorCategory) -> dict[str, str]:
    return {am.ERROR_CATEGORY: category.value, am.ERROR_SEVERITY: SEVERITY_OF[category].value}
