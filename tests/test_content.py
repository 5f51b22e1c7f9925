"""Message content capture: converters to the GenAI message shape, redaction, bounded JSON."""

from __future__ import annotations

import json
import random

import pytest
from anthropic.types import Message, TextBlock, ToolUseBlock
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.responses import Response, ResponseFunctionToolCall

from otel_agentmon.instrumentation import _content as content
from otel_agentmon.instrumentation._content import (
    DEFAULT_MAX_BYTES,
    anthropic_input,
    anthropic_output,
    bounded_json,
    capture_enabled,
    content_attributes,
    openai_chat_input,
    openai_chat_output,
    openai_responses_input,
    openai_responses_output,
    redact,
)
from otel_agentmon.semconv import gen_ai

ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text(value: str) -> dict:
    return {"type": "text", "content": value}


# --- capture switch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["true", "TRUE", "True", "1", "yes", "on", " on ", "SPAN_ONLY", "span_and_event", "SPAN_AND_EVENT"],
)
def test_capture_enabled_on(value):
    assert capture_enabled({ENV: value}) is True


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "", "NO_CONTENT", "EVENT_ONLY", "maybe", "2"])
def test_capture_enabled_off(value):
    assert capture_enabled({ENV: value}) is False


def test_capture_is_off_by_default(monkeypatch):
    assert capture_enabled({}) is False
    monkeypatch.delenv(ENV, raising=False)
    assert capture_enabled() is False
    monkeypatch.setenv(ENV, "true")
    assert capture_enabled() is True


def test_capture_enabled_never_raises():
    class Broken(dict):
        def get(self, *args):
            raise RuntimeError("boom")

    assert capture_enabled(Broken()) is False
    assert capture_enabled({ENV: 1}) is False  # type: ignore[dict-item]


# --- redaction ----------------------------------------------------------------------------

