"""The access review's Hub side (``run --access``): one night's members, teams, every repository's team
permissions and the org's access tokens, read through the run's session into an `access.AccessNight`.

Each listing is an optional resource (`resources.MEMBERS`, `TEAMS`, `REPOSITORY_GROUPS`,
`ACCESS_TOKENS`), read through `HubSession.fetch_optional`: refused (401, 403, 404), it is None in the
night and costs one warning that names the permission. Any other failure, after retries, raises: a
night's access section is all or nothing, never partial.

Per repository, a 404 means the repository was deleted since it was listed (skipped with a warning, as
for tags). A 404 from *every* repository asked for means the listing itself is missing (its route is
not in the published spec: a Hub without it answers 404 everywhere), so the permissions are refused:
None and their one warning, rather than a night claiming that no team has any permission. The same rule
holds for the members listings of the teams, and a token deleted between its listing and its detail is
left out with a warning.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from . import access
from .errors import HubNotFound
from .fetch import list_per_repository, list_records
from .hub import HubClient, pool
from .humanize import plural
from .resources import ACCESS_TOKEN, ACCESS_TOKENS, MEMBERS, REPOSITORY_GROUPS, TEAM_MEMBERS, TEAMS, Resource
from .session import HubSession, endpoint

log = logging.getLogger(__name__)

Record = dict[str, Any]


def fetch_access(
    session: HubSession, repositories: Sequence[access.Repository], *, night: date | None = None
) -> tuple[access.AccessNight, list[str]]:
    """The session's org's access on ``night`` (default: today, UTC), and the warnings: one per refused
    listing, one per repository, team or token deleted during the read. Raises on any other failure."""
    org, taken_at = session.org, datetime.now(UTC)
    names = [repository.name for repository in repositories]
    warnings: list[str] = []
    members = session.fetch_optional(
        MEMBERS, lambda: session.run(lambda hub: list_records(hub, MEMBERS, org)), warnings
    )
    teams = session.fetch_optional(
        TEAMS, lambda: session.run(lambda hub: _teams(hub, org, warnings)), warnings
    )
    grants = session.fetch_optional(REPOSITORY_GROUPS, lambda: _grants(session, names, warnings), warnings)
    tokens = session.fetch_optional(
        ACCESS_TOKENS, lambda: session.run(lambda hub: _tokens(hub, org, warnings)), warnings
    )
    result = access.parse_night(
        night or taken_at.date(),
        taken_at=taken_at,
        members=members,
        teams=teams,
        grants=grants,
        tokens=tokens,
    )
    _log_totals(org, result, len(names))
    return result, warnings


async def _records(hub: HubClient, resource: Resource, org: str, **names: str) -> list[Record]:
    """Every record of one listing of ``resource``, as the Hub gives them, in its order."""
    pages: dict[int, list[Record]] = {}

    def sink(number: int, records: list[Any] | None) -> None:
        pages[number] = [record for record in records or () if isinstance(record, dict)]

    await hub.paginate(endpoint(resource, org, None, **names), sink)
    return [record for number in sorted(pages) for record in pages[number]]


async def _each(
    hub: HubClient,
    keys: Sequence[str],
    read: Callable[[str], Awaitable[Any]],
    *,
    what: str,
    warnings: list[str],
) -> dict[str, Any]:
    """``await read(key)`` for each of ``keys``, ``concurrency`` at a time; a key whose read answers 404
    (None or `HubNotFound`) was deleted during the run: left out with a warning. When every key is
    gone, the listing itself is missing: `HubNotFound`, which makes it a refused optional listing."""
    found: dict[str, Any] = {}
    gone: list[str] = []
    queue = iter(keys)

    async def worker() -> None:
        for key in queue:
            try:
                value = await read(key)
            except HubNotFound:
                value = None
            if value is None:
                gone.append(key)
            else:
                found[key] = value

    await pool(max(1, min(hub.concurrency, len(keys))), worker)
    if keys and not found:
        raise HubNotFound(f"every {what} answered 404")
    for key in sorted(gone):
        warnings.append(f"{what} {key} answered 404 (deleted during the run?): skipped")
        log.warning(warnings[-1])
    return found


async def _teams(hub: HubClient, org: str, warnings: list[str]) -> list[tuple[Record, list[Record]]]:
    """Each team with its members' records (the teams listing, then one members listing per team)."""
    teams = [team for team in await list_records(hub, TEAMS, org) if team.get("name")]
    names = [str(team["name"]) for team in teams]
    found: list[str] = []

    async def read(name: str) -> list[Record]:
        return await _records(hub, TEAM_MEMBERS, org, team=name)

    members = await _each(hub, names, read, what=f"{org} team", warnings=found)
    warnings += found
    return [(team, members[str(team["name"])]) for team in teams if str(team["name"]) in members]


def _grants(session: HubSession, names: list[str], warnings: list[str]) -> dict[str, list[Record]]:
    """repository -> its team permission records, for each of ``names`` still there (the generic
    per-repository listing: pacing, retries, 404 as deleted)."""
    org = session.org
    listing = session.run(lambda hub: list_per_repository(hub, REPOSITORY_GROUPS, org, names))
    if names and not listing.fetched:
        raise HubNotFound(f"every repository of {org} answered 404 for its team permissions")
    for warning in listing.warnings:
        log.warning(warning)
    warnings += listing.warnings
    grants: dict[str, list[Record]] = {name: [] for name in listing.fetched}
    columns = listing.columns
    for repository, team, permission in zip(
        columns["repository"], columns["team"], columns["permission"], strict=True
    ):
        grants[repository].append({"group_name": team, "permission": permission})
    stats = listing.stats
    log.info(
        "read the team permissions of %s of %s (%s, %s, %s, %.1f s)",
        plural(len(listing.fetched), "repository", "repositories"), org, plural(stats.requests, "request"),
        plural(stats.retries, "retry", "retries"), plural(stats.budget_pauses, "budget pause"), stats.seconds,
    )  # fmt: skip
    return grants


async def _tokens(hub: HubClient, org: str, warnings: list[str]) -> list[tuple[Record, Record]]:
    """Each token of the listing with its detail (its resources): one request per token."""
    listed = [token for token in await list_records(hub, ACCESS_TOKENS, org) if token.get("id")]

    async def read(token_id: str) -> Record | None:
        return await hub.get_object(endpoint(ACCESS_TOKEN, org, token=token_id))

    found: list[str] = []
    details = await _each(hub, [str(t["id"]) for t in listed], read, what=f"{org} token", warnings=found)
    warnings += found
    return [(token, details[str(token["id"])]) for token in listed if str(token["id"]) in details]


def _log_totals(org: str, night: access.AccessNight, repositories: int) -> None:
    """Counts only: the members' emails never reach a log."""

    def count(listing: Iterable[object] | None, unit: str, units: str) -> str:
        return f"no {units}" if listing is None else plural(len(list(listing)), unit, units)

    log.info(
        "access of %s: %s, %s, %s on %s, %s",
        org, count(night.members, "member", "members"), count(night.teams, "team", "teams"),
        count(night.grants, "team permission", "team permissions"),
        plural(repositories, "repository", "repositories"), count(night.tokens, "token", "tokens"),
    )  # fmt: skip
