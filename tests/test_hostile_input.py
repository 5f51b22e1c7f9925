"""Hostile input, generated: span attributes, token counts, model names and exceptions of any
type and size never make the processors raise, and what they derive stays well formed; replies
and faults of any shape from the provider reach the application exactly as without
instrumentation, and the instrumentation never reports an internal error."""

from __future__ import annotations

import json
import logging
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from otel_agentmon.processors import CostCalculator, SpanEnricher, TokenUsage
from otel_agentmon.processors._quality import RANDOM_BITS, sample_threshold
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import SEVERITY_OF, ErrorCategory

# Enough examples to reach the corners (huge ints, nan, odd unicode) while the whole file stays
# fast; the database is off so runs leave nothing behind in the checkout.
FAST = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

COST_STATUSES = {am.CostStatus.PRICED, am.CostStatus.UNPRICED, am.CostStatus.MISSING_USAGE,
                 am.CostStatus.INVALID_USAGE}
CATEGORIES = {category.value for category in ErrorCategory}
SEVERITY = {category.value: severity.value for category, severity in SEVERITY_OF.items()}

TOKEN_KEYS = [ga.USAGE_INPUT_TOKENS, ga.USAGE_OUTPUT_TOKENS, ga.USAGE_CACHE_READ_INPUT_TOKENS,
              ga.USAGE_CACHE_WRITE_INPUT_TOKENS, ga.USAGE_REASONING_OUTPUT_TOKENS,
              ga.DEPRECATED_USAGE_PROMPT_TOKENS, ga.DEPRECATED_USAGE_COMPLETION_TOKENS,
              ga.DEPRECATED_USAGE_REASONING_TOKENS, ga.DEPRECATED_USAGE_CACHE_CREATION_INPUT_TOKENS]
KNOWN_KEYS = TOKEN_KEYS + [
    ga.OPERATION_NAME, ga.PROVIDER_NAME, ga.DEPRECATED_SYSTEM, ga.REQUEST_MODEL, ga.RESPONSE_MODEL,
    ga.RESPONSE_FINISH_REASONS, ga.ERROR_TYPE, ga.HTTP_RESPONSE_STATUS_CODE, ga.DEPRECATED_HTTP_STATUS_CODE,
    ga.DEPRECATED_LLM_REQUEST_TYPE, ga.SERVER_ADDRESS, ga.SERVER_PORT, ga.USER_ID,
    am.COST_AMOUNT, am.COST_STATUS, am.COST_CURRENCY, am.COST_SOURCE, am.ERROR_CATEGORY, am.ERROR_SEVERITY,
    am.QUALITY_SAMPLED, am.DEPARTMENT, am.APPLICATION,
]
REAL_MODELS = ["gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "claude-sonnet-4-5", "text-embedding-3-small",
               "o3-mini", "gemini-2.5-flash"]
REAL_PROVIDERS = ["openai", "anthropic", "azure.ai.openai", "aws.bedrock", "gcp.gemini", "x_ai", "mistral_ai"]

# Text with the characters that break naive code: controls, NUL, surrogates-free astral
# symbols, combining marks, right-to-left text, superscript digits (isdigit() but not int()).
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", " ", "\x00", "\t\n\r", "²⁵⁶", "٤٢٩", "𝟒𝟐𝟗", "429", "0", "-1", "1e400", "nan",
                     "Error code: 429", "error code: ²²²", "context_length_exceeded", "overloaded",
                     "e\u0301", "\u202egpt-4o", "\ufeffgpt-4o-mini", "gpt-4o-mini\x00", " gpt-4o-mini ",
                     "openai.RateLimitError", "builtins.TimeoutError", "httpx.ConnectError"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["a", "é", "\x00", "9", "𝟗", "Error code: 500 "]),
              st.integers(0, 20_000)),
)
any_int = st.one_of(
    st.integers(), st.integers(-2 ** 70, 2 ** 70), st.integers(2 ** 63 - 2, 2 ** 64 + 2),
    st.sampled_from([0, 1, -1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 308, 10 ** 309, 10 ** 4000]),
)
any_float = st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, 1.5, 5e-324]))
scalar = st.one_of(odd_text, st.booleans(), any_int, any_float)
value = st.one_of(scalar, st.none(), st.lists(scalar, max_size=4), st.lists(scalar, max_size=4).map(tuple))
key = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=20))
attribute_maps = st.dictionaries(key, value, max_size=16)
token_count = st.one_of(st.none(), any_int, any_float, st.booleans(), odd_text, st.lists(any_int, max_size=2))
model_name = st.one_of(st.sampled_from(REAL_MODELS), odd_text)
provider = st.one_of(st.none(), st.sampled_from(REAL_PROVIDERS), odd_text)
trace_ids = st.one_of(st.none(), st.integers(0, 2 ** 128 - 1))
exceptions = st.lists(st.tuples(st.one_of(st.none(), odd_text, st.sampled_from(["openai.RateLimitError",
                                                                                "TimeoutError"])),
                                st.one_of(st.none(), odd_text)), max_size=3).map(tuple)


