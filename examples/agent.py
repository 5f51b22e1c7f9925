"""A small trip-planning agent, written the way a team writes one: the openai SDK, a tool,
and OpenTelemetry API spans around the agent run. It contains no otel-agentmon code: run it
under ``opentelemetry-instrument`` and every span leaves enriched with cost, error category
and the quality-sample flag.

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=... opentelemetry-instrument python agent.py
"""

from __future__ import annotations

import json
import os

import anthropic
import openai
from opentelemetry import trace

tracer = trace.get_tracer("trip-planner")
client = openai.OpenAI(max_retries=0, timeout=10.0)
reviewer = anthropic.Anthropic(max_retries=0, timeout=10.0)
MODEL = os.environ.get("AGENT_MODEL", "gpt-4o-mini")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def get_weather(city: str) -> str:
    with tracer.start_as_current_span("execute_tool get_weather", attributes={
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
    }):
        return json.dumps({"city": city, "forecast": "sunny", "celsius": 24})


def plan_trip(question: str, *, reply_script: str | None = None) -> str:
    with tracer.start_as_current_span("invoke_agent trip-planner", attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "trip-planner",
    }):
        messages = [{"role": "user", "content": question}]
        # The local provider server answers with a scripted tool call; a real model decides.
        first = client.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER_TOOL],
            extra_headers={"x-agentmon-reply": reply_script} if reply_script else None,
        )
        message = first.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or []:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        answer = []
        stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                answer.append(chunk.choices[0].delta.content)
        client.embeddings.create(model="text-embedding-3-small", input="".join(answer))  # remember the trip
        with reviewer.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=[
            {"role": "user", "content": f"Check this travel advice: {''.join(answer)}"},
        ]) as review:
            review.until_done()
        return "".join(answer)


def main() -> None:
    tool_reply = json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}]})
    print("answer:", plan_trip("Should I pack sunglasses for Lisbon?", reply_script=tool_reply))
    # The provider is rate limiting: the failure is categorized, the app handles it as usual.
    try:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-agentmon-fault": "rate_limit"})
    except openai.RateLimitError as exc:
        print("rate limited:", exc.status_code)
    # A private fine-tune nobody has priced: reported as unpriced, never as $0.
    client.chat.completions.create(model="ft:gpt-4o-mini:acme:trips:9x1", messages=[{"role": "user", "content": "hi"}])


if __name__ == "__main__":
    main()
