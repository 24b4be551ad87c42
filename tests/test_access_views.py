"""The `latest_access` view on SQLite, PostgreSQL and MariaDB: plain SQL gives exactly what
`access.effective_access` gives (the night's access CSV) for each org's newest access night that has
members and permissions, on that night's repositories; on the fake Hub's history, night after night, and
at the edges (public reads, equal teams, invitees, a night without team listings, later nights missing a
listing, team names in a linguistic collation)."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo, server_url
from fakehub import FakeHub
from hubhistory import build
from test_access import PAT, START, read_night

from dockerhub_export import store
from dockerhub_export.access import AccessNight, Grant, Member, Repository, Team, effective_access

D1, D2, D3, D4 = (date(2026, 11, 2) + timedelta(days=k) for k in range(4))
COLUMNS = "namespace, repository, username, permission, role, teams, snapshot_date"
Rows = list[tuple[Any, ...]]


def view(engine: sa.Engine, org: str = ORG) -> Rows:
    """The view's rows of ``org``, sorted; SQLite keeps days as ISO text, read as dates here."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(f"SELECT {COLUMNS} FROM latest_access WHERE namespace = :o"), {"o": org}
        ).all()
    rows = [
        (*row[:-1], date.fromisoformat(row[-1]) if isinstance(row[-1], str) else row[-1]) for row in found
    ]
    return sorted(rows)


def expected(night: AccessNight, repositories: list[Repository], org: str = ORG) -> Rows:
    """The night's access CSV rows, as the view spells them."""
    rows = effective_access(night, repositories)
    assert rows is not None
    return sorted(
        (org, r.repository, r.username, r.permission, r.role, ";".join(r.teams), night.night) for r in rows
    )


def store_night(
    engine: sa.Engine, night: AccessNight, repositories: list[tuple[str, bool | None]], org: str = ORG
) -> list[Repository]:
    """Write the night's repository snapshot and its access night, as a run does; the repositories as
    the run hands them to `effective_access` (an unknown visibility is public there)."""
    store.upsert_snapshot(
        engine, org, night.night, frame(*(repo(name, private=p) for name, p in repositories), org=org)
    )
    store.write_access_night(engine, org, night, started_at=datetime(2026, 11, 1))
    return [Repository(name, bool(private)) for name, private in repositories]


def night(day: date, **listings: Any) -> AccessNight:
    taken = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    return AccessNight(day, taken, **{name: tuple(value) for name, value in listings.items()})


# -- the fake Hub's history --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub_history() -> list[tuple[AccessNight, list[Repository]]]:
    """Five nights of the fake Hub's org (joins, leaves, role changes, team moves, permission changes),
    each read over HTTP as the run reads it."""
    nights = []
    for day in range(5):
        hub = FakeHub(credentials={PAT: ("alice", "all")})
        build(hub, ORG, 40, day=day, start=START, access=True)
        with hub:
            nights.append(read_night(hub, day))
    return nights


def test_the_view_is_the_effective_access_of_each_night_of_the_fake_hubs_history(
    engine: sa.Engine, hub_history: list[tuple[AccessNight, list[Repository]]]
) -> None:
    before: Rows = []
    for state, repositories in hub_history:
        listed = store_night(engine, state, [(r.name, r.is_private) for r in repositories])
        got = view(engine)
        assert got == expected(state, listed)
        assert got != before  # each night changes who may do what
        before = got
    roles = {row[4] for row in before}
    assert {"owner", "editor", "member"} <= roles and "invitee" not in roles
    assert any(";" in row[5] for row in before)  # a member granted one level by two teams


# -- the edges, by hand ------------------------------------------------------------------------------------