SECRETS = {
    "openai": "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4",
    "openai project": "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90",
    "anthropic": "sk-ant-api03-" + "x9Y8z7W6v5U4t3S2r1Q0p9O8n7M6l5K4j3I2h1G0f9E8d7C6b5A4",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "aws temporary": "ASIAY34FZKBOKMUTVV7A",
    "github classic": "ghp_" + "16C7e42F292c6912E7710c838347Ae178B4a",
    "github fine-grained": "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGH",
    "google": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "slack": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_redacts_each_secret_kind(kind):
    secret = SECRETS[kind]
    out = redact(f"here it is: {secret} (do not share)")
    assert secret not in out
    assert out == "here it is: [REDACTED] (do not share)"


def test_redacts_bearer_keeping_the_word():
    assert redact("curl -H 'Bearer abc123def456ghi789'") == "curl -H 'Bearer [REDACTED]'"
    assert redact("bearer 0123456789abcdefABCDEF.xyz") == "bearer [REDACTED]"


def test_redacts_authorization_header_values():
    assert redact("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: [REDACTED]"
    assert redact("GET /\nauthorization: Token abc\nAccept: */*") == "GET /\nauthorization: [REDACTED]\nAccept: */*"
    assert redact("x-api-key: my-private-value") == "x-api-key: [REDACTED]"
    assert redact('{"Authorization": "Bearer zzzzzzzzz1"}') == '{"Authorization": "[REDACTED]"}'


def test_redacts_private_key_blocks():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nq2w3e4r5t6\n-----END RSA PRIVATE KEY-----"
    assert redact(f"key:\n{pem}\nthanks") == "key:\n[REDACTED]\nthanks"
    # A block whose END line was cut off is still removed.
    assert redact("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA") == "[REDACTED]"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("api_key=abc123", "api_key=[REDACTED]"),
        ("OPENAI_API_KEY=hunter2 python app.py", "OPENAI_API_KEY=[REDACTED] python app.py"),
        ("password = 'correct horse'", "password = '[REDACTED]'"),
        ('secret="s3cr3t"', 'secret="[REDACTED]"'),
        ("https://x.test/cb?access_token=abc.def&state=1", "https://x.test/cb?access_token=[REDACTED]&state=1"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
        ("{'api_key': 'abc', 'n': 1}", "{'api_key': '[REDACTED]', 'n': 1}"),
        ('{"client_secret":"a\\"b"}', '{"client_secret":"[REDACTED]"}'),
        ('"token": "t-1"', '"token": "[REDACTED]"'),
        ("DBPASSWORD=x githubtoken=y", "DBPASSWORD=[REDACTED] githubtoken=[REDACTED]"),
        ('password="unterminated', "password=[REDACTED]"),
        ('{"api_key": "cut off', '{"api_key": "[REDACTED]"'),
    ],
)
def test_redacts_key_value_pairs(raw, expected):
    assert redact(raw) == expected


@pytest.mark.parametrize(
    "prose",
    [
        "The token count for this request was 1,532 tokens.",
        "Follow the password reset instructions in the email.",
        "Keep your API key secret and rotate it every 90 days.",
        "max_tokens=256 and temperature=0.2",
        "Bearer bonds were common in the 19th century.",
        "The skeleton key opened the desk-drawer.",
        "Authentication tokens expire; a new token is issued on refresh.",
        "if token == expected: return True",
        "Asia is the largest continent; AKIA is not a word.",
        "",
    ],
)
def test_no_false_positive_on_prose(prose):
    assert redact(prose) == prose


def test_redact_is_idempotent_and_fast_path_returns_same_object():
    sample = f"api_key=abc token=xyz {SECRETS['openai']} Authorization: Bearer abc123456"
    once = redact(sample)
    assert redact(once) == once
    plain = "Just a normal sentence about the weather." * 10
    assert redact(plain) is plain


def test_redact_rejects_non_strings():
    assert redact(None) is None  # type: ignore[arg-type]
    assert redact(b"sk-abc") is None  # type: ignore[arg-type]
    assert redact(12) is None  # type: ignore[arg-type]


# --- bounded JSON -------------------------------------------------------------------------


def test_default_budget():
    assert DEFAULT_MAX_BYTES == 16 * 1024


def test_small_value_is_untouched():
    value = [
        {
            "role": "user",
            "parts": [
                text("héllo ✓ 你好"),
                {"type": "tool_call", "id": "1", "name": "f", "arguments": {"a": [1, 2.5, None, True]}},
            ],
        }
    ]
    assert bounded_json(value) == compact(value)


def test_redacts_strings_and_secret_keys_in_structures():
    value = [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "c",
                    "name": "login",
                    "arguments": {"user": "bob", "password": "hunter2", "max_tokens": 5},
                },
                text(f"key {SECRETS['anthropic']}"),
            ],
        }
    ]
    out = json.loads(bounded_json(value))
    assert out[0]["parts"][0]["arguments"] == {"user": "bob", "password": "[REDACTED]", "max_tokens": 5}
    assert out[0]["parts"][1]["content"] == "key [REDACTED]"
    nested = {"DB_PASSWORD": "x", "githubToken": "y", "input_tokens": 3, "auth": {"api_key": 1}, "is_secret": True}
    assert json.loads(bounded_json(nested)) == {
        "DB_PASSWORD": "[REDACTED]",
        "githubToken": "[REDACTED]",
        "input_tokens": 3,
        "auth": {"api_key": "[REDACTED]"},
        "is_secret": True,
    }


def test_long_string_is_cut_with_marker():
    value = [{"role": "user", "parts": [text("a" * 50_000)]}]
    out = bounded_json(value, 2000)
    assert len(out.encode()) <= 2000
    part = json.loads(out)[0]["parts"][0]
    assert part["content"].startswith("a" * 100)
    assert part["content"].endswith("chars]")
    assert "…[truncated " in part["content"]


