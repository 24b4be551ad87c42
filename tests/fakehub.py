"""A Docker-Hub-compatible HTTP server for tests, benchmarks and manual use.

It serves the routes the exporter needs, over real HTTP/1.1 on loopback, so
httpx connection pooling, timeouts and transport errors behave as in production:

- ``POST /v2/auth/token``  (``AuthCreateAccessToken``) -> ``{"access_token": JWT}``
- ``POST /v2/users/login`` (``PostUsersLogin``, deprecated) -> ``{"token": JWT}``
- ``GET /v2/namespaces/{namespace}/repositories`` (``listNamespaceRepositories``)
- ``GET /v2/namespaces/{namespace}/repositories/{repository}/tags`` (``ListRepositoryTags``, in the live
  API's shape: ``tag_status``, ``images`` a list)
- ``GET /v2/auditlogs/{account}`` (``AuditLogs_GetAuditLogs``: ``{"logs": [...]}``, no count, no next)
- the access routes (``fakehub_access``): an org's members, teams and team members, a repository's
  team permissions (``/v2/repositories/{namespace}/{repository}/groups``), the org's access tokens

What the real Hub does, and this server with it: a login returns a JWT that expires after 10 minutes;
an org access token logs in with the org's name, and one without the repository-list scope (or no
token at all) silently sees public repositories only. Lists are paged (``page_size`` 1-100) with
absolute ``next``/``previous`` links, a ``count``, and 404 past the last page; an unknown namespace is
an empty 200. Timestamps are RFC 3339 UTC with 0-9 fractional digits, and several fields may be null.
A 429 carries ``Retry-After`` (seconds); older answers carried ``X-Retry-After`` or
``X-RateLimit-Reset`` (Unix times). The audit log needs the token's ``scope-activity-read``, and plans
without one answer 403. The access routes need their own scopes (``scope-member-read``,
``scope-group-read``, ``scope-repo-group-read``), and org access tokens (``dckr_oat_…``) may not list the
org's tokens: an owner's personal access token may.

With ``Faults.quota`` every API answer announces a fixed-window budget in ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset``, and a request over it answers 429 with ``Retry-After``. The history
helpers (`push_tag`, `delete_tag`, `pull`, `create_repo`, `delete_repo`, `set_privacy`) change the data
the way the real Hub does, audit-log events included; ``hubhistory`` uses them to move one org forward
night after night (``--day``). ``Faults`` injects latency, 429/503s, dropped connections, expiring
tokens and 2FA answers. Stdlib only, so it imports fast in any venv and also runs as a script
(``--help`` lists its options)::

    python tests/fakehub.py --org acme --repos 1000 --token secret-oat --port 8080

This module is the ``FakeHub`` class (lifecycle, logins and tokens, the API's routes); the HTTP server
and its answers are in ``fakehub_wire``, ``Faults`` and their handling in ``fakehub_faults``, the
history helpers in ``fakehub_changes``, the data in ``hubdata``, the access routes in ``fakehub_access``
and their data in ``hubaccess``, the command line in ``fakehub_cli``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import unquote, urlencode

from fakehub_access import AccessRoutes, granted, is_oat
from fakehub_changes import HubChanges
from fakehub_faults import FaultInjection, Faults
from fakehub_wire import (
    AUDIT_ROUTE,
    AUTH_ROUTES,
    DROP,
    GROUP_MEMBERS_ROUTE,
    GROUPS_ROUTE,
    LIST_ROUTE,
    LOGIN_ROUTES,
    MEMBERS_ROUTE,
    REPO_GROUPS_ROUTE,
    TAGS_ROUTE,
    TOKEN_ROUTE,
    TOKENS_ROUTE,
    HubServer,
    RecordedRequest,
    Reply,
    reply_error,
    reply_json,
    reply_text,
    seconds,
)
from hubaccess import OrgAccess
from hubdata import make_repos, make_tags

__all__ = ["FakeHub", "Faults", "RecordedRequest", "make_repos", "make_tags"]

_seconds, _text = seconds, reply_text  # bench/harness/hubserver.py imports them under these names

ORDERINGS = ("name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count")
TWO_FA_DETAIL = "Require secondary authentication on MFA enabled account"  # what hub-tool matches on
BAD_CREDENTIALS = "Incorrect authentication credentials"
# Namespaces bigger than this get their filtered/sorted views cached (see FakeHub.invalidate_cache).
_CACHE_MIN_REPOS = 2000


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


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


def _paging(query: dict[str, list[str]], default_size: int, cap: int) -> tuple[int, int, Reply | None]:
    """(page, page_size, None) or (0, 0, a 400 reply); a ``cap`` (0: none) shrinks every page to it."""
    try:
        page_size = int((query.get("page_size") or [""])[-1] or default_size)
        page = int((query.get("page") or [""])[-1] or 1)
    except ValueError:
        return 0, 0, reply_error(400, "page and page_size must be integers")
    if not 1 <= page_size <= 100:
        return 0, 0, reply_error(400, "page_size must be between 1 and 100")
    if page < 1:
        return 0, 0, reply_error(400, "page must be 1 or greater")
    return page, min(page_size, cap) if cap else page_size, None


class _View(NamedTuple):
    source: list[dict[str, Any]]  # held so its id() cannot be reused while cached
    length: int
    items: list[dict[str, Any]]


@dataclass(eq=False, repr=False)  # identity semantics; the default repr would dump every repository
class FakeHub(FaultInjection, HubChanges, AccessRoutes):
    """The fake Hub. ``with FakeHub(repos, credentials) as hub: httpx.get(hub.url + ...)``.

    ``credentials`` maps a secret to ``(identifier, scope)``: scope ``"all"`` sees private
    repositories (in every namespace) and the audit log, ``"all-noaudit"`` the repositories but not
    the audit log (no ``scope-activity-read``), ``"public"`` silently sees public repositories only,
    like an OAT without ``scope-repository-list``. Every scope can also be spelt out, and taken away
    (``fakehub_access.granted``): ``"all -scope-member-read"`` is ``"all"`` without the members listing.
    A secret starting ``dckr_oat_`` is an org access token, any other a personal one. ``tags`` maps
    (namespace, repository) to its tags, newest first; ``audit`` an account to its events; ``access`` an
    org to its members, teams, repository permissions and tokens (``hubaccess.OrgAccess``).
    """

    repos: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    tags: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    audit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    access: dict[str, OrgAccess] = field(default_factory=dict)
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
        self._name_index: dict[str, tuple[list[dict[str, Any]], int, frozenset[str]]] = {}
        self._window: tuple[float, int] = (0.0, 0)  # (start of the quota window, requests taken in it)
        self._server: HubServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._server = HubServer((self.host, self.port), self)
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
        self._name_index.clear()

    def issue_token(self, identifier: str, scope: str, *, oat: bool = False) -> str:
        """Mint a JWT as the login routes do (handy for tests that skip logging in); ``oat``: an org
        access token's."""
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
        if oat:
            claims["oat"] = True
        if self.faults.jwt_has_exp:
            claims["exp"] = exp
        with self._lock:
            self._token_deadlines[jti] = deadline
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = header + b"." + payload
        signature = _b64url(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        return (signing_input + b"." + signature).decode()

    # -- request handling (HTTP-agnostic; fakehub_wire does the I/O) ------------------------------

    def _handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        routes: tuple[tuple[re.Pattern[str], Callable[..., Reply | None]], ...] = (
            (LIST_ROUTE, self._list),
            (TAGS_ROUTE, self._tags),
            (AUDIT_ROUTE, self._audit),
            (MEMBERS_ROUTE, self._members),
            (GROUPS_ROUTE, self._groups),
            (GROUP_MEMBERS_ROUTE, self._group_members),
            (REPO_GROUPS_ROUTE, self._repo_groups),
            (TOKENS_ROUTE, self._tokens),
            (TOKEN_ROUTE, self._token),
        )
        for route, serve in routes:
            match = route.match(path)
            if match:
                if method != "GET":
                    return reply_json(405, {"detail": f'Method "{method}" not allowed.'})
                over, announced = self._take_quota()
                if over is not None:
                    return over
                reply = serve(*match.groups(), query, headers)
                return reply if reply is None else reply._replace(headers=reply.headers + announced)
        if path in AUTH_ROUTES or path in LOGIN_ROUTES:
            if method != "POST":
                return reply_json(405, {"detail": f'Method "{method}" not allowed.'})
            return self._login(path in AUTH_ROUTES, body)
        return reply_error(404, "Not found")

    def _login(self, new_route: bool, body: bytes) -> Reply:
        faults = self.faults
        if new_route and not faults.auth_token_route:
            return reply_error(404, "Not found")
        if faults.login_rate_limited:
            return reply_text(429, "Too Many Requests", (("Retry-After", "60"),))
        id_key, secret_key = ("identifier", "secret") if new_route else ("username", "password")
        try:
            data = json.loads(body)
            identifier, secret = data[id_key], data[secret_key]
            if not isinstance(identifier, str) or not isinstance(secret, str):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            return reply_error(
                400, f"Body must be a JSON object with string fields {id_key!r} and {secret_key!r}"
            )
        known = self.credentials.get(secret)
        # Hub account and org names are case-insensitive.
        if known is None or known[0].lower() != identifier.lower():
            if new_route:
                return reply_error(401, BAD_CREDENTIALS)
            return reply_json(401, {"detail": BAD_CREDENTIALS, "login_2fa_token": None})
        if faults.require_2fa:
            if new_route:
                return reply_error(
                    401,
                    "Two-factor authentication (2FA) is enabled on this account: use a personal access token",
                    login_2fa_token="abc",
                )
            return reply_json(401, {"detail": TWO_FA_DETAIL, "login_2fa_token": "abc"})
        token = self.issue_token(known[0], known[1], oat=is_oat(secret))
        return reply_json(200, {"access_token": token} if new_route else {"token": token})

    def _authorize(self, authorization: str) -> tuple[dict[str, Any] | None, Reply | None]:
        """(claims, None) for a valid JWT, else (None, 401 reply)."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "jwt"):  # "JWT <token>" is the pre-2019 spelling
            return None, reply_error(401, "Authentication credentials were not provided.")
        try:
            header, payload, signature = token.strip().split(".")
            expected = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64url_decode(signature), expected):
                raise ValueError("bad signature")
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
            deadline = self._token_deadlines[claims["jti"]]
        except (ValueError, KeyError, TypeError):
            return None, reply_error(401, "Invalid token")
        if time.time() >= deadline:
            return None, reply_error(401, "token expired")
        return claims, None

    def _admit(self, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[bool, Reply | None, bool]:
        """Faults, then the bearer token: (answered, reply, sees_private). ``answered`` means stop here."""
        answered, reply, scope = self._admit_scope(query, headers)
        return answered, reply, "scope-repository-list" in granted(scope)

    def _admit_scope(
        self, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[bool, Reply | None, str]:
        answered, reply, claims = self._admit_claims(query, headers)
        return answered, reply, str(claims.get("scope", ""))

    def _admit_claims(
        self, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[bool, Reply | None, dict[str, Any]]:
        """Faults, then the bearer token: (answered, reply, the token's claims; {} without one)."""
        faulted, fault_reply = self._list_fault(query)
        if faulted:
            return True, fault_reply, {}
        authorization = headers.get("authorization")
        if authorization is None:
            return False, None, {}
        claims, denied = self._authorize(authorization)
        if denied is not None:
            return True, denied, {}
        return False, None, claims or {}

    def _list(self, namespace: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
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
            return reply_json(
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
            return reply_error(404, "Page not found")

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
        return reply_json(200, payload)

    def _tags(
        self, namespace: str, repository: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> Reply | None:
        pending = self.faults.fail_tags.get(repository)
        with self._lock:
            status = pending.pop(0) if pending else None
        if status is not None:
            if status == 0:
                return DROP
            return self._rate_limited() if status == 429 else reply_text(status, HTTPStatus(status).phrase)
        answered, reply, sees_private = self._admit(query, headers)
        if answered:
            return reply
        namespace, repository = unquote(namespace), unquote(repository)
        repo = self._repository(namespace, repository)
        if repo is None or (repo.get("is_private") and not sees_private):
            return reply_error(404, "object not found")
        page, page_size, bad = _paging(query, 10, self.faults.page_size_cap)
        if bad is not None:
            return bad
        items = self.tags.get((namespace, repository), [])
        last_page = max(1, math.ceil(len(items) / page_size))
        if page > last_page:
            return reply_error(404, "Page not found")
        base = self.url

        def link(p: int) -> str:
            path = f"/v2/namespaces/{namespace}/repositories/{repository}/tags"
            return f"{base}{path}?page={p}&page_size={page_size}"

        return reply_json(
            200,
            {
                "count": len(items),
                "next": link(page + 1) if page < last_page else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[(page - 1) * page_size : page * page_size],
            },
        )

    def _audit(self, account: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
        answered, reply, scope = self._admit_scope(query, headers)
        if answered:
            return reply
        account = unquote(account)
        if self.faults.audit_status:
            return reply_error(self.faults.audit_status, "audit logs are not available for this account")
        if "scope-activity-read" not in granted(scope):
            return reply_error(403, "token is not allowed to read the audit log (scope-activity-read)")
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
        return reply_json(200, {"logs": events[(page - 1) * page_size : page * page_size]})

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

    # -- bookkeeping used by fakehub_wire ---------------------------------------------------------

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


# -- manual use: the options and --day are in fakehub_cli.py -------------------------------------------

if __name__ == "__main__":
    from fakehub_cli import main

    main()
