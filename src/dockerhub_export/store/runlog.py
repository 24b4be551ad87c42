"""The run log: one `export_runs` row per run, opened as ``running`` and closed with its outcome.

Each update is its own transaction, so a run whose snapshot write failed is still recorded as failed.
"""

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from ..errors import StoreError
from .engine import writing
from .tables import export_runs
from .translate import redact

RUN_STATUSES = frozenset({"running", "success", "failed", "refused"})


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(engine: sa.Engine, *, org: str, snapshot_date: date) -> int:
    """A run-log row in status ``running``; returns its id for `finish_run`."""
    with writing(engine, "record the run start") as connection:
        result = connection.execute(
            sa.insert(export_runs).values(
                namespace=org, snapshot_date=snapshot_date, started_at=utcnow(), status="running"
            )
        )
        run_id = result.inserted_primary_key[0]  # type: ignore[index]
    return int(run_id)


def finish_run(
    engine: sa.Engine,
    run_id: int,
    *,
    status: str,
    repositories: int | None = None,
    private: int | None = None,
    api_count: int | None = None,
    csv_path: str | None = None,
    warnings: Sequence[str] = (),
    error: str | None = None,
) -> None:
    """Close the run-log row; its own transaction, so it also records runs whose upsert failed."""
    if status not in RUN_STATUSES - {"running"}:
        raise ValueError(f"status must be success, failed or refused, not {status!r}")
    with writing(engine, "record the run outcome") as connection:
        result = connection.execute(
            sa.update(export_runs)
            .where(export_runs.c.id == run_id)
            .values(
                finished_at=utcnow(),
                status=status,
                repositories=repositories,
                private=private,
                api_count=api_count,
                csv_path=csv_path,
                warnings=json.dumps(list(warnings)) if warnings else None,
                error=error,
            )
        )
        if result.rowcount == 0:
            raise StoreError(f"snapshot database {redact(engine.url)}: no run #{run_id} in the run log")
