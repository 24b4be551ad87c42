"""The nightly export as a Prefect flow: authenticate → fetch all pages → transform → check history →
write the dated CSV → upsert the snapshot → top movers (→ tags, access, the report) → publish the run's
summary.

`dockerhub_export.pipeline.export` is that sequence, written once; this flow runs each of its stages
as the task below that wraps the stage's library function, and publishes the artifacts.

No postponed annotations (the ``__future__`` import) here: ``flow.serve()`` pickles the flow by value and
could no longer resolve string annotations in its subprocess (see the project notes on Prefect).
"""

import time
from collections.abc import Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

from prefect import flow, get_run_logger, task
from prefect import tags as run_tags
from prefect.cache_policies import NO_CACHE
from prefect.events import Event, emit_event
from prefect.utilities.annotations import quote

from dockerhub_export import (
    access_csv,
    access_fetch,
    access_review,
    attribution,
    audit,
    csv_output,
    guard,
    pipeline,
    report,
    snapshot_queries,
    store,
    tags,
)
from dockerhub_export.fetch import fetch_all_pages, fetch_tags
from dockerhub_export.results import RunResult
from dockerhub_export.run_options import split, values_of
from dockerhub_export.session import open_session
from dockerhub_export.settings import Settings, parse_snapshot_date

from . import artifacts, runtime

P = ParamSpec("P")
T = TypeVar("T")
TOKEN_EXPIRING = "dockerhub-export.token.expiring"  # the event deployments/automations/ notifies on

# The pipeline's stages, each the task of one library function. Every one holds the token, a client or
# a frame: NO_CACHE keeps them out of cache keys and result storage, and a nightly snapshot must never
# be served from an earlier run's cache.
STAGES: tuple[tuple[Callable[..., Any], str], ...] = (
    (open_session, "authenticate"),  # the run's Hub session, logged in
    (fetch_all_pages, "fetch-all-pages"),
    (pipeline.listing_frame, "transform"),
    (guard.check_history, "check-history"),
    (csv_output.write_csv, "write-csv"),
    (store.upsert_snapshot, "upsert-snapshots"),
    (snapshot_queries.top_movers, "top-movers"),
    (snapshot_queries.pull_anomalies, "find-anomalies"),
    (audit.sync_audit_log, "sync-audit-log"),
    (attribution.attributed_changes, "attribute-changes"),
    (tags.select_repositories, "select-repositories"),
    (fetch_tags, "fetch-tags"),
    (tags.tags_frame, "transform-tags"),
    (tags.store_tags, "upsert-tags"),
    (tags.inventory_frame, "read-tag-inventory"),
    (tags.write_tags_csv, "write-tags-csv"),
    (access_fetch.fetch_access, "fetch-access"),
    (store.write_access_night, "upsert-access"),
    (access_csv.write_access_csvs, "write-access-csvs"),
    (access_review.review_night, "review-access"),
    (report.write_night, "write-report"),
)
TASKS: dict[Callable[..., Any], Any] = {
    function: task(name=name, cache_policy=NO_CACHE)(function) for function, name in STAGES
}


