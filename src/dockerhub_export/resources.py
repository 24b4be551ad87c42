"""The Hub resources this tool exports, each declared once: endpoint, key, schema, CSV name and table.

A resource is data: the client pages through its endpoint, `fetch` joins the pages into its schema's
columns, `transform` types them, `csv_output` names and writes its CSV, and the store writes its table.
Adding a resource is a declaration here, a table and an Alembic revision, and a task in the flow.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .schema import Column, Schema


@dataclass(frozen=True)
class Resource:
    name: str  # plural, as messages say it: "repositories"
    item: str  # singular: "repository"
    path: str  # below the API URL; {namespace} (and {repository} for tags) are filled in, quoted
    key: str  # the column that identifies a record within its namespace
    schema: Schema
    csv_stem: str  # <export_dir>/<org>/<csv_stem>-<YYYY-MM-DD>.csv
    table: str  # the snapshot table (store.tables)
    forbidden: str  # what a 403 most likely means: the permission the token lacks
    params: dict[str, str] = field(default_factory=dict)  # besides page and page_size

    def url_path(self, namespace: str, **names: str) -> str:
        quoted = {key: quote(value, safe="") for key, value in names.items()}
        return self.path.format(namespace=quote(namespace, safe=""), **quoted)


REPOSITORIES = Resource(
    name="repositories",
    item="repository",
    path="/v2/namespaces/{namespace}/repositories",
    # A stable order while the org changes mid-run: pages shift less, and duplicates are dropped by key.
    params={"ordering": "name"},
    key="name",
    schema=Schema(
        (
            # The reference doc's six columns first, in its order.
            Column("namespace", "text", "the organization (Docker Hub namespace)", few_values=True),
            Column("name", "text", "repository name"),
            Column("is_private", "bool", "true for a private repository"),
            Column("last_updated", "timestamp", "last push (UTC, ISO-8601 with Z); empty if never pushed"),
            Column(
                "pull_count",
                "int",
                "pulls so far (the CSV writes an unknown count as 0, like the doc)",
                null_as_zero=True,
            ),
            Column(
                "star_count",
                "int",
                "stars (the CSV writes an unknown count as 0, like the doc)",
                null_as_zero=True,
            ),
            Column("repository_type", "text", "image, plugin, or empty", few_values=True),
            Column("status", "int", "1 active, 0 inactive"),
            Column("status_description", "text", "active or inactive", few_values=True),
            Column("description", "text", "short description"),
            Column("date_registered", "timestamp", "creation time (UTC)"),
            Column("last_modified", "timestamp", "last change of the repository's metadata (UTC)"),
            Column("storage_size", "int", "bytes stored, when the Hub tells"),
            Column(
                "affiliation",
                "text",
                "the token's affiliation with the repository, when the Hub tells",
                few_values=True,
            ),
            Column("media_types", "list", "media types, ';'-separated", few_values=True),
            Column(
                "content_types", "list", "content types (image, plugin, ...), ';'-separated", few_values=True
            ),
            Column("categories", "list", "category slugs, ';'-separated", few_values=True),
        )
    ),
    csv_stem="repos",
    table="repository_snapshots",
    forbidden="an organization access token needs the 'Repository list' permission (scope-repository-list)",
)

# The columns of the reference doc's `repos.csv`: what its jq script writes, and what backfill accepts.
DOC_COLUMNS: tuple[str, ...] = REPOSITORIES.schema.names[:6]


def platforms(images: Any) -> list[str] | None:
    """A tag's platforms, from its images (the live API gives a list, one image per platform):
    ``linux/amd64``, ``linux/arm64/v8``; in the Hub's order, each once."""
    if not isinstance(images, list):
        return None
    found: list[str] = []
    for image in images:
        if isinstance(image, Mapping):
            parts = (image.get("os"), image.get("architecture"), image.get("variant"))
            text = "/".join(str(part) for part in parts if part)
            if text and text not in found:
                found.append(text)
    return found


TAGS = Resource(
    name="tags",
    item="tag",
    path="/v2/namespaces/{namespace}/repositories/{repository}/tags",
    key="tag",
    schema=Schema(
        (
            Column("namespace", "text", "the organization (Docker Hub namespace)", few_values=True),
            Column("repository", "text", "the repository", few_values=True),
            Column("tag", "text", "tag name", source="name"),
            Column("digest", "text", "the tag's digest: its image index, or its only manifest"),
            Column("full_size", "int", "bytes of the tag's images (compressed), as the Hub tells"),
            Column(
                "tag_status",
                "text",
                "active (pushed or pulled in the last month) or inactive",
                few_values=True,
            ),
            Column("tag_last_pulled", "timestamp", "last pull (UTC); empty if never pulled"),
            Column("tag_last_pushed", "timestamp", "last push (UTC)"),
            Column(
                "media_type",
                "text",
                "the digest's media type (an OCI index, a Docker manifest, ...)",
                few_values=True,
            ),
            Column("content_type", "text", "image, plugin, helm, ...", few_values=True),
            Column("last_updated", "timestamp", "last change of the tag (UTC)"),
            Column("last_updater_username", "text", "who changed it last", few_values=True),
            Column(
                "platforms",
                "list",
                "os/architecture[/variant] of each image, ';'-separated",
                few_values=True,
                source="images",
                extract=platforms,
            ),
        )
    ),
    csv_stem="tags",
    table="tags",
    forbidden="an organization access token needs read access to the repository's tags (scope-tag-read)",
)
