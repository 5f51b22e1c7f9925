"""AGENTMON_EVALUATORS and AGENTMON_EVALUATION_QUEUE_SIZE, and the evaluators they name."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from otel_agentmon._settings import AGENTMON_EVALUATION_QUEUE_SIZE, AGENTMON_EVALUATORS, ConfigurationError
from otel_agentmon.evaluation._heuristics import BUILTIN
from otel_agentmon.evaluation._types import Evaluator

DEFAULT_QUEUE_SIZE = 1000
ALL = "all"

EvaluatorSpec = Union[str, Evaluator]


@dataclass(frozen=True)
class EvaluationSettings:
    """The evaluators to run, as (name, callable) pairs, and the queue size."""

    evaluators: tuple[tuple[str, Evaluator], ...]
    queue_size: int = DEFAULT_QUEUE_SIZE

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.evaluators)


def evaluator_name(evaluator: Callable[..., Any]) -> str:
    """The name a callable's bare scores are recorded under: its ``__name__``, else its type's."""
    name = getattr(evaluator, "__name__", None)
    return name if isinstance(name, str) and name else type(evaluator).__name__


def _import_callable(spec: str, source: str) -> Evaluator:
    module_name, _, attribute = spec.partition(":")
    module_name, attribute = module_name.strip(), attribute.strip()
    if not module_name or not attribute:
        raise ConfigurationError(f"{source}: {spec!r} is not module:callable")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigurationError(f"{source}: cannot import module {module_name!r} for {spec!r}: "
                                 f"{type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(f"{source}: module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise ConfigurationError(f"{source}: {spec!r} is a {type(target).__name__}, not a callable")
    return target


def resolve_evaluators(specs: Iterable[EvaluatorSpec], source: str) -> tuple[tuple[str, Evaluator], ...]:
    """(name, callable) for each built-in name, ``"all"``, ``module:callable`` or callable;
    ConfigurationError naming ``source`` for anything else. Duplicates are kept once."""
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Iterable):
        raise ConfigurationError(f"{source} must be a list of evaluator names or callables, not {type(specs).__name__}")
    resolved: dict[str, Evaluator] = {}

    def add(name: str, evaluator: Evaluator) -> None:
        if resolved.setdefault(name, evaluator) is not evaluator:
            raise ConfigurationError(f"{source}: two evaluators are named {name!r}; give each a distinct __name__")

    for spec in specs:
        if isinstance(spec, str):
            text = spec.strip()
            if text.lower() == ALL:
                for name, evaluator in BUILTIN.items():
                    add(name, evaluator)
            elif text.lower() in BUILTIN:
                add(text.lower(), BUILTIN[text.lower()])
            elif ":" in text:
                evaluator = _import_callable(text, source)
                add(evaluator_name(evaluator), evaluator)
            else:
                known = ", ".join([*BUILTIN, ALL])
                raise ConfigurationError(f"{source}: unknown evaluator {spec!r}; expected one of {known}, "
                                         "or module:callable for your own")
        elif callable(spec):
            builtin = next((name for name, function in BUILTIN.items() if function is spec), None)
            add(builtin or evaluator_name(spec), spec)
        else:
            raise ConfigurationError(f"{source}: {spec!r} is neither an evaluator name nor a callable")
    return tuple(resolved.items())


def parse_queue_size(value: object, source: str) -> int:
    """A positive integer (an int, or its decimal string)."""
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigurationError(f"{source}={value!r} is not an integer; expected a positive number "
                                     f"of calls such as {DEFAULT_QUEUE_SIZE}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ConfigurationError(f"{source}={value!r} is not an integer; expected a positive number of calls")
    if number <= 0:
        raise ConfigurationError(f"{source}={value!r} must be positive, such as {DEFAULT_QUEUE_SIZE}")
    return number


def evaluation_settings_from_env(environ: Mapping[str, str] | None = None) -> EvaluationSettings | None:
    """The evaluation settings of the environment; None when AGENTMON_EVALUATORS is unset or
    empty (evaluation off). Raises ConfigurationError naming the variable."""
    env = os.environ if environ is None else environ
    queue_size = DEFAULT_QUEUE_SIZE
    raw_size = env.get(AGENTMON_EVALUATION_QUEUE_SIZE, "")
    if raw_size.strip():
        queue_size = parse_queue_size(raw_size, AGENTMON_EVALUATION_QUEUE_SIZE)
    raw = env.get(AGENTMON_EVALUATORS, "")
    names: Sequence[str] = [part for part in (p.strip() for p in raw.split(",")) if part]
    if not names:
        return None
    return EvaluationSettings(resolve_evaluators(names, AGENTMON_EVALUATORS), queue_size)
