"""Timestamp text: the Hub's canonical form, one formatter for pandas Timestamps and datetimes alike."""

from datetime import datetime, timedelta, timezone

import pandas as pd

from dockerhub_export.timestamps import (
    _parsed_timestamp_texts,
    format_timestamp,
    plain_timestamp_texts,
    timestamp_texts,
)


def test_format_timestamp_trims_trailing_zeros_like_the_hub() -> None:
    assert format_timestamp(pd.Timestamp("2021-12-20T17:19:58.882960Z")) == "2021-12-20T17:19:58.88296Z"
    assert format_timestamp(pd.Timestamp("2021-12-20T17:19:58Z")) == "2021-12-20T17:19:58Z"
    assert (
        format_timestamp(pd.Timestamp("2025-03-05T07:52:00.613197154Z")) == "2025-03-05T07:52:00.613197154Z"
    )


def test_datetimes_from_the_database_format_the_same_way() -> None:
    assert (
        format_timestamp(datetime(2025, 1, 2, 8, 30, 0, 500000)) == "2025-01-02T08:30:00.5Z"
    )  # naive is UTC
    berlin = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2025, 1, 2, 9, 30, tzinfo=berlin)) == "2025-01-02T08:30:00Z"
    assert format_timestamp(pd.Timestamp("2025-01-02T09:30:00+01:00")) == "2025-01-02T08:30:00Z"


def test_plain_timestamp_texts_equal_the_pandas_conversion() -> None:
    """The fast conversion of canonical timestamps gives what pandas gives, or declines the column."""
    import random

    rnd = random.Random(5)
    years = ["0001", "0999", "1000", "1677", "1678", "2024", "2261", "2262", "9999"]
    fractions = ["", ".1", ".12345", ".123456", ".1234567", ".123456789"]

    def stamp() -> str:
        return (
            f"{rnd.choice(years)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 31):02d}T{rnd.randint(0, 24):02d}:"
            f"{rnd.randint(0, 59):02d}:{rnd.randint(0, 60):02d}{rnd.choice(fractions)}Z"
        )

    converted = 0
    for _ in range(1500):
        cells = [stamp() if rnd.random() < 0.8 else rnd.choice([None, ""]) for _ in range(rnd.randint(1, 5))]
        plain = plain_timestamp_texts(cells)
        if plain is not None:
            converted += 1
            assert plain == _parsed_timestamp_texts(cells), cells
    assert converted > 300  # most columns take the fast path
    assert plain_timestamp_texts(["2024-02-30T00:00:00Z"]) is None
    assert plain_timestamp_texts(["2024-01-01T00:00:00Z\n2024-01-01T00:00:00Z", "x"]) is None
    assert timestamp_texts(["2024-02-30T00:00:00Z", "2024-01-01T00:00:00+01:00"]) == [
        None,
        "2023-12-31 23:00:00.000000",
    ]
