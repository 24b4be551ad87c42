"""Golden scenarios: the current behaviour of dockerhub-export, pinned through its public surfaces only.

`collect(workdir, prefect_api_url)` runs a fixed sequence of scenarios and returns named text outputs
(name -> normalised text). With ``prefect_api_url=None`` no Prefect server is configured: ``run`` then
works in-process, and the outputs that only a flow run has (`PREFECT_ONLY`) are not collected.
`test_golden.py` compares them with ``data/<name>.txt``; ``make.py`` writes those files (run it only on
the code whose behaviour is to be pinned).

Only stable surfaces are used, so that internal modules may move freely:

- the CLI as a subprocess (``python -m dockerhub_export ...``) with a controlled environment and an
  empty working directory (no ``.env``);
- the fake Hub of ``tests/fakehub.py`` (deterministic data: ``make_repos("acme", 120, seed=7)``, then
  mutated between days);
- the SQLite snapshot database, read with the stdlib ``sqlite3``;
- files on disk (the CSVs, the output folders' listings, the PNG signature);
- the Prefect server, read with the Prefect client (the flow run a CLI command made, its artifacts).

Nothing here imports ``dockerhub_export`` or ``flows``.

Normalisations (each applied by `_normalise` / `_normalise_stderr` / `_markdown` below; nothing else is
changed, CSV files are kept byte for byte):

1. the work directory (a temporary path) -> ``<work>``;
2. each fake Hub's URL (a random free port) -> ``<hub>`` / ``<empty-hub>``;
3. the ``HH:MM:SS `` local-time prefix of the CLI's stderr log lines -> ``HH:MM:SS ``;
4. durations measured by the run: ``, 0.0 s)`` at the end of the "fetched N repositories ... (...)" log
   line and the ``| Duration | 1.2 s |`` row of the summary artifacts -> ``<s> s``;
5. Prefect's flow-run ids and names (random) -> ``<flow-run-id>`` / ``<flow-run-name>`` (were any to be
   printed or stored; today none is);
6. database columns that hold the wall-clock time of a write (``started_at``, ``finished_at``,
   ``written_at``) -> ``'<time>'`` when not NULL (NULL stays visible);
7. table artifacts are stored by Prefect as JSON text: re-indented (``json.dumps(indent=2)``) for
   readable diffs; keys keep their order and values are unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS) not in sys.path:  # under pytest tests/ is on sys.path already; make.py runs without it
    sys.path.insert(0, str(_TESTS))

from fakehub import FakeHub, make_repos  # noqa: E402

ORG = "acme"
TOKEN = "dckr_oat_acme-all-7a3f"  # sees private repositories (the same secrets as tests/conftest.py)
PUBLIC_TOKEN = "dckr_oat_acme-public-91c2"  # an OAT without scope-repository-list: public only
PAT = "dckr_pat_alice-55e1"  # a personal access token of user alice
REPO_COUNT = 120
DAY1, DAY2, DAY3, DAY4 = "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"
EXE = [sys.executable, "-m", "dockerhub_export"]
# Outputs read from the Prefect server about a run: the flow run and its artifacts.
PREFECT_ONLY = (".flow-run", ".artifacts", ".summary.md", ".top-movers.json")
MASKED_COLUMNS = {"started_at", "finished_at", "written_at"}  # wall-clock times of writes (normalisation 6)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Environment variables that would change the program's input or its terminal output: removed from the
# copy of os.environ the CLI runs with (the rest of the environment is controlled in `_Golden.env`).
_DROPPED_PREFIXES = ("DOCKERHUB_",)
_DROPPED = {
    "PREFECT_API_URL",
    "EXPORT_DIR",
    "SNAPSHOT_DATABASE_URL",
    "FORCE_COLOR",
    "NO_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "CLICOLOR_FORCE",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY",
    "PREFECT_RUNNER_HEARTBEAT_FREQUENCY",
}

_CLOCK = re.compile(r"^\d\d:\d\d:\d\d ", re.MULTILINE)  # normalisation 3
_FETCH_SECONDS = re.compile(r"^(HH:MM:SS fetched .*, )\d+(?:\.\d+)? s\)$", re.MULTILINE)  # normalisation 4
_SUMMARY_SECONDS = re.compile(r"^\| Duration \| \d+(?:\.\d+)? s \|$", re.MULTILINE)  # normalisation 4
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")  # normalisation 5


class _Golden:
    def __init__(self, workdir: Path, prefect_api_url: str | None, hub: FakeHub, empty_hub: FakeHub) -> None:
        self.work = workdir
        self.api_url = prefect_api_url
        self.hub = hub
        self.empty_hub = empty_hub
        self.cwd = workdir / "cwd"  # empty: no .env is read
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.out = workdir / "out"
        self.outputs: dict[str, str] = {}
        self.flow_run_names: set[str] = set()
        self.timings: dict[str, float] = {}  # seconds per CLI command (not an output)

    # -- normalisation ------------------------------------------------------------------------------

    def _normalise(self, text: str) -> str:
        replacements = {
            str(self.work.resolve()): "<work>",
            str(self.work): "<work>",  # normalisation 1
            self.hub.url: "<hub>",
            self.empty_hub.url: "<empty-hub>",
        }  # normalisation 2
        for old in sorted(replacements, key=len, reverse=True):
            text = text.replace(old, replacements[old])
        for name in self.flow_run_names:  # normalisation 5
            text = text.replace(name, "<flow-run-name>")
        return _UUID.sub("<flow-run-id>", text)

    def _normalise_stderr(self, text: str) -> str:
        text = _CLOCK.sub("HH:MM:SS ", self._normalise(text))
        return _FETCH_SECONDS.sub(r"\1<s> s)", text)

    def _markdown(self, text: str) -> str:
        return _SUMMARY_SECONDS.sub("| Duration | <s> s |", self._normalise(text))

    def put(self, name: str, text: str) -> None:
        assert name not in self.outputs, f"output {name} recorded twice"
        self.outputs[name] = text

    # -- the CLI ------------------------------------------------------------------------------------

    def env(self, **extra: str | None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED
        }
        if self.api_url is not None:
            env["PREFECT_API_URL"] = self.api_url
        env.update(
            DOCKERHUB_API_URL=self.hub.url,
            DOCKERHUB_TOKEN=TOKEN,
            COLUMNS="160",
            TERM="dumb",
            PYTHONIOENCODING="utf-8",
            DO_NOT_TRACK="1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # Prefect's local files (the result records of failed runs) stay in the work folder.
            PREFECT_HOME=str(self.work / "prefect-home"),
        )
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def cli(self, name: str, args: list[str], *, prefect: bool = False, **env: str | None) -> None:
        """Run the CLI; record ``<name>.stdout``, ``.stderr``, ``.exit`` and, if it is a run, the flow
        run it made on the Prefect server with its artifacts (``.flow-run``, ``.artifacts``,
        ``.summary.md``, ``.top-movers.json``)."""
        before = self._recent_flow_runs() if prefect else set()
        started = time.monotonic()
        result = subprocess.run(
            EXE + args, cwd=self.cwd, env=self.env(**env), capture_output=True, timeout=300
        )
        self.timings[name] = time.monotonic() - started
        stdout = result.stdout.decode("utf-8", errors="backslashreplace")
        stderr = result.stderr.decode("utf-8", errors="backslashreplace")
        if prefect:
            self._flow_run(name, before)
        self.put(f"{name}.stdout", self._normalise(stdout))
        self.put(f"{name}.stderr", self._normalise_stderr(stderr))
        self.put(f"{name}.exit", f"{result.returncode}\n")

    def run(self, name: str, *args: str, out: Path | None = None, **env: str | None) -> None:
        prefect = self.api_url is not None
        self.cli(name, ["run", "--output-dir", str(out or self.out), *args], prefect=prefect, **env)

    # -- files and the database ----------------------------------------------------------------------

    def files(self, name: str, folder: Path) -> None:
        """The folder's files (relative paths), so a stray or missing CSV / database shows."""
        if not folder.exists():
            self.put(name, "(folder does not exist)\n")
            return
        paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        self.put(name, "".join(f"{path}\n" for path in paths) or "(empty folder)\n")

    def csv(self, name: str, path: Path) -> None:
        # Exact bytes (UTF-8): no newline translation, no normalisation.
        self.put(name, path.read_bytes().decode("utf-8") if path.exists() else "(no CSV file)\n")

    def db(self, name: str, path: Path, tables: tuple[str, ...] | None = None) -> None:
        self.put(name, self._normalise(dump_sqlite(path, tables)))

    # -- Prefect ------------------------------------------------------------------------------------

    @contextmanager
    def _client(self) -> Iterator[Any]:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            with get_client(sync_client=True) as client:
                yield client

    def _recent_flow_runs(self) -> set[UUID]:
        from prefect.client.schemas.sorting import FlowRunSort

        with self._client() as client:
            runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=50)
        return {run.id for run in runs}

    def _flow_run(self, name: str, before: set[UUID]) -> None:
        """The flow run the command made (the newest runs minus those seen before it), its artifacts."""
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
        from prefect.client.schemas.sorting import FlowRunSort

        with self._client() as client:
            runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=50)
            new = [run for run in runs if run.id not in before]
            if not new:
                self.put(f"{name}.flow-run", "(no flow run)\n")
                return
            assert len(new) == 1, f"{name}: {len(new)} new flow runs"
            run = new[0]
            self.flow_run_names.add(run.name)
            flow = client.read_flow(run.flow_id)
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        state = run.state
        lines = [
            f"flow: {flow.name}",
            f"state: {state.type.value if state else None} {state.name if state else None}",
            f"message: {state.message if state else None}",
            "parameters: " + json.dumps(run.parameters, indent=2, sort_keys=True, ensure_ascii=False),
        ]
        self.put(f"{name}.flow-run", self._normalise("\n".join(lines) + "\n"))
        artifacts = sorted(artifacts, key=lambda a: (a.key or "", a.type or "", a.description or ""))
        listing = [f"{a.key} | {a.type} | {a.description}" for a in artifacts]
        self.put(f"{name}.artifacts", self._normalise("".join(f"{line}\n" for line in listing) or "(none)\n"))
        # By suffix: a run for another org (nosuchorg) publishes under its own key.
        summary = next((a for a in artifacts if (a.key or "").endswith("-summary")), None)
        self.put(f"{name}.summary.md", self._markdown(str(summary.data)) if summary else "(no artifact)\n")
        movers = next((a for a in artifacts if (a.key or "").endswith("-top-movers")), None)
        if movers is None:
            self.put(f"{name}.top-movers.json", "(no artifact)\n")
        else:
            data = movers.data if isinstance(movers.data, str) else json.dumps(movers.data)
            pretty = json.dumps(json.loads(data), indent=2, ensure_ascii=False)  # normalisation 7
            self.put(f"{name}.top-movers.json", self._normalise(pretty + "\n"))