@st.composite
def inference_attributes(draw):
    """Attribute maps that look like inference spans, so the cost and category paths run."""
    attributes = draw(attribute_maps)
    attributes[ga.OPERATION_NAME] = draw(st.one_of(st.sampled_from(sorted(ga.INFERENCE_OPERATIONS)), value))
    attributes[ga.PROVIDER_NAME] = draw(provider)
    attributes[draw(st.sampled_from([ga.REQUEST_MODEL, ga.RESPONSE_MODEL]))] = draw(model_name)
    for name in draw(st.lists(st.sampled_from(TOKEN_KEYS), max_size=5)):
        attributes[name] = draw(token_count)
    for name in (am.COST_AMOUNT, am.COST_STATUS, am.ERROR_CATEGORY):
        if draw(st.integers(0, 9)) != 0:  # mostly absent, so the processor derives them
            attributes.pop(name, None)
    return attributes


any_attributes = st.one_of(attribute_maps, inference_attributes())


def _sampled(trace_id, enricher) -> bool:
    return trace_id is not None and (trace_id & ((1 << RANDOM_BITS) - 1)) < sample_threshold(
        enricher.quality_sample_rate)


def check_derived(derived, attributes, trace_id, enricher) -> None:
    assert isinstance(derived, dict)
    assert derived.get(am.QUALITY_SAMPLED, False) is _sampled(trace_id, enricher)
    if am.COST_STATUS in derived:
        assert derived[am.COST_STATUS] in COST_STATUSES
    if am.COST_AMOUNT in derived:
        amount = derived[am.COST_AMOUNT]
        assert type(amount) is float and math.isfinite(amount) and amount >= 0, amount
        assert derived[am.COST_STATUS] == am.CostStatus.PRICED
        assert derived[am.COST_CURRENCY] == am.CURRENCY_USD
    elif am.COST_STATUS in derived:
        assert derived[am.COST_STATUS] != am.CostStatus.PRICED
    if am.ERROR_CATEGORY in derived:
        category = derived[am.ERROR_CATEGORY]
        assert category in CATEGORIES
        assert derived[am.ERROR_SEVERITY] == SEVERITY[category]
    for name in (am.COST_AMOUNT, am.COST_STATUS, am.ERROR_CATEGORY):
        if name in attributes:  # what the span already carries is never overwritten
            assert name not in derived


@FAST
@given(attributes=any_attributes, trace_id=trace_ids, failed=st.booleans(), exceptions=exceptions,
       start=st.one_of(st.none(), st.integers(0, 2 ** 64), st.integers()), rate=st.sampled_from([0.0, 0.05, 0.5, 1.0]))
def test_derive_never_raises_and_is_well_formed(attributes, trace_id, failed, exceptions, start, rate):
    enricher = SpanEnricher(quality_sample_rate=rate)
    derived = enricher.derive(attributes, trace_id, failed, exceptions, start)
    check_derived(derived, attributes, trace_id, enricher)


def _span(attributes, trace_id, failed, description, events) -> ReadableSpan:
    context = SpanContext(trace_id=trace_id, span_id=1, is_remote=False)
    status = Status(StatusCode.ERROR, description) if failed else Status(StatusCode.OK)
    return ReadableSpan(name="chat", context=context, attributes=attributes, events=events, status=status,
                        start_time=1_700_000_000_000_000_000, end_time=1_700_000_000_500_000_000)


otel_scalar = st.one_of(odd_text, st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), any_float)
exception_events = st.lists(
    st.builds(lambda attrs: Event(ga.EXCEPTION_EVENT, attrs),
              st.dictionaries(st.sampled_from([ga.EXCEPTION_TYPE, ga.EXCEPTION_MESSAGE, "x"]),
                              st.one_of(otel_scalar, st.none()), max_size=3)),
    max_size=3)


