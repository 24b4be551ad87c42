"""A Docker-Hub-compatible HTTP server for tests, benchmarks and manual use.

It serves the routes the exporter needs, over real HTTP/1.1 on loopback, so
httpx connection pooling, timeouts and transport errors behave as in production:

- ``POST /v2/auth/token``  (``AuthCreateAccessToken``) -> ``{"access_token": JWT}``
- ``POST /v2/users/login`` (``PostUsersLogin``, deprecated) -> ``{"token": JWT}``
- ``GET /v2/namespaces/{namespace}/repositories`` (``listNamespaceRepositories``)
- ``GET /v2/namespaces/{namespace}/repositories/{repository}/tags`` (``ListRepositoryTags``, in the live
  API's shape: ``tag_status``, ``images`` a list)
- ``GET /v2/auditlogs/{account}`` (``AuditLogs_GetAuditLogs``: ``{"logs": [...]}``, no count, no next)

With ``Faults.quota`` every API answer announces a fixed-window budget in ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset``, and a request over it answers 429 with ``Retry-After``. The history
helpers (`push_tag`, `delete_tag`, `pull`, `create_repo`, `delete_repo`, `set_privacy`) change the data
the way the real Hub does, audit-log events included.

Behaviour follows Docker's OpenAPI spec and the findings in
``/work/shared/notes/dockerhub-api.md``; ``Faults`` injects latency, 429/503s,
dropped connections, expiring tokens and 2FA answers. Stdlib only, so it imports
fast in any venv and also runs as a script::

    python tests/fakehub.py --org acme --repos 1000 --token secret-oat --port 8080
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from hubdata import audit_event, hub_time, make_repos, make_tag, make_tags

__all__ = ["FakeHub", "Faults", "RecordedRequest", "make_repos", "make_tags"]

ORDERINGS = ("name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count")
TWO_FA_DETAIL = "Require secondary authentication on MFA enabled account"  # what hub-tool matches on
BAD_CREDENTIALS = "Incorrect authentication credentials"
# Namespaces bigger than this get their filtered/sorted views cached (see FakeHub.invalidate_cache).
_CACHE_MIN_REPOS = 2000


@dataclass
class Faults:
    """Misbehaviour to inject. Mutable at runtime: tests flip fields between calls."""

    latency: float = 0.0  # seconds slept before answering every request
    rate_limit_every: int = 0  # every Nth list request answers 429
    retry_after: float = 1.0  # seconds announced on those 429s
    rate_limit_header: str = "Retry-After"  # or "X-RateLimit-Reset", "X-Retry-After" (epoch), "none"
    fail_503_every: int = 0  # every Nth list request answers 503
    drop_every: int = 0  # every Nth list request: close the socket, send nothing
    # page -> statuses answered for that page, one consumed per request (0 = drop the connection)
    fail_pages: dict[int, list[int]] = field(default_factory=dict)
    auth_token_route: bool = True  # False: /v2/auth/token is 404, clients must fall back to users/login
    login_rate_limited: bool = False  # both login routes answer 429
    require_2fa: bool = False  # valid credentials still get the "second factor required" 401
    # Seconds until the server rejects a JWT (real Hub: 10 minutes). From 60 s up, iat/exp are whole
    # seconds like the real Hub's; below, they are fractional so sub-second test lifetimes are exact.
    jwt_lifetime: float = 600.0
    jwt_has_exp: bool = True  # False: no exp claim, the client only learns via 401
    next_link_base: str | None = None  # next/previous links point here instead of at this server
    omit_count: bool = False  # list responses carry no "count" key
    # repository name -> statuses answered for its tag requests, one consumed per request (0 = drop)
    fail_tags: dict[str, list[int]] = field(default_factory=dict)
    audit_status: int = 0  # 403 / 404: audit logs are not part of the plan (whatever the token)
    quota: int = 0  # requests per window announced in X-RateLimit-* headers; 0 = no announced budget
    quota_window: float = 60.0  # seconds per fixed window
    page_size_cap: int = 0  # pages never hold more, whatever page_size asks (2023: the Hub gave 25)


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


class _Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


_DROP = None  # a handler returning this closes the socket without a response


def _json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Reply:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return _Reply(status, body, "application/json", headers)


def _error(status: int, detail: str, **extra: Any) -> _Reply:
    # The spec's `error` schema: {errinfo, detail, message}.
    return _json(status, {"detail": detail, "errinfo": {}, "message": detail, **extra})


def _text(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> _Reply:
    # The Hub's abuse limiter and load balancers answer plain text, not JSON.
    return _Reply(status, text.encode(), "text/plain; charset=utf-8", headers)


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _seconds(value: float) -> str:
    # "1", "0.2", "60": fractional values stay fractional so fast tests can use them.
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _ts_key(value: str) -> str:
    # Hub timestamps have 0-9 fractional digits, so plain string order is wrong
    # ("...:58Z" > "...:58.5Z"); pad the fraction to 9 digits before comparing.
    if len(value) > 20 and value[19] == ".":
        return value[:19] + value[20:].rstrip("Z").ljust(9, "0")
    return value[:19] + "000000000"


def _sort_key(ordering: str) -> Callable[[dict[str, Any]], Any]:
    field_name = ordering.lstrip("-")
    if field_name == "name":
        return lambda r: r.get("name") or ""
    if field_name == "last_updated":
        # (is None, value): ascending puts nulls last, descending first, like PostgreSQL.
        return lambda r: (r.get("last_updated") is None, _ts_key(r.get("last_updated") or ""))
    return lambda r: (r.get("pull_count") is None, r.get("pull_count") or 0)


def _paging(query: dict[str, list[str]], default_size: int, cap: int) -> tuple[int, int, _Reply | None]:
    """(page, page_size, None) or (0, 0, a 400 reply); a ``cap`` (0: none) shrinks every page to it."""
    try:
        page_size = int((query.get("page_size") or [""])[-1] or default_size)
        page = int((query.get("page") or [""])[-1] or 1)
    except ValueError:
        return 0, 0, _error(400, "page and page_size must be integers")
    if not 1 <= page_size <= 100:
        return 0, 0, _error(400, "page_size must be between 1 and 100")
    if page < 1:
        return 0, 0, _error(400, "page must be 1 or greater")
    return page, min(page_size, cap) if cap else page_size, None


class _View(NamedTuple):
    source: list[dict[str, Any]]  # held so its id() cannot be reused while cached
    length: int
    items: list[dict[str, Any]]


_LIST_ROUTE = re.compile(r"^/v2/namespaces/([^/]+)/repositories/?$")
_TAGS_ROUTE = re.compile(r"^/v2/namespaces/([^/]+)/repositories/([^/]+)/tags/?$")
_AUDIT_ROUTE = re.compile(r"^/v2/auditlogs/([^/]+)/?$")
_API_ROUTES = (_LIST_ROUTE, _TAGS_ROUTE, _AUDIT_ROUTE)
_AUTH_ROUTES = ("/v2/auth/token", "/v2/auth/token/")
_LOGIN_ROUTES = ("/v2/users/login", "/v2/users/login/")


@dataclass(eq=False, repr=False)  # identity semantics; the default repr would dump every repository
class FakeHub:
    """The fake Hub. ``with FakeHub(repos, credentials) as hub: httpx.get(hub.url + ...)``.

    ``credentials`` maps a secret to ``(identifier, scope)``: scope ``"all"`` sees private
    repositories (in every namespace) and the audit log, ``"all-noaudit"`` the repositories but not
    the audit log (no ``scope-activity-read``), ``"public"`` silently sees public repositories only,
    like an OAT without ``scope-repository-list``. ``tags`` maps (namespace, repository) to its tags,
    newest first; ``audit`` an account to its events.
    """

    repos: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    tags: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    audit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list, init=False)
    max_in_flight: int = field(default=0, init=False)
    list_requests_seen: int = field(default=0, init=False)  # the shared fault counter
    quota_rejections: int = field(default=0, init=False)  # 429s answered for going over `quota`

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._secret = os.urandom(32)
        self._token_deadlines: dict[str, float] = {}  # jti -> time.time() deadline (server-side expiry)
        self._views: dict[tuple[str, bool, str, str], _View] = {}
        self._window: tuple[float, int] = (0.0, 0)  # (start of the quota window, requests taken in it)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = int(self._server.server_address[1])
            # A short poll interval keeps stop() fast; idle polling costs nothing measurable.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                daemon=True,
                name=f"fakehub:{self.port}",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()  # keep-alive handlers would otherwise keep serving
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        sizes = ", ".join(f"{ns}: {len(items)}" for ns, items in self.repos.items())
        return f"FakeHub({self.url}, repos={{{sizes}}}, requests={len(self.requests)}, faults={self.faults})"

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.list_requests_seen = 0
            self.max_in_flight = 0
            self.quota_rejections = 0

    def invalidate_cache(self) -> None:
        """Forget cached views; only needed after editing, in place and without changing its
        length, a namespace list longer than 2,000 repositories (replacing or resizing is detected)."""
        self._views.clear()

    def issue_token(self, identifier: str, scope: str) -> str:
        """Mint a JWT as the login routes do (handy for tests that skip logging in)."""
        now = time.time()
        lifetime = self.faults.jwt_lifetime
        deadline = now + lifetime  # enforced server-side, with or without an exp claim
        if lifetime >= 60:
            # Whole seconds like real JWTs; exp <= deadline, so a client trusting it renews safely early.
            iat: float = int(now)
            exp: float = int(deadline)
        else:
            # Short test lifetimes need sub-second precision (RFC 7519 NumericDate may be fractional).
            iat, exp = round(now, 3), round(deadline, 3)
            deadline = exp
        jti = _b64url(os.urandom(12)).decode()
        claims: dict[str, Any] = {"sub": identifier, "iat": iat, "jti": jti, "scope": scope}
        if self.faults.jwt_has_exp:
            claims["exp"] = exp
        with self._lock:
            self._token_deadlines[jti] = deadline
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = header + b"." + payload
        signature = _b64url(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        return (signing_input + b"." + signature).decode()

    # -- request handling (HTTP-agnostic; _Handler does the I/O) ------------------------------

    def _handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> _Reply | None:
        for route, serve in (
            (_LIST_ROUTE, self._list),
            (_TAGS_ROUTE, self._tags),
            (_AUDIT_ROUTE, self._audit),
        ):
            match = route.match(path)
            if match:
                if method != "GET":
                    return _json(405, {"detail": f'Method "{method}" not allowed.'})
                over, announced = self._take_quota()
                if over is not None:
                    return over
                reply = serve(*match.groups(), query, headers)  # type: ignore[operator]
                return reply if reply is None else reply._replace(headers=reply.headers + announced)
        if path in _AUTH_ROUTES or path in _LOGIN_ROUTES:
            if method != "POST":
                return _json(405, {"detail": f'Method "{method}" not allowed.'})
            return self._login(path in _AUTH_ROUTES, body)
        return _error(404, "Not found")

    def _login(self, new_route: bool, body: bytes) -> _Reply:
        faults = self.faults
        if new_route and not faults.auth_token_route:
            return _error(404, "Not found")
        if faults.login_rate_limited:
            return _text(429, "Too Many Requests", (("Retry-After", "60"),))
        id_key, secret_key = ("identifier", "secret") if new_route else ("username", "password")
        try:
            data = json.loads(body)
            identifier, secret = data[id_key], data[secret_key]
            if not isinstance(identifier, str) or not isinstance(secret, str):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            return _error(400, f"Body must be a JSON object with string fields {id_key!r} and {secret_key!r}")
        known = self.credentials.get(secret)
        # Hub account and org names are case-insensitive.
        if known is None or known[0].lower() != identifier.lower():
            if new_route:
                return _error(401, BAD_CREDENTIALS)
            return _json(401, {"detail": BAD_CREDENTIALS, "login_2fa_token": None})
        if faults.require_2fa:
            if new_route:
                return _error(
                    401,
                    "Two-factor authentication (2FA) is enabled on this account: use a personal access token",
                    login_2fa_token="abc",
                )
            return _json(401, {"detail": TWO_FA_DETAIL, "login_2fa_token": "abc"})
        token = self.issue_token(known[0], known[1])
        return _json(200, {"access_token": token} if new_route else {"token": token})

    def _authorize(self, authorization: str) -> tuple[dict[str, Any] | None, _Reply | None]:
        """(claims, None) for a valid JWT, else (None, 401 reply)."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "jwt"):  # "JWT <token>" is the pre-2019 spelling
            return None, _error(401, "Authentication credentials were not provided.")
        try:
            header, payload, signature = token.strip().split(".")
            expected = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64url_decode(signature), expected):
                raise ValueError("bad signature")
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
            deadline = self._token_deadlines[claims["jti"]]
        except (ValueError, KeyError, TypeError):
            return None, _error(401, "Invalid token")
        if time.time() >= deadline:
            return None, _error(401, "token expired")
        return claims, None

    def _list_fault(self, query: dict[str, list[str]]) -> tuple[bool, _Reply | None]:
        """(True, reply or _DROP) when a fault hits this list request, else (False, None)."""
        faults = self.faults
        try:
            page = int(query.get("page", ["1"])[-1] or 1)
        except ValueError:
            page = 0
        with self._lock:
            self.list_requests_seen += 1
            n = self.list_requests_seen
            pending = faults.fail_pages.get(page)
            status = pending.pop(0) if pending else None
        if status is None:  # fail_pages takes precedence over the periodic faults
            if faults.drop_every > 0 and n % faults.drop_every == 0:
                status = 0
            elif faults.fail_503_every > 0 and n % faults.fail_503_every == 0:
                status = 503
            elif faults.rate_limit_every > 0 and n % faults.rate_limit_every == 0:
                status = 429
            else:
                return False, None
        if status == 0:
            return True, _DROP
        if status == 429:
            return True, self._rate_limited()
        if status >= 500:
            return True, _text(status, HTTPStatus(status).phrase)
        return True, _error(status, HTTPStatus(status).phrase)

    def _rate_limited(self) -> _Reply:
        faults = self.faults
        header = faults.rate_limit_header
        if header.lower() == "retry-after":
            headers: tuple[tuple[str, str], ...] = (("Retry-After", _seconds(faults.retry_after)),)
        elif header.lower() == "none":
            headers = ()
        else:  # X-RateLimit-Reset / X-Retry-After carry a unix timestamp
            reset = str(int(time.time() + faults.retry_after) + 1)
            headers = ((header, reset),)
            if header.lower() == "x-ratelimit-reset":
                headers += (("X-RateLimit-Limit", "180"), ("X-RateLimit-Remaining", "0"))
        return _text(429, "Too Many Requests", headers)

    def _take_quota(self) -> tuple[_Reply | None, tuple[tuple[str, str], ...]]:
        """(a 429 reply if this request is over the announced budget, else None; the headers announcing
        the budget). Fixed windows from the server's start; rejected requests take nothing."""
        faults = self.faults
        if faults.quota <= 0:
            return None, ()
        now = time.time()
        with self._lock:
            start, taken = self._window
            if now >= start + faults.quota_window:
                start = now - (now - start) % faults.quota_window if start else now
                taken = 0
            reset = start + faults.quota_window
            over = taken >= faults.quota
            if over:
                self.quota_rejections += 1
            else:
                taken += 1
            self._window = (start, taken)
        # Whole epoch seconds as the Hub sends them; fractional for the short windows of tests.
        reset_text = str(math.ceil(reset)) if faults.quota_window >= 60 else f"{reset:.3f}"
        announced = (
            ("X-RateLimit-Limit", str(faults.quota)),
            ("X-RateLimit-Remaining", str(faults.quota - taken)),
            ("X-RateLimit-Reset", reset_text),
        )
        if over:
            retry = (("Retry-After", _seconds(max(0.0, reset - now))),)
            return _text(429, "Too Many Requests", retry + announced), announced
        return None, announced

    def _admit(
        self, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[bool, _Reply | None, bool]:
        """Faults, then the bearer token: (answered, reply, sees_private). ``answered`` means stop here."""
        answered, reply, scope = self._admit_scope(query, headers)
        return answered, reply, scope in ("all", "all-noaudit")

    def _admit_scope(
        self, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[bool, _Reply | None, str]:
        faulted, fault_reply = self._list_fault(query)
        if faulted:
            return True, fault_reply, ""
        authorization = headers.get("authorization")
        if authorization is None:
            return False, None, ""
        claims, denied = self._authorize(authorization)
        if denied is not None:
            return True, denied, ""
        return False, None, str((claims or {}).get("scope", ""))

    def _list(self, namespace: str, query: dict[str, list[str]], headers: dict[str, str]) -> _Reply | None:
        answered, reply, sees_private = self._admit(query, headers)
        if answered:
            return reply

        def param(name: str) -> str:
            values = query.get(name)
            return values[-1] if values else ""

        page, page_size, bad = _paging(query, 10, self.faults.page_size_cap)
        if bad is not None:
            return bad
        ordering = param("ordering")
        if ordering and ordering not in ORDERINGS:
            return _json(
                400,
                {
                    "fields": {
                        "ordering": ["Invalid ordering value. Must be one of: " + ", ".join(ORDERINGS)]
                    },
                    "text": "Invalid ordering value",
                },
            )
        name_filter = param("name")

        items = self._view(unquote(namespace), sees_private, ordering, name_filter)
        total = len(items)
        last_page = max(1, math.ceil(total / page_size))
        if page > last_page:  # only reachable for page > 1
            return _error(404, "Page not found")

        base = (self.faults.next_link_base or self.url).rstrip("/")
        extra = [(k, v) for k, v in (("ordering", ordering), ("name", name_filter)) if v]

        def link(p: int) -> str:
            qs = urlencode([("page", p), ("page_size", page_size), *extra])
            return f"{base}/v2/namespaces/{namespace}/repositories?{qs}"

        payload: dict[str, Any] = {
            "count": total,
            "next": link(page + 1) if page < last_page else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": items[(page - 1) * page_size : page * page_size],
        }
        if self.faults.omit_count:
            del payload["count"]
        return _json(200, payload)

    def _tags(
        self, namespace: str, repository: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> _Reply | None:
        pending = self.faults.fail_tags.get(repository)
        with self._lock:
            status = pending.pop(0) if pending else None
        if status is not None:
            if status == 0:
                return _DROP
            return self._rate_limited() if status == 429 else _text(status, HTTPStatus(status).phrase)
        answered, reply, sees_private = self._admit(query, headers)
        if answered:
            return reply
        namespace, repository = unquote(namespace), unquote(repository)
        repo = self._repository(namespace, repository)
        if repo is None or (repo.get("is_private") and not sees_private):
            return _error(404, "object not found")
        page, page_size, bad = _paging(query, 10, self.faults.page_size_cap)
        if bad is not None:
            return bad
        items = self.tags.get((namespace, repository), [])
        last_page = max(1, math.ceil(len(items) / page_size))
        if page > last_page:
            return _error(404, "Page not found")
        base = self.url

        def link(p: int) -> str:
            path = f"/v2/namespaces/{namespace}/repositories/{repository}/tags"
            return f"{base}{path}?page={p}&page_size={page_size}"

        return _json(
            200,
            {
                "count": len(items),
                "next": link(page + 1) if page < last_page else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[(page - 1) * page_size : page * page_size],
            },
        )

    def _audit(self, account: str, query: dict[str, list[str]], headers: dict[str, str]) -> _Reply | None:
        answered, reply, scope = self._admit_scope(query, headers)
        if answered:
            return reply
        account = unquote(account)
        if self.faults.audit_status:
            return _error(self.faults.audit_status, "audit logs are not available for this account")
        if scope != "all":
            return _error(403, "token is not allowed to read the audit log (scope-activity-read)")
        page, page_size, bad = _paging(query, 25, self.faults.page_size_cap)
        if bad is not None:
            return bad

        def param(name: str) -> str:
            values = query.get(name)
            return values[-1] if values else ""

        since, until = (
            _ts_key(param("from")) if param("from") else "",
            _ts_key(param("to")) if param("to") else "",
        )
        events = [
            event
            for event in self.audit.get(account, [])
            if (not since or _ts_key(event["timestamp"]) >= since)
            and (not until or _ts_key(event["timestamp"]) <= until)
            and (not param("action") or event["action"] == param("action"))
            and (not param("name") or event["name"] == param("name"))
            and (not param("actor") or event["actor"] == param("actor"))
        ]
        events.sort(key=lambda event: _ts_key(event["timestamp"]), reverse=True)  # newest first
        return _json(200, {"logs": events[(page - 1) * page_size : page * page_size]})

    def _repository(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next((repo for repo in self.repos.get(namespace, []) if repo.get("name") == name), None)

    # -- history: change the data as the real Hub would, audit events included ---------------------

    def _log(
        self, namespace: str, action: str, repository: str, actor: str, when: float, **data: str
    ) -> None:
        self.audit.setdefault(namespace, []).append(
            audit_event(namespace, action, f"{namespace}/{repository}", actor, when, **data)
        )

    def push_tag(
        self,
        namespace: str,
        repository: str,
        tag: str,
        *,
        digest: str,
        size: int,
        when: float,
        actor: str = "ci-bot",
        platforms: int = 1,
    ) -> dict[str, Any]:
        """Push ``tag`` (new, or moved to ``digest``): the repository's ``last_updated`` moves too."""
        tags = self.tags.setdefault((namespace, repository), [])
        old = next((item for item in tags if item["name"] == tag), None)
        pulled = None
        if old is not None:
            tags.remove(old)
            pulled = old["tag_last_pulled"]
        new = make_tag(tag, digest, size, when, None, platforms=platforms, updater=actor)
        new["tag_last_pulled"] = pulled
        tags.insert(0, new)
        repo = self._repository(namespace, repository)
        if repo is not None:
            repo["last_updated"] = hub_time(when + 2.5)
        self._log(namespace, "repo.tag.push", repository, actor, when, tag=tag, digest=digest)
        return new

    def delete_tag(
        self, namespace: str, repository: str, tag: str, *, when: float, actor: str = "alice"
    ) -> None:
        """Delete ``tag``: nothing on the repository itself shows it, only the audit log."""
        tags = self.tags.get((namespace, repository), [])
        tags[:] = [item for item in tags if item["name"] != tag]
        self._log(namespace, "repo.tag.delete", repository, actor, when, tag=tag)

    def pull(self, namespace: str, repository: str, tag: str, *, when: float, count: int = 1) -> None:
        """``count`` pulls of ``tag``: its last-pulled time and the repository's pull count (no audit
        event)."""
        for item in self.tags.get((namespace, repository), []):
            if item["name"] == tag:
                item["tag_last_pulled"] = hub_time(when)
                for image in item["images"]:
                    image["last_pulled"] = hub_time(when)
        repo = self._repository(namespace, repository)
        if repo is not None:
            repo["pull_count"] = (repo.get("pull_count") or 0) + count

    def create_repo(self, namespace: str, repo: dict[str, Any], *, when: float, actor: str = "alice") -> None:
        self.repos.setdefault(namespace, []).append(repo)
        self._log(namespace, "repo.create", repo["name"], actor, when)

    def delete_repo(self, namespace: str, name: str, *, when: float, actor: str = "alice") -> None:
        self.repos[namespace] = [repo for repo in self.repos.get(namespace, []) if repo.get("name") != name]
        self.tags.pop((namespace, name), None)
        self._log(namespace, "repo.delete", name, actor, when)

    def set_privacy(
        self, namespace: str, name: str, private: bool, *, when: float, actor: str = "alice"
    ) -> None:
        repo = self._repository(namespace, name)
        assert repo is not None, name
        repo["is_private"] = private
        self._log(
            namespace, "repo.change_privacy", name, actor, when, privacy="private" if private else "public"
        )

    def _view(
        self, namespace: str, sees_private: bool, ordering: str, name_filter: str
    ) -> list[dict[str, Any]]:
        """The namespace's repositories as this caller sees them, filtered and ordered."""
        source = self.repos.get(namespace)
        if source is None:
            source = self.repos.get(namespace.lower(), [])
        if sees_private and not ordering and not name_filter:
            return source  # no copy: edits between pages show up immediately
        key = (namespace, sees_private, ordering, name_filter)
        cached = self._views.get(key)
        if cached is not None and cached.source is source and cached.length == len(source):
            return cached.items
        needle = name_filter.lower()
        items = [
            r
            for r in source
            if (sees_private or not r.get("is_private")) and needle in (r.get("name") or "").lower()
        ]
        if ordering:
            items.sort(key=_sort_key(ordering), reverse=ordering.startswith("-"))
        if len(source) > _CACHE_MIN_REPOS:
            if len(self._views) > 64:  # arbitrary name filters must not grow it forever
                self._views.clear()
            self._views[key] = _View(source, len(source), items)
        return items

    # -- bookkeeping used by _Handler ---------------------------------------------------------

    def _enter_list(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave_list(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _Server(ThreadingHTTPServer):
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
    server: _Server

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

    def _serve(self) -> None:
        hub = self.server.hub
        started = time.monotonic()
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            self._write(_error(411, "Length Required"))
            return
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._write(_error(400, "Invalid Content-Length"))
            return
        body = self.rfile.read(length) if length else b""

        is_list = self.command == "GET" and any(route.match(split.path) for route in _API_ROUTES)
        if is_list:
            hub._enter_list()
        try:
            if hub.faults.latency > 0:
                time.sleep(hub.faults.latency)
            reply = hub._handle(self.command, split.path, query, headers, body)
        except Exception:  # noqa: BLE001 - a bug here must still answer, or the client would hang
            traceback.print_exc()
            reply = _text(500, "Internal Server Error")
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

    def _write(self, reply: _Reply) -> None:
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


# -- manual use -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Docker Hub API on loopback.")
    parser.add_argument("--org", default="acme")
    parser.add_argument("--repos", type=int, default=1000, help="number of repositories to generate")
    parser.add_argument("--token", default="secret-oat", help="sees private repos (login as --org)")
    parser.add_argument("--public-token", help="secret that silently sees public repos only")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--fail-503-every", type=int, default=0)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--jwt-lifetime", type=float, default=600.0)
    parser.add_argument(
        "--tags", type=int, default=0, help="tags per repository (every 10th has 10 times as many)"
    )
    parser.add_argument(
        "--quota", type=int, default=0, help="requests per window, announced in X-RateLimit-*"
    )
    parser.add_argument("--quota-window", type=float, default=60.0, help="seconds per --quota window")
    args = parser.parse_args(argv)

    credentials = {args.token: (args.org, "all")}
    if args.public_token:
        credentials[args.public_token] = (args.org, "public")
    faults = Faults(
        latency=args.latency,
        rate_limit_every=args.rate_limit_every,
        retry_after=args.retry_after,
        fail_503_every=args.fail_503_every,
        drop_every=args.drop_every,
        jwt_lifetime=args.jwt_lifetime,
        quota=args.quota,
        quota_window=args.quota_window,
    )
    repos = make_repos(args.org, args.repos, seed=args.seed)
    hub = FakeHub({args.org: repos}, credentials, faults, host=args.host, port=args.port)
    for k, repo in enumerate(repos if args.tags > 0 else ()):
        count = args.tags * (10 if k % 10 == 9 else 1)
        hub.tags[(args.org, repo["name"])] = make_tags(args.org, repo["name"], count, seed=args.seed)
    # Ctrl-C must work even when started in the background (which inherits SIGINT ignored),
    # and SIGTERM should stop as cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with hub:
        tokens = f"token: {args.token}"
        if args.public_token:
            tokens += f", public token: {args.public_token}"
        tags = sum(len(listed) for listed in hub.tags.values())
        print(
            f"fake hub on {hub.url} (org {args.org}, {args.repos} repositories, {tags} tags, {tokens})",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
