"""What a successful run tells: the typed result of `pipeline.export` (and of the flow that runs it).

Frozen dataclasses of plain values (text, numbers, dates, paths, tuples and small typed rows), so a
flow can return one, mypy checks every reader, and the UI's texts (flows/summary.py) and the command
line read attributes rather than keys.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypedDict

from .access_changes import AccessChange


class Mover(TypedDict):
    """One of the night's top movers: a row of `snapshot_queries.top_movers` (the table keeps it all)."""

    name: str
    pulls_start: int | None
    pulls_end: int | None
    pulls_delta: int | None
    stars_start: int | None
    stars_end: int | None
    stars_delta: int | None
    is_private: bool | None


class Anomaly(TypedDict):
    """A repository whose pull count fell since the previous snapshot, or is unknown on either night."""

    name: str
    kind: Literal["pulls_decreased", "pulls_unknown"]
    pulls_start: int | None
    pulls_end: int | None


class StaleTag(TypedDict):
    """A tag without a pull or push for the stale days: a row of `tag_queries.stale`."""

    repository: str
    tag: str
    digest: str | None
    full_size: int | None
    tag_last_pulled: str | None  # canonical timestamp text
    tag_last_pushed: str | None


class Attribution(TypedDict):
    """Who made a change, and when, as the audit log says."""

    by: str
    at: str


def mover(row: Mapping[str, Any]) -> Mover:
    return Mover(
        name=row["name"],
        pulls_start=row["pulls_start"],
        pulls_end=row["pulls_end"],
        pulls_delta=row["pulls_delta"],
        stars_start=row["stars_start"],
        stars_end=row["stars_end"],
        stars_delta=row["stars_delta"],
        is_private=row["is_private"],
    )


def anomaly(row: Mapping[str, Any]) -> Anomaly:
    return Anomaly(
        name=row["name"], kind=row["kind"], pulls_start=row["pulls_start"], pulls_end=row["pulls_end"]
    )


def stale_tag(row: Mapping[str, Any]) -> StaleTag:
    return StaleTag(
        repository=row["repository"],
        tag=row["tag"],
        digest=row["digest"],
        full_size=row["full_size"],
        tag_last_pulled=row["tag_last_pulled"],
        tag_last_pushed=row["tag_last_pushed"],
    )


@dataclass(frozen=True)
class SnapshotChanges:
    """What changed since the previous snapshot of the org (``previous_date`` None: there is none)."""

    previous_date: date | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # {"name", "from", "to"} (public / private), with "by" and "at" where the audit log says
    visibility_changed: tuple[dict[str, str], ...] = ()
    # "added" / "removed" -> repository -> who and when, for the changes the audit log explains
    attributed: Mapping[str, Mapping[str, Attribution]] = field(default_factory=dict)
    anomalies: tuple[Anomaly, ...] | None = None  # None: not looked for


@dataclass(frozen=True)
class TagResult:
    """The night's tags: the inventory, what was listed tonight and why, stale tags, storage."""

    csv_path: Path
    tags: int
    repositories_listed: int
    reasons: Mapping[str, int]  # why repositories were listed tonight -> how many
    gone: tuple[str, ...]  # repositories deleted while their tags were listed
    requests: int
    previous_night: date | None
    bytes: int  # each digest once per repository
    previous_bytes: int | None
    stale_days: int
    stale_tags: int
    reclaimable_bytes: int  # digests only stale tags point at
    largest_stale: tuple[StaleTag, ...]  # the largest stale tags, largest first


@dataclass(frozen=True, slots=True)
class PrivateAccess:
    """A user who may push to or administer private repositories: the highest such permission they hold,
    on how many of the night's private repositories (write or admin)."""

    username: str
    role: str
    permission: str  # write or admin
    repositories: int


