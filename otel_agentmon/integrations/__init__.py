"""Integrations with agent frameworks: spans for the agents, tools and workflows a framework
runs, with model calls seen exactly once.

- ``otel_agentmon.integrations.openai_agents``: the OpenAI Agents SDK (``openai-agents``),
  through its tracing-processor interface. ``instrument_openai_agents()``, or the
  ``agentmon_openai_agents`` entry point under ``opentelemetry-instrument``.
- ``otel_agentmon.integrations.langchain``: LangChain and LangGraph, through LangChain's
  callback system. ``instrument_langchain()``, ``AgentmonCallbackHandler``, or the
  ``agentmon_langchain`` entry point.

The rule for model calls is the same in both: a framework's model call that goes through an
SDK a GenAI instrumentor already traces (ours for openai and anthropic, or a peer) gets no
second span from the integration; any other model call gets a ``chat {model}`` span with
usage from the framework's own data. Importing these modules never imports the framework;
instrumenting without it installed raises ``ModuleNotFoundError`` (which
``opentelemetry-instrument`` skips quietly).
"""
