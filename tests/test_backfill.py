"""backfill: both CSV flavours imported as their days' snapshots; malformed files named and skipped."""

import csv
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo, stored_rows

from dockerhub_export import backfill, csv_output, transform
from dockerhub_export.errors import BackfillError, ConfigError
from dockerhub_export.resources import REPOSITORIES

DAY1, DAY2, DAY3 = date(2025, 2, 1), date(2025, 2, 2), date(2025, 2, 3)
REFERENCE_HEADER = '"namespace","name","is_private","last_updated","pull_count","star_count"'


def write_export(directory: Path, day: date, snapshot: pd.DataFrame) -> Path:
    """A file exactly as a run of this tool writes it (neutralised, jq-style quoting)."""
    return csv_output.write_csv(snapshot, directory / f"repos-{day.isoformat()}.csv", REPOSITORIES)


def write_reference(directory: Path, day: date, *lines: str) -> Path:
    """A file as the reference script's ``jq -r '... | @csv'`` writes it."""
    path = directory / f"repos-{day.isoformat()}.csv"
    path.write_text("\n".join((REFERENCE_HEADER, *lines)) + "\n", encoding="utf-8")
    return path


def test_backfill_imports_this_tools_csv_files_as_their_days(engine: sa.Engine, tmp_path: Path) -> None:
    first = frame(
        repo(
            "web",
            pulls=10,
            stars=2,
            private=False,
            last_updated="2025-01-31T10:00:00.25Z",
            description="=SUM(A1:A9) is not a formula",
            media_types=["a/b", "c/d"],
            categories=[{"slug": "databases"}],
            date_registered="2020-01-01T00:00:00Z",
        ),
        repo("secret", pulls=3, private=True, description='-- dashes\nand a second line, "quoted"'),
    )
    second = frame(repo("web", pulls=15, stars=2), repo("new", pulls=1))
    write_export(tmp_path, DAY1, first)
    write_export(tmp_path, DAY2, second)

    result = backfill.backfill(engine, ORG, tmp_path)

    assert (result.files, result.rows, result.skipped) == (2, 4, [])
    day1 = stored_rows(engine, ORG, DAY1)
    assert set(day1) == {"web", "secret"} and set(stored_rows(engine, ORG, DAY2)) == {"web", "new"}
    web = day1["web"]
    assert web["description"] == "=SUM(A1:A9) is not a formula"  # the CSV's neutralising quote is gone
    assert day1["secret"]["description"] == '-- dashes\nand a second line, "quoted"'
    assert (web["pull_count"], web["star_count"], web["is_private"]) == (10, 2, False)
    assert day1["secret"]["is_private"] is True
    assert web["last_updated"] == datetime(2025, 1, 31, 10, 0, 0, 250000)
    assert (web["media_types"], web["categories"]) == ("a/b;c/d", "databases")


def test_backfill_imports_the_reference_scripts_jq_csv(engine: sa.Engine, tmp_path: Path) -> None:
    write_reference(
        tmp_path,
        DAY1,
        '"acme","web",false,"2021-12-20T17:19:58.88296Z",1234,5',
        '"acme","never-pushed",true,,0,0',  # jq writes null as nothing
        '"acme","with ""quotes"", commas",false,"2024-01-01T00:00:00Z",7,0',
    )
    result = backfill.backfill(engine, ORG, tmp_path)
    assert (result.files, result.rows) == (1, 3)
    rows = stored_rows(engine, ORG, DAY1)
    assert rows["web"]["last_updated"] == datetime(2021, 12, 20, 17, 19, 58, 882960)
    assert (rows["web"]["pull_count"], rows["web"]["star_count"], rows["web"]["is_private"]) == (
        1234,
        5,
        False,
    )
    assert rows["never-pushed"]["last_updated"] is None and rows["never-pushed"]["is_private"] is True
    assert rows['with "quotes", commas']["pull_count"] == 7
    assert (
        rows["web"]["description"] is None and rows["web"]["status"] is None
    )  # not in that flavour: unknown


