"""`run --access` (the pipeline's access section) against the fake Hub: the night's four CSVs and its
access history, a refused listing as one warning with the rest written, and a failure in the middle of
the permission listing failing the run with the repositories' CSV kept and no access written."""

import csv
import io
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fakehub import FakeHub, make_repos
from hubaccess import make_access

from dockerhub_export import store
from dockerhub_export.errors import HubUnavailable
from dockerhub_export.pipeline import RunOptions, export

ORG, NIGHT = "acme", date(2026, 12, 3)
PAT, NO_TOKENS = "dckr_pat_alice-owner", "dckr_oat_acme-org"  # an owner's PAT; an OAT may not list tokens
STEMS = ("members", "permissions", "access", "tokens")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    repos = make_repos(ORG, 30)
    server = FakeHub({ORG: repos}, {PAT: ("alice", "all"), NO_TOKENS: (ORG, "all")})
    server.access[ORG] = make_access(ORG, repos, members=12)
    with server:
        yield server


def _run(hub: FakeHub, settings_for: Any, token: str = PAT, **overrides: Any) -> Any:
    username = None if token.startswith("dckr_oat_") else "alice"
    settings = settings_for(hub, token=token, username=username, **overrides)
    return settings, export(settings, RunOptions(NIGHT, include_access=True))


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_night_with_access_writes_its_four_csvs_private_ones_and_the_database_0600_and_its_history(
    hub: FakeHub, settings_for: Any
) -> None:
    settings, result = _run(hub, settings_for)
    folder = Path(settings.export_dir) / ORG
    paths = {stem: folder / f"{stem}-{NIGHT.isoformat()}.csv" for stem in STEMS}
    assert result.access is not None and result.access.missing == ()
    assert set(result.csv_paths) >= set(paths.values())
    members = hub.access[ORG].members
    assert {row["username"] for row in _rows(paths["members"])} == set(members)
    assert result.access.members == len(members)
    for stem in ("members", "access"):  # personal data
        assert stat.S_IMODE(paths[stem].stat().st_mode) == 0o600, stem
    database = Path(store.database_url(settings).removeprefix("sqlite:///"))
    held = [path for path in database.parent.glob(database.name + "*") if path.is_file()]
    assert database in held and {path: stat.S_IMODE(path.stat().st_mode) for path in held} == dict.fromkeys(
        held, 0o600
    )  # the database holds the emails too, and SQLite's WAL files take its mode
    engine = store.open_engine(store.database_url(settings), create=False)
    try:
        stored = store.read_access_night(engine, ORG, NIGHT)
    finally:
        engine.dispose()
    assert stored.members is not None and {m.username for m in stored.members} == set(members)


def test_an_org_token_gets_no_tokens_listing_one_warning_and_the_rest_is_written(
    hub: FakeHub, settings_for: Any
) -> None:
    settings, result = _run(hub, settings_for, token=NO_TOKENS)
    assert result.access is not None and result.access.missing == ("tokens",)
    assert result.access.tokens is None and result.access.members == len(hub.access[ORG].members)
    assert [w for w in result.warnings if "owner's personal access token" in w] != []
    folder = Path(settings.export_dir) / ORG
    assert not (folder / f"tokens-{NIGHT.isoformat()}.csv").exists()
    assert (folder / f"members-{NIGHT.isoformat()}.csv").exists()


def test_a_failure_in_the_permission_listing_fails_the_run_keeps_the_repositories_and_writes_no_access(
    hub: FakeHub, settings_for: Any
) -> None:
    hub.faults.fail_groups[hub.repos[ORG][7]["name"]] = [503] * 10
    with pytest.raises(HubUnavailable, match="team permissions"):
        _run(hub, settings_for, max_attempts=2)
    settings = settings_for(hub, token=PAT, username="alice")
    folder = Path(settings.export_dir) / ORG
    assert (folder / f"repos-{NIGHT.isoformat()}.csv").is_file()  # the night's repositories are kept
    assert not [path for stem in STEMS for path in folder.glob(f"{stem}-*.csv")]
    engine = store.open_engine(store.database_url(settings), create=False)
    try:
        assert store.newest_access_night(engine, ORG) is None
    finally:
        engine.dispose()
