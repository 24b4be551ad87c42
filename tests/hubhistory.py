"""One fake org, night after night: what the fake Hub serves with ``--day N``.

Day 0 is the org as `make_repos` makes it (with ``--tags``, tags from `make_tags`, pushed and pulled
before the first night). Each later day changes it the way a Hub org changes between two nightly exports,
and the audit log records what the Hub records (pulls are never logged):

- pulls grow on most repositories (a tag of each is pulled, ``latest`` after a release), a few gain a star;
- one or two repositories are created (``repo.create``) and their first tag pushed;
- a few repositories release: a new version tag and ``latest`` moved to it (``repo.tag.push``), and the
  oldest version deleted if two or more are left (``repo.tag.delete``);
- one repository changes visibility (``repo.change_privacy``, ``data.privacy`` the new one);
- one or two repositories are deleted (``repo.delete``);
- the one deliberate anomaly: one repository is deleted and created again under the same name, so its
  pull count starts over (a pull count that falls, which `trends` reports). Every other count only grows.

With ``access`` (``--access``), the org also has members, teams, repository team permissions and
access tokens (`hubaccess.make_access` on day 0), and each day changes them too, drawn from a random
stream of their own, so that the repositories, tags and their events are the same with or without:

- pending invitees accept (``org.member.add``, the actor the new member), some then join a team;
- someone is invited (``org.member.invite.send``): an invitee first, a member on a later day;
- a member may leave: out of each team (``org.team.member.remove``), then out of the org
  (``org.member.remove``);
- a role may change, member to editor or owner and back (``org.member.role.change``, ``data.from``/``to``);
- team memberships move (``org.team.member.add``/``remove``, ``name`` the member);
- team permissions on repositories are granted, changed and revoked, with no event (the Hub has no
  action for it); a deleted repository loses its permissions;
- a token may be created (``org.access_token.create``), deleted (``.delete``) or deactivated
  (``.update``); the tokens in use, and some members (``last_seen_at``), show today's use.

Org events are named after the org, team-member events after the member; ``data`` holds the rest.

Day ``d`` falls on ``start + d`` days. Its changes happen between 00:00 and 01:00 UTC of that day, and
the night (the state served) is at 01:00 UTC, so nothing is pushed after the night and no tag is pulled
before it was pushed (served before 01:00 UTC, today's night is a little ahead of the clock; the
exporter does not mind). The same org, seed and start date give the same history; day ``d + 1`` is
day ``d`` plus that day's changes. Stdlib only, like fakehub.py.
"""

from __future__ import annotations

import calendar
import random
import re
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from hubaccess import CORE, PERMISSIONS, OrgAccess, make_access, make_token
from hubdata import digest_of, hub_time, make_repos, make_tags

if TYPE_CHECKING:
    from fakehub import FakeHub

__all__ = ["MIN_START", "NIGHT_HOUR", "build", "night_moment", "night_of"]

NIGHT_HOUR = 1  # the night's export runs at 01:00 UTC; the day's changes happen in the hour before
MIN_START = date(2025, 12, 1)  # make_repos's timestamps all come before this
_VERSION = re.compile(r"v1\.0\.(\d+)")
_WORDS = ("api", "worker", "billing", "search", "gateway", "cache", "ingest", "auth", "frontend", "reports")


def night_of(start: date, day: int) -> date:
    return date.fromordinal(start.toordinal() + day)


def night_moment(start: date, day: int) -> float:
    """The night of ``day`` as a Unix time: 01:00 UTC of its date."""
    return calendar.timegm(night_of(start, day).timetuple()) + NIGHT_HOUR * 3600.0


