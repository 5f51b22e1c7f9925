"""An Anthropic workload run under ``opentelemetry-instrument`` by the end-to-end tests; each
case runs under a parent span named ``case <name>``."""

from __future__ import annotations

import json
import os

import anthropic
from _cases import case, outcomes

FAULTS = ["rate_limit", "server_error", "service_unavailable", "overloaded", "auth", "context_length_exceeded",
          "bad_request", "content_filter", "timeout", "connection_reset"]

client = anthropic.Anthropic(base_url=os.environ["PROVIDER_ANTHROPIC_URL"], api_key="test-key", max_retries=0,
                             timeout=3.0)
messages = [{"role": "user", "content": "What is the capital of France?"}]


cached = json.dumps({"text": "Paris.", "input_tokens": 20, "output_tokens": 100, "cached_tokens": 3000,
                     "cache_write_tokens": 500})
case("messages", lambda: client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=messages,
                                                extra_headers={"x-agentmon-reply": cached}))
case("stream", lambda: client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=messages,
                                              stream=True))
for fault in FAULTS:
    header = f"{fault};delay=5" if fault == "timeout" else fault
    case(f"fault:{fault}", lambda h=header: client.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=messages, timeout=1.0,
        extra_headers={"x-agentmon-fault": h}))
print(json.dumps(outcomes))
