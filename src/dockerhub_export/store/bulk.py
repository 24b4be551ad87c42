"""Bulk write paths: many rows into one table, as fast as each backend takes them.

PostgreSQL gets COPY; SQLite and MariaDB/MySQL the core statement compiled once and run by the raw
driver's executemany. A first write is a plain INSERT; a rewrite an upsert on the primary key
(`insert_or_update`, the one place that picks each dialect's spelling of it).

Not ``connection.execute(statement, [dicts])``: SQLAlchemy's per-row parameter processing costs more
than the insert itself at 100k rows (2-3x on SQLite), and its insertmanyvalues batching does not apply
to ON CONFLICT statements without RETURNING. The values arrive already typed for the driver.
"""

import importlib
import itertools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from ..errors import StoreError
from .tables import key_columns
from .translate import driver_errors

CHUNK_ROWS = 5_000  # rows per executemany / COPY chunk: bounds the parameter lists held in memory

SetClause = Callable[[ReadOnlyColumnCollection[str, Any]], Mapping[str, Any]]
"""Given the proposed row's columns (``excluded`` / ``inserted``), the columns an update sets."""


def _insert(table: sa.Table, dialect: str) -> Any:
    """The dialect's own ``insert(table)``, which knows its upsert spelling. Imported on use: a query
    command on SQLite should not pay for loading the PostgreSQL dialect (60 ms)."""
    name = {"mariadb": "mysql"}.get(dialect, dialect)
    if name not in ("mysql", "postgresql", "sqlite"):
        raise StoreError(
            f"unsupported snapshot database {dialect!r}: use SQLite, PostgreSQL or MariaDB/MySQL"
        )
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert(table)


def insert_or_update(table: sa.Table, dialect: str, set_: SetClause) -> sa.Insert:
    """``INSERT`` that updates the row with the same primary key instead: ON CONFLICT DO UPDATE on
    PostgreSQL and SQLite, ON DUPLICATE KEY UPDATE on MariaDB/MySQL."""
    statement = _insert(table, dialect)
    if dialect in ("mysql", "mariadb"):
        on_duplicate: sa.Insert = statement.on_duplicate_key_update(dict(set_(statement.inserted)))
        return on_duplicate
    upsert: sa.Insert = statement.on_conflict_do_update(
        index_elements=list(key_columns(table)), set_=dict(set_(statement.excluded))
    )
    return upsert


def insert_or_ignore(table: sa.Table, dialect: str) -> sa.Insert:
    """``INSERT`` that skips rows whose primary key is there already (INSERT IGNORE on MariaDB/MySQL)."""
    statement = _insert(table, dialect)
    ignoring: sa.Insert = (
        statement.prefix_with("IGNORE")
        if dialect in ("mysql", "mariadb")
        else statement.on_conflict_do_nothing()
    )
    return ignoring


def _updated(table: sa.Table) -> tuple[str, ...]:
    keys = key_columns(table)
    return tuple(column.name for column in table.columns if column.name not in keys)


def write_rows(
    connection: sa.Connection,
    table: sa.Table,
    constant: dict[str, Any],
    columns: dict[str, list[Any]],
    *,
    first: bool,
) -> None:
    """Store ``columns`` (equally long lists of driver values) in ``table``, each row also carrying the
    ``constant`` values (the day's key and the write's id).

    ``first``: the rows' keys are not in the table yet (a day's first write), so a plain INSERT;
    otherwise an upsert that also sets every column the rows lack to NULL (the insert leaves them at
    their default, and the update copies that). Columns absent from ``columns`` are never built or sent.
    """
    constant = {
        key: value.isoformat() if isinstance(value, date) else value for key, value in constant.items()
    }
    count = len(next(iter(columns.values()))) if columns else 0
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, constant, columns, count, first=first)
        return
    if first:
        statement = sa.insert(table)
    else:
        updated = _updated(table)
        statement = insert_or_update(
            table, connection.dialect.name, lambda row: {name: row[name] for name in updated}
        )
    compiled = statement.compile(dialect=connection.dialect, column_keys=[*constant, *columns])
    sql = str(compiled)
    # sqlite3 binds by position ("?"); PyMySQL by name ("%(name)s"), in chunks of CHUNK_ROWS dicts.
    order = (
        list(compiled.positiontup) if compiled.positional and compiled.positiontup else [*constant, *columns]
    )
    assert sorted(order) == sorted([*constant, *columns]), order
    sources = [itertools.repeat(constant[key]) if key in constant else columns[key] for key in order]
    if compiled.positional:  # sqlite3: the raw cursor takes the rows as zip makes them, no list in between
        # (any iterable of rows, where the DB-API protocol SQLAlchemy types the cursor with says a sequence)
        cursor: Any = connection.connection.cursor()
        try:
            with driver_errors(connection, sql):
                cursor.executemany(sql, zip(*sources, strict=False))  # constants repeat
        finally:
            cursor.close()
        return
    for start in range(0, count, CHUNK_ROWS):
        chunk = [
            source if isinstance(source, itertools.repeat) else source[start : start + CHUNK_ROWS]
            for source in sources
        ]
        rows = zip(*chunk, strict=False)  # the constants repeat
        connection.exec_driver_sql(sql, [dict(zip(order, row, strict=True)) for row in rows])