def test_the_longest_strings_are_cut_first():
    value = [{"role": "user", "parts": [text("short one"), text("b" * 10_000), text("medium " * 20)]}]
    parts = json.loads(bounded_json(value, 1500))[0]["parts"]
    assert parts[0]["content"] == "short one"
    assert parts[2]["content"] == "medium " * 20
    assert "truncated" in parts[1]["content"]


def test_trailing_messages_are_dropped_with_a_marker():
    value = [{"role": "user", "parts": [text(f"message {i} " + "z" * 200)]} for i in range(200)]
    out = bounded_json(value, 4000)
    assert len(out.encode()) <= 4000
    messages = json.loads(out)
    assert messages[0]["parts"][0]["content"].startswith("message 0 ")
    marker = messages[-1]["parts"][-1]
    assert marker["type"] == "text"
    assert marker["content"].startswith("[truncated: ") and marker["content"].endswith(" more messages]")
    kept = len(messages)
    assert marker["content"] == f"[truncated: {200 - kept} more messages]"


def test_trailing_parts_are_dropped_with_a_marker():
    value = [text("p" * 30) for _ in range(500)]  # e.g. system instructions: a list of parts
    parts = json.loads(bounded_json(value, 1000))
    assert parts[-1]["content"] == f"[truncated: {500 - (len(parts) - 1)} more parts]"


def _marker_counts(text: str) -> dict[str, int]:
    assert text.startswith("[truncated: ") and text.endswith("]")
    counts = {}
    for note in text[len("[truncated: ") : -1].split(", "):
        number, _, word = note.partition(" more ")
        counts[word] = int(number)
    return counts


@pytest.mark.parametrize("count", [300, 5000, 50_000])
def test_every_dropped_message_is_counted(count):
    value = [{"role": "user", "parts": [text(f"m{i} " * 30)]} for i in range(count)]
    messages = json.loads(bounded_json(value, 3000))
    assert messages[0]["parts"][0]["content"].startswith("m0 ")
    counts = _marker_counts(messages[-1]["parts"][-1]["content"])
    shown = sum(1 for m in messages for p in m["parts"] if not p["content"].startswith("[truncated: "))
    # Each message has one part: it is shown, or its (emptied) message carries the marker with
    # "1 more parts", or it is counted in "more messages".
    assert shown + counts.get("parts", 0) + counts.get("messages", 0) == count


def test_every_dropped_part_is_counted():
    value = [{"role": "assistant", "parts": [text(str(i)) for i in range(100_000)], "finish_reason": "stop"}]
    (message,) = json.loads(bounded_json(value, 2000))
    assert message["finish_reason"] == "stop"
    counts = _marker_counts(message["parts"][-1]["content"])
    assert counts == {"parts": 100_000 - (len(message["parts"]) - 1)}
    assert [p["content"] for p in message["parts"][:-1]] == [str(i) for i in range(len(message["parts"]) - 1)]
    numbers = json.loads(bounded_json(list(range(100_000)), 1000))
    assert numbers[:-1] == list(range(len(numbers) - 1))
    assert _marker_counts(numbers[-1]["content"]) == {"parts": 100_000 - (len(numbers) - 1)}


def test_fast_path_agrees_with_the_full_path(monkeypatch):
    rng = random.Random(3)
    samples = [_random_messages(rng) for _ in range(60)] + [chat_request(), [text("plain")], {"a": [1, 2.5, None]}]
    fast = [bounded_json(v, 50_000) for v in samples]
    monkeypatch.setattr(content, "_plain_json", lambda value, max_bytes: None)
    assert [bounded_json(v, 50_000) for v in samples] == fast


