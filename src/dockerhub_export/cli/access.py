"""``members``, ``access``, ``tokens`` and ``access-changes``: the access review, from the command line.

Each reads the access nights that ``run --access`` stored (`access_queries`): ``--date`` picks the night
(default: the newest night that has the data; a date without a night takes the nearest one before it,
and says so on stderr). A night whose run could not read a listing is an error naming what the token
lacked, never an empty list. No pandas, no Prefect, no HTTP client. Machine-readable output (csv, json)
goes to stdout alone; notes go to stderr. Tables show every row: an access review reads them all.
"""

import enum
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .options import (
    DatabaseUrlOption,
    FormatOption,
    OrgOption,
    OutputDirOption,
    UntilOption,
    open_existing,
    parse_day,
    settings_from,
)
from .output import Format, csv_cell, people_console, people_table, plural, render

if TYPE_CHECKING:
    from ..access_queries import AccessReport, ChangesReport, MembersReport, TokensReport

DateOption = Annotated[
    str | None,
    typer.Option("--date", help="The night, YYYY-MM-DD. Default: the newest night that has the data."),
]
MEMBER_COLUMNS = ("username", "full_name", "email", "role", "is_guest", "teams", "date_joined")
ACCESS_COLUMNS = ("repository", "username", "permission", "role", "teams")
TOKEN_COLUMNS = (
    "id", "label", "created_by", "is_active", "created_at", "expires_at", "last_used_at",
    "resources", "flags",
)  # fmt: skip
CHANGE_COLUMNS = ("night", "change", "username", "team", "repository", "token", "from", "to", "by", "at")


class Permission(enum.StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


def register(app: typer.Typer) -> None:
    """Add ``members``, ``access``, ``tokens`` and ``access-changes`` to ``app``."""
    app.command("members")(members)
    app.command("access")(access)
    app.command("tokens")(tokens)
    app.command("access-changes")(access_changes)


def _note(text: str | None) -> None:
    if text:
        typer.echo(text, err=True)


def _joined(values: Any, sep: str = ";") -> str:
    return sep.join(values)


# --------------------------------------------------------------------------------------------------


def members(
    org: OrgOption = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Only this role: owner, editor, member or invitee.")
    ] = None,
    night: DateOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """The org's members on a night, pending invitees included (role invitee): role, teams, email, joined.

    Emails are personal data: shown here, as in members-<date>.csv, never in logs or summaries.
    """
    from .. import access_queries

    settings = settings_from(org, output_dir, database_url)
    org_name, asked = settings.require_org(), parse_day(night, "--date")
    with open_existing(settings) as engine:
        report = access_queries.members(engine, org_name, asked, role)
    _note(report.note)
    rows = [member.as_dict() for member in report.members]
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (MEMBER_COLUMNS, [_member_csv(row) for row in rows]),
        table=lambda: _members_table(report),
    )


def _member_csv(row: dict[str, Any]) -> list[str]:
    return [
        csv_cell(_joined(row[name]) if name == "teams" else row[name], text=name in ("username", "full_name"))
        for name in MEMBER_COLUMNS
    ]


def _members_table(report: "MembersReport") -> None:
    shown = plural(len(report.members), "member")
    table = people_table(f"{report.org}: {shown} (night of {report.snapshot_date.isoformat()})")
    for heading in ("username", "name", "email", "role", "guest", "teams", "joined"):
        table.add_column(heading)
    for m in report.members:
        guest = "yes" if m.is_guest else ""
        table.add_row(
            m.username, m.full_name, m.email, m.role, guest, ", ".join(m.teams), m.date_joined or "—"
        )
    people_console().print(table)


# --------------------------------------------------------------------------------------------------