@dataclass(frozen=True, slots=True)
class TokenStanding:
    """An access token the review names: expired, expiring soon or never expiring (no secret in it; the
    summary shows its label and creator, the Prefect event its id too)."""

    id: str
    label: str
    created_by: str  # a username
    expires_at: str | None  # canonical timestamp text; None: never expires
    days_left: int | None  # from the night's date to the expiry's (UTC dates); None: never expires
    flags: tuple[str, ...]  # `access.token_flags` (expiring within the review's ``expiring_days``)


@dataclass(frozen=True)
class AccessReview:
    """What the night's access says to an auditor (`access_review.review`). A part is None when the
    night lacks the listing it needs: "not read", never "none"."""

    night: date
    history: bool  # the night went to the snapshot database (else nothing to compare with)
    roles: Mapping[str, int] | None  # members by role (invitees included), None: members not read
    previous_night: date | None  # the stored access night the changes are counted from (None: none)
    changes: tuple[AccessChange, ...] | None  # attributed where the audit log says; None: not compared
    uncompared: tuple[str, ...]  # listings either night lacks: their changes are unknown
    private_repositories: int  # the night's private repositories
    private_access: tuple[PrivateAccess, ...] | None  # widest first; None: members or permissions unread
    tokens: tuple[TokenStanding, ...] | None  # expired, expiring within expiring_days, never expiring
    expiring_days: int
    alert_days: int  # tokens expiring within this many days make a Prefect event

    def tokens_with(self, flag: str) -> tuple[TokenStanding, ...] | None:
        return None if self.tokens is None else tuple(t for t in self.tokens if flag in t.flags)

    @property
    def alerts(self) -> tuple[TokenStanding, ...]:
        """Tokens not expired that expire within ``alert_days`` of the night (soonest first)."""
        found = [
            token
            for token in self.tokens or ()
            if token.days_left is not None and 0 <= token.days_left <= self.alert_days
        ]
        return tuple(sorted(found, key=lambda token: (token.days_left, token.label, token.id)))


@dataclass(frozen=True)
class AccessResult:
    """The night's access section: its CSVs and counts (None: a listing the token may not read)."""

    csv_paths: tuple[Path, ...]
    members: int | None
    teams: int | None
    permissions: int | None  # repository team permissions
    tokens: int | None
    missing: tuple[str, ...]  # the listings the night lacks
    review: AccessReview | None = None  # None: not reviewed


@dataclass(frozen=True)
class OrgNight:
    """An org's night in one line: what a multi-org run shows of each org (and reads back from an org's
    run on another worker, whose return value it cannot see)."""

    org: str
    snapshot_date: date
    repositories: int
    private: int
    tags: int | None  # None: tags were not exported
    csv_path: Path


@dataclass(frozen=True)
class RunResult:
    """One org's successful night: what was written, what changed, what the Hub cost."""

    org: str
    snapshot_date: date
    csv_path: Path
    repositories: int
    private: int
    api_count: int | None  # what the Hub said it holds
    warnings: tuple[str, ...]
    snapshot: SnapshotChanges | None  # None: snapshots are off for this run
    top_movers: tuple[Mover, ...]
    seconds: float
    # every Hub request of the run: retries after errors, 429s, and the seconds they made it wait
    retries: int
    rate_limited: int
    waited_seconds: float
    tags: TagResult | None = None  # None: tags were not exported
    access: AccessResult | None = None  # None: access was not exported
    report_path: Path | None = None  # the night's HTML report; None: not asked for, or not written

    @property
    def csv_paths(self) -> tuple[Path, ...]:
        """Every CSV the run wrote: the repositories', then the tags', then the access ones."""
        tags = () if self.tags is None else (self.tags.csv_path,)
        return (self.csv_path, *tags, *(() if self.access is None else self.access.csv_paths))

    def night(self) -> OrgNight:
        return OrgNight(
            self.org,
            self.snapshot_date,
            self.repositories,
            self.private,
            None if self.tags is None else self.tags.tags,
            self.csv_path,
        )
