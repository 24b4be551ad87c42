"""The command line as a user meets it: real processes, one-line errors, no tracebacks, no stray files."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ORG, PAT, REPO_COUNT, TOKEN

EXE = [sys.executable, "-m", "dockerhub_export"]


def _cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180, exe=EXE):  # type: ignore[no-untyped-def]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    base["PREFECT_HOME"] = str(cwd / "prefect-home")  # no profile of the developer's names a server
    base.update(env or {})
    return subprocess.run(exe + args, cwd=cwd, env=base, capture_output=True, text=True, timeout=timeout)


# The command line, telling on exit whether Prefect was ever imported.
WATCHED = [
    sys.executable,
    "-c",
    (
        "import atexit, sys\n"
        "atexit.register(lambda: print('prefect imported:', 'prefect' in sys.modules, file=sys.stderr))\n"
        "from dockerhub_export.cli import main\n"
        "sys.argv[0] = 'dockerhub-export'\n"
        "main()\n"
    ),
]


def _assert_one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


def test_help_lists_the_commands_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _cli(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("run", "history", "trends", "backfill", "db"):
        assert command in result.stdout
    assert time.monotonic() - started < 10  # generous: the real budget lives in bench/


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["run", "--org", ORG], {}, "DOCKERHUB_TOKEN is not set"),
        (["run", "--org", "../x"], {"DOCKERHUB_TOKEN": "t"}, "invalid organization name"),
        (["run", "--org", "my org"], {"DOCKERHUB_TOKEN": "t"}, "invalid organization name"),
        (["run"], {"DOCKERHUB_TOKEN": "t"}, "no organization given"),
        (["run", "--org", ORG, "--snapshot-date", "27/11/2026"], {"DOCKERHUB_TOKEN": "t"}, "YYYY-MM-DD"),
        (["run", "--org", ORG, "--concurrency", "0"], {"DOCKERHUB_TOKEN": "t"}, "--concurrency"),
    ],
)
def test_bad_input_is_one_line_before_anything_starts(args, env, fragment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = _cli(args + ["--output-dir", str(tmp_path / "out")], tmp_path, env)
    _assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()
    assert "t" not in result.stderr.split("error:")[0]


def test_without_a_prefect_server_the_run_is_in_process_says_so_and_never_imports_prefect(
    hub, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    env = {"DOCKERHUB_API_URL": hub.url, "DOCKERHUB_TOKEN": TOKEN}
    result = _cli(
        ["run", "--org", ORG, "--output-dir", str(out), "--snapshot-date", "2026-11-27"],
        tmp_path,
        env,
        exe=WATCHED,
    )
    assert result.returncode == 0, result.stderr
    path = out / ORG / "repos-2026-11-27.csv"
    assert result.stdout.strip() == str(path) and path.read_text().count("\n") >= REPO_COUNT + 1
    notes = [line for line in result.stderr.splitlines() if "no Prefect server configured" in line]
    assert (
        len(notes) == 1
        and "PREFECT_API_URL=http://127.0.0.1:4200/api" in notes[0]
        and "--prefect" in notes[0]
    )
    assert f"fetched {REPO_COUNT} repositories" in result.stderr
    assert "prefect imported: False" in result.stderr
    with sqlite3.connect(out / "snapshots.db") as db:
        assert db.execute("select status, repositories from export_runs").fetchall() == [
            ("success", REPO_COUNT)
        ]


def test_no_prefect_runs_in_process_even_with_a_server_configured(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "DOCKERHUB_API_URL": hub.url,
        "DOCKERHUB_TOKEN": TOKEN,
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }
    result = _cli(
        ["run", "--org", ORG, "--output-dir", str(tmp_path / "out"), "--no-prefect"],
        tmp_path,
        env,
        exe=WATCHED,
    )
    assert result.returncode == 0, result.stderr
    assert "prefect imported: False" in result.stderr


def test_in_process_errors_are_one_line_and_logged_like_a_flow_run(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    args = ["run", "--org", ORG, "--output-dir", str(out)]
    env = {"DOCKERHUB_API_URL": hub.url, "DOCKERHUB_TOKEN": TOKEN}
    assert _cli([*args, "--snapshot-date", "2026-11-26"], tmp_path, env).returncode == 0
    result = _cli(args, tmp_path, dict(env, DOCKERHUB_TOKEN="wrong-token"))
    _assert_one_line_error(result, "rejected the credentials")
    assert len(list(out.rglob("*.csv"))) == 1 and "wrong-token" not in result.stderr
    with sqlite3.connect(out / "snapshots.db") as db:
        rows = db.execute("select status, error from export_runs order by id").fetchall()
    assert [status for status, _ in rows] == ["success", "failed"] and "rejected the credentials" in rows[1][
        1
    ]


def test_a_first_run_that_fails_at_login_leaves_no_empty_database(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    env = {"DOCKERHUB_API_URL": hub.url, "DOCKERHUB_TOKEN": "wrong-token"}
    result = _cli(["run", "--org", ORG, "--output-dir", str(out)], tmp_path, env)
    _assert_one_line_error(result, "rejected the credentials")
    assert not out.exists()


@pytest.mark.prefect
class TestRunAgainstPrefectServer:
    @pytest.fixture(autouse=True)
    def _env(self, hub, prefect_api_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.hub = hub
        self.out = tmp_path / "out"
        self.env = {
            "PREFECT_API_URL": prefect_api_url,
            "DOCKERHUB_API_URL": hub.url,
            "DOCKERHUB_TOKEN": TOKEN,
        }
        self.cwd = tmp_path

    def run(self, *args: str, **env: str):  # type: ignore[no-untyped-def]
        return _cli(["run", "--output-dir", str(self.out), *args], self.cwd, {**self.env, **env})

    def test_success_prints_only_the_csv_path_and_tells_its_story_on_stderr(self) -> None:
        result = self.run("--org", ORG, "--snapshot-date", "2026-11-27")
        assert result.returncode == 0, result.stderr
        path = self.out / ORG / "repos-2026-11-27.csv"
        assert result.stdout.strip() == str(path)
        assert path.read_text().count("\n") >= REPO_COUNT + 1
        assert f"fetched {REPO_COUNT} repositories" in result.stderr
        assert "Traceback" not in result.stderr and "| INFO" not in result.stderr  # no Prefect console noise
        everything = b"".join(p.read_bytes() for p in self.out.rglob("*") if p.is_file())
        assert TOKEN.encode() not in everything and TOKEN not in result.stderr + result.stdout

    def test_wrong_token_is_one_line_and_no_csv(self) -> None:
        result = self.run("--org", ORG, DOCKERHUB_TOKEN="wrong-token")
        _assert_one_line_error(result, "rejected the credentials")
        assert not list(self.out.rglob("*.csv"))
        assert "wrong-token" not in result.stderr

    def test_unknown_org_is_one_line_and_no_csv(self) -> None:
        result = self.run("--org", "nosuchorg", DOCKERHUB_TOKEN=PAT, DOCKERHUB_USERNAME="alice")
        _assert_one_line_error(result, "no repositories visible for org 'nosuchorg'")
        assert not list(self.out.rglob("*.csv"))

    def test_the_database_url_reaches_the_flow_run_but_not_its_parameters(self) -> None:
        url = f"sqlite:///{self.cwd / 'elsewhere' / 'snap.db'}"
        result = self.run("--org", ORG, "--database-url", url)
        assert result.returncode == 0, result.stderr
        assert "no Prefect server configured" not in result.stderr  # a flow run: the server is configured
        with sqlite3.connect(self.cwd / "elsewhere" / "snap.db") as db:
            assert db.execute("select status from export_runs").fetchall() == [("success",)]
        assert not (self.out / "snapshots.db").exists()
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.sorting import FlowRunSort

        with get_client(sync_client=True) as client:
            (latest,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        assert latest.parameters["org"] == ORG and "snap.db" not in repr(latest.parameters)

    def test_unreachable_prefect_server_is_one_line(self) -> None:
        result = self.run("--org", ORG, PREFECT_API_URL="http://127.0.0.1:9/api")
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert "error:" in result.stderr


def test_command_line_runs_skip_prefect_heartbeats_unless_the_user_configured_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Heartbeats cost a command-line run up to 1 s at its end (the heartbeat thread is joined)."""
    from prefect.settings import get_current_settings

    from dockerhub_export.cli import run as cli

    for variable in cli._HEARTBEAT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with cli._without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency is not None  # restored afterwards
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with cli._without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is not None
