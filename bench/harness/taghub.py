"""The tags benches' Hub: `tests/fakehub.py` with tags (`tests/hubdata.py`), in its own process.

    python bench/harness/taghub.py --repos N [--tags T] [--mixed] [--latency S]   (`tagclients.TagHubProcess`)

Steered like `hubserver.py` (`hubchild.answer_commands`), one JSON command a line:

    {"cmd": "stats"}                   -> every API GET [kind, repository, page, started, ended, status],
                                          max_in_flight (FakeHub's own count: repository, tag and audit
                                          requests), quota_rejections
    {"cmd": "reset"}                   -> clears the records, max_in_flight, quota_rejections, the window
    {"cmd": "faults", "quota": 300}    -> sets `Faults` fields (quota, quota_window: the X-RateLimit budget)
    {"cmd": "warm"}                    -> encodes every repository and tag page once (see below)
    {"cmd": "change", "k": 20, "seed": 1}  -> k repositories changed as the Hub changes them, each with
                                          its audit event where the Hub logs one: a tag pushed, a tag
                                          deleted (only the audit log shows it), a tag pulled; answers
                                          {"changed": {name: how}}
    {"cmd": "quit"}

Answers are cached per page once served (and by ``warm``): the fake's JSON encoding (~1.5 ms for a page
of 100 tags) would otherwise run on the same two cores as the client measured, which a real Hub's CPU
does not. Latency, the X-RateLimit budget, faults and the token check still run on every request;
``change`` drops the cache.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

# Run as a script (`tagclients.TagHubProcess`): bench/ for `harness`, tests/ for the fake Hub.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tests")]

from fakehub import FakeHub, Faults, make_repos, make_tags  # noqa: E402
from fakehub_wire import RecordedRequest, Reply  # noqa: E402
from hubdata import digest_of  # noqa: E402

from harness.hubchild import answer_commands  # noqa: E402
from harness.tagclients import PAGE, tag_counts  # noqa: E402

Query = dict[str, list[str]]
Headers = dict[str, str]


class TagHub(FakeHub):
    """FakeHub with page caching and a name index (its `_repository` scans the namespace per request)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._pages: dict[tuple[Any, ...], Reply] = {}
        self._local = threading.local()
        self._index: dict[tuple[str, str], dict[str, Any]] = {}
        self.generation = 0
        self.reindex()

    def reindex(self) -> None:
        self._index = {(ns, repo["name"]): repo for ns, repos in self.repos.items() for repo in repos}

    def _repository(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._index.get((namespace, name))

    def _list_fault(self, query: Query) -> tuple[bool, Reply | None]:
        if getattr(self._local, "skip", False):
            return False, None  # already admitted (and counted) by `_cached`
        return super()._list_fault(query)

    def _cached(
        self, key: tuple[Any, ...], query: Query, headers: Headers, build: Callable[[], Reply | None]
    ) -> Reply | None:
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

    def _list(self, namespace: str, query: Query, headers: Headers) -> Reply | None:
        key = (
            "list",
            namespace,
            *(tuple(query.get(name, ())) for name in ("page", "page_size", "ordering", "name")),
        )
        return self._cached(key, query, headers, lambda: super(TagHub, self)._list(namespace, query, headers))

    def _tags(self, namespace: str, repository: str, query: Query, headers: Headers) -> Reply | None:
        key = ("tags", namespace, repository, *(tuple(query.get(name, ())) for name in ("page", "page_size")))
        return self._cached(
            key, query, headers, lambda: super(TagHub, self)._tags(namespace, repository, query, headers)
        )

    def warm(self, org: str) -> int:
        """Encode every page the exporter asks for (repositories by name, 100 a page; every tag page)."""
        headers = {"authorization": f"Bearer {self.issue_token(org, 'all')}"}
        repos = self.repos.get(org, [])
        for page in range(1, max(1, math.ceil(len(repos) / PAGE)) + 1):
            self._list(org, {"page": [str(page)], "page_size": [str(PAGE)], "ordering": ["name"]}, headers)
        pages = max(1, math.ceil(len(repos) / PAGE))
        for repo in repos:
            count = len(self.tags.get((org, repo["name"]), []))
            for page in range(1, max(1, math.ceil(count / PAGE)) + 1):
                self._tags(org, repo["name"], {"page": [str(page)], "page_size": [str(PAGE)]}, headers)
                pages += 1
        return pages

    def change(self, org: str, k: int, seed: int) -> dict[str, str]:
        """k repositories changed, in turn: a tag pushed, the oldest version deleted, a tag pulled."""
        rnd = random.Random(seed)
        names = [
            repo["name"]
            for repo in self.repos.get(org, [])
            if len(self.tags.get((org, repo["name"]), [])) > 2
        ]
        now = time.time()
        changed: dict[str, str] = {}
        for index, name in enumerate(rnd.sample(names, k)):
            tags = self.tags[(org, name)]
            how = ("push", "delete", "pull")[index % 3]
            if how == "push":
                tag = f"v9.{seed}.{index}"
                self.push_tag(
                    org, name, tag, digest=digest_of(f"{org}/{name}/{tag}"), size=12_345_678, when=now
                )
            elif how == "delete":
                self.delete_tag(org, name, tags[-1]["name"], when=now)
            else:
                self.pull(org, name, tags[1]["name"], when=now, count=3)
            changed[name] = how
        self.generation += 1
        self._pages.clear()
        return changed


def row(request: RecordedRequest) -> list[Any]:
    """[kind, repository, page, started, ended, status] of one recorded GET."""
    parts = request.path.strip("/").split("/")
    page = int((request.query.get("page") or ["1"])[-1] or 1)
    kind, repository = "other", ""
    if len(parts) >= 6 and parts[5] == "tags":
        kind, repository = "tags", unquote(parts[4])
    elif len(parts) >= 4 and parts[3] == "repositories":
        kind = "list"
    elif len(parts) >= 2 and parts[1] == "auditlogs":
        kind = "audit"
    return [kind, repository, page, request.started, request.ended, request.status]


def handler(hub: TagHub, org: str) -> Callable[[str, dict[str, Any]], dict[str, Any] | None]:
    def handle(name: str, command: dict[str, Any]) -> dict[str, Any] | None:
        if name == "stats":
            with hub._lock:
                requests = [row(r) for r in hub.requests if r.method == "GET"]
            return {
                "max_in_flight": hub.max_in_flight,
                "quota_rejections": hub.quota_rejections,
                "requests": requests,
            }
        if name == "reset":
            hub.reset_stats()
            hub._window = (0.0, 0)
            return {"ok": True}
        if name == "warm":
            return {"pages": hub.warm(org)}
        if name == "change":
            return {"changed": hub.change(org, int(command["k"]), int(command.get("seed", 1)))}
        return None

    return handle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="bench-oat")
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--tags", type=int, default=30, help="tags per repository")
    parser.add_argument("--mixed", action="store_true", help="every 10th repository 150 tags, every 50th 250")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    repos = make_repos(args.org, args.repos, seed=0)
    counts = tag_counts(args.repos, args.tags, args.mixed)
    tags = {
        (args.org, repo["name"]): make_tags(args.org, repo["name"], count, seed=0)
        for repo, count in zip(repos, counts, strict=True)
    }
    hub = TagHub({args.org: repos}, {args.token: (args.org, "all")}, Faults(latency=args.latency), tags=tags)
    hub.start()
    answer_commands(hub, {"url": hub.url, "tags": sum(counts)}, handler(hub, args.org))


if __name__ == "__main__":
    main()
