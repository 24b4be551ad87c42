"""The benchmark Hub: `tests/fakehub.py` in its own process, steered over stdin/stdout.

The fake Hub runs in a separate interpreter so that its threads never compete with the measured
client for the GIL. Protocol: one JSON object per line. On start it prints ``{"url": ...}``; then each
command line gets one answer line:

    {"cmd": "stats"}                      -> max_in_flight, list requests
                                             [[page, started, ended, status]], ...
    {"cmd": "reset"}                      -> clears recorded requests and max_in_flight
    {"cmd": "faults", "latency": 0.06}    -> sets Faults fields
    {"cmd": "quota", "per_window": 40, "window": 1.0}   -> a fixed-window request quota (0 turns it off)
    {"cmd": "quit"}

``started``/``ended`` are ``time.monotonic()`` of the server process: CLOCK_MONOTONIC is system-wide
on Linux, so they compare with the bench process's own clock.

Answers are cached per (namespace, visibility, query) once served: the fake's JSON encoding (~1.4 ms a
page) would otherwise run on the same two cores as the client being measured, which a real Hub's CPU
does not. Faults, the quota and the token check still run on every request.

The quota models the Hub's real rate limit (N requests per window, then 429 until the window resets,
with ``Retry-After`` = the seconds left): every list request beyond ``per_window`` in the current
window is answered 429, so a client that keeps sending while limited is seen as a storm.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Run as a script (`tools.HubProcess`): bench/ for `harness`, tests/ for the fake Hub.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tests")]

from fakehub import FakeHub, Faults, _seconds, _text, make_repos  # noqa: E402
from fakehub_wire import Reply  # noqa: E402

from harness.hubchild import answer_commands  # noqa: E402


class QuotaHub(FakeHub):
    """FakeHub plus an optional fixed-window quota on list requests (see the module docstring)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.per_window = 0
        self.window = 1.0
        self._window_start = 0.0
        self._window_used = 0
        self.quota_429 = 0
        self._quota_lock = threading.Lock()
        self._local = threading.local()
        self._pages: dict[tuple[Any, ...], Reply] = {}

    def _list(self, namespace: str, query: dict[str, list[str]], headers: dict[str, str]) -> Reply | None:
        answered, reply, sees_private = self._admit(query, headers)
        if answered:
            return reply
        key = (
            namespace,
            sees_private,
            tuple(sorted((k, tuple(v)) for k, v in query.items())),
            self.faults.next_link_base,
            self.faults.omit_count,
            len(self.repos.get(namespace) or ()),
        )
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        self._local.skip_faults = True  # already counted above
        try:
            reply = super()._list(namespace, query, headers)
        finally:
            self._local.skip_faults = False
        if reply is not None and reply.status == 200:
            self._pages[key] = reply
        return reply

    def _list_fault(self, query: dict[str, list[str]]) -> tuple[bool, Reply | None]:
        if getattr(self._local, "skip_faults", False):
            return False, None
        if self.per_window > 0:
            now = time.monotonic()
            with self._quota_lock:
                if now - self._window_start >= self.window:
                    # Windows are aligned on a grid, like the Hub's per-minute counters.
                    self._window_start = now - (now - self._window_start) % self.window
                    self._window_used = 0
                self._window_used += 1
                limited = self._window_used > self.per_window
                if limited:
                    self.quota_429 += 1
                    self.list_requests_seen += 1
                    remaining = self.window - (now - self._window_start)
            if limited:
                # Whole milliseconds, rounded up: a client waiting exactly this long is past the reset.
                wait = math.ceil(max(remaining, 0.001) * 1000) / 1000
                return True, _text(429, "Too Many Requests", (("Retry-After", _seconds(wait)),))
        return super()._list_fault(query)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="bench-oat")
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    hub = QuotaHub(
        {args.org: make_repos(args.org, args.repos, seed=args.seed)},
        {args.token: (args.org, "all")},
        Faults(latency=args.latency),
    )
    hub.start()

    def handle(name: str, command: dict[str, Any]) -> dict[str, Any] | None:
        if name == "stats":
            with hub._lock:
                requests = list(hub.requests)
            listed = [
                [int((r.query.get("page") or ["1"])[-1] or 1), r.started, r.ended, r.status]
                for r in requests
                if r.method == "GET"
            ]
            return {
                "max_in_flight": hub.max_in_flight,
                "list_requests": listed,
                "logins": sum(1 for r in requests if r.method == "POST"),
                "quota_429": hub.quota_429,
            }
        if name == "reset":
            hub.reset_stats()
            hub.quota_429 = 0
            hub._window_start, hub._window_used = 0.0, 0
        elif name == "quota":
            hub.per_window = int(command.get("per_window", 0))
            hub.window = float(command.get("window", 1.0))
            hub._window_start, hub._window_used = 0.0, 0
        else:
            return None
        return {"ok": True}

    answer_commands(hub, {"url": hub.url}, handle)


if __name__ == "__main__":
    main()
