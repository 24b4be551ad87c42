"""Tag data for bench/tags.py and bench/views.py: a Hub that serves tags (in its own process), the
in-flight analysis of its request records, and a year of tag history written through the store (night
by night with `store.write_tag_night`, or the same rows in bulk: `BulkTagHistory`).

The Hub is `tests/fakehub.py`'s `FakeHub` with its tags filled by `tests/hubdata.py` (`make_tags`),
run in a separate interpreter (``python bench/tagdata.py --repos N ...``) so that its threads never
compete with the measured client for the GIL, and steered over stdin/stdout like `bench/hubserver.py`:

    {"cmd": "stats"}                   -> every API request [kind, repository, page, started, ended, status],
                                          max_in_flight (FakeHub's own count: repository, tag and audit
                                          requests), quota_rejections, logins
    {"cmd": "reset"}                   -> clears the records, max_in_flight, quota_rejections, the window
    {"cmd": "faults", "latency": 0.06} -> sets `Faults` fields (quota, quota_window, ...)
    {"cmd": "warm"}                    -> encodes every repository and tag page once (see below)
    {"cmd": "change", "k": 20, "seed": 1}   -> k repositories changed the way the Hub changes them, each
                                          with an audit event where the Hub logs one: a tag pushed
                                          (``last_updated`` moves), a tag deleted (only the audit log
                                          shows it), or a tag pulled (``pull_count`` grows); answers
                                          {"changed": {repository: how}}
    {"cmd": "quit"}

Answers are cached per page once served (and by ``warm``): the fake's JSON encoding (~1.5 ms for a page
of 100 tags) would otherwise run on the same two cores as the client being measured, which a real Hub's
CPU does not. Latency, the X-RateLimit budget (`Faults.quota`), faults and the token check still run on
every request. ``change`` drops the cache.
"""

from __future__ import annotations

import argparse
import calendar
import math
import random
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import HubProcess, answer_commands  # noqa: E402
from fakehub import FakeHub, Faults, make_repos  # noqa: E402
from hubdata import digest_of, hub_time, make_tags  # noqa: E402

PAGE = 100


def tag_counts(n: int, base: int, mixed: bool) -> list[int]:
    """Tags per repository: ``base`` each, or with ``mixed`` every 10th repository 150 (two pages) and
    every 50th 250 (three pages), the rest ``base``."""
    if not mixed:
        return [base] * n
    return [250 if i % 50 == 25 else 150 if i % 10 == 5 else base for i in range(n)]