def test_secrets_never_leak_where_strings_are_cut():
    rng = random.Random(11)
    secrets = sorted(SECRETS.values())
    filler = "lorem ipsum dolor sit amet " * 2000
    for _ in range(300):
        parts = []
        for _ in range(rng.choice([1, 2, 5, 20, 100])):
            size = rng.choice([10, 500, 2000, 5000, 30_000])
            offset = rng.randrange(size)
            parts.append(text(filler[:offset] + " " + rng.choice(secrets) + " tail " + "x" * rng.choice([0, 10, 3000])))
        budget = rng.choice([200, 1000, 4096, DEFAULT_MAX_BYTES])
        out = bounded_json([{"role": "user", "parts": parts}], budget)
        assert len(out.encode()) <= budget
        json.loads(out)
        assert not any(secret[:7] in out for secret in secrets)


def test_secret_beyond_the_cut_never_leaks_in_part():
    # A secret placed where the text is cut before redaction: no prefix of it may remain.
    budget = 1024
    secret = SECRETS["openai"]
    for offset in range(budget - 40, budget + 4200, 97):
        value = [text("x" * offset + " " + secret + " tail")]
        out = bounded_json(value, budget)
        assert len(out.encode()) <= budget
        assert "sk-A1b2" not in out


def test_bytes_are_never_serialized():
    out = bounded_json([{"type": "blob", "content": b"\x89PNG...."}])
    assert json.loads(out) == [{"type": "blob", "content": "[omitted]"}]


def test_odd_values_still_give_valid_json():
    class Thing:
        def __str__(self):
            return "thing with sk-proj-1234567890abcdefghij"

    cyclic: list = []
    cyclic.append(cyclic)
    for value in ({"x": float("nan"), 1: "one", None: Thing()}, cyclic, {"s": "\ud800 lone surrogate"}, ("a", {"b"})):
        out = bounded_json(value)
        assert out is not None
        json.loads(out)
        out.encode("utf-8")
        assert "sk-proj-1234" not in out


def test_top_level_string_is_cut_in_place():
    out = bounded_json("w" * 10_000, 300)
    assert len(out.encode()) <= 300
    assert json.loads(out).startswith("w" * 100)
    assert "truncated" in out


def test_bounded_json_bad_budget():
    assert bounded_json([1], 1) is None
    assert bounded_json([1], "100") is None  # type: ignore[arg-type]
    assert bounded_json(["x" * 100], 2) == "[]"


_ALPHABET = "abc xyz\n\t\"\\/é✓你😀\x00\x1f" + "0123456789"


_POOL = "".join(random.Random(1).choices(_ALPHABET, k=60_000))


def _random_text(rng: random.Random) -> str:
    size = rng.choices([0, 1, 5, 40, 300, 3000, 20000], weights=[2, 2, 2, 4, 3, 1, 0.15])[0]
    start = rng.randrange(len(_POOL) - size)
    return _POOL[start : start + size]


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.random()
    if depth > 3 or kind < 0.3:
        return rng.choice([_random_text(rng), rng.randint(-10**6, 10**6), rng.random(), None, True])
    if kind < 0.6:
        return {_random_text(rng)[:12]: _random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def _random_messages(rng: random.Random) -> list:
    messages = []
    for _ in range(rng.randint(0, 30)):
        parts = []
        for _ in range(rng.randint(0, 12)):
            choice = rng.random()
            if choice < 0.05:
                secret = rng.choice(sorted(SECRETS.values()))
                parts.append(text(_random_text(rng) + " " + secret + " " + _random_text(rng)))
            elif choice < 0.6:
                parts.append(text(_random_text(rng)))
            elif choice < 0.8:
                call_id = f"call_{rng.randint(0, 999)}"
                parts.append({"type": "tool_call", "id": call_id, "name": "f", "arguments": _random_value(rng)})
            else:
                parts.append({"type": "tool_call_response", "id": None, "response": _random_value(rng)})
        message = {"role": rng.choice(["user", "assistant", "tool"]), "parts": parts}
        if rng.random() < 0.3:
            message["finish_reason"] = "stop"
        messages.append(message)
    return messages


def test_bounded_json_randomized_properties():
    rng = random.Random(20261123)
    for _ in range(250):
        value = _random_messages(rng) if rng.random() < 0.7 else _random_value(rng)
        budget = rng.choice([2, 3, 16, 64, 200, 1000, 4096, DEFAULT_MAX_BYTES, 100_000])
        out = bounded_json(value, budget)
        if out is None:  # only a non-list value whose smallest form does not fit
            assert not isinstance(value, list) and budget < 13
            continue
        assert len(out.encode("utf-8")) <= budget
        assert not any(secret[:10] in out for secret in SECRETS.values())
        parsed = json.loads(out)
        full = compact(value)
        if len(full.encode("utf-8")) <= budget and not any(secret in full for secret in SECRETS.values()):
            assert out == full  # small content passes through unchanged
        if isinstance(value, list):
            assert isinstance(parsed, list)


def test_bounded_json_randomized_messages_keep_their_shape():
    rng = random.Random(7)
    for _ in range(100):
        value = _random_messages(rng)
        if not value:
            continue
        out = json.loads(bounded_json(value, 2048))
        assert out, "at least the first message (possibly only a marker) is kept"
        for message in out:
            assert set(message) >= {"role", "parts"}
            assert all(isinstance(p, dict) and "type" in p for p in message["parts"])


# --- OpenAI Chat Completions --------------------------------------------------------------


def chat_request() -> list:
    return [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://cdn.example.com/cat.jpg?X-Amz-Signature=abc"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-123", "filename": "report.pdf"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{not json"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": [{"type": "text", "text": "part a"}, {"type": "text", "text": "part b"}],
        },
    ]


