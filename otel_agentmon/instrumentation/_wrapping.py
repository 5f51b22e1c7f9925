"""Applying and removing the wrappers (wrapt), tolerant of SDK versions that lack a method."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from opentelemetry.trace import Tracer
from wrapt import wrap_function_wrapper

from otel_agentmon.instrumentation._calls import CallSpec, async_wrapper, sync_wrapper

__all__ = ["Patch", "apply_patches", "async_wrapper", "remove_patches", "sync_wrapper"]
from otel_agentmon.instrumentation._telemetry import Instruments

_logger = logging.getLogger("otel_agentmon")


WrapperFactory = Callable[[CallSpec, Tracer, Instruments], Callable[..., Any]]


class Patch(NamedTuple):
    module: str
    attribute: str  # "Class.method"
    spec: str  # key of the CallSpec that records it
    factory: WrapperFactory = sync_wrapper  # sync_wrapper, async_wrapper or a special one


def apply_patches(patches: Iterable[Patch], specs: Mapping[str, CallSpec], tracer: Tracer,
                  instruments: Instruments) -> tuple[Patch, ...]:
    """Wrap each method that exists; the ones this SDK version lacks are skipped (logged at
    debug), so an older or newer SDK never stops the application from starting."""
    applied = []
    for patch in patches:
        wrapper = patch.factory(specs[patch.spec], tracer, instruments)
        wrapper._agentmon_wrapper = True  # marks ours in a chain of other instrumentors' wrappers
        try:
            wrap_function_wrapper(patch.module, patch.attribute, wrapper)
        except (ImportError, AttributeError) as exc:
            _logger.debug("otel-agentmon: %s.%s not instrumented: %s", patch.module, patch.attribute, exc)
            continue
        applied.append(patch)
    return tuple(applied)


def _is_ours(function: Any) -> bool:
    # FunctionWrapper, or the BoundFunctionWrapper another instrumentor's unwrap() may leave
    return bool(getattr(getattr(function, "_self_wrapper", None), "_agentmon_wrapper", False))


def _splice_out(owner: Any, method: str) -> None:
    """Remove our wrapper wherever it sits in the chain, leaving other instrumentors' wrappers
    (applied before or after ours) in place."""
    top = owner.__dict__.get(method)
    if _is_ours(top):
        setattr(owner, method, top.__wrapped__)
        return
    parent = top
    while hasattr(parent, "_self_wrapper"):
        child = parent.__wrapped__
        if _is_ours(child):
            parent.__wrapped__ = child.__wrapped__
            return
        parent = child


def remove_patches(patches: Iterable[Patch]) -> None:
    for patch in patches:
        owner_name, _, method = patch.attribute.rpartition(".")
        try:
            owner: Any = importlib.import_module(patch.module)
            for part in owner_name.split("."):
                owner = getattr(owner, part)
            _splice_out(owner, method)
        except (ImportError, AttributeError, TypeError):
            continue
