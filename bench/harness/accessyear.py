"""A year of nightly access history, written straight through the store (no Hub, no run): the store the
access queries are timed on (`bench/harness/access_history.py`).

    python bench/harness/accessyear.py --repos 3000 --nights 365 --database-url sqlite:///PATH [--seed N]

The org moves night by night as `tests/hubhistory.py` moves the fake Hub's (`--access`): repositories
created, released, deleted, made public or private; members invited, accepting, leaving, changing role
and team; team permissions granted, changed and revoked; tokens created, deleted, deactivated and used;
the audit events the Hub records for each. One change to that model (`SteadyRoles`): hubhistory changes
a role on one day in two and a member gains one more often than an owner or editor loses it, made for
a few nights of tests; over a year a third of the org would end up owner or editor (116 of 390 here),
and each of them has admin on every repository. Here a role changes about every ten days, and the
owners and editors beyond the first three stay at most `ELEVATED`, as in an org that keeps its admins
few. Each night is then stored as a run stores it, without the
HTTP: the repositories as the day's snapshot (`store.upsert_snapshot` of `transform.to_frame`), the day's
audit events (`store.audit.store_events`), and the access night (`access.parse_night` of the payloads the
Hub's access routes serve, `store.write_access_night`). Members: make_access's default, one for every
ten repositories (300 at 3,000).

Prints one JSON line: the nights' first and last dates, a user and a private repository present on the
last night (for `access --user` and `--repo`), the seconds the build took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # run as a script: the fake Hub

import hubhistory  # noqa: E402
from fakehub import FakeHub  # noqa: E402
from hubaccess import OrgAccess  # noqa: E402

from dockerhub_export.access import AccessNight, parse_night  # noqa: E402
from dockerhub_export.resources import REPOSITORIES  # noqa: E402
from dockerhub_export.store import open_engine, upsert_snapshot, write_access_night  # noqa: E402
from dockerhub_export.store.audit import store_events  # noqa: E402
from dockerhub_export.transform import to_frame  # noqa: E402

ORG = "acme"
ELEVATED = 6  # owners and editors besides make_access's three (alice, carol, bob)


class SteadyRoles(hubhistory._AccessDay):
    """hubhistory's day of access changes, with a year's worth of role changes (module docstring)."""

    def change_role(self, *, minute: float) -> None:
        if self.rnd.random() >= 0.1:
            return
        elevated = self.people("Owner", "Editor")
        if len(elevated) >= ELEVATED or (elevated and self.rnd.random() < 0.5):
            name, role = self.rnd.choice(elevated), "Member"
        elif members := self.people("Member"):
            name, role = self.rnd.choice(members), self.rnd.choice(("Editor", "Editor", "Owner"))
        else:
            return
        self.touched.add(name)
        self.log(self.state.set_role(name, role, when=self.at(minute), actor=self.owner()))


def access_night(state: OrgAccess, repos: list[dict[str, Any]], night: date, taken: datetime) -> AccessNight:
    """The night as `access_fetch.fetch_access` reads it from the Hub's access routes."""
    members = [state.member_payload(name) for name in sorted(state.members)]  # invites=true&type=all
    teams = [
        (state.team_payload(name), [state.team_member_payload(user) for user in state.teams[name]["members"]])
        for name in sorted(state.teams)
    ]
    grants = {repo["name"]: state.repo_groups_payload(repo["name"]) for repo in repos}
    tokens = [
        (state.token_payload(token, resources=False), state.token_payload(token, resources=True))
        for token in state.tokens
    ]
    return parse_night(night, taken_at=taken, members=members, teams=teams, grants=grants, tokens=tokens)


def build(url: str, repos: int, nights: int, start: date, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    engine = open_engine(url)
    hub = FakeHub()
    hubhistory.build(hub, ORG, repos, seed=seed, day=0, start=start, access=True)
    logged = 0
    for day in range(nights):
        if day:  # the day-by-day changes of `fakehub.py --access --day N` (hubhistory.build's loop)
            hubhistory._Day(hub, ORG, seed, day, start).run()
            SteadyRoles(hub, ORG, seed, day, start).run()
        night = hubhistory.night_of(start, day)
        taken = datetime.fromtimestamp(hubhistory.night_moment(start, day), UTC)
        listed = hub.repos[ORG]
        upsert_snapshot(engine, ORG, night, to_frame(listed, REPOSITORIES.schema, ORG))
        events = hub.audit.get(ORG, [])
        store_events(engine, ORG, events[logged:])
        logged = len(events)
        state = hub.access[ORG]
        write_access_night(engine, ORG, access_night(state, listed, night, taken), started_at=taken)
    state = hub.access[ORG]
    user = next(
        name
        for name in sorted(state.members)
        if state.members[name]["role"] == "Member" and state.groups_of(name)
    )
    private = sorted(repo["name"] for repo in hub.repos[ORG] if repo.get("is_private"))
    engine.dispose()
    return {
        "first": start.isoformat(),
        "last": hubhistory.night_of(start, nights - 1).isoformat(),
        "user": user,
        "repository": private[len(private) // 2],
        "members": len(state.members),
        "build_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=3000)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--start", type=date.fromisoformat, default=hubhistory.MIN_START)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    print(json.dumps(build(args.database_url, args.repos, args.nights, args.start, args.seed)), flush=True)


if __name__ == "__main__":
    main()
