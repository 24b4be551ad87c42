"""A resource's dated CSV, ``<export_dir>/<org>/<stem>-<YYYY-MM-DD>.csv`` (the repositories':
``repos-...``), written atomically, its columns and their spelling taken from the resource's schema.

The six columns of the reference doc hold the doc's values (``is_private`` true/false, a null count
written as 0) in the doc's own spelling: like jq's ``@csv``, every string is quoted, numbers and
booleans are bare, null is empty. So each line starts with exactly the bytes the reference script
writes, and a bare carriage return inside a description cannot split a row (Python's csv writer would
leave it unquoted with "\n" line endings). Text cells that a spreadsheet would run as a formula are
neutralised (OWASP CSV injection) unless ``safe=False``. The file appears complete or not at all: it is
written to a temporary file in the same folder, synced, then renamed over the final path.
"""

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OutputError
from .resources import TableResource
from .schema import Column, Schema

if TYPE_CHECKING:  # pandas loads only when a CSV is written: the query commands use `neutralise`
    import pandas as pd  # from here and stay fast

log = logging.getLogger(__name__)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_path(export_dir: Path, org: str, snapshot_date: date, resource: TableResource) -> Path:
    """``<export_dir>/<org>/<stem>-<YYYY-MM-DD>.csv``, e.g. ``exports/acme/repos-2026-11-27.csv``."""
    return Path(export_dir) / org / f"{resource.csv_stem}-{snapshot_date.isoformat()}.csv"


_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)  # all one character: a set lookup of the first one


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate with a quote, so it is shown as text."""
    return "'" + value if value[:1] in _FORMULA_FIRST else value


def _cells(values: list[Any], column: Column, *, safe: bool) -> list[str]:
    """One column's cells, jq ``@csv`` style: strings quoted (inner quotes doubled), numbers and booleans
    bare, null empty. Plain list comprehensions: 3x faster than pandas' object-backed string methods."""
    if column.kind == "bool":
        return ["" if value is None else "true" if value else "false" for value in values]
    if column.kind == "int":
        missing = "0" if column.null_as_zero else ""  # the reference doc's `(.pull_count//0)`
        return [missing if value is None else str(value) for value in values]
    if safe:
        values = [None if value is None else neutralise(value) for value in values]
    return [
        "" if value is None else '"' + (value.replace('"', '""') if '"' in value else value) + '"'
        for value in values
    ]


def csv_cells(frame: "pd.DataFrame", schema: Schema, *, safe: bool = True) -> list[list[str]]:
    """One list of ready-to-join cells per column, in the schema's order."""
    return [_cells(_values(frame[column.name]), column, safe=safe) for column in schema.columns]


def _values(series: "pd.Series[Any]") -> list[Any]:
    """A column as Python values, None for unknown."""
    # pandas takes na_value=None (the fastest way to None); pandas-stubs' overloads leave None out.
    values: list[Any] = series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[call-overload]
    return values


CHUNK_ROWS = 2_000  # rows formatted at a time: the text of 10,000 rows was 44 MiB of the peak; as fast


def csv_chunks(frame: "pd.DataFrame", schema: Schema, *, safe: bool = True) -> Iterator[str]:
    """The CSV document in pieces: a quoted header line, then the rows, "\n"-terminated."""
    yield ",".join(f'"{name}"' for name in schema.names) + "\n"
    for start in range(0, len(frame), CHUNK_ROWS):
        cells = csv_cells(frame.iloc[start : start + CHUNK_ROWS], schema, safe=safe)
        yield "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"


def write_csv(
    frame: "pd.DataFrame", path: Path, resource: TableResource, *, safe: bool = True, private: bool = False
) -> Path:
    """Write ``frame`` (of ``resource``'s schema) to ``path`` atomically; an earlier good file is replaced
    only by a complete one. ``private`` (personal data): mode 0600 from before the first byte on."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create {path.parent}: {exc.strerror}; check --output-dir / EXPORT_DIR"
        ) from None
    write_atomically(path, csv_chunks(frame, resource.schema, safe=safe), private=private)
    log.info("wrote %d %s to %s", len(frame), resource.name, path)
    return path


def write_atomically(path: Path, chunks: Iterable[str], *, private: bool = False) -> None:
    """Write ``chunks`` to ``path`` through a temporary renamed over it: an earlier good file is replaced
    only by a complete one. ``private``: mode 0600 from before the first byte on."""
    _remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            if private:  # mkstemp's mode is 0600 already: made explicit, before any data is written
                os.fchmod(handle.fileno(), 0o600)
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if not private:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _sync_dir(path.parent)
    except BaseException as exc:  # includes KeyboardInterrupt: never leave the temporary behind
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _remove_stale_temporaries(path: Path) -> None:
    """Temporaries of a run that was killed (SIGKILL cannot be caught) are cleared by the next one."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
