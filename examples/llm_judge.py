"""Quality evaluation with an LLM judge, against the local provider server (no API key).

    python examples/llm_judge.py

Starts the local provider server, sets up otel-agentmon with in-memory exporters and a
sample rate of 1 (every trace is evaluated), registers the built-in heuristics and an LLM
judge, makes two model calls and prints the gen_ai.evaluation.result events, each tied to
the span of the call it evaluated, and the quality metrics.
"""

from __future__ import annotations

import json

import openai
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentmon
from otel_agentmon.evaluation import configure_evaluation, flush_evaluation, llm_judge
from otel_agentmon.instrumentation import flush_metrics
from otel_agentmon.instrumentation.openai import OpenAIInstrumentor
from otel_agentmon.provider_server import ProviderServer, Reply
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv import metrics as m

MODEL = "gpt-4o-mini"


def main() -> None:
    # Telemetry: spans and metrics in memory, and a LoggerProvider for the evaluation events.
    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    events = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(events))
    set_logger_provider(logger_provider)
    tracer_provider = otel_agentmon.configure(service_name="judge-example", span_exporters=[spans],
                                              metric_readers=[metrics], quality_sample_rate=1.0)
    OpenAIInstrumentor().instrument()

    with ProviderServer() as server:
        app = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-local", max_retries=0)
        # The judge is a model too. Its reply is scripted here with the server's reply header;
        # against a real provider, pass your own client (its calls are not traced or evaluated).
        verdict = {"score": 4, "reason": "Correct, but it could name the river."}
        judge = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-local", max_retries=0,
                              default_headers={"x-agentmon-reply": json.dumps({"text": json.dumps(verdict)})})
        configure_evaluation(["all", llm_judge(judge, MODEL, criteria="Is the answer correct and complete?")])

        server.enqueue(Reply(text="The capital of France is Paris."),
                       Reply(text="I'm sorry, but I can't help with that."))
        for question in ("What is the capital of France?", "How do I pick a lock?"):
            answer = app.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}])
            print(f"Q: {question}\nA: {answer.choices[0].message.content}\n")
        flush_evaluation(10)  # the evaluators run on a background thread

    tracer_provider.force_flush()
    names = {span.context.span_id: span.name for span in spans.get_finished_spans()}
    print("evaluation events (gen_ai.evaluation.result), each tied to the span it evaluated:")
    for readable in events.get_finished_logs():
        record = readable.log_record
        attributes = record.attributes
        print(f"  span {record.span_id:016x} ({names.get(record.span_id, '?')}): "
              f"{attributes[ga.EVALUATION_NAME]:10s} {attributes[ga.EVALUATION_SCORE_VALUE]:.2f} "
              f"{attributes.get(ga.EVALUATION_SCORE_LABEL, '')}")

    flush_metrics()
    print("\nagentmon.quality.score (mean per evaluation):")
    data = metrics.get_metrics_data()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == m.QUALITY_SCORE:
                    for point in metric.data.data_points:
                        mean = point.sum / point.count
                        print(f"  {point.attributes[ga.EVALUATION_NAME]:10s} {mean:.2f} over {point.count} calls")


if __name__ == "__main__":
    main()
