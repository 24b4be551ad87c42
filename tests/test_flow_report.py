"""The report in the flows, under a real Prefect server (prefect_test_harness): ``report`` is a parameter of
both flows, export-repositories writes the page as its own task and its summary names the page, and
export-organizations passes the option to each org."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import ORG, TOKEN
from fakehub import FakeHub, make_repos

pytestmark = pytest.mark.prefect

DAY = date(2026, 11, 27)
BETA, BETA_TOKEN = "beta", "dckr_oat_beta-2222"


@pytest.fixture
def two_orgs() -> Iterator[FakeHub]:
    repos = {ORG: make_repos(ORG, 60, seed=1), BETA: make_repos(BETA, 40, seed=2)}
    with FakeHub(repos=repos, credentials={TOKEN: (ORG, "all"), BETA_TOKEN: (BETA, "all")}) as server:
        yield server


@pytest.fixture
def out(two_orgs: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api_url: str) -> Path:
    monkeypatch.setenv("DOCKERHUB_API_URL", two_orgs.url)
    monkeypatch.setenv("DOCKERHUB_TOKEN", TOKEN)
    monkeypatch.setenv("DOCKERHUB_TOKEN_BETA", BETA_TOKEN)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path / "exports"


def test_report_is_a_parameter_of_both_flows_off_by_default() -> None:
    from dockerhub_export.flows.export_organizations import export_organizations
    from dockerhub_export.flows.export_repositories import export_repositories

    for flow in (export_repositories, export_organizations):
        spec = flow.parameters.model_dump()["properties"]["report"]
        assert (spec["type"], spec["default"]) == ("boolean", False), flow.name
        assert "report-<date>.html" in spec["description"]


def _task_names(run_id: object, expected: str, tries: int = 100) -> set[str]:
    """The run's task names as the server has them, polled: task runs reach it as events, a moment after
    the flow returned."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    names: set[str] = set()
    for _ in range(tries):
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        names = {task.name.rsplit("-", 1)[0] for task in runs}
        if expected in names:
            break
        time.sleep(0.1)
    return names


def test_the_flow_writes_the_page_as_a_task_and_its_summary_names_it(out: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from dockerhub_export.flows.export_repositories import export_repositories

    state = export_repositories(
        org=ORG, output_dir=str(out), snapshot_date=DAY, report=True, return_state=True
    )
    assert state.is_completed(), state.message
    page = out / ORG / "report-2026-11-27.html"
    assert state.result().report_path == page and page.is_file()
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    (summary,) = [a.data for a in artifacts if a.key == f"dockerhub-export-{ORG}-summary"]
    assert [line for line in summary.splitlines() if str(page) in line] == [f"| Report | `{page}` |"]
    assert "write-report" in _task_names(run_id, "write-report")


def test_export_organizations_passes_report_to_each_org(out: Path) -> None:
    from dockerhub_export.flows.export_organizations import export_organizations

    state = export_organizations(
        organizations=[{"org": ORG}, {"org": BETA, "token_env": "DOCKERHUB_TOKEN_BETA"}],
        output_dir=str(out),
        snapshot_date=DAY,
        report=True,
        return_state=True,
    )
    assert state.is_completed(), state.message
    for org in (ORG, BETA):
        assert (out / org / "report-2026-11-27.html").is_file(), org
    without = export_organizations(
        organizations=[{"org": ORG}],
        output_dir=str(out),
        snapshot_date=date(2026, 11, 28),
        return_state=True,
    )
    assert without.is_completed(), without.message
    assert not (out / ORG / "report-2026-11-28.html").exists()  # off unless asked
