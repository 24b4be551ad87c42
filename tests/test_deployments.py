"""deployments/ as users run it: `prefect deploy` to a process pool on a real Prefect server, runs made
the three ways users make them, executed by a worker started outside the clone, read back through the
Prefect client (states, artifacts) and from disk (the dated CSVs)."""

import copy
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from conftest import ORG, REPO_COUNT, TOKEN
from fakehub import FakeHub, make_repos
from prefectcli import POOL, PREFECT, ROOT, clean_env

pytestmark = pytest.mark.prefect

NIGHTLY = "export-repositories/nightly"
DAY1, DAY2 = date(2026, 11, 26), date(2026, 11, 27)
GROWTH = {100: 900_000, 104: 500_000, 108: 70_000}  # repository index -> pulls gained since DAY1
WRONG_BLOCK = "dockerhub-token-wrong"


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120, stdin: str | None = None
) -> str:
    result = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    repos = {ORG: make_repos(ORG, REPO_COUNT, seed=7)}
    with FakeHub(repos=repos, credentials={TOKEN: (ORG, "all")}) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pool and the deployments, made with the commands docs/operations.md gives."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = clean_env(prefect_api_url, home)
    _run([PREFECT, "work-pool", "create", POOL, "--type", "process", "--overwrite"], env, home)
    deploy = [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"]
    out = _run(deploy, env, ROOT)
    assert out.count("successfully created") == 2, out
    return {"env": env, "home": home}


def _deployment(name: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(name)


def test_nightly_is_a_cron_with_a_timezone_on_the_process_pool(deployed: dict[str, Any]) -> None:
    deployment = _deployment(NIGHTLY)
    assert deployment.work_pool_name == POOL
    # A module of the installed package: the worker needs no clone, and no pull step fetches code.
    assert deployment.entrypoint == "dockerhub_export.flows.export_repositories.export_repositories"
    assert not deployment.pull_steps
    assert deployment.enforce_parameter_schema
    (schedule,) = deployment.schedules
    assert schedule.active
    assert schedule.schedule.cron == "0 2 * * *"
    assert schedule.schedule.timezone  # explicit, never the implicit UTC of serve(cron=...)
    many = _deployment("export-organizations/nightly")
    assert many.work_pool_name == POOL and not many.schedules[0].active  # on once the orgs are filled in


def _secret_typed(spec: Any) -> bool:
    if isinstance(spec, dict):
        if spec.get("format") == "password" or spec.get("writeOnly"):
            return True
        return any(_secret_typed(value) for value in spec.values())
    if isinstance(spec, list):
        return any(_secret_typed(value) for value in spec)
    return False


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from schema.get("properties", {}).items()
    for definition in schema.get("definitions", {}).values():
        yield from definition.get("properties", {}).items()


@pytest.mark.parametrize("name", [NIGHTLY, "export-organizations/nightly"])
def test_the_run_form_asks_for_no_secret(deployed: dict[str, Any], name: str) -> None:
    deployment = _deployment(name)
    schema = deployment.parameter_openapi_schema
    fields = dict(_properties(schema))
    assert fields
    for field, spec in fields.items():
        assert not _secret_typed(spec), field  # no SecretStr: its value would still be stored in plaintext
        assert spec.get("description"), f"{name}: parameter {field} has no description for the form"
        if re.search(r"token|secret|password|url", field):
            # Only ever the *name* of a Secret block or of an environment variable.
            assert field.endswith(("_block", "_env")), field
            assert "Name (not value)" in spec["description"], field
    for value in deployment.parameters.values():
        assert not re.search(r"://[^/\s]*@|dckr_(pat|oat)_", repr(value))


def _seed_day1(hub: FakeHub, exports: Path) -> list[dict[str, Any]]:
    """The DAY1 snapshot in ``exports``, then growth on the Hub: the DAY2 run has movers to report."""
    from dockerhub_export import store, transform
    from dockerhub_export.resources import REPOSITORIES

    before = copy.deepcopy(hub.repos[ORG])
    for index, gained in GROWTH.items():
        hub.repos[ORG][index]["pull_count"] = (before[index]["pull_count"] or 0) + gained
    engine = store.open_engine(f"sqlite:///{exports / 'snapshots.db'}")
    store.upsert_snapshot(engine, ORG, DAY1, transform.to_frame(before, REPOSITORIES.schema, ORG))
    engine.dispose()
    return before


def _make_runs(env: dict[str, str], exports: Path, anywhere: Path) -> dict[str, UUID]:
    """The three runs, made the ways users make them (see `worker_runs`)."""
    from prefect.client.orchestration import get_client

    # The Secret block the way docs/operations.md creates one: the value on stdin, never in argv.
    secret_block = [sys.executable, str(ROOT / "deployments" / "secret_block.py"), WRONG_BLOCK, "--overwrite"]
    _run(secret_block, env, anywhere, stdin="dckr-not-a-valid-token\n")
    params = [f"org={ORG}", f"output_dir={exports}", f"snapshot_date={DAY2.isoformat()}"]
    command = [
        PREFECT,
        "deployment",
        "run",
        NIGHTLY,
        *(arg for param in params for arg in ("--param", param)),
    ]
    out = _run(command, env, anywhere)
    custom = UUID(re.search(r"UUID: ([0-9a-f-]{36})", out).group(1))  # type: ignore[union-attr]
    deployment = _deployment(NIGHTLY)
    wrong_parameters = {
        "org": ORG,
        "output_dir": str(exports),
        "snapshot_date": DAY2.isoformat(),
        "token_block": WRONG_BLOCK,
    }
    with get_client(sync_client=True) as client:
        wrong = client.create_flow_run_from_deployment(deployment.id, parameters=wrong_parameters).id
        default = client.create_flow_run_from_deployment(deployment.id).id
    return {"custom": custom, "wrong": wrong, "default": default}


@pytest.fixture(scope="module")
def worker_runs(
    deployed: dict[str, Any], hub: FakeHub, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Three runs of nightly, made like users make them, then one pass of a worker started elsewhere.

    - custom: `prefect deployment run --param ...` (what the UI's custom run does too), into a folder
      that already holds the DAY1 snapshot, so the run has movers to report;
    - wrong: a custom run whose token_block names a Secret block holding a rejected token;
    - default: no parameters at all, like the schedule's runs: org, output folder and day come from
      the worker's environment and the run's scheduled time.
    """
    from prefect.client.orchestration import get_client

    env = deployed["env"]
    exports = tmp_path_factory.mktemp("custom") / "exports"
    env_exports = tmp_path_factory.mktemp("default") / "exports"
    anywhere = tmp_path_factory.mktemp("anywhere")
    before = _seed_day1(hub, exports)
    made = _make_runs(env, exports, anywhere)
    worker_env = dict(
        env, DOCKERHUB_TOKEN=TOKEN, DOCKERHUB_API_URL=hub.url, DOCKERHUB_ORG=ORG, EXPORT_DIR=str(env_exports)
    )
    log = _run([PREFECT, "worker", "start", "--pool", POOL, "--run-once"], worker_env, anywhere, timeout=240)
    with get_client(sync_client=True) as client:
        runs = {name: client.read_flow_run(run_id) for name, run_id in made.items()}
    return {
        "runs": runs,
        "exports": exports,
        "env_exports": env_exports,
        "log": log,
        "anywhere": anywhere,
        "before": before,
    }


def _artifacts(flow_run_id: UUID) -> dict[str | None, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in artifacts}


def test_custom_run_writes_the_dated_csv_and_the_artifacts(worker_runs: dict[str, Any]) -> None:
    run = worker_runs["runs"]["custom"]
    assert run.state.is_completed(), (run.state.message, worker_runs["log"][-3000:])
    assert run.parameters["org"] == ORG and run.parameters["snapshot_date"] == DAY2.isoformat()
    assert TOKEN not in repr(run.parameters)
    csv = worker_runs["exports"] / ORG / f"repos-{DAY2.isoformat()}.csv"
    assert len(csv.read_text().splitlines()) >= REPO_COUNT + 1
    assert not list(worker_runs["anywhere"].rglob("*.csv"))  # nothing landed where the worker started

    artifacts = _artifacts(run.id)
    summary = artifacts[f"dockerhub-export-{ORG}-summary"]
    assert summary.type == "markdown"
    for fragment in (
        f"# {ORG}: {DAY2.isoformat()}",
        f"{REPO_COUNT} (",
        "private)",
        f"since {DAY1.isoformat()}",
        str(csv),
        "Duration",
        "Retries",
        "Rate-limit waits",
    ):
        assert fragment in summary.data, fragment
    table = artifacts[f"dockerhub-export-{ORG}-top-movers"]
    assert table.type == "table"
    rows = table.data if isinstance(table.data, list) else json.loads(table.data)
    biggest = worker_runs["before"][max(GROWTH, key=GROWTH.get)]["name"]
    assert rows and biggest in rows[0].values(), rows[:3]
    assert biggest in summary.data


def test_a_failing_run_is_failed_with_the_reason(worker_runs: dict[str, Any]) -> None:
    run = worker_runs["runs"]["wrong"]
    assert run.state.is_failed(), run.state
    assert "rejected the credentials" in (run.state.message or "")
    assert len((run.state.message or "").splitlines()) == 1
    assert run.parameters["token_block"] == WRONG_BLOCK
    assert "dckr-not-a-valid-token" not in repr(run.parameters)
    summary = _artifacts(run.id)[f"dockerhub-export-{ORG}-summary"]
    assert "**failed**" in summary.data and "rejected the credentials" in summary.data
    # ... and the snapshot store's run log has it too.
    from sqlalchemy import text

    from dockerhub_export import store

    engine = store.open_engine(f"sqlite:///{worker_runs['exports'] / 'snapshots.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text("select status, error from export_runs order by id")).all()
    engine.dispose()
    assert ("failed" in [status for status, _ in rows]) and any(
        "rejected the credentials" in (error or "") for _, error in rows
    )


def test_a_run_without_parameters_takes_the_worker_environment_like_the_schedule(
    worker_runs: dict[str, Any],
) -> None:
    run = worker_runs["runs"]["default"]
    assert run.state.is_completed(), run.state.message
    assert run.parameters["org"] is None and run.parameters["output_dir"] is None  # the deployment's defaults
    scheduled = run.expected_start_time.astimezone(UTC).date()  # the day the flow files it under
    assert (worker_runs["env_exports"] / ORG / f"repos-{scheduled.isoformat()}.csv").is_file()


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed from its wheel (not editable, no clone on any path).

    Its dependencies come from this test venv through a .pth line, which adds this venv's
    site-packages as a plain path: the editable install that lives there (a .pth file of its own) is
    not processed, so `dockerhub_export` can only be the wheel's.
    """
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("dockerhub_export-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert "dockerhub_export/flows/export_repositories.py" in archive.namelist()
    assert tops <= {"dockerhub_export", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, (
        tops
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = next(path for path in sys.path if path.endswith("site-packages"))
    (Path(purelib) / "_test_dependencies.pth").write_text(ours + "\n")
    where = subprocess.run(
        [str(python), "-c", "import dockerhub_export; print(dockerhub_export.__file__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(purelib), where
    return python


def test_a_worker_with_only_the_wheel_runs_a_custom_run_from_an_empty_folder(
    deployed: dict[str, Any], hub: FakeHub, wheel_python: Path, tmp_path: Path
) -> None:
    """No clone, no variable naming one: the deployment's module entrypoint is imported from the wheel.
    The run's CSV holds exactly what the reference doc's script writes."""
    from prefect.client.orchestration import get_client

    exports, empty = tmp_path / "exports", tmp_path / "empty"
    empty.mkdir()
    with get_client(sync_client=True) as client:
        run_id = client.create_flow_run_from_deployment(
            _deployment(NIGHTLY).id,
            parameters={"org": ORG, "output_dir": str(exports), "snapshot_date": "2026-11-28"},
        ).id
    env = dict(deployed["env"], DOCKERHUB_TOKEN=TOKEN, DOCKERHUB_API_URL=hub.url)
    log = _run(
        [str(wheel_python), "-m", "prefect", "worker", "start", "--pool", POOL, "--run-once"],
        env,
        empty,
        timeout=240,
    )
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    assert run.state is not None and run.state.is_completed(), (run.state, log[-3000:])
    assert list(empty.iterdir()) == []  # nothing landed where the worker started

    reference = tmp_path / "reference"
    reference.mkdir()
    subprocess.run(
        ["bash", str(ROOT / "tests" / "reference" / "export.sh")],
        cwd=reference,
        check=True,
        env=dict(os.environ, HUB=hub.url, ORG=ORG, OAT=TOKEN),
        timeout=120,
    )
    theirs = list(csv.reader(io.StringIO((reference / "repos.csv").read_text(encoding="utf-8"))))
    ours = list(csv.reader(io.StringIO((exports / ORG / "repos-2026-11-28.csv").read_text(encoding="utf-8"))))
    assert len(ours) == len(theirs) == REPO_COUNT + 1
    assert ours[0][:6] == theirs[0]
    assert sorted(row[:6] for row in ours[1:]) == sorted(theirs[1:])  # the script keeps the Hub's order


def test_a_relative_output_folder_in_the_workers_temporary_folder_is_refused(tmp_path: Path) -> None:
    from dockerhub_export.errors import ConfigError
    from dockerhub_export.flows import runtime

    doomed = Path(tempfile.gettempdir()) / "tmpab12cdprefect"
    with pytest.raises(ConfigError, match="EXPORT_DIR to an absolute folder"):
        runtime._refuse_a_vanishing_output_dir(Path("exports"), doomed)
    runtime._refuse_a_vanishing_output_dir(Path("exports"), tmp_path)  # a folder that stays: fine
    runtime._refuse_a_vanishing_output_dir(tmp_path / "exports", doomed)  # absolute: fine


def test_serve_registers_the_same_schedules_as_the_yaml() -> None:
    """deployments/serve.py reads prefect.yaml: same names, crons, timezones, defaults (no server needed)."""
    sys.path.insert(0, str(ROOT / "deployments"))
    try:
        import serve
    finally:
        sys.path.remove(str(ROOT / "deployments"))

    served = {f"{d.flow_name}/{d.name}": d for d in serve.runner_deployments()}
    specs = serve.deployment_specs()
    assert set(served) == {NIGHTLY, "export-organizations/nightly"} and len(specs) == 2
    for spec, deployment in zip(specs, served.values(), strict=True):
        (wanted,) = spec["schedules"]
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
            wanted["cron"],
            wanted["timezone"],
            wanted["active"],
        )
        assert deployment.parameters == spec["parameters"] and deployment.work_pool_name is None


def test_serve_refuses_to_shadow_the_worker_deployments(deployed: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deployments" / "serve.py")],
        env=deployed["env"],
        cwd=deployed["home"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"prefect deployment delete {NIGHTLY}" in result.stderr
