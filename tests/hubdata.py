"""Synthetic Docker Hub data for the fake Hub, the tests and the benchmarks: deterministic repositories,
tags in the live API's shape, and audit-log events.

Stdlib only, like fakehub.py. The repositories are what `make_repos` has always made (the golden tests
pin them). The tags follow what the live Hub returns, which differs from Docker's OpenAPI spec:
``tag_status``, not ``status``; ``images`` a list, one entry per platform, each with its own digest,
size and ``last_pulled``/``last_pushed``; ``v2`` a boolean; a tag-level ``digest``, ``media_type`` and
``content_type``. An audit-log event names the repository ``org/repo`` and carries a string map in
``data`` (``tag`` and ``digest`` for a tag push, ``tag`` for a tag delete, ``privacy`` for a visibility
change).
"""

from __future__ import annotations

import gc
import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

__all__ = ["audit_event", "digest_of", "hub_time", "make_repos", "make_tag", "make_tags"]


_CATEGORIES = (
    ("API management", "api-management"),
    ("Data science", "data-science"),
    ("Databases & storage", "databases-and-storage"),
    ("Developer tools", "developer-tools"),
    ("Integration & delivery", "integration-and-delivery"),
    ("Languages & frameworks", "languages-and-frameworks"),
    ("Machine learning & AI", "machine-learning-and-ai"),
    ("Message queues", "message-queues"),
    ("Monitoring & observability", "monitoring-and-observability"),
    ("Networking", "networking"),
    ("Operating systems", "operating-systems"),
    ("Security", "security"),
    ("Web servers", "web-servers"),
)
_MEDIA = (
    (["application/vnd.docker.container.image.v1+json"], ["image"]),
    (["application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.index.v1+json"], ["image"]),
    (
        [
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.in-toto+json",
            "application/vnd.oci.image.index.v1+json",
        ],
        ["image", "unrecognized"],
    ),
)
_WORDS = ("api", "worker", "billing", "search", "gateway", "cache", "ingest", "auth", "frontend", "reports")
# Values that break naive CSV writers or spreadsheets. One per tricky slot (see make_repos).
_TRICKY_DESCRIPTIONS: tuple[str | None, ...] = (
    "Build tools, CI helpers, and more",
    'The "official" image',
    "line one\nline two",
    "line one\r\nline two",
    "données 日本語 🐳",
    "=SUM(A1)",
    "+1",
    "-x",
    "@cmd",
    "\tTab",
    None,
    "",
)
# Positions inside every aligned block of 50 repositories that carry tricky values.
_TRICKY_SLOTS = (3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47)
_EPOCH_2015, _EPOCH_2025_06, _EPOCH_2025_10 = 1420070400, 1751328000, 1759276800


_DAYS: dict[int, str] = {}  # day number -> "YYYY-MM-DD"; strftime is the slow part of make_repos


def _timestamp(rnd: Callable[[], float], epoch: int, digits: int | None) -> str:
    """Hub style: RFC 3339 UTC with "Z". digits=None: microseconds with trailing zeros trimmed."""
    day, second = divmod(epoch, 86400)
    date = _DAYS.get(day) or _DAYS.setdefault(day, time.strftime("%Y-%m-%d", time.gmtime(day * 86400)))
    stamp = f"{date}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    if digits is None:
        fraction = f"{int(rnd() * 1_000_000):06d}".rstrip("0")
    elif digits == 0:
        fraction = ""
    else:  # exactly `digits` digits: the last one is non-zero so trimming cannot shorten it
        fraction = f"{int(rnd() * 10 ** (digits - 1)) * 10 + 1 + int(rnd() * 9):0{digits}d}"
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def make_repos(
    namespace: str, n: int, *, seed: int = 0, private_every: int = 3, tricky: bool = True
) -> list[dict[str, Any]]:
    """``n`` deterministic ``repository_list_entry`` dicts with unique, valid names.

    Repository ``i`` is private when ``i % private_every == private_every - 1`` (0 = none).
    With ``tricky``, indices 3, 7, ..., 47 of every aligned block of 50 carry awkward values
    (so all of them appear once ``n >= 50``): nulls in each nullable field, timestamps with
    0/3/5/9 fractional digits, CSV/spreadsheet-hostile descriptions, ``affiliation`` null,
    empty media/content type and category lists, and an all-digit name.
    """
    # str seeds hash with SHA-512: stable across runs and PYTHONHASHSEED; only rng.random()
    # is used (fast, and its sequence is stable across Python versions).
    rnd = random.Random(f"{namespace}/{seed}").random
    gc_was_enabled = gc.isenabled()
    gc.disable()  # allocating 100k dicts triggers many useless full collections
    try:
        return [_make_repo(namespace, i, rnd, private_every, tricky) for i in range(n)]
    finally:
        if gc_was_enabled:
            gc.enable()


