"""Stream proxies: the model span covers the whole stream and ends exactly once, whether the
caller exhausts the stream, breaks out, closes it, drops it (garbage collection) or the
stream fails midway. Everything else is the wrapped stream's own behaviour."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Protocol

import wrapt

from otel_agentmon.instrumentation._invocation import Inference

_logger = logging.getLogger("otel_agentmon")


class StreamObserver(Protocol):
    """Reads a stream's items as they pass, for the span's response attributes."""

    def observe(self, item: Any) -> bool:
        """Take note of an item; True hides it from the caller (a usage chunk only we asked for)."""

    def response_attributes(self) -> dict[str, Any]:
        """The response attributes gathered so far (usage, finish reasons, ids)."""

    def output_messages(self) -> list[dict[str, Any]] | None:
        """The reply in the GenAI message shape, when the observer collected it (content
        capture or quality evaluation), else None."""


class _StreamState:
    """What a finalizer may hold: never the proxy itself, or it would keep the proxy alive."""

    __slots__ = ("inference", "observer", "finished", "faulted", "holders", "__weakref__")

    def __init__(self, inference: Inference, observer: StreamObserver) -> None:
        self.inference = inference
        self.observer = observer
        self.finished = False
        self.faulted = False
        self.holders = 2  # the proxy and its item generator: the stream is abandoned when both are gone
        if inference.evaluation is not None:
            inference.evaluation.observer = observer  # its text is read once the stream is done

    def observe(self, item: Any) -> bool:
        if self.faulted:
            return False
        try:
            return self.observer.observe(item)
        except Exception:  # an instrumentation fault must not reach the caller
            self.faulted = True
            _logger.debug("otel-agentmon: could not read a stream item", exc_info=True)
            return False

    def finish(self, error: BaseException | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        if self.faulted:
            self.inference.evaluation = None  # what the observer gathered is incomplete
        try:
            attributes = {} if self.faulted else self.observer.response_attributes()
        except Exception:
            attributes = {}
        try:
            self.inference.end(attributes, error)
        except Exception:
            _logger.debug("otel-agentmon: could not end a stream span", exc_info=True)


def _finish_abandoned(state: _StreamState) -> None:
    # ``for chunk in client...create(stream=True)`` keeps only the item generator that
    # ``__iter__`` returned, and drops the proxy at once: the span ends when neither is left.
    state.holders -= 1
    if state.holders <= 0:
        state.finish()


def _watch(proxy: Any, items: Any, state: _StreamState) -> None:
    weakref.finalize(proxy, _finish_abandoned, state)
    weakref.finalize(items, _finish_abandoned, state)


class SyncStream(wrapt.ObjectProxy):
    """Proxy for a sync SDK stream (openai.Stream, anthropic.Stream).

    Items flow through one generator, so a ``for`` loop costs a generator resumption per item
    rather than a proxied method call; ``next(stream)`` uses the same generator.
    """

    def __init__(self, wrapped: Any, inference: Inference, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        state = _StreamState(inference, observer)
        self._self_state = state
        self._self_items = _sync_items(wrapped, state)
        _watch(self, self._self_items, state)

    def __iter__(self) -> Any:
        return self._self_items

    def __next__(self) -> Any:
        return next(self._self_items)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __enter__(self) -> "SyncStream":
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, traceback)
        finally:
            self._self_state.finish(exc)


def _sync_items(wrapped: Any, state: _StreamState) -> Any:
    observe = state.observe
    try:
        iterator = iter(wrapped)
        for item in iterator:
            state.inference.first_chunk()
            if not observe(item):
                yield item
            for item in iterator:  # after the first item: no first-chunk bookkeeping
                if not observe(item):
                    yield item
    except GeneratorExit:  # the caller closed the iteration or dropped the stream
        state.finish()
        raise
    except BaseException as exc:
        state.finish(exc)
        raise
    state.finish()


class AsyncStream(wrapt.ObjectProxy):
    """Proxy for an async SDK stream (openai.AsyncStream, anthropic.AsyncStream)."""

    def __init__(self, wrapped: Any, inference: Inference, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        state = _StreamState(inference, observer)
        self._self_state = state
        self._self_items = _async_items(wrapped, state)
        _watch(self, self._self_items, state)

    def __aiter__(self) -> Any:
        return self._self_items

    async def __anext__(self) -> Any:
        return await self._self_items.__anext__()

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_state.finish()

    async def __aenter__(self) -> "AsyncStream":
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, traceback)
        finally:
            self._self_state.finish(exc)


async def _async_items(wrapped: Any, state: _StreamState) -> Any:
    observe = state.observe
    first = True
    try:
        async for item in wrapped:
            if first:
                first = False
                state.inference.first_chunk()
            if not observe(item):
                yield item
    except GeneratorExit:
        state.finish()
        raise
    except BaseException as exc:
        state.finish(exc)
        raise
    state.finish()
