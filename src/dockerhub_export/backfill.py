"""Import earlier exports (``repos-YYYY-MM-DD.csv``) as the snapshots of their days.

Two flavours are read, told apart by their header:

* this tool's CSV: the 17 columns of `REPOSITORIES.schema`; text cells that `csv_output.neutralise`
  prefixed with ``'`` (a formula character followed) are restored. A genuine value that itself started
  with ``'=`` cannot be told apart and loses its quote. Unknown counts were written as 0 and stay 0.
* the reference script's CSV (jq ``@csv``): ``namespace,name,is_private,last_updated,pull_count,
  star_count``; the other fields stay unknown (NULL).

Each file is read once and, if good, imported right away: the header, the number of fields, each
bool / integer / timestamp (by the same rules as `transform.to_frame`), the namespace, and unique names
are checked first. A malformed file is named with the line of each problem and not imported at all
(not even partly); the good files are imported anyway, each in its own transaction, and
`BackfillError` lists the bad ones at the end (so a bad file is reported after the good files before
and after it were imported). Backfill is deliberate history, so the history guard
(`guard`) does not apply.

Speed: a year of a 10,000-repository org is 3.65 M rows. Cells are typed column by column in plain
Python with C-level checks for the values exports actually contain (``true``/``false``, plain integers,
canonical timestamps); any other value goes through `transform.to_frame` itself, so the typing rules
stay the one set (test_backfill checks the result equals to_frame's). The typed columns are converted
to driver values where they are read, only the file's own columns (the reference script's six leave
the other eleven NULL without building them), and stored by `store.write_snapshot`: a plain INSERT
(COPY on PostgreSQL) for a day not stored yet, no comparison with the previous day. With ``workers``,
files are read in worker processes while this one only writes.
"""

from __future__ import annotations

import csv
import gc
import itertools
import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .csv_output import FORMULA_PREFIXES
from .errors import BackfillError, ConfigError
from .humanize import plural
from .resources import DOC_COLUMNS, REPOSITORIES
from .store import analyze, write_snapshot
from .timestamps import plain_timestamp_texts, timestamp_texts

SCHEMA = REPOSITORIES.schema
COLUMNS = SCHEMA.names
KINDS = SCHEMA.kinds

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

log = logging.getLogger(__name__)

__all__ = ["BackfillResult", "backfill", "default_workers", "read_export"]

FILE_NAME = re.compile(r"repos-(\d{4}-\d{2}-\d{2})\.csv")
PROBLEMS_SHOWN = 3  # per file; the rest are counted
PARALLEL_FILES = 24  # from this many files on, read them in worker processes (each pays its imports)
T = TypeVar("T")
# Values the fast path types itself are exactly those `transform.to_frame` maps the same way: ASCII
# digits up to 15 long (exact through to_frame's float() too), canonical timestamps that parse, and
# true/false. Anything else goes to to_frame.
_MAX_PLAIN_DIGITS = 15
_KIND_TEXT = {"bool": "true or false", "int": "an integer", "timestamp": "an ISO-8601 timestamp"}

_Problem = tuple[int, str, "int | None"]
"""(record index after the header, what is wrong, index of an earlier record it refers to)."""

Progress = Callable[[str, int, int], None]
"""Told before each file is imported: (file name, files done, files in all); at the end ("", n, n)."""


@dataclass
class BackfillResult:
    """``files`` imported, ``rows`` stored; ``skipped``: CSV files ignored for their name."""

    files: int
    rows: int
    skipped: list[str] = field(default_factory=list)


