"""A local stand-in for the OpenAI and Anthropic APIs.

:class:`ProviderServer` is a small HTTP server (standard library only) that
speaks the OpenAI and Anthropic wire protocols closely enough for the real
``openai`` and ``anthropic`` Python SDKs to talk to it. Answers are scripted
and token usage is deterministic, and every common provider failure can be
injected, so instrumentation, demos and load tests run without network access
or API keys::

    from otel_agentmon.provider_server import ProviderServer, Reply, Fault

    with ProviderServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test")
        server.enqueue(Reply(text="hi", input_tokens=12, output_tokens=3), Fault("rate_limit"))
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])  # -> "hi"
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])  # -> RateLimitError

Endpoints
    ``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/embeddings``
    and ``GET /v1/models`` (OpenAI); ``POST /v1/messages``,
    ``POST /v1/messages/count_tokens`` and ``GET /v1/models`` (Anthropic, chosen
    when the request carries ``anthropic-version`` or ``x-api-key``). All of
    them support ``"stream": true`` where the real API does. Anything else
    answers 404 with a JSON error.

Scripting
    :meth:`ProviderServer.enqueue` appends :class:`Reply` and :class:`Fault`
    items to one FIFO shared by the generation endpoints (chat completions,
    responses, embeddings, messages); each request takes the next item, or the
    server's ``default_reply`` when the queue is empty. Models and token
    counting never consume the queue.

Per-request control (wins over the queue, and leaves it untouched)
    ``x-agentmon-fault: <name>[;delay=S][;retry_after=S][;after=N]`` selects a
    fault, ``x-agentmon-reply: <JSON object of Reply fields>`` a reply. Set them
    with the SDKs' ``default_headers=`` or ``extra_headers=``; this is what
    concurrent tests should use. A malformed control header is answered 400.

Faults (:data:`FAULTS`)
    ``rate_limit`` (429 + ``retry-after``), ``server_error`` (500),
    ``service_unavailable`` (503), ``overloaded`` (529), ``auth`` (401),
    ``context_length_exceeded`` (400), ``bad_request`` (400) each answer with the
    provider's own error body; ``content_filter`` answers 200 with a refused
    completion; ``timeout`` stalls ``delay`` seconds (default 5) and then
    answers normally; ``connection_reset`` aborts the TCP connection with an
    RST (after ``after`` stream events, if given); ``malformed_sse`` breaks a
    stream with an undecodable event after ``after`` events (default 2), or
    returns a non-JSON 200 body to a non-streaming request.

Recording
    :attr:`ProviderServer.requests` keeps the last ``max_recorded`` (1000)
    requests as ``{"method", "path", "headers" (lower-cased), "json"}``.

Run standalone with ``python -m otel_agentmon.provider_server --port 0``.
"""

from ._script import FAULTS, Fault, Reply, count_tokens
from ._server import ProviderServer

__all__ = ["FAULTS", "Fault", "ProviderServer", "Reply", "count_tokens"]
