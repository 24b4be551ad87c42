"""docs/bi.md holds true: its read-only role is created exactly as written, and every example query runs,
as that role, on PostgreSQL, and gives what the stored history says (computed here, or by the library's
own stale, storage and effective-access rules; test_access_views runs the access examples on SQLite and
MariaDB too). The role can read, cannot write, and keeps reading views that an upgrade
recreates."""

import importlib
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, fresh_database, repo, server_url
from test_access_views import PEOPLE, TEAMS, check_access_examples

from dockerhub_export import store, tag_queries
from dockerhub_export.access import AccessNight, Grant, Repository

DOC = Path(__file__).resolve().parent.parent / "docs" / "bi.md"
WRITER = "postgres"  # the role of the test server's admin URL, which runs the migrations here

pytestmark = pytest.mark.postgres


def doc_sql() -> dict[str, list[str]]:
    """The doc's ```sql blocks, by the heading they are under."""
    blocks: dict[str, list[str]] = {}
    heading = ""
    for match in re.finditer(r"^(#+ .+)$|^```sql\n([\s\S]*?)^```$", DOC.read_text(), re.M):
        if match.group(1):
            heading = match.group(1).lstrip("# ").strip()
        else:
            blocks.setdefault(heading, []).append(match.group(2))
    return blocks


SQL = doc_sql()


def test_the_doc_has_the_setup_and_every_example_the_issue_asks_for() -> None:
    assert set(SQL) >= {"A read-only role", "Pulls per day", "Top movers this week", "Storage per repository",
                        "Stale tags", "Who changed what", "One user's access", "Members by role",
                        "Who can push to or administer private repositories",
                        "Teams, their members and their admin grants"}  # fmt: skip
    examples = [sql for heading, sqls in SQL.items() if heading != "A read-only role" for sql in sqls]
    assert all("'acme'" in sql for sql in examples)


# --------------------------------------------------------------------------------------------------
# The history the examples read: ten days with a gap, new, vanished and returning repositories, an
# unknown pull count, two tag nights whose tags sit at the edges of the stale rule, and audit events.


def history(today: date) -> dict[date, list[dict[str, Any]]]:
    days: dict[date, list[dict[str, Any]]] = {}
    for back in range(9, -1, -1):
        if back == 4:
            continue  # a missed night
        day, i = today - timedelta(days=back), 9 - back
        repos = [
            repo("web", pulls=1000 + 100 * i, stars=3),
            repo("api", pulls=500 + 10 * i * i, private=True),
        ]
        if back == 6:
            repos[1]["pull_count"] = None  # the Hub answered null
        if back >= 3:
            repos.append(repo("old", pulls=50 + i))  # vanishes after today - 3
        if back <= 2:
            repos.append(repo("new", pulls=5 * i))
        if back >= 6 or back <= 3:
            repos.append(repo("flaky", pulls=300 + 20 * i))  # missing on today - 5, back from today - 3
        days[day] = repos
    return days


def tag_rows(night: date) -> list[tuple[Any, ...]]:
    """(repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed) of a tag night."""
    edge, before = (night - timedelta(days=180)).isoformat(), (night - timedelta(days=181)).isoformat()
    old = "2025-01-01T00:00:00Z"
    return [
        ("web", "latest", "sha256:w2", 300, f"{edge}T00:00:00Z", old),  # at the threshold: fresh
        ("web", "v1", "sha256:w1", 200, f"{before}T23:59:59.999999999Z", old),  # 1 ns early
        ("web", "v1-alias", "sha256:w1", 200, None, old),  # both stale: w1's bytes are reclaimable
        ("web", "edge", "sha256:w2", 300, old, None),  # stale, but w2 is held by a fresh tag
        ("api", "nightly", "sha256:a1", 50, None, f"{night.isoformat()}T01:02:03.4Z"),  # never pulled, pushed
        ("api", "ghost", "sha256:a2", 70, None, None),  # nothing known: stale
        ("db", "15", "sha256:d1", 900, f"{night.isoformat()}T00:00:00.000001Z", old),
    ]


def write_tags(engine: sa.Engine, night: date, rows: list[tuple[Any, ...]]) -> None:
    columns: dict[str, list[Any]] = {name: [] for name in ("repository", "tag", *store.TAG_COLUMNS)}
    for repository, tag, digest, size, pulled, pushed in rows:
        row = {name: None for name in columns} | {"repository": repository, "tag": tag, "digest": digest,
               "full_size": size, "tag_last_pulled": pulled, "tag_last_pushed": pushed}  # fmt: skip
        for name, values in columns.items():
            values.append(row[name])
    repositories = sorted({row[0] for row in rows})
    store.write_tag_night(engine, ORG, night, columns, repositories, repositories, started_at=datetime.now())


