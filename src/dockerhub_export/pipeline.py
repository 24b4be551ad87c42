"""The nightly export, written once: authenticate → fetch → transform → check → write CSV → upsert → movers,
then, with tags: read the audit log → select repositories → fetch their tags → upsert the tag night →
write the tags CSV; with access: its night, CSVs and review; with the report: the night's HTML page, last.

`export` runs the stages in order. Each stage is a plain library function, called through ``call``:
directly by default (the command line's in-process run), or as a Prefect task (the flow passes a
``call`` that maps each function to its task). Either way the outputs, the run log and the errors are
the same, because the sequence is this one function.

`ExportRun` holds what a run owns for its duration, whatever happens: the snapshot database's engine
and the run-log row, closed with the outcome (success, failed, or refused by the history guard).
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypedDict, TypeVar

from . import attribution, audit, csv_output, guard, hub, snapshot_queries, store, transform
from .errors import ConfigError, EmptyOrgError, ExportError, HistoryGuardError
from .fetch import Listing, fetch_all_pages, fetch_tags
from .resources import REPOSITORIES, TAGS
from .results import (
    AccessResult,
    Attribution,
    RunResult,
    SnapshotChanges,
    TagResult,
    anomaly,
    mover,
    stale_tag,
)
from .run_options import RunOptions as RunOptions
from .session import HubSession, open_session
from .settings import Settings
from .store.engine import absent_sqlite_file

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)
RUN_LOGGED = "dockerhub-export: the run log records this failure"
TOP_MOVERS = 10
TOP_STALE = 20  # the nightly summary's table of the largest stale tags


class Call(Protocol):
    """How a stage runs: ``call(function, *args, **kwargs)`` returns what ``function`` returns."""

    def __call__(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


def direct(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return function(*args, **kwargs)


class Counts(TypedDict):
    """What the run log records of a run's listing (None: not that far)."""

    repositories: int | None
    private: int | None
    api_count: int | None


def listing_frame(listing: Listing) -> "pd.DataFrame":
    """The listing typed; its raw columns are freed one by one as the frame takes them over."""
    return transform.from_columns(listing.columns, listing.resource.schema, listing.org, consume=True)


def export(settings: Settings, options: RunOptions, *, call: Call = direct) -> RunResult:
    """One org's repositories to the dated CSV and the day's snapshot; returns the run's summary."""
    with ExportRun(settings, options) as run, call(open_session, settings) as session:
        run.session = session
        run.listing = call(fetch_all_pages, session, REPOSITORIES)
        run.open_store()
        frame = run.accept(call(listing_frame, run.listing))
        warnings = list(run.listing.warnings)
        if run.engine is not None:
            warnings += call(
                guard.check_history, run.engine, run.org, run.day, frame, allow_drop=options.allow_drop
            )
        path = call(csv_output.write_csv, frame, run.csv_path, REPOSITORIES, safe=settings.csv_safe)
        summary, movers, changes, anomalies = None, None, None, None
        if run.engine is not None:
            summary = call(
                store.upsert_snapshot, run.engine, run.org, run.day, frame, run_id=run.run_id,
                api_count=run.listing.api_count,
            )  # fmt: skip
            movers = call(snapshot_queries.top_movers, run.engine, run.org, run.day, n=TOP_MOVERS)
            warnings += call(audit.sync_audit_log, session, run.engine).warnings
            if summary.previous_date is not None:
                anomalies = call(
                    snapshot_queries.pull_anomalies, run.engine, run.org, summary.previous_date, run.day
                )
                changes = call(
                    attribution.attributed_changes, run.engine, run.org, summary.previous_date, run.day
                )
        tag_result = export_tags(run, session, frame, warnings, call) if options.include_tags else None
        access = export_access(run, session, frame, warnings, call) if options.include_access else None
        page = write_report(run, warnings, call) if options.report else None
        return run.succeed(
            path, warnings, summary, movers, tag_result, changes, anomalies, access=access, report=page
        )


