"""Per-entry state for context-manager objects that may be entered by many threads or tasks
at once.

``planner = agent("planner")`` at module level, then ``with planner:`` in every request: one
object, many concurrent entries. Keeping the entry's state (its span, its context token) on
the object would mix requests up; keeping it in a context variable gives each thread and each
asyncio task its own, and ``with`` always exits in the context it entered.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any


class _Frame:
    __slots__ = ("owner", "state", "parent", "token")

    def __init__(self, owner: object, state: Any, parent: "_Frame | None") -> None:
        self.owner = owner
        self.state = state
        self.parent = parent
        self.token: Token[_Frame | None] | None = None


_ACTIVE: ContextVar[_Frame | None] = ContextVar("otel_agentmon_active_scopes", default=None)


def push(owner: object, state: Any) -> None:
    """Remember ``state`` as ``owner``'s innermost entry in the current context."""
    frame = _Frame(owner, state, _ACTIVE.get())
    frame.token = _ACTIVE.set(frame)


def pop(owner: object) -> Any:
    """The state of ``owner``'s innermost entry, forgotten; None when it has none here."""
    top = _ACTIVE.get()
    frame = top
    while frame is not None and frame.owner is not owner:
        frame = frame.parent
    if frame is None:
        return None
    if frame is top and frame.token is not None:
        try:
            _ACTIVE.reset(frame.token)
            return frame.state
        except ValueError:  # exited in another context than it entered (an ExitStack moved across tasks)
            pass
    # Exited out of order: unlink it so that it is not found again, and leave the others be.
    frame.owner = None
    return frame.state
