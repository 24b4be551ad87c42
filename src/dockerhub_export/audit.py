"""The org's audit log, kept in the snapshot database: who changed what, and when.

Each run reads the events since the newest one stored, with an overlap (events can reach the log late),
and stores those it has not seen yet. The tag inventory reads them to know which repositories' tags
changed; `trends` and the nightly summary to say who added, removed or flipped a repository, and when.
Plans or tokens without audit logs (403 / 404) give one warning per run; the run goes on.
"""

from dataclasses import dataclass
from datetime import timedelta

import httpx
import sqlalchemy as sa

from . import store
from .auth import HubAuth
from .fetch import fetch_audit_log
from .settings import Settings

OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class AuditSync:
    read: int | None  # events the Hub gave (None: its audit log cannot be read with this token or plan)
    new: int  # of those, not stored before


def sync_audit_log(
    settings: Settings, auth: HubAuth, engine: sa.Engine, *, transport: httpx.AsyncBaseTransport | None = None
) -> AuditSync:
    """Read the events since the newest stored one (less `OVERLAP`; everything the first time), store
    the new ones."""
    org = settings.require_org()
    latest = store.audit.latest_event(engine, org)
    events = fetch_audit_log(
        settings, auth, None if latest is None else latest - OVERLAP, transport=transport
    )
    if events is None:
        return AuditSync(None, 0)
    return AuditSync(len(events), store.audit.store_events(engine, org, events))


def unavailable_warning(org: str) -> str:
    return (
        f"the {org} audit log cannot be read (the plan has none, or the token lacks 'Activity read', "
        "scope-activity-read): changes are not attributed, and deleted tags show within --tags-refresh-days"
    )