@FAST
@given(attributes=any_attributes, trace_id=st.integers(0, 2 ** 128 - 1), failed=st.booleans(),
       description=st.one_of(st.none(), odd_text), events=exception_events)
def test_enrich_never_raises_and_is_well_formed(attributes, trace_id, failed, description, events):
    enricher = SpanEnricher()
    span = _span(attributes, trace_id, failed, description, events)
    enriched = enricher.enrich(span)
    assert isinstance(enriched, ReadableSpan)
    original = span.attributes
    added = {k: v for k, v in enriched.attributes.items() if k not in original or original[k] is not v}
    if _sampled(trace_id, enricher):  # the flag may already be there, as the same True
        added[am.QUALITY_SAMPLED] = enriched.attributes[am.QUALITY_SAMPLED]
    check_derived(added, original, trace_id, enricher)
    for name in (am.COST_AMOUNT, am.COST_STATUS, am.ERROR_CATEGORY, ga.REQUEST_MODEL, ga.ERROR_TYPE):
        if name in original:  # what the span reported is kept as it was
            assert enriched.attributes[name] is original[name]


@FAST
@given(model=model_name, provider=provider, counts=st.fixed_dictionaries(
    {}, optional={name: token_count for name in TOKEN_KEYS}))
def test_token_counts_of_any_type_and_size_are_priced_or_flagged(model, provider, counts):
    attributes = {ga.OPERATION_NAME: "chat", ga.REQUEST_MODEL: model, **counts}
    if provider is not None:
        attributes[ga.PROVIDER_NAME] = provider
    derived = SpanEnricher().derive(attributes, None)
    status = derived[am.COST_STATUS]
    assert status in COST_STATUSES
    if status == am.CostStatus.PRICED:
        amount = derived[am.COST_AMOUNT]
        assert math.isfinite(amount) and amount >= 0
    if not any(counts.get(name) is not None for name in TOKEN_KEYS[:2] + TOKEN_KEYS[5:7]):
        assert status in (am.CostStatus.MISSING_USAGE, am.CostStatus.UNPRICED)
    result = CostCalculator().span_cost(attributes)
    assert result.status == status
    if result.amount is not None:
        assert result.amount == derived[am.COST_AMOUNT]


def test_huge_token_counts_do_not_overflow_to_inf():
    for count in (2 ** 63, 2 ** 64, 10 ** 308, 10 ** 309, 10 ** 4000, 1e308):
        derived = SpanEnricher().derive({ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai",
                                         ga.REQUEST_MODEL: "gpt-4o-mini", ga.USAGE_INPUT_TOKENS: count,
                                         ga.USAGE_OUTPUT_TOKENS: 1}, None)
        assert derived[am.COST_STATUS] in (am.CostStatus.PRICED, am.CostStatus.INVALID_USAGE), (count, derived)
        if am.COST_AMOUNT in derived:
            assert math.isfinite(derived[am.COST_AMOUNT]), count


usages = st.builds(TokenUsage, *(st.integers(0, 2 ** 70) | st.sampled_from([0, 10 ** 400]) for _ in range(5)))


@FAST
@given(provider=provider, model=model_name, usage=usages, start=st.one_of(st.none(), st.integers(0, 2 ** 64)))
def test_price_never_raises_for_odd_models_and_counts(provider, model, usage, start):
    result = CostCalculator().price(provider, model, usage, start)
    assert result.status in (am.CostStatus.PRICED, am.CostStatus.UNPRICED, am.CostStatus.INVALID_USAGE)
    if result.amount is not None:
        assert math.isfinite(result.amount) and result.amount >= 0


# --------------------------------------------------------------------------- provider fuzz
# Replies and faults of any shape, through the real SDKs against the local provider server:
# the application sees the same thing with the instrumentation on and off.


from _instrumented import instrument, uninstrument  # noqa: E402
from test_differential import _anthropic, _openai, normalize  # noqa: E402

from otel_agentmon.provider_server import Reply  # noqa: E402
from otel_agentmon.provider_server._script import REPLY_HEADER  # noqa: E402

FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
_HEADER_LIMIT = 16_000  # larger replies go through the server's queue instead of the header