class _Malformed(BackfillError):
    """One file's problems, each "line N: what" or a whole-file "what"."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)

    def summary(self, name: str) -> str:
        """``<file> line 3: ...; line 9: ... (and 4 more problems)``."""
        shown = "; ".join(self.problems[:PROBLEMS_SHOWN])
        more = len(self.problems) - PROBLEMS_SHOWN
        separator = " " if shown.startswith("line ") else ": "
        return name + separator + shown + (f" (and {more} more problems)" if more > 0 else "")


def backfill(
    engine: sa.Engine,
    org: str,
    directory: Path,
    *,
    progress: Progress | None = None,
    workers: int = 0,
) -> BackfillResult:
    """Import every ``repos-YYYY-MM-DD.csv`` of ``directory`` (not recursive), oldest first.

    Raises `BackfillError` naming each malformed file after the good ones are imported.

    ``workers`` > 0 (the CLI passes `default_workers`): from `PARALLEL_FILES` files on, the files are
    read in that many worker processes while this process writes. They are started with "spawn"
    (the caller may hold database connections and threads, which fork would copy), so a calling
    script needs the usual ``if __name__ == "__main__":`` guard; hence 0, in-process, by default.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(
            f"{directory} is not a folder: pass the folder holding the repos-YYYY-MM-DD.csv files"
        )
    dated, skipped, bad = _listing(directory)
    if not dated and not bad:
        raise ConfigError(f"no repos-YYYY-MM-DD.csv files in {directory}")
    if len(dated) < PARALLEL_FILES:
        workers = 0
    rows = imported = 0
    with _Readers(workers) as readers:
        loads = readers.map(_prepare, [(path, org) for _, path in dated])
        for done, ((day, path), loaded) in enumerate(zip(dated, loads, strict=True)):
            if progress is not None:
                progress(path.name, done, len(dated))
            if isinstance(loaded, str):
                bad.append(loaded)
                continue
            with _gc_paused():
                rows += write_snapshot(engine, org, day, loaded)
            imported += 1
            log.debug("imported %s: %d repositories", path.name, len(loaded["name"]))
    if progress is not None and dated:
        progress("", len(dated), len(dated))
    if imported:
        analyze(engine)
    result = BackfillResult(files=imported, rows=rows, skipped=skipped)
    imported_text = f"{plural(result.files, 'file')} ({plural(result.rows, 'row')})"
    log.info("backfilled %s of %s from %s", imported_text, org, directory)
    if bad:
        raise BackfillError(
            f"imported {imported_text}; {len(bad)} malformed, not imported: " + "; ".join(bad)
        )
    return result


def default_workers() -> int:
    """Worker processes for reading: one CPU is the writer's, the others read, at most 4 of them.

    Reading a 10,000-row file takes about 35 ms, writing it into SQLite about 60 ms: one reader keeps
    the writer busy, and more only compete with it for the cores (on PostgreSQL the server does much of
    the writing, so a second reader can help). On one CPU: 0, read in this process.
    """
    return max(0, min((os.cpu_count() or 1) - 1, 4))


