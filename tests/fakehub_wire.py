"""The HTTP side of the fake Hub (``fakehub.py``): its answers, its routes, the requests it records, and
the threaded HTTP/1.1 server whose handler turns each request into one ``FakeHub._handle`` call.

Stdlib only, like fakehub.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from fakehub import FakeHub

__all__ = [
    "ACCESS_ROUTES",
    "API_ROUTES",
    "AUDIT_ROUTE",
    "AUTH_ROUTES",
    "DROP",
    "GROUPS_ROUTE",
    "GROUP_MEMBERS_ROUTE",
    "LIST_ROUTE",
    "LOGIN_ROUTES",
    "MEMBERS_ROUTE",
    "REPO_GROUPS_ROUTE",
    "TAGS_ROUTE",
    "TOKENS_ROUTE",
    "TOKEN_ROUTE",
    "HubServer",
    "RecordedRequest",
    "Reply",
    "reply_error",
    "reply_json",
    "reply_text",
    "seconds",
]

LIST_ROUTE = re.compile(r"^/v2/namespaces/([^/]+)/repositories/?$")
TAGS_ROUTE = re.compile(r"^/v2/namespaces/([^/]+)/repositories/([^/]+)/tags/?$")
AUDIT_ROUTE = re.compile(r"^/v2/auditlogs/([^/]+)/?$")
MEMBERS_ROUTE = re.compile(r"^/v2/orgs/([^/]+)/members/?$")
GROUPS_ROUTE = re.compile(r"^/v2/orgs/([^/]+)/groups/?$")
GROUP_MEMBERS_ROUTE = re.compile(r"^/v2/orgs/([^/]+)/groups/([^/]+)/members/?$")
REPO_GROUPS_ROUTE = re.compile(r"^/v2/repositories/([^/]+)/([^/]+)/groups/?$")
TOKENS_ROUTE = re.compile(r"^/v2/orgs/([^/]+)/access-tokens/?$")
TOKEN_ROUTE = re.compile(r"^/v2/orgs/([^/]+)/access-tokens/([^/]+)/?$")
ACCESS_ROUTES = (
    MEMBERS_ROUTE,
    GROUPS_ROUTE,
    GROUP_MEMBERS_ROUTE,
    REPO_GROUPS_ROUTE,
    TOKENS_ROUTE,
    TOKEN_ROUTE,
)
API_ROUTES = (LIST_ROUTE, TAGS_ROUTE, AUDIT_ROUTE, *ACCESS_ROUTES)
AUTH_ROUTES = ("/v2/auth/token", "/v2/auth/token/")
LOGIN_ROUTES = ("/v2/users/login", "/v2/users/login/")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # URL path without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    started: float  # time.monotonic() when the request line was parsed
    ended: float  # time.monotonic() just before the response was written (or the socket dropped)
    status: int = 0  # status answered; 0 when the connection was dropped


class Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


DROP = None  # a handler returning this closes the socket without a response


def reply_json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Reply(status, body, "application/json", headers)


def reply_error(status: int, detail: str, **extra: Any) -> Reply:
    # The spec's `error` schema: {errinfo, detail, message}.
    return reply_json(status, {"detail": detail, "errinfo": {}, "message": detail, **extra})


def reply_text(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    # The Hub's abuse limiter and load balancers answer plain text, not JSON.
    return Reply(status, text.encode(), "text/plain; charset=utf-8", headers)


def seconds(value: float) -> str:
    # "1", "0.2", "60": fractional values stay fractional so fast tests can use them.
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients may connect at once

    def __init__(self, address: tuple[str, int], hub: FakeHub) -> None:
        self.hub = hub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]  # type: ignore[assignment]

    def track(self, connection: socket.socket, active: bool) -> None:
        with self._connections_lock:
            (self._connections.add if active else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # client went away or the hub was stopped mid-request: not our bug
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so httpx can pool connections
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections release their thread eventually
    server: HubServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silence the per-request stderr line

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self, headers: dict[str, str]) -> bytes | None:
        """The request body, or None after answering a body this server refuses (and closing)."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            self._write(reply_error(411, "Length Required"))
            return None
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._write(reply_error(400, "Invalid Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        hub = self.server.hub
        started = time.monotonic()
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = self._read_body(headers)
        if body is None:
            return

        is_list = self.command == "GET" and any(route.match(split.path) for route in API_ROUTES)
        if is_list:
            hub._enter_list()
        try:
            if hub.faults.latency > 0:
                time.sleep(hub.faults.latency)
            reply = hub._handle(self.command, split.path, query, headers, body)
        except Exception:  # noqa: BLE001 - a bug here must still answer, or the client would hang
            traceback.print_exc()
            reply = reply_text(500, "Internal Server Error")
        # Bookkeeping before writing, so a client that saw the reply also sees it here.
        if is_list:
            hub._leave_list()
        hub._record(
            RecordedRequest(
                method=self.command,
                path=split.path,
                query=query,
                headers=headers,
                body=body,
                started=started,
                ended=time.monotonic(),
                status=0 if reply is None else reply.status,
            )
        )
        if reply is None:
            self.close_connection = True  # nothing written: the client sees a bare disconnect
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        # One write for head and body: no Nagle/delayed-ACK stalls, no half-sent responses.
        lines = [
            f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)
