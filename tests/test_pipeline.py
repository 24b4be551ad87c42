"""The pipeline written once: its stages in order, the run log it keeps, the empty-org rule and the
history guard; run directly (the command line's in-process mode) against the fake Hub over real HTTP."""

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ORG, PUBLIC_TOKEN, REPO_COUNT

from dockerhub_export import audit, csv_output, guard, pipeline, snapshot_queries, store
from dockerhub_export.errors import AuthError, EmptyOrgError, HistoryGuardError
from dockerhub_export.fetch import fetch_all_pages
from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.results import SnapshotChanges
from dockerhub_export.session import open_session

DAY1, DAY2 = date(2026, 11, 26), date(2026, 11, 27)


def _runs(settings: Any) -> list[dict[str, Any]]:
    engine = store.open_engine(store.database_url(settings))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.export_runs).order_by(store.export_runs.c.id)
            ).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def test_the_stages_run_in_the_design_order_through_the_given_call(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    """The flow passes a `call` that runs each stage as its task: this is the order it sees."""
    seen: list[Callable[..., Any]] = []

    def recording(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        seen.append(function)
        return function(*args, **kwargs)

    settings = settings_for(hub)
    result = export(settings, RunOptions(DAY1), call=recording)
    assert seen == [
        open_session,
        fetch_all_pages,
        pipeline.listing_frame,
        guard.check_history,
        csv_output.write_csv,
        store.upsert_snapshot,
        snapshot_queries.top_movers,
        audit.sync_audit_log,  # the first snapshot: no changes to attribute yet
    ]
    assert result.repositories == REPO_COUNT and result.csv_path.is_file()
    assert result.csv_paths == (result.csv_path,) and result.tags is None
    assert result.snapshot == SnapshotChanges(None, attributed={"added": {}, "removed": {}})
    (run,) = _runs(settings)
    assert (run["status"], run["repositories"], run["csv_path"]) == (
        "success",
        REPO_COUNT,
        str(result.csv_path),
    )


def test_without_snapshots_there_is_no_database_and_no_run_log(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub)
    result = export(settings, RunOptions(DAY1, write_snapshots=False))
    assert result.snapshot is None and result.top_movers == ()
    assert not (Path(settings.export_dir) / "snapshots.db").exists()


def test_a_failure_is_logged_with_its_reason_and_leaves_no_csv(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    export(settings_for(hub), RunOptions(DAY1))
    settings = settings_for(hub, token="wrong")
    with pytest.raises(AuthError):
        export(settings, RunOptions(DAY2))
    first, run = _runs(settings)
    assert run["status"] == "failed" and "rejected the credentials" in run["error"]
    assert (
        run["repositories"] is None
        and not csv_output.csv_path(settings.export_dir, ORG, DAY2, pipeline.REPOSITORIES).exists()
    )


def test_a_first_run_that_fails_before_the_listing_leaves_no_database_and_no_folder(
    hub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub, token="wrong")
    with pytest.raises(AuthError):
        export(settings, RunOptions(DAY1))
    assert not Path(settings.export_dir).exists()  # no empty snapshots.db to puzzle over
    export(settings_for(hub), RunOptions(DAY1))  # the next, right, run makes it
    assert [run["status"] for run in _runs(settings)] == ["success"]


def test_an_empty_org_fails_unless_allowed(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    hub.repos[ORG] = []
    settings = settings_for(hub)
    with pytest.raises(EmptyOrgError, match="no repositories visible for org 'acme'"):
        export(settings, RunOptions(DAY1))
    assert export(settings, RunOptions(DAY1, allow_empty=True)).repositories == 0
    assert [run["status"] for run in _runs(settings)] == ["failed", "success"]
    assert _runs(settings)[0]["repositories"] == 0  # the run log knows how far it got


def test_the_history_guard_refuses_and_the_run_log_says_so(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    export(settings_for(hub), RunOptions(DAY1))
    public = settings_for(hub, token=PUBLIC_TOKEN)
    with pytest.raises(HistoryGuardError):
        export(public, RunOptions(DAY2))
    assert not csv_output.csv_path(public.export_dir, ORG, DAY2, pipeline.REPOSITORIES).exists()
    allowed = export(public, RunOptions(DAY2, allow_drop=True))
    assert allowed.warnings and "lost access to private repositories" in allowed.warnings[0]
    assert [run["status"] for run in _runs(public)] == ["success", "refused", "success"]


def test_a_night_reports_the_pull_counts_that_fell_or_are_unknown(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub)
    export(settings, RunOptions(DAY1))
    fell, unknown = hub.repos[ORG][0], hub.repos[ORG][1]
    before = fell["pull_count"]
    fell["pull_count"] = before - 5
    unknown["pull_count"] = None
    snapshot = export(settings, RunOptions(DAY2)).snapshot
    assert snapshot is not None and snapshot.anomalies is not None
    anomalies = snapshot.anomalies
    by_name = {item["name"]: item for item in anomalies}
    assert by_name[fell["name"]] == {
        "name": fell["name"],
        "kind": "pulls_decreased",
        "pulls_start": before,
        "pulls_end": before - 5,
    }
    assert by_name[unknown["name"]]["kind"] == "pulls_unknown"
    assert all(
        item["kind"] == "pulls_unknown" or item["pulls_end"] < item["pulls_start"] for item in anomalies
    )