def _prepare(path: Path, org: str) -> dict[str, list[Any]] | str:
    """The file's rows as `store.write_snapshot` takes them, or its one-line problem summary.

    Plain data both ways: runs in the worker processes.
    """
    try:
        with _gc_paused():
            columns = _columns(path, org, storage=True)
    except _Malformed as exc:
        return exc.summary(path.name)
    del columns["namespace"]  # checked: every row is org's
    return columns


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while one file is read or written.

    A file's rows are acyclic lists of strings that reference counting frees, but allocating them
    triggers collections that walk every object the process holds (pandas and SQLAlchemy are loaded):
    that doubled the time to read a file. Anything cyclic made meanwhile is collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Readers:
    """``map`` in order, in worker processes (a bounded number of files in flight) or, with 0, here."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool: Any = None

    def __enter__(self) -> _Readers:
        if self.workers > 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the parent may hold database connections and threads (Prefect, SQLAlchemy).
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, function: Callable[..., T], arguments: list[tuple[Any, ...]]) -> Iterator[T]:
        if self.pool is None:
            return (function(*args) for args in arguments)
        return self._ordered(function, arguments)

    def _ordered(self, function: Callable[..., T], arguments: list[tuple[Any, ...]]) -> Iterator[T]:
        """In order, with a bounded number of files in flight (their rows wait in memory).

        While the next result is not ready, this process reads a later file itself, one no worker has
        started yet (its future cancels): the workers' start-up (~1 s) and any time a busy machine
        leaves them behind are then not spent waiting.
        """
        slots: deque[list[Any]] = deque()  # [future, arguments, result or _NOT_YET]
        queued = iter(arguments)
        ahead = (
            self.workers * 2 + 4
        )  # the pool queues one call per worker and one more: some stay cancellable

        def top_up() -> None:
            for args in itertools.islice(queued, ahead - len(slots)):
                slots.append([self.pool.submit(function, *args), args, _NOT_YET])

        top_up()
        while slots:
            head = slots[0]
            while head[2] is _NOT_YET and not head[0].done():
                spare = next(
                    (slot for slot in reversed(slots) if slot[2] is _NOT_YET and slot[0].cancel()), None
                )
                if spare is None:
                    break
                spare[2] = function(*spare[1])
            slots.popleft()
            result = head[0].result() if head[2] is _NOT_YET else head[2]
            top_up()
            yield result


_NOT_YET = object()


def _listing(directory: Path) -> tuple[list[tuple[date, Path]], list[str], list[str]]:
    """(dated files by date, ignored *.csv names, files with an impossible or future date as problems)."""
    from .settings import future_problem  # here: the reading workers need no pydantic

    dated: list[tuple[date, Path]] = []
    skipped: list[str] = []
    bad: list[str] = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue  # csv_output's temporaries are hidden files
        match = FILE_NAME.fullmatch(path.name)
        if match is None:
            if path.suffix.lower() == ".csv":
                skipped.append(path.name)
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            bad.append(f"{path.name}: {match.group(1)} is not a date")
            continue
        future = future_problem(day)
        if future:
            bad.append(f"{path.name}: {future}")
        else:
            dated.append((day, path))
    dated.sort()
    return dated, skipped, bad


# --------------------------------------------------------------------------------------------------
# Reading one file


def read_export(path: Path, org: str) -> pd.DataFrame:
    """One export as a frame of the repositories' schema; a `BackfillError` listing every problem if
    malformed."""
    import pandas as pd

    columns = _columns(path, org, storage=False)
    count = len(columns["name"])
    dtypes = _dtypes()
    data = {name: pd.array(columns.get(name, [None] * count), dtype=dtypes[name]) for name in COLUMNS}
    return pd.DataFrame(data, columns=list(COLUMNS))


def _columns(path: Path, org: str, *, storage: bool) -> dict[str, list[Any]]:
    """The file's columns typed by `transform.to_frame`'s rules (only those the file has), every cell
    checked; with ``storage`` timestamps as `timestamps.timestamp_texts` gives them, else canonical text."""
    records = _records(path)
    header, rows = records[0], records[1:]
    if tuple(header) == COLUMNS:
        neutralised = True
    elif tuple(header) == DOC_COLUMNS:
        neutralised = False
    else:
        shown = ",".join(header)[:120]
        raise _Malformed(
            [
                f"line 1: unexpected header {shown!r}: expected this tool's {len(COLUMNS)} columns "
                f"({','.join(COLUMNS[:3])},...) or the reference script's {len(DOC_COLUMNS)} "
                f"({','.join(DOC_COLUMNS)})"
            ]
        )
    if not rows:
        raise _Malformed(["no repositories (header only)"])
    width = len(header)
    problems: list[_Problem] = [  # lines are looked up only if there are problems
        (index, f"{len(row)} fields, expected {width}", None)
        for index, row in enumerate(rows)
        if len(row) != width
    ]
    if problems:
        raise _Malformed(_with_lines(path, problems))
    columns = _typed(header, rows, org, neutralised, problems, storage=storage)
    problems.extend(_identity_problems(columns["namespace"], columns["name"], org))
    if problems:
        raise _Malformed(_with_lines(path, problems))
    return columns


def _records(path: Path) -> list[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            try:
                records = list(filter(None, reader))  # a blank line is no record
            except csv.Error as exc:
                raise _Malformed([f"line {reader.line_num}: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise _Malformed([f"not UTF-8 text (byte {exc.start}): {exc.reason}"]) from None
    except OSError as exc:
        raise _Malformed([f"cannot be read: {exc.strerror or exc}"]) from None
    if not records:
        raise _Malformed(["line 1: empty file"])
    return records


def _with_lines(path: Path, problems: list[_Problem]) -> list[str]:
    """Problems as "line N: ..." with N the physical line a record starts on (quoted newlines count)."""
    starts: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        last = 0
        for row in reader:
            if row:
                starts.append(last + 1)
            last = reader.line_num
    lines = starts[1:]  # the header is record 0

    def line(index: int) -> str:
        return str(lines[index]) if index < len(lines) else "?"

    ordered = sorted(problems, key=lambda item: (item[0], item[1]))
    return [
        f"line {line(index)}: {text}" + ("" if ref is None else f" (first on line {line(ref)})")
        for index, text, ref in ordered
    ]


def _typed(
    header: list[str],
    rows: list[list[str]],
    org: str,
    neutralised: bool,
    problems: list[_Problem],
    *,
    storage: bool,
) -> dict[str, list[Any]]:
    """The rows typed column by column, by `transform.to_frame`'s rules (see the module docstring)."""
    columns: dict[str, list[Any]] = {}

    def invalid(offset: int, name: str, value: object) -> None:
        what = _KIND_TEXT.get(KINDS[name], "valid")
        problems.append((offset, f"{name} {str(value)[:60]!r} is not {what}", None))

    for name, cells in zip(header, zip(*rows, strict=True), strict=True):
        kind = KINDS[name]
        if neutralised and kind not in ("bool", "int") and "\x00'" in "\x00" + "\x00".join(cells):
            cells = tuple(_unneutralise(cell) for cell in cells)
        values: list[Any] | None
        if kind in ("text", "list"):
            values = list(cells)  # str(value), "" kept: as to_frame
        elif kind == "timestamp":
            values = plain_timestamp_texts(cells)
            if values is None:
                values = _cellwise(name, kind, cells, org, invalid)
                if storage:
                    values = timestamp_texts(values)
            elif not storage:
                values = [cell or None for cell in cells]  # canonical: kept as written, as to_frame
        else:
            values = _FAST[kind](cells)
            if values is None:
                values = _cellwise(name, kind, cells, org, invalid)
            if storage and kind == "bool":  # 1/0, as every backend stores them: sqlite3 binds ints faster
                values = list(map(_BOOL_INTS.get, values))
        columns[name] = values
    return columns


