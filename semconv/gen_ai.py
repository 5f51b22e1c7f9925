"""Upstream OpenTelemetry GenAI semantic convention names (semantic-conventions-genai).

Pinned to the registry as of 2026-11. Deprecated aliases that other instrumentors still emit
are kept (prefixed ``DEPRECATED_``) so processors can read spans from any of them.
"""

from typing import Final

# --- operation, provider, model -------------------------------------------------------
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_STREAM: Final = "gen_ai.request.stream"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
OUTPUT_TYPE: Final = "gen_ai.output.type"

REQUEST_SEED: Final = "gen_ai.request.seed"
REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
REQUEST_TOP_K: Final = "gen_ai.request.top_k"
REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

# --- usage ------------------------------------------------------------------------------
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"

# --- agents, tools, workflows -----------------------------------------------------------
AGENT_NAME: Final = "gen_ai.agent.name"
AGENT_ID: Final = "gen_ai.agent.id"
AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"
TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
WORKFLOW_NAME: Final = "gen_ai.workflow.name"

# --- content (opt-in) -------------------------------------------------------------------
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"

# --- evaluation events ------------------------------------------------------------------
EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"
EVALUATION_NAME: Final = "gen_ai.evaluation.name"
EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"

# --- general attributes GenAI spans carry ----------------------------------------------
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
USER_ID: Final = "user.id"
SERVICE_NAME: Final = "service.name"
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"

# --- deprecated names still emitted by other instrumentors (read-only) -----------------
DEPRECATED_SYSTEM: Final = "gen_ai.system"
DEPRECATED_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
DEPRECATED_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
DEPRECATED_USAGE_REASONING_TOKENS: Final = "gen_ai.usage.reasoning_tokens"
DEPRECATED_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
DEPRECATED_HTTP_STATUS_CODE: Final = "http.status_code"
DEPRECATED_LLM_REQUEST_TYPE: Final = "llm.request.type"
# Values of llm.request.type that denote a model call.
DEPRECATED_LLM_INFERENCE_REQUEST_TYPES: Final = frozenset({"chat", "completion", "embedding"})

# --- well-known values ------------------------------------------------------------------
class Operation:
    """Values of ``gen_ai.operation.name``."""

    CHAT: Final = "chat"
    TEXT_COMPLETION: Final = "text_completion"
    GENERATE_CONTENT: Final = "generate_content"
    EMBEDDINGS: Final = "embeddings"
    INVOKE_AGENT: Final = "invoke_agent"
    CREATE_AGENT: Final = "create_agent"
    EXECUTE_TOOL: Final = "execute_tool"
    INVOKE_WORKFLOW: Final = "invoke_workflow"


# Operations that call a model and are therefore priced. Agent, tool and workflow spans are
# never priced: their cost is the sum of the inference spans below them (no double counting).
INFERENCE_OPERATIONS: Final = frozenset(
    {Operation.CHAT, Operation.TEXT_COMPLETION, Operation.GENERATE_CONTENT, Operation.EMBEDDINGS}
)


class Provider:
    """Values of ``gen_ai.provider.name``."""

    OPENAI: Final = "openai"
    ANTHROPIC: Final = "anthropic"
    AZURE_OPENAI: Final = "azure.ai.openai"
    AWS_BEDROCK: Final = "aws.bedrock"
    GCP_VERTEX_AI: Final = "gcp.vertex_ai"
    GCP_GEMINI: Final = "gcp.gemini"
    GCP_GEN_AI: Final = "gcp.gen_ai"
    MISTRAL_AI: Final = "mistral_ai"
    X_AI: Final = "x_ai"
    DEEPSEEK: Final = "deepseek"
    GROQ: Final = "groq"
    COHERE: Final = "cohere"
    PERPLEXITY: Final = "perplexity"


class ToolType:
    """Values of ``gen_ai.tool.type``."""

    FUNCTION: Final = "function"  # executed by the application, with arguments the model chose
    EXTENSION: Final = "extension"  # executed on the agent side, calling an external API
    DATASTORE: Final = "datastore"  # a retrieval source the agent queries


class TokenType:
    """Values of ``gen_ai.token.type``."""

    INPUT: Final = "input"
    OUTPUT: Final = "output"


def span_name(operation: str, target: str | None) -> str:
    """The GenAI span name: ``"{operation} {model|agent|tool|workflow}"``, or the operation alone."""
    return f"{operation} {target}" if target else operation
