"""db_cli: `db upgrade` and `db current` through Typer, as a user runs them."""

import typer
from conftest import invoke

from dockerhub_export.errors import StoreError


def test_db_upgrade_then_current(app: typer.Typer, db_url: str) -> None:
    result = invoke(app, "db", "upgrade", "--database-url", db_url)
    assert result.exit_code == 0, result.output
    assert "upgraded from an empty database to revision 0004" in result.stdout
    assert "is at revision 0004, the newest" in invoke(app, "db", "upgrade", "--database-url", db_url).stdout
    assert "is at revision 0004, the newest" in invoke(app, "db", "current", "--database-url", db_url).stdout


def test_db_commands_never_show_the_password(app: typer.Typer) -> None:
    result = invoke(app, "db", "upgrade", "--database-url", "postgresql+psycopg://me:s3cret@127.0.0.1:1/x")
    assert isinstance(result.exception, StoreError)
    assert "s3cret" not in str(result.exception) and "me:***@" in str(result.exception)
