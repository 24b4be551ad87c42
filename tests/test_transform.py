"""Transform: API records (or CSV strings) to the typed frame every output shares, by a declared schema."""

from typing import Any

import pandas as pd
import pytest

from dockerhub_export import transform
from dockerhub_export.resources import DOC_COLUMNS, REPOSITORIES
from dockerhub_export.schema import Column, Schema

SCHEMA = REPOSITORIES.schema
COLUMNS = SCHEMA.names


# The repositories' schema, the one most tests here type by.
def to_frame(records: list, org: str | None = None, **options: Any) -> pd.DataFrame:
    return transform.to_frame(records, SCHEMA, org, **options)


def raw_columns(records: list) -> dict:
    return transform.raw_columns(records, SCHEMA)


def from_columns(columns: dict, org: str | None = None, **options: Any) -> pd.DataFrame:
    return transform.from_columns(columns, SCHEMA, org, **options)


def test_doc_columns_come_first_in_the_reference_order() -> None:
    assert DOC_COLUMNS == ("namespace", "name", "is_private", "last_updated", "pull_count", "star_count")
    assert COLUMNS[:6] == DOC_COLUMNS and len(COLUMNS) == len(set(COLUMNS))


def test_hub_timestamps_with_0_to_9_fraction_digits_are_kept_exactly() -> None:
    stamps = [
        "2024-01-16T20:54:52Z",
        "2021-12-20T17:19:58.88296Z",
        "2023-06-20T10:44:45.459826Z",
        "2025-03-05T07:52:00.613197154Z",
        "2020-01-01T00:00:00.5Z",
    ]
    frame = to_frame([{"name": f"r{i}", "last_updated": s} for i, s in enumerate(stamps)], "acme")
    assert list(frame["last_updated"]) == stamps


def test_other_timestamp_spellings_are_normalised_to_utc_z() -> None:
    frame = to_frame(
        [
            {"name": "a", "last_updated": "2021-12-20T19:19:58.123+02:00"},
            {"name": "b", "last_updated": "2021-12-20T17:19:58.000000+00:00"},
        ],
        "acme",
    )
    assert list(frame["last_updated"]) == ["2021-12-20T17:19:58.123Z", "2021-12-20T17:19:58Z"]


def test_nulls_stay_unknown_in_the_frame() -> None:
    frame = to_frame(
        [
            {
                "name": "a",
                "pull_count": None,
                "star_count": None,
                "is_private": None,
                "last_updated": None,
                "description": None,
                "storage_size": None,
            }
        ],
        "acme",
    )
    row = frame.iloc[0]
    for column in ("pull_count", "star_count", "is_private", "last_updated", "description", "storage_size"):
        assert pd.isna(row[column]), column


def test_unreadable_values_are_reported_and_left_empty() -> None:
    reported = []
    frame = to_frame(
        [{"name": "a", "pull_count": "many", "last_updated": "yesterday"}],
        "acme",
        on_invalid=lambda row, col, value: reported.append((row, col, value)),
    )
    assert sorted(reported) == [(0, "last_updated", "yesterday"), (0, "pull_count", "many")]
    assert pd.isna(frame.loc[0, "pull_count"]) and pd.isna(frame.loc[0, "last_updated"])


def test_csv_strings_read_like_api_values() -> None:
    api = to_frame([{"name": "a", "is_private": True, "pull_count": 12, "star_count": 0}], "acme")
    csv = to_frame([{"name": "a", "is_private": "true", "pull_count": "12", "star_count": "0"}], "acme")
    pd.testing.assert_frame_equal(api, csv)


def test_lists_are_joined_and_categories_use_their_slugs() -> None:
    frame = to_frame(
        [
            {
                "name": "a",
                "content_types": ["image", "plugin"],
                "media_types": [],
                "categories": [{"name": "Languages & frameworks", "slug": "languages-and-frameworks"}],
            }
        ]
    )
    assert frame.loc[0, "content_types"] == "image;plugin"
    assert frame.loc[0, "media_types"] == ""
    assert frame.loc[0, "categories"] == "languages-and-frameworks"


def test_missing_namespace_is_filled_with_the_org() -> None:
    assert to_frame([{"name": "a"}], "acme").loc[0, "namespace"] == "acme"


def test_list_items_that_are_empty_null_or_not_strings() -> None:
    frame = to_frame(
        [
            {
                "name": "a",
                "media_types": ["x", "", None, 3],
                "content_types": ["image", "plugin"],
                "categories": [{"name": "Only a name"}, {"slug": ""}, "plain", None],
            },
            {"name": "b", "media_types": [""], "content_types": "image", "categories": None},
        ]
    )
    assert list(frame["media_types"]) == ["x;3", ""]
    assert list(frame["content_types"]) == ["image;plugin", "image"]
    assert list(frame["categories"]) == ["Only a name;plain", pd.NA]


def test_raw_columns_hold_the_values_with_lists_joined_and_type_like_the_records() -> None:
    records = [
        {"name": "a", "pull_count": "12", "categories": [{"slug": "s", "name": "S"}], "extra": 1},
        {"name": "b", "is_private": True, "last_updated": "2021-12-20T19:19:58.123+02:00"},
    ]
    columns = raw_columns(records)
    assert list(columns) == list(COLUMNS)
    assert columns["name"] == ["a", "b"] and columns["pull_count"] == ["12", None]
    assert columns["categories"] == ["s", None]  # no nested lists or dicts are kept
    pd.testing.assert_frame_equal(from_columns(columns, "acme"), to_frame(records, "acme"), check_exact=True)
    assert list(columns) == list(COLUMNS)  # read, not consumed
    consumed = from_columns(columns, "acme", consume=True)
    assert columns == {}
    pd.testing.assert_frame_equal(consumed, to_frame(records, "acme"), check_exact=True)


def test_any_declared_schema_types_its_own_columns() -> None:
    """Nothing in the typing is about repositories: a schema declared elsewhere gets its own columns."""
    tags = Schema(
        (
            Column("name", "text", "tag"),
            Column("full_size", "int", "bytes"),
            Column("tag_last_pulled", "timestamp", "last pull"),
            Column("platforms", "list", "os/arch"),
        )
    )
    frame = transform.to_frame(
        [
            {
                "name": "latest",
                "full_size": "12",
                "tag_last_pulled": "2024-01-16T20:54:52Z",
                "platforms": ["linux/amd64", "linux/arm64"],
                "extra": True,
            }
        ],
        tags,
    )
    assert list(frame.columns) == ["name", "full_size", "tag_last_pulled", "platforms"]
    assert frame.loc[0, "full_size"] == 12 and frame.loc[0, "platforms"] == "linux/amd64;linux/arm64"
    assert str(frame.dtypes["full_size"]) == "Int64"


def test_a_schema_refuses_a_column_named_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        Schema((Column("name", "text", "a"), Column("name", "int", "b")))
