"""Memory: peak RSS of an export at 100,000 repositories, the whole command and the library path.

One fake Hub (own process, 20 ms per request: memory does not depend on latency). Each measurement is
its own process, its peak RSS read from `wait4`'s ru_maxrss (that process and its waited-for children):

* scenario ``memory`` — ``in_process_mib``: `dockerhub-export run --no-db` with no Prefect server
  configured (an empty PREFECT_HOME: the README's first command, in-process, no Prefect);
  ``library_mib``: the library path alone in a bare interpreter (`worker.py library`: session,
  `fetch_all_pages`, `from_columns` consuming the listing, `write_csv`). Baselines: the interpreter with
  the heavy imports only (``imports_mib``: the floor of any CLI run) and the raw listing (``raw_mib``:
  every page's JSON decoded into one list of dicts, httpx + json only);
* scenario ``memory-flow`` — ``flow_mib`` and ``flow_s``: the same command as a flow run against a
  running `prefect server start` (each code's first run registers the flow: a warm-up).

Target: the whole command under 400 MB (= 381.5 MiB) at 100,000 repositories.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import CLI, ORG, PY, TOKEN, Code, HubProcess, Timed, hub_env, prefect_server, run_timed

LATENCY = 0.02
TARGET_MIB = 400 / 1.048576  # 400 MB; ru_maxrss is in KiB
IMPORTS = "import prefect, pandas, httpx, sqlalchemy"
RAW = """
import sys, httpx, json
url, org, token = sys.argv[1], sys.argv[2], sys.argv[3]
with httpx.Client(timeout=30) as client:
    jwt = client.post(url + "/v2/users/login", json={"username": org, "password": token}).json()["token"]
    items = []
    nxt = f"{url}/v2/namespaces/{org}/repositories?page_size=100"
    while nxt:
        body = json.loads(client.get(nxt, headers={"Authorization": "Bearer " + jwt}).content)
        items.extend(body["results"])
        nxt = body.get("next")
print(len(items))
"""


@contextlib.contextmanager
def hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        with HubProcess(repos=size, latency=LATENCY) as process:
            yield Setup(size, codes, url=process.url, work=work, state={"count": itertools.count()})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def baseline(setup: Setup) -> Figures:
    env = hub_env(setup.url)
    imports = run_timed([PY, "-c", IMPORTS], env=env, cwd=setup.work)
    listing = run_timed([PY, "-c", RAW, setup.url, ORG, TOKEN], env=env, cwd=setup.work)
    assert listing.stdout.strip() == str(setup.size), listing.stdout
    return {"imports_mib": imports.maxrss_mib, "raw_mib": listing.maxrss_mib}


def run_no_db(setup: Setup, code: Code, env: dict[str, str], name: str) -> Timed:
    folder = setup.work / f"{name}-{code.label}-{next(setup.state['count'])}"
    return run_timed([CLI, "run", "--no-db", "--output-dir", str(folder)], env=code.env(env), cwd=setup.work)


def in_process(setup: Setup, code: Code) -> Figures:
    home = setup.work / f"prefect-home-{code.label}-{next(setup.state['count'])}"  # empty: no server
    home.mkdir()
    result = run_no_db(setup, code, hub_env(setup.url, PREFECT_HOME=str(home)), "inproc")
    if not code.rev and "running in-process" not in result.stderr:
        raise AssertionError(f"the run did not run in-process:\n{result.stderr[-2000:]}")
    folder = setup.work / f"lib-{code.label}-{next(setup.state['count'])}"
    answer = code.worker("library", setup.url, ORG, TOKEN, folder)
    assert answer["count"] == setup.size, answer
    return {"in_process_mib": result.maxrss_mib, "library_mib": float(answer["maxrss_mib"])}


@contextlib.contextmanager
def with_server(size: int, codes: list[Code]) -> Iterator[Setup]:
    with hub(size, codes) as setup, prefect_server() as prefect:
        setup.env = hub_env(setup.url, **prefect)
        for code in codes:  # the first flow run on a fresh server registers the flow
            run_no_db(setup, code, setup.env, "warm")
        yield setup


def flow_run(setup: Setup, code: Code) -> Figures:
    result = run_no_db(setup, code, setup.env, "flow")
    return {"flow_mib": result.maxrss_mib, "flow_s": result.seconds}


MEMORY = scenario(
    Scenario(
        name="memory",
        what="peak RSS of `run --no-db` in-process (no server configured) and of the library path",
        sizes=(100_000,),
        quick=(20_000,),
        smoke=500,
        project=in_process,
        baseline=baseline,
        setup=hub,
        repeats=lambda size: 2 if size >= 100_000 else 1,
        unit="MiB",
        targets=(Target("in_process_mib", TARGET_MIB, at=100_000, why="issue 2: under 400 MB"),),
    )
)
MEMORY_FLOW = scenario(
    Scenario(
        name="memory-flow",
        what="peak RSS and time of `run --no-db` as a flow run (server running)",
        sizes=(100_000,),
        quick=(20_000,),
        smoke=500,
        project=flow_run,
        setup=with_server,
        repeats=lambda size: 2 if size >= 100_000 else 1,
        unit="MiB, s",
        targets=(Target("flow_mib", TARGET_MIB, at=100_000, why="issue 2: under 400 MB"),),
        smoke_skip="its Prefect server alone takes 15-40 s to start here, over the smoke's minute",
    )
)
