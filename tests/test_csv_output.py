"""The dated CSV: the reference doc's values, byte-stable, spreadsheet-safe, atomic."""

import csv
import io
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from conftest import ORG, TOKEN

from dockerhub_export import csv_output, transform
from dockerhub_export.csv_output import neutralise
from dockerhub_export.errors import OutputError
from dockerhub_export.fetch import fetch_all_pages
from dockerhub_export.resources import DOC_COLUMNS, REPOSITORIES
from dockerhub_export.session import open_session


# The repositories' CSV, the one this module tests.
def to_frame(records: list, org: str | None = None) -> pd.DataFrame:
    return transform.to_frame(records, REPOSITORIES.schema, org)


def write_csv(frame: pd.DataFrame, path: Path, *, safe: bool = True) -> Path:
    return csv_output.write_csv(frame, path, REPOSITORIES, safe=safe)


def csv_path(export_dir: Path, org: str, day: date) -> Path:
    return csv_output.csv_path(export_dir, org, day, REPOSITORIES)


REFERENCE_SCRIPT = Path(__file__).parent / "reference" / "export.sh"


def _export(settings) -> Path:  # type: ignore[no-untyped-def]
    with open_session(settings) as session:
        listing = fetch_all_pages(session, REPOSITORIES)
    frame = transform.from_columns(listing.columns, REPOSITORIES.schema, listing.org)
    return write_csv(frame, csv_path(settings.export_dir, ORG, date(2026, 11, 27)))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_path_is_org_folder_and_dated_name(tmp_path: Path) -> None:
    assert csv_path(tmp_path, "acme", date(2026, 1, 31)) == tmp_path / "acme" / "repos-2026-01-31.csv"


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq (apt-get install curl jq)"
)
def test_six_doc_columns_equal_the_reference_scripts_output(hub, settings_for, tmp_path: Path) -> None:
    """Run the doc's own curl + jq script against the same server and compare value for value."""
    ours = _export(settings_for(hub, csv_safe=False))
    workdir = tmp_path / "reference"
    workdir.mkdir()
    env = dict(os.environ, HUB=hub.url, ORG=ORG, OAT=TOKEN)
    subprocess.run(["bash", str(REFERENCE_SCRIPT)], cwd=workdir, env=env, check=True, timeout=120)
    theirs = _rows((workdir / "repos.csv").read_text())
    mine = _rows(ours.read_text())
    assert theirs[0] == list(DOC_COLUMNS) == mine[0][:6]
    assert len(theirs) == len(mine) == len(hub.repos[ORG]) + 1
    by_name = {row[1]: row for row in theirs[1:]}
    for row in mine[1:]:
        assert row[:6] == by_name[row[1]], row[1]
    # Same spelling too: each of our lines begins with the very bytes of the script's line.
    their_lines = {line.split(",")[1]: line for line in (workdir / "repos.csv").read_text().splitlines()}
    for line in ours.read_text().splitlines():
        key = line.split(",")[1] if line.count(",") >= 5 else None
        if key in their_lines:
            assert line.startswith(their_lines[key] + ","), key


def test_doc_semantics_null_counts_are_zero_and_booleans_lowercase(tmp_path: Path) -> None:
    frame = to_frame(
        [
            {"name": "a", "is_private": True, "pull_count": None, "star_count": None},
            {"name": "b", "is_private": False, "pull_count": 3, "star_count": 1},
        ],
        "acme",
    )
    rows = _rows(write_csv(frame, tmp_path / "x.csv").read_text())
    assert rows[1][:6] == ["acme", "a", "true", "", "0", "0"]
    assert rows[2][:6] == ["acme", "b", "false", "", "3", "1"]
    assert (tmp_path / "x.csv").read_text().splitlines()[1].startswith('"acme","a",true,,0,0,')


def test_tricky_descriptions_survive_a_round_trip(tmp_path: Path) -> None:
    text = 'commas, "quotes",\nnewlines\r\nand unicode: données 日本語 🐳'
    frame = to_frame([{"name": "a", "description": text}], "acme")
    path = write_csv(frame, tmp_path / "x.csv")
    assert pd.read_csv(path, dtype=str, keep_default_na=False).loc[0, "description"] == text