def events(today: date) -> list[dict[str, Any]]:
    def event(back: int, hour: int, action: str, name: str, actor: str) -> dict[str, Any]:
        moment = f"{(today - timedelta(days=back)).isoformat()}T{hour:02d}:00:00.5Z"
        return {"account": ORG, "action": action, "name": f"{ORG}/{name}", "actor": actor, "data": {},
                "timestamp": moment, "action_description": f"{action} {name}"}  # fmt: skip

    return [
        event(1, 9, "repo.delete", "old", "alice"),
        event(2, 8, "repo.create", "new", "bob"),
        event(7, 0, "repo.change_privacy", "api", "carol"),  # on the window's first day
        event(8, 23, "repo.tag.push", "web", "ci"),  # before the window
    ]


def access_night(today: date) -> AccessNight:
    """Tonight's access (the people and teams of test_access_views, grants on this history's repositories):
    a member in two teams granting one level, a read on a public repository, an invitee."""
    grants = [Grant("api", "dev", "write"), Grant("api", "qa", "write"), Grant("api", "devops", "read"),
              Grant("web", "Zeta", "admin"), Grant("web", "devops", "read"),
              Grant("new", "devops", "write")]  # fmt: skip
    return AccessNight(today, members=tuple(PEOPLE), teams=tuple(TEAMS), grants=tuple(grants), tokens=())


def tonights_repositories(today: date) -> list[Repository]:
    return [Repository(r["name"], bool(r["is_private"])) for r in history(today)[today]]


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def bi() -> Iterator[dict[str, Any]]:
    """A database at the newest revision holding the history, and the doc's role created in it as
    written (names made unique: roles are shared by the whole server). Yields the writer's engine, the
    role's engine and the server's today."""
    admin_url = server_url("postgresql")
    role = f"dhx_bi_{uuid.uuid4().hex[:10]}"
    with fresh_database(admin_url) as url:
        writer = store.open_engine(url)
        with writer.connect() as connection:
            today: date = connection.execute(sa.text("SELECT CURRENT_DATE")).scalar_one()
        for day, repos in history(today).items():
            store.upsert_snapshot(writer, ORG, day, frame(*repos))
        for night in (today - timedelta(days=1), today):
            write_tags(writer, night, tag_rows(night))
        store.audit.store_events(writer, ORG, events(today))
        store.write_access_night(writer, ORG, access_night(today), started_at=datetime.now())
        setup = SQL["A read-only role"][0]
        setup = re.sub(r"\bdockerhub_bi\b", role, setup)
        setup = re.sub(r"\bdockerhub_export\b", WRITER, setup)
        setup = setup.replace("DATABASE dockerhub ", f"DATABASE {sa.make_url(url).database} ")
        with writer.begin() as connection:
            connection.exec_driver_sql(setup)
        reader = sa.create_engine(
            sa.make_url(url).set(username=role, password=None), poolclass=sa.pool.NullPool
        )
        try:
            yield {"writer": writer, "reader": reader, "today": today}
        finally:
            reader.dispose()
            writer.dispose()
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
    admin.dispose()


