"""Options shared by the SDK instrumentors, from ``instrument(**kwargs)`` and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from opentelemetry import metrics, trace
from opentelemetry.trace import Tracer

from otel_agentmon import __version__
from otel_agentmon._settings import (
    AGENTMON_OPENAI_STREAM_USAGE,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
    ConfigurationError,
    parse_bool,
    parse_capture_content,
)
from otel_agentmon.instrumentation._telemetry import Instruments

_SCOPE = "otel_agentmon.instrumentation"


def _env_flag(name: str, default: bool, parse: Any) -> bool:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return parse(raw)
    except ConfigurationError:
        return default  # reported once at start by the configurator / check-config


@dataclass(frozen=True)
class InstrumentationOptions:
    tracer: Tracer
    instruments: Instruments
    capture_content: bool
    stream_usage: bool

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], scope: str = _SCOPE) -> "InstrumentationOptions":
        tracer = trace.get_tracer(scope, __version__, kwargs.get("tracer_provider"))
        meter_provider = kwargs.get("meter_provider")
        meter = metrics.get_meter(scope, __version__, meter_provider)
        capture = kwargs.get("capture_content")
        if capture is None:
            capture = _env_flag(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, False, parse_capture_content)
        stream_usage = kwargs.get("stream_usage")
        if stream_usage is None:
            stream_usage = _env_flag(AGENTMON_OPENAI_STREAM_USAGE, True,
                                     lambda raw: parse_bool(AGENTMON_OPENAI_STREAM_USAGE, raw))
        return cls(tracer, Instruments(meter, meter_provider), bool(capture), bool(stream_usage))