def dump_sqlite(path: Path, tables: tuple[str, ...] | None = None) -> str:
    """Every table (or ``tables``) of a SQLite file as text: schema, then rows sorted by primary key.

    Values are shown with ``repr`` (so 1, '1' and NULL differ); `MASKED_COLUMNS` show ``'<time>'``."""
    if not path.exists():
        return "(no database file)\n"
    # Read a copy: even a read-only connection to a WAL database leaves -wal/-shm files beside it.
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("", "-wal"):
            if Path(f"{path}{suffix}").exists():
                shutil.copyfile(f"{path}{suffix}", Path(folder) / f"copy.db{suffix}")
        return _dump(sqlite3.connect(Path(folder) / "copy.db"), tables)


def _dump(connection: sqlite3.Connection, tables: tuple[str, ...] | None) -> str:
    try:
        lines: list[str] = []
        schema = connection.execute(
            "select type, name, tbl_name, sql from sqlite_master order by type, name"
        ).fetchall()
        names = [row[1] for row in schema if row[0] == "table"]
        if tables is None:
            lines.append("== schema")
            for kind, name, table, sql in schema:
                lines.append(f"-- {kind} {name} on {table}")
                lines.append(f"{sql};" if sql else "(no sql)")
        for table in tables if tables is not None else names:
            if table not in names:
                lines.append(f"== {table}: (no such table)")
                continue
            info = connection.execute(f'pragma table_info("{table}")').fetchall()
            columns = [row[1] for row in info]
            keys = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5] > 0] or columns
            order = ", ".join(f'"{key}"' for key in keys)
            rows = connection.execute(f'select * from "{table}" order by {order}').fetchall()
            lines.append(f"== {table}: {len(rows)} rows, ordered by {', '.join(keys)}")
            lines.append("\t".join(columns))
            for row in rows:
                cells = [
                    "'<time>'" if column in MASKED_COLUMNS and value is not None else repr(value)
                    for column, value in zip(columns, row, strict=True)
                ]
                lines.append("\t".join(cells))
        return "\n".join(lines) + "\n"
    finally:
        connection.close()


