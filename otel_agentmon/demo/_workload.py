"""The demo's agent fleet: what ``otel-agentmon demo`` runs under ``opentelemetry-instrument``.

A planner agent per request, for users of several departments and applications: it looks
things up with tools, drafts with one model and has a writer sub-agent stream the answer with
another, through the real openai and anthropic SDKs against the local provider server. Now and
then the provider rate-limits, times out, fails, or rejects a request, as real ones do. There
is no monitoring code here beyond naming agents, tools and whom the work is for: everything
else comes from ``opentelemetry-instrument``.

Settings come from the environment (the demo runner sets them): DEMO_OPENAI_URL,
DEMO_ANTHROPIC_URL, DEMO_RUNS, DEMO_USERS, DEMO_DURATION, DEMO_SEED, DEMO_CONCURRENCY.
Progress goes to stdout as ``progress <done> <total>`` lines.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anthropic
import openai

import otel_agentmon

DEPARTMENTS = ("support", "research", "sales", "finance")
APPLICATIONS = {
    # application: (planning model, writer model, typical prompt tokens, questions)
    "helpdesk": ("gpt-4o", "gpt-4o-mini", 300, (
        "How do I reset my password?", "Where can I download my invoice?", "Can I change my plan mid-month?")),
    "trip-planner": ("gpt-4o-mini", "claude-haiku-4-5", 900, (
        "Plan a weekend in Lisbon for two.", "Find a quiet hotel near the Berlin office.")),
    "research-assistant": ("claude-sonnet-4-5", "gpt-4o-mini", 14_000, (
        "Summarize the attached quarterly filings.", "Compare these three vendor contracts.")),
}
# Faults the provider injects, with their share of model calls.
FAULTS = (("rate_limit", 0.04), ("server_error", 0.01), ("timeout", 0.005), ("bad_request", 0.003))
# ...and each of them at least once, at these model calls, whatever the run's size.
FAULT_AT_CALL = {7: "bad_request", 13: "timeout", 21: "server_error", 29: "rate_limit"}
CLIENT_TIMEOUT = 1.0  # an injected timeout stalls longer than this


@dataclass(frozen=True)
class Person:
    user_id: str
    department: str
    application: str


def people(count: int, rng: random.Random) -> list[Person]:
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
             "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne")
    result = []
    for index in range(count):
        name = names[index % len(names)] + ("" if index < len(names) else str(index // len(names)))
        result.append(Person(f"{name}@example.com", DEPARTMENTS[index % len(DEPARTMENTS)],
                             tuple(APPLICATIONS)[index % len(APPLICATIONS)]))
    return result


class Fleet:
    def __init__(self, openai_url: str, anthropic_url: str, seed: int) -> None:
        self.openai = openai.OpenAI(base_url=openai_url, api_key="sk-demo", max_retries=0, timeout=CLIENT_TIMEOUT)
        self.anthropic = anthropic.Anthropic(base_url=anthropic_url, api_key="sk-ant-demo", max_retries=0,
                                             timeout=CLIENT_TIMEOUT)
        self._seed = seed
        self._local = threading.local()
        self._calls = itertools.count(1)

    @property
    def rng(self) -> random.Random:
        rng = getattr(self._local, "rng", None)
        if rng is None:
            rng = self._local.rng = random.Random(f"{self._seed}-{threading.get_ident()}")
        return rng

    def headers(self, prompt_tokens: int, output_tokens: int, latency: float) -> dict[str, str]:
        """The provider's behaviour for one call: its usage and latency, or a fault."""
        forced = FAULT_AT_CALL.get(next(self._calls))
        if forced:
            return {"x-agentmon-fault": "timeout;delay=2" if forced == "timeout" else forced}
        draw = self.rng.random()
        for fault, share in FAULTS:
            if draw < share:
                return {"x-agentmon-fault": "timeout;delay=2" if fault == "timeout" else fault}
            draw -= share
        rng = self.rng
        reply = {
            "input_tokens": max(1, int(rng.gauss(prompt_tokens, prompt_tokens * 0.2))),
            "output_tokens": max(1, int(rng.gauss(output_tokens, output_tokens * 0.3))),
            "delay": round(rng.lognormvariate(0, 0.5) * latency, 3),
        }
        return {"x-agentmon-reply": json.dumps(reply)}

    def chat(self, model: str, question: str, prompt_tokens: int, stream: bool) -> str:
        latency = 0.25 if model in ("gpt-4o", "claude-sonnet-4-5") else 0.08
        headers = self.headers(prompt_tokens, 180 if stream else 60, latency)
        messages = [{"role": "system", "content": "You are a helpful planning agent."},
                    {"role": "user", "content": question}]
        if model.startswith("claude"):
            if stream:
                with self.anthropic.messages.stream(model=model, max_tokens=400, messages=messages[1:],
                                                    system=messages[0]["content"], extra_headers=headers) as events:
                    return "".join(events.text_stream)
            message = self.anthropic.messages.create(model=model, max_tokens=400, messages=messages[1:],
                                                     system=messages[0]["content"], extra_headers=headers)
            return "".join(block.text for block in message.content if block.type == "text")
        if stream:
            chunks = self.openai.chat.completions.create(model=model, messages=messages, stream=True,
                                                         extra_headers=headers)
            return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        completion = self.openai.chat.completions.create(model=model, messages=messages, extra_headers=headers)
        return completion.choices[0].message.content or ""


