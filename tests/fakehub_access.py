"""The fake Hub's access routes (``AccessRoutes``, a part of ``FakeHub``) and what a token may read:

- ``GET /v2/orgs/{org}/members`` (``search``, ``invites``, ``type``, ``role``; scope ``scope-member-read``):
  invitees only with ``invites=true``;
- ``GET /v2/orgs/{org}/groups`` and ``GET /v2/orgs/{org}/groups/{team}/members`` (``scope-group-read``);
- ``GET /v2/repositories/{namespace}/{repository}/groups`` (``scope-repo-group-read``; not in the spec);
- ``GET /v2/orgs/{org}/access-tokens`` (counted by ``total``, 10 a page) and ``.../access-tokens/{id}``
  (with ``resources``): an owner's personal access token only, never an org access token (``dckr_oat_``).

Lists are paged like the repository list (``page_size`` 1-100, absolute links, 404 past the last page,
``Faults.page_size_cap``). An unknown org, team, repository or token is a 404; a missing scope a 403
with the Hub's error body. Stdlib only, like fakehub.py.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

from fakehub_wire import DROP, Reply, reply_error, reply_json, reply_text
from hubaccess import OrgAccess

if TYPE_CHECKING:
    from fakehub_faults import Faults

__all__ = ["ACCESS_SCOPES", "SCOPES", "AccessRoutes", "granted", "is_oat"]

MEMBER_READ, GROUP_READ, REPO_GROUP_READ = "scope-member-read", "scope-group-read", "scope-repo-group-read"
ACCESS_SCOPES = (MEMBER_READ, GROUP_READ, REPO_GROUP_READ)
# What "all" grants: private repositories in listings, the audit log, and the access listings.
SCOPES = ("scope-repository-list", "scope-activity-read", *ACCESS_SCOPES)
OAT_PREFIX = "dckr_oat_"


def granted(scope: str) -> frozenset[str]:
    """The scopes a credential's scope text grants: whitespace-separated words, ``all`` (every scope),
    ``all-noaudit`` (all but ``scope-activity-read``), ``public`` (none), a scope name to add one, and
    ``-name`` to take one away: ``"all -scope-member-read"``."""
    found: set[str] = set()
    for word in scope.split():
        if word == "all":
            found.update(SCOPES)
        elif word == "all-noaudit":
            found.update(s for s in SCOPES if s != "scope-activity-read")
        elif word.startswith("-"):
            found.discard(word[1:])
        elif word != "public":
            found.add(word)
    return frozenset(found)


def is_oat(secret: str) -> bool:
    return secret.startswith(OAT_PREFIX)


def _param(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[-1] if values else ""


def _forbidden(scope: str) -> Reply:
    return reply_error(403, f"insufficient scope: this token lacks {scope}")


class AccessRoutes:
    """FakeHub's access routes; FakeHub holds the data and the helpers declared here."""

    access: dict[str, OrgAccess]
    repos: dict[str, list[dict[str, Any]]]
    faults: Faults
    _lock: threading.Lock
    # namespace -> (its repository list, that list's length, its names): one lookup per permission request
    _name_index: dict[str, tuple[list[dict[str, Any]], int, frozenset[str]]]

    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

        def _admit_claims(
            self, query: dict[str, list[str]], headers: dict[str, str]
        ) -> tuple[bool, Reply | None, dict[str, Any]]: ...

        def _rate_limited(self) -> Reply: ...

    # -- shared steps --------------------------------------------------------------------------------

    def _has_repository(self, namespace: str, name: str) -> bool:
        """Like ``_repository``, without a scan of 20,000 repositories for each of 20,000 requests."""
        source = self.repos.get(namespace, [])
        cached = self._name_index.get(namespace)
        if cached is None or cached[0] is not source or cached[1] != len(source):
            cached = (source, len(source), frozenset(str(repo.get("name")) for repo in source))
            self._name_index[namespace] = cached
        return name in cached[2]

    def _org_access(self, org: str) -> OrgAccess | None:
        """The org's access state; an org known only by its repositories has an empty one."""
        org = unquote(org)
        found = self.access.get(org) or self.access.get(org.lower())
        if found is None and (org in self.repos or org.lower() in self.repos):
            found = self.access.setdefault(org, OrgAccess(org))
        return found

    def _gate(
        self, org: str, query: dict[str, list[str]], headers: dict[str, str], scope: str
    ) -> tuple[OrgAccess | None, Reply | None, dict[str, Any]]:
        """Faults, the bearer token, the org (404), then the scope (403): (state, None, claims) or
        (None, the reply or DROP, {})."""
        answered, reply, claims = self._admit_claims(query, headers)
        if answered:
            return None, reply, {}
        state = self._org_access(org)
        if state is None:
            return None, reply_error(404, f"organization {unquote(org)!r} not found"), {}
        if scope and scope not in granted(str(claims.get("scope", ""))):
            return None, _forbidden(scope), {}
        return state, None, claims

    def _paged(
        self,
        path: str,
        items: list[Any],
        query: dict[str, list[str]],
        extra: list[tuple[str, str]],
        **how: Any,
    ) -> Reply:
        """One page of ``items``; ``how``: ``default`` page size (10), ``count_key`` ("count")."""
        try:
            page_size = int(_param(query, "page_size") or how.get("default", 10))
            page = int(_param(query, "page") or 1)
        except ValueError:
            return reply_error(400, "page and page_size must be integers")
        if not 1 <= page_size <= 100 or page < 1:
            return reply_error(400, "page_size must be between 1 and 100, page 1 or greater")
        page_size = min(page_size, self.faults.page_size_cap or page_size)
        last_page = max(1, math.ceil(len(items) / page_size))
        if page > last_page:
            return reply_error(404, "Page not found")

        def link(p: int) -> str:
            return f"{self.url}{path}?{urlencode([('page', p), ('page_size', page_size), *extra])}"

        return reply_json(
            200,
            {
                how.get("count_key", "count"): len(items),
                "next": link(page + 1) if page < last_page else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[(page - 1) * page_size : page * page_size],
            },
        )

    # -- the routes ------------------------------------------------------------------------------------

    def _members(self, org: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
        state, reply, _ = self._gate(org, query, headers, MEMBER_READ)
        if state is None:
            return reply
        invites, kind = _param(query, "invites").lower() == "true", _param(query, "type") or "all"
        role, search = _param(query, "role").lower(), _param(query, "search").lower()
        if kind not in ("all", "invitee", "member"):
            return reply_json(
                400, {"fields": {"type": ["must be all, invitee or member"]}, "text": "Invalid type"}
            )
        if role not in ("", "owner", "editor", "member"):
            return reply_json(
                400, {"fields": {"role": ["must be owner, editor or member"]}, "text": "Invalid role"}
            )
        chosen = []
        for username in sorted(state.members):
            member = state.members[username]
            invitee = member["role"] == "Invitee"
            if (invitee and (not invites or kind == "member")) or (not invitee and kind == "invitee"):
                continue
            if role and member["role"].lower() != role:
                continue
            if search and not any(
                search in (member[k] or "").lower() for k in ("username", "full_name", "email")
            ):
                continue
            chosen.append(state.member_payload(username))
        extra = [(k, _param(query, k)) for k in ("invites", "type", "role", "search") if _param(query, k)]
        return self._paged(f"/v2/orgs/{org}/members", chosen, query, extra)

    def _groups(self, org: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
        state, reply, _ = self._gate(org, query, headers, GROUP_READ)
        if state is None:
            return reply
        username, search = _param(query, "username"), _param(query, "search").lower()
        names = [
            name
            for name in sorted(state.teams)
            if search in name.lower() and (not username or username in state.teams[name]["members"])
        ]
        extra = [(k, _param(query, k)) for k in ("username", "search") if _param(query, k)]
        return self._paged(f"/v2/orgs/{org}/groups", [state.team_payload(n) for n in names], query, extra)

    def _group_members(
        self, org: str, team: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> Reply | None:
        state, reply, _ = self._gate(org, query, headers, GROUP_READ)
        if state is None:
            return reply
        found = state.teams.get(unquote(team))
        if found is None:
            return reply_error(404, f"group {unquote(team)!r} not found")
        search = _param(query, "search").lower()
        people = [state.team_member_payload(u) for u in found["members"]]
        people = [
            p
            for p in people
            if any(search in (p[k] or "").lower() for k in ("username", "full_name", "email"))
        ]
        extra = [("search", search)] if search else []
        return self._paged(f"/v2/orgs/{org}/groups/{team}/members", people, query, extra)

    def _repo_groups(
        self, namespace: str, repository: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> Reply | None:
        pending = self.faults.fail_groups.get(unquote(repository))
        with self._lock:
            status = pending.pop(0) if pending else None
        if status is not None:
            if status == 0:
                return DROP
            return self._rate_limited() if status == 429 else reply_text(status, "injected failure")
        state, reply, claims = self._gate(namespace, query, headers, "")
        if state is None:
            return reply
        name = unquote(repository)
        if not self._has_repository(state.org, name):
            return reply_error(404, "object not found")
        if REPO_GROUP_READ not in granted(str(claims.get("scope", ""))):
            return _forbidden(REPO_GROUP_READ)
        items = state.repo_groups_payload(name)
        return self._paged(f"/v2/repositories/{namespace}/{repository}/groups", items, query, [])

    def _token_gate(
        self, org: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[OrgAccess | None, Reply | None]:
        """Org tokens are for the org's owners: an org access token, or a member's token that is not an
        owner's, gets a 403."""
        state, reply, claims = self._gate(org, query, headers, "")
        if state is None:
            return None, reply
        caller = str(claims.get("sub", ""))
        if claims.get("oat") or state.role(caller) not in (None, "Owner"):
            message = (
                "only an organization owner's personal access token may manage organization access tokens"
            )
            return None, reply_json(403, {"detail": message, "message": message})
        return state, None

    def _tokens(self, org: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
        state, reply = self._token_gate(org, query, headers)
        if state is None:
            return reply
        items = [state.token_payload(token, resources=False) for token in state.tokens]
        return self._paged(f"/v2/orgs/{org}/access-tokens", items, query, [], count_key="total")

    def _token(
        self, org: str, token_id: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> Reply | None:
        state, reply = self._token_gate(org, query, headers)
        if state is None:
            return reply
        token = next((item for item in state.tokens if item["id"] == unquote(token_id)), None)
        if token is None:
            return reply_json(404, {"detail": "access token not found", "message": "access token not found"})
        return reply_json(200, state.token_payload(token, resources=True))
