"""The wrapper around an SDK method: one Inference per call, streams proxied, and the host
application never affected (same results, same exceptions; our faults logged once)."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Protocol

import wrapt

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Tracer

from otel_agentmon.budgets import check_budget
from otel_agentmon.instrumentation._invocation import Inference
from otel_agentmon.instrumentation._peers import peer_active
from otel_agentmon.instrumentation._stream import AsyncStream, StreamObserver, SyncStream
from otel_agentmon.instrumentation._telemetry import Instruments

_logger = logging.getLogger("otel_agentmon")
_reported: set[str] = set()


def report_fault(where: str) -> None:
    """Log an instrumentation fault once per place, with its traceback; never raise."""
    if where not in _reported:
        _reported.add(where)
        _logger.warning("otel-agentmon: instrumentation fault in %s; the call proceeds untouched", where,
                        exc_info=True)


class CallSpec(Protocol):
    """What one SDK method needs: how to start its span and read its result."""

    name: str
    library: str

    def start(self, tracer: Tracer, instruments: Instruments, instance: Any,
              kwargs: dict[str, Any]) -> tuple[Inference, dict[str, Any], StreamObserver | None]:
        """Start the Inference; return the kwargs to call with and, for a stream, its observer."""

    def response_attributes(self, result: Any) -> dict[str, Any]:
        """Span attributes read from a non-streamed result."""


# base URL object -> (the object, host, port). Keyed by id() while holding the object itself,
# so an id is never reused while cached; bounded for apps that build a client per request.
_servers: dict[int, tuple[Any, str | None, int | None]] = {}
_MAX_SERVERS = 256


def server_of(resource: Any) -> tuple[str | None, int | None]:
    """(server.address, server.port) of an SDK resource's client, cached per base URL."""
    client = getattr(resource, "_client", None)
    # the SDKs keep the URL in _base_url; openai's public base_url property does more work
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    if base_url is None:
        return None, None
    cached = _servers.get(id(base_url))
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    host = getattr(base_url, "host", None) or None
    port = getattr(base_url, "port", None)
    if port is None:
        scheme = getattr(base_url, "scheme", "https")
        port = 443 if scheme == "https" else 80
    if len(_servers) >= _MAX_SERVERS:
        _servers.clear()
    _servers[id(base_url)] = (base_url, host, port)
    return host, port


def _end(inference: Inference, spec: CallSpec, result: Any) -> None:
    if inference.evaluation is not None:
        inference.evaluation.result = result  # read on the evaluation thread
    try:
        inference.end(spec.response_attributes(result))
    except Exception:
        report_fault(f"{spec.name} (reading the response)")
        try:
            inference.end()
        except Exception:
            pass


def _fail(inference: Inference, spec: CallSpec, error: BaseException) -> None:
    try:
        inference.end(None, error)
    except Exception:
        report_fault(f"{spec.name} (recording the error)")


def _is_raw_response(result: Any) -> bool:
    """``with_raw_response`` results (LegacyAPIResponse): the reply is read by ``parse()``."""
    return hasattr(result, "http_response") and callable(getattr(result, "parse", None))


def _end_unread(inference: Inference) -> None:
    try:
        inference.end()
    except Exception:
        pass


class RawResponse(wrapt.ObjectProxy):
    """Proxy for a raw response (``client.....with_raw_response.create(...)``, which LangChain
    uses): the span is completed from what ``parse()`` returns (the SDK caches it, so the
    caller gets the very same object), or follows the stream ``parse()`` returns."""

    def __init__(self, wrapped: Any, inference: Inference, spec: CallSpec, observer: StreamObserver | None,
                 is_async: bool) -> None:
        super().__init__(wrapped)
        self._self_call = (inference, spec, observer, is_async)
        self._self_result: Any = None
        self._self_read = False
        weakref.finalize(self, _end_unread, inference)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_read:
            return self._self_result if self._self_result is not None else parsed
        self._self_read = True
        inference, spec, observer, is_async = self._self_call
        if observer is None:
            _end(inference, spec, parsed)
            return parsed
        try:
            self._self_result = (AsyncStream if is_async else SyncStream)(parsed, inference, observer)
        except Exception:
            report_fault(f"{spec.name} (wrapping the raw response's stream)")
            _end(inference, spec, None)
            return parsed
        return self._self_result


def _outcome(result: Any, inference: Inference, spec: CallSpec, observer: StreamObserver | None,
             is_async: bool) -> Any:
    """What the caller gets back: the result itself, or a proxy that completes the span."""
    if _is_raw_response(result):
        try:
            return RawResponse(result, inference, spec, observer, is_async)
        except Exception:
            report_fault(f"{spec.name} (wrapping the raw response)")
            _end(inference, spec, None)
            return result
    if observer is not None:
        try:
            return (AsyncStream if is_async else SyncStream)(result, inference, observer)
        except Exception:
            report_fault(f"{spec.name} (wrapping the stream)")
            _end(inference, spec, None)
            return result
    _end(inference, spec, result)
    return result


def sync_wrapper(spec: CallSpec, tracer: Tracer, instruments: Instruments) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if not is_instrumentation_enabled() or peer_active(spec.library):
            return wrapped(*args, **kwargs)
        try:
            inference, call_kwargs, observer = spec.start(tracer, instruments, instance, kwargs)
        except Exception:
            report_fault(f"{spec.name} (starting the span)")
            return wrapped(*args, **kwargs)
        inference.activate()
        try:
            if inference.who is not None:
                check_budget(inference.who)  # enforce mode: BudgetExceededError, before any token is spent
            result = wrapped(*args, **call_kwargs)
        except BaseException as exc:
            inference.deactivate()
            _fail(inference, spec, exc)
            raise
        inference.deactivate()
        return _outcome(result, inference, spec, observer, is_async=False)

    return wrapper


def async_wrapper(spec: CallSpec, tracer: Tracer, instruments: Instruments) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if not is_instrumentation_enabled() or peer_active(spec.library):
            return await wrapped(*args, **kwargs)
        try:
            inference, call_kwargs, observer = spec.start(tracer, instruments, instance, kwargs)
        except Exception:
            report_fault(f"{spec.name} (starting the span)")
            return await wrapped(*args, **kwargs)
        inference.activate()
        try:
            if inference.who is not None:
                check_budget(inference.who)  # enforce mode: BudgetExceededError, before any token is spent
            result = await wrapped(*args, **call_kwargs)
        except BaseException as exc:
            inference.deactivate()
            _fail(inference, spec, exc)
            raise
        inference.deactivate()
        return _outcome(result, inference, spec, observer, is_async=True)

    return wrapper
