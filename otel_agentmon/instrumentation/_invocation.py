"""One model call: its span, its timing and its metrics, ended exactly once."""

from __future__ import annotations

import time
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from otel_agentmon._attribution import (Attribution, current_attribution, metric_attribution, metric_request_model,
                                        metric_response_model, metric_user_label)
from otel_agentmon.budgets import tracking as budgets_tracking
from otel_agentmon.instrumentation._errors import error_type, exception_type_name
from otel_agentmon.instrumentation._recorder import RECORDER, CallFigures
from otel_agentmon.instrumentation._telemetry import Instruments
from otel_agentmon.semconv import gen_ai as ga

_MAX_STATUS_DESCRIPTION = 1024

_OPERATION = ga.OPERATION_NAME
_PROVIDER = ga.PROVIDER_NAME
_REQUEST_MODEL = ga.REQUEST_MODEL
_RESPONSE_MODEL = ga.RESPONSE_MODEL
_SERVER_ADDRESS = ga.SERVER_ADDRESS
_SERVER_PORT = ga.SERVER_PORT
_ERROR_TYPE = ga.ERROR_TYPE
_TTFC = ga.RESPONSE_TIME_TO_FIRST_CHUNK


class Inference:
    """Starts the span with operation, provider, model and server set (samplers see them),
    records the outcome, and ends the span and records metrics once, however the call ends."""

    __slots__ = ("span", "attributes", "_metric_attributes", "_instruments", "_started", "_first_chunk",
                 "_ended", "_token", "_pending", "who", "_cost_user", "evaluation")

    def __init__(
        self,
        tracer: Tracer,
        instruments: Instruments,
        operation: str,
        provider: str,
        model: str | None,
        server_address: str | None,
        server_port: int | None,
        request_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        attributes: dict[str, Any] = {_OPERATION: operation, _PROVIDER: provider}
        if model:
            attributes[_REQUEST_MODEL] = model
        if server_address:
            attributes[_SERVER_ADDRESS] = server_address
            if server_port:
                attributes[_SERVER_PORT] = server_port
        self._metric_attributes = dict(attributes)
        if model:  # spans keep the real name; metrics cap the distinct names, as departments
            self._metric_attributes[_REQUEST_MODEL] = metric_request_model(model)
        if request_attributes:
            attributes.update(request_attributes)
        self.attributes = attributes
        self._instruments = instruments
        self._first_chunk: float | None = None
        self._ended = False
        self._token: object | None = None
        self._pending: dict[str, Any] | None = None
        # a Capture (otel_agentmon.evaluation) when this call is to be evaluated: set by the
        # call spec right after start, for calls of quality-sampled traces only
        self.evaluation: Any = None
        self.span = tracer.start_span(f"{operation} {model}" if model else operation, kind=SpanKind.CLIENT,
                                      attributes=attributes)
        # cost (and the other call metrics) by department and application, read from the
        # context once, here, while the caller's attribution is current; never by user
        self._metric_attributes.update(metric_attribution(getattr(self.span, "resource", None)))
        self._cost_user = metric_user_label()  # user.id on agentmon.cost, only when asked for
        # whose budget the call spends from; read only when budgets are configured
        self.who: Attribution | None = current_attribution() if budgets_tracking() else None
        self._started = time.perf_counter()

    # -- the wrapped call runs with the model span current, so HTTP client spans nest under it
    def activate(self) -> None:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def deactivate(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)

    def first_chunk(self) -> None:
        if self._first_chunk is None:
            self._first_chunk = time.perf_counter()

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Response attributes known before the end (a stream's id and model)."""
        if self._pending is None:
            self._pending = {}
        self._pending.update(attributes)

    def end(self, response_attributes: Mapping[str, Any] | None = None, error: BaseException | None = None) -> None:
        """Record the outcome and end the span; later calls do nothing.

        Cost, error category and quality sample are not computed here: the export path adds
        them to the span, and the metrics recorder prices the call off this thread.
        """
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._started
        span = self.span
        new: dict[str, Any] = self._pending if self._pending is not None else {}
        if response_attributes:
            new.update(response_attributes)
        time_to_first_chunk = None
        if self._first_chunk is not None:
            time_to_first_chunk = self._first_chunk - self._started
            new[_TTFC] = time_to_first_chunk
        metric_attributes = self._metric_attributes
        exceptions: tuple[tuple[str | None, str | None], ...] = ()
        if error is not None:
            kind = error_type(error)
            new[_ERROR_TYPE] = kind
            metric_attributes[_ERROR_TYPE] = kind
            message = str(error)
            exceptions = ((exception_type_name(error), message),)
            span.set_status(Status(StatusCode.ERROR, message[:_MAX_STATUS_DESCRIPTION]))
        if new:
            span.set_attributes(new)
        span.end()
        attributes = self.attributes
        attributes.update(new)
        response_model = attributes.get(_RESPONSE_MODEL)
        if response_model:
            metric_attributes[_RESPONSE_MODEL] = metric_response_model(response_model)
        evaluation = self.evaluation
        if evaluation is not None and error is None:
            evaluation.submit(span, attributes, metric_attributes)  # a put on the evaluation queue
        RECORDER.submit(CallFigures(self._instruments, duration, time_to_first_chunk, attributes, metric_attributes,
                                    exceptions, self.who, self._cost_user))
