"""Values for people: one number formatter, one byte formatter, short digests, times to the second."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dockerhub_export import humanize


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0"),
        (999, "999"),
        (1_000, "1 k"),
        (1_200, "1.2 k"),
        (1_234, "1.23 k"),
        (99_949, "99.9 k"),
        (999_499, "999 k"),
        (999_500, "1 M"),  # rounds up into the next prefix, never "1e+03 k"
        (97_809_566, "97.8 M"),
        (12_345_678_901, "12.3 G"),
        (-2, "-2"),
        (-1_500, "-1.5 k"),
    ],
)
def test_counts_have_three_significant_digits_and_a_decimal_prefix(value, text) -> None:  # type: ignore[no-untyped-def]
    assert humanize.count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (512, "512 B"), (999_369_523, "999 MB"), (1_234_567_890_123, "1.23 TB"), (None, "—")],
)
def test_sizes_are_counts_of_bytes(value, text) -> None:  # type: ignore[no-untyped-def]
    assert humanize.size(value) == text


def test_digests_keep_twelve_characters_after_the_algorithm() -> None:
    assert humanize.digest("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
    assert humanize.digest("0123456789abcdef") == "0123456789ab"
    assert humanize.digest(None) == "—"


def test_moments_are_to_the_second_in_utc() -> None:
    assert humanize.moment("2026-10-27T23:59:59.123456789Z") == "2026-10-27 23:59:59"
    assert humanize.moment("2026-10-27T23:59:59Z") == "2026-10-27 23:59:59"
    later = datetime(2026, 10, 28, 1, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert humanize.moment(later) == "2026-10-27 23:59:59"
    assert humanize.moment(datetime(2026, 10, 27, 23, 59, 59, 5, tzinfo=UTC)) == "2026-10-27 23:59:59"
    assert humanize.moment(None) == "—"