# Odd spellings, one repository a row; the columns a row does not name are empty. Row "d" has a day
# that does not exist (see NOT_A_DAY).
ODD_ROWS: tuple[dict[str, str], ...] = (
    {
        "name": "a",
        "is_private": " TRUE ",
        "last_updated": "2024-01-01T00:00:00+02:00",
        "pull_count": "1e3",
        "star_count": "5.0",
        "repository_type": "image",
        "status": "1",
        "status_description": "active",
    },
    {
        "name": "b",
        "is_private": "false",
        "last_updated": "2024-01-01 10:00:00",
        "pull_count": "007",
        "star_count": "-3",
        "status": "0",
        "description": "'@home",
        "date_registered": "2019-05-01T10:00:00Z",
        "storage_size": "12",
        "affiliation": "x",
    },
    {"name": "c", "description": "plain", "last_modified": "2024-06-01T10:00:00.123456789Z"},
    {
        "name": "d",
        "is_private": "1",
        "last_updated": "2024-02-30T00:00:00Z",
        "pull_count": "9007199254740993",
        "star_count": "+4",
        "description": "'=1+1",
    },
)
NOT_A_DAY = (3, "last_updated", "2024-02-30T00:00:00Z")  # (row, column, value) in ODD_ROWS


def csv_rows(header: list[str], rows: tuple[dict[str, str], ...]) -> list[list[str]]:
    """Each row as the file's fields, in the header's order ("" where it names none)."""
    for row in rows:
        assert set(row) <= set(header), f"not a column: {set(row) - set(header)}"
    return [[{"namespace": "acme", **row}.get(name, "") for name in header] for row in rows]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


def to_frame_of_rows(header: list[str], rows: list[list[str]]) -> tuple[pd.DataFrame, list[object]]:
    """transform.to_frame of the rows as read from the Hub, without the CSV's neutralising quote, and
    the invalid values it reported."""
    problems: list[object] = []
    expected = transform.to_frame(
        [dict(zip(header, row, strict=True)) for row in rows],
        REPOSITORIES.schema,
        ORG,
        on_invalid=lambda *args: problems.append(args),
    )
    expected["description"] = expected["description"].str.replace(r"^'(?=[=@])", "", regex=True)
    return expected, problems


def test_reading_a_file_types_values_exactly_like_to_frame(tmp_path: Path) -> None:
    """Odd spellings take transform.to_frame's own rules: the frame equals to_frame of the csv rows."""
    header = list(REPOSITORIES.schema.names)
    rows = csv_rows(header, ODD_ROWS)
    path = tmp_path / "repos-2025-02-01.csv"
    write_rows(path, header, rows)
    expected, problems = to_frame_of_rows(header, rows)

    with pytest.raises(BackfillError) as caught:  # 2024-02-30 is not a day
        backfill.read_export(path, ORG)
    assert str(caught.value) == "line 5: last_updated '2024-02-30T00:00:00Z' is not an ISO-8601 timestamp"
    assert problems == [NOT_A_DAY]

    rows[3][header.index("last_updated")] = "2024-02-28T00:00:00Z"  # the day before: valid
    write_rows(path, header, rows)
    expected.loc[3, "last_updated"] = "2024-02-28T00:00:00Z"
    pdt.assert_frame_equal(backfill.read_export(path, ORG), expected)


