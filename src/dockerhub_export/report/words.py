"""How the page says numbers, dates and changes to people: the template's filters.

Counts and sizes are `humanize`'s (97.8 M, 999 MB), dates are words (8 November 2026), timestamps are
words to the minute in UTC. Exact values stay in the page's ``data-`` and ``title`` attributes.
"""

from datetime import date, datetime

from .. import humanize
from ..access import moment
from ..access_changes import (
    MEMBER_ADDED,
    MEMBER_REMOVED,
    PERMISSION_CHANGED,
    PERMISSION_GRANTED,
    PERMISSION_REVOKED,
    ROLE_CHANGED,
    TEAM_MEMBER_ADDED,
    TEAM_MEMBER_REMOVED,
    TOKEN_CREATED,
    TOKEN_REMOVED,
    AccessChange,
)

MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash
FLAG_WORDS = {
    "expired": "expired",
    "expires_soon": "expires soon",
    "never_expires": "never expires",
    "unused": "unused",
    "inactive": "deactivated",
}


def day(value: date | None) -> str:
    """``8 November 2026``."""
    return humanize.MISSING if value is None else f"{value.day} {value:%B %Y}"


def short_day(value: date | None) -> str:
    """``8 Nov 2026``: for table cells."""
    return humanize.MISSING if value is None else f"{value.day} {value:%b %Y}"


def when(value: str | datetime | None) -> str:
    """A timestamp in words, to the minute, in UTC: ``8 Nov 2026, 00:17 UTC``; "never" when absent."""
    parsed = moment(value)
    if parsed is None:
        return "never"
    return f"{short_day(parsed.date())}, {parsed:%H:%M} UTC"


def number(value: int | None, unit: str = "") -> str:
    """A count (``97.8 M``) or, with ``unit`` "B", a size (``1.2 GB``)."""
    return humanize.size(value) if unit == "B" else humanize.count(value)


def exact(value: int | None, unit: str = "") -> str:
    """The exact value with thousands separators: ``97,809,566 bytes``."""
    if value is None:
        return humanize.MISSING
    return f"{value:,} bytes" if unit == "B" else f"{value:,}"


def signed(value: int | None, unit: str = "") -> str:
    """A change: ``+1.2 M``, ``−350 MB``, ``no change``."""
    if value is None:
        return humanize.MISSING
    if value == 0:
        return "no change"
    text = number(abs(value), unit)
    return f"+{text}" if value > 0 else f"{MINUS}{text}"


def days_between(earlier: date, later: date) -> str:
    """``1 day``, ``30 days``."""
    return humanize.plural((later - earlier).days, "day")


def flags(values: tuple[str, ...]) -> str:
    return ", ".join(FLAG_WORDS.get(value, value) for value in values)


def access_change(change: AccessChange) -> tuple[str, str]:
    """(what the change is about, what happened) in words."""
    team, was, now = change.team or "", change.from_ or "", change.to or ""
    words = {
        MEMBER_ADDED: "invited" if now == "invitee" else f"joined as {now}",
        MEMBER_REMOVED: "invitation withdrawn" if was == "invitee" else f"left the org (was {was})",
        ROLE_CHANGED: f"role {was} \u2192 {now}",
        TEAM_MEMBER_ADDED: f"added to team {team}",
        TEAM_MEMBER_REMOVED: f"removed from team {team}",
        PERMISSION_GRANTED: f"team {team} granted {now}",
        PERMISSION_REVOKED: f"team {team} lost {was}",
        PERMISSION_CHANGED: f"team {team}: {was} \u2192 {now}",
        TOKEN_CREATED: "token created",
        TOKEN_REMOVED: "token removed",
    }
    subject = change.username or change.repository or change.token or ""
    return subject, words.get(change.change, change.change)