# -- the Hub's data, day by day --------------------------------------------------------------------


def _repo(hub: FakeHub, name: str) -> dict[str, Any]:
    (repo,) = [r for r in hub.repos[ORG] if r["name"] == name]
    return repo


def _remove(hub: FakeHub, name: str) -> None:
    hub.repos[ORG] = [r for r in hub.repos[ORG] if r["name"] != name]


def _day2(hub: FakeHub) -> None:
    """Growth of different sizes, a star loss, an added and a deleted repository, a private repository
    made public, a pull count that goes down (an anomaly), and an unknown pull count that becomes known."""
    for name, gained in (
        ("repo-000000", 250_000),
        ("svc.000004_api-v2", 1_200),
        ("repo-000010", 98_765),
        ("repo-000020", 5),
        ("repo-000100", 3_000_000),
        ("x000067.web_ui", 42),
    ):
        _repo(hub, name)["pull_count"] += gained
    _repo(hub, "repo-000001")["star_count"] -= 7  # 60 -> 53
    _repo(hub, "repo-000019")["pull_count"] = 500  # was null (unknown)
    extra = make_repos(ORG, REPO_COUNT + 1, seed=7)[REPO_COUNT]  # the next repository of the same series
    hub.repos[ORG].append(extra)
    _remove(hub, "repo-000030")
    _repo(hub, "repo-000002")["is_private"] = False  # private -> public
    _repo(hub, "repo-000005")["pull_count"] -= 1_000  # an anomaly: pulls went down


