"""Attribution: whom the work is for (user, department, application).

The values live in OpenTelemetry Baggage, in a context attached for the ``with`` block, so
they reach every span started below it in this process (``AttributionSpanProcessor`` copies
them onto each span as it starts, whichever instrumentation made it) and, through the W3C
Baggage header the SDK's default propagators send, every span of the processes it calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_agentmon import _scopes
from otel_agentmon._validation import acceptable_text, check_optional_text
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga

_logger = logging.getLogger("otel_agentmon")

_USER = ga.USER_ID
_DEPARTMENT = am.DEPARTMENT
_APPLICATION = am.APPLICATION
_SERVICE_NAME = ga.SERVICE_NAME


@dataclass(frozen=True)
class Attribution:
    """Whom the work is for; a field is None when nothing set it."""

    user_id: str | None = None
    department: str | None = None
    application: str | None = None


_EMPTY = Attribution()
_NO_VALUES = (None, None, None)


def _valid(entries: Any, key: str) -> str | None:
    value = entries.get(key)
    # Baggage can come from another process: a value that breaks our rules is dropped here,
    # never raised about (that would fail the request that carried it).
    return value if value is not None and acceptable_text(value) else None


def current_attribution(context: Context | None = None) -> Attribution:
    """The attribution in ``context`` (default: the current one); empty when none is set.

    Never raises: values that are not acceptable (from another process's Baggage) are left out.
    """
    try:
        entries = baggage.get_all(context)
        if not entries:
            return _EMPTY
        user, department, application = (_valid(entries, _USER), _valid(entries, _DEPARTMENT),
                                          _valid(entries, _APPLICATION))
    except Exception:
        return _EMPTY
    if user is None and department is None and application is None:
        return _EMPTY
    return Attribution(user, department, application)


# Metric labels must stay few: Baggage from another process could carry a new department on
# every request. Past this many distinct values of a label in one process, further ones are
# recorded as OTHER_LABEL (spans still carry the real value).
MAX_LABEL_VALUES = 100
OTHER_LABEL = "_OTHER"


class _LabelValues:
    """The distinct values one metric label has taken, capped at MAX_LABEL_VALUES."""

    __slots__ = ("_seen", "_limit")

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def bounded(self, value: str) -> str:
        seen = self._seen
        if value in seen:
            return value
        if len(seen) >= self._limit:
            return OTHER_LABEL
        seen.add(value)  # set.add is atomic under the GIL; a race can only overshoot by a few
        return value


_department_labels = _LabelValues()
_application_labels = _LabelValues()
# Model names come from the caller (request) and the provider (response): bounded in practice,
# yet nothing stops a caller from sending a new one on every request.
_request_model_labels = _LabelValues()
_response_model_labels = _LabelValues()


def metric_request_model(model: str) -> str:
    """``gen_ai.request.model`` as a metric label: the model, or OTHER_LABEL past the cap."""
    return _request_model_labels.bounded(model)


def metric_response_model(model: str) -> str:
    """``gen_ai.response.model`` as a metric label: the model, or OTHER_LABEL past the cap."""
    return _response_model_labels.bounded(model)

# user.id on agentmon.cost only when AGENTMON_METRICS_USER_ID asks for it, and then capped
# higher (a team has more users than departments), with the same overflow value.
MAX_USER_LABEL_VALUES = 1000
_user_labels = _LabelValues(MAX_USER_LABEL_VALUES)
_user_label_enabled: bool | None = None


def set_metrics_user_id(enabled: bool | None) -> None:
    """Turn user.id on agentmon.cost on or off; None reads AGENTMON_METRICS_USER_ID again."""
    global _user_label_enabled
    _user_label_enabled = enabled


def _metrics_user_id_enabled() -> bool:
    global _user_label_enabled
    if _user_label_enabled is None:
        from otel_agentmon._settings import metrics_user_id_from_env

        try:
            _user_label_enabled = metrics_user_id_from_env()
        except Exception:  # a bad value is reported at start by the configurator
            _user_label_enabled = False
    return _user_label_enabled


def metric_user_label() -> dict[str, str] | None:
    """``{"user.id": ...}`` for agentmon.cost when enabled and a user is set; else None."""
    if not _metrics_user_id_enabled():
        return None
    try:
        entries = baggage.get_all()
        user = _valid(entries, _USER) if entries else None
    except Exception:
        return None
    return None if user is None else {_USER: _user_labels.bounded(user)}


_last_resource: tuple[Any, str | None] = (None, None)


def _service_name(resource: Any) -> str | None:
    global _last_resource
    last, name = _last_resource  # one provider, one resource: look it up once
    if resource is not last:
        value = resource.attributes.get(_SERVICE_NAME)
        name = value if isinstance(value, str) and value else None
        _last_resource = (resource, name)
    return name


def metric_attribution(resource: Any = None) -> dict[str, str]:
    """``agentmon.department`` / ``agentmon.application`` metric labels for the current context.

    No ``user.id``: one series per user would grow without bound. The application defaults to
    ``service.name`` of ``resource``, as on spans. One context read; never raises.
    """
    labels: dict[str, str] = {}
    try:
        entries = baggage.get_all()
        application = None
        if entries:
            department = _valid(entries, _DEPARTMENT)
            if department is not None:
                labels[_DEPARTMENT] = _department_labels.bounded(department)
            application = _valid(entries, _APPLICATION)
        if application is None and resource is not None:
            application = _service_name(resource)
        if application is not None:
            labels[_APPLICATION] = _application_labels.bounded(application)
    except Exception:
        pass
    return labels


class _AttributionScope:
    """What ``attribution(...)`` returns: a context manager that sets the given fields."""

    __slots__ = ("_entries",)

    def __init__(self, entries: tuple[tuple[str, str], ...]) -> None:
        self._entries = entries

    def __enter__(self) -> Attribution:
        ctx = otel_context.get_current()
        for key, value in self._entries:
            ctx = baggage.set_baggage(key, value, ctx)
        _scopes.push(self, otel_context.attach(ctx))
        return current_attribution(ctx)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        token = _scopes.pop(self)
        if token is not None:
            otel_context.detach(token)

    def __repr__(self) -> str:
        fields = ", ".join(f"{_FIELD_OF[key]}={value!r}" for key, value in self._entries)
        return f"attribution({fields})"


_FIELD_OF = {_USER: "user_id", _DEPARTMENT: "department", _APPLICATION: "application"}


def attribution(*, user_id: str | None = None, department: str | None = None,
                application: str | None = None) -> _AttributionScope:
    """Attribute every span started in the ``with`` block to a user, department and application.

    ``with otel_agentmon.attribution(user_id="u-42", department="support"):`` — the block's
    spans (and those of the processes it calls, through W3C Baggage) carry ``user.id``,
    ``agentmon.department`` and ``agentmon.application``. Nested blocks override only the
    fields they give; a field given as None is left as the enclosing block set it.

    Values are checked here, not inside the request: each must be a non-empty str of at most
    256 printable characters, else TypeError or ValueError naming the argument.
    """
    checked = (
        (_USER, check_optional_text(user_id, "attribution(): user_id")),
        (_DEPARTMENT, check_optional_text(department, "attribution(): department")),
        (_APPLICATION, check_optional_text(application, "attribution(): application")),
    )
    return _AttributionScope(tuple((key, value) for key, value in checked if value is not None))


class AttributionSpanProcessor(SpanProcessor):
    """Sets ``user.id``, ``agentmon.department`` and ``agentmon.application`` on every span as it
    starts, from the attribution in the span's parent context (Baggage), whichever
    instrumentation started the span. ``agentmon.application`` defaults to the resource's
    ``service.name``. Attributes the span already has are kept.

    Add it to a TracerProvider before the exporting processors, so that every processor after
    it sees the attributes: ``configure()`` and the ``agentmon`` configurator do.
    """

    def __init__(self) -> None:
        self._faulted = False
        # (Baggage values, resource, attributes) of the last span: spans come in runs from one
        # request, so most of them reuse the checked attributes of the span before
        self._last: tuple[Any, Any, dict[str, str]] = ((), None, {})

    @staticmethod
    def _attributes_for(values: tuple[Any, Any, Any], resource: Any) -> dict[str, str]:
        # Baggage can come from another process: a value that breaks our rules is dropped
        # here, never raised about (that would fail the request that carried it).
        user, department, application = values
        new: dict[str, str] = {}
        if user is not None and acceptable_text(user):
            new[_USER] = user
        if department is not None and acceptable_text(department):
            new[_DEPARTMENT] = department
        if application is None or not acceptable_text(application):
            application = _service_name(resource) if resource is not None else None
        if application is not None:
            new[_APPLICATION] = application
        return new

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            entries = baggage.get_all(parent_context)
            values = (entries.get(_USER), entries.get(_DEPARTMENT), entries.get(_APPLICATION)) if entries \
                else _NO_VALUES
            resource = span.resource
            last_values, last_resource, new = self._last
            if values != last_values or resource is not last_resource:
                new = self._attributes_for(values, resource)
                self._last = (values, resource, new)
            if not new:
                return
            existing = span.attributes
            # isdisjoint walks the span's few keys; `key in existing` would raise and catch a
            # KeyError inside the SDK's attribute mapping for every absent key (slow)
            if not new.keys().isdisjoint(existing):
                new = {key: value for key, value in new.items() if key not in existing}
            span.set_attributes(new)
        except Exception:
            if not self._faulted:  # never break span creation; say so once
                self._faulted = True
                _logger.warning("otel-agentmon: could not set attribution on a span", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


__all__ = ["Attribution", "AttributionSpanProcessor", "attribution", "current_attribution"]