def test_malformed_files_are_named_with_lines_and_not_imported(engine: sa.Engine, tmp_path: Path) -> None:
    write_reference(tmp_path, DAY1, '"acme","web",false,"2024-01-01T00:00:00Z",1,0')  # good
    write_reference(
        tmp_path,
        DAY2,
        '"acme","web",maybe,"2024-01-01T00:00:00Z",1,0',
        '"acme","api",false,"yesterday",1.5,0',
        '"other","db",false,,1,0',
        '"acme","web",false,,1,0',
        '"acme","short",false,,1',
    )
    (tmp_path / "repos-2025-02-03.csv").write_text('"name","pulls"\n"web",1\n', encoding="utf-8")
    (tmp_path / "repos-2025-02-30.csv").write_text(REFERENCE_HEADER + "\n", encoding="utf-8")
    write_reference(tmp_path, date(2025, 2, 4))  # header only
    write_export(tmp_path, date(2025, 2, 5), frame(repo("fine", pulls=2)))  # good, after the bad ones

    with pytest.raises(BackfillError) as caught:
        backfill.backfill(engine, ORG, tmp_path)
    message = str(caught.value)
    assert message.startswith("imported 2 files (2 rows); 4 malformed, not imported: ")
    assert "\n" not in message
    assert "repos-2025-02-02.csv line 6: 5 fields, expected 6" in message  # field counts are checked first
    assert "repos-2025-02-03.csv line 1: unexpected header" in message
    assert "repos-2025-02-30.csv: 2025-02-30 is not a date" in message
    assert "repos-2025-02-04.csv: no repositories (header only)" in message
    assert set(stored_rows(engine, ORG, DAY1)) == {"web"}
    assert set(stored_rows(engine, ORG, date(2025, 2, 5))) == {"fine"}
    assert stored_rows(engine, ORG, DAY2) == {} and stored_rows(engine, ORG, DAY3) == {}


def test_every_problem_of_a_file_is_reported_by_line(tmp_path: Path) -> None:
    path = write_reference(
        tmp_path,
        DAY2,
        '"acme","web",maybe,"2024-01-01T00:00:00Z",1,0',
        '"acme","api",false,"yesterday",1.5,0',
        '"acme","multi',
        'line",false,,1,0',
        '"other","db",false,,1,0',
        '"acme","web",false,,x,0',
        '"acme","",false,,1,0',
    )
    with pytest.raises(BackfillError) as caught:
        backfill.read_export(path, ORG)
    assert caught.value.problems == [  # type: ignore[attr-defined]
        "line 2: is_private 'maybe' is not true or false",
        "line 3: last_updated 'yesterday' is not an ISO-8601 timestamp",
        "line 3: pull_count '1.5' is not an integer",
        "line 6: namespace 'other' is not 'acme'",
        "line 7: pull_count 'x' is not an integer",
        "line 7: repository 'web' repeats (first on line 2)",
        "line 8: empty repository name",
    ]