def _copy_rows(
    connection: sa.Connection,
    table: sa.Table,
    constant: dict[str, Any],
    columns: dict[str, list[Any]],
    count: int,
    *,
    first: bool,
) -> None:
    """PostgreSQL: COPY the rows, straight into the table for a first write, else into a temporary
    table merged by one ``INSERT ... SELECT ... ON CONFLICT``.

    The COPY text is built column by column (`_copy_column`) and sent in chunks, not row by row
    through psycopg's ``write_row``: that took 3x the client time.
    """
    kinds = {column.name: _copy_kind(column) for column in table.columns}
    listed = ", ".join([*constant, *columns])
    target = table.name if first else "dockerhub_export_incoming"
    create = (
        f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {listed} FROM {table.name} WITH NO DATA"
    )
    copy = f"COPY {target} ({listed}) FROM STDIN"
    updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in _updated(table))
    merge = (
        f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {target} "
        f"ON CONFLICT ({', '.join(key_columns(table))}) DO UPDATE SET {updated}"
    )
    # The constants as one field (their texts joined): one element of each row's join, not one each.
    prefix = "\t".join(_copy_column([value], kinds[name])[0] for name, value in constant.items())
    fixed = [itertools.repeat(prefix)] if constant else []
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        if not first:
            with driver_errors(connection, create):
                cursor.execute(create)
        with driver_errors(connection, copy), cursor.copy(copy) as stream:
            for start in range(0, count, CHUNK_ROWS):
                texts = [
                    _copy_column(values[start : start + CHUNK_ROWS], kinds[name])
                    for name, values in columns.items()
                ]
                stream.write("\n".join(map("\t".join, zip(*fixed, *texts, strict=False))) + "\n")
        if not first:
            with driver_errors(connection, merge):
                cursor.execute(merge)


def _copy_kind(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.Boolean):
        return "bool"
    return "int" if isinstance(column.type, sa.Integer) else "text"  # dates and timestamps come as text


_COPY_BOOL = {True: "t", False: "f", None: "\\N"}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_column(values: list[Any], kind: str) -> list[str]:
    """One column's values in COPY's text format: NULL as \\N, booleans t/f, text with \\, tab and line
    breaks escaped on the whole column joined (a `translate` per value cost 0.19 s per 100,000
    descriptions, this 0.03 s)."""
    if kind == "bool":
        return list(map(_COPY_BOOL.__getitem__, values))
    if kind == "int":
        return ["\\N" if value is None else str(value) for value in values]
    joined = "\0".join(["" if value is None else value for value in values])
    escaped: list[Any]
    if "\\" in joined or "\n" in joined or "\r" in joined or "\t" in joined:
        if joined.count("\0") != len(values) - 1:  # a NUL (PostgreSQL refuses it in text): value by value
            escaped = [value if value is None else value.translate(_COPY_ESCAPES) for value in values]
        else:
            for char, escape in (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
                joined = joined.replace(char, escape)
            escaped = joined.split("\0")
        return ["\\N" if value is None else text for text, value in zip(escaped, values, strict=True)]
    return ["\\N" if value is None else value for value in values]
