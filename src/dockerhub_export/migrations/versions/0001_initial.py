"""Initial tables: the run log, the per-day snapshot headers, the repository snapshots.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Types are spelled out here (not imported from `store`) so that this revision keeps creating exactly
what it created when it shipped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "export_runs",
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
        sa.PrimaryKeyConstraint("id", name="pk_export_runs"),
    )
    op.create_table(
        "snapshots",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("write_id", sa.Integer, nullable=False),
        sa.Column("repositories", sa.Integer, nullable=False),
        sa.Column("private", sa.Integer, nullable=False),
        sa.Column("api_count", sa.Integer),
        sa.Column("written_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.PrimaryKeyConstraint("namespace", "snapshot_date", name="pk_snapshots"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["export_runs.id"], name="fk_snapshots_run_id_export_runs", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "repository_snapshots",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("write_id", sa.Integer, nullable=False),
        sa.Column("is_private", sa.Boolean),
        sa.Column("last_updated", TIMESTAMP),
        sa.Column("pull_count", sa.BigInteger),
        sa.Column("star_count", sa.BigInteger),
        sa.Column("repository_type", sa.Text),
        sa.Column("status", sa.Integer),
        sa.Column("status_description", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("date_registered", TIMESTAMP),
        sa.Column("last_modified", TIMESTAMP),
        sa.Column("storage_size", sa.BigInteger),
        sa.Column("affiliation", sa.Text),
        sa.Column("media_types", sa.Text),
        sa.Column("content_types", sa.Text),
        sa.Column("categories", sa.Text),
        sa.PrimaryKeyConstraint("namespace", "snapshot_date", "name", name="pk_repository_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("repository_snapshots")
    op.drop_table("snapshots")
    op.drop_table("export_runs")
