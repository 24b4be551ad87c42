"""Who changed what: the audit-log events that explain a repository appearing, vanishing or changing
visibility between two snapshots (`trends` and the nightly summary show them as ``by`` and ``at``)."""

from datetime import date

import sqlalchemy as sa

from .store import audit

# Audit actions that explain a repository appearing, vanishing or changing visibility.
CREATE, DELETE, PRIVACY = "repo.create", "repo.delete", "repo.change_privacy"


def attributed_changes(
    engine: sa.Engine, org: str, start: date, end: date
) -> dict[str, dict[str, dict[str, str]]]:
    """Who (``by``) and when (``at``) each repository was last created, deleted or made public or private
    in the audit log, from the start of ``start`` to the end of ``end`` (UTC days).

    Keyed by action, then repository; privacy changes by ``repo.change_privacy:public`` or ``:private``
    (``:`` when the event does not say), so that a flip finds the newest event that set what it flipped
    to, even when a later flip of the same day came after the snapshot.
    """
    found: dict[str, dict[str, dict[str, str]]] = {CREATE: {}, DELETE: {}}
    prefix = f"{org}/"
    for event in audit.events(engine, org, since=start, until=end, actions=(CREATE, DELETE, PRIVACY)):
        name = str(event.get("name") or "")
        if not name.startswith(prefix):
            continue
        key = event["action"]
        if key == PRIVACY:
            key = f"{PRIVACY}:{event['data'].get('privacy') or ''}"
        # newest first: the first event seen for a repository is its last
        found.setdefault(key, {}).setdefault(
            name[len(prefix) :], {"by": event["actor"], "at": event["timestamp"]}
        )
    return found


def attribute(
    added: list[dict[str, str]],
    removed: list[dict[str, str]],
    flipped: list[dict[str, str]],
    changes: dict[str, dict[str, dict[str, str]]],
) -> None:
    """Add ``by`` and ``at`` to the changes an audit event explains (a flip only by an event that set the
    visibility it flipped to, or one that does not say)."""
    for items, action in ((added, CREATE), (removed, DELETE)):
        for item in items:
            event = changes.get(action, {}).get(item["name"])
            if event is not None:
                item.update(by=event["by"], at=event["at"])
    for item in flipped:
        event = changes.get(f"{PRIVACY}:{item['to']}", {}).get(item["name"]) or changes.get(
            f"{PRIVACY}:", {}
        ).get(item["name"])
        if event is not None:
            item.update(by=event["by"], at=event["at"])
