"""What a run shows in the Prefect UI: artifact keys, the markdown summary, the top-movers table.

Plain functions of plain data (no Prefect import), so they are tested without a server; the flows
publish what they return with ``prefect.artifacts``.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

KEY_PREFIX = "dockerhub-export"
MAX_NAMES = 20  # names listed per "added"/"removed" line before "... and N more"
# The summary's movers table: these columns of `reports.top_movers` rows, under these headers (the
# table artifact keeps every column).
MOVER_COLUMNS = {
    "name": "repository",
    "pulls_delta": "pull growth",
    "pulls_start": "pulls before",
    "pulls_end": "pulls now",
    "stars_delta": "star change",
}


def artifact_key(org: str | None, what: str) -> str:
    """``dockerhub-export-<org>-<what>``: one history per org on the Artifacts page.

    Artifact keys allow lowercase letters, digits and dashes only; an org's ``.`` and ``_`` become
    dashes (so ``a.b`` and ``a-b`` would share a history, which no real pair of orgs should mind).
    """
    parts = [KEY_PREFIX, *([org] if org else []), what]
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def organizations_key(what: str) -> str:
    """``dockerhub-export--organizations-<what>``: the multi-org run's history.

    Any org name is a valid Docker ID, ``organizations`` and ``many-orgs`` included, so this key must be
    one that `artifact_key` cannot make: an org never starts with a dash, hence the double dash.
    """
    return f"{KEY_PREFIX}--organizations-{what}"


def jsonable(value: Any) -> Any:
    """``value`` as JSON-safe data: dates and pandas Timestamps as ISO text, NaN/NA as None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value]
    if type(value).__name__ in ("NaTType", "NAType"):  # pandas' missing values
        return None
    if isinstance(value, (datetime, date)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def movers_table(movers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The top movers as table-artifact rows (``create_table_artifact`` needs JSON-serializable cells)."""
    return [jsonable(dict(row)) for row in movers]


def _names(names: Sequence[str], by: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """``2: `a`, `b` (by alice at 2026-11-27T10:00:00Z)``: the names, with who and when where known."""
    by = by or {}
    shown = ", ".join(
        f"`{name}`" + (f" (by {by[name]['by']} at {by[name]['at']})" if name in by else "")
        for name in names[:MAX_NAMES]
    )
    more = len(names) - MAX_NAMES
    return f"{len(names)}: {shown}" + (f" ... and {more} more" if more > 0 else "")


def _cell(value: Any) -> str:
    text = "" if value is None else str(jsonable(value))
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], limit: int = 10, headers: Mapping[str, str] | None = None
) -> str:
    """A GitHub-flavoured markdown table of ``rows``.

    Columns: those of ``headers`` (key -> header) that the rows have, else the union of their keys.
    """
    present: list[str] = []
    for row in rows[:limit]:
        present += [key for key in row if key not in present]
    columns = [key for key in (headers or {}) if key in present] or present
    if not columns:
        return ""
    titles = [(headers or {}).get(column, column) for column in columns]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows[:limit]]
    return "\n".join(lines)


def summary_markdown(result: Mapping[str, Any], movers: Sequence[Mapping[str, Any]] = ()) -> str:
    """The run's summary: org, day, counts, changes since the previous snapshot, movers, CSV, timing."""
    repositories = int(result["repositories"])
    private = int(result["private"])
    snapshot = result.get("snapshot")
    lines = [
        f"# {result['org']}: {result['snapshot_date']}",
        "",
        "| | |",
        "|---|---|",
        "| Status | exported |",
        f"| Repositories | {repositories} ({repositories - private} public, {private} private) |",
    ]
    if result.get("api_count") is not None and result["api_count"] != repositories:
        lines.append(f"| Docker Hub's count | {result['api_count']} |")
    if snapshot is None:
        lines.append("| Since the previous snapshot | not compared (snapshots are off for this run) |")
    elif snapshot.get("previous_date") is None:
        lines.append("| Since the previous snapshot | first snapshot of this org |")
    else:
        since = snapshot["previous_date"]
        attributed = snapshot.get("attributed") or {}
        for label, key in (("Added", "added"), ("Removed", "removed")):
            names = snapshot[key]
            lines.append(
                f"| {label} since {since} | {_names(names, attributed.get(key)) if names else '0'} |"
            )
        flips = snapshot.get("visibility_changed") or []
        if flips:
            shown = ", ".join(
                f"`{item['name']}` {item['from']} → {item['to']}"
                + (f" (by {item['by']} at {item['at']})" if "by" in item else "")
                for item in flips[:MAX_NAMES]
            )
            more = f" ... and {len(flips) - MAX_NAMES} more" if len(flips) > MAX_NAMES else ""
            lines.append(f"| Visibility changed since {since} | {len(flips)}: {shown}{more} |")
    lines += [
        f"| CSV | `{result['csv_path']}` |",
        f"| Duration | {result['seconds']:.1f} s |",
        f"| Retries | {result['retries']} |",
        f"| Rate-limit waits | {result['rate_limited']} ({result['waited_seconds']:.1f} s) |",
    ]
    previous = snapshot.get("previous_date") if snapshot else None
    since = f"since {previous}" if previous else "since the previous snapshot"
    lines += ["", f"## Top movers (pull growth {since})", ""]
    table = markdown_table(list(movers), headers=MOVER_COLUMNS)
    if table:
        lines.append(table)
    elif previous:
        lines.append(f"None: no repository gained pulls since {previous}.")
    else:
        lines.append("None yet: growth needs two snapshots of the org.")
    if result.get("tags"):
        lines += tags_markdown(result["tags"])
    warnings = list(result.get("warnings") or [])
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {_cell(warning)}" for warning in warnings]
    return "\n".join(lines) + "\n"


# The stale-tags table artifact: these columns of `tag_reports.stale` rows, under these headers.
STALE_COLUMNS = {
    "repository": "repository", "tag": "tag", "full_size": "bytes", "tag_last_pulled": "last pulled",
    "tag_last_pushed": "last pushed", "digest": "digest",
}  # fmt: skip


def human_bytes(value: int | None) -> str:
    if value is None:
        return "unknown"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def tags_markdown(tags: Mapping[str, Any]) -> list[str]:
    """The summary's tag section: the inventory, what was listed and why, stale tags, storage."""
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(tags["reasons"].items())) or "none"
    size, previous = tags["bytes"], tags.get("previous_bytes")
    change = ""
    if previous is not None:
        sign = "+" if size >= previous else "-"
        change = f" ({sign}{human_bytes(abs(size - previous))} since {tags['previous_night']})"
    lines = [
        "",
        "## Tags",
        "",
        "| | |",
        "|---|---|",
        f"| Tags | {tags['tags']} |",
        f"| Repositories listed tonight | {tags['repositories_listed']} ({reasons}); the others carried "
        "forward |",
        f"| Stale (no pull or push for {tags['stale_days']} days) | {tags['stale_tags']} |",
        f"| Reclaimable (digests only stale tags point at) | {human_bytes(tags['reclaimable_bytes'])} |",
        f"| Storage (each digest once per repository) | {human_bytes(size)}{change} |",
        f"| CSV | `{tags['csv_path']}` |",
    ]
    if tags.get("gone"):
        lines.append(f"| Deleted while listed | {_names(tags['gone'])} |")
    largest = list(tags.get("largest_stale") or [])
    if largest:
        lines += ["", f"## Largest stale tags (no pull or push for {tags['stale_days']} days)", ""]
        lines.append(markdown_table(largest, headers=STALE_COLUMNS))
    return lines


def failure_markdown(org: str | None, snapshot_date: date | str | None, reason: str, seconds: float) -> str:
    """The summary of a failed run: what failed and why, in the same place a success would be."""
    day = snapshot_date.isoformat() if isinstance(snapshot_date, date) else snapshot_date
    return (
        "\n".join(
            [
                f"# {org or '(no organization)'}: {day or '(no date)'}",
                "",
                "| | |",
                "|---|---|",
                "| Status | **failed** |",
                f"| Reason | {_cell(reason)} |",
                f"| Duration | {seconds:.1f} s |",
                "",
                "No CSV was written for this day by this run; the snapshot database's run log records "
                "the failure.",
            ]
        )
        + "\n"
    )


def organizations_markdown(rows: Iterable[Mapping[str, Any]]) -> str:
    """The multi-org run's summary: one line per org, failures first."""
    rows = sorted(rows, key=lambda row: (row["status"] != "failed", row["org"]))
    failed = [row for row in rows if row["status"] == "failed"]
    head = f"# {len(rows)} organizations: {len(rows) - len(failed)} exported, {len(failed)} failed"
    return head + "\n\n" + markdown_table(rows, limit=len(rows)) + "\n"
