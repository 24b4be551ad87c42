"""`access_changes`' one rule, which ``access-changes`` and the nightly summary both follow: a night that
lacks a listing is skipped for that listing's changes, which show on the next night that has it; an
event explains a change when it falls between the two nights' runs, and a run on another day than its
night's date counts as that whole date."""

from datetime import UTC, datetime, timedelta

from test_access import NIGHT, ORG, event, night

from dockerhub_export.access import AccessNight, Member, Token
from dockerhub_export.access_changes import AccessChange, event_window, walk
from dockerhub_export.timestamps import OVERLAP


def test_a_run_on_another_day_counts_as_its_nights_whole_date_without_the_overlap() -> None:
    """A night exported later (--snapshot-date, a simulated Hub): its run's time says nothing of when its
    state was. One rule for `access-changes` and the nightly summary alike."""
    before = night(NIGHT, members=[Member("alice", role="owner")])
    later = AccessNight(
        NIGHT + timedelta(days=1),
        datetime(2026, 12, 9, 9, tzinfo=UTC),
        members=(Member("alice", role="owner"), Member("dev")),
    )
    assert event_window(before, later) == (
        datetime(2026, 12, 4, 1, tzinfo=UTC) - OVERLAP,  # before's run, on its date: its time counts
        datetime(2026, 12, 6, tzinfo=UTC),  # the end of later's date, no overlap
    )
    on_the_day = event(
        "org.member.add", ORG, "alice", datetime(2026, 12, 5, 0, 30, tzinfo=UTC), username="dev"
    )
    at_the_run = event("org.member.add", ORG, "bob", datetime(2026, 12, 9, 8, 59, tzinfo=UTC), username="dev")
    (change,) = walk([before, later], [on_the_day, at_the_run])
    assert (change.change, change.by) == ("member_added", "alice")


def test_a_night_without_a_listing_is_skipped_and_its_changes_show_on_the_next_night_that_has_it() -> None:
    days = [NIGHT + timedelta(days=k) for k in range(3)]
    alice, dev = Member("alice", role="owner"), Member("dev")
    ci, scanner = Token("t1", "ci"), Token("t2", "scanner")
    nights = [
        night(days[0], members=[alice], tokens=[ci]),
        night(days[1], members=[alice, dev]),  # no token data: an OAT's night
        night(days[2], members=[alice, dev], tokens=[scanner]),
    ]
    made = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # on the night without token data
    events = [event("org.access_token.create", ORG, "alice", made, label="scanner", id="t2")]
    assert walk(nights, events) == [
        AccessChange("member_added", days[1], username="dev", to="member"),
        AccessChange(
            "token_created", days[2], token="scanner", token_id="t2", by="alice", at=events[0]["timestamp"]
        ),
        AccessChange("token_removed", days[2], token="ci", token_id="t1"),
    ]
    assert [c.change for c in walk(nights[1:], events)] == []  # one night with tokens: none to compare