def test_openai_chat_input_shape():
    inputs, system = openai_chat_input(chat_request())
    assert system == [text("You are terse."), text("Use tools.")]
    assert [m["role"] for m in inputs] == ["user", "assistant", "tool", "tool"]
    assert inputs[0]["parts"] == [
        text("What is in this image?"),
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "[omitted]"},
        {"type": "uri", "modality": "image", "mime_type": "image/jpeg", "uri": "https://cdn.example.com/cat.jpg?[REDACTED]"},
        {"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "[omitted]"},
        {"type": "file", "modality": "document", "mime_type": "application/pdf", "file_id": "file-123"},
        {"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": "[omitted]"},
    ]
    assert inputs[1]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"type": "tool_call", "id": "call_2", "name": "broken", "arguments": "{not json"},
    ]
    assert inputs[2]["parts"] == [{"type": "tool_call_response", "id": "call_1", "response": "18C and sunny"}]
    assert inputs[3]["parts"] == [{"type": "tool_call_response", "id": "call_2", "response": "part a\npart b"}]
    assert "iVBOR" not in json.dumps(inputs) and "UklGR" not in json.dumps(inputs)


def test_openai_chat_input_without_system():
    inputs, system = openai_chat_input([{"role": "user", "content": "hi"}])
    assert inputs == [{"role": "user", "parts": [text("hi")]}]
    assert system is None


def chat_completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_9",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": '{"q": "otel"}'},
                            },
                            {"id": "call_10", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
                        ],
                    },
                },
                {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}},
                {
                    "index": 2,
                    "finish_reason": "content_filter",
                    "message": {"role": "assistant", "refusal": "I can't help."},
                },
                {"index": 3, "finish_reason": "length", "message": {"role": "assistant", "content": "Once upon"}},
            ],
        }
    )


def test_openai_chat_output_from_sdk_object():
    out = openai_chat_output(chat_completion().choices)
    assert out == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_9", "name": "lookup", "arguments": {"q": "otel"}},
                {"type": "tool_call", "id": "call_10", "name": "sql", "arguments": "SELECT 1"},
            ],
            "finish_reason": "tool_call",
        },
        {"role": "assistant", "parts": [text("Hello!")], "finish_reason": "stop"},
        {"role": "assistant", "parts": [text("I can't help.")], "finish_reason": "content_filter"},
        {"role": "assistant", "parts": [text("Once upon")], "finish_reason": "length"},
    ]


