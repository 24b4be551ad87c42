"""export-organizations under a real Prefect server: per-org tokens, bounded parallel subflows, one
org's failure reported after every org has finished, never hiding the others' results."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fakehub import FakeHub, Faults, make_repos

pytestmark = pytest.mark.prefect

DAY = date(2026, 11, 27)
TOKENS = {"acme": "dckr_oat_acme-1111", "beta": "dckr_oat_beta-2222", "gamma": "dckr_oat_gamma-3333"}


@pytest.fixture
def orgs_hub() -> Iterator[FakeHub]:
    repos = {org: make_repos(org, 120 + 10 * i, seed=i) for i, org in enumerate(TOKENS)}
    # A little latency so the parallel orgs really overlap.
    with FakeHub(
        repos=repos, credentials={t: (org, "all") for org, t in TOKENS.items()}, faults=Faults(latency=0.05)
    ) as server:
        yield server


@pytest.fixture
def many_env(
    orgs_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api_url: str
) -> Path:
    monkeypatch.setenv("DOCKERHUB_API_URL", orgs_hub.url)
    monkeypatch.setenv("DOCKERHUB_TOKEN", TOKENS["acme"])  # the default token source
    monkeypatch.setenv("DOCKERHUB_TOKEN_BETA", TOKENS["beta"])
    monkeypatch.chdir(tmp_path)
    return tmp_path / "exports"


def _children(state) -> list:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )


def test_every_org_is_exported_and_the_failed_one_is_named(many_env: Path) -> None:
    from prefect.blocks.system import Secret

    from dockerhub_export.flows.export_organizations import export_organizations

    Secret(value="dckr_oat_revoked-0000").save("dockerhub-token-gamma", overwrite=True)  # rejected by the Hub
    state = export_organizations(
        organizations=[
            {"org": "acme"},
            {"org": "beta", "token_env": "DOCKERHUB_TOKEN_BETA"},
            {"org": "gamma", "token_block": "dockerhub-token-gamma"},
        ],
        output_dir=str(many_env),
        snapshot_date=DAY,
        parallel=2,
        return_state=True,
    )
    assert state.is_failed()
    message = state.message or ""
    assert "1 of 3 organizations failed" in message and "gamma: " in message
    assert "rejected the credentials" in message
    assert "acme:" not in message and "beta:" not in message
    for org in ("acme", "beta"):  # the others' results are all there
        assert (many_env / org / f"repos-{DAY.isoformat()}.csv").is_file()
    assert not (many_env / "gamma" / f"repos-{DAY.isoformat()}.csv").exists()

    children = {run.name: run for run in _children(state)}
    assert set(children) == {f"{org}-{DAY.isoformat()}" for org in TOKENS}  # subflows of this run
    assert children[f"gamma-{DAY.isoformat()}"].state.is_failed()
    assert all(children[f"{org}-{DAY.isoformat()}"].state.is_completed() for org in ("acme", "beta"))
    for run in children.values():
        assert not any(token in repr(run.parameters) for token in TOKENS.values())

    from prefect.artifacts import Artifact

    summary = Artifact.get("dockerhub-export--organizations-summary")
    assert summary is not None and "2 exported, 1 failed" in str(summary.data)
    assert Artifact.get("dockerhub-export-beta-summary") is not None  # each org keeps its own history

    from sqlalchemy import text

    from dockerhub_export import store

    engine = store.open_engine(f"sqlite:///{many_env / 'snapshots.db'}")
    with engine.connect() as connection:
        statuses = dict(connection.execute(text("select namespace, status from export_runs")).all())
    engine.dispose()
    assert statuses == {"acme": "success", "beta": "success", "gamma": "failed"}


@pytest.mark.parametrize(
    ("organizations", "fragment"),
    [
        ([], "no organizations given"),
        ([{"org": "acme"}, {"org": "acme"}], "listed twice"),
        ([{"org": "acme", "token_block": "b", "token_env": "E"}], "not both"),
        ([{"org": "Not An Org"}], "invalid organization name"),
    ],
)
def test_a_bad_list_fails_before_any_org_starts(  # type: ignore[no-untyped-def]
    many_env: Path, organizations, fragment
) -> None:
    from dockerhub_export.flows.export_organizations import export_organizations

    state = export_organizations(organizations=organizations, output_dir=str(many_env), return_state=True)
    assert state.is_failed() and fragment in (state.message or ""), state.message
    assert not _children(state) and not many_env.exists()


def test_a_pasted_token_is_refused_not_used(many_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerhub_export.flows.export_repositories import export_repositories

    monkeypatch.delenv("DOCKERHUB_TOKEN")
    state = export_repositories(
        org="beta", token_env=TOKENS["beta"], output_dir=str(many_env), return_state=True
    )
    assert state.is_failed() and "not a token" in (state.message or "")
    assert not many_env.exists()


def test_every_per_org_option_reaches_each_org_tags_included(many_env: Path, orgs_hub: FakeHub) -> None:
    import csv

    from fakehub import make_tags

    from dockerhub_export.flows.export_organizations import export_organizations

    for org in ("acme", "beta"):
        for i, repo in enumerate(orgs_hub.repos[org][:12]):
            orgs_hub.tags[(org, repo["name"])] = make_tags(org, repo["name"], i % 4, seed=i)
    state = export_organizations(
        organizations=[{"org": "acme"}, {"org": "beta", "token_env": "DOCKERHUB_TOKEN_BETA"}],
        output_dir=str(many_env),
        snapshot_date=DAY,
        include_tags=True,
        tags_refresh_days=0,
        write_snapshots=False,
        return_state=True,
    )
    assert state.is_completed(), state.message
    for org in ("acme", "beta"):
        path = many_env / org / f"tags-{DAY.isoformat()}.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            rows = {(row["repository"], row["tag"], row["digest"]) for row in csv.DictReader(handle)}
        truth = {
            (name, tag["name"], tag["digest"])
            for (namespace, name), tags in orgs_hub.tags.items()
            if namespace == org
            for tag in tags
        }
        assert rows == truth and rows, org
    assert not (many_env / "snapshots.db").exists()  # write_snapshots=False reached every org too
