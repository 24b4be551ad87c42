"""Several Docker Hub organizations in one run: each org is an `export-repositories` subflow.

The subflows run on a bounded thread pool, each in a copy of this run's context so Prefect files them
as children of this run. One org's failure never stops or hides the others: every org runs to its own
end (its CSV written, its run logged), then this run fails naming each org that failed, and why.

No postponed annotations (the ``__future__`` import) here (see flows/export_repositories.py).
"""

import contextvars
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from pydantic import BaseModel, ConfigDict, Field

from dockerhub_export.errors import ConfigError, ExportError
from dockerhub_export.pipeline import one_line
from dockerhub_export.results import OrgNight, RunResult
from dockerhub_export.run_options import split
from dockerhub_export.settings import parse_snapshot_date, validate_org

from .artifacts import publish_organizations, read_night
from .export_repositories import export_repositories
from .runtime import default_snapshot_date, with_run_options
from .summary import OrgRow

MAX_PARALLEL = 8
# How Prefect words a failed run's state message; the reason is what follows.
_EXCEPTION_PREFIX = re.compile(r"^(Flow run encountered an exception: )?([A-Z][A-Za-z]+: )?")


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
@with_run_options
def export_organizations(
    organizations: list[Organization],
    output_dir: str | None = None,
    snapshot_date: date | None = None,
    parallel: Annotated[int, Field(ge=1, le=MAX_PARALLEL)] = 2,
    *,
    database_url_block: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Export several Docker Hub organizations, each with its own token, to dated CSVs and snapshots.

    Every option below applies to each org, as the same parameter of export-repositories does.

    Args:
        organizations: The orgs to export; per org a token source: token_block (a Secret block name) or
            token_env (an environment variable name); neither: DOCKERHUB_TOKEN.
        output_dir: Folder for every `<org>/repos-<date>.csv` (and the default SQLite snapshots.db). Empty:
            EXPORT_DIR, else ./exports.
        snapshot_date: Day every org's snapshot is filed under (YYYY-MM-DD). Empty: the UTC date of the
            scheduled run.
        parallel: Organizations exported at the same time (1-8).
        database_url_block: Name (not value) of a Prefect Secret block holding the snapshot database URL.
            Empty: SNAPSHOT_DATABASE_URL.
    """
    logger = get_run_logger()
    _check(organizations)
    # One day for every org, fixed here: a subflow's own "scheduled time" is when it happens to start.
    day = parse_snapshot_date(snapshot_date) if snapshot_date else default_snapshot_date()
    split(options, day)  # refuses an unknown option before any org starts
    common = dict(output_dir=output_dir, snapshot_date=day, database_url_block=database_url_block, **options)

    # From a deployment, each org is a run of export-repositories' deployment of the same name, claimed
    # by whichever worker of the pool is free; elsewhere (the command line, serve.py) a subflow here.
    deployment = _org_deployment()
    run_one = partial(_run_deployment, deployment, common) if deployment else partial(_run_subflow, common)
    logger.info(
        "exporting %d organizations, %d at a time, %s",
        len(organizations),
        parallel,
        f"each a run of {deployment}" if deployment else "in this process",
    )
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="org") as pool:
        # A fresh context copy per org: the subflow finds this run as its parent (and a context
        # cannot be entered by two threads at once).
        futures = {
            entry.org: pool.submit(contextvars.copy_context().run, run_one, entry) for entry in organizations
        }
        rows = [_waited(org, future) for org, future in futures.items()]

    publish_organizations(rows, day)
    failed = [row for row in rows if row["status"] == "failed"]
    if failed:
        raise ExportError(
            f"{len(failed)} of {len(rows)} organizations failed ({day.isoformat()}): "
            + "; ".join(f"{row['org']}: {row['reason']}" for row in failed)
        )
    logger.info("exported all %d organizations for %s", len(rows), day)
    return {"snapshot_date": day.isoformat(), "organizations": {row["org"]: row for row in rows}}


def _org_deployment() -> str | None:
    """``export-repositories/<name>`` when this run belongs to a deployment named <name>, else None."""
    from prefect.runtime import deployment

    name = deployment.name
    return f"{export_repositories.name}/{name}" if name else None


def _run_subflow(common: dict[str, Any], entry: Organization) -> OrgRow:
    """One org as a subflow in this process; its row of the summary table."""
    state: State = export_repositories(  # named <org>-<day>, like every run of it
        org=entry.org, token_block=entry.token_block, token_env=entry.token_env, return_state=True, **common
    )
    run_id = state.state_details.flow_run_id
    if state.is_completed():
        result: RunResult = state.result()
        return _row(entry.org, run_id, result.night())
    error = state.result(raise_on_failure=False)
    reason = one_line(error) if isinstance(error, BaseException) else (state.message or state.name)
    return _row(entry.org, run_id, reason=reason)


def _run_deployment(name: str, common: dict[str, Any], entry: Organization) -> OrgRow:
    """One org as a run of the deployment ``name``, waited for; its row of the summary table."""
    from prefect.deployments import run_deployment

    parameters = dict(common, org=entry.org, token_block=entry.token_block, token_env=entry.token_env)
    parameters["snapshot_date"] = parameters["snapshot_date"].isoformat()
    run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here: this flow is sync
        name, parameters=parameters, timeout=None, poll_interval=2, as_subflow=True
    )
    state = run.state
    if state is not None and state.is_completed():
        return _row(entry.org, run.id, read_night(run.id, entry.org))
    message = str((state.message if state else None) or (state.name if state else "no state"))
    return _row(entry.org, run.id, reason=_EXCEPTION_PREFIX.sub("", message))


def _waited(org: str, future: Any) -> OrgRow:
    """The org's row once it has finished; a run that could not even start is failed with why."""
    try:
        row: OrgRow = future.result()
    except Exception as exc:  # e.g. its parameters were refused, or its deployment does not exist
        return _row(org, None, reason=one_line(exc))
    return row


def _row(org: str, run_id: Any, night: OrgNight | None = None, *, reason: str | None = None) -> OrgRow:
    """One line of the table of orgs: the outcome, the org's figures (None: not known), a link to its run."""
    from prefect.utilities.urls import url_for

    return OrgRow(
        org=org,
        status="failed" if reason is not None else "exported",
        repositories=None if night is None else night.repositories,
        private=None if night is None else night.private,
        tags=None if night is None else night.tags,
        csv_path=None if night is None else str(night.csv_path),
        run=url_for("flow-run", obj_id=run_id) if run_id else None,
        reason=reason,
    )


__all__ = ["Organization", "export_organizations"]