# -- the scenarios -----------------------------------------------------------------------------------


def _runs(g: _Golden) -> None:
    csv_of = lambda day, out=g.out: out / ORG / f"repos-{day}.csv"  # noqa: E731

    # Day 1: the first snapshot.
    g.run("01-run-day1", "--org", ORG, "--snapshot-date", DAY1)
    g.csv("01-run-day1.csv", csv_of(DAY1))
    g.db("01-run-day1.db", g.out / "snapshots.db")
    g.files("01-run-day1.files", g.out)

    # Day 2: growth, loss of stars, added, deleted, a visibility flip, an anomaly.
    _day2(g.hub)
    g.run("02-run-day2", "--org", ORG, "--snapshot-date", DAY2)
    g.csv("02-run-day2.csv", csv_of(DAY2))
    g.db("02-run-day2.db", g.out / "snapshots.db")

    # Day 2 again, after one more repository was deleted: the day's snapshot is rewritten.
    _remove(g.hub, "repo-000040")
    g.run("03-rerun-day2", "--org", ORG, "--snapshot-date", DAY2)
    g.csv("03-rerun-day2.csv", csv_of(DAY2))
    g.db("03-rerun-day2.db", g.out / "snapshots.db")
    g.files("03-rerun-day2.files", g.out)

    # Day 3: nothing changed since day 2 (two snapshots, no growth).
    g.run("04-run-day3", "--org", ORG, "--snapshot-date", DAY3)
    g.csv("04-run-day3.csv", csv_of(DAY3))
    g.db("04-run-day3.export_runs", g.out / "snapshots.db", ("export_runs", "snapshots"))

    # --no-db and --no-csv-safe, each into its own folder (the data has spreadsheet-hostile descriptions).
    nodb = g.work / "nodb"
    g.run("05-run-no-db", "--org", ORG, "--snapshot-date", DAY1, "--no-db", out=nodb)
    g.csv("05-run-no-db.csv", csv_of(DAY1, nodb))
    g.files("05-run-no-db.files", nodb)
    unsafe = g.work / "unsafe"
    g.run("06-run-no-csv-safe", "--org", ORG, "--snapshot-date", DAY1, "--no-csv-safe", out=unsafe)
    g.csv("06-run-no-csv-safe.csv", csv_of(DAY1, unsafe))
    g.files("06-run-no-csv-safe.files", unsafe)
    g.db("06-run-no-csv-safe.db", unsafe / "snapshots.db", ("export_runs", "repository_snapshots"))


