"""An agent fleet's traffic, run under ``opentelemetry-instrument`` for the monitoring tests.

Planner agents with tools, for several users, departments and applications, call models
through the real openai and anthropic SDKs (streamed and not) against the local provider
server; then a burst of rate-limited calls. Metrics leave through whatever OTEL_METRICS_EXPORTER
says (the tests use the Prometheus scrape endpoint). When the traffic is done the script
prints ``ready`` and keeps the process (and its scrape endpoint) alive until stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import time

import anthropic
import openai

import otel_agentmon

openai_client = openai.OpenAI(base_url=os.environ["PROVIDER_OPENAI_URL"], api_key="sk-test", max_retries=0, timeout=5)
anthropic_client = anthropic.Anthropic(base_url=os.environ["PROVIDER_ANTHROPIC_URL"], api_key="sk-ant-test",
                                       max_retries=0, timeout=5)
ROUNDS = int(os.environ.get("WORKLOAD_ROUNDS", "80"))
RATE_LIMITED = int(os.environ.get("WORKLOAD_RATE_LIMITED", "60"))

TEAMS = [
    ("alice@example.com", "research", "trip-planner"),
    ("bob@example.com", "support", "helpdesk"),
    ("carol@example.com", "support", "helpdesk"),
    ("dave@example.com", "finance", "reports"),
]


@otel_agentmon.tool("get_weather", description="Current weather for a city")
def get_weather(city: str) -> dict:
    return {"city": city, "forecast": "sunny", "celsius": 24}


@otel_agentmon.tool("book_hotel", description="Books a hotel room")
def book_hotel(city: str, night: int) -> str:
    if night % 5 == 0:  # the booking backend fails now and then
        raise RuntimeError("booking backend unavailable")
    return f"booked {city} night {night}"


@otel_agentmon.agent("planner", description="Plans trips")
def planner(question: str, round_number: int) -> str:
    weather = get_weather("Lisbon")
    try:
        book_hotel("Lisbon", round_number)
    except RuntimeError:
        pass
    reply = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You plan trips."},
                  {"role": "user", "content": f"{question} Weather: {json.dumps(weather)}"}],
    )
    stream = openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True,
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    return reply.choices[0].message.content + streamed


@otel_agentmon.agent("reviewer", description="Reviews plans")
def reviewer(plan: str) -> str:
    message = anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": f"Review this plan: {plan}"}],
    )
    return message.content[0].text


for round_number in range(ROUNDS):
    user, department, application = TEAMS[round_number % len(TEAMS)]
    with otel_agentmon.attribution(user_id=user, department=department, application=application):
        with otel_agentmon.workflow("trip-request"):
            plan = planner("Plan a weekend trip to Lisbon for two.", round_number)
            reviewer(plan)

# The incident: the provider rate-limits every call for several seconds (spread out, so that a
# scraper sees the error counters rise rather than appear at their final value).
with otel_agentmon.attribution(user_id="alice@example.com", department="research", application="trip-planner"):
    for _ in range(RATE_LIMITED):
        try:
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan a trip."}],
                extra_headers={"x-agentmon-fault": "rate_limit"},
            )
        except openai.RateLimitError:
            pass
        time.sleep(0.1)

print("ready", flush=True)
sys.stdin.read()  # keep serving metrics until the test closes stdin
