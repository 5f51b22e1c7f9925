"""Threshold events: an OpenTelemetry log record, a counter increment and a Python log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger
from opentelemetry.metrics import MeterProvider

from otel_agentmon._cardinality import capped_counter
from otel_agentmon.budgets._periods import format_usd
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import budgets as sb
from otel_agentmon.semconv import metrics as sm

_logger = logging.getLogger("otel_agentmon")

_SEVERITY = {
    am.BudgetLevel.WARNING: (SeverityNumber.WARN, "WARN", logging.WARNING),
    am.BudgetLevel.CRITICAL: (SeverityNumber.ERROR, "ERROR", logging.ERROR),
}


@dataclass(frozen=True)
class ThresholdEvent:
    """A budget reached a level in one period instance (``period_start`` e.g. "2026-11-03")."""

    scope: str
    owner: str
    period: str
    period_start: str
    level: str
    spent_usd: float
    limit_usd: float

    def message(self, enforce: bool) -> str:
        share = self.spent_usd / self.limit_usd
        text = (f"otel-agentmon: budget {self.level}: {self.scope} {self.owner!r} has spent "
                f"{format_usd(self.spent_usd)} of its {self.period} budget of {format_usd(self.limit_usd)} "
                f"({share:.0%}) for {self.period_start} (UTC)")
        if self.level == am.BudgetLevel.CRITICAL:
            text += ("; further model calls are refused until the period ends" if enforce
                     else "; observe mode: model calls continue")
        return text

    def attributes(self) -> dict[str, str | float]:
        return {
            am.BUDGET_SCOPE: self.scope,
            am.BUDGET_OWNER: self.owner,
            am.BUDGET_PERIOD: self.period,
            am.BUDGET_LEVEL: self.level,
            am.BUDGET_SPENT: self.spent_usd,
            am.BUDGET_LIMIT: self.limit_usd,
        }


class EventEmitter:
    """Emits threshold events through the given (or the global) logger and meter providers."""

    def __init__(self, enforce: bool, meter_provider: MeterProvider | None = None,
                 logger_provider: LoggerProvider | None = None) -> None:
        self._enforce = enforce
        self._logger_provider = logger_provider
        meter = metrics.get_meter(sb.INSTRUMENTATION_SCOPE, meter_provider=meter_provider)
        self._counter = capped_counter(
            meter, sm.BUDGET_EVENTS, meter_provider, unit=sm.UNIT_EVENTS,
            description="Budget threshold events (80% warning, 100% critical) by scope, period and level.",
        )

    def emit(self, event: ThresholdEvent) -> None:
        severity_number, severity_text, python_level = _SEVERITY[event.level]
        message = event.message(self._enforce)
        try:
            # Looked up per event (events are rare): the app may set its provider after we start.
            otel_logger = get_logger(sb.INSTRUMENTATION_SCOPE, logger_provider=self._logger_provider)
            otel_logger.emit(
                event_name=sb.THRESHOLD_EVENT, severity_number=severity_number, severity_text=severity_text,
                body=message, attributes=event.attributes(),
            )
            self._counter.add(1, {
                am.BUDGET_SCOPE: event.scope, am.BUDGET_PERIOD: event.period, am.BUDGET_LEVEL: event.level,
            })
        except Exception:
            _logger.debug("otel-agentmon: could not emit a budget event", exc_info=True)
        _logger.log(python_level, "%s", message)
