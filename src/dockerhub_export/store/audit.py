"""The org's audit log in the snapshot database: each event once, whatever the overlap of the reads."""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..timestamps import TIMESTAMP_TEXT, timestamp_texts
from .bulk import insert_or_ignore
from .engine import reading, writing
from .tables import audit_events


def event_id(event: Mapping[str, Any]) -> str:
    """The md5 of the event's JSON (keys sorted): the audit log gives events no id of their own."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def latest_event(engine: sa.Engine, org: str) -> datetime | None:
    """When the newest stored event of ``org`` happened (naive UTC), or None."""
    with reading(engine, f"read the {org} audit log") as connection:
        return connection.execute(
            sa.select(sa.func.max(audit_events.c.occurred_at)).where(audit_events.c.namespace == org)
        ).scalar()


def store_events(engine: sa.Engine, org: str, events: Sequence[Mapping[str, Any]]) -> int:
    """Store the events not stored yet; returns how many were new. Events without a readable time or an
    action are skipped (the log's own contract says they have both)."""
    usable = [event for event in events if isinstance(event.get("action"), str) and event.get("timestamp")]
    times = timestamp_texts([event["timestamp"] for event in usable])
    rows = [
        {
            "namespace": org,
            "event_id": event_id(event),
            "occurred_at": datetime.strptime(text, TIMESTAMP_TEXT),
            "timestamp": str(event["timestamp"]),
            "action": event["action"],
            "name": event.get("name"),
            "actor": event.get("actor"),
            "data": json.dumps(event.get("data") or {}, sort_keys=True, ensure_ascii=False),
            "action_description": event.get("action_description"),
        }
        for event, text in zip(usable, times, strict=True)
        if text is not None
    ]
    if not rows:
        return 0
    with writing(engine, f"store the {org} audit log") as connection:
        before = _count(connection, org)
        connection.execute(insert_or_ignore(audit_events, connection.dialect.name), rows)
        return _count(connection, org) - before


def _count(connection: sa.Connection, org: str) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.count()).select_from(audit_events).where(audit_events.c.namespace == org)
        ).scalar_one()
    )


def events(
    engine: sa.Engine,
    org: str,
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    actions: Iterable[str] = (),
    action_prefixes: Iterable[str] = (),
    names: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Stored events of ``org``, newest first (the Hub's order): ``timestamp``, ``action``, ``name``,
    ``actor``, ``data`` (an object), ``action_description``. ``since``/``until`` bound the time (a date:
    from its start / to its end, UTC)."""
    query = sa.select(audit_events).where(audit_events.c.namespace == org)
    if since is not None:
        query = query.where(audit_events.c.occurred_at >= _moment(since))
    if until is not None:
        query = query.where(
            audit_events.c.occurred_at
            < _moment(until) + (timedelta(days=1) if type(until) is date else timedelta())
        )
    chosen = list(actions)
    prefixes = list(action_prefixes)
    if chosen or prefixes:
        query = query.where(
            sa.or_(
                audit_events.c.action.in_(chosen), *(audit_events.c.action.startswith(p) for p in prefixes)
            )
        )
    wanted = list(names)
    if wanted:
        query = query.where(audit_events.c.name.in_(wanted))
    query = query.order_by(audit_events.c.occurred_at.desc(), audit_events.c.action, audit_events.c.event_id)
    with reading(engine, f"read the {org} audit log") as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "timestamp": row["timestamp"],
            "action": row["action"],
            "name": row["name"],
            "actor": row["actor"],
            "data": json.loads(row["data"]) if row["data"] else {},
            "action_description": row["action_description"],
        }
        for row in rows
    ]


def _moment(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)
