"""The audit log, and views for BI tools over the snapshots and the tags.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Views, in plain SQL that SQLite, PostgreSQL and MariaDB all read:

    latest_repositories  each repository's latest snapshot: namespace, name, snapshot_date and the
                         reference doc's six columns
    repository_daily     one row per repository and snapshot day: pulls, pulls_delta (against the
                         repository's previous snapshot; NULL in its first one or when a count is
                         unknown), stars, visibility
    latest_tags          the tags of each org's newest complete tag night
    storage_daily        per tag night and repository: the bytes of its distinct digests, each once

Two tables keep those views fast, written by the store with the data they summarize: `tag_storage` (per
tag night and repository) and `repository_last_seen` (each repository's latest day). This revision
fills them from the history already stored.

A later revision that changes a table these read drops and recreates them (`drop_views` / `create_views`
here stay as this revision wrote them). Types are spelled out (not imported from `store`) so that this
revision keeps creating exactly what it created when it shipped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

VIEWS = {
    # One key range of `repository_last_seen` and a primary-key seek per repository.
    "latest_repositories": """
        SELECT r.namespace AS namespace, r.name AS name, r.snapshot_date AS snapshot_date,
               r.is_private AS is_private, r.last_updated AS last_updated, r.pull_count AS pull_count,
               r.star_count AS star_count
        FROM repository_last_seen l
        JOIN repository_snapshots r
          ON r.namespace = l.namespace AND r.snapshot_date = l.snapshot_date AND r.name = l.name
    """,
    # Driven by the small `snapshots` table, so that a filter on a repository is one primary-key seek per
    # day and a filter on a day one key range. The repository's previous snapshot is nearly always the
    # org's previous one (one more seek); only a repository missing from it (new, or back after a gap)
    # walks back through the org's earlier days, one seek each, to its own previous snapshot.
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
    # The newest night as a correlated MAX: one index seek, whatever the planner's statistics say.
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
}


def create_views() -> None:
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def drop_views() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("timestamp", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("actor", sa.Text),
        sa.Column("data", sa.Text),
        sa.Column("action_description", sa.Text),
        sa.PrimaryKeyConstraint("namespace", "event_id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_namespace_occurred_at", "audit_events", ["namespace", "occurred_at"])
    op.create_table(
        "tag_storage",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("repository", KEY, nullable=False),
        sa.Column("tags", sa.Integer, nullable=False),
        sa.Column("digests", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "snapshot_date", "repository", name="pk_tag_storage"),
    )
    op.create_table(
        "repository_last_seen",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", name="pk_repository_last_seen"),
    )
    op.execute(
        "INSERT INTO repository_last_seen (namespace, name, snapshot_date) "
        "SELECT namespace, name, MAX(snapshot_date) FROM repository_snapshots GROUP BY namespace, name"
    )
    # One night at a time: its versions are those valid on it.
    connection = op.get_bind()
    nights = connection.execute(
        sa.text("SELECT namespace, snapshot_date FROM tag_nights").columns(
            sa.column("namespace", KEY), sa.column("snapshot_date", sa.Date())
        )
    ).all()
    fill = sa.text(
        """
        INSERT INTO tag_storage (namespace, snapshot_date, repository, tags, digests, bytes)
        SELECT :namespace, :night, repository, SUM(n), COUNT(*), COALESCE(SUM(size), 0)
        FROM (SELECT repository, digest, COUNT(*) AS n, MAX(full_size) AS size
              FROM tags
              WHERE namespace = :namespace AND valid_from <= :night
                AND (valid_to IS NULL OR valid_to > :night)
              GROUP BY repository, digest) per_digest
        GROUP BY repository
        """
    ).bindparams(sa.bindparam("night", type_=sa.Date()))
    for namespace, night in nights:
        connection.execute(fill, {"namespace": namespace, "night": night})
    create_views()


def downgrade() -> None:
    drop_views()
    op.drop_table("repository_last_seen")
    op.drop_table("tag_storage")
    op.drop_index("ix_audit_events_namespace_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