@pytest.mark.parametrize("cell", ["=SUM(A1)", "+1", "-x", "@cmd", "\tTab", "\rCR"])
def test_formula_prefixes_are_neutralised_by_default_and_kept_on_request(cell: str, tmp_path: Path) -> None:
    frame = to_frame([{"name": "a", "description": cell}], "acme")
    safe = pd.read_csv(write_csv(frame, tmp_path / "s.csv"), dtype=str, keep_default_na=False)
    raw = pd.read_csv(write_csv(frame, tmp_path / "r.csv", safe=False), dtype=str, keep_default_na=False)
    assert safe.loc[0, "description"] == "'" + cell
    assert raw.loc[0, "description"] == cell
    assert neutralise("plain") == "plain"


def test_same_data_gives_the_same_bytes(hub, settings_for, tmp_path: Path) -> None:
    first = _export(settings_for(hub)).read_bytes()
    second = _export(settings_for(hub, concurrency=1)).read_bytes()
    assert first == second


def test_rows_written_in_chunks_equal_one_piece(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The writer formats CHUNK_ROWS rows at a time: the seams between chunks leave no trace."""
    from fakehub import make_repos

    from dockerhub_export import csv_output

    frame = to_frame(make_repos(ORG, 230), ORG)  # every tricky value, across several seams
    whole = write_csv(frame, tmp_path / "whole.csv").read_bytes()
    monkeypatch.setattr(csv_output, "CHUNK_ROWS", 7)
    assert write_csv(frame, tmp_path / "chunked.csv").read_bytes() == whole
    assert whole.count(b"\n") >= 231 and len(_rows(whole.decode())) == 231


def test_failed_write_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "acme" / "repos-2026-01-01.csv"
    good = to_frame([{"name": "good"}], "acme")
    write_csv(good, path)
    before = path.read_bytes()

    bad = to_frame([{"name": "bad"}], "acme")
    bad["name"] = bad["name"].astype(object)
    bad.loc[0, "name"] = _Unprintable()
    with pytest.raises(RuntimeError):  # fails while the text is being built, after the temp file exists
        write_csv(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


class _Unprintable:
    """A cell whose formatting fails (as a full disk or a bug would), whichever way it is read."""

    def __str__(self) -> str:
        raise RuntimeError("disk full, say")

    def __getitem__(self, _index: object) -> str:
        raise RuntimeError("disk full, say")


def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create"):
        write_csv(to_frame([{"name": "a"}], "acme"), blocker / "acme" / "x.csv")


def test_stale_temporaries_of_a_killed_run_are_cleared(tmp_path: Path) -> None:
    path = tmp_path / "repos-2026-01-01.csv"
    stale = tmp_path / ".repos-2026-01-01.csv.abc123.tmp"
    stale.write_text("half")
    write_csv(to_frame([{"name": "a"}], "acme"), path)
    assert not stale.exists() and path.exists()


def test_rate_limits_503s_drops_and_token_expiry_leave_the_csv_identical(
    settings_for, tmp_path: Path
) -> None:
    from fakehub import FakeHub, Faults, make_repos

    repos = make_repos(ORG, 1200, seed=3)
    with FakeHub(repos={ORG: repos}, credentials={TOKEN: (ORG, "all")}) as calm:
        clean = _export(settings_for(calm, export_dir=tmp_path / "calm")).read_bytes()
    faults = Faults(
        rate_limit_every=3,
        retry_after=0.2,
        fail_503_every=4,
        drop_every=7,
        jwt_lifetime=0.5,
        jwt_has_exp=False,
        latency=0.05,
    )
    with FakeHub(repos={ORG: repos}, credentials={TOKEN: (ORG, "all")}, faults=faults) as stormy:
        # The highest retry budget: on a loaded machine the 0.5 s JWTs expire mid-request too, and a page
        # can meet 8 faults in a row (seen in 1 of 20 runs); the subject here is the CSV, not the budget.
        rough = _export(settings_for(stormy, export_dir=tmp_path / "stormy", max_attempts=20)).read_bytes()
        statuses = {r.status for r in stormy.requests}
    assert {429, 503, 401, 0} <= statuses  # every fault really happened
    assert rough == clean