def build(
    hub: FakeHub,
    org: str,
    n: int,
    *,
    tags: int = 0,
    seed: int = 0,
    day: int = 0,
    start: date,
    access: bool = False,
) -> None:
    """Fill ``hub`` with ``org`` as it is on the night of ``day``: ``n`` repositories on day 0, ``tags``
    tags each (every tenth repository ten times as many), then each day's changes up to ``day``; with
    ``access``, its members, teams, permissions and tokens, and their changes, too."""
    repos = make_repos(org, n, seed=seed)
    hub.repos[org] = repos
    first_night = night_moment(start, 0)
    for k, repo in enumerate(repos if tags > 0 else ()):
        count = tags * (10 if k % 10 == 9 else 1)
        listed = make_tags(org, repo["name"], count, seed=seed, now=first_night - 3600)
        hub.tags[(org, repo["name"])] = listed
        newest = listed[0]["last_updated"]  # a repository is updated when a tag is pushed to it
        if repo["last_updated"] is not None and _instant(newest) > _instant(repo["last_updated"]):
            repo["last_updated"] = newest
    if access:
        hub.access[org] = make_access(org, repos, seed=seed, now=first_night - 3600)
    for later in range(1, day + 1):
        _Day(hub, org, seed, later, start).run()
        if access:
            _AccessDay(hub, org, seed, later, start).run()


def _instant(stamp: str) -> str:
    """A Hub timestamp (0-9 fractional digits) as text that sorts by time."""
    fraction = stamp[20:].rstrip("Z") if len(stamp) > 20 and stamp[19] == "." else ""
    return stamp[:19] + fraction.ljust(9, "0")


class _Day:
    """One day's changes, drawn from a generator of its own (org, seed, day)."""

    def __init__(self, hub: FakeHub, org: str, seed: int, day: int, start: date) -> None:
        self.hub, self.org, self.day = hub, org, day
        self.rnd = random.Random(f"{org}/{seed}/day/{day}").random
        self.midnight = night_moment(start, day) - NIGHT_HOUR * 3600
        self.released: set[str] = set()

    def at(self, minute: float) -> float:
        """A time ``minute`` minutes after midnight, plus up to 50 random seconds."""
        return self.midnight + 60 * minute + 50 * self.rnd()

    def run(self) -> None:
        repos = sorted(self.hub.repos.get(self.org, []), key=lambda repo: repo["name"])
        active = [repo for repo in repos if repo.get("status") == 1]
        busy = [repo["name"] for repo in active if (repo.get("pull_count") or 0) >= 1000]
        anomaly = busy[int(self.rnd() * len(busy))] if busy else None
        others = [repo["name"] for repo in active if repo["name"] != anomaly]
        releases, removals = 2 + int(self.rnd() * 3), 1 + int(self.rnd() * 2)
        chosen = random.Random(self.rnd()).sample(others, min(len(others), releases + 1 + removals))
        for k in range(1 + int(self.rnd() * 2)):
            self.create(f"{_WORDS[int(self.rnd() * len(_WORDS))]}-d{self.day:03d}-{k}", minute=1 + 4 * k)
        for k, name in enumerate(chosen[:releases]):
            self.release(name, minute=15 + 3 * k)
        for name in chosen[releases : releases + 1]:
            repo = self.repository(name)
            self.hub.set_privacy(self.org, name, not repo["is_private"], when=self.at(30), actor="carol")
        if anomaly is not None:
            self.recreate(anomaly, minute=35)
        for k, name in enumerate(chosen[releases + 1 :]):
            self.hub.delete_repo(self.org, name, when=self.at(40 + k), actor="bob")
        self.grow(minute=45)

    def repository(self, name: str) -> dict[str, Any]:
        repo = next((repo for repo in self.hub.repos[self.org] if repo["name"] == name), None)
        assert repo is not None, name
        return repo

    def push(self, name: str, tag: str, digest: str, when: float, actor: str) -> None:
        size = int(10 ** (6 + 3 * self.rnd()))
        self.hub.push_tag(self.org, name, tag, digest=digest, size=size, when=when, actor=actor)
        repo = self.repository(name)
        if repo.get("storage_size") is not None:
            repo["storage_size"] += size
        self.released.add(name)

    def create(self, name: str, *, minute: float, private: bool | None = None) -> None:
        when = self.at(minute)
        repo = {
            "name": name,
            "namespace": self.org,
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": f"{name.split('-')[0]} service",
            "is_private": self.rnd() < 1 / 3 if private is None else private,
            "star_count": 0,
            "pull_count": 0,
            "last_updated": None,
            "last_modified": hub_time(when),
            "date_registered": hub_time(when),
            "affiliation": "",
            "media_types": ["application/vnd.docker.container.image.v1+json"],
            "content_types": ["image"],
            "categories": [],
            "storage_size": 0,
        }
        self.hub.create_repo(self.org, repo, when=when, actor="alice")
        self.push(name, "latest", digest_of(f"{self.org}/{name}/day{self.day}"), when + 30, "ci-bot")

    def release(self, name: str, *, minute: float) -> None:
        """A new version tag, ``latest`` moved to it, the oldest version deleted if two are left."""
        listed = self.hub.tags.get((self.org, name), [])
        numbers = sorted(int(m.group(1)) for tag in listed if (m := _VERSION.fullmatch(tag["name"])))
        version = f"v1.0.{numbers[-1] + 1 if numbers else 0}"
        digest = digest_of(f"{self.org}/{name}/{version}/day{self.day}")
        when = self.at(minute)
        self.push(name, version, digest, when, "release-bot")
        self.push(name, "latest", digest, when + 2, "release-bot")
        if len(numbers) >= 2:
            self.hub.delete_tag(self.org, name, f"v1.0.{numbers[0]}", when=when + 60, actor="alice")

    def recreate(self, name: str, *, minute: float) -> None:
        """The deliberate anomaly: deleted and created again, its pull count starts over."""
        private = bool(self.repository(name)["is_private"])
        self.hub.delete_repo(self.org, name, when=self.at(minute), actor="bob")
        self.create(name, minute=minute + 1, private=private)

    def grow(self, *, minute: float) -> None:
        """Pulls on most repositories (every released one), the odd new star. Never logged."""
        for repo in sorted(self.hub.repos[self.org], key=lambda repo: repo["name"]):
            name, pulls = repo["name"], repo.get("pull_count")
            if repo.get("status") != 1 or pulls is None:
                continue  # never pushed, or a count the Hub does not give: nothing to grow
            if self.rnd() < 0.05 and repo.get("star_count") is not None:
                repo["star_count"] += 1
            if name not in self.released and self.rnd() < 0.3:
                continue
            repo["pull_count"] = pulls + int(10 ** (self.rnd() * 3)) + int(pulls * 0.002 * self.rnd())
            listed = self.hub.tags.get((self.org, name), [])
            if not listed:
                continue
            tag = next((t for t in listed if t["name"] == "latest"), None)
            if tag is None or name not in self.released:
                tag = listed[int(self.rnd() * len(listed))]
            pulled = hub_time(self.at(minute + 10 * self.rnd()))
            tag["tag_last_pulled"] = pulled
            for image in tag["images"]:
                image["last_pulled"] = pulled


