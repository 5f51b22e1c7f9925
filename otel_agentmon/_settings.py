"""otel-agentmon's own settings, read from the environment and validated at start."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from otel_agentmon import _cardinality
from otel_agentmon.processors import (
    DEFAULT_QUALITY_SAMPLE_RATE,
    CostCalculator,
    PricesFileError,
    SpanEnricher,
    load_prices_file,
)

if TYPE_CHECKING:
    from otel_agentmon.evaluation._settings import EvaluationSettings

AGENTMON_PRICES_FILE = "AGENTMON_PRICES_FILE"
AGENTMON_QUALITY_SAMPLE_RATE = "AGENTMON_QUALITY_SAMPLE_RATE"
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
AGENTMON_OPENAI_STREAM_USAGE = "AGENTMON_OPENAI_STREAM_USAGE"
AGENTMON_EVALUATORS = "AGENTMON_EVALUATORS"
AGENTMON_EVALUATION_QUEUE_SIZE = "AGENTMON_EVALUATION_QUEUE_SIZE"
AGENTMON_METRICS_USER_ID = "AGENTMON_METRICS_USER_ID"
AGENTMON_METRICS_CARDINALITY_LIMIT = _cardinality.AGENTMON_METRICS_CARDINALITY_LIMIT
AGENTMON_STORE_PATH = "AGENTMON_STORE_PATH"  # the embedded store's file (otel_agentmon.store)
AGENTMON_REDACT = "AGENTMON_REDACT"  # detectors in force for captured content
AGENTMON_REDACT_ALLOW = "AGENTMON_REDACT_ALLOW"  # values never redacted
AGENTMON_REDACT_DENY = "AGENTMON_REDACT_DENY"  # extra patterns always redacted
AGENTMON_CALL_LOGS = "AGENTMON_CALL_LOGS"  # one log record per model call, tool call and agent run
AGENTMON_CALL_LOG_FILE = "AGENTMON_CALL_LOG_FILE"  # their JSON-lines file when no OTLP endpoint is set
DEFAULT_CALL_LOG_FILE = "agentmon-calls.jsonl"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class ConfigurationError(ValueError):
    """Bad otel-agentmon configuration; the message names the variable or file and line."""


@dataclass(frozen=True)
class Settings:
    prices_file: str | None = None
    quality_sample_rate: float = DEFAULT_QUALITY_SAMPLE_RATE
    capture_message_content: bool = False
    evaluation: "EvaluationSettings | None" = None  # AGENTMON_EVALUATORS; None: evaluation off
    call_logs: bool = False  # AGENTMON_CALL_LOGS
    call_log_file: str = DEFAULT_CALL_LOG_FILE  # AGENTMON_CALL_LOG_FILE


def parse_sample_rate(value: object, source: str) -> float:
    """A sample rate in [0, 1]; ``source`` names where it came from for the error message."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise ConfigurationError(f"{source}={value!r} is not a number; expected a rate in [0, 1] such as 0.05") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ConfigurationError(f"{source}={value!r} is not a number; expected a rate in [0, 1] such as 0.05")
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ConfigurationError(f"{source}={value!r} is outside [0, 1]; expected a rate such as 0.05")
    return number


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}={value!r} is not a boolean; expected true or false")


# The official GenAI instrumentations also take capture modes; span content is what we write.
_CAPTURE_MODES = {"span_only": True, "span_and_event": True, "no_content": False, "event_only": False}


def parse_capture_content(value: str) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: a boolean or an official capture mode."""
    mode = _CAPTURE_MODES.get(value.strip().lower())
    if mode is not None:
        return mode
    try:
        return parse_bool(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, value)
    except ConfigurationError:
        raise ConfigurationError(
            f"{OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT}={value!r} is not a boolean or a capture mode "
            "(true, false, SPAN_ONLY, SPAN_AND_EVENT, NO_CONTENT, EVENT_ONLY)"
        ) from None


def metrics_user_id_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """AGENTMON_METRICS_USER_ID: user.id as a label of agentmon.cost (default false)."""
    env = os.environ if environ is None else environ
    value = env.get(AGENTMON_METRICS_USER_ID, "")
    return parse_bool(AGENTMON_METRICS_USER_ID, value) if value.strip() else False


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the AGENTMON_* variables (and content capture); raises ConfigurationError."""
    env = os.environ if environ is None else environ
    rate = DEFAULT_QUALITY_SAMPLE_RATE
    if env.get(AGENTMON_QUALITY_SAMPLE_RATE, "").strip():
        rate = parse_sample_rate(env[AGENTMON_QUALITY_SAMPLE_RATE], AGENTMON_QUALITY_SAMPLE_RATE)
    prices_file = env.get(AGENTMON_PRICES_FILE, "").strip() or None
    capture = parse_capture_content(env.get(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, ""))
    if env.get(AGENTMON_OPENAI_STREAM_USAGE, "").strip():
        parse_bool(AGENTMON_OPENAI_STREAM_USAGE, env[AGENTMON_OPENAI_STREAM_USAGE])
    metrics_user_id_from_env(env)
    try:
        _cardinality.cardinality_limit_from_env(env)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    call_logs = parse_bool(AGENTMON_CALL_LOGS, env[AGENTMON_CALL_LOGS]) if env.get(AGENTMON_CALL_LOGS, "").strip() else False
    call_log_file = env.get(AGENTMON_CALL_LOG_FILE, "").strip() or DEFAULT_CALL_LOG_FILE
    from otel_agentmon.instrumentation._redaction import parse_redaction

    parse_redaction(env)
    from otel_agentmon.evaluation._settings import evaluation_settings_from_env  # imports the evaluators named

    evaluation = evaluation_settings_from_env(env)
    return Settings(prices_file=prices_file, quality_sample_rate=rate, capture_message_content=capture,
                    evaluation=evaluation, call_logs=call_logs, call_log_file=call_log_file)


def build_enricher(settings: Settings) -> SpanEnricher:
    """The SpanEnricher for these settings; loads the prices file (errors name file and line)."""
    custom = ()
    if settings.prices_file is not None:
        try:
            custom = load_prices_file(settings.prices_file)
        except PricesFileError as exc:
            raise ConfigurationError(f"{AGENTMON_PRICES_FILE}: {exc}") from None
    return SpanEnricher(CostCalculator(custom), settings.quality_sample_rate)