def as_task(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a pipeline stage as its task. quote(): Prefect would otherwise walk every value of the
    arguments looking for futures to resolve (a 20,000-repository listing, twice: 10 s)."""
    result: T = TASKS[function](*map(quote, args), **{name: quote(value) for name, value in kwargs.items()})
    return result


@flow(name="export-repositories", log_prints=False, validate_parameters=True, flow_run_name=runtime.run_name)
@runtime.with_run_options
def export_repositories(
    org: str | None = None,
    output_dir: str | None = None,
    snapshot_date: date | None = None,
    *,
    token_block: str | None = None,
    token_env: str | None = None,
    database_url_block: str | None = None,
    **options: Any,
) -> RunResult:
    """Export every repository of a Docker Hub organization to a dated CSV and a daily snapshot.

    Args:
        org: Docker Hub organization (namespace), e.g. acme. Empty: DOCKERHUB_ORG from the worker's
            environment.
        output_dir: Folder for `<org>/repos-<date>.csv` (and the default SQLite snapshots.db), on the machine
            that runs the flow. Empty: EXPORT_DIR, else ./exports.
        snapshot_date: Day the snapshot is filed under (YYYY-MM-DD). Empty: the UTC date of the scheduled run
            (today for a manual run).
        token_block: Name (not value) of a Prefect Secret block holding the Docker Hub token. Empty:
            token_env, else DOCKERHUB_TOKEN from the environment.
        token_env: Name (not value) of an environment variable holding the Docker Hub token, e.g.
            DOCKERHUB_TOKEN_ACME. Empty: DOCKERHUB_TOKEN.
        database_url_block: Name (not value) of a Prefect Secret block holding the snapshot database URL (use
            it when the URL has a password). Empty: SNAPSHOT_DATABASE_URL.
    """
    runtime.forward_library_logs()
    logger = get_run_logger()
    started = time.monotonic()
    org_name, day = org, snapshot_date
    try:
        day = parse_snapshot_date(snapshot_date) if snapshot_date else runtime.default_snapshot_date()
        run_options, overrides = split(options, day)
        settings = runtime.run_settings(
            org, output_dir, overrides, token_block, token_env, database_url_block
        )
        org_name = settings.require_org()
        settings.require_token()
        if run_options.write_snapshots:
            logger.info("snapshots go to %s", store.redact(store.database_url(settings)))
        result = pipeline.export(settings, run_options, call=as_task)
    except Exception as exc:
        logged = pipeline.RUN_LOGGED in getattr(exc, "__notes__", ())
        reason, seconds = pipeline.one_line(exc), time.monotonic() - started
        artifacts.publish_failure(org_name, day, reason, seconds, logged=logged)
        raise
    artifacts.publish_summary(result)
    artifacts.publish_night(result.night())
    emit_token_events(result)
    logger.info(
        "exported %d repositories of %s (%d private) to %s",
        result.repositories,
        org_name,
        result.private,
        result.csv_path,
    )
    return result


def emit_token_events(result: RunResult) -> list[Event]:
    """One `TOKEN_EXPIRING` event per token of the night that expires within the review's alert days
    (not expired yet): what deployments/automations/token-expiring.yaml notifies on. The token's label
    and id, never a secret; the run context adds the flow run as a related resource."""
    review = None if result.access is None else result.access.review
    if review is None:
        return []
    emitted = []
    for token in review.alerts:
        event = emit_event(
            TOKEN_EXPIRING,
            resource={
                "prefect.resource.id": f"dockerhub-export.token.{result.org}.{token.id}",
                "prefect.resource.name": token.label,
                "dockerhub-export.org": result.org,
                "dockerhub-export.token.label": token.label,
            },
            payload={
                "expires_at": token.expires_at,
                "days_left": token.days_left,
                "created_by": token.created_by,
                "flags": list(token.flags),
                "snapshot_date": result.snapshot_date.isoformat(),
            },
        )
        if event is not None:
            emitted.append(event)
    if emitted:
        get_run_logger().info(
            "%d access tokens of %s expire within %d days: one %s event each",
            len(emitted), result.org, review.alert_days, TOKEN_EXPIRING,
        )  # fmt: skip
    return emitted


def run_with_settings(settings: Settings, options: pipeline.RunOptions) -> RunResult:
    """This flow, run here with the caller's settings (the command line's): the secrets among them
    reach the run without becoming parameters, which Prefect would store in plaintext."""
    with runtime.given_settings(settings), run_tags(*runtime.RUN_TAGS):
        result: RunResult = export_repositories(
            org=settings.org,
            output_dir=str(settings.export_dir),
            snapshot_date=options.snapshot_date,
            **values_of(options, settings.model_dump(include={"concurrency", "csv_safe"})),
        )
    return result