def _dtypes() -> dict[str, Any]:
    from . import transform

    global _DTYPES
    if _DTYPES is None:
        _DTYPES = {str(name): dtype for name, dtype in transform.to_frame([], SCHEMA).dtypes.items()}
    return _DTYPES


_DTYPES: dict[str, Any] | None = None
_BOOLS = {"true": True, "false": False, "": None}
_BOOL_INTS = {True: 1, False: 0}  # None stays None


def _unneutralise(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and cell[1:2] and cell[1:2] in FORMULA_PREFIXES else cell


def _fast_bool(cells: tuple[str, ...]) -> list[Any] | None:
    if not set(cells) <= _BOOLS.keys():
        return None
    return list(map(_BOOLS.__getitem__, cells))


def _fast_int(cells: tuple[str, ...]) -> list[Any] | None:
    digits = "".join(cells)
    if not digits:
        return [None] * len(cells)
    if not (digits.isascii() and digits.isdigit()) or max(map(len, cells)) > _MAX_PLAIN_DIGITS:
        return None
    if "" in cells:
        return [int(cell) if cell else None for cell in cells]
    return list(map(int, cells))


_FAST: dict[str, Callable[[tuple[str, ...]], list[Any] | None]] = {"bool": _fast_bool, "int": _fast_int}


def _cellwise(
    name: str, kind: str, cells: tuple[str, ...], org: str, invalid: Callable[[int, str, object], None]
) -> list[Any]:
    """A column with uncommon values: plain cells typed here, the others by `transform.to_frame`."""
    import pandas as pd

    from . import transform

    values: list[Any] = [None] * len(cells)
    odd: list[int] = []
    for offset, cell in enumerate(cells):
        if cell == "":
            continue
        plain = None if kind == "timestamp" else _FAST[kind]((cell,))  # to_frame parses timestamps in bulk
        if plain is None:
            odd.append(offset)
        else:
            values[offset] = plain[0]
    if odd:
        typed = transform.to_frame(
            [{name: cells[offset]} for offset in odd],
            SCHEMA,
            org,
            on_invalid=lambda row, column, value: invalid(odd[row], column, value),
        )[name]
        for offset, value in zip(odd, typed.tolist(), strict=True):
            values[offset] = None if pd.isna(value) else value
    return values


def _identity_problems(namespaces: list[str], names: list[str], org: str) -> list[_Problem]:
    problems: list[_Problem] = []
    if set(namespaces) != {org}:
        problems.extend(
            (index, f"namespace {value[:60]!r} is not {org!r}", None)
            for index, value in enumerate(namespaces)
            if value != org
        )
    if "" in names:
        problems.extend(
            (index, "empty repository name", None) for index, name in enumerate(names) if name == ""
        )
    if len(set(names)) != len(names):
        first_seen: dict[str, int] = {}
        for index, name in enumerate(names):
            if name in first_seen and name != "":
                problems.append((index, f"repository {name[:60]!r} repeats", first_seen[name]))
            first_seen.setdefault(name, index)
    return problems
