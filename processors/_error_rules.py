"""The error-category rules, as data: the Python processor and the collector config are both
generated from these tables, so the two categorize a span the same way.

Rules are tried in order: provider codes first (most specific), then the HTTP status code
(from ``http.response.status_code`` or the SDK's "Error code: NNN" message), then exception
class names. Names are matched on the last dotted part of ``error.type`` or of an
exception event's ``exception.type``.
"""

from __future__ import annotations

from otel_agentmon.semconv.errors import ErrorCategory as C

# Provider error codes and message fragments (lower case), searched in error.type and in the
# exception message: they say more than the exception class (a 400 can be a context overflow).
PROVIDER_CODE_RULES: tuple[tuple[str, C], ...] = (
    ("context_length_exceeded", C.CONTEXT_LENGTH_EXCEEDED),
    ("maximum context length", C.CONTEXT_LENGTH_EXCEEDED),
    ("prompt is too long", C.CONTEXT_LENGTH_EXCEEDED),
    ("context window", C.CONTEXT_LENGTH_EXCEEDED),
    ("content_filter", C.CONTENT_FILTER),
    ("content_policy_violation", C.CONTENT_FILTER),
    ("overloaded", C.SERVICE_UNAVAILABLE),
    ("rate_limit_exceeded", C.RATE_LIMIT),
)

# Exception class names from the openai, anthropic, httpx/httpx2 packages, the standard
# library, and otel-agentmon's own exceptions.
EXCEPTION_TYPE_RULES: dict[str, C] = {
    # rate limiting
    "RateLimitError": C.RATE_LIMIT,
    # timeouts
    "APITimeoutError": C.TIMEOUT,
    "TimeoutException": C.TIMEOUT,
    "ConnectTimeout": C.TIMEOUT,
    "ReadTimeout": C.TIMEOUT,
    "WriteTimeout": C.TIMEOUT,
    "PoolTimeout": C.TIMEOUT,
    "TimeoutError": C.TIMEOUT,
    "RequestTimeoutError": C.TIMEOUT,
    "GatewayTimeoutError": C.TIMEOUT,
    "DeadlineExceededError": C.TIMEOUT,
    # network
    "APIConnectionError": C.NETWORK_ERROR,
    "ConnectError": C.NETWORK_ERROR,
    "ReadError": C.NETWORK_ERROR,
    "WriteError": C.NETWORK_ERROR,
    "CloseError": C.NETWORK_ERROR,
    "NetworkError": C.NETWORK_ERROR,
    "TransportError": C.NETWORK_ERROR,
    "ProtocolError": C.NETWORK_ERROR,
    "RemoteProtocolError": C.NETWORK_ERROR,
    "LocalProtocolError": C.NETWORK_ERROR,
    "ProxyError": C.NETWORK_ERROR,
    "ConnectionError": C.NETWORK_ERROR,
    "ConnectionResetError": C.NETWORK_ERROR,
    "ConnectionRefusedError": C.NETWORK_ERROR,
    "ConnectionAbortedError": C.NETWORK_ERROR,
    "BrokenPipeError": C.NETWORK_ERROR,
    # credentials and permissions
    "AuthenticationError": C.AUTH_ERROR,
    "PermissionDeniedError": C.AUTH_ERROR,
    "CredentialsError": C.AUTH_ERROR,
    # the request itself
    "BadRequestError": C.BAD_REQUEST,
    "NotFoundError": C.BAD_REQUEST,
    "ConflictError": C.BAD_REQUEST,
    "UnprocessableEntityError": C.BAD_REQUEST,
    "RequestTooLargeError": C.BAD_REQUEST,
    "ContentTooLargeError": C.BAD_REQUEST,
    # content filtering
    "ContentFilterFinishReasonError": C.CONTENT_FILTER,
    # provider side
    "InternalServerError": C.PROVIDER_ERROR,
    "APIStatusError": C.PROVIDER_ERROR,
    "OverloadedError": C.SERVICE_UNAVAILABLE,
    "ServiceUnavailableError": C.SERVICE_UNAVAILABLE,
    # replies that cannot be read
    "APIResponseValidationError": C.VALIDATION_ERROR,
    "ValidationError": C.VALIDATION_ERROR,
    "JSONDecodeError": C.VALIDATION_ERROR,
    "DecodingError": C.VALIDATION_ERROR,
    "SSEError": C.VALIDATION_ERROR,
    # otel-agentmon's own
    "AgentTimeoutError": C.AGENT_TIMEOUT,
    "BudgetExceededError": C.BUDGET_EXCEEDED,
    "ToolError": C.TOOL_ERROR,
}

HTTP_STATUS_RULES: dict[int, C] = {
    400: C.BAD_REQUEST,
    401: C.AUTH_ERROR,
    402: C.AUTH_ERROR,
    403: C.AUTH_ERROR,
    404: C.BAD_REQUEST,
    408: C.TIMEOUT,
    409: C.BAD_REQUEST,
    413: C.BAD_REQUEST,
    422: C.BAD_REQUEST,
    429: C.RATE_LIMIT,
    500: C.PROVIDER_ERROR,
    502: C.SERVICE_UNAVAILABLE,
    503: C.SERVICE_UNAVAILABLE,
    504: C.TIMEOUT,
    529: C.SERVICE_UNAVAILABLE,
}

# The openai and anthropic SDKs start every status error message with "Error code: NNN": for
# spans whose instrumentor records only the exception class and message, the status code
# still separates a 503 from a 500 (both InternalServerError in the openai SDK).
STATUS_CODE_IN_MESSAGE = r"error code: (\d{3})"

# Any other 5xx is the provider's fault; any other 4xx is the caller's.
HTTP_5XX_DEFAULT = C.PROVIDER_ERROR
HTTP_4XX_DEFAULT = C.BAD_REQUEST

# Finish reasons of a reply that was refused by a content filter (no exception raised).
CONTENT_FILTER_FINISH_REASONS: frozenset[str] = frozenset({"content_filter", "refusal"})

# Exceptions in a tool are tool errors, whatever their class, except these categories, which
# say more than "the tool failed".
TOOL_ERROR_KEEPS: frozenset[C] = frozenset({C.BUDGET_EXCEEDED, C.AGENT_TIMEOUT})