def _make_repo(
    namespace: str, i: int, rnd: Callable[[], float], private_every: int, tricky: bool
) -> dict[str, Any]:
    if tricky and i % 50 == 49:
        name = f"{i:06d}"  # looks like a number to spreadsheets
    elif i % 10 == 4:
        name = f"svc.{i:06d}_api-v2"
    elif i % 10 == 7:
        name = f"x{i:06d}.web_ui"
    else:
        name = f"repo-{i:06d}"
    registered = int(_EPOCH_2015 + rnd() * (_EPOCH_2025_06 - 86400 - _EPOCH_2015))
    updated = int(registered + rnd() * (_EPOCH_2025_06 - registered))
    modified = int(updated + rnd() * (_EPOCH_2025_10 - updated))
    default_digits = None if tricky else 6
    media, content = _MEDIA[int(rnd() * len(_MEDIA))]
    n_categories = (0, 0, 1, 2)[int(rnd() * 4)]
    first_category = int(rnd() * len(_CATEGORIES))
    categories = [_CATEGORIES[(first_category + 5 * k) % len(_CATEGORIES)] for k in range(n_categories)]
    repo: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": f"{_WORDS[i % len(_WORDS)]} service for {_WORDS[(i // 10) % len(_WORDS)]}",
        "is_private": private_every > 0 and i % private_every == private_every - 1,
        "star_count": int(10 ** (rnd() * 3)) - 1,
        "pull_count": int(10 ** (rnd() * 8)),
        "last_updated": _timestamp(rnd, updated, default_digits),
        "last_modified": _timestamp(rnd, modified, default_digits),
        "date_registered": _timestamp(rnd, registered, default_digits),
        "affiliation": "",
        "media_types": list(media),
        "content_types": list(content),
        "categories": [{"name": c[0], "slug": c[1]} for c in categories],
        "storage_size": int(10 ** (5 + rnd() * 6)),
    }
    if i % 97 == 50:  # the occasional plugin repository
        repo.update(
            repository_type="plugin",
            media_types=["application/vnd.docker.plugin.v1+json"],
            content_types=["plugin"],
        )
    if tricky and i % 50 in _TRICKY_SLOTS:
        _make_tricky(repo, _TRICKY_SLOTS.index(i % 50), rnd, updated, modified, registered)
    return repo


def _make_tricky(
    repo: dict[str, Any], slot: int, rnd: Callable[[], float], updated: int, modified: int, registered: int
) -> None:
    repo["description"] = _TRICKY_DESCRIPTIONS[slot]
    nulls = {
        0: ("last_updated",),
        1: ("last_modified",),
        2: ("repository_type",),
        3: ("storage_size",),
        4: ("pull_count",),
        5: ("star_count",),
        6: ("last_updated", "last_modified", "repository_type"),
    }  # 6: created, never pushed
    if slot == 6:
        repo.update(
            status=0,
            status_description="inactive",
            pull_count=0,
            storage_size=0,
            media_types=[],
            content_types=[],
        )
    lu_digits = {7: 0, 8: 3, 9: 5, 10: 9, 11: 6}
    if slot in lu_digits:
        repo["last_updated"] = _timestamp(rnd, updated, lu_digits[slot])
    lm_digits = {2: 9, 3: 3, 4: 0, 5: 5}
    if slot in lm_digits:
        repo["last_modified"] = _timestamp(rnd, modified, lm_digits[slot])
    if slot == 11:
        repo["date_registered"] = _timestamp(rnd, registered, 0)
    for key in nulls.get(slot, ()):
        repo[key] = None
    if slot in (1, 8):
        repo["affiliation"] = None  # older responses
    if slot in (9, 11):
        repo["media_types"], repo["content_types"] = [], []
    if slot in (10, 11):
        repo["categories"] = []


# -- tags ------------------------------------------------------------------------------------------

_PLATFORMS = (
    ("linux", "amd64", None),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v7"),
    ("windows", "amd64", None),
)
_INDEX = "application/vnd.oci.image.index.v1+json"
_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_USERS = ("ci-bot", "alice", "bob", "release-bot")


def hub_time(epoch: float) -> str:
    """``epoch`` as the Hub writes it: RFC 3339 UTC, "Z", microseconds without trailing zeros."""
    seconds = int(epoch)
    micros = int(round((epoch - seconds) * 1_000_000))
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{micros:06d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_tag(
    name: str,
    digest: str,
    size: int,
    pushed: float,
    pulled: float | None,
    *,
    platforms: int = 1,
    updater: str = "ci-bot",
    status: str = "active",
) -> dict[str, Any]:
    """One tag as the live API lists it."""
    images = []
    for k in range(platforms):
        os_name, arch, variant = _PLATFORMS[k % len(_PLATFORMS)]
        images.append(
            {
                "architecture": arch,
                "features": "",
                "variant": variant,
                "digest": digest_of(f"{digest}/{k}"),
                "os": os_name,
                "os_features": "",
                "os_version": None,
                "size": size // platforms,
                "status": status,
                "last_pulled": None if pulled is None else hub_time(pulled),
                "last_pushed": hub_time(pushed),
            }
        )
    return {
        "creator": 1000,
        "id": int(digest_of(name + digest)[7:15], 16),
        "images": images,
        "last_updated": hub_time(pushed + 2.5),
        "last_updater": 1000 + len(updater),
        "last_updater_username": updater,
        "name": name,
        "repository": 1,
        "full_size": size,
        "v2": True,
        "tag_status": status,
        "tag_last_pulled": None if pulled is None else hub_time(pulled),
        "tag_last_pushed": hub_time(pushed),
        "media_type": _INDEX if platforms > 1 else _MANIFEST,
        "content_type": "image",
        "digest": digest,
    }


def make_tags(
    namespace: str, repository: str, n: int, *, seed: int = 0, now: float = 1764547200.0
) -> list[dict[str, Any]]:
    """``n`` deterministic tags of one repository: versions ``v1.0.k``, ``latest`` on the newest one's
    digest (two tags, one digest), some never pulled, some multi-platform; newest first. Every tag is
    pushed at or before ``now`` (at most 400 days before) and pulled, if ever, between its push and
    ``now``."""
    if n <= 0:
        return []
    rnd = random.Random(f"{namespace}/{repository}/{seed}").random
    versions = n - 1 if n > 1 else 1
    start = now - 400 * 86400 * rnd()
    pushed = start
    drawn = []  # (pushed, digest, size, seconds from push to last pull or None, platforms, updater)
    for k in range(versions):
        pushed += 86400 * (1 + 20 * rnd())
        digest = digest_of(f"{namespace}/{repository}/v{k}/{seed}")
        size = int(10 ** (6 + 3 * rnd()))
        pulled_after = None if rnd() < 0.15 else 86400 * 200 * rnd()
        platforms = 2 if rnd() < 0.3 else 1
        drawn.append((pushed, digest, size, pulled_after, platforms, _USERS[int(rnd() * len(_USERS))]))
    # Releases one to 21 days apart would run past `now` (years past, for hundreds of tags): squeeze
    # them into [start, now], in the same order. The draws stay the same, so only the times move.
    newest = drawn[-1][0]
    scale = 1.0 if newest <= now else (now - start) / (newest - start)
    tags = []
    for k, (raw, digest, size, pulled_after, platforms, updater) in enumerate(drawn):
        at = raw if scale == 1.0 else min(now, start + (raw - start) * scale)
        pulled = None if pulled_after is None else min(now, at + pulled_after)
        tags.append(make_tag(f"v1.0.{k}", digest, size, at, pulled, platforms=platforms, updater=updater))
    if n > 1:
        newest_tag = tags[-1]
        latest = dict(newest_tag, name="latest", id=newest_tag["id"] + 1)
        tags.append(latest)
    tags.sort(key=lambda tag: (tag["tag_last_pushed"], tag["name"]), reverse=True)
    return tags


# -- audit log ---------------------------------------------------------------------------------------

_DESCRIPTIONS = {
    "repo.create": "created repository",
    "repo.delete": "deleted repository",
    "repo.change_privacy": "changed repository privacy",
    "repo.tag.push": "pushed tag",
    "repo.tag.delete": "deleted tag",
}


def audit_event(account: str, action: str, name: str, actor: str, when: float, **data: str) -> dict[str, Any]:
    """One audit-log event as ``GET /v2/auditlogs/{account}`` lists it (``name``: ``org/repo``)."""
    return {
        "account": account,
        "action": action,
        "name": name,
        "actor": actor,
        "data": dict(data),
        "timestamp": hub_time(when),
        "action_description": _DESCRIPTIONS.get(action, action),
    }
