"""Wrapping the four kinds of function (sync, async, generator, async generator) in a run.

Each wrapper keeps its function's kind (``inspect.iscoroutinefunction`` and friends still say
the same, frameworks look), returns and raises exactly what the function does, and has the
run's span current only while the function's own code runs: for generators that is during
each step, not while the consumer holds an item.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, AsyncGenerator, Awaitable, Callable, Generator, TypeVar

from otel_agentmon._agent_run import NullRun, Run, RunSpec, begin

T = TypeVar("T")

_HAS_ASYNCIO_TIMEOUT = hasattr(asyncio, "timeout")  # Python 3.11+


def in_asyncio_task() -> bool:
    """True inside an asyncio task; False under another event loop (trio), where asyncio's
    cancellation cannot be used and deadlines are checked as the work ends instead."""
    try:
        return asyncio.current_task() is not None
    except RuntimeError:
        return False


def deadline_scope(run: Run | NullRun) -> Any:
    """An ``asyncio.timeout`` for the time the run has left, or None when none applies."""
    remaining = run.remaining()
    if remaining is None or not _HAS_ASYNCIO_TIMEOUT or not in_asyncio_task():
        return None
    return asyncio.timeout(max(remaining, 0.0))


async def await_with_deadline(run: Run | NullRun, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, cancelled at the run's deadline (then AgentTimeoutError)."""
    scope = deadline_scope(run)
    if scope is not None:
        try:
            async with scope:
                return await awaitable
        except TimeoutError as exc:
            if scope.expired():  # our deadline, not a TimeoutError of the agent's own
                raise run.timeout_error() from exc  # type: ignore[union-attr]
            raise
    if not _HAS_ASYNCIO_TIMEOUT and in_asyncio_task():
        remaining = run.remaining() or 0.0
        try:  # Python 3.10: wait_for runs the awaitable in a task of its own
            return await asyncio.wait_for(awaitable, max(remaining, 0.0))
        except asyncio.TimeoutError as exc:
            if run.late():
                raise run.timeout_error() from exc  # type: ignore[union-attr]
            raise
    result = await awaitable
    if run.late():  # no asyncio to cancel with: reported as the work ends, like sync code
        raise run.timeout_error()  # type: ignore[union-attr]
    return result


def function_kind(fn: Callable[..., Any]) -> str:
    """"asyncgen", "generator", "coroutine" or "function" (callable objects by their __call__)."""
    for candidate in (fn, getattr(fn, "__call__", None)):
        if candidate is None:
            continue
        if inspect.isasyncgenfunction(candidate):
            return "asyncgen"
        if inspect.isgeneratorfunction(candidate):
            return "generator"
        if inspect.iscoroutinefunction(candidate):
            return "coroutine"
    return "function"


def wrap(fn: Callable[..., Any], spec: RunSpec) -> Callable[..., Any]:
    kind = function_kind(fn)
    if kind == "coroutine":
        return _wrap_coroutine(fn, spec)
    if kind == "generator":
        return _wrap_generator(fn, spec)
    if kind == "asyncgen":
        return _wrap_async_generator(fn, spec)
    return _wrap_function(fn, spec)


def _wrap_function(fn: Callable[..., Any], spec: RunSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = begin(spec)
        token = run.attach()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            run.detach(token)
            run.end(exc)
            raise
        run.detach(token)
        if run.late():
            # A sync function cannot be interrupted: its late result is discarded so that the
            # caller handles an overrun the same way whether the agent is sync or async.
            error = run.timeout_error()  # type: ignore[union-attr]
            run.end(error)
            raise error
        run.end()
        return result

    return wrapper


def _wrap_coroutine(fn: Callable[..., Any], spec: RunSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = begin(spec)
        token = run.attach()
        try:
            if run.deadline is None:
                result = await fn(*args, **kwargs)
            else:
                result = await await_with_deadline(run, fn(*args, **kwargs))
        except BaseException as exc:
            run.detach(token)
            run.end(exc)
            raise
        run.detach(token)
        run.end()
        return result

    return wrapper


def _wrap_generator(fn: Callable[..., Any], spec: RunSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        # This body (and so the span) starts at the first next(), like the function's own.
        run = begin(spec)
        token = run.attach()
        try:
            inner = fn(*args, **kwargs)
        except BaseException as exc:
            run.detach(token)
            run.end(exc)
            raise
        run.detach(token)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = run.attach()
                try:
                    item = inner.send(sent) if thrown is None else inner.throw(thrown)
                except StopIteration as stop:
                    result = stop.value
                    break
                finally:
                    run.detach(token)
                    thrown = None
                if run.late():
                    _close(run, inner)
                    raise run.timeout_error()  # type: ignore[union-attr]
                try:
                    sent = yield item
                except GeneratorExit:  # closed early or garbage-collected: close the function too
                    _close(run, inner)
                    raise
                except BaseException as exc:  # thrown in by the consumer: hand it to the function
                    thrown, sent = exc, None
            if run.late():
                raise run.timeout_error()  # type: ignore[union-attr]
        except BaseException as exc:
            run.end(exc)
            raise
        run.end()
        return result

    return wrapper


def _close(run: Run | NullRun, inner: Generator[Any, Any, Any]) -> None:
    token = run.attach()
    try:
        inner.close()
    finally:
        run.detach(token)


def _wrap_async_generator(fn: Callable[..., Any], spec: RunSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        run = begin(spec)
        token = run.attach()
        try:
            inner = fn(*args, **kwargs)
        except BaseException as exc:
            run.detach(token)
            run.end(exc)
            raise
        run.detach(token)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                # The deadline counts from the first step, across the whole iteration; each
                # step is cancelled when it runs into it.
                if run.late():
                    await _aclose(run, inner)
                    raise run.timeout_error()  # type: ignore[union-attr]
                token = run.attach()
                try:
                    step = inner.asend(sent) if thrown is None else inner.athrow(thrown)
                    item = await step if run.deadline is None else await await_with_deadline(run, step)
                except StopAsyncIteration:
                    break
                finally:
                    run.detach(token)
                    thrown = None
                try:
                    sent = yield item
                except GeneratorExit:  # aclose(), or finalized by the event loop
                    await _aclose(run, inner)
                    raise
                except BaseException as exc:
                    thrown, sent = exc, None
        except BaseException as exc:
            run.end(exc)
            raise
        run.end()

    return wrapper


async def _aclose(run: Run | NullRun, inner: AsyncGenerator[Any, Any]) -> None:
    token = run.attach()
    try:
        await inner.aclose()
    finally:
        run.detach(token)