def _errors(g: _Golden) -> None:
    err = g.work / "err"
    _err_refused_before_prefect(g, err)
    _err_failing_inside_the_flow_run(g, err)
    _err_empty_org(g, err)


def _err_refused_before_prefect(g: _Golden, err: Path) -> None:
    """Bad input, refused before Prefect starts: no flow run, no folder."""
    local = {
        "10-err-no-token": (["--org", ORG], {"DOCKERHUB_TOKEN": None}),
        "11-err-invalid-org": (["--org", "../x"], {}),
        "12-err-no-org": ([], {}),
        "13-err-bad-date": (["--org", ORG, "--snapshot-date", "27/11/2026"], {}),
        "14-err-concurrency-0": (["--org", ORG, "--concurrency", "0"], {}),
    }
    for name, (args, env) in local.items():
        out = err / name
        g.run(name, *args, out=out, **env)
        g.files(f"{name}.files", out)


def _err_failing_inside_the_flow_run(g: _Golden, err: Path) -> None:
    """Failures inside the flow run: one line, no CSV, a failure summary; a run that fails before its
    listing makes no database (the run log of an existing one records the failure: 40-err-guard)."""
    failing: dict[str, tuple[list[str], dict[str, str | None]]] = {
        "15-err-wrong-token": (["--org", ORG, "--snapshot-date", DAY2], {"DOCKERHUB_TOKEN": "wrong-token"}),
        "16-err-unknown-org": (
            ["--org", "nosuchorg", "--snapshot-date", DAY2],
            {"DOCKERHUB_TOKEN": PAT, "DOCKERHUB_USERNAME": "alice"},
        ),
        "19-err-unreachable-hub": (
            ["--org", ORG, "--snapshot-date", DAY2],
            {
                "DOCKERHUB_API_URL": "http://127.0.0.1:9",
                "DOCKERHUB_MAX_ATTEMPTS": "1",
                "DOCKERHUB_TIMEOUT": "2",
            },
        ),
    }
    for name, (args, env) in failing.items():
        out = err / name
        g.run(name, *args, out=out, **env)
        g.files(f"{name}.files", out)
        g.db(f"{name}.export_runs", out / "snapshots.db", ("export_runs",))


