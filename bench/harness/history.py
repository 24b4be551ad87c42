"""A year of history: `backfill` of daily CSVs, then `trends` over the year and `history` of one repository.

The year: `historydata.generated` (365 daily CSVs × 10,000 repositories = 3.65 M rows; the size is the
rows). All whole commands, each code on its own database:

* ``backfill`` — ``backfill_s``: `dockerhub-export backfill --org acme --database-url URL DIR` into a
  new database, vs. the raw loader ``raw_s`` (its own process: `csv.reader` + `sqlite3.executemany`,
  one transaction a day, into the store's schema) and ``floor_s``, the time at 100,000 rows/s;
* ``history`` — each code's database backfilled in the setup (and the raw loader's); per repetition
  ``trends_s``: `trends --format json` (first day vs. last), ``history_s``: `history --repo NAME
  --format json` of a repository present every day, vs. the same query in raw SQL in a bare
  ``python -c`` (``raw_trends_s``, ``raw_history_s``). The current code's JSON is checked against the
  generator's truth, REV's must equal it; ``*_imports_prefect``: whether the commands import Prefect.

``backfill-pg`` and ``history-pg``: the same on PostgreSQL (`databases`; the raw loader COPYs; the raw
database is ANALYZEd, the project's as its backfill leaves it). Targets on SQLite: backfill ≥ 100,000
rows/s at 3.65 M rows, `trends` ≤ 3 s, `history` ≤ 1.5 s, no Prefect.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness import databases
from harness.core import Figures, Scenario, Setup, SetupFactory, Target, scenario
from harness.historydata import (
    ORG,
    RAW_POSTGRES_LOAD,
    RAW_QUERY,
    RAW_SQLITE_LOAD,
    SHAPES,
    TRENDS_SQL,
    check_history,
    check_trends,
    generated,
)
from harness.startup import imports_prefect
from harness.tools import CLI, PY, Code, Timed, clean_env, run_timed

FULL, QUICK, SMOKE = sorted(SHAPES, reverse=True)
TIMEOUT = 1800.0


@contextlib.contextmanager
def backend(size: int, codes: list[Code], postgres: bool) -> Iterator[Setup]:
    """The CSVs of this size, a work folder; ``state["db"](name)``: a new empty database's URL."""
    folder, truth = generated(size)
    work = Path(tempfile.mkdtemp(prefix="bench-history-"))

    def fresh(name: str) -> str:
        if postgres:
            return databases.fresh_postgres(f"dhe_bench_history_{name}")
        return databases.fresh_sqlite(work / f"{name}.db")

    names = [f"dhe_bench_history_{name}" for name in ("raw", *map(str, range(len(codes))))]
    try:
        with databases.dropped_after(*names) if postgres else contextlib.nullcontext():
            yield Setup(size, codes, work=work, state={"folder": folder, "truth": truth, "db": fresh})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def on(postgres: bool) -> SetupFactory:
    def setup(size: int, codes: list[Code]) -> contextlib.AbstractContextManager[Setup]:
        return backend(size, codes, postgres)

    return setup


def raw_load(setup: Setup) -> tuple[str, str, Timed]:
    """A new raw database in the store's schema, loaded by the raw loader: its driver, URL, timing."""
    url = setup.state["db"]("raw")
    databases.store_schema(url)
    if url.startswith("sqlite"):
        driver, target, script = "sqlite", url.removeprefix("sqlite:///"), RAW_SQLITE_LOAD
    else:
        driver, target, script = "postgres", databases.dsn(url), RAW_POSTGRES_LOAD
    cmd = [PY, "-c", script, target, ORG, str(setup.state["folder"])]
    result = run_timed(cmd, env=clean_env(), timeout=TIMEOUT)
    if result.stdout.strip() != str(setup.state["truth"].rows):
        raise AssertionError(
            f"the raw loader loaded {result.stdout.strip()} rows, not {setup.state['truth'].rows}"
        )
    return driver, target, result


def backfill(setup: Setup, code: Code, url: str) -> Timed:
    cmd = [CLI, "backfill", "--org", ORG, "--database-url", url, str(setup.state["folder"])]
    return run_timed(cmd, env=code.env(clean_env()), cwd=setup.work, timeout=TIMEOUT)


# -- backfill ----------------------------------------------------------------------------------------


def backfill_baseline(setup: Setup) -> Figures:
    _, _, result = raw_load(setup)
    return {"raw_s": result.seconds, "floor_s": setup.state["truth"].rows / 100_000}


def backfill_project(setup: Setup, code: Code) -> Figures:
    url = setup.state["db"](str(setup.codes.index(code)))
    return {"backfill_s": backfill(setup, code, url).seconds}


