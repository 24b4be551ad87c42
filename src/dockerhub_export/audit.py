"""The org's audit log, kept in the snapshot database: who changed what, and when.

Each run reads the events since the newest one stored, with an overlap (events can reach the log late),
and stores those it has not seen yet. The tag inventory reads them to know which repositories' tags
changed; `trends` and the nightly summary to say who added, removed or flipped a repository, and when.
The audit log is an optional resource (`resources.AUDIT_LOG`): plans or tokens without it give one
warning per run, and the run goes on.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa

from . import store
from .fetch import fetch_audit_log
from .resources import AUDIT_LOG
from .session import HubSession
from .timestamps import OVERLAP


@dataclass(frozen=True)
class AuditSync:
    read: int | None  # events the Hub gave (None: its audit log cannot be read with this token or plan)
    new: int  # of those, not stored before
    warnings: list[str] = field(default_factory=list)  # why it could not be read, and what that costs


def sync_audit_log(session: HubSession, engine: sa.Engine) -> AuditSync:
    """Read the events since the newest stored one (less `OVERLAP`; everything the first time), store
    the new ones."""
    org = session.org
    latest = store.audit.latest_event(engine, org)
    since = None if latest is None else latest - OVERLAP
    warnings: list[str] = []
    events = session.fetch_optional(AUDIT_LOG, lambda: fetch_audit_log(session, since), warnings)
    if events is None:
        return AuditSync(None, 0, warnings)
    return AuditSync(len(events), store.audit.store_events(engine, org, events))