def _err_empty_org(g: _Golden, err: Path) -> None:
    """An org with no repositories (another Hub): refused, then accepted with --allow-empty."""
    empty = err / "empty-org"
    g.run(
        "17-err-empty-org",
        "--org",
        ORG,
        "--snapshot-date",
        DAY2,
        out=empty,
        DOCKERHUB_API_URL=g.empty_hub.url,
    )
    g.files("17-err-empty-org.files", empty)
    g.run(
        "18-run-empty-org-allowed",
        "--org",
        ORG,
        "--snapshot-date",
        DAY2,
        "--allow-empty",
        out=empty,
        DOCKERHUB_API_URL=g.empty_hub.url,
    )
    g.files("18-run-empty-org-allowed.files", empty)
    g.csv("18-run-empty-org-allowed.csv", empty / ORG / f"repos-{DAY2}.csv")
    g.db("18-run-empty-org-allowed.db", empty / "snapshots.db")


def _queries(g: _Golden) -> None:
    """history, trends and db over the database of `_runs` (three days); they never start Prefect."""
    db = ["--output-dir", str(g.out)]
    anomaly = "repo-000005"  # its pulls went down on day 2
    for fmt in ("table", "csv", "json"):
        g.cli(f"20-history-{fmt}", ["history", "--org", ORG, "--repo", anomaly, "--format", fmt, *db])
    # A repository whose description is a formula ("=SUM(A1)") and whose star count is unknown.
    g.cli(
        "21-history-formula-csv", ["history", "--org", ORG, "--repo", "repo-000023", "--format", "csv", *db]
    )
    g.cli(
        "21-history-formula-json", ["history", "--org", ORG, "--repo", "repo-000023", "--format", "json", *db]
    )
    g.cli("22-history-unknown-repo", ["history", "--org", ORG, "--repo", "no-such-repo", *db])
    g.cli(
        "22-history-outside-window", ["history", "--org", ORG, "--repo", "repo-000030", "--since", DAY2, *db]
    )
    for fmt in ("table", "csv", "json"):
        g.cli(f"23-trends-{fmt}", ["trends", "--org", ORG, "--format", fmt, *db])
    g.cli("24-trends-top3", ["trends", "--org", ORG, "--top", "3", *db])
    g.cli("24-trends-top3-json", ["trends", "--org", ORG, "--top", "3", "--format", "json", *db])
    g.cli("25-trends-days1", ["trends", "--org", ORG, "--days", "1", *db])
    g.cli("26-trends-since-until", ["trends", "--org", ORG, "--since", DAY1, "--until", DAY2, *db])
    g.cli(
        "26-trends-since-until-csv",
        ["trends", "--org", ORG, "--since", DAY1, "--until", DAY2, "--format", "csv", *db],
    )
    g.cli("27-err-trends-until-and-days", ["trends", "--org", ORG, "--until", DAY2, "--days", "1", *db])
    plot = g.work / "p.png"
    g.cli("28-trends-plot", ["trends", "--org", ORG, "--plot", str(plot), *db])
    head = plot.read_bytes()[:8] if plot.exists() else b""
    g.put("28-trends-plot.png", f"exists: {plot.exists()}\nPNG signature: {head == PNG_SIGNATURE}\n")

    nowhere = g.work / "nothing"
    g.cli(
        "29-err-history-no-database",
        ["history", "--org", ORG, "--repo", anomaly, "--output-dir", str(nowhere)],
    )
    g.files("29-err-history-no-database.files", nowhere)
    g.cli("29-err-trends-no-database", ["trends", "--org", ORG, "--output-dir", str(nowhere)])

    g.cli("30-db-current", ["db", "current", *db])
    g.cli("30-db-upgrade", ["db", "upgrade", *db])
    new = ["--database-url", f"sqlite:///{g.work / 'new.db'}"]
    g.cli("31-db-current-new", ["db", "current", *new])
    g.put("31-db-current-new.created", f"new.db exists: {(g.work / 'new.db').exists()}\n")
    g.cli("31-db-upgrade-new", ["db", "upgrade", *new])
    g.cli("31-db-current-new-after", ["db", "current", *new])
    g.db("31-db-upgrade-new.db", g.work / "new.db")


