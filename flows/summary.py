"""What a run shows in the Prefect UI: artifact keys, the markdown summaries, the tables' rows and
descriptions.

Plain functions of a run's typed result (`dockerhub_export.results`), no Prefect import, so they are
tested without a server; flows/artifacts.py publishes what they return with ``prefect.artifacts``.
"""

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypedDict

from dockerhub_export import humanize
from dockerhub_export.humanize import count, moment, size
from dockerhub_export.results import AccessResult, Anomaly, Attribution, RunResult, SnapshotChanges, TagResult

from . import summary_access

KEY_PREFIX = "dockerhub-export"
MAX_NAMES = 20  # names listed per "added"/"removed" line before "... and N more"
# The summary's movers table: these columns of `snapshot_queries.top_movers` rows, under these headers (the
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


def artifact_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows (top movers, stale tags, orgs) as a table artifact's: ``create_table_artifact`` needs
    JSON-serializable cells."""
    return [jsonable(dict(row)) for row in rows]


def _names(names: Sequence[str], by: Mapping[str, Attribution] | None = None) -> str:
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


def summary_markdown(result: RunResult) -> str:
    """The run's summary: org, day, counts, changes since the previous snapshot (anomalies included),
    movers, CSV, timing. Every sentence says what is true of this night (first, no database, quiet)."""
    snapshot, repositories, private = result.snapshot, result.repositories, result.private
    lines = [
        f"# {result.org}: {result.snapshot_date}",
        "",
        "| | |",
        "|---|---|",
        "| Status | exported |",
        f"| Repositories | {count(repositories)} ({count(repositories - private)} public, "
        f"{count(private)} private) |",
    ]
    if result.api_count is not None and result.api_count != repositories:
        lines.append(f"| Docker Hub's count | {count(result.api_count)} |")
    lines += _changes(snapshot)
    lines += [
        f"| CSV | `{result.csv_path}` |",
        *([f"| Report | `{result.report_path}` |"] if result.report_path is not None else []),
        f"| Duration | {result.seconds:.1f} s |",
        f"| Retries | {count(result.retries)} |",
        f"| Rate-limit waits | {count(result.rate_limited)} ({result.waited_seconds:.1f} s) |",
    ]
    if result.access is not None:
        lines.append(f"| Access | {access_line(result.access)} |")
    lines += _movers(snapshot, result.top_movers)
    if result.tags is not None:
        lines += tags_markdown(result.tags, repositories)
    if result.access is not None:
        lines += summary_access.access_markdown(result.access, result.org)
    if result.warnings:
        lines += ["", "## Warnings", ""] + [f"- {_cell(warning)}" for warning in result.warnings]
    return "\n".join(lines) + "\n"


def access_line(access: AccessResult) -> str:
    """The night's access in counts (never a name or an email: the summary is forwarded)."""
    parts = [
        f"{count(value)} {label}"
        for value, label in (
            (access.members, "members"),
            (access.teams, "teams"),
            (access.permissions, "team permissions"),
            (access.tokens, "access tokens"),
        )
        if value is not None
    ]
    missing = f" (not read: {', '.join(access.missing)})" if access.missing else ""
    return (", ".join(parts) or "nothing could be read") + missing


def _changes(snapshot: SnapshotChanges | None) -> list[str]:
    """The summary's rows on what changed since the previous snapshot."""
    if snapshot is None:
        return ["| Since the previous snapshot | not compared (snapshots are off for this run) |"]
    since = snapshot.previous_date
    if since is None:
        return ["| Since the previous snapshot | not compared: no earlier snapshot of this org |"]
    lines = []
    for label, key, names in (("Added", "added", snapshot.added), ("Removed", "removed", snapshot.removed)):
        by = snapshot.attributed.get(key)
        lines.append(f"| {label} since {since} | {_names(names, by) if names else '0'} |")
    flips = snapshot.visibility_changed
    if flips:
        shown = ", ".join(
            f"`{item['name']}` {item['from']} → {item['to']}"
            + (f" (by {item['by']} at {item['at']})" if "by" in item else "")
            for item in flips[:MAX_NAMES]
        )
        more = f" ... and {len(flips) - MAX_NAMES} more" if len(flips) > MAX_NAMES else ""
        lines.append(f"| Visibility changed since {since} | {len(flips)}: {shown}{more} |")
    return lines + _anomalies(snapshot.anomalies, since)


