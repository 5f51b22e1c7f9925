"""The LangChain callback handler that turns LangChain and LangGraph runs into GenAI spans.

Which runs get a span (decided when the run starts, so names and attributes are set at start):

- a chain run named in ``agent_names`` -> ``invoke_agent {name}``, in ``workflow_names`` ->
  ``invoke_workflow {name}``, at any depth (name the sub-agents of a multi-agent graph so);
- otherwise a top-level chain run (no parent run this handler saw): a LangGraph graph
  (``create_react_agent``, ``langchain.agents.create_agent``, a hand-built ``StateGraph``) or a
  legacy ``AgentExecutor`` -> ``invoke_agent {run name}``; any other chain (an LCEL pipeline
  such as ``prompt | model | parser``) -> ``invoke_workflow {run name}``;
- other chain runs (graph nodes, sequences, prompts, parsers, routers) -> no span: they are
  the framework's plumbing, and their children nest under the nearest span above;
- a tool run -> ``execute_tool {tool name}`` with ``gen_ai.tool.call.id``; a raised exception,
  or a ``ToolMessage`` with status ``error`` (a handled tool error), -> status ERROR with
  ``error.type``;
- a chat model or LLM run -> no span while an instrumentor traces the SDK the model class goes
  through (ChatOpenAI and the other OpenAI-compatible classes: openai; ChatAnthropic:
  anthropic), since that SDK call has its span already, nested under the agent because the
  agent span is current; otherwise ``chat {model}`` / ``text_completion {model}`` with the
  usage LangChain reports;
- retriever runs -> no span (their children nest under the span above).

Runs are matched by ``run_id``/``parent_run_id``; a span is ended exactly once, on the run's
end or error callback. LangGraph's control-flow exceptions (interrupts, commands to a parent
graph) end a span without marking it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Mapping, Sequence, Union
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.trace import Span as OTelSpan

from otel_agentmon.integrations._model_calls import should_report
from otel_agentmon.integrations._providers import provider_name
from otel_agentmon.integrations._runs import OpenRuns
from otel_agentmon.integrations._spans import (
    OTHER_ERROR,
    ModelCall,
    Step,
    Telemetry,
    exception_error_type,
    guarded,
    usage_attributes,
)
from otel_agentmon.semconv import gen_ai as ga

SCOPE = "otel_agentmon.integrations.langchain"

_Operation = ga.Operation

# LangChain's ls_provider of model classes built on a model SDK our instrumentors cover
_SDK_OF_PROVIDER = {
    "openai": "openai",
    "azure": "openai",
    "deepseek": "openai",
    "xai": "openai",
    "anthropic": "anthropic",
}
_LANGGRAPH = "langgraph"  # LangGraph marks its graph runs with metadata ls_integration=langgraph
_AGENT_EXECUTOR = "AgentExecutor"
# LangGraph raises these to steer the graph (interrupt(), Command(graph=PARENT)): not failures
_CONTROL_FLOW = "GraphBubbleUp"


@dataclass
class _Run:
    parent: OTelSpan | None  # the OpenTelemetry span this run's children go under
    step: Union[Step, ModelCall, None]  # None: a run with no span of its own
    named: tuple[str, str | None] | None = None  # (operation, name) of a chain run with a span


class AgentmonCallbackHandler(BaseCallbackHandler):
    """``config={"callbacks": [AgentmonCallbackHandler()]}``, or ``instrument_langchain()`` for every run.

    ``model_spans``: None (default) reports model calls only when no instrumentor traces the
    model's SDK; True always; False never. ``agent_names`` / ``workflow_names``: run names
    that get ``invoke_agent`` / ``invoke_workflow`` spans at any depth.
    """

    # Run in the caller's context even in async runs (LangChain would otherwise run a sync
    # handler in a thread pool): making a span current only works from that context.
    run_inline = True
    raise_error = False

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None, model_spans: bool | None = None,
                 agent_names: Collection[str] = (), workflow_names: Collection[str] = ()) -> None:
        super().__init__()
        self._runs: OpenRuns[UUID, _Run] = OpenRuns()
        self.enabled = True
        self.configure(tracer_provider=tracer_provider, meter_provider=meter_provider, model_spans=model_spans,
                       agent_names=agent_names, workflow_names=workflow_names)

    def configure(self, *, tracer_provider: Any = None, meter_provider: Any = None, model_spans: bool | None = None,
                  agent_names: Collection[str] = (), workflow_names: Collection[str] = ()) -> None:
        """Set the options anew (the handler ``instrument_langchain`` registers lives as long as
        the process, since LangChain offers no way to unregister it)."""
        self._telemetry = Telemetry(SCOPE, tracer_provider, meter_provider)
        self._model_spans = model_spans
        self._agent_names = frozenset(agent_names)
        self._workflow_names = frozenset(workflow_names)

    # -- chains and graphs -------------------------------------------------------------------
    @guarded
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not self.enabled:
            return
        above = self._runs.get(parent_run_id)
        parent = above.parent if above is not None else None
        name = _run_name(serialized, kwargs)
        operation = self._chain_operation(name, top_level=above is None, metadata=metadata)
        # a compiled graph added as a node runs twice under one name (the node, then the graph
        # inside it): one span for both
        if operation is None or (above is not None and above.named == (operation, name)):
            self._runs.add(run_id, _Run(parent, None, above.named if above is not None else None))
            return
        step = self._telemetry.start_step(operation, name, parent)
        self._runs.add(run_id, _Run(step.span, step, (operation, name)))

    def _chain_operation(self, name: str | None, top_level: bool, metadata: Mapping[str, Any] | None) -> str | None:
        if name in self._agent_names:
            return _Operation.INVOKE_AGENT
        if name in self._workflow_names:
            return _Operation.INVOKE_WORKFLOW
        if not top_level:
            return None
        if (metadata or {}).get("ls_integration") == _LANGGRAPH or name == _AGENT_EXECUTOR:
            return _Operation.INVOKE_AGENT
        return _Operation.INVOKE_WORKFLOW

    @guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_step(run_id)

    @guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if any(cls.__name__ == _CONTROL_FLOW for cls in type(error).__mro__):
            self._end_step(run_id)
        else:
            self._end_step(run_id, error)

    # -- tools -------------------------------------------------------------------------------
    @guarded
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        if not self.enabled:
            return
        above = self._runs.get(parent_run_id)
        parent = above.parent if above is not None else None
        call_id = kwargs.get("tool_call_id")
        attributes = {ga.TOOL_CALL_ID: call_id} if isinstance(call_id, str) and call_id else None
        step = self._telemetry.start_step(_Operation.EXECUTE_TOOL, _run_name(serialized, kwargs), parent, attributes)
        self._runs.add(run_id, _Run(step.span, step))

    @guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.pop(run_id)
        if run is None or not isinstance(run.step, Step):
            return
        if getattr(output, "status", None) == "error":  # a ToolMessage for an error the tool handled
            content = getattr(output, "content", None)
            run.step.end(OTHER_ERROR, content if isinstance(content, str) else None)
        else:
            run.step.end()

    @guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_step(run_id, error)

    # -- retrievers (no span; their children nest under the span above) ---------------------
    @guarded
    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        if self.enabled:
            above = self._runs.get(parent_run_id)
            self._runs.add(run_id, _Run(above.parent if above is not None else None, None))

    @guarded
    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.pop(run_id)

    @guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.pop(run_id)

    # -- model calls -------------------------------------------------------------------------
    @guarded
    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *, run_id: UUID,
                            parent_run_id: UUID | None = None, tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._start_model(_Operation.CHAT, run_id, parent_run_id, metadata, kwargs)

    @guarded
    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._start_model(_Operation.TEXT_COMPLETION, run_id, parent_run_id, metadata, kwargs)

    def _start_model(self, operation: str, run_id: UUID, parent_run_id: UUID | None,
                     metadata: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        above = self._runs.get(parent_run_id)
        parent = above.parent if above is not None else None
        metadata = metadata or {}
        ls_provider = metadata.get("ls_provider")
        ls_provider = ls_provider if isinstance(ls_provider, str) else None
        if not should_report(self._model_spans, _SDK_OF_PROVIDER.get(ls_provider or "")):
            self._runs.add(run_id, _Run(parent, None))
            return
        call = self._telemetry.start_model_call(operation, provider_name(ls_provider, ga.Provider.OPENAI),
                                                _model_name(metadata, kwargs), parent)
        self._runs.add(run_id, _Run(call.span, call))

    @guarded
    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.step, ModelCall):
            run.step.first_chunk()

    @guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.pop(run_id)
        if run is not None and isinstance(run.step, ModelCall):
            run.step.end(_response_attributes(response))

    @guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.pop(run_id)
        if run is not None and isinstance(run.step, ModelCall):
            run.step.end(error=error)

    # -- ending ------------------------------------------------------------------------------
    def _end_step(self, run_id: UUID, error: BaseException | None = None) -> None:
        run = self._runs.pop(run_id)
        if run is None or not isinstance(run.step, Step):
            return
        if error is None:
            run.step.end()
        else:
            run.step.end(exception_error_type(error), str(error), error)


def _run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        path = serialized.get("id")
        if isinstance(path, list) and path and isinstance(path[-1], str):
            return path[-1]
    return None


def _model_name(metadata: Mapping[str, Any], kwargs: Mapping[str, Any]) -> str | None:
    model = metadata.get("ls_model_name")
    if isinstance(model, str) and model:
        return model
    params = kwargs.get("invocation_params")
    if isinstance(params, Mapping):
        for key in ("model", "model_name"):
            model = params.get(key)
            if isinstance(model, str) and model:
                return model
    return None


def _response_attributes(response: Any) -> dict[str, Any]:
    """Usage, response model and id, finish reasons from an LLMResult: the message's
    ``usage_metadata`` (LangChain's provider-neutral shape) first, else ``llm_output``."""
    generations: Sequence[Any] = [g for batch in getattr(response, "generations", None) or () for g in batch]
    attributes: dict[str, Any] = {}
    reasons: list[str] = []
    for generation in generations:
        message = getattr(generation, "message", None)
        usage = getattr(message, "usage_metadata", None)
        if isinstance(usage, Mapping) and not attributes:
            input_details = usage.get("input_token_details") or {}
            output_details = usage.get("output_token_details") or {}
            attributes.update(usage_attributes(
                usage.get("input_tokens"), usage.get("output_tokens"),
                input_details.get("cache_read"), input_details.get("cache_creation"),
                output_details.get("reasoning")))
        metadata = getattr(message, "response_metadata", None) or {}
        info = getattr(generation, "generation_info", None) or {}
        reason = info.get("finish_reason") or metadata.get("finish_reason") or metadata.get("stop_reason")
        if isinstance(reason, str) and reason:
            reasons.append(reason)
        model = metadata.get("model_name") or metadata.get("model")
        if isinstance(model, str) and model:
            attributes.setdefault(ga.RESPONSE_MODEL, model)
        response_id = metadata.get("id")
        if isinstance(response_id, str) and response_id:
            attributes.setdefault(ga.RESPONSE_ID, response_id)
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, Mapping):
        if ga.USAGE_INPUT_TOKENS not in attributes:
            usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
            if isinstance(usage, Mapping):
                attributes.update(usage_attributes(usage.get("prompt_tokens", usage.get("input_tokens")),
                                                   usage.get("completion_tokens", usage.get("output_tokens"))))
        model = llm_output.get("model_name") or llm_output.get("model")
        if isinstance(model, str) and model:
            attributes.setdefault(ga.RESPONSE_MODEL, model)
    if reasons:
        attributes[ga.RESPONSE_FINISH_REASONS] = tuple(reasons)
    return attributes
