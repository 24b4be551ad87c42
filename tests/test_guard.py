"""The history guard: a snapshot that looks like a lost token scope or a cut listing is refused."""

from datetime import date

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo

from dockerhub_export import store
from dockerhub_export.errors import HistoryGuardError
from dockerhub_export.guard import check, check_history
from dockerhub_export.store import PreviousSnapshot

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


def test_the_rule_needs_no_database() -> None:
    previous = PreviousSnapshot(DAY1, repositories=10, private=3)
    assert check(previous, ORG, DAY2, count=10, private=3) == []
    assert check(None, ORG, DAY2, count=0, private=0) == []  # the first snapshot of an org
    with pytest.raises(HistoryGuardError, match="lost access to private repositories"):
        check(previous, ORG, DAY2, count=10, private=0)
    assert len(check(previous, ORG, DAY2, count=4, private=0, allow_drop=True)) == 2


def _hundred(private: int) -> object:
    return frame(*(repo(f"r{i:03d}", private=i < private) for i in range(100)))


def test_guard_refuses_a_run_that_lost_access_to_private_repositories(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, _hundred(private=30))
    public_only = frame(*(repo(f"r{i:03d}") for i in range(30, 100)))
    with pytest.raises(HistoryGuardError) as caught:
        check_history(engine, ORG, DAY2, public_only)
    message = str(caught.value)
    assert "lost access to private repositories (the Hub still answers 200)" in message
    assert "30 of 100 were private on 2025-03-01" in message and "none of 70 now" in message
    assert "--allow-drop" in message and "\n" not in message


def test_guard_refuses_a_count_drop_of_more_than_half(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, _hundred(private=0))
    assert (
        check_history(engine, ORG, DAY2, frame(*(repo(f"r{i:03d}") for i in range(50)))) == []
    )  # exactly 50 %
    with pytest.raises(HistoryGuardError, match=r"fell 51% from 100 on 2025-03-01 to 49.*--allow-drop"):
        check_history(engine, ORG, DAY2, frame(*(repo(f"r{i:03d}") for i in range(49))))


def test_allow_drop_returns_the_findings_as_warnings(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, _hundred(private=10))
    warnings = check_history(engine, ORG, DAY2, frame(repo("r050")), allow_drop=True)
    assert len(warnings) == 2
    assert "lost access to private repositories" in warnings[0] and "fell 99%" in warnings[1]


def test_guard_compares_with_the_latest_earlier_day_only(engine: sa.Engine) -> None:
    assert check_history(engine, ORG, DAY1, frame(repo("a"))) == []  # nothing before: fine
    store.upsert_snapshot(engine, ORG, DAY2, _hundred(private=5))
    # a rerun of DAY2 or an earlier day is not compared with DAY2 itself
    assert check_history(engine, ORG, DAY2, frame(repo("a"))) == []
    assert check_history(engine, ORG, DAY1, frame(repo("a"))) == []
    with pytest.raises(HistoryGuardError, match="on 2025-03-02"):
        check_history(engine, ORG, DAY3, frame(repo("a")))
    only_private = check_history(engine, ORG, DAY3, frame(repo("a")), drop_threshold=1.0, allow_drop=True)
    assert len(only_private) == 1 and "private" in only_private[0]
