"""A year of tag history, as the store keeps it: generated night by night, written in bulk.

`tag_nights` yields the nights (the repositories listed, their tags as `store.write_tag_night` takes
them); `tag_year` writes them night by night with `store.write_tag_night`, or with ``bulk`` computes the
same rows (`BulkTagHistory`: versions, fingerprints, nights, fetches, storage) and writes them at the end
through the store's own bulk path (`store.bulk.write_rows`: executemany, COPY on PostgreSQL), which is
what makes a year affordable in a bench. It imports the `dockerhub_export` its process has (a worker may
run it on REV's code) and `tests/hubdata.py`, nothing of the harness.
"""

from __future__ import annotations

import calendar
import importlib
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

TESTS = Path(__file__).resolve().parents[2] / "tests"
PLATFORMS = ("linux/amd64", "linux/amd64;linux/arm64/v8")
USERS = ("ci-bot", "alice", "bob", "release-bot")
TAG_KEYS = ("repository", "tag")
Night = tuple[date, list[str], list[str], dict[str, list[Any]]]


def hubdata() -> Any:
    """`tests/hubdata.py` (the fake Hub's data: digests and Hub timestamps)."""
    if str(TESTS) not in sys.path:
        sys.path.append(str(TESTS))
    return importlib.import_module("hubdata")


def tag_values(rnd: random.Random, key: str, pushed: float, now: float) -> list[Any]:
    """One tag's values in `store.TAG_COLUMNS` order, pushed at ``pushed``, maybe pulled since."""
    data = hubdata()
    size = int(10 ** (6 + 3 * rnd.random()))
    pulled = None if rnd.random() < 0.15 else min(now - 3600, pushed + 86400 * 400 * rnd.random())
    return [
        data.digest_of(key),
        size,
        "active",
        None if pulled is None else data.hub_time(pulled),
        data.hub_time(pushed),
        "application/vnd.docker.distribution.manifest.v2+json",
        "image",
        data.hub_time(pushed + 2.5),
        USERS[int(rnd.random() * len(USERS))],
        PLATFORMS[int(rnd.random() * 1.3)],
    ]


def first_tags(rnd: random.Random, org: str, name: str, per_repo: int, start: float) -> dict[str, list[Any]]:
    """A repository's tags on the first night: ``per_repo - 1`` versions, oldest first, and ``latest``."""
    tags: dict[str, list[Any]] = {}
    pushed = start - 730 * 86400 * rnd.random()
    for k in range(per_repo - 1):
        pushed += 86400 * (1 + 10 * rnd.random())
        tags[f"v1.0.{k}"] = tag_values(rnd, f"{org}/{name}/v{k}", pushed, start)
    tags["latest"] = list(tags[f"v1.0.{per_repo - 2}"])
    return tags


def change(
    rnd: random.Random, key: str, tags: dict[str, list[Any]], version: int, count: int, now: float
) -> int:
    """A night's change of one repository (``key``: org/name): in one of five a push (a new version,
    ``latest`` moved to it, the oldest version deleted), then pulls of recent versions. Its next version."""
    if rnd.random() < 0.2:
        new = tag_values(rnd, f"{key}/v{version}", now, now)
        new[3] = None
        oldest = next(tag for tag in tags if tag != "latest")
        del tags[oldest]
        tags[f"v1.0.{version}"] = new
        tags["latest"] = list(new)
        version += 1
        count -= 2
    recent = [tag for tag in tags if tag != "latest"][-max(count, 8) :]
    for tag in rnd.sample(recent, min(count, len(recent))):
        tags[tag][3] = hubdata().hub_time(now + rnd.random() * 3600)
        tags[tag][2] = "active"
    return version


def listed_columns(state: dict[str, dict[str, list[Any]]], fetched: Sequence[str]) -> dict[str, list[Any]]:
    """The listed repositories' tags as columns, as `store.write_tag_night` takes them."""
    from dockerhub_export.store.tag_nights import TAG_COLUMNS

    columns: dict[str, list[Any]] = {key: [] for key in (*TAG_KEYS, *TAG_COLUMNS)}
    for name in fetched:
        for tag, values in state[name].items():
            columns["repository"].append(name)
            columns["tag"].append(tag)
            for key, value in zip(TAG_COLUMNS, values, strict=True):
                columns[key].append(value)
    return columns


