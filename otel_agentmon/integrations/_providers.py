"""``gen_ai.provider.name`` from the provider names frameworks use (LangChain's ``ls_provider``,
LiteLLM's model prefixes, any-llm's provider ids)."""

from __future__ import annotations

from otel_agentmon.semconv import gen_ai as ga

_P = ga.Provider

# framework spelling -> GenAI convention value; a spelling not listed is passed through as is
_ALIASES = {
    "openai": _P.OPENAI,
    "azure": _P.AZURE_OPENAI,
    "azure_openai": _P.AZURE_OPENAI,
    "anthropic": _P.ANTHROPIC,
    "bedrock": _P.AWS_BEDROCK,
    "amazon_bedrock": _P.AWS_BEDROCK,
    "bedrock_converse": _P.AWS_BEDROCK,
    "google_vertexai": _P.GCP_VERTEX_AI,
    "vertex_ai": _P.GCP_VERTEX_AI,
    "google_genai": _P.GCP_GEN_AI,
    "gemini": _P.GCP_GEMINI,
    "mistralai": _P.MISTRAL_AI,
    "mistral": _P.MISTRAL_AI,
    "xai": _P.X_AI,
    "deepseek": _P.DEEPSEEK,
    "groq": _P.GROQ,
    "cohere": _P.COHERE,
    "perplexity": _P.PERPLEXITY,
}


def provider_name(framework_name: str | None, default: str) -> str:
    if not framework_name:
        return default
    key = framework_name.strip().lower()
    return _ALIASES.get(key, key or default)
