"""Error category and severity, from exception classes, provider codes and HTTP status."""

from __future__ import annotations

import pytest

from otel_agentmon.processors import categorize
from otel_agentmon.processors._errors import error_attributes
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import SEVERITY_OF, ErrorCategory as C

CHAT = {ga.OPERATION_NAME: "chat", ga.PROVIDER_NAME: "openai"}


@pytest.mark.parametrize(
    "error_type, category",
    [
        ("RateLimitError", C.RATE_LIMIT),
        ("openai.RateLimitError", C.RATE_LIMIT),
        ("APITimeoutError", C.TIMEOUT),
        ("httpx2.ReadTimeout", C.TIMEOUT),
        ("httpx.ConnectTimeout", C.TIMEOUT),
        ("APIConnectionError", C.NETWORK_ERROR),
        ("httpx2.RemoteProtocolError", C.NETWORK_ERROR),
        ("ConnectionResetError", C.NETWORK_ERROR),
        ("AuthenticationError", C.AUTH_ERROR),
        ("PermissionDeniedError", C.AUTH_ERROR),
        ("BadRequestError", C.BAD_REQUEST),
        ("NotFoundError", C.BAD_REQUEST),
        ("InternalServerError", C.PROVIDER_ERROR),
        ("anthropic.OverloadedError", C.SERVICE_UNAVAILABLE),
        ("ServiceUnavailableError", C.SERVICE_UNAVAILABLE),
        ("APIResponseValidationError", C.VALIDATION_ERROR),
        ("json.decoder.JSONDecodeError", C.VALIDATION_ERROR),
        ("ContentFilterFinishReasonError", C.CONTENT_FILTER),
        ("BudgetExceededError", C.BUDGET_EXCEEDED),
        ("AgentTimeoutError", C.AGENT_TIMEOUT),
        ("context_length_exceeded", C.CONTEXT_LENGTH_EXCEEDED),
        ("overloaded_error", C.SERVICE_UNAVAILABLE),
        ("SomethingNobodyKnows", C.UNKNOWN_ERROR),
        ("_OTHER", C.UNKNOWN_ERROR),
    ],
)
def test_error_type(error_type, category):
    assert categorize({**CHAT, ga.ERROR_TYPE: error_type}, failed=True) == category


@pytest.mark.parametrize(
    "status, category",
    [(429, C.RATE_LIMIT), (401, C.AUTH_ERROR), (403, C.AUTH_ERROR), (400, C.BAD_REQUEST), (408, C.TIMEOUT),
     (500, C.PROVIDER_ERROR), (503, C.SERVICE_UNAVAILABLE), (529, C.SERVICE_UNAVAILABLE), (504, C.TIMEOUT),
     (599, C.PROVIDER_ERROR), (418, C.BAD_REQUEST), ("503", C.SERVICE_UNAVAILABLE)],
)
def test_http_status_code_of_other_instrumentors(status, category):
    assert categorize({**CHAT, ga.HTTP_RESPONSE_STATUS_CODE: status}, failed=True) == category
    assert categorize({**CHAT, ga.DEPRECATED_HTTP_STATUS_CODE: status}, failed=True) == category


def test_status_code_in_error_type():
    assert categorize({**CHAT, ga.ERROR_TYPE: "429"}, failed=True) == C.RATE_LIMIT


def test_provider_code_in_exception_message_beats_the_class():
    message = "Error code: 400 - {'error': {'message': 'too long', 'code': 'context_length_exceeded'}}"
    exceptions = [("openai.BadRequestError", message)]
    assert categorize({**CHAT, ga.ERROR_TYPE: "BadRequestError"}, True, exceptions) == C.CONTEXT_LENGTH_EXCEEDED
    anthropic = [("anthropic.BadRequestError", "prompt is too long: 250000 tokens > 200000 maximum")]
    assert categorize({**CHAT, ga.ERROR_TYPE: "BadRequestError"}, True, anthropic) == C.CONTEXT_LENGTH_EXCEEDED
    overloaded = [("anthropic.APIStatusError", "{'type': 'error', 'error': {'type': 'overloaded_error'}}")]
    assert categorize({**CHAT, ga.ERROR_TYPE: "APIStatusError"}, True, overloaded) == C.SERVICE_UNAVAILABLE


def test_exception_event_type_when_no_error_type():
    assert categorize(CHAT, True, [("openai.RateLimitError", "slow down")]) == C.RATE_LIMIT


def test_content_filter_refusal_without_exception():
    assert categorize({**CHAT, ga.RESPONSE_FINISH_REASONS: ("content_filter",)}, failed=False) == C.CONTENT_FILTER
    assert categorize({**CHAT, ga.RESPONSE_FINISH_REASONS: ("refusal",)}, failed=False) == C.CONTENT_FILTER
    assert categorize({**CHAT, ga.RESPONSE_FINISH_REASONS: ("stop",)}, failed=False) is None


def test_successful_span_has_no_category():
    assert categorize(CHAT, failed=False) is None


def test_failed_tool_is_tool_error_unless_budget_or_deadline():
    tool = {ga.OPERATION_NAME: "execute_tool", ga.TOOL_NAME: "search"}
    assert categorize({**tool, ga.ERROR_TYPE: "KeyError"}, True) == C.TOOL_ERROR
    assert categorize({**tool, ga.ERROR_TYPE: "RateLimitError"}, True) == C.TOOL_ERROR
    assert categorize({**tool, ga.ERROR_TYPE: "BudgetExceededError"}, True) == C.BUDGET_EXCEEDED


def test_huge_messages_are_scanned_only_at_their_start():
    message = "x" * 1_000_000 + "context_length_exceeded"
    assert categorize({**CHAT, ga.ERROR_TYPE: "BadRequestError"}, True, [("BadRequestError", message)]) == C.BAD_REQUEST


def test_every_category_has_a_severity():
    for category in C:
        attributes = error_attributes(category)
        assert attributes[am.ERROR_CATEGORY] == category.value
        assert attributes[am.ERROR_SEVERITY] == SEVERITY_OF[category].value


def test_status_code_in_sdk_message_separates_503_from_500():
    # the openai SDK raises InternalServerError for every 5xx; its message keeps the code
    unavailable = [(None, "Error code: 503 - {'error': {'message': 'down', 'type': 'server_error'}}")]
    assert categorize({**CHAT, ga.ERROR_TYPE: "openai.InternalServerError"}, True, unavailable) == C.SERVICE_UNAVAILABLE
    internal = [(None, "Error code: 500 - {'error': {'message': 'oops'}}")]
    assert categorize({**CHAT, ga.ERROR_TYPE: "openai.InternalServerError"}, True, internal) == C.PROVIDER_ERROR


def test_class_decides_when_no_status_is_known():
    assert categorize({**CHAT, ga.ERROR_TYPE: "openai.APITimeoutError"}, True, [(None, "Request timed out.")]) == C.TIMEOUT
