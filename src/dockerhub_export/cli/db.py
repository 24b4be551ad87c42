"""``db upgrade``, ``db current``, ``db forget`` and ``db forget-person``: the snapshot database's schema,
removing a night, and erasing a former member's contact data, from the command line."""

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ConfigError, StoreError
from .options import DatabaseUrlOption, OrgOption, OutputDirOption, open_existing, settings_from

if TYPE_CHECKING:
    from pathlib import Path

    from ..store.forget_person import PersonSummary

YesOption = Annotated[bool, typer.Option("--yes", help="Do it. Without --yes: only say what would change.")]


def register(app: typer.Typer) -> None:
    """Add ``db upgrade``, ``db current``, ``db forget`` and ``db forget-person`` to ``app``."""
    db = typer.Typer(help="Manage the snapshot database: its schema, and its nights.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    db.command("current")(db_current)
    db.command("forget")(db_forget)
    db.command("forget-person")(db_forget_person)
    app.add_typer(db, name="db")


def db_upgrade(output_dir: OutputDirOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Create or upgrade the snapshot database's schema to this version (runs also start with it)."""
    from .. import store

    url = store.database_url(settings_from(None, output_dir, database_url))
    try:
        before, _head = store.current_revision(url)
    except StoreError:
        before = None  # no database yet (or unreachable: upgrade_database says which)
    after = store.upgrade_database(url)
    shown = store.redact(url)
    if before == after:
        typer.echo(f"{shown} is at revision {after}, the newest")
    else:
        typer.echo(f"{shown} upgraded from {before or 'an empty database'} to revision {after}")


def db_current(output_dir: OutputDirOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Show the snapshot database's schema revision and whether it is the newest."""
    from .. import store

    url = store.database_url(settings_from(None, output_dir, database_url))
    current, head = store.current_revision(url)
    shown = store.redact(url)
    if current is None:
        typer.echo(f"{shown} has no schema yet: run `dockerhub-export db upgrade`")
    elif current == head:
        typer.echo(f"{shown} is at revision {current}, the newest")
    else:
        typer.echo(
            f"{shown} is at revision {current}; the newest is {head}: run `dockerhub-export db upgrade`"
        )


def db_forget(
    org: OrgOption = None,
    night: Annotated[str | None, typer.Option("--date", help="The night to remove, YYYY-MM-DD.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Remove it. Without --yes: only say what would be removed.")
    ] = False,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Remove one night of an org from every history (repository snapshots, tags, the run log's link to
    it), in one transaction: the next run works as if it had never run (e.g. a mistaken --snapshot-date)."""
    from .. import store
    from ..settings import parse_date

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    if night is None:
        raise ConfigError("no night given: pass --date YYYY-MM-DD, the night to remove")
    day = parse_date(night, "--date")
    with open_existing(settings) as engine:
        summary = store.forget_night(engine, org_name, day, apply=yes)
        shown = store.redact(engine.url)
    where = f"{org_name} {day.isoformat()} in {shown}"
    if yes:
        typer.echo(f"forgot the night {where}:")
    else:
        typer.echo(
            f"dry run, nothing changed: forgetting the night {where} would change (add --yes to do it):"
        )
    for change in summary.changes:
        if change.rows:
            rows = "row" if change.rows == 1 else "rows"
            typer.echo(f"  {change.table}: {change.rows:,} {rows} {change.did}")


def db_forget_person(
    user: Annotated[
        str | None, typer.Option("--user", help="The former member or invitee: username or email.")
    ] = None,
    org: OrgOption = None,
    yes: YesOption = False,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Erase a former member's full name and email (an erasure request): from every stored version of the
    member, from the audit events' data, and from the members CSVs under --output-dir. Their username
    stays (who could do what, and who changed what, must still be answered for those nights); a username
    that is an email address (an invitee) becomes a pseudonym. A current member is refused."""
    from .. import store
    from ..member_files import forget_in_files
    from ..store.forget_person import forget_person

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    if not user or not user.strip():
        raise ConfigError("no person given: pass --user USERNAME (or their email address)")
    with open_existing(settings) as engine:
        summary = forget_person(engine, org_name, user, apply=yes)
        shown = store.redact(engine.url)
    names = set(summary.usernames)
    files = forget_in_files(settings.export_dir, org_name, names, summary.renamed, apply=yes)
    _say_forgotten(summary, shown, files, settings.export_dir / org_name)


def _say_forgotten(summary: "PersonSummary", shown: str, files: "list[Path]", folder: "Path") -> None:
    """What was (or would be) erased: counts and usernames, never an address."""
    who = ", ".join(summary.renamed.get(name, name) for name in summary.usernames)
    if summary.applied:
        typer.echo(f"forgot {who} of {summary.org} in {shown} and {folder}:")
    else:
        typer.echo(
            f"dry run, nothing changed: forgetting {who} of {summary.org} in {shown} and {folder} "
            "would change (add --yes to do it):"
        )
    versions = "version" if summary.versions == 1 else "versions"
    typer.echo(
        f"  access_members: {summary.versions:,} {versions} (nights {summary.first} until {summary.gone}): "
        "full name and email cleared"
    )
    for new in summary.renamed.values():
        typer.echo(f"  a username that was an email address becomes the pseudonym {new}")
    events = "event" if summary.events == 1 else "events"
    typer.echo(f"  audit_events: {summary.events:,} {events}: their email address removed from its data")
    csvs = "members CSV" if len(files) == 1 else "members CSVs"
    typer.echo(f"  files: {len(files):,} {csvs}: their full name and email cleared")
