"""Changes to the fake Hub's data (``fakehub.py``) made the way the real Hub makes them, audit-log
events included: pushing, deleting and pulling tags, creating and deleting repositories, flipping their
privacy. ``HubChanges`` is a part of ``FakeHub``; ``hubhistory`` uses it to move one org forward night
after night.

Stdlib only, like fakehub.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubdata import audit_event, hub_time, make_tag

if TYPE_CHECKING:
    from hubaccess import OrgAccess

__all__ = ["HubChanges"]


class HubChanges:
    """FakeHub's history helpers; FakeHub holds the data declared here."""

    repos: dict[str, list[dict[str, Any]]]
    tags: dict[tuple[str, str], list[dict[str, Any]]]
    audit: dict[str, list[dict[str, Any]]]
    access: dict[str, OrgAccess]

    def _repository(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next((repo for repo in self.repos.get(namespace, []) if repo.get("name") == name), None)

    def _log(
        self, namespace: str, action: str, repository: str, actor: str, when: float, **data: str
    ) -> None:
        self.audit.setdefault(namespace, []).append(
            audit_event(namespace, action, f"{namespace}/{repository}", actor, when, **data)
        )

    def push_tag(
        self,
        namespace: str,
        repository: str,
        tag: str,
        *,
        digest: str,
        size: int,
        when: float,
        actor: str = "ci-bot",
        platforms: int = 1,
    ) -> dict[str, Any]:
        """Push ``tag`` (new, or moved to ``digest``): the repository's ``last_updated`` moves too."""
        tags = self.tags.setdefault((namespace, repository), [])
        old = next((item for item in tags if item["name"] == tag), None)
        pulled = None
        if old is not None:
            tags.remove(old)
            pulled = old["tag_last_pulled"]
        new = make_tag(tag, digest, size, when, None, platforms=platforms, updater=actor)
        new["tag_last_pulled"] = pulled
        tags.insert(0, new)
        repo = self._repository(namespace, repository)
        if repo is not None:
            repo["last_updated"] = hub_time(when + 2.5)
        self._log(namespace, "repo.tag.push", repository, actor, when, tag=tag, digest=digest)
        return new

    def delete_tag(
        self, namespace: str, repository: str, tag: str, *, when: float, actor: str = "alice"
    ) -> None:
        """Delete ``tag``: nothing on the repository itself shows it, only the audit log."""
        tags = self.tags.get((namespace, repository), [])
        tags[:] = [item for item in tags if item["name"] != tag]
        self._log(namespace, "repo.tag.delete", repository, actor, when, tag=tag)

    def pull(self, namespace: str, repository: str, tag: str, *, when: float, count: int = 1) -> None:
        """``count`` pulls of ``tag``: its last-pulled time and the repository's pull count (no audit
        event)."""
        for item in self.tags.get((namespace, repository), []):
            if item["name"] == tag:
                item["tag_last_pulled"] = hub_time(when)
                for image in item["images"]:
                    image["last_pulled"] = hub_time(when)
        repo = self._repository(namespace, repository)
        if repo is not None:
            repo["pull_count"] = (repo.get("pull_count") or 0) + count

    def create_repo(self, namespace: str, repo: dict[str, Any], *, when: float, actor: str = "alice") -> None:
        self.repos.setdefault(namespace, []).append(repo)
        self._log(namespace, "repo.create", repo["name"], actor, when)

    def delete_repo(self, namespace: str, name: str, *, when: float, actor: str = "alice") -> None:
        self.repos[namespace] = [repo for repo in self.repos.get(namespace, []) if repo.get("name") != name]
        self.tags.pop((namespace, name), None)
        if namespace in self.access:  # its team permissions go with it
            self.access[namespace].permissions.pop(name, None)
        self._log(namespace, "repo.delete", name, actor, when)

    def set_privacy(
        self, namespace: str, name: str, private: bool, *, when: float, actor: str = "alice"
    ) -> None:
        repo = self._repository(namespace, name)
        assert repo is not None, name
        repo["is_private"] = private
        self._log(
            namespace, "repo.change_privacy", name, actor, when, privacy="private" if private else "public"
        )
