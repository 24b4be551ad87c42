"""The pipeline written once: its stages in order, the run log it keeps, the empty-org rule and the
history guard; run directly (the command line's in-process mode) against the fake Hub over real HTTP."""

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ORG, PUBLIC_TOKEN, REPO_COUNT

from dockerhub_export import audit, csv_output, guard, pipeline, reports, store
from dockerhub_export import hub as hubmod
from dockerhub_export.errors import AuthError, EmptyOrgError, HistoryGuardError
from dockerhub_export.fetch import fetch_all_pages
from dockerhub_export.pipeline import RunOptions, export

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
        hubmod.authenticate,
        fetch_all_pages,
        pipeline.listing_frame,
        guard.check_history,
        csv_output.write_csv,
        store.upsert_snapshot,
        reports.top_movers,
        audit.sync_audit_log,  # the first snapshot: no changes to attribute yet
    ]
    assert result["repositories"] == REPO_COUNT and Path(result["csv_path"]).is_file()
    assert result["snapshot"] == {
        "previous_date": None,
        "added": [],
        "removed": [],
        "visibility_changed": [],
        "attributed": {"added": {}, "removed": {}},
    }
    (run,) = _runs(settings)
    assert (run["status"], run["repositories"], run["csv_path"]) == (
        "success",
        REPO_COUNT,
        result["csv_path"],
    )


def test_without_snapshots_there_is_no_database_and_no_run_log(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub)
    result = export(settings, RunOptions(DAY1, write_snapshots=False))
    assert result["snapshot"] is None and result["top_movers"] == []
    assert not (Path(settings.export_dir) / "snapshots.db").exists()


def test_a_failure_is_logged_with_its_reason_and_leaves_no_csv(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub, token="wrong")
    with pytest.raises(AuthError):
        export(settings, RunOptions(DAY1))
    (run,) = _runs(settings)
    assert run["status"] == "failed" and "rejected the credentials" in run["error"]
    assert run["repositories"] is None and not list(Path(settings.export_dir).rglob("*.csv"))


def test_an_empty_org_fails_unless_allowed(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    hub.repos[ORG] = []
    settings = settings_for(hub)
    with pytest.raises(EmptyOrgError, match="no repositories visible for org 'acme'"):
        export(settings, RunOptions(DAY1))
    assert export(settings, RunOptions(DAY1, allow_empty=True))["repositories"] == 0
    assert [run["status"] for run in _runs(settings)] == ["failed", "success"]
    assert _runs(settings)[0]["repositories"] == 0  # the run log knows how far it got


def test_the_history_guard_refuses_and_the_run_log_says_so(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    export(settings_for(hub), RunOptions(DAY1))
    public = settings_for(hub, token=PUBLIC_TOKEN)
    with pytest.raises(HistoryGuardError):
        export(public, RunOptions(DAY2))
    assert not csv_output.csv_path(public.export_dir, ORG, DAY2, pipeline.REPOSITORIES).exists()
    allowed = export(public, RunOptions(DAY2, allow_drop=True))
    assert allowed["warnings"] and "lost access to private repositories" in allowed["warnings"][0]
    assert [run["status"] for run in _runs(public)] == ["success", "refused", "success"]