ANOMALY_LABELS = {"pulls_decreased": "Pull count fell since {since}", "pulls_unknown": "Pull count unknown"}


def _anomalies(anomalies: Sequence[Anomaly] | None, since: date) -> list[str]:
    """A row per kind of anomaly (name, kind, and the pull counts where known).

    Pull counts only grow, so a fall is always shown, "0" on a normal night; None: not computed (no row,
    rather than a "0" that was never checked)."""
    if anomalies is None:
        return []
    kinds: dict[str, list[Anomaly]] = {"pulls_decreased": []}
    for item in anomalies:
        kinds.setdefault(item["kind"], []).append(item)
    lines = []
    for kind, items in kinds.items():
        label = ANOMALY_LABELS.get(kind, f"Anomaly {kind}").format(since=since)
        shown = ", ".join(_anomaly(item) for item in items[:MAX_NAMES])
        more = f" ... and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else ""
        lines.append(f"| {label} | {count(len(items))}: {shown}{more} |" if items else f"| {label} | 0 |")
    return lines


def _anomaly(item: Anomaly) -> str:
    start, end = item["pulls_start"], item["pulls_end"]
    if start is not None and end is not None and end < start:
        return f"`{item['name']}` (down {count(start - end)} to {count(end)})"
    return f"`{item['name']}`"


def _signed(value: int | None) -> str:
    return ("+" if value is not None and value > 0 else "") + count(value)


# How the summary's tables show their numbers (the table artifacts keep the exact values).
MOVER_FORMATS: dict[str, Callable[[Any], str]] = {
    "pulls_delta": count,
    "pulls_start": count,
    "pulls_end": count,
    "stars_delta": _signed,
}


def _formatted(row: Mapping[str, Any], formats: Mapping[str, Callable[[Any], str]]) -> dict[str, Any]:
    return {key: formats[key](value) if key in formats else value for key, value in row.items()}


def _movers(snapshot: SnapshotChanges | None, movers: Sequence[Mapping[str, Any]]) -> list[str]:
    previous = None if snapshot is None else snapshot.previous_date
    lines = ["", f"## Top movers (pull growth since {previous})" if previous else "## Top movers", ""]
    table = markdown_table([_formatted(row, MOVER_FORMATS) for row in movers], headers=MOVER_COLUMNS)
    if table:
        lines.append(table)
    elif snapshot is None:
        lines.append("None: snapshots are off for this run, so there is no earlier night to compare with.")
    elif previous is None:
        lines.append("None: there is no earlier snapshot of this org to compare with.")
    else:
        lines.append(f"None: no repository gained pulls since {previous}.")
    return lines


def _plural(number: int, one: str, many: str) -> str:
    return f"{count(number)} {one if number == 1 else many}"


def movers_description(result: RunResult, top: int) -> str:
    """The top-movers table's description, true of this night: why it is empty, or what it holds."""
    snapshot, movers, org = result.snapshot, result.top_movers, result.org
    previous = None if snapshot is None else snapshot.previous_date
    if snapshot is None:
        what = "no top movers: snapshots are off for this run"
    elif previous is None:
        what = f"no top movers: there is no earlier snapshot of {org} to compare with"
    elif not movers:
        what = f"no repository gained pulls since {previous}"
    elif len(movers) < top:
        what = f"the {_plural(len(movers), 'repository', 'repositories')} that gained pulls since {previous}"
    else:
        what = f"the {top} repositories with the largest pull growth since {previous}"
    return f"{org} {result.snapshot_date}: {what}"


def stale_description(result: RunResult, tags: TagResult) -> str:
    """The stale-tags table's description: how many of the night's stale tags (``result.tags``) it holds."""
    stale, shown = tags.stale_tags, len(tags.largest_stale)
    idle = f"without a pull or push for {tags.stale_days} days"
    if stale == 0:
        what = f"no tag {idle}"
    elif shown < stale:
        what = f"the {count(shown)} largest of the {count(stale)} tags {idle}"
    else:
        what = f"the {_plural(stale, 'tag', 'tags')} {idle}, largest first"
    return f"{result.org} {result.snapshot_date}: {what}"


