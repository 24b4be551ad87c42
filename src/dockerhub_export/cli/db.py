"""``db upgrade``, ``db current``, ``db forget`` and ``db forget-person``: the snapshot database's schema,
removing a night, and erasing a former member's contact data, from the command line."""

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ConfigError, StoreError
from .options import DatabaseUrlOption, OrgOption, OutputDirOption, open_existing, settings_from
from .output import plural

if TYPE_CHECKING:
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
    left_before: Annotated[
        str | None,
        typer.Option(
            "--left-before",
            help="Instead of --user: every former member gone before this day, YYYY-MM-DD (retention).",
        ),
    ] = None,
    org: OrgOption = None,
    yes: YesOption = False,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Erase a former member's full name and email (an erasure request): from every stored version of the
    member, from the audit events' data, and from the members CSVs under --output-dir. Their username
    stays (who could do what, and who changed what, must still be answered for those nights); a username
    that is an email address (an invitee) becomes a pseudonym. A current member is refused. With
    --left-before D instead of --user: everyone gone before D whose name or email is still kept (a
    retention rule, e.g. monthly with D a year ago)."""
    from .. import store
    from ..member_files import forget_in_files
    from ..settings import parse_date
    from ..store.forget_person import departed, forget_departed, forget_person

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    if (user is None or not user.strip()) == (left_before is None):
        raise ConfigError(
            "say whom to forget: --user USERNAME (or their email address), or --left-before YYYY-MM-DD "
            "for every former member gone before that date (not both)"
        )
    alone = user is not None and bool(user.strip())
    gone: set[str] = set()
    with open_existing(settings) as engine:
        if alone:
            summaries = [forget_person(engine, org_name, user or "", apply=yes)]
            who = summaries[0].renamed.get(summaries[0].usernames[0], summaries[0].usernames[0])
        else:
            before = parse_date(left_before or "", "--left-before")
            summaries = forget_departed(engine, org_name, before, apply=yes)
            gone = set(departed(engine, org_name, before))  # erased before too: a file a rewrite missed
            who = f"{plural(len(summaries), 'former member')} (gone before {before})"
        shown = store.redact(engine.url)
    names = gone.union(*(summary.usernames for summary in summaries))
    renamed = {old: new for summary in summaries for old, new in summary.renamed.items()}
    files = forget_in_files(settings.export_dir, org_name, names, renamed, apply=yes) if names else []
    where = f"{org_name} in {shown} and {settings.export_dir / org_name}"
    if not summaries and not files:
        nobody = f"gone before {left_before} has a name or email"
        typer.echo(f"nothing to forget: no former member of {where} {nobody}")
        return
    _say_all(summaries, f"{who} of {where}", len(files), alone=alone, applied=yes)


def _say_all(summaries: "list[PersonSummary]", what: str, files: int, *, alone: bool, applied: bool) -> None:
    """What was (or would be) erased, person by person (``alone``: the one asked for), then the files."""
    if applied:
        typer.echo(f"forgot {what}:")
    else:
        typer.echo(f"dry run, nothing changed: forgetting {what} would change (add --yes to do it):")
    for summary in summaries:
        _say_forgotten(summary, alone=alone)
    whose = "their" if alone else "the"
    typer.echo(f"  files: {plural(files, 'members CSV')}: {whose} full name and email cleared")


def _say_forgotten(summary: "PersonSummary", *, alone: bool) -> None:
    """What was (or would be) erased of one person: counts and usernames, never an address."""
    versions = plural(summary.versions, "version")
    events = plural(summary.events, "event")
    nights = f"nights {summary.first} until {summary.gone}"
    if not alone:
        name = ", ".join(summary.renamed.get(n, n) for n in summary.usernames)
        typer.echo(f"  {name}: access_members {versions} ({nights}), audit_events {events}")
        return
    typer.echo(f"  access_members: {versions} ({nights}): full name and email cleared")
    for new in summary.renamed.values():
        typer.echo(f"  a username that was an email address becomes the pseudonym {new}")
    typer.echo(f"  audit_events: {events}: their email address removed from its data")
