"""GenAI spans as a process without otel-agentmon's derivations sends them (another language's
SDK, say): the plain OpenTelemetry SDK exporting over OTLP, with no enrichment, so that cost,
error category and the quality sample must come from the collector.

Environment: COLLECTOR_OTLP (host:port), PROVIDER_OPENAI_URL, WORKLOAD_REQUESTS.
"""

from __future__ import annotations

import os

import openai
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import otel_agentmon
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor

provider = TracerProvider(resource=Resource.create({"service.name": "raw-agents"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["COLLECTOR_OTLP"], insecure=True)))
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)
client = openai.OpenAI(base_url=os.environ["PROVIDER_OPENAI_URL"], api_key="sk-test", max_retries=0, timeout=5)


@otel_agentmon.tool("lookup")
def lookup(index: int) -> str:
    if index % 4 == 3:
        raise ConnectionError("lookup backend down")
    return "found"


@otel_agentmon.agent("raw-planner")
def planner(index: int) -> None:
    try:
        lookup(index)
    except ConnectionError:
        pass
    fault = {"x-agentmon-fault": "rate_limit"} if index % 5 == 4 else {}
    try:
        client.chat.completions.create(
            model="gpt-4o-mini" if index % 2 else "gpt-4o", messages=[{"role": "user", "content": f"request {index}"}],
            extra_headers={"x-agentmon-reply": '{"input_tokens": 1200, "output_tokens": 300, "cached_tokens": 1000}',
                           **fault})
    except openai.RateLimitError:
        pass


for request in range(int(os.environ.get("WORKLOAD_REQUESTS", "20"))):
    planner(request)
provider.shutdown()