class _AccessDay:
    """One day's access changes, drawn from a generator of their own (org, seed, "access", day)."""

    def __init__(self, hub: FakeHub, org: str, seed: int, day: int, start: date) -> None:
        self.hub, self.org, self.day = hub, org, day
        self.state: OrgAccess = hub.access[org]
        self.rnd = random.Random(f"{org}/{seed}/access/{day}")
        self.midnight = night_moment(start, day) - NIGHT_HOUR * 3600
        # Members and tokens changed today: nothing changes twice a day, so each change shows in the night.
        self.touched: set[str] = set()

    def at(self, minute: float) -> float:
        return self.midnight + 60 * minute + 50 * self.rnd.random()

    def log(self, *events: dict[str, Any]) -> None:
        self.hub.audit.setdefault(self.org, []).extend(events)

    def owner(self) -> str:
        return self.rnd.choice([name for name, role in CORE if role == "Owner"])

    def people(self, *roles: str) -> list[str]:
        taken = {name for name, _ in CORE} | self.touched
        return sorted(n for n, m in self.state.members.items() if m["role"] in roles and n not in taken)

    def run(self) -> None:
        self.accept(minute=2)
        if self.rnd.random() < 0.8:
            name = f"joiner{self.day:03d}"
            self.touched.add(name)
            self.log(self.state.invite(name, when=self.at(6), actor=self.owner(), rnd=self.rnd))
        leaving = self.people("Member", "Editor")
        if leaving and self.rnd.random() < 0.5:
            name = self.rnd.choice(leaving)
            self.touched.add(name)
            self.log(*self.state.remove_member(name, when=self.at(10), actor=self.owner()))
        self.change_role(minute=14)
        for k in range(1 + int(self.rnd.random() * 2)):
            self.move(minute=18 + 2 * k)
        self.permissions()
        self.tokens(minute=50)
        self.seen(minute=55)

    def accept(self, *, minute: float) -> None:
        for name in self.people("Invitee"):
            if self.rnd.random() < 0.5:
                self.touched.add(name)
                when = self.at(minute)
                self.log(self.state.accept(name, when=when))
                if self.rnd.random() < 0.5:
                    team = self.rnd.choice(sorted(self.state.teams))
                    self.log(self.state.join_team(name, team, when=when + 60, actor=self.owner()))

    def change_role(self, *, minute: float) -> None:
        candidates = self.people("Member", "Editor", "Owner")
        if not candidates or self.rnd.random() >= 0.5:
            return
        name = self.rnd.choice(candidates)
        self.touched.add(name)
        role = self.rnd.choice(("Editor", "Owner")) if self.state.role(name) == "Member" else "Member"
        self.log(self.state.set_role(name, role, when=self.at(minute), actor=self.owner()))

    def move(self, *, minute: float) -> None:
        """One member joins a team, or leaves one they are in."""
        candidates = self.people("Member", "Editor", "Owner")
        if not candidates:
            return
        name, team = self.rnd.choice(candidates), self.rnd.choice(sorted(self.state.teams))
        self.touched.add(name)
        change = self.state.leave_team if name in self.state.teams[team]["members"] else self.state.join_team
        self.log(change(name, team, when=self.at(minute), actor=self.owner()))

    def permissions(self) -> None:
        """One to three grants, changes or revokes (a deleted repository lost its own with it)."""
        repos = sorted(repo["name"] for repo in self.hub.repos.get(self.org, []))
        teams = sorted(self.state.teams)
        for _ in range(1 + int(self.rnd.random() * 3)):
            repo, team = self.rnd.choice(repos), self.rnd.choice(teams)
            old = self.state.permissions.get(repo, {}).get(team)
            if old is not None and self.rnd.random() < 0.4:
                self.state.set_permission(repo, team, None)
            else:
                self.state.set_permission(repo, team, self.rnd.choice([p for p in PERMISSIONS if p != old]))

    def tokens(self, *, minute: float) -> None:
        now = _instant(hub_time(self.midnight + 3600))
        for token in self.state.tokens:
            expired = token["expires_at"] is not None and _instant(token["expires_at"]) <= now
            if token["is_active"] and not expired and self.rnd.random() < 0.7:
                token["last_used_at"] = hub_time(self.at(minute * self.rnd.random()))
        repos = list(self.hub.repos.get(self.org, []))
        if self.rnd.random() < 0.4:
            token = make_token(self.state, 100 + self.day, self.at(minute), self.rnd, repos)
            token["last_used_at"] = None
            self.touched.add(token["id"])
            self.log(self.state.create_token(token, when=_seconds(token["created_at"])))
        older = [token["id"] for token in self.state.tokens if token["id"] not in self.touched]
        if older and self.rnd.random() < 0.2:
            doomed = self.rnd.choice(older)
            self.touched.add(doomed)
            self.log(self.state.delete_token(doomed, when=self.at(minute + 2), actor=self.owner()))
        active = [t["id"] for t in self.state.tokens if t["is_active"] and t["id"] not in self.touched]
        if active and self.rnd.random() < 0.15:
            chosen = self.rnd.choice(active)
            self.log(self.state.deactivate_token(chosen, when=self.at(minute + 4), actor=self.owner()))

    def seen(self, *, minute: float) -> None:
        for member in self.state.members.values():
            if member["role"] != "Invitee" and self.rnd.random() < 0.3:
                when = self.at(minute * self.rnd.random())
                member.update(last_seen_at=hub_time(when), last_logged_in_at=hub_time(when - 60))


def _seconds(stamp: str) -> float:
    """A Hub timestamp as a Unix time."""
    head, _, fraction = stamp.removesuffix("Z").partition(".")
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) + float(f"0.{fraction or 0}")