ALICE = Member("alice", role="owner")
BOB = Member("bob", role="editor")
DAVE = Member("dave", teams=("Zeta", "a_b", "dev", "qa"))
ERIN = Member("erin", is_guest=True, teams=("devops",))
FRANK = Member("frank")  # in no team
IVY = Member("ivy", role="invitee")
PEOPLE = [ALICE, BOB, DAVE, ERIN, FRANK, IVY]
TEAMS = [
    Team("Zeta", ("dave",)), Team("a_b", ("dave",)), Team("dev", ("dave", "ivy")),  # an invitee in a team
    Team("devops", ("erin",)), Team("qa", ("dave",)), Team("empty"),
]  # fmt: skip
GRANTS = [
    Grant("api", "Zeta", "admin"), Grant("api", "dev", "write"), Grant("api", "devops", "read"),
    Grant("site", "dev", "read"), Grant("site", "devops", "write"),  # site is public
    Grant("unknown", "devops", "read"),  # visibility unknown: public, as in the night's CSV
    Grant("web", "Zeta", "write"), Grant("web", "a_b", "write"), Grant("web", "dev", "write"),
    Grant("web", "qa", "write"), Grant("web", "devops", "read"),
    Grant("gone", "dev", "admin"),  # a repository no longer in the snapshot
]  # fmt: skip
REPOSITORIES: list[tuple[str, bool | None]] = [
    ("api", True),
    ("site", False),
    ("unknown", None),
    ("web", True),
]


