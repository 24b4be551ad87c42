"""export-organizations from its deployment spreads its orgs over the work pool: two process workers,
five orgs, one with a wrong token. Each org is a run of export-repositories/nightly claimed by whichever
worker is free; the parent waits for all, publishes one table and fails naming exactly the bad org."""

import csv
import io
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from fakehub import FakeHub, Faults, make_repos
from prefectcli import POOL, PREFECT, ROOT, clean_env

pytestmark = pytest.mark.prefect

DAY = date(2026, 11, 25)
GOOD = {"acme": 90, "beta": 130, "gamma": 60, "epsilon": 110}  # org -> repositories
BAD = "delta"


def _token(org: str) -> str:
    return f"dckr_oat_{org}-{len(org)}7f1"


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    repos = {org: make_repos(org, n, seed=i) for i, (org, n) in enumerate(GOOD.items())}
    repos[BAD] = make_repos(BAD, 40, seed=9)
    credentials = {_token(org): (org, "all") for org in GOOD}
    with FakeHub(repos=repos, credentials=credentials, faults=Faults(latency=0.02)) as server:
        yield server


@pytest.fixture(scope="module")
def pool_run(prefect_api_url: str, hub: FakeHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Deploy as docs/operations.md says, start two limited workers, run the multi-org deployment once."""
    from prefect.client.orchestration import get_client

    home = tmp_path_factory.mktemp("prefect-home-pool")
    exports = tmp_path_factory.mktemp("pool") / "exports"
    env = clean_env(prefect_api_url, home)
    for args in (
        [PREFECT, "work-pool", "create", POOL, "--type", "process", "--overwrite"],
        [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"],
    ):
        done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    tokens = {f"DOCKERHUB_TOKEN_{org.upper()}": _token(org) for org in GOOD}
    tokens[f"DOCKERHUB_TOKEN_{BAD.upper()}"] = "dckr_oat_revoked-0000"  # the Hub rejects it
    worker_env = dict(env, DOCKERHUB_API_URL=hub.url, PREFECT_WORKER_QUERY_SECONDS="1", **tokens)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("export-organizations/nightly")
        parent = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={
                "organizations": [
                    {"org": org, "token_env": f"DOCKERHUB_TOKEN_{org.upper()}"} for org in [*GOOD, BAD]
                ],
                "output_dir": str(exports),
                "snapshot_date": DAY.isoformat(),
                "parallel": 5,
                "include_tags": False,
            },
        ).id
    workers = {
        name: subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "2"],
            env=worker_env,
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("worker-a", "worker-b")
    }
    try:
        run = _finished(parent, timeout=300)
    finally:
        logs = {name: _stopped(process) for name, process in workers.items()}
    return {"parent": run, "logs": logs, "exports": exports}


def _finished(flow_run_id: UUID, timeout: float) -> Any:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            assert time.monotonic() < deadline, f"the parent run is still {run.state}"
            time.sleep(1)


def _stopped(process: "subprocess.Popen[str]") -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def _children(parent: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id]))
        )
    return {run.parameters["org"]: run for run in runs}


def test_the_parent_fails_naming_exactly_the_org_with_the_bad_token(pool_run: dict[str, Any]) -> None:
    parent = pool_run["parent"]
    assert parent.state.is_failed(), parent.state
    message = parent.state.message or ""
    assert f"1 of {len(GOOD) + 1} organizations failed" in message, message
    assert re.findall(r"(\w+): ", message.split("): ", 1)[1])[:1] == [BAD], message
    assert "rejected the credentials" in message
    assert not any(f"{org}:" in message for org in GOOD)


def test_every_org_is_a_run_of_the_org_deployment_and_both_workers_ran_orgs(
    pool_run: dict[str, Any],
) -> None:
    children = _children(pool_run["parent"])
    assert set(children) == {*GOOD, BAD}
    assert {run.name for run in children.values()} == {f"{org}-{DAY.isoformat()}" for org in children}
    assert all(run.deployment_id for run in children.values())  # runs of export-repositories/nightly
    assert children[BAD].state.is_failed()
    assert all(children[org].state.is_completed() for org in GOOD)
    ran_by = {
        name: {UUID(found) for found in re.findall(r"submitting flow run '([0-9a-f-]{36})'", log)}
        for name, log in pool_run["logs"].items()
    }
    org_runs = {run.id for run in children.values()}
    assert all(ran_by[name] & org_runs for name in ran_by), ran_by  # both workers ran orgs


def test_every_good_orgs_csv_is_what_the_reference_script_writes(
    pool_run: dict[str, Any], hub: FakeHub
) -> None:
    exports = pool_run["exports"]
    for org in GOOD:
        reference = exports.parent / f"reference-{org}"
        reference.mkdir(exist_ok=True)
        subprocess.run(
            ["bash", str(ROOT / "tests" / "reference" / "export.sh")],
            cwd=reference,
            check=True,
            env=dict(os.environ, HUB=hub.url, ORG=org, OAT=_token(org)),
            timeout=120,
        )
        theirs = list(csv.reader(io.StringIO((reference / "repos.csv").read_text(encoding="utf-8"))))
        ours = list(csv.reader(io.StringIO((exports / org / f"repos-{DAY}.csv").read_text(encoding="utf-8"))))
        assert len(ours) == len(theirs) == GOOD[org] + 1, org
        assert sorted(row[:6] for row in ours[1:]) == sorted(theirs[1:]), org
    assert not (exports / BAD).exists() or not list((exports / BAD).glob("repos-*.csv"))


def test_the_parent_publishes_one_table_of_every_org_with_a_link_to_its_run(pool_run: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    parent = pool_run["parent"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[parent.id]))
        )
    (table,) = [artifact for artifact in artifacts if artifact.type == "table"]
    rows = {
        row["org"]: row for row in (table.data if isinstance(table.data, list) else json.loads(table.data))
    }
    children = _children(parent)
    assert set(rows) == {*GOOD, BAD}
    for org, n in GOOD.items():
        assert rows[org]["status"] == "exported" and rows[org]["repositories"] == n, rows[org]
    assert rows[BAD]["status"] == "failed" and "rejected the credentials" in rows[BAD]["reason"]
    for org, row in rows.items():
        assert str(children[org].id) in (row["run"] or ""), row
