"""What one night's report says, typed: plain values read by the template, the tests and a caller.

Every section is None when the night has no data for it, and `Report.gaps` says why. Exact numbers
live here; the page formats them for people (1.2 GB, 3.4 M) and keeps the exact ones in attributes.
Usernames and token labels only: no email, no full name.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from ..access_changes import AccessChange


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure: the night's value and the comparison night's (None: not known)."""

    key: str  # repositories, private, pulls, stars, tags, storage, reclaimable, members
    label: str
    unit: str  # "" for a count, "B" for bytes
    value: int | None
    before: int | None = None
    since: date | None = None  # the night ``before`` is of
    note: str = ""  # what the figure is of, when not the report's night (an older tag or access night)

    @property
    def change(self) -> int | None:
        return None if self.value is None or self.before is None else self.value - self.before


@dataclass(frozen=True, slots=True)
class NightTotals:
    """The org on one snapshot night: its repositories, the private ones, pulls and stars summed."""

    night: date
    repositories: int
    private: int
    pulls: int
    stars: int


@dataclass(frozen=True, slots=True)
class Mover:
    """A repository's pull growth between two nights (a row of `snapshot_queries.trends`)."""

    name: str
    pulls: int | None  # on the later night
    gained: int | None
    is_private: bool | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class RepositoryChange:
    """A repository added, removed or flipped in the window; ``by``/``at`` from the audit log, if it
    explains the change (``at``: the event's canonical timestamp)."""

    name: str
    by: str | None = None
    at: str | None = None
    description: str = ""
    before: str | None = None  # a flip's visibility before and after: "public" / "private"
    after: str | None = None


@dataclass(frozen=True)
class Pulls:
    series: tuple[NightTotals, ...]  # every snapshot night of the window, oldest first
    movers: tuple[Mover, ...]  # the window's largest growths
    movers_series: dict[str, tuple[list[date], list[int]]]  # their pulls night by night
    night_movers: tuple[Mover, ...]  # the night's largest growths since the snapshot before it
    previous_night: date | None  # that snapshot


@dataclass(frozen=True)
class Changes:
    added: tuple[RepositoryChange, ...]
    removed: tuple[RepositoryChange, ...]
    flipped: tuple[RepositoryChange, ...]
    attributed: bool  # the audit log is stored: a change without ``by`` had no event


@dataclass(frozen=True, slots=True)
class RepositorySize:
    name: str
    bytes: int
    tags: int
    digests: int


@dataclass(frozen=True, slots=True)
class StaleTag:
    repository: str
    tag: str
    bytes: int | None
    last_pulled: str | None  # canonical timestamp text
    last_pushed: str | None


@dataclass(frozen=True)
class Storage:
    night: date  # the tag night read: the report's night or the newest tag night before it
    series: tuple[tuple[date, int], ...]  # the window's tag nights and their bytes
    total_bytes: int
    tags: int
    repositories: int
    largest: tuple[RepositorySize, ...]
    stale_days: int
    stale: tuple[StaleTag, ...]  # the largest stale tags
    stale_total: int
    reclaimable_bytes: int


@dataclass(frozen=True, slots=True)
class PrivilegedUser:
    """A user with write or admin on some private repository: per permission, on how many and the first
    few names; the teams that grant it (none for an owner or an editor: their role does)."""

    username: str
    role: str
    admin: int
    write: int
    repositories: tuple[str, ...]  # the first few, admin ones first
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenRow:
    label: str
    created_by: str
    expires_at: str | None
    last_used_at: str | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Access:
    night: date  # the access night read: the report's night or the newest before it
    roles: dict[str, int] | None  # members by role, invitees included; None: members not read
    changes: tuple[AccessChange, ...] | None  # the window's, newest night first; None: not compared
    changes_left_out: int
    changes_notes: tuple[str, ...]  # kinds of change the window cannot tell
    private_repositories: int
    privileged: tuple[PrivilegedUser, ...] | None  # None: members or permissions not read
    tokens: tuple[TokenRow, ...] | None  # expired, expiring or never expiring; None: not read
    expiring_days: int


@dataclass(frozen=True, slots=True)
class Gap:
    """A section the night lacks, or shows from an older night, and why."""

    section: str
    reason: str
    missing: bool = True  # False: shown, from an older night


@dataclass(frozen=True)
class Report:
    org: str
    night: date
    days: int
    compared_with: date | None  # the first snapshot night of the window (None: the night is alone)
    generated_at: datetime
    figures: tuple[Figure, ...]
    pulls: Pulls | None
    changes: Changes | None
    storage: Storage | None
    access: Access | None
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    def figure(self, key: str) -> Figure:
        return next(figure for figure in self.figures if figure.key == key)
