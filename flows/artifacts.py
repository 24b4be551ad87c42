"""The artifacts a run publishes in the Prefect UI: its summary and tables, or why it failed.

The texts come from `reporting` (plain functions); this module only hands them to Prefect.
"""

from datetime import date
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dockerhub_export.errors import ConfigError
from dockerhub_export.pipeline import TOP_MOVERS, TOP_STALE, one_line
from dockerhub_export.settings import validate_org

from . import reporting


def publish_summary(result: dict[str, Any]) -> None:
    """The two artifacts of a successful run, keyed per org so the Artifacts page keeps their history."""
    org, day = result["org"], result["snapshot_date"]
    movers = reporting.movers_table(result["top_movers"])
    create_markdown_artifact(
        key=reporting.artifact_key(org, "summary"),
        markdown=reporting.summary_markdown(result, movers),
        description=f"dockerhub-export of {org} for {day}",
    )
    create_table_artifact(
        key=reporting.artifact_key(org, "top-movers"),
        table=movers,
        description=f"{org} {day}: the {TOP_MOVERS} repositories with the largest pull growth since the "
        "previous snapshot (empty until there are two snapshots)",
    )
    tags = result.get("tags")
    if tags:
        create_table_artifact(
            key=reporting.artifact_key(org, "stale-tags"),
            table=reporting.movers_table(tags["largest_stale"]),
            description=f"{org} {day}: the {TOP_STALE} largest tags without a pull or push for "
            f"{tags['stale_days']} days ({tags['stale_tags']} in all)",
        )


def publish_failure(org: str | None, day: date | None, reason: str, seconds: float) -> None:
    """The failed run's summary, where a success would be; never masks the original error."""
    try:
        create_markdown_artifact(
            # Only a valid org names a history; anything else stays on this run's Artifacts tab.
            key=reporting.artifact_key(org, "summary") if org and _valid_org(org) else None,
            markdown=reporting.failure_markdown(org, day, reason, seconds),
            description=f"dockerhub-export of {org or '(no organization)'}: failed",
        )
    except Exception as exc:  # the server is gone too: the run's state still carries the reason
        get_run_logger().warning("could not publish the failure summary: %s", one_line(exc))


def publish_organizations(rows: list[dict[str, Any]], day: date) -> None:
    """The multi-org run's summary and table, under keys no single org's history can have."""
    description = f"dockerhub-export of {len(rows)} organizations for {day.isoformat()}"
    create_markdown_artifact(
        key=reporting.organizations_key("summary"),
        markdown=reporting.organizations_markdown(rows),
        description=description,
    )
    create_table_artifact(
        key=reporting.organizations_key("table"),
        table=reporting.movers_table(rows),
        description=description,
    )


def _valid_org(org: str) -> bool:
    try:
        validate_org(org)
    except ConfigError:
        return False
    return True
