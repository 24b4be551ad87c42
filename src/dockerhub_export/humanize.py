"""Values written for people to read, not for programs to parse: counts, byte sizes, digests, times.

One formatter for each, so that a summary, a table and a log line say 97.8 M and 999 MB the same way.
Exact values stay in the CSVs, the database, JSON output and table artifacts.
"""

import re
from datetime import UTC, datetime

PREFIXES = ("", "k", "M", "G", "T", "P", "E")  # decimal (SI), as the Hub reports sizes
DIGEST_LENGTH = 12  # as `docker images` shortens an image ID
MISSING = "—"
_CANONICAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})")


def count(value: int | None, unit: str = "", digits: int = 3) -> str:
    """``97809566`` -> ``97.8 M``: below 1000 the value itself, above it ``digits`` significant digits and
    a decimal prefix (trailing zeros dropped: ``1.2 k``, ``3 M``); ``unit`` follows the prefix."""
    if value is None:
        return MISSING
    magnitude, index = float(abs(value)), 0
    if magnitude < 1000:
        text = str(abs(int(value)))
    else:
        # 999.5 and up round to "1e+03" at three digits: that is the next prefix's 1.
        while magnitude >= 999.5 and index < len(PREFIXES) - 1:
            magnitude /= 1000
            index += 1
        text = f"{magnitude:.{digits}g}" if magnitude < 999.5 else f"{magnitude:.0f}"
    sign = "-" if value < 0 else ""
    suffix = f"{PREFIXES[index]}{unit}"
    return f"{sign}{text} {suffix}" if suffix else f"{sign}{text}"


def size(value: int | None, digits: int = 3) -> str:
    """Bytes as people read them: ``999369523`` -> ``999 MB`` (decimal units, as the Hub shows sizes)."""
    return count(value, "B", digits)


def digest(value: str | None) -> str:
    """``sha256:0123456789abcdef…`` -> ``0123456789ab``: the first 12 characters after the algorithm."""
    if not value:
        return MISSING
    return value.partition(":")[2][:DIGEST_LENGTH] if ":" in value else value[:DIGEST_LENGTH]


def moment(value: str | datetime | None) -> str:
    """A timestamp to the second, in UTC: ``2026-10-27T23:59:59.123456Z`` -> ``2026-10-27 23:59:59``."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    match = _CANONICAL.match(value)
    return f"{match[1]} {match[2]}" if match else value


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 snapshot``, ``2 snapshots``, ``1,200 repositories`` (``plural_form`` when not singular + "s")."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
