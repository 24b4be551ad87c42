"""store.access_nights: the access history kept as validity intervals, on SQLite, PostgreSQL and MariaDB.
Nights are written and read back as they were (the fake Hub's history, read over HTTP); a listing a
night lacks stays missing; a rerun replaces the newest night, an older one is refused; `db forget`
removes a night as it removes a tag night; a year stays small."""

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from dbs import ORG
from fakehub import FakeHub
from hubhistory import build
from test_access import PAT, START, read_night

from dockerhub_export import store
from dockerhub_export.access import (
    AccessNight,
    Grant,
    Member,
    Repository,
    Team,
    Token,
    TokenResource,
)
from dockerhub_export.access_changes import walk
from dockerhub_export.errors import ConfigError, StoreError
from dockerhub_export.store.access_nights import (
    HISTORIES,
    access_nights,
    newest_access_night,
    read_access_night,
    write_access_night,
)
from dockerhub_export.store.forget import forget_night
from dockerhub_export.store.tables import access_nights as nights_table

HUB_DAYS = 5
STARTED = datetime(2026, 11, 1, 0, 30)
D1, D2, D3, D4 = (date(2026, 11, 2) + timedelta(days=k) for k in range(4))


@pytest.fixture(scope="module")
def hub_history() -> list[tuple[AccessNight, list[Repository]]]:
    """The fake Hub's access history, each night read over HTTP as the review reads it, with the night's
    repositories."""
    nights = []
    for day in range(HUB_DAYS):
        hub = FakeHub(credentials={PAT: ("alice", "all")})
        build(hub, ORG, 40, day=day, start=START, access=True)
        with hub:
            nights.append(read_night(hub, day))
    return nights


@pytest.fixture(scope="module")
def hub_nights(hub_history: list[tuple[AccessNight, list[Repository]]]) -> list[AccessNight]:
    return [night for night, _repos in hub_history]


def stored(night: AccessNight) -> AccessNight:
    """``night`` as the store gives it back: its tokens in id order (the Hub's listing order is not kept)."""
    tokens = None if night.tokens is None else tuple(sorted(night.tokens, key=lambda token: token.id))
    return replace(night, tokens=tokens)


def canonical(night: AccessNight) -> AccessNight:
    """``night`` with every listing in the store's order."""
    return replace(
        stored(night),
        members=tuple(sorted(night.members or (), key=lambda member: member.username)),
        teams=tuple(sorted(night.teams or (), key=lambda team: team.name)),
        grants=tuple(sorted(night.grants or (), key=lambda grant: (grant.repository, grant.team))),
    )


def write(engine: sa.Engine, *nights: AccessNight) -> None:
    for night in nights:
        write_access_night(engine, ORG, night, started_at=STARTED)


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every access row (but the time of writing), per table, in a stable order."""
    found = {}
    with engine.connect() as connection:
        for table in (nights_table, *(history.table for history in HISTORIES)):
            columns = [column for column in table.c if column.name != "written_at"]
            found[table.name] = sorted(map(tuple, connection.execute(sa.select(*columns)).all()), key=repr)
    return found


def versions(engine: sa.Engine, table: str, **key: str) -> list[tuple[Any, ...]]:
    """(valid_from, valid_to) of the versions of one key, oldest first."""
    chosen = store.metadata.tables[table]
    query = sa.select(chosen.c.valid_from, chosen.c.valid_to).where(
        chosen.c.namespace == ORG, *(chosen.c[name] == value for name, value in key.items())
    )
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


def night(day: date, **listings: Any) -> AccessNight:
    """A night at 01:00 UTC of ``day`` holding the listings given, the others missing."""
    taken = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    return AccessNight(day, taken, **{name: tuple(value) for name, value in listings.items()})


ALICE = Member("alice", "Alice A", "alice@example.com", "owner", date_joined="2024-01-02T03:04:05Z")
DAVE = Member(
    "dave", "Dave D", "dave@example.com", "member", teams=("dev",), date_joined="2025-06-01T00:00:00Z"
)
TOKEN = Token(
    "tok-1", "ci-pull", "alice", True, "2026-01-01T00:00:00Z", None, None,
    (TokenResource("TYPE_REPO", "acme/api", ("repo-pull", "repo-push")),),
)  # fmt: skip


def full(day: date, members: list[Member], grants: list[Grant], tokens: list[Token]) -> AccessNight:
    """A night with every listing, the teams derived from the members' own."""
    names = sorted({team for member in members for team in member.teams} | {"empty"})
    teams = [Team(name, tuple(m.username for m in members if name in m.teams)) for name in names]
    return night(day, members=members, teams=teams, grants=grants, tokens=tokens)


