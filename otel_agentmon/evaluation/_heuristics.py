"""The built-in evaluators: simple, explainable, deterministic text heuristics.

None of them calls a model, and each takes microseconds on a typical reply. They catch the
gross failures (an answer about something else, a looping or truncated reply, a refusal,
broken JSON) that are worth a dashboard and an alert; judging whether an answer is *right*
takes an LLM judge (see ``llm_judge``).

    relevance   share of the question's content words found in the answer
    coherence   1 minus penalties for repetition, symbol soup, truncation; 0 when empty
    refusal     0 when the reply refuses (common English phrasings, or a refusal finish reason)
    format      JSON that parses when JSON was asked for; else balanced code fences
"""

from __future__ import annotations

import json
import math
import re
from typing import Optional

from otel_agentmon.evaluation._types import EvaluationInput, EvaluationResult

RELEVANCE = "relevance"
COHERENCE = "coherence"
REFUSAL = "refusal"
FORMAT = "format"

# --- words ----------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")

# English function words, and the words every question is made of ("what", "explain").
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either else even ever
every few for from further get give given got had has have having he her here hers herself him
himself his how however i if in into is it its itself just let like may me might mine more most
much must my myself need no nor not now of off on once one only or other our ours ourselves out
over own please really same say shall she should show so some such tell than that the their
theirs them themselves then there these they this those through to too under until up upon us
use used using very via want was we well were what when where whether which while who whom
whose why will with within without would yes yet you your yours yourself yourselves
explain describe write list give provide know think
""".split())


def _stem(word: str) -> str:
    """A light suffix stemmer, enough to match word forms: plurals (-s, -es, -ies), then -ing,
    -ed, -ly, then a final -e ("bake", "baked", "baking" -> "bak")."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def content_terms(text: str) -> dict[str, str]:
    """The content words of ``text``: stem -> the first word with that stem (lower-cased),
    without stopwords and one-letter words."""
    terms: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        terms.setdefault(_stem(word), word)
    return terms


# --- relevance ------------------------------------------------------------------------------


def relevance(item: EvaluationInput) -> Optional[EvaluationResult]:
    """How much of the question the answer talks about.

    Coverage is the share of the question's content words (lower-cased, stopwords removed,
    plurals and -ing/-ed/-ly folded) that appear in the answer; the score is its square root,
    so answering part of the question already counts (1 of 4 words: 0.5, 0 of 4: 0). Label
    ``relevant`` at 0.5 and above, else ``off_topic``. Not applicable (no result) when the
    question has no content words. Lexical: an answer that is right without repeating any
    word of the question ("Paris." to "What is the capital of France?") scores low.
    """
    question = content_terms(item.question)
    if not question:
        return None
    found = question.keys() & content_terms(item.answer).keys()
    score = math.sqrt(len(found) / len(question))
    missing = sorted(word for stem, word in question.items() if stem not in found)
    explanation = f"{len(found)} of {len(question)} question terms in the answer"
    if missing:
        explanation += "; missing: " + ", ".join(missing[:10])
    return EvaluationResult(RELEVANCE, score, "relevant" if score >= 0.5 else "off_topic", explanation)


# --- coherence ------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TRUNCATED = frozenset({"length", "max_tokens", "max_output_tokens"})
_MIN_CHARS_FOR_LETTER_SHARE = 20
_MIN_LETTER_SHARE = 0.4
_LETTER_PENALTY = 0.6
_TRUNCATION_PENALTY = 0.3


def _repeated_share(items: list) -> float:
    """1 - distinct/total: 0 when nothing repeats, towards 1 when one thing repeats."""
    return 1.0 - len(set(items)) / len(items) if len(items) > 1 else 0.0


def coherence(item: EvaluationInput) -> EvaluationResult:
    """Whether the reply reads as text, rather than a loop, symbol soup or a cut-off.

    Starts from 1 and subtracts: the repetition (the larger of the share of repeated word
    trigrams and the share of repeated sentences); 0.6 when fewer than 40% of the visible
    characters are letters or digits (replies of 20 characters or more); 0.3 when the reply
    was cut at the token limit (finish reason ``length``). An empty reply scores 0. Label
    ``coherent`` at 0.5 and above, else ``incoherent``.
    """
    answer = item.answer.strip()
    if not answer:
        return EvaluationResult(COHERENCE, 0.0, "incoherent", "empty answer")
    reasons = []
    words = _WORD.findall(answer.lower())
    trigrams = list(zip(words, words[1:], words[2:]))
    sentences = [s.strip().lower() for s in _SENTENCE_END.split(answer) if s.strip()]
    repetition = max(_repeated_share(trigrams), _repeated_share(sentences))
    score = 1.0 - repetition
    if repetition >= 0.05:
        reasons.append(f"{repetition:.0%} repeated")
    visible = [c for c in answer if not c.isspace()]
    if len(visible) >= _MIN_CHARS_FOR_LETTER_SHARE:
        letters = sum(1 for c in visible if c.isalnum()) / len(visible)
        if letters < _MIN_LETTER_SHARE:
            score -= _LETTER_PENALTY
            reasons.append(f"only {letters:.0%} letters and digits")
    if any(reason in _TRUNCATED for reason in item.finish_reasons):
        score -= _TRUNCATION_PENALTY
        reasons.append("cut off at the token limit")
    score = min(1.0, max(0.0, score))
    return EvaluationResult(COHERENCE, score, "coherent" if score >= 0.5 else "incoherent",
                            "; ".join(reasons) if reasons else "no repetition, truncation or symbol soup")


