"""Alembic environment: `store` passes its own connection (inside its transaction and lock).

Developers may also run the ``alembic`` command with ``-x url=...`` (for ``alembic revision
--autogenerate`` against a scratch database), or ``--sql`` for offline SQL.
"""

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from dockerhub_export.store import VERSION_TABLE, metadata

config = context.config
options: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    "render_as_batch": True,
}


def _url() -> str:
    """The database of a developer's ``alembic`` command: ``-x url=...`` or ``sqlalchemy.url``."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: pass the database as -x url=... (e.g. -x url=sqlite:///scratch.db)")
    return url


def run_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():  # a no-op inside the caller's transaction
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