# -- written and read back ------------------------------------------------------------------------------


def test_each_night_of_the_fake_hubs_history_reads_back_as_written(
    engine: sa.Engine, hub_nights: list[AccessNight]
) -> None:
    write(engine, *hub_nights)
    for written in hub_nights:
        assert read_access_night(engine, ORG, written.night) == stored(written)
    assert access_nights(engine, ORG) == [stored(n) for n in hub_nights]
    window = access_nights(engine, ORG, hub_nights[1].night, hub_nights[3].night)
    assert window == [stored(n) for n in hub_nights[1:4]]
    assert walk(window) == walk(hub_nights[1:4])  # the changes read from the store are the Hub's
    assert len(walk(window)) > 5
    newest = newest_access_night(engine, ORG)
    assert newest is not None and newest.snapshot_date == hub_nights[-1].night
    assert newest.listings() == {"members", "teams", "permissions", "tokens"}
    with pytest.raises(StoreError, match=f"no acme access night on {START - timedelta(days=1)}"):
        read_access_night(engine, ORG, START - timedelta(days=1))


def test_a_listing_the_night_lacks_reads_as_missing_and_leaves_its_intervals(engine: sa.Engine) -> None:
    grant = Grant("api", "dev", "write")
    first = full(D1, [ALICE, DAVE], [grant], [TOKEN])
    # No member scope and an OAT: members and tokens missing, the teams and a permission changed.
    partial = night(D2, teams=[Team("dev", ("dave",))], grants=[replace(grant, permission="admin")])
    last = full(D3, [ALICE], [replace(grant, permission="admin")], [TOKEN])
    write(engine, first, partial)
    assert read_access_night(engine, ORG, D2) == partial
    assert (partial.members, partial.tokens) == (None, None)
    assert versions(engine, "access_members", username="dave") == [(D1, None)]  # not removed by D2
    assert versions(engine, "access_tokens", token_id="tok-1") == [(D1, None)]
    write(engine, last)
    assert [read_access_night(engine, ORG, day) for day in (D1, D2, D3)] == [first, partial, last]
    assert versions(engine, "access_members", username="dave") == [(D1, D3)]
    assert versions(engine, "access_permissions", repository="api", team="dev") == [(D1, D2), (D2, None)]
    found = newest_access_night(engine, ORG, before=D3, having="members")
    assert found is not None and found.snapshot_date == D1
    found = newest_access_night(engine, ORG, before=D3, having="permissions")
    assert found is not None and (found.snapshot_date, found.members, found.permissions) == (D2, None, 1)
    assert newest_access_night(engine, ORG, before=D1) is None


def test_a_member_who_leaves_and_comes_back_has_two_versions(engine: sa.Engine) -> None:
    back = replace(DAVE, role="editor", teams=())
    nights = [full(D1, [ALICE, DAVE], [], []), full(D2, [ALICE], [], []), full(D3, [ALICE, back], [], [])]
    write(engine, *nights)
    assert versions(engine, "access_members", username="dave") == [(D1, D2), (D3, None)]
    assert versions(engine, "access_members", username="alice") == [(D1, None)]
    assert versions(engine, "access_team_members", team="dev", username="dave") == [(D1, D2)]
    assert versions(engine, "access_teams", team="empty") == [(D1, None)]  # a team without members
    assert access_nights(engine, ORG) == nights
    kinds = [(change.night, change.change, change.username) for change in walk(access_nights(engine, ORG))]
    assert (D2, "member_removed", "dave") in kinds and (D3, "member_added", "dave") in kinds


def test_a_tokens_last_use_moving_makes_no_new_version_of_the_token(engine: sa.Engine) -> None:
    days = [D1, D2, D3, D4]
    used = [None, "2026-11-03T00:10:00.123456789Z", "2026-11-04T00:20:00Z", "2026-11-04T00:20:00Z"]
    nights = [
        full(day, [ALICE], [], [replace(TOKEN, last_used_at=u)]) for day, u in zip(days, used, strict=True)
    ]
    write(engine, *nights)
    assert versions(engine, "access_tokens", token_id="tok-1") == [(D1, None)]
    assert versions(engine, "access_token_use", token_id="tok-1") == [(D1, D2), (D2, D3), (D3, None)]
    assert [n.tokens[0].last_used_at for n in access_nights(engine, ORG) if n.tokens] == used
    after = D4 + timedelta(days=1)
    write(engine, full(after, [ALICE], [], [replace(TOKEN, is_active=False)]))
    assert versions(engine, "access_tokens", token_id="tok-1") == [(D1, after), (after, None)]  # a change


