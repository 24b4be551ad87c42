"""Tags: every version of every tag as a validity interval, the nights with a complete inventory, and
the nights each repository's tags were listed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Types are spelled out here (not imported from `store`) so that this revision keeps creating exactly
what it created when it shipped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("repository", KEY, nullable=False),
        sa.Column("tag", KEY, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
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
        sa.PrimaryKeyConstraint("namespace", "repository", "tag", "valid_from", name="pk_tags"),
    )
    op.create_index("ix_tags_namespace_valid_to", "tags", ["namespace", "valid_to"])
    op.create_table(
        "tag_nights",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("written_at", TIMESTAMP, nullable=False),
        sa.Column("tags", sa.Integer, nullable=False),
        sa.Column("repositories", sa.Integer, nullable=False),
        sa.Column("fetched", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.PrimaryKeyConstraint("namespace", "snapshot_date", name="pk_tag_nights"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["export_runs.id"], name="fk_tag_nights_run_id_export_runs", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "tag_fetches",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("repository", KEY, nullable=False),
        sa.Column("fetched_on", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "repository", "fetched_on", name="pk_tag_fetches"),
    )


def downgrade() -> None:
    op.drop_table("tag_fetches")
    op.drop_table("tag_nights")
    op.drop_index("ix_tags_namespace_valid_to", table_name="tags")
    op.drop_table("tags")
