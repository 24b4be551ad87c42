"""The nightly export as a Prefect flow: authenticate → fetch all pages → transform → write the dated CSV
→ upsert the snapshot → publish the run's summary. Each task wraps one plain function of
`dockerhub_export`; the flow only sequences them, keeps the run log and publishes the artifacts.

No postponed annotations (the ``__future__`` import) here: ``flow.serve()`` pickles the flow by value and could no
longer resolve string annotations in its subprocess (see the project notes on Prefect).

No secret is ever a parameter (Prefect stores parameters in plaintext): the token and a database URL
with a password come from the worker's environment, or from Secret blocks *named* by a parameter.
"""

import logging
import os
import re
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote
from pydantic import Field

from dockerhub_export import csv_output, hub, reports, store, transform
from dockerhub_export.auth import HubAuth
from dockerhub_export.errors import ConfigError, EmptyOrgError, ExportError, HistoryGuardError
from dockerhub_export.hub import Listing
from dockerhub_export.settings import MAX_CONCURRENCY, Settings, parse_snapshot_date

import pandas as pd

from flows import reporting

LIBRARY_LOGGER = "dockerhub_export"
TOP_MOVERS = 10
# An environment variable's name, not its value: checked so a pasted token is refused, not stored.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names echoed in error messages (state message, logs): anything else might be a pasted secret.
_SHOWN_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SHOWN_BLOCK_NAME = re.compile(r"[a-z0-9-]+")
_TOKEN_PREFIXES = ("dckr_pat_", "dckr_oat_")  # Docker personal / organization access tokens


def _forward_library_logs() -> None:
    """Send the library's own log lines (pages, retries, waits, totals) to the Prefect run logs."""
    from prefect.logging.handlers import APILogHandler

    library = logging.getLogger(LIBRARY_LOGGER)
    library.setLevel(logging.INFO)
    if not any(isinstance(handler, APILogHandler) for handler in library.handlers):
        library.addHandler(APILogHandler())


# Every task holds the token, a client or a frame: NO_CACHE keeps them out of cache keys and result
# storage, and a nightly snapshot must never be served from an earlier run's cache.


@task(name="authenticate", cache_policy=NO_CACHE)
def authenticate(settings: Settings) -> HubAuth:
    return hub.authenticate(settings)


@task(name="fetch-all-pages", cache_policy=NO_CACHE)
def fetch_all_pages(settings: Settings, auth: HubAuth) -> Listing:
    return hub.fetch_all_pages(settings, auth)


@task(name="transform", cache_policy=NO_CACHE)
def transform_listing(listing: Listing) -> pd.DataFrame:
    # consume: the listing's raw columns are freed one by one as the frame takes them over.
    return transform.from_columns(listing.columns, listing.org, consume=True)


@task(name="check-history", cache_policy=NO_CACHE)
def check_history(engine: Any, org: str, day: date, frame: pd.DataFrame, allow_drop: bool) -> list[str]:
    return store.check_history(engine, org, day, frame, allow_drop=allow_drop)


@task(name="write-csv", cache_policy=NO_CACHE)
def write_csv(frame: pd.DataFrame, path: Path, safe: bool) -> Path:
    return csv_output.write_csv(frame, path, safe=safe)


@task(name="upsert-snapshots", cache_policy=NO_CACHE)
def upsert_snapshots(
    engine: Any, org: str, day: date, frame: pd.DataFrame, run_id: int, api_count: int | None
) -> store.SnapshotSummary:
    return store.upsert_snapshot(engine, org, day, frame, run_id=run_id, api_count=api_count)


@task(name="top-movers", cache_policy=NO_CACHE)
def top_movers(engine: Any, org: str, day: date, n: int) -> list[dict[str, Any]]:
    return reports.top_movers(engine, org, day, n=n)


def _secret(block_name: str | None) -> str | None:
    if not block_name:
        return None
    from prefect.blocks.system import Secret

    if block_name.startswith(_TOKEN_PREFIXES):
        raise ConfigError(
            "the Secret block name looks like a Docker Hub token itself: revoke that token (it is now "
            "stored in this run's parameters), save the new one in a Secret block and pass the block's name"
        )
    try:
        return str(Secret.load(block_name).get())
    except ValueError as exc:
        shown = f"{block_name!r} ({exc})" if _SHOWN_BLOCK_NAME.fullmatch(block_name) else "(name not shown)"
        raise ConfigError(
            f"cannot load the Secret block {shown}: create it in the Prefect UI "
            "(Blocks > Secret) or as docs/operations.md shows, or leave the parameter empty"
        ) from None


