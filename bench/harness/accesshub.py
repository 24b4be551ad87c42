"""The access benches' Hub: `tests/fakehub.py` serving one org's repositories and its access (members,
teams, each repository's team permissions, tokens: `tests/hubaccess.py` `make_access`), in its own
process (`access.AccessHub`), steered over stdin/stdout like `hubserver.py` (`hubchild`):

    python bench/harness/accesshub.py --repos N [--members M] [--teams T] [--latency S]

On start it prints ``{"url": ...}``; then one JSON command a line, one answer line each:

    {"cmd": "stats"}        -> max_in_flight, quota_rejections, requests [[kind, started, ended, status]]
                               (kind: repositories, members, teams, team-members, permissions, tokens,
                               token, audit, login; started/ended: this process's time.monotonic(),
                               which on Linux compares with the bench's own clock)
    {"cmd": "reset"}        -> clears the records, max_in_flight, quota_rejections and the budget window
    {"cmd": "faults", ...}  -> sets `Faults` fields (latency, quota, quota_window, ...)
    {"cmd": "repositories", "path": P}  -> writes the org's [[name, is_private], ...] to P as JSON
                               (what the run hands `access_fetch.fetch_access`); answers its count
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

# Run as a script (`tools.HubProcess`): bench/ for `harness`, tests/ for the fake Hub.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tests")]

from fakehub import FakeHub, Faults, make_repos  # noqa: E402
from hubaccess import make_access  # noqa: E402

from harness.hubchild import answer_commands  # noqa: E402

KINDS = (
    ("repositories", re.compile(r"^/v2/namespaces/[^/]+/repositories/?$")),
    ("members", re.compile(r"^/v2/orgs/[^/]+/members/?$")),
    ("teams", re.compile(r"^/v2/orgs/[^/]+/groups/?$")),
    ("team-members", re.compile(r"^/v2/orgs/[^/]+/groups/[^/]+/members/?$")),
    ("permissions", re.compile(r"^/v2/repositories/[^/]+/[^/]+/groups/?$")),
    ("tokens", re.compile(r"^/v2/orgs/[^/]+/access-tokens/?$")),
    ("token", re.compile(r"^/v2/orgs/[^/]+/access-tokens/[^/]+/?$")),
    ("audit", re.compile(r"^/v2/auditlogs/")),
)


def kind_of(method: str, path: str) -> str:
    if method == "POST":
        return "login"
    return next((kind for kind, route in KINDS if route.match(path)), "other")


def handle(hub: FakeHub, org: str, name: str, command: dict[str, Any]) -> dict[str, Any] | None:
    if name == "stats":
        with hub._lock:
            requests = list(hub.requests)
        return {
            "max_in_flight": hub.max_in_flight,
            "quota_rejections": hub.quota_rejections,
            "requests": [[kind_of(r.method, r.path), r.started, r.ended, r.status] for r in requests],
        }
    if name == "reset":
        hub.reset_stats()
        with hub._lock:
            hub._window = (0.0, 0)  # the next request opens a new budget window
        return {"ok": True}
    if name == "repositories":
        listed = [[repo["name"], bool(repo.get("is_private"))] for repo in hub.repos[org]]
        Path(command["path"]).write_text(json.dumps(listed), encoding="utf-8")
        return {"count": len(listed)}
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="bench-oat-acme")
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--teams", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    repos = make_repos(args.org, args.repos, seed=args.seed)
    access = make_access(args.org, repos, seed=args.seed, members=args.members, teams=args.teams)
    hub = FakeHub(
        {args.org: repos},
        {args.token: (args.org, "all")},
        Faults(latency=args.latency),
        access={args.org: access},
    )
    hub.start()
    answer_commands(hub, {"url": hub.url}, lambda name, command: handle(hub, args.org, name, command))


if __name__ == "__main__":
    main()
