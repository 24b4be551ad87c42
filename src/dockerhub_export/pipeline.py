"""The nightly export, written once: authenticate → fetch → transform → check → write CSV → upsert → movers,
then, with tags: read the audit log → select repositories → fetch their tags → upsert the tag night →
write the tags CSV.

`export` runs the stages in order. Each stage is a plain library function, called through ``call``:
directly by default (the command line's in-process run), or as a Prefect task (the flow passes a
``call`` that maps each function to its task). Either way the outputs, the run log and the errors are
the same, because the sequence is this one function.

`ExportRun` holds what a run owns for its duration, whatever happens: the snapshot database's engine
and the run-log row, closed with the outcome (success, failed, or refused by the history guard).
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypedDict, TypeVar

from . import attribution, audit, csv_output, guard, hub, reports, store, tags, transform
from .auth import HubAuth
from .errors import ConfigError, EmptyOrgError, ExportError, HistoryGuardError
from .fetch import Listing, fetch_all_pages, fetch_tags
from .resources import REPOSITORIES, TAGS
from .settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

P = ParamSpec("P")
T = TypeVar("T")
TOP_MOVERS = 10
TOP_STALE = 20  # the nightly summary's table of the largest stale tags


class Call(Protocol):
    """How a stage runs: ``call(function, *args, **kwargs)`` returns what ``function`` returns."""

    def __call__(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


def direct(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return function(*args, **kwargs)


@dataclass(frozen=True)
class RunOptions:
    """What a run does besides the settings: the day it files, and the overrides a user may give."""

    snapshot_date: date
    allow_empty: bool = False  # accept an org with zero visible repositories
    allow_drop: bool = False  # accept what the history guard would refuse, as warnings
    write_snapshots: bool = True  # also upsert the day's snapshot and log the run
    include_tags: bool = False  # also every repository's tags: their CSV and the tag history
    tags_refresh_days: int = 7  # list a repository's tags at least this often (0: every night)


class Counts(TypedDict):
    """What the run log records of a run's listing (None: not that far)."""

    repositories: int | None
    private: int | None
    api_count: int | None


def listing_frame(listing: Listing) -> "pd.DataFrame":
    """The listing typed; its raw columns are freed one by one as the frame takes them over."""
    return transform.from_columns(listing.columns, listing.resource.schema, listing.org, consume=True)


def export(settings: Settings, options: RunOptions, *, call: Call = direct) -> dict[str, Any]:
    """One org's repositories to the dated CSV and the day's snapshot; returns the run's summary."""
    with ExportRun(settings, options) as run:
        auth = call(hub.authenticate, settings)
        run.listing = call(fetch_all_pages, settings, auth, REPOSITORIES)
        frame = run.accept(call(listing_frame, run.listing))
        warnings = list(run.listing.warnings)
        if run.engine is not None:
            warnings += call(
                guard.check_history, run.engine, run.org, run.day, frame, allow_drop=options.allow_drop
            )
        path = call(csv_output.write_csv, frame, run.csv_path, REPOSITORIES, safe=settings.csv_safe)
        summary, movers, changes = None, None, None
        if run.engine is not None:
            summary = call(
                store.upsert_snapshot, run.engine, run.org, run.day, frame, run_id=run.run_id,
                api_count=run.listing.api_count,
            )  # fmt: skip
            movers = call(reports.top_movers, run.engine, run.org, run.day, n=TOP_MOVERS)
            if call(audit.sync_audit_log, settings, auth, run.engine).read is None:
                warnings.append(audit.unavailable_warning(run.org))
            if summary.previous_date is not None:
                changes = call(
                    attribution.attributed_changes, run.engine, run.org, summary.previous_date, run.day
                )
        tag_result = export_tags(run, auth, frame, warnings, call) if options.include_tags else None
        return run.succeed(path, warnings, summary, movers, tag_result, changes)


