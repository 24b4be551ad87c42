"""queries_cli: `history` and `trends` through Typer, as a user runs them."""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from conftest import invoke
from dbs import ORG, frame, repo
from test_snapshot_queries import EXPECTED_TRENDS, seed

from dockerhub_export import snapshot_queries, store
from dockerhub_export.errors import ConfigError, StoreError


@pytest.fixture
def seeded(sqlite_url: str) -> str:
    engine = store.open_engine(sqlite_url)
    seed(engine)
    engine.dispose()
    return sqlite_url


# --------------------------------------------------------------------------------------------------
# history


def test_history_json_equals_the_stored_snapshots(app: typer.Typer, engine: sa.Engine, db_url: str) -> None:
    seed(engine)
    result = invoke(
        app, "history", "--org", ORG, "--repo", "web", "--format", "json", "--database-url", db_url
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [
        (row["snapshot_date"], row["pull_count"], row["star_count"], row["is_private"]) for row in rows
    ] == [
        ("2025-01-01", 100, 5, False),
        ("2025-01-02", 150, 6, False),
        ("2025-01-05", 400, 4, False),
    ]
    assert [row["last_updated"] for row in rows] == ["2024-12-31T23:00:00Z", "2025-01-02T08:30:00.5Z", None]
    assert list(rows[0]) == list(snapshot_queries.HISTORY_COLUMNS)


def test_history_csv_and_window(app: typer.Typer, seeded: str) -> None:
    result = invoke(
        app,
        "history",
        "--org",
        ORG,
        "--repo",
        "web",
        "--since",
        "2025-01-02",
        "--format",
        "csv",
        "--database-url",
        seeded,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(row["snapshot_date"], row["pull_count"], row["is_private"]) for row in rows] == [
        ("2025-01-02", "150", "false"),
        ("2025-01-05", "400", "false"),
    ]
    assert rows[0]["last_updated"] == "2025-01-02T08:30:00.5Z" and rows[1]["star_count"] == "4"


def test_history_table_for_people(app: typer.Typer, seeded: str) -> None:
    result = invoke(app, "history", "--org", ORG, "--repo", "web", "--database-url", seeded)
    assert result.exit_code == 0, result.output
    assert "acme/web: 3 snapshots" in result.stdout
    assert "2025-01-05" in result.stdout and "+250" in result.stdout  # growth between snapshots


def test_history_of_an_unknown_repository_or_empty_window_says_so(app: typer.Typer, seeded: str) -> None:
    result = invoke(app, "history", "--org", ORG, "--repo", "nope", "--database-url", seeded)
    assert isinstance(result.exception, ConfigError) and "no snapshots of acme/nope" in str(result.exception)
    result = invoke(
        app, "history", "--org", ORG, "--repo", "gone", "--since", "2025-01-03", "--database-url", seeded
    )
    assert "it has snapshots from 2025-01-01 to 2025-01-02" in str(result.exception)


def test_csv_output_neutralises_formula_cells(app: typer.Typer, sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    store.upsert_snapshot(engine, ORG, date(2025, 1, 1), frame(repo("web", description="=cmd|' /C calc'!A0")))
    engine.dispose()
    result = invoke(
        app, "history", "--org", ORG, "--repo", "web", "--format", "csv", "--database-url", sqlite_url
    )
    assert next(csv.DictReader(io.StringIO(result.stdout)))["description"] == "'=cmd|' /C calc'!A0"


# --------------------------------------------------------------------------------------------------
# trends


def test_trends_json_is_pure_json_equal_to_the_report(
    app: typer.Typer, engine: sa.Engine, db_url: str
) -> None:
    seed(engine)
    result = invoke(app, "trends", "--org", ORG, "--format", "json", "--database-url", db_url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == EXPECTED_TRENDS
    assert result.stderr == ""


def test_trends_csv_lists_every_repository_and_states_the_days_on_stderr(
    app: typer.Typer, seeded: str
) -> None:
    result = invoke(
        app,
        "trends",
        "--org",
        ORG,
        "--since",
        "2024-12-20",
        "--until",
        "2025-01-04",
        "--format",
        "csv",
        "--database-url",
        seeded,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "acme: trends from 2025-01-01 to 2025-01-02 (nearest snapshots for 2024-12-20 to 2025-01-04); "
        "6 repositories"
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["name"] for row in rows] == ["web", "api", "db", "flip", "gone", "mystery"]
    assert (
        rows[0]["pulls_delta"] == "50"
        and rows[-1]["pulls_delta"] == ""
        and rows[-1]["change"] == "pulls_unknown"
    )

    whole = list(
        csv.DictReader(
            io.StringIO(
                invoke(app, "trends", "--org", ORG, "--format", "csv", "--database-url", seeded).stdout
            )
        )
    )
    changes = {row["name"]: row["change"] for row in whole}
    assert changes == {
        "web": "",
        "api": "",
        "flip": "private->public",
        "db": "pulls_decreased",
        "gone": "removed",
        "mystery": "pulls_unknown",
        "new": "added",
    }


def test_trends_top_keeps_the_largest_movers(app: typer.Typer, seeded: str) -> None:
    result = invoke(app, "trends", "--org", ORG, "--top", "2", "--format", "json", "--database-url", seeded)
    report = json.loads(result.stdout)
    assert [row["name"] for row in report["repositories"]] == ["web", "api"] and report["removed"] == [
        {"name": "gone"}
    ]


def test_trends_table_sorted_by_growth_with_changes(app: typer.Typer, seeded: str) -> None:
    result = invoke(app, "trends", "--org", ORG, "--days", "3", "--database-url", seeded)
    assert result.exit_code == 0, result.output
    assert "acme: trends from 2025-01-02 to 2025-01-05" in result.stderr
    out = result.stdout
    assert out.index("web") < out.index("api") < out.index("flip") < out.index("db")
    assert "added (1): new" in out and "visibility: flip private → public" in out and "anomaly: db" in out


def test_trends_plot_option_writes_a_png(app: typer.Typer, seeded: str, tmp_path: Path) -> None:
    target = tmp_path / "trends.png"
    result = invoke(
        app, "trends", "--org", ORG, "--format", "json", "--plot", str(target), "--database-url", seeded
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\x89PNG") and target.stat().st_size > 10_000
    json.loads(result.stdout)  # still pure JSON on stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "2025-01-05", "--days", "3"], "--until and --days exclude each other"),
        (["--since", "2025-13-01"], "invalid --since '2025-13-01': use YYYY-MM-DD"),
        (["--since", "2025-01-05", "--until", "2025-01-01"], "is after --until"),
        (["--since", "2030-01-01"], "no snapshots of acme on or after 2030-01-01"),
    ],
)
def test_trends_bad_input_is_one_config_error(
    app: typer.Typer, seeded: str, args: list[str], message: str
) -> None:
    result = invoke(app, "trends", "--org", ORG, *args, "--database-url", seeded)
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_queries_never_create_a_missing_database(app: typer.Typer, tmp_path: Path) -> None:
    for command in (["history", "--org", ORG, "--repo", "web"], ["trends", "--org", ORG], ["db", "current"]):
        result = invoke(app, *command, "--output-dir", str(tmp_path / "out"))
        assert isinstance(result.exception, StoreError), result.output
        assert "no snapshots yet at sqlite:///" in str(
            result.exception
        ) and "run `dockerhub-export run` first" in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_missing_org_is_a_config_error(app: typer.Typer, seeded: str) -> None:
    result = invoke(app, "trends", "--database-url", seeded)
    assert isinstance(result.exception, ConfigError) and "--org" in str(result.exception)


def test_module_import_stays_light() -> None:
    code = (
        "import sys, dockerhub_export.cli.queries; "
        "print([m for m in ('pandas', 'sqlalchemy', 'prefect', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_query_commands_load_neither_prefect_nor_pandas(seeded: str) -> None:
    code = (
        "import sys, typer\n"
        "from dockerhub_export.cli.queries import register\n"
        "app = typer.Typer()\n"
        "register(app)\n"
        "for args in (['history', '--repo', 'web'], ['trends', '--format', 'json']):\n"
        "    try:\n"
        f"        app(args + ['--org', 'acme', '--database-url', {seeded!r}])\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
        "print('LOADED', [m for m in ('pandas', 'prefect', 'matplotlib', 'alembic') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_json_output_is_exactly_what_the_standard_library_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json is written by orjson for speed; the text stays json.dumps(indent=2,
    ensure_ascii=False)."""
    from dockerhub_export.cli import output as query_output

    value = [
        {
            "name": "café ☃",
            "description": 'a "quoted"\nline\ttab\x01\x7f </script>',
            "pulls": 2**62,
            "private": True,
            "stars": None,
            "delta": -3,
            "tags": [],
            "nested": {"empty": {}, "list": [1, "x"]},
        },
        {},
    ]
    query_output.write_json(value)
    assert capsys.readouterr().out == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------
# Output for people, in a file or a pipe; one night; plurals

LONG = [f"x{i:06d}.web_ui-frontend-for-the-payments-team-in-europe-west-{i:02d}" for i in range(30)]
D1, D2 = date(2026, 12, 3), date(2026, 12, 4)


@pytest.fixture
def falls(sqlite_url: str) -> str:
    """30 repositories with long names whose pull counts all fell between two nights: 30 anomalies."""
    engine = store.open_engine(sqlite_url)
    store.upsert_snapshot(
        engine, ORG, D1, frame(*(repo(name, pulls=9_000_000 + i, stars=i) for i, name in enumerate(LONG)))
    )
    store.upsert_snapshot(
        engine, ORG, D2, frame(*(repo(name, pulls=1_000 + i, stars=i) for i, name in enumerate(LONG)))
    )
    engine.dispose()
    return sqlite_url


def _cli_through_cat(*args: str) -> tuple[str, str, int]:
    """The real command with its stdout piped through ``cat`` (not a terminal, no COLUMNS set)."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    command = subprocess.Popen(
        [sys.executable, "-m", "dockerhub_export", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert command.stdout is not None and command.stderr is not None
    cat = subprocess.run(["cat"], stdin=command.stdout, capture_output=True, check=True, timeout=120)
    command.stdout.close()
    stderr = command.stderr.read().decode()
    return cat.stdout.decode(), stderr, command.wait(timeout=120)


def test_trends_piped_through_cat_keeps_whole_names_and_unwrapped_lines(falls: str) -> None:
    out, err, code = _cli_through_cat("trends", "--org", ORG, "--database-url", falls)
    assert code == 0, err
    lines = out.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert len(table) == 4 + 25 and len({len(line) for line in table}) == 1  # one row per line, none wrapped
    for name in LONG[:25]:  # the table's 25 (all +0 growth: by name)
        assert any(f"│ {name} " in line for line in table), name
    anomalies = [line for line in lines if line.startswith("anomaly: ")]
    assert anomalies == [
        f"anomaly: {name}: pull count fell from {9_000_000 + i} on {D1} to {1_000 + i} on {D2}"
        for i, name in enumerate(LONG[:25])
    ]  # whole lines, capped like the table
    assert "… 5 more anomalies (30 in all): --format csv or json lists every one" in lines
    assert "… 5 more repositories: use --top N" in err


def test_trends_top_caps_the_anomaly_list_and_says_how_many_it_left_out(app: typer.Typer, falls: str) -> None:
    result = invoke(app, "trends", "--org", ORG, "--top", "2", "--database-url", falls)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("anomaly: ")] == [
        f"anomaly: {LONG[0]}: pull count fell from 9000000 on {D1} to 1000 on {D2}",
        f"anomaly: {LONG[1]}: pull count fell from 9000001 on {D1} to 1001 on {D2}",
    ]
    assert "… 28 more anomalies (30 in all)" in result.stdout


def test_trends_of_one_snapshot_night_is_one_line_and_exit_1(sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    store.upsert_snapshot(engine, ORG, D2, frame(repo("web", pulls=5)))
    engine.dispose()
    result = subprocess.run(
        [sys.executable, "-m", "dockerhub_export", "trends", "--org", ORG, "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: trends compare two snapshot nights, and acme has only 2026-12-04: "
        "run `dockerhub-export run --org acme` on a later night, then ask again\n"
    )


def test_trends_of_a_window_with_one_night_names_it_and_the_nights_there_are(
    app: typer.Typer, seeded: str
) -> None:
    result = invoke(app, "trends", "--org", ORG, "--since", "2025-01-03", "--database-url", seeded)
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert str(result.exception) == (
        "trends compare two snapshot nights, and on or after 2025-01-03 acme has only 2025-01-05: "
        "widen the window (acme's snapshots span 2025-01-01 to 2025-01-05)"
    )


def test_counts_in_titles_and_headers_are_pluralised(app: typer.Typer, sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    store.upsert_snapshot(engine, ORG, D1, frame(repo("web", pulls=5)))
    store.upsert_snapshot(engine, ORG, D2, frame(repo("web", pulls=7)))
    engine.dispose()
    one = invoke(
        app, "history", "--org", ORG, "--repo", "web", "--since", str(D2), "--database-url", sqlite_url
    )
    assert one.stdout.splitlines()[0].rstrip() == "acme/web: 1 snapshot"
    trends = invoke(app, "trends", "--org", ORG, "--format", "csv", "--database-url", sqlite_url)
    assert trends.stderr == f"acme: trends from {D1} to {D2}; 1 repository\n"