def _guard(g: _Golden) -> None:
    """A token that lost the private repositories: refused, then accepted with --allow-drop."""
    g.run("40-err-guard-public-token", "--org", ORG, "--snapshot-date", DAY4, DOCKERHUB_TOKEN=PUBLIC_TOKEN)
    g.files("40-err-guard-public-token.files", g.out)
    g.db("40-err-guard-public-token.export_runs", g.out / "snapshots.db", ("export_runs",))
    g.run(
        "41-run-guard-allow-drop",
        "--org",
        ORG,
        "--snapshot-date",
        DAY4,
        "--allow-drop",
        DOCKERHUB_TOKEN=PUBLIC_TOKEN,
    )
    g.csv("41-run-guard-allow-drop.csv", g.out / ORG / f"repos-{DAY4}.csv")
    g.files("41-run-guard-allow-drop.files", g.out)
    g.db("42-final.db", g.out / "snapshots.db")


REFERENCE_CSV = (
    '"namespace","name","is_private","last_updated","pull_count","star_count"\n'
    '"acme","repo-000000",false,"2025-04-30T21:52:16.394646Z",200,2\n'
    '"acme","repo-000001",true,"2024-07-18T16:24:27Z",996000,58\n'
    '"acme","repo-000003",false,,0,0\n'
    '"acme","x000007.web_ui",false,"2024-01-01T00:00:00.5Z",,\n'
)


def _backfill(g: _Golden) -> None:
    folder = g.work / "backfill-in"
    folder.mkdir()
    (folder / "repos-2026-11-20.csv").write_bytes(REFERENCE_CSV.encode())  # the reference script's CSV
    ours = (g.out / ORG / f"repos-{DAY1}.csv").read_bytes()
    (folder / "repos-2026-11-21.csv").write_bytes(ours)  # one of this tool's, under another date
    header, first, second = ours.split(b"\n")[:3]
    broken = second.rsplit(b",", 1)[0]  # the last field is missing
    (folder / "repos-2026-11-22.csv").write_bytes(b"\n".join([header, first, broken]) + b"\n")
    (folder / "notes.csv").write_bytes(b"not,an,export\n1,2,3\n")  # not named repos-YYYY-MM-DD.csv
    url = f"sqlite:///{g.work / 'backfill.db'}"
    g.cli("50-backfill", ["backfill", "--org", ORG, "--database-url", url, str(folder)])
    g.db("50-backfill.db", g.work / "backfill.db")
    g.cli("51-backfill-trends-json", ["trends", "--org", ORG, "--database-url", url, "--format", "json"])
    # Again without the malformed file: the days already stored are imported again, notes.csv is named.
    (folder / "repos-2026-11-22.csv").unlink()
    g.cli("52-backfill-again", ["backfill", "--org", ORG, "--database-url", url, str(folder)])
    g.db("52-backfill-again.db", g.work / "backfill.db", ("repository_snapshots", "snapshots"))


def collect(
    workdir: Path, prefect_api_url: str | None, *, timings: dict[str, float] | None = None
) -> dict[str, str]:
    """Run every scenario in order (each builds on the state the previous ones left); name -> text.

    ``timings``, if given, receives the seconds each CLI command took (for tuning, not compared)."""
    workdir.mkdir(parents=True, exist_ok=True)
    assert not any(workdir.iterdir()), f"{workdir} must be empty"
    hub = FakeHub(
        repos={ORG: make_repos(ORG, REPO_COUNT, seed=7)},
        credentials={TOKEN: (ORG, "all"), PUBLIC_TOKEN: (ORG, "public"), PAT: ("alice", "all")},
    )
    empty_hub = FakeHub(repos={ORG: []}, credentials={TOKEN: (ORG, "all")})
    with hub, empty_hub:
        g = _Golden(workdir, prefect_api_url, hub, empty_hub)
        for stage in (_runs, _errors, _queries, _guard, _backfill):
            stage(g)
    if timings is not None:
        timings.update(g.timings)
    return dict(sorted(g.outputs.items()))


__all__ = ["collect", "dump_sqlite"]