def write_report(run: "ExportRun", warnings: list[str], call: Call) -> Path | None:
    """The night's report (`report`), once everything else of the night is stored: it is read back from
    the snapshot database, so a run without one gets a warning and no report."""
    if run.engine is None:
        warnings.append(
            "no report: it is made from the snapshot database, and this run writes none (--no-db); "
            "`dockerhub-export report` makes one from a database"
        )
        return None
    from . import report

    started = time.monotonic()
    try:
        path = call(report.write_night, run.engine, run.org, run.day, run.settings.export_dir)
    except Exception as exc:
        # A report is derived data: by now the night's CSVs and history are stored, and failing the run
        # would call them failed too (and mark the run failed in the run log). So the run succeeds with
        # a warning; `report --date` makes the page again from the same database.
        log.debug("the report of %s was not written", run.org, exc_info=True)  # --debug: where
        warnings.append(
            f"no report: {one_line(exc)} (the night is stored: `dockerhub-export report --org {run.org} "
            f"--date {run.day.isoformat()}` makes it again)"
        )
        return None
    log.info("wrote the report of %s to %s (%.2f s)", run.org, path, time.monotonic() - started)
    return path


def export_access(
    run: "ExportRun", session: HubSession, frame: "pd.DataFrame", warnings: list[str], call: Call
) -> AccessResult:
    """The night's members, teams, repository team permissions and tokens, after its repositories: read
    whole (a listing the token may not read is left out with a warning; any other failure fails the
    run), then the access history, then the CSVs; none written unless all of the night was read. Then
    the night's review for the summary (`access_review`)."""
    from . import access, access_csv, access_fetch, access_review

    names, private = frame["name"].tolist(), frame["is_private"].fillna(False).tolist()
    repositories = [access.Repository(name, bool(flag)) for name, flag in zip(names, private, strict=True)]
    night, found = call(access_fetch.fetch_access, session, repositories, night=run.day)
    warnings += found
    if run.engine is not None:
        call(store.write_access_night, run.engine, run.org, night, started_at=run.began, run_id=run.run_id)
    paths = call(
        access_csv.write_access_csvs, night, repositories, run.settings.export_dir, run.org, run.day,
        safe=run.settings.csv_safe,
    )  # fmt: skip
    # after the night and the run's audit events are stored: compared with the previous stored night
    review = call(access_review.review_night, run.engine, run.org, night, repositories)
    counted = (night.members, night.teams, night.grants, night.tokens)
    members, teams, permissions, tokens = (None if part is None else len(part) for part in counted)
    missing = tuple(name for name in access.LISTINGS if name not in night.listings())
    return AccessResult(tuple(paths), members, teams, permissions, tokens, missing, review)


def export_tags(
    run: "ExportRun", session: HubSession, frame: "pd.DataFrame", warnings: list[str], call: Call
) -> TagResult:
    """The night's tags, after its repositories: listed where something says they may have changed,
    carried forward elsewhere; the tag history and the tags CSV, each complete or not written at all."""
    from . import tags  # only a run with tags needs it

    settings, org, night, engine = run.settings, run.org, run.day, run.engine
    names: list[str] = frame["name"].tolist()
    previous = None if engine is None else store.newest_tag_night(engine, org, before=night)
    if engine is None:  # no history to carry from: every repository's tags
        selection = tags.Selection(names, Counter({"no snapshot database": len(names)}))
    else:
        since = tags.audit_since(previous)  # the tag events the audit log has told since then (stored above)
        events = (
            None
            if since is None
            else store.audit.events(engine, org, since=since, action_prefixes=tags.TAG_ACTIONS)
        )
        refresh = run.options.tags_refresh_days
        selection = call(tags.select_repositories, engine, org, night, frame, refresh, previous, events)
    listing = call(fetch_tags, session, selection.repositories)
    warnings += listing.warnings
    inventory = call(tags.tags_frame, listing)
    if engine is not None:
        call(
            tags.store_tags,
            engine,
            org,
            night,
            inventory,
            listing,
            names,
            started_at=run.began,
            run_id=run.run_id,
        )
        inventory = call(tags.inventory_frame, engine, org, night, inventory, listing.fetched)
    path = call(tags.write_tags_csv, inventory, run.tags_csv_path, safe=settings.csv_safe)
    figures = tags.figures(inventory, night, previous, top=TOP_STALE)
    return TagResult(
        csv_path=path,
        tags=len(inventory),
        repositories_listed=len(listing.fetched),
        reasons=dict(selection.reasons),
        gone=tuple(listing.gone),
        requests=listing.stats.requests,
        previous_night=None if previous is None else previous.snapshot_date,
        bytes=figures.storage.total_bytes,
        previous_bytes=figures.previous_bytes,
        stale_days=figures.stale.days,
        stale_tags=figures.stale.tags_total,
        reclaimable_bytes=figures.stale.reclaimable_bytes,
        largest_stale=tuple(stale_tag(row) for row in figures.stale.tags[:TOP_STALE]),
    )


