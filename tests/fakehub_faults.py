"""Misbehaviour the fake Hub (``fakehub.py``) can inject: what to inject (``Faults``) and how its API
requests meet it (``FaultInjection``, a part of ``FakeHub``): periodic or per-page 429/503s and dropped
connections, and the fixed-window budget announced in ``X-RateLimit-*``.

Stdlib only, like fakehub.py.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from fakehub_wire import DROP, Reply, reply_error, reply_text, seconds

__all__ = ["FaultInjection", "Faults"]


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
    # repository name -> statuses answered for its team-permission requests (…/groups), as fail_tags
    fail_groups: dict[str, list[int]] = field(default_factory=dict)
    audit_status: int = 0  # 403 / 404: audit logs are not part of the plan (whatever the token)
    quota: int = 0  # requests per window announced in X-RateLimit-* headers; 0 = no announced budget
    quota_window: float = 60.0  # seconds per fixed window
    page_size_cap: int = 0  # pages never hold more, whatever page_size asks (2023: the Hub gave 25)


class FaultInjection:
    """FakeHub's fault handling; FakeHub holds the state declared here."""

    faults: Faults
    list_requests_seen: int  # the shared fault counter
    quota_rejections: int  # 429s answered for going over `quota`
    _lock: threading.Lock
    _window: tuple[float, int]  # (start of the quota window, requests taken in it)

    def _list_fault(self, query: dict[str, list[str]]) -> tuple[bool, Reply | None]:
        """(True, reply or DROP) when a fault hits this list request, else (False, None)."""
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
            return True, DROP
        if status == 429:
            return True, self._rate_limited()
        if status >= 500:
            return True, reply_text(status, HTTPStatus(status).phrase)
        return True, reply_error(status, HTTPStatus(status).phrase)

    def _rate_limited(self) -> Reply:
        faults = self.faults
        header = faults.rate_limit_header
        if header.lower() == "retry-after":
            headers: tuple[tuple[str, str], ...] = (("Retry-After", seconds(faults.retry_after)),)
        elif header.lower() == "none":
            headers = ()
        else:  # X-RateLimit-Reset / X-Retry-After carry a unix timestamp
            reset = str(int(time.time() + faults.retry_after) + 1)
            headers = ((header, reset),)
            if header.lower() == "x-ratelimit-reset":
                headers += (("X-RateLimit-Limit", "180"), ("X-RateLimit-Remaining", "0"))
        return reply_text(429, "Too Many Requests", headers)

    def _take_quota(self) -> tuple[Reply | None, tuple[tuple[str, str], ...]]:
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
            retry = (("Retry-After", seconds(max(0.0, reset - now))),)
            return reply_text(429, "Too Many Requests", retry + announced), announced
        return None, announced
