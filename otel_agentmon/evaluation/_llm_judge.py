"""An LLM-as-judge evaluator: another model rates each sampled answer from 1 to 5.

    from openai import OpenAI
    from otel_agentmon.evaluation import configure_evaluation, llm_judge

    configure_evaluation(["refusal", llm_judge(OpenAI(), "gpt-4o-mini", criteria="helpful and correct")])

The judge runs on the evaluation thread, with instrumentation suppressed: its own model calls
are not traced, priced, budgeted or evaluated. It sends the question, the system instructions
and the answer to the judge model, so use a judge you may send that content to.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from otel_agentmon.evaluation._heuristics import strip_fences
from otel_agentmon.evaluation._types import EvaluationInput, EvaluationResult, Evaluator

DEFAULT_CRITERIA = "Does the answer address the question correctly, completely and clearly?"
MAX_FIELD_CHARS = 8000

_SYSTEM = (
    "You are a strict evaluator of answers given by an AI assistant. Rate the answer against the "
    "criteria from 1 (very poor) to 5 (excellent). Reply with only a JSON object: "
    '{"score": <integer 1-5>, "reason": "<one short sentence>"}'
)

_BARE = re.compile(r"^\s*\**\s*([1-5](?:\.\d+)?)\s*(?:/\s*5)?\s*\**\s*\.?\s*$")
_SCORE_FIELD = re.compile(r"[\"']?(?:score|rating)[\"']?\s*[:=]\s*[\"']?([1-5](?:\.\d+)?)", re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + " [...]"


def judge_prompt(item: EvaluationInput, criteria: str) -> str:
    """The user message sent to the judge model."""
    parts = [f"Criteria: {criteria}"]
    if item.system_instructions:
        parts.append(f"System instructions given to the assistant:\n{_clip(item.system_instructions)}")
    parts.append(f"Question:\n{_clip(item.question)}")
    parts.append(f"Answer:\n{_clip(item.answer)}")
    return "\n\n".join(parts)


def parse_rating(text: object) -> tuple[float, str | None]:
    """(rating from 1 to 5, reason or None) from a judge's reply: a JSON object with ``score``
    (or ``rating``) and ``reason``, possibly in a code fence or amid prose; ``"score": 4``
    alone; or a bare number (``4``, ``4/5``). ValueError for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the judge returned no text")
    body = strip_fences(text.strip())
    rating: Any = None
    reason: Any = None
    match = _OBJECT.search(body)
    if match:
        try:
            parsed = json.loads(match.group(0))
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            rating = parsed.get("score", parsed.get("rating"))
            reason = parsed.get("reason", parsed.get("explanation"))
            if isinstance(rating, str):
                try:
                    rating = float(rating.strip())
                except ValueError:
                    rating = None
    if rating is None:
        found = _BARE.match(body) or _SCORE_FIELD.search(body)
        if found:
            rating = float(found.group(1))
    if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating):
        raise ValueError(f"no rating from 1 to 5 in the judge's reply {text[:200]!r}")
    if not 1 <= rating <= 5:
        raise ValueError(f"the judge's rating {rating!r} is outside 1 to 5")
    return float(rating), reason if isinstance(reason, str) and reason else None


def llm_judge(client: Any, model: str, *, name: str = "llm_judge", criteria: str = DEFAULT_CRITERIA,
              max_tokens: int = 200) -> Evaluator:
    """An evaluator that asks ``model`` through ``client`` (a synchronous openai SDK client,
    or anything with ``chat.completions.create``) to rate each answer from 1 to 5 against
    ``criteria``; the score is (rating - 1) / 4, labelled ``pass`` from 3 up, else ``fail``,
    with the judge's reason as explanation. A reply with no rating in it raises ValueError,
    which the evaluation thread counts as an error of ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError("llm_judge name must be a non-empty str")
    if not isinstance(model, str) or not model:
        raise ValueError("llm_judge model must be a non-empty str")
    completions = client.chat.completions

    def evaluate(item: EvaluationInput) -> EvaluationResult:
        completion = completions.create(
            model=model, temperature=0, max_tokens=max_tokens,
            messages=[{"role": "system", "content": _SYSTEM},
                      {"role": "user", "content": judge_prompt(item, criteria)}],
        )
        rating, reason = parse_rating(completion.choices[0].message.content)
        return EvaluationResult(name, (rating - 1.0) / 4.0, "pass" if rating >= 3 else "fail", reason)

    evaluate.__name__ = evaluate.__qualname__ = name
    return evaluate
