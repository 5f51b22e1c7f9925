"""The wrapper around an SDK method: one Inference per call, streams proxied, and the host
application never affected (same results, same exceptions; our faults logged once)."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Protocol

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Tracer

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


_servers: "weakref.WeakKeyDictionary[Any, tuple[Any, str | None, int | None]]" = weakref.WeakKeyDictionary()


def server_of(resource: Any) -> tuple[str | None, int | None]:
    """(server.address, server.port) of an SDK resource's client, cached per client."""
    client = getattr(resource, "_client", None)
    # the SDKs keep the URL in _base_url; openai's public base_url property does more work
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    if base_url is None:
        return None, None
    try:
        cached = _servers.get(client)
    except TypeError:
        cached = None
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    host = getattr(base_url, "host", None) or None
    port = getattr(base_url, "port", None)
    if port is None:
        scheme = getattr(base_url, "scheme", "https")
        port = 443 if scheme == "https" else 80
    try:
        _servers[client] = (base_url, host, port)
    except TypeError:  # a client that cannot be weakly referenced: no cache
        pass
    return host, port


def _end(inference: Inference, spec: CallSpec, result: Any) -> None:
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
            result = wrapped(*args, **call_kwargs)
        except BaseException as exc:
            inference.deactivate()
            _fail(inference, spec, exc)
            raise
        inference.deactivate()
        if observer is not None:
            try:
                return SyncStream(result, inference, observer)
            except Exception:
                report_fault(f"{spec.name} (wrapping the stream)")
                _end(inference, spec, None)
                return result
        _end(inference, spec, result)
        return result

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
            result = await wrapped(*args, **call_kwargs)
        except BaseException as exc:
            inference.deactivate()
            _fail(inference, spec, exc)
            raise
        inference.deactivate()
        if observer is not None:
            try:
                return AsyncStream(result, inference, observer)
            except Exception:
                report_fault(f"{spec.name} (wrapping the stream)")
                _end(inference, spec, None)
                return result
        _end(inference, spec, result)
        return result

    return wrapper