# -- reruns, order, all-or-nothing ----------------------------------------------------------------------


def test_a_rerun_of_the_newest_night_is_idempotent_and_a_different_one_replaces_it(
    engine: sa.Engine, hub_nights: list[AccessNight]
) -> None:
    write(engine, *hub_nights[:3])
    before = dump(engine)
    write(engine, hub_nights[2])
    assert dump(engine) == before
    other = replace(hub_nights[1], night=hub_nights[2].night, tokens=None)  # night 2's state, no tokens
    write(engine, other)
    assert read_access_night(engine, ORG, other.night) == stored(other)
    assert read_access_night(engine, ORG, hub_nights[1].night) == stored(hub_nights[1])
    write(engine, hub_nights[2])
    assert dump(engine) == before


def test_a_night_older_than_the_newest_is_refused_and_changes_nothing(
    engine: sa.Engine, hub_nights: list[AccessNight]
) -> None:
    write(engine, hub_nights[0], hub_nights[2])
    before = dump(engine)
    with pytest.raises(StoreError, match="access history runs forward and its newest night is 2026-11-04"):
        write(engine, hub_nights[1])
    assert dump(engine) == before


def test_a_repeated_key_is_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    doubled = full(D1, [ALICE], [Grant("api", "dev", "read"), Grant("api", "dev", "admin")], [])
    with pytest.raises(StoreError, match="a repository/team repeats in permissions"):
        write(engine, doubled)
    assert all(rows == [] for rows in dump(engine).values())


# -- db forget -------------------------------------------------------------------------------------------


def test_forgetting_the_newest_night_then_rerunning_it_equals_the_first_write(
    engine: sa.Engine, hub_nights: list[AccessNight]
) -> None:
    write(engine, *hub_nights)
    first = dump(engine)
    dry = forget_night(engine, ORG, hub_nights[-1].night, apply=False)
    assert [c.rows for c in dry.changes if c.table == "access_nights"] == [1]
    assert dump(engine) == first
    forget_night(engine, ORG, hub_nights[-1].night, apply=True)
    assert access_nights(engine, ORG) == [stored(n) for n in hub_nights[:-1]]
    newest = newest_access_night(engine, ORG)
    assert newest is not None and newest.snapshot_date == hub_nights[-2].night
    write(engine, hub_nights[-1])
    assert dump(engine) == first


def test_forgetting_a_middle_night_hands_its_changes_on_to_the_next_night_with_the_listing(
    engine: sa.Engine,
) -> None:
    moved = replace(DAVE, role="editor")
    nights = [
        full(D1, [ALICE, DAVE], [Grant("api", "dev", "read")], [TOKEN]),
        full(D2, [ALICE, moved], [Grant("api", "dev", "write")], [replace(TOKEN, label="renamed")]),
        night(D3, grants=[Grant("api", "dev", "read")]),  # members, teams and tokens missing
        full(D4, [ALICE, moved], [Grant("api", "dev", "read")], [TOKEN]),
    ]
    write(engine, *nights)
    forget_night(engine, ORG, D2, apply=True)
    assert access_nights(engine, ORG) == [nights[0], nights[2], nights[3]]
    assert versions(engine, "access_members", username="dave") == [(D1, D4), (D4, None)]
    # The permission went read -> write -> read: without D2 it never changed.
    assert versions(engine, "access_permissions", repository="api", team="dev") == [(D1, None)]
    assert versions(engine, "access_tokens", token_id="tok-1") == [(D1, None)]
    with pytest.raises(ConfigError, match="no repository snapshot, tag night or access night"):
        forget_night(engine, ORG, D2, apply=True)


# -- views and size --------------------------------------------------------------------------------------


