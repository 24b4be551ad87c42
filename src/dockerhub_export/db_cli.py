"""``db upgrade`` and ``db current``: the snapshot database's schema, from the command line."""

import typer

from .errors import StoreError
from .options import DatabaseUrlOption, OutputDirOption, settings_from


def register(app: typer.Typer) -> None:
    """Add ``db upgrade`` and ``db current`` to ``app``."""
    db = typer.Typer(help="Manage the snapshot database's schema.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    db.command("current")(db_current)
    app.add_typer(db, name="db")


def db_upgrade(output_dir: OutputDirOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Create or upgrade the snapshot database's schema to this version (runs also start with it)."""
    from . import store

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
    from . import store

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
