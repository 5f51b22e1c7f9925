"""HTTP plumbing of the local provider server: sockets, routing, faults, start and stop."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import struct
import sys
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, Optional, Union
from urllib.parse import urlsplit

from . import _anthropic, _openai
from ._script import (
    FAULT_HEADER,
    REPLY_HEADER,
    Call,
    Fault,
    JSONResult,
    Plan,
    Reply,
    Result,
    ScriptQueue,
    StreamResult,
    new_id,
    parse_fault_header,
    parse_reply_header,
)

logger = logging.getLogger("otel_agentmon.provider_server")

_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Route:
    provider: str  # "openai", "anthropic" or "auto" (decided by the request headers)
    method: str
    handler: Callable[[Call], Result]
    scripted: bool  # consumes the reply/fault queue


def _models(call: Call) -> Result:
    if _looks_anthropic(call.headers):
        return _anthropic.models(call)
    return _openai.models(call)


_ROUTES: Dict[str, _Route] = {
    "/v1/chat/completions": _Route("openai", "POST", _openai.chat_completions, True),
    "/v1/responses": _Route("openai", "POST", _openai.responses, True),
    "/v1/embeddings": _Route("openai", "POST", _openai.embeddings, True),
    "/v1/models": _Route("auto", "GET", _models, False),
    "/v1/messages": _Route("anthropic", "POST", _anthropic.messages, True),
    "/v1/messages/count_tokens": _Route("anthropic", "POST", _anthropic.count_message_tokens, False),
}


def _looks_anthropic(headers: Dict[str, str]) -> bool:
    return "anthropic-version" in headers or "x-api-key" in headers


class _ClientGone(Exception):
    """The peer closed the connection, or the server is stopping: abandon the exchange."""


def _encode_sse(event: Optional[str], data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if event:
        return f"event: {event}\ndata: {text}\n\n".encode("utf-8")
    return f"data: {text}\n\n".encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "agentmon-provider/1"
    sys_version = ""
    server: "_HTTPServer"
    _answered = False  # whether a status line went out for the current request

    # ------------------------------------------------------------------ entry points

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        if self.server.owner.log_requests:
            logger.info("%s - %s", self.address_string(), format % args)

    def _handle(self) -> None:
        self._answered = False
        try:
            self._serve()
        except _ClientGone:
            self.close_connection = True
        except OSError:
            # The client went away while we were writing; nothing left to answer.
            self.close_connection = True
        except Exception:  # pragma: no cover - a bug in an endpoint; keep serving
            logger.exception("provider server failed to answer %s %s", self.command, self.path)
            self.close_connection = True
            if not self._answered:
                error = {"message": "internal error in the local provider server", "type": "server_error",
                         "param": None, "code": None}
                try:
                    self._send(JSONResult(body={"error": error}, status=500))
                except OSError:
                    pass

    # ------------------------------------------------------------------ request

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise _ClientGone()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        data = self.rfile.read(length) if length > 0 else b""
        if len(data) < length:
            raise _ClientGone()
        return data

    def _serve(self) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path
        headers = {key.lower(): value for key, value in self.headers.items()}
        request_id = new_id("req_", 24)

        route = _ROUTES.get(path)
        provider = route.provider if route else "auto"
        if provider == "auto":
            provider = "anthropic" if _looks_anthropic(headers) else "openai"

        def invalid(message: str) -> JSONResult:
            if provider == "anthropic":
                return _anthropic.invalid_request(message, request_id)
            return _openai.invalid_request(message)

        try:
            raw = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            owner._record(self.command, path, headers, None)
            self._send(invalid(str(exc)), request_id)
            return

        payload: Any = None
        body_error: Optional[str] = None
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                body_error = "We could not parse the JSON body of your request."
        owner._record(self.command, path, headers, payload)

        if route is None:
            if provider == "anthropic":
                self._send(_anthropic.not_found(self.command, path, request_id), request_id)
            else:
                self._send(_openai.not_found(self.command, path), request_id)
            return
        if self.command != route.method:
            if provider == "anthropic":
                self._send(_anthropic.method_not_allowed(self.command, path, request_id), request_id)
            else:
                self._send(_openai.method_not_allowed(self.command, path), request_id)
            return

        if body_error is None and route.method == "POST" and not isinstance(payload, dict):
            body_error = "The request body must be a JSON object."
        if body_error is not None:
            self._send(invalid(body_error), request_id)
            return

        try:
            plan = self._plan(owner, headers, route.scripted)
        except (TypeError, ValueError) as exc:
            self._send(invalid(str(exc)), request_id)
            return

        call = Call(body=payload if isinstance(payload, dict) else {}, headers=headers, plan=plan,
                    request_id=request_id)
        self._execute(route, call, path, _anthropic if provider == "anthropic" else _openai)

    def _plan(self, owner: "ProviderServer", headers: Dict[str, str], scripted: bool) -> Plan:
        fault_header = headers.get(FAULT_HEADER)
        reply_header = headers.get(REPLY_HEADER)
        fault = parse_fault_header(fault_header) if fault_header else None
        reply = parse_reply_header(reply_header) if reply_header else None
        if fault is None and reply is None and scripted:
            item = owner._queue.pop()
            if isinstance(item, Fault):
                fault = item
            elif isinstance(item, Reply):
                reply = item
        return Plan(reply=reply if reply is not None else owner.default_reply, fault=fault)

    # ------------------------------------------------------------------ faults and answers

    def _sleep(self, seconds: Optional[float]) -> None:
        if seconds and seconds > 0 and self.server.owner._stopping.wait(seconds):
            raise _ClientGone()

    def _execute(self, route: _Route, call: Call, path: str, provider: Any) -> None:
        fault = call.plan.fault
        if fault is not None:
            if fault.name == "timeout":
                self._sleep(fault.timeout_delay)
            else:
                self._sleep(fault.delay)
            if fault.name == "connection_reset" and not (call.stream and fault.after):
                self._reset()
                return
            if fault.is_status:
                self._send(provider.error_result(fault, call, path), call.request_id)
                return
            if fault.name == "malformed_sse" and not call.stream:
                self.close_connection = True
                self._send_bytes(200, b'{"id": "broken", "object": ', "application/json", {}, call.request_id)
                return
        self._sleep(call.plan.reply.delay)
        result = route.handler(call)
        if isinstance(result, StreamResult):
            self._stream(result, call)
        else:
            self._send(result, call.request_id)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and no response at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        finally:
            self.connection.close()

    # ------------------------------------------------------------------ writing

    def _common_headers(self, request_id: str) -> Dict[str, str]:
        return {"x-request-id": request_id, "request-id": request_id}

    def _send_bytes(self, status: int, data: bytes, content_type: str, headers: Dict[str, str],
                    request_id: str) -> None:
        self._answered = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in {**self._common_headers(request_id), **headers}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send(self, result: JSONResult, request_id: str = "") -> None:
        data = json.dumps(result.body, separators=(",", ":")).encode("utf-8")
        self._send_bytes(result.status, data, "application/json", result.headers, request_id or new_id("req_", 24))

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _stream(self, result: StreamResult, call: Call) -> None:
        fault = call.plan.fault
        cut: Optional[int] = None
        if fault is not None and fault.name == "malformed_sse":
            cut = fault.malformed_after
        elif fault is not None and fault.name == "connection_reset":
            cut = fault.after
        if cut is not None:
            self.close_connection = True

        self._answered = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in {**self._common_headers(call.request_id), **result.headers}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

        chunk_delay = call.plan.reply.chunk_delay
        events = result.events
        for index, (event, data) in enumerate(events):
            if cut is not None and index >= cut:
                break
            if index and chunk_delay:
                self._sleep(chunk_delay)
            self._write_chunk(_encode_sse(event, data))

        if fault is not None and fault.name == "connection_reset" and cut is not None:
            self._reset()
            return
        if fault is not None and fault.name == "malformed_sse":
            # Name the broken event like the one it replaces (never "ping", which SDKs skip unread).
            names = [name for name, _ in events[cut or 0:] + events[::-1] if name != "ping"]
            event_name = names[0] if names else None
            broken = (f"event: {event_name}\n" if event_name else "") + "data: {not json\n\n"
            self._write_chunk(broken.encode("utf-8"))
        self.wfile.write(b"0\r\n\r\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple, owner: "ProviderServer") -> None:
        self.owner = owner
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall
        # without DNS; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, _ClientGone)):
            return
        logger.exception("provider server: unhandled error for %s", client_address)


class ProviderServer:
    """A local HTTP server that answers like the OpenAI and Anthropic APIs.

    Args:
        host: address to bind (IPv4 or IPv6 literal); loopback by default.
        port: port to bind; 0 picks a free one (read it back from :attr:`port`).
        default_reply: what generation requests get when the queue is empty
            and no control header is sent (default: ``Reply()``).
        max_recorded: how many requests :attr:`requests` keeps.
        log_requests: log one line per request to the
            ``otel_agentmon.provider_server`` logger.

    Each connection is served by its own daemon thread, so many concurrent
    (streaming) clients are fine. See the package documentation of
    :mod:`otel_agentmon.provider_server` for the endpoints, the scripting model
    and the control headers.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_reply: Optional[Reply] = None,
        max_recorded: int = 1000,
        log_requests: bool = False,
    ) -> None:
        self._host = host
        self._requested_port = port
        self.default_reply: Reply = default_reply if default_reply is not None else Reply()
        self.log_requests = log_requests
        self._queue = ScriptQueue()
        self._requests: Deque[Dict[str, Any]] = deque(maxlen=max_recorded)
        self._stopping = threading.Event()
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "ProviderServer":
        """Bind and start serving in a background daemon thread; returns ``self``."""
        with self._lock:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            httpd = _HTTPServer((self._host, self._requested_port), self)
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"agentmon-provider-server:{httpd.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and wake stalled requests. Idempotent."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Start (if needed) and block until :meth:`stop` is called from another thread."""
        self.start()
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> "ProviderServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # ------------------------------------------------------------------ addresses

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ProviderServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` takes: the URL plus ``/v1``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """What ``anthropic.Anthropic(base_url=...)`` takes: the bare URL."""
        return self.url

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *items: Union[Reply, Fault]) -> "ProviderServer":
        """Queue replies/faults; the next scripted requests consume them in order."""
        self._queue.put(items)
        return self

    def clear(self) -> None:
        """Drop every queued item and every recorded request."""
        self._queue.clear()
        self._requests.clear()

    @property
    def pending(self) -> int:
        """Number of queued items not yet consumed."""
        return len(self._queue)

    @property
    def requests(self) -> Deque[Dict[str, Any]]:
        """Recently received requests (oldest first): ``{method, path, headers, json}``."""
        return self._requests

    def _record(self, method: str, path: str, headers: Dict[str, str], payload: Any) -> None:
        self._requests.append({"method": method, "path": path, "headers": headers, "json": payload})

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<ProviderServer {where} pending={self.pending}>"
