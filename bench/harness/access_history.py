"""Access review (issue 16), the queries: a year of nightly access history on SQLite, then `access --user`,
`access --repo`, `tokens` and `access-changes` over a quarter, each timed as a whole command (a new
process: a cold start of the CLI, as a user runs it).

The year (`accessyear.py`, in a process of its own on the code under test): 3,000 repositories, make_access's
300 members, 365 nights moved day by day as `tests/hubhistory.py` moves the fake Hub's org (repositories
created, deleted, made public or private; members invited, accepting, leaving, changing role and team;
team permissions granted, changed, revoked; tokens created, deleted, deactivated and used), each night
stored as a run stores it but straight through the store: the repositories' snapshot, the day's audit
events and the access night. Built once per code and cached in the temporary folder under a hash of
the code it depends on (the store, the migrations, the access model, the fake Hub's history), the
years built for other code deleted: a rebuild takes ~30 s at 3,000 × 365.

Figures: ``access_user_s`` (a member in a team, present on the last night), ``access_repo_s`` (a private
repository), ``tokens_s``, ``changes_s`` (`access-changes` over the last 91 nights), each with
``--format json`` (checked: a non-empty answer); ``help_s``: `dockerhub-export --help`, the floor of
any command. ``build_s``: the year's build, when it was built (0: from the cache).

Target: each query command ≤ 1 s at 3,000 repositories × 365 nights (issue 16).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import BENCH, CLI, ORG, PY, TESTS, Code, clean_env, content_key, run_timed

CACHE = Path(tempfile.gettempdir()) / "dockerhub-export-bench"
BUILDER = BENCH / "harness" / "accessyear.py"
QUARTER = timedelta(days=90)  # --since the last night less this: 91 nights
FULL_NIGHTS, SMOKE_NIGHTS = 365, 20
# What the year's database depends on, per code: its store and the rows it is given.
PACKAGE_PARTS = (
    "store",
    "migrations",
    "access.py",
    "transform.py",
    "resources.py",
    "schema.py",
    "timestamps.py",
)
HUB_PARTS = ("hubhistory.py", "hubaccess.py", "hubdata.py", "fakehub.py", "fakehub_changes.py")
QUERIES = ("access_user_s", "access_repo_s", "tokens_s", "changes_s")


def nights(size: int) -> int:
    return FULL_NIGHTS if size >= 1_000 else SMOKE_NIGHTS


def code_key(code: Code, size: int) -> str:
    """A hash of what the year's database depends on: the code's store and access model, this tree's
    fake Hub history and builder, and the size."""
    package = code.tree / "src" / "dockerhub_export"
    files = [path for part in PACKAGE_PARTS for path in sorted((package / part).rglob("*.py"))]
    files += [TESTS / name for name in HUB_PARTS] + [BUILDER]
    return content_key(f"{size}/{nights(size)}", files)


def year(code: Code, size: int) -> dict[str, Any]:
    """The code's year of access history (built, or from the cache): its path and what the build printed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"access-year-{size}-{code_key(code, size)}"
    database, about = stem.with_suffix(".db"), stem.with_suffix(".json")
    if database.is_file() and about.is_file():
        return {**json.loads(about.read_text(encoding="utf-8")), "path": str(database), "build_s": 0.0}
    building = stem.with_suffix(f".building-{os.getpid()}.db")
    building.unlink(missing_ok=True)
    cmd = [PY, str(BUILDER), "--repos", str(size), "--nights", str(nights(size))]
    result = run_timed([*cmd, "--database-url", f"sqlite:///{building}"], env=code.env(clean_env()))
    built: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    building.replace(database)
    about.write_text(json.dumps(built), encoding="utf-8")
    return {**built, "path": str(database)}


def has_queries(code: Code) -> bool:
    """Whether the code has the access commands (a revision before them: no figures, not a failure)."""
    done = subprocess.run([CLI, "access", "--help"], env=code.env(clean_env()), capture_output=True)
    return done.returncode == 0


@contextlib.contextmanager
def history(size: int, codes: list[Code]) -> Iterator[Setup]:
    prune(size, {code_key(code, size) for code in codes})
    state = {code.label: year(code, size) if has_queries(code) else {} for code in codes}
    yield Setup(size, codes, state=state)


def prune(size: int, keep: set[str]) -> None:
    """Delete the cached years of this size built for other code (each is ~340 MB at 3,000 × 365)."""
    for path in CACHE.glob(f"access-year-{size}-*"):
        if path.name.split("-")[3].split(".")[0] not in keep:
            path.unlink(missing_ok=True)


def command(code: Code, built: dict[str, Any], *args: str) -> tuple[float, Any]:
    """One query as a whole command on the code's year: (seconds, its JSON answer)."""
    cmd = [CLI, *args, "--org", ORG, "--database-url", f"sqlite:///{built['path']}", "--format", "json"]
    result = run_timed(cmd, env=code.env(clean_env()))
    return result.seconds, json.loads(result.stdout)


def queries(setup: Setup, code: Code) -> Figures:
    help_s = run_timed([CLI, "--help"], env=code.env(clean_env())).seconds
    built = setup.state[code.label]
    if not built:
        return {"help_s": help_s} if not code.rev else {}
    last = date.fromisoformat(built["last"])
    since = max(date.fromisoformat(built["first"]), last - QUARTER)
    runs = {
        "access_user_s": ("access", "--user", built["user"]),
        "access_repo_s": ("access", "--repo", built["repository"]),
        "tokens_s": ("tokens",),
        "changes_s": ("access-changes", "--since", since.isoformat(), "--until", last.isoformat()),
    }
    figures = {"help_s": help_s, "build_s": float(built["build_s"])}
    for name, args in runs.items():
        seconds, answer = command(code, built, *args)
        listed = next((value for key, value in answer.items() if isinstance(value, list)), [])
        if not listed:
            raise AssertionError(f"{' '.join(args)} answered no rows: {str(answer)[:500]}")
        figures[name] = seconds
    return figures


ACCESS_QUERIES = scenario(
    Scenario(
        name="access-queries",
        what="access --user / --repo, tokens, access-changes over a quarter as whole commands, a year of "
        "nightly access history on SQLite (smoke: 20 nights)",
        sizes=(3_000,),
        quick=(1_000,),
        smoke=60,
        project=queries,
        setup=history,
        repeats=lambda size: 5,
        targets=tuple(
            Target(name, 1.0, at=3_000, why="issue 16: each ≤ 1 s as a whole command on SQLite")
            for name in QUERIES
        ),
    )
)