def _env_secret(variable: str | None) -> str | None:
    """The value of the environment variable *named* ``variable`` (read here, at the flow's edge)."""
    if not variable:
        return None
    if variable.startswith(_TOKEN_PREFIXES) or not _ENV_NAME.fullmatch(variable):
        raise ConfigError(
            "token_env must be the name of an environment variable (like DOCKERHUB_TOKEN_ACME), not a "
            "token: if a token was pasted here, revoke it, it is now stored in this run's parameters"
        )
    value = os.environ.get(variable, "").strip()
    if not value:
        shown = variable if _SHOWN_ENV_NAME.fullmatch(variable) else "named in token_env"
        raise ConfigError(
            f"the environment variable {shown} is not set where this flow runs: set it in the worker's "
            "(or serve process's) environment, or use token_block"
        )
    return value


def _token(token_block: str | None, token_env: str | None) -> str | None:
    if token_block and token_env:
        raise ConfigError("give token_block or token_env, not both")
    return _secret(token_block) or _env_secret(token_env)


def _default_snapshot_date() -> date:
    """The UTC date of the scheduled slot, so a run that starts late still files the right day."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return datetime.now(timezone.utc).date()
    return datetime.fromtimestamp(scheduled.timestamp(), tz=timezone.utc).date()


@flow(name="export-repositories", log_prints=False, validate_parameters=True)
def export_repositories(
    org: str | None = None,
    output_dir: str | None = None,
    snapshot_date: date | None = None,
    concurrency: Annotated[int | None, Field(ge=1, le=MAX_CONCURRENCY)] = None,
    allow_empty: bool = False,
    allow_drop: bool = False,
    write_snapshots: bool = True,
    csv_safe: bool = True,
    token_block: str | None = None,
    token_env: str | None = None,
    database_url_block: str | None = None,
) -> dict[str, Any]:
    """Export every repository of a Docker Hub organization to a dated CSV and a daily snapshot.

    Args:
        org: Docker Hub organization (namespace), e.g. acme. Empty: DOCKERHUB_ORG from the worker's environment.
        output_dir: Folder for `<org>/repos-<date>.csv` (and the default SQLite snapshots.db), on the machine that runs the flow. Empty: EXPORT_DIR, else ./exports.
        snapshot_date: Day the snapshot is filed under (YYYY-MM-DD). Empty: the UTC date of the scheduled run (today for a manual run).
        concurrency: Parallel page requests to Docker Hub (1-16). Empty: DOCKERHUB_CONCURRENCY, else 4.
        allow_empty: Accept an org with zero visible repositories (normally an error: wrong name or token scope).
        allow_drop: Accept losing all private repositories or more than half of them since the last snapshot.
        write_snapshots: Also upsert the day's snapshot into the database (SNAPSHOT_DATABASE_URL, else SQLite under output_dir).
        csv_safe: Neutralise spreadsheet formulas in text cells (OWASP CSV injection).
        token_block: Name (not value) of a Prefect Secret block holding the Docker Hub token. Empty: token_env, else DOCKERHUB_TOKEN from the environment.
        token_env: Name (not value) of an environment variable holding the Docker Hub token, e.g. DOCKERHUB_TOKEN_ACME. Empty: DOCKERHUB_TOKEN.
        database_url_block: Name (not value) of a Prefect Secret block holding the snapshot database URL (use it when the URL has a password). Empty: SNAPSHOT_DATABASE_URL.
    """
    _forward_library_logs()
    logger = get_run_logger()
    started = time.monotonic()
    org_name: str | None = org
    day: date | None = snapshot_date
    engine = None
    run_id: int | None = None
    listing: Listing | None = None
    frame: pd.DataFrame | None = None
    try:
        settings = Settings.load(
            org=org,
            export_dir=output_dir,
            concurrency=concurrency,
            csv_safe=csv_safe,
            token=_token(token_block, token_env),
            snapshot_database_url=_secret(database_url_block),
        )
        org_name = settings.require_org()
        settings.require_token()
        day = parse_snapshot_date(snapshot_date) if snapshot_date else _default_snapshot_date()
        path = csv_output.csv_path(settings.export_dir, org_name, day)

        if write_snapshots:
            url = store.database_url(settings)
            logger.info("snapshots go to %s", store.redact(url))
            engine = store.open_engine(url)
            run_id = store.start_run(engine, org=org_name, snapshot_date=day)

        auth = authenticate(settings)
        listing = fetch_all_pages(settings, auth)
        # quote(): Prefect would otherwise walk every value of the listing, twice, looking for
        # futures to resolve (10 s of a 20,000-repository run); the task still gets the plain Listing.
        frame = transform_listing(quote(listing))  # empties listing.columns: the frame holds it all now
        if frame.empty and not allow_empty:
            raise EmptyOrgError(
                f"no repositories visible for org {org_name!r}: check the name and the token's repository "
                "permissions (pass --allow-empty / allow_empty to accept an empty org)"
            )
        warnings = list(listing.warnings)
        if engine is not None:
            warnings += check_history(engine, org_name, day, frame, allow_drop)
        written = write_csv(frame, path, settings.csv_safe)
        summary = None
        movers: list[dict[str, Any]] = []
        if engine is not None and run_id is not None:
            summary = upsert_snapshots(engine, org_name, day, frame, run_id, listing.api_count)
            movers = top_movers(engine, org_name, day, TOP_MOVERS)
    except BaseException as exc:
        if engine is not None and run_id is not None:
            status = "refused" if isinstance(exc, HistoryGuardError) else "failed"
            store.finish_run(
                engine, run_id, status=status, error=_one_line(exc), **_counts(listing, frame)
            )
        if isinstance(exc, Exception):
            _publish_failure(org_name, day, _one_line(exc), time.monotonic() - started)
        if engine is not None:
            engine.dispose()  # no pooled connection outlives a failed run either
        raise

    result = {
        "org": org_name,
        "snapshot_date": day.isoformat(),
        "csv_path": str(written),
        **_counts(listing, frame),
        "warnings": warnings,
        "snapshot": None
        if summary is None
        else {
            "previous_date": None if summary.previous_date is None else summary.previous_date.isoformat(),
            "added": summary.added,
            "removed": summary.vanished,
        },
        "top_movers": reporting.movers_table(movers),
        "seconds": round(time.monotonic() - started, 2),
        "retries": listing.stats.retries,
        "rate_limited": listing.stats.rate_limited,
        "waited_seconds": round(listing.stats.waited_seconds, 1),
    }
    if engine is not None and run_id is not None:
        store.finish_run(
            engine, run_id, status="success", csv_path=str(written), warnings=warnings,
            **_counts(listing, frame),
        )
        engine.dispose()
    _publish_summary(result)
    logger.info(
        "exported %d repositories of %s (%d private) to %s",
        result["repositories"], org_name, result["private"], written,
    )
    return result


def _publish_summary(result: dict[str, Any]) -> None:
    """The two artifacts of a successful run, keyed per org so the Artifacts page keeps their history."""
    org, day = result["org"], result["snapshot_date"]
    create_markdown_artifact(
        key=reporting.artifact_key(org, "summary"),
        markdown=reporting.summary_markdown(result, result["top_movers"]),
        description=f"dockerhub-export of {org} for {day}",
    )
    create_table_artifact(
        key=reporting.artifact_key(org, "top-movers"),
        table=result["top_movers"],
        description=f"{org} {day}: the {TOP_MOVERS} repositories with the largest pull growth since the "
        "previous snapshot (empty until there are two snapshots)",
    )


def _publish_failure(org: str | None, day: date | None, reason: str, seconds: float) -> None:
    """The failed run's summary, where a success would be; never masks the original error."""
    try:
        create_markdown_artifact(
            # Only a valid org names a history; anything else stays on this run's Artifacts tab.
            key=reporting.artifact_key(org, "summary") if org and _valid_org(org) else None,
            markdown=reporting.failure_markdown(org, day, reason, seconds),
            description=f"dockerhub-export of {org or '(no organization)'}: failed",
        )
    except Exception as exc:  # the server is gone too: the run's state still carries the reason
        get_run_logger().warning("could not publish the failure summary: %s", _one_line(exc))


def _valid_org(org: str) -> bool:
    from dockerhub_export.settings import validate_org

    try:
        validate_org(org)
    except ConfigError:
        return False
    return True


def _counts(listing: Listing | None, frame: pd.DataFrame | None) -> dict[str, int | None]:
    return {
        "repositories": None if frame is None else int(len(frame)),
        "private": None if frame is None else int(frame["is_private"].fillna(False).sum()),
        "api_count": None if listing is None else listing.api_count,
    }


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ExportError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