def test_openai_chat_output_from_accumulated_stream():
    out = openai_chat_output(
        [
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [{"id": "c1", "name": "f", "arguments": '{"x": 1}'}],
                "finish_reason": "tool_calls",
            },
            {"role": "assistant", "content": "partial", "finish_reason": None},
            {"content": "legacy", "finish_reason": "function_call"},
        ]
    )
    assert out == [
        {
            "role": "assistant",
            "parts": [text("Let me check."), {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"x": 1}}],
            "finish_reason": "tool_call",
        },
        {"role": "assistant", "parts": [text("partial")], "finish_reason": "error"},
        {"role": "assistant", "parts": [text("legacy")], "finish_reason": "tool_call"},
    ]


def test_openai_chat_input_accepts_sdk_messages_appended_back():
    assistant = chat_completion().choices[0].message
    assert isinstance(assistant, ChatCompletionMessage)
    inputs, _ = openai_chat_input(
        [{"role": "user", "content": "find otel"}, assistant, {"role": "tool", "tool_call_id": "call_9", "content": "{}"}]
    )
    assert inputs[1] == {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "call_9", "name": "lookup", "arguments": {"q": "otel"}},
            {"type": "tool_call", "id": "call_10", "name": "sql", "arguments": "SELECT 1"},
        ],
    }


# --- OpenAI Responses ---------------------------------------------------------------------


def test_openai_responses_input_string():
    hello = [{"role": "user", "parts": [text("hello")]}]
    assert openai_responses_input("hello", "Be brief.") == (hello, [text("Be brief.")])
    assert openai_responses_input("hello", None) == ([{"role": "user", "parts": [text("hello")]}], None)


def test_openai_responses_input_items():
    previous_call = ResponseFunctionToolCall.model_validate(
        {"type": "function_call", "call_id": "call_a", "name": "add", "arguments": '{"a": 1, "b": 2}', "id": "fc_1"}
    )
    inputs, system = openai_responses_input(
        [
            {"role": "developer", "content": "Prefer metric units."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Add these, see the picture"},
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "auto"},
                    {"type": "input_image", "file_id": "file-img", "detail": "auto"},
                    {"type": "input_file", "file_url": "https://files.example.com/doc.pdf"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need to add."}]},
            previous_call,
            {"type": "function_call_output", "call_id": "call_a", "output": "3"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "It is 3.", "annotations": []}]},
        ],
        "You are a calculator.",
    )
    assert system == [text("You are a calculator."), text("Prefer metric units.")]
    assert inputs == [
        {
            "role": "user",
            "parts": [
                text("Add these, see the picture"),
                {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "content": "[omitted]"},
                {"type": "file", "modality": "image", "mime_type": None, "file_id": "file-img"},
                {
                    "type": "uri",
                    "modality": "document",
                    "mime_type": "application/pdf",
                    "uri": "https://files.example.com/doc.pdf",
                },
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Need to add."},
                {"type": "tool_call", "id": "call_a", "name": "add", "arguments": {"a": 1, "b": 2}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_a", "response": "3"}]},
        {"role": "assistant", "parts": [text("It is 3.")]},
    ]


def make_response(output: list, status: str = "completed", incomplete: str | None = None) -> Response:
    return Response.model_validate(
        {
            "id": "resp_1",
            "object": "response",
            "created_at": 1_700_000_000,
            "model": "gpt-4.1-mini",
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "status": status,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "output": output,
        }
    )


MESSAGE_ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "The answer is 42.", "annotations": []}],
}


def test_openai_responses_output_text():
    response = make_response(
        [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking briefly."}]},
            MESSAGE_ITEM,
        ]
    )
    assert openai_responses_output(response) == [
        {
            "role": "assistant",
            "parts": [{"type": "reasoning", "content": "Thinking briefly."}, text("The answer is 42.")],
            "finish_reason": "stop",
        }
    ]