def export_tags(
    run: "ExportRun", auth: HubAuth, frame: "pd.DataFrame", warnings: list[str], call: Call
) -> dict[str, Any]:
    """The night's tags, after its repositories: listed where something says they may have changed,
    carried forward elsewhere; the tag history and the tags CSV, each complete or not written at all."""
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
    listing = call(fetch_tags, settings, auth, selection.repositories)
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
    path = call(csv_output.write_csv, inventory, run.tags_csv_path, TAGS, safe=settings.csv_safe)
    figures = tags.figures(inventory, night, previous)
    return {
        "csv_path": str(path),
        "tags": len(inventory),
        "repositories_listed": len(listing.fetched),
        "reasons": dict(selection.reasons),
        "gone": listing.gone,
        "requests": listing.stats.requests,
        "previous_night": None if previous is None else previous.snapshot_date.isoformat(),
        "bytes": figures.storage.total_bytes,
        "previous_bytes": figures.previous_bytes,
        "stale_days": figures.stale.days,
        "stale_tags": len(figures.stale.tags),
        "reclaimable_bytes": figures.stale.reclaimable_bytes,
        "largest_stale": figures.stale.tags[:TOP_STALE],
    }


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
        self.frame: pd.DataFrame | None = None
        self.started = time.monotonic()

    def __enter__(self) -> "ExportRun":
        if self.options.write_snapshots:
            self.engine = store.open_engine(store.database_url(self.settings))
            try:
                if self.options.include_tags:
                    self._check_tag_night()
                self.run_id = store.start_run(self.engine, org=self.org, snapshot_date=self.day)
            except BaseException:
                self.engine.dispose()
                raise
        return self

    def _check_tag_night(self) -> None:
        """Tag history runs forward: a night older than its newest can take repositories, not tags."""
        assert self.engine is not None
        newest = store.newest_tag_night(self.engine, self.org)
        if newest is not None and newest.snapshot_date > self.day:
            raise ConfigError(
                f"the {self.org} tag history runs forward and its newest night is "
                f"{newest.snapshot_date.isoformat()}: run {self.day.isoformat()} without --tags "
                "(include_tags)"
            )

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if error is not None and self.engine is not None and self.run_id is not None:
                status = "refused" if isinstance(error, HistoryGuardError) else "failed"
                store.finish_run(
                    self.engine, self.run_id, status=status, error=one_line(error), **self.counts()
                )
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
        tags: dict[str, Any] | None = None,
        changes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The run's summary; the run log records the success."""
        assert self.listing is not None
        stats = self.listing.stats
        result = {
            "org": self.org,
            "snapshot_date": self.day.isoformat(),
            "csv_path": str(path),
            "csv_paths": [str(path)] + ([tags["csv_path"]] if tags else []),
            **self.counts(),
            "warnings": warnings,
            "snapshot": None
            if summary is None
            else {
                "previous_date": None if summary.previous_date is None else summary.previous_date.isoformat(),
                "added": summary.added,
                "removed": summary.vanished,
                "visibility_changed": summary.flipped,
                "attributed": _attributed(summary, changes),
            },
            "top_movers": [dict(row) for row in movers or []],
            "seconds": round(time.monotonic() - self.started, 2),
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "waited_seconds": round(stats.waited_seconds, 1),
            "tags": tags,
        }
        if self.engine is not None and self.run_id is not None:
            store.finish_run(
                self.engine,
                self.run_id,
                status="success",
                csv_path=str(path),
                warnings=warnings,
                **self.counts(),
            )
            self.run_id = None  # closed: leaving must not close it again
        return result


def _attributed(summary: store.SnapshotSummary, changes: dict[str, Any] | None) -> dict[str, Any]:
    """Who added or removed each repository, and when, where the audit log says (name -> by, at); flips
    get their ``by`` and ``at`` in place."""
    added = [{"name": name} for name in summary.added]
    removed = [{"name": name} for name in summary.vanished]
    if changes:
        attribution.attribute(added, removed, summary.flipped, changes)
    return {
        key: {item["name"]: {"by": item["by"], "at": item["at"]} for item in items if "by" in item}
        for key, items in (("added", added), ("removed", removed))
    }


def one_line(exc: BaseException) -> str:
    """An error as the run log and the failure summary show it: our own messages as they are."""
    if isinstance(exc, ExportError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
