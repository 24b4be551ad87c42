"""Several Docker Hub organizations in one run: each org is an `export-repositories` subflow.

The subflows run on a bounded thread pool, each in a copy of this run's context so Prefect files them
as children of this run. One org's failure never stops or hides the others: every org runs to its own
end (its CSV written, its run logged), then this run fails naming each org that failed, and why.

No postponed annotations (the ``__future__`` import) here (see flows/export_repositories.py).
"""

import contextvars
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from pydantic import BaseModel, ConfigDict, Field

from dockerhub_export.errors import ConfigError, ExportError
from dockerhub_export.pipeline import one_line
from dockerhub_export.settings import MAX_CONCURRENCY, parse_snapshot_date, validate_org

from .artifacts import publish_organizations
from .export_repositories import export_repositories
from .runtime import default_snapshot_date

MAX_PARALLEL = 8


class Organization(BaseModel):
    """One organization to export, and where its token comes from (neither field: DOCKERHUB_TOKEN)."""

    model_config = ConfigDict(extra="forbid")

    org: str = Field(description="Docker Hub organization (namespace), e.g. acme.")
    token_block: str | None = Field(
        None, description="Name (not value) of a Prefect Secret block holding this org's Docker Hub token."
    )
    token_env: str | None = Field(
        None,
        description=(
            "Name (not value) of an environment variable holding this org's token, e.g. DOCKERHUB_TOKEN_ACME."
        ),
    )


def _check(organizations: list[Organization]) -> None:
    """Everything that can be wrong with the list, found before any org starts."""
    if not organizations:
        raise ConfigError('no organizations given: pass organizations=[{"org": "acme"}, ...]')
    seen: set[str] = set()
    for entry in organizations:
        validate_org(entry.org)
        if entry.org in seen:
            raise ConfigError(
                f"organization {entry.org!r} is listed twice: each org is exported once per run"
            )
        seen.add(entry.org)
        if entry.token_block and entry.token_env:
            raise ConfigError(f"organization {entry.org!r}: give token_block or token_env, not both")


@flow(name="export-organizations", log_prints=False, validate_parameters=True)
def export_organizations(
    organizations: list[Organization],
    output_dir: str | None = None,
    snapshot_date: date | None = None,
    parallel: Annotated[int, Field(ge=1, le=MAX_PARALLEL)] = 2,
    concurrency: Annotated[int | None, Field(ge=1, le=MAX_CONCURRENCY)] = None,
    allow_empty: bool = False,
    allow_drop: bool = False,
    write_snapshots: bool = True,
    csv_safe: bool = True,
    database_url_block: str | None = None,
) -> dict[str, Any]:
    """Export several Docker Hub organizations, each with its own token, to dated CSVs and snapshots.

    Args:
        organizations: The orgs to export; per org a token source: token_block (a Secret block name) or
            token_env (an environment variable name); neither: DOCKERHUB_TOKEN.
        output_dir: Folder for every `<org>/repos-<date>.csv` (and the default SQLite snapshots.db). Empty:
            EXPORT_DIR, else ./exports.
        snapshot_date: Day every org's snapshot is filed under (YYYY-MM-DD). Empty: the UTC date of the
            scheduled run.
        parallel: Organizations exported at the same time (1-8).
        concurrency: Parallel page requests to Docker Hub per org (1-16). Empty: DOCKERHUB_CONCURRENCY, else
            4.
        allow_empty: Accept orgs with zero visible repositories.
        allow_drop: Accept losing all private repositories or more than half of them since the last snapshot.
        write_snapshots: Also upsert each day's snapshot into the database.
        csv_safe: Neutralise spreadsheet formulas in text cells (OWASP CSV injection).
        database_url_block: Name (not value) of a Prefect Secret block holding the snapshot database URL.
            Empty: SNAPSHOT_DATABASE_URL.
    """
    logger = get_run_logger()
    _check(organizations)
    # One day for every org, fixed here: a subflow's own "scheduled time" is when it happens to start.
    day = parse_snapshot_date(snapshot_date) if snapshot_date else default_snapshot_date()
    common = dict(
        output_dir=output_dir,
        snapshot_date=day,
        concurrency=concurrency,
        allow_empty=allow_empty,
        allow_drop=allow_drop,
        write_snapshots=write_snapshots,
        csv_safe=csv_safe,
        database_url_block=database_url_block,
    )

    def export_one(entry: Organization) -> State:
        subflow = export_repositories.with_options(flow_run_name=f"{entry.org}-{day.isoformat()}")
        return subflow(
            org=entry.org,
            token_block=entry.token_block,
            token_env=entry.token_env,
            return_state=True,
            **common,
        )

    logger.info("exporting %d organizations, %d at a time", len(organizations), parallel)
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="org") as pool:
        # A fresh context copy per org: the subflow finds this run as its parent (and a context
        # cannot be entered by two threads at once).
        futures = {
            entry.org: pool.submit(contextvars.copy_context().run, export_one, entry)
            for entry in organizations
        }
        outcomes = {org: _outcome(org, future) for org, future in futures.items()}

    rows = [_row(org, outcome) for org, outcome in outcomes.items()]
    publish_organizations(rows, day)
    failed = [row for row in rows if row["status"] == "failed"]
    if failed:
        raise ExportError(
            f"{len(failed)} of {len(rows)} organizations failed ({day.isoformat()}): "
            + "; ".join(f"{row['org']}: {row['reason']}" for row in failed)
        )
    logger.info("exported all %d organizations for %s", len(rows), day)
    return {
        "snapshot_date": day.isoformat(),
        "organizations": {org: outcome for org, outcome in outcomes.items()},
    }


def _outcome(org: str, future: Any) -> dict[str, Any]:
    """The org's result dict, or ``{"failed": reason}``; waits for the org to finish."""
    try:
        state: State = future.result()
    except Exception as exc:  # the subflow could not even start (e.g. its parameters were refused)
        return {"failed": one_line(exc)}
    if state.is_completed():
        result: dict[str, Any] = state.result()
        return result
    error = state.result(raise_on_failure=False)
    reason = one_line(error) if isinstance(error, BaseException) else (state.message or state.name)
    return {"failed": reason, "flow_run_id": str(state.state_details.flow_run_id)}


def _row(org: str, outcome: dict[str, Any]) -> dict[str, Any]:
    if "failed" in outcome:
        return {
            "org": org,
            "status": "failed",
            "repositories": None,
            "private": None,
            "csv_path": None,
            "reason": outcome["failed"],
        }
    return {
        "org": org,
        "status": "exported",
        "repositories": outcome["repositories"],
        "private": outcome["private"],
        "csv_path": outcome["csv_path"],
        "reason": None,
    }


__all__ = ["Organization", "export_organizations"]