class TagHub(FakeHub):
    """FakeHub with page caching and a name index (its `_repository` is a linear scan per request)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._pages: dict[tuple[Any, ...], Any] = {}
        self._local = threading.local()
        self._index: dict[tuple[str, str], dict[str, Any]] = {}
        self.generation = 0
        self.reindex()

    def reindex(self) -> None:
        self._index = {(ns, repo["name"]): repo for ns, repos in self.repos.items() for repo in repos}

    def _repository(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._index.get((namespace, name))

    def _list_fault(self, query):  # type: ignore[no-untyped-def]
        if getattr(self._local, "skip", False):
            return False, None  # already admitted (and counted) by the caching wrapper
        return super()._list_fault(query)

    def _cached(self, key: tuple[Any, ...], query: Any, headers: Any, build: Any) -> Any:
        answered, reply, sees_private = self._admit(query, headers)
        if answered:
            return reply
        key = (*key, sees_private, self.generation)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        self._local.skip = True
        try:
            reply = build()
        finally:
            self._local.skip = False
        if reply is not None and reply.status == 200:
            self._pages[key] = reply
        return reply

    def _list(self, namespace, query, headers):  # type: ignore[no-untyped-def]
        key = (
            "list",
            namespace,
            *(tuple(query.get(name, ())) for name in ("page", "page_size", "ordering", "name")),
        )
        return self._cached(key, query, headers, lambda: super(TagHub, self)._list(namespace, query, headers))

    def _tags(self, namespace, repository, query, headers):  # type: ignore[no-untyped-def]
        if self.faults.fail_tags:
            return super()._tags(namespace, repository, query, headers)
        key = ("tags", namespace, repository, *(tuple(query.get(name, ())) for name in ("page", "page_size")))
        return self._cached(
            key, query, headers, lambda: super(TagHub, self)._tags(namespace, repository, query, headers)
        )

    def warm(self, org: str) -> int:
        """Encode every page the exporter asks for (repositories by name, 100 a page; every tag page)."""
        headers = {"authorization": f"Bearer {self.issue_token(org, 'all')}"}
        pages = 0
        repos = self.repos.get(org, [])
        for page in range(1, max(1, math.ceil(len(repos) / PAGE)) + 1):
            query = {"page": [str(page)], "page_size": [str(PAGE)], "ordering": ["name"]}
            self._list(org, query, headers)
            pages += 1
        for repo in repos:
            count = len(self.tags.get((org, repo["name"]), []))
            for page in range(1, max(1, math.ceil(count / PAGE)) + 1):
                self._tags(org, repo["name"], {"page": [str(page)], "page_size": [str(PAGE)]}, headers)
                pages += 1
        return pages

    def change(self, org: str, k: int, seed: int) -> dict[str, str]:
        """k repositories changed (see the module docstring), in turn: push, delete, pull."""
        rnd = random.Random(seed)
        names = [
            repo["name"]
            for repo in self.repos.get(org, [])
            if len(self.tags.get((org, repo["name"]), [])) > 2
        ]
        chosen = rnd.sample(names, k)
        now = time.time()
        changed: dict[str, str] = {}
        for index, name in enumerate(chosen):
            tags = self.tags[(org, name)]
            how = ("push", "delete", "pull")[index % 3]
            if how == "push":
                tag = f"v9.{seed}.{index}"
                self.push_tag(
                    org, name, tag, digest=digest_of(f"{org}/{name}/{tag}"), size=12_345_678, when=now
                )
            elif how == "delete":
                self.delete_tag(org, name, tags[-1]["name"], when=now)  # the oldest version
            else:
                self.pull(org, name, tags[1]["name"], when=now, count=3)
            changed[name] = how
        self.generation += 1
        self._pages.clear()
        return changed


def serve() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="bench-oat")
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--tags", type=int, default=30, help="tags per repository")
    parser.add_argument("--mixed", action="store_true", help="every 10th repository 150 tags, every 50th 250")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    repos = make_repos(args.org, args.repos, seed=args.seed)
    counts = tag_counts(args.repos, args.tags, args.mixed)
    tags = {
        (args.org, repo["name"]): make_tags(args.org, repo["name"], count, seed=args.seed)
        for repo, count in zip(repos, counts, strict=True)
    }
    hub = TagHub({args.org: repos}, {args.token: (args.org, "all")}, Faults(latency=args.latency), tags=tags)
    hub.start()

    def handle(name: str, command: dict[str, Any]) -> dict[str, Any] | None:
        if name == "stats":
            with hub._lock:
                requests = list(hub.requests)
            return {
                "max_in_flight": hub.max_in_flight,
                "quota_rejections": hub.quota_rejections,
                "logins": sum(1 for r in requests if r.method == "POST"),
                "requests": [_row(r) for r in requests if r.method == "GET"],
            }
        if name == "reset":
            hub.reset_stats()
            hub._window = (0.0, 0)
        elif name == "warm":
            return {"pages": hub.warm(args.org)}
        elif name == "change":
            return {"changed": hub.change(args.org, int(command["k"]), int(command.get("seed", 1)))}
        else:
            return None
        return {"ok": True}

    answer_commands(hub, {"url": hub.url, "tags": sum(counts)}, handle)


def _row(request: Any) -> list[Any]:
    """[kind, repository, page, started, ended, status] of one recorded GET."""
    parts = request.path.strip("/").split("/")
    page = int((request.query.get("page") or ["1"])[-1] or 1)
    if len(parts) >= 6 and parts[5] == "tags":
        kind, repository = "tags", unquote(parts[4])
    elif len(parts) >= 4 and parts[3] == "repositories":
        kind, repository = "list", ""
    elif len(parts) >= 2 and parts[1] == "auditlogs":
        kind, repository = "audit", ""
    else:
        kind, repository = "other", ""
    return [kind, repository, page, request.started, request.ended, request.status]


class TagHubProcess(HubProcess):
    """``python bench/tagdata.py`` in a child process: ``with TagHubProcess(repos=..., ...) as hub``."""

    def __init__(
        self,
        repos: int,
        tags: int = 30,
        *,
        mixed: bool = False,
        latency: float = 0.0,
        token: str = "bench-oat-acme",
        org: str = "acme",
    ) -> None:
        super().__init__(repos, latency)
        self.args = [
            *("--org", org, "--token", token, "--repos", str(repos), "--tags", str(tags)),
            *("--latency", str(latency), *(["--mixed"] if mixed else [])),
        ]

    def command(self) -> list[str]:
        return [sys.executable, __file__, *self.args]

    @property
    def tags(self) -> int:
        """How many tags the Hub serves (told when it started)."""
        return int(self.started["tags"])


# -- the server's records ------------------------------------------------------------------------------------


def peak_in_flight(rows: Iterable[Sequence[Any]]) -> int:
    """Most requests in flight at any instant, from the records' (started, ended) on the server."""
    events: list[tuple[float, int]] = []
    for row in rows:
        events.append((row[3], 1))
        events.append((row[4], -1))
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a start at the same instant
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def server_span(rows: Sequence[Sequence[Any]]) -> float:
    return max(r[4] for r in rows) - min(r[3] for r in rows) if rows else float("nan")