reply_text = st.one_of(
    st.none(), st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["", "\x00", "data: [DONE]\n\n", "\r\n\r\n", "{\"broken\": ", "\u202e\ufeff🙂"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["word ", "é", "🙂", "data: x\n\n"]), st.integers(0, 200_000)),
)
reply_tokens = st.one_of(st.none(), st.integers(0, 10), st.sampled_from([0, 2 ** 31, 2 ** 53, 2 ** 63 - 1]))
tool_calls = st.one_of(st.none(), st.lists(st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=30)},
    optional={"arguments": st.one_of(st.text(max_size=50), st.dictionaries(st.text(max_size=10),
                                                                           st.text(max_size=10), max_size=3))}),
    min_size=1, max_size=3))
replies = st.fixed_dictionaries({}, optional={
    "text": reply_text, "input_tokens": reply_tokens, "output_tokens": reply_tokens, "cached_tokens": reply_tokens,
    "cache_write_tokens": reply_tokens, "reasoning_tokens": reply_tokens, "tool_calls": tool_calls,
    "finish_reason": st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["content_filter", "length"])),
    "model": st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                                          max_size=40))})
faults = st.builds(lambda name, after: f"{name};after={after}", st.sampled_from(["malformed_sse", "connection_reset"]),
                   st.integers(0, 12))

_MESSAGES = [{"role": "user", "content": "Plan a day in Lisbon"}]


def _openai_client(server, headers):
    return _openai(server, headers, timeout=5)


def _anthropic_client(server, headers):
    return _anthropic(server, headers, timeout=5)


FUZZ_CALLS = {
    "chat": lambda s, h: _openai_client(s, h).chat.completions.create(model="gpt-4o-mini", messages=_MESSAGES),
    "chat_stream": lambda s, h: [normalize(item) for item in _openai_client(s, h).chat.completions.create(
        model="gpt-4o-mini", messages=_MESSAGES, stream=True, stream_options={"include_usage": True})],
    "responses_stream": lambda s, h: [normalize(item) for item in _openai_client(s, h).responses.create(
        model="gpt-4o-mini", input="Plan a day", stream=True)],
    "messages_stream": lambda s, h: [normalize(item) for item in _anthropic_client(s, h).messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=_MESSAGES, stream=True)],
}


def outcome(call) -> tuple:
    """What the application sees: the return value, or the exception's type, status, body and message."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc), getattr(exc, "status_code", None), normalize(getattr(exc, "body", None)),
                str(exc))
    return ("returned", type(result).__name__, normalize(result))


class _InternalErrors(logging.Handler):
    """Records of the instrumentation's own faults: warnings and above, or any with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.records.append(record)


def _compare(server, call_name, headers, reply: Reply | None) -> None:
    call = FUZZ_CALLS[call_name]
    logger = logging.getLogger("otel_agentmon")
    handler, level = _InternalErrors(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        server.clear()
        if reply is not None:
            server.enqueue(reply)
        plain = outcome(lambda: call(server, headers))
        telemetry = instrument(capture_content=True)
        try:
            server.clear()
            if reply is not None:
                server.enqueue(reply)
            instrumented = outcome(lambda: call(server, headers))
            telemetry.metric_points("gen_ai.client.operation.duration")  # records the call's metrics too
        finally:
            uninstrument()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert plain == instrumented
    assert not handler.records, [(r.getMessage(), r.exc_info) for r in handler.records]


@pytest.mark.slow
@pytest.mark.parametrize("call_name", sorted(FUZZ_CALLS))
@FUZZ
@given(fields=replies)
def test_fuzzed_replies_reach_the_app_unchanged(provider_server, call_name, fields):
    encoded = json.dumps(fields)
    if len(encoded) <= _HEADER_LIMIT:
        _compare(provider_server, call_name, {REPLY_HEADER: encoded}, None)
    else:  # a huge reply: through the queue (a header line that long is refused by the server)
        _compare(provider_server, call_name, {}, Reply(**fields))


@pytest.mark.slow
@pytest.mark.parametrize("call_name", sorted(FUZZ_CALLS))
@FUZZ
@given(fault=faults, fields=replies)
def test_fuzzed_faults_reach_the_app_unchanged(provider_server, call_name, fault, fields):
    fields.pop("text", None)  # small replies: the fault is the point
    headers = {"x-agentmon-fault": fault}
    if fields:
        headers[REPLY_HEADER] = json.dumps(fields)
    _compare(provider_server, call_name, headers, None)