STALE_SHOWN = 10  # rows of the summary's stale-tags table (the table artifact has them all)
# The summary's stale-tags table: these columns of `tag_queries.stale` rows, under these headers.
STALE_COLUMNS = {
    "repository": "repository", "tag": "tag", "full_size": "size", "tag_last_pulled": "last pulled (UTC)",
    "tag_last_pushed": "last pushed (UTC)", "digest": "digest",
}  # fmt: skip
STALE_FORMATS: dict[str, Callable[[Any], str]] = {
    "full_size": size, "tag_last_pulled": moment, "tag_last_pushed": moment, "digest": humanize.digest,
}  # fmt: skip


def tags_markdown(tags: TagResult, repositories: int | None = None) -> list[str]:
    """The summary's tag section: the inventory, what was listed and why (and what was carried forward
    from earlier nights, of the night's ``repositories``), stale tags, storage."""
    listed, gone = tags.repositories_listed, len(tags.gone)
    reasons = ", ".join(f"{count(number)} {reason}" for reason, number in sorted(tags.reasons.items()))
    listing = count(listed) + (f" of {count(repositories)}" if repositories is not None else "")
    listing += f" ({reasons})" if reasons else ""
    carried = 0 if repositories is None else repositories - listed - gone
    if carried > 0:
        listing += f"; {count(carried)} carried forward from earlier nights"
    total, previous = tags.bytes, tags.previous_bytes
    change = ""
    if previous is not None:
        sign = "+" if total >= previous else "-"
        change = f" ({sign}{size(abs(total - previous))} since {tags.previous_night})"
    lines = [
        "",
        "## Tags",
        "",
        "| | |",
        "|---|---|",
        f"| Tags | {count(tags.tags)} |",
        f"| Repositories listed tonight | {listing} |",
        f"| Stale (no pull or push for {tags.stale_days} days) | {count(tags.stale_tags)} |",
        f"| Reclaimable (digests only stale tags point at) | {size(tags.reclaimable_bytes)} |",
        f"| Storage (each digest once per repository) | {size(total)}{change} |",
        f"| CSV | `{tags.csv_path}` |",
    ]
    if gone:
        lines.append(f"| Deleted while listed | {_names(tags.gone)} |")
    return lines + _largest_stale(tags)


def _largest_stale(tags: TagResult) -> list[str]:
    """The largest stale tags as a table that fits a page: sizes, times to the second, short digests."""
    largest = [_formatted(row, STALE_FORMATS) for row in tags.largest_stale[:STALE_SHOWN]]
    if not largest:
        return []
    stale, idle = tags.stale_tags, f"no pull or push for {tags.stale_days} days"
    heading = (
        f"## The {count(len(largest))} largest of {count(stale)} stale tags ({idle})"
        if len(largest) < stale
        else f"## Stale tags ({idle}), largest first"
    )
    return ["", heading, "", markdown_table(largest, limit=STALE_SHOWN, headers=STALE_COLUMNS)]


def failure_markdown(
    org: str | None, snapshot_date: date | str | None, reason: str, seconds: float, *, logged: bool = False
) -> str:
    """The summary of a failed run: what failed and why, in the same place a success would be;
    ``logged``: the snapshot database's run log holds the failure (a first run that fails before its
    listing makes no database)."""
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
                "No CSV was written for this day by this run"
                + ("; the snapshot database's run log records the failure." if logged else "."),
            ]
        )
        + "\n"
    )


class OrgRow(TypedDict):
    """One org of a multi-org run: the outcome, the org's figures (None: not known), a link to its run."""

    org: str
    status: Literal["exported", "failed"]
    repositories: int | None
    private: int | None
    tags: int | None
    csv_path: str | None
    run: str | None
    reason: str | None  # why it failed


def organizations_markdown(rows: Iterable[OrgRow]) -> str:
    """The multi-org run's summary: one line per org, failures first."""
    rows = sorted(rows, key=lambda row: (row["status"] != "failed", row["org"]))
    failed = [row for row in rows if row["status"] == "failed"]
    head = f"# {len(rows)} organizations: {len(rows) - len(failed)} exported, {len(failed)} failed"
    return head + "\n\n" + markdown_table(rows, limit=len(rows)) + "\n"
