"""Docker Hub authentication: an OAT or PAT exchanged for a short-lived JWT, renewed as needed.

`HubAuth` is an ``httpx.Auth``: it logs in lazily through the same client (so tests choose the server
by choosing the transport), shares one JWT between all concurrent requests, renews it shortly before its
``exp`` claim, and logs in again once if a request still answers 401 mid-run. The bearer token and the
secret are only ever sent to the origin of the configured API URL.
"""

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from .errors import AuthError, HubError, LoginRateLimited, TransientHubError, TwoFactorRequired

log = logging.getLogger(__name__)

# The Hub's JWTs live 10 minutes; renew 60 s early (or 25 % early for very short lifetimes) so that no
# request is sent with a token that expires in flight.
DEFAULT_LIFETIME = 600.0
RENEW_MARGIN = 60.0
TOKEN_ROUTE = "/v2/auth/token"
LEGACY_ROUTE = "/v2/users/login"  # deprecated, what the reference script uses; fallback only


@dataclass(frozen=True)
class Credentials:
    """Who logs in: an org name with its OAT (``org_token``), or a username with a PAT."""

    identifier: str
    secret: SecretStr
    org_token: bool = False  # the identifier is the org's name: a mistyped org fails at login

    def __repr__(self) -> str:  # never show the secret, even in a debugger or a traceback
        return (
            f"Credentials(identifier={self.identifier!r}, secret=SecretStr('**********'), "
            f"org_token={self.org_token!r})"
        )


@dataclass(frozen=True)
class _Jwt:
    value: str
    renew_at: float  # time.monotonic() deadline: immune to wall-clock skew between us and the Hub


def _lifetime(jwt: str) -> float | None:
    """Seconds the JWT has left: the smaller of ``exp - iat`` and ``exp - now`` (``exp`` is often
    truncated to whole seconds, and our clock may run ahead); None when it carries no usable ``exp``."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    candidates = [exp - time.time()]
    if isinstance(claims.get("iat"), (int, float)):
        candidates.append(exp - float(claims["iat"]))
    positive = [value for value in candidates if value > 0]
    return min(positive) if positive else None


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port or _default_port(a)) == (b.scheme, b.host, b.port or _default_port(b))


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def error_detail(response: httpx.Response) -> str:
    """The Hub's error text, whether its body is JSON ({"detail"} / {"message"}) or plain text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text.splitlines()[0][:200] if text else response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "message", "text"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:200]
    return response.reason_phrase