def tag_nights(
    org: str, end: date, nights: int, repos: int, per_repo: int, *, change_share: float = 0.05, seed: int = 7
) -> Iterator[Night]:
    """``nights`` tag nights ending on ``end`` of ``repos`` repositories × ``per_repo`` tags: (night,
    repositories present, repositories listed, their tags). The first night lists every repository; each
    later one lists the repositories of ``change_share`` of the tags changed, 10 changed tags each, a
    third of the repositories taking 80 % of the activity (so old versions and quiet repositories go
    stale, as they do)."""
    rnd = random.Random(seed)
    start = end - timedelta(days=nights - 1)
    start_epoch = float(calendar.timegm(start.timetuple()))
    names = [f"repo-{i:05d}" for i in range(repos)]
    hot = names[: repos // 3]
    state = {name: first_tags(rnd, org, name, per_repo, start_epoch) for name in names}
    versions = dict.fromkeys(names, per_repo - 1)
    chosen = max(1, int(change_share * repos * per_repo) // 10)
    for index in range(nights):
        fetched = names
        if index:
            picked: set[str] = set()
            while len(picked) < chosen:
                picked.add(rnd.choice(hot) if rnd.random() < 0.8 else rnd.choice(names))
            fetched = sorted(picked)
            now = start_epoch + index * 86400 + 3600
            for name in fetched:
                versions[name] = change(rnd, f"{org}/{name}", state[name], versions[name], 10, now)
        yield start + timedelta(days=index), names, fetched, listed_columns(state, fetched)


def started_at(night: date) -> datetime:
    return datetime(night.year, night.month, night.day, 2, 0)


def tag_year(
    engine: sa.Engine,
    org: str,
    end: date,
    nights: int,
    repos: int,
    per_repo: int,
    *,
    bulk: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`tag_nights` written night by night with `store.write_tag_night`, as the pipeline writes them; or,
    with ``bulk``, the very same rows (`BulkTagHistory`) in one transaction at the end."""
    from dockerhub_export.store import write_tag_night

    started = time.perf_counter()
    written = 0
    history = BulkTagHistory(org) if bulk else None
    for index, (night, present, fetched, columns) in enumerate(tag_nights(org, end, nights, repos, per_repo)):
        written += len(columns["tag"])
        if history is not None:
            history.night(night, present, fetched, columns)
        else:
            write_tag_night(engine, org, night, columns, fetched, present, started_at=started_at(night))
        if progress and (index + 1) % 60 == 0:
            progress(f"tag night {index + 1}/{nights} ({time.perf_counter() - started:.0f} s)")
    if history is not None:
        history.write(engine)
    return {"nights": nights, "rows_written": written, "seconds": time.perf_counter() - started}


class BulkTagHistory:
    """What `store.write_tag_night` makes of a sequence of nights, computed here and written at the end
    through the store's own bulk path: the same versions, fingerprints (`store.tag_nights.fingerprints`),
    nights, fetches and storage rows."""

    def __init__(self, org: str) -> None:
        self.org = org
        self.open: dict[str, dict[str, int]] = {}  # repository -> tag -> index of its open version
        # [repository, tag, valid_from, valid_to, fingerprint, *TAG_COLUMNS], in the order they began
        self.versions: list[list[Any]] = []
        self.fetches: list[tuple[str, date]] = []
        self.storage: list[tuple[date, str, int, int, int]] = []  # night, repository, tags, digests, bytes
        self.nights: list[dict[str, Any]] = []
        self.sizes: dict[str, int] = {}  # repository -> bytes of its open versions' distinct digests
        self.digests: dict[str, int] = {}  # repository -> how many distinct digests they have

    def night(
        self, night: date, present: Sequence[str], fetched: Sequence[str], columns: dict[str, list[Any]]
    ) -> None:
        from dockerhub_export.store.tag_nights import fingerprints

        prints = fingerprints(columns)
        listed = set(fetched)
        new: dict[str, dict[str, int]] = {}
        for row, (repository, tag) in enumerate(zip(columns["repository"], columns["tag"], strict=True)):
            new.setdefault(repository, {})[tag] = row
        for repository in listed | (set(self.open) - set(present)):
            rows = new.get(repository, {}) if repository in listed else {}
            self.move(night, repository, rows, prints, columns)
            self.measure(repository)
        self.storage += [
            (night, repository, len(tags), self.digests[repository], self.sizes[repository])
            for repository, tags in self.open.items()
            if tags
        ]
        self.fetches += [(repository, night) for repository in sorted(listed)]
        count = sum(len(tags) for tags in self.open.values())
        self.nights.append(
            {
                "snapshot_date": night,
                "tags": count,
                "repositories": len(set(present)),
                "fetched": len(listed),
                "bytes": sum(self.sizes.values()),
            }
        )

    def move(
        self,
        night: date,
        repository: str,
        rows: dict[str, int],
        prints: list[str],
        columns: dict[str, list[Any]],
    ) -> None:
        """End the repository's versions that changed or went, open a version for each new or changed tag."""
        from dockerhub_export.store.tag_nights import TAG_COLUMNS

        tags = self.open.setdefault(repository, {})
        for tag, index in list(tags.items()):
            if tag not in rows or prints[rows[tag]] != self.versions[index][4]:
                self.versions[index][3] = night
                del tags[tag]
        for tag, row in rows.items():
            if tag not in tags:
                tags[tag] = len(self.versions)
                values = [columns[name][row] for name in TAG_COLUMNS]
                self.versions.append([repository, tag, night, None, prints[row], *values])

    def measure(self, repository: str) -> None:
        """The repository's distinct digests and their bytes (each digest once), kept until it moves."""
        digests: dict[Any, int] = {}
        for index in self.open[repository].values():
            version = self.versions[index]
            digests[version[5]] = max(digests.get(version[5], 0), version[6] or 0)
        self.sizes[repository] = sum(digests.values())
        self.digests[repository] = len(digests)

    def write(self, engine: sa.Engine) -> None:
        from dockerhub_export.store import tables
        from dockerhub_export.store.bulk import write_rows
        from dockerhub_export.store.engine import writing
        from dockerhub_export.store.runlog import utcnow

        with writing(engine, "bulk tag history") as connection:
            for night in self.nights:
                day = night["snapshot_date"]
                values = {
                    "namespace": self.org,
                    "started_at": started_at(day),
                    "written_at": utcnow(),
                    **night,
                }
                connection.execute(tables.tag_nights.insert().values(run_id=None, **values))
            for day, columns in self.version_days():
                write_rows(
                    connection, tables.tags, {"namespace": self.org, "valid_from": day}, columns, first=True
                )
            for day, repositories in grouped((day, [repository]) for repository, day in self.fetches):
                columns = {"repository": [row[0] for row in repositories]}
                write_rows(
                    connection,
                    tables.tag_fetches,
                    {"namespace": self.org, "fetched_on": day},
                    columns,
                    first=True,
                )
            for day, rows in grouped((day, list(rest)) for day, *rest in self.storage):
                names = ("repository", "tags", "digests", "bytes")
                columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
                write_rows(
                    connection,
                    tables.tag_storage,
                    {"namespace": self.org, "snapshot_date": day},
                    columns,
                    first=True,
                )

    def version_days(self) -> Iterator[tuple[date, dict[str, list[Any]]]]:
        """The versions by the night they began, as `tags` columns."""
        from dockerhub_export.store.tag_nights import TAG_COLUMNS

        layout = {"repository": 0, "tag": 1, "valid_to": 3, "fingerprint": 4}
        layout.update({name: 5 + i for i, name in enumerate(TAG_COLUMNS)})
        for day, rows in grouped((version[2], version) for version in self.versions):
            columns = {name: [row[i] for row in rows] for name, i in layout.items()}
            columns["valid_to"] = [None if end is None else end.isoformat() for end in columns["valid_to"]]
            yield day, columns


def grouped(pairs: Iterator[tuple[date, list[Any]]]) -> list[tuple[date, list[list[Any]]]]:
    """(day, row) pairs as (day, rows), by day."""
    days: dict[date, list[list[Any]]] = {}
    for day, row in pairs:
        days.setdefault(day, []).append(row)
    return sorted(days.items())
