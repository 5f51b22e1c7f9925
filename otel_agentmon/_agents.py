"""``agent``, ``tool`` and ``workflow``: GenAI spans and duration metrics for hand-written agents.

Each returns an object that is a decorator (sync, async, generator and async-generator
functions) and a context manager (``with`` and ``async with``)::

    @otel_agentmon.tool("get_weather", description="Current weather for a city")
    def get_weather(city: str) -> str: ...

    @otel_agentmon.agent("trip-planner", timeout=60)
    async def plan(question: str) -> str: ...

    with otel_agentmon.workflow("nightly-triage"):
        ...

Spans follow the GenAI conventions (``invoke_agent {name}``, ``execute_tool {name}``,
``invoke_workflow {name}``, kind INTERNAL, their attributes set at start) and are current
while the work runs, so model calls and tools nest under them. Durations go to
``gen_ai.invoke_agent.duration``, ``gen_ai.execute_tool.duration`` and
``gen_ai.workflow.duration``, with ``error.type`` when the work raised.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Callable, TypeVar

from opentelemetry.trace import Span

from otel_agentmon import _scopes
from otel_agentmon._agent_run import AgentTimeoutError, RunSpec, begin
from otel_agentmon._agent_wrappers import deadline_scope, wrap
from otel_agentmon._validation import check_description, check_text, check_timeout
from otel_agentmon.semconv import gen_ai as ga

F = TypeVar("F", bound=Callable[..., Any])


class Operation:
    """An agent, tool or workflow: decorate functions with it, or run a block in it.

    One object may be used for any number of calls and ``with`` blocks, also at the same time
    from many threads and tasks: every call and every block is a run of its own.
    """

    __slots__ = ("_spec", "_call")

    def __init__(self, spec: RunSpec, call: str) -> None:
        self._spec = spec
        self._call = call  # how the user wrote it, for messages: agent('planner')

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return self._call

    # -- decorator ------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"{self._call} decorates a function; got {type(fn).__name__} {fn!r:.60}")
        return wrap(fn, self._spec)  # type: ignore[return-value]

    # -- with ---------------------------------------------------------------------------
    def __enter__(self) -> Span:
        run = begin(self._spec)
        _scopes.push(self, (run, run.attach(), None))
        return run.span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        state = _scopes.pop(self)
        if state is None:
            return
        run, token, _ = state
        run.detach(token)
        if exc is not None:
            run.end(exc)
            return
        if run.late():
            # the block could not be interrupted; its overrun is reported as it ends
            error = run.timeout_error()
            run.end(error)
            raise error
        run.end()

    # -- async with -----------------------------------------------------------------------
    async def __aenter__(self) -> Span:
        run = begin(self._spec)
        scope = deadline_scope(run)  # cancels the block at the deadline
        if scope is not None:
            await scope.__aenter__()
        _scopes.push(self, (run, run.attach(), scope))
        return run.span

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        state = _scopes.pop(self)
        if state is None:
            return
        run, token, scope = state
        run.detach(token)
        if scope is not None:
            try:
                await scope.__aexit__(exc_type, exc, traceback)  # turns our cancellation into TimeoutError
            except TimeoutError as timeout:
                if not scope.expired():
                    run.end(timeout)
                    raise
                error = run.timeout_error()
                run.end(error)
                raise error from timeout
        if exc is not None:
            run.end(exc)
            return
        if run.late():  # no asyncio.timeout (Python 3.10, other loops): reported as the block ends
            error = run.timeout_error()
            run.end(error)
            raise error
        run.end()


def _name(value: object, factory: str, noun: str) -> str:
    if callable(value):  # @agent without parentheses hands over the function
        raise TypeError(f"{factory}() takes the {noun}'s name first: write @otel_agentmon.{factory}(\"name\"), "
                        f"not @otel_agentmon.{factory}")
    return check_text(value, f"{factory}(): name")


def agent(name: str, *, description: str | None = None, timeout: float | None = None) -> Operation:
    """An agent: ``invoke_agent {name}`` spans and ``gen_ai.invoke_agent.duration``.

    ``timeout`` (seconds) bounds each run. An async agent (``async def``, async generator,
    ``async with``) is cancelled at the deadline and AgentTimeoutError raised in its place. A
    sync agent cannot be interrupted: when it returns after the deadline its result is
    discarded and AgentTimeoutError raised then (a generator is stopped at the first item
    produced after the deadline). Either way the span gets ``error.type`` AgentTimeoutError,
    categorized ``agent_timeout``. An exception the agent raises itself is passed on as it is.

    Bad arguments raise TypeError or ValueError here, naming the argument.
    """
    checked = _name(name, "agent", "agent")
    description = check_description(description, "agent(): description")
    seconds = check_timeout(timeout, "agent(): timeout")
    attributes: dict[str, Any] = {ga.OPERATION_NAME: ga.Operation.INVOKE_AGENT, ga.AGENT_NAME: checked}
    if description is not None:
        attributes[ga.AGENT_DESCRIPTION] = description
    spec = RunSpec(ga.Operation.INVOKE_AGENT, checked, attributes, {ga.AGENT_NAME: checked}, seconds)
    return Operation(spec, f"agent({checked!r})")


def tool(name: str, *, description: str | None = None) -> Operation:
    """A tool: ``execute_tool {name}`` spans (``gen_ai.tool.type`` "function") and
    ``gen_ai.execute_tool.duration``. An exception raised by the tool is passed on unchanged;
    its span is categorized ``tool_error``."""
    checked = _name(name, "tool", "tool")
    description = check_description(description, "tool(): description")
    attributes: dict[str, Any] = {
        ga.OPERATION_NAME: ga.Operation.EXECUTE_TOOL,
        ga.TOOL_NAME: checked,
        ga.TOOL_TYPE: ga.ToolType.FUNCTION,
    }
    if description is not None:
        attributes[ga.TOOL_DESCRIPTION] = description
    metric_attributes = {ga.TOOL_NAME: checked, ga.TOOL_TYPE: ga.ToolType.FUNCTION}
    return Operation(RunSpec(ga.Operation.EXECUTE_TOOL, checked, attributes, metric_attributes), f"tool({checked!r})")


def workflow(name: str) -> Operation:
    """A workflow (several agents and tools working together): ``invoke_workflow {name}`` spans
    and ``gen_ai.workflow.duration``."""
    checked = _name(name, "workflow", "workflow")
    attributes = {ga.OPERATION_NAME: ga.Operation.INVOKE_WORKFLOW, ga.WORKFLOW_NAME: checked}
    spec = RunSpec(ga.Operation.INVOKE_WORKFLOW, checked, attributes, {ga.WORKFLOW_NAME: checked})
    return Operation(spec, f"workflow({checked!r})")


__all__ = ["AgentTimeoutError", "Operation", "agent", "tool", "workflow"]
