"""The export flow under a real Prefect server (prefect_test_harness): states, outputs, secrets."""

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from conftest import ORG, REPO_COUNT, TOKEN

from dockerhub_export.results import RunResult

pytestmark = pytest.mark.prefect

DAY = date(2026, 11, 27)


@pytest.fixture
def flow_env(hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api_url: str):  # type: ignore[no-untyped-def]
    """The flow reads the token and the API URL from the environment, like a worker would."""
    monkeypatch.setenv("DOCKERHUB_TOKEN", TOKEN)
    monkeypatch.setenv("DOCKERHUB_API_URL", hub.url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path / "exports"


def _run(**parameters):  # type: ignore[no-untyped-def]
    from dockerhub_export.flows.export_repositories import export_repositories

    return export_repositories(return_state=True, **parameters)


def _flow_run(state):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def _polled(read, ok, tries: int):  # type: ignore[no-untyped-def]
    """``read(client)`` until ``ok`` of it, at most ``tries`` reads 0.1 s apart: the server stores what a
    run sends (logs in batches, task runs as events) a moment after the flow returned."""
    import time

    from prefect.client.orchestration import get_client

    for _ in range(tries):
        with get_client(sync_client=True) as client:
            value = read(client)
        if ok(value):
            break
        time.sleep(0.1)
    return value


def _logs(state, expect: str = "") -> str:  # type: ignore[no-untyped-def]
    """The run's logs as the server has them. Prefect ships logs in batches: flush, then poll a little."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # blocks until the queued logs reached the server
    run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
    return _polled(
        lambda client: "\n".join(log.message for log in client.read_logs(log_filter=run)),
        lambda text: bool(text) and expect in text,
        tries=50,
    )


def _task_run_names(state, expect: set[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """The run's task names as the server has them (task runs reach it as events)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    return _polled(
        lambda client: {task.name.rsplit("-", 1)[0] for task in client.read_task_runs(flow_run_filter=run)},
        lambda names: expect <= names,
        tries=100,
    )


def test_flow_writes_the_dated_csv_and_the_snapshot(flow_env: Path) -> None:
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY)
    assert state.is_completed(), state.message
    result = state.result()
    csv = flow_env / ORG / "repos-2026-11-27.csv"
    assert isinstance(result, RunResult)  # the typed result, as the flow returned it
    assert result.csv_path == csv and result.repositories == REPO_COUNT
    assert len(csv.read_text().splitlines()) >= REPO_COUNT + 1
    with sqlite3.connect(flow_env / "snapshots.db") as db:
        tables = {name for (name,) in db.execute("select name from sqlite_master where type='table'")}
        assert tables  # the store created its schema
    with sqlite3.connect(flow_env / "snapshots.db") as db:
        ((newest,),) = db.execute("select max(snapshot_date) from snapshots where namespace = ?", (ORG,))
    assert newest == DAY.isoformat()
    logs = _logs(state, expect="fetched 250 repositories")
    assert "fetched 250 repositories" in logs  # the library's own log lines reach the run logs


def test_the_night_artifact_reads_back_as_the_night_of_the_returned_result(flow_env: Path, hub) -> None:  # type: ignore[no-untyped-def]
    """What a multi-org run on a work pool reads of an org's run, whose return value it cannot see."""
    from fakehub import make_tags

    from dockerhub_export.flows.artifacts import read_night

    for repo in hub.repos[ORG][:3]:
        hub.tags[(ORG, repo["name"])] = make_tags(ORG, repo["name"], 2)
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY, include_tags=True)
    assert state.is_completed(), state.message
    result = state.result()
    night = read_night(state.state_details.flow_run_id, ORG)
    assert night == result.night() and night.tags == 6 and night.repositories == REPO_COUNT


def test_token_is_never_a_parameter_nor_logged(flow_env: Path) -> None:
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY, write_snapshots=False)
    assert state.is_completed(), state.message
    run = _flow_run(state)
    assert TOKEN not in repr(run.parameters) and TOKEN not in _logs(state)
    assert not any(TOKEN.encode() in p.read_bytes() for p in flow_env.rglob("*") if p.is_file())