def test_openai_responses_output_function_call():
    response = make_response(
        [
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_z",
                "name": "search",
                "arguments": '{"q": "x"}',
                "status": "completed",
            }
        ]
    )
    assert openai_responses_output(response) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_z", "name": "search", "arguments": {"q": "x"}}],
            "finish_reason": "tool_call",
        }
    ]


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("incomplete", "max_output_tokens", "length"),
        ("incomplete", "content_filter", "content_filter"),
        ("failed", None, "error"),
    ],
)
def test_openai_responses_output_finish_reason_from_status(status, reason, expected):
    out = openai_responses_output(make_response([MESSAGE_ITEM], status=status, incomplete=reason))
    assert out[0]["finish_reason"] == expected


def test_openai_responses_output_from_dict_and_empty():
    from_dict = openai_responses_output({"status": "completed", "output": [MESSAGE_ITEM]})
    assert from_dict[0]["parts"] == [text("The answer is 42.")]
    assert openai_responses_output(make_response([])) == []


# --- Anthropic ----------------------------------------------------------------------------


def anthropic_message(**overrides) -> Message:
    data = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "The user wants the weather.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }
    data.update(overrides)
    return Message.model_validate(data)


def test_anthropic_output_from_sdk_object():
    assert anthropic_output(anthropic_message()) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "The user wants the weather."},
                text("Checking."),
                {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "tool_call",
        }
    ]


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_call"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
        (None, "error"),
    ],
)
def test_anthropic_stop_reasons(stop_reason, expected):
    message = anthropic_message(content=[{"type": "text", "text": "ok"}], stop_reason=stop_reason)
    assert anthropic_output(message)[0]["finish_reason"] == expected


def test_anthropic_output_from_dict():
    out = anthropic_output({"role": "assistant", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"})
    assert out == [{"role": "assistant", "parts": [text("hi")], "finish_reason": "stop"}]


def test_anthropic_input_shape():
    previous = anthropic_message()
    inputs, system = anthropic_input(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Oslo? See photo and doc."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://img.example.com/oslo.webp"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Plain notes."}},
                ],
            },
            {"role": "assistant", "content": previous.content},  # SDK blocks appended back
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C, snow"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    TextBlock(type="text", text="It is snowing."),
                    ToolUseBlock(type="tool_use", id="toolu_3", name="noop", input={}),
                ],
            },
        ],
        [
            {"type": "text", "text": "You are a weather bot."},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        ],
    )
    assert system == [text("You are a weather bot."), text("Be brief.")]
    assert inputs[0] == {
        "role": "user",
        "parts": [
            text("Weather in Oslo? See photo and doc."),
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "[omitted]"},
            {"type": "uri", "modality": "image", "mime_type": "image/webp", "uri": "https://img.example.com/oslo.webp"},
            {"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": "[omitted]"},
            text("Plain notes."),
        ],
    }
    assert inputs[1]["parts"] == anthropic_output(previous)[0]["parts"]
    assert inputs[2] == {
        "role": "user",
        "parts": [
            {"type": "tool_call_response", "id": "toolu_1", "response": "-3C, snow"},
            {"type": "tool_call_response", "id": "toolu_2", "response": "a\nb"},
        ],
    }
    assert inputs[3]["parts"] == [
        text("It is snowing."),
        {"type": "tool_call", "id": "toolu_3", "name": "noop", "arguments": {}},
    ]
    assert "iVBOR" not in json.dumps(inputs) and "JVBER" not in json.dumps(inputs)


def test_anthropic_input_string_forms():
    assert anthropic_input([{"role": "user", "content": "hi"}], "Be nice.") == (
        [{"role": "user", "parts": [text("hi")]}],
        [text("Be nice.")],
    )
    assert anthropic_input([{"role": "user", "content": "hi"}], None)[1] is None


# --- garbage in: nothing raises -----------------------------------------------------------