class HubAuth(httpx.Auth):
    """Bearer authentication for the Docker Hub API (async clients only)."""

    def __init__(self, api_url: str, credentials: Credentials) -> None:
        self._origin = httpx.URL(api_url)
        self._base = api_url.rstrip("/")
        self._credentials = credentials
        self._jwt: _Jwt | None = None
        self._lock = asyncio.Lock()  # one login for all concurrent requests (a session has one loop)
        self._use_legacy = False
        self.logins = 0

    def __repr__(self) -> str:
        return f"HubAuth({self._base!r}, identifier={self._credentials.identifier!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise TypeError("HubAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not same_origin(request.url, self._origin):
            # Defence in depth: the client never builds such a request, but if one slips through it
            # goes out without credentials.
            yield request
            return
        used: _Jwt | None = None
        answered: httpx.Response | None = None  # the Hub's answer to the previous attempt (a 401)
        for _ in range(2):
            jwt = self._jwt
            # `jwt is used` means the Hub just answered 401 to it: expired or revoked mid-run, so log
            # in again (once); if another request already renewed it, simply retry with the new one.
            if jwt is None or jwt is used or time.monotonic() >= jwt.renew_at:
                if answered is not None:
                    await answered.aread()  # frees the 401's connection before logging in again
                    log.info("Docker Hub answered 401 mid-run: logging in again")
                async with self._lock:
                    if self._jwt is jwt:  # nobody renewed it while we waited
                        for route in self._routes():
                            response = yield self._login_request(route)
                            await response.aread()  # httpx reads auth-flow answers only after us
                            if self._accept(route, response):
                                break
            used = self._jwt
            assert used is not None
            request.headers["Authorization"] = f"Bearer {used.value}"
            answered = yield request
            if answered.status_code != 401:
                return

    async def ensure_login(self, client: httpx.AsyncClient) -> None:
        """Log in now (fail fast on bad credentials), unless a fresh JWT is already held."""
        async with self._lock:
            jwt = self._jwt
            if jwt is not None and time.monotonic() < jwt.renew_at:
                return
            for route in self._routes():
                response = await client.send(self._login_request(route), auth=None)
                if self._accept(route, response):
                    return

    def _routes(self) -> list[str]:
        return [LEGACY_ROUTE] if self._use_legacy else [TOKEN_ROUTE, LEGACY_ROUTE]

    def _login_request(self, route: str) -> httpx.Request:
        secret = self._credentials.secret.get_secret_value()
        if route == TOKEN_ROUTE:
            body = {"identifier": self._credentials.identifier, "secret": secret}
        else:
            body = {"username": self._credentials.identifier, "password": secret}
        return httpx.Request("POST", f"{self._base}{route}", json=body)

    def _what_to_check(self) -> str:
        if self._credentials.org_token:
            return (
                "check the org name (--org / DOCKERHUB_ORG: an organization access token logs in with it, so "
                "a mistyped org is refused here) and DOCKERHUB_TOKEN; a personal access token needs "
                "DOCKERHUB_USERNAME"
            )
        return (
            "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (a personal access token of that user); an "
            "organization access token logs in as its org, without DOCKERHUB_USERNAME"
        )

    def _accept(self, route: str, response: httpx.Response) -> bool:
        """Store the JWT from a login answer (True), skip an absent route (False), or raise `AuthError`."""
        who = self._credentials.identifier
        status = response.status_code
        if route == TOKEN_ROUTE and status in (404, 405):
            log.info("%s is not available on this server: using the deprecated %s", route, LEGACY_ROUTE)
            self._use_legacy = True
            return False
        try:
            body = response.json()
        except ValueError:
            body = None
        if status == 429:
            wait = response.headers.get("Retry-After")
            after = f" (the Hub asks to wait {wait} s)" if wait else ""
            raise LoginRateLimited(
                f"Docker Hub is rate-limiting logins for {who!r}{after}: wait a few minutes before "
                "the next run; repeated attempts extend the lock-out"
            )
        if isinstance(body, dict) and body.get("login_2fa_token"):
            raise TwoFactorRequired(
                f"the account {who!r} has two-factor authentication and a password was given: use an "
                "organization access token (DOCKERHUB_TOKEN, with DOCKERHUB_ORG) or a personal access "
                "token (DOCKERHUB_TOKEN with DOCKERHUB_USERNAME) instead"
            )
        if status in (401, 403):
            raise AuthError(
                f"Docker Hub rejected the credentials for {who!r} ({status}: {error_detail(response)}): "
                + self._what_to_check()
            )
        if status in (404, 405):
            raise HubError(
                f"{self._base} offers neither {TOKEN_ROUTE} nor {LEGACY_ROUTE}: check DOCKERHUB_API_URL"
            )
        if status >= 500:
            raise TransientHubError(f"login to {self._base}{route} failed with {status}", status=status)
        if status != 200:
            raise HubError(
                f"login to {self._base}{route} failed with {status} {error_detail(response)}: try again later"
            )
        key = "access_token" if route == TOKEN_ROUTE else "token"
        value = body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise HubError(f"login to {self._base}{route} answered without {key!r}: check DOCKERHUB_API_URL")
        lifetime = _lifetime(value) or DEFAULT_LIFETIME
        margin = min(RENEW_MARGIN, lifetime * 0.25)
        self._jwt = _Jwt(value=value, renew_at=time.monotonic() + lifetime - margin)
        self.logins += 1
        return True