def test_wrong_token_fails_the_run_with_the_reason_and_logs_it(flow_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert _run(org=ORG, output_dir=str(flow_env), snapshot_date=date(2026, 11, 26)).is_completed()
    monkeypatch.setenv("DOCKERHUB_TOKEN", "wrong-token")
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY)
    assert state.is_failed()
    assert "rejected the credentials" in (state.message or "")
    assert not (flow_env / ORG / "repos-2026-11-27.csv").exists()
    from dockerhub_export import store

    engine = store.open_engine(f"sqlite:///{flow_env / 'snapshots.db'}")
    from sqlalchemy import text

    with engine.connect() as connection:
        statuses = [row[0] for row in connection.execute(text("select status from export_runs order by id"))]
    assert statuses == ["success", "failed"]


def test_empty_org_fails_unless_allowed(flow_env: Path, hub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hub.repos[ORG] = []
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY, write_snapshots=False)
    assert state.is_failed() and "no repositories visible" in (state.message or "")
    assert not (flow_env / ORG).exists() or not any((flow_env / ORG).iterdir())
    state = _run(
        org=ORG, output_dir=str(flow_env), snapshot_date=DAY, write_snapshots=False, allow_empty=True
    )
    assert state.is_completed()
    assert (flow_env / ORG / "repos-2026-11-27.csv").read_text().count("\n") == 1


def _artifacts(state) -> dict:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {artifact.key: artifact for artifact in artifacts}


def test_every_run_publishes_its_summary(flow_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY, write_snapshots=False)
    assert state.is_completed(), state.message
    artifacts = _artifacts(state)
    assert "snapshots are off" in artifacts[f"dockerhub-export-{ORG}-summary"].data
    assert artifacts[f"dockerhub-export-{ORG}-top-movers"].type == "table"

    monkeypatch.delenv("DOCKERHUB_TOKEN")
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY)
    assert state.is_failed() and "DOCKERHUB_TOKEN is not set" in (state.message or "")
    summary = _artifacts(state)[f"dockerhub-export-{ORG}-summary"]
    assert "**failed**" in summary.data and "DOCKERHUB_TOKEN is not set" in summary.data


def test_a_night_with_tags_publishes_them_and_runs_each_stage_as_a_task(flow_env: Path, hub) -> None:  # type: ignore[no-untyped-def]
    from fakehub import make_tags

    for repo in hub.repos[ORG][:20]:
        hub.tags[(ORG, repo["name"])] = make_tags(ORG, repo["name"], 4)
    state = _run(org=ORG, output_dir=str(flow_env), snapshot_date=DAY, include_tags=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result.csv_paths[1] == flow_env / ORG / "tags-2026-11-27.csv" and result.tags.tags == 80
    artifacts = _artifacts(state)
    assert "## Tags" in artifacts[f"dockerhub-export-{ORG}-summary"].data
    assert artifacts[f"dockerhub-export-{ORG}-stale-tags"].type == "table"
    expected = {"fetch-all-pages", "fetch-tags", "transform-tags", "upsert-tags", "read-tag-inventory"}
    expected |= {"write-csv", "write-tags-csv"}  # two CSVs, two task names the graph tells apart
    assert expected <= _task_run_names(state, expected)


def test_a_command_line_run_is_tagged_and_named_after_the_org_and_the_night(
    flow_env: Path, hub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    from dockerhub_export.flows.export_repositories import run_with_settings
    from dockerhub_export.pipeline import RunOptions

    result = run_with_settings(settings_for(hub, export_dir=flow_env), RunOptions(DAY, write_snapshots=False))
    assert result.repositories == REPO_COUNT
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:  # the newest run of that name (other tests run DAY too)
        run = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"{ORG}-2026-11-27"])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )[0]
    # What the shipped automation (deployments/automations/notify-on-failure.yaml) matches.
    assert "dockerhub-export" in run.tags


def test_a_run_without_org_or_day_is_named_from_the_environment_and_today(
    flow_env: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    monkeypatch.setenv("DOCKERHUB_ORG", ORG)
    state = _run(output_dir=str(flow_env), write_snapshots=False)
    assert state.is_completed(), state.message
    assert _flow_run(state).name == f"{ORG}-{datetime.now(UTC).date().isoformat()}"
