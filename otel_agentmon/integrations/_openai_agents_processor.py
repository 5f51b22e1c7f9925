"""The Agents SDK tracing processor that turns the SDK's traces and spans into GenAI spans.

What becomes what (the SDK's span types are in ``agents.tracing.span_data``):

- a trace (one ``Runner.run``, or the user's ``with trace("name")`` around several) ->
  ``invoke_workflow {trace name}``, with ``gen_ai.conversation.id`` from the trace's group id;
- an agent span -> ``invoke_agent {agent name}``; after a handoff the next agent gets its own
  span beside the first, under the workflow;
- a function span (function tools, MCP tools, hosted tool callbacks) -> ``execute_tool {name}``,
  with ``gen_ai.tool.call.id`` when the model response that asked for the call is known (the
  SDK's function span has no call id; the response span before it, under the same parent, lists
  the calls, when the SDK keeps data: ``trace_include_sensitive_data``, its default); a failure the SDK recorded on it -> status ERROR and ``error.type`` (the exception's class
  when it propagated, else ``_OTHER``: the SDK turns a tool's exception into a message for
  the model and keeps only a message);
- generation and response spans (model calls) -> nothing while an instrumentor traces the
  openai SDK the model goes through (ours or a peer: its span is the call's one span, and
  nests under the agent because the agent span is current); otherwise ``chat {model}`` with
  the usage the SDK recorded. The SDK's LiteLLM and any-llm extension models count as going
  through the openai SDK for OpenAI and Azure OpenAI models (and any-llm through the anthropic
  SDK for Anthropic), as those libraries do; their other models are always reported from here;
- custom spans (``agents.custom_span("name")``) -> a plain span with that name;
- task, turn, handoff, guardrail, MCP list-tools and voice spans -> no span of their own:
  they are the SDK's bookkeeping (the agent and workflow spans already cover them), and
  their children nest under the nearest span above. A handoff shows as the next agent span,
  a tripped guardrail as the agent span's error.

Every span is current (in OpenTelemetry's context) while its SDK span is, which is what
places the model SDK's spans under the right agent.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Union

from agents.tracing import (
    AgentSpanData,
    CustomSpanData,
    FunctionSpanData,
    GenerationSpanData,
    ResponseSpanData,
    Span,
    Trace,
    TracingProcessor,
    get_current_trace,
)
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
    server_of_url,
    usage_attributes,
)
from otel_agentmon.semconv import gen_ai as ga

SCOPE = "otel_agentmon.integrations.openai_agents"

_Operation = ga.Operation
# the SDK's extension models (LiteLLM, any-llm) name themselves in model_config["model_impl"]
_EXTENSION_MODELS = frozenset({"litellm", "any-llm"})
_SDK_PACKAGE = "agents"


class _ToolCallIds:
    """Call ids of the tool calls a model response asked for, handed out to the function spans
    that follow under the same parent SDK span, by tool name in call order (the SDK starts
    the calls in that order)."""

    def __init__(self) -> None:
        self._by_parent: OpenRuns[str, dict[str, deque[str]]] = OpenRuns()

    def remember(self, parent_id: str | None, data: Any) -> None:
        calls = list(_requested_calls(data))
        if parent_id is None or not calls:
            return
        pending = self._by_parent.get(parent_id)
        if pending is None:
            pending = {}
            self._by_parent.add(parent_id, pending)
        for name, call_id in calls:
            pending.setdefault(name, deque()).append(call_id)

    def take(self, parent_id: str | None, name: str) -> str | None:
        pending = self._by_parent.get(parent_id) if parent_id is not None else None
        queue = pending.get(name) if pending is not None else None
        return queue.popleft() if queue else None

    def forget(self, parent_id: str) -> None:
        self._by_parent.pop(parent_id)


def _requested_calls(data: Any) -> Iterator[tuple[str, str]]:
    """(tool name, call id) of the function calls in a response or generation span's data."""
    response = getattr(data, "response", None)  # Responses API: the Response object
    if response is not None:
        for item in getattr(response, "output", None) or ():
            if getattr(item, "type", None) == "function_call":
                name, call_id = getattr(item, "name", None), getattr(item, "call_id", None)
                if isinstance(name, str) and isinstance(call_id, str):
                    yield name, call_id
    output = getattr(data, "output", None)
    if not isinstance(data, GenerationSpanData) or not isinstance(output, (list, tuple)):
        return
    for message in output:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or ():  # a chat completion message
            function = call.get("function") if isinstance(call, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            if isinstance(name, str) and isinstance(call.get("id"), str):
                yield name, call["id"]
        for item in message.get("output") or ():  # a Responses-shaped final response (streams)
            if isinstance(item, dict) and item.get("type") == "function_call":
                if isinstance(item.get("name"), str) and isinstance(item.get("call_id"), str):
                    yield item["name"], item["call_id"]


@dataclass
class _Open:
    """An SDK span or trace still open: what its children nest under, and our span for it."""

    parent: OTelSpan | None  # the OpenTelemetry span this one's children go under
    step: Union[Step, ModelCall, None]  # None: an SDK span with no span of its own


class AgentmonTracingProcessor(TracingProcessor):
    """``agents.add_trace_processor(AgentmonTracingProcessor())``, or ``instrument_openai_agents()``.

    ``model_spans``: None (default) reports model calls only when no instrumentor traces the
    openai SDK; True always; False never. ``workflow_spans=False`` leaves out the
    ``invoke_workflow`` span of each trace.
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None, model_spans: bool | None = None,
                 workflow_spans: bool = True) -> None:
        self._telemetry = Telemetry(SCOPE, tracer_provider, meter_provider)
        self._model_spans = model_spans
        self._workflow_spans = workflow_spans
        self._open: OpenRuns[str, _Open] = OpenRuns()
        self._tool_call_ids = _ToolCallIds()
        self.enabled = True

    # -- traces ------------------------------------------------------------------------------
    @guarded
    def on_trace_start(self, trace: Trace) -> None:
        if not self.enabled:
            return
        if not self._workflow_spans:
            self._open.add(trace.trace_id, _Open(None, None))
            return
        group_id = getattr(trace, "group_id", None)
        attributes = {ga.CONVERSATION_ID: group_id} if isinstance(group_id, str) and group_id else None
        step = self._telemetry.start_step(_Operation.INVOKE_WORKFLOW, trace.name, None, attributes)
        self._open.add(trace.trace_id, _Open(step.span, step))

    @guarded
    def on_trace_end(self, trace: Trace) -> None:
        entry = self._open.pop(trace.trace_id)
        if entry is not None and isinstance(entry.step, Step):
            entry.step.end()

    # -- spans -------------------------------------------------------------------------------
    @guarded
    def on_span_start(self, span: Span[Any]) -> None:
        if not self.enabled:
            return
        above = self._open.get(span.parent_id or span.trace_id)
        parent = above.parent if above is not None else None
        step = self._start(span, parent)
        self._open.add(span.span_id, _Open(step.span if step is not None else parent, step))

    def _start(self, span: Span[Any], parent: OTelSpan | None) -> Union[Step, ModelCall, None]:
        telemetry = self._telemetry
        data = span.span_data
        if isinstance(data, AgentSpanData):
            return telemetry.start_step(_Operation.INVOKE_AGENT, data.name, parent, _conversation())
        if isinstance(data, FunctionSpanData):
            call_id = self._tool_call_ids.take(span.parent_id, data.name)
            return telemetry.start_step(_Operation.EXECUTE_TOOL, data.name, parent,
                                        {ga.TOOL_CALL_ID: call_id} if call_id else None)
        if isinstance(data, GenerationSpanData):
            config = data.model_config if isinstance(data.model_config, dict) else {}
            model = data.model if isinstance(data.model, str) and data.model else None
            provider = _generation_provider(config, model)
            if not should_report(self._model_spans, _generation_sdk(config, provider)):
                return None
            address, port = server_of_url(config.get("base_url"))
            return telemetry.start_model_call(_Operation.CHAT, provider, model, parent, address, port)
        if isinstance(data, ResponseSpanData):
            if not should_report(self._model_spans, "openai"):
                return None
            # the SDK fills in the response (and so the model) only when the call returns
            return telemetry.start_model_call(_Operation.CHAT, ga.Provider.OPENAI, None, parent)
        if isinstance(data, CustomSpanData):
            return telemetry.start_plain(data.name, parent)
        return None

    @guarded
    def on_span_end(self, span: Span[Any]) -> None:
        self._tool_call_ids.forget(span.span_id)  # its children have all started by now
        if isinstance(span.span_data, (GenerationSpanData, ResponseSpanData)):
            self._tool_call_ids.remember(span.parent_id, span.span_data)
        entry = self._open.pop(span.span_id)
        if entry is None or entry.step is None:
            return
        error = span.error
        # the SDK records a failure as a message; the exception itself, when one is on its way
        # out through the SDK's span, gives error.type
        exception = _propagating_exception() if error else None
        if isinstance(entry.step, ModelCall):
            attributes = _model_attributes(span.span_data, entry.step)
            if exception is not None:
                entry.step.end(attributes, error=exception)
            else:
                entry.step.end(attributes, error_type=OTHER_ERROR if error else None,
                               description=_describe(error))
            return
        if not error:
            entry.step.end()
            return
        if exception is not None and isinstance(span.span_data, FunctionSpanData):
            # the SDK re-raises a tool's exception wrapped in its own UserError
            cause = exception.__cause__
            if cause is not None and type(exception).__module__.partition(".")[0] == _SDK_PACKAGE:
                exception = cause
        error_type = exception_error_type(exception) if exception is not None else OTHER_ERROR
        entry.step.end(error_type, _describe(error), exception)

    def shutdown(self) -> None:
        """The OpenTelemetry SDK's span processors own export; nothing is buffered here."""

    def force_flush(self) -> None:
        """See :meth:`shutdown`."""


def _conversation() -> dict[str, Any] | None:
    trace = get_current_trace()
    group_id = getattr(trace, "group_id", None) if trace is not None else None
    return {ga.CONVERSATION_ID: group_id} if isinstance(group_id, str) and group_id else None


def _generation_provider(config: dict[str, Any], model: str | None) -> str:
    if config.get("model_impl") not in _EXTENSION_MODELS:
        return ga.Provider.OPENAI  # OpenAIChatCompletionsModel
    named = config.get("provider")  # any-llm names it
    if not isinstance(named, str) and model and "/" in model:
        named = model.partition("/")[0]  # LiteLLM: "anthropic/claude-..."
    return provider_name(named if isinstance(named, str) else None, ga.Provider.OPENAI)


def _generation_sdk(config: dict[str, Any], provider: str) -> str | None:
    """The model SDK a generation span's call goes through, when an instrumentor may trace it:
    the SDK's own chat-completions model uses the openai SDK, and so do LiteLLM and any-llm
    for OpenAI and Azure OpenAI; any-llm uses the anthropic SDK for Anthropic."""
    impl = config.get("model_impl")
    if impl not in _EXTENSION_MODELS or provider in (ga.Provider.OPENAI, ga.Provider.AZURE_OPENAI):
        return "openai"
    if impl == "any-llm" and provider == ga.Provider.ANTHROPIC:
        return "anthropic"
    return None


def _model_attributes(data: Any, call: ModelCall) -> dict[str, Any]:
    usage = data.usage if isinstance(getattr(data, "usage", None), dict) else {}
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    attributes = usage_attributes(
        usage.get("input_tokens"), usage.get("output_tokens"),
        input_details.get("cached_tokens") if isinstance(input_details, dict) else None,
        input_details.get("cache_write_tokens") if isinstance(input_details, dict) else None,
        output_details.get("reasoning_tokens") if isinstance(output_details, dict) else None,
    )
    response = getattr(data, "response", None)  # a Responses call, when the SDK keeps data
    if response is not None:
        model = getattr(response, "model", None)
        if isinstance(model, str) and model:
            attributes[ga.RESPONSE_MODEL] = model
            if ga.REQUEST_MODEL not in call.inference.attributes:
                call.span.update_name(ga.span_name(_Operation.CHAT, model))
        response_id = getattr(response, "id", None)
        if isinstance(response_id, str) and response_id:
            attributes[ga.RESPONSE_ID] = response_id
    return attributes


def _propagating_exception() -> BaseException | None:
    """The exception unwinding through the SDK span's ``with`` block, if any.

    An exception being handled further out (the application runs an agent inside its own
    ``except`` block) is not this span's: only one raised through the SDK's frames counts.
    """
    exception = sys.exc_info()[1]
    if exception is None:
        return None
    traceback = exception.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.partition(".")[0] == _SDK_PACKAGE:
            return exception
        traceback = traceback.tb_next
    return None


def _describe(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    data = error.get("data")
    detail = data.get("error") if isinstance(data, dict) else None
    if isinstance(message, str) and isinstance(detail, str) and detail:
        return f"{message}: {detail}"
    return message if isinstance(message, str) else None
