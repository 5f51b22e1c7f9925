"""The metric instruments every model call records."""

from __future__ import annotations

from opentelemetry.metrics import Meter, MeterProvider

from otel_agentmon._cardinality import capped_counter, capped_histogram
from otel_agentmon.semconv import metrics as m


class Instruments:
    """GenAI client histograms (with the conventions' bucket boundaries) and our counters, capped."""

    __slots__ = ("operation_duration", "token_usage", "time_to_first_chunk", "cost", "errors")

    def __init__(self, meter: Meter, meter_provider: MeterProvider | None = None) -> None:
        # meter_provider: the one meter came from (None: the global one), whose metrics share their caps
        self.operation_duration = capped_histogram(
            meter, m.CLIENT_OPERATION_DURATION, meter_provider, unit=m.UNIT_SECONDS, description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(m.DURATION_BUCKETS),
        )
        self.token_usage = capped_histogram(
            meter, m.CLIENT_TOKEN_USAGE, meter_provider, unit=m.UNIT_TOKENS, description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(m.TOKEN_USAGE_BUCKETS),
        )
        self.time_to_first_chunk = capped_histogram(
            meter, m.CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, meter_provider, unit=m.UNIT_SECONDS,
            description="Time from the request to the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=list(m.DURATION_BUCKETS),
        )
        self.cost = capped_counter(
            meter, m.COST, meter_provider, unit=m.UNIT_USD, description="Cost of model calls, priced locally (inference operations only).",
        )
        self.errors = capped_counter(
            meter, m.ERRORS, meter_provider, unit=m.UNIT_ERRORS, description="Failed GenAI operations by error category and severity.",
        )