def access(
    org: OrgOption = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's access.")] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Only this repository (its name).")] = None,
    min_permission: Annotated[
        Permission | None,
        typer.Option(
            "--min-permission", case_sensitive=False, help="Only read and up, write and up, or admin."
        ),
    ] = None,
    night: DateOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Who may pull, push or administer each repository on a night, and through which team.

    Owners and editors have admin on every repository (their role grants it); a member has, on each
    repository, the highest permission any of their teams has there; invitees have nothing. The read
    that everyone has on a public repository is not listed.
    """
    from .. import access_queries

    settings = settings_from(org, output_dir, database_url)
    org_name, asked = settings.require_org(), parse_day(night, "--date")
    floor = None if min_permission is None else min_permission.value
    with open_existing(settings) as engine:
        report = access_queries.access(engine, org_name, asked, user, repo, floor)
    _note(report.note)
    rows = [row.as_dict() for row in report.access]
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (
            ACCESS_COLUMNS,
            [
                [
                    csv_cell(_joined(row[name]) if name == "teams" else row[name], text=True)
                    for name in ACCESS_COLUMNS
                ]
                for row in rows
            ],
        ),
        table=lambda: _access_table(report, user, repo, floor),
    )


def _access_table(report: "AccessReport", user: str | None, repo: str | None, floor: str | None) -> None:
    asked = [f"of {user}" if user else "", f"on {repo}" if repo else "", f"({floor} and up)" if floor else ""]
    shown = " ".join([plural(len(report.access), "permission"), *filter(None, asked)])
    table = people_table(f"{report.org}: {shown} (night of {report.snapshot_date.isoformat()})")
    for heading in ("repository", "user", "permission", "role", "through teams"):
        table.add_column(heading)
    for row in report.access:
        table.add_row(row.repository, row.username, row.permission, row.role, ", ".join(row.teams) or "—")
    people_console().print(table)


# --------------------------------------------------------------------------------------------------


def tokens(
    org: OrgOption = None,
    expiring_days: Annotated[
        int, typer.Option("--expiring-days", min=0, help="Flag expires_soon: expires within N days.")
    ] = 30,
    unused_days: Annotated[
        int, typer.Option("--unused-days", min=0, help="Flag unused: never used, or not in N days.")
    ] = 90,
    night: DateOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """The org's access tokens on a night, oldest first, with their flags on that night's date.

    Flags: expired, expires_soon (--expiring-days), never_expires, unused (never used, or not in
    --unused-days), inactive. Listing tokens takes an owner's personal access token: a night read with
    an organization access token has no token data.
    """
    from .. import access_queries

    settings = settings_from(org, output_dir, database_url)
    org_name, asked = settings.require_org(), parse_day(night, "--date")
    with open_existing(settings) as engine:
        report = access_queries.tokens(engine, org_name, asked, expiring_days, unused_days)
    _note(report.note)
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (TOKEN_COLUMNS, [_token_csv(row) for row in report.tokens]),
        table=lambda: _tokens_table(report),
    )


def _token_csv(row: Any) -> list[str]:
    from ..access import resources_text

    values = {**row.as_dict(), "resources": resources_text(row.token), "flags": _joined(row.flags)}
    return [
        csv_cell(values[name], text=name in ("label", "created_by", "resources")) for name in TOKEN_COLUMNS
    ]


def _tokens_table(report: "TokensReport") -> None:
    shown = plural(len(report.tokens), "access token")
    table = people_table(f"{report.org}: {shown} (night of {report.snapshot_date.isoformat()})")
    for heading in ("label", "created by", "active", "created", "expires", "last used", "flags", "id"):
        table.add_column(heading)
    for row in report.tokens:
        token = row.token
        table.add_row(
            token.label, token.created_by, "yes" if token.is_active else "no", token.created_at or "—",
            token.expires_at or "never", token.last_used_at or "never", ", ".join(row.flags), token.id,
        )  # fmt: skip
    people_console().print(table)


# --------------------------------------------------------------------------------------------------


def access_changes(
    since: Annotated[str, typer.Option("--since", help="First night, YYYY-MM-DD (inclusive).")],
    org: OrgOption = None,
    until: UntilOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Every access change between consecutive stored nights from --since to --until (default: the
    newest night), and who made it when the audit log says.

    Changes: member_added, member_removed, role_changed, team_member_added, team_member_removed,
    permission_granted, permission_revoked, permission_changed, token_created, token_removed. Someone
    who joined and left inside the window shows twice. The Hub logs no event for a team permission:
    those changes have no "by". The window starts at its first night: the changes that led to it
    belong to the window before.
    """
    from .. import access_queries

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    assert first is not None  # --since is required
    with open_existing(settings) as engine:
        report = access_queries.access_changes(engine, org_name, first, last)
    for line in report.notes:
        _note(line)
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (CHANGE_COLUMNS, [_change_csv(change) for change in report.changes]),
        table=lambda: _changes_table(report),
    )


def _change_csv(change: Any) -> list[str]:
    values = {"night": change.night, **change.as_dict()}
    return [csv_cell(values[name], text=True) for name in CHANGE_COLUMNS]


def _changes_table(report: "ChangesReport") -> None:
    nights = plural(len(report.nights), "night")
    title = (
        f"{report.org}: {plural(len(report.changes), 'access change')} from {report.since} to {report.until}"
    )
    table = people_table(f"{title} ({nights})")
    for heading in ("night", "change", "who", "team", "repository", "token", "from → to", "by", "at"):
        table.add_column(heading)
    for change in report.changes:
        moved = f"{change.from_ or '—'} → {change.to or '—'}" if change.from_ or change.to else ""
        night: date | None = change.night
        table.add_row(
            night.isoformat() if night else "", change.change, change.username or "", change.team or "",
            change.repository or "", change.token or "", moved, change.by or "", change.at or "",
        )  # fmt: skip
    people_console().print(table)
