"""Nights for the report's tests: the fake Hub's org moved forward day by day (`hubhistory`), each night
exported by the real pipeline over loopback HTTP into a real database, and the query commands' JSON for
the same night, which the report must agree with.

The last night carries hostile text where the Hub lets users write it: every repository's description
and every member's full name.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fakehub import FakeHub
from hubhistory import build

from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.settings import Settings

ORG = "acme"
PAT = "dckr_pat_alice-owner"  # an owner's personal access token: every access listing
OAT = "dckr_oat_acme-org"  # an organization access token: no token listing
START = date(2026, 11, 2)
HOSTILE = "<script>alert(1)</script>"
HOSTILE_NAME = '<img src=x onerror="alert(2)">'
STALE_DAYS = 180


@dataclass(frozen=True)
class Nights:
    export_dir: Path
    database_url: str
    nights: tuple[date, ...]
    emails: frozenset[str]  # the members' emails the Hub served: never on the page

    def args(self) -> list[str]:
        return ["--org", ORG, "--output-dir", str(self.export_dir), "--database-url", self.database_url]


def export_nights(
    export_dir: Path,
    database_url: str,
    days: int,
    *,
    repos: int = 40,
    tags: bool = True,
    access: bool = True,
    token: str = PAT,
    last_without: bool = False,
) -> Nights:
    """``days`` nights of the org from START, exported with tags and access as asked (``last_without``:
    the last night without either)."""
    emails: set[str] = set()
    nights = []
    for day in range(days):
        hub = FakeHub(credentials={PAT: ("alice", "all"), OAT: (ORG, "all")})
        build(hub, ORG, repos, tags=3 if tags else 0, seed=3, day=day, start=START, access=access)
        if day == days - 1:
            for repo in hub.repos[ORG]:
                repo["description"] = HOSTILE
            for member in hub.access.get(ORG).members.values() if access else ():
                member["full_name"] = HOSTILE_NAME
                emails.add(member["email"])
        night = START + timedelta(days=day)
        with hub:
            settings = Settings.load(
                None,
                org=ORG,
                token=token,
                username=None if token.startswith("dckr_oat_") else "alice",
                api_url=hub.url,
                export_dir=export_dir,
                snapshot_database_url=database_url,
                concurrency=4,
            )
            last = last_without and day == days - 1
            export(
                settings,
                RunOptions(night, include_tags=tags and not last, include_access=access and not last),
            )
        nights.append(night)
    return Nights(export_dir, database_url, tuple(nights), frozenset(email for email in emails if email))


def cli_json(nights: Nights, *args: str) -> Any:
    """A query command's JSON for the nights' database."""
    from typer.testing import CliRunner

    from dockerhub_export.cli import app

    result = CliRunner().invoke(app, [*args, *nights.args(), "--format", "json"])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return json.loads(result.stdout)


def expected_figures(nights: Nights, night: date, days: int = 30) -> dict[str, tuple[int | None, int | None]]:
    """Each headline figure (value, value on the compared night) as the query commands give them for
    ``night``: trends over the window, storage and stale of the night and of the window's first
    night, members of both."""
    since = (night - timedelta(days=days)).isoformat()
    trend = cli_json(nights, "trends", "--since", since, "--days", str(days))
    rows = trend["repositories"]
    added = {item["name"] for item in trend["added"]}
    removed = {item["name"] for item in trend["removed"]}
    flipped = {item["name"]: item["from"] for item in trend["visibility_changed"]}
    at_end = [row for row in rows if row["name"] not in removed]
    at_start = [row for row in rows if row["name"] not in added]
    first = trend["from"]

    def stored(day: str) -> tuple[int, int, int]:
        sizes = cli_json(nights, "storage", "--date", day)
        stale = cli_json(nights, "stale", "--days", str(STALE_DAYS), "--date", day)
        tags = sum(row["tags"] for row in sizes["repositories"])
        return tags, sizes["total_bytes"], stale["reclaimable_bytes"]

    def joined(day: str) -> int:
        listed = cli_json(nights, "members", "--date", day)["members"]
        return sum(1 for member in listed if member["role"] != "invitee")

    now, then = stored(night.isoformat()), stored(first)
    return {
        "repositories": (len(at_end), len(at_start)),
        "private": (
            sum(1 for row in at_end if row["is_private"]),
            sum(
                1
                for row in at_start
                if (flipped[row["name"]] == "private" if row["name"] in flipped else row["is_private"])
            ),
        ),
        "pulls": (
            sum(row["pulls_end"] or 0 for row in at_end),
            sum(row["pulls_start"] or 0 for row in at_start),
        ),
        "stars": (
            sum(row["stars_end"] or 0 for row in at_end),
            sum(row["stars_start"] or 0 for row in at_start),
        ),
        "tags": (now[0], then[0]),
        "storage": (now[1], then[1]),
        "reclaimable": (now[2], then[2]),
        "members": (joined(night.isoformat()), joined(first)),
    }


def privileged_users(nights: Nights, night: date) -> dict[str, tuple[int, int]]:
    """username -> (admin, write) on private repositories, from ``access --min-permission write`` and
    the visibility ``trends`` gives each repository of the night."""
    access = cli_json(nights, "access", "--date", night.isoformat(), "--min-permission", "write")["access"]
    trend = cli_json(nights, "trends", "--since", nights.nights[0].isoformat(), "--until", night.isoformat())
    removed = {item["name"] for item in trend["removed"]}
    private = {
        row["name"] for row in trend["repositories"] if row["is_private"] and row["name"] not in removed
    }
    found: dict[str, tuple[int, int]] = {}
    for row in access:
        if row["repository"] in private:
            admin, write = found.get(row["username"], (0, 0))
            found[row["username"]] = (
                admin + (row["permission"] == "admin"),
                write + (row["permission"] == "write"),
            )
    return found