# -- trends and history --------------------------------------------------------------------------------


def commands(url: str, repository: str) -> dict[str, list[str]]:
    """The query commands on the database at ``url``, as a user runs them (JSON to stdout)."""
    return {
        "trends": ["trends", "--org", ORG, "--database-url", url, "--format", "json"],
        "history": ["history", "--org", ORG, "--repo", repository, "--database-url", url, "--format", "json"],
    }


def queried(postgres: bool) -> SetupFactory:
    """Each code's database backfilled, the raw loader's too (ANALYZEd on PostgreSQL); warm-ups."""

    @contextlib.contextmanager
    def setup(size: int, codes: list[Code]) -> Iterator[Setup]:
        with backend(size, codes, postgres) as ready:
            driver, target, _ = raw_load(ready)
            if postgres:
                databases.analyze(target)
            repository = sorted(ready.state["truth"].tracked)[1]
            ready.state["raw"] = {
                kind: [PY, "-c", RAW_QUERY, kind, driver, target, ORG, arg]
                for kind, arg in (("trends", TRENDS_SQL), ("history", repository))
            }
            ready.state["commands"] = {}
            for index, code in enumerate(codes):
                url = ready.state["db"](str(index))
                backfill(ready, code, url)
                ready.state["commands"][code.label] = commands(url, repository)
            warm_up(ready)
            yield ready

    return setup


def warm_up(setup: Setup) -> None:
    """Each command once (the page cache), the current code's under ``-X importtime``: its Prefect imports."""
    for command in setup.state["raw"].values():
        run_timed(command, env=clean_env())
    for code in setup.codes:
        for kind, args in setup.state["commands"][code.label].items():
            if code.rev:
                run_timed([CLI, *args], env=code.env(clean_env()))
            else:
                setup.state[f"{kind}_imports_prefect"] = imports_prefect(code, args)


def query_baseline(setup: Setup) -> Figures:
    return {
        f"raw_{kind}_s": run_timed(cmd, env=clean_env()).seconds for kind, cmd in setup.state["raw"].items()
    }


def query_project(setup: Setup, code: Code) -> Figures:
    """Both commands; the current code's JSON against the truth, REV's against the current code's."""
    figures: Figures = {}
    for kind, args in setup.state["commands"][code.label].items():
        result = run_timed([CLI, *args], env=code.env(clean_env()))
        figures[f"{kind}_s"] = result.seconds
        answer = json.loads(result.stdout)
        if code.rev:
            if answer != setup.state[f"{kind}_answer"]:
                raise AssertionError(f"`{kind}` on {code.label} differs from the current code's")
            continue
        setup.state[f"{kind}_answer"] = answer
        if kind == "trends":
            check_trends(answer, setup.state["truth"])
        else:
            check_history(answer, args[args.index("--repo") + 1], setup.state["truth"])
        figures[f"{kind}_imports_prefect"] = setup.state[f"{kind}_imports_prefect"]
    return figures


def register(postgres: bool) -> None:
    on_what, suffix = ("PostgreSQL", "-pg") if postgres else ("SQLite", "")
    smoke_skip = databases.NO_POSTGRES_IN_SMOKE if postgres else ""
    target = Target("backfill_s", 1, over="floor_s", at=FULL, why="≥ 100,000 rows/s")
    scenario(
        Scenario(
            name=f"backfill{suffix}",
            what=f"`backfill` of a year of daily CSVs (size: rows) vs. a raw loader, {on_what}",
            sizes=(FULL,),
            quick=(QUICK,),
            smoke=SMOKE,
            project=backfill_project,
            baseline=backfill_baseline,
            setup=on(postgres),
            repeats=lambda size: 2 if size == FULL else 1,
            targets=() if postgres else (target,),
            smoke_skip=smoke_skip,
        )
    )
    scenario(
        Scenario(
            name=f"history{suffix}",
            what=f"`trends` over a year and `history` of one repository (size: rows) vs. raw SQL, {on_what}",
            sizes=(FULL,),
            quick=(QUICK,),
            smoke=SMOKE,
            project=query_project,
            baseline=query_baseline,
            setup=queried(postgres),
            repeats=lambda size: 5 if size == FULL else 3,
            targets=() if postgres else QUERY_TARGETS,
            smoke_skip=smoke_skip,
        )
    )


QUERY_TARGETS = (
    Target("trends_s", 3, why="a whole year's trends as a whole command"),
    Target("history_s", 1.5, why="one repository's year as a whole command"),
    Target("trends_imports_prefect", 0, why="no Prefect in the query commands"),
    Target("history_imports_prefect", 0, why="no Prefect in the query commands"),
)
register(postgres=False)
register(postgres=True)
