"""Quality evaluation of the model calls of sampled traces.

Off unless asked for: ``AGENTMON_EVALUATORS=relevance,coherence,refusal,format`` (or ``all``,
or your own as ``module:callable``), or from code::

    from otel_agentmon.evaluation import configure_evaluation

    configure_evaluation(["relevance", "refusal", my_evaluator])

Only inference calls (chat completions, responses, messages) made through otel-agentmon's
openai and anthropic instrumentors, and only those of quality-sampled traces
(``agentmon.quality.sampled``, AGENTMON_QUALITY_SAMPLE_RATE), are evaluated. Turning
evaluation on lets the evaluators read those calls' prompts and replies in memory; the
content leaves the process only when content capture is on too (the explanation of a result,
which may quote it, is exported only then).

The request thread only queues the call (a bounded queue, AGENTMON_EVALUATION_QUEUE_SIZE;
full: the call is not evaluated, ``agentmon.evaluation.dropped`` counts it). A background
thread runs the evaluators and emits, per result, a ``gen_ai.evaluation.result`` log record
tied to the call's span, a point of the ``agentmon.quality.score`` histogram, and a sample
for the ``agentmon.quality.drift`` gauge. An evaluator that raises or returns something other
than a score in [0, 1] is counted (``agentmon.evaluation.errors``) and logged, never raised.

An evaluator is any callable ``(EvaluationInput) -> EvaluationResult | float | None |
Iterable[EvaluationResult]``: a float is a score recorded under the callable's ``__name__``,
None means "does not apply to this call".
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping

from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider

from otel_agentmon._settings import AGENTMON_EVALUATION_QUEUE_SIZE, ConfigurationError
from otel_agentmon.evaluation._capture import EVALUATION
from otel_agentmon.evaluation._drift import DEFAULT_BASELINE_SIZE, DEFAULT_WINDOW
from otel_agentmon.evaluation._heuristics import coherence, format_check, refusal, relevance
from otel_agentmon.evaluation._llm_judge import llm_judge, parse_rating
from otel_agentmon.evaluation._settings import (
    DEFAULT_QUEUE_SIZE,
    EvaluationSettings,
    EvaluatorSpec,
    evaluation_settings_from_env,
    parse_queue_size,
    resolve_evaluators,
)
from otel_agentmon.evaluation._types import EvaluationInput, EvaluationResult, Evaluator
from otel_agentmon.evaluation._worker import EvaluationEngine

__all__ = [
    "EvaluationInput",
    "EvaluationResult",
    "Evaluator",
    "coherence",
    "configure_evaluation",
    "evaluation_enabled",
    "flush_evaluation",
    "format_check",
    "llm_judge",
    "parse_rating",
    "refusal",
    "relevance",
    "shutdown_evaluation",
]

# How long reconfiguring waits for the previous evaluation thread to finish the call in hand.
_RECONFIGURE_TIMEOUT_SECONDS = 1.0


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{what} must be a positive int, got {value!r}")
    return value


def _baselines(value: object) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"baseline must be a mapping of evaluation name to mean score, not "
                                 f"{type(value).__name__}")
    out = {}
    for name, mean in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"baseline: {name!r} is not an evaluation name")
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not 0.0 <= mean <= 1.0:
            raise ConfigurationError(f"baseline[{name!r}] must be a mean score in [0, 1], got {mean!r}")
        out[name] = float(mean)
    return out


def configure_evaluation(
    evaluators: Iterable[EvaluatorSpec] | None = None,
    *,
    queue_size: int | None = None,
    window: int = DEFAULT_WINDOW,
    baseline: Mapping[str, float] | None = None,
    baseline_size: int = DEFAULT_BASELINE_SIZE,
    meter_provider: MeterProvider | None = None,
    logger_provider: LoggerProvider | None = None,
) -> None:
    """Evaluate the model calls of sampled traces with ``evaluators`` from now on.

    ``evaluators``: built-in names (``"relevance"``, ``"coherence"``, ``"refusal"``,
    ``"format"``, ``"all"``), ``"module:callable"`` strings and callables; None reads
    AGENTMON_EVALUATORS; empty turns evaluation off. ``queue_size``: how many calls may wait
    (default AGENTMON_EVALUATION_QUEUE_SIZE, else 1000). Drift per evaluation name: the mean
    of the last ``window`` scores minus the baseline, which is the mean of the first
    ``baseline_size`` scores of the process unless ``baseline`` gives it (``{name: mean}``).
    Telemetry goes to the given providers, else the global ones. Bad values raise
    ConfigurationError naming the argument or the variable. A previous configuration is
    replaced (calls it still had queued are not evaluated).
    """
    window = _positive_int(window, "window")
    baseline_size = _positive_int(baseline_size, "baseline_size")
    baselines = _baselines(baseline)
    if evaluators is None:
        settings = evaluation_settings_from_env()
        if settings is not None and queue_size is not None:
            settings = EvaluationSettings(settings.evaluators, parse_queue_size(queue_size, "queue_size"))
    else:
        resolved = resolve_evaluators(evaluators, "evaluators")
        size = _env_queue_size() if queue_size is None else parse_queue_size(queue_size, "queue_size")
        settings = EvaluationSettings(resolved, size) if resolved else None
    engine = None
    if settings is not None:
        engine = EvaluationEngine(settings, window=window, baseline=baselines, baseline_size=baseline_size,
                                  meter_provider=meter_provider, logger_provider=logger_provider)
    previous = EVALUATION.install(engine)
    if previous is not None and previous is not engine:
        previous.close(_RECONFIGURE_TIMEOUT_SECONDS, drain=False)


def _env_queue_size() -> int:
    raw = os.environ.get(AGENTMON_EVALUATION_QUEUE_SIZE, "")
    return parse_queue_size(raw, AGENTMON_EVALUATION_QUEUE_SIZE) if raw.strip() else DEFAULT_QUEUE_SIZE


def start_from_settings(settings: EvaluationSettings | None) -> None:
    """Start evaluation with settings already read and validated (configure() and the
    agentmon configurator); None leaves evaluation as it is."""
    if settings is None:
        return
    engine = EvaluationEngine(settings)
    previous = EVALUATION.install(engine)
    if previous is not None:
        previous.close(_RECONFIGURE_TIMEOUT_SECONDS, drain=False)


def evaluation_enabled() -> bool:
    """Whether calls of sampled traces are being evaluated."""
    if EVALUATION.enabled and EVALUATION.engine is None:
        EVALUATION._from_env()
    return EVALUATION.engine is not None


def flush_evaluation(timeout: float | None = 5.0) -> bool:
    """Wait until every queued call is evaluated and its results emitted; False on timeout."""
    engine = EVALUATION.engine
    return True if engine is None else engine.flush(timeout)


def shutdown_evaluation(timeout: float | None = 5.0) -> bool:
    """Evaluate what is queued, stop the evaluation thread and turn evaluation off (until
    ``configure_evaluation`` is called again); False when ``timeout`` ran out first."""
    previous = EVALUATION.install(None)
    return True if previous is None else previous.close(timeout)
