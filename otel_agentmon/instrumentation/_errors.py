"""``error.type`` for an exception raised by a model SDK: the provider's error code when it
gives one (``context_length_exceeded``, ``overloaded_error``), else the exception class."""

from __future__ import annotations

# Anthropic error types too generic to say more than the exception class does.
_GENERIC_CODES = frozenset({"invalid_request_error", "api_error", "error"})


def exception_type_name(exc: BaseException) -> str:
    cls = type(exc)
    package = cls.__module__.partition(".")[0]
    return cls.__qualname__ if package == "builtins" else f"{package}.{cls.__qualname__}"


def error_type(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind = error.get("type")
            if isinstance(kind, str) and kind and kind not in _GENERIC_CODES:
                return kind
    return exception_type_name(exc)
