"""Database errors, translated once, here: every SQLAlchemy or driver failure leaves the store as a
`StoreError` whose message shows the URL with its password hidden (`redact`); nothing above the store
sees ``sqlalchemy.exc``. Also the retry of transactions the server rolled back (deadlocks)."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import StoreError

log = logging.getLogger("dockerhub_export.store")

T = TypeVar("T")


def redact(url: str | sa.URL) -> str:
    """The URL with its password replaced by ``***``: the only form of a URL that may be shown."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        return "<unparseable database URL>"


def no_snapshots(shown: str, org: str | None = None) -> StoreError:
    """A database (``shown``) without snapshots, or without any of ``org``: run an export first."""
    if org is None:
        return StoreError(f"no snapshots yet at {shown}: run `dockerhub-export run` first")
    return StoreError(
        f"no snapshots of {org} in {shown}: run `dockerhub-export run --org {org}` "
        "or `dockerhub-export backfill` first"
    )


def first_line(exc: BaseException) -> str:
    detail = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    text = str(detail).strip() or type(detail).__name__
    return text.splitlines()[0].strip()


def _missing_database(exc: BaseException) -> bool:
    text = first_line(exc).lower()
    return "does not exist" in text or "unknown database" in text


@contextmanager
def translate(engine: sa.Engine, action: str, *, create: bool = True) -> Iterator[None]:
    """Around any database work: its failures as one `StoreError` line naming ``action``."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        shown = redact(engine.url)
        if not create and isinstance(exc, sa_exc.OperationalError) and _missing_database(exc):
            raise no_snapshots(shown) from exc
        detail = first_line(exc)
        password = engine.url.password
        if password:
            detail = detail.replace(str(password), "***")
        raise StoreError(f"snapshot database {shown}: {action} failed: {detail}{_hint(exc)}") from exc


def _hint(exc: sa_exc.SQLAlchemyError) -> str:
    text = first_line(exc).lower()
    if "locked" in text or "busy" in text:
        return " (another process holds the database; try again)"
    if isinstance(exc, sa_exc.OperationalError) and _missing_database(exc):
        return " (create the database first, or fix --database-url / SNAPSHOT_DATABASE_URL)"
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return " (is the server running, and are --database-url / SNAPSHOT_DATABASE_URL right?)"
    if isinstance(exc, sa_exc.ProgrammingError):
        return " (is the schema current? try `dockerhub-export db upgrade`)"
    return ""


@contextmanager
def driver_errors(connection: sa.Connection, statement: str) -> Iterator[None]:
    """Around raw driver calls: their errors as SQLAlchemy's, which `translate` and `with_retries` read."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def _retryable(exc: sa_exc.DBAPIError) -> bool:
    """Deadlock or serialization failure: the server rolled the transaction back, running it again is safe."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):  # psycopg
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in (1213, 1205)  # MySQL deadlock, lock wait timeout


def with_retries(work: Callable[[], T], attempts: int = 3) -> T:
    """``work()``, run again (up to ``attempts`` times) when the server rolled it back for a deadlock."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except StoreError as exc:
            cause = exc.__cause__
            if attempt == attempts or not (isinstance(cause, sa_exc.DBAPIError) and _retryable(cause)):
                raise
            log.warning("snapshot write hit a deadlock, retrying (%d/%d)", attempt, attempts - 1)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