class ExportRun:
    """One export of one org: the snapshot database open and the run logged while it lasts.

    Entering checks the settings, opens the database (upgrading its schema) and logs the run as
    running; leaving closes the run-log row with the outcome, if `succeed` did not, and the engine.
    """

    def __init__(self, settings: Settings, options: RunOptions) -> None:
        self.settings = settings
        self.options = options
        self.org = settings.require_org()
        settings.require_token()
        self.day = options.snapshot_date
        self.csv_path = csv_output.csv_path(settings.export_dir, self.org, self.day, REPOSITORIES)
        self.tags_csv_path = csv_output.csv_path(settings.export_dir, self.org, self.day, TAGS)
        self.began = datetime.now(UTC).replace(tzinfo=None)
        self.engine: sa.Engine | None = None
        self.run_id: int | None = None
        self.listing: Listing | None = None
        self.session: HubSession | None = None  # the run's, once open: every Hub request's figures
        self._deferred_url: str | None = None
        self.frame: pd.DataFrame | None = None
        self.started = time.monotonic()

    def __enter__(self) -> "ExportRun":
        if self.options.write_snapshots:
            url = store.database_url(self.settings)
            if absent_sqlite_file(url) is None:
                self._open_store(url)
            else:  # a new database is made once the listing is in: a run that fails sooner leaves none
                self._deferred_url = url
        return self

    def open_store(self) -> None:
        """The database, if `__enter__` left a new one for now (the listing has come in since)."""
        if self._deferred_url is not None:
            url, self._deferred_url = self._deferred_url, None
            self._open_store(url)

    def _open_store(self, url: str) -> None:
        self.engine = store.open_engine(url)
        try:
            if self.options.include_tags:
                self._check_tag_night()
            if self.options.include_access:
                self._check_access_night()
            self.run_id = store.start_run(self.engine, org=self.org, snapshot_date=self.day)
        except BaseException:
            self.engine.dispose()
            raise

    def _check_access_night(self) -> None:
        """Access history runs forward too: refused before any request."""
        assert self.engine is not None
        newest = store.newest_access_night(self.engine, self.org)
        problem = store.access_nights.backwards(
            self.org, None if newest is None else newest.snapshot_date, self.day
        )
        if problem:
            raise ConfigError(problem)

    def _check_tag_night(self) -> None:
        """Tag history runs forward: refused before any request rather than after the night's fetch."""
        assert self.engine is not None
        newest = store.newest_tag_night(self.engine, self.org)
        problem = store.tag_nights.backwards(
            self.org, None if newest is None else newest.snapshot_date, self.day
        )
        if problem:
            raise ConfigError(problem)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if error is not None and self.engine is not None and self.run_id is not None:
                status = "refused" if isinstance(error, HistoryGuardError) else "failed"
                store.finish_run(
                    self.engine, self.run_id, status=status, error=one_line(error), **self.counts()
                )
                error.add_note(RUN_LOGGED)  # the failure's summary may say where it is recorded
        finally:
            if self.engine is not None:
                self.engine.dispose()  # no pooled connection outlives the run

    def accept(self, frame: "pd.DataFrame") -> "pd.DataFrame":
        """The typed listing, unless it is empty and an empty org was not allowed (`EmptyOrgError`)."""
        self.frame = frame
        if frame.empty and not self.options.allow_empty:
            raise EmptyOrgError(
                f"no repositories visible for org {self.org!r}: check the name and the token's repository "
                "permissions (pass --allow-empty / allow_empty to accept an empty org)"
            )
        return frame

    def counts(self) -> Counts:
        frame = self.frame
        return {
            "repositories": None if frame is None else int(len(frame)),
            "private": None if frame is None else int(frame["is_private"].fillna(False).sum()),
            "api_count": None if self.listing is None else self.listing.api_count,
        }

    def succeed(
        self,
        path: Path,
        warnings: list[str],
        summary: store.SnapshotSummary | None = None,
        movers: list[dict[str, Any]] | None = None,
        tags: TagResult | None = None,
        changes: dict[str, dict[str, dict[str, str]]] | None = None,
        anomalies: list[dict[str, Any]] | None = None,
        *,
        access: AccessResult | None = None,
        report: Path | None = None,
    ) -> RunResult:
        """The run's summary; the run log records the success."""
        counts, stats = self.counts(), self.hub_stats()
        repositories, private = counts["repositories"], counts["private"]
        assert repositories is not None and private is not None  # `accept` has taken the frame
        result = RunResult(
            org=self.org,
            snapshot_date=self.day,
            csv_path=path,
            repositories=repositories,
            private=private,
            api_count=counts["api_count"],
            warnings=tuple(warnings),
            snapshot=None if summary is None else _snapshot_changes(summary, changes, anomalies),
            top_movers=tuple(mover(row) for row in movers or ()),
            seconds=round(time.monotonic() - self.started, 2),
            retries=stats.retries,
            rate_limited=stats.rate_limited,
            waited_seconds=round(stats.waited_seconds, 1),
            tags=tags,
            access=access,
            report_path=report,
        )
        if self.engine is not None and self.run_id is not None:
            store.finish_run(
                self.engine,
                self.run_id,
                status="success",
                csv_path=str(path),
                warnings=warnings,
                **counts,
            )
            self.run_id = None  # closed: leaving must not close it again
        return result

    def hub_stats(self) -> hub.FetchStats:
        """Every Hub request of the run (repositories, audit log, tags): the summary's retries, 429s and
        waits."""
        assert self.session is not None  # a run succeeds only after its session has listed
        return self.session.stats


