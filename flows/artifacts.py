"""The artifacts a run publishes in the Prefect UI: its summary and tables, or why it failed.

The texts come from `summary` (plain functions); this module only hands them to Prefect.
"""

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dockerhub_export.pipeline import TOP_MOVERS, one_line
from dockerhub_export.results import OrgNight, RunResult
from dockerhub_export.settings import is_valid_org

from . import summary


def publish_summary(result: RunResult) -> None:
    """A successful run's summary and tables, keyed per org so the Artifacts page keeps their history."""
    org, day = result.org, result.snapshot_date
    create_markdown_artifact(
        key=summary.artifact_key(org, "summary"),
        markdown=summary.summary_markdown(result),
        description=f"dockerhub-export of {org} for {day}",
    )
    create_table_artifact(
        key=summary.artifact_key(org, "top-movers"),
        table=summary.artifact_table(result.top_movers),
        description=summary.movers_description(result, TOP_MOVERS),
    )
    if result.tags is not None:
        create_table_artifact(
            key=summary.artifact_key(org, "stale-tags"),
            table=summary.artifact_table(result.tags.largest_stale),
            description=summary.stale_description(result, result.tags),
        )


def publish_failure(
    org: str | None, day: date | None, reason: str, seconds: float, *, logged: bool = False
) -> None:
    """The failed run's summary, where a success would be; never masks the original error."""
    try:
        create_markdown_artifact(
            # Only a valid org names a history; anything else stays on this run's Artifacts tab.
            key=summary.artifact_key(org, "summary") if org and is_valid_org(org) else None,
            markdown=summary.failure_markdown(org, day, reason, seconds, logged=logged),
            description=f"dockerhub-export of {org or '(no organization)'}: failed",
        )
    except Exception as exc:  # the server is gone too: the run's state still carries the reason
        get_run_logger().warning("could not publish the failure summary: %s", one_line(exc))


def publish_organizations(rows: list[summary.OrgRow], day: date) -> None:
    """The multi-org run's summary and table, under keys no single org's history can have."""
    description = f"dockerhub-export of {len(rows)} organizations for {day.isoformat()}"
    create_markdown_artifact(
        key=summary.organizations_key("summary"),
        markdown=summary.organizations_markdown(rows),
        description=description,
    )
    create_table_artifact(
        key=summary.organizations_key("table"),
        table=summary.artifact_table(rows),
        description=description,
    )


def publish_night(night: OrgNight) -> None:
    """The night's figures as a one-row table, keyed per org (the Artifacts page keeps one a night): what
    a multi-org run reads back from an org's run on another worker, whose return value it cannot see."""
    create_table_artifact(
        key=summary.artifact_key(night.org, "night"),
        table=summary.artifact_table([asdict(night)]),
        description=f"{night.org} {night.snapshot_date}: the night's figures",
    )


def read_night(flow_run_id: Any, org: str) -> OrgNight | None:
    """The figures `publish_night` left on the run ``flow_run_id`` (None: none)."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
        key=ArtifactFilterKey(any_=[summary.artifact_key(org, "night")]),
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=artifact_filter, limit=1)
    if not artifacts:
        return None
    data: Any = artifacts[0].data
    rows = json.loads(data) if isinstance(data, str) else data
    row = rows[0]
    return OrgNight(
        org=row["org"],
        snapshot_date=date.fromisoformat(row["snapshot_date"]),
        repositories=int(row["repositories"]),
        private=int(row["private"]),
        tags=None if row["tags"] is None else int(row["tags"]),
        csv_path=Path(row["csv_path"]),
    )
