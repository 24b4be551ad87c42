"""The Hub resources this tool reads, each declared once: where it is, how it pages, what a refusal means,
whether a run needs it, and, for those kept as tables, their key, schema and CSV.

A resource is data: the session turns it into the client's endpoint (`session.endpoint`, the one place),
the client pages through it, `fetch` joins the pages into its schema's columns, `transform` types them,
`csv_output` names and writes its CSV, and the store writes its table. An optional resource that the
Hub refuses (401, 403, 404) costs the run one warning, not the run (`HubSession.fetch_optional`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from .schema import MEMBER_COLUMNS, PERMISSION_COLUMNS, TOKEN_COLUMNS, Column, Schema

Paging = Literal["counted", "until-short"]
"""``counted``: page 1 gives a count (or ``next`` links), the rest are read by number, several at a time;
``until-short``: no count and no link (the audit log), pages one at a time until a short or empty one."""


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One listing of the Hub, as the client reads it and as messages name it."""

    name: str  # plural, as messages say it: "repositories"
    item: str  # singular: "repository"
    path: str  # below the API URL; {namespace} (and {repository} for tags) are filled in, quoted
    # What a refusal most likely means (the permission the token lacks, or a plan without it): a 403's
    # error says it, and so does the warning of an optional resource.
    forbidden: str
    label: str = "{namespace}"  # one listing in messages ("acme page 3"), filled in like `path`
    params: Mapping[str, str] = field(default_factory=dict)  # besides page and page_size
    results: str = "results"  # the key of a page's list
    count: str = "count"  # the key of the listing's size on page 1 (org access tokens: "total")
    page_size: int | None = None  # asked for (None: the most the Hub allows); the client follows page 1
    paging: Paging = "counted"
    optional: bool = False  # refused (401, 403, 404): one warning, and the run goes on without it
    without: str = ""  # what the run goes without when an optional resource is refused

    def url_path(self, namespace: str, **names: str) -> str:
        return self.path.format(**_quoted(namespace, names))

    def title(self, namespace: str, **names: str) -> str:
        """How messages name one listing of it: ``acme``, ``acme/web tags``, ``the acme audit log``."""
        return self.label.format(namespace=namespace, **names)

    def refused(self, namespace: str) -> str:
        """The warning of an optional resource the Hub refused: what cannot be read, why, and what the
        run goes without (a listing per repository names its repository ``*``)."""
        title = self.label.format_map(_Every(namespace=namespace))
        return f"{title} cannot be read ({self.forbidden}): {self.without}"


@dataclass(frozen=True, kw_only=True)
class TableResource(Resource):
    """A resource kept as a table: each record a row of its schema, written to a dated CSV."""

    key: str  # the column that identifies a record within its namespace
    schema: Schema
    csv_stem: str  # <export_dir>/<org>/<csv_stem>-<YYYY-MM-DD>.csv


class _Every(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "*"


def _quoted(namespace: str, names: Mapping[str, str]) -> dict[str, str]:
    return {"namespace": quote(namespace, safe=""), **{k: quote(v, safe="") for k, v in names.items()}}


REPOSITORIES = TableResource(
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


TAGS = TableResource(
    name="tags",
    item="tag",
    path="/v2/namespaces/{namespace}/repositories/{repository}/tags",
    label="{namespace}/{repository} tags",
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
    forbidden="an organization access token needs read access to the repository's tags (scope-tag-read)",
)


AUDIT_LOG = Resource(
    name="events",
    item="event",
    path="/v2/auditlogs/{namespace}",
    label="the {namespace} audit log",
    results="logs",
    paging="until-short",
    optional=True,
    forbidden="the plan has none, or the token lacks 'Activity read', scope-activity-read",
    without="changes are not attributed, and deleted tags show within --tags-refresh-days",
)
"""The org's audit log, newest first: kept as the Hub gives its events (`store.audit`), read since a time
(the ``from`` parameter, added per read)."""


# -- the access review (`run --access`): each listing optional, a refusal is one warning ------------------
# Read by `access_fetch.fetch_access`; the CSV schemas are `schema.MEMBER_COLUMNS` and the others.

MEMBERS = TableResource(
    name="members",
    item="member",
    path="/v2/orgs/{namespace}/members",
    label="the {namespace} members",
    params={"invites": "true", "type": "all"},  # pending invitees too (role Invitee)
    key="username",
    schema=MEMBER_COLUMNS,
    csv_stem="members",
    optional=True,
    forbidden="the token lacks scope-member-read, to read the org's members",
    without="the night has no member data (no members or access CSV)",
)
TEAMS = Resource(
    name="teams",
    item="team",
    path="/v2/orgs/{namespace}/groups",
    label="the {namespace} teams",
    optional=True,
    forbidden="the token lacks scope-group-read, to read the org's teams",
    without="the night has no team data (team memberships come from each member's teams)",
)
TEAM_MEMBERS = Resource(
    name="team members",
    item="team member",
    path="/v2/orgs/{namespace}/groups/{team}/members",
    label="the {namespace} team {team}",
    optional=True,  # read as a part of TEAMS: a refusal makes the teams listing the one warned about
    forbidden=TEAMS.forbidden,
    without=TEAMS.without,
)
REPOSITORY_GROUPS = TableResource(
    name="team permissions",
    item="team permission",
    # Absent from the published spec (only its POST is there); real clients list it this way. One
    # listing per repository, paced on the run's budget like tags.
    path="/v2/repositories/{namespace}/{repository}/groups",
    label="{namespace}/{repository} team permissions",
    key="team",
    schema=PERMISSION_COLUMNS,
    csv_stem="permissions",
    optional=True,
    # A 404 from every repository is refused too (`access_fetch`): the route may be gone.
    forbidden=(
        "the token lacks scope-repo-group-read, to read repositories' team permissions, or the Hub no "
        "longer serves this undocumented listing"
    ),
    without="the night has no permission data (no permissions or access CSV)",
)
ACCESS_TOKENS = TableResource(
    name="access tokens",
    item="access token",
    path="/v2/orgs/{namespace}/access-tokens",
    label="the {namespace} access tokens",
    count="total",
    # The spec documents only the default (10), no maximum: ask for that. Plans cap an org's tokens
    # (Team 10, Business 100), so this costs at most ten requests.
    page_size=10,
    key="id",
    schema=TOKEN_COLUMNS,
    csv_stem="tokens",
    optional=True,
    forbidden="listing them takes an owner's personal access token; an organization access token may not",
    without="the night has no token data (no tokens CSV)",
)
ACCESS_TOKEN = Resource(
    name="access token details",
    item="access token detail",
    path="/v2/orgs/{namespace}/access-tokens/{token}",  # one object, with the token's resources
    label="the {namespace} access token {token}",
    optional=True,  # read as a part of ACCESS_TOKENS
    forbidden=ACCESS_TOKENS.forbidden,
    without=ACCESS_TOKENS.without,
)
