"""forget_person and member_files: a former member's name and email erased from the access history, the
audit events' data and the members CSVs, on every backend; the rest of the store and the files untouched."""

import json
import stat
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from conftest import invoke
from dbs import ORG
from test_access_store import ALICE, DAVE, dump, full, night

from dockerhub_export import store
from dockerhub_export.access import Grant, Member
from dockerhub_export.access_csv import write_access_csvs
from dockerhub_export.errors import ConfigError
from dockerhub_export.member_files import forget_in_files
from dockerhub_export.store.access_nights import read_access_night, write_access_night
from dockerhub_export.store.forget_person import PSEUDONYM_PREFIX, forget_departed, forget_person
from dockerhub_export.store.tables import access_members, audit_events

D1, D2, D3, D4 = (date(2026, 11, 2) + timedelta(days=k) for k in range(4))
STARTED = datetime(2026, 11, 1, 0, 30)
DAVE_NEW = Member(  # dave changed his address while a member: a second version
    "dave", "Dave D", "dave@new.example", "member", teams=("dev",), date_joined="2025-06-01T00:00:00Z"
)
INVITED = Member("eve@example.org", "", "eve@example.org", "invitee")  # invited by email
GRANTS = [Grant("api", "dev", "write")]


def events() -> list[dict[str, Any]]:
    """Audit events: two hold dave's addresses (one as a value, one inside a text), one the invitee's
    as name and in its data, one neither."""
    at = "2026-11-03T10:00:00Z"
    return [
        {"action": "org.member.add", "name": ORG, "actor": "alice", "timestamp": at,
         "data": {"email": "Dave@Example.com", "role": "member"}},
        {"action": "org.team.member.add", "name": "dave", "actor": "alice", "timestamp": at,
         "data": {"note": "added dave@new.example to dev", "team": "dev"}},
        {"action": "org.member.invite.send", "name": "eve@example.org", "actor": "alice", "timestamp": at,
         "data": {"invitee": "eve@example.org"}},
        {"action": "repo.tag.push", "name": f"{ORG}/api", "actor": "alice", "timestamp": at,
         "data": {"tag": "v1"}},
    ]  # fmt: skip


def history(engine: sa.Engine) -> None:
    """alice throughout; dave on D1, with a new address on D2, gone on D3; eve invited on D1, gone on D2."""
    nights = [
        full(D1, [ALICE, DAVE, INVITED], GRANTS, []),
        full(D2, [ALICE, DAVE_NEW], GRANTS, []),
        full(D3, [ALICE], GRANTS, []),
    ]
    for one in nights:
        write_access_night(engine, ORG, one, started_at=STARTED)
    store.audit.store_events(engine, ORG, events())


def rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(table))]


def test_a_former_member_is_erased_from_every_version_and_every_event_and_nothing_else_changes(
    engine: sa.Engine,
) -> None:
    history(engine)
    before = dump(engine)
    audit_before = {row["event_id"]: row for row in rows(engine, audit_events)}

    summary = forget_person(engine, ORG, "DAVE@example.com", apply=True)  # an address finds him too

    assert (summary.usernames, summary.versions, summary.events) == (("dave",), 2, 2)
    assert (summary.first, summary.gone, summary.renamed) == (D1, D3, {})
    after = dump(engine)
    daves = [row for row in rows(engine, access_members) if row["username"] == "dave"]
    assert [(row["full_name"], row["email"]) for row in daves] == [(None, None), (None, None)]
    fingerprints = {row[4] for row in before["access_members"] if row[1] == "dave"}
    assert not fingerprints & {row["fingerprint"] for row in daves}  # no hash of the address kept either
    unchanged = [row for row in before["access_members"] if row[1] != "dave"]
    assert [row for row in after["access_members"] if row[1] != "dave"] == unchanged
    assert {k: v for k, v in after.items() if k != "access_members"} == {
        k: v for k, v in before.items() if k != "access_members"
    }
    # The nights read back as before, but for his name and email: roles, teams and dates stay.
    on_d1 = {m.username: m for m in read_access_night(engine, ORG, D1).members or ()}
    assert on_d1["dave"] == Member("dave", "", "", "member", teams=("dev",), date_joined=DAVE.date_joined)
    assert on_d1["alice"] == ALICE
    audit_after = {row["event_id"]: row for row in rows(engine, audit_events)}
    assert audit_after.keys() == audit_before.keys()  # ids kept: a refetched original is not stored again
    data = {row["action"]: json.loads(row["data"]) for row in audit_after.values()}
    for row in audit_after.values():  # written as `store_events` writes the data, the scrubbed too
        assert row["data"] == json.dumps(json.loads(row["data"]), sort_keys=True, ensure_ascii=False)
    assert data["org.member.add"] == {"email": None, "role": "member"}
    assert data["org.team.member.add"] == {"note": "added [forgotten] to dev", "team": "dev"}
    assert data["repo.tag.push"] == {"tag": "v1"}
    assert "dave" in {row["name"] for row in audit_after.values()}  # usernames stay: who did what


