"""Process A of the feedback test, run under ``opentelemetry-instrument``: an agent answers a
user with the real openai SDK and hands out, with the answer, the response id and the
traceparent of the model call (what a web app would send to its frontend). Prints them as JSON.
"""

from __future__ import annotations

import json
import os

import openai

import otel_agentmon

client = openai.OpenAI(base_url=os.environ["PROVIDER_BASE_URL"], api_key="sk-test", max_retries=0, timeout=5)


@otel_agentmon.agent("trip-planner")
def answer(question: str) -> dict:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return {"answer": reply.choices[0].message.content, "response_id": reply.id,
            "traceparent": otel_agentmon.feedback_context(reply.id)}


with otel_agentmon.attribution(user_id="u-42"):
    print(json.dumps(answer("Which city should I visit in Portugal?")))