def test_public_reads_equal_teams_invitees_and_owners_are_as_effective_access_says(engine: sa.Engine) -> None:
    state = night(D1, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
    repositories = store_night(engine, state, REPOSITORIES)
    got = view(engine)
    assert got == expected(state, repositories)
    by_key = {(row[1], row[2]): row[3:6] for row in got}
    assert by_key["web", "dave"] == ("write", "member", "Zeta;a_b;dev;qa")  # every team of the level, sorted
    assert by_key["api", "dave"] == ("admin", "member", "Zeta")  # the highest level wins
    assert by_key["site", "erin"] == ("write", "member", "devops")
    assert ("site", "dave") not in by_key and ("unknown", "erin") not in by_key  # public reads
    assert by_key["api", "erin"] == ("read", "member", "devops")  # a read on a private repository
    assert {row[2] for row in got} == {"alice", "bob", "dave", "erin"}  # no invitee, no teamless member
    assert sorted(k for k, v in by_key.items() if v[0:2] == ("admin", "owner")) == [
        (name, "alice") for name, _ in REPOSITORIES
    ]
    assert by_key["unknown", "bob"] == ("admin", "editor", "")
    assert "gone" not in {row[1] for row in got}


def test_a_night_without_team_listings_takes_the_members_own_teams(engine: sa.Engine) -> None:
    state = night(D1, members=PEOPLE, grants=GRANTS)  # no teams, no tokens
    repositories = store_night(engine, state, REPOSITORIES)
    got = view(engine)
    assert got == expected(state, repositories)
    by_key = {(row[1], row[2]): row[3:6] for row in got}
    assert by_key["web", "dave"] == ("write", "member", "Zeta;a_b;dev;qa")
    assert by_key["site", "erin"] == ("write", "member", "devops")  # "devops", not its prefix "dev"
    assert by_key["api", "dave"] == ("admin", "member", "Zeta")


def test_later_nights_missing_a_listing_leave_the_view_on_the_newest_night_with_both(
    engine: sa.Engine,
) -> None:
    first = night(D1, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
    first_repositories = store_night(engine, first, REPOSITORIES)
    on_first = expected(first, first_repositories)
    assert view(engine) == on_first

    # D2 cannot read the members: its permissions and repositories changed, the view stays on D1, whole.
    regranted = [*GRANTS[:2], Grant("api", "devops", "admin"), Grant("new", "dev", "admin")]
    store_night(engine, night(D2, teams=TEAMS, grants=regranted, tokens=[]), [*REPOSITORIES, ("new", True)])
    assert view(engine) == on_first
    # D3 cannot read the permissions: its members changed; still D1.
    promoted = [replace(DAVE, role="owner"), ERIN, ALICE]
    store_night(engine, night(D3, members=promoted, teams=TEAMS), REPOSITORIES)
    assert view(engine) == on_first

    fourth = night(D4, members=promoted, teams=TEAMS, grants=regranted, tokens=[])
    fourth_repositories = store_night(engine, fourth, [*REPOSITORIES, ("new", True)])
    assert view(engine) == expected(fourth, fourth_repositories)
    assert {row[6] for row in view(engine)} == {D4}


def test_each_org_has_its_own_newest_night(engine: sa.Engine) -> None:
    acme = night(D2, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
    acme_repositories = store_night(engine, acme, REPOSITORIES)
    other = night(D1, members=[Member("zoe", teams=("dev",))], teams=[Team("dev", ("zoe",))],
                  grants=[Grant("api", "dev", "write")], tokens=[])  # fmt: skip
    other_repositories = store_night(engine, other, [("api", True)], org="other")
    assert view(engine) == expected(acme, acme_repositories)
    assert (
        view(engine, "other")
        == expected(other, other_repositories, "other")
        == [("other", "api", "zoe", "write", "member", "dev", D1)]
    )


def test_an_upgrade_from_0005_creates_the_view_over_the_access_history_stored_before(db_url: str) -> None:
    from alembic import command

    from dockerhub_export.store.migrate import _alembic_config

    engine = store.open_engine(db_url)
    try:
        state = night(D1, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
        repositories = store_night(engine, state, REPOSITORIES)
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert "latest_access" not in sa.inspect(engine).get_view_names()
        assert store.upgrade_database(db_url) == store.SCHEMA_REVISION == "0006"
        assert view(engine) == expected(state, repositories)
    finally:
        engine.dispose()


# -- docs/bi.md's access examples ----------------------------------------------------------------------------


def check_access_examples(
    run: Callable[[str], Rows], state: AccessNight, repositories: list[Repository], sql: dict[str, list[str]]
) -> None:
    """Each of docs/bi.md's access examples, run by ``run``, gives what the night says."""
    rows = effective_access(state, repositories) or []
    private = {repo.name for repo in repositories if repo.is_private}
    (pushers,) = sql["Who can push to or administer private repositories"]
    assert run(pushers) == [
        (r.repository, r.username, r.permission, r.role, ";".join(r.teams))
        for r in rows
        if r.permission in ("write", "admin") and r.repository in private
    ]
    (one_user,) = sql["One user's access"]
    assert run(one_user) == [(r.repository, r.permission, r.role, ";".join(r.teams)) for r in rows
                             if r.username == "dave"]  # fmt: skip
    (by_role,) = sql["Members by role"]
    counts: dict[str, int] = {}
    for member in state.members or ():
        counts[member.role] = counts.get(member.role, 0) + 1
    assert run(by_role) == sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    (teams,) = sql["Teams, their members and their admin grants"]
    admin_on = {team.name: sum(g.team == team.name and g.permission == "admin" for g in state.grants or ())
                for team in state.teams or ()}  # fmt: skip
    assert run(teams) == [(t.name, len(t.members), admin_on[t.name]) for t in state.teams or () if t.members]


def test_the_access_examples_of_the_bi_doc_give_what_the_night_says(engine: sa.Engine) -> None:
    from test_bi_docs import doc_sql

    state = night(D1, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
    repositories = store_night(engine, state, REPOSITORIES)

    def run(sql: str) -> Rows:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql))]

    check_access_examples(run, state, repositories, doc_sql())


# -- PostgreSQL: team order whatever the database's collation -----------------------------------------------


@contextmanager
def linguistic_database() -> Iterator[str]:
    """A PostgreSQL database whose default collation is ICU English (where "a_b" < "alpha" < "Zeta")."""
    admin_url = server_url("postgresql")
    name = f"dhx_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
        )
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.mark.postgres
def test_teams_are_in_code_point_order_in_a_database_with_a_linguistic_collation() -> None:
    with linguistic_database() as url:
        engine = store.open_engine(url)
        try:
            with engine.connect() as connection:
                linguistic = connection.execute(
                    sa.text(
                        "SELECT string_agg(x, ';' ORDER BY x) FROM (VALUES ('Zeta'), ('a_b'), ('dev')) v(x)"
                    )
                ).scalar_one()
            assert linguistic == "a_b;dev;Zeta"  # what the view would say without its "C" order
            state = night(D1, members=PEOPLE, teams=TEAMS, grants=GRANTS, tokens=[])
            repositories = store_night(engine, state, REPOSITORIES)
            got = view(engine)
            assert got == expected(state, repositories)
            assert ("web", "dave", "Zeta;a_b;dev;qa") in {(r[1], r[2], r[5]) for r in got}
        finally:
            engine.dispose()
