"""The nightly summary's Access section (issue 16): members by role, the night's changes and who made
them, who may push to or administer private repositories, tokens expired, expiring soon or never
expiring. Plain functions of the night's `AccessResult`, no Prefect import (summary.py calls them).

The summary is forwarded (chat, e-mail): usernames, team, repository and token labels, and counts only,
never an email. A part the night could not read says "not read", never "none".
"""

from collections.abc import Mapping, Sequence

from dockerhub_export import access_changes as changes
from dockerhub_export.access import EXPIRED, EXPIRES_SOON, NEVER_EXPIRES, ROLES
from dockerhub_export.access_changes import AccessChange
from dockerhub_export.humanize import count, moment
from dockerhub_export.results import AccessResult, AccessReview, PrivateAccess, TokenStanding

NOT_READ = "not read"
MAX_TOKENS = 20  # tokens named per row before "... and N more" (the tokens CSV has them all)
MAX_CHANGES = 30  # changes listed before "... and N more" (`access-changes` lists them all)
MAX_USERS = 20  # rows of the write/admin table (the access CSV has them all)


def access_markdown(access: AccessResult, org: str) -> list[str]:
    """The section's lines (none without a review)."""
    review = access.review
    if review is None:
        return []
    lines = [
        "",
        "## Access",
        "",
        "| | |",
        "|---|---|",
        f"| Members by role | {roles_text(review.roles)} |",
        f"| {_changes_label(review)} | {_cell(changes_text(review))} |",
        f"| Write or admin on private repositories | {private_text(review)} |",
    ]
    for flag, label in (
        (EXPIRED, "Tokens expired"),
        (EXPIRES_SOON, f"Tokens expiring within {review.expiring_days} days"),
        (NEVER_EXPIRES, "Tokens never expiring"),
    ):
        lines.append(f"| {label} | {_cell(tokens_text(review.tokens_with(flag)))} |")
    return lines + _changes_list(review, org) + _private_table(review)


def roles_text(roles: Mapping[str, int] | None) -> str:
    """``2 owners, 1 editor, 40 members, 2 invitees`` (another role the Hub names after them)."""
    if roles is None:
        return NOT_READ
    ordered = [*ROLES, *sorted(set(roles) - set(ROLES))]
    return ", ".join(f"{count(roles[role])} {role}{'' if roles[role] == 1 else 's'}" for role in ordered)


# -- changes ----------------------------------------------------------------------------------------


def _changes_label(review: AccessReview) -> str:
    since = review.previous_night
    return f"Changes since {since}" if since is not None else "Changes"


def changes_text(review: AccessReview) -> str:
    """How many changes, how many the audit log explains, and what could not be compared."""
    if review.changes is None:
        if not review.history:
            return "not compared (snapshots are off for this run)"
        return "not compared: no earlier access night of this org"
    found = review.changes
    attributed = sum(1 for change in found if change.by is not None)
    text = f"{count(len(found))} ({count(attributed)} with who made them)" if found else "none"
    if review.uncompared:
        text += f"; not compared ({NOT_READ} on one of the two nights): {', '.join(review.uncompared)}"
    return text


def change_text(change: AccessChange) -> str:
    """``alice added to team dev by bob at 2026-12-03 21:04``: the change, then who and when if the audit
    log says (a repository's team permission has no audit action: nobody to name)."""
    user, team, repo = _code(change.username), _code(change.team), _code(change.repository)
    what = {
        changes.MEMBER_ADDED: f"{user} {'invited' if change.to == 'invitee' else 'joined'} as {change.to}",
        changes.MEMBER_REMOVED: f"{user} ({change.from_}) removed from the org",
        changes.ROLE_CHANGED: f"{user} role {change.from_} → {change.to}",
        changes.TEAM_MEMBER_ADDED: f"{user} added to team {team}",
        changes.TEAM_MEMBER_REMOVED: f"{user} removed from team {team}",
        changes.PERMISSION_GRANTED: f"team {team} granted {change.to} on {repo}",
        changes.PERMISSION_REVOKED: f"team {team} lost {change.from_} on {repo}",
        changes.PERMISSION_CHANGED: f"team {team} on {repo}: {change.from_} → {change.to}",
        changes.TOKEN_CREATED: f"token {_code(change.token)} created",
        changes.TOKEN_REMOVED: f"token {_code(change.token)} removed",
    }.get(change.change, change.change)
    if change.by is not None:
        return f"{what} by {change.by} at {moment(change.at)[:16]}"  # to the minute, UTC
    if change.change.startswith("permission_"):
        return what
    return f"{what} (no audit event says who)"