def test_a_username_that_is_an_email_address_becomes_one_pseudonym_everywhere(engine: sa.Engine) -> None:
    history(engine)
    summary = forget_person(engine, ORG, "eve@example.org", apply=True)
    (pseudonym,) = summary.renamed.values()
    assert pseudonym.startswith(PSEUDONYM_PREFIX) and summary.renamed == {"eve@example.org": pseudonym}
    members = rows(engine, access_members)
    assert [row["username"] for row in members if "eve" in row["username"]] == []
    assert [(row["email"], row["role"]) for row in members if row["username"] == pseudonym] == [
        (None, "invitee")
    ]
    invite = next(row for row in rows(engine, audit_events) if row["action"] == "org.member.invite.send")
    assert (invite["name"], json.loads(invite["data"])) == (pseudonym, {"invitee": None})


def test_a_dry_run_reports_the_same_counts_and_changes_nothing(engine: sa.Engine) -> None:
    history(engine)
    before, audit_before = dump(engine), rows(engine, audit_events)
    summary = forget_person(engine, ORG, "dave", apply=False)
    assert (summary.versions, summary.events) == (2, 2)
    assert dump(engine) == before and rows(engine, audit_events) == audit_before


def test_a_current_member_is_refused_naming_the_night_and_nothing_changes(engine: sa.Engine) -> None:
    history(engine)
    before = dump(engine)
    with pytest.raises(ConfigError, match=r"alice is still a member of acme \(the night of 2026-11-04 lists"):
        forget_person(engine, ORG, "alice", apply=True)
    assert dump(engine) == before


def test_a_member_asked_for_by_an_address_they_no_longer_have_is_still_refused(engine: sa.Engine) -> None:
    for one in (full(D1, [ALICE, DAVE], GRANTS, []), full(D2, [ALICE, DAVE_NEW], GRANTS, [])):
        write_access_night(engine, ORG, one, started_at=STARTED)
    with pytest.raises(ConfigError, match="dave is still a member of acme"):
        forget_person(engine, ORG, "dave@example.com", apply=True)


def test_the_retention_rule_forgets_everyone_gone_before_the_day_once(engine: sa.Engine) -> None:
    history(engine)  # eve gone on D2, dave on D3, alice still there
    assert [s.usernames for s in forget_departed(engine, ORG, D1, apply=True)] == []
    dry = forget_departed(engine, ORG, D3, apply=False)
    assert [(s.usernames, s.versions) for s in dry] == [(("dave",), 2), (("eve@example.org",), 1)]
    assert [s.usernames for s in forget_departed(engine, ORG, D2, apply=True)] == [("eve@example.org",)]
    assert [s.usernames for s in forget_departed(engine, ORG, D3, apply=True)] == [("dave",)]
    assert forget_departed(engine, ORG, D4, apply=True) == []  # nothing left to erase
    kept = {(row["username"], row["email"]) for row in rows(engine, access_members)}
    assert ("alice", "alice@example.com") in kept and all(
        email is None for name, email in kept if name != "alice"
    )


def test_an_unknown_person_is_one_line_with_the_nearest_names(engine: sa.Engine) -> None:
    history(engine)
    with pytest.raises(ConfigError, match=r"acme has no member or invitee 'davd' .*the nearest: dave"):
        forget_person(engine, ORG, "davd", apply=True)


def test_a_night_after_the_erasure_writes_as_it_would_have(engine: sa.Engine) -> None:
    """The erasure touches closed versions only: the next nights open and close the same versions."""
    history(engine)
    forget_person(engine, ORG, "dave", apply=True)
    write_access_night(engine, ORG, full(D4, [ALICE, DAVE], GRANTS, []), started_at=STARTED)
    daves = sorted((r["valid_from"], r["valid_to"], r["email"]) for r in rows(engine, access_members)
                   if r["username"] == "dave")  # fmt: skip
    assert daves == [(D1, D2, None), (D2, D3, None), (D4, None, "dave@example.com")]  # came back: stored


# -- the members CSVs --------------------------------------------------------------------------------------


def write_files(folder: Path) -> list[Path]:
    """Members CSVs of D1..D3, with a name that needs quoting (comma, quote, newline) beside dave's."""
    odd = Member("zed", 'Zed, "the\nQuoted"', "zed@example.com", "member")
    paths = []
    for day, members in ((D1, [ALICE, DAVE, odd]), (D2, [ALICE, DAVE_NEW, odd]), (D3, [ALICE, odd])):
        paths += write_access_csvs(night(day, members=members), [], folder, ORG)
    return paths


