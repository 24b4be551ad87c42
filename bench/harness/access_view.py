"""Access review (issue 16), the BI view: `latest_access` over a year of nightly access history, queried in
plain SQL as a BI tool runs it, on SQLite (``access-view``) and PostgreSQL (``access-view-pg``).

The year (this file run as a script, in a process of the code under test, so that each code's store
writes it): 365 nights (smoke: 20) of an org of ``size`` repositories, two thirds private, and one person
for every ten (300 at 3,000): 3 owners, 4 editors, 2 invitees, the rest members, each in 1-3 of 40
teams; team grants on 80 % of the private and 30 % of the public repositories (1-3 teams each, random
levels). Each night a member leaves and another joins, two members move between teams, ten grants
change, and every tenth night a role changes; the last night and one in the middle lack the members
listing, so that the view stands on the night before the last. Each night is written by the store's own
writers, as a run writes it: `store.write_snapshot` of the repositories, `store.write_access_night`.
``build_s``: the year's writes (once per code).

Then, on an engine of `sqlalchemy.create_engine` (none of the store's settings), one connection, every row
fetched, one run a repetition: ``member_s`` (``SELECT * FROM latest_access WHERE namespace = 'acme' AND
username = :u``, the member with the most rows), ``owner_s`` (an owner: a row per repository),
``repo_s`` (``... AND repository = :r``, a repository a member may use), ``count_s`` (``SELECT COUNT(*)
FROM latest_access``), ``org_s`` (every row of the org). Each answer's row count is checked against
`access.effective_access` of the night read back from the store; the builder checks every row. PostgreSQL is
analyzed after the build (the test server runs without autovacuum; docs/benchmarks.md has the figures
without statistics). A code without the view (before revision 0006) has no figures.

MariaDB, or any database, once, outside the harness (an empty database; prints the build's JSON and,
with ``--measure``, the queries' medians)::

    python bench/harness/access_view.py --database-url mysql+pymysql://root@127.0.0.1:3306/NAME --measure
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

if __name__ == "__main__":  # run as the builder: the harness package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import databases
from harness.core import Figures, Scenario, Setup, SetupFactory, Target, scenario
from harness.tools import PY, Code, clean_env, run_timed

ORG = "acme"
END = date(2026, 11, 27)
TEAMS = 40
LEVELS = ("read", "write", "admin")
FULL, QUICK, SMOKE = 3_000, 1_000, 100
BASE = "SELECT * FROM latest_access WHERE namespace = 'acme'"
QUERIES = {
    "member": f"{BASE} AND username = :u",
    "owner": f"{BASE} AND username = :u",
    "repo": f"{BASE} AND repository = :r",
    "count": "SELECT COUNT(*) FROM latest_access",
    "org": BASE,
}


def nights(size: int) -> int:
    return 365 if size >= QUICK else 20


# -- the year (run as a script, on the code under test) -----------------------------------------------------


@dataclass
class Org:
    """The org on one night, changed in place night after night."""

    private: dict[str, bool]
    roles: dict[str, str]
    teams: dict[str, set[str]]  # team -> usernames
    grants: dict[tuple[str, str], str]  # (repository, team) -> level
    rnd: random.Random
    joined: int = 0

    def night(self, day: date, *, members: bool) -> Any:
        from dockerhub_export.access import AccessNight, Grant, Member, Team, Token

        groups: dict[str, list[str]] = {}
        for team, users in self.teams.items():
            for user in users:
                groups.setdefault(user, []).append(team)
        people = tuple(
            Member(
                user, f"Name {user}", f"{user}@acme.example", role, teams=tuple(sorted(groups.get(user, ())))
            )
            for user, role in sorted(self.roles.items())
        )
        return AccessNight(
            day,
            datetime(day.year, day.month, day.day, 1, tzinfo=UTC),
            members=people if members else None,
            teams=tuple(Team(name, tuple(sorted(users))) for name, users in sorted(self.teams.items())),
            grants=tuple(Grant(r, t, level) for (r, t), level in sorted(self.grants.items())),
            tokens=tuple(Token(f"tok-{k}", f"token-{k}", "owner0") for k in range(10)),
        )

    def churn(self, index: int) -> None:
        rnd, members = self.rnd, sorted(u for u, role in self.roles.items() if role == "member")
        gone = rnd.choice(members)
        del self.roles[gone]
        for users in self.teams.values():
            users.discard(gone)
        self.joined += 1
        self.roles[f"new{self.joined:04d}"] = "member"
        self.teams[rnd.choice(sorted(self.teams))].add(f"new{self.joined:04d}")
        for user in rnd.sample(members, 2):
            if user in self.roles:
                for users in self.teams.values():
                    users.discard(user)
                self.teams[rnd.choice(sorted(self.teams))].add(user)
        for key in rnd.sample(sorted(self.grants), 5):
            del self.grants[key]
        for _ in range(5):
            self.grants[(rnd.choice(sorted(self.private)), rnd.choice(sorted(self.teams)))] = rnd.choice(
                LEVELS
            )
        if index % 10 == 0:
            user = rnd.choice(sorted(u for u in self.roles if u.startswith("dev")))
            self.roles[user] = "editor" if self.roles[user] == "member" else "member"


def make_org(repos: int, seed: int = 16) -> Org:
    rnd = random.Random(seed)
    people = max(20, repos // 10)
    private = {f"repo-{k:05d}": rnd.random() < 2 / 3 for k in range(repos)}
    roles = {f"owner{k}": "owner" for k in range(3)} | {f"editor{k}": "editor" for k in range(4)}
    roles |= {f"dev{k:04d}": "member" for k in range(people - 9)} | {
        f"invitee{k}": "invitee" for k in range(2)
    }
    teams: dict[str, set[str]] = {f"team-{k:02d}": set() for k in range(TEAMS)}
    for user, role in roles.items():
        if role == "member":
            for team in rnd.sample(sorted(teams), 1 + int(rnd.random() * 3)):
                teams[team].add(user)
    grants = {}
    for name, is_private in private.items():
        if rnd.random() < (0.8 if is_private else 0.3):
            for team in rnd.sample(sorted(teams), 1 + int(rnd.random() * 3)):
                grants[(name, team)] = rnd.choice(LEVELS)
    return Org(private, roles, teams, grants, rnd)


def write_year(engine: sa.Engine, org: Org, count: int) -> date:
    """``count`` nights ending on END, the last and a middle one without the members listing; returns the
    newest night with members and permissions (the view's)."""
    from dockerhub_export import store

    days = [END - timedelta(days=count - 1 - k) for k in range(count)]
    without = {days[len(days) // 2], days[-1]}
    for index, day in enumerate(days):
        if index:
            org.churn(index)
        names = sorted(org.private)
        store.write_snapshot(engine, ORG, day, {"name": names, "is_private": [org.private[n] for n in names]})
        state = org.night(day, members=day not in without)
        store.write_access_night(engine, ORG, state, started_at=datetime(day.year, day.month, day.day, 1))
    return days[-2]


def truth(engine: sa.Engine, night: date) -> list[tuple[Any, ...]]:
    """`access.effective_access` of ``night`` read back from the store, on that night's repositories."""
    from dockerhub_export import access, store

    state = store.read_access_night(engine, ORG, night)
    rs = store.repository_snapshots
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(rs.c.name, rs.c.is_private).where(rs.c.namespace == ORG, rs.c.snapshot_date == night)
        ).all()
    rows = access.effective_access(state, [access.Repository(name, bool(flag)) for name, flag in found]) or []
    return [(ORG, r.repository, r.username, r.permission, r.role, ";".join(r.teams), night) for r in rows]


def _row(row: Any) -> tuple[Any, ...]:
    values = list(row)
    if isinstance(values[-1], str):
        values[-1] = date.fromisoformat(values[-1])  # SQLite keeps days as ISO text
    return tuple(values)


def build(url: str, repos: int, count: int) -> dict[str, Any]:
    """The year in the empty database at ``url``, every row of the view checked: what the queries need."""
    from dockerhub_export import store

    engine = store.open_engine(url)
    try:
        started = time.perf_counter()
        night = write_year(engine, make_org(repos), count)
        seconds = time.perf_counter() - started
        rows = truth(engine, night)
        with engine.connect() as connection:
            got = sorted(map(_row, connection.execute(sa.text(QUERIES["org"]))))
    finally:
        engine.dispose()
    if got != sorted(rows):
        raise AssertionError(f"latest_access: {len(got)} rows, effective_access {len(rows)}: they differ")
    grants: dict[str, int] = {}
    for row in rows:
        if row[4] == "member":
            grants[row[2]] = grants.get(row[2], 0) + 1
    member = max(sorted(grants), key=lambda user: grants[user])  # the member with the most rows
    owner = next(row[2] for row in rows if row[4] == "owner")
    repository = next(row[1] for row in rows if row[4] == "member")
    counted = {
        "member": sum(row[2] == member for row in rows),
        "owner": sum(row[2] == owner for row in rows),
        "repo": sum(row[1] == repository for row in rows),
        "count": 1,
        "org": len(rows),
    }
    return {"night": night.isoformat(), "member": member, "owner": owner, "repository": repository,
            "rows": counted, "build_s": seconds}  # fmt: skip


# -- the scenarios ------------------------------------------------------------------------------------------


def params(year: dict[str, Any], key: str) -> dict[str, Any]:
    return {"member": {"u": year["member"]}, "owner": {"u": year["owner"]},
            "repo": {"r": year["repository"]}}.get(key, {})  # fmt: skip


def timed(connection: sa.Connection, year: dict[str, Any]) -> Figures:
    """Each query once, every row fetched: seconds; its row count checked."""
    figures = {}
    for key, sql in QUERIES.items():
        started = time.perf_counter()
        rows = connection.execute(sa.text(sql), params(year, key)).fetchall()
        figures[f"{key}_s"] = time.perf_counter() - started
        if len(rows) != year["rows"][key]:
            raise AssertionError(f"latest_access, {key}: {len(rows)} rows, expected {year['rows'][key]}")
    return figures


def has_view(code: Code) -> bool:
    return any((code.tree / "src/dockerhub_export/migrations/versions").glob("0006_*.py"))


def built(postgres: bool) -> SetupFactory:
    @contextlib.contextmanager
    def setup(size: int, codes: list[Code]) -> Iterator[Setup]:
        work = Path(tempfile.mkdtemp(prefix="bench-access-view-"))
        names = [f"dhe_bench_access_view_{index}" for index in range(len(codes))]
        drop = databases.dropped_after(*names) if postgres else contextlib.nullcontext()
        try:
            with drop, contextlib.ExitStack() as stack:
                ready = Setup(size, codes, work=work)
                for index, code in enumerate(codes):
                    if not has_view(code):
                        ready.state[code.label] = {}
                        continue
                    if postgres:
                        url = databases.fresh_postgres(names[index])
                    else:
                        url = databases.fresh_sqlite(work / f"{index}.db")
                    cmd = [
                        PY,
                        __file__,
                        "--database-url",
                        url,
                        "--repos",
                        str(size),
                        "--nights",
                        str(nights(size)),
                    ]
                    year = json.loads(
                        run_timed(cmd, env=code.env(clean_env())).stdout.strip().splitlines()[-1]
                    )
                    if postgres:
                        databases.analyze(url)
                    engine = sa.create_engine(url)
                    stack.callback(engine.dispose)
                    ready.state[code.label] = {
                        "year": year,
                        "connection": stack.enter_context(engine.connect()),
                    }
                yield ready
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return setup


def project(setup: Setup, code: Code) -> Figures:
    state = setup.state[code.label]
    if not state:
        return {}
    connection: sa.Connection = state["connection"]
    figures = timed(connection, state["year"])
    connection.rollback()
    if "build_s" in state["year"]:
        figures["build_s"] = float(state["year"].pop("build_s"))
    return figures


TARGETS = (
    *(Target(f"{key}_s", 0.5, at=FULL, why="a BI tool's query of one user or repository")
      for key in ("member", "owner", "repo")),
    Target("count_s", 2.0, at=FULL, why="the whole view (~140,000 rows)"),
)  # fmt: skip


def register(postgres: bool) -> None:
    on_what, suffix = ("PostgreSQL", "-pg") if postgres else ("SQLite", "")
    scenario(
        Scenario(
            name=f"access-view{suffix}",
            what=f"latest_access over a year of access history in plain SQL (size: repositories), {on_what}",
            sizes=(FULL,),
            quick=(QUICK,),
            smoke=SMOKE,
            project=project,
            setup=built(postgres),
            repeats=lambda size: 5,
            targets=TARGETS,
            smoke_skip=databases.NO_POSTGRES_IN_SMOKE if postgres else "",
        )
    )


register(postgres=False)
register(postgres=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Build a year of access history; with --measure, time the view."
    )
    parser.add_argument("--database-url", required=True, help="an empty database")
    parser.add_argument("--repos", type=int, default=FULL)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--measure", action="store_true", help="then time each query (median of 5)")
    args = parser.parse_args()
    year = build(args.database_url, args.repos, args.nights)
    print(json.dumps(year), flush=True)
    if args.measure:
        engine = sa.create_engine(args.database_url)
        with engine.connect() as connection:
            runs = [timed(connection, year) for _ in range(6)]
        engine.dispose()
        medians = {key: round(statistics.median(run[key] for run in runs[1:]), 4) for key in runs[0]}
        print(json.dumps({"first": {k: round(v, 4) for k, v in runs[0].items()}, "median": medians}))


if __name__ == "__main__":
    main()
