"""The snapshot database's tables.

Declared here explicitly rather than generated from the resources' schemas: any change needs an
Alembic revision anyway, and test_store checks that both agree. The revisions in ``migrations/versions``
create exactly these tables; test_store compares them with Alembic's autogenerate.

    export_runs           the run log: started, finished, outcome, counts, warnings, error
    snapshots             one header row per (namespace, snapshot_date): the write that owns the
                          day, its counts, and the run that wrote it
    repository_snapshots  one row per repository and day, every field of `REPOSITORIES.schema`
    tags                  every version of every tag, valid for the nights [valid_from, valid_to)
    tag_nights            one row per night with a complete tag inventory: its counts and storage
    tag_fetches           the nights each repository's tags were listed (the rest carried forward)
    tag_storage           per tag night and repository: its tags, digests and their bytes (each once)
    repository_last_seen  per repository ever seen: the day of its latest snapshot
    audit_events          the org's audit log, as the Hub gave it, each event once
    access_nights         one row per (namespace, night) with access data: which listings it has
    access_members        every version of every member (or invitee), valid for [valid_from, valid_to)
    access_teams          every team, as intervals (a team may have no members)
    access_team_members   every (team, username) membership, as intervals
    access_permissions    every (repository, team) permission, as intervals
    access_tokens         every version of every org access token, without its last use
    access_token_use      each token's last_used_at, as intervals of its own (it moves daily)

`VIEWS` are the views for BI tools over these tables, as the newest revision leaves them (revisions 0004
to 0006 created them, each with its own copy of this SQL; `view_select` gives a view's SQL on a
backend). An empty database is created from these declarations in one step (`migrate`); test_migrate
checks that this equals the schema the revisions build.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=_NAMING)

# MariaDB/MySQL compare strings case-insensitively by default; Hub names are case-sensitive keys.
KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")

# Naive UTC: SQLite and MySQL have no zone-aware type; MySQL needs fsp=6 to keep microseconds.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

export_runs = sa.Table(
    "export_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", KEY, nullable=False),
    sa.Column("snapshot_date", sa.Date, nullable=False),
    sa.Column("started_at", TIMESTAMP, nullable=False),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("repositories", sa.Integer),
    sa.Column("private", sa.Integer),
    sa.Column("api_count", sa.Integer),
    sa.Column("csv_path", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("warnings", sa.Text),  # JSON array of strings; added by revision 0002
    sa.Index("ix_export_runs_namespace_snapshot_date", "namespace", "snapshot_date"),  # revision 0002
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    # Bumped by every write of the day: rows carrying another value are leftovers of an earlier write.
    sa.Column("write_id", sa.Integer, nullable=False),
    sa.Column("repositories", sa.Integer, nullable=False),
    sa.Column("private", sa.Integer, nullable=False),
    sa.Column("api_count", sa.Integer),
    sa.Column("written_at", TIMESTAMP, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("export_runs.id", ondelete="SET NULL")),
)

# Primary key (namespace, snapshot_date, name), and deliberately no other index. A day of one org is one
# contiguous key range: the upsert, the stale-row delete and trends each scan one or two such ranges,
# and a new day's rows append at the end of the key order (InnoDB clusters on it too). One repository's
# history is read through the small `snapshots` table: one primary-key seek per day (365 a year, a few
# ms). A (namespace, name, snapshot_date) index would serve history too, but every new day then touches
# one index leaf per repository all over the index: at a year of a 10,000-repository org that made each
# day's write 6x slower and the SQLite WAL 40 MB a day (measured), for no query we need it for.
repository_snapshots = sa.Table(
    "repository_snapshots",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("write_id", sa.Integer, nullable=False),
    sa.Column("is_private", sa.Boolean),
    sa.Column("last_updated", TIMESTAMP),
    sa.Column("pull_count", sa.BigInteger),  # counts stay NULL when unknown: unknown is not 0
    sa.Column("star_count", sa.BigInteger),
    sa.Column("repository_type", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("status_description", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("date_registered", TIMESTAMP),
    sa.Column("last_modified", TIMESTAMP),
    sa.Column("storage_size", sa.BigInteger),
    sa.Column("affiliation", sa.Text),
    sa.Column("media_types", sa.Text),  # lists as text, ';'-separated like the CSV
    sa.Column("content_types", sa.Text),
    sa.Column("categories", sa.Text),
)

# Tags as validity intervals: a row is one version of a tag, valid for the nights valid_from <= night <
# valid_to (NULL: still valid). A night's inventory is the rows valid on it, one query; a year in which
# a few per cent of the tags change a night costs a few per cent of what daily copies would. A version
# ends when any of its values changes (its fingerprint, the md5 of its values, tells), or the tag goes.
# Its timestamps are text, exactly as the Hub wrote them (0-9 fraction digits, like the CSV): the Hub's
# pull times carry nanoseconds, which no backend's timestamp type keeps.
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("repository", KEY, primary_key=True),
    sa.Column("tag", KEY, primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("digest", sa.Text),
    sa.Column("full_size", sa.BigInteger),
    sa.Column("tag_status", sa.Text),
    sa.Column("tag_last_pulled", sa.Text),
    sa.Column("tag_last_pushed", sa.Text),
    sa.Column("media_type", sa.Text),
    sa.Column("content_type", sa.Text),
    sa.Column("last_updated", sa.Text),
    sa.Column("last_updater_username", sa.Text),
    sa.Column("platforms", sa.Text),
    # The open versions (the newest night's inventory) and the versions that ended after a night.
    sa.Index("ix_tags_namespace_valid_to", "namespace", "valid_to"),
)

tag_nights = sa.Table(
    "tag_nights",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column(
        "started_at", TIMESTAMP, nullable=False
    ),  # the run's start: the next reads the audit log from it
    sa.Column("written_at", TIMESTAMP, nullable=False),
    sa.Column("tags", sa.Integer, nullable=False),
    sa.Column("repositories", sa.Integer, nullable=False),  # in the night's repository listing
    sa.Column("fetched", sa.Integer, nullable=False),  # repositories whose tags were listed that night
    sa.Column("bytes", sa.BigInteger, nullable=False),  # each repository's distinct digests, once each
    sa.Column("run_id", sa.Integer, sa.ForeignKey("export_runs.id", ondelete="SET NULL")),
)

tag_fetches = sa.Table(
    "tag_fetches",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("repository", KEY, primary_key=True),
    sa.Column("fetched_on", sa.Date, primary_key=True),
)

# Written with the night (and replaced by a rerun of it), so that storage over time is a key range, not
# a year of validity intervals aggregated again on every query.
tag_storage = sa.Table(
    "tag_storage",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("repository", KEY, primary_key=True),
    sa.Column("tags", sa.Integer, nullable=False),
    sa.Column("digests", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),  # the distinct digests' full_size, each once
)

# Kept by every snapshot write, in its transaction: the latest snapshot of each repository, vanished ones
# included, is then one key range and one seek per repository, where finding it in `repository_snapshots`
# (keyed by day first, deliberately) reads the whole history.
repository_last_seen = sa.Table(
    "repository_last_seen",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, nullable=False),
)

# The audit log has no event ids: an event is known by the md5 of its JSON as the Hub gave it, so the
# overlapping reads of successive runs store each event once.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("event_id", sa.String(32), primary_key=True),
    sa.Column("occurred_at", TIMESTAMP, nullable=False),  # naive UTC, for time ranges
    sa.Column("timestamp", sa.Text, nullable=False),  # exactly as the Hub wrote it
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("name", sa.Text),  # org/repo for repository events
    sa.Column("actor", sa.Text),
    sa.Column("data", sa.Text),  # the event's data object, as JSON
    sa.Column("action_description", sa.Text),
    sa.Index("ix_audit_events_namespace_occurred_at", "namespace", "occurred_at"),
)

# Access history (store/access_nights.py): intervals like `tags`. A night's header says which of the
# four listings it has: a count, NULL when the night could not read that listing (no data is not "none"),
# whose intervals the night then leaves as they were.
access_nights = sa.Table(
    "access_nights",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("started_at", TIMESTAMP, nullable=False),  # the run's start
    sa.Column("taken_at", TIMESTAMP),  # when the run read the listings (naive UTC), if known
    sa.Column("written_at", TIMESTAMP, nullable=False),
    sa.Column("members", sa.Integer),
    sa.Column("teams", sa.Integer),
    sa.Column("permissions", sa.Integer),
    sa.Column("tokens", sa.Integer),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("export_runs.id", ondelete="SET NULL")),
)


def _interval_table(name: str, keys: tuple[str, ...], *values: sa.Column[Any]) -> sa.Table:
    """An access history: one row per version of ``keys``, valid for the nights [valid_from, valid_to)
    (NULL: still valid), indexed like `tags` for the open versions and those ending after a night."""
    return sa.Table(
        name,
        metadata,
        sa.Column("namespace", KEY, primary_key=True),
        *(sa.Column(key, KEY, primary_key=True) for key in keys),
        sa.Column("valid_from", sa.Date, primary_key=True),
        sa.Column("valid_to", sa.Date),
        *values,
        sa.Index(f"ix_{name}_namespace_valid_to", "namespace", "valid_to"),
    )


# Timestamps are text, exactly as parsed (`access.timestamp_text`), like the tags'.
access_members = _interval_table(
    "access_members",
    ("username",),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("full_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("is_guest", sa.Boolean, nullable=False),
    sa.Column("teams", sa.Text),  # the member listing's groups, ';'-separated like the CSV
    sa.Column("date_joined", sa.Text),
)
access_teams = _interval_table("access_teams", ("team",))
access_team_members = _interval_table("access_team_members", ("team", "username"))
access_permissions = _interval_table(
    "access_permissions", ("repository", "team"), sa.Column("permission", sa.String(16), nullable=False)
)
access_tokens = _interval_table(
    "access_tokens",
    ("token_id",),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("created_by", sa.Text),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Text),
    sa.Column("expires_at", sa.Text),
    sa.Column("resources", sa.Text),  # JSON: [{type, path, scopes}], in the Hub's order
)
# Apart from the token's versions, so that a token used every day is one small row a day here and no
# new version of the token; a token not used since keeps one row.
access_token_use = _interval_table("access_token_use", ("token_id",), sa.Column("last_used_at", sa.Text))

# Columns a daily snapshot table's writer sets itself on every row: the day's key and the write's id.
DAY_COLUMNS = ("namespace", "snapshot_date", "write_id")


def key_columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.primary_key.columns)


def data_columns(table: sa.Table) -> tuple[str, ...]:
    """The columns a record fills: all but the primary key and the write id."""
    keys = key_columns(table)
    return tuple(column.name for column in table.columns if column.name not in (*keys, "write_id"))


def table(name: str) -> sa.Table:
    return metadata.tables[name]


KEY_COLUMNS = key_columns(repository_snapshots)
DATA_COLUMNS: tuple[str, ...] = data_columns(repository_snapshots)


# `latest_access`: the effective access (`access.effective_access`) of each org's newest access night
# that has both members and permissions, on that night's repositories (revision 0006 says more). It reads
# the versions valid on that night, not the open ones, which a later night with only one of the two
# listings has moved on. One row per (repository, member, granting team) first; then, per (repository,
# member), each level's teams joined in name order: the highest level wins, a read on a public
# repository is dropped. SQLite, PostgreSQL and MariaDB each spell a few parts their own way.
_NIGHT = """
        FROM (SELECT namespace, MAX(snapshot_date) AS snapshot_date FROM access_nights
              WHERE members IS NOT NULL AND permissions IS NOT NULL
              GROUP BY namespace) d"""
_VALID = """
          ON {t}.namespace = d.namespace AND {t}.valid_from <= d.snapshot_date
         AND ({t}.valid_to IS NULL OR {t}.valid_to > d.snapshot_date)"""
_GRANTS = """
        SELECT d.namespace AS namespace, p.repository AS repository, m.username AS username,
               m.role AS role, {team} AS team, p.permission AS permission, r.is_private AS is_private,
               d.snapshot_date AS snapshot_date{night}
        JOIN access_nights n
          ON n.namespace = d.namespace AND n.snapshot_date = d.snapshot_date AND n.teams IS {listed}{joins}
        JOIN repository_snapshots r
          ON r.namespace = d.namespace AND r.snapshot_date = d.snapshot_date AND r.name = p.repository
        WHERE m.role NOT IN ('owner', 'editor', 'invitee')"""
# From the night's team listings: each permission's team members, then each member by primary key. No
# index leads from a team to its permissions, and without statistics (SQLite has none unless analyzed; a
# MariaDB table's lag behind its writes) SQLite and MariaDB scanned the members once per permission:
# CROSS JOIN (SQLite) and STRAIGHT_JOIN (MariaDB) keep this order.
_TEAM_LISTED = """
        JOIN access_permissions p{p}
        {join} access_team_members t{t} AND t.team = p.team
        {join} access_members m{m} AND m.username = t.username"""
# A night without team listings has its members' own teams (the member listing's groups, ';'-joined),
# as `AccessNight.memberships` has.
_OWN_TEAMS = """
        JOIN access_members m{m}
        JOIN access_permissions p{p} AND {contains}"""
_JOIN = {"sqlite": "CROSS JOIN", "postgresql": "JOIN", "mysql": "STRAIGHT_JOIN"}
_CONTAINS = {
    "sqlite": "instr(';' || m.teams || ';', ';' || p.team || ';') > 0",
    "postgresql": "strpos(';' || m.teams || ';', ';' || p.team || ';') > 0",
    "mysql": "INSTR(CAST(CONCAT(';', m.teams, ';') AS BINARY), CAST(CONCAT(';', p.team, ';') AS BINARY)) > 0",
}
_ACCESS = """
        SELECT d.namespace AS namespace, r.name AS repository, m.username AS username,
               'admin' AS permission, m.role AS role, '' AS teams, d.snapshot_date AS snapshot_date{night}
        JOIN access_members m{m}
        JOIN repository_snapshots r ON r.namespace = d.namespace AND r.snapshot_date = d.snapshot_date
        WHERE m.role IN ('owner', 'editor')
        UNION ALL
        SELECT b.namespace, b.repository, b.username,
               CASE WHEN b.admin_teams IS NOT NULL THEN 'admin'
                    WHEN b.write_teams IS NOT NULL THEN 'write' ELSE 'read' END,
               b.role, COALESCE(b.admin_teams, b.write_teams, b.read_teams), b.snapshot_date
        FROM ({levels}) b
        WHERE b.admin_teams IS NOT NULL OR b.write_teams IS NOT NULL
           OR (b.read_teams IS NOT NULL AND b.is_private = TRUE)"""
# Each level's teams per (repository, member), in code-point order like Python's sorted(): PostgreSQL
# sorts them in "C" order whatever the database's collation; MariaDB's names are utf8mb4_bin already;
# SQLite's group_concat has no ORDER BY before 3.44, so there it is a window function over the rows in
# team order.
_KEYS = "c.namespace, c.repository, c.username, c.role, c.is_private, c.snapshot_date"
_LEVELS = {
    "sqlite": """
        SELECT s.namespace, s.repository, s.username, s.role, s.is_private, s.snapshot_date,
               s.admin_teams, s.write_teams, s.read_teams
        FROM (SELECT {keys}, row_number() OVER w AS k,
                group_concat(CASE WHEN c.permission = 'admin' THEN c.team END, ';') OVER w AS admin_teams,
                group_concat(CASE WHEN c.permission = 'write' THEN c.team END, ';') OVER w AS write_teams,
                group_concat(CASE WHEN c.permission = 'read' THEN c.team END, ';') OVER w AS read_teams
              FROM ({candidates}) c
              WINDOW w AS (PARTITION BY c.namespace, c.repository, c.username ORDER BY c.team
                           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) s
        WHERE s.k = 1""",
    "postgresql": """
        SELECT {keys},
               string_agg(CASE WHEN c.permission = 'admin' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS admin_teams,
               string_agg(CASE WHEN c.permission = 'write' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS write_teams,
               string_agg(CASE WHEN c.permission = 'read' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS read_teams
        FROM ({candidates}) c
        GROUP BY {keys}""",
    "mysql": """
        SELECT {keys},
               GROUP_CONCAT(CASE WHEN c.permission = 'admin' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS admin_teams,
               GROUP_CONCAT(CASE WHEN c.permission = 'write' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS write_teams,
               GROUP_CONCAT(CASE WHEN c.permission = 'read' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS read_teams
        FROM ({candidates}) c
        GROUP BY {keys}""",
}


def _latest_access(dialect: str) -> str:
    valid = {alias: _VALID.format(t=alias) for alias in "ptm"}
    listed = _TEAM_LISTED.format(join=_JOIN[dialect], **valid)
    own = _OWN_TEAMS.format(contains=_CONTAINS[dialect], **valid)
    candidates = "\n        UNION ALL".join(
        _GRANTS.format(team=team, night=_NIGHT, listed=flag, joins=joins)
        for team, flag, joins in (("t.team", "NOT NULL", listed), ("p.team", "NULL", own))
    )
    levels = _LEVELS[dialect].format(keys=_KEYS, candidates=candidates)
    return _ACCESS.format(night=_NIGHT, m=valid["m"], levels=levels)


# Views for BI tools: name -> SELECT, in plain SQL that SQLite, PostgreSQL and MariaDB all read, or per
# dialect where they differ (see `view_select`; revisions 0004 to 0006 say what each is for and why it
# is written this way). A revision that changes one changes it here too.
VIEWS: dict[str, str | dict[str, str]] = {
    "latest_repositories": """
        SELECT r.namespace AS namespace, r.name AS name, r.snapshot_date AS snapshot_date,
               r.is_private AS is_private, r.last_updated AS last_updated, r.pull_count AS pull_count,
               r.star_count AS star_count
        FROM repository_last_seen l
        JOIN repository_snapshots r
          ON r.namespace = l.namespace AND r.snapshot_date = l.snapshot_date AND r.name = l.name
    """,
    "repository_daily": """
        SELECT r.namespace AS namespace, r.name AS name, r.snapshot_date AS snapshot_date,
               r.pull_count AS pull_count,
               CASE WHEN p.name IS NOT NULL THEN r.pull_count - p.pull_count
                    ELSE r.pull_count - (
                        SELECT e.pull_count
                        FROM snapshots s
                        JOIN repository_snapshots e
                          ON e.namespace = s.namespace AND e.snapshot_date = s.snapshot_date
                         AND e.name = r.name
                        WHERE s.namespace = r.namespace AND s.snapshot_date < d.previous_date
                        ORDER BY s.snapshot_date DESC
                        LIMIT 1)
               END AS pulls_delta,
               r.star_count AS star_count, r.is_private AS is_private
        FROM (SELECT namespace, snapshot_date,
                     LAG(snapshot_date) OVER (PARTITION BY namespace ORDER BY snapshot_date) AS previous_date
              FROM snapshots) d
        JOIN repository_snapshots r ON r.namespace = d.namespace AND r.snapshot_date = d.snapshot_date
        LEFT JOIN repository_snapshots p
          ON p.namespace = r.namespace AND p.snapshot_date = d.previous_date AND p.name = r.name
    """,
    "latest_tags": """
        SELECT t.namespace AS namespace, t.repository AS repository, t.tag AS tag, t.digest AS digest,
               t.full_size AS full_size, t.tag_status AS tag_status, t.tag_last_pulled AS tag_last_pulled,
               t.tag_last_pushed AS tag_last_pushed,
               (SELECT MAX(n.snapshot_date) FROM tag_nights n
                WHERE n.namespace = t.namespace) AS snapshot_date
        FROM tags t
        WHERE t.valid_to IS NULL
    """,
    "storage_daily": """
        SELECT namespace, repository, snapshot_date, bytes FROM tag_storage
    """,
    # The open versions are the newest night's that has the listing: later nights without it leave them.
    "latest_members": """
        SELECT t.namespace AS namespace, t.username AS username, t.full_name AS full_name,
               t.email AS email, t.role AS role, t.is_guest AS is_guest, t.teams AS teams,
               t.date_joined AS date_joined,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.members IS NOT NULL) AS snapshot_date
        FROM access_members t
        WHERE t.valid_to IS NULL
    """,
    "latest_team_members": """
        SELECT t.namespace AS namespace, t.team AS team, t.username AS username,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.teams IS NOT NULL) AS snapshot_date
        FROM access_team_members t
        WHERE t.valid_to IS NULL
    """,
    "latest_permissions": """
        SELECT t.namespace AS namespace, t.repository AS repository, t.team AS team,
               t.permission AS permission,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.permissions IS NOT NULL) AS snapshot_date
        FROM access_permissions t
        WHERE t.valid_to IS NULL
    """,
    "latest_access": {dialect: _latest_access(dialect) for dialect in _LEVELS},
}


def view_select(name: str, dialect: str) -> str:
    """The SELECT of view ``name`` on ``dialect`` (a SQLAlchemy dialect name; MariaDB is "mysql")."""
    select = VIEWS[name]
    if isinstance(select, dict):
        select = select["mysql" if dialect == "mariadb" else dialect]
    return select.strip()
