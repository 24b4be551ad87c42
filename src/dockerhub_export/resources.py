"""The Hub resources this tool exports, each declared once: endpoint, key, schema, CSV name and table.

A resource is data: the client pages through its endpoint, `fetch` joins the pages into its schema's
columns, `transform` types them, `csv_output` names and writes its CSV, and the store writes its table.
Adding a resource is a declaration here, a table and an Alembic revision, and a task in the flow.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

from .schema import Column, Schema


@dataclass(frozen=True)
class Resource:
    name: str  # plural, as messages say it: "repositories"
    item: str  # singular: "repository"
    path: str  # below the API URL; {namespace} is filled in, quoted
    key: str  # the column that identifies a record within its namespace
    schema: Schema
    csv_stem: str  # <export_dir>/<org>/<csv_stem>-<YYYY-MM-DD>.csv
    table: str  # the snapshot table (store.tables)
    forbidden: str  # what a 403 most likely means: the permission the token lacks
    params: dict[str, str] = field(default_factory=dict)  # besides page and page_size

    def url_path(self, namespace: str) -> str:
        return self.path.format(namespace=quote(namespace, safe=""))


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
