"""The closed sets of error categories and severities (``agentmon.error.*``)."""

from enum import Enum


class ErrorCategory(str, Enum):
    """What kind of failure a span records; the value of ``agentmon.error.category``."""

    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    AUTH_ERROR = "auth_error"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    CONTENT_FILTER = "content_filter"
    PROVIDER_ERROR = "provider_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    VALIDATION_ERROR = "validation_error"
    AGENT_TIMEOUT = "agent_timeout"
    TOOL_ERROR = "tool_error"
    BUDGET_EXCEEDED = "budget_exceeded"
    UNKNOWN_ERROR = "unknown_error"


class ErrorSeverity(str, Enum):
    """How urgently a human must act; the value of ``agentmon.error.severity``."""

    CRITICAL = "critical"  # broken for everyone until someone acts (credentials, budget)
    WARNING = "warning"  # capacity or transient trouble: alert when sustained
    MEDIUM = "medium"  # this request was wrong or refused; fix the caller


SEVERITY_OF: dict[ErrorCategory, ErrorSeverity] = {
    ErrorCategory.RATE_LIMIT: ErrorSeverity.WARNING,
    ErrorCategory.TIMEOUT: ErrorSeverity.WARNING,
    ErrorCategory.NETWORK_ERROR: ErrorSeverity.WARNING,
    ErrorCategory.AUTH_ERROR: ErrorSeverity.CRITICAL,
    ErrorCategory.BAD_REQUEST: ErrorSeverity.MEDIUM,
    ErrorCategory.CONTEXT_LENGTH_EXCEEDED: ErrorSeverity.MEDIUM,
    ErrorCategory.CONTENT_FILTER: ErrorSeverity.MEDIUM,
    ErrorCategory.PROVIDER_ERROR: ErrorSeverity.WARNING,
    ErrorCategory.SERVICE_UNAVAILABLE: ErrorSeverity.WARNING,
    ErrorCategory.VALIDATION_ERROR: ErrorSeverity.MEDIUM,
    ErrorCategory.AGENT_TIMEOUT: ErrorSeverity.WARNING,
    ErrorCategory.TOOL_ERROR: ErrorSeverity.MEDIUM,
    ErrorCategory.BUDGET_EXCEEDED: ErrorSeverity.CRITICAL,
    ErrorCategory.UNKNOWN_ERROR: ErrorSeverity.WARNING,
}