def build_agents(fleet: Fleet):
    @otel_agentmon.tool("search_knowledge_base", description="Finds internal documents")
    def search_knowledge_base(query: str) -> list[str]:
        time.sleep(fleet.rng.uniform(0.005, 0.03))
        return [f"doc-{abs(hash(query)) % 1000}"]

    @otel_agentmon.tool("lookup_account", description="Reads the customer's account")
    def lookup_account(user_id: str) -> dict:
        time.sleep(fleet.rng.uniform(0.002, 0.01))
        if fleet.rng.random() < 0.05:  # the accounts service has a bad day now and then
            raise ConnectionError("accounts service unavailable")
        return {"user": user_id, "plan": "team"}

    @otel_agentmon.agent("writer", description="Writes the final answer")
    def writer(person: Person, question: str, notes: str) -> str:
        _, model, prompt_tokens, _ = APPLICATIONS[person.application]
        return fleet.chat(model, f"{question}\nNotes: {notes}", prompt_tokens // 2, stream=True)

    @otel_agentmon.agent("planner", description="Plans the work for a request", timeout=30)
    def planner(person: Person, question: str) -> str:
        model, _, prompt_tokens, _ = APPLICATIONS[person.application]
        documents = search_knowledge_base(question)
        try:
            account = lookup_account(person.user_id)
        except ConnectionError:
            account = {}
        plan = fleet.chat(model, f"{question}\nDocuments: {documents}\nAccount: {account}", prompt_tokens,
                          stream=False)
        return writer(person, question, plan)

    return planner


def run_one(fleet: Fleet, planner, person: Person, question: str) -> None:
    with otel_agentmon.attribution(user_id=person.user_id, department=person.department,
                                   application=person.application):
        try:
            planner(person, question)
        except (openai.APIError, anthropic.APIError, otel_agentmon.AgentTimeoutError):
            pass  # the application shows the user an error; the telemetry keeps the story


def main() -> int:
    runs = int(os.environ.get("DEMO_RUNS", "300"))
    users = int(os.environ.get("DEMO_USERS", "12"))
    duration = float(os.environ.get("DEMO_DURATION", "0"))
    seed = int(os.environ.get("DEMO_SEED", "7"))
    concurrency = int(os.environ.get("DEMO_CONCURRENCY", "8"))
    rng = random.Random(seed)
    fleet = Fleet(os.environ["DEMO_OPENAI_URL"], os.environ["DEMO_ANTHROPIC_URL"], seed)
    planner = build_agents(fleet)
    crowd = people(users, rng)
    done = 0
    lock = threading.Lock()

    def finished(_future: object) -> None:
        nonlocal done
        with lock:
            done += 1
            print(f"progress {done} {runs}", flush=True)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="request") as pool:
        for index in range(runs):
            if duration > 0:  # spread the requests over the duration asked for
                time.sleep(max(0.0, started + duration * index / runs - time.monotonic()))
            person = rng.choice(crowd)
            question = rng.choice(APPLICATIONS[person.application][3])
            pool.submit(run_one, fleet, planner, person, question).add_done_callback(finished)
    return 0


if __name__ == "__main__":
    sys.exit(main())
