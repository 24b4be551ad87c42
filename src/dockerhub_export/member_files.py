"""Clearing one person's full name and email from the members CSVs already written (``db forget-person``).

Only that person's cells change: every other byte of each file stays as the run wrote it (jq ``@csv``
spelling, `csv_output`), so a file diffs as one changed line. A file is replaced as the run writes it
(`csv_output.write_atomically`), private (0600).
"""

from collections.abc import Iterator, Mapping
from pathlib import Path

from .csv_output import write_atomically
from .errors import ConfigError, OutputError
from .resources import MEMBERS

CLEARED = ("full_name", "email")


def member_files(export_dir: Path, org: str) -> list[Path]:
    """The org's members CSVs, oldest first."""
    return sorted((Path(export_dir) / org).glob(f"{MEMBERS.csv_stem}-????-??-??.csv"))


def forget_in_files(
    export_dir: Path, org: str, usernames: set[str], renamed: Mapping[str, str], *, apply: bool
) -> list[Path]:
    """The members CSVs that list one of ``usernames`` (case ignored), with their name and email cleared
    and a username of ``renamed`` replaced (``apply=False``: only found). Returns the files concerned."""
    wanted = {name.lower() for name in usernames}
    pseudonyms = {old.lower(): new for old, new in renamed.items()}
    concerned = []
    for path in member_files(export_dir, org):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror}") from None
        cleared = _cleared(text, path, wanted, pseudonyms)
        if cleared != text:
            concerned.append(path)
            if apply:
                write_atomically(path, [cleared], private=True)
    return concerned


def _cleared(text: str, path: Path, wanted: set[str], pseudonyms: Mapping[str, str]) -> str:
    records = list(_records(text))
    if not records:
        return text
    header = [_value(cell) for cell in _cells(records[0])]
    try:
        user_at = header.index("username")
        cleared_at = [header.index(name) for name in CLEARED]
    except ValueError:
        missing = "no username, full_name or email column"
        raise ConfigError(f"{path} is not a members CSV of this tool: {missing}") from None
    out = [records[0]]
    for record in records[1:]:
        cells = _cells(record)
        username = _value(cells[user_at]).lower() if len(cells) > user_at else None
        if username in wanted:
            for at in cleared_at:
                cells[at] = ""  # null, as the run writes a missing value
            if username in pseudonyms:
                cells[user_at] = f'"{pseudonyms[username]}"'
            record = ",".join(cells) + ("\n" if record.endswith("\n") else "")
        out.append(record)
    return "".join(out)


def _records(text: str) -> Iterator[str]:
    """Each record's raw text with its "\\n": a newline inside quotes is part of a cell."""
    start, quoted = 0, False
    for at, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            yield text[start : at + 1]
            start = at + 1
    if start < len(text):
        yield text[start:]


def _cells(record: str) -> list[str]:
    """A record's cells as written (quotes kept); a doubled quote toggles twice, so it stays inside."""
    line = record[:-1] if record.endswith("\n") else record
    cells, start, quoted = [], 0, False
    for at, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            cells.append(line[start:at])
            start = at + 1
    cells.append(line[start:])
    return cells


def _value(cell: str) -> str:
    return cell[1:-1].replace('""', '"') if cell.startswith('"') else cell
