"""Tags, whole nights (issue 10): what an incremental night asks the Hub for, and the peak RSS of a night.

`dockerhub-export run --org acme --tags --concurrency 8 --no-prefect` (in-process, default SQLite in a
new output folder per code and repetition) as a subprocess against the tags Hub (`taghub.py`):

* ``tags-nights`` — 30 tags a repository (every 10th 150, every 50th 250), 60 ms, three nights in a row:
  the first (``first_missed``: repositories whose tags it did not list), a quiet one
  (``quiet_tag_requests``), then one after k = size / 50 (at least 3) repositories changed on the Hub (a
  tag pushed, a tag deleted: only the audit log shows it, a tag pulled: the pull count moves):
  ``changed_off``, the repositories listed that did not change plus the changed ones missed. Each
  night's seconds. The Hub's changes accumulate: each repetition and code changes k repositories chosen
  anew (a new seed), and its first night, in a new folder, lists them all. Targets: the quiet night sends no
  tag request, the third exactly the k changed repositories.
* ``tags-memory`` — 100 tags a repository (150,000 tags at 1,500 repositories), 20 ms: peak RSS
  (`wait4`) of the first night and of a quiet second night, vs. the interpreter with pandas, httpx and
  SQLAlchemy imported (``imports_mib``). Target: ≤ 400 MB (381.5 MiB) at 1,500 repositories.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tagclients import TagHubProcess
from harness.tools import CLI, ORG, PY, Code, Timed, clean_env, hub_env, run_timed

CONCURRENCY = 8
NIGHT = date(2026, 12, 1)
TARGET_MIB = 400 / 1.048576  # 400 MB; ru_maxrss is in KiB


@contextlib.contextmanager
def tag_hub(size: int, codes: list[Code], *, per_repo: int, mixed: bool, latency: float) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-tag-nights-"))
    try:
        with TagHubProcess(size, per_repo, mixed=mixed, latency=latency) as process:
            process.call("warm")
            state = {"hub": process, "count": itertools.count()}
            yield Setup(size, codes, url=process.url, work=work, env=hub_env(process.url), state=state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def night(setup: Setup, code: Code, folder: Path, day: date) -> tuple[Timed, set[str]]:
    """One night into ``folder``: the command's timing and the repositories whose tags it listed."""
    process: TagHubProcess = setup.state["hub"]
    process.call("reset")
    cmd = [CLI, "run", "--org", ORG, "--tags", "--concurrency", str(CONCURRENCY), "--no-prefect"]
    cmd += ["--output-dir", str(folder), "--snapshot-date", day.isoformat()]
    result = run_timed(cmd, env=code.env(setup.env), cwd=setup.work)
    rows, _ = process.records()
    return result, {row[1] for row in rows if row[0] == "tags"}


def nights(setup: Setup, code: Code) -> Figures:
    process: TagHubProcess = setup.state["hub"]
    count = next(setup.state["count"])
    folder = setup.work / f"nights-{code.label}-{count}"
    first, listed = night(setup, code, folder, NIGHT)
    missed = setup.size - len(listed)
    quiet, quiet_listed = night(setup, code, folder, NIGHT + timedelta(days=1))
    changed = set(process.call("change", k=max(3, setup.size // 50), seed=count)["changed"])
    process.call("warm")
    third, third_listed = night(setup, code, folder, NIGHT + timedelta(days=2))
    return {
        "first_s": first.seconds,
        "quiet_s": quiet.seconds,
        "changed_s": third.seconds,
        "first_missed": missed,
        "quiet_tag_requests": len(quiet_listed),
        "changed_off": len(third_listed ^ changed),
    }


def imports(setup: Setup) -> Figures:
    result = run_timed([PY, "-c", "import pandas, httpx, sqlalchemy"], env=clean_env(), cwd=setup.work)
    return {"imports_mib": result.maxrss_mib}


def memory(setup: Setup, code: Code) -> Figures:
    folder = setup.work / f"memory-{code.label}-{next(setup.state['count'])}"
    first, listed = night(setup, code, folder, NIGHT)
    if len(listed) != setup.size:
        raise AssertionError(f"the first night listed the tags of {len(listed)} repositories of {setup.size}")
    quiet, _ = night(setup, code, folder, NIGHT + timedelta(days=1))
    return {
        "first_mib": first.maxrss_mib,
        "quiet_mib": quiet.maxrss_mib,
        "first_s": first.seconds,
        "quiet_s": quiet.seconds,
    }


TAGS_NIGHTS = scenario(
    Scenario(
        name="tags-nights",
        what="`run --tags` three nights: the first, a quiet one, one after k changes; tag requests per night",
        sizes=(1_000,),
        quick=(300,),
        smoke=10,
        project=nights,
        setup=functools.partial(tag_hub, per_repo=30, mixed=True, latency=0.06),
        targets=(
            Target("first_missed", 0, why="the first night lists every repository's tags"),
            Target("quiet_tag_requests", 0, why="issue 10: a quiet night sends no tag request"),
            Target("changed_off", 0, why="issue 10: tag requests for exactly the k changed repositories"),
        ),
    )
)
TAGS_MEMORY = scenario(
    Scenario(
        name="tags-memory",
        what="peak RSS (MiB) of `run --tags`, first and quiet second night, 100 tags a repository, 20 ms",
        sizes=(1_500,),
        quick=(500,),
        smoke=10,
        project=memory,
        baseline=imports,
        setup=functools.partial(tag_hub, per_repo=100, mixed=False, latency=0.02),
        unit="MiB, s",
        targets=(
            Target("first_mib", TARGET_MIB, at=1_500, why="issue 10: under 400 MB at 150,000 tags"),
            Target("quiet_mib", TARGET_MIB, at=1_500, why="the same, a quiet second night"),
        ),
    )
)