# -- a year of tag history -----------------------------------------------------------------------------------

_PLATFORMS = ("linux/amd64", "linux/amd64;linux/arm64/v8")
_USERS = ("ci-bot", "alice", "bob", "release-bot")
TAG_KEYS = ("repository", "tag")


def tag_nights(
    org: str,
    end: date,
    nights: int,
    repos: int,
    per_repo: int,
    *,
    change: float = 0.05,
    per_repo_changes: int = 10,
    seed: int = 7,
) -> Iterator[tuple[date, list[str], list[str], dict[str, list[Any]]]]:
    """``nights`` tag nights ending on ``end`` of ``repos`` repositories × ``per_repo`` tags: yields (night,
    repositories present, repositories listed, their tags as `store.write_tag_night` takes them).

    The first night lists every repository. Each later night ``change`` of the tags change, in
    repositories of ``per_repo_changes`` changed tags each (so a night lists change × tags /
    per_repo_changes repositories, each with all its tags, as the pipeline does): mostly pulls of recent
    versions (``tag_last_pulled``), and in one repository of five a push (a new version, ``latest`` moved
    to it, the oldest version deleted). Activity is skewed: a third of the repositories take 80 % of it,
    so old versions and quiet repositories go stale, as they do.
    """
    from dockerhub_export import store

    rnd = random.Random(seed)
    start = end - timedelta(days=nights - 1)
    start_epoch = float(calendar.timegm(start.timetuple()))
    names = [f"repo-{i:05d}" for i in range(repos)]
    hot = names[: repos // 3]
    # repository -> tag -> [digest, full_size, tag_status, pulled, pushed, media_type, content_type,
    #                       last_updated, last_updater_username, platforms]; versions oldest first
    state: dict[str, dict[str, list[Any]]] = {}
    versions: dict[str, int] = {}
    for name in names:
        tags: dict[str, list[Any]] = {}
        pushed = start_epoch - 730 * 86400 * rnd.random()
        for k in range(per_repo - 1):
            pushed += 86400 * (1 + 10 * rnd.random())
            tags[f"v1.0.{k}"] = _tag_values(rnd, f"{org}/{name}/v{k}", pushed, start_epoch)
        tags["latest"] = list(tags[f"v1.0.{per_repo - 2}"])
        state[name] = tags
        versions[name] = per_repo - 1
    chosen_per_night = max(1, int(change * repos * per_repo) // per_repo_changes)
    for index in range(nights):
        night = start + timedelta(days=index)
        now = start_epoch + index * 86400 + 3600
        if index == 0:
            fetched = names
        else:
            picked: set[str] = set()
            while len(picked) < chosen_per_night:
                picked.add(rnd.choice(hot) if rnd.random() < 0.8 else rnd.choice(names))
            fetched = sorted(picked)
            for name in fetched:
                _change(rnd, org, name, state[name], versions, per_repo_changes, now)
        columns: dict[str, list[Any]] = {key: [] for key in (*TAG_KEYS, *store.TAG_COLUMNS)}
        for name in fetched:
            for tag, values in state[name].items():
                columns["repository"].append(name)
                columns["tag"].append(tag)
                for key, value in zip(store.TAG_COLUMNS, values, strict=True):
                    columns[key].append(value)
        yield night, names, fetched, columns


def _started(night: date) -> datetime:
    return datetime(night.year, night.month, night.day, 2, 0)


def tag_year(
    engine: Any,
    org: str,
    end: date,
    nights: int,
    repos: int,
    per_repo: int,
    *,
    bulk: bool = False,
    progress: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """`tag_nights` written night by night with `store.write_tag_night`, as the pipeline writes them; or,
    with ``bulk``, the very same rows (`BulkTagHistory`) in one transaction at the end."""
    from dockerhub_export import store

    started = time.perf_counter()
    written = 0
    history = BulkTagHistory(org) if bulk else None
    for index, (night, present, fetched, columns) in enumerate(
        tag_nights(org, end, nights, repos, per_repo, **options)
    ):
        written += len(columns["tag"])
        if history is not None:
            history.night(night, present, fetched, columns)
        else:
            store.write_tag_night(engine, org, night, columns, fetched, present, started_at=_started(night))
        if progress and (index + 1) % 60 == 0:
            progress(f"  tag night {index + 1}/{nights} ({time.perf_counter() - started:.0f} s)")
    if history is not None:
        history.write(engine)
    return {
        "nights": nights,
        "repositories": repos,
        "rows_written": written,
        "seconds": time.perf_counter() - started,
        "first": end - timedelta(days=nights - 1),
        "last": end,
    }


class BulkTagHistory:
    """What `store.write_tag_night` makes of a sequence of nights, computed here and written at the end
    through the store's own bulk path (`store.bulk.write_rows`: executemany, COPY on PostgreSQL): the same
    versions, fingerprints (`store.tag_nights.fingerprints`), nights and fetches. `same_history` checks
    it against the real thing."""

    def __init__(self, org: str) -> None:
        self.org = org
        self.open: dict[str, dict[str, int]] = {}  # repository -> tag -> index of its open version
        self.versions: list[
            list[Any]
        ] = []  # [repository, tag, valid_from, valid_to, fingerprint, *TAG_COLUMNS]
        self.sizes: dict[str, int] = {}  # repository -> bytes of its distinct digests (open versions)
        self.fetches: list[tuple[str, date]] = []
        # (night, repository, tags, digests, bytes): tag_storage
        self.storage: list[tuple[date, str, int, int, int]] = []
        self.digests: dict[str, int] = {}  # repository -> distinct digests of its open versions
        self.nights: list[dict[str, Any]] = []
        self.count = 0  # open versions

    def night(
        self, night: date, present: Sequence[str], fetched: Sequence[str], columns: dict[str, list[Any]]
    ) -> None:
        from dockerhub_export.store.tag_nights import TAG_COLUMNS, fingerprints

        prints = fingerprints(columns)
        listed = set(fetched)
        gone = set(self.open) - set(present)
        new: dict[str, dict[str, int]] = {}
        for row, (repository, tag) in enumerate(zip(columns["repository"], columns["tag"], strict=True)):
            new.setdefault(repository, {})[tag] = row
        for repository in listed | gone:
            tags = self.open.setdefault(repository, {})
            rows = new.get(repository, {}) if repository in listed else {}
            for tag, index in list(tags.items()):
                if tag not in rows or prints[rows[tag]] != self.versions[index][4]:
                    self.versions[index][3] = night
                    del tags[tag]
            for tag, row in rows.items():
                if tag not in tags:
                    tags[tag] = len(self.versions)
                    self.versions.append(
                        [
                            repository,
                            tag,
                            night,
                            None,
                            prints[row],
                            *(columns[name][row] for name in TAG_COLUMNS),
                        ]
                    )
            digests: dict[Any, int] = {}
            for index in tags.values():
                version = self.versions[index]
                digests[version[5]] = max(digests.get(version[5], 0), version[6] or 0)
            self.sizes[repository] = sum(digests.values())
            self.digests[repository] = len(digests)
        self.count = sum(len(tags) for tags in self.open.values())
        self.storage += [
            (night, repository, len(tags), self.digests[repository], self.sizes[repository])
            for repository, tags in self.open.items()
            if tags
        ]
        self.fetches += [(repository, night) for repository in sorted(listed)]
        self.nights.append(
            {
                "snapshot_date": night,
                "tags": self.count,
                "repositories": len(set(present)),
                "fetched": len(listed),
                "bytes": sum(self.sizes.values()),
            }
        )

    def write(self, engine: Any) -> None:
        from dockerhub_export.store import tables
        from dockerhub_export.store.bulk import write_rows
        from dockerhub_export.store.engine import writing
        from dockerhub_export.store.runlog import utcnow
        from dockerhub_export.store.tag_nights import TAG_COLUMNS

        layout = {
            "repository": 0,
            "tag": 1,
            "valid_to": 3,
            "fingerprint": 4,
            **{name: 5 + i for i, name in enumerate(TAG_COLUMNS)},
        }
        begun: dict[date, list[list[Any]]] = {}
        for version in self.versions:
            begun.setdefault(version[2], []).append(version)
        with writing(engine, "bulk tag history") as connection:
            for night in self.nights:
                day = night["snapshot_date"]
                connection.execute(
                    tables.tag_nights.insert().values(
                        namespace=self.org,
                        started_at=_started(day),
                        written_at=utcnow(),
                        run_id=None,
                        **night,
                    )
                )
            for day, rows in sorted(begun.items()):
                columns = {name: [row[i] for row in rows] for name, i in layout.items()}
                columns["valid_to"] = [
                    None if end is None else end.isoformat() for end in columns["valid_to"]
                ]
                write_rows(
                    connection, tables.tags, {"namespace": self.org, "valid_from": day}, columns, first=True
                )
            fetched: dict[date, list[str]] = {}
            for repository, day in self.fetches:
                fetched.setdefault(day, []).append(repository)
            for day, repositories in sorted(fetched.items()):
                write_rows(
                    connection,
                    tables.tag_fetches,
                    {"namespace": self.org, "fetched_on": day},
                    {"repository": repositories},
                    first=True,
                )
            storage: dict[date, list[tuple[str, int, int, int]]] = {}
            for day, repository, tags, digests, size in self.storage:
                storage.setdefault(day, []).append((repository, tags, digests, size))
            for day, rows in sorted(storage.items()):
                write_rows(
                    connection,
                    tables.tag_storage,
                    {"namespace": self.org, "snapshot_date": day},
                    {
                        name: [row[i] for row in rows]
                        for i, name in enumerate(("repository", "tags", "digests", "bytes"))
                    },
                    first=True,
                )


def same_history(a: Any, b: Any, org: str) -> str:
    """ "OK" when two databases hold the same tag history (versions, nights, fetches, storage), else the first
    differences."""
    import sqlalchemy as sa

    columns = {
        "tags": "*",
        "tag_nights": "snapshot_date, tags, repositories, fetched, bytes",  # not the run: its times and id
        "tag_fetches": "*",
        "tag_storage": "*",
    }

    def read(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
        with engine.connect() as connection:
            return {
                table: sorted(
                    tuple(row)
                    for row in connection.execute(
                        sa.text(f"SELECT {wanted} FROM {table} WHERE namespace = :o"), {"o": org}
                    )
                )
                for table, wanted in columns.items()
            }

    left, right = read(a), read(b)
    problems = []
    for name in left:
        if left[name] != right[name]:
            pairs = [(x, y) for x, y in zip(left[name], right[name], strict=False) if x != y]
            problems.append(
                f"{name}: {len(left[name])} rows vs {len(right[name])}, first difference {pairs[:1]}"
            )
    return "OK" if not problems else "; ".join(problems)


def _tag_values(rnd: random.Random, key: str, pushed: float, now: float) -> list[Any]:
    size = int(10 ** (6 + 3 * rnd.random()))
    pulled = None if rnd.random() < 0.15 else min(now - 3600, pushed + 86400 * 400 * rnd.random())
    return [
        digest_of(key),
        size,
        "active",
        None if pulled is None else hub_time(pulled),
        hub_time(pushed),
        "application/vnd.docker.distribution.manifest.v2+json",
        "image",
        hub_time(pushed + 2.5),
        _USERS[int(rnd.random() * len(_USERS))],
        _PLATFORMS[int(rnd.random() * 1.3)],
    ]


def _change(
    rnd: random.Random,
    org: str,
    name: str,
    tags: dict[str, list[Any]],
    versions: dict[str, int],
    count: int,
    now: float,
) -> None:
    if rnd.random() < 0.2:  # a push: a new version, latest moves to it, the oldest version goes
        k = versions[name]
        versions[name] = k + 1
        new = _tag_values(rnd, f"{org}/{name}/v{k}", now, now)
        new[3] = None
        oldest = next(tag for tag in tags if tag != "latest")
        del tags[oldest]
        tags[f"v1.0.{k}"] = new
        tags["latest"] = list(new)
        count -= 2
    recent = [tag for tag in tags if tag != "latest"][-max(count, 8) :]
    for tag in rnd.sample(recent, min(count, len(recent))):
        tags[tag][3] = hub_time(now + rnd.random() * 3600)
        tags[tag][2] = "active"


if __name__ == "__main__":
    serve()