def test_only_the_persons_cells_change_in_the_files_and_they_stay_private(tmp_path: Path) -> None:
    d1, d2, d3 = write_files(tmp_path)
    before = {path: path.read_text() for path in (d1, d2, d3)}
    assert forget_in_files(tmp_path, ORG, {"dave"}, {}, apply=False) == [d1, d2]
    assert {path: path.read_text() for path in (d1, d2, d3)} == before  # found, not changed

    assert forget_in_files(tmp_path, ORG, {"Dave"}, {}, apply=True) == [d1, d2]
    for path in (d1, d2):
        old, new = before[path].splitlines(), path.read_text().splitlines()
        changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert len(changed) == 1 and "dave@" in changed[0][0]
        assert changed[0][1] == '"acme","dave",,,"member",false,"dev","2025-06-01T00:00:00Z"'
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert d3.read_text() == before[d3]
    assert not list((tmp_path / ORG).glob(".*.tmp"))


def test_a_renamed_invitee_gets_the_pseudonym_in_the_files(tmp_path: Path) -> None:
    (path,) = write_access_csvs(night(D1, members=[ALICE, INVITED]), [], tmp_path, ORG)
    forget_in_files(tmp_path, ORG, {"eve@example.org"}, {"eve@example.org": "forgotten-abc"}, apply=True)
    assert '"acme","forgotten-abc",,,"invitee",false,"",\n' in path.read_text()
    assert "eve@" not in path.read_text()


# -- the command -------------------------------------------------------------------------------------------


def test_db_forget_person_says_what_it_would_do_then_does_it_without_printing_an_address(
    app: typer.Typer, sqlite_url: str, tmp_path: Path
) -> None:
    engine = store.open_engine(sqlite_url)
    history(engine)
    engine.dispose()
    d1, d2, _d3 = write_files(tmp_path / "exports")
    args = ("db", "forget-person", "--org", ORG, "--user", "dave", "--database-url", sqlite_url,
            "--output-dir", str(tmp_path / "exports"))  # fmt: skip
    dry = invoke(app, *args)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("dry run, nothing changed: forgetting dave of acme in ")
    assert "dave@example.com" in d1.read_text()
    done = invoke(app, *args, "--yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1:] == [
        "  access_members: 2 versions (nights 2026-11-02 until 2026-11-04): full name and email cleared",
        "  audit_events: 2 events: their email address removed from its data",
        "  files: 2 members CSVs: their full name and email cleared",
    ]
    assert "@" not in dry.output + done.output
    assert "dave@" not in d1.read_text() + d2.read_text()
    refused = invoke(
        app, "db", "forget-person", "--org", ORG, "--user", "alice", "--database-url", sqlite_url
    )
    assert refused.exit_code != 0 and isinstance(refused.exception, ConfigError)


def test_db_forget_person_left_before_forgets_each_former_member_and_lists_them(
    app: typer.Typer, sqlite_url: str, tmp_path: Path
) -> None:
    engine = store.open_engine(sqlite_url)
    history(engine)
    engine.dispose()
    write_files(tmp_path / "exports")
    args = ("db", "forget-person", "--org", ORG, "--database-url", sqlite_url,
            "--output-dir", str(tmp_path / "exports"))  # fmt: skip
    done = invoke(app, *args, "--left-before", D3.isoformat(), "--yes")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("forgot 2 former members (gone before 2026-11-04) of acme in ")
    assert lines[1] == (
        "  dave: access_members 2 versions (nights 2026-11-02 until 2026-11-04), audit_events 2 events"
    )
    assert lines[2].startswith(f"  {PSEUDONYM_PREFIX}") and lines[2].endswith(", audit_events 1 event")
    assert lines[3] == "  files: 2 members CSVs: the full name and email cleared"
    d1, *_ = write_files(tmp_path / "exports")  # the files as a rewrite that failed would have left them
    repaired = invoke(app, *args, "--left-before", D3.isoformat(), "--yes")
    assert repaired.stdout.splitlines()[1:] == ["  files: 2 members CSVs: the full name and email cleared"]
    assert "dave@" not in d1.read_text()
    again = invoke(app, *args, "--left-before", D3.isoformat())
    assert again.stdout.startswith("nothing to forget: no former member of acme in ")
    assert again.stdout.rstrip().endswith("gone before 2026-11-04 has a name or email")
    for bad in ((), ("--user", "dave", "--left-before", "2026-11-04")):
        refused = invoke(app, *args, *bad)
        assert isinstance(refused.exception, ConfigError) and "--user USERNAME" in str(refused.exception)
