"""Redaction of captured content: the labelled corpus, the allow / deny configuration, end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _instrumented import instrument, uninstrument
from otel_agentmon._settings import ConfigurationError, settings_from_env
from otel_agentmon.instrumentation._content import bounded_json
from otel_agentmon.instrumentation._redaction import (
    DETECTORS,
    REDACTED,
    RedactionPolicy,
    current_policy,
    parse_redaction,
    redact,
)
from otel_agentmon.semconv import gen_ai as ga

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_redaction import corpus_policy, load_corpus  # noqa: E402

CORPUS = load_corpus()
POLICY = corpus_policy(CORPUS)


def _id(sample: dict) -> str:
    return sample["text"][:40]


# --- the corpus ---------------------------------------------------------------------------


def test_corpus_covers_every_detector_and_is_large_enough():
    assert {s["detector"] for s in CORPUS["positives"]} == set(DETECTORS)
    assert len(CORPUS["positives"]) + len(CORPUS["negatives"]) >= 150
    assert all(s.get("reason") for s in CORPUS["known_misses"] + CORPUS["known_false_positives"])


@pytest.mark.parametrize("sample", CORPUS["positives"], ids=_id)
def test_every_labelled_secret_is_caught(sample):
    out = redact(sample["text"], POLICY)
    for secret in sample["secrets"]:
        assert secret not in out, out
    assert "[REDACTED" in out


@pytest.mark.parametrize("sample", CORPUS["negatives"], ids=_id)
def test_no_hard_negative_is_altered(sample):
    assert redact(sample["text"], POLICY) == sample["text"]


@pytest.mark.parametrize("sample", CORPUS["positives"], ids=_id)
def test_redaction_is_idempotent(sample):
    once = redact(sample["text"], POLICY)
    assert redact(once, POLICY) == once


def test_personal_data_marks_name_the_kind():
    out = redact("mail jane@example.org, call +44 20 7946 0958, card 4111 1111 1111 1111, SSN 219-09-9999")
    assert out == ("mail [REDACTED:email], call [REDACTED:phone], card [REDACTED:card], "
                   "SSN [REDACTED:national_id]")


# --- configuration ------------------------------------------------------------------------


def test_default_policy_runs_every_detector():
    assert parse_redaction({}) == RedactionPolicy()
    assert parse_redaction({"AGENTMON_REDACT": "all"}).detectors == frozenset(DETECTORS)


def test_detectors_turned_off_and_on():
    policy = parse_redaction({"AGENTMON_REDACT": "-email,-phone"})
    assert policy.detectors == frozenset(DETECTORS) - {"email", "phone"}
    text = "jane@example.org +44 20 7946 0958 4111 1111 1111 1111"
    assert redact(text, policy) == "jane@example.org +44 20 7946 0958 [REDACTED:card]"
    only_cards = parse_redaction({"AGENTMON_REDACT": "none, card"})
    assert only_cards.detectors == {"card"}
    assert redact("password=hunter2 4111111111111111", only_cards) == "password=hunter2 [REDACTED:card]"
    nothing = parse_redaction({"AGENTMON_REDACT": "none"})
    assert redact("password=hunter2 jane@example.org", nothing) == "password=hunter2 jane@example.org"


def test_allow_list_literals_and_patterns():
    policy = parse_redaction({"AGENTMON_REDACT_ALLOW": "support@acme.example, re:\\+1 800 \\d{3} \\d{4}"})
    text = "Mail support@acme.example or bob@acme.example, call +1 800 555 0199 or +1 415 555 2671"
    assert redact(text, policy) == (
        "Mail support@acme.example or [REDACTED:email], call +1 800 555 0199 or [REDACTED:phone]"
    )
    # literals compare case-insensitively; the allow list applies to credentials too
    policy = parse_redaction({"AGENTMON_REDACT_ALLOW": "SUPPORT@ACME.EXAMPLE,changeme"})
    assert redact("support@acme.example password=changeme", policy) == "support@acme.example password=changeme"
    assert redact("password=hunter2", policy) == f"password={REDACTED}"


def test_deny_list_always_redacts():
    policy = parse_redaction({"AGENTMON_REDACT_DENY": "TICKET-\\d{4,}, re:proj-[a-z]{3}\\d{1,3}", "AGENTMON_REDACT": "none"})
    assert redact("see TICKET-20931 and proj-abc12 today", policy) == (
        "see [REDACTED:custom] and [REDACTED:custom] today"
    )


def test_commas_inside_a_pattern_stay_in_it():
    policy = parse_redaction({"AGENTMON_REDACT_DENY": "ACME-\\d{3,5},X\\,Y"})
    assert [p.pattern for p in policy.deny] == ["ACME-\\d{3,5}", "X,Y"]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AGENTMON_REDACT_DENY", "TICKET-(\\d+", "TICKET-(\\d+"),
        ("AGENTMON_REDACT_ALLOW", "re:[a-z", "[a-z"),
        ("AGENTMON_REDACT_DENY", "x*", "x*"),
        ("AGENTMON_REDACT", "-emails", "-emails"),
    ],
)
def test_bad_configuration_is_reported_at_start(variable, value, named):
    with pytest.raises(ConfigurationError) as raised:
        settings_from_env({variable: value})
    assert variable in str(raised.value) and named in str(raised.value)


def test_environment_is_followed_and_a_bad_one_fails_closed(monkeypatch):
    monkeypatch.setenv("AGENTMON_REDACT", "-email")
    assert redact("jane@example.org") == "jane@example.org"
    monkeypatch.setenv("AGENTMON_REDACT", "-nonsense")
    assert current_policy() == RedactionPolicy()
    assert redact("jane@example.org") == "[REDACTED:email]"
    monkeypatch.delenv("AGENTMON_REDACT")
    monkeypatch.setenv("AGENTMON_REDACT_ALLOW", "jane@example.org")
    assert redact("jane@example.org") == "jane@example.org"


# --- tool arguments and results -----------------------------------------------------------


def test_tool_arguments_and_results_are_redacted():
    messages = [
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "refund",
                                         "arguments": {"email": "jane@example.org", "card": "4111 1111 1111 1111",
                                                       "note": "ssn 219-09-9999", "amount": 20}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "response": "refunded; receipt sent to jane@example.org, call +1 415 555 2671"}]},
    ]
    out = json.loads(bounded_json(messages))
    arguments = out[0]["parts"][0]["arguments"]
    assert arguments == {"email": "[REDACTED:email]", "card": "[REDACTED:card]",
                         "note": "ssn [REDACTED:national_id]", "amount": 20}
    assert out[1]["parts"][0]["response"] == "refunded; receipt sent to [REDACTED:email], call [REDACTED:phone]"


def test_plain_json_with_numbers_is_unchanged():
    value = [{"role": "user", "parts": [{"type": "text", "content": "order 48213 on 2024-03-02, total $1,234.56"}]}]
    assert json.loads(bounded_json(value)) == value


# --- end to end ---------------------------------------------------------------------------


def test_openai_call_exports_redacted_content(provider_server, client):
    telemetry = instrument(capture_content=True)
    try:
        api_key = "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
        message = (f"Refund jane.doe@example.com, card 4111 1111 1111 1111, "
                   f"and use key {api_key} for the billing API.")
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": message}],
                                       extra_headers={"x-agentmon-reply": json.dumps({"text": "Done."})})
        exported = telemetry.only_span().attributes[ga.INPUT_MESSAGES]
        for secret in ("jane.doe@example.com", "4111 1111 1111 1111", api_key):
            assert secret not in exported
        content = json.loads(exported)[0]["parts"][0]["content"]
        assert content == ("Refund [REDACTED:email], card [REDACTED:card], "
                           "and use key [REDACTED] for the billing API.")
    finally:
        uninstrument()