def run(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def deltas(today: date) -> dict[tuple[str, date], int | None]:
    """pulls_delta as the doc defines it: against the repository's previous snapshot, None if unknown."""
    found: dict[tuple[str, date], int | None] = {}
    previous: dict[str, int | None] = {}
    for day, repos in history(today).items():
        for record in repos:
            name, pulls = record["name"], record["pull_count"]
            before = previous.get(name)
            found[(name, day)] = None if pulls is None or before is None else pulls - before
            previous[name] = pulls
    return found


# --------------------------------------------------------------------------------------------------
# The examples


def test_pulls_per_day_sums_each_days_deltas(bi: dict[str, Any]) -> None:
    (sql,) = SQL["Pulls per day"]
    known: dict[date, list[int]] = {}
    for (_, day), delta in deltas(bi["today"]).items():
        known.setdefault(day, []).extend([] if delta is None else [delta])
    per_day = {day: sum(values) if values else None for day, values in known.items()}  # SUM skips NULL
    got = run(bi["reader"], sql)
    assert [(moment.date(), pulls) for moment, pulls in got] == sorted(per_day.items())
    # The first day has nothing to compare with; there is no row for the missed night.
    assert got[0][1] is None and len(got) == 9


def test_top_movers_this_week_are_the_largest_sums_of_the_last_seven_days(bi: dict[str, Any]) -> None:
    (sql,) = SQL["Top movers this week"]
    window = bi["today"] - timedelta(days=7)
    sums: dict[str, int] = {}
    for (name, day), delta in deltas(bi["today"]).items():
        if day > window and delta is not None:
            sums[name] = sums.get(name, 0) + delta
    expected = sorted(sums.items(), key=lambda item: (-item[1], item[0]))[:10]
    got = run(bi["reader"], sql)
    assert got == expected
    assert dict(got)["flaky"] == 20 * 7  # back after its absence: counted against its own previous snapshot


def test_repositories_now_and_those_that_vanished(bi: dict[str, Any]) -> None:
    (sql,) = SQL["Repositories now, and those that vanished"]
    got = [(row[0], row[1], row[2], row[5]) for row in run(bi["reader"], sql)]
    assert got == [
        ("web", False, 1900, False), ("api", True, 1310, False), ("flaky", False, 480, False),
        ("new", False, 45, False), ("old", False, 56, True),
    ]  # fmt: skip


def test_storage_per_repository_is_what_the_storage_command_reports(bi: dict[str, Any]) -> None:
    latest, over_time = SQL["Storage per repository"]
    night, yesterday = bi["today"], bi["today"] - timedelta(days=1)
    report = tag_queries.storage(tag_rows(night), night)
    got = run(bi["reader"], latest)
    assert [(name, int(size)) for name, size, _ in got] == [
        (row["repository"], row["bytes"]) for row in report.repositories
    ]
    assert [pretty for *_, pretty in got] == ["900 bytes", "500 bytes", "120 bytes"]
    totals = run(bi["reader"], over_time)
    assert [(moment.date(), int(size)) for moment, size in totals] == [
        (yesterday, tag_queries.storage(tag_rows(yesterday), yesterday).total_bytes),
        (night, report.total_bytes),
    ]


def test_stale_tags_are_exactly_those_of_the_stale_command(bi: dict[str, Any]) -> None:
    (sql,) = SQL["Stale tags"]
    night = bi["today"]
    report = tag_queries.stale(tag_rows(night), night, 180)
    expected = [(t["repository"], t["tag"], t["full_size"], t["tag_last_pulled"], t["tag_last_pushed"])
                for t in report.tags]  # fmt: skip
    assert run(bi["reader"], sql) == expected
    assert {tag for _, tag, *_ in expected} == {"v1", "v1-alias", "edge", "ghost"}  # the edges hold


def test_the_access_examples_give_tonights_effective_access(bi: dict[str, Any]) -> None:
    today = bi["today"]
    check_access_examples(
        lambda sql: run(bi["reader"], sql), access_night(today), tonights_repositories(today), SQL
    )
    assert run(bi["reader"], SQL["One user's access"][0]) == [
        ("api", "write", "member", "dev;qa"), ("web", "admin", "member", "Zeta")
    ]  # fmt: skip


def test_who_changed_what_lists_the_last_seven_days_of_the_audit_log(bi: dict[str, Any]) -> None:
    (sql,) = SQL["Who changed what"]
    got = [(row[1], row[2], row[3]) for row in run(bi["reader"], sql)]
    assert got == [("alice", "repo.delete", f"{ORG}/old"), ("bob", "repo.create", f"{ORG}/new"),
                   ("carol", "repo.change_privacy", f"{ORG}/api")]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The role


def test_the_role_cannot_write_even_when_it_asks_for_a_read_write_transaction(bi: dict[str, Any]) -> None:
    insert = (
        "INSERT INTO audit_events (namespace, event_id, occurred_at, timestamp, action)"
        " VALUES ('x', 'y', now(), 'z', 'a')"
    )
    with (
        bi["reader"].connect() as connection,
        pytest.raises(sa.exc.DBAPIError, match="read-only transaction"),
    ):
        connection.exec_driver_sql(insert)
    with bi["reader"].connect() as connection:
        connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        connection.commit()  # the next transaction is read-write
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            connection.exec_driver_sql(insert)


def test_the_role_keeps_reading_the_views_an_upgrade_recreates(bi: dict[str, Any]) -> None:
    views = importlib.import_module("dockerhub_export.migrations.versions.0004_audit_views").VIEWS
    before = run(bi["reader"], "SELECT COUNT(*) FROM repository_daily")
    with bi["writer"].begin() as connection:  # what a later revision does when a table under them changes
        for name in reversed(list(views)):
            connection.exec_driver_sql(f"DROP VIEW {name}")
        for name, select in views.items():
            connection.exec_driver_sql(f"CREATE VIEW {name} AS {select}")
    assert run(bi["reader"], "SELECT COUNT(*) FROM repository_daily") == before == [(35,)]
    assert run(bi["reader"], "SELECT COUNT(*) FROM latest_tags") == [(7,)]