def _changes_list(review: AccessReview, org: str) -> list[str]:
    found = review.changes or ()
    if not found:
        return []
    lines = ["", f"### Changes since {review.previous_night}", ""]
    lines += [f"- {_line(change_text(change))}" for change in found[:MAX_CHANGES]]
    more = len(found) - MAX_CHANGES
    if more > 0:
        lines.append(
            f"- ... and {count(more)} more: `dockerhub-export access-changes --org {org} --since "
            f"{review.previous_night} --until {review.night}` lists them all"
        )
    return lines


# -- write and admin on private repositories --------------------------------------------------------


def private_text(review: AccessReview) -> str:
    users = review.private_access
    if users is None:
        return NOT_READ
    repos = f"{count(review.private_repositories)} private repositor" + (
        "y" if review.private_repositories == 1 else "ies"
    )
    admins = sum(1 for user in users if user.permission == "admin")
    return f"{count(len(users))} users ({count(admins)} with admin), on {repos}"


def _private_table(review: AccessReview) -> list[str]:
    users = review.private_access or ()
    if not users:
        return []
    shown = users[:MAX_USERS]
    heading = (
        f"### The {count(len(shown))} users with the widest write or admin of {count(len(users))}"
        if len(shown) < len(users)
        else "### Write or admin on private repositories"
    )
    lines = ["", heading, "", "| user | role | highest | private repositories |", "|---|---|---|---|"]
    lines += [_private_row(user) for user in shown]
    if len(shown) < len(users):
        lines += ["", f"... and {count(len(users) - len(shown))} more: the access CSV lists them all."]
    return lines


def _private_row(user: PrivateAccess) -> str:
    cells = (user.username, user.role, user.permission, count(user.repositories))
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


# -- tokens -----------------------------------------------------------------------------------------


def tokens_text(tokens: Sequence[TokenStanding] | None) -> str:
    """``2: `deploy-2` (by alice, expires 2026-12-09, in 5 days), ...``: labels and creators only."""
    if tokens is None:
        return NOT_READ
    if not tokens:
        return "none"
    shown = ", ".join(_token(token) for token in tokens[:MAX_TOKENS])
    more = len(tokens) - MAX_TOKENS
    return f"{count(len(tokens))}: {shown}" + (f" ... and {count(more)} more" if more > 0 else "")


def _token(token: TokenStanding) -> str:
    details = [f"by {token.created_by}"] if token.created_by else []
    days, day = token.days_left, (token.expires_at or "")[:10]
    if days is not None and days < 0:
        details.append(f"expired {day}")
    elif days is not None:
        details.append(f"expires {day}, " + ("today" if days == 0 else f"in {_days(days)}"))
    if "inactive" in token.flags:
        details.append("inactive")
    return f"{_code(token.label)} ({', '.join(details)})" if details else _code(token.label)


def _days(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


# -- text -------------------------------------------------------------------------------------------


def _code(text: str | None) -> str:
    """A name as inline code (backticks inside it dropped: they would end the span)."""
    return f"`{(text or '').replace('`', '')}`"


def _line(text: str) -> str:
    return text.replace("\n", " ")


def _cell(value: object) -> str:
    return _line(str(value)).replace("|", "\\|")