def _snapshot_changes(
    summary: store.SnapshotSummary,
    changes: dict[str, dict[str, dict[str, str]]] | None,
    anomalies: list[dict[str, Any]] | None,
) -> SnapshotChanges:
    """What the upsert found changed since the previous snapshot, with who did it where the audit log
    says, and the pull counts that fell (None: not looked for, there is no previous snapshot)."""
    attributed = _attributed(summary, changes)  # also gives the flips their "by" and "at"
    return SnapshotChanges(
        previous_date=summary.previous_date,
        added=tuple(summary.added),
        removed=tuple(summary.vanished),
        visibility_changed=tuple(summary.flipped),
        attributed=attributed,
        anomalies=None if anomalies is None else tuple(anomaly(item) for item in anomalies),
    )


def _attributed(
    summary: store.SnapshotSummary, changes: dict[str, dict[str, dict[str, str]]] | None
) -> dict[str, dict[str, Attribution]]:
    """Who added or removed each repository, and when, where the audit log says (name -> by, at); flips
    get their ``by`` and ``at`` in place."""
    added = [{"name": name} for name in summary.added]
    removed = [{"name": name} for name in summary.vanished]
    if changes:
        attribution.attribute(added, removed, summary.flipped, changes)
    return {
        key: {item["name"]: Attribution(by=item["by"], at=item["at"]) for item in items if "by" in item}
        for key, items in (("added", added), ("removed", removed))
    }


def one_line(exc: BaseException) -> str:
    """An error as the run log and the failure summary show it: our own messages as they are."""
    if isinstance(exc, ExportError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