class Exploding:
    def __getattr__(self, name):
        raise RuntimeError(f"no {name}")


GARBAGE = [None, 5, 3.5, "just a string", b"bytes", object(), Exploding(), {"role": "user"}, [None, 1, "x", Exploding()]]


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_converters_never_raise(garbage):
    for convert in (openai_chat_input, openai_chat_output, anthropic_output, openai_responses_output):
        result = convert(garbage)
        assert result is None or isinstance(result, (list, tuple))
    for result in (anthropic_input(garbage, garbage), openai_responses_input(garbage, garbage)):
        assert result is None or isinstance(result, tuple)
    assert isinstance(content_attributes(garbage, garbage, garbage), dict)


def test_garbage_top_level_returns_none():
    assert openai_chat_input(None) is None
    assert openai_chat_input(42) is None
    assert openai_chat_output("text") is None
    assert anthropic_input(None, None) is None
    assert anthropic_output(42) is None
    assert openai_responses_output(None) is None
    assert openai_responses_input(42) is None


def test_sdk_objects_in_the_wrong_place_are_not_taken_apart():
    # A pydantic model iterates over its fields; it is not a list of choices or messages.
    assert openai_chat_output(chat_completion()) is None
    assert openai_chat_input(anthropic_message()) is None
    assert anthropic_output(object()) is None
    assert openai_chat_output([object(), (1, 2)]) == []


def test_garbage_items_are_skipped():
    inputs, system = openai_chat_input([None, 1, Exploding(), {"role": "user", "content": "ok"}, {"content": "no role"}])
    assert inputs == [{"role": "user", "parts": [text("ok")]}]
    assert system is None
    inputs, _ = anthropic_input([{"role": "user", "content": [None, {"type": "mystery"}, {"type": "text", "text": "ok"}]}])
    assert inputs == [{"role": "user", "parts": [text("ok")]}]


def test_one_shot_iterators_are_not_consumed():
    messages = iter([{"role": "user", "content": "hi"}])
    assert openai_chat_input(messages) is None
    assert next(messages) == {"role": "user", "content": "hi"}  # still there for the SDK
    parts = (p for p in [{"type": "text", "text": "x"}])
    inputs, _ = openai_chat_input([{"role": "user", "content": parts}])
    assert inputs == [{"role": "user", "parts": []}]
    assert next(parts) == {"type": "text", "text": "x"}


# --- attributes ---------------------------------------------------------------------------


def test_content_attributes():
    inputs, system = openai_chat_input(chat_request())
    output = openai_chat_output(chat_completion().choices)
    attributes = content_attributes(inputs, system, output)
    assert set(attributes) == {gen_ai.INPUT_MESSAGES, gen_ai.OUTPUT_MESSAGES, gen_ai.SYSTEM_INSTRUCTIONS}
    assert json.loads(attributes[gen_ai.INPUT_MESSAGES]) == inputs
    assert json.loads(attributes[gen_ai.SYSTEM_INSTRUCTIONS]) == system
    assert json.loads(attributes[gen_ai.OUTPUT_MESSAGES]) == output
    assert all(isinstance(v, str) for v in attributes.values())


def test_content_attributes_skip_missing_and_bound_size():
    inputs = [{"role": "user", "parts": [text("q" * 100_000)]}]
    attributes = content_attributes(inputs, None, [], max_bytes=512)
    assert list(attributes) == [gen_ai.INPUT_MESSAGES]
    assert len(attributes[gen_ai.INPUT_MESSAGES].encode()) <= 512
    assert content_attributes(None, None, None) == {}


def test_module_spells_no_attribute_names():
    source = open(content.__file__, encoding="utf-8").read()
    for name in (gen_ai.INPUT_MESSAGES, gen_ai.OUTPUT_MESSAGES, gen_ai.SYSTEM_INSTRUCTIONS):
        assert f'"{name}"' not in source and f"'{name}'" not in source