def test_the_latest_views_hold_the_newest_night_that_has_each_listing(engine: sa.Engine) -> None:
    write(engine, full(D1, [ALICE, DAVE], [Grant("api", "dev", "write")], []))
    write(engine, night(D2, grants=[Grant("api", "dev", "admin"), Grant("web", "dev", "read")]))

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with engine.connect() as connection:
            found = [tuple(row) for row in connection.execute(sa.text(sql))]
        return [tuple(str(v) if isinstance(v, date) else v for v in row) for row in found]

    members = rows("SELECT username, role, email, teams, snapshot_date FROM latest_members ORDER BY username")
    assert members == [
        ("alice", "owner", "alice@example.com", "", str(D1)),
        ("dave", "member", "dave@example.com", "dev", str(D1)),
    ]
    assert rows("SELECT team, username, snapshot_date FROM latest_team_members") == [("dev", "dave", str(D1))]
    permissions = rows(
        "SELECT repository, team, permission, snapshot_date FROM latest_permissions ORDER BY 1"
    )
    assert permissions == [("api", "dev", "admin", str(D2)), ("web", "dev", "read", str(D2))]


def year_of_nights(members: int = 300, repositories: int = 3000, days: int = 365) -> list[AccessNight]:
    """A year of an org's access with a realistic day's churn: a join or two, a leave, a role change,
    two team moves, a few permission changes, most tokens used, a token created now and then. Grants as
    the fake Hub makes them: most private and some public repositories, one or two teams each."""
    rnd = random.Random(16)
    people = {f"u{k:03d}": Member(f"u{k:03d}", f"User {k}", f"u{k}@example.com") for k in range(members)}
    teams = {f"team{k:02d}": set(rnd.sample(sorted(people), 20)) for k in range(30)}
    grants = {}
    for k in range(repositories):
        if rnd.random() < (0.8 if k % 2 else 0.3):
            for team in rnd.sample(sorted(teams), 1 + rnd.randrange(2)):
                grants[f"repo{k:04d}", team] = Grant(
                    f"repo{k:04d}", team, rnd.choice(("read", "write", "admin"))
                )
    tokens = {f"tok{k:02d}": replace(TOKEN, id=f"tok{k:02d}") for k in range(12)}
    nights = []
    for day in range(days):
        today = D1 + timedelta(days=day)
        if day:
            _churn(rnd, today, people, teams, grants, tokens)
        nights.append(
            night(today, members=people.values(), grants=grants.values(), tokens=tokens.values(),
                  teams=[Team(name, tuple(sorted(users))) for name, users in teams.items()])
        )  # fmt: skip
    return nights


def _churn(
    rnd: random.Random,
    today: date,
    people: dict[str, Member],
    teams: dict[str, set[str]],
    grants: dict[tuple[str, str], Grant],
    tokens: dict[str, Token],
) -> None:
    for k in range(1 + rnd.randrange(2)):
        people[f"j{today:%j}{k}"] = Member(f"j{today:%j}{k}", "New", "new@example.com")
    gone = rnd.choice(sorted(people))
    del people[gone]
    for users in teams.values():
        users.discard(gone)
    who = rnd.choice(sorted(people))
    people[who] = replace(people[who], role=rnd.choice(("member", "editor")))
    for _ in range(2):
        teams[rnd.choice(sorted(teams))] ^= {rnd.choice(sorted(people))}
    for _ in range(3):
        key = rnd.choice(sorted(grants))
        grants[key] = replace(grants[key], permission=rnd.choice(("read", "write", "admin")))
    for token_id, token in tokens.items():
        if rnd.random() < 0.7:
            tokens[token_id] = replace(token, last_used_at=f"{today}T00:{rnd.randrange(60):02d}:00Z")
    if today.day == 1:
        tokens[f"tok-{today}"] = replace(TOKEN, id=f"tok-{today}", created_at=f"{today}T00:00:00Z")


def test_a_year_of_300_members_and_3000_repositories_stays_small(sqlite_engine: sa.Engine) -> None:
    nights = year_of_nights()
    write(sqlite_engine, *nights)
    first, last = nights[0], nights[-1]
    with sqlite_engine.connect() as connection:
        counts = {
            h.name: connection.execute(sa.select(sa.func.count()).select_from(h.table)).scalar_one()
            for h in HISTORIES
        }
    daily = sum(len(h.rows(n)) for h in HISTORIES for n in (first, last)) / 2  # a night's rows
    assert sum(counts.values()) < 0.02 * len(nights) * daily  # under 2% of what daily copies would take
    assert counts["access_permissions"] < len(first.grants or ()) + 3 * 365
    assert counts["access_members"] < 300 + 4 * 365
    assert counts["access_tokens"] == len(last.tokens or ())  # one version each: only their use moved
    assert counts["access_token_use"] < 0.8 * 365 * len(last.tokens or ())  # one row per actual use
    assert read_access_night(sqlite_engine, ORG, nights[200].night) == canonical(nights[200])
