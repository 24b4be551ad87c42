"""store: what a snapshot write reports and keeps beside its rows, on every backend: the summary's
comparison with the previous snapshot, text through every write path (COPY's escapes), and
`repository_last_seen` under writers of different days at once."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo, stored_rows

from dockerhub_export import store
from dockerhub_export.errors import StoreError
from dockerhub_export.store.tables import repository_last_seen

DAY1, DAY2, DAY3 = date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)


def test_the_summary_names_what_was_added_vanished_and_flipped(engine: sa.Engine) -> None:
    before = frame(
        repo("zeta"), repo("alpha", private=True), repo("unknown-then", private=None), repo("known-then"),
        repo("gone", private=True), repo("same", private=True),
    )  # fmt: skip
    first = store.upsert_snapshot(engine, ORG, DAY1, before)
    assert (first.previous_date, first.added, first.vanished, first.flipped) == (None, [], [], [])
    second = frame(
        repo("zeta", private=True), repo("alpha"), repo("unknown-then", private=True),
        repo("known-then", private=None), repo("same", private=True), repo("new"),
        repo("a-new", private=True),
    )  # fmt: skip
    flips = [
        {"name": "alpha", "from": "private", "to": "public"},
        {"name": "zeta", "from": "public", "to": "private"},
    ]  # only known visibilities on both days; sorted by name
    for _ in range(2):  # the new day, then the same day again: both against the day before
        summary = store.upsert_snapshot(engine, ORG, DAY2, second)
        assert (summary.previous_date, summary.added, summary.vanished) == (DAY1, ["a-new", "new"], ["gone"])
        assert summary.flipped == flips
    assert store.upsert_snapshot(engine, ORG, DAY3, second).flipped == []


TEXTS = [None, "", "plain", "tab\there", "line\nbreak", "cr\rhere", "back\\slash", "\\N", "\\.", "é😀"]
TEXTS += ["\t\\\n", "\\\\N"]


def test_text_is_stored_exactly_through_first_writes_and_rewrites(engine: sa.Engine) -> None:
    """More rows than one COPY chunk (5,000), the values that need escaping only in some chunks."""
    names = [f"repo-{i:05d}" for i in range(12_000)]
    descriptions = ["plain"] * 6_000 + [TEXTS[i % len(TEXTS)] for i in range(6_000)]
    columns = {"name": names, "description": descriptions, "pull_count": list(range(12_000))}
    store.write_snapshot(engine, ORG, DAY1, columns)  # first write
    store.write_snapshot(engine, ORG, DAY2, {"name": names[:10], "description": ["old"] * 10})
    store.write_snapshot(engine, ORG, DAY2, columns)  # a rewrite: every row of the first ten an update
    for day in (DAY1, DAY2):
        stored = stored_rows(engine, ORG, day)
        assert [stored[name]["description"] for name in names] == descriptions
        assert [stored[name]["pull_count"] for name in names] == list(range(12_000))


def test_a_nul_in_text_is_refused_by_postgresql_and_kept_by_the_others(engine: sa.Engine) -> None:
    columns = {"name": ["web", "api"], "description": ["tab\there", "nul\x00inside"]}
    if engine.dialect.name != "postgresql":
        store.write_snapshot(engine, ORG, DAY1, columns)
        stored = stored_rows(engine, ORG, DAY1)
        assert (stored["web"]["description"], stored["api"]["description"]) == ("tab\there", "nul\x00inside")
        return
    with pytest.raises(StoreError, match="0x00"):
        store.write_snapshot(engine, ORG, DAY1, columns)
    assert stored_rows(engine, ORG, DAY1) == {}


def _last_seen(engine: sa.Engine) -> dict[str, date]:
    seen = repository_last_seen
    with engine.connect() as connection:
        rows = connection.execute(sa.select(seen.c.name, seen.c.snapshot_date).where(seen.c.namespace == ORG))
        return {name: day for name, day in rows}


def test_writers_of_other_days_at_once_leave_each_repository_at_its_latest_day(db_url: str) -> None:
    """Three days of one org written at once, their names overlapping: no deadlock, no lost move."""
    engines = [store.open_engine(db_url) for _ in range(3)]
    days = (DAY1, DAY2, DAY3)
    named = {day: [f"r-{i:04d}" for i in range(k * 400, k * 400 + 1_200)] for k, day in enumerate(days)}
    named[DAY2].reverse()  # the frames' orders differ: no lock order comes from them
    try:
        for round_ in range(2):
            barrier, errors = threading.Barrier(3), list[BaseException]()

            def write(
                engine: sa.Engine,
                day: date,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    barrier.wait()
                    store.upsert_snapshot(engine, ORG, day, frame(*(repo(name) for name in named[day])))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=write, args=pair) for pair in zip(engines, days, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not errors
            latest = {name: day for day in days for name in named[day]}  # the later day wins
            assert _last_seen(engines[0]) == latest, round_
    finally:
        for engine in engines:
            engine.dispose()