# --- refusal --------------------------------------------------------------------------------

# How replies that decline usually open; searched in the first few hundred characters only,
# so a long answer that mentions "as an AI" in passing is not a refusal.
_REFUSAL = re.compile(
    r"\b(?:"
    r"(?:i(?: am|'m) )?sorry,? but i(?: am|'m)? (?:can(?:'t|not)|won't|will not|unable|not able)"
    r"|i(?: am|'m) afraid i (?:can(?:'t|not)|won't|will not)"
    r"|i (?:can(?:'t|not)|won't|will not) (?:help|assist|comply|provide|do that|fulfil|fulfill|answer|support|engage)"
    r"|i(?: am|'m) (?:unable|not able) to (?:help|assist|comply|provide|do that|fulfil|fulfill|answer)"
    r"|i must (?:decline|refuse)"
    r"|i (?:have to|need to) decline"
    r"|as an ai\b"
    r"|(?:this|that|your) request (?:goes against|violates)"
    r"|against my (?:guidelines|policies|programming)"
    r")",
)
_REFUSAL_WINDOW = 300
_REFUSAL_REASONS = frozenset({"content_filter", "refusal"})


def refusal(item: EvaluationInput) -> EvaluationResult:
    """0 (``refusal``) when the model declined, 1 (``answered``) otherwise.

    Declined: the finish reason is ``content_filter`` / ``refusal``, or the reply opens (first
    300 characters) with a common English refusal ("I can't help with", "I cannot assist",
    "I'm sorry, but I can't", "I'm unable to", "I must decline", "As an AI", ...).
    """
    for reason in item.finish_reasons:
        if reason in _REFUSAL_REASONS:
            return EvaluationResult(REFUSAL, 0.0, "refusal", f"finish reason {reason}")
    head = item.answer[:_REFUSAL_WINDOW].lower().replace("\u2019", "'")
    match = _REFUSAL.search(head)
    if match:
        return EvaluationResult(REFUSAL, 0.0, "refusal", f"refusal phrase: {match.group(0)!r}")
    return EvaluationResult(REFUSAL, 1.0, "answered", "no refusal")


# --- format ---------------------------------------------------------------------------------

_JSON_FORMATS = frozenset({"json_object", "json_schema"})
# "in JSON", "as JSON", "return JSON", "valid JSON", "JSON object", "JSON format", ...: JSON
# asked for, not just mentioned ("What is JSON?").
_ASKS_FOR_JSON = re.compile(
    r"\b(?:in|as|with|return|returns|output|respond|reply|answer|produce|emit|valid|only|strict|raw)"
    r"\s+(?:(?:a|an|the|valid|strict|only|raw|well-formed)\s+)?json\b"
    r"|\bjson\s+(?:format|formatted|object|objects|array|only|schema|output|response|reply)\b",
    re.IGNORECASE,
)
_FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
_FENCED = re.compile(r"^\s*```[\w+-]*[ \t]*\n(.*?)\n?[ \t]*```\s*$", re.DOTALL)


def wants_json(item: EvaluationInput) -> bool:
    """The request asked for JSON: a JSON response format, or the system instructions or the
    question ask for it ("reply in JSON", "return a JSON object", "valid JSON", ...)."""
    if item.response_format in _JSON_FORMATS:
        return True
    return bool(_ASKS_FOR_JSON.search(item.system_instructions or "") or _ASKS_FOR_JSON.search(item.question))


def strip_fences(text: str) -> str:
    """The body of a reply wrapped in one ``` code fence (```json ... ```), else the text."""
    match = _FENCED.match(text)
    return match.group(1) if match else text


def format_check(item: EvaluationInput) -> Optional[EvaluationResult]:
    """Whether the reply has the form asked for.

    When JSON was asked for (``wants_json``): 1 (``valid``) when the reply, without a
    surrounding code fence, parses as JSON, else 0 (``invalid``). Otherwise, when the reply
    has code fences: 1 when every fence is closed, else 0. Not applicable (no result) when
    there is nothing to check.
    """
    answer = item.answer
    if wants_json(item):
        try:
            json.loads(strip_fences(answer.strip()))
        except (ValueError, RecursionError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            return EvaluationResult(FORMAT, 0.0, "invalid", f"JSON expected; does not parse{where}")
        return EvaluationResult(FORMAT, 1.0, "valid", "JSON expected; parses")
    fences = len(_FENCE_LINE.findall(answer))
    if not fences:
        return None
    if fences % 2:
        plural = "s" if fences > 1 else ""
        return EvaluationResult(FORMAT, 0.0, "invalid", f"{fences} code fence{plural}: a code block is not closed")
    blocks = fences // 2
    return EvaluationResult(FORMAT, 1.0, "valid", f"{blocks} code block{'s' if blocks > 1 else ''}, all closed")


BUILTIN = {RELEVANCE: relevance, COHERENCE: coherence, REFUSAL: refusal, FORMAT: format_check}
