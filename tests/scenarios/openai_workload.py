"""An agent workload run under ``opentelemetry-instrument`` by the end-to-end tests.

It uses only the public OpenTelemetry API and the real openai SDK, as an application would:
every case runs under a parent span named ``case <name>`` so tests can find its model span.
"""

from __future__ import annotations

import json
import os
import sys

import openai
from _cases import case, outcomes, tracer

FAULTS = [
    "rate_limit", "server_error", "service_unavailable", "overloaded", "auth", "context_length_exceeded",
    "bad_request", "content_filter", "timeout", "connection_reset", "malformed_sse",
]

client = openai.OpenAI(base_url=os.environ["PROVIDER_BASE_URL"], api_key="test-key", max_retries=0, timeout=3.0)


messages = [{"role": "user", "content": "What is the capital of France?"}]
usage_reply = json.dumps({"text": "Paris.", "input_tokens": 1200, "output_tokens": 300, "cached_tokens": 1000,
                          "reasoning_tokens": 100})
case("chat", lambda: client.chat.completions.create(
    model="gpt-4o-mini", messages=messages, extra_headers={"x-agentmon-reply": usage_reply}))
case("stream", lambda: client.chat.completions.create(
    model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}))
case("embeddings", lambda: client.embeddings.create(model="text-embedding-3-small", input="hello world"))
case("unpriced", lambda: client.chat.completions.create(model="acme-private-1", messages=messages))
for fault in FAULTS:
    header = f"{fault};delay=5" if fault == "timeout" else fault
    stream = fault == "malformed_sse"
    case(f"fault:{fault}", lambda h=header, s=stream: client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=s, timeout=1.0, extra_headers={"x-agentmon-fault": h}))

# Agent-shaped traces: a parent and two model calls each, for the quality-sample rule.
for index in range(int(os.environ.get("SCENARIO_TRACES", "20"))):
    with tracer.start_as_current_span(f"invoke_agent planner-{index}", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(2):
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)

print(json.dumps(outcomes))
sys.stdout.flush()