def test_files_are_imported_oldest_first_and_other_csv_files_are_skipped(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    write_reference(tmp_path, DAY2, '"acme","web",false,,20,0', '"acme","b",false,,1,0')
    write_reference(tmp_path, DAY1, '"acme","web",false,,10,0', '"acme","a",false,,1,0')
    (tmp_path / "repos.csv").write_text(REFERENCE_HEADER + "\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a csv", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    write_reference(tmp_path / "sub", DAY3, '"acme","deep",false,,1,0')  # not recursive
    seen: list[str] = []
    result = backfill.backfill(
        sqlite_engine, ORG, tmp_path, progress=lambda name, done, total: seen.append(name)
    )
    assert (result.files, result.rows, result.skipped) == (2, 4, ["repos.csv"])
    assert seen == ["repos-2025-02-01.csv", "repos-2025-02-02.csv", ""]
    assert stored_rows(sqlite_engine, ORG, DAY3) == {}
    # imported in date order: trends sees "b" added between the two days
    from dockerhub_export import snapshot_queries

    assert snapshot_queries.trends(sqlite_engine, ORG).to_json_dict()["added"] == [{"name": "b"}]


def test_backfill_replaces_days_already_stored_leaving_the_files_missing_fields_null(
    engine: sa.Engine, tmp_path: Path
) -> None:
    from dockerhub_export import store

    store.upsert_snapshot(
        engine, ORG, DAY1, frame(repo("old"), repo("web", pulls=1, description="x", status=1))
    )
    write_reference(tmp_path, DAY1, '"acme","web",false,,10,0')
    backfill.backfill(engine, ORG, tmp_path)
    rows = stored_rows(engine, ORG, DAY1)
    assert {name: row["pull_count"] for name, row in rows.items()} == {"web": 10}
    assert (rows["web"]["description"], rows["web"]["status"]) == (None, None)  # not in that flavour: unknown


def test_backfill_stores_exactly_what_upserting_the_read_frame_stores(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The bulk path (typed straight to driver values, plain INSERT / COPY) against the general one
    (`read_export`'s frame through `upsert_snapshot` over an existing day, every row an update)."""
    from dockerhub_export import store

    snapshot = frame(
        repo(
            "web",
            pulls=12_345_678_901,
            stars=None,
            private=True,
            last_updated="2021-12-20T17:19:58.88296Z",
            date_registered="0001-01-01T00:00:00Z",
            last_modified="2024-06-01T10:00:00.123456789Z",
            description="=SUM(A1)\ttab \\ back\nslash \\N é",
            media_types=["a/b", "c/d"],
            categories=[{"slug": "databases"}],
            storage_size=0,
            status=0,
            repository_type="",
        ),
        repo("ghost", pulls=None, private=None, description=""),
    )
    path = write_export(tmp_path, DAY1, snapshot)
    backfill.backfill(engine, ORG, tmp_path)
    store.upsert_snapshot(engine, ORG, DAY2, frame(repo("web", pulls=1, description="old"), repo("ghost")))
    store.upsert_snapshot(engine, ORG, DAY2, backfill.read_export(path, ORG))

    def values(day: date) -> dict[str, dict[str, object]]:
        return {
            name: {k: v for k, v in row.items() if k not in ("snapshot_date", "write_id")}
            for name, row in stored_rows(engine, ORG, day).items()
        }

    assert values(DAY1) == values(DAY2)
    web = values(DAY1)["web"]
    assert web["description"] == "=SUM(A1)\ttab \\ back\nslash \\N é" and web["pull_count"] == 12_345_678_901
    assert web["last_modified"] == datetime(2024, 6, 1, 10, 0, 0, 123456) and web["date_registered"] is None
    assert web["is_private"] is True and values(DAY1)["ghost"]["is_private"] is None


def test_missing_or_empty_folder_is_a_config_error(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        backfill.backfill(sqlite_engine, ORG, tmp_path / "nope")
    with pytest.raises(ConfigError, match="no repos-YYYY-MM-DD.csv files"):
        backfill.backfill(sqlite_engine, ORG, tmp_path)


def test_unreadable_bytes_are_reported_not_raised(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "repos-2025-02-01.csv").write_bytes(
        REFERENCE_HEADER.encode() + b'\n"acme","\xff",false,,1,0\n'
    )
    with pytest.raises(BackfillError, match=r"repos-2025-02-01.csv: not UTF-8 text"):
        backfill.backfill(sqlite_engine, ORG, tmp_path)


def test_reading_in_worker_processes_gives_the_same_result(
    sqlite_engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path a year of files takes (worker processes, this process reading too while it waits):
    same rows, same problems, same order."""
    monkeypatch.setattr(backfill, "PARALLEL_FILES", 2)  # else 5 files are read in this process
    for offset in range(4):
        write_export(
            tmp_path, date(2025, 2, 1 + offset), frame(repo("web", pulls=offset), repo(f"r{offset}"))
        )
    write_reference(tmp_path, date(2025, 2, 9), '"acme","web",perhaps,,1,0')
    with pytest.raises(BackfillError) as caught:
        backfill.backfill(sqlite_engine, ORG, tmp_path, workers=2)
    assert str(caught.value) == (
        "imported 4 files (8 rows); 1 malformed, not imported: "
        "repos-2025-02-09.csv line 2: is_private 'perhaps' is not true or false"
    )
    assert [
        stored_rows(sqlite_engine, ORG, date(2025, 2, 1 + offset))["web"]["pull_count"] for offset in range(4)
    ] == [
        0,
        1,
        2,
        3,
    ]
