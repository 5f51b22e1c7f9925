"""What an evaluator is given and what it returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from opentelemetry.trace import SpanContext

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class EvaluationInput:
    """One model call of a sampled trace, as the evaluators see it.

    ``question`` is the text of the last user message, ``answer`` the text of the reply (the
    first choice when several were asked for; for a stream, the whole streamed text), and
    ``system_instructions`` the system / developer text, or None. ``input_messages`` and
    ``output_messages`` hold the whole conversation in the GenAI conventions' message shape
    (``{"role", "parts": [{"type": "text", "content": ...}, ...]}``). ``response_format`` is
    what the request asked the reply to be: ``"json_object"``, ``"json_schema"``, ``"text"``
    or None when it did not say. ``attributes`` are the span's attributes as the call ended;
    ``span_context`` identifies the evaluated span.
    """

    question: str = ""
    answer: str = ""
    system_instructions: Optional[str] = None
    model: Optional[str] = None
    provider: Optional[str] = None
    operation: Optional[str] = None
    finish_reasons: tuple[str, ...] = ()
    response_format: Optional[str] = None
    input_messages: tuple[Mapping[str, Any], ...] = ()
    output_messages: tuple[Mapping[str, Any], ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    span_context: Optional[SpanContext] = None


@dataclass(frozen=True)
class EvaluationResult:
    """One evaluation: a score from 0 (bad) to 1 (good), an optional label (``"relevant"``)
    and an optional explanation. The explanation may quote the call's content, so it is
    exported only when message content capture is on."""

    name: str
    score: float
    label: Optional[str] = None
    explanation: Optional[str] = None


# An evaluator: any callable taking an EvaluationInput and returning a result, a bare score
# (recorded under the callable's __name__), several results, or None when it does not apply.
EvaluatorOutput = Union[EvaluationResult, float, int, None, Iterable[EvaluationResult]]
Evaluator = Callable[[EvaluationInput], EvaluatorOutput]


class InvalidResult(ValueError):
    """An evaluator returned something that is not a score."""


MAX_NAME_LENGTH = 256
MAX_LABEL_LENGTH = 256


def _check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise InvalidResult(f"{what} must be a non-empty printable str of at most {limit} characters, got {value!r:.80}")
    return str.__str__(value)


def _check_score(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidResult(f"score of {name!r} must be a number in [0, 1], got {type(value).__name__}")
    score = float(value)
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise InvalidResult(f"score of {name!r} must be in [0, 1], got {value!r}")
    return score


def normalize(default_name: str, outcome: object) -> list[EvaluationResult]:
    """The results an evaluator's return value stands for (empty for None); InvalidResult
    for anything that is not a score in [0, 1] with a proper name and label."""
    if outcome is None:
        return []
    if isinstance(outcome, EvaluationResult):
        items: list[object] = [outcome]
    elif isinstance(outcome, (int, float)) and not isinstance(outcome, bool):
        items = [EvaluationResult(default_name, outcome)]
    elif isinstance(outcome, (str, bytes, Mapping)) or not isinstance(outcome, Iterable):
        raise InvalidResult(f"expected an EvaluationResult, a score, None or results, got {type(outcome).__name__}")
    else:
        items = []
        for item in outcome:
            if len(items) >= 64:
                raise InvalidResult("more than 64 results from one evaluation")
            items.append(item)
    results = []
    for item in items:
        if not isinstance(item, EvaluationResult):
            raise InvalidResult(f"expected EvaluationResult items, got {type(item).__name__}")
        name = _check_text(item.name, "result name", MAX_NAME_LENGTH)
        score = _check_score(item.score, name)
        label = None if item.label is None else _check_text(item.label, f"label of {name!r}", MAX_LABEL_LENGTH)
        explanation = item.explanation
        if explanation is not None and not isinstance(explanation, str):
            raise InvalidResult(f"explanation of {name!r} must be a str or None, got {type(explanation).__name__}")
        if name != item.name or score != item.score or label != item.label:
            item = EvaluationResult(name, score, label, explanation)
        results.append(item)
    return results
